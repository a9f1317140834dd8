#!/usr/bin/env bash
# run.sh BUILD — compares netc's inference against PyTorch's, case by case.
#
# For each tests/reference/cases/<case>/: emit the net, compile it with the
# prebuilt runtime (warnings are errors), run `predict` on the committed
# weights and inputs, and compare every output with npycmp
# (|got - expected| <= 1e-4 * max(1, |expected|)).  The transcendentals run
# on SLEEF (libnnrt.a's nnrt_vmath); the cases that use them run again with
# nnrt_vmath.c compiled in with -DNNRT_LIBM and no -lsleef (libm:NAME).
# A fold_* case must have its batchnorm folded into the layer before it
# (compiler/fold.c), a nofold_* case must not, and a residual_* case must
# have an add fused into a dense, conv2d or batchnorm (compiler/fuse.c),
# so the numbers test the transformation they mean to.  A chain_* case
# must have an elementwise chain (compiler/chain.c) in its dump-ir.
. "$(dirname "$0")/../lib/suite.sh"
suite_tail=15

# Checks that dump-ir shows a folded batchnorm, or a fused add, when the case's name says so.
fold_check() {
  local dir=$1 folded=0
  "$build/netc" dump-ir "$dir/model.net" | grep -q '  folded' && folded=1
  case $(basename "$dir") in
    fold_*) [ $folded -eq 1 ] || { echo "expected a folded batchnorm"; return 1; } ;;
    nofold_*) [ $folded -eq 0 ] || { echo "expected no folded batchnorm"; return 1; } ;;
    residual_*) "$build/netc" dump-ir "$dir/model.net" | grep -q '= add .*fused' ||
                  { echo "expected an add fused into a dense"; return 1; } ;;
  esac
}
export -f fold_check

# Checks that dump-ir shows an elementwise chain in every chain_* case.
chain_check() {
  case $(basename "$1") in
    chain_*) "$build/netc" dump-ir "$1/model.net" | grep -q 'chain-root(' || { echo "expected an elementwise chain"; return 1; } ;;
  esac
}
export -f chain_check

suite_body() {
  local dir=$1 out=$2 net f n inputs vsrc= vlib=-lsleef batch=2 threads=1
  if [ "${VMATH:-}" = libm ]; then vsrc="-DNNRT_LIBM runtime/nnrt_vmath.c"; vlib=; fi
  # the shards variant: a forward of the 3 samples on 2 threads, in shards of 1 and 2
  if [ -n "${NETC_INFER_SHARDS:-}" ]; then batch=3 threads=2; fi
  fold_check "${dir%/}" && chain_check "${dir%/}" &&
  "$build/netc" emit "$dir/model.net" -o "$out" --no-runtime --main ${NETC_EMIT_TARGET:+--target "$NETC_EMIT_TARGET"} &&
  net=$(basename "$(ls "$out"/*_main.c)" _main.c) &&
  $cc -std=c11 -O1 -Wall -Wextra -Werror $SANFLAGS -Iruntime -I"$out" -o "$out/bin" "$out/$net.c" "$out/${net}_main.c" \
      $vsrc "$build/libnnrt.a" -lz $vlib -lm &&
  inputs=() &&
  if [ -f "$dir/input.npy" ]; then inputs=(--input "$dir/input.npy"); else
    for f in "$dir"/input_*.npy; do n=$(basename "$f" .npy); inputs+=(--input "${n#input_}=$f"); done; fi &&
  if [ -f "$dir/expected.npy" ]; then
    "$out/bin" predict --weights "$dir/weights.safetensors" "${inputs[@]}" --output "$out/got.npy" --batch $batch --threads $threads &&
    "$build/tests/npycmp" "$out/got.npy" "$dir/expected.npy"
  else
    "$out/bin" predict --weights "$dir/weights.safetensors" "${inputs[@]}" --output "$out/got" --batch $batch --threads $threads &&
    for f in "$dir"/expected_*.npy; do n=$(basename "$f" .npy); "$build/tests/npycmp" "$out/got/${n#expected_}.npy" "$f" || return 1; done
  fi
}

ls -d tests/reference/cases/*/ | suite_run
# The dense, conv2d and fold cases again with every layer on the packed GEMM.
# (The route reruns are the plain pass's: under the sanitizers, make asan, the
# gradient checks run both routes.)
[ -z "$SANFLAGS" ] && ls -d tests/reference/cases/{conv2d,dense,fold,nofold,residual}*/ | suite_run_gemm
# The conv2d cases again with every convolution the direct kernels take on
# them (beyond the default rule's few taps), so both routes of each stay right.
[ -z "$SANFLAGS" ] && ls -d tests/reference/cases/{conv2d,fold,nofold,lenet5,small_cnn,small_resnet,residual_conv}*/ | suite_run_direct
# The nets whose convolutions run over filter vectors (IrSched.filters) again
# emitted for the generic target: 8-float vectors, 16 on an AVX-512 host.
[ -z "$SANFLAGS" ] && ls -d tests/reference/cases/{lenet5,small_cnn,small_resnet}*/ | suite_run_generic
# The nets with layers of every kind again with the forward pass in 2
# shards (NETC_INFER_SHARDS; a sharded forward must give the same numbers).
suite_shards=2
[ -z "$SANFLAGS" ] && ls -d tests/reference/cases/{conv2d,dense,lenet5,small_cnn,small_resnet,fold,residual,chain,concat,multi,naming}*/ | suite_run_shards
# The cases with transcendentals again on libm.
ls -d tests/reference/cases/{act_gelu,act_sigmoid,act_silu,act_tanh,softmax,log_softmax,chain}*/ | suite_run_libm
suite_report "reference"
