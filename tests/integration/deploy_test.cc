// The files in deploy/ as an operator uses them (issue: operator experience):
//  - every example config under deploy/ passes its daemon's --check-config;
//  - every daemon, started from its example config under a systemd-like harness (NOTIFY_SOCKET,
//    WATCHDOG_USEC), reports READY=1, pings the watchdog, and on SIGTERM reports STOPPING=1 and
//    exits 0;
//  - `systemd-analyze verify` accepts every unit in deploy/systemd;
//  - the grafana dashboard is valid JSON whose graphite targets name only series a real collector
//    and logwatch produce.
#include <fnmatch.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/testing/notify_socket.h"
#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "common/transport/consumer_link.h"
#include "tests/integration/broker_harness.h"

namespace hw {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const fs::path kSource = HW_SOURCE_DIR;
const fs::path kBinary = HW_BINARY_DIR;

std::string Slurp(const fs::path& p) {
  Result<std::string> r = testing::ReadFile(p);
  return r.ok() ? *r : std::string();
}

// The daemon an example config belongs to: its file name up to the first '.' or '-'
// ("broker.yaml", "collector-web.yaml" -> collector).
std::string DaemonOf(const fs::path& config) {
  const std::string name = config.filename().string();
  return name.substr(0, name.find_first_of(".-"));
}

fs::path BinaryOf(const std::string& daemon) { return kBinary / daemon / ("hostwatch-" + daemon); }

std::vector<fs::path> ExampleConfigs() {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(kSource / "deploy")) {
    if (e.is_regular_file() && e.path().extension() == ".yaml" &&
        e.path().parent_path().filename() != "grafana") {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(DeployTest, EveryExampleConfigPassesCheckConfig) {
  const std::vector<fs::path> configs = ExampleConfigs();
  ASSERT_GE(configs.size(), 3u);
  for (const fs::path& c : configs) {
    const fs::path bin = BinaryOf(DaemonOf(c));
    ASSERT_TRUE(fs::exists(bin)) << c << ": no daemon " << bin;
    std::string out;
    Result<int> rc =
        testing::RunCommand({bin.string(), "--config", c.string(), "--check-config"}, &out, 30s);
    ASSERT_TRUE(rc.ok()) << rc.status().ToString();
    EXPECT_EQ(*rc, 0) << c << ":\n" << out;
  }
}

// The example config with its loopback ports moved to ones free now (so the test runs beside
// anything else on the machine); relative paths (./hostwatch-data/...) land in the daemon's cwd.
std::string WithPorts(std::string yaml, const std::map<std::string, std::string>& ports) {
  for (const auto& [from, to] : ports) {
    for (size_t at = 0; (at = yaml.find(from, at)) != std::string::npos; at += to.size()) {
      yaml.replace(at, from.size(), to);
    }
  }
  return yaml;
}

TEST(DeployTest, EveryDaemonReportsReadyPingsTheWatchdogAndStopsCleanly) {
  testing::TempDir dir;
  // The broker's example ports, and the consumers' backends (redis, carbon, graphite-web, smtp)
  // moved out of the way: a consumer must come up and stay healthy while its backend is down.
  std::map<std::string, std::string> ports;
  for (const char* p : {"7400", "7401", "7402", "6379", "2003", "2004", "8080", "25"}) {
    Result<uint16_t> port = testing::FreeLoopbackPort();
    ASSERT_TRUE(port.ok()) << port.status().ToString();
    ports[std::string("127.0.0.1:") + p] = "127.0.0.1:" + std::to_string(*port);
  }
  std::vector<fs::path> configs;
  for (const fs::path& c : ExampleConfigs()) {
    if (c.parent_path() == kSource / "deploy" / "config") configs.push_back(c);
  }
  // The broker first: the others connect to it.
  std::stable_partition(configs.begin(), configs.end(),
                        [](const fs::path& c) { return DaemonOf(c) == "broker"; });
  ASSERT_EQ(DaemonOf(configs.at(0)), "broker");

  struct Running {
    std::string daemon;
    std::unique_ptr<testing::NotifySocket> notify;
    std::optional<testing::Subprocess> proc;
    fs::path log;
  };
  std::vector<Running> running;
  for (const fs::path& c : configs) {
    Running r;
    r.daemon = DaemonOf(c);
    const fs::path cwd = dir.Sub(r.daemon);
    const fs::path cfg = cwd / c.filename();
    ASSERT_TRUE(testing::WriteFile(cfg, WithPorts(Slurp(c), ports)).ok());
    r.notify = std::make_unique<testing::NotifySocket>(cwd / "notify.sock");
    ASSERT_TRUE(r.notify->bound());
    r.log = cwd / "daemon.log";
    testing::SubprocessOptions o;
    o.argv = {BinaryOf(r.daemon).string(), "--config", cfg.string()};
    o.cwd = cwd;
    // 2 s: the daemon pings every second.
    o.env_extra = {"NOTIFY_SOCKET=" + r.notify->path(), "WATCHDOG_USEC=2000000"};
    o.stderr_path = r.log;
    o.stdout_path = r.log;
    Result<testing::Subprocess> p = testing::Subprocess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    r.proc.emplace(std::move(p).value());
    ASSERT_TRUE(testing::WaitFor(
        [&] { return r.notify->Drain().find("READY=1") != std::string::npos; }, 20s))
        << r.daemon << " sent no READY=1:\n"
        << Slurp(r.log);
    running.push_back(std::move(r));
  }
  for (Running& r : running) {
    EXPECT_TRUE(testing::WaitFor([&] { return r.notify->Count("WATCHDOG=1") >= 2; }, 10s))
        << r.daemon << " did not ping the watchdog:\n"
        << r.notify->Drain() << Slurp(r.log);
  }
  // Consumers first, the broker last.
  for (auto it = running.rbegin(); it != running.rend(); ++it) {
    it->proc->Signal(SIGTERM);
    std::optional<int> rc = it->proc->Wait(20s);
    ASSERT_TRUE(rc.has_value()) << it->daemon << " did not stop:\n" << Slurp(it->log);
    EXPECT_EQ(*rc, 0) << it->daemon << ":\n" << Slurp(it->log);
    EXPECT_NE(it->notify->Drain().find("STOPPING=1"), std::string::npos) << it->daemon;
  }
}

TEST(DeployTest, SystemdAnalyzeVerifiesEveryUnit) {
  testing::TempDir dir;
  int units = 0;
  std::vector<std::string> argv = {"systemd-analyze", "verify"};
  for (const auto& e : fs::directory_iterator(kSource / "deploy" / "systemd")) {
    if (e.path().extension() != ".service") continue;
    ++units;
    // ExecStart names the installed binary (/usr/local/bin/hostwatch-*), which verify requires
    // to exist: point it at the build's.
    std::string unit = Slurp(e.path());
    const std::string from = "bin/hostwatch-";
    int execs = 0;
    for (size_t at = 0; (at = unit.find(from, at)) != std::string::npos;) {
      const size_t begin = unit.rfind('=', at) + 1;
      const size_t end = unit.find_first_of(" \n", at);
      const std::string daemon = unit.substr(at + from.size(), end - at - from.size());
      const std::string to = BinaryOf(daemon).string();
      EXPECT_TRUE(fs::exists(to)) << e.path() << " runs " << daemon << ", which is not built";
      unit.replace(begin, end - begin, to);
      at = begin + to.size();
      ++execs;
    }
    EXPECT_GE(execs, 1) << e.path();
    const fs::path copy = dir.path() / e.path().filename();
    ASSERT_TRUE(testing::WriteFile(copy, unit).ok());
    argv.push_back(copy.string());
  }
  ASSERT_GE(units, 6);
  std::string out;
  Result<int> rc = testing::RunCommand(argv, &out, 60s);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(*rc, 0) << out;
  // verify exits 0 on some complaints: none of them may be about our units.
  EXPECT_EQ(out.find("hostwatch-"), std::string::npos) << out;
}

// {a,b}c -> ac, bc (graphite's brace alternatives; one level, as the dashboard uses them).
std::vector<std::string> ExpandBraces(const std::string& s) {
  const size_t open = s.find('{');
  if (open == std::string::npos) return {s};
  const size_t close = s.find('}', open);
  std::vector<std::string> out;
  size_t start = open + 1;
  for (;;) {
    const size_t comma = std::min(s.find(',', start), close);
    for (const std::string& rest : ExpandBraces(s.substr(close + 1))) {
      out.push_back(s.substr(0, open) + s.substr(start, comma - start) + rest);
    }
    if (comma == close) break;
    start = comma + 1;
  }
  return out;
}

// The series patterns in a graphite target: every "hostwatch." argument of its functions.
std::vector<std::string> SeriesIn(const std::string& target) {
  std::vector<std::string> out;
  for (size_t at = 0; (at = target.find("hostwatch.", at)) != std::string::npos;) {
    size_t end = at;
    int depth = 0;
    while (end < target.size()) {
      const char c = target[end];
      if (c == '{') ++depth;
      if (c == '}') --depth;
      if (depth == 0 && (c == ',' || c == ')' || c == ' ')) break;
      ++end;
    }
    out.push_back(target.substr(at, end - at));
    at = end;
  }
  return out;
}

// A graphite path component as the forwarder writes it: anything but [A-Za-z0-9_-] becomes '_'.
std::string Component(const std::string& s) {
  std::string out = s;
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') c = '_';
  }
  return out;
}

// Graphite globbing, one dot-separated component at a time.
bool PathMatches(const std::string& pattern, const std::string& path) {
  auto split = [](const std::string& s) {
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t dot; (dot = s.find('.', start)) != std::string::npos; start = dot + 1) {
      parts.push_back(s.substr(start, dot - start));
    }
    parts.push_back(s.substr(start));
    return parts;
  };
  const std::vector<std::string> p = split(pattern), q = split(path);
  if (p.size() != q.size()) return false;
  for (size_t i = 0; i < p.size(); ++i) {
    if (::fnmatch(p[i].c_str(), q[i].c_str(), 0) != 0) return false;
  }
  return true;
}

void CollectTargets(const google::protobuf::Value& v, std::vector<std::string>* out) {
  if (v.has_struct_value()) {
    for (const auto& [k, f] : v.struct_value().fields()) {
      if (k == "target" && f.has_string_value()) out->push_back(f.string_value());
      CollectTargets(f, out);
    }
  } else if (v.has_list_value()) {
    for (const auto& e : v.list_value().values()) CollectTargets(e, out);
  }
}

TEST(DeployTest, DashboardNamesOnlySeriesTheAgentsProduce) {
  google::protobuf::Value dashboard;
  const std::string json = Slurp(kSource / "deploy" / "grafana" / "hostwatch-overview.json");
  ASSERT_FALSE(json.empty());
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &dashboard).ok())
      << "not valid JSON";
  std::vector<std::string> targets;
  CollectTargets(dashboard, &targets);
  ASSERT_GE(targets.size(), 10u);

  // A real collector (every plugin at 1 s, one process matcher) and logwatch (one counting rule)
  // into a real broker; the series they produce, as the graphite forwarder names them (path).
  testing::TempDir dir;
  auto broker = testing::BrokerProcess::Start(dir.Sub("broker"));
  ASSERT_TRUE(broker.ok()) << broker.status().ToString();
  const std::string link = "link:\n  brokers: [" + (*broker)->frontend() + "]\n  spool_dir: ";
  ASSERT_TRUE(testing::WriteFile(dir.path() / "app.log", "").ok());
  ASSERT_TRUE(testing::WriteFile(dir.path() / "collector.yaml",
                                 "collector:\n  endpoint: dash-host\n  interval: 1s\n  plugins:\n"
                                 "    process: {matchers: [{name: init, match: {pidfile: " +
                                     (dir.path() / "self.pid").string() + "}}]}\n" + link +
                                     dir.Sub("cspool").string() + "\n")
                  .ok());
  ASSERT_TRUE(testing::WriteFile(dir.path() / "self.pid", std::to_string(::getpid())).ok());
  ASSERT_TRUE(
      testing::WriteFile(dir.path() / "logwatch.yaml",
                         "logwatch:\n  endpoint: dash-host\n  interval: 1s\n  state_dir: " +
                             dir.Sub("lwstate").string() +
                             "\n  files:\n    - {path: " + (dir.path() / "app.log").string() +
                             ", rules: [errors]}\n  rules:\n    - {name: errors, match: ERROR, "
                             "emit: count}\n" +
                             link + dir.Sub("lwspool").string() + "\n")
          .ok());
  std::vector<testing::Subprocess> agents;
  for (const char* d : {"collector", "logwatch"}) {
    testing::SubprocessOptions o;
    o.argv = {BinaryOf(d).string(), "--config", (dir.path() / (std::string(d) + ".yaml")).string()};
    o.stderr_path = dir.path() / (std::string(d) + ".log");
    auto p = testing::Subprocess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    agents.push_back(std::move(p).value());
  }
  transport::ConsumerOptions co;
  co.group = "dashboard";
  co.link.brokers = {(*broker)->frontend()};
  co.link.backends = {(*broker)->backend()};
  auto consumer = transport::ConsumerLink::Connect(co);
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();

  std::set<std::string> paths;
  std::set<std::string> metrics;
  auto unmatched = [&] {
    std::vector<std::string> out;
    for (const std::string& t : targets) {
      for (std::string series : SeriesIn(t)) {
        for (const char* var : {"$host", "$iface"}) {
          for (size_t at; (at = series.find(var)) != std::string::npos;) {
            series.replace(at, std::string(var).size(), "*");
          }
        }
        bool found = false;
        for (const std::string& alt : ExpandBraces(series)) {
          for (const std::string& p : paths) found = found || PathMatches(alt, p);
        }
        if (!found) out.push_back(series);
      }
    }
    return out;
  };
  const auto end = std::chrono::steady_clock::now() + 30s;
  bool wrote_error = false;
  while (std::chrono::steady_clock::now() < end && !unmatched().empty()) {
    if (!wrote_error) {
      std::ofstream(dir.path() / "app.log", std::ios::app) << "ERROR one\n";
      wrote_error = true;
    }
    auto batch = (*consumer)->Poll(500ms, 1000);
    if (!batch.ok()) continue;
    for (const transport::Delivery& d : *batch) {
      if (!d.envelope.has_samples() || d.envelope.samples().endpoint() != "dash-host") continue;
      for (const auto& s : d.envelope.samples().samples()) {
        std::map<std::string, std::string> tags(s.tags().begin(), s.tags().end());
        std::string path = "hostwatch." + Component("dash-host") + "." + s.metric();
        for (const auto& [k, v] : tags) path += "." + Component(v);
        paths.insert(path);
        metrics.insert(s.metric());
      }
    }
    (void)(*consumer)->Commit(*batch);
  }
  // What a container or VM without real disks cannot show: these metrics must at least be ones
  // the collector's plugins emit (checked in their sources); everything else must be seen live.
  const std::set<std::string> host_dependent = {"disk.used_percent", "diskio.util_percent"};
  for (const std::string& series : unmatched()) {
    bool excused = false;
    for (const std::string& m : host_dependent) {
      if (series.find("." + m + ".") != std::string::npos && metrics.count(m) == 0) {
        std::string out;
        Result<int> rc = testing::RunCommand(
            {"grep", "-rqF", "\"" + m + "\"", (kSource / "collector" / "plugins").string()}, &out,
            10s);
        excused = rc.ok() && *rc == 0;
      }
    }
    EXPECT_TRUE(excused) << "the dashboard names " << series
                         << ", which no agent produced; produced e.g. " << *paths.begin();
  }
  for (testing::Subprocess& a : agents) (void)a.Stop(10s);
}

}  // namespace
}  // namespace hw
