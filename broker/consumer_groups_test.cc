#include "broker/consumer_groups.h"

#include <gtest/gtest.h>

#include "broker/consumer_requests.h"

namespace hw::broker {
namespace {

using hostwatch::v1::Subscribe;

class ConsumerGroupsTest : public ::testing::Test {
 protected:
  ConsumerGroupsTest()
      : groups_(4, [this](const MemberState& m, const hostwatch::v1::Assignment& a) {
          assigned_[m.id] = a;
        }) {
    ranges_.assign(4, PartitionRange{1, 101});  // 100 records in each partition
  }
  Subscribe Sub(const std::string& group, Subscribe::Start start = Subscribe::COMMITTED,
                uint32_t credit = 1000) {
    Subscribe s;
    s.set_group(group);
    s.set_start(start);
    s.set_credit(credit);
    return s;
  }
  // Plays the backend: deliver everything pending, returning deliveries per member.
  std::map<std::string, uint64_t> DrainAll() {
    std::map<std::string, uint64_t> got;
    for (int round = 0; round < 100; ++round) {
      auto work = groups_.PendingWork(ranges_, 1000);
      if (work.empty()) break;
      for (const auto& w : work) {
        uint64_t end = std::min(ranges_[w.partition].next, w.from + w.max);
        got[w.member_id] += end - w.from;
        groups_.Delivered(w.member_id, w.partition, end, end - w.from, end - 1);
      }
    }
    return got;
  }

