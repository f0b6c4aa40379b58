// hostwatch-rediscache end to end (issue 14's "Done when"): a real broker, real redis-server (one
// server, one with an ACL user, a 3-master cluster), producers publishing samples, events and
// alerts, and the cacher binary. Keys are read back with hiredis directly (redisCommandArgv),
// never through the cacher's code. Every wait has a deadline.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "common/testing/servers.h"
#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "common/transport/consumer_link.h"
#include "common/transport/producer_link.h"
#include "hostwatch/v1/hostwatch.pb.h"
#include "tests/integration/broker_harness.h"

namespace hw {
namespace {

namespace fs = std::filesystem;
namespace pb = hostwatch::v1;
using namespace std::chrono_literals;

const std::string kCacher = HW_BINARY_DIR "/rediscache/hostwatch-rediscache";
const std::string kCli = HW_BINARY_DIR "/cli/hostwatch";
constexpr int64_t kT0 = 1790000000000;  // a fixed past time: values are exact

// A reply, copied out of hiredis.
struct R {
  int type = REDIS_REPLY_NIL;
  std::string str;
  long long integer = 0;
  std::vector<R> el;
  bool nil() const { return type == REDIS_REPLY_NIL; }
};

R Copy(const redisReply* r) {
  R out;
  out.type = r->type;
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
      r->type == REDIS_REPLY_ERROR)
    out.str.assign(r->str, r->len);
  out.integer = r->integer;
  for (size_t i = 0; i < r->elements; ++i) out.el.push_back(Copy(r->element[i]));
  return out;
}

// A plain client: one connection per command, following MOVED and ASK by hand.
struct Reader {
  std::vector<uint16_t> ports;
  std::string user, pass;

  R Cmd(const std::vector<std::string>& argv) const {
    uint16_t port = ports.front();
    bool asking = false;
    for (int hop = 0; hop < 5; ++hop) {
      timeval tv{2, 0};
      redisContext* c = redisConnectWithTimeout("127.0.0.1", port, tv);
      if (c == nullptr || c->err != 0) {
        if (c != nullptr) redisFree(c);
        R e;
        e.type = REDIS_REPLY_ERROR;
        e.str = "connect failed";
        return e;
      }
      auto run = [&](const std::vector<std::string>& a) {
        std::vector<const char*> p;
        std::vector<size_t> l;
        for (const std::string& s : a) {
          p.push_back(s.data());
          l.push_back(s.size());
        }
        auto* raw = static_cast<redisReply*>(
            redisCommandArgv(c, static_cast<int>(a.size()), p.data(), l.data()));
        R out;
        if (raw == nullptr) {
          out.type = REDIS_REPLY_ERROR;
          out.str = "io error";
          return out;
        }
        out = Copy(raw);
        freeReplyObject(raw);
        return out;
      };
      if (!pass.empty()) {
        if (user.empty()) {
          run({"AUTH", pass});
        } else {
          run({"AUTH", user, pass});
        }
      }
      if (asking) run({"ASKING"});
      R r = run(argv);
      redisFree(c);
      if (r.type == REDIS_REPLY_ERROR &&
          (r.str.starts_with("MOVED ") || r.str.starts_with("ASK "))) {
        asking = r.str.starts_with("ASK ");
        port = static_cast<uint16_t>(std::stoi(r.str.substr(r.str.rfind(':') + 1)));
        continue;
      }
      return r;
    }
    return R{};
  }
  std::string Type(const std::string& key) const { return Cmd({"TYPE", key}).str; }
  std::map<std::string, std::string> HGetAll(const std::string& key) const {
    std::map<std::string, std::string> m;
    R r = Cmd({"HGETALL", key});
    for (size_t i = 0; i + 1 < r.el.size(); i += 2) m[r.el[i].str] = r.el[i + 1].str;
    return m;
  }
  std::string HGet(const std::string& key, const std::string& field) const {
    return Cmd({"HGET", key, field}).str;
  }
  long long Int(const std::vector<std::string>& argv) const { return Cmd(argv).integer; }
  // XRANGE key - +: each entry's fields.
  std::vector<std::map<std::string, std::string>> Stream(const std::string& key) const {
    std::vector<std::map<std::string, std::string>> out;
    for (const R& entry : Cmd({"XRANGE", key, "-", "+"}).el) {
      std::map<std::string, std::string> m;
      const R& f = entry.el.at(1);
      for (size_t i = 0; i + 1 < f.el.size(); i += 2) m[f.el[i].str] = f.el[i + 1].str;
      out.push_back(std::move(m));
    }
    return out;
  }
};

pb::Sample Sample(const std::string& metric, double v, int64_t t,
                  std::map<std::string, std::string> tags = {}) {
  pb::Sample s;
  s.set_metric(metric);
  s.set_value(v);
  s.set_time_ms(t);
  s.set_step_s(10);
  for (auto& [k, val] : tags) (*s.mutable_tags())[k] = val;
  return s;
}

enum class Kind { kSingle, kAcl, kCluster };

class RedisCacheTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override {
    testing::BrokerProcessOptions bo;
    bo.partitions = 2;
    auto b = testing::BrokerProcess::Start(dir_.Sub("broker"), bo);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    if (GetParam() == Kind::kCluster) {
      auto c = testing::RedisCluster::Start(3);
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      cluster_ = std::move(c).value();
      reader_.ports = cluster_->ports();
    } else {
      testing::RedisOptions ro;
      if (GetParam() == Kind::kAcl) {
        ro.requirepass = "topsecret";
        ro.acl_user = "cacher";
        ro.acl_password = "s3cret pass";
        reader_.user = "cacher";
        reader_.pass = "s3cret pass";
      }
      auto r = testing::RedisServer::Start(ro);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      redis_ = std::move(r).value();
      reader_.ports = {redis_->port()};
    }
  }
  void TearDown() override {
    if (HasFailure()) {
      Result<std::string> log = testing::ReadFile(dir_.path() / "cacher.log");
      if (log.ok()) std::fprintf(stderr, "--- cacher log ---\n%s\n", log->c_str());
    }
    if (cacher_) cacher_->Stop();
    producers_.clear();
  }

