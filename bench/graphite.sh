#!/usr/bin/env bash
# bench/graphite.sh: hostwatch-graphite side by side with carbon-c-relay, on loopback, in one run.
# Run by hand; the figures go in docs/benchmarks.md (bench/README.md).
#
#   bench/graphite.sh [--points 2000000] [--runs 1] [--build-dir DIR] [--no-build] [--keep]
#
# The same N datapoints (--points; 100 hosts x 200 series x N/20000 ticks from `hostwatch loadgen`)
# are forwarded by each system to the same kind of sink: a loopback TCP listener that counts carbon
# lines (self-metric lines, which contain ".hostwatch.", are not counted).
#   ours   the broker's journal already holds the N samples; hostwatch-graphite (naming: path,
#          one destination, settle 2s) starts with a new group and forwards them.
#          points/s = N / (forwarder start -> the sink has N lines).
#   relay  carbon-c-relay 3.7.3 (Debian), tuned as the issue says (-q 2000000 -b 10000), fed the
#          very lines ours produced (saved by an untimed first pass) over one TCP connection.
#          points/s = N / (first byte sent -> the sink has N lines).
# CPU per datapoint: user + system of the forwarder process alone (ours: hostwatch-graphite, from
# its start; relay: carbon-c-relay during the run), from /proc/<pid>/stat. The broker's CPU during
# our run is shown too (the relay has no broker in front of it).
# Goal (issue 15): ours >= 1.5x the relay's points/s at <= its CPU per datapoint.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
POINTS=2000000 RUNS=1 BUILD=1 KEEP=0 BIN=$ROOT/build/release
usage() { sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [[ $# -gt 0 ]]; do
  case "$1" in
    --points) POINTS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --build-dir) BIN=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "graphite.sh: unknown argument $1" >&2; usage >&2; exit 2 ;;
  esac
done
command -v carbon-c-relay >/dev/null || { echo "graphite.sh: carbon-c-relay is not installed" >&2; exit 2; }
if [[ $BUILD -eq 1 ]]; then
  (cd "$ROOT" && cmake --preset release >/dev/null &&
     cmake --build --preset release -j2 --target hostwatch-broker hostwatch hostwatch-graphite >/dev/null) || {
    echo "graphite.sh: the release build failed" >&2; exit 1; }
fi
BROKER=$BIN/broker/hostwatch-broker HW=$BIN/cli/hostwatch GRAPHITE=$BIN/graphite/hostwatch-graphite
PY=/usr/bin/python3
HOSTS=100 METRICS=200
TICKS=$(( POINTS / (HOSTS * METRICS) ))
(( TICKS >= 1 )) || { echo "graphite.sh: --points must be at least $((HOSTS * METRICS))" >&2; exit 2; }
POINTS=$(( HOSTS * METRICS * TICKS ))

W=$(mktemp -d /tmp/hw-bench-graphite.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ $KEEP -eq 1 ]]; then echo "kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
freeport() { $PY -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
waitport() { for _ in $(seq 1 400); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
now() { date +%s.%N; }

# The line-counting sink: prints {"lines", "first", "last"} (epoch seconds) once N lines arrived.
cat > "$W/sink.py" <<'EOF'
import json, selectors, socket, sys, time
port_file, target, save = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = open(save, "wb") if save != "-" else None
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0)); ls.listen(16)
open(port_file, "w").write(str(ls.getsockname()[1]))
sel = selectors.DefaultSelector(); sel.register(ls, selectors.EVENT_READ)
count = 0; first = None; tail = b""
while count < target:
    for key, _ in sel.select():
        if key.fileobj is ls:
            c, _ = ls.accept(); sel.register(c, selectors.EVENT_READ); continue
        data = key.fileobj.recv(1 << 20)
        if not data:
            sel.unregister(key.fileobj); key.fileobj.close(); continue
        if first is None: first = time.time()
        if out: out.write(data)
        buf = tail + data
        cut = buf.rfind(b"\n") + 1
        whole, tail = buf[:cut], buf[cut:]
        count += whole.count(b"\n") - whole.count(b".hostwatch.")
if out: out.close()
print(json.dumps({"lines": count, "first": first, "last": time.time()}), flush=True)
EOF

start_sink() {  # name save -> sets SINK_PID, SINK_PORT
  rm -f "$W/$1.port"
  $PY "$W/sink.py" "$W/$1.port" "$POINTS" "$2" > "$W/$1.json" &
  SINK_PID=$!; PIDS+=("$SINK_PID")
  for _ in $(seq 1 200); do [[ -s $W/$1.port ]] && break; sleep 0.05; done
  SINK_PORT=$(cat "$W/$1.port")
}

