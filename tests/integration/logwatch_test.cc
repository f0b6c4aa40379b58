// The logwatch issue's acceptance runs: numbered lines written to real files while logrotate (and
// hand-made rotations) run, hostwatch-logwatch following them, a real broker, and a consumer that
// checks every number arrives exactly once. Every wait has a deadline.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <charconv>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"
#include "common/transport/consumer_link.h"
#include "hostwatch/v1/hostwatch.pb.h"
#include "tests/integration/broker_harness.h"
#include "tests/integration/log_writer.h"

namespace hw {
namespace {

namespace fs = std::filesystem;
namespace pb = hostwatch::v1;
using namespace std::chrono_literals;

using testing::Touch;
using testing::Writer;

const std::string kLogwatch = HW_BINARY_DIR "/logwatch/hostwatch-logwatch";

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct CopytruncateResult {
  uint64_t written = 0, destroyed = 0, lost = 0;
  double reported_lines = 0, reported_bytes = 0;
};

class LogwatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto b = testing::BrokerProcess::Start(dir_.Sub("broker"));
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    broker_ = std::move(b).value();
    logs_ = dir_.Sub("logs");
  }

  void WriteConfig(const std::string& files_yaml, const std::string& rules_yaml) {
    config_ = dir_.path() / "logwatch.yaml";
    std::ofstream(config_) << "logwatch:\n"
                           << "  endpoint: lw-test\n"
                           << "  state_dir: " << dir_.Sub("state").string() << "\n"
                           << "  interval: 1s\n"
                           << "  files:\n"
                           << files_yaml << "  rules:\n"
                           << rules_yaml << "link:\n"
                           << "  brokers: [" << broker_->frontend() << "]\n"
                           << "  spool_dir: " << dir_.Sub("spool").string() << "\n";
  }

  void StartLogwatch() {
    testing::SubprocessOptions o;
    o.argv = {kLogwatch, "--config", config_.string()};
    o.stderr_path = dir_.path() / "logwatch.log";
    auto p = testing::Subprocess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    logwatch_.emplace(std::move(p).value());
  }

  void Connect() {
    transport::ConsumerOptions o;
    o.group = "logwatch-test";
    o.link.brokers = {broker_->frontend()};
    o.link.backends = {broker_->backend()};
    auto c = transport::ConsumerLink::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    consumer_ = std::move(c).value();
  }

  // Reads what has arrived; keeps every event and every sample.
  void Drain(std::chrono::milliseconds timeout) {
    auto got = consumer_->Poll(timeout, 10000);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (const transport::Delivery& d : *got) {
      if (d.envelope.source() != "lw-test/logwatch") continue;
      if (d.envelope.has_events()) {
        for (const pb::LogEvent& e : d.envelope.events().events()) {
          events_.push_back(e);
          received_ms_.push_back(WallMs());
        }
      }
      if (d.envelope.has_samples()) {
        for (const pb::Sample& s : d.envelope.samples().samples()) samples_.push_back(s);
      }
    }
    ASSERT_TRUE(consumer_->Commit(*got).ok());
  }

  // seq numbers per tag from events of `rule`: how often each arrived.
  std::map<std::string, std::map<uint64_t, int>> Seen(const std::string& rule) const {
    std::map<std::string, std::map<uint64_t, int>> seen;
    for (const pb::LogEvent& e : events_) {
      if (e.rule() != rule) continue;
      uint64_t n = 0;
      const std::string& s = e.fields().at("n");
      std::from_chars(s.data(), s.data() + s.size(), n);
      ++seen[e.fields().at("tag")][n];
    }
    return seen;
  }
  size_t EventsOf(const std::string& rule) const {
    size_t n = 0;
    for (const auto& e : events_) n += e.rule() == rule;
    return n;
  }
  double SampleSum(const std::string& metric) const {
    double sum = 0;
    for (const auto& s : samples_) {
      if (s.metric() == metric) sum += s.value();
    }
    return sum;
  }
  double LastSample(const std::string& metric) const {
    double v = -1;
    for (const auto& s : samples_) {
      if (s.metric() == metric) v = s.value();
    }
    return v;
  }

  // Waits until `expected` events of rule arrived (or the deadline).
  bool WaitEvents(const std::string& rule, size_t expected, std::chrono::milliseconds deadline) {
    return testing::WaitFor(
        [&] {
          Drain(100ms);
          return EventsOf(rule) >= expected;
        },
        deadline, 1ms);
  }

  void RunCopytruncate(bool append, CopytruncateResult* r);

