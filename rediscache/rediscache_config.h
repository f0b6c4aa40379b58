// rediscache.yaml, typed, read by the conventions of docs/architecture.md §4 (keys listed in
// rediscache/README.md); deploy/config/rediscache.yaml is the annotated example with the defaults
// (rediscache_config_test loads it).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/consumer/secret.h"
#include "common/daemon/logging.h"
#include "common/status/status.h"
#include "common/transport/link_config.h"

namespace hw::rediscache {

struct RedisAddress {
  std::string host;
  uint16_t port = 6379;
  std::string ToString() const { return host + ":" + std::to_string(port); }
  friend bool operator==(const RedisAddress&, const RedisAddress&) = default;
};

// "redis://host:port", "redis://host" or "host:port". Credentials in the URL are refused: they
// would be logged with the config (use username and password_file / password_env).
Result<RedisAddress> ParseRedisUrl(const std::string& url);

struct RedisCacheConfig {
  // One URL: one server. Several: seed nodes of a Redis Cluster.
  std::vector<std::string> redis = {"redis://127.0.0.1:6379"};
  std::vector<RedisAddress> addresses;  // parsed from redis
  std::string prefix = "hw:";
  std::string username;  // empty: AUTH <password> (the default user)
  consumer::SecretRef password;
  config::Duration timeout = std::chrono::seconds(2);  // connect, and each pipeline's replies
  uint32_t history_points = 60;
  // Exact metric names or glob(7) patterns ("cpu.*").
  std::vector<std::string> history_metrics = {"cpu.busy", "mem.used_percent", "load.1min",
                                              "disk.used_percent"};
  uint32_t events_maxlen = 1000;
  config::Duration host_ttl = std::chrono::hours(24 * 7);
  bool cluster() const { return addresses.size() > 1; }

  transport::LinkConfig link;
  daemon::LogOptions log;
};

Result<RedisCacheConfig> LoadRedisCacheConfig(const std::string& path);
Result<RedisCacheConfig> ParseRedisCacheConfig(std::string_view yaml,
                                               const std::string& display_name);
// The effective config as YAML (for --check-config); never prints a secret.
std::string DescribeRedisCacheConfig(const RedisCacheConfig& config);

}  // namespace hw::rediscache
