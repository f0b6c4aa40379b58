// The real-server fixtures of common/testing/servers.h, exercised with the clients hostwatch uses
// (hiredis, libcurl, a raw plaintext socket for carbon). If these pass, a failing integration test
// elsewhere is about hostwatch, not about its fixtures.
#include "common/testing/servers.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/testing/wait.h"

namespace hw::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Times each fixture start, so slow machines show where the time goes.
template <typename F>
auto Timed(const char* what, F&& start) {
  const auto t0 = std::chrono::steady_clock::now();
  auto result = start();
  const auto ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ timing   ] %s ready in %lld ms\n", what, static_cast<long long>(ms));
  ::testing::Test::RecordProperty(std::string(what) + "_start_ms", static_cast<int>(ms));
  return result;
}

// ---------------------------------------------------------------------------------------------
// hiredis, argv-style commands only: no format strings, so no quoting or injection questions.

struct RedisFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisConn = std::unique_ptr<redisContext, RedisFree>;
using Reply = std::unique_ptr<redisReply, ReplyFree>;

RedisConn Connect(uint16_t port) {
  timeval tv{2, 0};
  return RedisConn(redisConnectWithTimeout("127.0.0.1", port, tv));
}

Reply Command(redisContext* c, const std::vector<std::string>& argv) {
  std::vector<const char*> args;
  std::vector<size_t> lens;
  for (const std::string& a : argv) {
    args.push_back(a.data());
    lens.push_back(a.size());
  }
  return Reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(args.size()), args.data(), lens.data())));
}

std::string Str(const Reply& r) { return r && r->str ? std::string(r->str, r->len) : ""; }

