# test_train_resume.sh BUILD [NET] — training a real net on a Fashion-MNIST
# subset: E epochs straight and E/2 + a resumed E/2 give byte-identical
# checkpoints (at an epoch boundary and from inside an epoch), and so do 1
# and 2 threads; checkpoints
# load as weights in eval and predict; a diverging run exits 1 naming the
# step.  NET defaults to examples/fashion_mlp.net (any net with a [1, 28, 28]
# or [784] input and a class[10] label works).  Skips while NET's binary
# cannot train.  N=samples (default 1000).
set -eu
build=$1
net=${2:-examples/fashion_mlp.net}
n=${N:-1000}
batch=64
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. tests/e2e/fmnist_subset.sh
fmnist_images train "$tmp/x.idx" "$n"
fmnist_labels train "$tmp/y.idx" "$n"
fmnist_labels train "$tmp/y_short.idx" $((n - 1))

bin=$tmp/net
"$build/netc" build "$net" -o "$bin"
if ! "$bin" --help | grep -q ' train --data'; then
  echo "skip: $net builds no training binary yet"; exit 0
fi
run() { "$bin" train --data "$tmp/x.idx" --labels "$tmp/y.idx" --scale 0.00392156862 --batch $batch --epochs 2 --quiet "$@"; }
spe=$(((n + batch - 1) / batch))

run --save "$tmp/straight.st" > "$tmp/straight.txt"
[ "$(grep -c '^epoch ' "$tmp/straight.txt")" -eq 2 ]
run --steps $spe --save "$tmp/half.st" > /dev/null
run --resume "$tmp/half.st" --save "$tmp/half.st" > /dev/null
cmp "$tmp/straight.st" "$tmp/half.st"
# Every thread count gives the same weights, bit for bit.
run --threads 2 --save "$tmp/threads.st" > /dev/null
cmp "$tmp/straight.st" "$tmp/threads.st"
run --steps 5 --save "$tmp/mid.st" > /dev/null
run --resume "$tmp/mid.st" --save "$tmp/mid.st" > /dev/null
cmp "$tmp/straight.st" "$tmp/mid.st"

# A checkpoint is accepted as weights.
"$bin" eval --weights "$tmp/straight.st" --data "$tmp/x.idx" --labels "$tmp/y.idx" --scale 0.00392156862 \
  --confusion > "$tmp/eval.txt"
grep -q '^loss .* accuracy ' "$tmp/eval.txt"
grep -q '^true\\pred' "$tmp/eval.txt"
"$bin" predict --weights "$tmp/straight.st" --input "$tmp/x.idx" --scale 0.00392156862 --output "$tmp/p.npy"

# Divergence: exit 1, the step named, the last good checkpoint kept.
cp "$tmp/straight.st" "$tmp/keep.st"
set +e
"$bin" train --data "$tmp/x.idx" --labels "$tmp/y.idx" --lr 1e30 --batch $batch --quiet --save "$tmp/keep.st" \
  2> "$tmp/err.txt" > /dev/null
rc=$?
set -e
[ $rc -eq 1 ]
grep -q 'the loss is .* at step' "$tmp/err.txt"
cmp "$tmp/straight.st" "$tmp/keep.st"
# Labels and data of different lengths: both counts named, exit 1.
set +e
"$bin" train --data "$tmp/x.idx" --labels "$tmp/y_short.idx" 2> "$tmp/err.txt"
rc=$?
set -e
[ $rc -eq 1 ]
grep -qF "y_short.idx holds $((n - 1)) labels, but $tmp/x.idx holds $n samples" "$tmp/err.txt"
