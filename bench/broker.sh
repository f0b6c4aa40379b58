#!/usr/bin/env bash
# bench/broker.sh: hostwatch-broker side by side with nats-server and a raw zmq_proxy relay, on
# loopback, in one run. Run by hand; the figures go in docs/benchmarks.md (bench/README.md).
#
#   bench/broker.sh [--runs 3] [--samples 2048000] [--rate 100000] [--seconds 10]
#                   [--hosts 10] [--metrics 1280] [--no-build] [--keep]
#
# Throughput, per system, the same number of items (N = --samples):
#   ours   hostwatch-broker (fsync: interval, 100 ms; 4 partitions), `hostwatch loadgen --rate 0
#          --batch 64` (H hosts x M metrics x N/(H*M) ticks, every sample acked after it is
#          journaled), one `hostwatch consume --group bench` draining it.
#          samples/s = N / (loadgen start -> the consumer has received all N).
#          10 producers by default: loadgen runs one producer link (a thread, a socket and a spool)
#          per simulated host in one process, and with --hosts 100 on 2 cores the generator's own
#          100 threads, not the broker, set the pace (docs/benchmarks.md shows both).
#   nats   nats-server (Debian), hw_bench_nats: one publisher pipelining N 100-byte PUBs, one
#          subscriber; msgs/s = N / (first write -> last MSG received).
#   proxy  hw_bench_zmq_proxy: zmq_proxy(XSUB, XPUB), PUB -> proxy -> SUB, N 100-byte messages.
# Latency, per system, at --rate items/s for about --seconds (the first second not counted):
#   ours   loadgen --rate R (paced per envelope of 64 samples) -> broker -> hw_bench_latency_consumer
#          (now - envelope.sent_ms, per envelope; ms resolution, so high by 0-1 ms)
#   nats, proxy   their tools with --rate R (now - send time in the payload, per message)
# Each round runs ours, nats, proxy in turn; with --runs > 1 the table shows the median of the
# rounds and every round's figure. Servers listen on free loopback ports, keep their files in a
# mktemp -d folder and are stopped by PID when the script exits.
# Also reported: CPU seconds (user + system) per item of every process of each throughput run.
# Goals (the broker issue): ours >= 1.5x nats msgs/s and >= 1.0x proxy msgs/s; our p99 < 10 ms.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=3 SAMPLES=2048000 RATE=100000 SECONDS_LAT=10 HOSTS=10 METRICS=1280 BUILD=1 KEEP=0
usage() { sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --samples) SAMPLES=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --seconds) SECONDS_LAT=$2; shift 2 ;;
    --hosts) HOSTS=$2; shift 2 ;;
    --metrics) METRICS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "broker.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done

if ! command -v nats-server >/dev/null; then
  echo "broker.sh: nats-server is not installed; run scripts/install-deps.sh --bench" >&2
  exit 2
fi

BIN=$ROOT/build/release
if [[ $BUILD -eq 1 ]]; then
  (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build --preset release -j2 >/dev/null) || {
    echo "broker.sh: the release build failed; see: cmake --build --preset release" >&2
    exit 1
  }
fi
BROKER=$BIN/broker/hostwatch-broker HW=$BIN/cli/hostwatch TOOLS=$BIN/bench/tools
for b in "$BROKER" "$HW" "$TOOLS/hw_bench_nats" "$TOOLS/hw_bench_zmq_proxy" "$TOOLS/hw_bench_latency_consumer"; do
  [[ -x $b ]] || { echo "broker.sh: $b is missing (build the release preset)" >&2; exit 1; }
done

# Ticks: throughput uses N/(H*M) ticks, latency R*S/(H*M) ticks (at least one).
PER_TICK=$((HOSTS * METRICS))
TICKS=$(( (SAMPLES + PER_TICK - 1) / PER_TICK ))
SAMPLES=$((TICKS * PER_TICK))
LAT_TICKS=$(( (RATE * SECONDS_LAT + PER_TICK - 1) / PER_TICK ))
LAT_SAMPLES=$((LAT_TICKS * PER_TICK))

source "$ROOT/bench/lib.sh"
bench_workdir broker
export TMPDIR=$W  # loadgen's spools go here too

