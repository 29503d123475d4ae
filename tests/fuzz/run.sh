#!/usr/bin/env bash
# Runs each libFuzzer target for SECONDS on its generated seeds, the corpus
# it grew in earlier runs (OUT/corpus/<target>, kept between runs) and the
# committed reproducers of bugs it found (tests/fuzz/regress/<target>).
# A crash leaves its input in OUT/crashes/ and fails the run.
# Usage: run.sh SECONDS OUT FUZZ_BINARY...
# Env: FUZZ_ARGS adds libFuzzer flags (e.g. -runs=10000000 for a campaign).
set -u
secs=$1
out=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
pass=0 fail=0 failed=()
mkdir -p "$out/logs" "$out/crashes"
for bin in "$@"; do
  t=$(basename "$bin")
  t=${t#fuzz_}
  dirs=("$out/corpus/$t")
  mkdir -p "$out/corpus/$t"
  [ -d "$out/seeds/$t" ] && dirs+=("$out/seeds/$t")
  [ -d "$root/tests/fuzz/regress/$t" ] && dirs+=("$root/tests/fuzz/regress/$t")
  log=$out/logs/$t.log
  # 10 s per input is generous: every target handles an input in
  # milliseconds, so a timeout is a hang, not a slow machine.
  # shellcheck disable=SC2086
  "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$out/crashes/$t-" ${FUZZ_ARGS:-} "${dirs[@]}" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  if [ "$rc" -eq 0 ]; then
    pass=$((pass + 1))
    printf '  %-10s ok: %s runs (%s/s), %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-cov: ?}"
  else
    fail=$((fail + 1))
    failed+=("$t")
    printf '  %-10s FAILED (exit %d), log %s:\n' "$t" "$rc" "$log"
    grep -E -A 30 'ERROR: |fuzz check failed|runtime error' "$log" | head -n 40 | sed 's/^/    /'
  fi
done
echo "fuzz targets: $pass passed, $fail failed${failed:+ (${failed[*]})}"
[ "$fail" -eq 0 ]
