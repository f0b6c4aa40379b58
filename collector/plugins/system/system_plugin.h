// system: uptime (<proc_root>/uptime), runnable and total tasks (the "1/234" of
// <proc_root>/loadavg: procs_running as in <proc_root>/stat, and every task, threads included),
// tasks blocked on I/O (procs_blocked in <proc_root>/stat), and open file handles host-wide
// (<proc_root>/sys/fs/file-nr: allocated minus free, and the third field, the limit fs.file-max).
#pragma once

#include "collector/plugin.h"

namespace hw::collector {

Result<std::unique_ptr<Plugin>> CreateSystemPlugin(const PluginSetup& setup);

}  // namespace hw::collector