# The first numeric value of "key" in a one-line JSON file.
jnum() { { grep -o "\"$2\": *[0-9.e+-]*" "$1" 2>/dev/null || true; } | head -1 | sed 's/.*: *//'; }
# CPU accounting. `times` reports the CPU of every child this shell has reaped; call mark_cpu in
# this shell (not in a $(...) subshell, which has counters of its own) and read the file later.
TICK=$(getconf CLK_TCK)
mark_cpu() { times >"$W/times.$1"; }
cpu_between() {  # $1 $2: marks; CPU seconds (user + system) of children reaped in between
  awk 'FNR == 2 {s = 0; for (i = 1; i <= 2; i++) {split($i, a, "m"); s += a[1] * 60 + a[2]}
       if (NR == FNR) x = s; else printf "%.2f\n", s - x}' "$W/times.$1" "$W/times.$2"
}
proc_cpu() { awk -v t="$TICK" '{printf "%.2f\n", ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR==0) print 0; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
fmt() { awk -v x="$1" 'BEGIN {printf "%\047.0f", x}'; }

FAILED=0
fail() { echo "broker.sh: $*" >&2; FAILED=1; }

# --- ours ------------------------------------------------------------------------------------------
start_broker() {  # $1: run folder; sets BROKER_PID FRONT BACK
  local d=$1
  bench_broker "$d" "  fsync: interval" "  fsync_interval: 100ms" ||
    { fail "hostwatch-broker did not start (see $d/broker.log)"; return 1; }
}

ours_throughput() {  # $1: run folder; writes $d/ours.json {samples, elapsed_s, samples_per_s}
  local d=$1 t0 t1 cpid server_cpu
  mark_cpu ours0
  start_broker "$d" || return 0
  "$HW" consume --broker "tcp://127.0.0.1:$FRONT" --backend "tcp://127.0.0.1:$BACK" --group bench \
    --topics samples --count "$SAMPLES" --idle 60 --format summary --json >"$d/consume.json" 2>"$d/consume.err" &
  cpid=$!
  PIDS+=("$cpid")
  sleep 0.5  # connected and subscribed before the first sample
  t0=$(nowns)
  "$HW" loadgen --broker "tcp://127.0.0.1:$FRONT" --hosts "$HOSTS" --metrics "$METRICS" --interval 1 \
    --duration "$TICKS" --rate 0 --batch 64 --json >"$d/loadgen.json" 2>"$d/loadgen.err" ||
    fail "loadgen failed: $(cat "$d/loadgen.err")"
  wait "$cpid" || fail "ours: consume failed: $(cat "$d/consume.err")"
  # The consumer writes its summary once it has everything: that write is the end (the loadgen's
  # own exit, which removes its spools, does not count).
  t1=$(date -r "$d/consume.json" +%s%N)
  server_cpu=$(proc_cpu "$BROKER_PID")
  stoppid "$BROKER_PID"
  mark_cpu ours1
  local items acked missing
  items=$(jnum "$d/consume.json" items) acked=$(jnum "$d/loadgen.json" acked) missing=$(jnum "$d/consume.json" missing)
  [[ ${acked:-0} -eq $SAMPLES ]] || fail "ours: loadgen acked ${acked:-0} of $SAMPLES"
  [[ ${items:-0} -ge $SAMPLES && ${missing:-1} -eq 0 ]] ||
    fail "ours: the consumer got ${items:-0} of $SAMPLES samples (missing ${missing:-?})"
  awk -v n="$SAMPLES" -v a="$t0" -v b="$t1" -v cpu="$(cpu_between ours0 ours1)" -v srv="$server_cpu" \
    'BEGIN {printf "{\"samples\": %d, \"elapsed_s\": %.3f, \"samples_per_s\": %.0f, \"cpu_s\": %.2f, \"server_cpu_s\": %.2f}\n",
            n, (b-a)/1e9, n/((b-a)/1e9), cpu, srv}' >"$d/ours.json"
}

ours_latency() {  # $1: run folder; writes $d/latency.json
  local d=$1 cpid
  start_broker "$d" || return 0
  "$TOOLS/hw_bench_latency_consumer" --broker "tcp://127.0.0.1:$FRONT" --backend "tcp://127.0.0.1:$BACK" \
    --group bench-latency --start earliest --count "$LAT_SAMPLES" --idle 30 --warmup 1 >"$d/latency.json" 2>"$d/latency.err" &
  cpid=$!
  PIDS+=("$cpid")
  sleep 0.5
  "$HW" loadgen --broker "tcp://127.0.0.1:$FRONT" --hosts "$HOSTS" --metrics "$METRICS" --interval 1 \
    --duration "$LAT_TICKS" --rate "$RATE" --batch 64 --json >"$d/loadgen-latency.json" 2>"$d/loadgen-latency.err" ||
    fail "loadgen (latency) failed: $(cat "$d/loadgen-latency.err")"
  wait "$cpid" || fail "ours: the latency consumer got fewer than $LAT_SAMPLES samples: $(cat "$d/latency.json" "$d/latency.err")"
  stoppid "$BROKER_PID"
}

