// SIGHUP on the agents, against a real broker: a changed plugin (collector) or rule (logwatch)
// takes effect without a restart and without losing what is spooled or where each log was read
// up to; an invalid config is rejected, logged with its file, line and key, and the running one
// kept. (The broker's own reload: daemon_config_test.)
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "common/transport/consumer_link.h"
#include "tests/integration/broker_harness.h"

namespace hw {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kCollector = HW_BINARY_DIR "/collector/hostwatch-collector";
const std::string kLogwatch = HW_BINARY_DIR "/logwatch/hostwatch-logwatch";
const std::string kAlerter = HW_BINARY_DIR "/alerter/hostwatch-alerter";

std::string Slurp(const fs::path& p) {
  Result<std::string> r = testing::ReadFile(p);
  return r.ok() ? *r : std::string();
}

class ReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = testing::BrokerProcess::Start(dir_.Sub("broker"));
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    transport::ConsumerOptions o;
    o.group = "reload";
    o.link.brokers = {broker_->frontend()};
    o.link.backends = {broker_->backend()};
    auto c = transport::ConsumerLink::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    consumer_ = std::move(c).value();
  }
  void TearDown() override {
    if (daemon_) daemon_->Stop(10s);
    if (HasFailure()) std::cerr << "daemon log:\n" << Slurp(log_);
  }

  void Start(const std::string& binary, const fs::path& config) {
    testing::SubprocessOptions o;
    o.argv = {binary, "--config", config.string()};
    o.stderr_path = log_;
    auto p = testing::Subprocess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    daemon_.emplace(std::move(p).value());
  }

  // Reads deliveries until pred() holds; every sample of `endpoint` is kept (metric|tag values ->
  // summed value), and every envelope's seq per (source, epoch) recorded.
  bool ReadUntil(const std::function<bool()>& pred, std::chrono::milliseconds deadline) {
    const auto end = std::chrono::steady_clock::now() + deadline;
    while (!pred()) {
      if (std::chrono::steady_clock::now() >= end) return false;
      auto batch = consumer_->Poll(200ms, 1000);
      if (!batch.ok()) continue;
      for (const transport::Delivery& d : *batch) {
        const auto& e = d.envelope;
        if (!e.has_samples() || e.samples().endpoint() != "reload-host") continue;
        seqs_[e.source() + "#" + std::to_string(e.epoch())].insert(e.seq());
        for (const auto& s : e.samples().samples()) {
          std::string key = s.metric();
          std::map<std::string, std::string> tags(s.tags().begin(), s.tags().end());
          for (const auto& [k, v] : tags) key += "|" + v;
          values_[key] += s.value();
          last_[key] = s.value();
        }
      }
      (void)consumer_->Commit(*batch);
    }
    return true;
  }
  bool Seen(const std::string& key) const { return values_.count(key) > 0; }
  // Every (source, epoch) delivered 1..max with no gap: nothing spooled was lost by a reload.
  void ExpectNoGaps() const {
    for (const auto& [source, seqs] : seqs_) {
      EXPECT_EQ(*seqs.begin(), 1u) << source;
      EXPECT_EQ(*seqs.rbegin(), seqs.size()) << source << ": a gap in the seqs";
    }
  }
  void Reload(const fs::path& config, const std::string& yaml) {
    ASSERT_TRUE(testing::WriteFile(config, yaml).ok());
    daemon_->Signal(SIGHUP);
  }
  bool LogHas(const std::string& s) const { return Slurp(log_).find(s) != std::string::npos; }
  std::string Link(const std::string& spool) {
    return "link:\n  brokers: [" + broker_->frontend() +
           "]\n  spool_dir: " + dir_.Sub(spool).string() + "\n";
  }

  testing::TempDir dir_;
  fs::path log_ = dir_.path() / "daemon.log";
  std::unique_ptr<testing::BrokerProcess> broker_;
  std::unique_ptr<transport::ConsumerLink> consumer_;
  std::optional<testing::Subprocess> daemon_;
  std::map<std::string, double> values_, last_;
  std::map<std::string, std::set<uint64_t>> seqs_;
};

TEST_F(ReloadTest, CollectorTakesANewPluginAndKeepsTheRunningConfigOnAnInvalidOne) {
  const fs::path cfg = dir_.path() / "collector.yaml";
  ASSERT_TRUE(testing::WriteFile(dir_.path() / "self.pid", std::to_string(::getpid())).ok());
  const std::string head = "collector:\n  endpoint: reload-host\n  interval: 1s\n  plugins:\n";
  const std::string off = "    process: {enabled: false}\n";
  const std::string on = "    process: {matchers: [{name: tester, match: {pidfile: " +
                         (dir_.path() / "self.pid").string() + "}}]}\n";
  ASSERT_TRUE(testing::WriteFile(cfg, head + off + Link("spool")).ok());
  Start(kCollector, cfg);
  ASSERT_TRUE(ReadUntil([&] { return Seen("cpu.busy|total"); }, 30s));
  EXPECT_FALSE(Seen("proc.up|tester"));

  Reload(cfg, head + on + Link("spool"));
  ASSERT_TRUE(ReadUntil([&] { return Seen("proc.up|tester"); }, 30s)) << "the new plugin";
  EXPECT_EQ(last_["proc.up|tester"], 1);

  // Invalid: rejected with file, line and key; the matcher keeps reporting.
  Reload(cfg, head + on + "    bogus: {}\n" + Link("spool"));
  ASSERT_TRUE(testing::WaitFor([&] { return LogHas("keeping the running config"); }, 10s));
  EXPECT_TRUE(LogHas("collector.yaml:6")) << "file and line";
  values_.erase("proc.up|tester");
  ASSERT_TRUE(ReadUntil([&] { return Seen("proc.up|tester"); }, 30s)) << "the running config";
  EXPECT_TRUE(daemon_->Running());
  ExpectNoGaps();
}

