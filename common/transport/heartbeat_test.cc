#include "common/transport/heartbeat.h"

#include <gtest/gtest.h>

#include "common/base/clock.h"

namespace hw::transport {
namespace {

constexpr HeartbeatTiming kTiming{std::chrono::seconds(10), std::chrono::seconds(4)};

TEST(PeerLivenessTest, ABusyLinkNeverHeartbeats) {
  FakeClock clock;
  PeerLiveness l(kTiming);
  l.Reset(clock.MonoMs());
  for (int i = 0; i < 100; ++i) {  // an envelope a second, each acked
    clock.Advance(1000);
    EXPECT_FALSE(l.HeartbeatDue(clock.MonoMs())) << i;
    l.Sent(clock.MonoMs());
    l.Heard();
    EXPECT_FALSE(l.Silent(clock.MonoMs()));
  }
}

TEST(PeerLivenessTest, AnIdleLinkHeartbeatsOncePerIdleTime) {
  FakeClock clock;
  PeerLiveness l(kTiming);
  l.Reset(clock.MonoMs());
  EXPECT_EQ(l.NextDueMs(), clock.MonoMs() + 10000);
  clock.Advance(9999);
  EXPECT_FALSE(l.HeartbeatDue(clock.MonoMs()));
  clock.Advance(1);
  EXPECT_TRUE(l.HeartbeatDue(clock.MonoMs()));
  l.Sent(clock.MonoMs());  // the heartbeat
  EXPECT_FALSE(l.HeartbeatDue(clock.MonoMs()));
  // Now an answer is owed: the next deadline is the silence limit, not the next heartbeat.
  EXPECT_TRUE(l.awaiting());
  EXPECT_EQ(l.NextDueMs(), clock.MonoMs() + 4000);
  clock.Advance(100);
  l.Heard();
  EXPECT_EQ(l.NextDueMs(), clock.MonoMs() - 100 + 10000);
}

TEST(PeerLivenessTest, SilenceCountsFromTheFirstUnansweredSend) {
  FakeClock clock;
  PeerLiveness l(kTiming);
  l.Reset(clock.MonoMs());
  l.Sent(clock.MonoMs());
  clock.Advance(3000);
  l.Sent(clock.MonoMs());  // more sends do not restart the wait for an answer
  EXPECT_FALSE(l.Silent(clock.MonoMs()));
  clock.Advance(1000);
  EXPECT_TRUE(l.Silent(clock.MonoMs()));
  // Any message from the peer clears it; a new connection starts clean as well.
  l.Heard();
  EXPECT_FALSE(l.Silent(clock.MonoMs()));
  l.Sent(clock.MonoMs());
  clock.Advance(5000);
  EXPECT_TRUE(l.Silent(clock.MonoMs()));
  l.Reset(clock.MonoMs());
  EXPECT_FALSE(l.Silent(clock.MonoMs()));
  EXPECT_FALSE(l.HeartbeatDue(clock.MonoMs()));
}

TEST(PeerLivenessTest, ASkippedHeartbeatWaitsAnotherIdleTimeAndKeepsWhatIsOwed) {
  FakeClock clock;
  PeerLiveness l(kTiming);
  l.Reset(clock.MonoMs());
  l.Sent(clock.MonoMs());
  clock.Advance(10000);
  EXPECT_TRUE(l.HeartbeatDue(clock.MonoMs()));
  l.Skipped(clock.MonoMs());  // not connected
  EXPECT_FALSE(l.HeartbeatDue(clock.MonoMs()));
  EXPECT_TRUE(l.Silent(clock.MonoMs()));  // still owed an answer from before
}

TEST(PeerLivenessTest, TheLinkTimingsFitTheBrokersMemberTimeout) {
  // An idle consumer must speak well within the broker's member timeout, and a producer at the
  // collector's usual 10 s interval must never need a heartbeat.
  EXPECT_LE(kConsumerHeartbeat.idle * 2, kMemberTimeout);
  EXPECT_GT(kProducerHeartbeat.idle, std::chrono::seconds(10));
}

}  // namespace
}  // namespace hw::transport
