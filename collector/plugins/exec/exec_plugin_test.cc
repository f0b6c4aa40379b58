#include "collector/plugins/exec/exec_plugin.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include "collector/plugin_fixture.h"
#include "collector/plugins/exec/exec_output.h"
#include "collector/proc_text.h"
#include "common/base/mutex.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"

namespace hw::collector {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string Testdata(const std::string& rel) {
  auto r = ReadTextFile(std::string(HW_SOURCE_DIR) + "/collector/plugins/exec/testdata/" + rel);
  return r.ok() ? *r : std::string();
}

TEST(ExecOutputTest, LinesFixture) {
  ExecParseResult r = ParseExecOutput(Testdata("lines/output.txt"), ExecFormat::kLines, 5000);
  EXPECT_EQ(FormatPoints(r.points), Testdata("lines/expected.out"));
  ASSERT_EQ(r.errors.size(), 4u);  // the four bad lines, each named
  EXPECT_EQ(r.errors[0].rfind("line 6: ", 0), 0u) << r.errors[0];
  // A line's own unix_s wins over the run's time.
  for (const Point& p : r.points) {
    const bool own = p.tags.size() == 1 && p.tags[0].second == "b";
    EXPECT_EQ(p.time_ms, own ? 1700000123000 : 5000) << p.metric;
  }
}

TEST(ExecOutputTest, JsonFixture) {
  ExecParseResult r = ParseExecOutput(Testdata("json/output.txt"), ExecFormat::kJson, 5000);
  EXPECT_EQ(FormatPoints(r.points), Testdata("json/expected.out"));
  ASSERT_EQ(r.errors.size(), 1u);  // "version" is a string
  EXPECT_NE(r.errors[0].find("version"), std::string::npos);
  EXPECT_EQ(ParseExecOutput("[1, 2]", ExecFormat::kJson, 1).errors.size(), 1u);
  EXPECT_EQ(ParseExecOutput("not json", ExecFormat::kJson, 1).errors.size(), 1u);
}

// Collects what the plugin's thread submits.
class CaptureSink : public PointSink {
 public:
  void Submit(std::vector<Point> points) override {
    MutexLock lock(&mu_);
    for (Point& p : points) points_.push_back(std::move(p));
  }
  std::vector<Point> points() {
    MutexLock lock(&mu_);
    return points_;
  }
  size_t Count(const std::string& metric, const Tags& tags) {
    size_t n = 0;
    for (const Point& p : points()) n += p.metric == metric && p.tags == tags;
    return n;
  }

