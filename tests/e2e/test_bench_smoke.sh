# test_bench_smoke.sh BUILD — `BIN bench` and `netc bench` run and print
# every section (no timing is checked: this is a smoke test, the numbers
# belong to `make bench`).
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# BIN bench on a plain build: timings, no profile table.
"$build/netc" build examples/xor.net -o "$tmp/xor"
"$tmp/xor" bench --steps 2 --json "$tmp/xor.json" > "$tmp/out.txt"
for s in '^xor bench' '^FMA peak .* GFLOP/s' '^inference  *batch 1 .*median' '^inference  *batch 4 .*median' \
         '^train step  *batch 4 .*median .*(2 runs; FMA peak meanwhile [0-9.]*)' '^peak RSS' '^per-kernel profile: off'; do
  grep -q "$s" "$tmp/out.txt" || { echo "missing '$s' in:"; cat "$tmp/out.txt"; exit 1; }
done
for k in fma_peak_gflops infer_b1_us infer_batch_us train_step_us train_step_fma_peak_gflops peak_rss_kib kernels; do
  grep -q "\"$k\": " "$tmp/xor.json" || { echo "missing $k in:"; cat "$tmp/xor.json"; exit 1; }
done
# Two threads on two cores: the cross-core round trip, in the text and the JSON; one thread: null.
grep -q '"cross_core_round_trip_ns": null' "$tmp/xor.json"
if [ "$(nproc)" -ge 2 ]; then
  "$tmp/xor" bench --steps 2 --threads 2 --json "$tmp/xor2.json" > "$tmp/out2.txt"
  grep -q '^cross-core trip  *[0-9][0-9]* ns' "$tmp/out2.txt" || { echo "no cross-core trip in:"; cat "$tmp/out2.txt"; exit 1; }
  grep -q '"cross_core_round_trip_ns": [0-9]' "$tmp/xor2.json"
fi
# Bad options: usage errors.
set +e
"$tmp/xor" bench --steps 0 2> /dev/null; rc1=$?
"$tmp/xor" bench --frobnicate 2> /dev/null; rc2=$?
set -e
[ $rc1 -eq 2 ] && [ $rc2 -eq 2 ]

# netc bench: two profiled builds (at -O0, for speed), the per-kernel table and the comparison.
"$build/netc" bench examples/xor.net --steps 2 -O0 --keep "$tmp/nb" > "$tmp/nb.txt" 2> "$tmp/nb.err"
for s in '^per-kernel profile, batch 4' '^forward  *dense_1' '^train-forward ' '^backward ' '^update  *optimizer' \
         '(outside kernels)' '^  train step .*GFLOP/s' '^fused vs unfused' '^train step batch 4 .*x$'; do
  grep -q "$s" "$tmp/nb.txt" || { echo "missing '$s' in:"; cat "$tmp/nb.txt" "$tmp/nb.err"; exit 1; }
done
grep -q '^fused vs unfused (medians of wall time, the best of 2 alternating rounds' "$tmp/nb.txt"
grep -q '"profile": true' "$tmp/nb/xor-fused.json"
grep -q '"profile": true' "$tmp/nb/xor-unfused.json"
# --rounds out of range, and an option bench does not take: usage errors before any build.
set +e
"$build/netc" bench examples/xor.net --rounds 0 2> "$tmp/r.err"; rc1=$?
"$build/netc" bench examples/xor.net --main 2> "$tmp/m.err"; rc2=$?
set -e
[ $rc1 -eq 2 ] && grep -q "netc bench: --rounds takes a whole number from 1 to 100, not '0'" "$tmp/r.err"
[ $rc2 -eq 2 ] && grep -q "netc bench: option '--main' does not apply to bench" "$tmp/m.err"