  std::string LogwatchLog() {
    auto r = testing::ReadFile(dir_.path() / "logwatch.log");
    return r.ok() ? *r : "";
  }

  static constexpr const char* kSeqRule =
      "    - {name: seq, match: 'seq=(?P<tag>[a-z])-(?P<n>\\d+) ', emit: [event, count]}\n";

  testing::TempDir dir_;
  std::unique_ptr<testing::BrokerProcess> broker_;
  fs::path logs_, config_;
  std::optional<testing::Subprocess> logwatch_;
  std::unique_ptr<transport::ConsumerLink> consumer_;
  std::vector<pb::LogEvent> events_;
  std::vector<int64_t> received_ms_;
  std::vector<pb::Sample> samples_;
};

// Checks each tag's numbers 1..written arrived exactly once; returns a description of failures.
std::string ExactlyOnce(const std::map<std::string, std::map<uint64_t, int>>& seen,
                        const std::map<std::string, uint64_t>& written) {
  std::string problems;
  for (const auto& [tag, n] : written) {
    uint64_t missing = 0, dups = 0;
    const auto it = seen.find(tag);
    for (uint64_t i = 1; i <= n; ++i) {
      const int c = it == seen.end() ? 0 : (it->second.count(i) ? it->second.at(i) : 0);
      if (c == 0) ++missing;
      if (c > 1) dups += static_cast<uint64_t>(c - 1);
    }
    if (missing || dups) {
      problems += tag + ": " + std::to_string(missing) + " missing, " + std::to_string(dups) +
                  " duplicated of " + std::to_string(n) + "; ";
    }
  }
  return problems;
}

TEST_F(LogwatchTest, EveryLineOnceThroughLogrotateCreateRenameAndDeleteRotations) {
  const fs::path a = logs_ / "a.log", b = logs_ / "b.log", c = logs_ / "c.log";
  for (const fs::path& p : {a, b, c}) std::ofstream(p).flush();
  WriteConfig("    - {path: " + a.string() +
                  ", rules: [seq], from: beginning}\n"
                  "    - {path: " +
                  b.string() +
                  ", rules: [seq], from: beginning}\n"
                  "    - {path: " +
                  c.string() + ", rules: [seq], from: beginning}\n",
              kSeqRule);
  const fs::path conf = dir_.path() / "logrotate.conf";
  std::ofstream(conf) << a.string()
                      << " {\n  rotate 100\n  missingok\n  create 0644\n  nocompress\n}\n";
  ASSERT_NO_FATAL_FAILURE(StartLogwatch());
  ASSERT_NO_FATAL_FAILURE(Connect());

  Writer writer({{"a", a}, {"b", b}, {"c", c}}, 24000);
  writer.Start();
  for (int round = 1; round <= 4; ++round) {
    std::this_thread::sleep_for(1s);  // the rotation schedule of the scenario: once a second
    std::string out;
    auto rc = testing::RunCommand({"/usr/sbin/logrotate", "-f", "-s",
                                   (dir_.path() / "logrotate.state").string(), conf.string()},
                                  &out, 30s);
    ASSERT_TRUE(rc.ok() && *rc == 0) << out;
    fs::rename(b, logs_ / ("b.log." + std::to_string(round)));
    Touch(b);
    fs::remove(c);
    Touch(c);
  }
  std::this_thread::sleep_for(500ms);
  writer.Stop();
  const auto written = writer.written();
  uint64_t total = 0;
  for (const auto& [tag, n] : written) total += n;
  EXPECT_GE(writer.achieved_rate(), 20000.0);
  ASSERT_TRUE(WaitEvents("seq", total, 60s))
      << EventsOf("seq") << " of " << total << ": " << ExactlyOnce(Seen("seq"), written) << "\n"
      << LogwatchLog();
  Drain(300ms);  // anything extra (a duplicate) that was still on its way
  EXPECT_EQ(ExactlyOnce(Seen("seq"), written), "");
  EXPECT_EQ(EventsOf("seq"), total);
  // log.seq.count over the intervals adds up to the same lines (may need one more interval).
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        Drain(100ms);
        return SampleSum("log.seq.count") >= static_cast<double>(total);
      },
      10s));
  EXPECT_EQ(SampleSum("log.seq.count"), static_cast<double>(total));
}

