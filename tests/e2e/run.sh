#!/usr/bin/env bash
# run.sh BUILD — runs every tests/e2e/test_*.sh with BUILD, nproc at a time,
# and counts results (each test uses its own temporary directory).
set -u
build=${1:-build}
out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
export build out
# The slowest first (measured, plain build), so that no long test starts
# last and runs alone while the other cores idle; then the rest, each once
# (a name in the list that no longer exists is skipped).
slow="test_embed_example test_tune test_threads_identical test_generated_warnings"
{ for n in $slow; do ls "tests/e2e/$n.sh" 2> /dev/null; done; ls tests/e2e/test_*.sh; } | awk '!seen[$0]++' | xargs -P "$(nproc)" -I{} bash -c \
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
