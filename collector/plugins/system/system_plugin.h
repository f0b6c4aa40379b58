// system: uptime (<proc_root>/uptime), runnable and total tasks (procs_running from
// <proc_root>/stat; the "1/234" of <proc_root>/loadavg counts every task, threads included), and
// open file handles host-wide (<proc_root>/sys/fs/file-nr: allocated minus free).
#pragma once

#include "collector/plugin.h"

namespace hw::collector {

Result<std::unique_ptr<Plugin>> CreateSystemPlugin(const PluginSetup& setup);

}  // namespace hw::collector
