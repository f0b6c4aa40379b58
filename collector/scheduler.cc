#include "collector/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace hw::collector {

Scheduler::Scheduler(std::vector<ScheduledPlugin> plugins, int64_t heartbeat_interval_ms,
                     Heartbeat heartbeat, PointSink* sink, const Clock* clock)
    : heartbeat_(std::move(heartbeat)), sink_(sink), clock_(clock) {
  for (ScheduledPlugin& p : plugins) {
    PluginRunStats s;
    s.name = p.name;
    s.interval_ms = p.interval_ms;
    stats_.push_back(std::move(s));
    Entry e;
    e.p = std::move(p);
    entries_.push_back(std::move(e));
  }
  Entry hb;
  hb.p.name = "agent";
  hb.p.interval_ms = heartbeat_interval_ms;
  entries_.push_back(std::move(hb));
  PluginRunStats hb_stats;
  hb_stats.name = "agent";
  hb_stats.interval_ms = heartbeat_interval_ms;
  stats_.push_back(std::move(hb_stats));
}

Scheduler::~Scheduler() { Stop(); }

void Scheduler::ScheduleFrom(int64_t wall_ms) {
  for (Entry& e : entries_) e.next_ms = NextAligned(wall_ms, e.p.interval_ms);
}

Status Scheduler::Start() {
  for (size_t i = 0; i < entries_.size(); ++i) {
    Plugin* plugin = entries_[i].p.plugin.get();
    if (plugin == nullptr) continue;
    if (Status s = plugin->Start(sink_); !s.ok()) {
      for (size_t j = 0; j < i; ++j) {
        if (entries_[j].p.plugin) entries_[j].p.plugin->Stop();
      }
      return s.WithContext("starting plugin " + entries_[i].p.name);
    }
  }
  ScheduleFrom(clock_->WallMs());
  started_ = true;
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void Scheduler::Stop() {
  if (!started_) return;
  started_ = false;
  {
    MutexLock lock(&mu_);
    stop_ = true;
  }
  cv_.SignalAll();
  if (thread_.joinable()) thread_.join();
  for (Entry& e : entries_) {
    if (e.p.plugin) e.p.plugin->Stop();
  }
}

int64_t Scheduler::RunDue(const CollectTime& now) {
  std::vector<Point> batch;
  int64_t next = INT64_MAX;
  for (size_t ei = 0; ei < entries_.size(); ++ei) {
    Entry& e = entries_[ei];
    const int64_t interval = e.p.interval_ms;
    if (now.wall_ms >= e.next_ms) {
      // Ticks that passed entirely while we were busy are skipped, not run back to back: a late
      // burst of samples helps no one and would make a slow host slower.
      const int64_t missed = (now.wall_ms - e.next_ms) / interval;
      const int64_t tick = e.next_ms + missed * interval;
      e.next_ms = tick + interval;
      const size_t first = batch.size();
      const int64_t started_mono = clock_->MonoMs();
      Status st;
      bool ran = true;
      if (e.p.plugin == nullptr) {
        heartbeat_(CollectTime{tick, now.mono_ms}, *this, &batch);
      } else if (!e.p.plugin->self_scheduled()) {
        st = e.p.plugin->Collect(CollectTime{tick, now.mono_ms}, &batch);
      } else {
        ran = false;
      }
      const int64_t took_ms = clock_->MonoMs() - started_mono;
      const uint32_t step_s = static_cast<uint32_t>(std::max<int64_t>(1, interval / 1000));
      for (size_t i = first; i < batch.size(); ++i) {
        if (batch[i].time_ms == 0) batch[i].time_ms = tick;
        if (batch[i].step_s == 0) batch[i].step_s = step_s;
      }
      uint64_t errors = 0;  // including this one
      {
        MutexLock lock(&stats_mu_);
        PluginRunStats& s = stats_[ei];
        if (ran) {
          ++s.runs;
          s.last_collect_ms = static_cast<double>(took_ms);
        }
        s.overruns += static_cast<uint64_t>(missed);
        if (!st.ok()) ++s.errors;
        errors = s.errors;
      }
      // One line per failing plugin per tick would flood the log on a broken host; the error
      // count is a self-metric, and the first failure of a run (then every 100th) is enough in
      // the log.
      if (!st.ok() && (errors - 1) % 100 == 0) {
        spdlog::warn("plugin {}: {} ({} errors so far)", e.p.name, st.ToString(), errors);
      }
    }
    next = std::min(next, e.next_ms);
  }
  if (!batch.empty()) sink_->Submit(std::move(batch));
  return next;
}

void Scheduler::Loop() {
  int64_t longest = 0;
  for (const Entry& e : entries_) longest = std::max(longest, e.p.interval_ms);
  for (;;) {
    const int64_t next = RunDue(CollectTime{clock_->WallMs(), clock_->MonoMs()});
    const int64_t wall = clock_->WallMs();
    if (next - wall > longest) {
      // The wall clock was set back: start over from the new time rather than sleep for it.
      ScheduleFrom(wall);
      continue;
    }
    const auto deadline = std::chrono::steady_clock::now() +
                          std::chrono::milliseconds(std::max<int64_t>(0, next - wall));
    MutexLock lock(&mu_);
    while (!stop_) {
      if (!cv_.WaitUntil(&mu_, deadline)) break;
    }
    if (stop_) return;
  }
}

std::vector<PluginRunStats> Scheduler::stats() const {
  MutexLock lock(&stats_mu_);
  return stats_;
}

void Scheduler::PluginSelfMetrics(std::vector<Point>* out) {
  for (Entry& e : entries_) {
    if (e.p.plugin) e.p.plugin->SelfMetrics(out);
  }
}

}  // namespace hw::collector
