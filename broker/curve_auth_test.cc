#include "broker/curve_auth.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <deque>
#include <filesystem>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <zmq_addon.hpp>

#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "common/transport/curve_keys.h"

namespace hw::broker {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Long enough for a CURVE handshake under the sanitizers; only waited for in full on failure.
constexpr auto kArrives = 5000ms;
// How long "gets nothing" watches: a refused client retries every 100 ms, so this spans many tries.
constexpr auto kStaysQuiet = 1500ms;

struct KeyFiles {
  std::string name;
  std::string public_z85;
  std::string secret_z85;
  std::string public_file;
  std::string secret_file;
};

struct Received {
  std::string payload;
  std::string user_id;  // the ZAP User-Id on the payload frame; empty if it has none
};

std::string Raw(const std::string& z85) {
  std::optional<std::string> raw = transport::DecodeZ85Key(z85);
  EXPECT_TRUE(raw.has_value()) << z85;
  return raw.value_or("");
}

class CurveAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = NewKeyPair("broker");
    collector_ = NewKeyPair("collector-01");
    Authorize(collector_);
  }

  // A keypair as `hostwatch keygen NAME` lays it out: keys/NAME.pub and keys/NAME.key.
  KeyFiles NewKeyPair(const std::string& name) {
    Result<transport::CurveKeyPair> pair = transport::GenerateCurveKeyPair();
    EXPECT_TRUE(pair.ok()) << pair.status().ToString();
    fs::path dir = dir_.Sub("keys");
    EXPECT_TRUE(transport::WriteCurveKeyPair(dir, name, *pair).ok());
    return KeyFiles{name, pair->public_z85, pair->secret_z85, (dir / (name + ".pub")).string(),
                    (dir / (name + ".key")).string()};
  }

  void Authorize(const KeyFiles& key) {
    ASSERT_TRUE(
        hw::testing::WriteFile(authorized_dir() / (key.name + ".pub"), key.public_z85 + "\n").ok());
  }

  fs::path authorized_dir() const { return dir_.path() / "authorized"; }

  CurveServerConfig ServerConfig() const {
    CurveServerConfig c;
    c.enabled = true;
    c.secret_key_file = server_.secret_file;
    c.public_key_file = server_.public_file;
    c.authorized_keys_dir = authorized_dir().string();
    return c;
  }

  std::map<std::string, std::string> LoadKeys() {
    Result<std::map<std::string, std::string>> keys = LoadAuthorizedKeys(authorized_dir().string());
    EXPECT_TRUE(keys.ok()) << keys.status().ToString();
    return keys.value_or({});
  }

  void StartHandler() {
    Result<std::unique_ptr<ZapHandler>> zap = ZapHandler::Start(ctx_, LoadKeys());
    ASSERT_TRUE(zap.ok()) << zap.status().ToString();
    zap_ = std::move(zap).value();
  }

  enum class Security { kCurve, kPlainInZapDomain };

  // A ROUTER bound on a loopback port: a CURVE server as the broker makes one, or a NULL-mechanism
  // socket that still asks ZAP because it has a domain. Options are set before bind on purpose:
  // libzmq copies them into the listener at bind, so a later zap_domain has no effect on it.
  void BindRouter(Security security) {
    router_ = zmq::socket_t(ctx_, zmq::socket_type::router);
    router_.set(zmq::sockopt::linger, 0);
    if (security == Security::kCurve) {
      Status s = MakeCurveServer(router_, ServerConfig());
      ASSERT_TRUE(s.ok()) << s.ToString();
    } else {
      router_.set(zmq::sockopt::zap_domain, kZapDomain);
    }
    Result<uint16_t> port = hw::testing::FreeLoopbackPort();
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    endpoint_ = "tcp://127.0.0.1:" + std::to_string(*port);
    router_.bind(endpoint_);
  }

  void StartServer() {
    StartHandler();
    BindRouter(Security::kCurve);
  }

  // A DEALER that has queued one frame; it goes out once (if ever) the handshake completes.
  zmq::socket_t& Connect(const std::optional<transport::CurveClientConfig>& curve,
                         const std::string& payload = "hello") {
    zmq::socket_t& s = clients_.emplace_back(ctx_, zmq::socket_type::dealer);
    s.set(zmq::sockopt::linger, 0);
    if (curve) {
      Status st = MakeCurveClient(s, *curve);
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
    s.connect(endpoint_);
    s.send(zmq::buffer(payload), zmq::send_flags::none);
    return s;
  }

  transport::CurveClientConfig ClientConfig(const KeyFiles& client) const {
    return ClientConfig(client, server_);
  }
  static transport::CurveClientConfig ClientConfig(const KeyFiles& client, const KeyFiles& server) {
    transport::CurveClientConfig c;
    c.enabled = true;
    c.secret_key_file = client.secret_file;
    c.public_key_file = client.public_file;
    c.server_public_key_file = server.public_file;
    return c;
  }

  // The next message on the router, or nullopt when none arrives within `deadline`.
  std::optional<Received> ReceiveWithin(std::chrono::milliseconds deadline) {
    std::array<zmq::pollitem_t, 1> items = {{{router_.handle(), 0, ZMQ_POLLIN, 0}}};
    if (zmq::poll(items.data(), items.size(), deadline) == 0) return std::nullopt;
    std::vector<zmq::message_t> frames;
    EXPECT_TRUE(zmq::recv_multipart(router_, std::back_inserter(frames)));
    EXPECT_EQ(frames.size(), 2u);  // routing id, payload
    if (frames.size() != 2) return std::nullopt;
    Received r{frames[1].to_string(), ""};
    if (const char* user_id = zmq_msg_gets(frames[1].handle(), "User-Id")) r.user_id = user_id;
    return r;
  }

  hw::testing::TempDir dir_;
  KeyFiles server_;
  KeyFiles collector_;
  // Destroyed bottom-up: sockets first, then the handler, then the context (which waits for both).
  zmq::context_t ctx_;
  std::unique_ptr<ZapHandler> zap_;
  zmq::socket_t router_;
  std::string endpoint_;
  std::deque<zmq::socket_t> clients_;  // a deque: Connect hands out references that must stay valid
};

