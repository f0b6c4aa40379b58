#include "common/transport/consumer_link.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "common/base/clock.h"
#include "common/base/mutex.h"
#include "common/testing/fake_broker.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "common/transport/curve_keys.h"
#include "common/transport/heartbeat.h"

namespace hw::transport {
namespace {

using namespace std::chrono_literals;
using hostwatch::v1::BrokerStats;
using hostwatch::v1::ConsumerMessage;
using hostwatch::v1::ConsumerRequest;
using hostwatch::v1::Envelope;
using hostwatch::v1::Subscribe;
using hostwatch::v1::Topic;
using Clock = std::chrono::steady_clock;

constexpr int kItemsPerEnvelope = 2;

// An envelope as the producer link sends it: a header message and a body message, serialized apart
// and concatenated (docs/decisions/002).
std::string EnvelopeBytes(const std::string& source, uint64_t epoch, uint64_t seq,
                          Topic topic = hostwatch::v1::SAMPLES) {
  Envelope header;
  header.set_source(source);
  header.set_epoch(epoch);
  header.set_seq(seq);
  Envelope body;
  body.set_sent_ms(1700000000000);
  const std::string endpoint = source.substr(0, source.find('/'));
  for (int i = 0; i < kItemsPerEnvelope; ++i) {
    switch (topic) {
      case hostwatch::v1::EVENTS: {
        body.mutable_events()->set_endpoint(endpoint);
        auto* e = body.mutable_events()->add_events();
        e->set_path("/var/log/syslog");
        e->set_rule("oom");
        e->set_severity(hostwatch::v1::ERROR);
        e->set_line("Out of memory");
        e->set_time_ms(1700000000000);
        break;
      }
      case hostwatch::v1::ALERTS: {
        auto* a = body.mutable_alerts()->add_alerts();
        a->set_rule("cpu_high");
        a->set_key("cpu_high/" + endpoint);
        a->set_state(hostwatch::v1::Alert::FIRING);
        break;
      }
      default: {
        body.mutable_samples()->set_endpoint(endpoint);
        auto* s = body.mutable_samples()->add_samples();
        s->set_metric("cpu.busy");
        s->set_value(static_cast<double>(seq));
        s->set_time_ms(1700000000000 + static_cast<int64_t>(seq));
        break;
      }
    }
  }
  return header.SerializeAsString() + body.SerializeAsString();
}

using hw::testing::FakeBackend;
using hw::testing::FakeBroker;
using hw::testing::FakeBrokerOptions;
using hw::testing::FakeJournal;
using Record = hw::testing::FakeRecord;

uint16_t Port() {
  Result<uint16_t> port = hw::testing::FreeLoopbackPort();
  EXPECT_TRUE(port.ok()) << port.status().ToString();
  return port.value_or(0);
}

ConsumerOptions Options(const FakeBroker& broker, uint32_t credit = 64) {
  ConsumerOptions o;
  o.group = "test";
  o.credit = credit;
  o.link.brokers = {broker.backend()};
  o.link.backends = {broker.backend()};
  return o;
}

// A broker that drops the first Subscribe and answers no heartbeat of a stranger: only the
// silence can tell the link it is not a member.
FakeBrokerOptions LosesTheFirstSubscribe() {
  FakeBrokerOptions opts;
  opts.lose_subscribes = 1;
  opts.quiet = true;
  return opts;
}

// Polls (and commits each batch, like a consumer whose side effect is instant) until `want`
// deliveries have been returned or the deadline passes.
std::vector<Delivery> Consume(ConsumerLink& link, size_t want,
                              std::chrono::milliseconds deadline = 20s, bool commit = true) {
  std::vector<Delivery> got;
  hw::testing::WaitFor(
      [&] {
        Result<std::vector<Delivery>> batch = link.Poll(50ms, 1000);
        if (!batch.ok()) {
          ADD_FAILURE() << batch.status().ToString();
          return true;
        }
        if (commit) {
          EXPECT_TRUE(link.Commit(*batch).ok());
        }
        for (Delivery& d : *batch) got.push_back(std::move(d));
        return got.size() >= want;
      },
      deadline, 1ms);
  return got;
}

// Keeps polling (so heartbeats, credit and commits flow) until pred holds.
bool PollUntil(ConsumerLink& link, const std::function<bool()>& pred,
               std::chrono::milliseconds deadline = 10s) {
  return hw::testing::WaitFor(
      [&] {
        Result<std::vector<Delivery>> batch = link.Poll(20ms, 1000);
        if (batch.ok()) {
          EXPECT_TRUE(link.Commit(*batch).ok());
        }
        return pred();
      },
      deadline, 1ms);
}

FakeJournal SamplesJournal(uint32_t partitions, uint64_t per_partition) {
  FakeJournal j;
  j.partitions.resize(partitions);
  for (uint32_t p = 0; p < partitions; ++p) {
    for (uint64_t seq = 1; seq <= per_partition; ++seq) {
      j.partitions[p].push_back(
          {EnvelopeBytes("host-" + std::to_string(p) + "/collector", 0xabc, seq)});
    }
  }
  return j;
}

TEST(ConsumerLinkTest, ReceivesEverythingAndCommits) {
  FakeBroker broker(FakeBackend(Port()), SamplesJournal(4, 250));
  ASSERT_TRUE(broker.Start());
  auto link = ConsumerLink::Connect(Options(broker));
  ASSERT_TRUE(link.ok()) << link.status().ToString();

  std::vector<Delivery> got = Consume(**link, 1000);
  ASSERT_EQ(got.size(), 1000u);
  std::map<std::string, uint64_t> last_seq;
  for (const Delivery& d : got) {
    EXPECT_EQ(d.broker, 0u);
    EXPECT_EQ(d.envelope.samples().samples_size(), kItemsPerEnvelope);
    uint64_t& last = last_seq[d.envelope.source()];
    EXPECT_EQ(d.envelope.seq(), last + 1) << "each source in order";
    EXPECT_EQ(d.offset, d.envelope.seq());
    last = d.envelope.seq();
  }
  EXPECT_EQ(last_seq.size(), 4u);

  const std::map<uint32_t, uint64_t> want = {{0, 250}, {1, 250}, {2, 250}, {3, 250}};
  EXPECT_TRUE(PollUntil(**link, [&] { return broker.committed() == want; }));
  EXPECT_EQ((*link)->assignments(), (std::vector<std::vector<uint32_t>>{{0, 1, 2, 3}}));
  EXPECT_EQ((*link)->stats().deliveries, 1000u);
  EXPECT_EQ((*link)->stats().duplicates, 0u);
  EXPECT_EQ((*link)->stats().malformed, 0u);
  ConsumerStats summary = (*link)->Summary();
  ASSERT_EQ(summary.sources.size(), 4u);
  const SourceSummary& s = summary.sources.at("host-2/collector#0000000000000abc");
  EXPECT_EQ(s.received, 250u);
  EXPECT_EQ(s.items, 250u * kItemsPerEnvelope);
  EXPECT_EQ(s.missing, 0u);
  EXPECT_EQ(s.max_seq, 250u);
}

TEST(ConsumerLinkTest, RespectsCredit) {
  FakeBroker broker(FakeBackend(Port()), SamplesJournal(2, 5000));
  ASSERT_TRUE(broker.Start());
  auto link = ConsumerLink::Connect(Options(broker, /*credit=*/100));
  ASSERT_TRUE(link.ok()) << link.status().ToString();

  const auto start = Clock::now();
  std::vector<Delivery> got = Consume(**link, 10000, 60s);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("[ info     ] 10000 deliveries with credit 100 in %.3fs: %.0f deliveries/s\n",
              seconds, 10000 / seconds);
  ASSERT_EQ(got.size(), 10000u);
  EXPECT_EQ(broker.delivered(), 10000u);
  EXPECT_LE(broker.max_in_flight(), 100u);
  EXPECT_EQ(broker.over_grants(), 0u);
}

TEST(ConsumerLinkTest, SustainsThroughputWithDefaultCredit) {
  constexpr uint64_t kPerPartition = 25000;
  FakeBroker broker(FakeBackend(Port()), SamplesJournal(4, kPerPartition));
  ASSERT_TRUE(broker.Start());
  ConsumerOptions o = Options(broker);
  o.credit = ConsumerOptions{}.credit;
  auto link = ConsumerLink::Connect(o);
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  const auto start = Clock::now();
  uint64_t got = 0;  // counted, not kept: this measures the link, not the test's memory
  hw::testing::WaitFor(
      [&] {
        Result<std::vector<Delivery>> batch = (*link)->Poll(50ms, 1024);
        if (!batch.ok()) return true;
        EXPECT_TRUE((*link)->Commit(*batch).ok());
        got += batch->size();
        return got >= 4 * kPerPartition;
      },
      120s, 0ms);
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("[ info     ] %llu deliveries with credit %u in %.3fs: %.0f deliveries/s\n",
              static_cast<unsigned long long>(got), o.credit, seconds,
              static_cast<double>(got) / seconds);
  EXPECT_EQ(got, 4 * kPerPartition);
  EXPECT_LE(broker.max_in_flight(), o.credit);
}

TEST(ConsumerLinkTest, DropsDuplicateRedeliveries) {
  FakeBrokerOptions opts;
  opts.redeliver_every = 100;
  FakeBroker broker(FakeBackend(Port(), opts), SamplesJournal(1, 1000));
  ASSERT_TRUE(broker.Start());
  auto link = ConsumerLink::Connect(Options(broker));
  ASSERT_TRUE(link.ok()) << link.status().ToString();

  std::vector<Delivery> got = Consume(**link, 1000);
  ASSERT_EQ(got.size(), 1000u);
  std::set<uint64_t> seqs;
  for (const Delivery& d : got)
    EXPECT_TRUE(seqs.insert(d.envelope.seq()).second) << d.envelope.seq();
  EXPECT_TRUE(PollUntil(**link, [&] { return broker.delivered() == 1020; }));
  EXPECT_EQ((*link)->stats().deliveries, 1020u);
  EXPECT_EQ((*link)->stats().duplicates, 20u);
  const SourceSummary& s = (*link)->stats().sources.at("host-0/collector#0000000000000abc");
  EXPECT_EQ(s.duplicates, 20u);
  EXPECT_EQ(s.received, 1000u);
  EXPECT_TRUE(PollUntil(**link, [&] { return broker.committed()[0] == 1000; }));
}

TEST(ConsumerLinkTest, CountsMalformedDeliveries) {
  FakeJournal j;
  j.partitions = {{
      {EnvelopeBytes("a/collector", 1, 1)},
      {"\xff\xff\xff\xff"},  // not protobuf
      {EnvelopeBytes("a/collector", 1, 2)},
      {""},  // parses, but has no source or seq
      {EnvelopeBytes("a/collector", 1, 3)},
      {"\x0a\x05"
       "ab"},  // truncated
  }};
  FakeBroker broker(FakeBackend(Port()), std::move(j));
  ASSERT_TRUE(broker.Start());
  auto link = ConsumerLink::Connect(Options(broker));
  ASSERT_TRUE(link.ok()) << link.status().ToString();

  std::vector<Delivery> got = Consume(**link, 3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].offset, 1u);
  EXPECT_EQ(got[1].offset, 3u);
  EXPECT_EQ(got[2].offset, 5u);
  EXPECT_TRUE(PollUntil(**link, [&] { return (*link)->stats().malformed == 3; }));
  // The malformed offset after the last good one is committed too: nothing holds it back.
  EXPECT_TRUE(PollUntil(**link, [&] { return broker.committed()[0] == 6; }));
  EXPECT_EQ((*link)->stats().deliveries, 6u);
}

TEST(ConsumerLinkTest, MalformedOffsetsWaitForEarlierDeliveries) {
  FakeJournal j;
  j.partitions = {{{EnvelopeBytes("a/collector", 1, 1)}, {"\xff"}, {"\xff"}}};
  FakeBroker broker(FakeBackend(Port()), std::move(j));
  ASSERT_TRUE(broker.Start());
  auto link = ConsumerLink::Connect(Options(broker));
  ASSERT_TRUE(link.ok()) << link.status().ToString();

  std::vector<Delivery> got = Consume(**link, 1, 20s, /*commit=*/false);
  ASSERT_EQ(got.size(), 1u);
  // Offset 1 is the caller's and not done: 2 and 3 must not be committed before it.
  hw::testing::WaitFor(
      [&] {
        (void)(*link)->Poll(20ms, 0);
        return (*link)->stats().malformed == 2;
      },
      10s);
  ASSERT_EQ((*link)->stats().malformed, 2u);
  ASSERT_TRUE((*link)->Commit({}).ok());
  EXPECT_EQ(broker.committed()[0], 0u);
  ASSERT_TRUE((*link)->Commit(got).ok());
  EXPECT_TRUE(PollUntil(**link, [&] { return broker.committed()[0] == 3; }));
}

TEST(ConsumerLinkTest, SummaryCountsMissingSeqs) {
  FakeJournal j;
  j.partitions.resize(1);
  for (uint64_t seq = 1; seq <= 100; ++seq) {
    if (seq == 50 || seq == 51) continue;
    j.partitions[0].push_back({EnvelopeBytes("game-01/collector", 7, seq)});
  }
  // A second epoch, out of order, complete.
  for (uint64_t seq : {3, 1, 2, 5, 4})
    j.partitions[0].push_back({EnvelopeBytes("game-01/collector", 8, seq)});
  FakeBroker broker(FakeBackend(Port()), std::move(j));
  ASSERT_TRUE(broker.Start());
  auto link = ConsumerLink::Connect(Options(broker));
  ASSERT_TRUE(link.ok()) << link.status().ToString();

  ASSERT_EQ(Consume(**link, 103).size(), 103u);
  ConsumerStats summary = (*link)->Summary();
  ASSERT_EQ(summary.sources.size(), 2u);
  const SourceSummary& a = summary.sources.at("game-01/collector#0000000000000007");
  EXPECT_EQ(a.received, 98u);
  EXPECT_EQ(a.missing, 2u);
  EXPECT_EQ(a.max_seq, 100u);
  EXPECT_EQ(a.items, 98u * kItemsPerEnvelope);
  EXPECT_EQ(a.duplicates, 0u);
  const SourceSummary& b = summary.sources.at("game-01/collector#0000000000000008");
  EXPECT_EQ(b.received, 5u);
  EXPECT_EQ(b.missing, 0u);
}

TEST(ConsumerLinkTest, ResubscribesAfterBrokerRestart) {
  const uint16_t port = Port();
  auto first = std::make_unique<FakeBroker>(FakeBackend(port), SamplesJournal(1, 100));
  ASSERT_TRUE(first->Start());
  auto link = ConsumerLink::Connect(Options(*first));
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  ASSERT_EQ(Consume(**link, 100).size(), 100u);
  ASSERT_TRUE(PollUntil(**link, [&] { return first->committed()[0] == 100; }));

  // Restart: the journal and the commits survive, the members do not.
  first->Stop();
  FakeJournal j = first->journal();
  first.reset();
  for (uint64_t seq = 101; seq <= 200; ++seq)
    j.partitions[0].push_back({EnvelopeBytes("host-0/collector", 0xabc, seq)});
  // Polling while the broker is away only heartbeats into the void.
  (void)(*link)->Poll(300ms, 1000);
  FakeBroker second(FakeBackend(port), std::move(j));
  ASSERT_TRUE(second.Start());

  std::vector<Delivery> got = Consume(**link, 100, 20s);
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got.front().envelope.seq(), 101u);
  EXPECT_EQ(got.back().envelope.seq(), 200u);
  EXPECT_GE(second.subscribes().size(), 1u);
  EXPECT_EQ(second.subscribes()[0].start(), Subscribe::COMMITTED);
  EXPECT_TRUE(PollUntil(**link, [&] { return second.committed()[0] == 200; }));
}

