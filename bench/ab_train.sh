#!/usr/bin/env bash
# ab_train.sh ROUNDS STEPS THREADS BIN... — A/B timing of training binaries.
#
# Runs `BIN train` on Fashion-MNIST for STEPS steps with THREADS threads,
# the binaries one after another in each of ROUNDS rounds (so that drift on
# a shared machine hits them alike), and prints per binary the fastest and
# the median wall time.  The times include loading the data set (about
# 0.3 s here: measure it with STEPS=1).  For comparing two builds of a net,
# e.g. two netc versions or two schedules:
#   netc build examples/lenet5.net -o /tmp/a -O3   (with each version)
#   bash bench/ab_train.sh 5 300 1 /tmp/a /tmp/b
set -euo pipefail
if [ $# -lt 4 ]; then
  echo "usage: $0 ROUNDS STEPS THREADS BIN..." >&2
  exit 2
fi
rounds=$1 steps=$2 threads=$3
shift 3
data=${FMNIST:-/usr/share/datasets/fashion-mnist}
for ((r = 0; r < rounds; r++)); do
  for bin in "$@"; do
    t0=$(date +%s%N)
    "$bin" train --data "$data/train-images-idx3-ubyte.gz" --labels "$data/train-labels-idx1-ubyte.gz" \
      --scale 0.00392157 --steps "$steps" --threads "$threads" --quiet > /dev/null
    t1=$(date +%s%N)
    echo "$bin $(( (t1 - t0) / 1000000 ))"
  done
done | sort -k1,1 -k2,2n | awk '
  { t[$1] = t[$1] " " $2 }
  END {
    for (b in t) {
      n = split(t[b], a, " ")
      printf "%-40s min %.3f s   median %.3f s   (%d runs)\n", b, a[1] / 1000, a[int((n + 1) / 2)] / 1000, n
    }
  }'
