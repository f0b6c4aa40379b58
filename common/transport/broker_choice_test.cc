#include "common/transport/broker_choice.h"

#include <gtest/gtest.h>

#include <string>

#include "common/base/clock.h"

namespace hw::transport {
namespace {

using std::chrono::milliseconds;
constexpr milliseconds kFailover{5000};

// An endpoint whose preferred broker among n is `want`.
std::string EndpointPreferring(size_t want, size_t n) {
  for (int i = 0;; ++i) {
    std::string e = "host-" + std::to_string(i);
    if (PreferredBroker(e, n) == want) return e;
  }
}

TEST(BrokerChoiceTest, StartsOnThePreferredBrokerWhichIsStableAndSpreads) {
  EXPECT_EQ(PreferredBroker("game-01", 0), 0u);
  EXPECT_EQ(PreferredBroker("game-01", 1), 0u);
  size_t hits[3] = {0, 0, 0};
  for (int h = 0; h < 300; ++h) {
    const std::string e = "game-" + std::to_string(h);
    ASSERT_EQ(PreferredBroker(e, 3), PreferredBroker(e, 3));
    ++hits[PreferredBroker(e, 3)];
  }
  for (size_t n : hits) EXPECT_GT(n, 50u);
  BrokerChoice c(EndpointPreferring(2, 3), 3, kFailover);
  EXPECT_EQ(c.current(), 2u);
  EXPECT_EQ(c.preferred(), 2u);
}

TEST(BrokerChoiceTest, FailsOverWhenUnackedRecordsGetNoAnswer) {
  FakeClock clock;
  BrokerChoice c(EndpointPreferring(0, 2), 2, kFailover);
  c.Connected(0, clock.MonoMs());
  c.Observe(/*unacked=*/true, /*heard=*/false, clock.MonoMs());
  clock.Advance(5000);
  c.Observe(true, false, clock.MonoMs());
  EXPECT_FALSE(c.Decide(clock.MonoMs()).has_value());
  EXPECT_EQ(c.NextDueMs(), clock.MonoMs());
  clock.Advance(1);
  std::optional<BrokerChoice::Switch> sw = c.Decide(clock.MonoMs());
  ASSERT_TRUE(sw.has_value());
  EXPECT_EQ(sw->to, 1u);
  EXPECT_EQ(sw->why, BrokerChoice::Reason::kNoAck);
}

TEST(BrokerChoiceTest, AnythingHeardRestartsTheWait) {
  FakeClock clock;
  BrokerChoice c(EndpointPreferring(0, 2), 2, kFailover);
  c.Connected(0, clock.MonoMs());
  for (int i = 0; i < 20; ++i) {  // a slow but answering broker
    clock.Advance(4000);
    c.Observe(true, /*heard=*/true, clock.MonoMs());
    EXPECT_FALSE(c.Decide(clock.MonoMs()).has_value()) << i;
  }
}

TEST(BrokerChoiceTest, WithOneBrokerOnlySilenceReconnects) {
  FakeClock clock;
  BrokerChoice c("h", 1, kFailover);
  c.Connected(0, clock.MonoMs());
  c.Observe(true, false, clock.MonoMs());
  clock.Advance(4000);
  c.Observe(true, false, clock.MonoMs());
  EXPECT_FALSE(c.Decide(clock.MonoMs()).has_value());  // nothing sent: libzmq is reconnecting
  c.liveness().Sent(clock.MonoMs());
  clock.Advance(std::chrono::milliseconds(kProducerHeartbeat.silence).count());
  std::optional<BrokerChoice::Switch> sw = c.Decide(clock.MonoMs());
  ASSERT_TRUE(sw.has_value());
  EXPECT_EQ(sw->to, 0u);  // a fresh connection to the same broker
  EXPECT_EQ(sw->why, BrokerChoice::Reason::kSilent);
  c.Connected(0, clock.MonoMs());
  EXPECT_FALSE(c.Decide(clock.MonoMs()).has_value());
}

TEST(BrokerChoiceTest, AnIdleConnectionHeartbeatsAndAnAnswerKeepsIt) {
  FakeClock clock;
  BrokerChoice c("h", 1, kFailover);
  c.Connected(0, clock.MonoMs());
  c.Observe(false, false, clock.MonoMs());
  EXPECT_EQ(c.NextDueMs(),
            clock.MonoMs() + std::chrono::milliseconds(kProducerHeartbeat.idle).count());
  clock.Advance(std::chrono::milliseconds(kProducerHeartbeat.idle).count());
  ASSERT_TRUE(c.liveness().HeartbeatDue(clock.MonoMs()));
  c.liveness().Sent(clock.MonoMs());
  clock.Advance(10);
  c.Observe(false, /*heard=*/true, clock.MonoMs());
  clock.Advance(std::chrono::milliseconds(kProducerHeartbeat.silence).count());
  EXPECT_FALSE(c.Decide(clock.MonoMs()).has_value());
}

TEST(BrokerChoiceTest, RetriesARefusedKeyAfterAWhile) {
  FakeClock clock;
  BrokerChoice c("h", 1, kFailover);
  c.Connected(0, clock.MonoMs());
  c.AuthRefused(clock.MonoMs());
  clock.Advance(5000);
  c.AuthRefused(clock.MonoMs());  // the first refusal counts
  clock.Advance(5001);
  std::optional<BrokerChoice::Switch> sw = c.Decide(clock.MonoMs());
  ASSERT_TRUE(sw.has_value());
  EXPECT_EQ(sw->why, BrokerChoice::Reason::kRefused);
  EXPECT_EQ(sw->to, 0u);
  c.Connected(0, clock.MonoMs());
  EXPECT_FALSE(c.Decide(clock.MonoMs()).has_value());
}

TEST(BrokerChoiceTest, FailsBackToThePreferredBrokerWhenNothingIsUnacked) {
  FakeClock clock;
  BrokerChoice c(EndpointPreferring(0, 3), 3, kFailover);
  c.Connected(1, clock.MonoMs());  // failed over earlier
  const int64_t failback = std::chrono::milliseconds(kFailbackAfter).count();
  clock.Advance(failback + 1);
  c.Observe(/*unacked=*/true, /*heard=*/true, clock.MonoMs());
  EXPECT_FALSE(c.Decide(clock.MonoMs()).has_value());  // busy: stay
  c.Observe(false, true, clock.MonoMs());
  std::optional<BrokerChoice::Switch> sw = c.Decide(clock.MonoMs());
  ASSERT_TRUE(sw.has_value());
  EXPECT_EQ(sw->to, 0u);
  EXPECT_EQ(sw->why, BrokerChoice::Reason::kFailback);
}

}  // namespace
}  // namespace hw::transport
