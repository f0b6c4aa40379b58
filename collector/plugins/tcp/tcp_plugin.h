// tcp: sockets per TCP state over IPv4 and IPv6, and retransmitted segments per second from
// <proc_root>/net/snmp. On the live host (HostEnv::sock_diag) the states come from one
// NETLINK_SOCK_DIAG dump of this network namespace, as ss reads them; otherwise (recorded trees, or
// after sock_diag failed three ticks in a row) from <proc_root>/net/tcp and tcp6 (a host without
// IPv6 has no tcp6 and that is fine). The two give the same counts (the busy-host test checks both
// against ss); the dump costs one walk of the kernel's socket tables instead of four.
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