TEST(ConsumerLinkTest, ResubscribesWhenTheBrokerForgetsIt) {
  FakeBroker broker(FakeBackend(Port()), SamplesJournal(1, 10));
  ASSERT_TRUE(broker.Start());
  auto link = ConsumerLink::Connect(Options(broker));
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  ASSERT_EQ(Consume(**link, 10).size(), 10u);
  ASSERT_TRUE(PollUntil(**link, [&] { return broker.committed()[0] == 10; }));

  broker.ForgetMembers();  // the next heartbeat is answered "unknown member"
  broker.Append(0, {EnvelopeBytes("host-0/collector", 0xabc, 11)});
  std::vector<Delivery> got = Consume(**link, 1, 10s);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].envelope.seq(), 11u);
  EXPECT_GE(broker.subscribes().size(), 2u);
}

TEST(ConsumerLinkTest, SubscribesAgainWhenNoAssignmentComes) {
  FakeBroker broker(FakeBackend(Port(), LosesTheFirstSubscribe()), SamplesJournal(1, 5));
  ASSERT_TRUE(broker.Start());
  auto link = ConsumerLink::Connect(Options(broker));
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  const auto start = Clock::now();
  ASSERT_EQ(Consume(**link, 5, 15s).size(), 5u);
  EXPECT_EQ(broker.subscribes().size(), 2u);
  EXPECT_GE(Clock::now() - start, 2900ms);
}

