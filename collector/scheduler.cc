#include "collector/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace hw::collector {

Scheduler::Scheduler(std::vector<ScheduledPlugin> plugins, int64_t heartbeat_interval_ms,
                     Heartbeat heartbeat, PointSink* sink, const Clock* clock)
    : heartbeat_(std::move(heartbeat)), sink_(sink), clock_(clock) {
  for (ScheduledPlugin& p : plugins) {
    Entry e;
    e.stats.name = p.name;
    e.stats.interval_ms = p.interval_ms;
    e.p = std::move(p);
    entries_.push_back(std::move(e));
  }
  Entry hb;
  hb.p.name = "agent";
  hb.p.interval_ms = heartbeat_interval_ms;
  hb.stats.name = "agent";
  hb.stats.interval_ms = heartbeat_interval_ms;
  entries_.push_back(std::move(hb));
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
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (Entry& e : entries_) {
    if (e.p.plugin) e.p.plugin->Stop();
  }
}

int64_t Scheduler::RunDue(const CollectTime& now) {
  std::vector<Point> batch;
  int64_t next = INT64_MAX;
  for (Entry& e : entries_) {
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
      if (!st.ok()) {
        // One line per failing plugin per tick would flood the log on a broken host; the error
        // count is a self-metric, and the first failure of a run is enough in the log.
        if (e.stats.errors == 0 || e.stats.errors % 100 == 0) {
          spdlog::warn("plugin {}: {} ({} errors so far)", e.p.name, st.ToString(),
                       e.stats.errors + 1);
        }
      }
      std::lock_guard<std::mutex> lock(stats_mu_);
      if (ran) {
        ++e.stats.runs;
        e.stats.last_collect_ms = static_cast<double>(took_ms);
      }
      e.stats.overruns += static_cast<uint64_t>(missed);
      if (!st.ok()) ++e.stats.errors;
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
    std::unique_lock<std::mutex> lock(mu_);
    if (cv_.wait_for(lock, std::chrono::milliseconds(std::max<int64_t>(0, next - wall)),
                     [this] { return stop_; })) {
      return;
    }
  }
}

std::vector<PluginRunStats> Scheduler::stats() const {
  std::lock_guard<std::mutex> lock(stats_mu_);
  std::vector<PluginRunStats> out;
  for (const Entry& e : entries_) out.push_back(e.stats);
  return out;
}

void Scheduler::PluginSelfMetrics(std::vector<Point>* out) {
  for (Entry& e : entries_) {
    if (e.p.plugin) e.p.plugin->SelfMetrics(out);
  }
}

}  // namespace hw::collector
