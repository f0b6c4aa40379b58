#include "alerter/delivery/json_payloads.h"

#include <cstdio>

#include "alerter/delivery/mail_format.h"
#include "common/naming/naming.h"
#include "common/strings/fnv1a.h"
#include "common/strings/strings.h"

namespace hw::alerter::delivery {
namespace {

std::string LabelName(std::string_view k) {
  std::string out(k);
  for (char& c : out) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') c = '_';
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out.insert(0, "_");
  return out;
}

std::string JsonObject(const std::map<std::string, std::string>& kv) {
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : kv) {
    if (!first) out += ',';
    first = false;
    out += JsonString(k) + ":" + JsonString(v);
  }
  return out + "}";
}

// The pairs every map in `maps` has with the same value.
std::map<std::string, std::string> Common(
    const std::vector<std::map<std::string, std::string>>& maps) {
  if (maps.empty()) return {};
  std::map<std::string, std::string> out = maps.front();
  for (size_t i = 1; i < maps.size(); ++i) {
    for (auto it = out.begin(); it != out.end();) {
      auto found = maps[i].find(it->first);
      if (found == maps[i].end() || found->second != it->second) {
        it = out.erase(it);
      } else {
        ++it;
      }
    }
  }
  return out;
}

std::string SeverityLabel(hostwatch::v1::Severity s) {
  std::string name = hostwatch::v1::Severity_Name(s);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name.empty() ? "unspecified" : name;
}

constexpr const char* kGoZeroTime = "0001-01-01T00:00:00Z";  // what Alertmanager sends for "unset"

}  // namespace

std::string JsonString(std::string_view raw) {
  return strings::JsonString(naming::SanitizeUtf8(raw));
}

std::map<std::string, std::string> AlertLabels(const AlertView& a, std::string_view rule) {
  std::map<std::string, std::string> labels;
  for (const auto& [k, v] : a.tags) {
    if (!v.empty()) labels[LabelName(k)] = v;  // an empty label is no label to Alertmanager
  }
  labels["alertname"] = std::string(rule.empty() ? a.alert.rule() : rule);
  labels["endpoint"] = a.alert.endpoint();
  labels["severity"] = SeverityLabel(a.alert.severity());
  if (!a.metric.empty()) labels["metric"] = a.metric;
  return labels;
}

std::map<std::string, std::string> AlertAnnotations(const AlertView& a) {
  std::map<std::string, std::string> ann;
  if (a.alert.summary().empty()) {
    Notification one;
    one.rule = a.alert.rule();
    one.alerts = {a};
    ann["summary"] = Subject(one);
  } else {
    ann["summary"] = a.alert.summary();
  }
  ann["value"] = FormatValue(a.alert.value());
  if (!a.expr.empty()) ann["expr"] = a.expr;
  return ann;
}

std::string Fingerprint(const AlertView& a) {
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(strings::Fnv1a64(a.alert.key())));
  return buf;
}

bool IsResolved(const Notification& n, const AlertView& a) {
  return n.kind == Notification::Kind::kResolved ||
         a.alert.state() == hostwatch::v1::Alert::RESOLVED;
}

std::string WebhookPayload(const Notification& n) {
  std::vector<std::map<std::string, std::string>> all_labels, all_annotations;
  std::string alerts = "[";
  bool any_firing = false;
  for (size_t i = 0; i < n.alerts.size(); ++i) {
    const AlertView& a = n.alerts[i];
    const bool resolved = IsResolved(n, a);
    any_firing = any_firing || !resolved;
    all_labels.push_back(AlertLabels(a, n.rule));
    all_annotations.push_back(AlertAnnotations(a));
    if (i > 0) alerts += ',';
    const int64_t starts = a.alert.since_ms() > 0 ? a.alert.since_ms() : a.alert.time_ms();
    alerts += "{\"status\":" + JsonString(resolved ? "resolved" : "firing") +
              ",\"labels\":" + JsonObject(all_labels.back()) +
              ",\"annotations\":" + JsonObject(all_annotations.back()) +
              ",\"startsAt\":" + JsonString(Rfc3339(starts)) + ",\"endsAt\":" +
              JsonString(resolved ? Rfc3339(a.ends_ms > 0 ? a.ends_ms : a.alert.time_ms())
                                  : kGoZeroTime) +
              ",\"generatorURL\":" + JsonString(GraphiteLink(n.graphite_url, a)) +
              ",\"fingerprint\":" + JsonString(Fingerprint(a)) + "}";
  }
  alerts += "]";
  // The group key without the sequence number: the same for every notification of the group.
  std::string group_key = n.id;
  if (const size_t slash = group_key.rfind('/'); slash != std::string::npos) {
    group_key.resize(slash);
  }
  std::map<std::string, std::string> group_labels;
  if (!n.rule.empty()) group_labels["alertname"] = n.rule;
  const bool firing = n.alerts.empty() ? n.kind != Notification::Kind::kResolved : any_firing;
  return "{\"receiver\":" + JsonString(n.receiver) +
         ",\"status\":" + JsonString(firing ? "firing" : "resolved") + ",\"alerts\":" + alerts +
         ",\"groupLabels\":" + JsonObject(group_labels) +
         ",\"commonLabels\":" + JsonObject(Common(all_labels)) +
         ",\"commonAnnotations\":" + JsonObject(Common(all_annotations)) +
         ",\"externalURL\":" + JsonString(n.graphite_url) + ",\"version\":\"4\"" +
         ",\"groupKey\":" + JsonString(group_key) + ",\"truncatedAlerts\":0}";
}

std::string AlertmanagerAlert(const Notification& n, const AlertView& a) {
  const int64_t starts = a.alert.since_ms() > 0 ? a.alert.since_ms() : a.alert.time_ms();
  std::string out = "{\"labels\":" + JsonObject(AlertLabels(a, n.rule)) +
                    ",\"annotations\":" + JsonObject(AlertAnnotations(a)) +
                    ",\"startsAt\":" + JsonString(Rfc3339(starts));
  if (IsResolved(n, a)) {
    out += ",\"endsAt\":" + JsonString(Rfc3339(a.ends_ms > 0 ? a.ends_ms : a.alert.time_ms()));
  }
  if (const std::string link = GraphiteLink(n.graphite_url, a); !link.empty()) {
    out += ",\"generatorURL\":" + JsonString(link);
  }
  return out + "}";
}

}  // namespace hw::alerter::delivery
