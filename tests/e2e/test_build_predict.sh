# netc build makes a binary with gcc and with clang; predict reads npy, IDX
# (gzip) and CSV, and wrong data shapes are refused with both shapes named.
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
case=tests/reference/cases/mlp_mnist
for cc in gcc clang; do
  "$build/netc" build "$case/model.net" -o "$tmp/mlp_$cc" --cc "$cc"
  "$tmp/mlp_$cc" predict --weights "$case/weights.safetensors" --input "$case/input.npy" --output "$tmp/y.npy"
  "$build/tests/npycmp" "$tmp/y.npy" "$case/expected.npy"
done
# -Os (for a small binary) is taken like -O0..3, with the same predictions.
"$build/netc" build "$case/model.net" -o "$tmp/mlp_os" -Os
"$tmp/mlp_os" predict --weights "$case/weights.safetensors" --input "$case/input.npy" --output "$tmp/y.npy"
"$build/tests/npycmp" "$tmp/y.npy" "$case/expected.npy"
bin=$tmp/mlp_gcc
"$bin" summary | grep -q 'Trainable parameters'
# Real IDX data, gzip'd: the first 100 Fashion-MNIST test images.
"$bin" predict --input /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz --scale 0.00392156862 \
  --output "$tmp/f.npy" --print 3 > "$tmp/p.txt"
grep -q 'sample 0: class' "$tmp/p.txt"
# A wrong per-sample shape names both shapes and exits 1.
if "$bin" predict --input tests/reference/cases/conv2d_nonsquare/input.npy --output "$tmp/z.npy" 2> "$tmp/err.txt"; then exit 1; fi
grep -qF "holds data of shape [3, 3, 9, 7], but input 'x' takes [N, 1, 28, 28]" "$tmp/err.txt"
# Weights of another net: a precise error, exit 1.
if "$bin" predict --weights tests/reference/cases/lenet5/weights.safetensors --input "$case/input.npy" --output "$tmp/z.npy" 2> "$tmp/err.txt"; then exit 1; fi
grep -q "fc1.weight" "$tmp/err.txt"
# Usage errors exit 2.
set +e
"$bin" predict --bogus 2>/dev/null; [ $? -eq 2 ] || exit 1
"$bin" 2>/dev/null; [ $? -eq 2 ] || exit 1
