// Carbon's consistent-hash ring, so that our placements mix with carbon-relay's and graphite-web's
// CARBONLINK_HOSTS (graphite/README.md, Routing), the algorithm of carbon 1.1.7's hashing.py and
// routers.py:
//  - a ring node is (server, instance) as written in DESTINATIONS; the port is not part of it;
//  - 100 positions per node: carbon_ch hashes "('<server>', '<instance>'):<i>" (Python's repr
//    of the tuple; None without an instance) with the first 16 bits of MD5; fnv1a_ch hashes
//    "<i>-<instance>" with FNV-1a 32 folded to 16 bits;
//  - a taken position moves up by one (no wrap), so insertion order (DESTINATIONS order) matters;
//  - a key goes to the first position >= its hash, wrapping to the start;
//  - replicas walk on from there, distinct nodes only; diverse_replicas skips nodes whose server
//    was already used.
//
// Immutable after construction; safe to share between threads.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status/status.h"

namespace hw::graphite {

enum class HashType { kCarbonCh, kFnv1aCh };

// One entry of carbon's DESTINATIONS: host:port[:instance] ("[v6]:port[:instance]" too).
struct CarbonDestination {
  std::string server;
  uint16_t port = 0;
  std::optional<std::string> instance;

  std::string ToString() const;  // as parsed: "127.0.0.1:2003:a"
  bool operator==(const CarbonDestination&) const = default;
};

// Parses one destination; errors say what is wrong with `text`. Servers and instances may not
// hold quotes, backslashes, spaces or control bytes (they would change the Python repr carbon
// hashes).
Result<CarbonDestination> ParseCarbonDestination(std::string_view text);

// The 16-bit positions, exposed for tests against carbon's own values.
uint32_t CarbonChHash(std::string_view key);
uint32_t Fnv1aChHash(std::string_view key);

class HashRing {
 public:
  // destinations in DESTINATIONS order; duplicate (server, instance) pairs are the caller's error
  // (the config rejects them, as carbon does).
  HashRing(HashType type, const std::vector<CarbonDestination>& destinations,
           int replica_count = 100);

  // Indexes into the destinations for `key`: the first `replication` carbon would pick, in order.
  void Place(std::string_view key, uint32_t replication, bool diverse_replicas,
             std::vector<size_t>* out) const;

  size_t node_count() const { return servers_.size(); }

 private:
  uint32_t Hash(std::string_view key) const;

  HashType type_;
  std::vector<std::string> servers_;               // per destination index
  std::vector<std::pair<uint32_t, size_t>> ring_;  // (position, destination index), sorted
};

}  // namespace hw::graphite