// The link's timers on a FakeClock: Poll's timeouts pass in real time while the fake clock stands
// still, so only the fake clock's steps can make a timer due.
TEST(ConsumerLinkTest, HeartbeatsOnlyAfterIdleIntervalOfItsClock) {
  FakeBroker broker(FakeBackend(Port()), SamplesJournal(1, 0));
  ASSERT_TRUE(broker.Start());
  FakeClock clock;
  ConsumerOptions options = Options(broker);
  options.clock = &clock;
  {
    auto link = ConsumerLink::Connect(options);
    ASSERT_TRUE(link.ok()) << link.status().ToString();
    ASSERT_TRUE(PollUntil(**link, [&] { return !(*link)->assignments()[0].empty(); }));
    clock.Advance(kConsumerHeartbeat.idle.count() - 1);
    ASSERT_TRUE((*link)->Poll(0ms, 10).ok());  // idle for less than the interval: nothing
    clock.Advance(1);
    ASSERT_TRUE((*link)->Poll(0ms, 10).ok());  // due: one heartbeat
    ASSERT_TRUE((*link)->Poll(0ms, 10).ok());  // it restarted the interval: nothing
  }
  // The Leave the link sends on destruction comes after everything else on the connection: once
  // the broker has it, the heartbeat count is final.
  ASSERT_TRUE(hw::testing::WaitFor([&] { return broker.leaves() == 1; }, 10s));
  EXPECT_EQ(broker.heartbeats(), 1u);
}

