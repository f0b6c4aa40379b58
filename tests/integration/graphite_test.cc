// hostwatch-graphite end to end: a real broker, the real hostwatch-graphite binary, real
// carbon-caches (graphite-carbon), read back with whisper. Samples are published in process
// through a ProducerLink, so values, timestamps and tags are exactly what the test chose.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "common/base/mutex.h"
#include "common/strings/strings.h"
#include "common/testing/servers.h"
#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "common/transport/producer_link.h"
#include "graphite/hash_ring.h"
#include "tests/integration/broker_harness.h"

namespace hw::graphite {
namespace {

using namespace std::chrono_literals;
using hostwatch::v1::Envelope;
using testing::CarbonCache;
namespace fs = std::filesystem;

const std::string kGraphite = HW_BINARY_DIR "/graphite/hostwatch-graphite";

struct Point {
  std::string metric;
  std::map<std::string, std::string> tags;
  double value;
  int64_t time_s;
};

// The hostwatch-graphite binary with a config of the test's making.
class GraphiteProcess {
 public:
  GraphiteProcess(fs::path dir, std::string yaml) : dir_(std::move(dir)), yaml_(std::move(yaml)) {}
  ~GraphiteProcess() {
    if (proc_) proc_->Stop();
  }
  Status Start() {
    HW_RETURN_IF_ERROR(testing::WriteFile(dir_ / "graphite.yaml", yaml_));
    testing::SubprocessOptions o;
    o.argv = {kGraphite, "--config", (dir_ / "graphite.yaml").string()};
    o.cwd = dir_;
    o.stdout_path = o.stderr_path = dir_ / "graphite.log";
    HW_ASSIGN_OR_RETURN(testing::Subprocess p, testing::Subprocess::Start(std::move(o)));
    proc_.emplace(std::move(p));
    return Status::Ok();
  }
  void Kill9() {
    proc_->Signal(SIGKILL);
    proc_->Wait(10s);
    proc_.reset();
  }
  bool Running() { return proc_ && proc_->Running(); }
  // Rewrites the config file and sends SIGHUP.
  Status Reload(const std::string& yaml) {
    HW_RETURN_IF_ERROR(testing::WriteFile(dir_ / "graphite.yaml", yaml));
    proc_->Signal(SIGHUP);
    return Status::Ok();
  }
  const std::string& yaml() const { return yaml_; }
  std::string Log() const {
    Result<std::string> s = testing::ReadFile(dir_ / "graphite.log");
    return s.ok() ? s->substr(s->size() > 4000 ? s->size() - 4000 : 0) : "";
  }

 private:
  fs::path dir_;
  std::string yaml_;
  std::optional<testing::Subprocess> proc_;
};

class GraphiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = testing::BrokerProcess::Start(dir_.Sub("broker"));
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(*b);
    // Aligned to carbon's 10 s step and an hour in the past: well inside the 1 d retention.
    t0_ = (std::time(nullptr) / 10 * 10) - 3600;
  }

  std::unique_ptr<GraphiteProcess> StartGraphite(const std::string& name,
                                                 const std::string& graphite_yaml) {
    const fs::path d = dir_.Sub(name);
    std::string yaml = "graphite:\n" + graphite_yaml + "  spool_dir: " + (d / "out").string() +
                       "\n  settle: 1s\nlink:\n  brokers: [" + broker_->frontend() +
                       "]\n  backends: [" + broker_->backend() + "]\n  group: " + name +
                       "\n  spool_dir: " + (d / "self").string() + "\n";
    auto g = std::make_unique<GraphiteProcess>(d, yaml);
    Status s = g->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return g;
  }

  // One producer per endpoint: the broker takes samples of an endpoint only from its own source.
  transport::ProducerLink* Producer(const std::string& endpoint) {
    auto& p = producers_[endpoint];
    if (!p) {
      transport::ProducerOptions o;
      o.endpoint = endpoint;
      o.component = "collector";
      o.link.brokers = {broker_->frontend()};
      o.link.spool_dir = dir_.Sub("producer-" + endpoint).string();
      o.validate = false;  // the hostile-tag test wants the broker to judge
      auto started = transport::ProducerLink::Start(o);
      EXPECT_TRUE(started.ok()) << started.status().ToString();
      if (started.ok()) p = std::move(*started);
    }
    return p.get();
  }

