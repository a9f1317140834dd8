#!/usr/bin/env bash
# run.sh BUILD — what `make bench` runs: `netc bench` (per-kernel profile,
# fused against unfused) on the two example nets the performance targets
# name, then bench/side_by_side.sh (netc against PyTorch, and netc's GEMM
# against OpenBLAS: BUILD/gemm_bench, which it builds).  A few minutes; a
# benchmark, not a test: nothing here fails on a slow number.
# STEPS (default 100) is passed to both; see side_by_side.sh for the rest.
set -eu
build=${1:-build}
steps=${STEPS:-100}
NETC_WITH_TORCH=1 bash scripts/install-deps.sh || echo "run.sh: PyTorch could not be installed; netc only" >&2
for net in fashion_mlp lenet5; do
  echo "== netc bench examples/$net.net --batch 64 --steps $steps"
  "$build/netc" bench "examples/$net.net" --batch 64 --steps "$steps"
  echo
done
STEPS=$steps bash bench/side_by_side.sh "$build"