TEST(ConsumerLinkTest, SubscribesAgainAfterSilenceOfItsClock) {
  // As SubscribesAgainWhenNoAssignmentComes, on a FakeClock: the lost Subscribe is repeated once
  // kConsumerHeartbeat.silence of fake time has passed, whatever the real time.
  FakeBroker broker(FakeBackend(Port(), LosesTheFirstSubscribe()), SamplesJournal(1, 5));
  ASSERT_TRUE(broker.Start());
  FakeClock clock;
  ConsumerOptions options = Options(broker);
  options.clock = &clock;
  auto link = ConsumerLink::Connect(options);
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  // The link heartbeats only a connected broker. The socket monitor reports the connection before
  // the Subscribe can reach the broker, so from then on a Poll sees the link connected.
  ASSERT_TRUE(hw::testing::WaitFor([&] { return broker.subscribes().size() == 1; }, 10s));
  // Just short of the silence, the link only heartbeats (it is idle too). A Subscribe in that
  // Poll would have counted as proof of life and taken the heartbeat's place, so once the broker
  // has the heartbeat it has everything the link sent before: still the one lost Subscribe.
  clock.Advance(kConsumerHeartbeat.silence.count() - 1);
  ASSERT_TRUE((*link)->Poll(0ms, 10).ok());
  ASSERT_TRUE(hw::testing::WaitFor([&] { return broker.heartbeats() == 1; }, 10s));
  EXPECT_EQ(broker.subscribes().size(), 1u);
  clock.Advance(1);
  ASSERT_EQ(Consume(**link, 5, 10s).size(), 5u);
  EXPECT_EQ(broker.subscribes().size(), 2u);
}

