// The daemon conventions of docs/architecture.md §3-4, shown on a real binary built on
// common/daemon (hostwatch-broker): config errors exit 2 naming file, line and key; --check-config
// prints the effective config; SIGHUP with a broken file keeps the running config; SIGTERM exits 0;
// READY=1 reaches NOTIFY_SOCKET.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "common/testing/notify_socket.h"
#include "common/testing/subprocess.h"
#include "common/testing/temp_dir.h"
#include "common/testing/wait.h"

namespace hw {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::string kBroker = HW_BINARY_DIR "/broker/hostwatch-broker";
const std::string kCli = HW_BINARY_DIR "/cli/hostwatch";

std::string Slurp(const std::filesystem::path& p) {
  Result<std::string> r = testing::ReadFile(p);
  return r.ok() ? *r : std::string();
}

TEST(DaemonConfigTest, UnknownKeyExitsTwoNamingFileLineAndKey) {
  testing::TempDir dir;
  auto cfg = dir.path() / "broker.yaml";
  ASSERT_TRUE(testing::WriteFile(cfg, "broker:\n  partitions: 4\n  partitons: 8\n").ok());
  std::string out;
  Result<int> rc = testing::RunCommand({kBroker, "--config", cfg.string()}, &out, 20s);
  ASSERT_TRUE(rc.ok()) << rc.status().ToString();
  EXPECT_EQ(*rc, 2);
  EXPECT_THAT(out, HasSubstr(cfg.string() + ":3: broker.partitons: unknown key"));
}

TEST(DaemonConfigTest, BadDurationExitsTwoNamingFileLineAndKey) {
  testing::TempDir dir;
  auto cfg = dir.path() / "broker.yaml";
  ASSERT_TRUE(testing::WriteFile(cfg, "log: {level: info}\nbroker:\n  fsync_interval: 10x\n").ok());
  std::string out;
  Result<int> rc =
      testing::RunCommand({kBroker, "--config", cfg.string(), "--check-config"}, &out, 20s);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 2);
  EXPECT_THAT(out,
              HasSubstr(cfg.string() + ":3: broker.fsync_interval: \"10x\" is not a duration"));
}

TEST(DaemonConfigTest, MissingConfigFileAndBadFlagsExitTwo) {
  std::string out;
  EXPECT_EQ(*testing::RunCommand({kBroker, "--config", "/nonexistent/broker.yaml"}, &out, 20s), 2);
  EXPECT_THAT(out, HasSubstr("/nonexistent/broker.yaml"));
  EXPECT_EQ(*testing::RunCommand({kBroker, "--frobnicate"}, &out, 20s), 2);
  EXPECT_THAT(out, HasSubstr("unknown argument"));
  EXPECT_EQ(*testing::RunCommand({kCli, "no-such-verb"}, &out, 20s), 2);
}

TEST(DaemonConfigTest, CheckConfigPrintsTheEffectiveConfig) {
  testing::TempDir dir;
  auto cfg = dir.path() / "broker.yaml";
  ASSERT_TRUE(testing::WriteFile(cfg, "broker:\n  partitions: 8\n  retention_age: 48h\n").ok());
  std::string out;
  Result<int> rc =
      testing::RunCommand({kBroker, "--config", cfg.string(), "--check-config"}, &out, 20s);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 0) << out;
  EXPECT_THAT(out, HasSubstr("partitions: 8"));
  EXPECT_THAT(out, HasSubstr("retention_age: 2d"));
  EXPECT_THAT(out, HasSubstr("frontend: \"tcp://127.0.0.1:7400\""));

  EXPECT_EQ(*testing::RunCommand({kBroker, "--version"}, &out, 20s), 0);
  EXPECT_THAT(out, HasSubstr("hostwatch-broker 0."));
}

TEST(DaemonConfigTest, ReadyReloadAndCleanStop) {
  testing::TempDir dir;
  auto cfg = dir.path() / "broker.yaml";
  const std::string data_dir = (dir.path() / "data").string();
  ASSERT_TRUE(
      testing::WriteFile(cfg, "broker:\n  data_dir: " + data_dir + "\nlog: {format: json}\n").ok());
  testing::NotifySocket notify(dir.path() / "notify.sock");
  ASSERT_TRUE(notify.bound());

  testing::SubprocessOptions opts;
  opts.argv = {kBroker, "--config", cfg.string()};
  opts.env_extra = {"NOTIFY_SOCKET=" + notify.path()};
  opts.stderr_path = dir.path() / "broker.log";
  Result<testing::Subprocess> proc = testing::Subprocess::Start(opts);
  ASSERT_TRUE(proc.ok()) << proc.status().ToString();

  ASSERT_TRUE(
      testing::WaitFor([&] { return notify.Drain().find("READY=1") != std::string::npos; }, 10s))
      << Slurp(dir.path() / "broker.log");
  EXPECT_TRUE(std::filesystem::is_directory(data_dir));

  // A broken config on SIGHUP: logged, the old one kept, the process keeps running.
  ASSERT_TRUE(testing::WriteFile(cfg, "broker:\n  data_dir: " + data_dir + "\n  bogus: 1\n").ok());
  proc->Signal(SIGHUP);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return Slurp(dir.path() / "broker.log").find("keeping the running config") !=
               std::string::npos;
      },
      10s))
      << Slurp(dir.path() / "broker.log");
  EXPECT_THAT(Slurp(dir.path() / "broker.log"),
              HasSubstr("broker.yaml:3: broker.bogus: unknown key"));
  EXPECT_TRUE(proc->Running());

  // A good one is applied.
  ASSERT_TRUE(testing::WriteFile(cfg, "broker:\n  data_dir: " + data_dir +
                                          "\n  fsync: always\nlog: {format: json}\n")
                  .ok());
  proc->Signal(SIGHUP);
  ASSERT_TRUE(testing::WaitFor(
      [&] {
        return Slurp(dir.path() / "broker.log").find("\"msg\":\"reloaded") != std::string::npos;
      },
      10s))
      << Slurp(dir.path() / "broker.log");

  proc->Signal(SIGTERM);
  std::optional<int> rc = proc->Wait(10s);
  ASSERT_TRUE(rc.has_value());
  EXPECT_EQ(*rc, 0);
  EXPECT_THAT(notify.Drain(), HasSubstr("STOPPING=1"));
  // Every log line was a JSON object (format: json).
  std::string log = Slurp(dir.path() / "broker.log");
  size_t pos = 0;
  int lines = 0;
  while (pos < log.size()) {
    size_t nl = log.find('\n', pos);
    std::string line = log.substr(pos, nl - pos);
    EXPECT_TRUE(line.starts_with("{\"ts\":\"") && line.ends_with("}")) << line;
    ++lines;
    pos = nl == std::string::npos ? log.size() : nl + 1;
  }
  EXPECT_GE(lines, 3);
}

}  // namespace
}  // namespace hw