// Four logrotate copytruncate rotations under a 22,000 lines/s writer. Every number in a file on
// disk (the current one or a copy) must arrive once; a number in no file was written between a
// copy and its truncate. Returns what was lost here and what logwatch reported.
void LogwatchTest::RunCopytruncate(bool append, CopytruncateResult* r) {
  const fs::path d = logs_ / "d.log";
  std::ofstream(d).flush();
  WriteConfig("    - {path: " + d.string() + ", rules: [seq], from: beginning}\n", kSeqRule);
  const fs::path conf = dir_.path() / "logrotate.conf";
  std::ofstream(conf) << d.string()
                      << " {\n  rotate 100\n  missingok\n  copytruncate\n  nocompress\n}\n";
  ASSERT_NO_FATAL_FAILURE(StartLogwatch());
  ASSERT_NO_FATAL_FAILURE(Connect());
  Writer writer({{"d", d}}, 22000, append);
  writer.Start();
  for (int round = 1; round <= 4; ++round) {
    std::this_thread::sleep_for(1s);  // the scenario's rotation period
    std::string out;
    auto rc = testing::RunCommand({"/usr/sbin/logrotate", "-f", "-s",
                                   (dir_.path() / "logrotate.state").string(), conf.string()},
                                  &out, 30s);
    ASSERT_TRUE(rc.ok() && *rc == 0) << out;
  }
  std::this_thread::sleep_for(500ms);  // lines after the last rotation
  writer.Stop();
  r->written = writer.written().at("d");
  EXPECT_GE(writer.achieved_rate(), 20000.0);

  std::set<uint64_t> on_disk;
  for (const auto& entry : fs::directory_iterator(logs_)) {
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {  // a writer's hole reads as NULs in front of a line
      const size_t at = line.find("seq=d-");
      if (at != std::string::npos)
        on_disk.insert(std::strtoull(line.c_str() + at + 6, nullptr, 10));
    }
  }
  r->destroyed = r->written - on_disk.size();
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        Drain(100ms);
        const auto seen = Seen("seq");
        if (seen.count("d") == 0) return false;
        for (uint64_t n : on_disk) {
          if (seen.at("d").count(n) == 0) return false;
        }
        return true;
      },
      60s))
      << LogwatchLog();
  Drain(300ms);
  const auto seen = Seen("seq")["d"];
  uint64_t dups = 0;
  for (uint64_t i = 1; i <= r->written; ++i) {
    const int c = seen.count(i) ? seen.at(i) : 0;
    if (c > 1) dups += static_cast<uint64_t>(c - 1);
    if (c == 0) {
      ++r->lost;
      EXPECT_EQ(on_disk.count(i), 0u) << i << " is on disk but never arrived";
    }
  }
  EXPECT_EQ(dups, 0u);
  EXPECT_LE(r->lost, r->destroyed);
  // logwatch counts the truncations it saw and what it could tell was lost.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        Drain(100ms);
        return LastSample("hostwatch.logwatch.truncations") >= 4;
      },
      10s));
  r->reported_lines = LastSample("hostwatch.logwatch.copytruncate_lost_lines");
  r->reported_bytes = LastSample("hostwatch.logwatch.copytruncate_lost_bytes");
  std::printf(
      "copytruncate (%s): %llu lines written, %llu destroyed by logrotate (not in any file), "
      "%llu lost here; logwatch reports %.0f lost lines (%.0f bytes), %.0f bytes taken "
      "from the copies\n",
      append ? "O_APPEND writer" : "writer without O_APPEND",
      static_cast<unsigned long long>(r->written), static_cast<unsigned long long>(r->destroyed),
      static_cast<unsigned long long>(r->lost), r->reported_lines, r->reported_bytes,
      LastSample("hostwatch.logwatch.copytruncate_recovered_bytes"));
}

TEST_F(LogwatchTest, CopytruncateLosesOnlyLinesInTheCopyToTruncateWindow) {
  // An O_APPEND writer (the usual logger) starts again at 0 after the truncate: what it wrote
  // after our last read is gone without a trace, so only the loss bound is checked; the count
  // itself is printed.
  CopytruncateResult r;
  ASSERT_NO_FATAL_FAILURE(RunCopytruncate(/*append=*/true, &r));
}

TEST_F(LogwatchTest, CopytruncateReportsTheLinesAWriterWithoutAppendLost) {
  // Without O_APPEND the writer goes on at its old offset, leaving a hole as long as the old file:
  // the lost bytes are exact, the lines estimated from the file's average line (the numbers here
  // grow by a digit now and then, hence a small tolerance).
  CopytruncateResult r;
  ASSERT_NO_FATAL_FAILURE(RunCopytruncate(/*append=*/false, &r));
  const double tolerance = std::max(3.0, 0.05 * static_cast<double>(r.lost));
  EXPECT_NEAR(r.reported_lines, static_cast<double>(r.lost), tolerance);
}

