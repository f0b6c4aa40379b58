#include "common/transport/producer_link.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/base/clock.h"
#include "common/base/mutex.h"
#include "common/testing/fake_broker.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "common/transport/curve_keys.h"
#include "common/transport/heartbeat.h"
#include "hostwatch/v1/link.pb.h"

namespace hw::transport {
namespace {

namespace pb = hostwatch::v1;
using namespace std::chrono_literals;
using hw::testing::WaitFor;

using hw::testing::FakeBroker;
using hw::testing::FakeFrontend;
using Appended = hw::testing::FakeAppended;

uint16_t Port() {
  Result<uint16_t> p = hw::testing::FreeLoopbackPort();
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return p.value_or(0);
}

pb::Envelope SampleEnvelope(const std::string& endpoint, double value,
                            const std::string& metric = "test.value", size_t padding = 0) {
  pb::Envelope env;
  pb::SampleBatch* b = env.mutable_samples();
  b->set_endpoint(endpoint);
  pb::Sample* s = b->add_samples();
  s->set_metric(metric);
  s->set_value(value);
  // Distinct times for distinct values; a NaN (the validator's case) has no integer to add.
  s->set_time_ms(1700000000000 + (std::isfinite(value) ? static_cast<int64_t>(value) : 0));
  if (padding > 0) (*s->mutable_tags())["pad"] = std::string(padding, 'x');
  return env;
}

ProducerOptions Options(const std::string& endpoint, std::vector<std::string> brokers,
                        const std::filesystem::path& spool_dir) {
  ProducerOptions o;
  o.endpoint = endpoint;
  o.component = "test";
  o.link.brokers = std::move(brokers);
  o.link.spool_dir = spool_dir.string();
  o.resend_timeout = 300ms;
  o.failover_after = 1s;
  return o;
}

std::unique_ptr<ProducerLink> MustStart(const ProducerOptions& o) {
  auto link = ProducerLink::Start(o);
  EXPECT_TRUE(link.ok()) << link.status().ToString();
  return link.ok() ? std::move(link).value() : nullptr;
}

void PublishRange(ProducerLink& link, const std::string& endpoint, int from, int to) {
  for (int i = from; i < to; ++i) {
    Status st = link.Publish(SampleEnvelope(endpoint, i));
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
}

// One epoch, seqs 1..n in order, values first_value.. in order: nothing lost, nothing twice.
void ExpectContiguous(const std::vector<Appended>& got, size_t n, uint64_t epoch,
                      double first_value = 0) {
  ASSERT_EQ(got.size(), n);
  for (size_t i = 0; i < n; ++i) {
    ASSERT_EQ(got[i].epoch, epoch) << "at " << i;
    ASSERT_EQ(got[i].seq, i + 1) << "at " << i;
    ASSERT_EQ(got[i].value, first_value + static_cast<double>(i)) << "at " << i;
  }
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

TEST(ProducerLinkTest, DeliversEverythingInOrder) {
  hw::testing::TempDir tmp;
  FakeBroker broker(FakeFrontend(Port()));
  ASSERT_TRUE(broker.Start());
  auto link = MustStart(Options("host-1", {broker.frontend()}, tmp.path() / "spool"));
  ASSERT_TRUE(link);
  constexpr int kN = 10000;
  const auto t0 = std::chrono::steady_clock::now();
  PublishRange(*link, "host-1", 0, kN);
  const auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(link->WaitAcked(60s));
  const auto t2 = std::chrono::steady_clock::now();
  std::printf("Publish: %.0f envelopes/s; end to end: %.0f envelopes/s\n", kN / Seconds(t1 - t0),
              kN / Seconds(t2 - t0));

  const ProducerStats s = link->stats();
  ExpectContiguous(broker.appended(link->source()), kN, s.epoch);
  EXPECT_EQ(s.published, static_cast<uint64_t>(kN));
  EXPECT_EQ(s.acked, static_cast<uint64_t>(kN));
  EXPECT_EQ(s.rejected, 0u);
  EXPECT_EQ(s.spool_records, 0u);
  EXPECT_EQ(s.spool_dropped, 0u);
  EXPECT_EQ(s.last_acked_seq, static_cast<uint64_t>(kN));
  EXPECT_EQ(s.broker, broker.frontend());
  EXPECT_NE(s.epoch, 0u);
  EXPECT_EQ(link->source(), "host-1/test");
}

TEST(ProducerLinkTest, HeartbeatsOnlyWhenIdle) {
  hw::testing::TempDir tmp;
  FakeBroker broker(FakeFrontend(Port()));
  ASSERT_TRUE(broker.Start());
  FakeClock clock;
  ProducerOptions o = Options("host-1", {broker.frontend()}, tmp.path() / "spool");
  o.clock = &clock;
  auto link = MustStart(o);
  ASSERT_TRUE(link);
  // Busy: an envelope every second of the link's clock, each acked. Envelopes and acks are the
  // proof of life; no heartbeat goes out.
  for (int i = 0; i < 20; ++i) {
    PublishRange(*link, "host-1", i, i + 1);
    ASSERT_TRUE(link->WaitAcked(10s));
    clock.Advance(1000);
  }
  EXPECT_EQ(link->stats().heartbeats, 0u);
  // Idle past the producer's heartbeat time: one heartbeat, answered by the broker (this fake
  // one answers it as the brokers before heartbeats did, as a duplicate), and nothing appended.
  clock.Advance(std::chrono::milliseconds(kProducerHeartbeat.idle).count());
  ASSERT_TRUE(WaitFor([&] { return link->stats().heartbeats >= 1; }, 10s));
  EXPECT_EQ(link->stats().heartbeats, 1u);
  // The stream carries on where it was: the heartbeat took no seq.
  PublishRange(*link, "host-1", 20, 21);
  ASSERT_TRUE(link->WaitAcked(10s));
  ExpectContiguous(broker.appended(link->source()), 21, link->stats().epoch);
  EXPECT_EQ(link->stats().resent, 0u);
}

TEST(ProducerLinkTest, ResendsAfterBrokerRestart) {
  hw::testing::TempDir tmp;
  FakeBroker broker(FakeFrontend(Port()));
  ASSERT_TRUE(broker.Start());
  auto link = MustStart(Options("host-1", {broker.frontend()}, tmp.path() / "spool"));
  ASSERT_TRUE(link);
  constexpr int kN = 3000;
  std::atomic<bool> broker_stopped{false};
  std::thread publisher([&] {
    PublishRange(*link, "host-1", 0, kN / 2);
    WaitFor([&] { return broker_stopped.load(); }, 30s);
    PublishRange(*link, "host-1", kN / 2, kN);  // while the broker is away
  });
  ASSERT_TRUE(WaitFor([&] { return broker.appended_count(link->source()) >= 300; }, 30s));
  broker.Stop();  // mid-stream: frames in flight are lost, their acks never come
  broker_stopped = true;
  publisher.join();
  EXPECT_EQ(link->stats().published, static_cast<uint64_t>(kN));
  EXPECT_LT(broker.appended_count(link->source()), static_cast<size_t>(kN));
  ASSERT_TRUE(broker.Start());
  ASSERT_TRUE(link->WaitAcked(60s));
  ExpectContiguous(broker.appended(link->source()), kN, link->stats().epoch);
  EXPECT_EQ(link->stats().acked, static_cast<uint64_t>(kN));
}

TEST(ProducerLinkTest, SpoolsWhileBrokerDownThenDelivers) {
  hw::testing::TempDir tmp;
  FakeBroker broker(FakeFrontend(Port()));  // not started yet: nobody listens on the port
  auto link = MustStart(Options("host-1", {broker.frontend()}, tmp.path() / "spool"));
  ASSERT_TRUE(link);
  PublishRange(*link, "host-1", 0, 1000);
  EXPECT_FALSE(link->WaitAcked(300ms));
  ProducerStats s = link->stats();
  EXPECT_EQ(s.published, 1000u);
  EXPECT_EQ(s.acked, 0u);
  EXPECT_EQ(s.spool_records, 1000u);
  EXPECT_GT(s.spool_bytes, 0u);

  ASSERT_TRUE(broker.Start());
  ASSERT_TRUE(link->WaitAcked(30s));
  ExpectContiguous(broker.appended(link->source()), 1000, s.epoch);
  s = link->stats();
  EXPECT_EQ(s.acked, 1000u);
  EXPECT_EQ(s.spool_records, 0u);
}

TEST(ProducerLinkTest, SurvivesProducerRestart) {
  hw::testing::TempDir tmp;
  FakeBroker broker(FakeFrontend(Port()));
  ASSERT_TRUE(broker.Start());
  const ProducerOptions o = Options("host-1", {broker.frontend()}, tmp.path() / "spool");
  uint64_t epoch = 0;
  {
    auto link = MustStart(o);
    ASSERT_TRUE(link);
    PublishRange(*link, "host-1", 0, 200);
    ASSERT_TRUE(link->WaitAcked(30s));
    broker.Stop();
    PublishRange(*link, "host-1", 200, 500);  // spooled, never acked
    epoch = link->stats().epoch;
    link->Stop(0ms);
    EXPECT_EQ(link->stats().spool_records, 300u);
  }
  ASSERT_TRUE(broker.Start());
  auto link = MustStart(o);
  ASSERT_TRUE(link);
  EXPECT_EQ(link->stats().epoch, epoch);
  EXPECT_EQ(link->stats().last_acked_seq, 200u);
  PublishRange(*link, "host-1", 500, 600);
  ASSERT_TRUE(link->WaitAcked(30s));
  ExpectContiguous(broker.appended(link->source()), 600, epoch);
  EXPECT_EQ(link->stats().spool_records, 0u);
}

TEST(ProducerLinkTest, GoesBackOnGap) {
  hw::testing::TempDir tmp;
  FakeBroker broker(FakeFrontend(Port()));
  ASSERT_TRUE(broker.Start());
  broker.DropOnce(50);
  ProducerOptions o = Options("host-1", {broker.frontend()}, tmp.path() / "spool");
  o.resend_timeout = 10min;  // so only the GAP answer can bring 50 back
  auto link = MustStart(o);
  ASSERT_TRUE(link);
  PublishRange(*link, "host-1", 0, 200);
  ASSERT_TRUE(link->WaitAcked(20s));
  ExpectContiguous(broker.appended(link->source()), 200, link->stats().epoch);
  EXPECT_GT(broker.gaps(), 0u);
  EXPECT_GT(link->stats().resent, 0u);
}

TEST(ProducerLinkTest, RejectedIsDroppedAndStreamContinues) {
  hw::testing::TempDir tmp;
  FakeBroker broker(FakeFrontend(Port()));
  ASSERT_TRUE(broker.Start());
  auto link = MustStart(Options("host-1", {broker.frontend()}, tmp.path() / "spool"));
  ASSERT_TRUE(link);
  for (int i = 0; i < 100; ++i) {
    const std::string metric = i == 39 ? "poison.pill" : "test.value";
    ASSERT_TRUE(link->Publish(SampleEnvelope("host-1", i, metric)).ok());
  }
  ASSERT_TRUE(link->WaitAcked(20s));
  const ProducerStats s = link->stats();
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.acked, 99u);
  EXPECT_EQ(s.last_acked_seq, 100u);
  EXPECT_EQ(s.spool_records, 0u);
  const std::vector<Appended> got = broker.appended(link->source());
  ASSERT_EQ(got.size(), 99u);
  for (size_t i = 0; i < got.size(); ++i) {
    const uint64_t seq = i < 39 ? i + 1 : i + 2;  // seq 40 was the poison
    EXPECT_EQ(got[i].seq, seq);
    EXPECT_EQ(got[i].value, static_cast<double>(seq - 1));
  }
}

TEST(ProducerLinkTest, FailsOverToSecondBroker) {
  hw::testing::TempDir tmp;
  const std::string dead = "tcp://127.0.0.1:" + std::to_string(Port());  // nobody listens
  FakeBroker live(FakeFrontend(Port()));
  ASSERT_TRUE(live.Start());
  // An endpoint whose preferred broker is index 0, the dead one.
  std::string endpoint;
  for (int i = 0; endpoint.empty(); ++i) {
    const std::string e = "fo-" + std::to_string(i);
    if (PreferredBroker(e, 2) == 0) endpoint = e;
  }
  ProducerOptions o = Options(endpoint, {dead, live.frontend()}, tmp.path() / "spool");
  o.failover_after = 500ms;
  auto link = MustStart(o);
  ASSERT_TRUE(link);
  EXPECT_EQ(link->stats().broker, dead);
  PublishRange(*link, endpoint, 0, 100);
  ASSERT_TRUE(link->WaitAcked(20s));
  EXPECT_EQ(link->stats().broker, live.frontend());
  ExpectContiguous(live.appended(link->source()), 100, link->stats().epoch);
}

TEST(ProducerLinkTest, ReEpochsAfterSpoolDrop) {
  hw::testing::TempDir tmp;
  FakeBroker broker(FakeFrontend(Port()));
  ASSERT_TRUE(broker.Start());
  ProducerOptions o = Options("host-1", {broker.frontend()}, tmp.path() / "spool");
  o.link.spool_max_bytes = 64 << 10;  // segments of 16 KiB
  auto link = MustStart(o);
  ASSERT_TRUE(link);
  PublishRange(*link, "host-1", 0, 10);
  ASSERT_TRUE(link->WaitAcked(20s));
  const uint64_t first_epoch = link->stats().epoch;

  broker.Stop();
  constexpr int kMore = 3000;  // ~250 bytes each: more than ten times what fits
  for (int i = 10; i < 10 + kMore; ++i) {
    ASSERT_TRUE(link->Publish(SampleEnvelope("host-1", i, "test.value", 200)).ok());
  }
  ProducerStats s = link->stats();
  EXPECT_GT(s.spool_dropped, 0u);
  EXPECT_NE(s.epoch, first_epoch);
  EXPECT_LE(s.spool_bytes, o.link.spool_max_bytes);

  ASSERT_TRUE(broker.Start());
  ASSERT_TRUE(link->WaitAcked(30s));
  s = link->stats();
  const std::vector<Appended> got = broker.appended(link->source());
  ASSERT_GT(got.size(), 10u);
  ExpectContiguous({got.begin(), got.begin() + 10}, 10, first_epoch);
  // The rest is the newest records under the latest epoch, from seq 1, ending with the last one.
  const std::vector<Appended> rest(got.begin() + 10, got.end());
  const double first_kept = rest.front().value;
  ExpectContiguous(rest, rest.size(), s.epoch, first_kept);
  EXPECT_EQ(rest.back().value, 10 + kMore - 1);
  EXPECT_EQ(rest.size() + s.spool_dropped, static_cast<uint64_t>(kMore));  // none silently lost
}

TEST(ProducerLinkTest, DeliversOverCurve) {
  hw::testing::TempDir tmp;
  // As `hostwatch keygen` lays them out: broker.{key,pub}, other.{key,pub} and me.{key,pub}.
  std::string server_sec;
  for (const char* name : {"broker", "other", "me"}) {
    Result<CurveKeyPair> pair = GenerateCurveKeyPair();
    ASSERT_TRUE(pair.ok()) << pair.status().ToString();
    ASSERT_TRUE(WriteCurveKeyPair(tmp.path(), name, *pair).ok());
    if (std::string_view(name) == "broker") server_sec = pair->secret_z85;
  }
  FakeBroker broker(FakeFrontend(Port(), server_sec));
  ASSERT_TRUE(broker.Start());

  ProducerOptions o = Options("host-1", {broker.frontend()}, tmp.path() / "spool");
  o.link.curve.enabled = true;
  o.link.curve.secret_key_file = (tmp.path() / "me.key").string();
  o.link.curve.public_key_file = (tmp.path() / "me.pub").string();
  o.link.curve.server_public_key_file = (tmp.path() / "broker.pub").string();
  auto link = MustStart(o);
  ASSERT_TRUE(link);
  PublishRange(*link, "host-1", 0, 100);
  ASSERT_TRUE(link->WaitAcked(20s));
  ExpectContiguous(broker.appended(link->source()), 100, link->stats().epoch);

  // The wrong server key: the handshake fails, nothing is delivered, everything stays spooled.
  o.endpoint = "host-2";
  o.link.spool_dir = (tmp.path() / "spool2").string();
  o.link.curve.server_public_key_file = (tmp.path() / "other.pub").string();
  auto wrong = MustStart(o);
  ASSERT_TRUE(wrong);
  PublishRange(*wrong, "host-2", 0, 10);
  EXPECT_FALSE(wrong->WaitAcked(1s));
  EXPECT_EQ(wrong->stats().spool_records, 10u);
  EXPECT_EQ(broker.appended_count(wrong->source()), 0u);

  // A missing key file is a configuration error at Start.
  o.link.curve.secret_key_file = (tmp.path() / "missing.key").string();
  EXPECT_FALSE(ProducerLink::Start(o).ok());
}

TEST(ProducerLinkTest, ValidatorRefusesBadSample) {
  hw::testing::TempDir tmp;
  const std::string url = "tcp://127.0.0.1:" + std::to_string(Port());
  auto link = MustStart(Options("host-1", {url}, tmp.path() / "spool"));
  ASSERT_TRUE(link);
  Status st = link->Publish(SampleEnvelope("host-1", std::nan("")));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("value"), std::string::npos) << st.message();
  st = link->Publish(SampleEnvelope("someone-else", 1));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  st = link->Publish(pb::Envelope());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  const ProducerStats s = link->stats();
  EXPECT_EQ(s.published, 0u);
  EXPECT_EQ(s.spool_records, 0u);

  // With validation off, the broker is the judge: the same envelope is spooled.
  link.reset();
  ProducerOptions o = Options("host-1", {url}, tmp.path() / "spool2");
  o.validate = false;
  link = MustStart(o);
  ASSERT_TRUE(link);
  EXPECT_TRUE(link->Publish(SampleEnvelope("host-1", std::nan(""))).ok());
  EXPECT_EQ(link->stats().spool_records, 1u);
}

TEST(ProducerLinkTest, RefusesBadOptions) {
  hw::testing::TempDir tmp;
  ProducerOptions o = Options("host-1", {"tcp://127.0.0.1:1"}, tmp.path() / "spool");
  o.component = "Bad Component";
  EXPECT_EQ(ProducerLink::Start(o).status().code(), StatusCode::kInvalidArgument);
  o = Options("host-1", {"nonsense"}, tmp.path() / "spool");
  EXPECT_EQ(ProducerLink::Start(o).status().code(), StatusCode::kInvalidArgument);
  o = Options("host-1", {}, tmp.path() / "spool");
  EXPECT_EQ(ProducerLink::Start(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(ProducerLinkTest, PreferredBrokerIsStableAndSpreads) {
  EXPECT_EQ(PreferredBroker("game-01", 0), 0u);
  EXPECT_EQ(PreferredBroker("game-01", 1), 0u);
  constexpr int kHosts = 2000;
  std::vector<size_t> four(kHosts);
  std::map<size_t, int> per_broker;
  for (int h = 0; h < kHosts; ++h) {
    const std::string e = "game-" + std::to_string(h);
    four[h] = PreferredBroker(e, 4);
    ASSERT_LT(four[h], 4u);
    EXPECT_EQ(PreferredBroker(e, 4), four[h]);  // stable
    ++per_broker[four[h]];
  }
  for (size_t b = 0; b < 4; ++b) {
    EXPECT_GT(per_broker[b], kHosts / 4 * 8 / 10) << "broker " << b;
    EXPECT_LT(per_broker[b], kHosts / 4 * 12 / 10) << "broker " << b;
  }
  // Consistent: a fifth broker takes about a fifth of the hosts, all of them from the others, and
  // nobody else moves.
  int moved = 0;
  for (int h = 0; h < kHosts; ++h) {
    const size_t five = PreferredBroker("game-" + std::to_string(h), 5);
    if (five != four[h]) {
      ++moved;
      EXPECT_EQ(five, 4u);
    }
  }
  EXPECT_GT(moved, kHosts / 5 * 8 / 10);
  EXPECT_LT(moved, kHosts / 5 * 12 / 10);
}

}  // namespace
}  // namespace hw::transport
