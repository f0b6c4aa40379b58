// The Engine through its seams: real files in a TempDir, a fake publish that keeps the envelopes,
// and a FakeClock (EngineOptions::clock) the test moves, so an interval closes, a multiline
// record goes idle and a rate limit refills when the test says and not after real seconds.
#include "logwatch/engine.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <thread>

#include "common/base/mutex.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"

namespace hw::logwatch {
namespace {

namespace fs = std::filesystem;
namespace pb = hostwatch::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kStart = 1'000'000'003'000;  // 3 s into an interval of 10 s
constexpr int64_t kFirstEnd = 1'000'000'010'000;

void Append(const fs::path& p, const std::string& s) {
  std::ofstream(p, std::ios::app | std::ios::binary) << s;
}

class EngineTest : public ::testing::Test {
 protected:
  LogwatchConfig Config() {
    std::string yaml = R"(logwatch:
  endpoint: test-host
  state_dir: DIR/state
  interval: 10s
  files:
    - {path: DIR/app.log, rules: [error, latency, crash], from: beginning}
  rules:
    - {name: error, match: 'level=error code=(?P<code>\d+)', severity: error, emit: [event, count]}
    - {name: latency, match: 'latency_ms=\d+', emit: count}
    - name: crash
      match: FATAL
      multiline_start: '^\d{4}-\d\d-\d\d '
      severity: critical
      emit: event
)";
    const std::string dir = dir_.path().string();
    for (size_t at = 0; (at = yaml.find("DIR", at)) != std::string::npos; at += dir.size()) {
      yaml.replace(at, 3, dir);
    }
    Result<LogwatchConfig> c = ParseLogwatchConfig(yaml, "engine_test.yaml");
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return c.ok() ? *c : LogwatchConfig();
  }

  std::unique_ptr<Engine> Start(std::optional<LogwatchConfig> config = std::nullopt) {
    EngineOptions o;
    o.endpoint = "test-host";
    o.publish = [this](const pb::Envelope& env) {
      published_.push_back(env);
      return Status::Ok();
    };
    o.spool_next_index = published_.size() + 1;  // as a spool holding every publish would say
    o.rotate_wait = rotate_wait_;
    o.multiline_idle = multiline_idle_;
    o.clock = &clock_;
    auto e = std::make_unique<Engine>(config ? std::move(*config) : Config(), std::move(o));
    Status s = e->Start();
    EXPECT_TRUE(s.ok()) << s.ToString();
    return e;
  }

