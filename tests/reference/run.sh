#!/usr/bin/env bash
# run.sh BUILD — compares netc's inference against PyTorch's, case by case.
#
# For each tests/reference/cases/<case>/: emit the net, compile it with the
# prebuilt runtime (warnings are errors), run `predict` on the committed
# weights and inputs, and compare every output with npycmp
# (|got - expected| <= 1e-4 * max(1, |expected|)).
set -u
build=${1:-build}
cc=${CC:-cc}
netc=$build/netc
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run_case() {
  local dir=$1 name out bin log
  name=$(basename "$dir")
  out=$work/$name
  log=$out.log
  mkdir -p "$out"
  {
    "$netc" emit "$dir/model.net" -o "$out" --no-runtime --main &&
    net=$(basename "$(ls "$out"/*_main.c)" _main.c) &&
    $cc -std=c11 -O1 -Wall -Wextra -Werror $SANFLAGS -Iruntime -I"$out" -o "$out/bin" "$out/$net.c" "$out/${net}_main.c" \
        "$build/libnnrt.a" -lz -lm &&
    inputs=() &&
    if [ -f "$dir/input.npy" ]; then inputs=(--input "$dir/input.npy"); else
      for f in "$dir"/input_*.npy; do n=$(basename "$f" .npy); inputs+=(--input "${n#input_}=$f"); done; fi &&
    if [ -f "$dir/expected.npy" ]; then
      "$out/bin" predict --weights "$dir/weights.safetensors" "${inputs[@]}" --output "$out/got.npy" --batch 2 &&
      "$build/tests/npycmp" "$out/got.npy" "$dir/expected.npy"
    else
      "$out/bin" predict --weights "$dir/weights.safetensors" "${inputs[@]}" --output "$out/got" --batch 2 &&
      for f in "$dir"/expected_*.npy; do n=$(basename "$f" .npy); "$build/tests/npycmp" "$out/got/${n#expected_}.npy" "$f" || exit 1; done
    fi
  } > "$log" 2>&1
  local rc=$?
  if [ $rc -eq 0 ]; then echo "ok   $name: $(tail -1 "$log")"; else echo "FAIL $name"; sed 's/^/     /' "$log" | tail -15; fi
  return $rc
}
export -f run_case
export work build cc netc SANFLAGS=${SANFLAGS:-}

ls -d tests/reference/cases/*/ | xargs -P "$(nproc)" -I{} bash -c 'run_case "${1%/}"' _ {} > "$work/results.txt"
# The dense and conv2d cases again with every layer on the packed GEMM.
ls -d tests/reference/cases/{conv2d,dense}*/ | xargs -P "$(nproc)" -I{} \
  bash -c 'NETC_FORCE_GEMM=1 run_case "${1%/}" | sed "s/^\(ok  \|FAIL\) /\1 gemm:/"' _ {} >> "$work/results.txt"
sort "$work/results.txt"
pass=$(grep -c '^ok' "$work/results.txt")
fail=$(grep -c '^FAIL' "$work/results.txt")
echo "reference: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
