#!/usr/bin/env bash
# run.sh BUILD — finite-difference gradient checks of the generated backward,
# one net per op (tests/gradcheck/nets/*.net), see gradcheck.c.
set -u
build=${1:-build}
cc=${CC:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run_case() {
  local f=$1 name out
  name=$(basename "$f" .net)
  out=$work/$name
  mkdir -p "$out"
  {
    "$build/netc" emit "$f" -o "$out" --no-runtime &&
    $cc -std=c11 -O1 -Wall -Wextra -Werror $SANFLAGS -DNET="gc_$name" -Iruntime -I"$out" -o "$out/check" \
        tests/gradcheck/gradcheck.c "$out/gc_$name.c" "$build/libnnrt.a" -lz -lm &&
    "$out/check"
  } > "$out.log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ]; then echo "ok   $name: $(tail -1 "$out.log")"; else echo "FAIL $name"; tail -12 "$out.log" | sed 's/^/     /'; fi
  return $rc
}
export -f run_case
export work build cc SANFLAGS=${SANFLAGS:-}

ls tests/gradcheck/nets/*.net | xargs -P "$(nproc)" -I{} bash -c 'run_case "$1"' _ {} > "$work/results.txt"
# The nets with dense or conv2d layers again, every such layer on the packed GEMM.
grep -l 'dense\|conv2d' tests/gradcheck/nets/*.net | xargs -P "$(nproc)" -I{} \
  bash -c 'NETC_FORCE_GEMM=1 run_case "$1" | sed "s/^\(ok  \|FAIL\) /\1 gemm:/"' _ {} >> "$work/results.txt"
sort "$work/results.txt"
pass=$(grep -c '^ok' "$work/results.txt")
fail=$(grep -c '^FAIL' "$work/results.txt")
echo "gradcheck: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