  std::string Yaml(const std::string& history_metrics = "[cpu.busy]") {
    std::string urls;
    for (uint16_t p : reader_.ports) {
      if (!urls.empty()) urls += ", ";
      urls += "\"redis://127.0.0.1:" + std::to_string(p) + "\"";
    }
    std::string y = "rediscache:\n  redis: [" + urls + "]\n  timeout: 500ms\n" +
                    "  history: {points: " + std::to_string(points_) +
                    ", metrics: " + history_metrics + "}\n  events_maxlen: 1000\n";
    if (!reader_.pass.empty()) {
      const fs::path secret = dir_.path() / "redis.pass";
      EXPECT_TRUE(testing::WriteFile(secret, reader_.pass + "\n").ok());
      ::chmod(secret.c_str(), 0600);
      y += "  username: " + reader_.user + "\n  password_file: " + secret.string() + "\n";
    }
    y += "link:\n  brokers: [" + broker_->frontend() + "]\n  backends: [" + broker_->backend() +
         "]\n  spool_dir: " + (dir_.path() / "cacher-spool").string() + "\nlog: {level: debug}\n";
    return y;
  }
  void StartCacher(const std::string& history_metrics = "[cpu.busy]") {
    config_ = dir_.path() / "rediscache.yaml";
    ASSERT_TRUE(testing::WriteFile(config_, Yaml(history_metrics)).ok());
    RestartCacher();
  }
  void RestartCacher() {
    testing::SubprocessOptions o;
    o.argv = {kCacher, "--config", config_.string()};
    o.stdout_path = o.stderr_path = dir_.path() / "cacher.log";
    auto p = testing::Subprocess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    cacher_ = std::move(p).value();
  }
  std::string CacherLog() { return testing::ReadFile(dir_.path() / "cacher.log").value_or(""); }

