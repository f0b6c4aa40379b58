// net: per interface, from <proc_root>/net/dev: bytes, packets, errors and drops per second in each
// direction. An interface that disappears stops being reported (and is forgotten); when it comes
// back, its first interval yields no rate. From <sys_root>/class/net/<iface>: net.up (1 when
// operstate is "up", or "unknown" with a carrier, as lo is; 0 otherwise) and net.speed_mbps
// while the link is up and its driver reports a speed.
#pragma once

#include <string>
#include <vector>

#include "collector/plugin.h"

namespace hw::collector {

struct NetOptions : PluginOptions {
  std::vector<std::string> ignore_interfaces;  // exact names, e.g. [lo]
  void Describe(config::YamlWriter* w) const override;
};

std::shared_ptr<const PluginOptions> ReadNetOptions(config::Section& section);
Result<std::unique_ptr<Plugin>> CreateNetPlugin(const PluginSetup& setup);

}  // namespace hw::collector
