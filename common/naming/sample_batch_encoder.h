// Encodes a samples envelope body straight to protobuf wire bytes: for the collector, which sends
// ~150 samples a second, and `hostwatch loadgen`, which sends millions.
//
// Building a Sample message with a tag map per item and serializing it was the largest part of the
// collector's user-space CPU after the procfs reads (a map node and strings per tag, then a second
// walk to size and write them), and cost the generator more CPU than the broker it was loading
// (docs/benchmarks.md). The bytes here parse as Envelope{samples: SampleBatch{endpoint, host_tags,
// samples}}; with at most one tag per map they are exactly what SerializeToString writes (proto3
// leaves out default values; map order is unspecified otherwise), and sample_batch_encoder_test
// parses them back and runs the broker's wire check on them. Nothing is validated here: callers
// check names first (naming::ValidateSampleParts).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace hw::naming {

class SampleBatchEncoder {
 public:
  // Starts a new batch (the buffers are kept, so a reused encoder does not allocate).
  void Begin(std::string_view endpoint);
  // SampleBatch.host_tags, in the order given (call before Finish, any number of times).
  void AddHostTag(std::string_view key, std::string_view value);
  // One sample. tags: a range of pairs whose first and second convert to std::string_view.
  template <typename TagRange>
  void Add(std::string_view metric, const TagRange& tags, double value, int64_t time_ms,
           uint32_t step_s, bool counter = false) {
    size_t tags_len = 0;
    for (const auto& [k, v] : tags) tags_len += TagEntrySize(k, v);
    char* p = StartSample(metric, tags_len, value, time_ms, step_s, counter);
    for (const auto& [k, v] : tags) p = PutTagEntry(p, 2, k, v);
    FinishSample(p, value, time_ms, step_s, counter);
  }
  // The common case of loadgen: one tag.
  void Add(std::string_view metric, std::string_view tag_key, std::string_view tag_value,
           double value, int64_t time_ms, uint32_t step_s) {
    const std::pair<std::string_view, std::string_view> tag[] = {{tag_key, tag_value}};
    Add(metric, tag, value, time_ms, step_s);
  }
  size_t samples() const { return samples_count_; }
  // Envelope bytes with only the samples body set (no source, epoch, seq or sent_ms): what
  // ProducerLink::PublishSerialized takes.
  std::string Finish() const;

 private:
  static size_t TagEntrySize(std::string_view key, std::string_view value);
  static char* PutTagEntry(char* p, int field, std::string_view key, std::string_view value);
  // Reserves room and writes the sample's header, metric and nothing else; returns where the tag
  // entries go. FinishSample writes value, time, step and kind after them.
  char* StartSample(std::string_view metric, size_t tags_len, double value, int64_t time_ms,
                    uint32_t step_s, bool counter);
  void FinishSample(char* p, double value, int64_t time_ms, uint32_t step_s, bool counter);

  std::string endpoint_;
  std::string host_tags_;  // encoded SampleBatch.host_tags entries
  // The batch's field 3 entries, each with its tag and length: the first used_ bytes. Grown, never
  // shrunk, so that a reused encoder neither allocates nor zero-fills.
  std::string samples_;
  size_t used_ = 0;
  size_t samples_count_ = 0;
};

}  // namespace hw::naming