  transport::ProducerLink& Producer(const std::string& endpoint, const std::string& component) {
    const std::string source = endpoint + "/" + component;
    auto it = producers_.find(source);
    if (it != producers_.end()) return *it->second;
    transport::ProducerOptions o;
    o.endpoint = endpoint;
    o.component = component;
    o.link.brokers = {broker_->frontend()};
    o.link.spool_dir = (dir_.path() / "spool" / (endpoint + "-" + component)).string();
    auto p = transport::ProducerLink::Start(o);
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return *producers_.emplace(source, std::move(p).value()).first->second;
  }
  void PublishSamples(const std::string& endpoint, std::vector<pb::Sample> samples,
                      std::map<std::string, std::string> host_tags = {}) {
    pb::Envelope env;
    env.mutable_samples()->set_endpoint(endpoint);
    for (auto& [k, v] : host_tags) (*env.mutable_samples()->mutable_host_tags())[k] = v;
    for (pb::Sample& s : samples) *env.mutable_samples()->add_samples() = std::move(s);
    Status s = Producer(endpoint, "collector").Publish(env);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void PublishEvent(const std::string& endpoint, const std::string& rule, const std::string& line,
                    int64_t t) {
    pb::Envelope env;
    env.mutable_events()->set_endpoint(endpoint);
    pb::LogEvent* e = env.mutable_events()->add_events();
    e->set_path("/var/log/kern.log");
    e->set_rule(rule);
    e->set_severity(pb::CRITICAL);
    e->set_line(line);
    e->set_time_ms(t);
    (*e->mutable_fields())["pid"] = "42";
    Status s = Producer(endpoint, "logwatch").Publish(env);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void PublishAlert(const std::string& rule, const std::string& endpoint, pb::Alert::State state,
                    int64_t t) {
    pb::Envelope env;
    pb::Alert* a = env.mutable_alerts()->add_alerts();
    a->set_rule(rule);
    a->set_endpoint(endpoint);
    a->set_series("cpu.busy;cpu=total");
    a->set_key(rule + "|" + endpoint + "|cpu.busy;cpu=total");
    a->set_state(state);
    a->set_severity(pb::CRITICAL);
    a->set_value(97.5);
    a->set_summary("cpu.busy = 97.5");
    a->set_since_ms(t);
    a->set_time_ms(t);
    Status s = Producer("alerter-01", "alerter").Publish(env);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  // Sum over the group's partitions of records not committed; -1 when the broker does not answer.
  int64_t Lag(const std::string& group = "rediscache") {
    Result<pb::BrokerStats> st = transport::QueryBrokerStats(broker_->backend(), {}, 5s);
    if (!st.ok()) return -1;
    int64_t lag = 0;
    for (const auto& g : st->groups()) {
      if (g.group() != group) continue;
      for (const auto& p : g.partitions()) lag += static_cast<int64_t>(p.lag());
    }
    return lag;
  }
  int64_t Committed(const std::string& group = "rediscache") {
    Result<pb::BrokerStats> st = transport::QueryBrokerStats(broker_->backend(), {}, 5s);
    if (!st.ok()) return -1;
    int64_t sum = 0;
    for (const auto& g : st->groups()) {
      if (g.group() != group) continue;
      for (const auto& p : g.partitions()) sum += static_cast<int64_t>(p.committed());
    }
    return sum;
  }
  bool LatestIs(const std::string& e, const std::string& series, const std::string& want) {
    return reader_.HGet("hw:latest:{" + e + "}", series) == want;
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::BrokerProcess> broker_;
  std::unique_ptr<testing::RedisServer> redis_;
  std::unique_ptr<testing::RedisCluster> cluster_;
  Reader reader_;
  uint32_t points_ = 5;
  fs::path config_;
  std::optional<testing::Subprocess> cacher_;
  std::map<std::string, std::unique_ptr<transport::ProducerLink>> producers_;
};

TEST_P(RedisCacheTest, EveryKeyHoldsTheExpectedValues) {
  // A canary next to the keys we write, and the values that must not confuse field or key.
  ASSERT_EQ(reader_.Cmd({"SET", "hw:latest:{web-02};canary", "untouched"}).str, "OK");
  std::string weird = "a b/c;d=e*f\"g'h caf\xc3\xa9 \xe6\x97\xa5";
  while (weird.size() < 256) weird += "x";
  weird.resize(256);
  StartCacher();

  const std::map<std::string, std::string> tags = {{"idc", "sgp"}, {"role", "game server"}};
  for (int i = 0; i < 7; ++i) {
    const int64_t t = kT0 + i * 10000;
    PublishSamples(
        "web-01",
        {Sample("cpu.busy", 10.5 + i, t, {{"cpu", "total"}}), Sample("mem.used_percent", 40 + i, t),
         Sample("disk.used_percent", 0.1 * i, t, {{"mount", "/"}, {"fstype", "ext4"}})},
        tags);
  }
  PublishSamples("web-02", {Sample("app.weird", 1.25, kT0, {{"k", weird}, {"b", "1"}})});
  PublishEvent("web-01", "kernel_oom", std::string("Out of memory: Killed process 42\xff\x00!", 35),
               kT0 + 1000);
  PublishEvent("web-01", "kernel_oom", "second", kT0 + 2000);
  PublishAlert("cpu_high", "web-01", pb::Alert::FIRING, kT0 + 3000);
  PublishAlert("disk_full", "web-02", pb::Alert::FIRING, kT0 + 4000);
  PublishAlert("disk_full", "web-02", pb::Alert::RESOLVED, kT0 + 5000);
  for (auto& [name, p] : producers_) ASSERT_TRUE(p->WaitAcked(10s)) << name;

  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return reader_.Int({"XLEN", "hw:alerts:log"}) == 3 &&
               reader_.Int({"XLEN", "hw:events:{web-01}"}) == 2 &&
               LatestIs("web-01", "cpu.busy;cpu=total", "16.5 " + std::to_string(kT0 + 60000)) &&
               reader_.Int({"EXISTS", "hw:latest:{web-02}"}) == 1;
      },
      20s))
      << CacherLog();

  // Types.
  EXPECT_EQ(reader_.Type("hw:hosts"), "zset");
  EXPECT_EQ(reader_.Type("hw:host:{web-01}"), "hash");
  EXPECT_EQ(reader_.Type("hw:latest:{web-01}"), "hash");
  EXPECT_EQ(reader_.Type("hw:hist:{web-01}:cpu.busy;cpu=total"), "zset");
  EXPECT_EQ(reader_.Type("hw:events:{web-01}"), "stream");
  EXPECT_EQ(reader_.Type("hw:events"), "stream");
  EXPECT_EQ(reader_.Type("hw:alerts:active"), "hash");
  EXPECT_EQ(reader_.Type("hw:alerts:log"), "stream");

  // Registry.
  EXPECT_EQ(reader_.Cmd({"ZSCORE", "hw:hosts", "web-01"}).str, std::to_string(kT0 + 60000));
  EXPECT_EQ(reader_.Cmd({"ZSCORE", "hw:hosts", "web-02"}).str, std::to_string(kT0));
  const auto host = reader_.HGetAll("hw:host:{web-01}");
  EXPECT_EQ(host.at("first_seen"), std::to_string(kT0));
  EXPECT_EQ(host.at("last_seen"), std::to_string(kT0 + 60000));
  EXPECT_EQ(host.at("tags"), R"({"idc":"sgp","role":"game server"})");
  EXPECT_EQ(host.at("sources"), R"(["web-01/collector","web-01/logwatch"])");
  EXPECT_GT(reader_.Int({"PTTL", "hw:host:{web-01}"}), 0);

  // Latest values: one field per series, shortest form.
  const std::string t6 = std::to_string(kT0 + 60000);
  EXPECT_EQ(reader_.HGetAll("hw:latest:{web-01}"),
            (std::map<std::string, std::string>{
                {"cpu.busy;cpu=total", "16.5 " + t6},
                {"mem.used_percent", "46 " + t6},
                {"disk.used_percent;fstype=ext4;mount=/", "0.6000000000000001 " + t6}}));
  EXPECT_EQ(reader_.HGetAll("hw:latest:{web-02}"),
            (std::map<std::string, std::string>{
                {"app.weird;b=1;k=" + weird, "1.25 " + std::to_string(kT0)}}));
  EXPECT_EQ(reader_.Cmd({"GET", "hw:latest:{web-02};canary"}).str, "untouched");

  // History: the configured metric only, trimmed to the last `points`.
  R hist = reader_.Cmd({"ZRANGE", "hw:hist:{web-01}:cpu.busy;cpu=total", "0", "-1", "WITHSCORES"});
  ASSERT_EQ(hist.el.size(), 10u);
  EXPECT_EQ(hist.el[0].str, std::to_string(kT0 + 20000) + ":12.5");
  EXPECT_EQ(hist.el[1].str, std::to_string(kT0 + 20000));
  EXPECT_EQ(hist.el[8].str, t6 + ":16.5");
  EXPECT_EQ(reader_.Int({"EXISTS", "hw:hist:{web-01}:mem.used_percent"}), 0);

  // Events, per host and for the fleet.
  auto events = reader_.Stream("hw:events:{web-01}");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].at("line"), std::string("Out of memory: Killed process 42\xff\x00!", 35));
  EXPECT_EQ(events[0].at("rule"), "kernel_oom");
  EXPECT_EQ(events[0].at("severity"), "critical");
  EXPECT_EQ(events[0].at("source"), "web-01/logwatch");
  EXPECT_EQ(events[0].at("fields"), R"({"pid":"42"})");
  EXPECT_EQ(events[1].at("line"), "second");
  auto fleet = reader_.Stream("hw:events");
  ASSERT_EQ(fleet.size(), 2u);
  EXPECT_EQ(fleet[0].at("endpoint"), "web-01");

  // Alerts: the resolved one left the active hash; the log has all three changes.
  const auto active = reader_.HGetAll("hw:alerts:active");
  ASSERT_EQ(active.size(), 1u);
  const std::string& json = active.at("cpu_high|web-01|cpu.busy;cpu=total");
  EXPECT_NE(json.find("\"state\":\"FIRING\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"value\":97.5"), std::string::npos) << json;
  auto log = reader_.Stream("hw:alerts:log");
  ASSERT_EQ(log.size(), 3u);
  EXPECT_EQ(log[2].at("state"), "resolved");
  EXPECT_EQ(log[2].at("key"), "disk_full|web-02|cpu.busy;cpu=total");

  // hostwatch hosts reads the same keys (through a cluster too, and with the ACL user).
  std::vector<std::string> cli = {kCli, "hosts", "--json", "--sort", "cpu", "--redis", ""};
  for (uint16_t p : reader_.ports) {
    if (!cli.back().empty()) cli.back() += ",";
    cli.back() += "redis://127.0.0.1:" + std::to_string(p);
  }
  if (!reader_.pass.empty()) {
    cli.insert(cli.end(),
               {"--user", reader_.user, "--password-file", (dir_.path() / "redis.pass").string()});
  }
  std::string out;
  Result<int> rc = testing::RunCommand(cli, &out, 20s);
  ASSERT_TRUE(rc.ok() && *rc == 0) << out;
  EXPECT_NE(
      out.find(
          R"({"host":"web-01","last_seen_ms":)" + t6 +
          R"(,"stale":true,"tags":{"idc":"sgp","role":"game server"},"cpu":16.5,"mem":46,"disk":0.6000000000000001,"load":null,"net":null,"firing_alerts":1})"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find(R"("host":"web-02")"), std::string::npos) << out;

  // SIGHUP: history for mem.used_percent from now on.
  ASSERT_TRUE(testing::WriteFile(config_, Yaml("[cpu.busy, \"mem.*\"]")).ok());
  cacher_->Signal(SIGHUP);
  ASSERT_TRUE(
      testing::WaitFor([&] { return CacherLog().find("reloaded") != std::string::npos; }, 10s));
  PublishSamples("web-01", {Sample("mem.used_percent", 50, kT0 + 70000)});
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return reader_.Int({"ZCARD", "hw:hist:{web-01}:mem.used_percent"}) == 1;
      },
      10s))
      << CacherLog();

  // Everything delivered was committed.
  EXPECT_TRUE(testing::WaitFor([&] { return Lag() == 0; }, 20s)) << Lag();

  // Self-metrics: published through the broker (every 10 s) and so cached like any host's.
  if (GetParam() == Kind::kSingle) {
    char name[256] = {};
    ASSERT_EQ(::gethostname(name, sizeof name - 1), 0);
    const std::string self = name;
    EXPECT_TRUE(testing::WaitFor(
        [&] {
          const auto m = reader_.HGetAll("hw:latest:{" + self + "}");
          return m.count("hostwatch.rediscache.written_batches") == 1 &&
                 m.count("hostwatch.rediscache.roundtrip_p99_ms") == 1;
        },
        25s, 200ms))
        << self;
  }
}

