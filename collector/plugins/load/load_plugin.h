// load: /proc/loadavg, and the 1-minute load divided by the number of CPUs in /proc/stat (so one
// threshold fits hosts of every size).
#pragma once

#include "collector/plugin.h"

namespace hw::collector {

Result<std::unique_ptr<Plugin>> CreateLoadPlugin(const PluginSetup& setup);

}  // namespace hw::collector
