#!/usr/bin/env bash
# bench/alerter.sh: hostwatch-alerter's evaluation rate beside the rate `hostwatch consume` drains the
# same broker, and its latency from a breaching sample to the alert's state change, in one run.
# Run by hand; the figures go in docs/benchmarks.md (bench/README.md).
#
#   bench/alerter.sh [--hosts 100] [--metrics 100] [--ticks 300] [--rate 100000] [--seconds 20]
#                    [--burst] [--no-build] [--keep]
#   HW_BENCH_BUILD_DIR=build/ci bench/alerter.sh ...   (default build/release)
#
# 1. A hostwatch-broker on free loopback ports; `hostwatch loadgen --rate 0` fills its journal with
#    H x M series x T ticks (10 s apart) and exits once all are acked.
# 2. drain: `hostwatch consume --group drain --format summary --count N`: N / its wall time.
# 3. alerter: hostwatch-alerter with H x M rules (one per series: endpoint loadgen-HHHH, metric
#    load.mMMMM, "avg(#3) > 85" recover "avg(#3) < 60"; loadgen's values follow 50 +- 40 sine
#    curves, so alerts open and close all the time) as a new group starting at the earliest record:
#    N / (subscribed, config loaded -> the group has committed every partition up to the journal's
#    end as it was before the alerter started, in `hostwatch status`). Not "lag 0": the alerter
#    publishes AlertBatches into the same journal, which its group never receives (topics samples
#    and events), so its lag stays above 0 until its next self-metrics envelope (every 10 s) lands
#    behind them and is committed. The alerter commits after its state is saved (at most a second
#    apart), so this rate is low by up to a second's worth.
# 4. latency: loadgen live (wall-clock timestamps) at --rate samples/s for --seconds beside the
#    alerter, its hosts spread evenly over each second (`loadgen --spread`: an even rate; with
#    --burst every host publishes at the start of the second, and a probe that lands in the
#    burst waits behind up to a second's samples, which is then most of its latency), while a
#    probe host publishes a breaching and a clearing cpu.busy value in turn, 20 a second, from
#    one long-lived producer link (bench/tools/hw_bench_probe; it waits for its link to be up
#    first, as a collector's is) against the rule "any(#1) > 90" on it. Per probe: the
#    AlertBatch's sent_ms (the alerter publishing the change, stamped by its producer link) minus
#    the probe sample's time_ms (the tool takes it right before Publish, which stamps the
#    probe envelope's sent_ms from the same clock; read back with `hostwatch consume --topics
#    alerts`). p50, p99, max over the probes. Beside it, the floor: every envelope's publication
#    -> its arrival at a plain C++ consumer of its own group (bench/tools/
#    hw_bench_latency_consumer, as in bench/broker.sh): what any consumer of this broker waits on
#    this machine at that moment. (Until 2026-12-06 the probes were `hostwatch send`, a new
#    process each, whose sent_ms came before its connection existed: a TCP connect and a ZeroMQ
#    handshake, ~3 ms at p50 with no load, were in every figure; and the floor was a `hostwatch
#    consume --format json` piped through Python, which parsed all 100,000 samples/s to print
#    the probes' and took CPU from what it measured.)
# Goals (the alerter issue): >= 1,000,000 samples/s evaluated, >= 0.5x the drain rate; p99 <= 5 ms.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOSTS=100 METRICS=100 TICKS=300 RATE=100000 SECONDS_LAT=20 BUILD=1 KEEP=0 SPREAD=--spread
usage() { sed -n '2,33p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --hosts) HOSTS=$2; shift 2 ;;
    --metrics) METRICS=$2; shift 2 ;;
    --ticks) TICKS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --seconds) SECONDS_LAT=$2; shift 2 ;;
    --burst) SPREAD=; shift ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "alerter.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

BIN=$ROOT/${HW_BENCH_BUILD_DIR:-build/release}
if [[ $BUILD -eq 1 ]]; then
  (cd "$ROOT" && cmake --preset release >/dev/null &&
   cmake --build --preset release -j2 --target hostwatch-broker hostwatch hostwatch-alerter \
     hw_bench_probe hw_bench_latency_consumer >/dev/null) || {
    echo "alerter.sh: the release build failed" >&2
    exit 1
  }
