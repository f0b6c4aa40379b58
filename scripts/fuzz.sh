#!/usr/bin/env bash
# scripts/fuzz.sh: builds the libFuzzer targets (the `fuzz` preset: clang 14, ASan/UBSan, every
# library instrumented) and runs each for --seconds (default 60), seeded from
# <dir>/fuzz/corpus/<target>; new inputs libFuzzer finds stay in build/fuzz/corpus/<target>.
# Exits non-zero on the first finding; the input is kept in build/fuzz/artifacts/.
#
#   scripts/fuzz.sh [--seconds N] [--no-build] [target...]
#   targets: frontend_envelope backend_request (broker/fuzz), tail_matcher (logwatch/fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=60 BUILD=1 TARGETS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) SECS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
[[ ${#TARGETS[@]} -gt 0 ]] || TARGETS=(frontend_envelope backend_request tail_matcher)
dir_of() { [[ $1 == tail_matcher ]] && echo logwatch || echo broker; }

if [[ $BUILD -eq 1 ]]; then
  cmake --preset fuzz > build/fuzz.configure.log 2>&1 || { cat build/fuzz.configure.log; exit 1; }
  cmake --build build/fuzz -j "${JOBS:-$(nproc)}" --target "${TARGETS[@]/#/hw_fuzz_}"
fi

# Seeds: a few hand-made valid and invalid inputs per target, in git (<dir>/fuzz/corpus/<target>).
mkdir -p build/fuzz/artifacts
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
for t in "${TARGETS[@]}"; do
  bin=build/fuzz/$(dir_of "$t")/fuzz/hw_fuzz_$t
  [[ -x $bin ]] || { echo "fuzz.sh: $bin is missing" >&2; exit 1; }
  mkdir -p "build/fuzz/corpus/$t"
  echo "=== fuzz $t for ${SECS}s"
  log=build/fuzz/$t.log
  rc=0
  "$bin" -max_total_time="$SECS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="build/fuzz/artifacts/$t-" -print_final_stats=1 \
    "build/fuzz/corpus/$t" "$(dir_of "$t")/fuzz/corpus/$t" > "$log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|SUMMARY|invariant)' "$log" || true
  if [[ $rc -ne 0 ]]; then
    tail -40 "$log" >&2
    echo "fuzz.sh: $t failed (exit $rc); the input is in build/fuzz/artifacts/, the log in $log" >&2
    exit 1
  fi
done
echo "=== fuzz: no findings"
