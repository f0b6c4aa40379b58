// CURVE on the real broker (docs/wire_format.md §8), keys made by the real `hostwatch keygen`: a
// plaintext client, a client with an unknown key and a client with the wrong server key get nothing
// accepted; an authorized client works; a key bound to endpoint A cannot publish for B, and an
// unbound key only for its own name. Key roles (issue 12): producer keys only publish, consumer
// keys only read their groups and query status, and a revoked key's open connections are closed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <functional>
#include <set>
#include <zmq.hpp>

#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "common/transport/curve_keys.h"
#include "common/transport/link_config.h"
#include "hostwatch/v1/hostwatch.pb.h"
#include "hostwatch/v1/link.pb.h"
#include "tests/integration/broker_harness.h"

namespace hw {
namespace {

using hostwatch::v1::Ack;
using namespace std::chrono_literals;

std::string Envelope(const std::string& endpoint, uint64_t seq, uint64_t epoch = 11) {
  hostwatch::v1::Envelope env;
  env.set_source(endpoint + "/test");
  env.set_epoch(epoch);
  env.set_seq(seq);
  auto* b = env.mutable_samples();
  b->set_endpoint(endpoint);
  auto* s = b->add_samples();
  s->set_metric("cpu.busy");
  s->set_value(42);
  s->set_time_ms(1'700'000'000'000);
  return env.SerializeAsString();
}

std::string Key(const std::filesystem::path& p) {
  Result<std::string> k = transport::ReadZ85KeyFile(p.string());
  return k.ok() ? *k : std::string();
}

class CurveBrokerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    keys_ = dir_.Sub("keys");
    authorized_ = dir_.Sub("authorized");
    consumers_ = dir_.Sub("consumers");
    for (const char* name :
         {"broker", "game-a", "game-b", "solo", "ops", "mon", "stranger", "fake-broker"}) {
      std::string out;
      testing::SubprocessOptions o;
      Result<int> rc = testing::RunCommand(
          {"/bin/sh", "-c",
           "cd '" + keys_.string() + "' && '" HW_BINARY_DIR "/cli/hostwatch' keygen " + name},
          &out, 10s);
      ASSERT_TRUE(rc.ok() && *rc == 0) << out;
    }
    std::filesystem::copy_file(keys_ / "game-a.pub", authorized_ / "game-a.pub");
    std::filesystem::copy_file(keys_ / "game-b.pub", authorized_ / "game-b.pub");
    std::filesystem::copy_file(keys_ / "solo.pub", authorized_ / "solo.pub");
    std::filesystem::copy_file(keys_ / "ops.pub", consumers_ / "ops.pub");
    std::filesystem::copy_file(keys_ / "mon.pub", consumers_ / "mon.pub");
    testing::BrokerProcessOptions opts;
    opts.top_yaml =
        "curve:\n  enabled: true\n  secret_key_file: " + (keys_ / "broker.key").string() +
        "\n  public_key_file: " + (keys_ / "broker.pub").string() +
        "\n  authorized_keys_dir: " + authorized_.string() +
        "\n  bindings: {game-a: [game-a], game-b: [game-b]}\n  consumer_keys_dir: " +
        consumers_.string() + "\n  group_bindings: {ops: ['*']}\n";
    auto b = testing::BrokerProcess::Start(dir_.path(), opts);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
  }

