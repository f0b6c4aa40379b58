// The broker against raw ZeroMQ peers: the wire protocol of docs/wire_format.md §4–§5, hostile
// input, crash recovery and journal corruption. Uses the real hostwatch-broker binary.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <zmq.hpp>

#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "hostwatch/v1/hostwatch.pb.h"
#include "hostwatch/v1/link.pb.h"
#include "tests/integration/broker_harness.h"

namespace hw {
namespace {

using hostwatch::v1::Ack;
using hostwatch::v1::ConsumerMessage;
using hostwatch::v1::ConsumerRequest;
using hostwatch::v1::Envelope;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

// Header only: a producer link's heartbeat when seq is one the broker has.
std::string Bodyless(const std::string& source, uint64_t epoch, uint64_t seq) {
  Envelope env;
  env.set_source(source);
  env.set_epoch(epoch);
  env.set_seq(seq);
  return env.SerializeAsString();
}

std::string MakeEnvelope(const std::string& endpoint, uint64_t epoch, uint64_t seq,
                         double value = 1.0, int samples = 4) {
  Envelope env;
  env.set_source(endpoint + "/test");
  env.set_epoch(epoch);
  env.set_seq(seq);
  env.set_sent_ms(1);
  auto* b = env.mutable_samples();
  b->set_endpoint(endpoint);
  for (int i = 0; i < samples; ++i) {
    auto* s = b->add_samples();
    s->set_metric("test.metric" + std::to_string(i));
    s->set_value(value);
    s->set_time_ms(1'700'000'000'000 + static_cast<int64_t>(seq));
  }
  return env.SerializeAsString();
}

class RawProducer {
 public:
  RawProducer(zmq::context_t& ctx, const std::string& frontend)
      : sock_(ctx, zmq::socket_type::dealer) {
    sock_.set(zmq::sockopt::linger, 0);
    sock_.connect(frontend);
  }
  void Send(const std::string& bytes) { sock_.send(zmq::buffer(bytes), zmq::send_flags::none); }
  std::optional<Ack> Recv(std::chrono::milliseconds timeout) {
    zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, timeout);
    if (!(items[0].revents & ZMQ_POLLIN)) return std::nullopt;
    zmq::message_t m;
    if (!sock_.recv(m)) return std::nullopt;
    Ack a;
    if (!a.ParseFromArray(m.data(), static_cast<int>(m.size()))) return std::nullopt;
    return a;
  }
  // Reads acks until one with acked_seq >= seq and the given status arrives, or the deadline.
  std::optional<Ack> WaitFor(uint64_t seq, Ack::Status status, std::chrono::milliseconds deadline) {
    auto end = std::chrono::steady_clock::now() + deadline;
    while (std::chrono::steady_clock::now() < end) {
      auto a = Recv(100ms);
      if (a && a->acked_seq() >= seq && a->status() == status) return a;
    }
    return std::nullopt;
  }

