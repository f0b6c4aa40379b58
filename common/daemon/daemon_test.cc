#include "common/daemon/daemon.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "common/testing/temp_dir.h"

namespace hw::daemon {
namespace {

using ::testing::HasSubstr;

Result<CommonFlags> Parse(std::vector<const char*> args) {
  return ParseCommonFlags(std::span<const char* const>(args.data(), args.size()));
}

TEST(FlagsTest, ParsesEveryCommonFlag) {
  Result<CommonFlags> f =
      Parse({"--config", "/etc/hw/broker.yaml", "--check-config", "--log-level=debug"});
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->config_path, "/etc/hw/broker.yaml");
  EXPECT_TRUE(f->check_config);
  EXPECT_EQ(f->log_level, "debug");
  EXPECT_FALSE(f->help);

  EXPECT_TRUE(Parse({"--help"})->help);
  EXPECT_TRUE(Parse({"-h"})->help);
  EXPECT_TRUE(Parse({"--version"})->version);
  EXPECT_EQ(Parse({"--config=x.yaml"})->config_path, "x.yaml");
  EXPECT_TRUE(Parse({})->config_path.empty());
}

TEST(FlagsTest, RejectsBadUsage) {
  EXPECT_THAT(Parse({"--bogus"}).status().message(), HasSubstr("unknown argument \"--bogus\""));
  EXPECT_THAT(Parse({"--config"}).status().message(), HasSubstr("--config needs a value"));
  EXPECT_THAT(Parse({"--config="}).status().message(), HasSubstr("--config needs a value"));
  EXPECT_THAT(Parse({"--log-level", "loud"}).status().message(), HasSubstr("not a log level"));
  EXPECT_FALSE(Parse({"positional"}).ok());
}

TEST(LoggingTest, JsonLinesAreEscapedObjects) {
  std::chrono::system_clock::time_point t{std::chrono::milliseconds(1'795'301'100'123)};
  std::string line =
      FormatJsonLine(t, spdlog::level::warn, "hostwatch-broker", "bad \"frame\"\nfrom\t\x01peer\\");
  EXPECT_EQ(
      line,
      "{\"ts\":\"2026-11-21T22:45:00.123Z\",\"level\":\"warning\",\"logger\":\"hostwatch-broker\","
      "\"msg\":\"bad \\\"frame\\\"\\nfrom\\t\\u0001peer\\\\\"}\n");
}

TEST(LoggingTest, LevelsParse) {
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLogLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLogLevel("off"), spdlog::level::off);
  EXPECT_FALSE(ParseLogLevel("verbose").ok());
  EXPECT_TRUE(SetupLogging("daemon-test", {"debug", "json"}).ok());
  EXPECT_TRUE(SetupLogging("daemon-test", {"info", "text"}).ok());
  EXPECT_FALSE(SetupLogging("daemon-test", {"info", "xml"}).ok());
}

TEST(RepeatLimiterTest, LetsOneThroughPerPeriodWithACount) {
  RepeatLimiter limiter(std::chrono::seconds(10));
  auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  ASSERT_EQ(limiter.Allow(t0), std::optional<uint64_t>(0));
  EXPECT_FALSE(limiter.Allow(t0).has_value());
  EXPECT_FALSE(limiter.Allow(t0 + std::chrono::seconds(1)).has_value());
  EXPECT_FALSE(limiter.Allow(t0 + std::chrono::seconds(9)).has_value());
  std::optional<uint64_t> n = limiter.Allow(t0 + std::chrono::seconds(10));
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 3u);  // three held back since t0
  EXPECT_EQ(*limiter.Allow(t0 + std::chrono::seconds(30)), 0u);
}

TEST(SdNotifyTest, SendsDatagramsToNotifySocket) {
  testing::TempDir dir;
  std::string path = (dir.path() / "notify.sock").string();
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);

  SdNotifier notifier(path, std::chrono::microseconds(4'000'000));
  ASSERT_TRUE(notifier.enabled());
  ASSERT_TRUE(notifier.Notify("READY=1").ok());
  char buf[64] = {};
  ssize_t n = recv(fd, buf, sizeof buf, 0);
  ASSERT_EQ(n, 7);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)), "READY=1");
  EXPECT_EQ(*notifier.WatchdogPingInterval(), std::chrono::milliseconds(2000));
  close(fd);

  SdNotifier off;
  EXPECT_FALSE(off.enabled());
  EXPECT_TRUE(off.Notify("READY=1").ok());
  EXPECT_FALSE(off.WatchdogPingInterval().has_value());
}

// RunDaemon end to end in-process, with a fake service. Signals are raised from the service itself:
// they stay pending (blocked by SignalWaiter) until the main loop takes them, lowest number first,
// so SIGHUP (1) is handled before SIGTERM (15).
struct FakeConfig {
  int generation = 0;
  bool invalid = false;
};

