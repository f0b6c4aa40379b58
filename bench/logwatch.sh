#!/usr/bin/env bash
# hostwatch logwatch vs mtail --one_shot on the same generated mixed log and the same 5 rules.
# Ours is `hostwatch test-logrules --json`: the daemon's tailer, prefilter and rule code, reading
# the file from its beginning to its end, without publishing. Prints lines/s, CPU seconds and peak
# RSS of each and the ratios; exits 1 when the match counts differ.
#   bench/logwatch.sh [--lines N] [--runs R] [--no-build] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
LINES=500000
RUNS=3
BUILD=1
KEEP=0
BUILD_DIR=${HW_BENCH_BUILD_DIR:-build/release}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --lines) LINES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --keep) KEEP=1; shift ;;
    *) echo "usage: bench/logwatch.sh [--lines N] [--runs R] [--no-build] [--keep]" >&2; exit 2 ;;
  esac
done
command -v mtail > /dev/null || { echo "mtail is missing: scripts/install-deps.sh --bench" >&2; exit 1; }
if [[ $BUILD == 1 ]]; then
  cmake --preset release -B "$BUILD_DIR" > /dev/null  # build/release unless HW_BENCH_BUILD_DIR
  cmake --build "$BUILD_DIR" -j "$(nproc)" --target hostwatch > /dev/null
fi
HW="$BUILD_DIR/cli/hostwatch"
W=$(mktemp -d)
[[ $KEEP == 1 ]] && echo "keeping $W" >&2 || trap 'rm -rf "$W"' EXIT
/usr/bin/python3 bench/logwatch/gen_log.py "$LINES" > "$W/mixed.log"

# /usr/bin/time -f: wall seconds, user + system seconds, peak RSS (KiB).
measure() {  # name, command...
  local name=$1; shift
  /usr/bin/time -f "%e %U %S %M" -o "$W/$name.time" "$@" > "$W/$name.out" 2> "$W/$name.err"
  read -r wall user sys rss < "$W/$name.time"
  echo "$wall $(echo "$user + $sys" | bc -l) $rss"
}
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

declare -a ours_wall ours_cpu ours_rss mtail_wall mtail_cpu mtail_rss
for ((r = 1; r <= RUNS; r++)); do
  read -r w c m < <(measure ours "$HW" test-logrules --config bench/logwatch/rules.yaml --examples 0 --json "$W/mixed.log")
  ours_wall+=("$w"); ours_cpu+=("$c"); ours_rss+=("$m")
  read -r w c m < <(measure mtail mtail --one_shot --one_shot_format=prometheus --progs bench/logwatch/progs \
                     --logs "$W/mixed.log" --logtostderr)
  mtail_wall+=("$w"); mtail_cpu+=("$c"); mtail_rss+=("$m")
done

# Match counts, rule by rule.
fail=0
printf '\n| rule | hostwatch | mtail |\n|---|---|---|\n'
for rule in nginx_5xx sshd_failed_password kernel_oom app_error app_latency; do
  ours=$(grep -o "\"$rule\": {\"matches\": [0-9]*" "$W/ours.out" | grep -o '[0-9]*$')
  theirs=$(grep -E "^$rule\{" "$W/mtail.out" | awk '{print $2}')
  printf '| %s | %s | %s |\n' "$rule" "$ours" "$theirs"
  [[ "$ours" == "$theirs" ]] || fail=1
done

ow=$(printf '%s\n' "${ours_wall[@]}" | median); oc=$(printf '%s\n' "${ours_cpu[@]}" | median)
orss=$(printf '%s\n' "${ours_rss[@]}" | median)
mw=$(printf '%s\n' "${mtail_wall[@]}" | median); mc=$(printf '%s\n' "${mtail_cpu[@]}" | median)
mrss=$(printf '%s\n' "${mtail_rss[@]}" | median)
# /usr/bin/time has 10 ms resolution: never divide by zero.
ow=$(echo "if ($ow < 0.01) 0.01 else $ow" | bc -l); oc=$(echo "if ($oc < 0.01) 0.01 else $oc" | bc -l)
printf '\n%s lines, %s MiB, median of %s runs\n\n' "$LINES" "$(( $(stat -c %s "$W/mixed.log") >> 20 ))" "$RUNS"
printf '| system | lines/s | CPU s | CPU µs/line | peak RSS MiB |\n|---|---|---|---|---|\n'
row() { printf '| %s | %.0f | %.2f | %.3f | %.1f |\n' "$1" "$(echo "$LINES / $2" | bc -l)" "$3" \
          "$(echo "$3 * 1000000 / $LINES" | bc -l)" "$(echo "$4 / 1024" | bc -l)"; }
row "hostwatch test-logrules" "$ow" "$oc" "$orss"
row "mtail --one_shot" "$mw" "$mc" "$mrss"
printf '\nratios: lines/s %.1fx mtail (goal >= 10x); CPU per line %.3fx mtail (goal <= 0.1x); RSS %.2fx mtail (goal <= 1x)\n' \
  "$(echo "$mw / $ow" | bc -l)" "$(echo "$oc / $mc" | bc -l)" "$(echo "$orss / $mrss" | bc -l)"
printf 'rounds (wall s): ours %s; mtail %s\n' "${ours_wall[*]}" "${mtail_wall[*]}"
if [[ $fail == 1 ]]; then
  echo "MATCH COUNTS DIFFER" >&2
  exit 1
fi
