#include "cli/sample_encoder.h"

#include <algorithm>
#include <cstring>

namespace hw::cli {
namespace {

// Field numbers and wire types from proto/hostwatch/v1/hostwatch.proto.
constexpr int kLen = 2, kVarint = 0, kFixed64 = 1;

void PutVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

void PutTag(int field, int type, std::string* out) {
  PutVarint(static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(type), out);
}

void PutBytes(int field, std::string_view v, std::string* out) {
  PutTag(field, kLen, out);
  PutVarint(v.size(), out);
  out->append(v);
}

char* PutVarintRaw(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

char* PutTagRaw(char* p, int field, int type) {
  return PutVarintRaw(p, static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(type));
}

char* PutBytesRaw(char* p, int field, std::string_view v) {
  p = PutTagRaw(p, field, kLen);
  p = PutVarintRaw(p, v.size());
  std::memcpy(p, v.data(), v.size());
  return p + v.size();
}

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

}  // namespace

void SampleBatchEncoder::Begin(std::string_view endpoint) {
  endpoint_.assign(endpoint);
  used_ = 0;
}

void SampleBatchEncoder::Add(std::string_view metric, std::string_view tag_key,
                             std::string_view tag_value, double value, int64_t time_ms,
                             uint32_t step_s) {
  // proto3 leaves out fields that hold their default; so do we, to match SerializeToString
  // (which compares a double's bits with zero: -0.0 is written).
  uint64_t value_bits;
  std::memcpy(&value_bits, &value, sizeof value_bits);
  const auto time = static_cast<uint64_t>(time_ms);
  const size_t entry = 1 + VarintSize(tag_key.size()) + tag_key.size() + 1 +
                       VarintSize(tag_value.size()) + tag_value.size();
  const size_t len = 1 + VarintSize(metric.size()) + metric.size() + 1 + VarintSize(entry) + entry +
                     (value_bits != 0 ? 9 : 0) + (time != 0 ? 1 + VarintSize(time) : 0) +
                     (step_s != 0 ? 1 + VarintSize(step_s) : 0);
  // Written through a pointer into space reserved up front: appending byte by byte to a string
  // checked its capacity on every byte and was most of the encoder's cost.
  const size_t need = used_ + 1 + VarintSize(len) + len;
  if (samples_.size() < need) samples_.resize(std::max(need, 2 * samples_.size()));
  char* p = samples_.data() + used_;
  p = PutTagRaw(p, 3, kLen);  // SampleBatch.samples
  p = PutVarintRaw(p, len);
  p = PutBytesRaw(p, 1, metric);  // Sample.metric
  p = PutTagRaw(p, 2, kLen);      // Sample.tags: one map entry {1: key, 2: value}
  p = PutVarintRaw(p, entry);
  p = PutBytesRaw(p, 1, tag_key);
  p = PutBytesRaw(p, 2, tag_value);
  if (value_bits != 0) {
    p = PutTagRaw(p, 3, kFixed64);  // Sample.value, little-endian like every platform we build for
    std::memcpy(p, &value_bits, 8);
    p += 8;
  }
  if (time != 0) {
    p = PutTagRaw(p, 4, kVarint);
    p = PutVarintRaw(p, time);
  }
  if (step_s != 0) {
    p = PutTagRaw(p, 5, kVarint);
    p = PutVarintRaw(p, step_s);
  }
  used_ = static_cast<size_t>(p - samples_.data());
}

std::string SampleBatchEncoder::Finish() const {
  const size_t endpoint_field =
      endpoint_.empty() ? 0 : 1 + VarintSize(endpoint_.size()) + endpoint_.size();
  const size_t batch = endpoint_field + used_;
  std::string out;
  out.reserve(1 + VarintSize(batch) + batch);
  PutTag(10, kLen, &out);  // Envelope.samples
  PutVarint(batch, &out);
  if (!endpoint_.empty()) PutBytes(1, endpoint_, &out);  // SampleBatch.endpoint
  out.append(samples_.data(), used_);
  return out;
}

}  // namespace hw::cli
