#include <gtest/gtest.h>

#include "collector/plugin_fixture.h"
#include "collector/proc_text.h"

namespace hw::collector {
namespace {

TEST(LoadPluginTest, FixturesMatchExpectedOutput) { testing::ExpectAllFixturesMatch("load"); }

TEST(LoadPluginTest, PerCoreDividesByTheCpusInProcStat) {
  const auto dir = testing::FixtureCase("load", "real");
  auto runs = testing::RunFixture("load", dir);
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  auto loadavg = ReadTextFile((dir / "0/proc/loadavg").string());
  ASSERT_TRUE(loadavg.ok());
  const double l1 = *ParseDouble(SplitFields(*loadavg)[0]);
  EXPECT_EQ(*testing::ValueOf((*runs)[0], "load.1min"), l1);
  EXPECT_DOUBLE_EQ(*testing::ValueOf((*runs)[0], "load.1min_per_core"), l1 / 2);  // 2 CPUs
}

}  // namespace
}  // namespace hw::collector