  void Publish(const std::string& endpoint, const std::vector<Point>& points) {
    transport::ProducerLink* producer = Producer(endpoint);
    ASSERT_NE(producer, nullptr);
    Envelope e;
    auto* batch = e.mutable_samples();
    batch->set_endpoint(endpoint);
    for (const Point& p : points) {
      auto* s = batch->add_samples();
      s->set_metric(p.metric);
      for (const auto& [k, v] : p.tags) (*s->mutable_tags())[k] = v;
      s->set_value(p.value);
      s->set_time_ms(p.time_s * 1000);
      s->set_step_s(10);
    }
    Status st = producer->Publish(e);
    ASSERT_TRUE(st.ok()) << st.ToString();
  }

  // Values at first_s, first_s + 10, ... (n of them); nullopt where missing or unreadable.
  static std::vector<std::optional<double>> Values(const fs::path& file, int64_t first_s, int n) {
    std::vector<std::optional<double>> out(static_cast<size_t>(n));
    auto pts = CarbonCache::FetchFile(file, first_s - 1, first_s + 10 * (n - 1));
    if (!pts.ok()) return out;
    for (const auto& [t, v] : *pts) {
      int64_t i = (t - first_s) / 10;
      if (i >= 0 && i < n && t == first_s + 10 * i) out[size_t(i)] = v;
    }
    return out;
  }
  static bool AllPresent(const std::vector<std::optional<double>>& v) {
    return std::all_of(v.begin(), v.end(), [](const auto& x) { return x.has_value(); });
  }

  // The value stored at time_s in file, or nullopt (also while the file does not exist yet).
  static std::optional<double> ValueAt(const fs::path& file, int64_t time_s) {
    auto pts = CarbonCache::FetchFile(file, time_s - 1, time_s);
    if (!pts.ok()) return std::nullopt;
    for (const auto& [t, v] : *pts) {
      if (t == time_s) return v;
    }
    return std::nullopt;
  }

  // Where carbon files a tagged series: asked of carbon itself.
  static fs::path TaggedFile(const CarbonCache& carbon, const std::string& name) {
    std::string out;
    auto rc = testing::RunCommand(
        {"/usr/bin/python3", "-c",
         "import sys, os\nfrom carbon.util import TaggedSeries as T\n"
         "sys.stdout.write(T.encode(T.parse(sys.argv[1]).path, os.sep, hash_only=True))",
         name},
        &out, 30s);
    EXPECT_TRUE(rc.ok() && *rc == 0) << out;
    return carbon.whisper_dir() / (out + ".wsp");
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::BrokerProcess> broker_;
  std::map<std::string, std::unique_ptr<transport::ProducerLink>> producers_;
  int64_t t0_ = 0;
};

TEST(GraphiteCheckConfigTest, DeployExamplePassesAndErrorsNameFileLineAndKey) {
  std::string out;
  auto rc = testing::RunCommand(
      {kGraphite, "--config", HW_SOURCE_DIR "/deploy/config/graphite.yaml", "--check-config"}, &out,
      30s);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 0) << out;
  EXPECT_NE(out.find("relay_method: \"consistent_hash\""), std::string::npos) << out;
  testing::TempDir dir;
  ASSERT_TRUE(
      testing::WriteFile(dir.path() / "g.yaml",
                         "graphite:\n  destinations: [\"127.0.0.1:2003\"]\n  naming: dotted\n")
          .ok());
  rc = testing::RunCommand(
      {kGraphite, "--config", (dir.path() / "g.yaml").string(), "--check-config"}, &out, 30s);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 2) << out;
  EXPECT_NE(out.find("g.yaml:3: graphite.naming"), std::string::npos) << out;
}

