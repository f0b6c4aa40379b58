// What the alerter's notification pipeline (rules, state, grouping, silences: the "decide" half)
// hands to delivery (mail, webhook, Alertmanager, exec: the "send" half). The two halves meet
// only here.
//
// A Notification is final when it is handed over: delivery stores it in its persistent outbox
// before Enqueue returns, sends it at least once, and uses `id` to make repeats harmless where the
// receiver allows (Message-ID for mail). Delivery never decides whether to notify.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/consumer/secret.h"
#include "common/status/status.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::alerter {

// One alert as a person needs to read it.
struct AlertView {
  hostwatch::v1::Alert alert;               // rule, key, state, severity, endpoint, series, value,
                                            // summary, since_ms, time_ms
  std::string metric;                       // "cpu.busy"; empty for log-event rules
  std::map<std::string, std::string> tags;  // the series' tags (not host tags)
  std::map<std::string, std::string> host_tags;
  std::string expr;                                // "all(#3) > 90"
  std::vector<std::pair<int64_t, double>> recent;  // (time_ms, value), oldest first
  std::vector<std::string> log_lines;              // raw matched lines for log rules, oldest first
  int64_t ends_ms = 0;                             // RESOLVED: when it healed
};

struct Notification {
  enum class Kind {
    kFiring,    // one rule's alerts that fired (or repeat while firing)
    kResolved,  // one rule's alerts that healed
    kIncident,  // many hosts silent at once (mass nodata): one incident, all hosts listed
    kDigest,    // the overflow of a receiver's max_notifications_per_hour, in one message
  };
  std::string id;  // unique and stable: "<receiver>/<group key>/<seq>"; Message-ID's left part
  std::string receiver;  // a name under alerter.receivers
  Kind kind = Kind::kFiring;
  std::string rule;                                           // empty for digests
  hostwatch::v1::Severity severity = hostwatch::v1::WARNING;  // the highest among alerts
  std::vector<AlertView> alerts;  // every alert this notification is about (all of them: a
                                  // 500-host incident lists 500)
  std::vector<std::string> digest_subjects;  // kDigest: the subjects of the held-back messages
  int64_t time_ms = 0;
  std::string graphite_url;  // alerter.graphite_url, for render links (empty: none)
};

// A receiver as configured (alerter.receivers.<name>).
struct ReceiverConfig {
  std::string name;
  std::vector<std::string> email;  // addresses
  std::string webhook;             // URL: Alertmanager's webhook payload, version "4"
  std::string alertmanager;        // base URL of an Alertmanager: POST /api/v2/alerts
  std::string exec;                // a command; the notification as JSON on stdin
  std::chrono::milliseconds exec_timeout{10000};
};

// alerter.smtp (docs/alerter-delivery.md). An empty url: mails are written as .eml files into
// <outbox_dir>/sent/ instead of being sent.
struct SmtpConfig {
  std::string url;  // smtp://host:port or smtps://host:port
  std::string from = "hostwatch@localhost";
  std::string username;
  consumer::SecretRef password;  // password_file / password_env
  std::string ca_file;
  std::chrono::milliseconds timeout{30000};
};

struct DeliveryConfig {
  std::string outbox_dir = "./hostwatch-data/outbox";
  // How long written .eml files (sent/) and refused jobs (failed/) are kept for a person to
  // read; older ones are deleted about once an hour. Zero keeps them forever.
  std::chrono::milliseconds outbox_keep{std::chrono::hours(24 * 7)};
  SmtpConfig smtp;
  std::map<std::string, ReceiverConfig> receivers;
  std::string endpoint;  // this alerter's endpoint, for Message-ID and the sender's labels
};

// The send half. Implementations: alerter/delivery/.
class Delivery {
 public:
  virtual ~Delivery() = default;
  // Persists n in the outbox (durable when this returns OK) and schedules its sending to every
  // channel of its receiver. After an OK, the alerter may commit the samples that caused it.
  virtual Status Enqueue(const Notification& n) = 0;
  // Sends what is due (retries with backoff, re-posts of firing alerts to an Alertmanager). Called
  // from the alerter's sink thread about once a second; must not block for long (network work
  // happens on delivery's own threads).
  virtual void Tick(int64_t now_ms) = 0;
  // Flush what can be flushed within the deadline; the rest stays in the outbox for the next start.
  virtual void Stop(std::chrono::milliseconds deadline) = 0;
};

// Opens (and recovers) the outbox under c.outbox_dir and starts delivery's threads. In
// alerter/delivery/.
Result<std::unique_ptr<Delivery>> CreateDelivery(const DeliveryConfig& c);

}  // namespace hw::alerter
