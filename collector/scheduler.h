// Runs plugins at their intervals, aligned to the wall clock, on one thread.
//
// Every tick (a multiple of some plugin's interval) the scheduler calls Collect on each plugin due
// at that tick, stamps the points with the tick time and the plugin's step, and hands them to the
// sink as one batch. A plugin whose tick comes while the thread is still busy with earlier work (a
// slow Collect, a stalled host) does not run twice to catch up: the missed ticks are skipped and
// counted as overruns, published as hostwatch.collector.overruns{plugin}.
//
// The heartbeat (agent.alive and the hostwatch.collector.* self-metrics) is an ordinary entry at
// collector.interval, so a host whose collector is alive but whose plugins fail still says so.
//
// Threads: Start/Stop from the owner's thread; the scheduler thread owns the plugins' Collect.
// stats() may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/base/clock.h"
#include "collector/plugin.h"
#include "common/base/mutex.h"

namespace hw::collector {

struct ScheduledPlugin {
  std::string name;
  std::unique_ptr<Plugin> plugin;
  int64_t interval_ms = 10000;
};

// Per-plugin figures for the self-metrics, as of the last run.
struct PluginRunStats {
  std::string name;
  int64_t interval_ms = 0;
  double last_collect_ms = 0;  // wall time Collect took
  uint64_t runs = 0;
  uint64_t errors = 0;
  uint64_t overruns = 0;
};

class Scheduler {
 public:
  // heartbeat runs every heartbeat_interval_ms (collector.interval) after the plugins of that tick.
  using Heartbeat = std::function<void(const CollectTime&, Scheduler&, std::vector<Point>*)>;
  Scheduler(std::vector<ScheduledPlugin> plugins, int64_t heartbeat_interval_ms,
            Heartbeat heartbeat, PointSink* sink, const Clock* clock = &RealClock());
  ~Scheduler();  // Stop()

  // Starts every plugin (Plugin::Start), then the thread. An error stops what was started.
  Status Start();
  // Stops the thread, then every plugin.
  void Stop() EXCLUDES(mu_);

  // One step of the loop, public for tests: runs every plugin due at or before now.wall_ms (whose
  // next tick has come), publishes their points, and advances their next tick. Returns the wall
  // time of the next tick due.
  int64_t RunDue(const CollectTime& now) EXCLUDES(stats_mu_);
  // Sets every plugin's first tick to the next aligned instant after wall_ms (Start does this).
  void ScheduleFrom(int64_t wall_ms);

  std::vector<PluginRunStats> stats() const EXCLUDES(stats_mu_);
  // Self-metrics of the plugins that run their own threads (exec); scheduler thread only.
  void PluginSelfMetrics(std::vector<Point>* out);

 private:
  struct Entry {
    ScheduledPlugin p;
    int64_t next_ms = 0;
  };
  void Loop() EXCLUDES(mu_, stats_mu_);

  std::vector<Entry> entries_;  // the last one is the heartbeat
  Heartbeat heartbeat_;
  PointSink* sink_;
  const Clock* clock_;
  mutable Mutex stats_mu_;
  // stats_[i] is entries_[i]'s. Apart from Entry, because GUARDED_BY can name only a mutex of the
  // object that holds the member.
  std::vector<PluginRunStats> stats_ GUARDED_BY(stats_mu_);

  Mutex mu_;
  CondVar cv_;  // signalled when stop_ is set
  bool stop_ GUARDED_BY(mu_) = false;
  std::thread thread_;
  bool started_ = false;
};

}  // namespace hw::collector
