#!/usr/bin/env bash
# Drives scripts/run-local.sh as a new user would: starts the whole local stack on ports free now,
# and within 60 s this host's cpu.busy must be
#   - in Redis (hw:latest:{<host>}, read with redis-cli),
#   - in whisper (read with whisper-fetch),
#   - in a graphite-web PNG render (a real PNG with a plotted line: the render's JSON has values,
#     and the PNG differs from the render of a series that does not exist),
#   - on `hostwatch top`'s screen (run in a pty with script(1));
# and the demo log's error burst must reach the alert outbox as a mail within 120 s;
# then Ctrl-C (SIGINT) must stop every process it started, and no daemon may have logged an error.
# Usage: run_local_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
SRC=$1
BUILD=$2
T=$(mktemp -d /tmp/hostwatch-run-local.XXXXXX)
RUN_PID=
cleanup() {
  # After a failure: the script's whole process group (it leads it), by its PID.
  if [[ -n $RUN_PID ]] && kill -0 "$RUN_PID" 2> /dev/null; then
    kill -INT "$RUN_PID" 2> /dev/null || true
    for _ in $(seq 1 100); do kill -0 "$RUN_PID" 2> /dev/null || break; sleep 0.1; done
    kill -9 -- "-$RUN_PID" 2> /dev/null || true
    sleep 1
  fi
  rm -rf "$T"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$T"/data/logs/*.log; do
    echo "--- $f" >&2
    tail -n 20 "$f" >&2 || true
  done
  exit 1
}
# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 1
  done
}

