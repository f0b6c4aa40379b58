// cpu: utilisation in percent of the time since the previous tick, from /proc/stat, for the whole
// host (cpu=total) and, with per_core, each CPU (cpu=<n>); plus context switches and forks
// (processes) per second. Each column is its own figure: user without guest, nice without
// guest_nice, guest = guest + guest_nice (0 on kernels whose lines lack them), and busy = user +
// nice + system + irq + softirq + steal + guest = 100 - idle - iowait.
#pragma once

#include "collector/plugin.h"

namespace hw::collector {

struct CpuOptions : PluginOptions {
  bool per_core = true;
  void Describe(config::YamlWriter* w) const override;
};

std::shared_ptr<const PluginOptions> ReadCpuOptions(config::Section& section);
Result<std::unique_ptr<Plugin>> CreateCpuPlugin(const PluginSetup& setup);

}  // namespace hw::collector
