#!/usr/bin/env bash
# bench/rediscache.sh: hostwatch-rediscache beside redis-benchmark, against one local redis-server.
# Run by hand; the figures go in docs/benchmarks.md (bench/README.md).
#
#   bench/rediscache.sh [--hosts 100] [--metrics 64] [--ticks 100] [--bin DIR] [--no-build] [--keep]
#                       [--perf DIR]   (records each cacher run with perf into DIR/<run>.perf)
#                       [--redis-rt]   (diagnosis, not a result: redis-server under SCHED_FIFO, so it
#                                       never waits for a core; shows what of the round trip is that wait)
#                       [--rt]         (diagnosis: redis-server and every cacher thread under SCHED_FIFO)
#
# 1. A fresh hostwatch-broker's journal is filled first: `hostwatch loadgen --rate 0 --batch 64`,
#    H hosts x M metrics x T ticks = N samples (640,000 by default).
# 2. For each cacher config, a new consumer group reads all N from that journal into an empty
#    redis-server (FLUSHALL between runs), one Redis connection:
#      history off   history.metrics: []       (latest HSET per endpoint per batch + registry)
#      default       history.metrics: ["load.m000*"] (9 of 64 loadgen series, the share the
#                    default key series have of a collector's), registry, events (none in load)
#    samples/s = N / (cacher start -> the group's lag is 0), which includes the cacher's start and
#    this script's lag polling (~0.1 s a poll); also N / (the cacher's first batch -> its last
#    reply), from its log line at stop, which is the cacher's own rate. CPU per sample of the cacher and of
#    redis-server (utime + stime from /proc). Round trip p50/p99 per batch from the cacher's own
#    figures (its log line at stop).
# 3. redis-benchmark -c 1 -P 64 -t hset -n 2000000: HSET ops/s over one pipelined connection.
#    The last column: how long redis-server's main thread was runnable but waiting for a core
#    during the run (/proc/<pid>/schedstat), which is what stretches the round trip's tail on a
#    machine where the broker, the cacher and Redis share few cores.
# Goals (issue 14): history off >= 3x the HSET ops/s; default >= 1x; p99 round trip <= 2 ms.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOSTS=100 METRICS=64 TICKS=100 BUILD=1 KEEP=0 BIN=$ROOT/build/release PERF= REDIS_RT=() CACHER_RT=()
usage() { sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --hosts) HOSTS=$2; shift 2 ;;
    --metrics) METRICS=$2; shift 2 ;;
    --ticks) TICKS=$2; shift 2 ;;
    --bin) BIN=$2; BUILD=0; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    --perf) PERF=$(realpath "$2"); mkdir -p "$PERF"; shift 2 ;;
    --redis-rt) REDIS_RT=(chrt -f 10); shift ;;
    --rt) REDIS_RT=(chrt -f 10) CACHER_RT=(chrt -f 10); shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "rediscache.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
for t in redis-server redis-cli redis-benchmark; do
  command -v $t >/dev/null || { echo "rediscache.sh: $t is not installed (redis-server, redis-tools)" >&2; exit 2; }
done
if [[ $BUILD -eq 1 ]]; then
  (cd "$ROOT" && cmake --preset release >/dev/null &&
   cmake --build --preset release -j2 --target hostwatch-broker hostwatch hostwatch-rediscache >/dev/null) || {
    echo "rediscache.sh: the release build failed" >&2; exit 1; }
fi
BROKER=$BIN/broker/hostwatch-broker HW=$BIN/cli/hostwatch CACHER=$BIN/rediscache/hostwatch-rediscache
for b in "$BROKER" "$HW" "$CACHER"; do [[ -x $b ]] || { echo "rediscache.sh: $b is missing" >&2; exit 1; }; done

source "$ROOT/bench/lib.sh"
bench_workdir rediscache
export TMPDIR=$W
TICK=$(getconf CLK_TCK)
proc_cpu() { awk -v t="$TICK" '{printf "%.3f\n", ($14 + $15) / t}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# ns a process's main thread spent runnable but waiting for a core (field 2 of schedstat).
proc_wait() { awk '{print $2}' "/proc/$1/schedstat" 2>/dev/null || echo 0; }

# Broker and redis.
bench_broker "$W" || { echo "rediscache.sh: the broker did not start" >&2; exit 1; }
RP=$(freeport)
"${REDIS_RT[@]}" redis-server --port "$RP" --bind 127.0.0.1 --dir "$W" --save '' --appendonly no --logfile "$W/redis.log" &
REDIS_PID=$!
PIDS+=($REDIS_PID)
waitport "$RP" || { echo "rediscache.sh: redis-server did not start" >&2; exit 1; }

N=$((HOSTS * METRICS * TICKS))
echo "filling the journal: $HOSTS hosts x $METRICS metrics x $TICKS ticks = $N samples" >&2
"$HW" loadgen --broker "tcp://127.0.0.1:$FRONT" --hosts "$HOSTS" --metrics "$METRICS" --interval 10 \
  --duration $((TICKS * 10)) --rate 0 --batch 64 >"$W/loadgen.json" 2>"$W/loadgen.err" ||
  { echo "rediscache.sh: loadgen failed (see $W/loadgen.err)" >&2; exit 1; }

lag() {  # the group's total lag; empty when the broker does not answer
  "$HW" status --json --broker "tcp://127.0.0.1:$FRONT" --backend "tcp://127.0.0.1:$BACK" 2>/dev/null |
    /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)
g = [g for g in s.get("groups", []) if g.get("group") == sys.argv[1]]
print(sum(int(p.get("lag", 0)) for p in g[0].get("partitions", [])) if g and g[0].get("partitions") else "")
' "$1"
}

