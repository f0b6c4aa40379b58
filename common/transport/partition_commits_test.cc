#include "common/transport/partition_commits.h"

#include <gtest/gtest.h>

namespace hw::transport {
namespace {

TEST(PartitionCommitsTest, TheCallersCommitIsCumulative) {
  PartitionCommits c;
  for (uint64_t o = 1; o <= 5; ++o) c.Kept(o);
  EXPECT_EQ(c.Target(), 0u);
  EXPECT_EQ(c.Due(), 0u);
  EXPECT_TRUE(c.CallerCommitted(3));
  EXPECT_EQ(c.Target(), 3u);
  EXPECT_EQ(c.outstanding(), 2u);
  EXPECT_FALSE(c.CallerCommitted(2));  // behind: moves nothing
  EXPECT_EQ(c.Target(), 3u);
}

TEST(PartitionCommitsTest, LinkDoneOffsetsRaiseTheTargetUpToTheFirstOutstanding) {
  PartitionCommits c;
  c.DoneByLink(1);  // a duplicate
  c.DoneByLink(2);  // a malformed delivery
  c.Kept(3);
  c.DoneByLink(4);
  EXPECT_EQ(c.Target(), 2u);  // 3 is the caller's and not done: 4 must wait
  EXPECT_TRUE(c.CallerCommitted(3));
  EXPECT_EQ(c.Target(), 4u);
}

TEST(PartitionCommitsTest, DueOnlyWhenTheTargetMovedAndAgainAfterAResubscribe) {
  PartitionCommits c;
  c.Kept(1);
  c.Kept(2);
  c.CallerCommitted(2);
  ASSERT_EQ(c.Due(), 2u);
  c.Sent(2);
  EXPECT_EQ(c.Due(), 0u);
  c.DoneByLink(3);
  EXPECT_EQ(c.Due(), 3u);
  c.Sent(3);
  EXPECT_EQ(c.link_done(), 0u);  // forgotten once sent
  EXPECT_EQ(c.Due(), 0u);
  c.Resubscribed();
  EXPECT_EQ(c.Due(), 3u);  // repeated to the broker after a Subscribe
}

TEST(PartitionCommitsTest, AnOffsetAlreadyCommittedIsNotKept) {
  PartitionCommits c;
  c.CallerCommitted(10);
  c.Kept(7);  // a redelivery after a rebalance, below what was committed
  EXPECT_EQ(c.outstanding(), 0u);
  c.DoneByLink(11);
  EXPECT_EQ(c.Target(), 11u);
}

}  // namespace
}  // namespace hw::transport