TEST_F(CurveAuthTest, AuthorizedClientGetsThrough) {
  StartServer();
  Connect(ClientConfig(collector_));

  std::optional<Received> got = ReceiveWithin(kArrives);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->payload, "hello");
  EXPECT_EQ(got->user_id, "collector-01");
  EXPECT_EQ(zap_->accepted(), 1u);
  EXPECT_EQ(zap_->denied(), 0u);
}

TEST_F(CurveAuthTest, UserIdIsOnThePayloadNotTheRoutingId) {
  StartServer();
  Connect(ClientConfig(collector_));

  std::array<zmq::pollitem_t, 1> items = {{{router_.handle(), 0, ZMQ_POLLIN, 0}}};
  ASSERT_EQ(zmq::poll(items.data(), items.size(), kArrives), 1);
  std::vector<zmq::message_t> frames;
  ASSERT_TRUE(zmq::recv_multipart(router_, std::back_inserter(frames)));
  ASSERT_EQ(frames.size(), 2u);
  // The frontend's call. The routing-id frame is made by the ROUTER itself and carries no
  // connection metadata, so the User-Id must be read from a payload frame.
  EXPECT_STREQ(frames[1].gets("User-Id"), "collector-01");
  EXPECT_EQ(zmq_msg_gets(frames[0].handle(), "User-Id"), nullptr);
}

TEST_F(CurveAuthTest, UnknownKeyGetsNothing) {
  StartServer();
  KeyFiles stranger = NewKeyPair("stranger");
  Connect(ClientConfig(stranger));

  EXPECT_TRUE(hw::testing::WaitFor([&] { return zap_->denied() >= 1; }, kArrives));
  EXPECT_FALSE(ReceiveWithin(kStaysQuiet).has_value());
  EXPECT_EQ(zap_->accepted(), 0u);
  // libzmq 4.3 treats a ZAP 400 as final: the client gets ERROR, drops its queued message and
  // never reconnects that socket. A producer let in later must open a new socket. If this count
  // grows after a libzmq upgrade, clients retry again: harmless here, but worth knowing.
  EXPECT_EQ(zap_->denied(), 1u);
}

TEST_F(CurveAuthTest, PlaintextClientGetsNothing) {
  StartServer();
  Connect(std::nullopt);

  EXPECT_FALSE(ReceiveWithin(kStaysQuiet).has_value());
  // libzmq refuses the NULL-vs-CURVE mechanism mismatch in the greeting; ZAP is never asked.
  EXPECT_EQ(zap_->accepted(), 0u);
  EXPECT_EQ(zap_->denied(), 0u);
}

