#!/usr/bin/env bash
# The run command: builds hostwatch (release preset) and runs the whole local pipeline with default
# configs, data under ./hostwatch-data/. Ctrl-C (or SIGTERM) stops every process by PID, cleanly.
#   scripts/run-local.sh            build and run
#   HW_NO_BUILD=1 scripts/run-local.sh   run what is already built
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${HW_NO_BUILD:-}" ]]; then
  scripts/install-deps.sh
  cmake --preset release > /dev/null
  cmake --build --preset release -j "$(nproc)"
fi
BIN=build/release
mkdir -p hostwatch-data/logs

pids=()
stop_all() {
  trap - INT TERM EXIT
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[$i]}" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  echo "hostwatch: stopped"
}
trap stop_all INT TERM EXIT

# The broker first, then every daemon this checkout has built, in pipeline order. Each uses
# deploy/config/<name>.yaml when present, else its built-in defaults (all on loopback).
for name in broker collector logwatch alerter rediscache graphite; do
  exe="$BIN/$name/hostwatch-$name"
  [[ -x "$exe" ]] || continue
  args=()
  [[ -f "deploy/config/$name.yaml" ]] && args=(--config "deploy/config/$name.yaml")
  "$exe" "${args[@]}" 2> "hostwatch-data/logs/$name.log" &
  pids+=($!)
  echo "hostwatch: started hostwatch-$name (pid $!, log hostwatch-data/logs/$name.log)"
done

echo "hostwatch: running; Ctrl-C to stop"
# Exit (and stop the rest) as soon as any daemon exits.
wait -n "${pids[@]}"
status=$?
echo "hostwatch: a daemon exited with status $status; stopping the others"
exit "$status"
