// tcp: sockets per TCP state over IPv4 and IPv6 (<proc_root>/net/tcp and tcp6; a host without IPv6
// has no tcp6 and that is fine), and retransmitted segments per second from <proc_root>/net/snmp.
// Every state is reported, including zeros, so a series never goes silent on a quiet host.
#pragma once

#include "collector/plugin.h"

namespace hw::collector {

Result<std::unique_ptr<Plugin>> CreateTcpPlugin(const PluginSetup& setup);

}  // namespace hw::collector
