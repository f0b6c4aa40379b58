#include "logwatch/logwatch_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace hw::logwatch {
namespace {

using ::testing::HasSubstr;

TEST(LogwatchConfigTest, DefaultsMatchTheDesign) {
  Result<LogwatchConfig> c = LoadLogwatchConfig("");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->state_dir, "./hostwatch-data/logwatch");
  EXPECT_EQ(c->interval, std::chrono::seconds(10));
  EXPECT_EQ(c->max_line_bytes, 64u << 10);
  ASSERT_EQ(c->files.size(), 1u);
  EXPECT_EQ(c->files[0].path, "/var/log/nginx/access.log");
  EXPECT_FALSE(c->files[0].from_beginning);
  ASSERT_EQ(c->rules.size(), 1u);
  EXPECT_EQ(c->rules[0].name, "nginx_5xx");
  EXPECT_TRUE(c->rules[0].emit_event);
  EXPECT_TRUE(c->rules[0].emit_count);
  EXPECT_EQ(c->rules[0].max_events_per_s, 10u);
  EXPECT_EQ(c->rules[0].captures, std::vector<std::string>{"status"});
  EXPECT_EQ(c->link.spool_dir, "./hostwatch-data/spool/logwatch");
}

TEST(LogwatchConfigTest, ShippedExampleLoads) {
  Result<LogwatchConfig> c = LoadLogwatchConfig(HW_SOURCE_DIR "/deploy/config/logwatch.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  std::vector<std::string> names;
  for (const RuleConfig& r : c->rules) names.push_back(r.name);
  EXPECT_THAT(names, ::testing::IsSupersetOf(
                         {"nginx_5xx", "sshd_failed_password", "kernel_oom", "game_server_crash"}));
}

TEST(LogwatchConfigTest, BadRegexNamesFileLineAndKey) {
  Result<LogwatchConfig> c = ParseLogwatchConfig(
      "logwatch:\n"
      "  files: [{path: /tmp/x.log, rules: [r]}]\n"
      "  rules:\n"
      "    - name: r\n"
      "      match: 'a(b'\n",
      "logwatch.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("logwatch.yaml:5: logwatch.rules[0].match"));
  EXPECT_THAT(c.status().message(), HasSubstr("does not compile"));
}

TEST(LogwatchConfigTest, RejectsUnknownRulesEmitsAndKeys) {
  Result<LogwatchConfig> c = ParseLogwatchConfig(
      "logwatch:\n"
      "  files: [{path: /tmp/x.log, rules: [nope]}]\n"
      "  rules: [{name: r, match: x, emit: [event, graph], colour: red}]\n",
      "logwatch.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("\"nope\" is not a rule"));
  EXPECT_THAT(c.status().message(), HasSubstr("\"graph\" is not one of"));
  EXPECT_THAT(c.status().message(), HasSubstr("colour"));
}

TEST(LogwatchConfigTest, ValueRuleNeedsANamedCapture) {
  Result<LogwatchConfig> c = ParseLogwatchConfig(
      "logwatch:\n"
      "  files: [{path: /tmp/x.log, rules: [r]}]\n"
      "  rules: [{name: r, match: 'took \\d+ms', emit: value}]\n",
      "logwatch.yaml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.status().message(), HasSubstr("value needs a named capture"));
}

TEST(LogwatchConfigTest, EffectiveConfigRoundTrips) {
  Result<LogwatchConfig> c = ParseLogwatchConfig(
      "logwatch:\n"
      "  interval: 5s\n"
      "  host_tags: {idc: sgp}\n"
      "  files: [{path: '/var/log/app/*.log', rules: [slow, crash], from: beginning}]\n"
      "  rules:\n"
      "    - {name: slow, match: 'took (?P<ms>\\d+)ms', emit: [count, value], exclude: health}\n"
      "    - {name: crash, match: \"^Traceback|it's\", multiline_start: '^\\S', severity: "
      "critical}\n",
      "logwatch.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const std::string text = DescribeLogwatchConfig(*c);
  Result<LogwatchConfig> again = ParseLogwatchConfig(text, "effective");
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << text;
  EXPECT_EQ(DescribeLogwatchConfig(*again), text);
  EXPECT_EQ(again->rules[1].match, "^Traceback|it's");
  EXPECT_EQ(again->rules[0].exclude, "health");
  EXPECT_TRUE(again->files[0].from_beginning);
}

}  // namespace
}  // namespace hw::logwatch
