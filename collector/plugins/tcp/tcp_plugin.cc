#include "collector/plugins/tcp/tcp_plugin.h"

#include <array>

#include "collector/counter_rates.h"
#include "collector/proc_text.h"

namespace hw::collector {
namespace {

// include/net/tcp_states.h: TCP_ESTABLISHED = 1 ... TCP_CLOSING = 11; /proc/net/tcp prints the
// state as two hex digits in the 4th column. CLOSE (7) is not a state anyone charts.
constexpr std::array<const char*, 12> kStateMetric = {
    nullptr,          "tcp.established", "tcp.syn_sent",  "tcp.syn_recv",
    "tcp.fin_wait1",  "tcp.fin_wait2",   "tcp.time_wait", nullptr,
    "tcp.close_wait", "tcp.last_ack",    "tcp.listen",    "tcp.closing"};

// Counters of /proc/net/snmp and /proc/net/netstat that become rates: {line prefix, column name,
// metric}.
struct Counter {
  std::string_view prefix, name;
  const char* metric;
};
constexpr Counter kSnmpCounters[] = {
    {"Tcp:", "RetransSegs", "tcp.retrans_segs"},
    {"Udp:", "InErrors", "udp.in_errors"},
    {"Udp:", "RcvbufErrors", "udp.rcvbuf_errors"},
};
// A full accept queue: SYNs or final ACKs the kernel threw away because the application did not
// accept() fast enough (ListenOverflows), and every drop on a listener (ListenDrops, a superset).
constexpr Counter kNetstatCounters[] = {
    {"TcpExt:", "ListenOverflows", "tcp.listen_overflows"},
    {"TcpExt:", "ListenDrops", "tcp.listen_drops"},
};

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// The state column of one /proc/net/tcp line ("  12: 0100007F:1F90 00000000:0000 0A ..."), or
// -1. A busy host has tens of thousands of these lines a tick, so this scans in place rather than
// splitting every field.
int StateOfLine(std::string_view line) {
  size_t i = 0;
  for (int field = 0; field < 3; ++field) {
    while (i < line.size() && line[i] == ' ') ++i;
    while (i < line.size() && line[i] != ' ') ++i;
  }
  while (i < line.size() && line[i] == ' ') ++i;
  if (i + 2 > line.size() || (i + 2 < line.size() && line[i + 2] != ' ')) return -1;
  const int hi = HexDigit(line[i]), lo = HexDigit(line[i + 1]);
  return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

class TcpPlugin : public Plugin {
 public:
  explicit TcpPlugin(const HostEnv& env)
      : env_(env),
        tcp_(env, env.Proc("net/tcp")),
        tcp6_(env, env.Proc("net/tcp6")),
        snmp_(env, env.Proc("net/snmp")),
        netstat_(env, env.Proc("net/netstat")),
        conntrack_count_(env, env.Proc("sys/net/netfilter/nf_conntrack_count")),
        conntrack_max_(env, env.Proc("sys/net/netfilter/nf_conntrack_max")) {}

  Status Collect(const CollectTime& now, std::vector<Point>* out) override {
    std::array<uint64_t, 12> counts{};
    // net/tcp must exist (procfs without it is not a Linux we support); tcp6 is optional.
    HW_RETURN_IF_ERROR(CountStates(tcp_, &counts));
    (void)CountStates(tcp6_, &counts);
    for (size_t s = 0; s < kStateMetric.size(); ++s) {
      if (kStateMetric[s] != nullptr) Emit(out, kStateMetric[s], static_cast<double>(counts[s]));
    }
    if (snmp_.Read(&buf_).ok()) EmitCounterRates(kSnmpCounters, now, out);
    if (netstat_.Read(&buf_).ok()) EmitCounterRates(kNetstatCounters, now, out);
    rates_.Sweep();
    // The connection-tracking table exists only where nf_conntrack is loaded (NAT, LVS, stateful
    // firewalls); when it is full, new connections are dropped ("nf_conntrack: table full").
    if (conntrack_count_.Read(&buf_).ok()) {
      if (auto v = ParseU64(Trim(buf_))) Emit(out, "conntrack.count", static_cast<double>(*v));
      if (conntrack_max_.Read(&buf_).ok()) {
        if (auto v = ParseU64(Trim(buf_))) Emit(out, "conntrack.max", static_cast<double>(*v));
      }
    }
    return Status::Ok();
  }

 private:
  Status CountStates(ProcFile& file, std::array<uint64_t, 12>* counts) {
    HW_RETURN_IF_ERROR(file.Read(&buf_));
    bool header = true;
    ForEachLine(buf_, [&](std::string_view line) {
      if (header) {
        header = false;
        return;
      }
      const int state = StateOfLine(line);
      if (state >= 0 && static_cast<size_t>(state) < counts->size()) ++(*counts)[state];
    });
    return Status::Ok();
  }

  // buf_ holds snmp or netstat text: pairs of lines, "Prefix: Name1 Name2 ..." then
  // "Prefix: value1 value2 ...".
  template <size_t N>
  void EmitCounterRates(const Counter (&wanted)[N], const CollectTime& now,
                        std::vector<Point>* out) {
    std::string_view names_prefix;
    std::vector<std::string_view> names;
    ForEachLine(buf_, [&](std::string_view line) {
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) return;
      const std::string_view prefix = line.substr(0, colon + 1);
      std::vector<std::string_view> f = SplitFields(line.substr(colon + 1));
      if (prefix != names_prefix) {  // a names line
        names_prefix = prefix;
        names = std::move(f);
        return;
      }
      names_prefix = {};
      for (const Counter& c : wanted) {
        if (c.prefix != prefix) continue;
        for (size_t i = 0; i < f.size() && i < names.size(); ++i) {
          if (names[i] != c.name) continue;
          if (auto v = ParseU64(f[i])) {
            if (auto r = rates_.Rate(c.metric, *v, now.mono_ms)) Emit(out, c.metric, *r);
          }
        }
      }
    });
  }

  const HostEnv env_;
  ProcFile tcp_, tcp6_, snmp_, netstat_, conntrack_count_, conntrack_max_;
  std::string buf_;
  CounterRates rates_;
};

}  // namespace

Result<std::unique_ptr<Plugin>> CreateTcpPlugin(const PluginSetup& setup) {
  return std::unique_ptr<Plugin>(std::make_unique<TcpPlugin>(*setup.env));
}

}  // namespace hw::collector
