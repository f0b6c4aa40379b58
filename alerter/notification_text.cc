#include "alerter/notification_text.h"

#include <charconv>
#include <cmath>
#include <set>
#include <string_view>

namespace hw::alerter {

size_t CountHosts(const Notification& n) {
  std::set<std::string_view> hosts;
  for (const AlertView& a : n.alerts) hosts.insert(a.alert.endpoint());
  return hosts.size();
}

std::string SeriesLabel(const AlertView& a) {
  std::string s = a.metric.empty() ? a.alert.series() : a.metric;
  if (a.tags.empty()) return s;
  s += '{';
  bool first = true;
  for (const auto& [k, v] : a.tags) {
    if (!first) s += ',';
    first = false;
    s += k + "=" + v;
  }
  s += '}';
  return s;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

std::string Subject(const Notification& n) {
  switch (n.kind) {
    case Notification::Kind::kDigest:
      return "[DIGEST] " + std::to_string(n.digest_subjects.size()) +
             " notifications held back for " + n.receiver;
    case Notification::Kind::kIncident:
      return "[INCIDENT] " + n.rule + ": " + std::to_string(CountHosts(n)) + " hosts";
    case Notification::Kind::kFiring:
    case Notification::Kind::kResolved:
      break;
  }
  const std::string state = n.kind == Notification::Kind::kFiring ? "FIRING" : "RESOLVED";
  if (n.alerts.size() == 1) {
    const AlertView& a = n.alerts.front();
    return "[" + state + "] " + n.rule + " on " + a.alert.endpoint() + ": " + SeriesLabel(a) +
           " = " + FormatValue(a.alert.value());
  }
  return "[" + state + ":" + std::to_string(n.alerts.size()) + "] " + n.rule + " on " +
         std::to_string(CountHosts(n)) + " hosts";
}

}  // namespace hw::alerter
