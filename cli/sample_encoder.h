// Encodes a samples envelope body straight to protobuf wire bytes, for `hostwatch loadgen`.
//
// Building a Sample message with a tag map per item and serializing it cost the generator more CPU
// than the broker it was loading (docs/benchmarks.md); the bytes here are what SerializeToString
// would produce for Envelope{samples: SampleBatch{endpoint, samples}} with one tag per sample,
// and sample_encoder_test parses them back to prove it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace hw::cli {

class SampleBatchEncoder {
 public:
  // Starts a new batch (the buffer is kept, so a reused encoder does not allocate).
  void Begin(std::string_view endpoint);
  void Add(std::string_view metric, std::string_view tag_key, std::string_view tag_value,
           double value, int64_t time_ms, uint32_t step_s);
  // Envelope bytes with only the samples body set (no source, epoch, seq or sent_ms): what
  // ProducerLink::PublishSerialized takes.
  std::string Finish() const;

 private:
  std::string endpoint_;
  // The batch's field 3 entries, each with its tag and length: the first used_ bytes. Grown, never
  // shrunk, so that a reused encoder neither allocates nor zero-fills.
  std::string samples_;
  size_t used_ = 0;
};

}  // namespace hw::cli
