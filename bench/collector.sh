#!/usr/bin/env bash
# bench/collector.sh: hostwatch-collector side by side with collectd, on this host, in one run.
# Run by hand (not in CI); the figures and what they mean: docs/benchmarks.md "Collector".
#
#   bench/collector.sh [--seconds 60] [--no-build] [--keep]
#   HW_BENCH_BUILD_DIR=build/other bench/collector.sh ...   (default build/release)
#
# Both agents run at the same time for --seconds at a 1 s interval with equivalent plugins:
#   ours      hostwatch-collector (the release preset, build/release): every built-in plugin but
#             exec: cpu (per core, with switches and forks), memory (with vmstat), load, net
#             (with link state), diskio, disk, tcp (states of every socket, netstat/snmp counters,
#             conntrack), pressure, system, and process with one matcher (a full /proc scan every
#             second); publishing to a real hostwatch-broker on free loopback ports (spool and
#             journal in the temp folder).
#   collectd  collectd 5.12 (Debian collectd-core) with the plugins that read the same things:
#             cpu contextswitch memory swap vmem load interface disk df tcpconns (all ports
#             summed, as our states are) protocols (snmp/netstat counters) conntrack uptime fhcount
#             processes (with a ProcessMatch for our collector, as our matcher for collectd),
#             writing CSV (StoreRates) into the temp folder. It has no PSI plugin.
# Measured from /proc: CPU seconds over the window, after a 3 s warm-up that leaves start-up out,
# by schedstat (ns, all threads; the ratio the goal is judged on) and by utime + stime of
# /proc/<pid>/stat (10 ms ticks); peak RSS (VmHWM of /proc/<pid>/status) at the end.
# Goals (the collector issue): ours <= 0.25x collectd's CPU, and RSS <= 10 MB.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECONDS_RUN=60 BUILD=1 KEEP=0
usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECONDS_RUN=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "collector.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

command -v collectd >/dev/null || { echo "collector.sh: collectd is not installed (collectd-core)" >&2; exit 2; }
BUILD_DIR=${HW_BENCH_BUILD_DIR:-build/release}  # relative to the repo root unless absolute
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
BIN=$BUILD_DIR
if [[ $BUILD -eq 1 ]]; then
  (cd "$ROOT" && cmake --preset release -B "$BUILD_DIR" >/dev/null &&
    cmake --build "$BUILD_DIR" -j2 --target hostwatch-collector hostwatch-broker >/dev/null) || {
    echo "collector.sh: the release build failed" >&2; exit 1; }
fi
COLLECTOR=$BIN/collector/hostwatch-collector BROKER=$BIN/broker/hostwatch-broker
for b in "$COLLECTOR" "$BROKER"; do [[ -x $b ]] || { echo "collector.sh: $b is missing" >&2; exit 1; }; done

source "$ROOT/bench/lib.sh"
bench_workdir collector
TCK=$(getconf CLK_TCK)
cpu_s() {  # utime + stime of a pid, in seconds
  awk -v t="$TCK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat"
}
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
# Nanoseconds on a CPU, summed over the pid's threads (/proc/<pid>/task/*/schedstat, first field):
# utime + stime count 10 ms ticks, which at ~0.1 s a minute is a 10 % step. Both agents keep their
# threads for the whole run, so no exited thread's time is missing.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }

# The broker our collector publishes to.
FP=$(freeport) BP=$(freeport) TP=$(freeport)
cat > "$W/broker.yaml" <<YAML
broker: {frontend: "tcp://127.0.0.1:$FP", backend: "tcp://127.0.0.1:$BP", tap: "tcp://127.0.0.1:$TP", data_dir: "$W/broker"}
log: {level: warn}
YAML
"$BROKER" --config "$W/broker.yaml" 2> "$W/broker.log" & PIDS+=($!)
waitport "$FP" || { echo "collector.sh: the broker did not start; $W/broker.log" >&2; exit 1; }

cat > "$W/collector.yaml" <<YAML
collector:
  endpoint: bench-host
  interval: 1s
  plugins:
    exec: {enabled: false}
    process: {matchers: [{name: collectd, match: {comm: collectd}}]}
link: {brokers: ["tcp://127.0.0.1:$FP"], spool_dir: "$W/spool"}
log: {level: warn}
YAML
mkdir -p "$W/collectd/csv"
cat > "$W/collectd/collectd.conf" <<CONF
Hostname "bench-host"
FQDNLookup false
BaseDir "$W/collectd"
PIDFile "$W/collectd/collectd.pid"
PluginDir "/usr/lib/collectd"
TypesDB "/usr/share/collectd/types.db"
Interval 1
LoadPlugin logfile
<Plugin logfile>
  LogLevel warning
  File "$W/collectd/collectd.log"
