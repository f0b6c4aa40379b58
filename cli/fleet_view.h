// The fleet as `hostwatch top` shows it: one row per endpoint with its vital signs, built from
// what the broker's tap carries. Pure (time is passed in), so tests drive it with envelopes.
//
// Rules:
//  - cpu is cpu.busy{cpu=total}; mem is mem.used_percent; load is load.1min; disk is the fullest
//    mount's disk.used_percent; net is rx+tx bytes/s summed over interfaces other than lo. Each
//    keeps its latest value; a host that never sent one shows "-".
//  - alerts counts the alert keys of the endpoint whose latest state is FIRING (AlertBatch).
//  - last seen is the newest sent_ms (or sample time) of anything from the endpoint; a host not
//    seen for `stale_after` is marked stale (and sorts last unless sorted by host).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/status/status.h"
#include "hostwatch/v1/hostwatch.pb.h"

namespace hw::cli {

struct HostRow {
  std::string endpoint;
  int64_t last_seen_ms = 0;
  double cpu = -1, mem = -1, load = -1, disk = -1, net = -1;  // -1: not known
  size_t alerts = 0;
};

enum class SortKey { kHost, kCpu, kMem, kLoad, kDisk, kNet, kAlerts, kSeen };

// "host", "cpu", "mem", "load", "disk", "net", "alerts", "seen" (or their first letter).
Result<SortKey> ParseSortKey(std::string_view word);
std::string_view SortKeyName(SortKey k);

class FleetView {
 public:
  void Observe(const hostwatch::v1::Envelope& e);
  // Rows sorted by key: numbers descending (busiest first), host and seen ascending/newest
  // first; stale hosts after fresh ones except by host.
  std::vector<HostRow> Rows(SortKey key, int64_t now_ms, int64_t stale_after_ms) const;
  // A screen: a title line, a header and up to max_rows rows, each at most width columns.
  std::string Render(SortKey key, int64_t now_ms, int64_t stale_after_ms, size_t width,
                     size_t max_rows) const;
  size_t size() const { return hosts_.size(); }

 private:
  struct Host {
    int64_t last_seen_ms = 0;
    double cpu = -1, mem = -1, load = -1;
    std::map<std::string, double> disk;  // mount -> used percent
    std::map<std::string, double> net;   // iface -> rx+tx bytes/s
    std::map<std::string, double> rx, tx;
    std::set<std::string> firing;
  };
  Host& HostFor(const std::string& endpoint) { return hosts_[endpoint]; }
  std::map<std::string, Host> hosts_;
};

}  // namespace hw::cli
