# Sourced by the bench scripts: a work folder whose processes are stopped by PID when the script
# exits, and loopback ports chosen at run time.
#
#   bench_workdir NAME   W=$(mktemp -d ${TMPDIR:-/tmp}/hw-bench-NAME.XXXXXX) and PIDS=(); at exit
#                        every PID in PIDS is stopped (stoppid) and $W removed, or kept and named
#                        when KEEP=1; INT and TERM exit 130 through the same cleanup.
#   stoppid PID          SIGTERM, up to 10 s for it to go, then SIGKILL; reaps it.
#   freeport             a loopback port nothing listens on (the kernel's choice; it may be taken
#                        again before the caller binds it, a small race that is fine here).
#   waitport PORT        waits up to 10 s for something to listen on 127.0.0.1:PORT; 1 if nothing.
#   nowns                the wall clock in nanoseconds.

stoppid() {
  kill "$1" 2>/dev/null || return 0
  for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }; sleep 0.1; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

bench_workdir() {
  BENCH_NAME=$1
  W=$(mktemp -d "${TMPDIR:-/tmp}/hw-bench-$1.XXXXXX")
  PIDS=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  for p in "${PIDS[@]}"; do stoppid "$p"; done
  if [[ ${KEEP:-0} -eq 1 ]]; then echo "$BENCH_NAME.sh: kept $W"; else rm -rf "$W"; fi
}

freeport() { /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }
waitport() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }
nowns() { date +%s%N; }

# bench_broker DIR [YAML LINE...]: starts $BROKER on three free loopback ports (FRONT, BACK, TAP),
# 4 partitions, its journal in DIR/broker, each extra line added to the broker: section
# ("  fsync: always"); config DIR/broker.yaml, output DIR/broker.log. Sets BROKER_PID (also in
# PIDS); returns 1 when the frontend or the backend does not listen within 10 s.
bench_broker() {
  local d=$1 line
  shift
  FRONT=$(freeport) BACK=$(freeport) TAP=$(freeport)
  mkdir -p "$d"
  {
    echo "broker:"
    echo "  frontend: tcp://127.0.0.1:$FRONT"
    echo "  backend: tcp://127.0.0.1:$BACK"
    echo "  tap: tcp://127.0.0.1:$TAP"
    echo "  data_dir: $d/broker"
    echo "  partitions: 4"
    for line in "$@"; do echo "$line"; done
    echo "log: {level: warn}"
  } >"$d/broker.yaml"
  "$BROKER" --config "$d/broker.yaml" >"$d/broker.log" 2>&1 &
  BROKER_PID=$!
  PIDS+=("$BROKER_PID")
  waitport "$FRONT" && waitport "$BACK"
}
