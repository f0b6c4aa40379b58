// Webhook and Alertmanager delivery against real HTTP servers on loopback: a small recording server
// (testdata/http_sink.py) that checks what we send, and Debian's prometheus-alertmanager, which
// must accept our alerts and resolve them.
#include <gtest/gtest.h>

#include <set>

#include "alerter/delivery/delivery.h"
#include "common/strings/strings.h"
#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"

namespace hw::alerter::delivery {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
constexpr milliseconds kWait{20000};

// testdata/http_sink.py in its own directory; stopped by PID when destroyed.
class HttpSink {
 public:
  explicit HttpSink(int fail_code = 0, int fail_times = 0) {
    testing::SubprocessOptions opts;
    opts.argv = {"/usr/bin/python3", HW_SOURCE_DIR "/alerter/delivery/testdata/http_sink.py",
                 "--outdir", dir_.path().string()};
    if (fail_code != 0) {
      opts.argv.insert(opts.argv.end(), {"--fail-code", std::to_string(fail_code), "--fail-times",
                                         std::to_string(fail_times)});
    }
    opts.stdout_path = opts.stderr_path = dir_.path() / "sink.log";
    auto proc = testing::Subprocess::Start(opts);
    EXPECT_TRUE(proc.ok()) << proc.status().ToString();
    if (!proc.ok()) return;
    proc_.emplace(std::move(proc).value());
    EXPECT_TRUE(testing::WaitFor([&] { return fs::exists(dir_.path() / "port"); }, kWait));
    auto port = testing::ReadFile(dir_.path() / "port");
    if (port.ok()) port_ = std::stoi(*port);
  }
  ~HttpSink() {
    if (proc_) proc_->Stop();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  size_t Count() const {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(dir_.path())) n += e.path().extension() == ".body";
    return n;
  }
  // The i-th recorded request (1-based): path and body.
  std::pair<std::string, std::string> Request(int i) const {
    char base[16];
    std::snprintf(base, sizeof base, "%04d", i);
    auto path = testing::ReadFile(dir_.path() / (std::string(base) + ".path"));
    auto body = testing::ReadFile(dir_.path() / (std::string(base) + ".body"));
    return {path.ok() ? *path : "", body.ok() ? *body : ""};
  }
  fs::path BodyPath(int i) const {
    char base[16];
    std::snprintf(base, sizeof base, "%04d.body", i);
    return dir_.path() / base;
  }

