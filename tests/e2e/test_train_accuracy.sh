# Training reaches a real accuracy on real data, scaled down for CI: the
# first 6,000 Fashion-MNIST training images for 2 epochs, evaluated on the
# first 2,000 test images.  (The full runs, 60,000 images, are in
# docs/performance.md.)
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. tests/e2e/fmnist_subset.sh
fmnist_images train "$tmp/x.idx" 6000
fmnist_labels train "$tmp/y.idx" 6000
fmnist_images t10k "$tmp/tx.idx" 2000
fmnist_labels t10k "$tmp/ty.idx" 2000
check() {  # net, minimum test accuracy in percent
  "$build/netc" build "examples/$1.net" -o "$tmp/$1"
  "$tmp/$1" train --data "$tmp/x.idx" --labels "$tmp/y.idx" --test-data "$tmp/tx.idx" --test-labels "$tmp/ty.idx" \
    --scale 0.00392156862745098 --epochs 2 --quiet | tee "$tmp/$1.txt"
  acc=$(tail -1 "$tmp/$1.txt" | sed -n 's/.*test acc \([0-9.]*\)%.*/\1/p')
  awk -v a="$acc" -v min="$2" 'BEGIN { if (a + 0 < min) { print "accuracy " a "% below " min "%"; exit 1 } }'
}
check fashion_mlp 76
check lenet5 60
