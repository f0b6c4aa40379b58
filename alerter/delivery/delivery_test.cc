#include "alerter/delivery/delivery.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include "alerter/delivery/outbox.h"
#include "alerter/delivery/senders.h"
#include "common/io/atomic_file.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"

namespace hw::alerter::delivery {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

Notification MakeNotification(const std::string& receiver, int seq) {
  Notification n;
  n.id = receiver + "/cpu_high/" + std::to_string(seq);
  n.receiver = receiver;
  n.rule = "cpu_high";
  n.severity = hostwatch::v1::CRITICAL;
  AlertView a;
  a.alert.set_rule("cpu_high");
  a.alert.set_key("cpu_high|web-1|cpu.busy");
  a.alert.set_state(hostwatch::v1::Alert::FIRING);
  a.alert.set_endpoint("web-1");
  a.alert.set_value(97);
  a.alert.set_since_ms(1764917000000);
  a.metric = "cpu.busy";
  n.alerts.push_back(a);
  n.time_ms = 1764917030000 + seq;
  return n;
}

ReceiverConfig Receiver(const std::string& name) {
  ReceiverConfig r;
  r.name = name;
  return r;
}
ReceiverConfig Mail(const std::string& name, const std::string& to) {
  ReceiverConfig r = Receiver(name);
  r.email = {to};
  return r;
}
ReceiverConfig Webhook(const std::string& name, const std::string& url) {
  ReceiverConfig r = Receiver(name);
  r.webhook = url;
  return r;
}
ReceiverConfig Exec(const std::string& name, const std::string& command,
                    milliseconds timeout = milliseconds(10000)) {
  ReceiverConfig r = Receiver(name);
  r.exec = command;
  r.exec_timeout = timeout;
  return r;
}

size_t CountFiles(const fs::path& dir, const std::string& ext) {
  size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) n += e.path().extension() == ext;
  return n;
}

DeliveryOptions FastRetries() {
  DeliveryOptions o;
  o.retry_initial = milliseconds(20);
  o.retry_max = milliseconds(100);
  return o;
}

TEST(DeliveryTest, WithoutSmtpMailsBecomeEmlFilesInSent) {
  testing::TempDir dir;
  DeliveryConfig c;
  c.outbox_dir = (dir.path() / "outbox").string();
  c.receivers["ops"] = Mail("ops", "ops@example.com");
  auto d = OutboxDelivery::Open(c, FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE((*d)->Enqueue(MakeNotification("ops", 1)).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return (*d)->stats().mail.sent == 1; }, milliseconds(5000)));
  const fs::path sent = dir.path() / "outbox" / "sent";
  ASSERT_EQ(CountFiles(sent, ".eml"), 1u);
  auto eml =
      io::ReadWholeFile(sent / (Outbox::JobName("ops/cpu_high/1", Channel::kMail) + ".eml"));
  ASSERT_TRUE(eml.ok());
  EXPECT_NE(eml->find("Subject: [FIRING] cpu_high on web-1: cpu.busy = 97\r\n"), std::string::npos);
  EXPECT_NE(eml->find("To: ops@example.com\r\n"), std::string::npos);
  EXPECT_EQ(CountFiles(dir.path() / "outbox", ".job"), 0u);
  EXPECT_EQ((*d)->stats().pending, 0u);
  EXPECT_EQ((*d)->stats().enqueued, 1u);
  (*d)->Stop(milliseconds(1000));
}

// The alerter hands a notification over again after a crash between Enqueue and its state save:
// the same id, already taken (even sent, and across a restart), is not sent a second time.
TEST(DeliveryTest, ARepeatedIdIsNotSentTwiceEvenAfterARestart) {
  testing::TempDir dir;
  DeliveryConfig c;
  c.outbox_dir = (dir.path() / "outbox").string();
  c.receivers["ops"] = Mail("ops", "ops@example.com");
  {
    auto d = OutboxDelivery::Open(c, FastRetries());
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    ASSERT_TRUE((*d)->Enqueue(MakeNotification("ops", 1)).ok());
    ASSERT_TRUE(testing::WaitFor([&] { return (*d)->stats().mail.sent == 1; }, milliseconds(5000)));
    ASSERT_TRUE((*d)->Enqueue(MakeNotification("ops", 1)).ok());
    EXPECT_EQ((*d)->stats().repeats, 1u);
    (*d)->Stop(milliseconds(1000));
  }
  auto d = OutboxDelivery::Open(c, FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE((*d)->Enqueue(MakeNotification("ops", 1)).ok());
  ASSERT_TRUE((*d)->Enqueue(MakeNotification("ops", 2)).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return (*d)->stats().mail.sent == 1; }, milliseconds(5000)));
  (*d)->Stop(milliseconds(1000));
  EXPECT_EQ((*d)->stats().repeats, 1u);
  EXPECT_EQ(CountFiles(dir.path() / "outbox" / "sent", ".eml"), 2u) << "ids 1 and 2, once each";
}