fi
BROKER=$BIN/broker/hostwatch-broker HW=$BIN/cli/hostwatch ALERTER=$BIN/alerter/hostwatch-alerter
PROBE=$BIN/bench/tools/hw_bench_probe FLOOR=$BIN/bench/tools/hw_bench_latency_consumer
for b in "$BROKER" "$HW" "$ALERTER" "$PROBE" "$FLOOR"; do
  [[ -x $b ]] || { echo "alerter.sh: $b is missing" >&2; exit 1; }
done
PY=/usr/bin/python3
N=$((HOSTS * METRICS * TICKS))
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

source "$ROOT/bench/lib.sh"
bench_workdir alerter
export TMPDIR=$W

bench_broker "$W" || { echo "alerter.sh: the broker did not start" >&2; exit 1; }
BRK=(--broker "tcp://127.0.0.1:$FRONT" --backend "tcp://127.0.0.1:$BACK" --tap "tcp://127.0.0.1:$TAP")

echo "filling the journal: $HOSTS hosts x $METRICS series x $TICKS ticks = $N samples" >&2
"$HW" loadgen "${BRK[@]}" --hosts "$HOSTS" --metrics "$METRICS" --interval 10 \
  --duration $((TICKS * 10)) --rate 0 --json >"$W/fill.json"

t0=$(nowns)
"$HW" consume "${BRK[@]}" --group drain --format summary --json --count "$N" --timeout 600 \
  --metric 'load.*' >"$W/drain.json"
t1=$(nowns)
DRAIN=$($PY -c "print(round($N / (($t1 - $t0) / 1e9)))")

# The rules: one per series.
{
  echo "alerter:"
  echo "  state_dir: $W/alerter-state"
  echo "  outbox_dir: $W/outbox"
  echo "  receivers: {ops: {email: [ops@example.com]}}"
  echo "  rules:"
  echo "    - {name: probe_high, metric: cpu.busy, endpoint: probe, expr: \"any(#1) > 90\", receivers: [ops]}"
  for m in $(seq 1 "$METRICS"); do
    for h in $(seq 1 "$HOSTS"); do
      printf '    - {name: r_%d_%d, metric: load.m%04d, endpoint: loadgen-%04d, expr: "avg(#3) > 85", recover: "avg(#3) < 60", receivers: [ops]}\n' "$m" "$h" "$m" "$h"
    done
  done
  echo "link:"
  echo "  brokers: [tcp://127.0.0.1:$FRONT]"
  echo "  backends: [tcp://127.0.0.1:$BACK]"
  echo "  spool_dir: $W/alerter-spool"
  echo "  group: alerter"
  echo "  start: earliest"
  echo "log: {level: info}"
} >"$W/alerter.yaml"
"$ALERTER" --config "$W/alerter.yaml" --check-config >/dev/null

