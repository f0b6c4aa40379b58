#include "common/naming/sample_batch_encoder.h"

#include <algorithm>
#include <cstring>

namespace hw::naming {
namespace {

// Field numbers and wire types from proto/hostwatch/v1/hostwatch.proto.
constexpr int kLen = 2, kVarint = 0, kFixed64 = 1;

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

char* PutVarint(char* p, uint64_t v) {
  while (v >= 0x80) {
    *p++ = static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<char>(v);
  return p;
}

// Every field number here is below 16, so a tag is one byte.
char* PutTag(char* p, int field, int type) {
  return PutVarint(p, static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(type));
}

char* PutBytes(char* p, int field, std::string_view v) {
  p = PutTag(p, field, kLen);
  p = PutVarint(p, v.size());
  std::memcpy(p, v.data(), v.size());
  return p + v.size();
}

size_t BytesFieldSize(std::string_view v) { return 1 + VarintSize(v.size()) + v.size(); }

uint64_t Bits(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  return bits;
}

// What follows a sample's tags: proto3 leaves out fields that hold their default, and so do we,
// to match SerializeToString (which compares a double's bits with zero: -0.0 is written).
size_t TailSize(double value, int64_t time_ms, uint32_t step_s, bool counter) {
  const auto time = static_cast<uint64_t>(time_ms);
  return (Bits(value) != 0 ? 9 : 0) + (time != 0 ? 1 + VarintSize(time) : 0) +
         (step_s != 0 ? 1 + VarintSize(step_s) : 0) + (counter ? 2 : 0);
}

}  // namespace

void SampleBatchEncoder::Begin(std::string_view endpoint) {
  endpoint_.assign(endpoint);
  host_tags_.clear();
  used_ = 0;
  samples_count_ = 0;
}

void SampleBatchEncoder::AddHostTag(std::string_view key, std::string_view value) {
  const size_t at = host_tags_.size();
  host_tags_.resize(at + TagEntrySize(key, value));
  PutTagEntry(host_tags_.data() + at, 2, key, value);  // SampleBatch.host_tags
}

size_t SampleBatchEncoder::TagEntrySize(std::string_view key, std::string_view value) {
  const size_t entry = BytesFieldSize(key) + BytesFieldSize(value);
  return 1 + VarintSize(entry) + entry;
}

char* SampleBatchEncoder::PutTagEntry(char* p, int field, std::string_view key,
                                      std::string_view value) {
  // A map entry is a message {1: key, 2: value}.
  p = PutTag(p, field, kLen);
  p = PutVarint(p, BytesFieldSize(key) + BytesFieldSize(value));
  p = PutBytes(p, 1, key);
  return PutBytes(p, 2, value);
}

char* SampleBatchEncoder::StartSample(std::string_view metric, size_t tags_len, double value,
                                      int64_t time_ms, uint32_t step_s, bool counter) {
  const size_t len = BytesFieldSize(metric) + tags_len + TailSize(value, time_ms, step_s, counter);
  // Written through a pointer into space reserved up front: appending byte by byte to a string
  // checked its capacity on every byte and was most of the encoder's cost.
  const size_t need = used_ + 1 + VarintSize(len) + len;
  if (samples_.size() < need) samples_.resize(std::max(need, 2 * samples_.size()));
  char* p = samples_.data() + used_;
  p = PutTag(p, 3, kLen);  // SampleBatch.samples
  p = PutVarint(p, len);
  return PutBytes(p, 1, metric);  // Sample.metric; Sample.tags (field 2) follow
}

void SampleBatchEncoder::FinishSample(char* p, double value, int64_t time_ms, uint32_t step_s,
                                      bool counter) {
  if (const uint64_t bits = Bits(value); bits != 0) {
    p = PutTag(p, 3, kFixed64);  // Sample.value, little-endian like every platform we build for
    std::memcpy(p, &bits, 8);
    p += 8;
  }
  if (time_ms != 0) {
    p = PutTag(p, 4, kVarint);
    p = PutVarint(p, static_cast<uint64_t>(time_ms));
  }
  if (step_s != 0) {
    p = PutTag(p, 5, kVarint);
    p = PutVarint(p, step_s);
  }
  if (counter) {
    p = PutTag(p, 6, kVarint);  // Sample.kind = COUNTER
    p = PutVarint(p, 1);
  }
  used_ = static_cast<size_t>(p - samples_.data());
  ++samples_count_;
}

std::string SampleBatchEncoder::Finish() const {
  const size_t batch =
      (endpoint_.empty() ? 0 : BytesFieldSize(endpoint_)) + host_tags_.size() + used_;
  std::string out(1 + VarintSize(batch) + batch, '\0');
  char* p = PutTag(out.data(), 10, kLen);  // Envelope.samples
  p = PutVarint(p, batch);
  if (!endpoint_.empty()) p = PutBytes(p, 1, endpoint_);  // SampleBatch.endpoint
  std::memcpy(p, host_tags_.data(), host_tags_.size());
  p += host_tags_.size();
  std::memcpy(p, samples_.data(), used_);
  return out;
}

}  // namespace hw::naming
