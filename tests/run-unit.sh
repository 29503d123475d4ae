#!/usr/bin/env bash
# Runs every cmocka unit binary given; prints one closing tally.
set -u
pass=0 fail=0 failed=()
for t in "$@"; do
  if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed+=("$(basename "$t")"); fi
done
echo "unit suites: $pass passed, $fail failed${failed:+ (${failed[*]})}"
[ "$fail" -eq 0 ]
