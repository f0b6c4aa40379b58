#include <gtest/gtest.h>

#include "collector/plugin_fixture.h"

namespace hw::collector {
namespace {

TEST(SystemPluginTest, FixturesMatchExpectedOutput) { testing::ExpectAllFixturesMatch("system"); }

TEST(SystemPluginTest, EveryMetricFromTheRecordedHost) {
  auto runs = testing::RunFixture("system", testing::FixtureCase("system", "real"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  for (const char* m :
       {"system.uptime_s", "system.procs_running", "system.procs_total", "system.fds_used"}) {
    EXPECT_TRUE(testing::ValueOf((*runs)[0], m).has_value()) << m;
  }
}

}  // namespace
}  // namespace hw::collector