TEST_P(RedisCacheTest, CacherKill9MidStreamRepeatsNothing) {
  points_ = 1000;
  StartCacher();
  std::atomic<bool> stop{false};
  std::atomic<int> rounds{0};
  std::thread sender([&] {
    for (int i = 0; i < 400 && !stop; ++i) {
      const int64_t t = kT0 + i * 1000;
      for (const char* e : {"g-1", "g-2"}) {
        PublishSamples(e, {Sample("cpu.busy", i, t), Sample("load.1min", i * 0.5, t)});
        if (i % 4 == 0) PublishEvent(e, "r", "line " + std::to_string(i), t);
      }
      rounds = i + 1;
      std::this_thread::sleep_for(5ms);  // pacing the stream, not waiting for a result
    }
  });
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return reader_.Int({"ZCARD", "hw:hist:{g-1}:cpu.busy"}) > 50;
      },
      30s))
      << CacherLog();
  cacher_->Signal(SIGKILL);
  (void)cacher_->Wait(5s);
  RestartCacher();
  sender.join();
  for (auto& [name, p] : producers_) ASSERT_TRUE(p->WaitAcked(20s)) << name;
  const int n = rounds;
  ASSERT_EQ(n, 400);
  const int events = (n + 3) / 4;
  // The killed member holds its partitions until the broker finds it silent (5 s).
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        for (const char* e : {"g-1", "g-2"}) {
          const std::string E = e;
          if (!LatestIs(E, "load.1min", "199.5 " + std::to_string(kT0 + 399000)) ||
              reader_.Int({"XLEN", "hw:events:{" + E + "}"}) < events)
            return false;
        }
        return true;
      },
      60s))
      << CacherLog();
  for (const char* e : {"g-1", "g-2"}) {
    const std::string E = e;
    EXPECT_EQ(reader_.Int({"ZCARD", "hw:hist:{" + E + "}:cpu.busy"}), n) << e;
    EXPECT_EQ(reader_.Int({"XLEN", "hw:events:{" + E + "}"}), events) << e;
    EXPECT_TRUE(LatestIs(E, "cpu.busy", "399 " + std::to_string(kT0 + 399000))) << e;
  }
  EXPECT_EQ(reader_.Int({"XLEN", "hw:events"}), 2 * events);
}

