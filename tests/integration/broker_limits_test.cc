// Issue 12 against the real broker, plaintext: nothing from a rejected envelope is kept (dedup
// table, dedup.snapshot, Stats), hostile header fields cost no memory, and everything a peer can
// make the broker keep is bounded (sources, groups, deliveries in flight) and counted.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <random>
#include <set>
#include <zmq.hpp>

#include "broker/source_table.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "tests/integration/broker_harness.h"
#include "tests/integration/broker_test_peers.h"

namespace hw {
namespace {

using hostwatch::v1::Ack;
using hostwatch::v1::Subscribe;
using testing::BodylessEnvelope;
using testing::PeerConsumer;
using testing::PeerProducer;
using testing::SamplesEnvelope;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::set<std::string> StatsSources(const hostwatch::v1::BrokerStats& st) {
  std::set<std::string> out;
  for (const auto& p : st.producers()) {
    if (!p.source().ends_with("/broker")) out.insert(p.source());  // the broker's own samples
  }
  return out;
}

// The sources in data_dir/dedup.snapshot (empty set when absent or unreadable).
std::set<std::string> SnapshotSources(const fs::path& data_dir) {
  std::ifstream in(data_dir / "dedup.snapshot", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  broker::SourceTable t;
  std::set<std::string> out;
  if (!t.Load(bytes).ok()) return out;
  for (const auto& [s, st] : t.sources()) {
    if (!s.ends_with("/broker")) out.insert(s);  // the broker's own samples (every 10 s)
  }
  return out;
}

fs::file_time_type MTime(const fs::path& p) {
  std::error_code ec;
  auto t = fs::last_write_time(p, ec);
  return ec ? fs::file_time_type::min() : t;
}

class BrokerLimitsTest : public ::testing::Test {
 protected:
  void StartBroker(const std::string& extra_yaml = "") {
    testing::BrokerProcessOptions o;
    o.extra_yaml = extra_yaml;
    auto b = testing::BrokerProcess::Start(dir_.path(), o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
  }
  hostwatch::v1::BrokerStats Stats() {
    PeerConsumer c(ctx_, broker_->backend());
    auto st = c.Stats(5s);
    EXPECT_TRUE(st) << broker_->Log();
    return st.value_or(hostwatch::v1::BrokerStats{});
  }
  testing::TempDir dir_;
  zmq::context_t ctx_;
  std::unique_ptr<testing::BrokerProcess> broker_;
};

TEST_F(BrokerLimitsTest, TenThousandRejectedSourcesLeaveTableSnapshotAndStatsUnchanged) {
  StartBroker();
  PeerProducer good(ctx_, broker_->frontend());
  auto ok = good.Call(SamplesEnvelope("good-1", 1, 1), 5s);
  ASSERT_TRUE(ok && ok->status() == Ack::OK) << broker_->Log();
  // A snapshot that holds good-1 (written every 10 s).
  const fs::path snap = broker_->data_dir() / "dedup.snapshot";
  ASSERT_TRUE(testing::WaitFor(
      [&] { return SnapshotSources(broker_->data_dir()).contains("good-1/test"); }, 30s));
  const std::set<std::string> snap_before = SnapshotSources(broker_->data_dir());
  const std::set<std::string> stats_before = StatsSources(Stats());
  ASSERT_TRUE(stats_before.contains("good-1/test"));

  PeerProducer bad(ctx_, broker_->frontend());
  std::mt19937_64 rng(12);
  constexpr int kN = 10000;
  for (int i = 0; i < kN; ++i) {
    // Valid names with no body (rejected by content) and, one in ten, an invalid source.
    const std::string source =
        i % 10 == 0 ? "bad source " + std::to_string(rng()) : "h" + std::to_string(rng()) + "/x";
    bad.Send(BodylessEnvelope(source, rng() | 1, 1 + rng() % 1000));
  }
  int rejected = 0;
  while (rejected < kN) {
    auto a = bad.Recv(10s);
    ASSERT_TRUE(a) << "only " << rejected << " acks; " << broker_->Log();
    ASSERT_EQ(a->status(), Ack::REJECTED);
    ++rejected;
  }
  // The next snapshot after the attack, and the Stats, list the same sources as before.
  const auto attacked = fs::file_time_type::clock::now();
  ASSERT_TRUE(testing::WaitFor([&] { return MTime(snap) > attacked; }, 30s));
  EXPECT_EQ(SnapshotSources(broker_->data_dir()), snap_before);
  const auto stats = Stats();
  EXPECT_EQ(StatsSources(stats), stats_before);
  EXPECT_GE(stats.rejected(), static_cast<uint64_t>(kN));
  // Counted by reason only: a few fixed keys, never a source.
  EXPECT_LE(stats.rejected_by_reason().size(), 4u);
  for (const auto& [reason, n] : stats.rejected_by_reason()) {
    EXPECT_LT(reason.size(), 20u) << reason;
  }
}

TEST_F(BrokerLimitsTest, HostileSourceNamesCostNoMemory) {
  StartBroker();
  PeerProducer good(ctx_, broker_->frontend());
  ASSERT_TRUE(good.Call(SamplesEnvelope("good-1", 1, 1), 5s));
  const uint64_t before = testing::RssKiB(broker_->pid());
  ASSERT_GT(before, 0u);
  PeerProducer bad(ctx_, broker_->frontend());
  for (int i = 0; i < 32; ++i) {
    // 1 MiB source names: a valid endpoint shape, so only the length check stops them.
    std::string source(1u << 20, 'a' + static_cast<char>(i % 26));
    source[source.size() / 2] = '/';
    bad.Send(BodylessEnvelope(source, 7, 1));
    auto a = bad.Recv(10s);
    ASSERT_TRUE(a) << broker_->Log();
    EXPECT_EQ(a->status(), Ack::REJECTED);
    EXPECT_LT(a->ByteSizeLong(), 1024u);  // the hostile name is not echoed
  }
  // Give a snapshot time to be written: it must not hold the names either.
  const auto attacked = fs::file_time_type::clock::now();
  ASSERT_TRUE(testing::WaitFor(
      [&] { return MTime(broker_->data_dir() / "dedup.snapshot") > attacked; }, 30s));
  EXPECT_LT(fs::file_size(broker_->data_dir() / "dedup.snapshot"), 64u * 1024);
  const uint64_t after = testing::RssKiB(broker_->pid());
  std::printf("[ info     ] broker RSS %lu KiB before, %lu KiB after 32 MiB of source names\n",
              static_cast<unsigned long>(before), static_cast<unsigned long>(after));
  EXPECT_LT(after, before + 8 * 1024) << "RSS grew by " << (after - before) << " KiB";
  EXPECT_THAT(StatsSources(Stats()),
              ::testing::Not(::testing::Contains(::testing::SizeIs(::testing::Gt(300u)))));
}

TEST_F(BrokerLimitsTest, SourcesBeyondMaxSourcesEvictTheLeastRecentlySeen) {
  StartBroker("  max_sources: 16\n");
  PeerProducer p(ctx_, broker_->frontend());
  for (int i = 0; i < 40; ++i) {
    auto a = p.Call(SamplesEnvelope("cap-" + std::to_string(i), 1, 1), 5s);
    ASSERT_TRUE(a && a->status() == Ack::OK) << broker_->Log();
  }
  hostwatch::v1::BrokerStats st;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        st = Stats();
        return st.sources_evicted() >= 24;
      },
      10s))
      << st.DebugString();
  EXPECT_LE(st.producers_size(), 16);
  // The newest are kept.
  EXPECT_TRUE(StatsSources(st).contains("cap-39/test"));
  EXPECT_THAT(broker_->Log(), ::testing::HasSubstr("dedup table full"));
}

TEST_F(BrokerLimitsTest, IdleGroupsWithoutMembersExpire) {
  StartBroker("  group_ttl: 2s\n");
  PeerProducer p(ctx_, broker_->frontend());
  ASSERT_TRUE(p.Call(SamplesEnvelope("g-1", 1, 1), 5s));
  // One connection joins 50 random groups in turn (each Subscribe leaves the previous group), then
  // leaves: 50 groups without members, each with an offsets file (EARLIEST commits a position).
  PeerConsumer hopper(ctx_, broker_->backend());
  std::mt19937_64 rng(7);
  std::vector<std::string> names;
  for (int i = 0; i < 50; ++i) {
    names.push_back("rnd-" + std::to_string(rng()));
    hopper.Subscribe(names.back(), Subscribe::EARLIEST, 1);
  }
  PeerConsumer keeper(ctx_, broker_->backend());
  keeper.Subscribe("keep", Subscribe::EARLIEST, 1);
  const fs::path groups_dir = broker_->data_dir() / "groups";
  ASSERT_TRUE(
      testing::WaitFor([&] { return fs::exists(groups_dir / (names.back() + ".offsets")); }, 10s));
  hostwatch::v1::ConsumerRequest leave;
  leave.mutable_leave();
  hopper.Request(leave);
  hostwatch::v1::BrokerStats st;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        hostwatch::v1::ConsumerRequest hb;  // the keeper stays a member
        hb.mutable_heartbeat();
        keeper.Request(hb);
        st = Stats();
        return st.groups_expired() >= 50;
      },
      30s))
      << st.DebugString();
  std::set<std::string> left;
  for (const auto& g : st.groups()) left.insert(g.group());
  EXPECT_TRUE(left.contains("keep"));
  for (const std::string& n : names) {
    EXPECT_FALSE(left.contains(n)) << n;
    EXPECT_FALSE(fs::exists(groups_dir / (n + ".offsets"))) << n;
  }
  EXPECT_TRUE(fs::exists(groups_dir / "keep.offsets"));
}

