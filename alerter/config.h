// alerter.yaml, typed, read by the conventions of docs/architecture.md §4.
// deploy/config/alerter.yaml is the annotated example; config_test loads it so it cannot rot. Every
// rule expression is parsed here, so a bad rule is a config error naming file:line:key (exit 2),
// never a surprise at run time.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "alerter/notification.h"
#include "alerter/rules.h"
#include "common/config/config.h"
#include "common/daemon/logging.h"
#include "common/status/status.h"
#include "common/transport/link_config.h"

namespace hw::alerter {

struct InhibitRule {
  std::string source_rule;                // while an alert of this rule fires ...
  std::vector<std::string> target_rules;  // ... these rules' alerts (empty: every other rule) ...
  std::vector<std::string> equal;         // ... with equal values of these labels are muted
};

// The decide half's timings and limits (the pipeline's view of the config).
struct PipelineConfig {
  std::chrono::milliseconds group_wait{30000};
  std::chrono::milliseconds group_interval{300000};
  std::chrono::milliseconds repeat_interval{4 * 3600 * 1000};
  uint32_t max_notifications_per_hour = 20;
  uint32_t nodata_storm_percent = 30;
  std::vector<InhibitRule> inhibit;
  std::string graphite_url;
};

struct AlerterConfig {
  std::string endpoint;  // empty: the hostname (for Message-IDs and the AlertBatch source)
  std::string state_dir = "./hostwatch-data/alerter";
  std::string silences_file;  // empty: <state_dir>/silences.yaml
  PipelineConfig pipeline;
  DeliveryConfig delivery;  // outbox_dir, smtp, receivers
  std::vector<Rule> rules;
  transport::LinkConfig link;
  daemon::LogOptions log;

  std::string SilencesPath() const;
};

// Reads and validates; path empty means the built-in defaults. Errors name file, line and key.
Result<AlerterConfig> LoadAlerterConfig(const std::string& path);
Result<AlerterConfig> ParseAlerterConfig(std::string_view yaml, const std::string& display_name);
// The effective config as YAML (for --check-config); never prints a secret.
std::string DescribeAlerterConfig(const AlerterConfig& config);

}  // namespace hw::alerter
