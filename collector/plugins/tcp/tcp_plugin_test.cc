#include <gtest/gtest.h>

#include "collector/plugin_fixture.h"

namespace hw::collector {
namespace {

using testing::ValueOf;

TEST(TcpPluginTest, FixturesMatchExpectedOutput) { testing::ExpectAllFixturesMatch("tcp"); }

TEST(TcpPluginTest, CountsStatesOverIpv4AndIpv6) {
  auto runs = testing::RunFixture("tcp", testing::FixtureCase("tcp", "states_and_reset"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[1];
  EXPECT_EQ(*ValueOf(p, "tcp.listen"), 3);
  EXPECT_EQ(*ValueOf(p, "tcp.established"), 3);
  EXPECT_EQ(*ValueOf(p, "tcp.time_wait"), 1);
  EXPECT_EQ(*ValueOf(p, "tcp.close_wait"), 1);
  EXPECT_EQ(*ValueOf(p, "tcp.syn_sent"), 1);
  EXPECT_EQ(*ValueOf(p, "tcp.closing"), 1);
  EXPECT_EQ(*ValueOf(p, "tcp.fin_wait1"), 0);      // zeros are reported too
  EXPECT_EQ(*ValueOf(p, "tcp.retrans_segs"), 10);  // 100 segments in 10 s
  // Snapshot 2: RetransSegs went down (reset) and tcp6 is gone.
  EXPECT_FALSE(ValueOf((*runs)[2], "tcp.retrans_segs"));
  EXPECT_EQ(*ValueOf((*runs)[2], "tcp.listen"), 2);
}

TEST(TcpPluginTest, ListenQueueUdpErrorsAndConntrack) {
  auto runs = testing::RunFixture("tcp", testing::FixtureCase("tcp", "states_and_reset"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_FALSE(ValueOf((*runs)[0], "tcp.listen_overflows"));  // rates need two ticks
  EXPECT_EQ(ValueOf((*runs)[0], "conntrack.count"), 1234);    // gauges do not
  const auto& p = (*runs)[1];
  EXPECT_EQ(ValueOf(p, "tcp.listen_overflows"), 5);  // 10 -> 60 in 10 s
  EXPECT_EQ(ValueOf(p, "tcp.listen_drops"), 6);      // 12 -> 72
  EXPECT_EQ(ValueOf(p, "udp.in_errors"), 2);         // 5 -> 25
  EXPECT_EQ(ValueOf(p, "udp.rcvbuf_errors"), 1);     // 2 -> 12
  EXPECT_EQ(ValueOf(p, "conntrack.max"), 262144);
  // nf_conntrack unloaded: no conntrack figures, and no error for it.
  EXPECT_FALSE(ValueOf((*runs)[2], "conntrack.count"));
  EXPECT_FALSE(ValueOf((*runs)[2], "conntrack.max"));
  EXPECT_EQ(ValueOf((*runs)[2], "tcp.listen_drops"), 0);
}

}  // namespace
}  // namespace hw::collector