 private:
  testing::TempDir dir_;
  std::optional<testing::Subprocess> proc_;
  int port_ = 0;
};

AlertView MakeAlert(const std::string& endpoint, bool resolved) {
  AlertView a;
  a.alert.set_rule("cpu_high");
  a.alert.set_key("cpu_high|" + endpoint + "|cpu.busy;cpu=total");
  a.alert.set_state(resolved ? hostwatch::v1::Alert::RESOLVED : hostwatch::v1::Alert::FIRING);
  a.alert.set_severity(hostwatch::v1::CRITICAL);
  a.alert.set_endpoint(endpoint);
  a.alert.set_series("cpu.busy;cpu=total");
  a.alert.set_value(resolved ? 40 : 97);
  a.alert.set_summary("cpu.busy is 97 on " + endpoint);
  const int64_t now_ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  a.alert.set_since_ms(now_ms - 60000);
  a.alert.set_time_ms(now_ms);
  if (resolved) a.ends_ms = now_ms;
  a.metric = "cpu.busy";
  a.tags = {{"cpu", "total"}};
  return a;
}

Notification MakeNotification(const std::string& receiver, Notification::Kind kind, int seq,
                              int hosts = 1) {
  Notification n;
  n.id = receiver + "/cpu_high/" + std::to_string(seq);
  n.receiver = receiver;
  n.kind = kind;
  n.rule = "cpu_high";
  n.severity = hostwatch::v1::CRITICAL;
  for (int i = 0; i < hosts; ++i) {
    n.alerts.push_back(
        MakeAlert("web-" + std::to_string(i + 1), kind == Notification::Kind::kResolved));
  }
  n.time_ms = 1764917030000 + seq;
  return n;
}

DeliveryConfig Config(const testing::TempDir& dir) {
  DeliveryConfig c;
  c.outbox_dir = (dir.path() / "outbox").string();
  return c;
}

DeliveryOptions FastRetries() {
  DeliveryOptions o;
  o.retry_initial = milliseconds(50);
  o.retry_max = milliseconds(300);
  return o;
}

// Runs a Python check over a JSON file; its output on failure.
Status PythonCheck(const std::string& script, const fs::path& file) {
  std::string out;
  auto code = testing::RunCommand({"/usr/bin/python3", "-c", script, file.string()}, &out,
                                  milliseconds(30000));
  if (!code.ok()) return code.status();
  if (*code != 0) return Status::Internal(out);
  return Status::Ok();
}

TEST(DeliveryHttpTest, WebhookBodyIsAlertmanagersVersion4Payload) {
  HttpSink sink;
  testing::TempDir dir;
  DeliveryConfig c = Config(dir);
  ReceiverConfig r;
  r.name = "hook";
  r.webhook = sink.url("/hook");
  c.receivers["hook"] = r;
  auto d = OutboxDelivery::Open(c, FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE((*d)->Enqueue(MakeNotification("hook", Notification::Kind::kFiring, 1, 2)).ok());
  ASSERT_TRUE((*d)->Enqueue(MakeNotification("hook", Notification::Kind::kResolved, 2, 2)).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return sink.Count() == 2; }, kWait));
  EXPECT_EQ(sink.Request(1).first, "/hook");
  // The field set of notify/webhook.Message and template.Data/Alert, exactly.
  const std::string check =
      "import json, sys\n"
      "m = json.load(open(sys.argv[1]))\n"
      "assert set(m) == {'receiver', 'status', 'alerts', 'groupLabels', 'commonLabels',\n"
      "    'commonAnnotations', 'externalURL', 'version', 'groupKey', 'truncatedAlerts'}, set(m)\n"
      "assert m['version'] == '4' and m['receiver'] == 'hook', m\n"
      "assert m['groupKey'] == 'hook/cpu_high' and m['truncatedAlerts'] == 0, m\n"
      "assert m['groupLabels'] == {'alertname': 'cpu_high'}, m['groupLabels']\n"
      "assert m['commonLabels']['severity'] == 'critical', m['commonLabels']\n"
      "assert 'endpoint' not in m['commonLabels'], m['commonLabels']\n"
      "assert len(m['alerts']) == 2\n"
      "for a in m['alerts']:\n"
      "    assert set(a) == {'status', 'labels', 'annotations', 'startsAt', 'endsAt',\n"
      "        'generatorURL', 'fingerprint'}, set(a)\n"
      "    assert a['status'] == m['status'], a\n"
      "    assert a['labels']['alertname'] == 'cpu_high' and a['labels']['cpu'] == 'total', a\n"
      "    assert a['annotations']['value'] in ('97', '40'), a\n"
      "    assert len(a['fingerprint']) == 16, a\n"
      "print(m['status'], [a['endsAt'] for a in m['alerts']])\n";
  Status firing = PythonCheck(check + "assert m['status'] == 'firing'\n", sink.BodyPath(1));
  EXPECT_TRUE(firing.ok()) << firing.ToString();
  Status resolved =
      PythonCheck(check +
                      "assert m['status'] == 'resolved'\n"
                      "assert all(a['endsAt'] != '0001-01-01T00:00:00Z' for a in m['alerts'])\n",
                  sink.BodyPath(2));
  EXPECT_TRUE(resolved.ok()) << resolved.ToString();
  EXPECT_EQ((*d)->stats().webhook.sent, 2u);
}