  // A DEALER to `endpoint` speaking CURVE with key `curve_name` against the server key
  // `server_pub_name`; curve_name empty: plaintext.
  zmq::socket_t Dealer(const std::string& endpoint, const std::string& curve_name,
                       const std::string& server_pub_name = "broker") {
    zmq::socket_t s(ctx_, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    if (!curve_name.empty()) {
      s.set(zmq::sockopt::curve_serverkey, Key(keys_ / (server_pub_name + ".pub")));
      s.set(zmq::sockopt::curve_publickey, Key(keys_ / (curve_name + ".pub")));
      s.set(zmq::sockopt::curve_secretkey, Key(keys_ / (curve_name + ".key")));
    }
    s.connect(endpoint);
    return s;
  }
  zmq::socket_t Producer(const std::string& curve_name,
                         const std::string& server_pub_name = "broker") {
    return Dealer(broker_->frontend(), curve_name, server_pub_name);
  }

  std::optional<Ack> SendAndWait(zmq::socket_t& s, const std::string& bytes,
                                 std::chrono::milliseconds wait) {
    s.send(zmq::buffer(bytes), zmq::send_flags::dontwait);
    zmq::pollitem_t items[] = {{s.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, wait);
    if (!(items[0].revents & ZMQ_POLLIN)) return std::nullopt;
    zmq::message_t m;
    (void)s.recv(m);
    Ack a;
    a.ParseFromArray(m.data(), static_cast<int>(m.size()));
    return a;
  }

  // Every journaled envelope but the broker's own samples, read as group `group` over a CURVE
  // consumer connection, each as key(envelope).
  std::multiset<std::string> Journaled(
      const std::string& group,
      const std::function<std::string(const hostwatch::v1::Envelope&)>& key) {
    zmq::socket_t s = Dealer(broker_->backend(), "ops");
    hostwatch::v1::ConsumerRequest r;
    r.mutable_subscribe()->set_group(group);
    r.mutable_subscribe()->set_start(hostwatch::v1::Subscribe::EARLIEST);
    r.mutable_subscribe()->set_credit(1000);
    std::string b = r.SerializeAsString();
    s.send(zmq::buffer(b), zmq::send_flags::none);
    std::multiset<std::string> out;
    for (;;) {
      zmq::pollitem_t items[] = {{s.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, 1, 2s);
      if (!(items[0].revents & ZMQ_POLLIN)) break;
      zmq::message_t head;
      (void)s.recv(head);
      hostwatch::v1::ConsumerMessage msg;
      msg.ParseFromArray(head.data(), static_cast<int>(head.size()));
      if (!msg.has_delivery()) continue;
      zmq::message_t body;
      (void)s.recv(body);
      hostwatch::v1::Envelope env;
      env.ParseFromArray(body.data(), static_cast<int>(body.size()));
      if (!env.source().ends_with("/broker")) out.insert(key(env));
    }
    return out;
  }
  // "source seq" of every journaled envelope.
  std::multiset<std::string> JournaledSeqs(const std::string& group) {
    return Journaled(group, [](const hostwatch::v1::Envelope& e) {
      return e.source() + " " + std::to_string(e.seq());
    });
  }
  // The source of every journaled envelope.
  std::multiset<std::string> JournaledSources(const std::string& group) {
    return Journaled(group, [](const hostwatch::v1::Envelope& e) { return e.source(); });
  }

  // Stats over a CURVE consumer connection as "ops".
  std::optional<hostwatch::v1::BrokerStats> Stats() {
    zmq::socket_t s = Dealer(broker_->backend(), "ops");
    hostwatch::v1::ConsumerRequest r;
    r.mutable_stats();
    std::string b = r.SerializeAsString();
    s.send(zmq::buffer(b), zmq::send_flags::none);
    zmq::pollitem_t items[] = {{s.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, 5s);
    if (!(items[0].revents & ZMQ_POLLIN)) return std::nullopt;
    zmq::message_t m;
    (void)s.recv(m);
    hostwatch::v1::ConsumerMessage msg;
    msg.ParseFromArray(m.data(), static_cast<int>(m.size()));
    if (!msg.has_stats()) return std::nullopt;
    return msg.stats();
  }

  testing::TempDir dir_;
  std::filesystem::path keys_, authorized_, consumers_;
  zmq::context_t ctx_;
  std::unique_ptr<testing::BrokerProcess> broker_;
};

TEST_F(CurveBrokerTest, OnlyAuthorizedKeysGetThroughAndBindingsHold) {
  // Negative cases first, each given time to be accepted if it could be: none may be.
  zmq::socket_t plain = Producer("");
  EXPECT_FALSE(SendAndWait(plain, Envelope("game-a", 1), 2s)) << "plaintext accepted";
  zmq::socket_t unknown = Producer("stranger");
  EXPECT_FALSE(SendAndWait(unknown, Envelope("game-a", 1), 2s)) << "unknown key accepted";
  zmq::socket_t wrong_server = Producer("game-a", "fake-broker");
  EXPECT_FALSE(SendAndWait(wrong_server, Envelope("game-a", 1), 2s)) << "wrong server key accepted";

  EXPECT_TRUE(JournaledSources("before").empty()) << broker_->Log();

  // The authorized, bound key publishes for its own endpoint...
  zmq::socket_t a = Producer("game-a");
  auto ok = SendAndWait(a, Envelope("game-a", 1), 5s);
  ASSERT_TRUE(ok) << broker_->Log();
  EXPECT_EQ(ok->status(), Ack::OK);
  // ...and not for another one.
  auto bad = SendAndWait(a, Envelope("game-b", 1), 5s);
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status(), Ack::REJECTED);
  EXPECT_THAT(bad->error(), ::testing::HasSubstr("may not publish for endpoint \"game-b\""));
  // An authorized key without bindings may speak only for the endpoint of its own name (issue 12:
  // bindings used to fail open).
  zmq::socket_t solo = Producer("solo");
  auto own = SendAndWait(solo, Envelope("solo", 1), 5s);
  ASSERT_TRUE(own);
  EXPECT_EQ(own->status(), Ack::OK);
  auto any = SendAndWait(solo, Envelope("anything-1", 1), 5s);
  ASSERT_TRUE(any);
  EXPECT_EQ(any->status(), Ack::REJECTED);

  EXPECT_EQ(JournaledSources("after"), (std::multiset<std::string>{"game-a/test", "solo/test"}));
  auto stats = Stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->rejected(), 2u);
  EXPECT_THAT(broker_->Log(), ::testing::HasSubstr("CURVE on: 3 authorized client keys"));
}

// Issue 12, finding 1: a key bound to A that sends B's next seqs must not use them up. Before the
// fix every one was recorded in the dedup table although rejected, and B's own envelopes with
// those seqs were then acked as duplicates and never journaled.
TEST_F(CurveBrokerTest, SpoofedSeqsFromAnotherKeyLoseNothingOfTheVictimsStream) {
  zmq::socket_t b = Producer("game-b");
  for (uint64_t seq = 1; seq <= 5; ++seq) {
    auto ack = SendAndWait(b, Envelope("game-b", seq, 77), 5s);
    ASSERT_TRUE(ack && ack->status() == Ack::OK) << broker_->Log();
  }
  zmq::socket_t a = Producer("game-a");
  for (uint64_t seq = 6; seq <= 15; ++seq) {
    auto ack = SendAndWait(a, Envelope("game-b", seq, 77), 5s);
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->status(), Ack::REJECTED);
    EXPECT_THAT(ack->error(), ::testing::HasSubstr("binding"));
  }
  for (uint64_t seq = 6; seq <= 15; ++seq) {
    auto ack = SendAndWait(b, Envelope("game-b", seq, 77), 5s);
    ASSERT_TRUE(ack);
    EXPECT_EQ(ack->status(), Ack::OK);
    EXPECT_EQ(ack->acked_seq(), seq);
  }
  std::multiset<std::string> want;
  for (uint64_t seq = 1; seq <= 15; ++seq) want.insert("game-b/test " + std::to_string(seq));
  EXPECT_EQ(JournaledSeqs("victim"), want);
  auto stats = Stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->duplicates(), 0u);
  EXPECT_EQ(stats->rejected_by_reason().at("binding"), 10u);
}

