#include "collector/plugins/disk/disk_plugin.h"

#include <gtest/gtest.h>

#include "collector/plugin_fixture.h"

namespace hw::collector {
namespace {

using testing::ValueOf;

TEST(DiskPluginTest, FixturesMatchExpectedOutput) { testing::ExpectAllFixturesMatch("disk"); }

TEST(DiskPluginTest, MatchesDfOnTheRecordedRoot) {
  auto runs = testing::RunFixture("disk", testing::FixtureCase("disk", "real"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const Tags root = {{"mount", "/"}, {"fstype", "ext4"}, {"device", "/dev/vda"}};
  const auto& p = (*runs)[0];
  // statfs.txt: blocks 270553174016, bfree 250278359040, bavail 82470465536 (reserved blocks make
  // used + avail < total, as df shows).
  EXPECT_EQ(*ValueOf(p, "disk.used", root), 270553174016.0 - 250278359040.0);
  EXPECT_EQ(*ValueOf(p, "disk.free", root), 82470465536.0);
  EXPECT_NEAR(*ValueOf(p, "disk.used_percent", root),
              100.0 * 20274815.0 / (20274815.0 + 82470465.536), 1e-3);
  // Only the real filesystem: tmpfs, proc, sysfs, cgroup... are skipped.
  for (const Point& pt : p) EXPECT_EQ(pt.tags, root) << pt.metric;
}

TEST(DiskPluginTest, BindMountsOverMountsEscapesAndIgnoredMounts) {
  auto runs = testing::RunFixture("disk", testing::FixtureCase("disk", "bind_space_overmount"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[0];
  auto tags = [](const char* mount, const char* fstype, const char* device) {
    return Tags{{"mount", mount}, {"fstype", fstype}, {"device", device}};
  };
  EXPECT_TRUE(ValueOf(p, "disk.total", tags("/data", "xfs", "/dev/sdb1")).has_value());
  EXPECT_FALSE(ValueOf(p, "disk.total", tags("/srv/data-bind", "xfs", "/dev/sdb1")));
  const Tags logs = tags("/mnt/game logs", "ext4", "/dev/sdc1");
  EXPECT_TRUE(ValueOf(p, "disk.total", logs));
  EXPECT_FALSE(ValueOf(p, "disk.total", tags("/boot/efi", "vfat", "/dev/sda15")));
  EXPECT_FALSE(ValueOf(p, "disk.total", tags("/run", "tmpfs", "tmpfs")));
  // /backup: only the later (visible) mount is reported, once; 75 of 100 inodes used.
  const Tags backup = tags("/backup", "ext4", "/dev/sde1");
  EXPECT_EQ(*ValueOf(p, "disk.inodes_used_percent", backup), 75);
  EXPECT_EQ(*ValueOf(p, "disk.inodes_total", backup), 100);
  EXPECT_EQ(*ValueOf(p, "disk.inodes_free", backup), 25);
  // btrfs reports no inode table: no inode figures rather than a made-up 0 free.
  const Tags btrfs = tags("/var/lib/btrfs", "btrfs", "/dev/sdf1");
  EXPECT_FALSE(ValueOf(p, "disk.inodes_used_percent", btrfs));
  EXPECT_FALSE(ValueOf(p, "disk.inodes_free", btrfs));
  // Read-only from the mount options; errors=remount-ro on / is not "ro".
  EXPECT_EQ(*ValueOf(p, "disk.readonly", logs), 1);
  EXPECT_EQ(*ValueOf(p, "disk.readonly", tags("/", "ext4", "/dev/sda1")), 0);
  EXPECT_EQ(*ValueOf(p, "disk.readonly", btrfs), 0);
}

TEST(DiskPluginTest, UnescapesMountFields) {
  EXPECT_EQ(UnescapeMountField("/mnt/a\\040b\\011c\\134d"), "/mnt/a b\tc\\d");
  EXPECT_EQ(UnescapeMountField("/plain"), "/plain");
  EXPECT_EQ(UnescapeMountField("/cut\\04"), "/cut\\04");
}

}  // namespace
}  // namespace hw::collector