TEST(DeliveryHttpTest, Webhook5xxIsRetriedAnd4xxIsNot) {
  HttpSink flaky(503, 2);
  HttpSink refusing(400, -1);
  testing::TempDir dir;
  DeliveryConfig c = Config(dir);
  ReceiverConfig a, b;
  a.name = "flaky";
  a.webhook = flaky.url("/hook");
  b.name = "refusing";
  b.webhook = refusing.url("/hook");
  c.receivers["flaky"] = a;
  c.receivers["refusing"] = b;
  auto d = OutboxDelivery::Open(c, FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE((*d)->Enqueue(MakeNotification("refusing", Notification::Kind::kFiring, 1)).ok());
  ASSERT_TRUE((*d)->Enqueue(MakeNotification("flaky", Notification::Kind::kFiring, 2)).ok());
  ASSERT_TRUE(testing::WaitFor(
      [&] { return (*d)->stats().webhook.sent == 1 && (*d)->stats().webhook.failed == 1; }, kWait));
  EXPECT_EQ((*d)->stats().webhook.retried, 2u);
  EXPECT_EQ(flaky.Count(), 1u);
  EXPECT_EQ(refusing.Count(), 0u);
}

TEST(DeliveryHttpTest, AlertmanagerGetsFiringAlertsAgainUntilTheyResolve) {
  HttpSink am;
  testing::TempDir dir;
  DeliveryConfig c = Config(dir);
  ReceiverConfig r;
  r.name = "am";
  r.alertmanager = am.url("/");
  c.receivers["am"] = r;
  DeliveryOptions o = FastRetries();
  o.alertmanager_repost = milliseconds(60000);
  {
    auto d = OutboxDelivery::Open(c, o);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    ASSERT_TRUE((*d)->Enqueue(MakeNotification("am", Notification::Kind::kFiring, 1)).ok());
    ASSERT_TRUE(testing::WaitFor([&] { return am.Count() == 1; }, kWait));
    const auto [path, body] = am.Request(1);
    EXPECT_EQ(path, "/api/v2/alerts");
    Status s = PythonCheck(
        "import json, sys\n"
        "m = json.load(open(sys.argv[1]))\n"
        "assert isinstance(m, list) and len(m) == 1, m\n"
        "a = m[0]\n"
        "assert a['labels'] == {'alertname': 'cpu_high', 'endpoint': 'web-1', 'severity':\n"
        "    'critical', 'metric': 'cpu.busy', 'cpu': 'total'}, a['labels']\n"
        "assert a['annotations']['summary'] == 'cpu.busy is 97 on web-1', a\n"
        "assert a['annotations']['value'] == '97', a\n"
        "assert 'endsAt' not in a and a['startsAt'].endswith('Z'), a\n",
        am.BodyPath(1));
    EXPECT_TRUE(s.ok()) << s.ToString();
    (*d)->Tick(1'000'000);  // the first tick re-posts what is firing
    ASSERT_TRUE(testing::WaitFor([&] { return am.Count() == 2; }, kWait));
    EXPECT_EQ(am.Request(2).second, body);
    (*d)->Tick(1'030'000);  // before the interval: nothing
    (*d)->Tick(1'060'000);
    ASSERT_TRUE(testing::WaitFor([&] { return am.Count() == 3; }, kWait));
  }
  // A restart keeps re-posting the alerts that were firing.
  auto d = OutboxDelivery::Open(c, o);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  (*d)->Tick(2'000'000);
  ASSERT_TRUE(testing::WaitFor([&] { return am.Count() == 4; }, kWait));
  EXPECT_NE(am.Request(4).second.find("\"endpoint\":\"web-1\""), std::string::npos);
  ASSERT_TRUE((*d)->Enqueue(MakeNotification("am", Notification::Kind::kResolved, 2)).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return am.Count() == 5; }, kWait));
  EXPECT_NE(am.Request(5).second.find("\"endsAt\":"), std::string::npos) << am.Request(5).second;
  (*d)->Tick(3'000'000);  // nothing firing: nothing to re-post
  (*d)->Stop(milliseconds(5000));
  EXPECT_EQ(am.Count(), 5u);
  EXPECT_EQ((*d)->stats().alertmanager.sent, 2u);
}

