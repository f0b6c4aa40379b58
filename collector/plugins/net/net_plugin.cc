#include "collector/plugins/net/net_plugin.h"

#include <algorithm>
#include <map>

#include "collector/counter_rates.h"
#include "collector/proc_text.h"

namespace hw::collector {
namespace {

// Columns after "iface:" in /proc/net/dev: 8 receive counters, then 8 transmit counters.
struct Column {
  size_t index;
  const char* metric;
};
constexpr Column kColumns[] = {
    {0, "net.rx_bytes"}, {1, "net.rx_packets"}, {2, "net.rx_errors"},  {3, "net.rx_drops"},
    {8, "net.tx_bytes"}, {9, "net.tx_packets"}, {10, "net.tx_errors"}, {11, "net.tx_drops"},
};

class NetPlugin : public Plugin {
 public:
  NetPlugin(const HostEnv& env, const NetOptions& options)
      : env_(env), options_(options), dev_(env, env.Proc("net/dev")) {}

  Status Collect(const CollectTime& now, std::vector<Point>* out) override {
    HW_RETURN_IF_ERROR(dev_.Read(&buf_));
    ForEachLine(buf_, [&](std::string_view line) {
      // The two header lines have a '|' and no ':' before it; data lines are "  eth0: 123 ...".
      // Old kernels print "eth0:123" without a space when the number is wide: split on ':'.
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) return;
      const std::string iface(Trim(line.substr(0, colon)));
      if (iface.empty() ||
          std::find(options_.ignore_interfaces.begin(), options_.ignore_interfaces.end(), iface) !=
              options_.ignore_interfaces.end())
        return;
      std::vector<std::string_view> f = SplitFields(line.substr(colon + 1));
      if (f.size() < 16) return;
      const Tags tags = {{"iface", iface}};
      for (const Column& c : kColumns) {
        std::optional<uint64_t> v = ParseU64(f[c.index]);
        if (!v) continue;
        if (auto r = rates_.Rate(iface + '/' + c.metric, *v, now.mono_ms))
          Emit(out, c.metric, *r, tags);
      }
      EmitLink(iface, tags, out);
    });
    rates_.Sweep();
    // Interfaces that are gone: their kept sysfs files belong to a device that no longer exists.
    std::erase_if(links_, [this](const auto& l) { return l.second.generation != generation_; });
    ++generation_;
    return Status::Ok();
  }

 private:
  // <sys_root>/class/net/<iface>: operstate and speed, kept open on a live host (sysfs, like
  // procfs, produces the text afresh for a read from offset 0).
  struct Link {
    Link(const HostEnv& env, const std::string& dir)
        : operstate(env, dir + "/operstate"),
          carrier(env, dir + "/carrier"),
          speed(env, dir + "/speed") {}
    ProcFile operstate, carrier, speed;
    uint64_t generation = 0;
    // Whether the link was up at the last tick, and whether its speed failed to read then: a
    // virtual device (lo, veth on some kernels) never has one, so the speed is not asked again
    // (an open and two failed reads a tick) until the link goes down and comes back.
    bool was_up = false;
    bool no_speed = false;
  };

  // net.up from operstate (RFC 2863): "up" is up. Interfaces whose driver does not track the
  // state (lo, tun, ifb) say "unknown": they are up when they have a carrier (the carrier file
  // fails to read while the interface is administratively down). net.speed_mbps only while up
  // and where the driver knows it (virtual devices say -1 or fail).
  void EmitLink(const std::string& iface, const Tags& tags, std::vector<Point>* out) {
    auto it = links_.find(iface);
    if (it == links_.end()) {
      it = links_.try_emplace(iface, env_, env_.Sys("class/net/" + iface)).first;
    }
    Link& link = it->second;
    link.generation = generation_;
    if (!link.operstate.Read(&sys_buf_).ok()) return;  // no sysfs entry: nothing to say
    const std::string_view state = Trim(sys_buf_);
    bool up = state == "up";
    if (state == "unknown") up = link.carrier.Read(&sys_buf_).ok() && Trim(sys_buf_) == "1";
    Emit(out, "net.up", up ? 1 : 0, tags);
    if (up != link.was_up) link.no_speed = false;
    link.was_up = up;
    if (!up || link.no_speed) return;
    if (!link.speed.Read(&sys_buf_).ok()) {
      link.no_speed = true;
      return;
    }
    if (auto mbps = ParseI64(Trim(sys_buf_)); mbps && *mbps > 0) {
      Emit(out, "net.speed_mbps", static_cast<double>(*mbps), tags);
    }
  }

  const HostEnv env_;
  const NetOptions options_;
  ProcFile dev_;
  std::string buf_, sys_buf_;
  CounterRates rates_;
  std::map<std::string, Link> links_;
  uint64_t generation_ = 0;
};

}  // namespace

void NetOptions::Describe(config::YamlWriter* w) const {
  w->Value("ignore_interfaces", ignore_interfaces);
}

std::shared_ptr<const PluginOptions> ReadNetOptions(config::Section& section) {
  auto o = std::make_shared<NetOptions>();
  section.Read("ignore_interfaces", &o->ignore_interfaces);
  return o;
}

Result<std::unique_ptr<Plugin>> CreateNetPlugin(const PluginSetup& setup) {
  static const NetOptions kDefaults;
  const auto* o = setup.options ? static_cast<const NetOptions*>(setup.options) : &kDefaults;
  return std::unique_ptr<Plugin>(std::make_unique<NetPlugin>(*setup.env, *o));
}

}  // namespace hw::collector
