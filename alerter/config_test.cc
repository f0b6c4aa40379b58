#include "alerter/config.h"

#include <gtest/gtest.h>

namespace hw::alerter {
namespace {

TEST(AlerterConfigTest, DefaultsAreTheSkeleton) {
  Result<AlerterConfig> c = LoadAlerterConfig("");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->link.start, "latest");
  EXPECT_EQ(c->link.group, "alerter");
  EXPECT_EQ(c->pipeline.group_wait, std::chrono::seconds(30));
  EXPECT_EQ(c->pipeline.max_notifications_per_hour, 20u);
  ASSERT_EQ(c->rules.size(), 3u);
  EXPECT_EQ(c->rules[0].expr.text, "all(#3) > 90");
  EXPECT_EQ(c->rules[2].event_rule, "kernel_oom");
  EXPECT_EQ(c->SilencesPath(), "./hostwatch-data/alerter/silences.yaml");
}

TEST(AlerterConfigTest, DeployExampleLoadsAndDescribesItself) {
  Result<AlerterConfig> c = LoadAlerterConfig(HW_SOURCE_DIR "/deploy/config/alerter.yaml");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_GE(c->rules.size(), 8u);
  ASSERT_NE(c->rules.size(), 0u);
  // --check-config prints a config that parses back to the same rules.
  Result<AlerterConfig> again = ParseAlerterConfig(DescribeAlerterConfig(*c), "described");
  ASSERT_TRUE(again.ok()) << again.status().ToString() << "\n" << DescribeAlerterConfig(*c);
  ASSERT_EQ(again->rules.size(), c->rules.size());
  for (size_t i = 0; i < c->rules.size(); ++i) {
    EXPECT_EQ(again->rules[i].expr.text, c->rules[i].expr.text);
    EXPECT_EQ(again->rules[i].for_duration, c->rules[i].for_duration);
  }
  EXPECT_EQ(again->delivery.receivers.size(), c->delivery.receivers.size());
}

TEST(AlerterConfigTest, ErrorsNameFileLineAndKey) {
  Result<AlerterConfig> c = ParseAlerterConfig(
      "alerter:\n"
      "  receivers: {ops: {email: [a@b.c]}}\n"
      "  rules:\n"
      "    - {name: x, metric: cpu.busy, expr: \"all(#3) > 9\", receivers: [ops]}\n"
      "    - name: y\n"
      "      metric: cpu.busy\n"
      "      expr: \"median(#3) > 9\"\n"
      "      receivers: [nobody]\n",
      "alerter.yaml");
  ASSERT_FALSE(c.ok());
  const std::string& m = c.status().message();
  EXPECT_NE(m.find("alerter.yaml:7: alerter.rules[1].expr"), std::string::npos) << m;
  EXPECT_NE(m.find("alerter.yaml:8: alerter.rules[1].receivers"), std::string::npos) << m;
}

TEST(AlerterConfigTest, RejectsMisfitRules) {
  const std::string bad[] = {
      "alerter: {rules: [{name: a, expr: \"all(#3) > 1\"}]}",  // no metric
      "alerter: {rules: [{name: a, metric: m, event_rule: e, expr: \"all(#3) > 1\"}]}",
      "alerter: {rules: [{name: a, event_rule: e, expr: \"all(#3) > 1\"}]}",  // not count
      "alerter: {rules: [{name: a, metric: m, expr: \"count(5m) > 1\"}]}",
      "alerter: {rules: [{name: a, metric: m, expr: \"nodata(5m)\", recover: \"avg(#2) < 1\"}]}",
      std::string("alerter: {rules: [{name: a, metric: m, expr: \"all(#2) > 1\"}, ") +
          "{name: a, metric: m, expr: \"all(#2) > 1\"}]}",
      "alerter: {inhibit: [{source_rule: nope, equal: [endpoint]}]}",
      "alerter: {bogus: 1}",
  };
  for (const std::string& yaml : bad) EXPECT_FALSE(ParseAlerterConfig(yaml, "t.yaml").ok()) << yaml;
}

}  // namespace
}  // namespace hw::alerter