# --- nats-server -----------------------------------------------------------------------------------
nats_runs() {  # $1: run folder; writes nats.json and nats-latency.json
  local d=$1 port pid s0 s1
  mkdir -p "$d"
  port=$(freeport)
  nats-server -a 127.0.0.1 -p "$port" -l "$d/nats.log" &
  pid=$!
  PIDS+=("$pid")
  waitport "$port" || { fail "nats-server did not start (see $d/nats.log)"; return; }
  s0=$(proc_cpu "$pid")
  mark_cpu nats0
  "$TOOLS/hw_bench_nats" --port "$port" --count "$SAMPLES" >"$d/nats.json" || fail "nats: not every message arrived"
  mark_cpu nats1
  s1=$(proc_cpu "$pid")
  awk -v c="$(cpu_between nats0 nats1)" -v a="$s0" -v b="$s1" \
    'BEGIN {printf "{\"cpu_s\": %.2f, \"server_cpu_s\": %.2f}\n", c + b - a, b - a}' >"$d/nats-cpu.json"
  "$TOOLS/hw_bench_nats" --port "$port" --rate "$RATE" --seconds "$SECONDS_LAT" >"$d/nats-latency.json" ||
    fail "nats (latency): not every message arrived"
  stoppid "$pid"
}

proxy_runs() {  # $1: run folder; writes proxy.json and proxy-latency.json
  local d=$1
  mkdir -p "$d"
  local x1 x2
  x1=$(freeport) x2=$(freeport)
  mark_cpu proxy0
  "$TOOLS/hw_bench_zmq_proxy" --xsub-port "$x1" --xpub-port "$x2" --count "$SAMPLES" >"$d/proxy.json" ||
    fail "proxy: not every message arrived"
  mark_cpu proxy1
  echo "{\"cpu_s\": $(cpu_between proxy0 proxy1)}" >"$d/proxy-cpu.json"
  "$TOOLS/hw_bench_zmq_proxy" --rate "$RATE" --seconds "$SECONDS_LAT" >"$d/proxy-latency.json" ||
    fail "proxy (latency): not every message arrived"
}

# --- the run ---------------------------------------------------------------------------------------
psi() { sed -n 's/^some avg10=\([0-9.]*\) avg60=\([0-9.]*\).*/\1% (10 s), \2% (60 s)/p' /proc/pressure/cpu 2>/dev/null || echo '?'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}'; }
per_item_us() { awk -v c="$1" -v n="$SAMPLES" 'BEGIN {printf "%.2f", (c == "" ? 0 : c / n * 1e6)}'; }
echo "hostwatch broker benchmark: $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "  CPU pressure (time some task waited for a CPU) at start: $(psi)"
echo "  $(nats-server --version 2>&1 | head -1), libzmq $(pkg-config --modversion libzmq 2>/dev/null || echo '?'), hostwatch $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')"
echo "  throughput: $SAMPLES items each (ours: $HOSTS hosts x $METRICS metrics x $TICKS ticks, batches of 64)"
echo "  latency: $RATE items/s for ~$SECONDS_LAT s (ours: $LAT_SAMPLES samples); $RUNS round(s); files in $W"

