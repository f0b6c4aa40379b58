#!/usr/bin/env bash
# Installs every Debian 12 package hostwatch needs to build, test and run. Idempotent: when all are
# present it does nothing (no apt-get update), so re-running it is cheap.
#   scripts/install-deps.sh          build + test + run
#   scripts/install-deps.sh --bench  also the peers the benchmarks compare against
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config ccache clang-14 libclang-rt-14-dev clang-format-14
  # libraries
  libzmq3-dev cppzmq-dev libprotobuf-dev protobuf-compiler libspdlog-dev libfmt-dev libhiredis-dev
  libyaml-cpp-dev libre2-dev libvectorscan-dev libcurl4-openssl-dev libgtest-dev libgmock-dev
  # hostwatch-alerter links jemalloc when present (alerter/CMakeLists.txt)
  libjemalloc2
  # the static archives hostwatch-collector links (libzmq.a's own dependencies; see
  # cmake/HostwatchDependencies.cmake): libzmq3-dev pulls them in today, named here on purpose
  libsodium-dev libpgm-dev libnorm-dev libbsd-dev libmd-dev libkrb5-dev
  # real servers and tools the integration tests start
  redis-server redis-tools graphite-carbon python3-whisper python3-aiosmtpd logrotate openssl curl
  procps iproute2 valgrind
  # scripts/run-local.sh's charts (and the test that drives it)
  graphite-web gunicorn
  # alerter/delivery's alertmanager receiver is tested against the real one
  prometheus-alertmanager
  # systemd-analyze verify checks the units in deploy/systemd (tests/integration/deploy_test.cc)
  systemd
)
BENCH_PACKAGES=(nats-server mtail collectd-core carbon-c-relay linux-perf hyperfine)

if [[ "${1:-}" == "--bench" ]]; then
  PACKAGES+=("${BENCH_PACKAGES[@]}")
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  SUDO=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# Debian's policy-rc.d keeps packaged services (redis, carbon, nats) from starting on their own in
# containers; tests start their own copies on loopback ports anyway.
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
