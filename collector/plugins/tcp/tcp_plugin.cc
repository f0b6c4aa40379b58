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

class TcpPlugin : public Plugin {
 public:
  explicit TcpPlugin(const HostEnv& env)
      : env_(env),
        tcp_(env, env.Proc("net/tcp")),
        tcp6_(env, env.Proc("net/tcp6")),
        snmp_(env, env.Proc("net/snmp")) {}

  Status Collect(const CollectTime& now, std::vector<Point>* out) override {
    std::array<uint64_t, 12> counts{};
    // net/tcp must exist (procfs without it is not a Linux we support); tcp6 is optional.
    HW_RETURN_IF_ERROR(CountStates(tcp_, &counts));
    (void)CountStates(tcp6_, &counts);
    for (size_t s = 0; s < kStateMetric.size(); ++s) {
      if (kStateMetric[s] != nullptr) Emit(out, kStateMetric[s], static_cast<double>(counts[s]));
    }
    if (snmp_.Read(&buf_).ok()) {
      // Two "Tcp:" lines: the first names the columns, the second holds the values.
      std::vector<std::string_view> names;
      ForEachLine(buf_, [&](std::string_view line) {
        if (!line.starts_with("Tcp:")) return;
        std::vector<std::string_view> f = SplitFields(line);
        if (names.empty()) {
          names = std::move(f);
          return;
        }
        for (size_t i = 1; i < f.size() && i < names.size(); ++i) {
          if (names[i] != "RetransSegs") continue;
          if (auto v = ParseU64(f[i])) {
            if (auto r = rates_.Rate("RetransSegs", *v, now.mono_ms))
              Emit(out, "tcp.retrans_segs", *r);
          }
        }
      });
      rates_.Sweep();
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
      std::vector<std::string_view> f = SplitFields(line);
      if (f.size() < 4 || f[3].size() != 2) return;
      const auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
      };
      const int hi = hex(f[3][0]), lo = hex(f[3][1]);
      if (hi < 0 || lo < 0) return;
      const size_t state = static_cast<size_t>(hi * 16 + lo);
      if (state < counts->size()) ++(*counts)[state];
    });
    return Status::Ok();
  }

  const HostEnv env_;
  ProcFile tcp_, tcp6_, snmp_;
  std::string buf_;
  CounterRates rates_;
};

}  // namespace

Result<std::unique_ptr<Plugin>> CreateTcpPlugin(const PluginSetup& setup) {
  return std::unique_ptr<Plugin>(std::make_unique<TcpPlugin>(*setup.env));
}

}  // namespace hw::collector
