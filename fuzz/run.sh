#!/usr/bin/env bash
# run.sh [SECONDS] — builds every libFuzzer target in fuzz/ with clang and runs
# each for SECONDS (default 60) on its seed corpus (fuzz/seeds/<target>/).
# Crashes are left as crash-* files in build/fuzz/ and fail the run.
set -euo pipefail
secs=${1:-60}
out=build/fuzz
mkdir -p "$out"
make -s build/net.tab.c build/net.lex.c
compiler=$(ls compiler/*.c | grep -v main.c)
for src in fuzz/fuzz_*.c; do
  name=$(basename "$src" .c); target=${name#fuzz_}
  bin=$out/$name
  srcs="$src runtime/*.c"
  [ "$target" = frontend ] && srcs="$src $compiler runtime/*.c build/net.tab.c build/net.lex.c build/runtime_blob.c"
  clang -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -fsanitize=fuzzer,address,undefined -Icompiler -Iruntime -Ibuild \
    -o "$bin" $srcs -lz -lsleef -lm
  corpus=$out/corpus-$target; mkdir -p "$corpus"
  dict=""; [ -f "fuzz/$target.dict" ] && dict="-dict=$PWD/fuzz/$target.dict"
  echo "== $name for ${secs}s"
  (cd "$out" && "./$name" -max_total_time="$secs" -print_final_stats=1 $dict "corpus-$target" "../../fuzz/seeds/$target" 2>&1 | tail -4)
done
