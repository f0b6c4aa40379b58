// diskio: per whole disk (the entries of <sys_root>/block, without loop, ram and zram devices
// unless named in `devices`), from <proc_root>/diskstats: bytes and operations per second, the
// share of wall time the device was busy (util_percent, as iostat's %util), the mean time an I/O
// took (await_ms, and read_await_ms / write_await_ms apart, iostat's r_await and w_await; 0 when
// there was no I/O of that kind) and the I/Os in flight at the tick (in_flight, a gauge).
#pragma once

#include <string>
#include <vector>

#include "collector/plugin.h"

namespace hw::collector {

struct DiskioOptions : PluginOptions {
  // Memory-backed and loop devices: their "I/O" is the page cache's or another disk's.
  std::vector<std::string> ignore_prefixes = {"loop", "ram", "zram"};
  std::vector<std::string> devices;  // exact names reported even when a prefix matches (zram0)
  void Describe(config::YamlWriter* w) const override;
};

std::shared_ptr<const PluginOptions> ReadDiskioOptions(config::Section& section);
Result<std::unique_ptr<Plugin>> CreateDiskioPlugin(const PluginSetup& setup);

}  // namespace hw::collector
