// memory: /proc/meminfo in bytes (mem.used = total - available, as `free` reports it; shmem,
// reclaimable slab, dirty, writeback and committed as the kernel states them, where it does) and
// from /proc/vmstat, per second: swap traffic in pages, major page faults and OOM kills.
#pragma once

#include "collector/plugin.h"

namespace hw::collector {

Result<std::unique_ptr<Plugin>> CreateMemoryPlugin(const PluginSetup& setup);

}  // namespace hw::collector