TEST_F(CurveAuthTest, WrongServerKeyGetsNothing) {
  StartServer();
  KeyFiles impostor = NewKeyPair("impostor-broker");
  Connect(ClientConfig(collector_, impostor));

  EXPECT_FALSE(ReceiveWithin(kStaysQuiet).has_value());
  // The server cannot open the client's HELLO, so the handshake dies before ZAP.
  EXPECT_EQ(zap_->accepted(), 0u);
  EXPECT_EQ(zap_->denied(), 0u);
}

TEST_F(CurveAuthTest, ReloadAddsAKey) {
  StartServer();
  KeyFiles late = NewKeyPair("late-01");
  zmq::socket_t& refused = Connect(ClientConfig(late), "too early");
  ASSERT_TRUE(hw::testing::WaitFor([&] { return zap_->denied() >= 1; }, kArrives));
  refused.close();  // it would never retry anyway: libzmq treats the 400 as final

  Authorize(late);
  zap_->Reload(LoadKeys());
  Connect(ClientConfig(late), "after reload");

  std::optional<Received> got = ReceiveWithin(kArrives);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->payload, "after reload");
  EXPECT_EQ(got->user_id, "late-01");
  EXPECT_EQ(zap_->accepted(), 1u);
}

TEST_F(CurveAuthTest, ReloadRemovesAKeyForNewConnectionsOnly) {
  StartServer();
  zmq::socket_t& old_connection = Connect(ClientConfig(collector_), "first");
  ASSERT_TRUE(ReceiveWithin(kArrives).has_value());

  zap_->Reload({});
  uint64_t denied_before = zap_->denied();
  Connect(ClientConfig(collector_), "new connection");
  EXPECT_TRUE(hw::testing::WaitFor([&] { return zap_->denied() > denied_before; }, kArrives));

  // ZAP runs once per handshake: revoking a key does not cut a connection already made.
  old_connection.send(zmq::str_buffer("still here"), zmq::send_flags::none);
  std::optional<Received> got = ReceiveWithin(kArrives);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->payload, "still here");
  EXPECT_FALSE(ReceiveWithin(kStaysQuiet).has_value());
}

TEST_F(CurveAuthTest, ReloadWithAnInvalidSetKeepsTheOldOne) {
  StartServer();
  zap_->Reload({{"broken", "not a key"}});
  Connect(ClientConfig(collector_));

  std::optional<Received> got = ReceiveWithin(kArrives);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->user_id, "collector-01");
}

TEST_F(CurveAuthTest, ServerWithoutAHandlerRefusesEveryone) {
  // No ZapHandler in this context. Without ZMQ_ZAP_ENFORCE_DOMAIN libzmq would let this client in
  // (it only needs the server's public key); MakeCurveServer turns enforcement on.
  BindRouter(Security::kCurve);
  Connect(ClientConfig(collector_));
  EXPECT_FALSE(ReceiveWithin(kStaysQuiet).has_value());
}

TEST_F(CurveAuthTest, NullMechanismInTheDomainIsRefusedByTheHandler) {
  // A plain socket that still asks ZAP (a domain is set): the handler itself must say no.
  StartHandler();
  BindRouter(Security::kPlainInZapDomain);
  Connect(std::nullopt);

  EXPECT_TRUE(hw::testing::WaitFor([&] { return zap_->denied() >= 1; }, kArrives));
  EXPECT_FALSE(ReceiveWithin(kStaysQuiet).has_value());
  EXPECT_EQ(zap_->accepted(), 0u);
}