  void Pass(Engine& e, bool discover = false) {
    Status s = e.Pass(discover, /*force=*/true);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  // "rule code-or-line" for every event published since the last call.
  std::vector<std::string> NewEvents() {
    std::vector<std::string> out;
    for (; seen_ < published_.size(); ++seen_) {
      for (const pb::LogEvent& e : published_[seen_].events().events()) {
        EXPECT_EQ(e.path(), log_.string());
        auto code = e.fields().find("code");
        out.push_back(e.rule() + " " + (code != e.fields().end() ? code->second : e.line()));
      }
    }
    return out;
  }

  // The log.* samples (metric -> value) of the sample batches published for interval end_ms.
  std::map<std::string, double> Counts(int64_t end_ms) {
    std::map<std::string, double> out;
    for (const pb::Envelope& env : published_) {
      for (const pb::Sample& s : env.samples().samples()) {
        if (s.time_ms() != end_ms || !s.metric().starts_with("log.")) continue;
        EXPECT_EQ(s.tags().at("path"), log_.string());
        EXPECT_EQ(s.step_s(), 10u);
        out[s.metric()] += s.value();
      }
    }
    return out;
  }

  testing::TempDir dir_;
  fs::path log_ = dir_.path() / "app.log";
  // Time passes until wall_ms (both readings move).
  void At(int64_t wall_ms) { clock_.Advance(wall_ms - clock_.WallMs()); }

  FakeClock clock_{kStart};
  std::chrono::milliseconds rotate_wait_{0};
  std::chrono::milliseconds multiline_idle_ = std::chrono::hours(1);  // ends at a start line only
  std::vector<pb::Envelope> published_;
  size_t seen_ = 0;
};

TEST_F(EngineTest, MatchingLinesEmitEventsAndCounts) {
  Append(log_, "a level=error code=500\nb latency_ms=12\nc nothing\nd level=error code=503\n");
  auto e = Start();
  Pass(*e, /*discover=*/true);
  EXPECT_THAT(NewEvents(), ElementsAre("error 500", "error 503"));
  const pb::LogEvent& first = published_.at(0).events().events(0);
  EXPECT_EQ(published_.at(0).events().endpoint(), "test-host");
  EXPECT_EQ(first.line(), "a level=error code=500");
  EXPECT_EQ(first.offset(), 0u);
  EXPECT_EQ(first.severity(), pb::ERROR);
  EXPECT_EQ(first.time_ms(), kStart);
  EXPECT_EQ(published_.at(0).events().events(1).offset(), 49u);
  EXPECT_TRUE(Counts(kFirstEnd).empty()) << "the interval has not ended";
  EXPECT_EQ(e->tailer_stats().lines_read, 4u);
}

TEST_F(EngineTest, IntervalClosesOnTheBoundaryAndTheNextStartsAtZero) {
  Append(log_, "level=error code=1\nlatency_ms=5\nlatency_ms=6\n");
  auto e = Start();
  Pass(*e, true);
  At(kFirstEnd - 1);
  Pass(*e);
  EXPECT_TRUE(Counts(kFirstEnd).empty());
  At(kFirstEnd);
  Pass(*e);
  EXPECT_THAT(Counts(kFirstEnd),
              ElementsAre(std::pair{"log.error.count", 1.0}, std::pair{"log.latency.count", 2.0}));
  // Lines after the boundary belong to the next interval; a rule that matched nothing reports 0.
  Append(log_, "latency_ms=7\n");
  At(kFirstEnd + 9'999);
  Pass(*e);
  EXPECT_TRUE(Counts(kFirstEnd + 10'000).empty());
  At(kFirstEnd + 10'000);
  Pass(*e);
  EXPECT_THAT(Counts(kFirstEnd + 10'000),
              ElementsAre(std::pair{"log.error.count", 0.0}, std::pair{"log.latency.count", 1.0}));
}

TEST_F(EngineTest, RotationFinishesTheOldFileThenFollowsTheNewOne) {
  Append(log_, "level=error code=1\n");
  auto e = Start();
  Pass(*e, true);
  Append(log_, "level=error code=2\n");
  fs::rename(log_, dir_.path() / "app.log.1");
  Append(dir_.path() / "app.log.1", "level=error code=3\n");  // the writer has not reopened yet
  Append(log_, "level=error code=4\n");
  Pass(*e, true);
  EXPECT_THAT(NewEvents(), ElementsAre("error 1", "error 2", "error 3", "error 4"));
  EXPECT_EQ(e->tailer().files().size(), 1u) << "the drained file is closed (rotate_wait 0)";
  At(kFirstEnd);
  Pass(*e);
  EXPECT_EQ(Counts(kFirstEnd)["log.error.count"], 4.0);
}

// rotate_wait is quiet time on the engine's monotonic clock: the rotated file stays open (a late
// write to it would still be read) until it has not grown for that long.
TEST_F(EngineTest, RotatedFileClosesAfterRotateWaitOfQuiet) {
  rotate_wait_ = std::chrono::milliseconds(5000);
  Append(log_, "level=error code=1\n");
  auto e = Start();
  Pass(*e, true);
  fs::rename(log_, dir_.path() / "app.log.1");
  Append(log_, "level=error code=2\n");
  Pass(*e, true);
  EXPECT_EQ(e->tailer().files().size(), 2u);
  clock_.Advance(4000);
  Append(dir_.path() / "app.log.1", "level=error code=3\n");  // growth restarts the wait
  Pass(*e);
  clock_.Advance(4999);
  Pass(*e);
  EXPECT_EQ(e->tailer().files().size(), 2u) << "quiet for 4,999 ms of 5,000";
  clock_.Advance(1);
  Pass(*e);
  EXPECT_EQ(e->tailer().files().size(), 1u);
  EXPECT_THAT(NewEvents(), ElementsAre("error 1", "error 2", "error 3"));
}

// A multiline record with no next start line ends when it has seen no line for multiline_idle.
TEST_F(EngineTest, MultilineRecordEndsAfterIdle) {
  multiline_idle_ = std::chrono::milliseconds(1000);
  auto e = Start();
  Append(log_, "2026-01-01 FATAL boom\n  at main()\n");
  Pass(*e, true);
  clock_.Advance(600);
  Append(log_, "  at start()\n");  // a continuation line: the idle time starts again
  Pass(*e);
  clock_.Advance(999);
  Pass(*e);
  EXPECT_THAT(NewEvents(), ElementsAre()) << "idle for 999 ms of 1,000";
  clock_.Advance(1);
  Pass(*e);
  EXPECT_THAT(NewEvents(), ElementsAre("crash 2026-01-01 FATAL boom\n  at main()\n  at start()"));
}

// max_events_per_s is a token bucket on the monotonic clock: a burst of one second's worth, then
// one event per 1/rate s; the dropped ones are counted and reported by the next event.
TEST_F(EngineTest, EventRateLimitRefillsWithTime) {
  LogwatchConfig c = Config();
  c.rules[0].max_events_per_s = 2;
  auto e = Start(c);
  Append(log_, "level=error code=1\nlevel=error code=2\nlevel=error code=3\n");
  Pass(*e, true);
  EXPECT_THAT(NewEvents(), ElementsAre("error 1", "error 2"));
  clock_.Advance(499);  // 0.998 of a token
  Append(log_, "level=error code=4\n");
  Pass(*e);
  EXPECT_THAT(NewEvents(), ElementsAre());
  clock_.Advance(501);  // 0.998 + 1.002: the bucket is full again
  Append(log_, "level=error code=5\n");
  Pass(*e);
  ASSERT_THAT(NewEvents(), ElementsAre("error 5"));
  EXPECT_EQ(published_.back().events().events(0).suppressed(), 2u);
  At(kFirstEnd);
  Pass(*e);
  EXPECT_EQ(Counts(kFirstEnd)["log.error.count"], 5.0) << "counts are not rate limited";
}

// Without force, new events wait up to kEventFlushDelay (20 ms) after the last publish of events
// so that a burst shares one envelope.
TEST_F(EngineTest, EventsWaitTheFlushDelayToShareABatch) {
  auto e = Start();
  Append(log_, "level=error code=1\n");
  ASSERT_TRUE(e->Pass(true, false).ok());
  EXPECT_THAT(NewEvents(), ElementsAre("error 1")) << "none published for 20 ms before";
  Append(log_, "level=error code=2\n");
  ASSERT_TRUE(e->Pass(false, false).ok());
  clock_.Advance(19);
  Append(log_, "level=error code=3\n");
  ASSERT_TRUE(e->Pass(false, false).ok());
  EXPECT_THAT(NewEvents(), ElementsAre());
  clock_.Advance(1);
  ASSERT_TRUE(e->Pass(false, false).ok());
  EXPECT_THAT(NewEvents(), ElementsAre("error 2", "error 3"));
  EXPECT_EQ(published_.back().events().events_size(), 2) << "in one envelope";
}

// A file that cannot be read is an error the engine reports (and survives), not the end of the
// file: nothing is skipped, and the lines arrive once it can be read again.
TEST_F(EngineTest, ReadErrorSurfacesAsAnErrorNotAsEndOfData) {
  Append(log_, "level=error code=1\n");
  auto e = Start();
  Pass(*e, true);
  ASSERT_EQ(e->tailer().files().size(), 1u);
  const TailedFile& f = *e->tailer().files()[0];
  const uint64_t offset = f.state.offset;
  // The followed descriptor becomes a write-only one on the same file: fstat works, pread fails.
  const int saved = ::dup(f.fd.get());
  const int wr = ::open(log_.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(wr, 0);
  ASSERT_GE(::dup2(wr, f.fd.get()), 0);
  ::close(wr);
  Append(log_, "level=error code=2\n");
  Pass(*e);
  Pass(*e);
  EXPECT_EQ(e->read_errors(), 2u);
  EXPECT_EQ(e->last_read_error().code(), StatusCode::kIoError);
  EXPECT_THAT(e->last_read_error().message(), HasSubstr(log_.string() + ": read"));
  EXPECT_EQ(f.state.offset, offset);
  EXPECT_EQ(e->tailer_stats().truncations, 0u) << "a failed read is not a truncation";
  EXPECT_THAT(NewEvents(), ElementsAre("error 1"));

  ASSERT_GE(::dup2(saved, f.fd.get()), 0);
  ::close(saved);
  Pass(*e);
  EXPECT_THAT(NewEvents(), ElementsAre("error 2"));
  EXPECT_EQ(e->read_errors(), 2u);
}

// The engine keeps each file's multiline records: one in progress at a stop is saved in the
// offsets file and its lines are replayed after a restart to its rule only, so the crash arrives
// whole and the error line inside it is not sent again.
TEST_F(EngineTest, MultilineRecordInProgressSurvivesARestart) {
  Append(log_, "2024-01-01 10:00:00 FATAL crash\nlevel=error code=1\n");
  {
    auto e = Start();
    Pass(*e, true);
    EXPECT_THAT(NewEvents(), ElementsAre("error 1"));
    ASSERT_TRUE(e->Finish().ok());
  }
  Append(log_, "  at bar\n2024-01-01 10:00:01 ok\n");
  auto e = Start();
  Pass(*e, true);
  EXPECT_THAT(NewEvents(),
              ElementsAre("crash 2024-01-01 10:00:00 FATAL crash\nlevel=error code=1\n  at bar"));
}

// The last value of a self-metric (hostwatch.logwatch.<name>) published so far; -1 if none.
double SelfMetric(const std::vector<pb::Envelope>& published, const std::string& name) {
  double v = -1;
  for (const pb::Envelope& env : published) {
    for (const pb::Sample& s : env.samples().samples()) {
      if (s.metric() == "hostwatch.logwatch." + name) v = s.value();
    }
  }
  return v;
}

// Counters are saved with the offsets: a restart under the same producer epoch carries on from
// where the last run stopped instead of starting again at zero (a false counter reset).
TEST_F(EngineTest, SelfMetricCountersCarryOnAcrossARestart) {
  Append(log_, "level=error code=1\nlatency_ms=5\n");
  {
    auto e = Start();
    Pass(*e, true);
    At(kFirstEnd);
    Pass(*e);
    EXPECT_EQ(SelfMetric(published_, "lines_read"), 2);
    EXPECT_EQ(SelfMetric(published_, "lines_matched"), 2);
    ASSERT_TRUE(e->Finish().ok());
  }
  Append(log_, "latency_ms=6\n");
  auto e = Start();
  Pass(*e, true);
  At(kFirstEnd + 10'000);
  Pass(*e);
  EXPECT_EQ(SelfMetric(published_, "lines_read"), 3);
  EXPECT_EQ(SelfMetric(published_, "lines_matched"), 3);
  EXPECT_EQ(SelfMetric(published_, "events_published"), 1);
}

// lag_bytes is the file's size at the flush minus our offset, not the size at our last read
// (which is always 0 behind right after a read).
TEST_F(EngineTest, LagBytesCountsWhatWasWrittenSinceTheLastRead) {
  Append(log_, "latency_ms=5\n");
  auto e = Start();
  Pass(*e, true);
  // Written after the last read and before the boundary: the flush comes before the next read.
  Append(log_, std::string(999, 'x') + "\n");
  At(kFirstEnd);
  ASSERT_TRUE(e->FlushInterval(kFirstEnd).ok());
  double lag = -1;
  for (const pb::Envelope& env : published_) {
    for (const pb::Sample& s : env.samples().samples()) {
      if (s.metric() == "hostwatch.logwatch.lag_bytes") lag = s.value();
    }
  }
  EXPECT_EQ(lag, 1000);
}

// A reload compiles the new rules on the caller's thread while the loop goes on reading with the
// old ones, and swaps between two passes: every line is counted once, before or after, and an
// invalid set keeps the old one.
TEST_F(EngineTest, ReloadOfManyRulesCompilesAsideAndLosesOrRepeatsNoLine) {
  LogwatchConfig next = Config();
  for (int i = 0; i < 120; ++i) {
    RuleConfig r;
    r.name = "gen" + std::to_string(i);
    r.match = "svc" + std::to_string(i) + R"(\[\d+\]: .* took (?P<ms>\d+)ms)";
    r.captures = {"ms"};
    r.emit_event = false;
    r.emit_count = true;
    next.rules.push_back(r);
    next.files[0].rules.push_back(r.name);
  }
  Mutex mu;
  std::vector<pb::Envelope> published;  // GUARDED_BY(mu), written by the loop's thread
  EngineOptions o;
  o.endpoint = "test-host";
  o.publish = [&](const pb::Envelope& env) {
    MutexLock lock(&mu);
    published.push_back(env);
    return Status::Ok();
  };
  o.rotate_wait = std::chrono::milliseconds(0);
  o.clock = &clock_;  // stays at kStart: the interval does not end meanwhile
  Engine e(Config(), std::move(o));
  ASSERT_TRUE(e.Start().ok());
  std::atomic<bool> stop{false};
  Status loop_status;
  std::thread loop([&] { loop_status = e.Loop(stop); });
  uint64_t written = 0;
  auto write = [&](int n) {
    std::string text;
    for (int i = 0; i < n; ++i, ++written) text += "latency_ms=" + std::to_string(written) + "\n";
    Append(log_, text);
    e.Wake();
  };
  std::atomic<bool> reloaded{false};
  Status reload_status, invalid_status;
  std::thread reloader([&] {
    LogwatchConfig bad = next;
    bad.rules.back().match = "(";
    invalid_status = e.Reload(bad);
    reload_status = e.Reload(next);
    reloaded = true;
  });
  while (!reloaded) write(50);  // lines keep coming while the new rules compile
  reloader.join();
  ASSERT_FALSE(invalid_status.ok());
  ASSERT_TRUE(reload_status.ok()) << reload_status.ToString();
  // The swap publishes the interval so far (counts of the old rules): wait for it.
  auto publishes = [&] {
    MutexLock lock(&mu);
    return published.size();
  };
  ASSERT_TRUE(testing::WaitFor([&] { return publishes() > 0; }, std::chrono::seconds(30)));
  write(500);
  stop = true;
  e.Wake();
  loop.join();
  ASSERT_TRUE(loop_status.ok()) << loop_status.ToString();
  ASSERT_TRUE(e.Pass(false, true).ok());  // what the loop had not read yet
  ASSERT_TRUE(e.FlushInterval(kFirstEnd).ok());
  double latency = 0;
  MutexLock lock(&mu);
  for (const pb::Envelope& env : published) {
    for (const pb::Sample& smp : env.samples().samples()) {
      if (smp.metric() == "log.latency.count") latency += smp.value();
    }
  }
  EXPECT_EQ(e.tailer_stats().lines_read, written);
  EXPECT_EQ(latency, static_cast<double>(written));
  EXPECT_GT(written, 550u);
}

// Every line matches 24 rules, so one read (256 KiB) makes ~7 MB of events: more than the link
// takes in one envelope (4 MiB). They leave in parts of at most 1 MiB, and none is lost.
TEST_F(EngineTest, EventsOfOneReadOutgrowingAnEnvelopeGoOutInParts) {
  LogwatchConfig config = Config();
  constexpr int kRules = 24;
  for (int i = 0; i < kRules; ++i) {
    RuleConfig r;
    r.name = "every" + std::to_string(i);
    r.match = "request id=";
    r.emit_event = true;
    config.rules.push_back(r);
    config.files[0].rules.push_back(r.name);
  }
  std::string text;
  int lines = 0;
  for (; text.size() < (256 << 10); ++lines) {
    text += "request id=" + std::to_string(lines) + " " + std::string(180, 'x') + "\n";
  }
  Append(log_, text);
  auto e = Start(std::move(config));
  Pass(*e, /*discover=*/true);
  std::map<std::string, int> per_rule;
  int64_t last_offset = -1;
  for (const pb::Envelope& env : published_) {
    EXPECT_LE(env.ByteSizeLong(), size_t{1} << 20);
    for (const pb::LogEvent& ev : env.events().events()) {
      ++per_rule[ev.rule()];
      if (ev.rule() == "every0") {
        EXPECT_GT(static_cast<int64_t>(ev.offset()), last_offset) << "events keep their order";
        last_offset = static_cast<int64_t>(ev.offset());
      }
    }
  }
  EXPECT_GE(published_.size(), 7u);
  ASSERT_EQ(per_rule.size(), size_t{kRules});
  for (const auto& [rule, n] : per_rule) EXPECT_EQ(n, lines) << rule;
  EXPECT_EQ(e->tailer_stats().lines_read, static_cast<uint64_t>(lines));
}

}  // namespace
}  // namespace hw::logwatch
