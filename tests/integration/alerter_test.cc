// The alerter issue's acceptance runs that need no mail server: a real broker, the real
// hostwatch-alerter (killed with SIGKILL and restarted), samples published through a producer link
// and the notifications it hands to delivery, read from its outbox (.eml files when
// alerter/delivery is built in, else the journal stand-in's notifications.log). Every wait has a
// deadline.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "common/testing/mail_text.h"
#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "common/transport/producer_link.h"
#include "hostwatch/v1/hostwatch.pb.h"
#include "tests/integration/broker_harness.h"

namespace hw {
namespace {

namespace fs = std::filesystem;
namespace pb = hostwatch::v1;
using namespace std::chrono_literals;

const std::string kAlerter = HW_BINARY_DIR "/alerter/hostwatch-alerter";
const std::string kHostwatch = HW_BINARY_DIR "/cli/hostwatch";

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ReadAll(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class AlerterTest : public ::testing::Test {
 public:
  void SetUp() override {
    auto b = testing::BrokerProcess::Start(dir_.Sub("broker"));
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    WriteConfig(
        "    - {name: cpu_high, metric: cpu.busy, expr: \"all(#3) > 90\",\n"
        "       recover: \"avg(#3) < 80\", severity: critical, receivers: [ops]}\n");
  }

  void WriteConfig(const std::string& rules_yaml, const std::string& extra_yaml = "",
                   const std::string& group_interval = "2s") {
    config_ = dir_.path() / "alerter.yaml";
    std::ofstream(config_) << "alerter:\n"
                           << "  endpoint: alerter-test\n"
                           << "  state_dir: " << dir_.Sub("state").string() << "\n"
                           << "  outbox_dir: " << dir_.Sub("outbox").string() << "\n"
                           << "  group_wait: 1s\n"
                           << "  group_interval: " << group_interval << "\n"
                           << "  receivers: {ops: {email: [ops@example.com]}}\n"
                           << extra_yaml << "  rules:\n"
                           << rules_yaml << "link:\n"
                           << "  brokers: [" << broker_->frontend() << "]\n"
                           << "  backends: [" << broker_->backend() << "]\n"
                           << "  spool_dir: " << dir_.Sub("alerter-spool").string() << "\n"
                           << "log: {level: debug}\n";
  }

  void StartAlerter() {
    ++starts_;
    testing::SubprocessOptions o;
    o.argv = {kAlerter, "--config", config_.string()};
    o.stderr_path = dir_.path() / ("alerter." + std::to_string(starts_) + ".log");
    auto p = testing::Subprocess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    alerter_.emplace(std::move(p).value());
    // Subscribed (and so placed at the live end for a new group) once it says it started.
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          return ReadAll(o.stderr_path).find("hostwatch-alerter started") != std::string::npos;
        },
        30s))
        << ReadAll(o.stderr_path);
  }

  // The broker takes a host's samples only from that host's source: one producer per endpoint.
  transport::ProducerLink* ProducerFor(const std::string& endpoint) {
    std::unique_ptr<transport::ProducerLink>& p = producers_[endpoint];
    if (!p) {
      transport::ProducerOptions po;
      po.endpoint = endpoint;
      po.component = "collector";
      po.link.brokers = {broker_->frontend()};
      po.link.spool_dir = dir_.Sub("spool-" + endpoint).string();
      auto started = transport::ProducerLink::Start(po);
      EXPECT_TRUE(started.ok()) << started.status().ToString();
      if (started.ok()) p = std::move(started).value();
    }
    return p.get();
  }

  void Publish(const std::string& endpoint, double value, int64_t t_ms,
               const std::string& metric = "cpu.busy") {
    transport::ProducerLink* producer = ProducerFor(endpoint);
    ASSERT_NE(producer, nullptr);
    pb::Envelope env;
    pb::SampleBatch* b = env.mutable_samples();
    b->set_endpoint(endpoint);
    pb::Sample* s = b->add_samples();
    s->set_metric(metric);
    s->set_value(value);
    s->set_time_ms(t_ms);
    s->set_step_s(10);
    const Status published = producer->Publish(env);
    ASSERT_TRUE(published.ok()) << published.ToString();
    ASSERT_TRUE(producer->WaitAcked(10s));
  }

  void PublishAlive(const std::string& endpoint) { Publish(endpoint, 1, WallMs(), "agent.alive"); }

