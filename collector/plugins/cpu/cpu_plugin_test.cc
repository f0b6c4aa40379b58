#include <gtest/gtest.h>

#include "collector/plugin_fixture.h"

namespace hw::collector {
namespace {

using testing::FixtureCase;
using testing::RunFixture;
using testing::ValueOf;

TEST(CpuPluginTest, FixturesMatchExpectedOutput) { testing::ExpectAllFixturesMatch("cpu"); }

TEST(CpuPluginTest, FirstIntervalYieldsNoRate) {
  auto runs = RunFixture("cpu", FixtureCase("cpu", "real"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_TRUE((*runs)[0].empty());
  EXPECT_TRUE(ValueOf((*runs)[1], "cpu.busy", {{"cpu", "total"}}).has_value());
  EXPECT_TRUE(ValueOf((*runs)[1], "cpu.switches").has_value());
  EXPECT_NEAR(*ValueOf((*runs)[1], "cpu.forks"), (78597.0 - 78509) / 10, 1e-9);
}

// busy is 100 - idle - iowait, and it is also the sum of the busy columns, each counted once.
void ExpectBusyIsTheSumOfItsParts(const std::vector<Point>& p, const std::string& cpu) {
  const Tags t = {{"cpu", cpu}};
  double parts = 0;
  for (const char* m :
       {"cpu.user", "cpu.nice", "cpu.system", "cpu.irq", "cpu.softirq", "cpu.steal", "cpu.guest"}) {
    ASSERT_TRUE(ValueOf(p, m, t).has_value()) << m << " cpu=" << cpu;
    parts += *ValueOf(p, m, t);
  }
  EXPECT_NEAR(*ValueOf(p, "cpu.busy", t), parts, 1e-9) << "cpu=" << cpu;
  EXPECT_NEAR(*ValueOf(p, "cpu.busy", t),
              100 - *ValueOf(p, "cpu.idle", t) - *ValueOf(p, "cpu.iowait", t), 1e-9)
      << "cpu=" << cpu;
}

TEST(CpuPluginTest, PercentagesOfTheIntervalAddUp) {
  auto runs = RunFixture("cpu", FixtureCase("cpu", "hotplug"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[1];
  const Tags total = {{"cpu", "total"}};
  // total: deltas user 600 nice 100 system 300 idle 1600 iowait 100 irq 50 softirq 50 steal 200 =
  // 3000 jiffies, no guest; busy = (3000 - 1600 - 100) / 3000.
  EXPECT_NEAR(*ValueOf(p, "cpu.busy", total), 100.0 * 1300 / 3000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.user", total), 100.0 * 600 / 3000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.nice", total), 100.0 * 100 / 3000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.system", total), 100.0 * 300 / 3000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.irq", total), 100.0 * 50 / 3000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.softirq", total), 100.0 * 50 / 3000, 1e-9);
  EXPECT_EQ(*ValueOf(p, "cpu.guest", total), 0);
  EXPECT_NEAR(*ValueOf(p, "cpu.iowait", total), 100.0 * 100 / 3000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.steal", total), 100.0 * 200 / 3000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.idle", total), 100.0 * 1600 / 3000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.switches"), 50000.0 / 10, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.forks"), 20.0 / 10, 1e-9);  // processes 100 -> 120
  ExpectBusyIsTheSumOfItsParts(p, "total");
  ExpectBusyIsTheSumOfItsParts(p, "0");
}

TEST(CpuPluginTest, GuestTimeIsSplitOutOfUserAndNice) {
  auto runs = RunFixture("cpu", FixtureCase("cpu", "guest"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_TRUE((*runs)[0].empty());
  const auto& p = (*runs)[1];
  // cpu0: deltas user 600 (guest 300 of it) nice 150 (guest_nice 50 of it) system 200 idle 900
  // iowait 50 irq 40 softirq 60 steal 0 = 2000 jiffies.
  const Tags cpu0 = {{"cpu", "0"}};
  EXPECT_NEAR(*ValueOf(p, "cpu.user", cpu0), 100.0 * 300 / 2000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.nice", cpu0), 100.0 * 100 / 2000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.guest", cpu0), 100.0 * 350 / 2000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.system", cpu0), 100.0 * 200 / 2000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.irq", cpu0), 100.0 * 40 / 2000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.softirq", cpu0), 100.0 * 60 / 2000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.busy", cpu0), 100.0 * 1050 / 2000, 1e-9);
  // cpu1: user +100 but guest +120 (read a tick ahead): the guest part is capped at user's.
  const Tags cpu1 = {{"cpu", "1"}};
  EXPECT_EQ(*ValueOf(p, "cpu.user", cpu1), 0);
  EXPECT_NEAR(*ValueOf(p, "cpu.guest", cpu1), 100.0 * 100 / 2000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.busy", cpu1), 100.0 * 220 / 2000, 1e-9);
  // total: user 700 (guest 420) nice 150 (guest_nice 50) of 4000 jiffies.
  const Tags total = {{"cpu", "total"}};
  EXPECT_NEAR(*ValueOf(p, "cpu.user", total), 100.0 * 280 / 4000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.nice", total), 100.0 * 100 / 4000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.guest", total), 100.0 * 470 / 4000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.busy", total), 100.0 * 1270 / 4000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.forks"), 250.0 / 10, 1e-9);
  for (const char* cpu : {"total", "0", "1"}) ExpectBusyIsTheSumOfItsParts(p, cpu);
  for (const Point& pt : p) {
    EXPECT_GE(pt.value, 0) << pt.metric;
  }
}

TEST(CpuPluginTest, OldKernelWithoutGuestColumnsHasNoGuestTime) {
  auto runs = RunFixture("cpu", FixtureCase("cpu", "old_kernel"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[1];
  const Tags total = {{"cpu", "total"}};
  // deltas user 300 nice 50 system 100 idle 500 iowait 20 irq 10 softirq 20 steal 0 = 1000.
  EXPECT_EQ(*ValueOf(p, "cpu.guest", total), 0);
  EXPECT_NEAR(*ValueOf(p, "cpu.user", total), 30, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.nice", total), 5, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.busy", total), 48, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.forks"), 3, 1e-9);  // processes 5000 -> 5030
  ExpectBusyIsTheSumOfItsParts(p, "total");
}

TEST(CpuPluginTest, CpuWhoseCountersWentBackwardsOrAppearedHasNoFigures) {
  auto runs = RunFixture("cpu", FixtureCase("cpu", "hotplug"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[1];
  EXPECT_TRUE(ValueOf(p, "cpu.busy", {{"cpu", "0"}}).has_value());
  EXPECT_FALSE(ValueOf(p, "cpu.busy", {{"cpu", "1"}}).has_value());  // counters went down
  EXPECT_FALSE(ValueOf(p, "cpu.busy", {{"cpu", "2"}}).has_value());  // first sight
  for (const Point& pt : p) {
    EXPECT_GE(pt.value, 0) << pt.metric;
  }
}

}  // namespace
}  // namespace hw::collector
