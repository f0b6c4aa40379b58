#!/usr/bin/env bash
# The test command: installs dependencies, builds, and runs every test. Exits non-zero on any failure.
#   1. ci        g++, warnings as errors: unit and integration tests (real redis, SMTP, carbon)
#   2. ci-clang  clang 14 with -Wthread-safety, warnings as errors, AddressSanitizer +
#                UndefinedBehaviorSanitizer: unit tests
# HW_TEST_PRESETS="ci dev" runs other presets (dev: g++ with the sanitizers).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

PRESETS=${HW_TEST_PRESETS:-"ci ci-clang"}
JOBS=$(nproc)
# Sanitizer reports must fail the run, and leak checks are on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for preset in $PRESETS; do
  echo "=== [$preset] configure and build"
  start=$(date +%s)
  mkdir -p build
  cmake --preset "$preset" > "build/$preset.configure.log" 2>&1 || { cat "build/$preset.configure.log"; exit 1; }
  if [[ $preset == ci ]]; then
    cmake --build --preset "$preset" -j "$JOBS"
  else
    # These presets run the unit tests only: build just those (and what they depend on), not the
    # daemons, integration tests and bench tools, which keeps a cold CI run well under 30 minutes.
    mapfile -t targets < <(ctest --preset "$preset" -N | sed -n 's/^ *Test *#[0-9]*: *//p')
    cmake --build --preset "$preset" -j "$JOBS" --target "${targets[@]}"
  fi
  echo "=== [$preset] built in $(( $(date +%s) - start ))s; running tests"
  ctest --preset "$preset" -j 2
done
echo "=== all tests passed (${PRESETS})"
