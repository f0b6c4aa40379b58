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

}  // namespace
}  // namespace hw::collector