 private:
  Mutex mu_;
  std::vector<Point> points_ GUARDED_BY(mu_);
};

// Children of this test process that are zombies (exited, not reaped).
int ZombieChildren() {
  int zombies = 0;
  auto entries = ListDir("/proc");
  if (!entries.ok()) return -1;
  for (const std::string& e : *entries) {
    auto stat = ReadTextFile("/proc/" + e + "/stat");
    if (!stat.ok()) continue;
    const size_t close = stat->rfind(')');
    if (close == std::string::npos) continue;
    std::vector<std::string_view> f = SplitFields(std::string_view(*stat).substr(close + 1));
    if (f.size() > 1 && f[0] == "Z" && ParseI64(f[1]) == ::getpid()) ++zombies;
  }
  return zombies;
}

std::unique_ptr<Plugin> MakeExec(const ExecOptions& o) {
  PluginSetup setup;
  HostEnv env;
  setup.env = &env;
  setup.interval_ms = 1000;
  setup.options = &o;
  auto p = CreateExecPlugin(setup);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return std::move(p).value();
}

TEST(ExecPluginTest, RunsCommandsPublishesOutputAndExecOk) {
  ExecOptions o;
  o.commands.push_back({"good", "echo 'game.rooms;zone=eu 42'", 1s, 900ms, ExecFormat::kLines});
  o.commands.push_back({"json", "echo '{\"a\": {\"b\": 2}}'", 1s, 900ms, ExecFormat::kJson});
  o.commands.push_back({"fails", "echo 'x 1'; exit 3", 1s, 900ms, ExecFormat::kLines});
  CaptureSink sink;
  std::unique_ptr<Plugin> p = MakeExec(o);
  ASSERT_TRUE(p->Start(&sink).ok());
  ASSERT_TRUE(hw::testing::WaitFor(
      [&] {
        return sink.Count("exec.ok", {{"command", "fails"}}) >= 1 &&
               sink.Count("exec.ok", {{"command", "good"}}) >= 1 &&
               sink.Count("exec.ok", {{"command", "json"}}) >= 1;
      },
      10s));
  p->Stop();
  std::vector<Point> pts = sink.points();
  EXPECT_EQ(testing::ValueOf(pts, "exec.ok", {{"command", "good"}}), 1);
  EXPECT_EQ(testing::ValueOf(pts, "game.rooms", {{"zone", "eu"}}), 42);
  EXPECT_EQ(testing::ValueOf(pts, "a.b"), 2);
  // A non-zero exit fails the run, but what it printed is still published.
  EXPECT_EQ(testing::ValueOf(pts, "exec.ok", {{"command", "fails"}}), 0);
  EXPECT_EQ(testing::ValueOf(pts, "x"), 1);
  for (const Point& pt : pts) {
    EXPECT_EQ(pt.time_ms % 1000, 0) << pt.metric << ": stamped with the aligned tick";
    EXPECT_EQ(pt.step_s, 1u);
  }
  EXPECT_EQ(ZombieChildren(), 0);
}

TEST(ExecPluginTest, HangingCommandIsKilledWithItsGroupAndReaped) {
  hw::testing::TempDir dir;
  const fs::path pids = dir.path() / "pids";
  ExecOptions o;
  o.kill_grace = 200ms;
  // Ignores SIGTERM (so SIGKILL is needed) and leaves a grandchild in its group that would keep the
  // pipe open forever.
  const std::string hang = "trap '' TERM; sleep 300 & echo $! > " + pids.string() + "; sleep 300";
  o.commands.push_back({"hang", hang, 2s, 500ms, ExecFormat::kLines});
  o.commands.push_back({"tick", "echo t 1", 1s, 500ms, ExecFormat::kLines});
  CaptureSink sink;
  std::unique_ptr<Plugin> p = MakeExec(o);
  ASSERT_TRUE(p->Start(&sink).ok());
  ASSERT_TRUE(hw::testing::WaitFor(
      [&] {
        return sink.Count("exec.ok", {{"command", "hang"}}) >= 1;
      },
      10s));
  EXPECT_EQ(testing::ValueOf(sink.points(), "exec.ok", {{"command", "hang"}}), 0);
  // The grandchild got the group's SIGKILL too.
  auto grandchild = ReadTextFile(pids.string());
  ASSERT_TRUE(grandchild.ok());
  const auto gpid = ParseI64(Trim(*grandchild));
  ASSERT_TRUE(gpid.has_value());
  EXPECT_TRUE(hw::testing::WaitFor(
      [&] {
        auto st = ReadTextFile("/proc/" + std::to_string(*gpid) + "/stat");
        return !st.ok() || st->find(") Z ") != std::string::npos;
      },
      5s));
  // Meanwhile the other command kept its 1 s schedule: two consecutive ticks.
  ASSERT_TRUE(hw::testing::WaitFor([&] { return sink.Count("t", {}) >= 2; }, 10s));
  p->Stop();
  std::vector<int64_t> ticks;
  for (const Point& pt : sink.points()) {
    if (pt.metric == "t") ticks.push_back(pt.time_ms);
  }
  ASSERT_GE(ticks.size(), 2u);
  EXPECT_EQ(ticks[1] - ticks[0], 1000);
  std::vector<Point> self;
  p->SelfMetrics(&self);
  EXPECT_GE(testing::ValueOf(self, "hostwatch.collector.exec_timeouts",
                             {{"plugin", "exec"}, {"command", "hang"}})
                .value_or(0),
            1);
  EXPECT_EQ(ZombieChildren(), 0);
}

TEST(ExecPluginTest, OutputBeyondTheCapFailsTheRun) {
  ExecOptions o;
  o.max_output_bytes = 1024;
  o.commands.push_back({"chatty", "yes 'y 1'", 1s, 900ms, ExecFormat::kLines});
  CaptureSink sink;
  std::unique_ptr<Plugin> p = MakeExec(o);
  ASSERT_TRUE(p->Start(&sink).ok());
  ASSERT_TRUE(hw::testing::WaitFor(
      [&] {
        return sink.Count("exec.ok", {{"command", "chatty"}}) >= 1;
      },
      10s));
  p->Stop();
  EXPECT_EQ(testing::ValueOf(sink.points(), "exec.ok", {{"command", "chatty"}}), 0);
  // At most the lines that fit in 1 KiB were parsed ("y 1\n" is 4 bytes).
  EXPECT_LE(sink.Count("y", {}), 256u);
  EXPECT_EQ(ZombieChildren(), 0);
}

TEST(ExecPluginTest, StopKillsARunningCommand) {
  ExecOptions o;
  o.commands.push_back({"slow", "sleep 300", 1s, 900ms, ExecFormat::kLines});
  CaptureSink sink;
  std::unique_ptr<Plugin> p = MakeExec(o);
  ASSERT_TRUE(p->Start(&sink).ok());
  std::vector<Point> self;
  ASSERT_TRUE(hw::testing::WaitFor(
      [&] {
        self.clear();
        p->SelfMetrics(&self);
        return testing::ValueOf(self, "hostwatch.collector.exec_runs",
                                {{"plugin", "exec"}, {"command", "slow"}})
                   .value_or(0) >= 1;
      },
      10s));
  p->Stop();  // must return promptly and leave nothing behind
  EXPECT_EQ(ZombieChildren(), 0);
}

}  // namespace
}  // namespace hw::collector