// Speaks ZAP to the handler directly, with requests libzmq itself would never send.
TEST_F(CurveAuthTest, HandlerAnswersOnlyCurveWithAKnownKeyInItsDomain) {
  StartHandler();
  zmq::socket_t req(ctx_, zmq::socket_type::req);
  req.set(zmq::sockopt::linger, 0);
  req.connect("inproc://zeromq.zap.01");

  const std::string known = Raw(collector_.public_z85);
  const std::string unknown = Raw(NewKeyPair("unknown").public_z85);
  struct Case {
    std::string what;
    std::vector<std::string> request;
    std::string status;
    std::string user_id;
  };
  const std::vector<Case> cases = {
      {"known key",
       {"1.0", "1", "hostwatch", "127.0.0.1", "", "CURVE", known},
       "200",
       "collector-01"},
      {"unknown key", {"1.0", "2", "hostwatch", "127.0.0.1", "", "CURVE", unknown}, "400", ""},
      {"other domain", {"1.0", "3", "global", "127.0.0.1", "", "CURVE", known}, "400", ""},
      {"empty domain", {"1.0", "4", "", "127.0.0.1", "", "CURVE", known}, "400", ""},
      {"NULL", {"1.0", "5", "hostwatch", "127.0.0.1", "", "NULL"}, "400", ""},
      {"PLAIN", {"1.0", "6", "hostwatch", "127.0.0.1", "", "PLAIN", "admin", "secret"}, "400", ""},
      {"short key",
       {"1.0", "7", "hostwatch", "127.0.0.1", "", "CURVE", known.substr(1)},
       "400",
       ""},
      {"extra frame", {"1.0", "8", "hostwatch", "127.0.0.1", "", "CURVE", known, "x"}, "400", ""},
      {"version", {"2.0", "9", "hostwatch", "127.0.0.1", "", "CURVE", known}, "400", ""},
      {"too short", {"1.0", "10", "hostwatch"}, "400", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    std::vector<zmq::const_buffer> frames;
    for (const std::string& f : c.request) frames.push_back(zmq::buffer(f));
    ASSERT_TRUE(zmq::send_multipart(req, frames));
    std::array<zmq::pollitem_t, 1> items = {{{req.handle(), 0, ZMQ_POLLIN, 0}}};
    ASSERT_EQ(zmq::poll(items.data(), items.size(), kArrives), 1);
    std::vector<zmq::message_t> reply;
    ASSERT_TRUE(zmq::recv_multipart(req, std::back_inserter(reply)));
    ASSERT_EQ(reply.size(), 6u);
    EXPECT_EQ(reply[0].to_string(), "1.0");
    EXPECT_EQ(reply[1].to_string(), c.request[1]);  // request id echoed
    EXPECT_EQ(reply[2].to_string(), c.status);
    EXPECT_EQ(reply[4].to_string(), c.user_id);
    EXPECT_EQ(reply[5].size(), 0u);  // no metadata
  }
  EXPECT_EQ(zap_->accepted(), 1u);
  EXPECT_EQ(zap_->denied(), cases.size() - 1);
}

TEST_F(CurveAuthTest, OneHandlerPerContext) {
  StartHandler();
  Result<std::unique_ptr<ZapHandler>> second = ZapHandler::Start(ctx_, LoadKeys());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(CurveAuthTest, StartRefusesKeysThatDoNotDecode) {
  Result<std::unique_ptr<ZapHandler>> zap = ZapHandler::Start(ctx_, {{"bad", "short"}});
  ASSERT_FALSE(zap.ok());
  EXPECT_NE(zap.status().message().find("bad"), std::string::npos);
}

TEST_F(CurveAuthTest, LoadAuthorizedKeysReadsPubFilesOnly) {
  KeyFiles web = NewKeyPair("web-1");
  Authorize(web);
  ASSERT_TRUE(
      hw::testing::WriteFile(authorized_dir() / "README", "one NAME.pub per client\n").ok());
  ASSERT_TRUE(
      hw::testing::WriteFile(authorized_dir() / "stray.key", collector_.secret_z85 + "\n").ok());

  std::map<std::string, std::string> keys = LoadKeys();
  EXPECT_EQ(keys, (std::map<std::string, std::string>{{"collector-01", collector_.public_z85},
                                                      {"web-1", web.public_z85}}));
}

TEST_F(CurveAuthTest, LoadAuthorizedKeysNamesBadFile) {
  ASSERT_TRUE(hw::testing::WriteFile(authorized_dir() / "broken.pub", "not a key\n").ok());
  Result<std::map<std::string, std::string>> keys = LoadAuthorizedKeys(authorized_dir().string());
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.status().message().find("broken.pub"), std::string::npos)
      << keys.status().ToString();
}

TEST_F(CurveAuthTest, LoadAuthorizedKeysNamesBothCopiesOfOneKey) {
  ASSERT_TRUE(
      hw::testing::WriteFile(authorized_dir() / "copy.pub", collector_.public_z85 + "\n").ok());
  Result<std::map<std::string, std::string>> keys = LoadAuthorizedKeys(authorized_dir().string());
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.status().message().find("copy.pub"), std::string::npos);
  EXPECT_NE(keys.status().message().find("collector-01.pub"), std::string::npos);
}

