#include <gtest/gtest.h>

#include "collector/plugin_fixture.h"

namespace hw::collector {
namespace {

using testing::FixtureCase;
using testing::RunFixture;
using testing::ValueOf;

TEST(MemoryPluginTest, FixturesMatchExpectedOutput) { testing::ExpectAllFixturesMatch("memory"); }

TEST(MemoryPluginTest, UsedIsTotalMinusAvailableAsFreeReportsIt) {
  auto runs = RunFixture("memory", FixtureCase("memory", "real"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[0];
  EXPECT_EQ(*ValueOf(p, "mem.used"), *ValueOf(p, "mem.total") - *ValueOf(p, "mem.available"));
  EXPECT_FALSE(ValueOf(p, "swap.in").has_value());  // a rate: not on the first interval
  EXPECT_TRUE(ValueOf((*runs)[1], "swap.in").has_value());
}

TEST(MemoryPluginTest, OldKernelWithoutMemAvailableEstimatesIt) {
  auto runs = RunFixture("memory", FixtureCase("memory", "no_available_with_swap"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[1];
  EXPECT_EQ(*ValueOf(p, "mem.available"), (1000000.0 + 200000 + 1800000) * 1024);
  EXPECT_EQ(*ValueOf(p, "swap.used_percent"), 25);
  EXPECT_EQ(*ValueOf(p, "swap.in"), 50);   // 500 pages in 10 s
  EXPECT_EQ(*ValueOf(p, "swap.out"), 10);  // 100 pages in 10 s
}

}  // namespace
}  // namespace hw::collector