TEST_F(GraphiteTest, ExactValuesAndTimestampsInBothNamingModes) {
  auto carbon = CarbonCache::Start();
  ASSERT_TRUE(carbon.ok()) << carbon.status().ToString();
  const std::string dest =
      "  destinations: [\"127.0.0.1:" + std::to_string((*carbon)->line_port()) + "\"]\n";
  auto path_mode = StartGraphite("gpath", dest + "  naming: path\n");
  auto tagged_mode = StartGraphite("gtagged", dest + "  naming: tagged\n");
  const std::vector<double> values = {1.5, 0.1, -273.15, 1e-7, 123456789.125};
  for (size_t i = 0; i < values.size(); ++i) {
    Publish("web-01.example", {{"cpu.busy", {{"cpu", "total"}}, values[i], t0_ + 10 * int64_t(i)},
                               {"disk.used_percent",
                                {{"mount", "/var/lib"}, {"fstype", "ext4"}},
                                values[i] * 2,
                                t0_ + 10 * int64_t(i)}});
  }
  const fs::path path_cpu = (*carbon)->WhisperFile("hostwatch.web-01_example.cpu.busy.total");
  const fs::path path_disk =
      (*carbon)->WhisperFile("hostwatch.web-01_example.disk.used_percent.ext4._var_lib");
  const fs::path tagged_cpu = TaggedFile(**carbon, "cpu.busy;cpu=total;host=web-01.example");
  const fs::path tagged_disk =
      TaggedFile(**carbon, "disk.used_percent;fstype=ext4;host=web-01.example;mount=_var_lib");
  ASSERT_NE(tagged_cpu.string().find("_tagged"), std::string::npos);
  for (const fs::path& f : {path_cpu, path_disk, tagged_cpu, tagged_disk}) {
    const double factor = f == path_disk || f == tagged_disk ? 2 : 1;
    const int64_t last = t0_ + 10 * int64_t(values.size() - 1);
    ASSERT_TRUE(testing::WaitFor([&] { return ValueAt(f, last).has_value(); }, 60s))
        << f << "\n"
        << path_mode->Log() << tagged_mode->Log();
    auto pts = CarbonCache::FetchFile(f, t0_ - 1, last);
    ASSERT_TRUE(pts.ok()) << pts.status().ToString();
    ASSERT_EQ(pts->size(), values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ((*pts)[i].first, t0_ + 10 * int64_t(i)) << f;
      ASSERT_TRUE((*pts)[i].second.has_value()) << f << " @" << i;
      EXPECT_EQ(*(*pts)[i].second, values[i] * factor) << f << " @" << i;
    }
  }
}

TEST_F(GraphiteTest, TwoCachesBehindConsistentHashingAndReplication) {
  testing::CarbonOptions a_opts, b_opts;
  b_opts.interface = "127.0.0.2";
  auto a = CarbonCache::Start(a_opts);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = CarbonCache::Start(b_opts);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const std::vector<std::string> dests = {"127.0.0.1:" + std::to_string((*a)->line_port()) + ":a",
                                          "127.0.0.2:" + std::to_string((*b)->line_port()) + ":b"};
  const std::string yaml =
      "  destinations: [\"" + dests[0] + "\", \"" + dests[1] + "\"]\n  hash: carbon_ch\n";
  auto single = StartGraphite("gring", yaml + "  prefix: ring\n");
  auto replicated = StartGraphite("grep", yaml + "  prefix: rep\n  replication: 2\n");

  std::vector<Point> points;
  for (int i = 0; i < 40; ++i) points.push_back({"m" + std::to_string(i), {}, i + 0.5, t0_});
  Publish("h", points);
  std::vector<CarbonDestination> parsed = {*ParseCarbonDestination(dests[0]),
                                           *ParseCarbonDestination(dests[1])};
  HashRing ring(HashType::kCarbonCh, parsed);
  CarbonCache* caches[2] = {a->get(), b->get()};
  size_t on_a = 0;
  for (const Point& p : points) {
    std::vector<size_t> where;
    ring.Place("ring.h." + p.metric, 1, true, &where);
    ASSERT_EQ(where.size(), 1u);
    on_a += where[0] == 0;
    const fs::path there = caches[where[0]]->WhisperFile("ring.h." + p.metric);
    const fs::path elsewhere = caches[1 - where[0]]->WhisperFile("ring.h." + p.metric);
    ASSERT_TRUE(testing::WaitFor([&] { return ValueAt(there, t0_) == p.value; }, 60s))
        << there << "\n"
        << single->Log();
    for (CarbonCache* c : caches) {
      const fs::path both = c->WhisperFile("rep.h." + p.metric);
      ASSERT_TRUE(testing::WaitFor([&] { return ValueAt(both, t0_) == p.value; }, 60s))
          << both << "\n"
          << replicated->Log();
    }
    EXPECT_FALSE(fs::exists(elsewhere)) << elsewhere;
  }
  // Both caches got some: the test would prove little with everything on one.
  EXPECT_GT(on_a, 0u);
  EXPECT_LT(on_a, points.size());
}