run() {  # $1 name, $2 history.metrics YAML
  local name=$1 cfg=$W/$1.yaml t0 t1 c0 r0 c1 r1 w0 w1 pid l
  redis-cli -p "$RP" flushall >/dev/null
  cat >"$cfg" <<YAML
rediscache:
  redis: ["redis://127.0.0.1:$RP"]
  history: {metrics: $2}
link:
  brokers: [tcp://127.0.0.1:$FRONT]
  backends: [tcp://127.0.0.1:$BACK]
  spool_dir: $W/spool-$name
  group: bench-$name
  start: earliest
log: {level: info}
YAML
  r0=$(proc_cpu "$REDIS_PID")
  w0=$(proc_wait "$REDIS_PID")
  t0=$(nowns)
  "${CACHER_RT[@]}" "$CACHER" --config "$cfg" >"$W/$name.log" 2>&1 &
  pid=$!
  local perf_pid=
  if [[ -n $PERF ]]; then
    perf record -q -e cpu-clock -F 999 -p "$pid" -o "$PERF/$name.perf" 2>/dev/null &
    perf_pid=$!
  fi
  PIDS+=($pid)
  for _ in $(seq 1 6000); do
    l=$(lag "bench-$name")
    [[ $l == 0 ]] && break
    sleep 0.05
  done
  t1=$(nowns)
  c1=$(proc_cpu "$pid")
  r1=$(proc_cpu "$REDIS_PID")
  w1=$(proc_wait "$REDIS_PID")
  if [[ -n $perf_pid ]]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
  stoppid "$pid"
  local rt p50 p99 busy
  rt=$(grep -o 'round trip p50 [0-9.]* ms, p99 [0-9.]* ms' "$W/$name.log" | tail -1)
  p50=$(echo "$rt" | awk '{print $4}') p99=$(echo "$rt" | awk '{print $7}')
  busy=$(grep -o 'written in [0-9.]* s' "$W/$name.log" | tail -1 | awk '{print $3}')
  awk -v n="$N" -v a="$t0" -v b="$t1" -v c="$c1" -v r="$(awk -v x="$r0" -v y="$r1" 'BEGIN{print y-x}')" \
      -v p50="$p50" -v p99="$p99" -v name="$name" -v busy="${busy:-0}" -v w="$(awk -v x="$w0" -v y="$w1" 'BEGIN{print (y-x)/1e6}')" \
    'BEGIN {s = (b-a)/1e9; printf "%s %.0f %.0f %.2f %.2f %s %s %.0f\n", name, n/s, (busy > 0 ? n/busy : 0),
            c*1e6/n, r*1e6/n, p50, p99, w}' >>"$W/results"
}
: >"$W/results"
run history-off '[]'
run default '["load.m000*"]'

HSET=$(redis-benchmark -h 127.0.0.1 -p "$RP" -c 1 -P 64 -t hset -n 2000000 -q 2>/dev/null |
       tr '\r' '\n' | grep -o 'HSET: [0-9.]* requests per second' | tail -1 | awk '{print $2}')

echo
echo "| run | samples/s (start to lag 0) | × HSET ops/s | samples/s (first batch to last reply) | × HSET ops/s | cacher CPU µs/sample | redis CPU µs/sample | batch round trip p50 / p99 ms | redis waited for a core, ms |"
echo "|---|---|---|---|---|---|---|---|---|"
while read -r name rate busy cpu rcpu p50 p99 wait; do
  awk -v n="$name" -v r="$rate" -v b="$busy" -v h="$HSET" -v c="$cpu" -v rc="$rcpu" -v p50="$p50" -v p99="$p99" -v w="$wait" \
    'BEGIN {printf "| %s | %\047.0f | %.2f× | %\047.0f | %.2f× | %.2f | %.2f | %s / %s | %s |\n", n, r, r/h, b, b/h, c, rc, p50, p99, w}'
done <"$W/results"
awk -v h="$HSET" 'BEGIN {printf "| redis-benchmark -c 1 -P 64 -t hset | %\047.0f ops/s | 1× | | | | | | |\n", h}'
echo
echo "$N samples from a full journal; $HOSTS hosts x $METRICS metrics x $TICKS ticks; $(nproc) cores."
