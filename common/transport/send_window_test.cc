#include "common/transport/send_window.h"

#include <gtest/gtest.h>

#include "common/base/clock.h"

namespace hw::transport {
namespace {

using Outcome = SendWindow::AckOutcome;
using Ack = SendWindow::AckStatus;

constexpr uint64_t kEpoch = 0xabc;

// Takes every record the window allows and "sends" them all.
uint64_t SendAll(SendWindow& w, uint64_t end_index, int64_t now_ms) {
  const uint64_t first = w.next_seq();
  const uint64_t n = w.Room(end_index);
  for (uint64_t i = 0; i < n; ++i) w.Take();
  w.OnSent(first, n, n, now_ms);
  return n;
}

TEST(SendWindowTest, SendsAtMostAWindowAheadOfTheAcks) {
  SendWindow w(/*window=*/4, /*resend_timeout_ms=*/2000);
  w.Restart(kEpoch, /*base=*/100, /*acked_seq=*/0);
  const uint64_t end = 100 + 10 + 1;  // spool records 101..110: seqs 1..10
  bool caught_up = false;
  EXPECT_TRUE(w.CanSend(end, &caught_up));
  EXPECT_EQ(w.next_index(), 101u);
  EXPECT_EQ(SendAll(w, end, 0), 4u);
  EXPECT_FALSE(w.CanSend(end, &caught_up));  // window full
  EXPECT_FALSE(caught_up);
  EXPECT_EQ(w.OnAck(kEpoch, 2, Ack::kOk, end, 10), Outcome::kAdvanced);
  EXPECT_EQ(w.settled_index(), 102u);
  EXPECT_EQ(SendAll(w, end, 10), 2u);  // seqs 5, 6
  EXPECT_EQ(w.OnAck(kEpoch, 6, Ack::kOk, end, 20), Outcome::kAdvanced);
  EXPECT_EQ(SendAll(w, end, 20), 4u);  // 7..10: everything
  EXPECT_EQ(w.OnAck(kEpoch, 10, Ack::kOk, end, 30), Outcome::kAdvanced);
  EXPECT_FALSE(w.CanSend(end, &caught_up));
  EXPECT_TRUE(caught_up);
  EXPECT_EQ(w.acked(), 10u);
  EXPECT_EQ(w.resent(), 0u);
}

TEST(SendWindowTest, StaleBeyondAndUnknownAcksChangeNothing) {
  SendWindow w(8, 2000);
  w.Restart(kEpoch, 0, 0);
  const uint64_t end = 4;  // seqs 1..3
  SendAll(w, end, 0);
  EXPECT_EQ(w.OnAck(kEpoch + 1, 3, Ack::kOk, end, 1), Outcome::kStale);
  EXPECT_EQ(w.OnAck(kEpoch, 4, Ack::kOk, end, 1), Outcome::kBeyondEnd);
  EXPECT_EQ(w.OnAck(kEpoch, 3, Ack::kUnknown, end, 1), Outcome::kUnknown);
  EXPECT_EQ(w.acked_seq(), 0u);
  EXPECT_EQ(w.OnAck(kEpoch, 1, Ack::kOk, end, 1), Outcome::kAdvanced);
  EXPECT_EQ(w.OnAck(kEpoch, 1, Ack::kOk, end, 1), Outcome::kNoChange);  // a duplicate's ack
}

TEST(SendWindowTest, ARejectedRecordIsFinalAndCounted) {
  SendWindow w(8, 2000);
  w.Restart(kEpoch, 0, 0);
  const uint64_t end = 4;
  SendAll(w, end, 0);
  EXPECT_EQ(w.OnAck(kEpoch, 2, Ack::kRejected, end, 1), Outcome::kRejected);
  EXPECT_EQ(w.acked_seq(), 2u);
  EXPECT_EQ(w.acked(), 1u);  // seq 1 acked, seq 2 rejected
  EXPECT_EQ(w.rejected(), 1u);
}

TEST(SendWindowTest, AGapGoesBackOncePerAckedSeq) {
  SendWindow w(16, 2000);
  w.Restart(kEpoch, 0, 0);
  const uint64_t end = 11;  // seqs 1..10
  SendAll(w, end, 0);       // 1..10 in flight; 5 is lost on the way
  EXPECT_EQ(w.OnAck(kEpoch, 4, Ack::kOk, end, 1), Outcome::kAdvanced);
  EXPECT_EQ(w.OnAck(kEpoch, 4, Ack::kGap, end, 1), Outcome::kWentBack);  // the answer to 6
  EXPECT_EQ(w.next_seq(), 5u);
  EXPECT_EQ(w.OnAck(kEpoch, 4, Ack::kGap, end, 1), Outcome::kNoChange);  // 7..10: not again
  EXPECT_EQ(w.next_seq(), 5u);
  EXPECT_EQ(SendAll(w, end, 2), 6u);  // 5..10 once more
  EXPECT_EQ(w.resent(), 6u);
  EXPECT_EQ(w.OnAck(kEpoch, 10, Ack::kOk, end, 3), Outcome::kAdvanced);
}

TEST(SendWindowTest, ABrokerBehindItsOwnAckNeedsANewEpoch) {
  SendWindow w(16, 2000);
  w.Restart(kEpoch, 0, 0);
  const uint64_t end = 11;
  SendAll(w, end, 0);
  w.OnAck(kEpoch, 8, Ack::kOk, end, 1);
  EXPECT_EQ(w.OnAck(kEpoch, 5, Ack::kGap, end, 2), Outcome::kNewEpoch);
  // The link starts the epoch at the settled record: seq 1 is spool record 9.
  w.Restart(kEpoch + 1, w.settled_index(), 0);
  EXPECT_EQ(w.next_index(), 9u);
  EXPECT_EQ(w.Room(end), 2u);  // records 9 and 10
}

TEST(SendWindowTest, ResendsAfterTheTimeoutWithoutProgress) {
  FakeClock clock;
  SendWindow w(16, 2000);
  w.Restart(kEpoch, 0, 0);
  const uint64_t end = 4;
  EXPECT_FALSE(w.ResendDueMs().has_value());  // nothing in flight: no timer
  SendAll(w, end, clock.MonoMs());
  ASSERT_TRUE(w.ResendDueMs().has_value());
  EXPECT_EQ(*w.ResendDueMs(), clock.MonoMs() + 2000);
  clock.Advance(2000);
  EXPECT_FALSE(w.ResendIfDue(clock.MonoMs()));  // not past it yet
  clock.Advance(1);
  EXPECT_TRUE(w.ResendIfDue(clock.MonoMs()));
  EXPECT_EQ(w.next_seq(), 1u);
  SendAll(w, end, clock.MonoMs());
  EXPECT_EQ(w.resent(), 3u);
  // An ack that advances is progress: the timer starts again from it.
  clock.Advance(1500);
  w.OnAck(kEpoch, 1, Ack::kOk, end, clock.MonoMs());
  clock.Advance(1500);
  EXPECT_FALSE(w.ResendIfDue(clock.MonoMs()));
}

TEST(SendWindowTest, AHoleStopsSendingUntilTheTimerRetries) {
  FakeClock clock;
  SendWindow w(16, 2000);
  w.Restart(kEpoch, 0, 0);
  const uint64_t end = 6;
  bool caught_up = false;
  // Records 1 and 2 read; 3 cannot be read.
  const uint64_t first = w.next_seq();
  w.Take();
  w.Take();
  w.MarkStuck();
  w.OnSent(first, 2, 2, clock.MonoMs());
  EXPECT_FALSE(w.CanSend(end, &caught_up));  // not past the hole
  w.OnAck(kEpoch, 2, Ack::kOk, end, clock.MonoMs());
  EXPECT_FALSE(w.CanSend(end, &caught_up));
  ASSERT_TRUE(w.ResendDueMs().has_value());  // the stuck read keeps a timer
  clock.Advance(2001);
  EXPECT_TRUE(w.ResendIfDue(clock.MonoMs()));
  EXPECT_TRUE(w.CanSend(end, &caught_up));  // the read is tried again
}

TEST(SendWindowTest, SendsThatDidNotLeaveAreTakenBack) {
  SendWindow w(16, 2000);
  w.Restart(kEpoch, 0, 0);
  const uint64_t first = w.next_seq();
  for (int i = 0; i < 5; ++i) w.Take();
  w.OnSent(first, 5, 2, 0);  // EAGAIN after two
  EXPECT_EQ(w.next_seq(), 3u);
  EXPECT_EQ(w.resent(), 0u);
}

TEST(SendWindowTest, LostRecordsAreThoseBetweenTheSettledOneAndTheSpoolsFirst) {
  SendWindow w(16, 2000);
  w.Restart(kEpoch, 10, 5);   // settled: spool record 15
  EXPECT_EQ(w.Lost(16), 0u);  // the next record is still there
  EXPECT_EQ(w.Lost(12), 0u);
  EXPECT_EQ(w.Lost(20), 4u);  // 16..19 dropped unacked
}

TEST(SendWindowTest, AReconnectSendsTheInFlightRecordsAgain) {
  SendWindow w(16, 2000);
  w.Restart(kEpoch, 0, 0);
  SendAll(w, 6, 0);
  w.OnAck(kEpoch, 2, Ack::kOk, 6, 0);
  w.GoBack();
  EXPECT_EQ(w.next_seq(), 3u);
}

}  // namespace
}  // namespace hw::transport
