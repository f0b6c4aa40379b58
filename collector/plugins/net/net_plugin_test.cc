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
  EXPECT_TRUE((*runs)[0].empty());
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

}  // namespace
}  // namespace hw::collector
