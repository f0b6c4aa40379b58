#include "common/naming/envelope_wire.h"

#include <cmath>
#include <cstring>

#include "common/naming/naming.h"

namespace hw::naming {
namespace {

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
enum WireType : int {
  kVarint = 0,
  kFixed64 = 1,
  kLen = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5
};

// Field numbers, from proto/hostwatch/v1/hostwatch.proto.
constexpr uint32_t kEnvSource = 1, kEnvEpoch = 2, kEnvSeq = 3, kEnvSentMs = 4;
constexpr uint32_t kEnvSamples = 10, kEnvEvents = 11, kEnvAlerts = 12;
constexpr uint32_t kBatchEndpoint = 1, kBatchHostTags = 2, kBatchItems = 3;  // samples / events
constexpr uint32_t kAlertBatchItems = 1;
constexpr uint32_t kSampleMetric = 1, kSampleTags = 2, kSampleValue = 3, kSampleTimeMs = 4,
                   kSampleStep = 5, kSampleKind = 6;
constexpr uint32_t kEntryKey = 1, kEntryValue = 2;
constexpr int kMaxGroupDepth = 32;  // protobuf's own recursion limit is 100; ours nest 4 deep

// A cursor over one message's bytes. Every read checks bounds; a false return means malformed.
class Reader {
 public:
  explicit Reader(std::string_view bytes)
      : p_(reinterpret_cast<const uint8_t*>(bytes.data())), end_(p_ + bytes.size()) {}

  bool done() const { return p_ == end_; }

  bool Varint(uint64_t* v) {
    if (p_ != end_ && *p_ < 0x80) {  // most varints here are one byte: tags, lengths, step_s
      *v = *p_++;
      return true;
    }
    uint64_t result = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ == end_) return false;
      const uint8_t b = *p_++;
      // The tenth byte carries bit 63 only; protobuf drops the rest, so may we.
      result |= static_cast<uint64_t>(b & 0x7F) << (shift < 64 ? shift : 63);
      if ((b & 0x80) == 0) {
        *v = result;
        return true;
      }
    }
    return false;  // more than ten bytes: protobuf rejects it too
  }

  // A tag is at most five bytes; protobuf keeps the low 32 bits of the fifth, and so do we.
  bool Tag(uint32_t* field, int* type) {
    uint32_t t = 0;
    if (p_ != end_ && *p_ < 0x80) {
      t = *p_++;
      *field = t >> 3;
      *type = static_cast<int>(t & 7);
      return *field != 0;
    }
    for (int i = 0;; ++i) {
      if (i == 5 || p_ == end_) return false;
      const uint8_t b = *p_++;
      t |= static_cast<uint32_t>(b & 0x7F) << (7 * i);
      if ((b & 0x80) == 0) break;
    }
    *field = t >> 3;
    *type = static_cast<int>(t & 7);
    return *field != 0;  // field 0 is never valid
  }

  bool Fixed64(uint64_t* v) {
    if (end_ - p_ < 8) return false;
    uint64_t x;
    std::memcpy(&x, p_, 8);  // little-endian on the wire and on every platform we build for
    p_ += 8;
    *v = x;
    return true;
  }

  bool Len(std::string_view* v) {
    uint64_t n;
    if (!Varint(&n) || n > static_cast<uint64_t>(end_ - p_)) return false;
    *v = std::string_view(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return true;
  }

  bool Skip(uint32_t field, int type, int depth = 0) {
    uint64_t ignored;
    std::string_view view;
    switch (type) {
      case kVarint:
        return Varint(&ignored);
      case kFixed64:
        return Fixed64(&ignored);
      case kLen:
        return Len(&view);
      case kFixed32:
        if (end_ - p_ < 4) return false;
        p_ += 4;
        return true;
      case kStartGroup: {
        if (depth >= kMaxGroupDepth) return false;
        for (;;) {  // a (deprecated) group ends with an end-group tag of the same field
          uint32_t f;
          int t;
          if (!Tag(&f, &t)) return false;
          if (t == kEndGroup) return f == field;
          if (!Skip(f, t, depth + 1)) return false;
        }
      }
      default:
        return false;  // a stray end-group, or wire types 6 and 7
    }
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

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
