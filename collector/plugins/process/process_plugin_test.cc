#include "collector/plugins/process/process_plugin.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "collector/host_env.h"
#include "collector/plugin_fixture.h"
#include "collector/proc_text.h"
#include "common/testing/wait.h"

namespace hw::collector {
namespace {

using testing::FixtureCase;
using testing::RunFixture;
using testing::ValueOf;

TEST(ProcessPluginTest, FixturesMatchExpectedOutput) { testing::ExpectAllFixturesMatch("process"); }

TEST(ProcessPluginTest, MatchersByCommCmdlineAndPidfile) {
  auto runs = RunFixture("process", FixtureCase("process", "real"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[0];
  EXPECT_EQ(*ValueOf(p, "proc.count", {{"process", "sleepers"}}), 2);
  EXPECT_EQ(*ValueOf(p, "proc.up", {{"process", "worker"}}), 1);
  EXPECT_EQ(*ValueOf(p, "proc.threads", {{"process", "worker"}}), 4);
  EXPECT_EQ(*ValueOf(p, "proc.rss_bytes", {{"process", "worker"}}), 2262.0 * 4096);
  EXPECT_EQ(*ValueOf(p, "proc.fds", {{"process", "worker"}}), 5);
  EXPECT_EQ(*ValueOf(p, "proc.up", {{"process", "app"}}), 1);  // the pidfile names the worker
  // Nothing matches: up 0 and count 0, nothing else.
  EXPECT_EQ(*ValueOf(p, "proc.up", {{"process", "worldserver"}}), 0);
  EXPECT_FALSE(ValueOf(p, "proc.rss_bytes", {{"process", "worldserver"}}));
  EXPECT_FALSE(ValueOf(p, "proc.cpu_percent", {{"process", "worker"}}));  // first scan
}

TEST(ProcessPluginTest, ProcessThatDisappearsIsNoLongerCounted) {
  auto runs = RunFixture("process", FixtureCase("process", "real"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  EXPECT_EQ(*ValueOf((*runs)[1], "proc.count", {{"process", "sleepers"}}), 1);
  EXPECT_EQ(*ValueOf((*runs)[1], "proc.up", {{"process", "sleepers"}}), 1);
}

TEST(ProcessPluginTest, CpuPercentSkipsARestartedPid) {
  auto runs = RunFixture("process", FixtureCase("process", "restart_and_cpu"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const auto& p = (*runs)[1];
  EXPECT_DOUBLE_EQ(*ValueOf(p, "proc.cpu_percent", {{"process", "worker"}}), 5.0);  // 50 ticks/10 s
  // pid 2001 is a new process (new start time, CPU time back to 0): no negative contribution.
  EXPECT_EQ(*ValueOf(p, "proc.cpu_percent", {{"process", "sleepers"}}), 0);
  // The oldest sleeper is the new one (the old one is gone): 10493.96 - 10491.75 s.
  EXPECT_NEAR(*ValueOf(p, "proc.uptime_s", {{"process", "sleepers"}}), 2.21, 1e-6);
  // RSS comes from statm (exact), not stat's cached rss field (2262 pages there).
  EXPECT_EQ(*ValueOf(p, "proc.rss_bytes", {{"process", "worker"}}), 2500.0 * 4096);
}

// A zombie is not a running process: a server killed but not reaped (its supervisor hangs) is
// down, and the zombie shows in proc.zombies instead.
TEST(ProcessPluginTest, ZombiesAreNotUp) {
  auto runs = RunFixture("process", FixtureCase("process", "zombie"));
  ASSERT_TRUE(runs.ok()) << runs.status().ToString();
  const Tags world = {{"process", "worldserver"}}, sleepers = {{"process", "sleepers"}};
  // Snapshot 0: the worldserver runs; one sleeper of two is a zombie.
  EXPECT_EQ(ValueOf((*runs)[0], "proc.up", world), 1);
  EXPECT_EQ(ValueOf((*runs)[0], "proc.zombies", world), 0);
  EXPECT_EQ(ValueOf((*runs)[0], "proc.count", sleepers), 1);
  EXPECT_EQ(ValueOf((*runs)[0], "proc.zombies", sleepers), 1);
  EXPECT_EQ(ValueOf((*runs)[0], "proc.up", sleepers), 1);
  // Snapshot 1: the worldserver is a zombie: down, counted only as a zombie.
  EXPECT_EQ(ValueOf((*runs)[1], "proc.up", world), 0);
  EXPECT_EQ(ValueOf((*runs)[1], "proc.count", world), 0);
  EXPECT_EQ(ValueOf((*runs)[1], "proc.zombies", world), 1);
  EXPECT_FALSE(ValueOf((*runs)[1], "proc.rss_bytes", world));
  // Snapshot 2: reaped.
  EXPECT_EQ(ValueOf((*runs)[2], "proc.up", world), 0);
  EXPECT_EQ(ValueOf((*runs)[2], "proc.zombies", world), 0);
}

// A child that names itself, then renames itself once told to (through pipes, so no timing).
class NamedChild {
 public:
  NamedChild(const char* first, const char* second) {
    int to_child[2], from_child[2];
    EXPECT_EQ(::pipe(to_child), 0);
    EXPECT_EQ(::pipe(from_child), 0);
    pid_ = ::fork();
    if (pid_ == 0) {
      char c;
      ::prctl(PR_SET_NAME, first);
      (void)!::write(from_child[1], "1", 1);
      if (::read(to_child[0], &c, 1) == 1) ::prctl(PR_SET_NAME, second);
      (void)!::write(from_child[1], "2", 1);
      for (;;) ::pause();
    }
    ::close(to_child[0]);
    ::close(from_child[1]);
    to_child_ = to_child[1];
    from_child_ = from_child[0];
    char c;
    EXPECT_EQ(::read(from_child_, &c, 1), 1);
  }
  ~NamedChild() {
    Kill();
    ::close(to_child_);
    ::close(from_child_);
  }
  void Rename() {
    char c = 'r';
    EXPECT_EQ(::write(to_child_, &c, 1), 1);
    EXPECT_EQ(::read(from_child_, &c, 1), 1);
  }
  void Kill() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);  // reaped: its /proc entry is gone
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
};

// A process plugin on the real /proc with one comm matcher per name (the matcher named so too).
Result<std::unique_ptr<Plugin>> LiveByComm(const HostEnv& env,
                                           std::initializer_list<const char*> names) {
  ProcessOptions options;  // the plugin keeps its own copy
  for (const char* name : names) {
    ProcessMatcher m;
    m.name = name;
    m.comm = name;
    options.matchers.push_back(m);
  }
  PluginSetup setup;
  setup.env = &env;
  setup.options = &options;
  return CreateProcessPlugin(setup);
}

// On the real /proc the plugin keeps comm files open between scans: a renamed process, an exited
// one and a new one must all be seen as a fresh scan would see them.
TEST(ProcessPluginTest, RealProcfsScansSeeRenamesExitsAndNewProcesses) {
  const HostEnv env = HostEnv::Real();
  auto plugin = LiveByComm(env, {"hwtest-first", "hwtest-second"});
  ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();
  int64_t tick = 0;
  auto count = [&](std::string_view matcher) {
    std::vector<Point> out;
    tick += 1000;
    EXPECT_TRUE((*plugin)->Collect({tick, tick}, &out).ok());
    return *ValueOf(out, "proc.count", {{"process", std::string(matcher)}});
  };

  NamedChild child("hwtest-first", "hwtest-second");
  EXPECT_EQ(count("hwtest-first"), 1);
  EXPECT_EQ(count("hwtest-first"), 1);  // through the kept descriptor
  child.Rename();
  EXPECT_EQ(count("hwtest-first"), 0);
  EXPECT_EQ(count("hwtest-second"), 1);
  child.Kill();
  EXPECT_EQ(count("hwtest-second"), 0);
  NamedChild again("hwtest-first", "hwtest-second");
  EXPECT_EQ(count("hwtest-first"), 1);
}

// The same on the live kernel: a named child killed and not yet waited for is a zombie.
TEST(ProcessPluginTest, RealZombieIsNotUp) {
  const HostEnv env = HostEnv::Real();
  auto plugin = LiveByComm(env, {"hwtest-zombie"});
  ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();
  int64_t tick = 0;
  auto collect = [&] {
    std::vector<Point> out;
    tick += 1000;
    EXPECT_TRUE((*plugin)->Collect({tick, tick}, &out).ok());
    return out;
  };
  const Tags tags = {{"process", "hwtest-zombie"}};
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::prctl(PR_SET_NAME, "hwtest-zombie");
    for (;;) ::pause();
  }
  ASSERT_TRUE(hw::testing::WaitFor([&] { return ValueOf(collect(), "proc.up", tags) == 1; },
                                   std::chrono::seconds(5)));
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  // Not reaped yet: the kernel keeps it as a zombie until waitpid.
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOWAIT), 0);
  std::vector<Point> out = collect();
  EXPECT_EQ(ValueOf(out, "proc.up", tags), 0);
  EXPECT_EQ(ValueOf(out, "proc.count", tags), 0);
  EXPECT_EQ(ValueOf(out, "proc.zombies", tags), 1);
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  out = collect();
  EXPECT_EQ(ValueOf(out, "proc.zombies", tags), 0);
}

// A kernel thread's comm is read once and its life watched through a pidfd: it stays counted
// on every scan. kthreadd is pid 2 wherever the host's kernel threads are visible.
TEST(ProcessPluginTest, KernelThreadStaysMatchedThroughItsPidfd) {
  Result<std::string> comm = ReadTextFile("/proc/2/comm");
  if (!comm.ok() || Trim(*comm) != "kthreadd") {
    GTEST_SKIP() << "no kthreadd in this pid namespace";
  }
  const HostEnv env = HostEnv::Real();
  auto plugin = LiveByComm(env, {"kthreadd"});
  ASSERT_TRUE(plugin.ok()) << plugin.status().ToString();
  for (int64_t tick = 1000; tick <= 4000; tick += 1000) {
    std::vector<Point> out;
    ASSERT_TRUE((*plugin)->Collect({tick, tick}, &out).ok());
    EXPECT_EQ(ValueOf(out, "proc.up", {{"process", "kthreadd"}}), 1) << tick;
    EXPECT_EQ(ValueOf(out, "proc.count", {{"process", "kthreadd"}}), 1) << tick;
  }
}

}  // namespace
}  // namespace hw::collector
