// The rediscache Sink (common/consumer/consumer_kit.h): turns each delivered batch into pipelines
// (cache_writer.h), runs them on the Redis backend, and finishes the deliveries only after every
// reply is in. Redis down, slow or restarting: the batch stays pending (in order, behind it the
// next ones, bounded by the kit's in-flight limit) and is retried with capped, jittered backoff
// (common/consumer/backoff.h) from Tick, so nothing is committed meanwhile and the cache catches up
// by itself. A server that came back with another run_id gets the registry and latest values
// rewritten from the writer's own copy first.
//
// Threads: everything runs on the kit's sink thread except Reload and AppendMetrics (any thread).
#pragma once

#include <atomic>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/base/mutex.h"
#include "common/consumer/backoff.h"
#include "common/consumer/consumer_kit.h"
#include "rediscache/cache_writer.h"
#include "rediscache/redis_client.h"
#include "rediscache/rediscache_config.h"

namespace hw::rediscache {

struct SinkSettings {
  std::vector<RedisAddress> addresses;
  ConnectOptions connect;
  WriterOptions writer;
  static SinkSettings From(const RedisCacheConfig& config, std::string password);
};

struct SinkStats {
  uint64_t batches = 0, commands = 0, samples = 0, events = 0, alerts = 0;
  uint64_t failures = 0, command_errors = 0, duplicates = 0, skipped_old = 0, rewrites = 0;
  uint64_t malformed = 0;  // deliveries that did not parse (finished, nothing written)
  uint64_t pending = 0, hosts = 0;
  double roundtrip_ms = 0;  // the last batch's, all its round trips
  // Over the last (up to) 4096 batches: the time from the first attempt that succeeded to the last
  // reply (one round trip, two with events), in ms.
  double roundtrip_p50_ms = 0, roundtrip_p99_ms = 0;
};

class RedisCacheSink : public consumer::Sink {
 public:
  // Makes the backend for the settings (tests pass a fake); null: MakeBackend.
  using BackendFactory = std::function<std::unique_ptr<RedisBackend>(const SinkSettings&)>;
  explicit RedisCacheSink(SinkSettings settings, BackendFactory factory = nullptr);

  // Any thread: applied on the sink thread before its next write.
  void Reload(SinkSettings settings);
  SinkStats stats() const;

  void Consume(std::vector<consumer::Delivery> batch, consumer::Finisher& finisher) override;
  void Tick(std::chrono::steady_clock::time_point now, consumer::Finisher& finisher) override;
  std::chrono::milliseconds TickInterval() const override { return std::chrono::milliseconds(50); }
  void Close(consumer::Finisher& finisher) override;
  void AppendMetrics(consumer::MetricOut out) override;

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kPipelineDeliveries = 128;
  struct Pending {
    std::vector<consumer::DeliveryId> ids;
    BatchPlan plan;
  };
  void ApplyReload();
  void Flush(consumer::Finisher& finisher);
  Status RunPending(Pending& p);
  Result<std::vector<Reply>> Run(const Pipeline& pipeline);
  void CountReplies(const Pipeline& pipeline, const std::vector<Reply>& replies);
  void Failed(const Status& s);

  SinkSettings settings_;
  BackendFactory factory_;
  CacheWriter writer_;
  std::unique_ptr<RedisBackend> backend_;
  std::deque<Pending> pending_;
  bool rewrite_due_ = false;
  consumer::Backoff backoff_;
  Clock::time_point next_attempt_{};
  Clock::time_point next_expire_{};
  Clock::time_point last_failure_log_{};
  // The first batch handed to Consume and the last reply, for the closing log line's rate.
  Clock::time_point first_batch_{}, last_written_{};
  uint64_t failures_logged_ = 0;

  mutable Mutex mu_;
  std::optional<SinkSettings> reload_ GUARDED_BY(mu_);
  std::vector<double> roundtrips_ GUARDED_BY(mu_);  // a ring of the last 4096
  size_t roundtrip_next_ GUARDED_BY(mu_) = 0;
  SinkStats stats_ GUARDED_BY(mu_);
};

}  // namespace hw::rediscache
