#include "common/naming/envelope_wire.h"

#include <cmath>
#include <cstring>

#include "common/naming/naming.h"
#include "common/naming/wire_reader.h"

namespace hw::naming {
namespace {

using namespace wire;

// Field numbers, from proto/hostwatch/v1/hostwatch.proto.
constexpr uint32_t kEnvSource = 1, kEnvEpoch = 2, kEnvSeq = 3, kEnvSentMs = 4;
constexpr uint32_t kEnvSamples = 10, kEnvEvents = 11, kEnvAlerts = 12;
constexpr uint32_t kBatchEndpoint = 1, kBatchHostTags = 2, kBatchItems = 3;  // samples / events
constexpr uint32_t kAlertBatchItems = 1;
constexpr uint32_t kSampleMetric = 1, kSampleTags = 2, kSampleValue = 3, kSampleTimeMs = 4,
                   kSampleStep = 5, kSampleKind = 6;
constexpr uint32_t kEntryKey = 1, kEntryValue = 2;

// Counts the occurrences of `item_field` in a batch message.
bool CountItems(std::string_view body, uint32_t item_field, uint64_t* count) {
  Reader r(body);
  uint64_t n = 0;
  while (!r.done()) {
    uint32_t field;
    int type;
    if (!r.Tag(&field, &type)) return false;
    if (field == item_field && type == kLen) ++n;
    if (!r.Skip(field, type)) return false;
  }
  *count = n;
  return true;
}

// One map<string, string> entry; both keys and values must pass their validator. An entry with
// anything but one key and one value is left to the full parse.
bool TagEntryValid(std::string_view entry) {
  Reader r(entry);
  std::string_view key, value;
  int keys = 0, values = 0;
  while (!r.done()) {
    uint32_t field;
    int type;
    if (!r.Tag(&field, &type) || type != kLen) return false;
    if (field == kEntryKey) {
      if (!r.Len(&key)) return false;
      ++keys;
    } else if (field == kEntryValue) {
      if (!r.Len(&value)) return false;
      ++values;
    } else {
      return false;
    }
  }
  // A missing key or value parses as ""; the validators decide about that.
  if (keys > 1 || values > 1) return false;
  return IsValidTagKey(key) && IsValidTagValue(value);
}

bool SampleValid(std::string_view bytes) {
  Reader r(bytes);
  bool have_metric = false;
  uint64_t value_bits = 0, time_ms = 0, kind = 0;
  size_t tags = 0;
  while (!r.done()) {
    uint32_t field;
    int type;
    if (!r.Tag(&field, &type)) return false;
    std::string_view v;
    uint64_t ignored;
    switch (field) {
      case kSampleMetric:
        // Every occurrence must pass (the last wins, and protobuf checks the UTF-8 of each).
        if (type != kLen || !r.Len(&v) || !IsValidMetric(v)) return false;
        have_metric = true;
        break;
      case kSampleTags:
        if (type != kLen || !r.Len(&v) || ++tags > kMaxTags || !TagEntryValid(v)) return false;
        break;
      case kSampleValue:
        if (type != kFixed64 || !r.Fixed64(&value_bits)) return false;
        break;
      case kSampleTimeMs:
        if (type != kVarint || !r.Varint(&time_ms)) return false;
        break;
      case kSampleStep:
        if (type != kVarint || !r.Varint(&ignored)) return false;
        break;
      case kSampleKind:
        if (type != kVarint || !r.Varint(&kind)) return false;
        break;
      default:
        if (!r.Skip(field, type)) return false;  // unknown fields are kept, and ignored
    }
  }
  double value;
  std::memcpy(&value, &value_bits, sizeof value);
  const auto kind32 = static_cast<int32_t>(static_cast<uint32_t>(kind));  // as protobuf casts
  return have_metric && std::isfinite(value) && static_cast<int64_t>(time_ms) > 0 &&
         hostwatch::v1::Sample::Kind_IsValid(kind32);
}

bool SampleBatchValid(std::string_view bytes, std::string_view source) {
  Reader r(bytes);
  std::string_view endpoint;
  size_t host_tags = 0;
  while (!r.done()) {
    uint32_t field;
    int type;
    if (!r.Tag(&field, &type)) return false;
    std::string_view v;
    switch (field) {
      case kBatchEndpoint:
        if (type != kLen || !r.Len(&v) || !ValidateEndpoint(v).ok()) return false;
        endpoint = v;
        break;
      case kBatchHostTags:
        if (type != kLen || !r.Len(&v) || ++host_tags > kMaxTags || !TagEntryValid(v)) {
          return false;
        }
        break;
      case kBatchItems:
        if (type != kLen || !r.Len(&v) || !SampleValid(v)) return false;
        break;
      default:
        if (!r.Skip(field, type)) return false;
    }
  }
  return !endpoint.empty() && endpoint == SourceEndpoint(source);
}

}  // namespace

namespace {

bool Scan(std::string_view bytes, bool count_items, EnvelopeWire* out) {
  Reader r(bytes);
  EnvelopeWire e;
  while (!r.done()) {
    uint32_t field;
    int type;
    if (!r.Tag(&field, &type)) return false;
    uint64_t u;
    std::string_view v;
    if (field == kEnvSource && type == kLen) {
      if (!r.Len(&e.source)) return false;
      e.has_source = true;
    } else if (field == kEnvEpoch && type == kFixed64) {
      if (!r.Fixed64(&e.epoch)) return false;
    } else if (field == kEnvSeq && type == kVarint) {
      if (!r.Varint(&e.seq)) return false;
      e.has_seq = true;
    } else if (field == kEnvSentMs && type == kVarint) {
      if (!r.Varint(&u)) return false;
      e.sent_ms = static_cast<int64_t>(u);
    } else if (field >= kEnvSamples && field <= kEnvAlerts && type == kLen) {
      uint64_t n = 0;
      if (!r.Len(&v)) return false;
      if (count_items && !CountItems(v, field == kEnvAlerts ? kAlertBatchItems : kBatchItems, &n)) {
        return false;
      }
      // A oneof: the same member again merges (its items add up); another member replaces it.
      const int f = static_cast<int>(field);
      e.items = (e.body_field == f) ? e.items + n : n;
      e.body_field = f;
    } else if (!r.Skip(field, type)) {
      return false;
    }
  }
  *out = e;
  return true;
}

}  // namespace

bool ScanEnvelope(std::string_view bytes, EnvelopeWire* out) { return Scan(bytes, true, out); }

bool ScanEnvelopeHeader(std::string_view bytes, EnvelopeWire* out) {
  return Scan(bytes, false, out);
}

bool SamplesEnvelopeProvablyValid(std::string_view bytes) {
  Reader r(bytes);
  std::string_view source, body;
  uint64_t seq = 0, ignored;
  int bodies = 0;
  while (!r.done()) {
    uint32_t field;
    int type;
    if (!r.Tag(&field, &type)) return false;
    switch (field) {
      case kEnvSource:
        if (type != kLen || !r.Len(&source)) return false;
        // protobuf checks the UTF-8 of every occurrence; ValidateSource (ASCII only) is stricter.
        if (!ValidateSource(source).ok()) return false;
        break;
      case kEnvEpoch:
        if (type != kFixed64 || !r.Fixed64(&ignored)) return false;
        break;
      case kEnvSeq:
        if (type != kVarint || !r.Varint(&seq)) return false;
        break;
      case kEnvSentMs:
        if (type != kVarint || !r.Varint(&ignored)) return false;
        break;
      case kEnvSamples:
        // A second samples member would be merged into the first: leave that to the full parse.
        if (type != kLen || !r.Len(&body) || ++bodies > 1) return false;
        break;
      case kEnvEvents:
      case kEnvAlerts:
        return false;  // not the hot path: the full parse judges those
      default:
        if (!r.Skip(field, type)) return false;
    }
  }
  // The source is checked when the body is, since the body's endpoint must match it.
  return bodies == 1 && seq >= 1 && !source.empty() && SampleBatchValid(body, source);
}

}  // namespace hw::naming
