#include <gtest/gtest.h>

#include "collector/plugin_fixture.h"

namespace hw::collector {
namespace {

using testing::FixtureCase;
using testing::RunFixture;
using testing::ValueOf;

TEST(ProcessPluginTest, FixturesMatchExpectedOutput) { testing::ExpectAllFixturesMatch("process"); }

TEST(ProcessPluginTest, MatchersByCommCmdlineAndPidfile) {
  auto runs = RunFixture("process", FixtureCase("process", "real"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[0];
  EXPECT_EQ(*ValueOf(p, "proc.count", {{"process", "sleepers"}}), 2);
  EXPECT_EQ(*ValueOf(p, "proc.up", {{"process", "worker"}}), 1);
  EXPECT_EQ(*ValueOf(p, "proc.threads", {{"process", "worker"}}), 4);
  EXPECT_EQ(*ValueOf(p, "proc.rss_bytes", {{"process", "worker"}}), 2262.0 * 4096);
  EXPECT_EQ(*ValueOf(p, "proc.fds", {{"process", "worker"}}), 5);
  EXPECT_EQ(*ValueOf(p, "proc.up", {{"process", "app"}}), 1);  // the pidfile names the worker
  // Nothing matches: up 0 and count 0, nothing else.
  EXPECT_EQ(*ValueOf(p, "proc.up", {{"process", "worldserver"}}), 0);
  EXPECT_FALSE(ValueOf(p, "proc.rss_bytes", {{"process", "worldserver"}}));
  EXPECT_FALSE(ValueOf(p, "proc.cpu_percent", {{"process", "worker"}}));  // first scan
}

TEST(ProcessPluginTest, ProcessThatDisappearsIsNoLongerCounted) {
  auto runs = RunFixture("process", FixtureCase("process", "real"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_EQ(*ValueOf((*runs)[1], "proc.count", {{"process", "sleepers"}}), 1);
  EXPECT_EQ(*ValueOf((*runs)[1], "proc.up", {{"process", "sleepers"}}), 1);
}

TEST(ProcessPluginTest, CpuPercentSkipsARestartedPid) {
  auto runs = RunFixture("process", FixtureCase("process", "restart_and_cpu"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[1];
  EXPECT_DOUBLE_EQ(*ValueOf(p, "proc.cpu_percent", {{"process", "worker"}}), 5.0);  // 50 ticks/10 s
  // pid 2001 is a new process (new start time, CPU time back to 0): no negative contribution.
  EXPECT_EQ(*ValueOf(p, "proc.cpu_percent", {{"process", "sleepers"}}), 0);
  // The oldest sleeper is the new one (the old one is gone): 10493.96 - 10491.75 s.
  EXPECT_NEAR(*ValueOf(p, "proc.uptime_s", {{"process", "sleepers"}}), 2.21, 1e-6);
  // RSS comes from statm (exact), not stat's cached rss field (2262 pages there).
  EXPECT_EQ(*ValueOf(p, "proc.rss_bytes", {{"process", "worker"}}), 2500.0 * 4096);
}

}  // namespace
}  // namespace hw::collector