TEST_F(GraphiteTest, NoPointMissingAfterCarbonAndForwarderAreKilled) {
  auto carbon = CarbonCache::Start();
  ASSERT_TRUE(carbon.ok()) << carbon.status().ToString();
  auto g = StartGraphite("gkill", "  destinations: [\"127.0.0.1:" +
                                      std::to_string((*carbon)->line_port()) + ":a\"]\n");
  const int kSeries = 5, kRounds = 240;
  std::atomic<int> published{0};
  std::thread feeder([&] {
    for (int r = 0; r < kRounds; ++r) {
      std::vector<Point> pts;
      for (int s = 0; s < kSeries; ++s)
        pts.push_back({"kill.s" + std::to_string(s), {}, r * 10.0 + s, t0_ - 3000 + 10 * r});
      Publish("k", pts);
      ++published;
      std::this_thread::sleep_for(200ms);  // pacing of the stream, not a wait for a condition
    }
  });
  auto at_least = [&](int n) { return testing::WaitFor([&] { return published >= n; }, 120s); };
  ASSERT_TRUE(at_least(25));
  (*carbon)->Kill();  // kill -9 mid-stream
  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(testing::WaitFor([&] { return std::chrono::steady_clock::now() - killed_at >= 30s; },
                               40s, 100ms));
  Status s = (*carbon)->Restart();
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(at_least(kRounds * 3 / 4));
  g->Kill9();  // and the forwarder, mid-stream
  ASSERT_TRUE(g->Start().ok());
  feeder.join();
  for (int sidx = 0; sidx < kSeries; ++sidx) {
    const fs::path f = (*carbon)->WhisperFile("hostwatch.k.kill.s" + std::to_string(sidx));
    const int64_t first = t0_ - 3000, last = t0_ - 3000 + 10 * (kRounds - 1);
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          auto pts = CarbonCache::FetchFile(f, first - 1, last);
          if (!pts.ok()) return false;
          return std::all_of(pts->begin(), pts->end(),
                             [](auto& p) { return p.second.has_value(); });
        },
        120s, 500ms))
        << f << "\n"
        << g->Log();
    auto pts = CarbonCache::FetchFile(f, first - 1, last);
    ASSERT_TRUE(pts.ok());
    ASSERT_EQ(pts->size(), size_t(kRounds));
    for (int r = 0; r < kRounds; ++r)
      EXPECT_EQ((*pts)[r].second, r * 10.0 + sidx) << f << " @" << r;
  }
}

TEST_F(GraphiteTest, OneDestinationDownTheOtherKeepsFlowingAndTheSpoolCatchesUp) {
  testing::CarbonOptions b_opts;
  b_opts.interface = "127.0.0.2";
  auto a = CarbonCache::Start();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = CarbonCache::Start(b_opts);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const std::vector<std::string> dests = {"127.0.0.1:" + std::to_string((*a)->line_port()) + ":a",
                                          "127.0.0.2:" + std::to_string((*b)->line_port()) + ":b"};
  auto g = StartGraphite("gdown", "  destinations: [\"" + dests[0] + "\", \"" + dests[1] + "\"]\n");
  HashRing ring(HashType::kCarbonCh,
                {*ParseCarbonDestination(dests[0]), *ParseCarbonDestination(dests[1])});
  std::vector<std::string> series;
  for (int i = 0; i < 12; ++i) series.push_back("down.s" + std::to_string(i));
  auto owner = [&](const std::string& s) {
    std::vector<size_t> w;
    ring.Place("hostwatch.d." + s, 1, true, &w);
    return w[0];
  };
  (*b)->Kill();
  const auto down_at = std::chrono::steady_clock::now();
  const int kRounds = 60;  // one round every 2 s: the whole outage
  for (int r = 0; r < kRounds; ++r) {
    std::vector<Point> pts;
    for (size_t i = 0; i < series.size(); ++i)
      pts.push_back({series[i], {}, r + i / 100.0, t0_ - 6000 + 10 * r});
    Publish("d", pts);
    std::this_thread::sleep_for(2s);  // pacing of the stream
  }
  // Still inside the outage: everything of A is there already.
  ASSERT_LT(std::chrono::steady_clock::now() - down_at, 130s);
  for (size_t i = 0; i < series.size(); ++i) {
    if (owner(series[i]) != 0) continue;
    const fs::path f = (*a)->WhisperFile("hostwatch.d." + series[i]);
    std::vector<std::optional<double>> v;
    ASSERT_TRUE(testing::WaitFor([&] { return AllPresent(v = Values(f, t0_ - 6000, kRounds)); },
                                 10s, 500ms))
        << f << "\n"
        << g->Log();
    for (int r = 0; r < kRounds; ++r) EXPECT_EQ(v[size_t(r)], r + i / 100.0) << f << " @" << r;
  }
  ASSERT_TRUE(testing::WaitFor([&] { return std::chrono::steady_clock::now() - down_at >= 120s; },
                               130s, 100ms));
  ASSERT_TRUE((*b)->Restart().ok());
  for (size_t i = 0; i < series.size(); ++i) {
    if (owner(series[i]) != 1) continue;
    const fs::path f = (*b)->WhisperFile("hostwatch.d." + series[i]);
    std::vector<std::optional<double>> v;
    ASSERT_TRUE(
        testing::WaitFor([&] { return AllPresent(v = Values(f, t0_ - 6000, kRounds)); }, 90s, 1s))
        << f << "\n"
        << g->Log();
    for (int r = 0; r < kRounds; ++r) EXPECT_EQ(v[size_t(r)], r + i / 100.0) << f << " @" << r;
  }
}

