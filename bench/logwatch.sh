#!/usr/bin/env bash
# hostwatch logwatch vs mtail --one_shot on the same generated mixed log and the same 5 rules.
# Ours, two ways, both reading the file from its beginning to its end:
#   - hostwatch-logwatch, the daemon, `from: beginning`, publishing its per-interval counts through
#     its spool to a real hostwatch-broker on loopback. It has no one-shot mode, so its end is when
#     it has read the whole file (rchar in /proc/<pid>/io, polled every 5 ms); its CPU and RSS are
#     read at that moment. After a SIGTERM the counts it published are read back from the broker
#     and must equal mtail's.
#   - `hostwatch test-logrules --json`: the same tailer, prefilter and rule code, without the
#     spool, the link and the per-interval state: the engine alone.
# Prints lines/s, CPU seconds and peak RSS of each and the ratios (the goal is judged on the
# daemon); exits 1 when any match count differs.
#
# --rules 10,100,1000: instead of the 5 rules, generated sets of that many rules
# (bench/logwatch/gen_rules.py: 14 kinds of patterns over a richer log, and the same rules as an
# mtail program), one after the other on the same log, and a table per set count: lines/s wall
# (test-logrules, rule compilation included) and engine only, mtail's, the ratio, CPU µs per line
# and the compile time (test-logrules on an empty file). --no-daemon skips the daemon rounds.
#   bench/logwatch.sh [--lines N] [--runs R] [--rules N,N,...] [--no-daemon] [--no-build] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=500000
RUNS=3
BUILD=1
KEEP=0
RULE_SETS=""
DAEMON=1
BUILD_DIR=${HW_BENCH_BUILD_DIR:-build/release}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --lines) LINES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    --rules) RULE_SETS=${2//,/ }; shift 2 ;;
    --no-daemon) DAEMON=0; shift ;;
    *) echo "usage: bench/logwatch.sh [--lines N] [--runs R] [--rules N,N,...] [--no-daemon] [--no-build] [--keep]" >&2; exit 2 ;;
  esac
done
command -v mtail > /dev/null || { echo "mtail is missing: scripts/install-deps.sh --bench" >&2; exit 1; }
if [[ $BUILD == 1 ]]; then
  cmake --preset release -B "$BUILD_DIR" > /dev/null  # build/release unless HW_BENCH_BUILD_DIR
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target hostwatch hostwatch-logwatch hostwatch-broker > /dev/null
fi
HW="$BUILD_DIR/cli/hostwatch"
LOGWATCH="$BUILD_DIR/logwatch/hostwatch-logwatch"
BROKER="$BUILD_DIR/broker/hostwatch-broker"
for b in "$HW" "$LOGWATCH" "$BROKER"; do
  [[ -x $b ]] || { echo "$b is missing (build it, or drop --no-build)" >&2; exit 1; }
done
W=$(mktemp -d)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null && wait "$p" 2> /dev/null; done
  if [[ $KEEP == 1 ]]; then echo "keeping $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
if [[ -z $RULE_SETS ]]; then
  /usr/bin/python3 bench/logwatch/gen_log.py "$LINES" > "$W/mixed.log"
else
  /usr/bin/python3 bench/logwatch/gen_rules.py log "$LINES" > "$W/mixed.log"
