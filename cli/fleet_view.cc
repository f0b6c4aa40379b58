#include "cli/fleet_view.h"

#include <algorithm>
#include <cstdio>

namespace hw::cli {

using hostwatch::v1::Alert;
using hostwatch::v1::Envelope;

namespace {

constexpr std::string_view kKeys[] = {"host", "cpu", "mem",    "load",
                                      "disk", "net", "alerts", "seen"};

std::string Tag(const hostwatch::v1::Sample& s, const std::string& key) {
  auto it = s.tags().find(key);
  return it == s.tags().end() ? std::string() : it->second;
}

// "-" for unknown; otherwise `decimals` places.
std::string Number(double v, int decimals) {
  if (v < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string Rate(double bytes_per_s) {
  if (bytes_per_s < 0) return "-";
  const char* units[] = {"B", "K", "M", "G", "T"};
  size_t u = 0;
  while (bytes_per_s >= 1000 && u + 1 < std::size(units)) {
    bytes_per_s /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f%s", u == 0 ? 0 : 1, bytes_per_s, units[u]);
  return buf;
}

std::string Age(int64_t ms) {
  if (ms < 0) ms = 0;
  const int64_t s = ms / 1000;
  char buf[32];
  if (s < 120) {
    std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  } else if (s < 7200) {
    std::snprintf(buf, sizeof buf, "%lldm", static_cast<long long>(s / 60));
  } else {
    std::snprintf(buf, sizeof buf, "%lldh", static_cast<long long>(s / 3600));
  }
  return buf;
}

}  // namespace

Result<SortKey> ParseSortKey(std::string_view word) {
  for (size_t i = 0; i < std::size(kKeys); ++i) {
    if (word == kKeys[i] || (word.size() == 1 && word[0] == kKeys[i][0] && kKeys[i] != "seen"))
      return static_cast<SortKey>(i);
  }
  if (word == "s") return SortKey::kSeen;
  return Status::InvalidArgument("sort key \"" + std::string(word) +
                                 "\": want host, cpu, mem, load, disk, net, alerts or seen");
}

std::string_view SortKeyName(SortKey k) { return kKeys[static_cast<size_t>(k)]; }

void FleetView::Observe(const Envelope& e) {
  if (e.has_samples()) {
    const auto& b = e.samples();
    if (b.endpoint().empty()) return;
    Host& h = HostFor(b.endpoint());
    h.last_seen_ms = std::max(h.last_seen_ms, e.sent_ms());
    for (const auto& s : b.samples()) {
      h.last_seen_ms = std::max(h.last_seen_ms, s.time_ms());
      const std::string& m = s.metric();
      if (m == "cpu.busy") {
        const std::string cpu = Tag(s, "cpu");
        if (cpu.empty() || cpu == "total") h.cpu = s.value();
      } else if (m == "mem.used_percent") {
        h.mem = s.value();
      } else if (m == "load.1min") {
        h.load = s.value();
      } else if (m == "disk.used_percent") {
        h.disk[Tag(s, "mount")] = s.value();
      } else if (m == "net.rx_bytes" || m == "net.tx_bytes") {
        const std::string iface = Tag(s, "iface");
        if (iface == "lo") continue;
        (m == "net.rx_bytes" ? h.rx : h.tx)[iface] = s.value();
        h.net[iface] = h.rx[iface] + h.tx[iface];
      }
    }
  } else if (e.has_events()) {
    if (e.events().endpoint().empty()) return;
    Host& h = HostFor(e.events().endpoint());
    h.last_seen_ms = std::max(h.last_seen_ms, e.sent_ms());
  } else if (e.has_alerts()) {
    for (const Alert& a : e.alerts().alerts()) {
      if (a.endpoint().empty()) continue;
      Host& h = HostFor(a.endpoint());
      if (a.state() == Alert::FIRING) {
        h.firing.insert(a.key());
      } else if (a.state() == Alert::RESOLVED) {
        h.firing.erase(a.key());
      }
    }
  }
}

std::vector<HostRow> FleetView::Rows(SortKey key, int64_t now_ms, int64_t stale_after_ms) const {
  std::vector<HostRow> rows;
  rows.reserve(hosts_.size());
  for (const auto& [endpoint, h] : hosts_) {
    HostRow r;
    r.endpoint = endpoint;
    r.last_seen_ms = h.last_seen_ms;
    r.cpu = h.cpu;
    r.mem = h.mem;
    r.load = h.load;
    for (const auto& [mount, v] : h.disk) r.disk = std::max(r.disk, v);
    if (!h.net.empty()) {
      r.net = 0;
      for (const auto& [iface, v] : h.net) r.net += v;
    }
    r.alerts = h.firing.size();
    rows.push_back(std::move(r));
  }
  auto stale = [&](const HostRow& r) { return now_ms - r.last_seen_ms > stale_after_ms; };
  auto value = [key](const HostRow& r) -> double {
    switch (key) {
      case SortKey::kCpu:
        return r.cpu;
      case SortKey::kMem:
        return r.mem;
      case SortKey::kLoad:
        return r.load;
      case SortKey::kDisk:
        return r.disk;
      case SortKey::kNet:
        return r.net;
      case SortKey::kAlerts:
        return static_cast<double>(r.alerts);
      case SortKey::kSeen:
        return static_cast<double>(r.last_seen_ms);
      case SortKey::kHost:
        return 0;
    }
    return 0;
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const HostRow& a, const HostRow& b) {
    if (key == SortKey::kHost) return a.endpoint < b.endpoint;
    if (stale(a) != stale(b)) return !stale(a);
    if (value(a) != value(b)) return value(a) > value(b);
    return a.endpoint < b.endpoint;
  });
  return rows;
}

std::string FleetView::Render(SortKey key, int64_t now_ms, int64_t stale_after_ms, size_t width,
                              size_t max_rows) const {
  const std::vector<HostRow> rows = Rows(key, now_ms, stale_after_ms);
  size_t stale = 0, firing = 0;
  for (const HostRow& r : rows) {
    if (now_ms - r.last_seen_ms > stale_after_ms) ++stale;
    if (r.alerts > 0) ++firing;
  }
  size_t host_width = 4;
  for (const HostRow& r : rows) host_width = std::max(host_width, r.endpoint.size());
  host_width = std::min<size_t>(host_width, 40);
  auto clip = [width](std::string line) {
    if (line.size() > width) line.resize(width);
    return line + "\n";
  };
  char buf[256];
  std::string out;
  std::snprintf(buf, sizeof buf,
                "hostwatch top: %zu hosts, %zu stale, %zu with firing alerts; by %s", rows.size(),
                stale, firing, std::string(SortKeyName(key)).c_str());
  out += clip(buf);
  std::snprintf(buf, sizeof buf, "%-*s %6s %6s %6s %6s %8s %6s %6s", static_cast<int>(host_width),
                "HOST", "CPU%", "MEM%", "LOAD1", "DISK%", "NET/s", "ALERTS", "SEEN");
  out += clip(buf);
  size_t n = 0;
  for (const HostRow& r : rows) {
    if (n++ == max_rows) break;
    const bool is_stale = now_ms - r.last_seen_ms > stale_after_ms;
    std::string host = r.endpoint.substr(0, host_width);
    std::snprintf(buf, sizeof buf, "%-*s %6s %6s %6s %6s %8s %6s %6s%s",
                  static_cast<int>(host_width), host.c_str(), Number(r.cpu, 1).c_str(),
                  Number(r.mem, 1).c_str(), Number(r.load, 2).c_str(),
                  Number(r.disk, 1).c_str(), Rate(r.net).c_str(),
                  r.alerts ? std::to_string(r.alerts).c_str() : "-",
                  Age(now_ms - r.last_seen_ms).c_str(), is_stale ? " STALE" : "");
    out += clip(buf);
  }
  return out;
}

}  // namespace hw::cli