TEST_F(ReloadTest, LogwatchTakesANewRuleAndKeepsItsOffsets) {
  const fs::path cfg = dir_.path() / "logwatch.yaml";
  const fs::path log = dir_.path() / "app.log";
  auto append = [&](const std::string& s) { std::ofstream(log, std::ios::app) << s; };
  append("");
  auto config = [&](const std::string& files_rules, const std::string& rules) {
    return "logwatch:\n  endpoint: reload-host\n  interval: 1s\n  state_dir: " +
           dir_.Sub("state").string() + "\n  files:\n    - {path: " + log.string() + ", rules: [" +
           files_rules + "], from: beginning}\n  rules:\n" + rules + Link("lwspool");
  };
  const std::string err = "    - {name: errors, match: ERROR, emit: count}\n";
  const std::string warn = "    - {name: warnings, match: WARN, emit: count}\n";
  ASSERT_TRUE(testing::WriteFile(cfg, config("errors", err)).ok());
  Start(kLogwatch, cfg);
  append("ERROR a\nERROR b\nWARN c\n");
  const std::string errors = "log.errors.count|" + log.string();
  const std::string warnings = "log.warnings.count|" + log.string();
  ASSERT_TRUE(ReadUntil([&] { return values_[errors] >= 2; }, 30s));
  EXPECT_FALSE(Seen(warnings));

  Reload(cfg, config("errors, warnings", err + warn));
  ASSERT_TRUE(testing::WaitFor([&] { return LogHas("reloaded"); }, 10s));
  append("ERROR d\nWARN e\nWARN f\n");
  ASSERT_TRUE(ReadUntil([&] { return values_[warnings] >= 2 && values_[errors] >= 3; }, 30s));
  // The offsets were kept: nothing before the reload was read again.
  ASSERT_TRUE(ReadUntil([&] { return false; }, 3s) == false);
  EXPECT_EQ(values_[errors], 3);
  EXPECT_EQ(values_[warnings], 2) << "WARN c came before the rule and is not counted again";

  Reload(cfg, config("errors", "    - {name: errors, match: '(', emit: count}\n"));
  ASSERT_TRUE(testing::WaitFor([&] { return LogHas("keeping the running config"); }, 10s));
  EXPECT_TRUE(LogHas("logwatch.yaml:")) << "file and line";
  append("WARN g\n");
  ASSERT_TRUE(ReadUntil([&] { return values_[warnings] >= 3; }, 30s)) << "the running rules";
  EXPECT_TRUE(daemon_->Running());
  ExpectNoGaps();
}

// The alerter's daemon on SIGHUP (its rules' and state's behaviour across a reload is
// alerter_sink_test's): an invalid config is refused naming file and line, a valid one applied, and
// the daemon keeps running and stops cleanly.
TEST_F(ReloadTest, AlerterAppliesAValidConfigAndRefusesAnInvalidOne) {
  const fs::path cfg = dir_.path() / "alerter.yaml";
  auto config = [&](const std::string& rules) {
    return "alerter:\n  state_dir: " + dir_.Sub("astate").string() +
           "\n  outbox_dir: " + dir_.Sub("outbox").string() +
           "\n  receivers:\n    ops: {email: [ops@localhost]}\n" + "  rules:\n" + rules +
           "link:\n  brokers: [" + broker_->frontend() + "]\n  backends: [" + broker_->backend() +
           "]\n  spool_dir: " + dir_.Sub("aspool").string() + "\n";
  };
  const std::string cpu =
      "    - {name: cpu_high, metric: cpu.busy, expr: \"all(#3) > 90\", receivers: [ops]}\n";
  const std::string mem =
      "    - {name: mem_high, metric: mem.used_percent, expr: \"all(#3) > 95\", receivers: "
      "[ops]}\n";
  ASSERT_TRUE(testing::WriteFile(cfg, config(cpu)).ok());
  Start(kAlerter, cfg);
  ASSERT_TRUE(testing::WaitFor([&] { return LogHas("hostwatch-alerter started"); }, 20s));

  Reload(cfg, config(cpu + "    - {name: broken, metric: cpu.busy, expr: \"avg(#3) >\"}\n"));
  ASSERT_TRUE(testing::WaitFor([&] { return LogHas("keeping the running config"); }, 10s));
  EXPECT_TRUE(LogHas("alerter.yaml:")) << "file and line";
  EXPECT_TRUE(daemon_->Running());

  Reload(cfg, config(cpu + mem));
  ASSERT_TRUE(testing::WaitFor([&] { return LogHas("reloaded"); }, 10s));
  EXPECT_TRUE(daemon_->Running());
  daemon_->Signal(SIGTERM);
  std::optional<int> rc = daemon_->Wait(20s);
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 0);
  daemon_.reset();
}

}  // namespace
}  // namespace hw