 private:
  zmq::socket_t sock_;
};

class RawConsumer {
 public:
  RawConsumer(zmq::context_t& ctx, const std::string& backend)
      : sock_(ctx, zmq::socket_type::dealer) {
    sock_.set(zmq::sockopt::linger, 0);
    sock_.connect(backend);
  }
  void Request(const ConsumerRequest& r) {
    std::string b = r.SerializeAsString();
    sock_.send(zmq::buffer(b), zmq::send_flags::none);
  }
  void Subscribe(const std::string& group, hostwatch::v1::Subscribe::Start start, uint32_t credit) {
    ConsumerRequest r;
    r.mutable_subscribe()->set_group(group);
    r.mutable_subscribe()->set_start(start);
    r.mutable_subscribe()->set_credit(credit);
    Request(r);
  }
  struct Item {
    uint32_t partition;
    uint64_t offset;
    Envelope env;
  };
  // Collects deliveries (granting credit back) until `want` arrive or no message for `idle`.
  std::vector<Item> Collect(size_t want, std::chrono::milliseconds idle) {
    std::vector<Item> out;
    size_t since_credit = 0;
    for (;;) {
      zmq::pollitem_t items[] = {{sock_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, idle);
      if (!(items[0].revents & ZMQ_POLLIN)) break;
      zmq::message_t head;
      (void)sock_.recv(head);
      ConsumerMessage msg;
      msg.ParseFromArray(head.data(), static_cast<int>(head.size()));
      if (msg.has_assignment()) {
        assignment = msg.assignment();
        continue;
      }
      if (msg.has_stats()) {
        stats = msg.stats();
        continue;
      }
      if (!msg.has_delivery()) continue;
      zmq::message_t body;
      (void)sock_.recv(body);
      Item it{msg.delivery().partition(), msg.delivery().offset(), {}};
      it.env.ParseFromArray(body.data(), static_cast<int>(body.size()));
      out.push_back(std::move(it));
      if (++since_credit >= 50) {
        ConsumerRequest r;
        r.mutable_credit()->set_n(static_cast<uint32_t>(since_credit));
        Request(r);
        since_credit = 0;
      }
      if (out.size() >= want) break;
    }
    return out;
  }
  void CommitAll(const std::vector<Item>& items) {
    std::map<uint32_t, uint64_t> top;
    for (const auto& i : items) top[i.partition] = std::max(top[i.partition], i.offset);
    for (auto [p, o] : top) {
      ConsumerRequest r;
      r.mutable_commit()->set_partition(p);
      r.mutable_commit()->set_offset(o);
      Request(r);
    }
  }
  std::optional<hostwatch::v1::BrokerStats> Stats(std::chrono::milliseconds timeout) {
    stats.reset();
    ConsumerRequest r;
    r.mutable_stats();
    Request(r);
    auto end = std::chrono::steady_clock::now() + timeout;
    while (!stats && std::chrono::steady_clock::now() < end) Collect(1, 100ms);
    return stats;
  }

  std::optional<hostwatch::v1::Assignment> assignment;
  std::optional<hostwatch::v1::BrokerStats> stats;

 private:
  zmq::socket_t sock_;
};

class BrokerProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = testing::BrokerProcess::Start(dir_.path());
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
  }
  testing::TempDir dir_;
  zmq::context_t ctx_;
  std::unique_ptr<testing::BrokerProcess> broker_;
};

TEST_F(BrokerProtocolTest, AppendsAcksDuplicatesAndGaps) {
  RawProducer p(ctx_, broker_->frontend());
  for (uint64_t seq = 1; seq <= 100; ++seq) p.Send(MakeEnvelope("game-01", 7, seq));
  ASSERT_TRUE(p.WaitFor(100, Ack::OK, 10s)) << broker_->Log();

  p.Send(MakeEnvelope("game-01", 7, 50));  // duplicate: acked with the last seq, not appended
  auto dup = p.WaitFor(100, Ack::OK, 5s);
  ASSERT_TRUE(dup);
  EXPECT_EQ(dup->acked_seq(), 100u);

  p.Send(MakeEnvelope("game-01", 7, 105));  // gap
  auto gap = p.WaitFor(100, Ack::GAP, 5s);
  ASSERT_TRUE(gap);
  EXPECT_EQ(gap->acked_seq(), 100u);

  p.Send(MakeEnvelope("game-01", 9, 1000));  // a new epoch starts wherever it starts
  ASSERT_TRUE(p.WaitFor(1000, Ack::OK, 5s));

  RawConsumer c(ctx_, broker_->backend());
  auto stats = c.Stats(5s);
  ASSERT_TRUE(stats);
  EXPECT_GE(stats->appended(), 101u);
  EXPECT_GE(stats->duplicates(), 1u);
  // The producer board lists a new source before its first ack goes out.
  const hostwatch::v1::ProducerStats* game01 = nullptr;
  for (const auto& ps : stats->producers()) {
    if (ps.source() == "game-01/test") game01 = &ps;
  }
  ASSERT_NE(game01, nullptr);
  EXPECT_LT(game01->partition(), 4u);
}

// Many new sources in a burst (a fleet's first start): each is on the board before its ack leaves,
// whether the frontend appended it to the board or published the board whole.
TEST_F(BrokerProtocolTest, EveryNewSourceOfABurstIsListedOnceItIsAcked) {
  RawProducer p(ctx_, broker_->frontend());
  constexpr int kSources = 300;
  for (int i = 0; i < kSources; ++i) p.Send(MakeEnvelope("burst-" + std::to_string(i), 3, 1));
  int acked = 0;
  while (acked < kSources) {
    auto a = p.Recv(5s);
    ASSERT_TRUE(a) << "only " << acked << " acks; " << broker_->Log();
    ASSERT_EQ(a->status(), Ack::OK);
    ++acked;
  }
  RawConsumer c(ctx_, broker_->backend());
  auto stats = c.Stats(5s);
  ASSERT_TRUE(stats);
  std::multiset<std::string> listed;
  for (const auto& ps : stats->producers()) listed.insert(ps.source());
  for (int i = 0; i < kSources; ++i) {
    EXPECT_EQ(listed.count("burst-" + std::to_string(i) + "/test"), 1u) << i;
  }
}