// libzmq never retries a connection that ZAP refused; the producer link opens a new socket later,
// so a key authorized afterwards (SIGHUP reloads authorized_keys_dir) gets through without a
// restart.
TEST_F(CurveBrokerTest, RefusedProducerGetsThroughOnceAuthorized) {
  testing::SubprocessOptions o;
  o.argv = {HW_BINARY_DIR "/cli/hostwatch",
            "send",
            "--broker",
            broker_->frontend(),
            "--curve-key",
            (keys_ / "stranger").string(),
            "--server-key",
            (keys_ / "broker.pub").string(),
            "--endpoint",
            "stranger",  // an unbound key publishes only for its own name
            "--timeout",
            "60",
            "cpu.busy",
            "7"};
  o.stderr_path = dir_.path() / "send.err";
  auto send = testing::Subprocess::Start(o);
  ASSERT_TRUE(send.ok()) << send.status().ToString();
  // Refused first: the broker logs the denial.
  ASSERT_TRUE(testing::WaitFor(
      [&] { return broker_->Log().find("CURVE: refused a connection") != std::string::npos; }, 20s))
      << broker_->Log();
  EXPECT_TRUE(send->Running());
  std::filesystem::copy_file(keys_ / "stranger.pub", authorized_ / "stranger.pub");
  broker_->Signal(SIGHUP);
  std::optional<int> rc = send->Wait(60s);
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 0) << testing::ReadFile(dir_.path() / "send.err").value_or("") << broker_->Log();
  EXPECT_EQ(JournaledSources("late").count("stranger/cli"), 1u);
}