OURS=() OURS_LG=() NATS=() PROXY=() OURS_P99=() NATS_P99=() PROXY_P99=() OURS_P50=() NATS_P50=() PROXY_P50=()
OURS_CPU=() OURS_SRV=() NATS_CPU=() NATS_SRV=() PROXY_CPU=()
for r in $(seq 1 "$RUNS"); do
  d=$W/run$r
  mkdir -p "$d"
  ours_throughput "$d/ours"
  ours_latency "$d/ours-latency"
  nats_runs "$d/nats"
  proxy_runs "$d/proxy"
  OURS+=("$(jnum "$d/ours/ours.json" samples_per_s)") OURS_LG+=("$(jnum "$d/ours/loadgen.json" rate)")
  NATS+=("$(jnum "$d/nats/nats.json" msgs_per_s)") PROXY+=("$(jnum "$d/proxy/proxy.json" msgs_per_s)")
  OURS_CPU+=("$(per_item_us "$(jnum "$d/ours/ours.json" cpu_s)")") OURS_SRV+=("$(per_item_us "$(jnum "$d/ours/ours.json" server_cpu_s)")")
  NATS_CPU+=("$(per_item_us "$(jnum "$d/nats/nats-cpu.json" cpu_s)")") NATS_SRV+=("$(per_item_us "$(jnum "$d/nats/nats-cpu.json" server_cpu_s)")")
  PROXY_CPU+=("$(per_item_us "$(jnum "$d/proxy/proxy-cpu.json" cpu_s)")")
  OURS_P50+=("$(jnum "$d/ours-latency/latency.json" p50_ms)") OURS_P99+=("$(jnum "$d/ours-latency/latency.json" p99_ms)")
  NATS_P50+=("$(jnum "$d/nats/nats-latency.json" p50_ms)") NATS_P99+=("$(jnum "$d/nats/nats-latency.json" p99_ms)")
  PROXY_P50+=("$(jnum "$d/proxy/proxy-latency.json" p50_ms)") PROXY_P99+=("$(jnum "$d/proxy/proxy-latency.json" p99_ms)")
  echo "  round $r: ours ${OURS[-1]} samples/s (loadgen acked ${OURS_LG[-1]}/s), nats ${NATS[-1]} msgs/s, proxy ${PROXY[-1]} msgs/s" \
    "(ours/nats $(ratio "${OURS[-1]}" "${NATS[-1]}"), ours/proxy $(ratio "${OURS[-1]}" "${PROXY[-1]}"));" \
    "p99 ours ${OURS_P99[-1]} ms, nats ${NATS_P99[-1]} ms, proxy ${PROXY_P99[-1]} ms"
done

med() { echo "$*" | median; }
m_ours=$(med "${OURS[*]}") m_lg=$(med "${OURS_LG[*]}") m_nats=$(med "${NATS[*]}") m_proxy=$(med "${PROXY[*]}")
m_op50=$(med "${OURS_P50[*]}") m_op99=$(med "${OURS_P99[*]}") m_np50=$(med "${NATS_P50[*]}")
m_np99=$(med "${NATS_P99[*]}") m_pp50=$(med "${PROXY_P50[*]}") m_pp99=$(med "${PROXY_P99[*]}")
r_nats=$(ratio "$m_ours" "$m_nats") r_proxy=$(ratio "$m_ours" "$m_proxy")
yesno() { awk -v x="$1" -v op="$2" -v y="$3" 'BEGIN {ok = (op == ">=") ? x >= y : x < y; print ok ? "met" : "MISSED"}'; }

echo
echo "CPU pressure at the end: $(psi); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| system | what moves | items/s (median of $RUNS) | every round | CPU µs per item, all processes (server) | p50 at $RATE/s | p99 at $RATE/s |"
echo "|---|---|---:|---|---:|---:|---:|"
echo "| hostwatch-broker | samples, 64 per envelope; acked, journaled; one group draining | $(fmt "$m_ours") | ${OURS[*]} | $(med "${OURS_CPU[*]}") ($(med "${OURS_SRV[*]}")) | $m_op50 ms | $m_op99 ms |"
echo "| nats-server $(nats-server --version 2>&1 | grep -o 'v[0-9][0-9.]*') | 100-byte messages, at most once | $(fmt "$m_nats") | ${NATS[*]} | $(med "${NATS_CPU[*]}") ($(med "${NATS_SRV[*]}")) | $m_np50 ms | $m_np99 ms |"
echo "| zmq_proxy XSUB/XPUB | 100-byte messages, at most once | $(fmt "$m_proxy") | ${PROXY[*]} | $(med "${PROXY_CPU[*]}") (in one process) | $m_pp50 ms | $m_pp99 ms |"
echo
echo "loadgen's own acked rate (ours, publish to last ack): $(fmt "$m_lg") samples/s (median)"
echo "ours / nats  = $r_nats  (goal >= 1.5: $(yesno "$r_nats" '>=' 1.5))"
echo "ours / proxy = $r_proxy  (goal >= 1.0: $(yesno "$r_proxy" '>=' 1.0))"
echo "ours p99 at $RATE samples/s = $m_op99 ms  (goal < 10 ms: $(yesno "$m_op99" '<' 10))"
[[ $FAILED -eq 0 ]] || { echo "broker.sh: some runs failed (see above); figures are not valid" >&2; exit 1; }
