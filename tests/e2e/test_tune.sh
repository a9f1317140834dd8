# netc tune on a small conv net with few steps: it measures the two
# convolutions both routes can compute, writes a schedule file that
# dump-ir, emit and build read back, and leaves the stride-2 one to the
# rule.  Schedules forcing each route give warning-free, deterministic C
# (gcc and clang), and one with both routes a binary that runs.  No timing
# is checked.
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. tests/lib/warn_free.sh
net=tests/e2e/tune_small.net

"$build/netc" tune "$net" -o "$tmp/t.sched" --steps 2 --rounds 1 -O0 --keep "$tmp/k" > "$tmp/out.txt" 2> "$tmp/err.txt" ||
  { cat "$tmp/out.txt" "$tmp/err.txt"; exit 1; }
for s in '^layer .*direct .*gemm .*choice' '^conv2d_1 .*2x12x12 k3 -> 4x12x12 .* us .* us .*x  (direct|gemm)' \
         '^conv2d_2 .* us .* us .*x  (direct|gemm)' '^conv2d_3 .*cannot run direct: stride 2x2' "^wrote $tmp/t.sched"; do
  grep -Eq "$s" "$tmp/out.txt" || { echo "missing '$s' in:"; cat "$tmp/out.txt"; exit 1; }
done
grep -q '^net tune_small$' "$tmp/t.sched"
[ "$(grep -Ec '^conv2d conv2d_[12] (direct|gemm) +# ' "$tmp/t.sched")" = 2 ] || { cat "$tmp/t.sched"; exit 1; }
grep -q '^# conv2d_3 .*cannot run direct' "$tmp/t.sched"
[ -x "$tmp/k/tune_small-direct" ] && [ -x "$tmp/k/tune_small-gemm" ]

# Read back: dump-ir shows each chosen route.
"$build/netc" dump-ir "$net" --schedule "$tmp/t.sched" > "$tmp/ir.txt"
for l in conv2d_1 conv2d_2; do
  route=$(sed -n "s/^conv2d $l \([a-z]*\) .*/\1/p" "$tmp/t.sched")
  grep -q "= conv2d \"$l\" .*sched($route " "$tmp/ir.txt" || { echo "$l: expected sched($route"; cat "$tmp/ir.txt"; exit 1; }
done

# Without -o the file goes next to the .net file.
cp "$net" "$tmp/copy.net"
"$build/netc" tune "$tmp/copy.net" --steps 1 --rounds 1 -O0 > /dev/null 2>&1
grep -q '^net tune_small$' "$tmp/copy.sched"

# Each route forced everywhere it can go: warning-free, deterministic C, and a binary that runs.
printf 'net tune_small\nconv2d conv2d_1 gemm\nconv2d conv2d_2 direct\n' > "$tmp/swap.sched"
printf '# all direct\nconv2d conv2d_1 direct   # a comment\n\nconv2d conv2d_2 direct\n' > "$tmp/direct.sched"
for s in swap direct t; do
  "$build/netc" dump-ir "$net" --schedule "$tmp/$s.sched" | grep -c 'sched(direct' > /dev/null
  "$build/netc" emit "$net" -o "$tmp/e1" --main --no-runtime --schedule "$tmp/$s.sched"
  mv "$tmp/e1" "$tmp/e2"
  "$build/netc" emit "$net" -o "$tmp/e1" --main --no-runtime --schedule "$tmp/$s.sched"
  diff -r "$tmp/e1" "$tmp/e2"
  warn_free "gcc clang" -O2 "$tmp"/e1/*.c
  rm -rf "$tmp/e1" "$tmp/e2"
done
# A binary with both routes forced (tune built and ran the two uniform ones).
"$build/netc" build "$net" -o "$tmp/bin" -O1 --schedule "$tmp/swap.sched"
"$tmp/bin" bench --steps 1 > /dev/null
"$build/netc" dump-ir "$net" --schedule "$tmp/swap.sched" | grep -q '= conv2d "conv2d_1" .*sched(gemm '
"$build/netc" dump-ir "$net" --schedule "$tmp/swap.sched" | grep -q '= conv2d "conv2d_2" .*sched(direct '

# The examples with convolutions, every one the direct kernels take forced
# direct: warning-free C.  Under the sanitizers (make asan) netc still emits
# them, but the compilers are not run again: the generated C does not depend
# on how netc was built, and the plain pass compiled it.  resnet_mini's
# forced-direct C (17 K lines) gets clang's check only: gcc takes 45 s on it
# at -O1, and its kernels come from the same generator as lenet5's and
# fashion_cnn's, with the residual epilogue on the direct route compiled by
# gcc -Werror in the reference suite's direct: reruns (residual_conv).
for f in $(grep -l conv2d examples/*.net); do
  compilers="gcc clang"
  [ "$(basename "$f")" = resnet_mini.net ] && compilers=clang
  [ -n "${SANFLAGS:-}" ] && compilers=
  NETC_FORCE_DIRECT=1 "$build/netc" emit "$f" -o "$tmp/out" --main --no-runtime
  warn_free "$compilers" -O1 "$tmp"/out/*.c
  rm -rf "$tmp/out"
done
