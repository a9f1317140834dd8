#!/usr/bin/env bash
# run.sh BUILD — runs every tests/e2e/test_*.sh with BUILD, nproc at a time,
# and counts results (each test uses its own temporary directory).
set -u
build=${1:-build}
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
export build out
ls tests/e2e/test_*.sh | xargs -P "$(nproc)" -I{} bash -c \
  'n=$(basename "$1" .sh); if bash "$1" "$build" > "$out/$n.log" 2>&1; then touch "$out/$n.ok"; fi' _ {}
pass=0; fail=0
for t in tests/e2e/test_*.sh; do
  n=$(basename "$t" .sh)
  if [ -e "$out/$n.ok" ]; then
    pass=$((pass + 1)); echo "ok   $n"
  else
    fail=$((fail + 1)); echo "FAIL $n"; tail -20 "$out/$n.log" | sed 's/^/     /'
  fi
done
echo "e2e: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
