// logwatch.yaml, typed, read by the conventions of docs/architecture.md §4 (keys listed in
// logwatch/README.md); deploy/config/logwatch.yaml is the annotated example with the defaults
// (logwatch_config_test loads it so it cannot rot).
//
// Rule regexes are compiled here (RE2, Latin-1: logs are bytes, not UTF-8), so a pattern that does
// not compile is a config error naming file:line:key, like every other bad value.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/daemon/logging.h"
#include "common/status/status.h"
#include "common/transport/link_config.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::logwatch {

struct RuleConfig {
  std::string name;  // becomes a metric segment: log.<name>.count
  std::string match;
  std::string exclude;  // empty: none
  hostwatch::v1::Severity severity = hostwatch::v1::WARNING;
  bool emit_event = true;  // emit: event | count | value (a list allowed)
  bool emit_count = false;
  bool emit_value = false;
  uint32_t max_events_per_s = 0;  // 0: no limit
  std::string multiline_start;    // empty: one line is one record
  // Captures aggregated by `emit: value`; empty means every named capture of `match`.
  std::vector<std::string> values;
  std::vector<std::string> captures;  // named groups of `match`, in group order (derived)

  bool operator==(const RuleConfig&) const = default;
};

struct FileConfig {
  std::string path;  // a path or a glob(7) pattern
  std::vector<std::string> rules;
  bool from_beginning = false;  // from: end | beginning, for a file seen the first time
};

struct LogwatchConfig {
  std::string endpoint;  // empty: the hostname
  std::map<std::string, std::string> host_tags;
  std::string state_dir = "./hostwatch-data/logwatch";
  config::Duration interval = std::chrono::seconds(10);
  uint64_t max_line_bytes = 64u << 10;
  std::vector<FileConfig> files;
  std::vector<RuleConfig> rules;
  transport::LinkConfig link;
  daemon::LogOptions log;
};

// Reads and validates; path empty means the built-in defaults. Errors name file, line and key.
Result<LogwatchConfig> LoadLogwatchConfig(const std::string& path);
Result<LogwatchConfig> ParseLogwatchConfig(std::string_view yaml, const std::string& display_name);
// The effective config as YAML (for --check-config); it parses back to the same config.
std::string DescribeLogwatchConfig(const LogwatchConfig& config);

std::string_view SeverityName(hostwatch::v1::Severity s);

}  // namespace hw::logwatch
