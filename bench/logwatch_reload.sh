#!/usr/bin/env bash
# A SIGHUP reload of N generated rules (bench/logwatch/gen_rules.py) while lines keep coming:
# hostwatch-logwatch (publishing to a real broker, from: beginning) reads half the file, then the
# rest is appended in 40 steps over ~4 s with a SIGHUP a quarter of the way (the same rules in
# reverse order, compiled afresh while lines are read with the old set). Every rule's count it
# published, before and after the reload, must equal test-logrules' over the whole file: no line
# lost, none counted twice. Exits 1 when a count differs.
#   bench/logwatch_reload.sh [N rules, 1000] [lines, 200000]   (build/release, as bench/logwatch.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}; LINES=${2:-200000}
BUILD_DIR=${HW_BENCH_BUILD_DIR:-build/release}
HW="$BUILD_DIR/cli/hostwatch"; LOGWATCH="$BUILD_DIR/logwatch/hostwatch-logwatch"; BROKER="$BUILD_DIR/broker/hostwatch-broker"
W=$(mktemp -d); PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null && wait "$p" 2> /dev/null; done; rm -rf "$W"; }
trap cleanup EXIT
freeport() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
waitport() { for _ in $(seq 1 200); do (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0; sleep 0.05; done; return 1; }
/usr/bin/python3 bench/logwatch/gen_rules.py log "$LINES" > "$W/full.log"
/usr/bin/python3 bench/logwatch/gen_rules.py rules "$N" "$W/set"
fp=$(freeport); bp=$(freeport); tp=$(freeport)
cat > "$W/broker.yaml" <<YAML
broker: {frontend: "tcp://127.0.0.1:$fp", backend: "tcp://127.0.0.1:$bp", tap: "tcp://127.0.0.1:$tp", data_dir: "$W/broker"}
log: {level: warn}
YAML
tail_cfg() {
  cat <<YAML
  endpoint: bench-host
  interval: 1s
  state_dir: $W/state
link: {brokers: ["tcp://127.0.0.1:$fp"], spool_dir: "$W/spool"}
log: {level: info}
YAML
}
sed -e "s|path: /dev/null|path: $W/app.log, from: beginning|" "$W/set/rules.yaml" > "$W/logwatch.yaml"; tail_cfg >> "$W/logwatch.yaml"
# The reloaded set: the same rules in reverse order (compiled afresh, same names).
/usr/bin/python3 - "$W/logwatch.yaml" "$W/reloaded.yaml" <<'PY'
import sys
lines = open(sys.argv[1]).read().split("\n")
rules = [i for i, l in enumerate(lines) if l.startswith("    - {name:")]
block = [lines[i] for i in rules][::-1]
for k, i in enumerate(rules): lines[i] = block[k]
open(sys.argv[2], "w").write("\n".join(lines))
PY
"$BROKER" --config "$W/broker.yaml" 2> "$W/broker.log" & broker=$!; PIDS+=("$broker")
waitport "$fp"
total=$(wc -l < "$W/full.log"); half=$((total / 2))
head -n "$half" "$W/full.log" > "$W/app.log"
"$LOGWATCH" --config "$W/logwatch.yaml" 2> "$W/logwatch.log" & pid=$!; PIDS+=("$pid")
# Appending starts once the daemon reads (its first rule set compiled).
until (( $(awk '/^rchar:/ { print $2 }' "/proc/$pid/io") > 0 )); do sleep 0.05; done
step=$(( (total - half) / 40 + 1 )); at=$half; sent_hup=0
while ((at < total)); do
  sed -n "$((at + 1)),$((at + step))p" "$W/full.log" >> "$W/app.log"; at=$((at + step))
  if ((sent_hup == 0 && at >= half + (total - half) / 4)); then
    cp "$W/reloaded.yaml" "$W/logwatch.yaml"; kill -HUP "$pid"; sent_hup=1; 
    echo "SIGHUP at line $at of $total, $(date -u +%T.%N | cut -c1-12) UTC" >&2
  fi
  sleep 0.1
done
size=$(stat -c %s "$W/app.log"); rchar=0
while ((rchar < size)); do rchar=$(awk '/^rchar:/ { print $2 }' "/proc/$pid/io"); sleep 0.05; done
sleep 1.5
kill -TERM "$pid"; wait "$pid"
echo "appending ended $(date -u +%T.%N | cut -c1-12) UTC" >&2
grep -iE "reload|error|warn" "$W/logwatch.log" | head -5 >&2 || true
"$HW" consume --broker "tcp://127.0.0.1:$fp" --backend "tcp://127.0.0.1:$bp" --group r --topics samples --start earliest --format json --idle 2 --timeout 60 > "$W/consumed.json" 2> /dev/null || true
"$HW" test-logrules --config "$W/set/rules.yaml" --examples 0 --json "$W/full.log" > "$W/ours.json"
python3 - "$W/consumed.json" "$W/ours.json" <<'PY'
import json, sys
sums = {}; lines_read = 0
for line in open(sys.argv[1]):
    for s in json.loads(line).get("samples", {}).get("samples", []):
        m = s.get("metric", "")
        if m.startswith("log.") and m.endswith(".count"): sums[m[4:-6]] = sums.get(m[4:-6], 0) + s.get("value", 0)
        if m == "hostwatch.logwatch.lines_read": lines_read = max(lines_read, s.get("value", 0))
want = {r: v["matches"] for r, v in json.load(open(sys.argv[2]))["rules"].items()}
differ = [(r, sums.get(r, 0), w) for r, w in want.items() if sums.get(r, 0) != w]
print(f"{len(want)} rules, {sum(want.values())} matches expected, {int(sum(sums.get(r, 0) for r in want))} published; "
      f"lines_read {int(lines_read)}; rules differing: {len(differ)} {differ[:5]}")
sys.exit(1 if differ else 0)
PY
