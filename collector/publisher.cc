#include "collector/publisher.h"

#include "common/naming/naming.h"

namespace hw::collector {

void ToSample(const Point& p, hostwatch::v1::Sample* s) {
  s->set_metric(p.metric);
  auto* tags = s->mutable_tags();
  for (const auto& [k, v] : p.tags) (*tags)[k] = v;
  s->set_value(p.value);
  s->set_time_ms(p.time_ms);
  s->set_step_s(p.step_s);
  s->set_kind(p.counter ? hostwatch::v1::Sample::COUNTER : hostwatch::v1::Sample::GAUGE);
}

Publisher::Publisher(std::string endpoint, std::map<std::string, std::string> host_tags,
                     transport::ProducerLink* link)
    : endpoint_(std::move(endpoint)), host_tags_(std::move(host_tags)), link_(link) {}

void Publisher::Submit(std::vector<Point> points) {
  hostwatch::v1::Envelope env;
  hostwatch::v1::SampleBatch* batch = env.mutable_samples();
  batch->set_endpoint(endpoint_);
  for (const auto& [k, v] : host_tags_) (*batch->mutable_host_tags())[k] = v;
  for (const Point& p : points) {
    hostwatch::v1::Sample* s = batch->add_samples();
    ToSample(p, s);
    if (Status st = naming::ValidateSample(*s); !st.ok()) {
      batch->mutable_samples()->RemoveLast();
      samples_invalid_.fetch_add(1, std::memory_order_relaxed);
      MutexLock lock(&log_mu_);
      if (auto n = invalid_log_.Allow()) {
        spdlog::warn("dropping invalid sample: {} ({} more since)", st.message(), *n);
      }
    }
  }
  if (batch->samples_size() == 0) return;
  const auto count = static_cast<uint64_t>(batch->samples_size());
  if (Status st = link_->Publish(env); !st.ok()) {
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
