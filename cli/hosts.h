// `hostwatch hosts` (README.md): the fleet from the Redis cache (rediscache's key schema), as
// a table or JSON. The reading is done with rediscache's client (a cluster works the same way);
// turning what was read into rows is pure, for tests.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "cli/cli_options.h"
#include "cli/fleet_view.h"

namespace hw::cli {

// What `hosts` reads from Redis.
struct CachedFleet {
  std::map<std::string, int64_t> hosts;  // <p>hosts: endpoint -> last seen
  std::map<std::string, std::map<std::string, std::string>> host;    // <p>host:{E}
  std::map<std::string, std::map<std::string, std::string>> latest;  // <p>latest:{E}
  std::map<std::string, std::string> active_alerts;                  // <p>alerts:active
};

// The table (sorted by key, stale hosts marked) or, with json, one JSON array of objects.
std::string RenderHosts(const CachedFleet& fleet, SortKey key, int64_t now_ms,
                        int64_t stale_after_ms, bool json);

extern const std::string_view kHostsUsage;
int RunHosts(VerbInput& in);

}  // namespace hw::cli
