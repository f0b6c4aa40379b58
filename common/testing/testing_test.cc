// Unit tests for the test helpers themselves; no servers are started here.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "common/testing/fake_broker.h"
#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"

namespace hw::testing {
namespace {

using std::chrono::milliseconds;
namespace fs = std::filesystem;

Result<Subprocess> StartArgv(std::vector<std::string> argv) {
  SubprocessOptions opts;
  opts.argv = std::move(argv);
  return Subprocess::Start(std::move(opts));
}

TEST(TempDirTest, CreatesPrivateDirectoryAndRemovesItsTree) {
  if (std::getenv("HW_KEEP_TEMP") != nullptr) GTEST_SKIP() << "HW_KEEP_TEMP is set";
  fs::path where;
  {
    TempDir dir;
    where = dir.path();
    EXPECT_TRUE(fs::is_directory(where));
    EXPECT_EQ(where.filename().string().rfind("hostwatch-test-", 0), 0u) << where;
    const fs::path sub = dir.Sub("a/b");
    EXPECT_TRUE(fs::is_directory(sub));
    ASSERT_TRUE(WriteFile(sub / "f.txt", "hello\n").ok());
  }
  EXPECT_FALSE(fs::exists(where)) << where;
}

TEST(TempDirTest, KeepsTheTreeWhenAskedTo) {
  const char* before = std::getenv("HW_KEEP_TEMP");
  const std::string saved = before != nullptr ? before : "";
  fs::path where;
  ::setenv("HW_KEEP_TEMP", "1", 1);
  {
    TempDir dir;
    where = dir.path();
  }
  if (before != nullptr) {
    ::setenv("HW_KEEP_TEMP", saved.c_str(), 1);
  } else {
    ::unsetenv("HW_KEEP_TEMP");
  }
  EXPECT_TRUE(fs::is_directory(where));
  std::error_code ec;
  fs::remove_all(where, ec);
}

TEST(TempDirTest, MovedFromDirectoryDoesNotRemoveTheTree) {
  TempDir outer;
  fs::path where;
  {
    TempDir inner;
    where = inner.path();
    outer = std::move(inner);
  }
  EXPECT_TRUE(fs::is_directory(where));
  EXPECT_EQ(outer.path(), where);
}

TEST(TempDirTest, WriteThenReadRoundTripsBytes) {
  TempDir dir;
  const std::string content("line 1\n\0binary\xff", 15);
  ASSERT_TRUE(WriteFile(dir.path() / "x" / "data.bin", content).ok());
  Result<std::string> back = ReadFile(dir.path() / "x" / "data.bin");
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, content);
}

TEST(TempDirTest, ReadingAMissingFileIsNotFound) {
  TempDir dir;
  Result<std::string> missing = ReadFile(dir.path() / "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
}

TEST(PortTest, FreeLoopbackPortCanBeBound) {
  Result<uint16_t> port = FreeLoopbackPort();
  ASSERT_TRUE(port.ok()) << port.status().ToString();
  EXPECT_GT(*port, 0);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(*port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << strerror(errno);
  ASSERT_EQ(::listen(fd, 1), 0);
  EXPECT_TRUE(WaitForTcpPort(*port, milliseconds(1000)));
  ::close(fd);
  EXPECT_FALSE(WaitForTcpPort(*port, milliseconds(50)));
}

TEST(WaitTest, ReturnsTrueOnceTheConditionHolds) {
  int calls = 0;
  EXPECT_TRUE(WaitFor([&] { return ++calls >= 3; }, milliseconds(5000), milliseconds(1)));
  EXPECT_EQ(calls, 3);
}

TEST(WaitTest, ReturnsFalseAtTheDeadline) {
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(WaitFor([] { return false; }, milliseconds(100)));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, milliseconds(100));
  EXPECT_LT(took, milliseconds(2000));
}

TEST(SubprocessTest, TrueExitsZero) {
  Result<Subprocess> p = StartArgv({"/bin/true"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_GT(p->pid(), 0);
  EXPECT_EQ(p->Wait(milliseconds(5000)), 0);
  EXPECT_FALSE(p->Running());
}

TEST(SubprocessTest, ReportsTheExitCode) {
  Result<Subprocess> p = StartArgv({"/bin/sh", "-c", "exit 3"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->Wait(milliseconds(5000)), 3);
}

TEST(SubprocessTest, MissingBinaryIsAnError) {
  Result<Subprocess> p = StartArgv({"/nonexistent/hostwatch-no-such-binary"});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), StatusCode::kNotFound);
  EXPECT_NE(p.status().message().find("hostwatch-no-such-binary"), std::string::npos);
  // The failed child was reaped by Start.
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(SubprocessTest, BadWorkingDirectoryIsAnError) {
  SubprocessOptions opts;
  opts.argv = {"/bin/true"};
  opts.cwd = "/nonexistent/dir";
  Result<Subprocess> p = Subprocess::Start(opts);
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.status().message().find("chdir"), std::string::npos) << p.status().ToString();
}

TEST(SubprocessTest, StopEndsSleepWithSigtermQuicklyAndLeavesNoZombie) {
  Result<Subprocess> p = StartArgv({"sleep", "60"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const pid_t pid = p->pid();
  EXPECT_TRUE(p->Running());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(p->Stop(), 128 + SIGTERM);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(2000));
  EXPECT_FALSE(p->Running());
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(SubprocessTest, StopEscalatesToSigkillAfterTheGrace) {
  // The shell ignores SIGTERM; `exec sleep` would reset that, so it waits on a child instead.
  Result<Subprocess> p = StartArgv({"/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  // Give the shell time to install its trap; a SIGTERM before that would end it normally.
  ASSERT_TRUE(WaitFor(
      [&] {
        Result<std::string> status = ReadFile("/proc/" + std::to_string(p->pid()) + "/status");
        size_t at = status.ok() ? status->find("SigIgn:\t") : std::string::npos;
        if (at == std::string::npos) return false;
        const uint64_t ignored = std::strtoull(status->c_str() + at + 8, nullptr, 16);
        return (ignored & (uint64_t{1} << (SIGTERM - 1))) != 0;
      },
      milliseconds(5000)))
      << "the shell never ignored SIGTERM";
  EXPECT_EQ(p->Stop(milliseconds(200)), 128 + SIGKILL);
}

TEST(SubprocessTest, WaitTimesOutWhileTheChildRuns) {
  Result<Subprocess> p = StartArgv({"sleep", "60"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->Wait(milliseconds(50)), std::nullopt);
  EXPECT_TRUE(p->Running());
  p->Signal(SIGKILL);
  EXPECT_EQ(p->Wait(milliseconds(5000)), 128 + SIGKILL);
}

TEST(SubprocessTest, DestructorStopsAndReapsTheChild) {
  pid_t pid;
  {
    Result<Subprocess> p = StartArgv({"sleep", "60"});
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    pid = p->pid();
  }
  EXPECT_EQ(::waitpid(pid, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
  EXPECT_EQ(::kill(pid, 0), -1);
}

TEST(SubprocessTest, RedirectsOutputAndAddsEnvironment) {
  TempDir dir;
  SubprocessOptions opts;
  opts.argv = {"/bin/sh", "-c", "echo out=$HW_TEST_VAR; pwd; echo err >&2"};
  opts.env_extra = {"HW_TEST_VAR=42"};
  opts.cwd = dir.path();
  opts.stdout_path = opts.stderr_path = dir.path() / "both.log";
  Result<Subprocess> p = Subprocess::Start(opts);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->Wait(milliseconds(5000)), 0);
  Result<std::string> log = ReadFile(dir.path() / "both.log");
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  EXPECT_EQ(*log, "out=42\n" + fs::canonical(dir.path()).string() + "\nerr\n");
}

TEST(SubprocessTest, ChildStartsWithSigtermUnblocked) {
  // A parent that blocks SIGTERM (to read it from a signalfd) must not pass that on.
  sigset_t term, old;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &term, &old), 0);
  Result<Subprocess> p = StartArgv({"sleep", "60"});
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->Stop(milliseconds(2000)), 128 + SIGTERM);
}

TEST(RunCommandTest, CapturesStdoutAndStderr) {
  std::string out;
  Result<int> code =
      RunCommand({"/bin/sh", "-c", "echo hello; echo oops >&2; exit 5"}, &out, milliseconds(5000));
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 5);
  EXPECT_EQ(out, "hello\noops\n");
}

TEST(RunCommandTest, TimesOutAndKillsTheCommand) {
  std::string out;
  const auto start = std::chrono::steady_clock::now();
  Result<int> code = RunCommand({"sleep", "60"}, &out, milliseconds(200));
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(3000));
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(RunCommandTest, DoesNotWaitForABackgroundGrandchildHoldingTheOutput) {
  std::string out;
  const auto start = std::chrono::steady_clock::now();
  // The grandchild keeps the output pipe open for 5 s after the shell exits.
  Result<int> code =
      RunCommand({"/bin/sh", "-c", "echo started; sleep 5 & exit 0"}, &out, milliseconds(10'000));
  ASSERT_TRUE(code.ok()) << code.status().ToString();
  EXPECT_EQ(*code, 0);
  EXPECT_EQ(out, "started\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, milliseconds(3000));
}

TEST(RunCommandTest, MissingBinaryIsAnError) {
  Result<int> code = RunCommand({"hostwatch-no-such-binary"}, nullptr, milliseconds(5000));
  ASSERT_FALSE(code.ok());
  EXPECT_EQ(code.status().code(), StatusCode::kNotFound);
}

// The link tests drive it in detail; here: it serves a frontend and a backend at once, and can be
// stopped and started again on the same ports.
TEST(FakeBrokerTest, ServesBothSocketsAndRestarts) {
  Result<uint16_t> front = FreeLoopbackPort();
  Result<uint16_t> back = FreeLoopbackPort();
  ASSERT_TRUE(front.ok() && back.ok());
  FakeBrokerOptions opts;
  opts.frontend_port = *front;
  opts.backend_port = *back;
  FakeJournal journal;
  journal.partitions.resize(2);
  FakeBroker broker(opts, journal);
  EXPECT_EQ(broker.frontend(), "tcp://127.0.0.1:" + std::to_string(*front));
  EXPECT_EQ(broker.backend(), "tcp://127.0.0.1:" + std::to_string(*back));
  for (int run = 0; run < 2; ++run) {
    ASSERT_TRUE(broker.Start()) << run;
    EXPECT_TRUE(WaitForTcpPort(*front, std::chrono::seconds(5))) << run;
    EXPECT_TRUE(WaitForTcpPort(*back, std::chrono::seconds(5))) << run;
    broker.Stop();
  }
  broker.Append(1, FakeRecord{"bytes", hostwatch::v1::EVENTS});
  EXPECT_EQ(broker.journal().partitions[1].size(), 1u);
  EXPECT_EQ(broker.appended_count("nobody"), 0u);
}

}  // namespace
}  // namespace hw::testing
