// collector.yaml, typed, read by the conventions of docs/architecture.md §4; deploy/config/
// collector.yaml is the annotated example, with every key and its default (collector_config_test
// loads it so it cannot rot).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collector/plugin.h"
#include "common/config/config.h"
#include "common/daemon/logging.h"
#include "common/status/status.h"
#include "common/transport/link_config.h"

namespace hw::collector {

// collector.plugins.<name>: every built-in plugin has one, present in the file or not.
struct PluginConfig {
  std::string name;
  bool enabled = true;
  config::Duration interval{0};  // resolved: collector.interval unless the plugin sets its own
  std::shared_ptr<const PluginOptions> options;  // null for plugins without options
};

struct CollectorConfig {
  std::string endpoint;                          // empty: the hostname (naming::LocalEndpoint)
  std::map<std::string, std::string> host_tags;  // e.g. {idc: sgp, group: game}
  config::Duration interval = std::chrono::seconds(10);  // default for plugins; agent.alive's
  std::string proc_root = "/proc";
  std::string sys_root = "/sys";
  std::vector<PluginConfig> plugins;  // in BuiltinPlugins() order
  transport::LinkConfig link;
  daemon::LogOptions log;

  // The endpoint actually used: endpoint, or the hostname when empty.
  std::string EffectiveEndpoint() const;
  const PluginConfig* Plugin(std::string_view name) const;
};

// Reads and validates; an empty path means the built-in defaults. Errors name file, line and key.
Result<CollectorConfig> LoadCollectorConfig(const std::string& path);
Result<CollectorConfig> ParseCollectorConfig(std::string_view yaml,
                                             const std::string& display_name);
// The effective config as YAML (for --check-config).
std::string DescribeCollectorConfig(const CollectorConfig& config);

}  // namespace hw::collector
