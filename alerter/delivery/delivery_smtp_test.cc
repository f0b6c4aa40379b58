// Delivery against a real SMTP server (aiosmtpd through common/testing/smtp_fixture.py) on a
// loopback port chosen at run time: what arrives, what is retried, what is not.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <set>

#include "alerter/delivery/delivery.h"
#include "alerter/delivery/outbox.h"
#include "common/testing/servers.h"
#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"

namespace hw::alerter::delivery {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
constexpr milliseconds kWait{20000};

Notification MakeNotification(Notification::Kind kind, int seq, const std::string& log_line = "") {
  Notification n;
  n.id = "ops/cpu_high/" + std::to_string(seq);
  n.receiver = "ops";
  n.kind = kind;
  n.rule = "cpu_high";
  n.severity = hostwatch::v1::CRITICAL;
  AlertView a;
  a.alert.set_rule("cpu_high");
  a.alert.set_key("cpu_high|web-1|cpu.busy");
  a.alert.set_state(kind == Notification::Kind::kResolved ? hostwatch::v1::Alert::RESOLVED
                                                          : hostwatch::v1::Alert::FIRING);
  a.alert.set_endpoint("web-1");
  a.alert.set_value(kind == Notification::Kind::kResolved ? 42 : 97);
  a.alert.set_since_ms(1764917000000);
  a.metric = "cpu.busy";
  if (!log_line.empty()) a.log_lines = {log_line};
  n.alerts.push_back(a);
  n.time_ms = 1764917030000 + seq;
  return n;
}

DeliveryConfig Config(const testing::TempDir& dir, const std::string& smtp_url) {
  DeliveryConfig c;
  c.outbox_dir = (dir.path() / "outbox").string();
  c.smtp.url = smtp_url;
  c.smtp.from = "hostwatch@alert-01.example";
  c.smtp.timeout = milliseconds(10000);
  c.endpoint = "alert-01.example";
  ReceiverConfig r;
  r.name = "ops";
  r.email = {"ops@example.com", "oncall@example.com"};
  c.receivers["ops"] = r;
  return c;
}

DeliveryOptions FastRetries() {
  DeliveryOptions o;
  o.retry_initial = milliseconds(50);
  o.retry_max = milliseconds(300);
  return o;
}

// Python's email parser with the strict policy: a defect in the message is an exception. Prints
// the headers a test checks and the decoded body.
Result<std::string> StrictParse(const fs::path& eml) {
  std::string out;
  HW_ASSIGN_OR_RETURN(
      int code, testing::RunCommand({"/usr/bin/python3", "-c",
                                     "import sys, email, email.policy\n"
                                     "m = email.message_from_binary_file(open(sys.argv[1], 'rb'), "
                                     "policy=email.policy.strict)\n"
                                     "assert not m.defects, m.defects\n"
                                     "for h in ['Date', 'From', 'To', 'Subject', 'Message-ID']:\n"
                                     "    v = m[h]\n"
                                     "    assert v is not None, h\n"
                                     "    print(h + ': ' + str(v))\n"
                                     "print('Headers: ' + ','.join(sorted(set(m.keys()))))\n"
                                     "print('Body: ' + m.get_content())\n",
                                     eml.string()},
                                    &out, milliseconds(30000)));
  if (code != 0) return Status::Internal("strict parse failed: " + out);
  return out;
}

TEST(DeliverySmtpTest, FiringAndResolvedArriveAsValidMessages) {
  auto smtp = testing::SmtpServer::Start();
  ASSERT_TRUE(smtp.ok()) << smtp.status().ToString();
  testing::TempDir dir;
  auto d = OutboxDelivery::Open(Config(dir, (*smtp)->url()), FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  std::string hostile = "GET /\r\nBcc: x@y\r\n.\r\n";
  hostile += std::string("\0\xff\xfe", 3) + std::string(1 << 20, 'z');
  ASSERT_TRUE((*d)->Enqueue(MakeNotification(Notification::Kind::kFiring, 1, hostile)).ok());
  ASSERT_TRUE((*d)->Enqueue(MakeNotification(Notification::Kind::kResolved, 2)).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return (*smtp)->MessageCount() == 2; }, kWait));
  (*d)->Stop(milliseconds(5000));
  EXPECT_EQ((*d)->stats().mail.sent, 2u);
  EXPECT_EQ((*d)->stats().pending, 0u);

