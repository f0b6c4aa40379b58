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
  // Lines that kernel lacks are not sent, rather than sent as 0.
  for (const char* m : {"mem.shmem", "mem.slab_reclaimable", "mem.dirty", "mem.writeback",
                        "mem.committed", "mem.major_faults", "mem.oom_kills"}) {
    EXPECT_FALSE(ValueOf(p, m).has_value()) << m;
  }
}

TEST(MemoryPluginTest, KernelFiguresInBytesAndFaultsAndOomKillsPerSecond) {
  auto runs = RunFixture("memory", FixtureCase("memory", "faults_and_oom_kills"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_FALSE(ValueOf((*runs)[0], "mem.oom_kills").has_value());  // a rate: not on the first
  EXPECT_EQ(*ValueOf((*runs)[0], "mem.dirty"), 12000.0 * 1024);
  const auto& p = (*runs)[1];
  EXPECT_EQ(*ValueOf(p, "mem.shmem"), 250000.0 * 1024);
  EXPECT_EQ(*ValueOf(p, "mem.slab_reclaimable"), 400000.0 * 1024);
  EXPECT_EQ(*ValueOf(p, "mem.dirty"), 15000.0 * 1024);
  EXPECT_EQ(*ValueOf(p, "mem.writeback"), 1000.0 * 1024);
  EXPECT_EQ(*ValueOf(p, "mem.committed"), 20000000.0 * 1024);  // Committed_AS, not CommitLimit
  EXPECT_DOUBLE_EQ(*ValueOf(p, "mem.major_faults"), 50);       // pgmajfault 1000 -> 1500 in 10 s
  EXPECT_DOUBLE_EQ(*ValueOf(p, "mem.oom_kills"), 0.2);         // oom_kill 3 -> 5 in 10 s
}

}  // namespace
}  // namespace hw::collector
