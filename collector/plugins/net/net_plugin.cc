#include "collector/plugins/net/net_plugin.h"

#include <algorithm>

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
    });
    rates_.Sweep();
    return Status::Ok();
  }

 private:
  const HostEnv env_;
  const NetOptions options_;
  ProcFile dev_;
  std::string buf_;
  CounterRates rates_;
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