TEST(DeliveryTest, ANotificationWithoutATimeIsDatedNow) {
  testing::TempDir dir;
  DeliveryConfig c;
  c.outbox_dir = (dir.path() / "outbox").string();
  c.receivers["ops"] = Mail("ops", "ops@example.com");
  auto d = OutboxDelivery::Open(c, FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  Notification n = MakeNotification("ops", 1);
  n.time_ms = 0;
  ASSERT_TRUE((*d)->Enqueue(n).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return (*d)->stats().mail.sent == 1; }, milliseconds(5000)));
  auto eml = io::ReadWholeFile(dir.path() / "outbox" / "sent" /
                                  (Outbox::JobName(n.id, Channel::kMail) + ".eml"));
  ASSERT_TRUE(eml.ok());
  EXPECT_EQ(eml->find("1970"), std::string::npos) << eml->substr(0, 200);
}

TEST(DeliveryTest, JobsLeftByACrashAreSentAfterTheNextStart) {
  testing::TempDir dir;
  const fs::path box = dir.path() / "outbox";
  DeliveryConfig c;
  c.outbox_dir = box.string();
  c.receivers["ops"] = Mail("ops", "ops@example.com");
  {
    // What Enqueue leaves on disk when the process dies before the worker runs: the jobs, and the
    // temp file of one whose Put never finished (its Enqueue never returned OK).
    auto outbox = Outbox::Open(box);
    ASSERT_TRUE(outbox.ok());
    for (int i = 1; i <= 3; ++i) {
      OutboxJob j;
      j.name = Outbox::JobName("ops/g/" + std::to_string(i), Channel::kMail);
      j.channel = Channel::kMail;
      j.receiver = "ops";
      j.notification_id = "ops/g/" + std::to_string(i);
      j.recipients = {"ops@example.com"};
      j.payload = "Subject: " + std::to_string(i) + "\r\n\r\nbody\r\n";
      j.created_ms = i;
      ASSERT_TRUE(outbox->Put(j).ok());
    }
    std::ofstream(box / "ops_2Fg_2F4.mail.job.tmp") << "torn";
  }
  auto d = OutboxDelivery::Open(c, FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ((*d)->stats().recovered, 3u);
  ASSERT_TRUE(testing::WaitFor([&] { return (*d)->stats().mail.sent == 3; }, milliseconds(5000)));
  EXPECT_EQ(CountFiles(box / "sent", ".eml"), 3u);
  EXPECT_EQ(CountFiles(box, ".job"), 0u);
  EXPECT_EQ(CountFiles(box, ".tmp"), 0u);
}

TEST(DeliveryTest, UnsentJobsSurviveStopAndAreRetriedAfterRestart) {
  testing::TempDir dir;
  auto port = testing::FreeLoopbackPort();  // nothing listens there
  ASSERT_TRUE(port.ok());
  DeliveryConfig c;
  c.outbox_dir = (dir.path() / "outbox").string();
  c.receivers["hook"] = Webhook("hook", "http://127.0.0.1:" + std::to_string(*port) + "/hook");
  {
    auto d = OutboxDelivery::Open(c, FastRetries());
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    ASSERT_TRUE((*d)->Enqueue(MakeNotification("hook", 1)).ok());
    ASSERT_TRUE(
        testing::WaitFor([&] { return (*d)->stats().webhook.retried >= 2; }, milliseconds(5000)));
    (*d)->Stop(milliseconds(0));
    EXPECT_EQ((*d)->stats().webhook.sent, 0u);
    EXPECT_EQ((*d)->stats().webhook.failed, 0u);
    EXPECT_EQ((*d)->stats().pending, 1u);
  }
  EXPECT_EQ(CountFiles(dir.path() / "outbox", ".job"), 1u);
  auto d = OutboxDelivery::Open(c, FastRetries());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)->stats().recovered, 1u);
}