TEST_F(LogwatchTest, Kill9MidStreamNeitherLosesNorRepeats) {
  const fs::path e = logs_ / "e.log";
  std::ofstream(e).flush();
  WriteConfig("    - {path: " + e.string() + ", rules: [seq], from: beginning}\n", kSeqRule);
  ASSERT_NO_FATAL_FAILURE(StartLogwatch());
  ASSERT_NO_FATAL_FAILURE(Connect());
  Writer writer({{"e", e}}, 22000);
  writer.Start();
  for (int kill = 0; kill < 3; ++kill) {
    const uint64_t before = writer.total();
    // Mid-stream: lines are flowing through logwatch when it dies.
    ASSERT_TRUE(testing::WaitFor(
        [&] {
          Drain(50ms);
          return writer.total() > before + 10000 && EventsOf("seq") > 0;
        },
        20s));
    logwatch_->Signal(SIGKILL);
    ASSERT_TRUE(logwatch_->Wait(10s).has_value());
    logwatch_.reset();
    ASSERT_NO_FATAL_FAILURE(StartLogwatch());
  }
  std::this_thread::sleep_for(500ms);
  writer.Stop();
  const uint64_t total = writer.written().at("e");
  ASSERT_TRUE(WaitEvents("seq", total, 60s)) << EventsOf("seq") << " of " << total << "\n"
                                             << LogwatchLog();
  Drain(300ms);
  EXPECT_EQ(ExactlyOnce(Seen("seq"), writer.written()), "");
  EXPECT_EQ(EventsOf("seq"), total);
  // The interval counts are saved with the offsets, so they do not double either.
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        Drain(100ms);
        return SampleSum("log.seq.count") >= static_cast<double>(total);
      },
      10s));
  EXPECT_EQ(SampleSum("log.seq.count"), static_cast<double>(total));
}

// SIGHUP reloads the rules without losing or repeating a line: a rule added by the reload matches
// every line after it takes effect, the old rule goes on counting each line exactly once, and a
// broken config is logged while the running one is kept.
TEST_F(LogwatchTest, SighupReloadsRulesWithoutLosingOrRepeatingLines) {
  const fs::path f = logs_ / "f.log";
  std::ofstream(f).flush();
  const std::string files = "    - {path: " + f.string() + ", rules: [seq], from: beginning}\n";
  WriteConfig(files, kSeqRule);
  ASSERT_NO_FATAL_FAILURE(StartLogwatch());
  ASSERT_NO_FATAL_FAILURE(Connect());
  Writer writer({{"f", f}}, 5000);
  writer.Start();
  ASSERT_TRUE(WaitEvents("seq", 2000, 20s)) << LogwatchLog();

  // Numbers ending in 7 from the rule the reload adds.
  auto sevens = [&] {
    std::map<uint64_t, int> seen;
    for (const pb::LogEvent& e : events_) {
      if (e.rule() == "seven") ++seen[std::strtoull(e.fields().at("n").c_str(), nullptr, 10)];
    }
    return seen;
  };
  const std::string seven = "    - {name: seven, match: 'seq=f-(?P<n>\\d*7) ', emit: event}\n";
  WriteConfig("    - {path: " + f.string() + ", rules: [seq, seven], from: beginning}\n",
              std::string(kSeqRule) + seven);
  logwatch_->Signal(SIGHUP);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        Drain(100ms);
        return sevens().size() >= 100;
      },
      20s))
      << LogwatchLog();

  // A broken config on SIGHUP: logged, and the running rules keep matching.
  std::ofstream(config_) << "logwatch:\n  interval: 10x\n";
  logwatch_->Signal(SIGHUP);
  ASSERT_TRUE(testing::WaitFor(
      [&] { return LogwatchLog().find("keeping the running config") != std::string::npos; }, 10s))
      << LogwatchLog();
  const size_t before = sevens().size();
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        Drain(100ms);
        return sevens().size() >= before + 100;
      },
      20s))
      << LogwatchLog();
  ASSERT_TRUE(logwatch_->Running()) << LogwatchLog();

  writer.Stop();
  const uint64_t total = writer.written().at("f");
  ASSERT_TRUE(WaitEvents("seq", total, 60s)) << EventsOf("seq") << " of " << total;
  Drain(300ms);
  EXPECT_EQ(ExactlyOnce(Seen("seq"), writer.written()), "");
  EXPECT_EQ(EventsOf("seq"), total);
  // From the first line the new rule saw to the last written, every number ending in 7, once.
  const std::map<uint64_t, int> got = sevens();
  ASSERT_FALSE(got.empty());
  uint64_t missing = 0, dups = 0;
  for (uint64_t n = got.begin()->first; n <= total; n += 10) {
    const auto it = got.find(n);
    if (it == got.end()) ++missing;
    if (it != got.end() && it->second > 1) dups += static_cast<uint64_t>(it->second - 1);
  }
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(dups, 0u);
  for (const auto& [n, c] : got) EXPECT_EQ(n % 10, 7u) << n;
}

