// broker.yaml, typed, read by the conventions of docs/architecture.md §4; deploy/config/broker.yaml
// is the annotated example, with every key and its default (a unit test loads it so it cannot rot).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/daemon/logging.h"
#include "common/status/status.h"

namespace hw::broker {

struct CurveServerConfig {
  bool enabled = false;
  std::string secret_key_file;
  std::string public_key_file;
  std::string authorized_keys_dir;  // producer keys: one <name>.pub each; may only publish
  // Producer key name -> endpoints (globs) it may publish for; a key not listed may publish only
  // for the endpoint of its own name (fail closed).
  std::map<std::string, std::vector<std::string>> bindings;
  std::string consumer_keys_dir;  // consumer keys: backend (groups, status) and tap only
  // Consumer key name -> groups (globs) it may read; a key not listed only the group of its name.
  std::map<std::string, std::vector<std::string>> group_bindings;
};

struct BrokerConfig {
  std::string frontend = "tcp://127.0.0.1:7400";  // producers
  std::string backend = "tcp://127.0.0.1:7401";   // consumers and `hostwatch status`
  std::string tap = "tcp://127.0.0.1:7402";       // live PUB, lossy
  std::string data_dir = "./hostwatch-data/broker";
  uint32_t partitions = 4;
  uint64_t segment_bytes = 64ull << 20;
  uint64_t retention_bytes = 10ull << 30;
  config::Duration retention_age = std::chrono::hours(24 * 7);
  std::string fsync = "interval";  // interval | always
  config::Duration fsync_interval = std::chrono::milliseconds(100);
  uint64_t max_message_bytes = 4ull << 20;
  // Bounds on what peers can make the broker keep (docs/broker.md "Limits").
  uint32_t max_sources = 100000;                             // dedup table entries
  config::Duration source_ttl = std::chrono::hours(24 * 7);  // idle dedup entries are forgotten
  config::Duration group_ttl = std::chrono::hours(24 * 7);   // idle groups without members removed
  uint32_t max_groups = 10000;  // a Subscribe for a new group beyond: error
  uint32_t max_credit = 65536;  // per member; more granted is clamped
  bool allow_insecure = false;
  CurveServerConfig curve;
  daemon::LogOptions log;
};

// Reads and validates; path empty means the built-in defaults. Errors name file, line and key.
Result<BrokerConfig> LoadBrokerConfig(const std::string& path);
Result<BrokerConfig> ParseBrokerConfig(std::string_view yaml, const std::string& display_name);
// The effective config as YAML (for --check-config).
std::string DescribeBrokerConfig(const BrokerConfig& config);

}  // namespace hw::broker
