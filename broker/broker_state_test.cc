#include "broker/broker_state.h"

#include <gtest/gtest.h>

#include "common/strings/fnv1a.h"

namespace hw::broker {
namespace {

TEST(ProducerBoardTest, AppendAddsToWhatWasPublishedAndPublishReplacesIt) {
  auto entry = [](const std::string& source) {
    hostwatch::v1::ProducerStats p;
    p.set_source(source);
    return p;
  };
  ProducerBoard board;
  board.Publish({entry("a/x"), entry("b/x")});
  board.Append({entry("c/x")});
  std::vector<hostwatch::v1::ProducerStats> got = board.Get();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[2].source(), "c/x");
  board.Publish({entry("b/x")});
  got = board.Get();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].source(), "b/x");
}

// Placement is persisted: each source's history lives in the partition these values name. A change
// here moves existing sources to other partitions, so these numbers must never change.
TEST(PartitionForSourceTest, PlacementIsPinned) {
  EXPECT_EQ(PartitionForSource("web-01", 16), 5u);
  EXPECT_EQ(PartitionForSource("db-01.example.org", 16), 7u);
  EXPECT_EQ(PartitionForSource("edge/router-7", 8), 2u);
  EXPECT_EQ(PartitionForSource("", 16), 3u);
  EXPECT_EQ(PartitionForSource("hostwatch-broker", 12), 10u);
  EXPECT_EQ(PartitionForSource("a", 3), 0u);
  EXPECT_EQ(PartitionForSource("web-01", 1), 0u);
}

TEST(PartitionForSourceTest, UsesItsHistoricalBasisNotFnvs) {
  EXPECT_NE(kBrokerPlacementOffsetBasis, strings::kFnv1a64OffsetBasis);
  EXPECT_EQ(PartitionForSource("web-01", 16),
            strings::Fnv1a64("web-01", kBrokerPlacementOffsetBasis) % 16);
  // With FNV's own basis "web-01" would land in partition 7.
  EXPECT_EQ(strings::Fnv1a64("web-01") % 16, 7u);
}

}  // namespace
}  // namespace hw::broker
