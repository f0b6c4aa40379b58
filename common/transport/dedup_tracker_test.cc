#include "common/transport/dedup_tracker.h"

#include <gtest/gtest.h>

#include "common/base/clock.h"
#include "common/transport/consumer_link.h"

namespace hw::transport {
namespace {

using std::chrono::minutes;

TEST(SeqSetTest, InOrderAndOutOfOrderSeqsAreSeenOnce) {
  SeqSet s;
  for (uint64_t q = 1; q <= 1000; ++q) ASSERT_TRUE(s.Insert(q));
  EXPECT_EQ(s.runs(), 1u);  // an in-order stream is one run
  EXPECT_FALSE(s.Insert(500));
  EXPECT_TRUE(s.Insert(1002));  // a gap at 1001
  EXPECT_EQ(s.runs(), 2u);
  EXPECT_TRUE(s.Insert(1001));  // fills it: one run again
  EXPECT_EQ(s.runs(), 1u);
  EXPECT_FALSE(s.Insert(1001));
  EXPECT_FALSE(s.Insert(1));
}

TEST(SeqSetTest, PastTheRunLimitTheLowestGapCountsAsSeen) {
  SeqSet s(/*max_runs=*/3);
  EXPECT_TRUE(s.Insert(1));
  EXPECT_TRUE(s.Insert(3));
  EXPECT_TRUE(s.Insert(5));
  EXPECT_TRUE(s.Insert(7));  // a fourth run: the gap at 2 is forgotten
  EXPECT_EQ(s.runs(), 3u);
  EXPECT_FALSE(s.Insert(2));  // taken for a duplicate now
  EXPECT_TRUE(s.Insert(4));   // the other gaps are still gaps
}

TEST(DedupTrackerTest, CountsPerSourceAndEpoch) {
  std::map<std::string, SourceSummary> sums;
  DedupTracker t({}, &sums);
  EXPECT_TRUE(t.Insert("h/collector", 7, 1, 10, 0));
  EXPECT_TRUE(t.Insert("h/collector", 7, 3, 10, 0));
  EXPECT_FALSE(t.Insert("h/collector", 7, 3, 10, 0));
  EXPECT_TRUE(t.Insert("h/collector", 8, 1, 5, 0));  // another epoch of the same source
  EXPECT_TRUE(t.Insert("g/collector", 7, 1, 1, 0));  // another source, same epoch
  ASSERT_EQ(sums.size(), 3u);
  const SourceSummary& a = sums.at("h/collector#0000000000000007");
  EXPECT_EQ(a.received, 2u);
  EXPECT_EQ(a.items, 20u);
  EXPECT_EQ(a.duplicates, 1u);
  EXPECT_EQ(a.max_seq, 3u);
  EXPECT_EQ(a.missing, 1u);  // seq 2
  EXPECT_EQ(sums.at("h/collector#0000000000000008").items, 5u);
  EXPECT_EQ(t.pairs(), 3u);
}

TEST(DedupTrackerTest, ForgetsIdlePairsAndKeepsActiveOnes) {
  FakeClock clock;
  std::map<std::string, SourceSummary> sums;
  DedupTracker t({.forget_after = minutes(60)}, &sums);
  // A collector that sends every 10 s, and a cron job whose every run is a new epoch.
  uint64_t seq = 0;
  for (int minute = 0; minute < 24 * 60; ++minute) {
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(t.Insert("h/collector", 42, ++seq, 3, clock.MonoMs()));
      clock.Advance(10'000);
    }
    if (minute % 5 == 0) {
      ASSERT_TRUE(t.Insert("h/cli", 1000 + static_cast<uint64_t>(minute), 1, 1, clock.MonoMs()));
    }
    t.ForgetIdle(clock.MonoMs());
  }
  // A day of cron runs leaves only the last 60 to 75 minutes of them, not 288.
  EXPECT_LE(t.pairs(), 1u + 75 / 5 + 1);
  EXPECT_GE(t.pairs(), 1u + 60 / 5);
  EXPECT_EQ(sums.size(), t.pairs());
  // The active collector is exact: nothing missing, nothing forgotten.
  const SourceSummary& c = sums.at(DedupTracker::Key("h/collector", 42));
  EXPECT_EQ(c.received, seq);
  EXPECT_EQ(c.items, 3 * seq);
  EXPECT_EQ(c.missing, 0u);
  EXPECT_FALSE(t.Insert("h/collector", 42, seq, 3, clock.MonoMs()));  // still deduplicated
  // A forgotten epoch that comes back starts afresh.
  EXPECT_FALSE(sums.contains(DedupTracker::Key("h/cli", 1000)));
  EXPECT_TRUE(t.Insert("h/cli", 1000, 1, 1, clock.MonoMs()));
  EXPECT_EQ(sums.at(DedupTracker::Key("h/cli", 1000)).received, 1u);
}

TEST(DedupTrackerTest, SweepsAtMostEveryQuarterOfTheIdleTime) {
  FakeClock clock;
  std::map<std::string, SourceSummary> sums;
  DedupTracker t({.forget_after = minutes(60)}, &sums);
  EXPECT_EQ(t.ForgetIdle(clock.MonoMs()), 0u);  // the first sweep starts the period
  t.Insert("a/cli", 1, 1, 1, clock.MonoMs());
  clock.Advance(60 * 60'000);
  // Idle for the whole hour, but the next sweep is due 15 minutes after the last one: now.
  EXPECT_EQ(t.ForgetIdle(clock.MonoMs()), 1u);
  t.Insert("b/cli", 2, 1, 1, clock.MonoMs());
  clock.Advance(60 * 60'000 - 1);
  EXPECT_EQ(t.ForgetIdle(clock.MonoMs()), 0u);  // not idle long enough yet
  clock.Advance(1);
  EXPECT_EQ(t.ForgetIdle(clock.MonoMs()), 0u);  // idle enough, but swept a moment ago
  clock.Advance(15 * 60'000);
  EXPECT_EQ(t.ForgetIdle(clock.MonoMs()), 1u);
  EXPECT_TRUE(sums.empty());
  EXPECT_EQ(t.pairs(), 0u);
}

}  // namespace
}  // namespace hw::transport
