#!/usr/bin/env bash
# demo.sh BUILD — the main job, end to end on real data: compile
# examples/fashion_mlp.net into a standalone binary, train it on
# Fashion-MNIST for 2 epochs, evaluate it on the test set, predict.
set -euo pipefail
build=${1:-build}
data=/usr/share/datasets/fashion-mnist
out=$build/demo
bin=$out/fashion_mlp
scale=0.00392156862745098   # uint8 pixels to [0, 1]
mkdir -p "$out"

echo "== netc summary examples/fashion_mlp.net"
"$build/netc" summary examples/fashion_mlp.net

echo
echo "== netc build examples/fashion_mlp.net -o $bin"
"$build/netc" build examples/fashion_mlp.net -o "$bin"

echo
echo "== $bin train: 2 epochs on the 60,000 training images"
"$bin" train --data "$data/train-images-idx3-ubyte.gz" --labels "$data/train-labels-idx1-ubyte.gz" \
  --test-data "$data/t10k-images-idx3-ubyte.gz" --test-labels "$data/t10k-labels-idx1-ubyte.gz" \
  --scale "$scale" --epochs 2 --save "$out/fashion_mlp.safetensors"

echo
echo "== $bin eval on the 10,000 test images"
"$bin" eval --weights "$out/fashion_mlp.safetensors" --data "$data/t10k-images-idx3-ubyte.gz" \
  --labels "$data/t10k-labels-idx1-ubyte.gz" --scale "$scale"

echo
echo "== $bin predict: the first test images (0 T-shirt, 1 trouser, 2 pullover, 3 dress, 4 coat,"
echo "   5 sandal, 6 shirt, 7 sneaker, 8 bag, 9 ankle boot; the true labels are 9 2 1 1 6)"
"$bin" predict --weights "$out/fashion_mlp.safetensors" --input "$data/t10k-images-idx3-ubyte.gz" \
  --scale "$scale" --output "$out/predictions.npy" --print 5