fi
SIZE=$(stat -c %s "$W/mixed.log")
: > "$W/empty.log"
# The rule set being measured: its logwatch.yaml (path /dev/null, replaced) and mtail progs folder.
YAML=bench/logwatch/rules.yaml
PROGS=bench/logwatch/progs
freeport() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
waitport() { for _ in $(seq 1 200); do (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null && return 0; sleep 0.05; done; return 1; }
# In bash's 64-bit arithmetic: awk's printf "%d" (mawk) stops at 2^31-1 ns, 2.147 s.
cpu_ns() {
  local s=0 ns rest f
  for f in /proc/"$1"/task/*/schedstat; do
    read -r ns rest < "$f" 2> /dev/null && s=$((s + ns))
  done
  echo "$s"
}

# One daemon round: a fresh broker and logwatch; prints "wall_s cpu_s rss_kb" and leaves the counts
# it published in $W/daemon.counts ("rule count" lines).
daemon_round() {
  local d=$W/daemon fp bp tp
  rm -rf "$d"; mkdir -p "$d"
  fp=$(freeport); bp=$(freeport); tp=$(freeport)
  cat > "$d/broker.yaml" <<YAML
broker: {frontend: "tcp://127.0.0.1:$fp", backend: "tcp://127.0.0.1:$bp", tap: "tcp://127.0.0.1:$tp", data_dir: "$d/broker"}
log: {level: warn}
YAML
  sed -e "s|path: /dev/null|path: $W/mixed.log, from: beginning|" "$YAML" > "$d/logwatch.yaml"
  cat >> "$d/logwatch.yaml" <<YAML
  endpoint: bench-host
  interval: 1s
  state_dir: $d/state
link: {brokers: ["tcp://127.0.0.1:$fp"], spool_dir: "$d/spool"}
log: {level: warn}
YAML
  # This runs in a subshell (the caller reads its output), so the EXIT trap's PIDS never see these:
  # a failed round stops its own processes.
  local broker pid=
  round_failed() {
    echo "$1" >&2
    kill "$broker" ${pid:+"$pid"} 2> /dev/null
    wait "$broker" ${pid:+"$pid"} 2> /dev/null
    exit 1
  }
  "$BROKER" --config "$d/broker.yaml" 2> "$d/broker.log" & broker=$!
  waitport "$fp" || round_failed "the broker did not start: $d/broker.log"
  local t0 t1 rchar=0
  t0=$(date +%s.%N)
  "$LOGWATCH" --config "$d/logwatch.yaml" 2> "$d/logwatch.log" & pid=$!
  while ((rchar < SIZE)); do
    # An exited daemon stays a zombie (kill -0 still succeeds) until it is waited for, but its
    # /proc/<pid>/io can no longer be read.
    rchar=$(awk '/^rchar:/ { print $2 }' "/proc/$pid/io" 2> /dev/null) || rchar=
    [[ -n $rchar ]] || round_failed "hostwatch-logwatch exited: $d/logwatch.log"
    ((rchar >= SIZE)) || sleep 0.005
  done
  t1=$(date +%s.%N)
  local ns kb
  ns=$(cpu_ns "$pid"); kb=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
  # The interval (1 s) the file ended in must close and be published: a stop keeps an unfinished
  # interval's counts in the offsets file for the next start instead of publishing them.
  sleep 1.5
  kill -TERM "$pid"; wait "$pid" || { pid=; round_failed "hostwatch-logwatch failed: $d/logwatch.log"; }
  "$HW" consume --broker "tcp://127.0.0.1:$fp" --backend "tcp://127.0.0.1:$bp" --group bench \
    --topics samples --start earliest --format json --idle 2 --timeout 60 > "$d/consumed.json" 2> "$d/consume.err" || true
  kill "$broker"; wait "$broker" 2> /dev/null || true
  python3 - "$d/consumed.json" > "$W/daemon.counts" <<'PY'
import json, sys
sums = {}
for line in open(sys.argv[1]):
    env = json.loads(line)
    for s in env.get("samples", {}).get("samples", []):
        m = s.get("metric", "")
        if m.startswith("log.") and m.endswith(".count") and m.count(".") == 2:
            sums[m[4:-6]] = sums.get(m[4:-6], 0) + s.get("value", 0)
for rule, n in sorted(sums.items()):
    print(rule, int(n) if float(n).is_integer() else repr(n))
PY
  echo "$(echo "$t1 - $t0" | bc -l) $(echo "$ns / 1000000000" | bc -l) $kb"
}

# /usr/bin/time -f: wall seconds, user + system seconds, peak RSS (KiB).
measure() {  # name, command...
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$W/$name.time" "$@" > "$W/$name.out" 2> "$W/$name.err"
  read -r wall user sys rss < "$W/$name.time"
  echo "$wall $(echo "$user + $sys" | bc -l) $rss"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

at_least() { echo "if ($1 < $2) $2 else $1" | bc -l; }  # /usr/bin/time has 10 ms resolution

# Runs the set in $YAML/$PROGS: RUNS rounds of the daemon (unless --no-daemon), test-logrules and
# mtail, then the compile time, and compares the counts (fail=1 when any differs). Leaves the
# medians in dw dc drss, ow oc orss oe (engine seconds), mw mc mrss, and cw (compile wall s).
run_set() {
  local r w c m e
  local -a ours_wall=() ours_cpu=() ours_rss=() ours_eng=() mtail_wall=() mtail_cpu=() mtail_rss=()
  local -a dmn_wall=() dmn_cpu=() dmn_rss=() cmp_wall=()
  : > "$W/daemon.counts"
  for ((r = 1; r <= RUNS; r++)); do
    if [[ $DAEMON == 1 ]]; then
      read -r w c m < <(daemon_round)
      [[ -n "$m" ]] || exit 1
      dmn_wall+=("$w"); dmn_cpu+=("$c"); dmn_rss+=("$m")
    fi
    read -r w c m < <(measure ours "$HW" test-logrules --config "$YAML" --examples 0 --json "$W/mixed.log")
    e=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$W/ours.out")
    ours_wall+=("$w"); ours_cpu+=("$c"); ours_rss+=("$m"); ours_eng+=("$e")
    read -r w c m < <(measure compile "$HW" test-logrules --config "$YAML" --examples 0 --json "$W/empty.log")
    cmp_wall+=("$w")
    # JSON, not the Prometheus text: that prints a value over 999999 as %g (1.048235e+06), 7
    # significant digits, where the JSON has the counter's exact integer.
    read -r w c m < <(measure mtail mtail --one_shot --one_shot_format=json --progs "$PROGS" \
                       --logs "$W/mixed.log" --logtostderr)
    mtail_wall+=("$w"); mtail_cpu+=("$c"); mtail_rss+=("$m")
  done

  # Match counts, rule by rule, compared as numbers: equal when both are the same integer. Every
  # count is an integer; mtail's JSON gives its counters as integers, and a float that one may hold
  # is exact up to 2^53, so no tolerance is needed (a value that is not a whole number differs).
  python3 - "$W/daemon.counts" "$W/ours.out" "$W/mtail.out" "$DAEMON" "${#RULE_SETS}" <<'PY' || fail=1
import json, sys
daemon_path, ours_path, mtail_path, with_daemon, generated = sys.argv[1:]
daemon = dict(line.split() for line in open(daemon_path) if line.strip())
ours = {r: v["matches"] for r, v in json.load(open(ours_path))["rules"].items()}
mtail = {}
for name, metrics in json.load(open(mtail_path)).items():
    for m in metrics:
        for lv in m.get("LabelValues", []):
            mtail[name] = mtail.get(name, 0) + lv["Value"]["Value"]

def number(v):
    """An int when v is a whole number (exactly), else a float; None when missing."""
    if v is None:
        return None
    if isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            v = float(v)
    if isinstance(v, float) and v.is_integer() and abs(v) <= 2**53:
        return int(v)
    return v

rules = sorted(ours)
fail = False
differ = []
for rule in rules:
    # mtail's JSON leaves out a counter never incremented; the daemon publishes none for a rule
    # that never matched (an interval without a match has no sample for it).
    o = number(ours.get(rule))
    t = number(mtail.get(rule, 0 if generated != "0" else None))
    d = number(daemon.get(rule, 0 if generated != "0" else None)) if with_daemon == "1" else o
    if t is None or d != t or o != t:
        fail = True
        differ.append((rule, d, o, t))
if generated == "0":
    print("\n| rule | hostwatch-logwatch (published) | hostwatch test-logrules | mtail |")
    print("|---|---|---|---|")
    for rule in rules:
        print(f"| {rule} | {number(daemon.get(rule))} | {number(ours.get(rule))} | {number(mtail.get(rule))} |")
else:
    total = sum(number(v) for v in ours.values())
    print(f"{len(rules)} rules: counts {'DIFFER' if fail else 'identical'} "
          f"(daemon, test-logrules, mtail); {total} matches in all, "
          f"{sum(1 for v in ours.values() if v == 0)} rules without a match")
    for rule, d, o, t in differ[:20]:
        print(f"  {rule}: daemon {d} test-logrules {o} mtail {t}")
sys.exit(1 if fail else 0)
PY

  if [[ $DAEMON == 1 ]]; then
    dw=$(printf '%s\n' "${dmn_wall[@]}" | median); dc=$(printf '%s\n' "${dmn_cpu[@]}" | median)
    drss=$(printf '%s\n' "${dmn_rss[@]}" | median)
  fi
  ow=$(printf '%s\n' "${ours_wall[@]}" | median); oc=$(printf '%s\n' "${ours_cpu[@]}" | median)
  orss=$(printf '%s\n' "${ours_rss[@]}" | median); oe=$(printf '%s\n' "${ours_eng[@]}" | median)
  mw=$(printf '%s\n' "${mtail_wall[@]}" | median); mc=$(printf '%s\n' "${mtail_cpu[@]}" | median)
  mrss=$(printf '%s\n' "${mtail_rss[@]}" | median); cw=$(printf '%s\n' "${cmp_wall[@]}" | median)
  ow=$(at_least "$ow" 0.01); oc=$(at_least "$oc" 0.01); oe=$(at_least "$oe" 0.000001)
  rounds="daemon ${dmn_wall[*]:-}; engine ${ours_wall[*]}; mtail ${mtail_wall[*]}"
}

fail=0
if [[ -n $RULE_SETS ]]; then
  table=""
  for n in $RULE_SETS; do
    mkdir -p "$W/set$n"
    /usr/bin/python3 bench/logwatch/gen_rules.py rules "$n" "$W/set$n"
    YAML=$W/set$n/rules.yaml PROGS=$W/set$n/progs
    run_set
    echo "  rounds (wall s): $rounds"
    table+=$(printf '| %s | %.0f (%.0f) | %.0f | %.0fx (%.0fx) | %.3f / %.1f | %.2f |' "$n" \
      "$(echo "$LINES / $ow" | bc -l)" "$(echo "$LINES / $oe" | bc -l)" "$(echo "$LINES / $mw" | bc -l)" \
      "$(echo "$mw / $ow" | bc -l)" "$(echo "$mw / $oe" | bc -l)" \
      "$(echo "$oc * 1000000 / $LINES" | bc -l)" "$(echo "$mc * 1000000 / $LINES" | bc -l)" "$cw")
    if [[ $DAEMON == 1 ]]; then
      table+=$(printf ' %.0f |' "$(echo "$LINES / $dw" | bc -l)")
    else
      table+=" - |"
    fi
    table+=$'\n'
  done
  printf '\n%s lines, %s MiB, median of %s runs\n\n' "$LINES" "$((SIZE >> 20))" "$RUNS"
  echo "| rules | test-logrules lines/s, wall incl. compile (engine only) | mtail lines/s | ratio wall (engine) | CPU µs/line ours / mtail | compile s | daemon lines/s |"
  echo "|---|---|---|---|---|---|---|"
  printf '%s' "$table"
else
  run_set
  printf '\n%s lines, %s MiB, median of %s runs\n\n' "$LINES" "$((SIZE >> 20))" "$RUNS"
  printf '| system | lines/s | CPU s | CPU µs/line | peak RSS MiB |\n|---|---|---|---|---|\n'
  row() { printf '| %s | %.0f | %.2f | %.3f | %.1f |\n' "$1" "$(echo "$LINES / $2" | bc -l)" "$3" \
            "$(echo "$3 * 1000000 / $LINES" | bc -l)" "$(echo "$4 / 1024" | bc -l)"; }
  [[ $DAEMON == 1 ]] && row "hostwatch-logwatch (daemon, publishing)" "$dw" "$dc" "$drss"
  row "hostwatch test-logrules (engine only)" "$ow" "$oc" "$orss"
  row "mtail --one_shot" "$mw" "$mc" "$mrss"
  if [[ $DAEMON == 1 ]]; then
    printf '\ndaemon ratios: lines/s %.1fx mtail (goal >= 10x); CPU per line %.3fx mtail (goal <= 0.1x); RSS %.2fx mtail (goal <= 1x)\n' \
      "$(echo "$mw / $dw" | bc -l)" "$(echo "$dc / $mc" | bc -l)" "$(echo "$drss / $mrss" | bc -l)"
  fi
  printf 'engine ratios: lines/s %.1fx mtail; CPU per line %.3fx mtail; RSS %.2fx mtail\n' \
    "$(echo "$mw / $ow" | bc -l)" "$(echo "$oc / $mc" | bc -l)" "$(echo "$orss / $mrss" | bc -l)"
  printf 'rounds (wall s): %s\n' "$rounds"
fi
if [[ $fail == 1 ]]; then
  echo "MATCH COUNTS DIFFER" >&2
  exit 1
fi
