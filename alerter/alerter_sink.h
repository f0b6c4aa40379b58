// The alerter's Sink on the consumer kit (common/consumer/consumer_kit.h): samples and log events
// in, alert changes out (to the pipeline, which hands Notifications to Delivery, and to the broker
// as AlertBatch).
//
// Commit discipline (alerter/README.md, Writes): a delivery is finished (so committed) only after
// the state that reflects it is durable: what changed in windows, alert states and notification
// bookkeeping, with the position (broker, partition, offset) of the newest delivery it includes,
// appended to the state journal as one record (alerter/state_store.h), about once a second and as
// soon as the input runs dry. After a crash the broker re-delivers the uncommitted tail; deliveries
// at or before the saved position are finished without being looked at, and points not newer than
// their series' last never enter a window twice. So a restart neither re-notifies nor forgets a
// firing alert.
//
// Threads: every method but AppendMetrics runs on the kit's sink thread. AppendMetrics reads a
// snapshot under a mutex. With SinkOptions::background_save (the daemon) the state is written on
// the store's thread, which finishes the deliveries; the sink thread only builds the delta.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "alerter/config.h"
#include "alerter/notification.h"
#include "alerter/pipeline.h"
#include "alerter/silences.h"
#include "alerter/state.h"
#include "alerter/state_store.h"
#include "common/base/mutex.h"
#include "common/consumer/consumer_kit.h"
#include "common/daemon/logging.h"
#include "common/naming/sample_wire.h"

namespace hw::alerter {

struct SinkOptions {
  std::function<int64_t()> now_ms;  // the wall clock; default system_clock
  int64_t save_interval_ms = 1000;
  // The newest envelope handed over is older than this: the input is a backlog (nodata waits).
  int64_t lag_threshold_ms = 10000;
  // Alert changes for the broker; empty: not published (test-alerts, unit tests).
  std::function<Status(const hostwatch::v1::AlertBatch&)> publish;
  // Write the state on a thread of its own (StateStore::Options::background).
  bool background_save = false;
  // Save as soon as the input has been quiet this long, so the end of a backlog is committed
  // without waiting for the next periodic save.
  int64_t idle_save_ms = 100;
};

class AlerterSink : public consumer::Sink {
 public:
  AlerterSink(AlerterConfig config, std::unique_ptr<Delivery> delivery, SinkOptions options);
  ~AlerterSink() override;

  Status Open() override;
  void Consume(std::vector<consumer::Delivery> batch, consumer::Finisher& finisher) override;
  void Tick(std::chrono::steady_clock::time_point now, consumer::Finisher& finisher) override;
  void Close(consumer::Finisher& finisher) override;
  void AppendMetrics(consumer::MetricOut out) override;
  // Ticks come this often when idle: the idle save and the second-resolution timers need it.
  std::chrono::milliseconds TickInterval() const override { return std::chrono::milliseconds(100); }

  // Any thread (SIGHUP on the main thread): the new rules, timings and silences file take effect
  // on the sink thread's next tick; state is kept for keys whose rule still exists.
  void RequestReload(const AlerterConfig& config);
  // Sink thread, or before Open.
  void Reload(const AlerterConfig& config);

  // For tests and test-alerts: feed one envelope body directly (no position), then Tick.
  void Feed(const hostwatch::v1::Envelope& envelope, int64_t now_ms);
  // The same from the envelope's wire bytes, as the daemon gets them (KitOptions::raw_bodies).
  // False: the bytes do not parse (counted in malformed()).
  bool FeedBytes(std::string_view envelope, int64_t now_ms) {
    return HandleBytes(envelope, now_ms);
  }
  uint64_t malformed() const { return malformed_; }
  void TickAt(int64_t now_ms);
  const AlertEngine& engine() const { return *engine_; }
  const Pipeline& pipeline() const { return *pipeline_; }
  bool lagging() const { return lagging_; }

  // Live, a change waits for at most this many more samples to be consumed (about a
  // millisecond of judging) before it is published, so the changes of a delivered batch share one
  // AlertBatch.
  static constexpr uint64_t kPublishEverySamples = 2048;

 private:
  void Handle(const hostwatch::v1::Envelope& envelope, int64_t now_ms);
  // A samples envelope is read from its bytes (naming::SamplesWire) straight into the engine;
  // anything else, or a sample the reader does not take, goes through the full parse. False: the
  // bytes do not parse; samples before the break were judged (the broker validated the envelope
  // when it came in, so only a damaged journal gets here).
  bool HandleBytes(std::string_view bytes, int64_t now_ms);
  void Route(std::vector<AlertChange>& changes, int64_t now_ms);
  void PublishPending();
  // whole: the entire state (after Open and Reload), else what changed since the last save.
  void SaveState(int64_t now_ms, bool whole, consumer::Finisher* finisher);
  void MaybeSaveAndFinish(int64_t now_ms, consumer::Finisher& finisher, bool force);
  void UpdateSnapshot();

  AlerterConfig config_;
  std::unique_ptr<Delivery> delivery_;
  SinkOptions options_;
  std::unique_ptr<RuleSet> rules_;
  std::unique_ptr<AlertEngine> engine_;
  std::unique_ptr<Pipeline> pipeline_;
  SilenceWatcher silences_;
  std::unique_ptr<StateStore> store_;
  // (broker, partition) -> newest offset reflected in the engine's state.
  std::map<std::pair<uint64_t, uint32_t>, uint64_t> positions_;
  std::vector<consumer::DeliveryId> unfinished_;  // processed, waiting for the next save
  hostwatch::v1::AlertBatch to_publish_;
  // Samples consumed since the last publish. Live, pending changes go out once this reaches
  // kPublishEverySamples or the delivered batch ends, whichever comes first.
  uint64_t samples_since_publish_ = 0;
  bool dirty_ = false;
  bool whole_next_ = false;  // a reload: the next save replaces the state
  int64_t last_save_ms_ = 0;
  int64_t last_batch_ms_ = 0;
  int64_t last_consume_ms_ = 0;
  int64_t last_tick_ms_ = 0;
  int64_t last_snapshot_ms_ = 0;
  bool lagging_ = false;
  uint64_t skipped_ = 0;    // re-delivered at or before the saved position
  uint64_t published_ = 0;  // alerts
  uint64_t publish_errors_ = 0;
  uint64_t malformed_ = 0;  // envelope bytes that did not parse: skipped, finished
  daemon::RepeatLimiter malformed_log_{std::chrono::seconds(10)};
  // HandleBytes' reader and its current sample: reused, so a sample costs no allocation.
  naming::SamplesWire wire_;
  naming::SampleView sample_;

  struct Snapshot {
    EngineStats engine;
    PipelineStats pipeline;
    uint64_t skipped = 0, saves = 0, save_errors = 0, published = 0, publish_errors = 0,
             silences = 0, malformed = 0;
    bool lagging = false;
  };
  mutable Mutex mu_;
  Snapshot snapshot_ GUARDED_BY(mu_);
  std::unique_ptr<AlerterConfig> reload_ GUARDED_BY(mu_);
};

}  // namespace hw::alerter
