#!/usr/bin/env bash
# side_by_side.sh BUILD — netc against PyTorch on this machine, in one run.
#
# For examples/fashion_mlp.net (Adam lr 1e-3) and examples/lenet5.net (SGD
# momentum 0.9, lr 0.01), at 1 and 2 threads, batch 64:
#   train step      `BIN bench` / pytorch_bench.py: median of STEPS steps on random data
#   epoch           one Fashion-MNIST epoch: `BIN train --epochs 1 --quiet` (60000 / its
#                   samples/s) / a plain PyTorch loop over preloaded tensors; and
#                   the peak RSS of that process (netc: with GNU time, if installed)
#   inference b1    median forward latency at batch 1
#   inference b64   median forward latency at batch 64
# then netc's GEMM against OpenBLAS on the nets' shapes (BUILD/gemm_bench,
# built from bench/gemm_bench.c on each run), and the nets' own loop kernels
# (dense layers below the GEMM) against OpenBLAS on theirs
# (bench/loop_bench.py).  Prints a table of times and ratios
# (PyTorch / netc: above 1 means netc is faster); ratios from the same run
# are what counts on a shared, noisy machine.
#
# Thread settings (docs/performance.md):
#   1 thread   netc --threads 1;  PyTorch torch.set_num_threads(1) with
#              OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 (else OpenBLAS starts
#              a thread per core behind PyTorch's back)
#   2 threads  netc --threads 2;  PyTorch torch.set_num_threads(2) with
#              OMP_NUM_THREADS=2 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE
# Where OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set (old OpenBLAS builds need
# them on some processors), they are unset for the PyTorch and gemm_bench
# commands alone, and the core OpenBLAS then picks is reported.
#
# Environment: STEPS (default 100), ROUNDS (default 1: each measurement is
# repeated ROUNDS times, alternating netc and PyTorch, and the best round
# kept), THREADS ("1 2"), NETS ("fashion_mlp lenet5"), EPOCH (1; 0 skips the
# epochs), OUT (results directory, default BUILD/bench/side_by_side).
set -eu
build=${1:-build}
steps=${STEPS:-100}
rounds=${ROUNDS:-1}
threads=${THREADS:-1 2}
nets=${NETS:-fashion_mlp lenet5}
epoch=${EPOCH:-1}
out=${OUT:-$build/bench/side_by_side}
data=/usr/share/datasets/fashion-mnist
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)

rm -rf "$out"
mkdir -p "$out"

have_torch=1
if ! "$py" -c 'import torch' 2> /dev/null; then
  have_torch=0
  echo "side_by_side: PyTorch not importable by $py (install python3-torch, or NETC_WITH_TORCH=1 bash" \
       "scripts/install-deps.sh); netc only" >&2
fi

# Runs a command without OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (see above).
openblas_free() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$@"; }

# torch_env T: the PyTorch thread environment for T threads.
torch_env() {
  if [ "$1" -eq 1 ]; then echo "OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1"
  else echo "OMP_NUM_THREADS=$1 OPENBLAS_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE"; fi
}

# netc_epoch BIN T JSON: one epoch, its time from the samples/s of the epoch
# line, and the process's peak RSS when GNU time (/usr/bin/time) is there.
netc_epoch() {
  local bin=$1 t=$2 json=$3 topt=() timer=() line rate rss=null
  if "$bin" --help | grep -v ' bench ' | grep -q -- '--threads'; then topt=(--threads "$t")
  elif [ "$t" -ne 1 ]; then echo "{\"epoch_s\": null, \"note\": \"train has no --threads\"}" > "$json"; return; fi
  if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -f %M -o "$json.rss"); fi
  line=$("${timer[@]}" "$bin" train --data "$data/train-images-idx3-ubyte.gz" \
           --labels "$data/train-labels-idx1-ubyte.gz" --scale 0.00392156862745098 --epochs 1 --quiet "${topt[@]}" |
         grep '^epoch 1/1')
  rate=$(echo "$line" | sed -n 's/.*  \([0-9.]*\) samples\/s.*/\1/p')
  if [ -s "$json.rss" ]; then rss=$(tail -1 "$json.rss"); rm -f "$json.rss"; fi
  echo "{\"epoch_s\": $(awk -v r="$rate" 'BEGIN { printf "%.4f", 60000 / r }'), \"epoch_peak_rss_kib\": $rss," \
       "\"line\": \"$line\"}" > "$json"
}

echo "== side by side: netc vs PyTorch, batch 64, $steps steps, threads: $threads, rounds: $rounds"
echo "   $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'),"\
     "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for net in $nets; do
  "$build/netc" build "examples/$net.net" -o "$out/$net" -O3
done
for r in $(seq 1 "$rounds"); do
  for net in $nets; do
    for t in $threads; do
      tag=$net-$t-$r
      echo "-- $net, $t thread(s), round $r"
      "$out/$net" bench --batch 64 --steps "$steps" --threads "$t" --json "$out/$tag-netc.json" > "$out/$tag-netc.txt"
      if [ $have_torch = 1 ]; then
        openblas_free env $(torch_env "$t") "$py" "$here/pytorch_bench.py" --net "$net" --threads "$t" \
          --steps "$steps" --json "$out/$tag-torch.json" > /dev/null
      fi
      if [ "$epoch" = 1 ]; then
        netc_epoch "$out/$net" "$t" "$out/$tag-netc-epoch.json"
        if [ $have_torch = 1 ]; then
          openblas_free env $(torch_env "$t") "$py" "$here/pytorch_bench.py" --net "$net" --threads "$t" \
            --no-step --epoch "$data" --json "$out/$tag-torch-epoch.json" > /dev/null
        fi
      fi
    done
  done
done
echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" "$here/side_by_side_table.py" "$out"
"$py" "$here/side_by_side_table.py" --markdown "$out" > "$out/table.md"
echo "(markdown table: $out/table.md)"

# netc's GEMM against OpenBLAS: built here, from the sources as they are, with
# the flags netc build gives the runtime
gemm=$build/gemm_bench
${CC:-cc} -std=c11 -O3 -fno-math-errno -ffp-contract=fast -march=native -Iruntime -o "$gemm" \
  bench/gemm_bench.c runtime/nnrt_gemm*.c runtime/nnrt_threads.c -lopenblas -lpthread -lm || gemm=""
if [ -n "$gemm" ]; then
  echo
  echo "== netc GEMM vs OpenBLAS ($gemm)"
  openblas_free "$gemm" -t "$(echo $threads | tr ' ' ',')" | tee "$out/gemm.txt"
else
  echo
  echo "== netc GEMM vs OpenBLAS: skipped (bench/gemm_bench.c did not build: is libopenblas-dev installed?)"
fi

# the dense layers the nets compute with their own loops, against OpenBLAS on the same shapes
echo
echo "== the nets' loop kernels vs OpenBLAS (bench/loop_bench.py)"
nets_files=""
for net in $nets; do nets_files="$nets_files examples/$net.net"; done
"$py" "$here/loop_bench.py" "$build/netc" "$out/loops" $nets_files | tee "$out/loops.txt" ||
  echo "loop_bench: skipped (it needs libopenblas-dev and the C compiler)"