TEST_F(BrokerProtocolTest, AnIdleProducersHeartbeatIsAnsweredAndNeitherStoredNorCounted) {
  RawProducer p(ctx_, broker_->frontend());
  for (uint64_t seq = 1; seq <= 10; ++seq) p.Send(MakeEnvelope("game-02", 7, seq));
  ASSERT_TRUE(p.WaitFor(10, Ack::OK, 10s)) << broker_->Log();
  RawConsumer c(ctx_, broker_->backend());
  auto before = c.Stats(5s);
  ASSERT_TRUE(before);

  // The producer link's heartbeat: header only, seq = its last acked (docs/wire_format.md §4).
  p.Send(Bodyless("game-02/test", 7, 10));
  auto hb = p.WaitFor(10, Ack::OK, 5s);
  ASSERT_TRUE(hb) << broker_->Log();
  EXPECT_EQ(hb->source(), "game-02/test");
  // A body-less envelope that would be new is no heartbeat: it is rejected as before.
  p.Send(Bodyless("game-02/test", 7, 11));
  ASSERT_TRUE(p.WaitFor(11, Ack::REJECTED, 5s));

  auto after = c.Stats(5s);
  ASSERT_TRUE(after);
  EXPECT_EQ(after->appended(), before->appended());
  EXPECT_EQ(after->duplicates(), before->duplicates());
  EXPECT_EQ(after->rejected(), before->rejected() + 1);
}

TEST_F(BrokerProtocolTest, HostileInputIsRejectedCountedAndHarmless) {
  RawProducer good(ctx_, broker_->frontend());
  RawProducer bad(ctx_, broker_->frontend());
  uint64_t seq = 0;
  auto send_good = [&](int n) {
    for (int i = 0; i < n; ++i) good.Send(MakeEnvelope("web-1", 1, ++seq));
  };
  send_good(50);

  // Invalid protobuf, invalid names, a NaN value, an empty frame.
  bad.Send(std::string("\xff\xfe\xfd garbage", 12));
  auto r1 = bad.WaitFor(0, Ack::REJECTED, 5s);
  ASSERT_TRUE(r1);
  EXPECT_FALSE(r1->error().empty());
  bad.Send(MakeEnvelope("bad host", 1, 1));
  ASSERT_TRUE(bad.WaitFor(0, Ack::REJECTED, 5s));
  bad.Send(MakeEnvelope("nan-host", 1, 1, std::nan("")));
  auto r3 = bad.WaitFor(1, Ack::REJECTED, 5s);
  ASSERT_TRUE(r3);
  EXPECT_THAT(r3->error(), HasSubstr("NaN"));
  bad.Send(MakeEnvelope("nan-host", 1, 2));  // the stream goes on after a rejected seq
  ASSERT_TRUE(bad.WaitFor(2, Ack::OK, 5s));
  bad.Send(std::string());
  ASSERT_TRUE(bad.WaitFor(0, Ack::REJECTED, 5s));
  send_good(50);

  // Random bytes over raw TCP, and an oversize frame (ZMQ_MAXMSGSIZE: the peer is disconnected).
  std::mt19937 rng(42);
  for (int round = 0; round < 5; ++round) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(broker_->frontend_port());
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      std::string junk(4096, '\0');
      for (char& ch : junk) ch = static_cast<char>(rng());
      (void)!write(fd, junk.data(), junk.size());
    }
    close(fd);
  }
  {
    // Just over max_message_bytes (4 MiB): answered, counted and logged (issue 12, finding 8).
    RawProducer over(ctx_, broker_->frontend());
    over.Send(std::string(5u << 20, 'x'));
    auto a = over.Recv(10s);
    ASSERT_TRUE(a) << broker_->Log();
    EXPECT_EQ(a->status(), Ack::REJECTED);
    EXPECT_THAT(a->error(), HasSubstr("max_message_bytes"));
    // Beyond twice the limit ZeroMQ drops the frame and the connection (ZMQ_MAXMSGSIZE).
    RawProducer huge(ctx_, broker_->frontend());
    huge.Send(std::string(9u << 20, 'x'));
    EXPECT_FALSE(huge.Recv(1s).has_value());
  }
  send_good(50);
  ASSERT_TRUE(good.WaitFor(150, Ack::OK, 10s)) << broker_->Log();
  EXPECT_TRUE(broker_->Running());

  // Everything the good producer sent is in the journal, once.
  RawConsumer c(ctx_, broker_->backend());
  c.Subscribe("hostile", hostwatch::v1::Subscribe::EARLIEST, 1000);
  auto items = c.Collect(100000, 2s);
  std::set<uint64_t> web1;
  size_t web1_total = 0;
  for (const auto& it : items) {
    if (it.env.source() == "web-1/test") {
      web1.insert(it.env.seq());
      ++web1_total;
    }
    EXPECT_NE(it.env.source(), "bad host/test");
  }
  EXPECT_EQ(web1.size(), 150u);
  EXPECT_EQ(web1_total, 150u);
  auto stats = c.Stats(5s);
  ASSERT_TRUE(stats);
  EXPECT_GE(stats->rejected(), 4u);
  EXPECT_GE(stats->rejected_by_reason().size(), 2u);
  EXPECT_EQ(stats->oversize(), 1u);
  EXPECT_THAT(broker_->Log(), HasSubstr("over max_message_bytes"));
}