// Issue 12, findings 5 and 6: a producer key cannot subscribe or query status, a consumer key
// cannot publish, and a consumer key reads only its bound groups (so it cannot move another
// group's position either).
TEST_F(CurveBrokerTest, ProducerAndConsumerKeysHaveSeparateRoles) {
  zmq::socket_t a = Producer("game-a");
  ASSERT_TRUE(SendAndWait(a, Envelope("game-a", 1), 5s)) << broker_->Log();

  // A producer key on the backend: ZAP refuses the handshake, so no Stats and no deliveries.
  {
    zmq::socket_t p = Dealer(broker_->backend(), "game-a");
    hostwatch::v1::ConsumerRequest r;
    r.mutable_stats();
    std::string b = r.SerializeAsString();
    p.send(zmq::buffer(b), zmq::send_flags::dontwait);
    r.mutable_subscribe()->set_group("game-a");
    r.mutable_subscribe()->set_start(hostwatch::v1::Subscribe::EARLIEST);
    r.mutable_subscribe()->set_credit(100);
    b = r.SerializeAsString();
    p.send(zmq::buffer(b), zmq::send_flags::dontwait);
    zmq::pollitem_t items[] = {{p.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, 3s);
    EXPECT_FALSE(items[0].revents & ZMQ_POLLIN) << "a producer key got an answer on the backend";
  }
  // `hostwatch status` with a producer key fails; with a consumer key it works.
  auto status = [&](const std::string& key) {
    std::string out;
    Result<int> rc = testing::RunCommand(
        {HW_BINARY_DIR "/cli/hostwatch", "status", "--backend", broker_->backend(), "--rate", "0",
         "--curve-key", (keys_ / key).string(), "--server-key", (keys_ / "broker.pub").string(),
         "--timeout", "3"},
        &out, 30s);
    return rc.ok() ? *rc : -1;
  };
  EXPECT_NE(status("game-a"), 0);
  EXPECT_EQ(status("ops"), 0);
  // A consumer key on the frontend: refused, no ack.
  zmq::socket_t c = Producer("ops");
  EXPECT_FALSE(SendAndWait(c, Envelope("ops", 1), 3s)) << "a consumer key published";

  // A consumer key without group bindings reads only the group of its own name.
  auto subscribe = [&](const std::string& key, const std::string& group) {
    zmq::socket_t s = Dealer(broker_->backend(), key);
    hostwatch::v1::ConsumerRequest r;
    r.mutable_subscribe()->set_group(group);
    r.mutable_subscribe()->set_start(hostwatch::v1::Subscribe::LATEST);
    r.mutable_subscribe()->set_credit(10);
    std::string b = r.SerializeAsString();
    s.send(zmq::buffer(b), zmq::send_flags::none);
    zmq::pollitem_t items[] = {{s.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, 5s);
    hostwatch::v1::ConsumerMessage msg;
    if (!(items[0].revents & ZMQ_POLLIN)) return msg;
    zmq::message_t m;
    (void)s.recv(m);
    msg.ParseFromArray(m.data(), static_cast<int>(m.size()));
    return msg;
  };
  EXPECT_TRUE(subscribe("mon", "mon").has_assignment());
  hostwatch::v1::ConsumerMessage refused = subscribe("mon", "victims");
  ASSERT_TRUE(refused.has_error()) << refused.DebugString();
  EXPECT_THAT(refused.error().error(), ::testing::HasSubstr("may not read group \"victims\""));
  // "victims" was not moved to LATEST by the refused Subscribe: ops still reads it from the start.
  EXPECT_EQ(JournaledSources("victims").count("game-a/test"), 1u);
}

// Issue 12, finding 7: removing a key and sending SIGHUP closes the connections it already had;
// other clients reconnect and carry on.
TEST_F(CurveBrokerTest, RevokingAKeyClosesItsLiveConnections) {
  zmq::socket_t solo = Producer("solo");
  zmq::socket_t a = Producer("game-a");
  ASSERT_TRUE(SendAndWait(solo, Envelope("solo", 1), 5s)) << broker_->Log();
  ASSERT_TRUE(SendAndWait(a, Envelope("game-a", 1), 5s));
  zmq::socket_t mon = Dealer(broker_->backend(), "mon");
  {
    hostwatch::v1::ConsumerRequest r;
    r.mutable_stats();
    std::string b = r.SerializeAsString();
    mon.send(zmq::buffer(b), zmq::send_flags::none);
    zmq::pollitem_t items[] = {{mon.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, 5s);
    ASSERT_TRUE(items[0].revents & ZMQ_POLLIN);
    zmq::message_t m;
    (void)mon.recv(m);
  }

  std::filesystem::remove(authorized_ / "solo.pub");
  std::filesystem::remove(consumers_ / "mon.pub");
  broker_->Signal(SIGHUP);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        const std::string log = broker_->Log();
        return log.find("frontend and tap: every connection closed") != std::string::npos &&
               log.find("backend: every connection closed") != std::string::npos;
      },
      10s))
      << broker_->Log();

  // The revoked producer's open socket gets nothing through any more.
  EXPECT_FALSE(SendAndWait(solo, Envelope("solo", 2), 3s))
      << "a revoked key still publishes" << broker_->Log();
  // Nor does the revoked consumer's.
  {
    hostwatch::v1::ConsumerRequest r;
    r.mutable_stats();
    std::string b = r.SerializeAsString();
    mon.send(zmq::buffer(b), zmq::send_flags::dontwait);
    zmq::pollitem_t items[] = {{mon.handle(), 0, ZMQ_POLLIN, 0}};
    zmq::poll(items, 1, 3s);
    EXPECT_FALSE(items[0].revents & ZMQ_POLLIN) << "a revoked consumer key still gets answers";
  }
  // A key still authorized reconnects by itself (its unacked envelope goes out again).
  auto ok = SendAndWait(a, Envelope("game-a", 2), 10s);
  ASSERT_TRUE(ok) << broker_->Log();
  EXPECT_EQ(ok->status(), Ack::OK);
  auto stats = Stats();
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->revoked_disconnects(), 1u);
  EXPECT_EQ(JournaledSources("revoked").count("solo/test"), 1u);
}

TEST(CurveConfigTest, NonLoopbackWithoutCurveRefusesToStart) {
  testing::TempDir dir;
  ASSERT_TRUE(
      testing::WriteFile(dir.path() / "b.yaml", "broker:\n  frontend: tcp://0.0.0.0:17400\n").ok());
  std::string out;
  Result<int> rc = testing::RunCommand(
      {HW_BINARY_DIR "/broker/hostwatch-broker", "--config", (dir.path() / "b.yaml").string()},
      &out, 20s);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 2);
  EXPECT_THAT(out, ::testing::HasSubstr("not loopback, with CURVE off"));
}

}  // namespace
}  // namespace hw
