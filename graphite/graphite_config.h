// graphite.yaml, typed, read by the conventions of docs/architecture.md §4; deploy/config/
// graphite.yaml is the annotated example, with every key and its default (graphite_config_test
// loads it so it cannot rot).
#pragma once

#include <string>
#include <string_view>

#include "common/daemon/logging.h"
#include "common/status/status.h"
#include "common/transport/link_config.h"
#include "graphite/graphite_sink.h"

namespace hw::graphite {

struct GraphiteConfig {
  GraphiteOptions graphite;
  transport::LinkConfig link;  // group "graphite", start "earliest" by default
  daemon::LogOptions log;
};

// Reads and validates; an empty path means the built-in defaults. Errors name file, line and key.
Result<GraphiteConfig> LoadGraphiteConfig(const std::string& path);
Result<GraphiteConfig> ParseGraphiteConfig(std::string_view yaml, const std::string& display_name);
// The effective config as YAML (for --check-config).
std::string DescribeGraphiteConfig(const GraphiteConfig& config);

}  // namespace hw::graphite
