# test_threads_identical.sh BUILD — every thread count computes the same
# bits.  For nets that exercise every kind of split (lenet5: direct and
# batched-GEMM convolutions, pooling, per-sample backward kernels;
# fashion_cnn: batchnorm and dropout, which must not split; resnet_mini:
# residual adds, 1x1 convolutions, global average pooling, AdamW;
# tests/e2e/chain_mlp.net: elementwise chain kernels, whose training
# variants also store members for backward; fashion_mlp: the Adam update
# in the weight-gradient GEMMs, cut by rows, and the forward in shards),
# training on a Fashion-MNIST subset with 1, 2 and 3 threads gives
# byte-identical checkpoints, and predict gives byte-identical outputs.
# fashion_mlp built with --no-fuse (the update as one pass) trains to the
# same bytes: the fused update is the same expression per parameter.
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. tests/e2e/fmnist_subset.sh
fmnist_images train "$tmp/x.idx" 200
fmnist_labels train "$tmp/y.idx" 200

for src in examples/lenet5.net examples/fashion_cnn.net examples/resnet_mini.net tests/e2e/chain_mlp.net examples/fashion_mlp.net; do
  net=$(basename "$src" .net)
  bin=$tmp/$net
  "$build/netc" build "$src" -o "$bin"
  for t in 1 2 3; do
    "$bin" train --data "$tmp/x.idx" --labels "$tmp/y.idx" --scale 0.00392156862 --batch 50 --epochs 1 --quiet \
      --threads $t --save "$tmp/$net.$t.st" > /dev/null
    "$bin" predict --weights "$tmp/$net.1.st" --input "$tmp/x.idx" --scale 0.00392156862 --batch 100 \
      --threads $t --output "$tmp/$net.$t.npy"
  done
  for t in 2 3; do
    cmp "$tmp/$net.1.st" "$tmp/$net.$t.st" || { echo "$net: checkpoint with $t threads differs from 1 thread"; exit 1; }
    cmp "$tmp/$net.1.npy" "$tmp/$net.$t.npy" || { echo "$net: predictions with $t threads differ from 1 thread"; exit 1; }
  done
done

"$build/netc" build examples/fashion_mlp.net -o "$tmp/unfused" --no-fuse
"$tmp/unfused" train --data "$tmp/x.idx" --labels "$tmp/y.idx" --scale 0.00392156862 --batch 50 --epochs 1 --quiet \
  --threads 2 --save "$tmp/unfused.st" > /dev/null
cmp "$tmp/fashion_mlp.1.st" "$tmp/unfused.st" || { echo "fashion_mlp: the fused update trains to other bytes than --no-fuse"; exit 1; }