  auto envelopes = (*smtp)->Envelopes();
  ASSERT_TRUE(envelopes.ok());
  for (const std::string& env : *envelopes) {
    EXPECT_NE(env.find("from=hostwatch@alert-01.example\n"), std::string::npos) << env;
    EXPECT_NE(env.find("to=ops@example.com,oncall@example.com\n"), std::string::npos) << env;
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator((*smtp)->outdir())) {
    if (e.path().extension() == ".eml") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  ASSERT_EQ(files.size(), 2u);
  auto firing = StrictParse(files[0]);
  ASSERT_TRUE(firing.ok()) << firing.status().ToString();
  EXPECT_NE(firing->find("Subject: [FIRING] cpu_high on web-1: cpu.busy = 97\n"), std::string::npos)
      << firing->substr(0, 2000);
  EXPECT_NE(firing->find("Message-ID: <ops=2Fcpu_high=2F1@alert-01.example>\n"), std::string::npos);
  EXPECT_NE(firing->find("To: ops@example.com, oncall@example.com\n"), std::string::npos);
  EXPECT_NE(firing->find("Headers: Auto-Submitted,Content-Transfer-Encoding,Content-Type,Date,From,"
                         "MIME-Version,Message-ID,Subject,To,X-Hostwatch-Receiver,X-Hostwatch-Rule,"
                         "X-Hostwatch-Severity\n"),
            std::string::npos)
      << firing->substr(0, 2000);
  EXPECT_NE(firing->find("| GET /\\r\\nBcc: x@y\\r\\n.\\r\\n\\0\xEF\xBF\xBD\xEF\xBF\xBDzzz"),
            std::string::npos);
  auto resolved = StrictParse(files[1]);
  ASSERT_TRUE(resolved.ok()) << resolved.status().ToString();
  EXPECT_NE(resolved->find("Subject: [RESOLVED] cpu_high on web-1: cpu.busy = 42\n"),
            std::string::npos);
}

TEST(DeliverySmtpTest, A451IsRetriedUntilItIsAccepted) {
  testing::SmtpOptions options;
  options.fail_code = 451;
  options.fail_times = 2;
  auto smtp = testing::SmtpServer::Start(options);
  ASSERT_TRUE(smtp.ok()) << smtp.status().ToString();
  testing::TempDir dir;
  auto d = OutboxDelivery::Open(Config(dir, (*smtp)->url()), FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE((*d)->Enqueue(MakeNotification(Notification::Kind::kFiring, 1)).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return (*d)->stats().mail.sent == 1; }, kWait));
  EXPECT_EQ((*d)->stats().mail.retried, 2u);
  EXPECT_EQ((*d)->stats().mail.failed, 0u);
  EXPECT_EQ((*smtp)->MessageCount(), 1u);
}

TEST(DeliverySmtpTest, A550IsNotRetried) {
  for (const char* stage : {"rcpt", "data"}) {
    SCOPED_TRACE(stage);
    testing::SmtpOptions options;
    options.fail_code = 550;
    options.fail_at = stage;
    options.fail_times = 1;  // a retry would be accepted: it must not happen
    auto smtp = testing::SmtpServer::Start(options);
    ASSERT_TRUE(smtp.ok()) << smtp.status().ToString();
    testing::TempDir dir;
    auto d = OutboxDelivery::Open(Config(dir, (*smtp)->url()), FastRetries());
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    ASSERT_TRUE((*d)->Enqueue(MakeNotification(Notification::Kind::kFiring, 1)).ok());
    ASSERT_TRUE(testing::WaitFor([&] { return (*d)->stats().mail.failed == 1; }, kWait));
    // The next notification goes out: the lane is not blocked by the refused one.
    ASSERT_TRUE((*d)->Enqueue(MakeNotification(Notification::Kind::kResolved, 2)).ok());
    ASSERT_TRUE(testing::WaitFor([&] { return (*d)->stats().mail.sent == 1; }, kWait));
    EXPECT_EQ((*d)->stats().mail.retried, 0u);
    EXPECT_EQ((*smtp)->MessageCount(), 1u);
    EXPECT_TRUE(fs::exists(dir.path() / "outbox" / "failed" /
                           (Outbox::JobName("ops/cpu_high/1", Channel::kMail) + ".job")));
  }
}

// One stale address must not silence the rest of the team: the mail goes to every recipient the
// server takes; a 5xx recipient is dropped (and logged), a 4xx one is retried alone, so nobody
// gets the mail twice.
TEST(DeliverySmtpTest, ARefusedRecipientDoesNotStopTheOthers) {
  testing::SmtpOptions options;
  options.refuse_rcpt = {"gone@example.com=550", "later@example.com=451x1"};
  auto smtp = testing::SmtpServer::Start(options);
  ASSERT_TRUE(smtp.ok()) << smtp.status().ToString();
  testing::TempDir dir;
  DeliveryConfig c = Config(dir, (*smtp)->url());
  c.receivers["ops"].email = {"ops@example.com", "gone@example.com", "later@example.com"};
  auto d = OutboxDelivery::Open(c, FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE((*d)->Enqueue(MakeNotification(Notification::Kind::kFiring, 1)).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return (*d)->stats().pending == 0; }, kWait));
  auto envelopes = (*smtp)->Envelopes();
  ASSERT_TRUE(envelopes.ok());
  ASSERT_EQ(envelopes->size(), 2u);
  EXPECT_NE((*envelopes)[0].find("to=ops@example.com\n"), std::string::npos) << (*envelopes)[0];
  EXPECT_NE((*envelopes)[1].find("to=later@example.com\n"), std::string::npos) << (*envelopes)[1];
  EXPECT_EQ((*d)->stats().mail.sent, 2u);
  EXPECT_EQ((*d)->stats().mail.retried, 1u);
  EXPECT_EQ((*d)->stats().mail.failed, 0u);
  EXPECT_FALSE(fs::exists(dir.path() / "outbox" /
                          (Outbox::JobName("ops/cpu_high/1", Channel::kMail) + ".job")));
}