TEST(ConsumerLinkTest, TopicsAreSentInSubscribe) {
  FakeJournal j;
  j.partitions.resize(1);
  const Topic topics[] = {hostwatch::v1::SAMPLES, hostwatch::v1::EVENTS, hostwatch::v1::ALERTS};
  for (uint64_t seq = 1; seq <= 30; ++seq) {
    const Topic t = topics[seq % 3];
    j.partitions[0].push_back({EnvelopeBytes("web-1/logwatch", 5, seq, t), t});
  }
  FakeBroker broker(FakeBackend(Port()), std::move(j));
  ASSERT_TRUE(broker.Start());
  ConsumerOptions o = Options(broker, 16);
  o.group = "alerter";
  o.topics = {hostwatch::v1::SAMPLES, hostwatch::v1::ALERTS};
  o.start = Subscribe::EARLIEST;
  auto link = ConsumerLink::Connect(o);
  ASSERT_TRUE(link.ok()) << link.status().ToString();

  std::vector<Delivery> got = Consume(**link, 20);
  ASSERT_EQ(got.size(), 20u);
  for (const Delivery& d : got) EXPECT_FALSE(d.envelope.has_events()) << d.envelope.seq();
  std::vector<Subscribe> subs = broker.subscribes();
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_EQ(subs[0].group(), "alerter");
  ASSERT_EQ(subs[0].topics_size(), 2);
  EXPECT_EQ(subs[0].topics(0), hostwatch::v1::SAMPLES);
  EXPECT_EQ(subs[0].topics(1), hostwatch::v1::ALERTS);
  EXPECT_EQ(subs[0].start(), Subscribe::EARLIEST);
  EXPECT_EQ(subs[0].credit(), 16u);
}

