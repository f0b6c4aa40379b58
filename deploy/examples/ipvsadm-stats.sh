#!/bin/sh
# IPVS (LVS) traffic counters for hostwatch-collector's exec plugin, one sample per line:
#   lvs.vs.<counter>;proto=<TCP|UDP|SCTP|FWM>;vip=<addr:port>             per virtual service
#   lvs.rs.<counter>;proto=...;vip=<addr:port>;rip=<addr:port>            per real server
# with <counter> one of conns in_packets out_packets in_bytes out_bytes: the cumulative counters
# of `ipvsadm -Ln --stats --exact` (chart them with a derivative, e.g. graphite's
# nonNegativeDerivative; they restart at 0 when a service is re-created).
#
# collector.yaml:
#   exec: {commands: [{name: lvs, command: "/usr/local/bin/ipvsadm-stats.sh", interval: 30s,
#                      timeout: 5s, format: lines}]}
# ipvsadm needs CAP_NET_ADMIN: run the collector as root or give this script a sudo rule.
#
# Usage: ipvsadm-stats.sh [FILE]   FILE: saved ipvsadm output to convert instead (for tests).
set -eu

if [ $# -ge 1 ]; then
  input=$(cat "$1")
else
  # Fail (exit != 0, so exec.ok is 0) when ipvsadm is missing or refuses, rather than print nothing.
  input=$(ipvsadm -Ln --stats --exact)
fi

printf '%s\n' "$input" | awk '
  # Virtual service: "TCP  10.0.0.1:80  conns inpkts outpkts inbytes outbytes".
  $1 ~ /^(TCP|UDP|SCTP|FWM)$/ && NF == 7 {
    proto = $1; vip = $2
    emit("lvs.vs", "proto=" proto ";vip=" vip)
    next
  }
  # Real server of the service above: "  -> 10.0.1.1:80  conns ...".
  $1 == "->" && NF == 7 && proto != "" {
    emit("lvs.rs", "proto=" proto ";vip=" vip ";rip=" $2)
    next
  }
  function emit(prefix, tags,    i, n) {
    split("conns in_packets out_packets in_bytes out_bytes", n, " ")
    for (i = 1; i <= 5; i++) printf "%s.%s;%s %s\n", prefix, n[i], tags, $(i + 2)
  }
'