TEST(RedisServerTest, SetThenGetWithHiredis) {
  auto redis = Timed("redis-server", [] { return RedisServer::Start(); });
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();
  EXPECT_GT((*redis)->pid(), 0);
  EXPECT_EQ((*redis)->url(), "redis://127.0.0.1:" + std::to_string((*redis)->port()));

  RedisConn c = Connect((*redis)->port());
  ASSERT_TRUE(c && !c->err) << (c ? c->errstr : "no context");
  Reply set = Command(c.get(), {"SET", "k", "v"});
  ASSERT_TRUE(set);
  EXPECT_EQ(set->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(Str(set), "OK");
  Reply get = Command(c.get(), {"GET", "k"});
  ASSERT_TRUE(get);
  ASSERT_EQ(get->type, REDIS_REPLY_STRING);
  EXPECT_EQ(Str(get), "v");
  // A value with spaces and CRLF goes through unchanged: argv commands need no quoting.
  const std::string tricky = "two words\r\nand a line";
  Reply set2 = Command(c.get(), {"SET", "k2", tricky});
  Reply get2 = Command(c.get(), {"GET", "k2"});
  EXPECT_EQ(Str(get2), tricky);
  // Persistence is off, so nothing a test writes can outlive it.
  Reply save = Command(c.get(), {"CONFIG", "GET", "save"});
  ASSERT_TRUE(save);
  ASSERT_EQ(save->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(save->elements, 2u);
  EXPECT_EQ(std::string(save->element[1]->str, save->element[1]->len), "");
}

TEST(RedisServerTest, PasswordProtectedServerNeedsAuth) {
  RedisOptions opts;
  opts.requirepass = "topsecret";
  opts.acl_user = "tester";
  opts.acl_password = "s3cret";
  auto redis = Timed("redis-server (requirepass)", [&] { return RedisServer::Start(opts); });
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();

  RedisConn c = Connect((*redis)->port());
  ASSERT_TRUE(c && !c->err);
  Reply ping = Command(c.get(), {"PING"});
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(Str(ping).rfind("NOAUTH", 0), 0u) << Str(ping);

  Reply bad = Command(c.get(), {"AUTH", "wrong"});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(Str(bad).rfind("WRONGPASS", 0), 0u) << Str(bad);

  Reply auth = Command(c.get(), {"AUTH", "topsecret"});
  ASSERT_TRUE(auth);
  EXPECT_EQ(Str(auth), "OK");
  Reply pong = Command(c.get(), {"PING"});
  EXPECT_EQ(Str(pong), "PONG");

  // The ACL user authenticates on a connection of its own.
  RedisConn c2 = Connect((*redis)->port());
  ASSERT_TRUE(c2 && !c2->err);
  Reply acl = Command(c2.get(), {"AUTH", "tester", "s3cret"});
  EXPECT_EQ(Str(acl), "OK");
  Reply who = Command(c2.get(), {"ACL", "WHOAMI"});
  EXPECT_EQ(Str(who), "tester");
}

TEST(RedisServerTest, KillThenRestartOnTheSamePort) {
  auto redis = RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status().ToString();
  const uint16_t port = (*redis)->port();
  const pid_t old_pid = (*redis)->pid();
  (*redis)->Kill();
  EXPECT_EQ((*redis)->pid(), -1);
  EXPECT_FALSE(RedisRawCommand(port, {"PING"}, milliseconds(500)).ok());

  auto t0 = std::chrono::steady_clock::now();
  Status restarted = (*redis)->Restart();
  std::printf(
      "[ timing   ] redis-server restart in %lld ms\n",
      static_cast<long long>(
          std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0).count()));
  ASSERT_TRUE(restarted.ok()) << restarted.ToString();
  EXPECT_EQ((*redis)->port(), port);
  EXPECT_NE((*redis)->pid(), old_pid);
  Result<std::string> pong = RedisRawCommand(port, {"PING"});
  ASSERT_TRUE(pong.ok()) << pong.status().ToString();
  EXPECT_EQ(*pong, "+PONG\r\n");
}

// ---------------------------------------------------------------------------------------------
// SMTP through libcurl, as the alerter sends it.

struct MailClient {
  std::string user, password;  // empty: no AUTH
  bool starttls = false;
  std::string cafile;  // trust this certificate for STARTTLS
};

MailClient Login(std::string user, std::string password) {
  MailClient client;
  client.user = std::move(user);
  client.password = std::move(password);
  return client;
}

MailClient StartTls(std::string cafile) {
  MailClient client;
  client.starttls = true;
  client.cafile = std::move(cafile);
  return client;
}

struct SendOutcome {
  CURLcode code = CURLE_OK;
  long smtp_code = 0;  // the server's last reply code
  std::string error;
};

struct Upload {
  std::string_view left;
};

size_t ReadBody(char* buf, size_t size, size_t n, void* user) {
  auto* up = static_cast<Upload*>(user);
  const size_t len = std::min(size * n, up->left.size());
  std::memcpy(buf, up->left.data(), len);
  up->left.remove_prefix(len);
  return len;
}

constexpr char kMessage[] =
    "From: hostwatch <alerts@hostwatch.test>\r\n"
    "To: oncall@hostwatch.test\r\n"
    "Subject: [FIRING] disk.used_percent on game-01\r\n"
    "Date: Sat, 21 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <fixture-1@hostwatch.test>\r\n"
    "\r\n"
    "disk.used_percent{mount=/} is 97.5 on game-01 (threshold 90).\r\n";

SendOutcome SendMail(const SmtpServer& smtp, const MailClient& client = {}) {
  SendOutcome out;
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    out.code = CURLE_FAILED_INIT;
    return out;
  }
  char errbuf[CURL_ERROR_SIZE] = {};
  Upload body{kMessage};
  curl_slist* rcpt = curl_slist_append(nullptr, "<oncall@hostwatch.test>");
  const std::string url = smtp.url();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, "<alerts@hostwatch.test>");
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadBody);
  curl_easy_setopt(curl, CURLOPT_READDATA, &body);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10'000L);  // a hung server fails the test, not CI
  if (!client.user.empty()) {
    curl_easy_setopt(curl, CURLOPT_USERNAME, client.user.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, client.password.c_str());
  }
  if (client.starttls) {
    curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    curl_easy_setopt(curl, CURLOPT_CAINFO, client.cafile.c_str());
  }
  out.code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &out.smtp_code);
  out.error = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(out.code);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(curl);
  return out;
}

bool WaitForMessages(const SmtpServer& smtp, size_t n) {
  return WaitFor([&] { return smtp.MessageCount() >= n; }, milliseconds(5000));
}

TEST(SmtpServerTest, SavesAMessageSentWithLibcurl) {
  auto smtp = Timed("smtp_fixture.py", [] { return SmtpServer::Start(); });
  ASSERT_TRUE(smtp.ok()) << smtp.status().ToString();
  EXPECT_EQ((*smtp)->url(), "smtp://127.0.0.1:" + std::to_string((*smtp)->port()));
  EXPECT_EQ((*smtp)->MessageCount(), 0u);

  SendOutcome sent = SendMail(**smtp);
  ASSERT_EQ(sent.code, CURLE_OK) << sent.error;
  ASSERT_TRUE(WaitForMessages(**smtp, 1));
  Result<std::vector<std::string>> messages = (*smtp)->Messages();
  ASSERT_TRUE(messages.ok()) << messages.status().ToString();
  ASSERT_EQ(messages->size(), 1u);
  EXPECT_NE((*messages)[0].find("Subject: [FIRING] disk.used_percent on game-01\r\n"),
            std::string::npos)
      << (*messages)[0];
  EXPECT_NE((*messages)[0].find("\r\n\r\ndisk.used_percent{mount=/} is 97.5 on game-01"),
            std::string::npos)
      << (*messages)[0];
  Result<std::vector<std::string>> envelopes = (*smtp)->Envelopes();
  ASSERT_TRUE(envelopes.ok()) << envelopes.status().ToString();
  ASSERT_EQ(envelopes->size(), 1u);
  EXPECT_EQ((*envelopes)[0],
            "from=alerts@hostwatch.test\nto=oncall@hostwatch.test\nauth=\ntls=False\n");
}