TEST_F(BrokerLimitsTest, NewGroupsBeyondMaxGroupsAreRefused) {
  StartBroker("  max_groups: 3\n");
  PeerConsumer c(ctx_, broker_->backend());
  for (const char* g : {"g1", "g2", "g3"}) c.Subscribe(g, Subscribe::LATEST, 1);
  c.Subscribe("g4", Subscribe::LATEST, 1);
  std::optional<hostwatch::v1::ConsumerMessage> m;
  for (int i = 0; i < 20 && !(m && m->has_error()); ++i) m = c.Next(1s);
  ASSERT_TRUE(m && m->has_error()) << broker_->Log();
  EXPECT_THAT(m->error().error(), ::testing::HasSubstr("too many groups"));
  // A known group is still welcome.
  c.Subscribe("g2", Subscribe::LATEST, 1);
  const auto st = Stats();
  EXPECT_EQ(st.groups_size(), 3);
}

TEST_F(BrokerLimitsTest, NeverReadingConsumerWithHugeCreditCostsBoundedMemory) {
  StartBroker();
  // About 64 MiB of journal: 8,000 envelopes of about 8 KiB.
  PeerProducer p(ctx_, broker_->frontend());
  constexpr uint64_t kEnvelopes = 8000;
  for (uint64_t seq = 1; seq <= kEnvelopes; ++seq) p.Send(SamplesEnvelope("big-1", 1, seq, 240));
  uint64_t acked = 0;
  while (acked < kEnvelopes) {
    auto a = p.Recv(20s);
    ASSERT_TRUE(a) << "acked " << acked << "; " << broker_->Log();
    ASSERT_EQ(a->status(), Ack::OK);
    acked = std::max<uint64_t>(acked, a->acked_seq());
  }
  const uint64_t journal = Stats().journal_bytes();
  ASSERT_GT(journal, 60u << 20);
  const uint64_t before = testing::RssKiB(broker_->pid());
  // Credit 4e9 and never a read (a small receive queue, so the bytes stay on the broker's side).
  PeerConsumer hog(ctx_, broker_->backend(), {}, /*rcvhwm=*/10);
  hog.socket().set(zmq::sockopt::rcvbuf, 64 * 1024);
  hog.Subscribe("hog", Subscribe::EARLIEST, 4'000'000'000u);
  // Let the broker push all it is willing to: delivered stops growing.
  uint64_t last = 0, delivered = 0;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        PeerConsumer c(ctx_, broker_->backend());
        auto st = c.Stats(5s);
        if (!st) return false;
        last = delivered;
        delivered = st->delivered();
        return delivered > 0 && delivered == last;
      },
      30s, 1s));
  const uint64_t after = testing::RssKiB(broker_->pid());
  std::printf(
      "[ info     ] journal %lu MiB; broker RSS %lu KiB before, %lu KiB with the hog "
      "(%lu deliveries queued)\n",
      static_cast<unsigned long>(journal >> 20), static_cast<unsigned long>(before),
      static_cast<unsigned long>(after), static_cast<unsigned long>(delivered));
  EXPECT_LT(delivered, kEnvelopes / 2);
  EXPECT_LT(after, before + 24 * 1024) << "RSS grew by " << (after - before) << " KiB";
}

}  // namespace
}  // namespace hw
