#include "common/naming/sample_wire.h"

#include <cstring>

#include "common/naming/wire_reader.h"

namespace hw::naming {
namespace {

using namespace wire;

// Field numbers, from proto/hostwatch/v1/hostwatch.proto.
constexpr uint32_t kEnvSource = 1, kEnvEpoch = 2, kEnvSeq = 3, kEnvSentMs = 4;
constexpr uint32_t kEnvSamples = 10, kEnvAlerts = 12;
constexpr uint32_t kBatchEndpoint = 1, kBatchHostTags = 2, kBatchSamples = 3;
constexpr uint32_t kSampleMetric = 1, kSampleTags = 2, kSampleValue = 3, kSampleTimeMs = 4,
                   kSampleStep = 5, kSampleKind = 6;
constexpr uint32_t kEntryKey = 1, kEntryValue = 2;

// A map<string, string> entry of exactly the fields a map entry has; a missing key or value is ""
// as in protobuf. Anything else (extra fields, other wire types) is left to the full parse.
bool ReadEntry(std::string_view bytes, TagView* out) {
  Reader r(bytes);
  *out = {};
  while (!r.done()) {
    uint32_t field;
    int type;
    if (!r.Tag(&field, &type) || type != kLen) return false;
    if (field == kEntryKey) {
      if (!r.Len(&out->key)) return false;
    } else if (field == kEntryValue) {
      if (!r.Len(&out->value)) return false;
    } else {
      return false;
    }
  }
  return true;
}

bool ReadSample(std::string_view bytes, SampleView* s) {
  Reader r(bytes);
  s->metric = {};
  s->tag_count = 0;
  s->value = 0;
  s->time_ms = 0;
  s->step_s = 0;
  s->kind = 0;
  while (!r.done()) {
    uint32_t field;
    int type;
    if (!r.Tag(&field, &type)) return false;
    uint64_t u = 0;
    std::string_view v;
    switch (field) {
      case kSampleMetric:
        if (type != kLen || !r.Len(&s->metric)) return false;
        break;
      case kSampleTags:
        if (type != kLen || !r.Len(&v) || s->tag_count == kMaxWireTags ||
            !ReadEntry(v, &s->tags[s->tag_count])) {
          return false;
        }
        ++s->tag_count;
        break;
      case kSampleValue:
        if (type != kFixed64 || !r.Fixed64(&u)) return false;
        std::memcpy(&s->value, &u, sizeof u);
        break;
      case kSampleTimeMs:
        if (type != kVarint || !r.Varint(&u)) return false;
        s->time_ms = static_cast<int64_t>(u);
        break;
      case kSampleStep:
        if (type != kVarint || !r.Varint(&u)) return false;
        s->step_s = static_cast<uint32_t>(u);
        break;
      case kSampleKind:
        if (type != kVarint || !r.Varint(&u)) return false;
        s->kind = static_cast<int32_t>(static_cast<uint32_t>(u));  // as protobuf casts an enum
        break;
      default:
        if (!r.Skip(field, type)) return false;  // unknown: kept by protobuf, and ignored
    }
  }
  return true;
}

}  // namespace

void SortTags(TagView* tags, size_t* count) {
  const size_t n = *count;
  // Insertion sort: stable (equal keys keep their wire order), and a handful of tags is the norm.
  for (size_t i = 1; i < n; ++i) {
    const TagView t = tags[i];
    size_t j = i;
    for (; j > 0 && t.key < tags[j - 1].key; --j) tags[j] = tags[j - 1];
    tags[j] = t;
  }
  size_t out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i + 1 < n && tags[i + 1].key == tags[i].key) continue;  // a later entry replaces it
    tags[out++] = tags[i];
  }
  *count = out;
}

bool SamplesWire::Open(std::string_view envelope, EnvelopeWire* header) {
  ok_ = false;
  endpoint_ = {};
  host_tag_count_ = 0;
  samples_ = 0;
  rest_ = {};
  EnvelopeWire e;
  std::string_view body;
  int bodies = 0;
  Reader r(envelope);
  while (!r.done()) {
    uint32_t field;
    int type;
    if (!r.Tag(&field, &type)) return false;
    uint64_t u;
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
      if (!r.Len(&body)) return false;
      e.body_field = static_cast<int>(field);
      ++bodies;  // a second body merges into or replaces the first: the full parse's business
    } else if (!r.Skip(field, type)) {
      return false;
    }
  }
  // Header fields of a wrong wire type were skipped above, as protobuf keeps them as unknown.
  if (header != nullptr) *header = e;
  if (e.body_field != static_cast<int>(kEnvSamples) || bodies != 1) return false;

  // The batch's own fields, wherever they are among the samples; the framing of every sample.
  Reader b(body);
  while (!b.done()) {
    uint32_t field;
    int type;
    if (!b.Tag(&field, &type)) return false;
    std::string_view v;
    if (field == kBatchEndpoint) {
      if (type != kLen || !b.Len(&endpoint_)) return false;
    } else if (field == kBatchHostTags) {
      if (type != kLen || !b.Len(&v) || host_tag_count_ == kMaxWireTags ||
          !ReadEntry(v, &host_tags_[host_tag_count_])) {
        return false;
      }
      ++host_tag_count_;
    } else if (field == kBatchSamples) {
      if (type != kLen || !b.Len(&v)) return false;
      ++samples_;
    } else if (!b.Skip(field, type)) {
      return false;
    }
  }
  if (header != nullptr) header->items = samples_;
  rest_ = body;
  ok_ = true;
  return true;
}

bool SamplesWire::Next(SampleView* out) {
  if (!ok_) return false;
  Reader r(rest_);
  while (!r.done()) {
    uint32_t field;
    int type;
    if (!r.Tag(&field, &type)) break;  // Open checked the framing: not reached
    std::string_view v;
    if (field == kBatchSamples && type == kLen) {
      if (!r.Len(&v)) break;
      rest_ = r.rest();
      if (!ReadSample(v, out)) {
        ok_ = false;
        return false;
      }
      return true;
    }
    if (!r.Skip(field, type)) break;
  }
  rest_ = {};
  return false;
}

}  // namespace hw::naming
