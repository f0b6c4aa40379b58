// Turns Points into SampleBatch envelopes and hands them to the producer link (which spools them
// before it returns, so a broker outage loses nothing: docs/wire_format.md §4).
//
// Each sample is checked with the shared validator first and a bad one is dropped alone (counted
// and logged), because the link refuses a whole envelope for one bad sample: an odd mount point or
// exec output must not cost the host its CPU figures.
//
// Thread-safe: the scheduler and the exec thread Submit concurrently.
#pragma once

#include <atomic>
#include <map>
#include <string>

#include "collector/plugin.h"
#include "common/base/mutex.h"
#include "common/daemon/logging.h"
#include "common/transport/producer_link.h"

namespace hw::collector {

struct PublisherStats {
  uint64_t samples_sent = 0;     // accepted by the link (spooled)
  uint64_t samples_invalid = 0;  // refused by the validator, dropped
  uint64_t publish_errors = 0;   // batches the link could not spool (disk full, ...)
};

class Publisher : public PointSink {
 public:
  // link must outlive the Publisher.
  Publisher(std::string endpoint, std::map<std::string, std::string> host_tags,
            transport::ProducerLink* link);
  void Submit(std::vector<Point> points) override EXCLUDES(log_mu_);
  PublisherStats stats() const;

 private:
  const std::string endpoint_;
  const std::map<std::string, std::string> host_tags_;
  transport::ProducerLink* const link_;
  std::atomic<uint64_t> samples_sent_{0}, samples_invalid_{0}, publish_errors_{0};
  Mutex log_mu_;
  daemon::RepeatLimiter invalid_log_ GUARDED_BY(log_mu_){std::chrono::minutes(1)};
  daemon::RepeatLimiter error_log_ GUARDED_BY(log_mu_){std::chrono::minutes(1)};
};

}  // namespace hw::collector
