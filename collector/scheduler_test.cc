#include "collector/scheduler.h"

#include <gtest/gtest.h>

#include "common/base/mutex.h"

namespace hw::collector {
namespace {

class FakeClock : public Clock {
 public:
  int64_t WallMs() const override { return wall; }
  int64_t MonoMs() const override { return mono; }
  int64_t wall = 0;
  int64_t mono = 0;
};

class CaptureSink : public PointSink {
 public:
  void Submit(std::vector<Point> points) override { batches.push_back(std::move(points)); }
  std::vector<std::vector<Point>> batches;
};

// Emits one point per call; optionally moves the fake clock to simulate a slow Collect.
class CountingPlugin : public Plugin {
 public:
  CountingPlugin(std::string metric, FakeClock* clock, int64_t takes_ms)
      : metric_(std::move(metric)), clock_(clock), takes_ms_(takes_ms) {}
  Status Collect(const CollectTime& now, std::vector<Point>* out) override {
    Emit(out, metric_, static_cast<double>(now.wall_ms));
    clock_->wall += takes_ms_;
    clock_->mono += takes_ms_;
    return Status::Ok();
  }

 private:
  std::string metric_;
  FakeClock* clock_;
  int64_t takes_ms_;
};

TEST(SchedulerTest, NextAlignedIsTheNextMultiple) {
  EXPECT_EQ(NextAligned(0, 10000), 10000);
  EXPECT_EQ(NextAligned(9999, 10000), 10000);
  EXPECT_EQ(NextAligned(10000, 10000), 20000);
  EXPECT_EQ(NextAligned(1700000001234, 1000), 1700000002000);
}

TEST(SchedulerTest, RunsEachPluginOnItsAlignedTicksAndStampsThem) {
  FakeClock clock;
  CaptureSink sink;
  std::vector<ScheduledPlugin> plugins;
  plugins.push_back({"fast", std::make_unique<CountingPlugin>("fast", &clock, 0), 1000});
  plugins.push_back({"slow", std::make_unique<CountingPlugin>("slow", &clock, 0), 5000});
  int beats = 0;
  Scheduler s(
      std::move(plugins), 10000,
      [&](const CollectTime&, Scheduler&, std::vector<Point>* out) {
        ++beats;
        Emit(out, "agent.alive", 1);
      },
      &sink, &clock);
  s.ScheduleFrom(100);
  int64_t next = 0;
  for (clock.wall = 1000; clock.wall <= 10000; clock.wall = next) next = s.RunDue({clock.wall, 0});
  // fast at 1000..10000 (10 ticks), slow at 5000 and 10000, heartbeat at 10000.
  size_t fast = 0, slow = 0;
  for (const auto& b : sink.batches) {
    for (const Point& p : b) {
      EXPECT_EQ(static_cast<double>(p.time_ms), p.metric == "agent.alive" ? 10000 : p.value);
      EXPECT_EQ(p.step_s, p.metric == "fast" ? 1u : p.metric == "slow" ? 5u : 10u);
      fast += p.metric == "fast";
      slow += p.metric == "slow";
    }
  }
  EXPECT_EQ(fast, 10u);
  EXPECT_EQ(slow, 2u);
  EXPECT_EQ(beats, 1);
  EXPECT_EQ(sink.batches.size(), 10u);  // one batch per tick, whatever is due at it
}

TEST(SchedulerTest, MissedTicksAreSkippedAndCountedAsOverruns) {
  FakeClock clock;
  CaptureSink sink;
  std::vector<ScheduledPlugin> plugins;
  // Takes 3.5 intervals: ticks 2000, 3000 and 4000 pass while it runs.
  plugins.push_back({"stuck", std::make_unique<CountingPlugin>("stuck", &clock, 3500), 1000});
  Scheduler s(
      std::move(plugins), 60000, [](const CollectTime&, Scheduler&, std::vector<Point>*) {}, &sink,
      &clock);
  s.ScheduleFrom(0);
  clock.wall = 1000;
  const int64_t next = s.RunDue({clock.wall, 0});
  EXPECT_EQ(next, 2000);
  EXPECT_EQ(clock.wall, 4500);
  clock.wall = 4500;
  EXPECT_EQ(s.RunDue({clock.wall, 0}), 5000);
  // The run at 4500 belongs to tick 4000; 2000 and 3000 were skipped.
  ASSERT_EQ(sink.batches.size(), 2u);
  EXPECT_EQ(sink.batches[1][0].time_ms, 4000);
  auto stats = s.stats();
  EXPECT_EQ(stats[0].name, "stuck");
  EXPECT_EQ(stats[0].overruns, 2u);
  EXPECT_EQ(stats[0].runs, 2u);
  EXPECT_EQ(stats[0].last_collect_ms, 3500);
}

TEST(SchedulerTest, ThreadRunsOnTheRealClockAndStops) {
  struct Sink : PointSink {
    void Submit(std::vector<Point> points) override {
      MutexLock lock(&mu);
      n += points.size();
    }
    Mutex mu;
    size_t n GUARDED_BY(mu) = 0;
  } sink;
  std::vector<ScheduledPlugin> none;
  Scheduler s(
      std::move(none), 1000,
      [](const CollectTime&, Scheduler&, std::vector<Point>* out) { Emit(out, "agent.alive", 1); },
      &sink);
  ASSERT_TRUE(s.Start().ok());
  for (int i = 0; i < 300; ++i) {
    {
      MutexLock lock(&sink.mu);
      if (sink.n > 0) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  s.Stop();
  MutexLock lock(&sink.mu);
  EXPECT_GE(sink.n, 1u);
}

}  // namespace
}  // namespace hw::collector