TEST(ConsumerLinkTest, MembersOfAGroupShareThePartitions) {
  FakeBroker broker(FakeBackend(Port()), SamplesJournal(4, 50));
  ASSERT_TRUE(broker.Start());
  auto a = ConsumerLink::Connect(Options(broker));
  auto b = ConsumerLink::Connect(Options(broker));
  ASSERT_TRUE(a.ok() && b.ok());
  std::set<std::pair<std::string, uint64_t>> seen;
  auto take = [&](ConsumerLink& link) {
    Result<std::vector<Delivery>> batch = link.Poll(10ms, 1000);
    if (!batch.ok()) return;
    EXPECT_TRUE(link.Commit(*batch).ok());
    for (const Delivery& d : *batch) seen.insert({d.envelope.source(), d.envelope.seq()});
  };
  EXPECT_TRUE(hw::testing::WaitFor(
      [&] {
        take(**a);
        take(**b);
        const auto pa = (*a)->assignments()[0], pb = (*b)->assignments()[0];
        return seen.size() == 200 && pa.size() == 2 && pb.size() == 2;
      },
      20s, 1ms));
  std::vector<uint32_t> all = (*a)->assignments()[0];
  const std::vector<uint32_t> of_b = (*b)->assignments()[0];
  all.insert(all.end(), of_b.begin(), of_b.end());
  std::sort(all.begin(), all.end());
  EXPECT_EQ(all, (std::vector<uint32_t>{0, 1, 2, 3}));
}

TEST(ConsumerLinkTest, ReadsEveryBroker) {
  FakeBroker one(FakeBackend(Port()), SamplesJournal(2, 20));
  FakeJournal j;
  j.partitions = {{}};
  for (uint64_t seq = 1; seq <= 30; ++seq)
    j.partitions[0].push_back({EnvelopeBytes("other/collector", 1, seq)});
  FakeBroker two(FakeBackend(Port()), std::move(j));
  ASSERT_TRUE(one.Start());
  ASSERT_TRUE(two.Start());
  ConsumerOptions o = Options(one);
  o.link.brokers = {one.backend(), two.backend()};
  o.link.backends = {one.backend(), two.backend()};
  auto link = ConsumerLink::Connect(o);
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  std::vector<Delivery> got = Consume(**link, 70);
  ASSERT_EQ(got.size(), 70u);
  EXPECT_EQ(std::count_if(got.begin(), got.end(), [](const Delivery& d) { return d.broker == 1; }),
            30);
  EXPECT_TRUE(
      PollUntil(**link, [&] { return two.committed()[0] == 30 && one.committed()[1] == 20; }));
  EXPECT_EQ((*link)->assignments(), (std::vector<std::vector<uint32_t>>{{0, 1}, {0}}));
}

