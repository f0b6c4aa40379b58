#include <gtest/gtest.h>

#include "collector/plugin_fixture.h"

namespace hw::collector {
namespace {

using testing::ValueOf;

TEST(NetPluginTest, FixturesMatchExpectedOutput) { testing::ExpectAllFixturesMatch("net"); }

TEST(NetPluginTest, WrapResetAndVanishingInterface) {
  auto runs = testing::RunFixture("net", testing::FixtureCase("net", "wrap_and_vanish"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  ASSERT_EQ(runs->size(), 3u);
  for (const Point& p : (*runs)[0]) {  // no rates on the first tick, only the link state
    EXPECT_TRUE(p.metric == "net.up" || p.metric == "net.speed_mbps") << p.metric;
  }
  const Tags eth0 = {{"iface", "eth0"}}, eth1 = {{"iface", "eth1"}};
  // rx_bytes 4294960000 -> 2704 wrapped a 32-bit counter: 10000 bytes in 10 s.
  EXPECT_EQ(*ValueOf((*runs)[1], "net.rx_bytes", eth0), 1000);
  // tx_bytes 900000000 -> 5000 is a reset, not a wrap: no rate rather than a huge one.
  EXPECT_FALSE(ValueOf((*runs)[1], "net.tx_bytes", eth0));
  EXPECT_EQ(*ValueOf((*runs)[2], "net.tx_bytes", eth0), 1000);
  // eth1 disappeared at 1 and came back at 2 with lower counters: nothing for it at 1 or 2.
  EXPECT_FALSE(ValueOf((*runs)[1], "net.rx_bytes", eth1));
  EXPECT_FALSE(ValueOf((*runs)[2], "net.rx_bytes", eth1));
  for (const auto& run : *runs) {
    for (const Point& p : run) {
      EXPECT_GE(p.value, 0) << p.metric;
      EXPECT_LT(p.value, 1e6) << p.metric;
    }
  }
}

TEST(NetPluginTest, LinkStateAndSpeed) {
  auto runs = testing::RunFixture("net", testing::FixtureCase("net", "wrap_and_vanish"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const Tags lo = {{"iface", "lo"}}, eth0 = {{"iface", "eth0"}}, eth1 = {{"iface", "eth1"}};
  EXPECT_EQ(ValueOf((*runs)[0], "net.up", eth0), 1);
  EXPECT_EQ(ValueOf((*runs)[0], "net.speed_mbps", eth0), 1000);
  EXPECT_EQ(ValueOf((*runs)[2], "net.speed_mbps", eth0), 10000);  // renegotiated
  // lo's operstate is "unknown": up by its carrier.
  EXPECT_EQ(ValueOf((*runs)[0], "net.up", lo), 1);
  EXPECT_EQ(ValueOf((*runs)[0], "net.up", eth1), 0);
  EXPECT_FALSE(ValueOf((*runs)[0], "net.speed_mbps", eth1));  // no speed for a link that is down
  EXPECT_FALSE(ValueOf((*runs)[1], "net.up", eth1));          // gone from net/dev
  EXPECT_EQ(ValueOf((*runs)[2], "net.up", eth1), 0);          // lowerlayerdown
}

TEST(NetPluginTest, RecordedHostLinks) {
  auto runs = testing::RunFixture("net", testing::FixtureCase("net", "real"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[1];
  EXPECT_EQ(ValueOf(p, "net.up", {{"iface", "eth0"}}), 1);
  EXPECT_FALSE(ValueOf(p, "net.speed_mbps", {{"iface", "eth0"}}));  // the driver says -1
  EXPECT_EQ(ValueOf(p, "net.up", {{"iface", "ifb0"}}), 0);
}

}  // namespace
}  // namespace hw::collector
