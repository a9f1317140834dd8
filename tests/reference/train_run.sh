#!/usr/bin/env bash
# train_run.sh BUILD — compares netc's training step with PyTorch's, case by
# case (tests/reference/train/*/): loss of every step and every parameter
# after the steps, within the case's tolerance (1e-4 * max(1, |expected|)).
. "$(dirname "$0")/../lib/suite.sh"

suite_body() {
  local dir=$1 out=$2 net
  "$build/netc" emit "$dir/model.net" -o "$out" --no-runtime ${NETC_EMIT_TARGET:+--target "$NETC_EMIT_TARGET"} &&
  net=$(basename "$(ls "$out"/*.c)" .c) &&
  $cc -std=c11 -O1 -Wall -Wextra -Werror $SANFLAGS -DNET="$net" -Iruntime -I"$out" -o "$out/check" \
      tests/reference/train_check.c "$out/$net.c" "$build/libnnrt.a" -lz -lsleef -lm &&
  "$out/check" "$dir"
}

ls -d tests/reference/train/*/ | suite_run
# The nets with convolutions again on each route: every conv2d on the GEMM,
# then every one the direct kernels take direct (netc tune may choose either).
# The plain pass only: under the sanitizers (make asan) the gradient checks
# run both routes, on smaller nets.
if [ -z "$SANFLAGS" ]; then
  convs=$(grep -l conv2d tests/reference/train/*/model.net | xargs -n1 dirname)
  echo "$convs" | suite_run_gemm
  echo "$convs" | suite_run_direct
  echo "$convs" | suite_run_generic  # 8-float vectors in the direct and filter-vector kernels
  # Every dense layer on the GEMM: the first layer's weight gradient GEMM
  # then applies the optimizer update in its epilogue (emit_update_fused),
  # for every optimizer.  (Those with convolutions ran on the GEMM above.)
  grep -L conv2d $(grep -l dense tests/reference/train/*/model.net) | xargs -n1 dirname | suite_run_gemm
  # Every case again with train_step in 3 parts (those with batchnorm or
  # dropout cannot be sharded and are left out).
  grep -L 'batchnorm\|dropout' tests/reference/train/*/model.net | xargs -n1 dirname | suite_run_shards
fi
suite_report "training reference"
