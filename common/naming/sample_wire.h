// The samples of an Envelope read straight from its wire bytes, for a consumer that touches every
// sample of the fleet (rediscache): no Sample objects, no tag maps, no allocation; every string is
// a view into the bytes, which must outlive the reader and its views.
//
// It reads the shape a producer writes (SampleBatchEncoder, SerializeToString) and a full parse
// would read the same way. Where a full parse would merge or override across fields (an envelope
// with a second body field, a known field with an unexpected wire type, a map entry with extra
// fields, more than kMaxWireTags tag entries in one sample) the reader says "not simple" (Open
// false, or ok() false after Next) and reads nothing; the caller then parses the envelope with
// protobuf, serializes it again (canonical) and reads that. What it does follow, as protobuf does:
// a singular field that repeats (the last wins), unknown fields (skipped), a map key that repeats
// (SortTags keeps the last).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/naming/envelope_wire.h"

namespace hw::naming {

struct TagView {
  std::string_view key, value;
};

// More entries than a valid sample may have (kMaxTags), so that repeated keys still fit.
inline constexpr size_t kMaxWireTags = 64;

struct SampleView {
  std::string_view metric;
  TagView tags[kMaxWireTags];
  size_t tag_count = 0;  // as on the wire: unsorted, a key may repeat
  double value = 0;
  int64_t time_ms = 0;
  uint32_t step_s = 0;
  int32_t kind = 0;
};

// Sorts tags by key in place and drops the earlier of entries with the same key (protobuf's map
// keeps the last): the order series names are built in.
void SortTags(TagView* tags, size_t* count);

class SamplesWire {
 public:
  // Reads the envelope's header into *header and its batch's endpoint and host tags. False when it
  // is not a samples envelope of the simple shape (header->body_field says which body it has) or
  // not well-formed.
  bool Open(std::string_view envelope, EnvelopeWire* header);

  std::string_view endpoint() const { return endpoint_; }
  // As on the wire (see SortTags).
  const TagView* host_tags() const { return host_tags_; }
  size_t host_tag_count() const { return host_tag_count_; }
  uint64_t samples() const { return samples_; }

  // The next sample into *out; false at the end, or when this sample is not simple or not
  // well-formed inside (ok() false: the caller falls back to the full parse, which decides).
  bool Next(SampleView* out);
  bool ok() const { return ok_; }

 private:
  std::string_view body_, endpoint_;
  TagView host_tags_[kMaxWireTags];
  size_t host_tag_count_ = 0;
  uint64_t samples_ = 0;
  std::string_view rest_;  // the part of the batch not read by Next yet
  bool ok_ = false;
};

}  // namespace hw::naming
