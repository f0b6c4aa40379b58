// pressure: pressure stall information (PSI) from <proc_root>/pressure/{cpu,memory,io}: the avg10
// of each file's "some" line (the percentage of the last 10 s in which at least one task waited
// for the resource) and, for memory and io, its "full" line (all non-idle tasks waited at once):
// pressure.cpu.some, pressure.memory.some/full, pressure.io.some/full. cpu's "full" line (Linux
// 5.13+) is not sent: the kernel defines it for cgroups only and shows 0 for the whole host.
//
// Skip rule: a kernel without PSI (before Linux 4.20, built without CONFIG_PSI, or booted with
// psi=0) has no pressure files, or on older kernels has them and fails every read with
// EOPNOTSUPP. Such a file is skipped without an error, on every tick: that is how the host is,
// not a failure. Any other failure to read, or a file without the expected lines, is an error.
#pragma once

#include "collector/plugin.h"

namespace hw::collector {

Result<std::unique_ptr<Plugin>> CreatePressurePlugin(const PluginSetup& setup);

}  // namespace hw::collector
