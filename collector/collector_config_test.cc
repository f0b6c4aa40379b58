#include "collector/collector_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "collector/collector_service.h"
#include "collector/plugins/cpu/cpu_plugin.h"
#include "collector/plugins/exec/exec_plugin.h"
#include "collector/plugins/process/process_plugin.h"

namespace hw::collector {
namespace {

using ::testing::HasSubstr;

TEST(CollectorConfigTest, DefaultsMatchTheDesign) {
  Result<CollectorConfig> c = LoadCollectorConfig("");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->endpoint, "");
  EXPECT_FALSE(c->EffectiveEndpoint().empty());  // the hostname
  EXPECT_EQ(c->interval, std::chrono::seconds(10));
  EXPECT_EQ(c->proc_root, "/proc");
  EXPECT_EQ(c->sys_root, "/sys");
  EXPECT_EQ(c->link.brokers, std::vector<std::string>{"tcp://127.0.0.1:7400"});
  EXPECT_EQ(c->link.spool_dir, "./hostwatch-data/spool/collector");
  ASSERT_EQ(c->plugins.size(), 11u);
  for (const PluginConfig& p : c->plugins) {
    EXPECT_TRUE(p.enabled) << p.name;
    EXPECT_EQ(p.interval, std::chrono::seconds(10)) << p.name;
  }
  EXPECT_TRUE(static_cast<const CpuOptions*>(c->Plugin("cpu")->options.get())->per_core);
}

TEST(CollectorConfigTest, ShippedExampleLoadsAndItsPluginsCanBeCreated) {
  Result<CollectorConfig> c = LoadCollectorConfig(HW_SOURCE_DIR "/deploy/config/collector.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const auto* proc = static_cast<const ProcessOptions*>(c->Plugin("process")->options.get());
  ASSERT_EQ(proc->matchers.size(), 2u);
  EXPECT_EQ(proc->matchers[0].comm, "worldserver");
  EXPECT_NE(proc->matchers[1].cmdline_re, nullptr);
  const auto* exec = static_cast<const ExecOptions*>(c->Plugin("exec")->options.get());
  ASSERT_EQ(exec->commands.size(), 1u);
  EXPECT_EQ(exec->commands[0].timeout, std::chrono::seconds(5));
  auto plugins = CreatePlugins(*c, HostEnv::Real());
  ASSERT_TRUE(plugins.ok()) << plugins.status().ToString();
  EXPECT_EQ(plugins->size(), 11u);
}

TEST(CollectorConfigTest, PluginIntervalsAndHostTags) {
  Result<CollectorConfig> c = ParseCollectorConfig(
      "collector:\n"
      "  endpoint: game-01\n"
      "  host_tags: {idc: sgp, group: game}\n"
      "  interval: 30s\n"
      "  plugins:\n"
      "    cpu: {interval: 5s, per_core: false}\n"
      "    tcp: {enabled: false}\n",
      "collector.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->EffectiveEndpoint(), "game-01");
  EXPECT_EQ(c->host_tags.at("idc"), "sgp");
  EXPECT_EQ(c->Plugin("cpu")->interval, std::chrono::seconds(5));
  EXPECT_EQ(c->Plugin("memory")->interval, std::chrono::seconds(30));
  EXPECT_FALSE(c->Plugin("tcp")->enabled);
  EXPECT_FALSE(static_cast<const CpuOptions*>(c->Plugin("cpu")->options.get())->per_core);
  // The effective config parses back to the same settings (lists of matchers aside: see
  // ProcessOptions::Describe).
  Result<CollectorConfig> again = ParseCollectorConfig(DescribeCollectorConfig(*c), "effective");
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << DescribeCollectorConfig(*c);
  EXPECT_EQ(again->Plugin("cpu")->interval, std::chrono::seconds(5));
  EXPECT_EQ(again->host_tags, c->host_tags);
}

TEST(CollectorConfigTest, ErrorsNameFileLineAndKey) {
  auto bad = [](const std::string& yaml) {
    Result<CollectorConfig> c = ParseCollectorConfig(yaml, "collector.yaml");
    EXPECT_FALSE(c.ok()) << yaml;
    return c.ok() ? std::string() : c.status().message();
  };
  EXPECT_THAT(bad("collector:\n  plugins:\n    cpuu: {}\n"), HasSubstr("collector.yaml:3"));
  EXPECT_THAT(bad("collector:\n  interval: 10x\n"), HasSubstr("collector.interval"));
  EXPECT_THAT(bad("collector:\n  interval: 1500ms\n"), HasSubstr("whole number of seconds"));
  EXPECT_THAT(bad("collector:\n  endpoint: \"a b\"\n"), HasSubstr("collector.endpoint"));
  EXPECT_THAT(bad("collector:\n  plugins:\n    process: {matchers: [{name: x, match: {cmdline: "
                  "\"(\"}}]}\n"),
              HasSubstr("RE2"));
  EXPECT_THAT(bad("collector:\n  plugins:\n    process: {matchers: [{name: x, match: {comm: a, "
                  "pidfile: /p}}]}\n"),
              HasSubstr("exactly one"));
  EXPECT_THAT(bad("collector:\n  plugins:\n    exec: {commands: [{name: a, command: x, "
                  "interval: 5s, timeout: 10s}]}\n"),
              HasSubstr("timeout"));
  EXPECT_THAT(bad("collector:\n  plugins:\n    exec: {commands: [{name: a, command: x, format: "
                  "xml}]}\n"),
              HasSubstr("format"));
}

}  // namespace
}  // namespace hw::collector