TEST(SmtpServerTest, TransientFailureThenSuccess) {
  SmtpOptions opts;
  opts.fail_code = 451;
  opts.fail_times = 1;
  auto smtp = SmtpServer::Start(opts);
  ASSERT_TRUE(smtp.ok()) << smtp.status().ToString();

  SendOutcome first = SendMail(**smtp);
  EXPECT_NE(first.code, CURLE_OK);
  EXPECT_EQ(first.smtp_code, 451) << first.error;
  EXPECT_EQ((*smtp)->MessageCount(), 0u);

  SendOutcome second = SendMail(**smtp);
  ASSERT_EQ(second.code, CURLE_OK) << second.error;
  ASSERT_TRUE(WaitForMessages(**smtp, 1));
  EXPECT_EQ((*smtp)->MessageCount(), 1u);
}

TEST(SmtpServerTest, PermanentFailureAtDataIsReported) {
  SmtpOptions opts;
  opts.fail_code = 550;
  opts.fail_at = "data";
  opts.fail_times = -1;
  auto smtp = SmtpServer::Start(opts);
  ASSERT_TRUE(smtp.ok()) << smtp.status().ToString();
  for (int i = 0; i < 2; ++i) {
    SendOutcome sent = SendMail(**smtp);
    EXPECT_NE(sent.code, CURLE_OK);
    EXPECT_EQ(sent.smtp_code, 550) << sent.error;
  }
  EXPECT_EQ((*smtp)->MessageCount(), 0u);
}

TEST(SmtpServerTest, AuthRejectsBadCredentialsAndAcceptsGoodOnes) {
  SmtpOptions opts;
  opts.auth = "bob:pw1";
  auto smtp = SmtpServer::Start(opts);
  ASSERT_TRUE(smtp.ok()) << smtp.status().ToString();

  SendOutcome anonymous = SendMail(**smtp);
  EXPECT_NE(anonymous.code, CURLE_OK);
  EXPECT_EQ(anonymous.smtp_code, 530) << anonymous.error;

  SendOutcome bad = SendMail(**smtp, Login("bob", "bad"));
  EXPECT_EQ(bad.code, CURLE_LOGIN_DENIED) << bad.error;
  EXPECT_EQ(bad.smtp_code, 535);
  EXPECT_EQ((*smtp)->MessageCount(), 0u);

  SendOutcome good = SendMail(**smtp, Login("bob", "pw1"));
  ASSERT_EQ(good.code, CURLE_OK) << good.error;
  ASSERT_TRUE(WaitForMessages(**smtp, 1));
  Result<std::vector<std::string>> envelopes = (*smtp)->Envelopes();
  ASSERT_TRUE(envelopes.ok()) << envelopes.status().ToString();
  ASSERT_EQ(envelopes->size(), 1u);
  EXPECT_NE((*envelopes)[0].find("auth=bob\n"), std::string::npos) << (*envelopes)[0];
}

TEST(SmtpServerTest, RequiredStartTlsWithTheFixtureCertificate) {
  SmtpOptions opts;
  opts.require_tls = true;
  auto smtp =
      Timed("smtp_fixture.py (TLS, incl. openssl key)", [&] { return SmtpServer::Start(opts); });
  ASSERT_TRUE(smtp.ok()) << smtp.status().ToString();
  ASSERT_FALSE((*smtp)->cert_path().empty());

  SendOutcome plain = SendMail(**smtp);
  EXPECT_NE(plain.code, CURLE_OK);
  EXPECT_EQ(plain.smtp_code, 530) << plain.error;

  SendOutcome tls = SendMail(**smtp, StartTls((*smtp)->cert_path().string()));
  ASSERT_EQ(tls.code, CURLE_OK) << tls.error;
  ASSERT_TRUE(WaitForMessages(**smtp, 1));
  Result<std::vector<std::string>> envelopes = (*smtp)->Envelopes();
  ASSERT_TRUE(envelopes.ok()) << envelopes.status().ToString();
  ASSERT_EQ(envelopes->size(), 1u);
  EXPECT_NE((*envelopes)[0].find("tls=True\n"), std::string::npos) << (*envelopes)[0];
}

