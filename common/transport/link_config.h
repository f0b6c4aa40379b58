// The `link:` and client `curve:` sections every producer and consumer shares (conventions:
// docs/architecture.md §4; every key with its default: deploy/config/*.yaml).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config/config.h"
#include "common/status/status.h"
#include "common/transport/endpoint.h"

namespace hw::transport {

struct CurveClientConfig {
  bool enabled = false;
  std::string secret_key_file;         // this client's NAME.key (hostwatch keygen NAME)
  std::string public_key_file;         // this client's NAME.pub
  std::string server_public_key_file;  // the broker's .pub
};

struct LinkConfig {
  std::vector<std::string> brokers = {"tcp://127.0.0.1:7400"};  // frontends
  std::vector<std::string> backends;  // empty: each broker's frontend port + 1
  std::string spool_dir;              // default ./hostwatch-data/spool/<component>
  uint64_t spool_max_bytes = 256ull << 20;
  uint32_t window = 256;
  std::string group;  // consumers only; default <component>
  // Consumers only: where a NEW group starts, "earliest" or "latest" (a group with a commit
  // resumes after it). Empty for producers, whose config must not carry the key.
  std::string start;
  CurveClientConfig curve;

  // The backend of broker i: backends[i] when listed, else brokers[i] with port + 1.
  Result<std::string> BackendFor(size_t i) const;
};

// Reads `link:` and `curve:` (either may be absent) with component-specific defaults. A consumer
// passes the default for `start` ("earliest" or "latest"); a producer passes "" and the key is
// unknown to it.
void ReadLinkConfig(config::Section link, config::Section curve, const std::string& component,
                    LinkConfig* out, const std::string& default_start = "");
void WriteLinkConfig(const LinkConfig& c, config::YamlWriter* out);

// Loaded CURVE keys (Z85 text), ready for zmq_setsockopt.
struct CurveClientKeys {
  std::string secret_key, public_key, server_public_key;
};
Result<CurveClientKeys> LoadCurveClientKeys(const CurveClientConfig& c);

}  // namespace hw::transport