uint64_t PeakRssKb(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with("VmHWM:")) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

TEST_F(LogwatchTest, JunkAndA10MBLineDoNotStopFollowingAndOomArrivesWithinASecond) {
  const fs::path k = logs_ / "kern.log";
  std::ofstream(k).flush();
  WriteConfig("    - {path: " + k.string() + ", rules: [kernel_oom, normal], from: end}\n",
              "    - {name: kernel_oom, match: 'Out of memory: Killed process (?P<pid>\\d+) "
              "\\((?P<comm>[^)]+)\\)', severity: critical}\n"
              "    - {name: normal, match: 'NORMAL (?P<n>\\d+)'}\n");
  ASSERT_NO_FATAL_FAILURE(StartLogwatch());
  ASSERT_NO_FATAL_FAILURE(Connect());
  const int fd = ::open(k.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  auto put = [fd](const std::string& s) {
    ASSERT_EQ(::write(fd, s.data(), s.size()), static_cast<ssize_t>(s.size()));
  };
  // logwatch follows from the end: wait until it has the file open, shown by a first line.
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        put("NORMAL 0\n");
        Drain(100ms);
        return EventsOf("normal") > 0;
      },
      20s))
      << LogwatchLog();

  // 10 MB without a newline, NULs, invalid UTF-8 and binary junk.
  std::string junk(1 << 20, '\0');
  for (size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 7919) % 251 + 1);
  for (auto& ch : junk) {
    if (ch == '\n') ch = 'x';
  }
  for (int i = 0; i < 10; ++i) put(junk);
  // sizeof - 1: the NULs inside are part of the text (a count written by hand read past the end).
  constexpr char kInvalid[] = "\n\0\0\0NORMAL 1 \xff\xfe\xc3\x28 invalid\n";
  constexpr char kBinary[] = "\x01\x02\x7f\x80\x81 binary\0junk\n";
  put(std::string(kInvalid, sizeof kInvalid - 1));
  put(std::string(kBinary, sizeof kBinary - 1));
  const int64_t written_ms = WallMs();
  put("NORMAL 2 after the junk\n");
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        Drain(20ms);
        for (const auto& e : events_) {
          if (e.rule() == "normal" && e.fields().at("n") == "2") return true;
        }
        return false;
      },
      10s))
      << LogwatchLog();
  int64_t normal2_ms = 0;
  for (size_t i = 0; i < events_.size(); ++i) {
    if (events_[i].rule() == "normal" && events_[i].fields().at("n") == "2")
      normal2_ms = received_ms_[i];
  }
  EXPECT_LT(normal2_ms - written_ms, 1000) << "the next normal line must arrive within a second";
  EXPECT_TRUE(std::any_of(events_.begin(), events_.end(), [](const pb::LogEvent& e) {
    return e.rule() == "normal" && e.fields().at("n") == "1";
  }));
  // Memory stays bounded: a 10 MB line is never held (64 KiB at most, max_line_bytes).
  EXPECT_LT(PeakRssKb(logwatch_->pid()), 64u * 1024) << "peak RSS in KiB";

  // The OOM line reaches the consumer as a LogEvent with its captures in under a second. Measured
  // from just before the write to the consumer's receipt, on one clock.
  const int64_t oom_written_ms = WallMs();
  put("Nov 21 10:00:00 host kernel: [123.456] Out of memory: Killed process 4242 (worldserver) "
      "total-vm:1234kB\n");
  const pb::LogEvent* oom = nullptr;
  int64_t oom_received_ms = 0;
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        Drain(5ms);
        for (size_t i = 0; i < events_.size(); ++i) {
          if (events_[i].rule() == "kernel_oom") {
            oom = &events_[i];
            oom_received_ms = received_ms_[i];
            return true;
          }
        }
        return false;
      },
      10s, 1ms));
  EXPECT_LT(oom_received_ms - oom_written_ms, 1000);
  EXPECT_EQ(oom->fields().at("pid"), "4242");
  EXPECT_EQ(oom->fields().at("comm"), "worldserver");
  EXPECT_EQ(oom->severity(), pb::CRITICAL);
  EXPECT_EQ(oom->path(), k.string());
  ::close(fd);
}

}  // namespace
}  // namespace hw
