// The logwatch pipeline on one thread: tailer -> record processor -> events and interval samples
// -> publish, with the offsets file written in two phases around every publish (state_file.h).
//
// The engine knows nothing about threads or sockets: the service runs Loop() on its worker thread
// and hands it a publish function (ProducerLink::Publish); tests hand it a fake, and a FakeClock
// (engine_test.cc).
//
// The tailer follows files; what their lines mean is kept here, per file (TailedFile::id): the
// records in progress of its rules (multiline), and its read-error log. A file that cannot be read
// is not fatal: the error is logged (at most once a minute per file, with a count), counted in
// read_errors(), and the file is read again from the same offset on the next pass.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/base/clock.h"
#include "common/base/mutex.h"
#include "common/daemon/logging.h"
#include "common/io/file_io.h"
#include "common/status/status.h"
#include "hostwatch/v1/hostwatch.pb.h"
#include "logwatch/logwatch_config.h"
#include "logwatch/record_processor.h"
#include "logwatch/state_file.h"
#include "logwatch/tailer.h"

namespace hw::logwatch {

struct EngineOptions {
  std::string endpoint;
  // Appends to the producer spool; OK means the envelope is in the spool.
  std::function<Status(const hostwatch::v1::Envelope&)> publish;
  // The spool's next_index() before the first publish (for the offsets file's mark).
  uint64_t spool_next_index = 1;
  // Extra self-metrics (the producer link's), appended to every interval's batch.
  std::function<void(int64_t time_ms, hostwatch::v1::SampleBatch*)> extra_samples;
  std::chrono::milliseconds rotate_wait{5000};
  std::chrono::milliseconds multiline_idle{1000};
  // Its wall time sets interval boundaries and event times; its monotonic time, elapsed times
  // (event flush delay, offsets writes, discovery, multiline idle, rate limits, rotate_wait).
  // The tailer and the record processor read it too. Null: RealClock(). Must outlive the engine.
  const Clock* clock = nullptr;
};

class Engine : public LineHandler, public RecordSink {
 public:
  Engine(LogwatchConfig config, EngineOptions options);
  ~Engine() override;

  // Compiles the rules, restores the offsets file and opens the files.
  Status Start() EXCLUDES(reload_mu_);
  // Until stop is set or a fatal error (returned): wait for changes, read, publish.
  Status Loop(const std::atomic<bool>& stop);
  // One pass (tests call it directly): discover when asked, read everything new, publish what is
  // due. force: publish events and write the offsets file now.
  Status Pass(bool discover, bool force);
  // At stop: publish pending events and save the offsets file.
  Status Finish();
  // Wakes Loop from another thread (reload, stop).
  void Wake();
  // Compiles config's rules on the calling thread while the loop goes on with the old ones; the
  // new config is applied at the top of the next loop pass. An error keeps the old config. Rules
  // equal to the last compiled ones (same rules, same order) are not compiled again.
  Status Reload(const LogwatchConfig& config) EXCLUDES(reload_mu_);
  // Publishes the interval's samples now (tests; the loop does it on the interval boundary).
  Status FlushInterval(int64_t time_ms);

  const TailerStats& tailer_stats() const { return tailer_->stats(); }
  const Tailer& tailer() const { return *tailer_; }
  // Failed reads or stats of followed files since Start, and the last one's error.
  uint64_t read_errors() const { return read_errors_; }
  const Status& last_read_error() const { return last_read_error_; }

  // LineHandler / RecordSink (engine thread only).
  void OnLine(TailedFile& f, std::string_view line, uint64_t offset, bool truncated) override;
  void OnChunk(TailedFile& /*f*/, std::string_view chunk) override { processor_->OnChunk(chunk); }
  void OnOpen(TailedFile& f) override;
  void OnClose(TailedFile& f) override;
  void OnTruncated(TailedFile& f) override;
  void OnRecord(const Record& r) override;

 private:
  struct PerFile {
    FileRecords records;
    daemon::RepeatLimiter read_log{std::chrono::minutes(1)};
  };
  PerFile& Of(const TailedFile& f);
  // After a restart: f's lines in [f.state.offset, saved.offset) go to the rules of its pending
  // multiline records only.
  void OnRestored(const TailedFile& f, const FileState& saved);
  void ReadFailed(const TailedFile& f, const Status& error);
  int64_t NowMs() const;
  Snapshot Take() const;
  Status WriteState(const Snapshot& before, const Snapshot& after, uint64_t mark);
  // Publishes env with the two-phase offsets write around it.
  Status PublishWithState(const hostwatch::v1::Envelope& env, const Snapshot& before,
                          const Snapshot& after);
  Status FlushEvents();
  Status PublishInParts();
  Status ApplyReload() EXCLUDES(reload_mu_);
  void SelfMetrics(int64_t time_ms, hostwatch::v1::SampleBatch* out);
  // The self-metric counters: what the offsets file carried over from earlier runs plus this
  // run's.
  std::map<std::string, uint64_t> Counters() const;
  int64_t NextIntervalEnd(int64_t now_ms) const;

  LogwatchConfig config_;
  std::map<uint64_t, PerFile> files_;  // by TailedFile::id, from OnOpen to OnClose
  uint64_t last_file_id_ = 0;          // the last Of(): lines come in runs of one file
  PerFile* last_file_ = nullptr;
  EngineOptions options_;
  const Clock& clock_;
  std::filesystem::path state_path_;
  std::shared_ptr<const RuleSet> rules_;
  std::unique_ptr<RecordProcessor> processor_;
  std::unique_ptr<Tailer> tailer_;
  IntervalStats stats_;
  int64_t interval_end_ms_ = 0;
  uint64_t next_index_ = 1;  // the spool index the next publish gets
  Snapshot committed_;       // what the offsets file says now (the state matching the spool)

  hostwatch::v1::Envelope events_;
  size_t events_bytes_ = 0;
  std::vector<uint32_t> suppressed_;  // per rule: dropped by max_events_per_s since its last event
  struct Bucket {
    double tokens = 0;
    int64_t last_ms = 0;
    bool started = false;
  };
  std::vector<Bucket> buckets_;
  // Clock::MonoMs() of the last event flush, offsets write and discovery.
  int64_t last_event_flush_ms_ = 0, last_state_write_ms_ = 0, last_discover_ms_ = 0;
  bool dirty_ = false;  // lines read since the offsets file was written
  uint64_t events_published_ = 0, events_suppressed_ = 0, value_errors_ = 0;
  // Counters from earlier runs (the restored snapshot) and from rule sets replaced by a reload.
  std::map<std::string, uint64_t> counter_base_;
  uint64_t replayed_lines_ = 0, replayed_bytes_ = 0;  // re-read for OnRestored: not new reads
  uint64_t read_errors_ = 0;
  Status last_read_error_;

  io::UniqueFd wake_fd_;
  Mutex reload_mu_;
  std::optional<LogwatchConfig> reload_ GUARDED_BY(reload_mu_);
  std::shared_ptr<const RuleSet> reload_rules_ GUARDED_BY(reload_mu_);  // reload_'s, compiled
  // The last set compiled (Start, Reload): a reload whose rules are the same takes it as it is.
  std::shared_ptr<const RuleSet> compiled_ GUARDED_BY(reload_mu_);
};

}  // namespace hw::logwatch