struct Calls {
  std::vector<std::string> log;
  int reload_generation = -1;
};

class FakeService : public Service<FakeConfig> {
 public:
  FakeService(Calls* calls, std::vector<int> signals_on_start, bool fail_health)
      : calls_(calls), signals_(std::move(signals_on_start)), fail_health_(fail_health) {}
  Status Start() override {
    calls_->log.push_back("start");
    for (int sig : signals_) kill(getpid(), sig);
    return Status::Ok();
  }
  Status Reload(const FakeConfig& c) override {
    calls_->log.push_back("reload");
    calls_->reload_generation = c.generation;
    return Status::Ok();
  }
  void Stop() override { calls_->log.push_back("stop"); }
  Status Health() override {
    return fail_health_ ? Status::Unavailable("journal disk gone") : Status::Ok();
  }

 private:
  Calls* calls_;
  std::vector<int> signals_;
  bool fail_health_;
};

DaemonSpec<FakeConfig> MakeSpec(Calls* calls, std::vector<int> signals, bool fail_health,
                                int* loads) {
  DaemonSpec<FakeConfig> spec;
  spec.name = "hostwatch-fake";
  spec.summary = "A fake daemon for tests.";
  spec.load = [loads](const std::string& path) -> Result<FakeConfig> {
    if (path == "bad.yaml") return Status::InvalidArgument("bad.yaml:3: fake.x: unknown key");
    ++*loads;
    return FakeConfig{*loads, false};
  };
  spec.describe = [](const FakeConfig& c) {
    return "generation: " + std::to_string(c.generation) + "\n";
  };
  spec.log_options = [](const FakeConfig&) { return LogOptions{"warn", "text"}; };
  spec.create = [calls, signals,
                 fail_health](const FakeConfig&) -> Result<std::unique_ptr<Service<FakeConfig>>> {
    return std::unique_ptr<Service<FakeConfig>>(
        std::make_unique<FakeService>(calls, signals, fail_health));
  };
  return spec;
}

int RunFake(const DaemonSpec<FakeConfig>& spec, std::vector<const char*> args) {
  args.insert(args.begin(), "hostwatch-fake");
  return RunDaemon(spec, static_cast<int>(args.size()), args.data());
}

TEST(RunDaemonTest, ReloadsOnSighupAndStopsCleanlyOnSigterm) {
  Calls calls;
  int loads = 0;
  auto spec = MakeSpec(&calls, {SIGHUP, SIGTERM}, false, &loads);
  EXPECT_EQ(RunFake(spec, {"--config", "good.yaml"}), kExitOk);
  EXPECT_EQ(calls.log, (std::vector<std::string>{"start", "reload", "stop"}));
  EXPECT_EQ(calls.reload_generation, 2);  // the config was read again for the reload
}

TEST(RunDaemonTest, StopsOnSigint) {
  Calls calls;
  int loads = 0;
  auto spec = MakeSpec(&calls, {SIGINT}, false, &loads);
  EXPECT_EQ(RunFake(spec, {}), kExitOk);
  EXPECT_EQ(calls.log, (std::vector<std::string>{"start", "stop"}));
}

TEST(RunDaemonTest, ConfigErrorsExitTwoWithoutStarting) {
  Calls calls;
  int loads = 0;
  auto spec = MakeSpec(&calls, {}, false, &loads);
  ::testing::internal::CaptureStderr();
  EXPECT_EQ(RunFake(spec, {"--config", "bad.yaml"}), kExitUsage);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_THAT(err, HasSubstr("bad.yaml:3: fake.x: unknown key"));
  EXPECT_TRUE(calls.log.empty());
  EXPECT_EQ(RunFake(spec, {"--no-such-flag"}), kExitUsage);
}

TEST(RunDaemonTest, CheckConfigPrintsEffectiveConfig) {
  Calls calls;
  int loads = 0;
  auto spec = MakeSpec(&calls, {}, false, &loads);
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunFake(spec, {"--check-config"}), kExitOk);
  EXPECT_EQ(::testing::internal::GetCapturedStdout(), "generation: 1\n");
  EXPECT_TRUE(calls.log.empty());

  ::testing::internal::CaptureStdout();
  EXPECT_EQ(RunFake(spec, {"--help"}), kExitOk);
  EXPECT_THAT(::testing::internal::GetCapturedStdout(), HasSubstr("A fake daemon for tests."));
}

TEST(RunDaemonTest, HealthFailureExitsOne) {
  Calls calls;
  int loads = 0;
  auto spec = MakeSpec(&calls, {}, true, &loads);
  EXPECT_EQ(RunFake(spec, {}), kExitRuntime);
  EXPECT_EQ(calls.log, (std::vector<std::string>{"start", "stop"}));
}

}  // namespace
}  // namespace hw::daemon
