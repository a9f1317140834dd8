#!/usr/bin/env bash
# demo.sh BUILD — the main job, end to end on real data:
# compile examples/fashion_mlp.net into a binary and run it on Fashion-MNIST.
set -euo pipefail
build=${1:-build}
data=/usr/share/datasets/fashion-mnist
bin=$build/demo/fashion_mlp
mkdir -p "$build/demo"

echo "== netc summary on every example"
for f in examples/*.net; do
  "$build/netc" summary "$f" | sed -n '1p;/^Trainable/p;/^Forward FLOPs/p;/^Inference arena/p'
done

echo
echo "== netc build examples/fashion_mlp.net -o $bin"
"$build/netc" build examples/fashion_mlp.net -o "$bin"
"$bin" summary

echo
echo "== $bin predict on the Fashion-MNIST test set (untrained weights, seed 1)"
"$bin" predict --input "$data/t10k-images-idx3-ubyte.gz" --scale 0.00392156862745098 \
  --output "$build/demo/predictions.npy" --seed 1 --print 5
