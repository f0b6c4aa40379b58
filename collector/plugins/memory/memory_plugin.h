// memory: /proc/meminfo in bytes (mem.used = total - available, as `free` reports it) and swap
// traffic in pages per second from /proc/vmstat.
#pragma once

#include "collector/plugin.h"

namespace hw::collector {

Result<std::unique_ptr<Plugin>> CreateMemoryPlugin(const PluginSetup& setup);

}  // namespace hw::collector
