#!/usr/bin/env bash
# bench/broker_fleet.sh: what an idle fleet costs the broker. One hostwatch-broker holds H live
# producer connections (hostwatch loadgen, 250 hosts per process) that each publish one envelope of
# M samples every S seconds; after a warm-up the broker's CPU (schedstat, all threads) and RSS are
# read over a window. Run by hand; figures go in docs/benchmarks.md.
#
#   bench/broker_fleet.sh [--hosts 1000] [--metrics 10] [--interval 10] [--seconds 60]
#                         [--warmup 30] [--bin build/release]
#
# --bin names the build folder (relative to the repo root unless absolute) holding
# broker/hostwatch-broker and cli/hostwatch, so that two builds (before/after a change) can be
# compared on the same machine; build them with the release preset first. Also reported: the
# loadgen processes' CPU, i.e. what the producers' links cost them.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOSTS=1000 METRICS=10 INTERVAL=10 WINDOW=60 WARMUP=30 BIN=build/release
usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --hosts) HOSTS=$2; shift 2 ;;
    --metrics) METRICS=$2; shift 2 ;;
    --interval) INTERVAL=$2; shift 2 ;;
    --seconds) WINDOW=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "broker_fleet.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
[[ $BIN == /* ]] || BIN=$ROOT/$BIN
BROKER=$BIN/broker/hostwatch-broker HW=$BIN/cli/hostwatch
for b in "$BROKER" "$HW"; do [[ -x $b ]] || { echo "broker_fleet.sh: $b is missing" >&2; exit 1; }; done

source "$ROOT/bench/lib.sh"
bench_workdir fleet
export TMPDIR=$W  # loadgen's spools go here too
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { printf "%.0f", s }'; }
kb() { awk -v k="$2" '$1 == k":" { print $2 }' "/proc/$1/status"; }

FP=$(freeport) BP=$(freeport) TP=$(freeport)
cat >"$W/broker.yaml" <<YAML
broker: {frontend: "tcp://127.0.0.1:$FP", backend: "tcp://127.0.0.1:$BP", tap: "tcp://127.0.0.1:$TP", data_dir: "$W/data"}
log: {level: warn}
YAML
"$BROKER" --config "$W/broker.yaml" >"$W/broker.log" 2>&1 &
BROKER_PID=$!
PIDS+=("$BROKER_PID")
waitport "$FP" || { echo "broker_fleet.sh: the broker did not start:" >&2; cat "$W/broker.log" >&2; exit 1; }

LG=()
first=1
while [[ $first -le $HOSTS ]]; do
  n=$((HOSTS - first + 1)); [[ $n -gt 250 ]] && n=250
  "$HW" loadgen --broker "tcp://127.0.0.1:$FP" --hosts "$n" --first-host "$first" --metrics "$METRICS" \
    --interval "$INTERVAL" --duration 86400 >"$W/loadgen-$first.out" 2>&1 &
  LG+=("$!") PIDS+=("$!")
  first=$((first + n))
done
sleep "$WARMUP"
for p in "$BROKER_PID" "${LG[@]}"; do kill -0 "$p" 2>/dev/null || { echo "broker_fleet.sh: pid $p died" >&2; tail "$W"/*.out "$W/broker.log" >&2; exit 1; }; done
b0=$(cpu_ns "$BROKER_PID") l0=0
for p in "${LG[@]}"; do l0=$((l0 + $(cpu_ns "$p"))); done
load0=$(cut -d' ' -f1-3 /proc/loadavg)
sleep "$WINDOW"
b1=$(cpu_ns "$BROKER_PID") l1=0
for p in "${LG[@]}"; do l1=$((l1 + $(cpu_ns "$p"))); done
echo "broker_fleet: $HOSTS producers x 1 envelope of $METRICS samples every ${INTERVAL}s, ${WINDOW}s window after ${WARMUP}s; bin $BIN"
echo "  load average at start $load0, at end $(cut -d' ' -f1-3 /proc/loadavg)"
awk -v b="$((b1 - b0))" -v l="$((l1 - l0))" -v w="$WINDOW" -v h="$HOSTS" 'BEGIN {
  printf "  broker CPU: %.2f%% of a core; loadgen (all %d links) CPU: %.2f%% of a core (%.1f us/s per link)\n",
    b / w / 1e7, h, l / w / 1e7, l / w / h / 1e3 }'
echo "  broker RSS: $(kb "$BROKER_PID" VmRSS) kB now, $(kb "$BROKER_PID" VmHWM) kB peak"