// A loopback listener that counts carbon lines (the hostile-tag test needs no carbon).
class CountingListener {
 public:
  CountingListener() {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    ::listen(lfd_, 8);
    socklen_t len = sizeof(a);
    ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Run(); });
  }
  ~CountingListener() {
    {
      MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
    ::close(lfd_);
  }
  uint16_t port() const { return port_; }
  std::string data() const {
    MutexLock lock(&mu_);
    return data_;
  }

 private:
  void Run() {
    std::vector<pollfd> fds = {{lfd_, POLLIN, 0}};
    for (;;) {
      {
        MutexLock lock(&mu_);
        if (stop_) break;
      }
      if (::poll(fds.data(), fds.size(), 10) <= 0) continue;
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
        if (i == 0) {
          int c = ::accept(lfd_, nullptr, nullptr);
          if (c >= 0) fds.push_back({c, POLLIN, 0});
          continue;
        }
        char buf[8192];
        ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
        if (n <= 0) {
          ::close(fds[i].fd);
          fds[i].fd = -1;
        } else {
          MutexLock lock(&mu_);
          data_.append(buf, size_t(n));
        }
      }
      fds.erase(
          std::remove_if(fds.begin() + 1, fds.end(), [](const pollfd& p) { return p.fd < 0; }),
          fds.end());
    }
    for (size_t i = 1; i < fds.size(); ++i) ::close(fds[i].fd);
  }
  int lfd_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  mutable Mutex mu_;
  std::string data_ GUARDED_BY(mu_);
  bool stop_ GUARDED_BY(mu_) = false;
};

TEST_F(GraphiteTest, HostileTagValuesGiveAtMostOneLineEach) {
  CountingListener sink;
  const std::string dest = "  destinations: [\"127.0.0.1:" + std::to_string(sink.port()) + "\"]\n";
  auto path_mode = StartGraphite("hpath", dest + "  naming: path\n  prefix: hp\n");
  auto tagged_mode = StartGraphite("htagged", dest + "  naming: tagged\n");
  const std::vector<std::string> hostile = {"a b",
                                            "a\nb",
                                            "a\r\nb",
                                            "a\tb",
                                            "..",
                                            "a/b/../c",
                                            ";tag=x",
                                            "x;host=evil",
                                            "\xc3\xbcn\xc3\xaf"
                                            "c\xc3\xb6"
                                            "de",
                                            "\xe2\x80\xa8line-sep",
                                            std::string(256, 'v'),
                                            "x 1 1\nevil.metric 666 1"};
  for (const std::string& v : hostile) Publish("h", {{"hostile.m", {{"t", v}}, 7, t0_}});
  Publish("h", {{"hostile.sentinel", {}, 1, t0_}});
  auto lines_with = [](const std::string& data, const std::string& what) {
    std::vector<std::string> out;
    for (std::string_view l : strings::Split(data, '\n'))
      if (l.find(what) != std::string_view::npos) out.emplace_back(l);
    return out;
  };
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        std::string d = sink.data();
        return lines_with(d, "hp.h.hostile.sentinel ").size() == 1 &&
               lines_with(d, "hostile.sentinel;host=h ").size() == 1;
      },
      60s))
      << path_mode->Log() << tagged_mode->Log();
  const std::string data = sink.data();
  for (std::string_view l : strings::Split(data, '\n')) {  // never a line of the attacker's
    EXPECT_NE(l.rfind("evil", 0), 0u) << l;
    if (!l.empty()) {
      EXPECT_EQ(std::count(l.begin(), l.end(), ' '), 2) << l;
    }
  }
  const auto path_lines = lines_with(data, "hp.h.hostile.m.");
  const auto tagged_lines = lines_with(data, "hostile.m;");
  // The broker accepts the printable values (it rejects control bytes): each gave one line.
  EXPECT_GE(path_lines.size(), 5u);
  EXPECT_LE(path_lines.size(), hostile.size());
  EXPECT_LE(tagged_lines.size(), hostile.size());
  EXPECT_EQ(tagged_lines.size(), path_lines.size() + 1);  // 256 bytes is no file name, but a tag
  for (const auto& l : path_lines) {
    EXPECT_EQ(std::count(l.begin(), l.end(), ' '), 2) << l;
    EXPECT_EQ(l.rfind("hp.h.hostile.m.", 0), 0u) << l;
  }
  for (const auto& l : tagged_lines) {
    EXPECT_EQ(std::count(l.begin(), l.end(), ' '), 2) << l;
    EXPECT_EQ(std::count(l.begin(), l.end(), ';'), 2) << l;
  }
}

