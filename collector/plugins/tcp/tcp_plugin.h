// tcp: sockets per TCP state over IPv4 and IPv6 (<proc_root>/net/tcp and tcp6; a host without IPv6
// has no tcp6 and that is fine), and retransmitted segments per second from <proc_root>/net/snmp.
// Every state is reported, including zeros, so a series never goes silent on a quiet host.
// Also per second: accept-queue overflows and listener drops (<proc_root>/net/netstat TcpExt
// ListenOverflows, ListenDrops) and UDP receive errors (net/snmp Udp InErrors, RcvbufErrors); and,
// where nf_conntrack is loaded, the connection-tracking table's size and limit
// (<proc_root>/sys/net/netfilter/nf_conntrack_{count,max}: conntrack.count, conntrack.max).
#pragma once

#include "collector/plugin.h"

namespace hw::collector {

Result<std::unique_ptr<Plugin>> CreateTcpPlugin(const PluginSetup& setup);

}  // namespace hw::collector