  // The subjects of every notification handed to delivery so far, in order.
  std::vector<std::string> Subjects() {
    std::vector<std::string> out;
    const fs::path journal = dir_.path() / "outbox" / "notifications.log";
    if (fs::exists(journal)) {
      std::istringstream in(ReadAll(journal));
      std::string line;
      while (std::getline(in, line)) {
        if (!line.empty() && line[0] == '[') out.push_back(line);
      }
      return out;
    }
    const fs::path sent = dir_.path() / "outbox" / "sent";
    std::vector<fs::path> files;
    if (fs::exists(sent)) {
      for (const auto& e : fs::directory_iterator(sent)) files.push_back(e.path());
    }
    // In the order they were written (their names come from notification ids, not times).
    std::sort(files.begin(), files.end(), [](const fs::path& a, const fs::path& b) {
      std::error_code ea, eb;
      const auto ta = fs::last_write_time(a, ea), tb = fs::last_write_time(b, eb);
      return ta != tb ? ta < tb : a < b;
    });
    for (const fs::path& f : files) {
      std::istringstream in(ReadAll(f));
      std::string line;
      while (std::getline(in, line)) {
        if (line.rfind("Subject:", 0) == 0) out.push_back(line.substr(9));
      }
    }
    return out;
  }

  // The decoded bodies of every .eml handed to delivery so far.
  std::string SentMailBodies() {
    std::string all;
    const fs::path sent = dir_.path() / "outbox" / "sent";
    if (!fs::exists(sent)) return all;
    for (const auto& e : fs::directory_iterator(sent))
      all += testing::MailBodyText(ReadAll(e.path()));
    return all;
  }