TEST(ConsumerLinkTest, RejectsBadOptions) {
  ConsumerOptions o;
  EXPECT_EQ(ConsumerLink::Connect(o).status().code(), StatusCode::kInvalidArgument);  // no group
  o.group = "g";
  o.credit = 0;
  EXPECT_EQ(ConsumerLink::Connect(o).status().code(), StatusCode::kInvalidArgument);
  o.credit = 10;
  o.topics = {hostwatch::v1::TOPIC_UNSPECIFIED};
  EXPECT_EQ(ConsumerLink::Connect(o).status().code(), StatusCode::kInvalidArgument);
}

TEST(ConsumerLinkTest, QueryBrokerStatsRoundTrip) {
  FakeBroker broker(FakeBackend(Port()), SamplesJournal(1, 0));
  BrokerStats want;
  want.set_now_ms(1700000000000);
  want.set_appended(42);
  want.set_journal_bytes(4096);
  auto* p = want.add_producers();
  p->set_source("game-01/collector");
  p->set_last_seq(17);
  (*want.mutable_rejected_by_reason())["bad metric"] = 3;
  broker.SetStats(want);
  ASSERT_TRUE(broker.Start());

  Result<BrokerStats> got = QueryBrokerStats(broker.backend(), CurveClientConfig{}, 5s);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->SerializeAsString(), want.SerializeAsString());
}

// Writes a fresh keypair as NAME.key / NAME.pub into dir; returns the secret (Z85).
std::string WriteKeyPair(const std::filesystem::path& dir, const std::string& name) {
  Result<CurveKeyPair> pair = GenerateCurveKeyPair();
  EXPECT_TRUE(pair.ok() && WriteCurveKeyPair(dir, name, *pair).ok());
  return pair.ok() ? pair->secret_z85 : std::string();
}

TEST(ConsumerLinkTest, SpeaksCurveWhenEnabled) {
  hw::testing::TempDir dir;
  const std::string server_secret = WriteKeyPair(dir.path(), "broker");
  WriteKeyPair(dir.path(), "consumer");
  FakeBrokerOptions opts;
  opts.curve_secret_key = server_secret;
  FakeBroker broker(FakeBackend(Port(), opts), SamplesJournal(1, 20));
  BrokerStats want;
  want.set_appended(7);
  broker.SetStats(want);
  ASSERT_TRUE(broker.Start());

  CurveClientConfig curve;
  curve.enabled = true;
  curve.secret_key_file = (dir.path() / "consumer.key").string();
  curve.public_key_file = (dir.path() / "consumer.pub").string();
  curve.server_public_key_file = (dir.path() / "broker.pub").string();
  ConsumerOptions o = Options(broker);
  o.link.curve = curve;
  auto link = ConsumerLink::Connect(o);
  ASSERT_TRUE(link.ok()) << link.status().ToString();
  EXPECT_EQ(Consume(**link, 20).size(), 20u);
  Result<BrokerStats> got = QueryBrokerStats(broker.backend(), curve, 5s);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->appended(), 7u);

  // The wrong server key: the handshake fails and nothing arrives.
  curve.server_public_key_file = (dir.path() / "consumer.pub").string();
  EXPECT_EQ(QueryBrokerStats(broker.backend(), curve, 300ms).status().code(),
            StatusCode::kDeadlineExceeded);
  curve.secret_key_file = (dir.path() / "missing.key").string();
  EXPECT_FALSE(QueryBrokerStats(broker.backend(), curve, 300ms).ok());
}

TEST(ConsumerLinkTest, QueryBrokerStatsTimesOutWithoutABroker) {
  const auto start = Clock::now();
  Result<BrokerStats> got =
      QueryBrokerStats("tcp://127.0.0.1:" + std::to_string(Port()), CurveClientConfig{}, 300ms);
  EXPECT_EQ(got.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_LT(Clock::now() - start, 3s);
}

}  // namespace
}  // namespace hw::transport