# The broker, and the journal filled once.
FP=$(freeport); BP=$(freeport); TP=$(freeport)
cat > "$W/broker.yaml" <<EOF
broker: {frontend: "tcp://127.0.0.1:$FP", backend: "tcp://127.0.0.1:$BP", tap: "tcp://127.0.0.1:$TP", data_dir: "$W/broker"}
EOF
"$BROKER" --config "$W/broker.yaml" > "$W/broker.log" 2>&1 & BROKER_PID=$!; PIDS+=("$BROKER_PID")
waitport "$FP"
echo "filling the journal: $HOSTS hosts x $METRICS series x $TICKS ticks = $POINTS points" >&2
"$HW" loadgen --broker "tcp://127.0.0.1:$FP" --hosts $HOSTS --metrics $METRICS --interval 10 \
  --duration $(( TICKS * 10 )) --rate 0 --batch 200 > "$W/loadgen.out" 2>&1

run_ours() {  # group save -> prints "rate cpu_per_point_ns broker_cpu_per_point_ns"
  start_sink "ours-$1" "$2"
  cat > "$W/graphite-$1.yaml" <<EOF
graphite: {destinations: ["127.0.0.1:$SINK_PORT"], spool_dir: "$W/out-$1"}
link: {brokers: ["tcp://127.0.0.1:$FP"], backends: ["tcp://127.0.0.1:$BP"], group: "$1", spool_dir: "$W/self-$1"}
log: {level: info}
EOF
  local b0; b0=$(cpu_ticks "$BROKER_PID")
  local t0; t0=$(now)
  "$GRAPHITE" --config "$W/graphite-$1.yaml" > "$W/graphite-$1.log" 2>&1 & local gp=$!; PIDS+=("$gp")
  wait "$SINK_PID"
  local c; c=$(cpu_ticks "$gp"); local b1; b1=$(cpu_ticks "$BROKER_PID")
  kill "$gp"; wait "$gp" 2>/dev/null || true
  local last; last=$($PY -c 'import json,sys;print(json.load(open(sys.argv[1]))["last"])' "$W/ours-$1.json")
  local first; first=$($PY -c 'import json,sys;print(json.load(open(sys.argv[1]))["first"])' "$W/ours-$1.json")
  $PY -c "import sys,os; n=$POINTS; hz=os.sysconf('SC_CLK_TCK'); dt=$last-$t0
print('%.0f %.0f %.0f %.2f %.0f' % (n/dt, $c/hz/n*1e9, ($b1-$b0)/hz/n*1e9, $first-$t0, n/($last-$first)))"
}

run_relay() {  # -> prints "rate cpu_per_point_ns"
  start_sink relay -
  local rp; rp=$(freeport)
  cat > "$W/relay.conf" <<EOF
listen type linemode 127.0.0.1:$rp proto tcp ;
cluster sink forward 127.0.0.1:$SINK_PORT ;
match * send to sink ;
EOF
  carbon-c-relay -f "$W/relay.conf" -q 2000000 -b 10000 -s -H bench -l "$W/relay.log" &
  local rpid=$!; PIDS+=("$rpid")
  waitport "$rp"
  local c0; c0=$(cpu_ticks "$rpid")
  local t0; t0=$(now)
  $PY -c "
import socket, sys
s = socket.create_connection(('127.0.0.1', $rp))
with open(sys.argv[1], 'rb') as f:
    while True:
        b = f.read(1 << 20)
        if not b: break
        s.sendall(b)
s.close()" "$W/lines.txt"
  wait "$SINK_PID"
  local c1; c1=$(cpu_ticks "$rpid")
  kill "$rpid"; wait "$rpid" 2>/dev/null || true
  local last; last=$($PY -c 'import json,sys;print(json.load(open(sys.argv[1]))["last"])' "$W/relay.json")
  $PY -c "import os; n=$POINTS; hz=os.sysconf('SC_CLK_TCK'); dt=$last-$t0
print('%.0f %.0f' % (n/dt, ($c1-$c0)/hz/n*1e9))"
}

echo "untimed pass: saving the lines ours sends (the relay's input)" >&2
run_ours save "$W/lines.txt" > /dev/null
echo "| round | ours points/s | relay points/s | ratio | ours CPU ns/point | relay CPU ns/point | CPU ratio | broker CPU ns/point (ours) | ours: start to first line (s), then points/s |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in $(seq 1 "$RUNS"); do
  read -r OR OC BC OS OF < <(run_ours "bench$r" -)
  read -r RR RC < <(run_relay)
  $PY -c "print('| %d | %d | %d | %.2fx | %d | %d | %.2fx | %d | %.2f, %d |' % ($r, $OR, $RR, $OR/$RR, $OC, $RC, $OC/max($RC,1), $BC, $OS, $OF))"
done