  std::string Logs() {
    std::string all;
    for (int i = 1; i <= starts_; ++i) {
      all += ReadAll(dir_.path() / ("alerter." + std::to_string(i) + ".log"));
    }
    return all;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::BrokerProcess> broker_;
  std::map<std::string, std::unique_ptr<transport::ProducerLink>> producers_;
  fs::path config_;
  std::optional<testing::Subprocess> alerter_;
  int starts_ = 0;
};

TEST_F(AlerterTest, FiresOnTheThirdBreachOnceAndKill9DoesNotRenotify) {
  StartAlerter();
  const int64_t t0 = WallMs();
  Publish("web-01", 95, t0);
  Publish("web-01", 96, t0 + 1);
  // Two breaching points are not three: nothing, even after group_wait has passed.
  Publish("other", 1, t0);  // a marker the alerter must have read before we look
  ASSERT_FALSE(testing::WaitFor([&] { return !Subjects().empty(); }, 3s)) << Logs();
  Publish("web-01", 97, t0 + 2);
  ASSERT_TRUE(testing::WaitFor([&] { return Subjects().size() >= 1; }, 30s)) << Logs();
  EXPECT_NE(Subjects()[0].find("FIRING"), std::string::npos) << Subjects()[0];
  EXPECT_NE(Subjects()[0].find("cpu_high on web-01"), std::string::npos) << Subjects()[0];

  // Killed while firing, restarted: still breaching, no second FIRING; the recovery still comes.
  alerter_->Signal(SIGKILL);
  alerter_->Wait(10s);
  StartAlerter();
  Publish("web-01", 98, t0 + 3);
  Publish("web-01", 85, t0 + 4);  // below 90, but avg(#3) is not below 80: still firing
  Publish("web-01", 10, t0 + 5);
  Publish("web-01", 10, t0 + 6);  // avg(85, 10, 10) = 35: resolved
  ASSERT_TRUE(testing::WaitFor([&] { return Subjects().size() >= 2; }, 60s)) << Logs();
  const std::vector<std::string> subjects = Subjects();
  ASSERT_EQ(subjects.size(), 2u) << Logs();
  EXPECT_NE(subjects[1].find("RESOLVED"), std::string::npos) << subjects[1];
  EXPECT_EQ(alerter_->Stop(), 0);
}

// A value crossing the threshold every interval (2 s here, longer than group_wait) for 20
// intervals: the first breach is told after group_wait, and the group's next message would wait
// group_interval (60 s), so the flapping costs at most 2 messages, not one per change.
TEST_F(AlerterTest, AValueFlappingEveryIntervalForTwentyIntervalsGivesAtMostTwo) {
  WriteConfig(
      "    - {name: cpu_high, metric: cpu.busy, expr: \"all(#1) > 90\", receivers: [ops]}\n", "",
      "60s");
  StartAlerter();
  for (int i = 0; i < 20; ++i) {
    Publish("flappy", i % 2 == 0 ? 95 : 50, WallMs());
    std::this_thread::sleep_for(2s);  // the scenario's interval, not a wait for a result
  }
  ASSERT_TRUE(testing::WaitFor([&] { return !Subjects().empty(); }, 10s)) << Logs();
  EXPECT_FALSE(testing::WaitFor([&] { return Subjects().size() > 2; }, 3s)) << Logs();
  const std::vector<std::string> subjects = Subjects();
  EXPECT_LE(subjects.size(), 2u) << Logs();
  EXPECT_NE(subjects[0].find("[FIRING] cpu_high on flappy"), std::string::npos) << subjects[0];
  EXPECT_EQ(alerter_->Stop(), 0);
}

// 500 hosts (hostwatch loadgen: loadgen-0001 ... loadgen-0500, each its own source) breach in the
// same second: at most 3 mails in the first minute, and together they name all 500.
TEST_F(AlerterTest, FiveHundredHostsBreachingInOneSecondAreAtMostThreeMailsListingAll) {
  // loadgen's values follow 50 +- 40 sine curves: every first sample is above 0.
  WriteConfig(
      "    - {name: fleet_high, metric: load.m0001, expr: \"all(#1) > 0\", receivers: [ops]}\n");
  StartAlerter();
  const auto start = std::chrono::steady_clock::now();
  // Two processes of 250 (loadgen's limit is 256 links a process), both live: every host
  // publishes at the start of the next wall-clock second.
  std::vector<testing::Subprocess> loadgens;
  for (const char* first : {"1", "251"}) {
    testing::SubprocessOptions o;
    o.argv = {kHostwatch,   "loadgen", "--broker",     broker_->frontend(),
              "--hosts",    "250",     "--first-host", first,
              "--metrics",  "1",       "--interval",   "1",
              "--duration", "1"};
    o.stderr_path = dir_.path() / (std::string("loadgen-") + first + ".log");
    auto p = testing::Subprocess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    loadgens.push_back(std::move(p).value());
  }
  for (testing::Subprocess& p : loadgens) ASSERT_EQ(p.Wait(60s), std::optional<int>(0));
  auto hosts_named = [&] {
    const std::string mail = SentMailBodies();
    std::set<std::string> hosts;
    for (size_t at = mail.find("loadgen-"); at != std::string::npos;
         at = mail.find("loadgen-", at + 1)) {
      hosts.insert(mail.substr(at, 12));
    }
    return hosts;
  };
  ASSERT_TRUE(testing::WaitFor([&] { return hosts_named().size() >= 500; }, 50s))
      << hosts_named().size() << " hosts named\n"
      << Logs();
  const std::set<std::string> named = hosts_named();
  EXPECT_EQ(named.size(), 500u);
  EXPECT_EQ(named.count("loadgen-0001"), 1u);
  EXPECT_EQ(named.count("loadgen-0500"), 1u);
  // Whatever else goes out in the first minute still counts.
  const auto minute = start + 60s;
  if (std::chrono::steady_clock::now() < minute) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        minute - std::chrono::steady_clock::now());
    EXPECT_FALSE(testing::WaitFor([&] { return Subjects().size() > 3; }, std::min(left, 5000ms)))
        << Logs();
  }
  const std::vector<std::string> subjects = Subjects();
  EXPECT_LE(subjects.size(), 3u);
  ASSERT_FALSE(subjects.empty());
  EXPECT_NE(subjects[0].find("fleet_high on "), std::string::npos) << subjects[0];
  EXPECT_EQ(alerter_->Stop(), 0);
}

TEST_F(AlerterTest, ANewGroupOnABrokerFullOfOldBreachesSaysNothingAboutThem) {
  // An hour of breaching samples for 20 hosts, already in the journal.
  const int64_t now = WallMs();
  for (int h = 0; h < 20; ++h) {
    for (int i = 0; i < 6; ++i) {
      Publish("old-" + std::to_string(h), 99, now - 3600 * 1000 + i * 600 * 1000);
    }
  }
  StartAlerter();
  // A fresh breach after the start is told, and it is the only thing told.
  const int64_t t = WallMs();
  for (int i = 0; i < 3; ++i) Publish("fresh", 99, t + i);
  ASSERT_TRUE(testing::WaitFor([&] { return !Subjects().empty(); }, 30s)) << Logs();
  ASSERT_FALSE(testing::WaitFor([&] { return Subjects().size() > 1; }, 3s)) << Logs();
  const std::vector<std::string> subjects = Subjects();
  ASSERT_EQ(subjects.size(), 1u);
  EXPECT_NE(subjects[0].find("on fresh"), std::string::npos) << subjects[0];
  EXPECT_EQ(alerter_->Stop(), 0);
}

