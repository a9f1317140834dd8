#!/usr/bin/env bash
# run.sh BUILD — finite-difference gradient checks of the generated backward,
# one net per op (tests/gradcheck/nets/*.net), see gradcheck.c.
. "$(dirname "$0")/../lib/suite.sh"
suite_ext=.net

suite_body() {
  local f=$1 out=$2 name
  name=$(basename "$f" .net)
  "$build/netc" emit "$f" -o "$out" --no-runtime ${NETC_EMIT_TARGET:+--target "$NETC_EMIT_TARGET"} &&
  $cc -std=c11 -O1 -Wall -Wextra -Werror $SANFLAGS -DNET="gc_$name" -Iruntime -I"$out" -o "$out/check" \
      tests/gradcheck/gradcheck.c "$out/gc_$name.c" "$build/libnnrt.a" -lz -lsleef -lm &&
  "$out/check"
}

ls tests/gradcheck/nets/*.net | suite_run
# The nets with dense or conv2d layers again, every such layer on the packed GEMM.
grep -l 'dense\|conv2d' tests/gradcheck/nets/*.net | suite_run_gemm
# The nets with conv2d layers again, every one the direct kernels take direct.
grep -l 'conv2d' tests/gradcheck/nets/*.net | suite_run_direct
# The nets with conv2d layers again emitted for the generic target: 8-float
# vectors in the direct and filter-vector kernels (16 on an AVX-512 host).
grep -l 'conv2d' tests/gradcheck/nets/*.net | suite_run_generic
# And the small dense layers' vector loops on 8-float vectors.
ls tests/gradcheck/nets/dense_vec.net | suite_run_generic
# The nets that can be sharded again, train_step in 4 parts: on a batch of 3
# the first part is empty and the others take one sample each.
suite_shards=4
grep -L 'batchnorm\|dropout' tests/gradcheck/nets/*.net | suite_run_shards
# The filter-vector convolutions again with their input gradients on the GEMM.
ls tests/gradcheck/nets/conv2d_filters.net | suite_run_gemm_dx
# That net must reach both input-gradient routes of filter-vector layers:
# over pixels for three of its layers (dx=pixels), the GEMM for its 5x5 one.
pixels=$("$build/netc" dump-ir tests/gradcheck/nets/conv2d_filters.net | grep -c 'dx=pixels')
if [ "$pixels" = 3 ]; then
  echo "ok   routes: conv2d_filters: 3 filter-vector layers with dx=pixels, 1 on the GEMM" >> "$work/results.txt"
else
  echo "FAIL routes: conv2d_filters: $pixels layers with dx=pixels, expected 3 (the net no longer reaches both routes)" >> "$work/results.txt"
fi
# And conv2d_gather must reach the gather (dx=pixels at stride 1, dilation 1) twice.
gather=$("$build/netc" dump-ir tests/gradcheck/nets/conv2d_gather.net | grep 'dx=pixels' | grep -c 'stride=1x1 .*dilation=1x1')
if [ "$gather" = 2 ]; then
  echo "ok   routes: conv2d_gather: 2 layers whose input gradient gathers" >> "$work/results.txt"
else
  echo "FAIL routes: conv2d_gather: $gather layers gather their input gradient, expected 2" >> "$work/results.txt"
fi
suite_report "gradcheck"