  ConsumerGroups groups_;
  std::map<std::string, hostwatch::v1::Assignment> assigned_;
  std::vector<PartitionRange> ranges_;
  int64_t t0_ = 1'000'000;  // monotonic ms
};

TEST_F(ConsumerGroupsTest, OneMemberOwnsEveryPartitionAndGetsEverything) {
  groups_.Subscribe("m1", Sub("g"), ranges_, t0_);
  ASSERT_EQ(assigned_["m1"].partitions_size(), 4);
  EXPECT_EQ(assigned_["m1"].partition_count(), 4u);
  EXPECT_EQ(DrainAll()["m1"], 400u);
  EXPECT_TRUE(groups_.PendingWork(ranges_, 1000).empty());
}

TEST_F(ConsumerGroupsTest, TwoMembersSplitPartitionsAndTogetherGetEverythingOnce) {
  groups_.Subscribe("m1", Sub("g"), ranges_, t0_);
  groups_.Subscribe("m2", Sub("g"), ranges_, t0_);
  EXPECT_EQ(assigned_["m1"].partitions_size(), 2);
  EXPECT_EQ(assigned_["m2"].partitions_size(), 2);
  EXPECT_GT(assigned_["m2"].generation(), 1u);
  auto got = DrainAll();
  EXPECT_EQ(got["m1"], 200u);
  EXPECT_EQ(got["m2"], 200u);
}

TEST_F(ConsumerGroupsTest, TwoGroupsEachGetEverything) {
  groups_.Subscribe("a1", Sub("alerter"), ranges_, t0_);
  groups_.Subscribe("r1", Sub("rediscache"), ranges_, t0_);
  auto got = DrainAll();
  EXPECT_EQ(got["a1"], 400u);
  EXPECT_EQ(got["r1"], 400u);
}

TEST_F(ConsumerGroupsTest, NeverMoreThanCredit) {
  groups_.Subscribe("m1", Sub("g", Subscribe::COMMITTED, 30), ranges_, t0_);
  EXPECT_EQ(DrainAll()["m1"], 30u);
  groups_.Credit("m1", 25, t0_);
  EXPECT_EQ(DrainAll()["m1"], 25u);
}

TEST_F(ConsumerGroupsTest, UncommittedRecordsAreRedeliveredAfterRebalance) {
  groups_.Subscribe("m1", Sub("g"), ranges_, t0_);
  DrainAll();
  for (uint32_t p = 0; p < 4; ++p) EXPECT_TRUE(groups_.Commit("m1", p, 60, ranges_, t0_));
  // m1 goes silent; m2 takes over and resumes after the commit.
  groups_.Subscribe("m2", Sub("g"), ranges_, t0_ + 4'000);
  EXPECT_EQ(groups_.Expire(t0_ + 6'000, std::chrono::seconds(5)), 1u);
  ASSERT_EQ(assigned_["m2"].partitions_size(), 4);
  EXPECT_EQ(DrainAll()["m2"], 4u * 40);  // offsets 61..100 of each partition
}

TEST_F(ConsumerGroupsTest, CommitsFromAFormerOwnerAreIgnored) {
  groups_.Subscribe("m1", Sub("g"), ranges_, t0_);
  DrainAll();
  groups_.Subscribe("m2", Sub("g"), ranges_, t0_);  // m2 now owns partitions 1 and 3
  EXPECT_FALSE(groups_.Commit("m1", 1, 100, ranges_, t0_));
  EXPECT_EQ(groups_.groups().at("g").committed[1], 0u);
  EXPECT_TRUE(
      groups_.Commit("m1", 0, 10, ranges_, t0_));  // m1 still owns 0 ... but sent from its cursor
  EXPECT_EQ(groups_.groups().at("g").committed[0], 10u);
}

TEST_F(ConsumerGroupsTest, CommitCannotPassWhatWasDelivered) {
  groups_.Subscribe("m1", Sub("g", Subscribe::COMMITTED, 10), ranges_, t0_);
  DrainAll();  // 10 records of partition 0 delivered (offsets 1..10)
  EXPECT_TRUE(groups_.Commit("m1", 0, 99, ranges_, t0_));
  EXPECT_EQ(groups_.groups().at("g").committed[0], 10u);
}

TEST_F(ConsumerGroupsTest, StartEarliestRewindsAndLatestSkips) {
  groups_.Restore("g", {50, 50, 50, 50}, t0_);
  groups_.Subscribe("m1", Sub("g", Subscribe::LATEST), ranges_, t0_);
  EXPECT_TRUE(groups_.PendingWork(ranges_, 1000).empty());
  groups_.Subscribe("m1", Sub("g", Subscribe::EARLIEST), ranges_, t0_);
  EXPECT_EQ(DrainAll()["m1"], 400u);
}

TEST_F(ConsumerGroupsTest, RestoredCommitsAreWhereDeliveryResumes) {
  groups_.Restore("g", {90, 100, 0, 95}, t0_);
  groups_.Subscribe("m1", Sub("g"), ranges_, t0_);
  EXPECT_EQ(DrainAll()["m1"], 10u + 0 + 100 + 5);
}

TEST_F(ConsumerGroupsTest, RetentionSkipsAreCounted) {
  groups_.Subscribe("m1", Sub("g"), ranges_, t0_);
  ranges_[2].first = 41;  // offsets 1..40 of partition 2 were removed by retention
  EXPECT_EQ(groups_.ApplyRetention(ranges_), 40u);
  EXPECT_EQ(groups_.groups().at("g").committed[2], 40u);
  EXPECT_EQ(DrainAll()["m1"], 400u - 40);
}

TEST_F(ConsumerGroupsTest, LeavingHandsPartitionsOverAtOnce) {
  groups_.Subscribe("m1", Sub("g"), ranges_, t0_);
  groups_.Subscribe("m2", Sub("g"), ranges_, t0_);
  EXPECT_TRUE(groups_.Leave("m1"));
  EXPECT_EQ(assigned_["m2"].partitions_size(), 4);
  EXPECT_EQ(DrainAll()["m2"], 400u);
  EXPECT_FALSE(groups_.Leave("m1"));
}

TEST_F(ConsumerGroupsTest, SilentMembersLeaveAndTheRestTakeOver) {
  groups_.Subscribe("m1", Sub("g"), ranges_, t0_);
  groups_.Subscribe("m2", Sub("g"), ranges_, t0_);
  groups_.Touch("m2", t0_ + 4'000);
  EXPECT_EQ(groups_.Expire(t0_ + 6'000, std::chrono::seconds(5)), 1u);
  EXPECT_EQ(assigned_["m2"].partitions_size(), 4);
  EXPECT_FALSE(groups_.Touch("m1", t0_));
}

TEST(ConsumerGroupsLimitsTest, CreditIsClampedToMaxCredit) {
  ConsumerGroups g(2, nullptr, /*max_credit=*/100);
  Subscribe s;
  s.set_group("g");
  s.set_credit(4'000'000'000u);
  g.Subscribe("m", s, {{1, 1}, {1, 1}}, 5'000);
  EXPECT_EQ(g.members().at("m").credit, 100u);
  g.Credit("m", 4'000'000'000u, 5'000);
  EXPECT_EQ(g.members().at("m").credit, 100u);
}

TEST(ConsumerGroupsLimitsTest, OnlyIdleGroupsWithoutMembersExpire) {
  ConsumerGroups g(2, nullptr);
  const int64_t t0 = 5'000;
  g.Restore("restored", {5, 5}, t0);
  Subscribe s;
  s.set_group("live");
  s.set_credit(1);
  g.Subscribe("m", s, {{1, 10}, {1, 10}}, t0);
  s.set_group("left");
  g.Subscribe("n", s, {{1, 10}, {1, 10}}, t0);
  EXPECT_TRUE(g.Leave("n"));
  EXPECT_TRUE(g.ExpireGroups(t0 + 1'000, std::chrono::seconds(5)).empty());
  auto gone = g.ExpireGroups(t0 + 60'000, std::chrono::seconds(5));
  std::sort(gone.begin(), gone.end());
  EXPECT_EQ(gone, (std::vector<std::string>{"left", "restored"}));
  EXPECT_TRUE(g.groups().contains("live"));
}

// Every stamp is the caller's time: a group made by Subscribe or Restore is idle from the time
// passed in, not from whenever the test happens to run.
TEST(ConsumerGroupsLimitsTest, GroupIdleTimeStartsAtTheTimePassedIn) {
  ConsumerGroups g(2, nullptr);
  g.Restore("restored", {5, 5}, 100'000);
  Subscribe s;
  s.set_group("joined");
  s.set_credit(1);
  g.Subscribe("m", s, {{1, 10}, {1, 10}}, 200'000);
  EXPECT_EQ(g.groups().at("restored").last_active_ms, 100'000);
  EXPECT_EQ(g.groups().at("joined").last_active_ms, 200'000);
  EXPECT_EQ(g.members().at("m").last_seen_ms, 200'000);
  ASSERT_TRUE(g.Leave("m"));
  // ttl 5 s: at 105 s "restored" has been idle exactly ttl (kept), at 105.001 s it is gone while
  // "joined" (idle since 200 s) stays until 205.001 s.
  EXPECT_TRUE(g.ExpireGroups(105'000, std::chrono::seconds(5)).empty());
  EXPECT_EQ(g.ExpireGroups(105'001, std::chrono::seconds(5)), std::vector<std::string>{"restored"});
  EXPECT_TRUE(g.ExpireGroups(205'000, std::chrono::seconds(5)).empty());
  EXPECT_EQ(g.ExpireGroups(205'001, std::chrono::seconds(5)), std::vector<std::string>{"joined"});
}

TEST(ConsumerGroupsLimitsTest, MembersExpireOnTheTimesPassedIn) {
  ConsumerGroups g(2, nullptr);
  Subscribe s;
  s.set_group("g");
  s.set_credit(1);
  g.Subscribe("a", s, {{1, 10}, {1, 10}}, 10'000);
  g.Subscribe("b", s, {{1, 10}, {1, 10}}, 10'000);
  EXPECT_TRUE(g.Commit("a", 0, 0, {{1, 10}, {1, 10}}, 13'000));  // a commit is proof of life
  EXPECT_EQ(g.Expire(15'000, std::chrono::seconds(5)), 0u);
  EXPECT_EQ(g.Expire(15'001, std::chrono::seconds(5)), 1u);  // b: silent since 10 s
  EXPECT_TRUE(g.members().contains("a"));
  EXPECT_EQ(g.Expire(18'001, std::chrono::seconds(5)), 1u);
  EXPECT_TRUE(g.members().empty());
}

TEST(ConsumerRequestsTest, ChecksEverythingTheGroupsTakeOnTrust) {
  auto encode = [](const hostwatch::v1::ConsumerRequest& r) { return r.SerializeAsString(); };
  hostwatch::v1::ConsumerRequest r;
  EXPECT_FALSE(DecodeConsumerRequest(encode(r), 4).ok());  // empty
  EXPECT_FALSE(DecodeConsumerRequest("\xff\xff", 4).ok());
  r.mutable_subscribe()->set_group("ok-group");
  EXPECT_TRUE(DecodeConsumerRequest(encode(r), 4).ok());
  r.mutable_subscribe()->add_topics(static_cast<hostwatch::v1::Topic>(40));  // a shift of 40
  EXPECT_FALSE(DecodeConsumerRequest(encode(r), 4).ok());
  r.mutable_subscribe()->clear_topics();
  r.mutable_subscribe()->set_group("../etc");
  EXPECT_FALSE(DecodeConsumerRequest(encode(r), 4).ok());
  r.mutable_commit()->set_partition(4);
  EXPECT_FALSE(DecodeConsumerRequest(encode(r), 4).ok());
  r.mutable_commit()->set_partition(3);
  EXPECT_TRUE(DecodeConsumerRequest(encode(r), 4).ok());
}

}  // namespace
}  // namespace hw::broker