// Every host sends agent.alive every 500 ms while `alive` says so, for `seconds`.
void Heartbeats(AlerterTest* t, const std::vector<std::string>& hosts,
                const std::function<bool(const std::string&)>& alive, double seconds) {
  const auto end = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  while (std::chrono::steady_clock::now() < end) {
    for (const std::string& h : hosts) {
      if (alive(h)) t->PublishAlive(h);
    }
    std::this_thread::sleep_for(500ms);  // the sending rhythm of the fleet, not a wait for luck
  }
}

TEST_F(AlerterTest, MassNodataIsOneIncidentAndACatchUpAfterDowntimeSaysNothing) {
  WriteConfig(
      "    - {name: host_silent, metric: agent.alive, expr: \"nodata(5s)\", severity: critical,\n"
      "       receivers: [ops]}\n");
  std::vector<std::string> hosts;
  for (int i = 0; i < 10; ++i) hosts.push_back("h" + std::to_string(i));
  auto all = [](const std::string&) { return true; };
  auto first_four = [](const std::string& h) { return h < "h4"; };
  StartAlerter();
  Heartbeats(this, hosts, all, 7);
  ASSERT_TRUE(Subjects().empty()) << Logs();
  // 6 of 10 hosts stop at once: one incident listing them, not six mails.
  Heartbeats(this, hosts, first_four, 10);
  ASSERT_TRUE(testing::WaitFor([&] { return !Subjects().empty(); }, 20s)) << Logs();
  Heartbeats(this, hosts, first_four, 3);
  std::vector<std::string> subjects = Subjects();
  ASSERT_EQ(subjects.size(), 1u) << Logs();
  // "[INCIDENT] host_silent: 6 hosts" as delivery writes it (the journal stand-in: "[INCIDENT] 6
  // hosts silent").
  EXPECT_NE(subjects[0].find("[INCIDENT]"), std::string::npos) << subjects[0];
  EXPECT_NE(subjects[0].find("6 hosts"), std::string::npos) << subjects[0];
  // They come back: RESOLVED for the six (in one message, or two when the tick falls between
  // their first points).
  auto resolved_hosts = [&] {
    size_t n = 0;
    for (const std::string& s : Subjects()) {
      if (s.rfind("[RESOLVED] ", 0) == 0) n += 1;
      if (s.rfind("[RESOLVED:", 0) == 0) n += std::stoul(s.substr(10));
    }
    return n;
  };
  Heartbeats(this, hosts, all, 4);
  ASSERT_TRUE(testing::WaitFor([&] { return resolved_hosts() >= 6; }, 20s)) << Logs();
  EXPECT_EQ(resolved_hosts(), 6u);
  const size_t told = Subjects().size();
  EXPECT_LE(told, 3u);

  // The alerter is down for 15 s (three nodata durations) while every host keeps sending; on its
  // return it reads the backlog and says nothing.
  ASSERT_EQ(alerter_->Stop(), 0);
  Heartbeats(this, hosts, all, 15);
  StartAlerter();
  Heartbeats(this, hosts, all, 12);
  EXPECT_EQ(Subjects().size(), told) << Logs();
  EXPECT_EQ(alerter_->Stop(), 0);
}

TEST_F(AlerterTest, AFiringHostSilentInhibitsTheOtherAlertsOfThatHost) {
  // The default inhibit rule: {source_rule: host_silent, equal: [endpoint]}.
  WriteConfig(
      "    - {name: host_silent, metric: agent.alive, expr: \"nodata(5s)\", receivers: [ops]}\n"
      "    - {name: cpu_high, metric: cpu.busy, expr: \"all(#1) > 90\", receivers: [ops]}\n");
  const std::vector<std::string> hosts = {"a", "b", "c"};
  StartAlerter();
  Heartbeats(
      this, hosts, [](const std::string&) { return true; }, 6);
  // a stops reporting agent.alive; host_silent fires for it alone.
  auto not_a = [](const std::string& h) { return h != "a"; };
  Heartbeats(this, hosts, not_a, 7);
  ASSERT_TRUE(testing::WaitFor([&] { return !Subjects().empty(); }, 20s)) << Logs();
  EXPECT_NE(Subjects()[0].find("host_silent on a"), std::string::npos) << Subjects()[0];
  // Both a and b breach cpu_high: only b's is told.
  const int64_t t = WallMs();
  Publish("a", 99, t);
  Publish("b", 99, t);
  ASSERT_TRUE(testing::WaitFor([&] { return Subjects().size() >= 2; }, 20s)) << Logs();
  Heartbeats(this, hosts, not_a, 4);
  const std::vector<std::string> subjects = Subjects();
  ASSERT_EQ(subjects.size(), 2u) << Logs();
  EXPECT_NE(subjects[1].find("[FIRING] cpu_high on b"), std::string::npos) << subjects[1];
  EXPECT_EQ(alerter_->Stop(), 0);
}

