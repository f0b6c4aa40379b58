// The broker threads' periodic work on a FakeClock, through the PeriodicWork() seam of Frontend
// and Backend: no poll loop runs and nothing sleeps; the test moves time and checks what was due.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <zmq.hpp>

#include "broker/backend.h"
#include "broker/broker_config.h"
#include "broker/broker_state.h"
#include "broker/frontend.h"
#include "broker/source_table.h"
#include "common/base/clock.h"
#include "common/testing/temp_dir.h"

namespace hw::broker {
namespace {

constexpr int64_t kHourMs = 3'600'000;

class BrokerPeriodicTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.data_dir = dir_.path().string();
    config_.partitions = 1;
    config_.retention_age = std::chrono::hours(1);
    config_.source_ttl = std::chrono::hours(1);
    config_.group_ttl = std::chrono::hours(1);
    config_.backend = "tcp://127.0.0.1:*";
    PartitionOptions opts;
    opts.dir = dir_.Sub("p000");
    opts.segment_bytes = 1024;  // a few records per segment, so retention has sealed ones to drop
    opts.retention_age = config_.retention_age;
    Result<std::unique_ptr<Partition>> part = Partition::Open(opts, nullptr);
    ASSERT_TRUE(part.ok()) << part.status().ToString();
    journal_.partitions.push_back(std::move(part).value());
  }

  testing::TempDir dir_;
  BrokerConfig config_;
  Journal journal_;
  BrokerCounters counters_;
  ProducerBoard board_;
  zmq::context_t ctx_{1};
  // The wall clock starts at real time: retention compares it with the segments' mtimes.
  FakeClock clock_{RealClock().WallMs(), 1'000'000};
};

TEST_F(BrokerPeriodicTest, RetentionRunsWhenDueAndJudgesAgeOnTheFakeWallClock) {
  for (int i = 0; i < 40; ++i)
    ASSERT_TRUE(journal_.partitions[0]->Append(std::string(100, 'x')).ok());
  Frontend frontend(config_, ctx_, journal_, SourceTable(), counters_, board_, clock_);

  clock_.Advance(10'000);  // retention is due, but nothing is an hour old yet
  frontend.PeriodicWork();
  EXPECT_EQ(journal_.partitions[0]->first_offset(), 1u);

  clock_.SetWall(clock_.WallMs() + 2 * kHourMs);  // every segment is now old ...
  clock_.Advance(9'999);                          // ... but retention is not due again yet
  frontend.PeriodicWork();
  EXPECT_EQ(journal_.partitions[0]->first_offset(), 1u);

  clock_.Advance(1);
  frontend.PeriodicWork();
  EXPECT_GT(journal_.partitions[0]->first_offset(), 1u);
}

TEST_F(BrokerPeriodicTest, DedupSourcesIdleForSourceTtlOfFakeTimeAreForgotten) {
  SourceTable table;
  table.Observe("host1/collector", 7, 3, clock_.WallMs());
  Frontend frontend(config_, ctx_, journal_, std::move(table), counters_, board_, clock_);

  clock_.Advance(10'000);  // the snapshot (and expiry) is due; the source is 10 s idle
  frontend.PeriodicWork();
  EXPECT_EQ(counters_.sources_expired.load(), 0u);

  clock_.SetWall(clock_.WallMs() + kHourMs);  // idle past source_ttl on the wall clock ...
  clock_.Advance(9'999);                      // ... the next expiry is not due yet
  frontend.PeriodicWork();
  EXPECT_EQ(counters_.sources_expired.load(), 0u);

  clock_.Advance(1);
  frontend.PeriodicWork();
  EXPECT_EQ(counters_.sources_expired.load(), 1u);
}

TEST_F(BrokerPeriodicTest, ARestoredGroupExpiresAfterGroupTtlOfFakeTime) {
  const std::filesystem::path offsets = dir_.Sub("groups") / "idle.offsets";
  std::ofstream(offsets) << "0 5\n";
  Backend backend(config_, ctx_, journal_, counters_, board_, clock_);
  ASSERT_TRUE(backend.Bind("inproc://broker-periodic-test").ok());  // loads the offsets

  clock_.Advance(kHourMs);  // idle exactly group_ttl since it was loaded: kept
  backend.PeriodicWork();
  EXPECT_EQ(counters_.groups_expired.load(), 0u);
  EXPECT_TRUE(std::filesystem::exists(offsets));

  clock_.Advance(499);  // idle past group_ttl, but the next expiry pass is 500 ms away
  backend.PeriodicWork();
  EXPECT_EQ(counters_.groups_expired.load(), 0u);

  clock_.Advance(1);
  backend.PeriodicWork();
  EXPECT_EQ(counters_.groups_expired.load(), 1u);
  EXPECT_FALSE(std::filesystem::exists(offsets));
}

}  // namespace
}  // namespace hw::broker