INSTANTIATE_TEST_SUITE_P(Redis, RedisCacheTest,
                         ::testing::Values(Kind::kSingle, Kind::kAcl, Kind::kCluster),
                         [](const ::testing::TestParamInfo<Kind>& i) {
                           return i.param == Kind::kSingle ? std::string("Single")
                                  : i.param == Kind::kAcl  ? std::string("AclUser")
                                                           : std::string("Cluster");
                         });

// A Redis Cluster whose slot for a busy endpoint moves to another master mid-stream: the cacher
// meets ASK while the keys migrate and MOVED after the slot changed owner.
class RedisCacheClusterTest : public RedisCacheTest {
 protected:
  // Data port of the master serving `slot`, from CLUSTER SLOTS.
  uint16_t Owner(long long slot) {
    for (const R& range : reader_.Cmd({"CLUSTER", "SLOTS"}).el) {
      if (range.el.size() >= 3 && range.el[0].integer <= slot && slot <= range.el[1].integer)
        return static_cast<uint16_t>(range.el[2].el[1].integer);
    }
    return 0;
  }
  R On(uint16_t port, const std::vector<std::string>& argv) {
    Reader r = reader_;
    r.ports = {port};
    return r.Cmd(argv);
  }
};

TEST_P(RedisCacheClusterTest, SlotMigratedMidStream) {
  points_ = 1000;
  StartCacher();
  const long long slot = reader_.Cmd({"CLUSTER", "KEYSLOT", "busy-1"}).integer;
  const uint16_t from = Owner(slot);
  uint16_t to = 0;
  for (uint16_t p : reader_.ports) {
    if (p != from) to = p;
  }
  ASSERT_NE(from, 0);
  const std::string from_id = On(from, {"CLUSTER", "MYID"}).str;
  const std::string to_id = On(to, {"CLUSTER", "MYID"}).str;

  std::atomic<bool> stop{false};
  std::atomic<int> last{-1};
  std::thread sender([&] {
    for (int i = 0; !stop; ++i) {
      PublishSamples("busy-1", {Sample("cpu.busy", i, kT0 + i * 100),
                                Sample("net.rx_bytes", i, kT0 + i * 100,
                                       {{"iface", "eth" + std::to_string(i % 8)}})});
      last = i;
      std::this_thread::sleep_for(10ms);  // pacing the stream
    }
  });
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return reader_.Int({"ZCARD", "hw:hist:{busy-1}:cpu.busy"}) > 20;
      },
      20s))
      << CacherLog();
  // The documented migration steps (CLUSTER SETSLOT), one key at a time with pauses, so batches
  // arrive while some keys are on each side.
  ASSERT_EQ(On(to, {"CLUSTER", "SETSLOT", std::to_string(slot), "IMPORTING", from_id}).str, "OK");
  ASSERT_EQ(On(from, {"CLUSTER", "SETSLOT", std::to_string(slot), "MIGRATING", to_id}).str, "OK");
  for (int round = 0; round < 50; ++round) {
    R keys = On(from, {"CLUSTER", "GETKEYSINSLOT", std::to_string(slot), "1"});
    if (keys.el.empty()) break;
    R m = On(from,
             {"MIGRATE", "127.0.0.1", std::to_string(to), "", "0", "5000", "KEYS", keys.el[0].str});
    ASSERT_EQ(m.str, "OK") << m.str;
    std::this_thread::sleep_for(100ms);  // let batches meet the half-migrated slot
  }
  for (uint16_t p : reader_.ports)
    ASSERT_EQ(On(p, {"CLUSTER", "SETSLOT", std::to_string(slot), "NODE", to_id}).str, "OK");
  std::this_thread::sleep_for(1s);  // keep streaming after the move
  stop = true;
  sender.join();
  for (auto& [name, p] : producers_) ASSERT_TRUE(p->WaitAcked(20s)) << name;
  const int n = last + 1;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return LatestIs("busy-1", "cpu.busy",
                        std::to_string(n - 1) + " " + std::to_string(kT0 + (n - 1) * 100));
      },
      30s))
      << CacherLog();
  EXPECT_EQ(Owner(slot), to);
  EXPECT_EQ(reader_.Int({"ZCARD", "hw:hist:{busy-1}:cpu.busy"}), n);
  EXPECT_EQ(On(from, {"CLUSTER", "COUNTKEYSINSLOT", std::to_string(slot)}).integer, 0);
  // ASK was met: the cacher sent ASKING to the importing node.
  const std::string stats = On(to, {"INFO", "commandstats"}).str;
  EXPECT_NE(stats.find("cmdstat_asking:calls="), std::string::npos) << stats;
  // MOVED was met: it refreshed the topology.
  EXPECT_NE(CacherLog().find("slots moved, topology refreshed"), std::string::npos);
}

