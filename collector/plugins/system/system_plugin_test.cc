#include <gtest/gtest.h>

#include "collector/plugin_fixture.h"

namespace hw::collector {
namespace {

TEST(SystemPluginTest, FixturesMatchExpectedOutput) { testing::ExpectAllFixturesMatch("system"); }

TEST(SystemPluginTest, EveryMetricFromTheRecordedHost) {
  auto runs = testing::RunFixture("system", testing::FixtureCase("system", "real"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  for (const char* m : {"system.uptime_s", "system.procs_running", "system.procs_total",
                        "system.procs_blocked", "system.fds_used", "system.fds_max"}) {
    EXPECT_TRUE(testing::ValueOf((*runs)[0], m).has_value()) << m;
  }
  EXPECT_EQ(*testing::ValueOf((*runs)[0], "system.fds_max"), 2466193);  // file-nr's third field
}

TEST(SystemPluginTest, TasksBlockedOnIoFromProcStat) {
  auto runs = testing::RunFixture("system", testing::FixtureCase("system", "io_blocked"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[0];
  EXPECT_EQ(*testing::ValueOf(p, "system.procs_blocked"), 7);
  EXPECT_EQ(*testing::ValueOf(p, "system.procs_running"), 3);
  EXPECT_EQ(*testing::ValueOf(p, "system.fds_used"), 12160);
  // LONG_MAX, where the limit is raised as far as it goes; as a double, 2^63.
  EXPECT_EQ(*testing::ValueOf(p, "system.fds_max"), 9223372036854775807.0);
}

}  // namespace
}  // namespace hw::collector