TEST(DeliverySmtpTest, ServerDownThenUpDeliversEveryNotificationExactlyOnce) {
  auto port = testing::FreeLoopbackPort();
  ASSERT_TRUE(port.ok());
  testing::TempDir dir;
  auto d =
      OutboxDelivery::Open(Config(dir, "smtp://127.0.0.1:" + std::to_string(*port)), FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE((*d)->Enqueue(MakeNotification(Notification::Kind::kFiring, i)).ok());
  }
  ASSERT_TRUE(testing::WaitFor([&] { return (*d)->stats().mail.retried >= 3; }, kWait));
  EXPECT_EQ((*d)->stats().mail.sent, 0u);

  // The server comes up on the port delivery has been trying.
  const fs::path mail = dir.path() / "mail";
  testing::SubprocessOptions opts;
  opts.argv = {"/usr/bin/python3", HW_SOURCE_DIR "/common/testing/smtp_fixture.py",
               "--port",           std::to_string(*port),
               "--outdir",         mail.string()};
  opts.stdout_path = opts.stderr_path = dir.path() / "smtp.log";
  auto server = testing::Subprocess::Start(opts);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  ASSERT_TRUE(testing::WaitFor([&] { return (*d)->stats().mail.sent == 3; }, kWait));
  (*d)->Stop(milliseconds(5000));
  std::set<std::string> ids;
  size_t count = 0;
  for (const auto& e : fs::directory_iterator(mail)) {
    if (e.path().extension() != ".eml") continue;
    ++count;
    auto text = testing::ReadFile(e.path());
    ASSERT_TRUE(text.ok());
    const size_t at = text->find("Message-ID: ");
    ASSERT_NE(at, std::string::npos);
    ids.insert(text->substr(at, text->find("\r\n", at) - at));
  }
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(ids.size(), 3u);
  EXPECT_EQ((*d)->stats().pending, 0u);
  server->Stop();
}

TEST(DeliverySmtpTest, AuthWithThePasswordFromAFileOrTheEnvironment) {
  testing::SmtpOptions options;
  options.auth = "bob:pw1";
  auto smtp = testing::SmtpServer::Start(options);
  ASSERT_TRUE(smtp.ok()) << smtp.status().ToString();
  testing::TempDir dir;
  const fs::path pw = dir.path() / "smtp.password";
  ASSERT_TRUE(testing::WriteFile(pw, "pw1\n").ok());
  ASSERT_EQ(chmod(pw.c_str(), 0600), 0);
  DeliveryConfig c = Config(dir, (*smtp)->url());
  c.smtp.username = "bob";
  c.smtp.password.file = pw.string();
  {
    auto d = OutboxDelivery::Open(c, FastRetries());
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    ASSERT_TRUE((*d)->Enqueue(MakeNotification(Notification::Kind::kFiring, 1)).ok());
    ASSERT_TRUE(testing::WaitFor([&] { return (*smtp)->MessageCount() == 1; }, kWait));
  }
  setenv("HW_DELIVERY_TEST_SMTP_PASSWORD", "wrong", 1);
  c.smtp.password = {};
  c.smtp.password.env = "HW_DELIVERY_TEST_SMTP_PASSWORD";
  auto d = OutboxDelivery::Open(c, FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE((*d)->Enqueue(MakeNotification(Notification::Kind::kFiring, 2)).ok());
  // 535: a 5xx, so not retried (and counted).
  ASSERT_TRUE(testing::WaitFor([&] { return (*d)->stats().mail.failed == 1; }, kWait));
  EXPECT_EQ((*smtp)->MessageCount(), 1u);
  auto envelopes = (*smtp)->Envelopes();
  ASSERT_TRUE(envelopes.ok());
  EXPECT_NE((*envelopes)[0].find("auth=bob\n"), std::string::npos) << (*envelopes)[0];
}

TEST(DeliverySmtpTest, StartTlsVerifiedWithTheConfiguredCaFile) {
  testing::SmtpOptions options;
  options.require_tls = true;
  auto smtp = testing::SmtpServer::Start(options);
  ASSERT_TRUE(smtp.ok()) << smtp.status().ToString();
  testing::TempDir dir;
  DeliveryConfig c = Config(dir, "smtp://localhost:" + std::to_string((*smtp)->port()));
  c.smtp.ca_file = (*smtp)->cert_path().string();
  auto d = OutboxDelivery::Open(c, FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE((*d)->Enqueue(MakeNotification(Notification::Kind::kFiring, 1)).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return (*smtp)->MessageCount() == 1; }, kWait));
  auto envelopes = (*smtp)->Envelopes();
  ASSERT_TRUE(envelopes.ok());
  EXPECT_NE((*envelopes)[0].find("tls=True\n"), std::string::npos) << (*envelopes)[0];
}

}  // namespace
}  // namespace hw::alerter::delivery
