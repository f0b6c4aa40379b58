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
}

TEST(CpuPluginTest, PercentagesOfTheIntervalAddUp) {
  auto runs = RunFixture("cpu", FixtureCase("cpu", "hotplug"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[1];
  // total: deltas user 600 nice 100 system 300 idle 1600 iowait 100 irq 50 softirq 50 steal 200 =
  // 3000 jiffies; busy = (3000 - 1600 - 100) / 3000.
  EXPECT_NEAR(*ValueOf(p, "cpu.busy", {{"cpu", "total"}}), 100.0 * 1300 / 3000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.user", {{"cpu", "total"}}), 100.0 * 700 / 3000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.system", {{"cpu", "total"}}), 100.0 * 400 / 3000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.steal", {{"cpu", "total"}}), 100.0 * 200 / 3000, 1e-9);
  EXPECT_NEAR(*ValueOf(p, "cpu.switches"), 50000.0 / 10, 1e-9);
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