TEST_F(BrokerProtocolTest, GroupsGetEverythingAndResumeAfterCommit) {
  RawProducer p(ctx_, broker_->frontend());
  const int kSources = 10, kPer = 100;
  for (int s = 0; s < kSources; ++s) {
    for (uint64_t seq = 1; seq <= kPer; ++seq)
      p.Send(MakeEnvelope("host-" + std::to_string(s), 5, seq));
  }
  // Acks come per source; wait until the journal has them all.
  RawConsumer probe(ctx_, broker_->backend());
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto st = probe.Stats(1s);
        return st && st->appended() >= kSources * kPer;
      },
      20s));

  auto count_test = [](const std::vector<RawConsumer::Item>& items) {
    std::set<std::pair<std::string, uint64_t>> seen;
    size_t total = 0;
    for (const auto& it : items) {
      if (it.env.source().ends_with("/test")) {
        seen.insert({it.env.source(), it.env.seq()});
        ++total;
      }
    }
    return std::make_pair(seen.size(), total);
  };

  RawConsumer a(ctx_, broker_->backend());
  a.Subscribe("g1", hostwatch::v1::Subscribe::COMMITTED, 100);
  auto got = a.Collect(100000, 2s);
  auto [distinct, total] = count_test(got);
  EXPECT_EQ(distinct, static_cast<size_t>(kSources * kPer));
  EXPECT_EQ(total, static_cast<size_t>(kSources * kPer));
  ASSERT_TRUE(a.assignment);
  EXPECT_EQ(a.assignment->partitions_size(), 4);
  a.CommitAll(got);

  RawConsumer b(ctx_, broker_->backend());  // a second group gets everything too
  b.Subscribe("g2", hostwatch::v1::Subscribe::COMMITTED, 5000);
  EXPECT_EQ(count_test(b.Collect(100000, 2s)).first, static_cast<size_t>(kSources * kPer));

  // The commit survives a broker restart: g1 resumes after it.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto st = probe.Stats(1s);
        if (!st) return false;
        for (const auto& g : st->groups()) {
          if (g.group() != "g1") continue;
          uint64_t lag = 0;
          for (const auto& pl : g.partitions()) lag += pl.lag();
          return lag == 0;
        }
        return false;
      },
      10s));
  ASSERT_EQ(broker_->Stop(), 0) << broker_->Log();
  ASSERT_TRUE(broker_->Restart().ok());
  RawProducer p2(ctx_, broker_->frontend());
  for (uint64_t seq = kPer + 1; seq <= kPer + 10; ++seq) p2.Send(MakeEnvelope("host-0", 5, seq));
  ASSERT_TRUE(p2.WaitFor(kPer + 10, Ack::OK, 10s));
  RawConsumer a2(ctx_, broker_->backend());
  a2.Subscribe("g1", hostwatch::v1::Subscribe::COMMITTED, 1000);
  auto after = a2.Collect(100000, 2s);
  auto [d2, t2] = count_test(after);
  EXPECT_EQ(d2, 10u);
  EXPECT_EQ(t2, 10u);
}