# Each partition's end now, before the alerter runs (from the drain group, which read it all).
ENDS=$("$HW" status "${BRK[@]}" --json 2>/dev/null | $PY -c '
import json, sys
s = json.load(sys.stdin)
for g in s.get("groups", []):
    if g.get("group") == "drain":
        print(json.dumps({str(p.get("partition", 0)): int(p.get("end", 0)) for p in g.get("partitions", [])}))
        break
else:
    print("{}")')
[[ $ENDS != "{}" ]] || { echo "alerter.sh: no partition ends from the drain group" >&2; exit 1; }
export ENDS
# Records of those ENDS the alerter group has not committed yet; -1 before its first commit.
lag() {
  "$HW" status "${BRK[@]}" --json 2>/dev/null | $PY -c '
import json, os, sys
ends = json.loads(os.environ["ENDS"])
s = json.load(sys.stdin)
for g in s.get("groups", []):
    if g.get("group") == "alerter":
        ps = g.get("partitions", [])
        if not ps or not any(int(p.get("committed", 0)) for p in ps):
            print(-1)
        else:
            done = {str(p.get("partition", 0)): int(p.get("committed", 0)) for p in ps}
            print(sum(max(0, end - done.get(k, 0)) for k, end in ends.items()))
        break
else:
    print(-1)'
}
"$ALERTER" --config "$W/alerter.yaml" >"$W/alerter.log" 2>&1 &
APID=$!
PIDS+=("$APID")
# The clock starts once the config (10,000 rules) is loaded and the group subscribed.
until grep -q "alerter: .* rules, group" "$W/alerter.log"; do
  kill -0 "$APID" 2>/dev/null || { echo "alerter.sh: the alerter died; see $W/alerter.log" >&2; exit 1; }
  sleep 0.05
done
t0=$(nowns)
while :; do
  l=$(lag)
  [[ $l == 0 ]] && break
  kill -0 "$APID" 2>/dev/null || { echo "alerter.sh: the alerter died; see $W/alerter.log" >&2; exit 1; }
  sleep 0.2
done
t1=$(nowns)
EVAL=$($PY -c "print(round($N / (($t1 - $t0) / 1e9)))")

# Latency: live load plus probes.
"$HW" consume "${BRK[@]}" --group lat --topics alerts --format json --timeout $((SECONDS_LAT + 15)) \
  >"$W/alerts.jsonl" 2>/dev/null &
CPID=$!
PIDS+=("$CPID")
"$FLOOR" --broker "tcp://127.0.0.1:$FRONT" --backend "tcp://127.0.0.1:$BACK" --group floor \
  --start latest --warmup 1 --idle 5 --timeout $((SECONDS_LAT + 15)) >"$W/floor.json" 2>/dev/null &
QPID=$!
PIDS+=("$QPID")
LIVE_METRICS=$(( (RATE + HOSTS - 1) / HOSTS ))
"$HW" loadgen "${BRK[@]}" --hosts "$HOSTS" --metrics "$LIVE_METRICS" --interval 1 $SPREAD \
  --duration "$SECONDS_LAT" --first-host 101 >"$W/live.log" 2>&1 &
LPID=$!
PIDS+=("$LPID")
sleep 2
"$PROBE" --broker "tcp://127.0.0.1:$FRONT" --spool-dir "$W/probe-spool" --endpoint probe \
  --metric cpu.busy --high 99 --low 1 --interval-ms 50 --seconds $((SECONDS_LAT - 4)) \
  >"$W/probe.json"
wait "$LPID" || true
wait "$QPID" || true
# Every probe flips the rule (99 fires it, 1 resolves it): wait, up to 10 s, for as many changes.
SENT_PROBES=$(tail -1 "$W/probe.json" | $PY -c 'import json, sys; print(json.load(sys.stdin)["probes"])')
for _ in $(seq 1 100); do
  [[ $(grep -o '"rule":"probe_high"' "$W/alerts.jsonl" | wc -l) -ge $SENT_PROBES ]] && break
  sleep 0.1
done
stoppid "$CPID"
LAT=$($PY - "$W/alerts.jsonl" "$W/floor.json" <<'EOF'
import json, sys
xs = []  # the probe sample's publication (its time_ms) -> the alerter publishing the change
for line in open(sys.argv[1]):
    try:
        e = json.loads(line)
    except ValueError:
        continue
    for a in e.get("alerts", {}).get("alerts", []):
        if a.get("rule") == "probe_high":
            xs.append(int(e["sentMs"]) - int(a["timeMs"]))
xs.sort()
q = lambda p: xs[min(len(xs) - 1, int(p * len(xs)))] if xs else 0
try:
    f = json.load(open(sys.argv[2]))
except (OSError, ValueError):
    f = {}
print(len(xs), q(0.5), q(0.99), xs[-1] if xs else 0, f.get("latency_samples", 0),
      round(f.get("p50_ms", 0), 1), round(f.get("p99_ms", 0), 1), round(f.get("max_ms", 0), 1))
EOF
)
read -r PROBES P50 P99 PMAX FPROBES FP50 FP99 FPMAX <<<"$LAT"

echo
printf '%-34s %12s\n' "samples in the journal" "$N"
printf '%-34s %12s samples/s\n' "hostwatch consume drain" "$DRAIN"
printf '%-34s %12s samples/s (%s rules)\n' "hostwatch-alerter evaluation" "$EVAL" "$((HOSTS * METRICS + 1))"
printf '%-34s %12s\n' "ratio alerter / drain" "$($PY -c "print(f'{$EVAL / $DRAIN:.2f}x')")"
printf '%-34s p50 %s ms, p99 %s ms, max %s ms over %s probes at ~%s samples/s\n' \
  "published -> state change" "$P50" "$P99" "$PMAX" "$PROBES" "$RATE"
printf '%-34s p50 %s ms, p99 %s ms, max %s ms over %s envelopes\n' \
  "published -> a plain consumer" "$FP50" "$FP99" "$FPMAX" "$FPROBES"
printf '%-34s %s\n' "load average (start, end)" "$LOAD0 / $(cut -d' ' -f1-3 /proc/loadavg)"
