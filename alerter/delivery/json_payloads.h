// The JSON bodies delivery sends: Alertmanager's webhook payload (version "4", the one every
// existing Alertmanager webhook receiver parses), the alert list Alertmanager's own API accepts
// (POST /api/v2/alerts), and the exec receiver's stdin (the webhook payload too, so one script
// serves both). Field names follow Alertmanager (notify/webhook/webhook.go, template/template.go).
// Pure functions; every string is made valid UTF-8 and escaped.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "alerter/notification.h"

namespace hw::alerter::delivery {

// A JSON string literal (with the quotes) of s made valid UTF-8.
std::string JsonString(std::string_view s);

// Alertmanager labels of one alert: alertname = rule, endpoint, severity, metric (when set), then
// the series' tags (never overriding those). Label names are made [a-zA-Z_][a-zA-Z0-9_]*.
std::map<std::string, std::string> AlertLabels(const AlertView& a, std::string_view rule);
// Annotations: summary, value (and expr when set).
std::map<std::string, std::string> AlertAnnotations(const AlertView& a);

// "0123456789abcdef": 16 hex digits of FNV-1a over the alert key, stable across restarts.
std::string Fingerprint(const AlertView& a);

// True when this alert, in this notification, is over (its state or the notification says so).
bool IsResolved(const Notification& n, const AlertView& a);

// The webhook payload, version "4": receiver, status, alerts[] (status, labels, annotations,
// startsAt, endsAt, generatorURL, fingerprint), groupLabels, commonLabels, commonAnnotations,
// externalURL, version, groupKey, truncatedAlerts.
std::string WebhookPayload(const Notification& n);

// One element of POST /api/v2/alerts: labels, annotations, startsAt, endsAt only when resolved
// (Alertmanager then keeps a firing alert for its resolve_timeout, so firing alerts are re-posted),
// generatorURL when there is a graphite link.
std::string AlertmanagerAlert(const Notification& n, const AlertView& a);

}  // namespace hw::alerter::delivery
