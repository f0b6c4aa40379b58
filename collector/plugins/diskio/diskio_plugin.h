// diskio: per whole disk (the entries of <sys_root>/block, without loop and ram devices), from
// <proc_root>/diskstats: bytes and operations per second, the share of wall time the device was
// busy (util_percent, as iostat's %util) and the mean time an I/O took (await_ms, iostat's await;
// 0 when there was no I/O).
#pragma once

#include <string>
#include <vector>

#include "collector/plugin.h"

namespace hw::collector {

struct DiskioOptions : PluginOptions {
  std::vector<std::string> ignore_prefixes = {"loop", "ram"};
  void Describe(config::YamlWriter* w) const override;
};

std::shared_ptr<const PluginOptions> ReadDiskioOptions(config::Section& section);
Result<std::unique_ptr<Plugin>> CreateDiskioPlugin(const PluginSetup& setup);

}  // namespace hw::collector