TEST_F(GraphiteTest, SighupMovesTheStreamAndABadConfigIsRefused) {
  CountingListener first, second;
  const std::string dest1 =
      "  destinations: [\"127.0.0.1:" + std::to_string(first.port()) + "\"]\n";
  const std::string dest2 =
      "  destinations: [\"127.0.0.1:" + std::to_string(second.port()) + "\"]\n";
  auto g = StartGraphite("ghup", dest1);
  Publish("r", {{"hup.one", {}, 1, t0_}});
  ASSERT_TRUE(testing::WaitFor(
      [&] { return first.data().find("hostwatch.r.hup.one 1 ") != std::string::npos; }, 30s))
      << g->Log();
  std::string yaml = g->yaml();
  const size_t at = yaml.find(dest1);
  ASSERT_NE(at, std::string::npos);
  std::string bad = yaml;
  bad.replace(at, dest1.size(), dest1 + "  hash: sha1\n");
  ASSERT_TRUE(g->Reload(bad).ok());
  ASSERT_TRUE(testing::WaitFor(
      [&] { return g->Log().find("keeping the running config") != std::string::npos; }, 30s))
      << g->Log();
  EXPECT_TRUE(g->Running());
  yaml.replace(at, dest1.size(), dest2 + "  prefix: moved\n");
  ASSERT_TRUE(g->Reload(yaml).ok());
  ASSERT_TRUE(testing::WaitFor([&] { return g->Log().find("reloaded") != std::string::npos; }, 30s))
      << g->Log();
  Publish("r", {{"hup.two", {}, 2, t0_}});
  ASSERT_TRUE(testing::WaitFor(
      [&] { return second.data().find("moved.r.hup.two 2 ") != std::string::npos; }, 30s))
      << g->Log() << "\nfirst:\n"
      << first.data() << "\nsecond:\n"
      << second.data();
  EXPECT_EQ(first.data().find("hup.two"), std::string::npos);
  EXPECT_EQ(second.data().find("hup.one"), std::string::npos);  // committed before: not repeated
}

