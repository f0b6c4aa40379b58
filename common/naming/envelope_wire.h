// Envelopes read straight from their protobuf wire bytes, for the two places that touch every
// envelope of the fleet and need only part of it: the broker's frontend (validate, journal, never
// look at a sample again) and a consumer that only counts (`hostwatch consume --format summary`).
//
// A full ParseFromArray builds a Sample with a tag map for every item, to throw it away after the
// validator has looked at it; that was ~30% of the broker's CPU (docs/benchmarks.md). These scans
// decode nothing they do not check and allocate nothing.
//
// The rule that keeps them honest: a scan may only say "valid" when a full parse followed by
// ValidateEnvelope would accept the envelope too. Anything it is not sure of (an events or alerts
// body, a repeated embedded message that protobuf would merge, a field with an unexpected wire
// type, more map entries than kMaxTags) it reports as "not proven", and the caller falls back to
// the full parse, which also gives the exact error message. envelope_wire_test checks the
// agreement on valid envelopes, on every single-field defect, and on random mutations.
#pragma once

#include <cstdint>
#include <string_view>

namespace hw::naming {

struct EnvelopeWire {
  std::string_view source;  // a view into the scanned bytes
  uint64_t epoch = 0;
  uint64_t seq = 0;
  int64_t sent_ms = 0;
  int body_field = 0;  // 10 samples, 11 events, 12 alerts; 0 none (the last one set wins)
  uint64_t items = 0;  // samples, events or alerts in the body that wins (ScanEnvelope only)
  bool has_source = false, has_seq = false;  // present on the wire (even if empty or 0)
};

// Reads the header fields and counts the items of the body, as a full parse would see them (the
// last occurrence of a field wins). False when the bytes are not a well-formed message.
bool ScanEnvelope(std::string_view bytes, EnvelopeWire* out);
// The same without walking the body to count its items (`items` stays 0): what the broker needs
// to dedup, route and ack an envelope.
bool ScanEnvelopeHeader(std::string_view bytes, EnvelopeWire* out);

// True only when `bytes` is an Envelope with a samples body that ParseFromArray accepts and
// ValidateEnvelope passes. False means "not proven", not "invalid".
bool SamplesEnvelopeProvablyValid(std::string_view bytes);

}  // namespace hw::naming