TEST_F(CurveAuthTest, LoadAuthorizedKeysNamesMissingDir) {
  std::string missing = (dir_.path() / "nowhere").string();
  Result<std::map<std::string, std::string>> keys = LoadAuthorizedKeys(missing);
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.status().message().find(missing), std::string::npos);
  EXPECT_FALSE(LoadAuthorizedKeys("").ok());
}

TEST_F(CurveAuthTest, MakeCurveServerChecksItsKeyFiles) {
  zmq::socket_t s(ctx_, zmq::socket_type::router);
  s.set(zmq::sockopt::linger, 0);

  CurveServerConfig mismatched = ServerConfig();
  mismatched.public_key_file = collector_.public_file;
  Status st = MakeCurveServer(s, mismatched);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(collector_.public_file), std::string::npos) << st.ToString();

  CurveServerConfig missing = ServerConfig();
  missing.secret_key_file = (dir_.path() / "nope.key").string();
  st = MakeCurveServer(s, missing);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("nope.key"), std::string::npos) << st.ToString();

  CurveServerConfig unset = ServerConfig();
  unset.secret_key_file.clear();
  EXPECT_FALSE(MakeCurveServer(s, unset).ok());
}

TEST_F(CurveAuthTest, MakeCurveClientChecksItsKeyFiles) {
  zmq::socket_t s(ctx_, zmq::socket_type::dealer);
  s.set(zmq::sockopt::linger, 0);
  transport::CurveClientConfig c = ClientConfig(collector_);
  c.public_key_file = server_.public_file;
  Status st = MakeCurveClient(s, c);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find(server_.public_file), std::string::npos) << st.ToString();
}

TEST(KeyMayPublishFor, Globs) {
  const std::map<std::string, std::vector<std::string>> bindings = {
      {"game-host", {"game-01"}},
      {"game-fleet", {"game-*"}},
      {"web", {"web-?"}},
      {"multi", {"db-?", "cache-*"}},
      {"nothing", {}},
  };
  struct Case {
    std::string key, endpoint;
    bool allowed;
  };
  const std::vector<Case> cases = {
      {"unbound", "anything", false},  // no binding: fail closed...
      {"unbound", "unbound", true},    // ...but its own name
      {"game-host", "game-01", true},  {"game-host", "game-02", false},
      {"game-fleet", "game-77", true}, {"game-fleet", "web-1", false},
      {"game-fleet", "game-", true},   {"web", "web-1", true},
      {"web", "web-12", false},        {"web", "web-", false},
      {"multi", "db-1", true},         {"multi", "cache-eu-1", true},
      {"multi", "db-12", false},       {"nothing", "game-01", false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(KeyMayPublishFor(bindings, c.key, c.endpoint), c.allowed)
        << c.key << " for " << c.endpoint;
  }
}

TEST(KeyMayReadGroup, OwnNameOrBoundGlobs) {
  const std::map<std::string, std::vector<std::string>> bindings = {{"ops", {"alerter", "ops-*"}}};
  EXPECT_TRUE(KeyMayReadGroup(bindings, "ops", "alerter"));
  EXPECT_TRUE(KeyMayReadGroup(bindings, "ops", "ops-1"));
  EXPECT_FALSE(KeyMayReadGroup(bindings, "ops", "ops"));  // bound: only its globs
  EXPECT_TRUE(KeyMayReadGroup(bindings, "graphite", "graphite"));
  EXPECT_FALSE(KeyMayReadGroup(bindings, "graphite", "alerter"));
}

TEST(GlobMatch, Backtracks) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_FALSE(GlobMatch("", "a"));
  EXPECT_TRUE(GlobMatch("a*b*c", "axxbyybzc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "axxbyybz"));
  EXPECT_TRUE(GlobMatch("*-01", "game-sg-01"));
  EXPECT_TRUE(GlobMatch("?*", "x"));
  EXPECT_FALSE(GlobMatch("?*", ""));
  EXPECT_TRUE(GlobMatch("**a", "a"));
  EXPECT_FALSE(GlobMatch("game.*", "gamex1"));  // '.' is literal: no regex
  EXPECT_FALSE(GlobMatch(std::string(30, '*') + "b", std::string(60, 'a')));  // no blow-up
}

}  // namespace
}  // namespace hw::broker
