# Generated C of every example compiles warning-free with -Wall -Wextra -Werror
# under gcc and clang, for both targets; so does the runtime it ships with,
# and nnrt_vmath.c in each of its builds (SSE2, AVX2, libm).  Under the
# sanitizers (make asan) netc still emits every example, but the compilers
# are not run again: the C does not depend on how netc was built, and the
# plain pass compiled it.
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
. tests/lib/warn_free.sh
compilers="gcc clang"
[ -n "${SANFLAGS:-}" ] && compilers=
warn_free "$compilers" -O2 runtime/*.c
warn_free "$compilers" "-O2 -DNNRT_LIBM" runtime/nnrt_vmath.c
if [ "$(uname -m)" = x86_64 ]; then
  warn_free "$compilers" "-O2 -mavx2 -mfma" runtime/nnrt_vmath.c
fi
for f in examples/*.net; do
  for target in native generic; do
    "$build/netc" emit "$f" -o "$tmp/out" --main --no-runtime --target "$target"
    warn_free "$compilers" -O2 "$tmp"/out/*.c
    rm -rf "$tmp/out"
  done
done
# The small dense kernels' lane pairs (<net>_PAIR16) take __builtin_shuffle
# before gcc 12, which has no __builtin_shufflevector: that branch too.
if [ -n "$compilers" ]; then
  "$build/netc" emit examples/fashion_mlp.net -o "$tmp/out" --no-runtime
  grep -q '__builtin_shuffle(' "$tmp/out/fashion_mlp.c"
  warn_free gcc "-O2 -U__GNUC__ -D__GNUC__=11" "$tmp/out/fashion_mlp.c"
  rm -rf "$tmp/out"
fi
