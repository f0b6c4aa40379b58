#include "collector/publisher.h"

#include "common/naming/naming.h"
#include "common/naming/sample_batch_encoder.h"

namespace hw::collector {

Publisher::Publisher(std::string endpoint, std::map<std::string, std::string> host_tags,
                     transport::ProducerLink* link)
    : endpoint_(std::move(endpoint)), host_tags_(std::move(host_tags)), link_(link) {}

void Publisher::Submit(std::vector<Point> points) {
  // Encoded straight to wire bytes (SampleBatchEncoder): a Sample message with a map per point was
  // the largest part of the collector's user-space CPU.
  naming::SampleBatchEncoder batch;
  batch.Begin(endpoint_);
  for (const auto& [k, v] : host_tags_) batch.AddHostTag(k, v);
  std::vector<naming::TagView> tags;
  for (const Point& p : points) {
    tags.assign(p.tags.begin(), p.tags.end());
    if (Status st = naming::ValidateSampleParts(p.metric, tags, p.value, p.time_ms); !st.ok()) {
      samples_invalid_.fetch_add(1, std::memory_order_relaxed);
      MutexLock lock(&log_mu_);
      if (auto n = invalid_log_.Allow()) {
        spdlog::warn("dropping invalid sample {}: {} ({} more since)", p.metric, st.message(), *n);
      }
      continue;
    }
    batch.Add(p.metric, tags, p.value, p.time_ms, p.step_s, p.counter);
  }
  const uint64_t count = batch.samples();
  if (count == 0) return;
  if (Status st = link_->PublishSerialized(batch.Finish()); !st.ok()) {
    publish_errors_.fetch_add(1, std::memory_order_relaxed);
    MutexLock lock(&log_mu_);
    if (auto n = error_log_.Allow()) {
      spdlog::error("cannot publish {} samples: {} ({} more since)", count, st.ToString(), *n);
    }
    return;
  }
  samples_sent_.fetch_add(count, std::memory_order_relaxed);
}

PublisherStats Publisher::stats() const {
  PublisherStats s;
  s.samples_sent = samples_sent_.load(std::memory_order_relaxed);
  s.samples_invalid = samples_invalid_.load(std::memory_order_relaxed);
  s.publish_errors = publish_errors_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace hw::collector