# Eight consecutive free loopback ports, below the kernel's ephemeral range: the other tests that
# ctest runs alongside this one bind port 0 and connect out, and both take ephemeral ports, so a base
# chosen inside that range can be taken between this check and the broker's bind (seen in CI).
port_free() { ! (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
read -r EPHEMERAL_LOW _ < /proc/sys/net/ipv4/ip_local_port_range
PORT_SPAN=$((EPHEMERAL_LOW - 10000 - 8))
((PORT_SPAN > 1000)) || PORT_SPAN=1000
for _ in $(seq 1 50); do
  BASE=$((10000 + (RANDOM * 32768 + RANDOM) % PORT_SPAN))
  ok=1
  for i in $(seq 0 7); do port_free $((BASE + i)) || ok=0; done
  ((ok)) && break
done

HOST=$(hostname)
# Job control on for the start: a background job then gets its own process group and keeps
# SIGINT (a non-interactive shell starts background jobs with SIGINT ignored, and a script cannot
# trap a signal ignored at its start), as when a user presses Ctrl-C.
set -m
HW_NO_BUILD=1 HW_BUILD_DIR="$BUILD" HW_DATA="$T/data" HW_PORT_BASE=$BASE HW_INTERVAL=2s \
  "$SRC/scripts/run-local.sh" > "$T/run-local.out" 2>&1 &
RUN_PID=$!
set +m
started=$SECONDS

wait_for 60 grep -q "hostwatch is running" "$T/run-local.out" || fail "the stack did not come up: $(cat "$T/run-local.out")"

# Redis: the latest cpu.busy of this host (series "cpu.busy;cpu=total"), read with redis-cli.
redis_has() {
  local v
  v=$(redis-cli -p $((BASE + 6)) hget "hw:latest:{$HOST}" "cpu.busy;cpu=total" 2> /dev/null) || return 1
  [[ $v =~ ^[0-9.e+-]+\ [0-9]{13}$ ]]
}
wait_for $((60 - (SECONDS - started))) redis_has || fail "no cpu.busy in redis: $(redis-cli -p $((BASE + 6)) keys '*' | head)"

# Whisper: the file carbon made for hostwatch.<host>.cpu.busy.total, with at least one value.
WSP="$T/data/carbon/storage/whisper/hostwatch/${HOST//[^A-Za-z0-9_-]/_}/cpu/busy/total.wsp"
whisper_has() {
  [[ -f $WSP ]] && whisper-fetch --from=$(($(date +%s) - 600)) "$WSP" | awk '$2 != "None" {n++} END {exit !(n > 0)}'
}
wait_for $((60 - (SECONDS - started))) whisper_has || fail "no cpu.busy in whisper at $WSP"

# graphite-web: the render has values, and its PNG is a real image that is not the empty chart.
WEB="http://127.0.0.1:$((BASE + 7))"
TARGET="hostwatch.${HOST//[^A-Za-z0-9_-]/_}.cpu.busy.total"
render_has() {
  curl -sf "$WEB/render?target=$TARGET&from=-10min&format=json" |
    /usr/bin/python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d and any(v is not None for v, t in d[0]["datapoints"]) else 1)'
}
wait_for $((60 - (SECONDS - started))) render_has || fail "graphite-web renders no values for $TARGET"
curl -sf -o "$T/chart.png" "$WEB/render?target=$TARGET&from=-10min&width=600&height=300&format=png"
curl -sf -o "$T/empty.png" "$WEB/render?target=hostwatch.no_such_host.cpu.busy.total&from=-10min&width=600&height=300&format=png"
[[ $(head -c 8 "$T/chart.png" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] || fail "the render is not a PNG"
cmp -s "$T/chart.png" "$T/empty.png" && fail "the PNG is the empty chart"

# Every target of the grafana dashboard renders through graphite-web (HTTP 200 and JSON), and the
# ones this host can feed (all but disks on a machine without real ones) have values.
/usr/bin/python3 - "$SRC/deploy/grafana/hostwatch-overview.json" "$WEB" "${HOST//[^A-Za-z0-9_-]/_}" << 'PY' || fail "a dashboard target does not render"
import json, sys, urllib.parse, urllib.request
dash, web, host = sys.argv[1], sys.argv[2], sys.argv[3]
def targets(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "target" and isinstance(v, str):
                yield v
            else:
                yield from targets(v)
    elif isinstance(node, list):
        for v in node:
            yield from targets(v)
with_values = 0
for t in targets(json.load(open(dash))):
    t = t.replace("$host", host).replace("$iface", "*")
    url = web + "/render?" + urllib.parse.urlencode({"target": t, "from": "-10min", "format": "json"})
    series = json.load(urllib.request.urlopen(url, timeout=30))
    if any(v is not None for s in series for v, _ in s["datapoints"]):
        with_values += 1
    else:
        print("no values yet:", t, file=sys.stderr)
print(f"dashboard: every target renders, {with_values} with values")
sys.exit(0 if with_values >= 8 else 1)
PY

# hostwatch top in a pseudo-terminal: this host's row shows up.
top_shows() {
  timeout -s INT 8 script -qfec "$BUILD/cli/hostwatch top --tap tcp://127.0.0.1:$((BASE + 2))" /dev/null \
    > "$T/top.out" 2>&1 < /dev/null || true
  grep -q "$HOST" "$T/top.out"
}
wait_for $((60 - (SECONDS - started))) top_shows || fail "hostwatch top did not show $HOST: $(tail -c 2000 "$T/top.out")"
echo "everything seen $((SECONDS - started)) s after the start"

# The alerter: the demo log's error burst (10 s after the start) fires app_errors, mailed as an
# .eml file into the outbox (no SMTP server in the local stack).
eml_has() { grep -lqs "app_errors" "$T"/data/outbox/sent/*.eml; }
wait_for $((120 - (SECONDS - started))) eml_has || fail "no app_errors mail in $T/data/outbox/sent: $(ls "$T"/data/outbox/sent 2>&1)"
echo "alert mail seen $((SECONDS - started)) s after the start"

# Ctrl-C: every process stops, and none logged an error.
mapfile -t pids < <(sed -n 's/^hostwatch: started .* (pid \([0-9]*\))$/\1/p' "$T/run-local.out")
((${#pids[@]} >= 7)) || fail "only ${#pids[@]} processes started"
kill -INT "$RUN_PID"
wait_for 30 bash -c "! kill -0 $RUN_PID 2> /dev/null" || fail "run-local.sh did not stop on SIGINT"
for pid in "${pids[@]}"; do
  kill -0 "$pid" 2> /dev/null && fail "pid $pid still runs after the stop"
done
RUN_PID=
# Our daemons' text log lines are "<time> <level> <name>: <message>".
if grep -E '^[0-9T:.+-]+ (error|critical) ' "$T"/data/logs/{broker,collector,logwatch,alerter,rediscache,graphite}.log 2> /dev/null; then
  fail "a daemon logged an error in a healthy run"
fi
echo "PASS"
