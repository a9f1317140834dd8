#!/usr/bin/env bash
# run.sh BUILD — runs every tests/e2e/test_*.sh with BUILD and counts results.
set -u
build=${1:-build}
pass=0; fail=0
for t in tests/e2e/test_*.sh; do
  if out=$(bash "$t" "$build" 2>&1); then
    pass=$((pass + 1)); echo "ok   $(basename "$t" .sh)"
  else
    fail=$((fail + 1)); echo "FAIL $(basename "$t" .sh)"; echo "$out" | tail -20 | sed 's/^/     /'
  fi
done
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
