#include <gtest/gtest.h>

#include "collector/plugin_fixture.h"

namespace hw::collector {
namespace {

using testing::ValueOf;

TEST(DiskioPluginTest, FixturesMatchExpectedOutput) { testing::ExpectAllFixturesMatch("diskio"); }

TEST(DiskioPluginTest, WholeDisksOnlyWithoutLoopOrMemoryDevices) {
  auto runs = testing::RunFixture("diskio", testing::FixtureCase("diskio", "real"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  // Rates need two ticks; in_flight is a gauge and is there from the first.
  for (const Point& p : (*runs)[0]) EXPECT_EQ(p.metric, "diskio.in_flight");
  EXPECT_EQ(ValueOf((*runs)[0], "diskio.in_flight", {{"device", "vda"}}), 0);
  for (const Point& p : (*runs)[1]) {
    ASSERT_EQ(p.tags.size(), 1u);
    EXPECT_EQ(p.tags[0].second, "vda");  // not loop0, not zram0
  }
  EXPECT_TRUE(ValueOf((*runs)[1], "diskio.util_percent", {{"device", "vda"}}).has_value());
}

TEST(DiskioPluginTest, ListedDeviceIsReportedDespiteItsPrefix) {
  auto runs = testing::RunFixture("diskio", testing::FixtureCase("diskio", "listed_zram"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_TRUE(ValueOf((*runs)[1], "diskio.read_ops", {{"device", "zram0"}}).has_value());
  EXPECT_FALSE(ValueOf((*runs)[1], "diskio.read_ops", {{"device", "loop0"}}));
}

TEST(DiskioPluginTest, ThirtyTwoBitWrapAndVanishedDevice) {
  auto runs = testing::RunFixture("diskio", testing::FixtureCase("diskio", "wrap_and_vanish"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[1];
  const Tags vdb = {{"device", "vdb"}};
  // sectors written 4294967000 -> 704: 1000 sectors across the wrap, 512000 bytes in 10 s.
  EXPECT_EQ(*ValueOf(p, "diskio.write_bytes", vdb), 51200);
  EXPECT_EQ(*ValueOf(p, "diskio.read_bytes", vdb), 800 * 512 / 10.0);
  EXPECT_EQ(*ValueOf(p, "diskio.write_ops", vdb), 19.6);
  EXPECT_EQ(*ValueOf(p, "diskio.util_percent", vdb), 20);             // 2000 ms busy in 10 s
  EXPECT_EQ(*ValueOf(p, "diskio.await_ms", vdb), 300.0 / 296);        // (100 + 200) ms / 296 ops
  EXPECT_EQ(*ValueOf(p, "diskio.read_await_ms", vdb), 1.0);           // 100 ms / 100 reads
  EXPECT_EQ(*ValueOf(p, "diskio.write_await_ms", vdb), 200.0 / 196);  // 200 ms / 196 writes
  EXPECT_EQ(*ValueOf(p, "diskio.in_flight", vdb), 3);
  EXPECT_FALSE(ValueOf(p, "diskio.read_ops", {{"device", "vdb1"}}));  // a partition
  EXPECT_FALSE(ValueOf(p, "diskio.read_ops", {{"device", "sdc"}}));   // gone
}

// /sys/block is listed again only when diskstats names a new device: a disk added between two
// ticks must still be told from its partitions.
TEST(DiskioPluginTest, HotAddedDiskIsListedAndItsPartitionsAreNot) {
  auto runs = testing::RunFixture("diskio", testing::FixtureCase("diskio", "device_appears"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 3u);
  const Tags sdb = {{"device", "sdb"}};
  EXPECT_TRUE(ValueOf((*runs)[1], "diskio.read_ops", {{"device", "vda"}}).has_value());
  EXPECT_FALSE(ValueOf((*runs)[1], "diskio.read_ops", sdb));        // first seen: no rate yet
  EXPECT_EQ(*ValueOf((*runs)[2], "diskio.read_ops", sdb), 20);      // 200 reads in 10 s
  EXPECT_EQ(*ValueOf((*runs)[2], "diskio.util_percent", sdb), 10);  // 1000 ms busy in 10 s
  EXPECT_FALSE(ValueOf((*runs)[2], "diskio.read_ops", {{"device", "sdb1"}}));
}

}  // namespace
}  // namespace hw::collector