TEST_F(BrokerProtocolTest, DedupSurvivesKill9) {
  RawProducer p(ctx_, broker_->frontend());
  for (uint64_t seq = 1; seq <= 300; ++seq) p.Send(MakeEnvelope("crash-1", 3, seq));
  ASSERT_TRUE(p.WaitFor(300, Ack::OK, 10s));
  broker_->Kill9();
  ASSERT_TRUE(broker_->Restart().ok());
  RawProducer again(ctx_, broker_->frontend());
  for (uint64_t seq = 1; seq <= 310; ++seq)
    again.Send(MakeEnvelope("crash-1", 3, seq));  // resend all
  ASSERT_TRUE(again.WaitFor(310, Ack::OK, 10s)) << broker_->Log();

  RawConsumer c(ctx_, broker_->backend());
  c.Subscribe("after-crash", hostwatch::v1::Subscribe::EARLIEST, 1000);
  auto items = c.Collect(100000, 2s);
  std::set<uint64_t> seqs;
  size_t total = 0;
  for (const auto& it : items) {
    if (it.env.source() != "crash-1/test") continue;
    seqs.insert(it.env.seq());
    ++total;
  }
  EXPECT_EQ(seqs.size(), 310u);
  EXPECT_EQ(total, 310u) << "the journal holds duplicates after a restart";
}

TEST(BrokerJournalCorruptionTest, ServesEveryIntactRecord) {
  testing::TempDir dir;
  zmq::context_t ctx;
  testing::BrokerProcessOptions opts;
  opts.partitions = 1;
  opts.extra_yaml = "  segment_bytes: 1MiB\n";
  auto b = testing::BrokerProcess::Start(dir.path(), opts);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  auto& broker = **b;
  RawProducer p(ctx, broker.frontend());
  const uint64_t kN = 3000;  // ~1.2 KiB each: three segments
  for (uint64_t seq = 1; seq <= kN; ++seq) p.Send(MakeEnvelope("disk-1", 1, seq, 2.0, 40));
  ASSERT_TRUE(p.WaitFor(kN, Ack::OK, 20s));
  ASSERT_EQ(broker.Stop(), 0);

  // Segments of partition 0, oldest first.
  std::vector<std::filesystem::path> segs;
  for (const auto& e : std::filesystem::directory_iterator(broker.data_dir() / "p000")) {
    if (e.path().extension() == ".log") segs.push_back(e.path());
  }
  std::sort(segs.begin(), segs.end());
  ASSERT_GE(segs.size(), 2u);
  {  // a flipped byte in the middle of the first (sealed) segment
    std::fstream f(segs.front(), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(std::filesystem::file_size(segs.front()) / 2));
    char ch;
    f.get(ch);
    f.seekp(static_cast<std::streamoff>(std::filesystem::file_size(segs.front()) / 2));
    f.put(static_cast<char>(ch ^ 0x5a));
  }
  {  // garbage appended to the last segment
    std::ofstream f(segs.back(), std::ios::app | std::ios::binary);
    f << std::string("\x13\x37garbage-tail-not-a-record", 27);
  }
  ASSERT_TRUE(broker.Restart().ok());
  RawConsumer c(ctx, broker.backend());
  c.Subscribe("after-corruption", hostwatch::v1::Subscribe::EARLIEST, 5000);
  auto items = c.Collect(100000, 3s);
  std::set<uint64_t> seqs;
  for (const auto& it : items) {
    if (it.env.source() == "disk-1/test") seqs.insert(it.env.seq());
  }
  EXPECT_EQ(seqs.size(), kN - 1) << "exactly the one damaged record is lost";
  auto stats = c.Stats(5s);
  ASSERT_TRUE(stats);
  EXPECT_GE(stats->recovered_truncated_bytes(), 27u);
  EXPECT_EQ(stats->recovered_corrupt_records(), 1u);
  EXPECT_THAT(broker.Log(), HasSubstr("corrupt"));
}

}  // namespace
}  // namespace hw