// Debian's prometheus-alertmanager on a loopback port, clustering off, in a temp dir.
class Alertmanager {
 public:
  Status Start() {
    HW_ASSIGN_OR_RETURN(port_, testing::FreeLoopbackPort());
    HW_RETURN_IF_ERROR(testing::WriteFile(dir_.path() / "am.yml",
                                          "route: {receiver: blackhole}\n"
                                          "receivers: [{name: blackhole}]\n"));
    testing::SubprocessOptions opts;
    opts.argv = {
        "/usr/bin/prometheus-alertmanager", "--config.file=" + (dir_.path() / "am.yml").string(),
        "--storage.path=" + (dir_.path() / "data").string(),
        "--web.listen-address=127.0.0.1:" + std::to_string(port_), "--cluster.listen-address="};
    opts.stdout_path = opts.stderr_path = dir_.path() / "am.log";
    HW_ASSIGN_OR_RETURN(testing::Subprocess proc, testing::Subprocess::Start(opts));
    proc_.emplace(std::move(proc));
    if (!testing::WaitFor([&] { return Get("/-/ready").ok(); }, kWait)) {
      auto log = testing::ReadFile(dir_.path() / "am.log");
      return Status::Unavailable("alertmanager not ready: " + (log.ok() ? *log : ""));
    }
    return Status::Ok();
  }
  ~Alertmanager() {
    if (proc_) proc_->Stop();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // GET through Python (no HTTP client in the test helpers); the body.
  Result<std::string> Get(const std::string& path) const {
    std::string out;
    HW_ASSIGN_OR_RETURN(int code,
                        testing::RunCommand({"/usr/bin/python3", "-c",
                                             "import sys, urllib.request\n"
                                             "print(urllib.request.urlopen(sys.argv[1], timeout=5)"
                                             ".read().decode())\n",
                                             url() + path},
                                            &out, milliseconds(10000)));
    if (code != 0) return Status::Unavailable(out);
    return out;
  }

 private:
  testing::TempDir dir_;
  uint16_t port_ = 0;
  std::optional<testing::Subprocess> proc_;
};

TEST(DeliveryHttpTest, RealAlertmanagerShowsTheAlertAndResolvesIt) {
  Alertmanager am;
  Status started = am.Start();
  ASSERT_TRUE(started.ok()) << started.ToString();
  testing::TempDir dir;
  DeliveryConfig c = Config(dir);
  ReceiverConfig r;
  r.name = "am";
  r.alertmanager = am.url();
  c.receivers["am"] = r;
  auto d = OutboxDelivery::Open(c, FastRetries());
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_TRUE((*d)->Enqueue(MakeNotification("am", Notification::Kind::kFiring, 1)).ok());
  std::string alerts;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto got = am.Get("/api/v2/alerts");
        alerts = got.ok() ? *got : got.status().ToString();
        return alerts.find("\"alertname\":\"cpu_high\"") != std::string::npos;
      },
      kWait))
      << alerts;
  EXPECT_NE(alerts.find("\"endpoint\":\"web-1\""), std::string::npos) << alerts;
  EXPECT_NE(alerts.find("\"state\":\"active\""), std::string::npos) << alerts;
  EXPECT_EQ((*d)->stats().alertmanager.failed, 0u);

  ASSERT_TRUE((*d)->Enqueue(MakeNotification("am", Notification::Kind::kResolved, 2)).ok());
  // Resolved alerts leave the list of active ones.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto got = am.Get("/api/v2/alerts?active=true&silenced=true&inhibited=true");
        alerts = got.ok() ? *got : got.status().ToString();
        return got.ok() && alerts.find("cpu_high") == std::string::npos;
      },
      kWait))
      << alerts;
  EXPECT_EQ((*d)->stats().alertmanager.sent, 2u);
}

}  // namespace
}  // namespace hw::alerter::delivery