TEST(DeliveryTest, ExecGetsTheJsonOnStdinAndAHangingCommandIsKilled) {
  testing::TempDir dir;
  const fs::path log = dir.path() / "stdin.log";
  const fs::path bg_pid = dir.path() / "bg.pid";
  DeliveryConfig c;
  c.outbox_dir = (dir.path() / "outbox").string();
  c.receivers["fix"] =
      Exec("fix", "cat >> '" + log.string() + "'; echo \" $HOSTWATCH_NOTIFICATION_ID\" >> '" +
                      log.string() + "'");
  c.receivers["hang"] =
      Exec("hang", "sleep 60 & echo $! > '" + bg_pid.string() + "'; sleep 60", milliseconds(300));
  auto d = OutboxDelivery::Open(c, FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE((*d)->Enqueue(MakeNotification("fix", 1)).ok());
  ASSERT_TRUE((*d)->Enqueue(MakeNotification("hang", 2)).ok());
  ASSERT_TRUE((*d)->Enqueue(MakeNotification("fix", 3)).ok());
  ASSERT_TRUE(testing::WaitFor(
      // exec_timeouts counts the kill, exec.failed the job's end after it: wait for both.
      [&] {
        return (*d)->stats().exec.sent == 2 && (*d)->stats().exec_timeouts == 1 &&
               (*d)->stats().exec.failed == 1;
      },
      milliseconds(10000)));
  EXPECT_EQ((*d)->stats().exec.failed, 1u);
  EXPECT_EQ((*d)->stats().exec.retried, 0u);
  auto text = io::ReadWholeFile(log);
  ASSERT_TRUE(text.ok());
  const size_t first = text->find("\"version\":\"4\"");
  ASSERT_NE(first, std::string::npos) << *text;
  EXPECT_NE(text->find("\"version\":\"4\"", first + 1), std::string::npos)
      << "once per notification";
  EXPECT_NE(text->find(" fix/cpu_high/1\n"), std::string::npos) << *text;
  EXPECT_NE(text->find(" fix/cpu_high/3\n"), std::string::npos) << *text;
  EXPECT_EQ(text->find("hang/"), std::string::npos);
  // The command's whole process group was killed and reaped: its background child is gone too.
  auto pid_text = io::ReadWholeFile(bg_pid);
  ASSERT_TRUE(pid_text.ok());
  const pid_t bg = std::stoi(*pid_text);
  EXPECT_TRUE(testing::WaitFor([&] { return kill(bg, 0) != 0; }, milliseconds(5000)));
  EXPECT_EQ(waitpid(-1, nullptr, WNOHANG), -1) << "no child left to reap";
  EXPECT_TRUE(fs::exists(dir.path() / "outbox" / "failed" /
                         (Outbox::JobName("hang/cpu_high/2", Channel::kExec) + ".job")));
}

TEST(DeliveryTest, BadConfigAndUnknownReceiversAreErrors) {
  testing::TempDir dir;
  DeliveryConfig c;
  c.outbox_dir = (dir.path() / "outbox").string();
  c.receivers["ops"] = Mail("ops", "ops@example.com\r\nBcc: x@y");
  auto bad = OutboxDelivery::Open(c);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("alerter.receivers.ops.email"), std::string::npos);
  c.receivers["ops"] = Webhook("ops", "ftp://x");
  EXPECT_FALSE(OutboxDelivery::Open(c).ok());
  c.receivers["ops"] = Mail("ops", "ops@example.com");
  c.smtp.url = "http://mail.example";
  EXPECT_FALSE(OutboxDelivery::Open(c).ok());
  c.smtp.url = "smtp://127.0.0.1:25";
  c.smtp.password.env = "HW_DELIVERY_TEST_UNSET_VARIABLE";
  EXPECT_FALSE(OutboxDelivery::Open(c).ok());
  c.smtp = {};
  auto d = CreateDelivery(c);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_FALSE((*d)->Enqueue(MakeNotification("nobody", 1)).ok());
}

}  // namespace
}  // namespace hw::alerter::delivery

namespace hw::alerter::delivery {
namespace {

TEST(SendersTest, OnlyLoopbackHostsMaySkipTls) {
  EXPECT_EQ(UrlHost("smtp://127.0.0.1:25"), "127.0.0.1");
  EXPECT_EQ(UrlHost("smtps://user@mail.example.com:465/x"), "mail.example.com");
  EXPECT_EQ(UrlHost("smtp://[::1]:25"), "::1");
  EXPECT_TRUE(IsLoopbackHost("127.0.0.1"));
  EXPECT_TRUE(IsLoopbackHost("127.1.2.3"));
  EXPECT_TRUE(IsLoopbackHost("::1"));
  EXPECT_TRUE(IsLoopbackHost("localhost"));
  EXPECT_FALSE(IsLoopbackHost("127.0.0.1.evil.example"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
  EXPECT_FALSE(IsLoopbackHost("mail.example.com"));
}

}  // namespace
}  // namespace hw::alerter::delivery
