#!/usr/bin/env bash
# train_run.sh BUILD — compares netc's training step with PyTorch's, case by
# case (tests/reference/train/*/): loss of every step and every parameter
# after the steps, within the case's tolerance (1e-4 * max(1, |expected|)).
set -u
build=${1:-build}
cc=${CC:-cc}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run_case() {
  local dir=$1 name out net
  name=$(basename "$dir")
  out=$work/$name
  mkdir -p "$out"
  {
    "$build/netc" emit "$dir/model.net" -o "$out" --no-runtime &&
    net=$(basename "$(ls "$out"/*.c)" .c) &&
    $cc -std=c11 -O1 -Wall -Wextra -Werror $SANFLAGS -DNET="$net" -Iruntime -I"$out" -o "$out/check" \
        tests/reference/train_check.c "$out/$net.c" "$build/libnnrt.a" -lz -lm &&
    "$out/check" "$dir"
  } > "$out.log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ]; then echo "ok   $name: $(tail -1 "$out.log")"; else echo "FAIL $name"; tail -12 "$out.log" | sed 's/^/     /'; fi
  return $rc
}
export -f run_case
export work build cc SANFLAGS=${SANFLAGS:-}

ls -d tests/reference/train/*/ | xargs -P "$(nproc)" -I{} bash -c 'run_case "${1%/}"' _ {} > "$work/results.txt"
sort "$work/results.txt"
pass=$(grep -c '^ok' "$work/results.txt")
fail=$(grep -c '^FAIL' "$work/results.txt")
echo "training reference: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