TEST_P(RedisCacheClusterTest, MasterKill9RestartedEmptyGetsRegistryAndLatestBack) {
  StartCacher();
  // Hosts spread over the masters; quiet ones send only before the crash.
  std::vector<std::string> quiet;
  for (int i = 0; i < 12; ++i) quiet.push_back("quiet-" + std::to_string(i));
  for (const std::string& e : quiet) PublishSamples(e, {Sample("cpu.busy", 7, kT0)});
  std::atomic<bool> stop{false};
  std::atomic<int> last{-1};
  std::thread sender([&] {
    for (int i = 0; !stop; ++i) {
      PublishSamples("busy-1", {Sample("cpu.busy", i, kT0 + i * 100)});
      last = i;
      std::this_thread::sleep_for(20ms);  // pacing the stream
    }
  });
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return reader_.Int({"ZCARD", "hw:hosts"}) >= 13;
      },
      20s))
      << CacherLog();
  // The master that holds quiet-0's keys goes away for 5 s and comes back empty.
  const long long slot = reader_.Cmd({"CLUSTER", "KEYSLOT", "quiet-0"}).integer;
  const uint16_t owner = Owner(slot);
  size_t node = 0;
  while (reader_.ports[node] != owner) ++node;
  cluster_->KillNode(node);
  std::this_thread::sleep_for(5s);  // the issue's scenario: down for 5 s
  ASSERT_TRUE(cluster_->RestartNode(node).ok());
  std::this_thread::sleep_for(1s);  // keep streaming after the restart
  stop = true;
  sender.join();
  for (auto& [name, p] : producers_) ASSERT_TRUE(p->WaitAcked(20s)) << name;
  const std::string want = std::to_string(last.load()) + " " + std::to_string(kT0 + last * 100);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        if (!LatestIs("busy-1", "cpu.busy", want)) return false;
        for (const std::string& e : quiet) {
          if (!LatestIs(e, "cpu.busy", "7 " + std::to_string(kT0))) return false;
        }
        return reader_.Int({"ZCARD", "hw:hosts"}) >= 13;
      },
      60s))
      << CacherLog();
  EXPECT_NE(CacherLog().find("new run_id"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Redis, RedisCacheClusterTest, ::testing::Values(Kind::kCluster),
                         [](const ::testing::TestParamInfo<Kind>&) {
                           return std::string("Cluster");
                         });

TEST(RedisCacheDaemon, CheckConfigAndConfigErrors) {
  std::string out;
  Result<int> rc = testing::RunCommand(
      {kCacher, "--config", HW_SOURCE_DIR "/deploy/config/rediscache.yaml", "--check-config"}, &out,
      20s);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 0) << out;
  EXPECT_NE(out.find("history:"), std::string::npos) << out;
  testing::TempDir dir;
  const fs::path bad = dir.path() / "bad.yaml";
  ASSERT_TRUE(testing::WriteFile(bad, "rediscache:\n  timeout: 2x\n  password: inline\n").ok());
  rc = testing::RunCommand({kCacher, "--config", bad.string(), "--check-config"}, &out, 20s);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 2) << out;
  EXPECT_NE(out.find("bad.yaml:2: rediscache.timeout"), std::string::npos) << out;
  EXPECT_NE(out.find("bad.yaml:3: rediscache.password"), std::string::npos) << out;
}

