// The broker threads' periodic work on a FakeClock, through the PeriodicWork() seam of Frontend
// and Backend: no poll loop runs and nothing sleeps; the test moves time and checks what was due.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "broker/backend.h"
#include "broker/broker_config.h"
#include "broker/broker_state.h"
#include "broker/frontend.h"
#include "broker/source_table.h"
#include "common/base/clock.h"
#include "common/testing/temp_dir.h"
#include "hostwatch/v1/hostwatch.pb.h"

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

// Every 10 s of fake time the broker journals its own counters as one envelope of source
// "<host>/broker": every counter `hostwatch status` shows, as COUNTER samples, and two gauges.
TEST_F(BrokerPeriodicTest, SelfMetricsCarryEveryCounterEveryTenSecondsOfFakeTime) {
  counters_.sources_evicted = 3;
  counters_.oversize = 2;
  Frontend frontend(config_, ctx_, journal_, SourceTable(), counters_, board_, clock_);
  auto self_envelopes = [&] {
    std::vector<hostwatch::v1::Envelope> out;
    Status s = journal_.partitions[0]->Read(1, 1000, 1 << 20, [&](uint64_t, std::string_view b) {
      hostwatch::v1::Envelope env;
      EXPECT_TRUE(env.ParseFromArray(b.data(), static_cast<int>(b.size())));
      if (env.source().ends_with("/broker")) out.push_back(env);
      return true;
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  };
  clock_.Advance(9'999);
  frontend.PeriodicWork();
  EXPECT_TRUE(self_envelopes().empty());
  clock_.Advance(1);
  frontend.PeriodicWork();
  std::vector<hostwatch::v1::Envelope> got = self_envelopes();
  ASSERT_EQ(got.size(), 1u);
  std::map<std::string, std::pair<double, hostwatch::v1::Sample::Kind>> by_metric;
  for (const auto& smp : got[0].samples().samples()) {
    EXPECT_EQ(smp.time_ms(), clock_.WallMs());
    by_metric[smp.metric()] = {smp.value(), smp.kind()};
  }
  for (const char* counter :
       {"appended", "duplicates", "gaps", "rejected", "skipped", "delivered", "sources_expired",
        "sources_evicted", "groups_expired", "oversize", "revoked_disconnects"}) {
    auto it = by_metric.find(std::string("hostwatch.broker.") + counter);
    ASSERT_NE(it, by_metric.end()) << counter;
    EXPECT_EQ(it->second.second, hostwatch::v1::Sample::COUNTER) << counter;
  }
  EXPECT_EQ(by_metric.at("hostwatch.broker.sources_evicted").first, 3);
  EXPECT_EQ(by_metric.at("hostwatch.broker.oversize").first, 2);
  EXPECT_EQ(by_metric.at("hostwatch.broker.producers").second, hostwatch::v1::Sample::GAUGE);
  EXPECT_TRUE(by_metric.contains("hostwatch.broker.journal_bytes"));

  clock_.Advance(10'000);
  frontend.PeriodicWork();
  EXPECT_EQ(self_envelopes().size(), 2u);
}

}  // namespace
}  // namespace hw::broker
