#include "alerter/delivery/json_payloads.h"

#include <gtest/gtest.h>

namespace hw::alerter::delivery {
namespace {

AlertView MakeAlert(const std::string& endpoint) {
  AlertView a;
  a.alert.set_rule("cpu_high");
  a.alert.set_key("cpu_high|" + endpoint + "|cpu.busy;cpu=total");
  a.alert.set_state(hostwatch::v1::Alert::FIRING);
  a.alert.set_severity(hostwatch::v1::CRITICAL);
  a.alert.set_endpoint(endpoint);
  a.alert.set_value(95.5);
  a.alert.set_summary("cpu.busy = 95.5 > 90");
  a.alert.set_since_ms(1764917000000);
  a.alert.set_time_ms(1764917030000);
  a.metric = "cpu.busy";
  a.tags = {{"cpu", "total"}, {"alertname", "spoofed"}, {"dc.zone", "sgp"}};
  return a;
}

TEST(JsonPayloadsTest, StringsAreEscapedAndValidUtf8) {
  EXPECT_EQ(JsonString("a\"b\\c\n\r\t"), "\"a\\\"b\\\\c\\n\\r\\t\"");
  EXPECT_EQ(JsonString(std::string("\0\x1f", 2)), "\"\\u0000\\u001f\"");
  EXPECT_EQ(JsonString("\xff"), "\"\xEF\xBF\xBD\"");
}

TEST(JsonPayloadsTest, LabelsPutTheRuleEndpointAndSeverityFirst) {
  const auto labels = AlertLabels(MakeAlert("web-1"), "cpu_high");
  EXPECT_EQ(labels.at("alertname"), "cpu_high");  // a tag cannot override it
  EXPECT_EQ(labels.at("endpoint"), "web-1");
  EXPECT_EQ(labels.at("severity"), "critical");
  EXPECT_EQ(labels.at("cpu"), "total");
  EXPECT_EQ(labels.at("dc_zone"), "sgp");  // label names are [a-zA-Z_][a-zA-Z0-9_]*
  EXPECT_EQ(labels.at("metric"), "cpu.busy");
  AlertView empty_tag = MakeAlert("web-1");
  empty_tag.tags["mount"] = "";
  EXPECT_EQ(AlertLabels(empty_tag, "cpu_high").count("mount"), 0u);
  EXPECT_EQ(Fingerprint(MakeAlert("web-1")).size(), 16u);
  EXPECT_NE(Fingerprint(MakeAlert("web-1")), Fingerprint(MakeAlert("web-2")));
}

TEST(JsonPayloadsTest, WebhookPayloadHasVersion4Fields) {
  Notification n;
  n.id = "ops/cpu_high/3";
  n.receiver = "ops";
  n.rule = "cpu_high";
  n.alerts = {MakeAlert("web-1"), MakeAlert("web-2")};
  const std::string p = WebhookPayload(n);
  for (const char* key :
       {"\"receiver\":\"ops\"", "\"status\":\"firing\"", "\"alerts\":[", "\"groupLabels\":{",
        "\"commonLabels\":{", "\"commonAnnotations\":{", "\"externalURL\":", "\"version\":\"4\"",
        "\"groupKey\":\"ops/cpu_high\"", "\"truncatedAlerts\":0",
        "\"startsAt\":\"2025-12-05T06:43:20.000Z\"", "\"endsAt\":\"0001-01-01T00:00:00Z\"",
        "\"generatorURL\":", "\"fingerprint\":"}) {
    EXPECT_NE(p.find(key), std::string::npos) << key << " in " << p;
  }
  // web-1 and web-2 differ in endpoint, so it is not a common label; the severity is.
  const size_t common = p.find("\"commonLabels\":");
  const std::string common_labels = p.substr(common, p.find('}', common) - common);
  EXPECT_EQ(common_labels.find("endpoint"), std::string::npos) << common_labels;
  EXPECT_NE(common_labels.find("\"severity\":\"critical\""), std::string::npos) << common_labels;

  n.kind = Notification::Kind::kResolved;
  n.alerts[0].ends_ms = 1764917090000;
  const std::string r = WebhookPayload(n);
  EXPECT_NE(r.find("\"status\":\"resolved\""), std::string::npos);
  EXPECT_NE(r.find("\"endsAt\":\"2025-12-05T06:44:50.000Z\""), std::string::npos) << r;
}

TEST(JsonPayloadsTest, AlertmanagerAlertHasEndsAtOnlyWhenResolved) {
  Notification n;
  n.rule = "cpu_high";
  const std::string firing = AlertmanagerAlert(n, MakeAlert("web-1"));
  EXPECT_EQ(firing.find("endsAt"), std::string::npos);
  EXPECT_EQ(firing.find("generatorURL"), std::string::npos);  // no graphite_url
  EXPECT_NE(
      firing.find("\"annotations\":{\"summary\":\"cpu.busy = 95.5 > 90\",\"value\":\"95.5\"}"),
      std::string::npos)
      << firing;
  n.kind = Notification::Kind::kResolved;
  EXPECT_NE(
      AlertmanagerAlert(n, MakeAlert("web-1")).find("\"endsAt\":\"2025-12-05T06:43:50.000Z\""),
      std::string::npos);
}

}  // namespace
}  // namespace hw::alerter::delivery