// One redis-server only: what happens when it goes away.
class RedisCacheFailureTest : public RedisCacheTest {};

TEST_P(RedisCacheFailureTest, RedisKill9RestartedEmptyGetsRegistryAndLatestBack) {
  StartCacher();
  // quiet-1 and quiet-2 send before the crash only.
  for (const char* e : {"quiet-1", "quiet-2"})
    PublishSamples(e, {Sample("cpu.busy", 7, kT0), Sample("mem.used_percent", 8, kT0)},
                   {{"idc", "fra"}});
  std::atomic<bool> stop{false};
  std::atomic<int> last{-1};
  std::thread sender([&] {
    for (int i = 0; !stop; ++i) {
      for (const char* e : {"busy-1", "busy-2"})
        PublishSamples(e, {Sample("cpu.busy", i, kT0 + i * 100)});
      last = i;
      std::this_thread::sleep_for(20ms);  // pacing the stream
    }
  });
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return reader_.Int({"ZCARD", "hw:hosts"}) >= 4;
      },
      20s))
      << CacherLog();
  redis_->Kill();
  // The issue's scenario: Redis stays away 5 s, then comes back with nothing in it.
  std::this_thread::sleep_for(5s);
  ASSERT_TRUE(redis_->Restart().ok());
  std::this_thread::sleep_for(1s);  // keep streaming for a while after the restart
  stop = true;
  sender.join();
  for (auto& [name, p] : producers_) ASSERT_TRUE(p->WaitAcked(20s)) << name;
  const std::string want = std::to_string(last.load()) + " " + std::to_string(kT0 + last * 100);
  ASSERT_TRUE(testing::WaitFor(
      [&] { return LatestIs("busy-1", "cpu.busy", want) && LatestIs("busy-2", "cpu.busy", want); },
      30s))
      << CacherLog();
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return !reader_.Cmd({"ZSCORE", "hw:hosts", "quiet-1"}).nil() &&
               !reader_.Cmd({"ZSCORE", "hw:hosts", "quiet-2"}).nil();
      },
      10s));
  EXPECT_EQ(reader_.HGetAll("hw:latest:{quiet-2}"),
            (std::map<std::string, std::string>{{"cpu.busy", "7 " + std::to_string(kT0)},
                                                {"mem.used_percent", "8 " + std::to_string(kT0)}}));
  EXPECT_EQ(reader_.HGet("hw:host:{quiet-1}", "tags"), R"({"idc":"fra"})");
  EXPECT_NE(CacherLog().find("new run_id"), std::string::npos);
}