</Plugin>
LoadPlugin cpu
LoadPlugin contextswitch
LoadPlugin memory
LoadPlugin swap
LoadPlugin vmem
LoadPlugin load
LoadPlugin interface
LoadPlugin disk
LoadPlugin df
LoadPlugin tcpconns
<Plugin tcpconns>
  ListeningPorts false
  AllPortsSummary true
</Plugin>
LoadPlugin protocols
<Plugin protocols>
  Value "Tcp:RetransSegs"
  Value "Udp:InErrors"
  Value "Udp:RcvbufErrors"
  Value "TcpExt:ListenOverflows"
  Value "TcpExt:ListenDrops"
</Plugin>
LoadPlugin conntrack
LoadPlugin uptime
LoadPlugin fhcount
LoadPlugin processes
<Plugin processes>
  Process "hostwatch-colle"
</Plugin>
LoadPlugin csv
<Plugin csv>
  DataDir "$W/collectd/csv"
  StoreRates true
</Plugin>
CONF

"$COLLECTOR" --config "$W/collector.yaml" 2> "$W/collector.log" & OURS=$!; PIDS+=($OURS)
collectd -f -C "$W/collectd/collectd.conf" > "$W/collectd/stdout.log" 2>&1 & THEIRS=$!; PIDS+=($THEIRS)
sleep 3
kill -0 "$OURS" 2>/dev/null || { echo "collector.sh: hostwatch-collector exited; $W/collector.log" >&2; exit 1; }
kill -0 "$THEIRS" 2>/dev/null || { echo "collector.sh: collectd exited; $W/collectd" >&2; exit 1; }
ours0=$(cpu_s "$OURS") theirs0=$(cpu_s "$THEIRS")
ours0ns=$(cpu_ns "$OURS") theirs0ns=$(cpu_ns "$THEIRS")
echo "collector.sh: both running; measuring for ${SECONDS_RUN}s ..." >&2
sleep "$SECONDS_RUN"
ours1=$(cpu_s "$OURS") theirs1=$(cpu_s "$THEIRS")
ours1ns=$(cpu_ns "$OURS") theirs1ns=$(cpu_ns "$THEIRS")
ours_kb=$(hwm_kb "$OURS") theirs_kb=$(hwm_kb "$THEIRS")

# Both must have done the work: CSV rows from collectd, journaled envelopes from ours.
csv_files=$(find "$W/collectd/csv" -type f | wc -l)
journal_bytes=$(du -sb "$W/broker" | cut -f1)
[[ $csv_files -gt 0 ]] || { echo "collector.sh: collectd wrote no CSV" >&2; exit 1; }
[[ $journal_bytes -gt 100000 ]] || { echo "collector.sh: the broker journaled almost nothing" >&2; exit 1; }

awk -v oc="$(echo "$ours1 - $ours0" | bc)" -v tc="$(echo "$theirs1 - $theirs0" | bc)" \
    -v on="$((ours1ns - ours0ns))" -v tn="$((theirs1ns - theirs0ns))" \
    -v ok="$ours_kb" -v tk="$theirs_kb" -v s="$SECONDS_RUN" -v files="$csv_files" -v jb="$journal_bytes" 'BEGIN {
  printf "\n%d s at a 1 s interval (collectd: %d CSV files; our broker journal: %d bytes)\n\n", s, files, jb
  printf "| agent | CPU s (schedstat) | CPU s (utime+stime ticks) | CPU %% of one core | peak RSS (VmHWM) |\n|---|---|---|---|---|\n"
  printf "| hostwatch-collector | %.4f | %.2f | %.3f%% | %.1f MB |\n", on / 1e9, oc, 100 * on / 1e9 / s, ok / 1024
  printf "| collectd 5.12 | %.4f | %.2f | %.3f%% | %.1f MB |\n", tn / 1e9, tc, 100 * tn / 1e9 / s, tk / 1024
  printf "\nratios (ours / collectd): CPU %.3fx by schedstat, %.2fx by ticks (goal <= 0.25x); RSS %.2fx; our RSS %.1f MB (goal <= 10 MB)\n",
         (tn > 0 ? on / tn : 0), (tc > 0 ? oc / tc : 0), ok / tk, ok / 1024
}'
