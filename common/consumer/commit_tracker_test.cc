#include "common/consumer/commit_tracker.h"

#include <gtest/gtest.h>

namespace hw::consumer {
namespace {

TEST(CommitTrackerTest, CommitsOnlyTheContiguousFinishedPrefix) {
  CommitTracker t;
  for (uint64_t o : {10, 11, 13, 20}) t.Delivered(0, 1, o, 100);
  EXPECT_EQ(t.outstanding(), 4u);
  EXPECT_EQ(t.outstanding_bytes(), 400u);
  EXPECT_EQ(t.Finished(0, 1, 13), 100u);
  EXPECT_TRUE(t.TakeReady().empty()) << "10 and 11 are not finished";
  t.Finished(0, 1, 11);
  EXPECT_TRUE(t.TakeReady().empty());
  t.Finished(0, 1, 10);
  EXPECT_EQ(t.TakeReady(), (std::vector<CommitPoint>{{0, 1, 13}}));
  EXPECT_TRUE(t.TakeReady().empty()) << "a point is returned once";
  t.Finished(0, 1, 20);
  EXPECT_EQ(t.TakeReady(), (std::vector<CommitPoint>{{0, 1, 20}}));
  EXPECT_EQ(t.outstanding(), 0u);
  EXPECT_EQ(t.outstanding_bytes(), 0u);
}

TEST(CommitTrackerTest, PartitionsAndBrokersAreIndependent) {
  CommitTracker t;
  t.Delivered(0, 0, 5, 1);
  t.Delivered(0, 1, 5, 1);
  t.Delivered(1, 0, 7, 1);
  t.Finished(0, 1, 5);
  t.Finished(1, 0, 7);
  std::vector<CommitPoint> ready = t.TakeReady();
  EXPECT_EQ(ready, (std::vector<CommitPoint>{{0, 1, 5}, {1, 0, 7}}));
  EXPECT_EQ(t.outstanding(), 1u);
}

TEST(CommitTrackerTest, UnknownAndRepeatedFinishesChangeNothing) {
  CommitTracker t;
  t.Delivered(0, 0, 1, 10);
  EXPECT_EQ(t.Finished(0, 0, 2), 0u);
  EXPECT_EQ(t.Finished(3, 3, 1), 0u);
  EXPECT_EQ(t.Finished(0, 0, 1), 10u);
  EXPECT_EQ(t.Finished(0, 0, 1), 0u);
  EXPECT_EQ(t.TakeReady(), (std::vector<CommitPoint>{{0, 0, 1}}));
}

TEST(CommitTrackerTest, DropForgetsAPartitionThatMovedAway) {
  CommitTracker t;
  t.Delivered(0, 2, 1, 50);
  t.Delivered(0, 2, 2, 50);
  t.Finished(0, 2, 2);
  t.Drop(0, 2);
  EXPECT_EQ(t.outstanding(), 0u);
  EXPECT_EQ(t.outstanding_bytes(), 0u);
  EXPECT_EQ(t.Finished(0, 2, 1), 0u);
  EXPECT_TRUE(t.TakeReady().empty()) << "offset 2 was above an unfinished 1: never committed";
}

TEST(CommitTrackerTest, RedeliveryOfAnOutstandingOffsetIsCountedOnce) {
  CommitTracker t;
  t.Delivered(0, 0, 4, 10);
  t.Delivered(0, 0, 4, 10);
  EXPECT_EQ(t.outstanding(), 1u);
  EXPECT_EQ(t.outstanding_bytes(), 10u);
  t.Finished(0, 0, 4);
  EXPECT_EQ(t.TakeReady(), (std::vector<CommitPoint>{{0, 0, 4}}));
}

}  // namespace
}  // namespace hw::consumer
