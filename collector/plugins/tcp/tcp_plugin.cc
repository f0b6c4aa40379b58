#include "collector/plugins/tcp/tcp_plugin.h"

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstddef>
#include <cstring>

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

using StateCounts = std::array<uint64_t, 12>;

// TCP sockets per state from one NETLINK_SOCK_DIAG dump, as `ss` and collectd's tcpconns read
// them. The old inet_diag request (TCPDIAG_GETSOCK) is answered for both address families in one
// walk of the kernel's socket hash tables. /proc/net/tcp and tcp6 walk them once each, and a read
// that finds the end of the text walks them again (the kernel's tcp seq_file restarts from the
// first bucket there): four walks a tick instead of one. On this kind of host (262,144 established
// buckets) a walk is 0.4-1 ms whatever the number of sockets (docs/decisions/003). The socket is
// kept between ticks; any failure closes it, and the next Count opens a new one.
class SockDiagCounter {
 public:
  Status Count(StateCounts* counts) {
    if (!fd_.valid()) {
      fd_.Reset(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
      if (!fd_.valid()) return Status::IoError("socket(NETLINK_SOCK_DIAG)", errno);
    }
    Status s = Dump(counts);
    if (!s.ok()) fd_.Reset();
    return s;
  }

 private:
  Status Dump(StateCounts* counts) {
    struct {
      nlmsghdr header;
      inet_diag_req body;
    } request{};
    request.header.nlmsg_len = sizeof request;
    request.header.nlmsg_type = TCPDIAG_GETSOCK;
    request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    request.header.nlmsg_seq = ++seq_;
    request.body.idiag_family = AF_INET;  // the compat request dumps AF_INET6 too
    request.body.idiag_states = kStates;
    if (::send(fd_.get(), &request, sizeof request, 0) != sizeof request) {
      return Status::IoError("sock_diag send", errno);
    }
    StateCounts found{};
    for (;;) {
      const ssize_t n = ::recv(fd_.get(), buf_.data(), buf_.size(), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::IoError("sock_diag recv", n < 0 ? errno : EPIPE);
      // Messages are read through memcpy: the buffer is bytes, and the kernel's NLMSG_* macros
      // cast and compare signed with unsigned.
      size_t off = 0;
      while (off + sizeof(nlmsghdr) <= static_cast<size_t>(n)) {
        nlmsghdr h;
        std::memcpy(&h, buf_.data() + off, sizeof h);
        if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > static_cast<size_t>(n)) break;
        const char* payload = buf_.data() + off + kHeaderLen;
        const size_t payload_len = h.nlmsg_len - std::min<size_t>(h.nlmsg_len, kHeaderLen);
        off += (h.nlmsg_len + 3) & ~size_t{3};  // NLMSG_ALIGN
        if (h.nlmsg_seq != seq_) continue;      // the rest of a dump an earlier failure cut short
        if (h.nlmsg_type == NLMSG_DONE) {
          *counts = found;
          return Status::Ok();
        }
        if (h.nlmsg_type == NLMSG_ERROR) {
          int error = 0;
          if (payload_len >= sizeof error) std::memcpy(&error, payload, sizeof error);
          return Status::IoError("sock_diag", error < 0 ? -error : EPROTO);
        }
        if (payload_len < sizeof(inet_diag_msg)) continue;
        uint8_t state = 0;
        std::memcpy(&state, payload + offsetof(inet_diag_msg, idiag_state), 1);
        // A pending connection (a request socket, TCP_NEW_SYN_RECV = 12) is what /proc/net/tcp
        // and ss show as SYN_RECV.
        if (state == 12) state = 3;
        if (state < found.size()) ++found[state];
      }
    }
  }

  // Every state from ESTABLISHED (1) to the request sockets of NEW_SYN_RECV (12), which
  // /proc/net/tcp shows as SYN_RECV; not TCP_BOUND_INACTIVE (13, Linux 6.5+). Asking for that one
  // (~0u did) adds a walk of the whole bind table (65,536 buckets on a 24 GiB host: ~0.3 ms of the
  // ~1.4 ms a dump took here) for sockets that are bound but neither listening nor connected, which
  // the kernel reports as CLOSE, /proc/net/tcp never shows, and no metric counts.
  static constexpr uint32_t kStates = (1u << 13) - 2;
  // NLMSG_HDRLEN: the header rounded up to 4 bytes.
  static constexpr size_t kHeaderLen = (sizeof(nlmsghdr) + 3) & ~size_t{3};

  io::UniqueFd fd_;
  uint32_t seq_ = 0;
  // A dump message is ~72 bytes plus attributes; the kernel fills up to 32 KiB per recv.
  std::array<char, 64 * 1024> buf_{};
};

class TcpPlugin : public Plugin {
 public:
  explicit TcpPlugin(const HostEnv& env)
      : env_(env),
        tcp_(env, env.Proc("net/tcp")),
        tcp6_(env, env.Proc("net/tcp6")),
        snmp_(env, env.Proc("net/snmp")),
        netstat_(env, env.Proc("net/netstat")),
        conntrack_count_(env, env.Proc("sys/net/netfilter/nf_conntrack_count")),
        conntrack_max_(env, env.Proc("sys/net/netfilter/nf_conntrack_max")) {
    if (env.sock_diag) sock_diag_ = std::make_unique<SockDiagCounter>();
  }

  Status Collect(const CollectTime& now, std::vector<Point>* out) override {
    StateCounts counts{};
    bool counted = false;
    if (sock_diag_) {
      // A kernel without inet_diag (or a sandbox that forbids it) fails every time: after a few
      // failures in a row the text is read instead for good.
      counted = sock_diag_->Count(&counts).ok();
      if (!counted) ++sock_diag_errors_;
      sock_diag_failures_ = counted ? 0 : sock_diag_failures_ + 1;
      if (sock_diag_failures_ >= 3) sock_diag_.reset();
    }
    if (!counted) {
      // net/tcp must exist (procfs without it is not a Linux we support); tcp6 is optional.
      HW_RETURN_IF_ERROR(CountStates(tcp_, &counts));
      (void)CountStates(tcp6_, &counts);
    }
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

  // How often the dump failed (and the text was read instead): an operator's sign that this
  // host's states cost four table walks a tick, not one.
  void SelfMetrics(std::vector<Point>* out) override {
    if (!env_.sock_diag) return;
    Emit(out, "hostwatch.collector.sock_diag_errors", static_cast<double>(sock_diag_errors_),
         {{"plugin", "tcp"}});
    out->back().counter = true;
  }

 private:
  Status CountStates(ProcFile& file, StateCounts* counts) {
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
      // Most lines are of groups not asked for (Ip, Icmp, IpExt, MPTcpExt, ...): skip them unsplit.
      if (std::none_of(std::begin(wanted), std::end(wanted),
                       [&](const Counter& c) { return c.prefix == prefix; })) {
        return;
      }
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
  std::unique_ptr<SockDiagCounter> sock_diag_;  // null: the text of net/tcp and tcp6
  int sock_diag_failures_ = 0;                  // in a row
  uint64_t sock_diag_errors_ = 0;
  std::string buf_;
  CounterRates rates_;
};

}  // namespace

Result<std::unique_ptr<Plugin>> CreateTcpPlugin(const PluginSetup& setup) {
  return std::unique_ptr<Plugin>(std::make_unique<TcpPlugin>(*setup.env));
}

}  // namespace hw::collector