// ---------------------------------------------------------------------------------------------
// carbon-cache through its plaintext port.

Status SendPlaintext(uint16_t port, const std::string& lines) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::IoError("socket", errno);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Status st;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    st = Status::IoError("connect carbon line port", errno);
  } else if (::send(fd, lines.data(), lines.size(), MSG_NOSIGNAL) !=
             static_cast<ssize_t>(lines.size())) {
    st = Status::IoError("send to carbon", errno);
  }
  ::close(fd);
  return st;
}

TEST(CarbonCacheTest, StoresPlaintextLinesInWhisper) {
  auto carbon = Timed("carbon-cache", [] { return CarbonCache::Start(); });
  ASSERT_TRUE(carbon.ok()) << carbon.status().ToString();
  const CarbonCache& c = **carbon;
  EXPECT_GT(c.pid(), 0);

  // Aligned to the 10 s step and in the past, so nothing is floored or rejected as future.
  const int64_t now =
      std::chrono::duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const int64_t t0 = now / 10 * 10 - 30;
  const std::string lines = "test.fixture.a 1.5 " + std::to_string(t0) + "\n" +
                            "test.fixture.a 2.5 " + std::to_string(t0 + 10) + "\n" +
                            "test.fixture.a 3.5 " + std::to_string(t0 + 20) + "\n" +
                            "test.fixture.b 42 " + std::to_string(t0 + 20) + "\n";
  const auto sent_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(SendPlaintext(c.line_port(), lines).ok());

  // carbon's writer sleeps 1 s when idle, so the files show up about a second later.
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(c.WhisperFile("test.fixture.b")); },
                      seconds(10)))
      << "no .wsp under " << c.whisper_dir();
  std::printf("[ timing   ] carbon .wsp visible %lld ms after the send\n",
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(
                                         std::chrono::steady_clock::now() - sent_at)
                                         .count()));

  using Points = std::vector<std::pair<int64_t, std::optional<double>>>;
  const Points expected = {{t0, 1.5}, {t0 + 10, 2.5}, {t0 + 20, 3.5}, {t0 + 30, std::nullopt}};
  // The file is created before the points are written into it; wait until they are.
  Result<Points> points = Status::NotFound("not fetched yet");
  WaitFor(
      [&] {
        points = c.Fetch("test.fixture.a", t0 - 1, t0 + 30);  // --from is exclusive
        return points.ok() && *points == expected;
      },
      seconds(10), milliseconds(100));
  ASSERT_TRUE(points.ok()) << points.status().ToString();
  EXPECT_EQ(*points, expected);

  Result<Points> b = c.Fetch("test.fixture.b", t0 + 19, t0 + 20);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(*b, (Points{{t0 + 20, 42.0}}));

  Result<Points> missing = c.Fetch("test.fixture.never", t0, t0 + 10);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

// ---------------------------------------------------------------------------------------------
// Redis Cluster.

TEST(RedisClusterTest, ThreeMastersShareTheSlots) {
  auto cluster = Timed("redis cluster (3 masters)", [] { return RedisCluster::Start(3); });
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  const std::vector<uint16_t> ports = (*cluster)->ports();
  ASSERT_EQ(ports.size(), 3u);

  int ok = 0, moved = 0;
  for (uint16_t port : ports) {
    RedisConn c = Connect(port);
    ASSERT_TRUE(c && !c->err) << "port " << port;
    Reply info = Command(c.get(), {"CLUSTER", "INFO"});
    EXPECT_NE(Str(info).find("cluster_state:ok"), std::string::npos) << Str(info);
    EXPECT_NE(Str(info).find("cluster_slots_assigned:16384"), std::string::npos) << Str(info);
    EXPECT_NE(Str(info).find("cluster_known_nodes:3"), std::string::npos) << Str(info);

    // "foo" hashes to slot 12182: exactly one master owns it and the others redirect.
    Reply set = Command(c.get(), {"SET", "foo", "bar"});
    ASSERT_TRUE(set);
    if (set->type == REDIS_REPLY_STATUS && Str(set) == "OK") {
      ++ok;
    } else if (set->type == REDIS_REPLY_ERROR && Str(set).rfind("MOVED 12182 127.0.0.1:", 0) == 0) {
      ++moved;
    } else {
      ADD_FAILURE() << "unexpected reply from port " << port << ": " << Str(set);
    }
  }
  EXPECT_EQ(ok, 1);
  EXPECT_EQ(moved, 2);
}

TEST(RedisClusterTest, RejectsFewerThanThreeMasters) {
  auto cluster = RedisCluster::Start(2);
  ASSERT_FALSE(cluster.ok());
  EXPECT_EQ(cluster.status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace hw::testing