TEST_P(RedisCacheFailureTest, RedisDownCommitsNothingAndCatchesUp) {
  StartCacher();
  PublishSamples("d-1", {Sample("cpu.busy", 1, kT0)});
  ASSERT_TRUE(testing::WaitFor(
      [&] { return LatestIs("d-1", "cpu.busy", "1 " + std::to_string(kT0)); }, 20s))
      << CacherLog();
  ASSERT_TRUE(testing::WaitFor([&] { return Lag() == 0; }, 20s));
  redis_->Kill();
  const int64_t committed = Committed();
  for (int i = 2; i <= 20; ++i) PublishSamples("d-1", {Sample("cpu.busy", i, kT0 + i)});
  for (auto& [name, p] : producers_) ASSERT_TRUE(p->WaitAcked(10s)) << name;
  ASSERT_TRUE(testing::WaitFor(
      [&] { return CacherLog().find("nothing committed") != std::string::npos; }, 10s));
  ASSERT_TRUE(testing::WaitFor([&] { return Lag() >= 19; }, 10s)) << Lag();
  EXPECT_EQ(Committed(), committed);
  ASSERT_TRUE(redis_->Restart().ok());
  ASSERT_TRUE(testing::WaitFor(
      [&] { return LatestIs("d-1", "cpu.busy", "20 " + std::to_string(kT0 + 20)); }, 60s))
      << CacherLog();
  EXPECT_TRUE(testing::WaitFor([&] { return Lag() == 0; }, 20s)) << Lag();
}

TEST_P(RedisCacheFailureTest, SlowRedisBlocksNeitherHeartbeatsNorData) {
  StartCacher();
  PublishSamples("s-1", {Sample("cpu.busy", 1, kT0)});
  ASSERT_TRUE(testing::WaitFor(
      [&] { return LatestIs("s-1", "cpu.busy", "1 " + std::to_string(kT0)); }, 20s));
  // Longer than the broker's 5 s member timeout and far longer than the cacher's 500 ms timeout.
  std::thread sleeper([&] { (void)reader_.Cmd({"DEBUG", "SLEEP", "7"}); });
  std::this_thread::sleep_for(200ms);  // let DEBUG SLEEP reach the server first
  for (int i = 2; i <= 10; ++i) PublishSamples("s-1", {Sample("cpu.busy", i, kT0 + i)});
  sleeper.join();
  ASSERT_TRUE(testing::WaitFor(
      [&] { return LatestIs("s-1", "cpu.busy", "10 " + std::to_string(kT0 + 10)); }, 60s))
      << CacherLog();
  EXPECT_TRUE(testing::WaitFor([&] { return Lag() == 0; }, 20s));
  EXPECT_EQ(broker_->Log().find("silent for 5s left their groups"), std::string::npos)
      << broker_->Log();
}

INSTANTIATE_TEST_SUITE_P(Redis, RedisCacheFailureTest, ::testing::Values(Kind::kSingle),
                         [](const ::testing::TestParamInfo<Kind>&) {
                           return std::string("Single");
                         });

}  // namespace
}  // namespace hw