TEST_F(AlerterTest, ASilenceMutesAndExpiringItBringsTheNotificationBack) {
  StartAlerter();
  std::string out;
  Result<int> rc =
      testing::RunCommand({kHostwatch, "silence", "add", "--config", config_.string(), "--match",
                           "rule=cpu_high", "endpoint=web-*", "--for", "1h", "--comment", "test"},
                          &out, 10s);
  ASSERT_TRUE(rc.ok() && *rc == 0) << out;
  const std::string id = out.substr(0, out.find('\n'));
  ASSERT_EQ(id.size(), 8u) << out;
  ASSERT_TRUE(
      testing::WaitFor([&] { return Logs().find("silences: 1 loaded") != std::string::npos; }, 10s))
      << Logs();
  const int64_t t0 = WallMs();
  for (int i = 0; i < 3; ++i) Publish("web-01", 99, t0 + i);
  for (int i = 0; i < 3; ++i) Publish("db-01", 99, t0 + i);
  // db-01 is told; web-01 is not.
  ASSERT_TRUE(testing::WaitFor([&] { return !Subjects().empty(); }, 30s)) << Logs();
  ASSERT_FALSE(testing::WaitFor([&] { return Subjects().size() > 1; }, 4s)) << Logs();
  EXPECT_NE(Subjects()[0].find("on db-01"), std::string::npos) << Subjects()[0];
  rc = testing::RunCommand({kHostwatch, "silence", "expire", "--config", config_.string(), id},
                           &out, 10s);
  ASSERT_TRUE(rc.ok() && *rc == 0) << out;
  ASSERT_TRUE(testing::WaitFor([&] { return Subjects().size() >= 2; }, 30s)) << Logs();
  // The group already told db-01; now it tells both.
  EXPECT_NE(Subjects()[1].find("[FIRING:2] cpu_high on 2 hosts"), std::string::npos)
      << Subjects()[1];
  EXPECT_EQ(alerter_->Stop(), 0);
}

TEST(TestAlertsCliTest, ReplaysRecordedSamplesAndPrintsAlertsAndMails) {
  testing::TempDir dir;
  // Lines as `hostwatch consume --format json` prints them: a minute of breaching points (10 s
  // apart, longer than group_wait), then low ones.
  std::string jsonl;
  for (int i = 0; i < 9; ++i) {
    const int64_t t = 1700000000000 + i * 10000;
    jsonl += "{\"partition\":0,\"offset\":" + std::to_string(i + 1) +
             ",\"samples\":{\"endpoint\":\"web-01\",\"samples\":[{\"metric\":\"cpu.busy\","
             "\"tags\":{\"cpu\":\"total\"},\"value\":" +
             (i < 6 ? "97" : "5") + ",\"timeMs\":\"" + std::to_string(t) + "\"}]}}\n";
  }
  jsonl += "not json\n";
  ASSERT_TRUE(testing::WriteFile(dir.path() / "samples.jsonl", jsonl).ok());
  std::string out;
  Result<int> rc = testing::RunCommand(
      {kHostwatch, "test-alerts", "--config", HW_SOURCE_DIR "/deploy/config/alerter.yaml",
       "--settle", "6m", (dir.path() / "samples.jsonl").string()},
      &out, 60s);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(*rc, 0) << out;
  EXPECT_NE(out.find("FIRING cpu_high|web-01|cpu.busy;cpu=total"), std::string::npos) << out;
  // The subject exactly as the mail would carry it.
  EXPECT_NE(
      out.find("NOTIFY to ops@example.com: [FIRING] cpu_high on web-01: cpu.busy{cpu=total} = 97"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("[RESOLVED] cpu_high on web-01"), std::string::npos) << out;
  EXPECT_NE(out.find("10 lines (1 malformed), 2 alert changes, 2 notifications"), std::string::npos)
      << out;
}

}  // namespace
}  // namespace hw