// graphite-web 1.1.8 (Debian's graphite-web) under django's runserver, for its /events/ API.
class GraphiteWeb {
 public:
  ~GraphiteWeb() {
    if (proc_) proc_->Stop();
  }
  Status Start() {
    const fs::path d = dir_.path();
    HW_RETURN_IF_ERROR(testing::WriteFile(
        d / "gw" / "gw_local_settings.py",
        "SECRET_KEY = 'test-only-not-secret'\nTIME_ZONE = 'UTC'\nALLOWED_HOSTS = ['*']\n"
        "STORAGE_DIR = '" +
            (d / "storage").string() + "'\nWHISPER_DIR = '" + (d / "storage" / "whisper").string() +
            "'\nLOG_DIR = '" + dir_.Sub("gwlog").string() + "'\nINDEX_FILE = '" +
            (d / "gw" / "index").string() + "'\nCONF_DIR = '" + (d / "gw").string() +
            "'\nSTATIC_ROOT = '/usr/share/graphite-web/static'\n" +
            "DATABASES = {'default': {'ENGINE': 'django.db.backends.sqlite3', 'NAME': '" +
            (d / "gw" / "graphite.db").string() + "'}}\n"));
    const std::vector<std::string> env = {"PYTHONPATH=" + (d / "gw").string(),
                                          "DJANGO_SETTINGS_MODULE=graphite.settings",
                                          "GRAPHITE_SETTINGS_MODULE=gw_local_settings"};
    std::vector<std::string> migrate = {"/usr/bin/env"};
    migrate.insert(migrate.end(), env.begin(), env.end());
    migrate.insert(migrate.end(), {"/usr/bin/django-admin", "migrate", "--noinput"});
    std::string out;
    HW_ASSIGN_OR_RETURN(int rc, testing::RunCommand(migrate, &out, 120s));
    if (rc != 0) return Status::Internal("migrate: " + out);
    HW_ASSIGN_OR_RETURN(port_, testing::FreeLoopbackPort());
    testing::SubprocessOptions o;
    o.argv = {"/usr/bin/django-admin", "runserver", "127.0.0.1:" + std::to_string(port_),
              "--noreload"};
    o.env_extra = env;
    o.stdout_path = o.stderr_path = d / "gw.log";
    HW_ASSIGN_OR_RETURN(testing::Subprocess p, testing::Subprocess::Start(std::move(o)));
    proc_.emplace(std::move(p));
    if (!testing::WaitForTcpPort(port_, 30s)) return Status::Unavailable("graphite-web not ready");
    return Status::Ok();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  Result<std::string> Get(const std::string& path) const {
    std::string out;
    HW_ASSIGN_OR_RETURN(int rc, testing::RunCommand({"curl", "-sf", url() + path}, &out, 30s));
    if (rc != 0) return Status::Unavailable("curl exited " + std::to_string(rc));
    return out;
  }

 private:
  testing::TempDir dir_;
  uint16_t port_ = 0;
  std::optional<testing::Subprocess> proc_;
};

TEST_F(GraphiteTest, AlertsBecomeGraphiteEventsWithTheDashboardsTags) {
  GraphiteWeb web;
  Status st = web.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();
  CountingListener carbon;
  auto g =
      StartGraphite("gevents", "  destinations: [\"127.0.0.1:" + std::to_string(carbon.port()) +
                                   "\"]\n  graphite_web_url: \"" + web.url() + "/\"\n");
  Envelope e;
  auto* alert = e.mutable_alerts()->add_alerts();
  alert->set_rule("cpu_high");
  alert->set_key("cpu_high|web-01|cpu.busy");
  alert->set_state(hostwatch::v1::Alert::FIRING);
  alert->set_severity(hostwatch::v1::CRITICAL);
  alert->set_endpoint("web-01");
  alert->set_series("cpu.busy{cpu=total}");
  alert->set_value(97.5);
  alert->set_summary("cpu.busy = 97.5 > 90");
  const int64_t now_ms = static_cast<int64_t>(std::time(nullptr)) * 1000;
  alert->set_since_ms(now_ms - 60000);
  alert->set_time_ms(now_ms);
  transport::ProducerLink* alerter = Producer("alerter-host");
  ASSERT_NE(alerter, nullptr);
  ASSERT_TRUE(alerter->Publish(e).ok());
  std::string events;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        auto r = web.Get("/events/get_data?from=-1h&tags=hostwatch%20alert&set=intersection");
        events = r.ok() ? *r : "";
        return events.find("cpu_high") != std::string::npos;
      },
      60s, 200ms))
      << events << "\n"
      << g->Log();
  EXPECT_NE(events.find("\"what\": \"[FIRING] cpu_high on web-01: cpu.busy{cpu=total}\""),
            std::string::npos)
      << events;
  for (const char* tag : {"\"hostwatch\"", "\"alert\"", "\"firing\"", "\"critical\"", "\"web-01\""})
    EXPECT_NE(events.find(tag), std::string::npos) << tag << " in " << events;
  EXPECT_NE(events.find("\"when\": " + std::to_string(now_ms / 1000)), std::string::npos) << events;
  EXPECT_NE(events.find("cpu.busy = 97.5 > 90 (value 97.5)"), std::string::npos) << events;
}

}  // namespace
}  // namespace hw::graphite
