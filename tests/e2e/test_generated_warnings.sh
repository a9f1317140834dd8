# Generated C of every example compiles warning-free with -Wall -Wextra -Werror
# under gcc and clang, for both targets; so does the runtime it ships with,
# and nnrt_vmath.c in each of its builds (SSE2, AVX2, libm).
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for cc in gcc clang; do
  for c in runtime/*.c; do
    $cc -std=c11 -O2 -Wall -Wextra -Werror -c -o "$tmp/x.o" "$c"
  done
  $cc -std=c11 -O2 -Wall -Wextra -Werror -DNNRT_LIBM -c -o "$tmp/x.o" runtime/nnrt_vmath.c
  if [ "$(uname -m)" = x86_64 ]; then
    $cc -std=c11 -O2 -Wall -Wextra -Werror -mavx2 -mfma -c -o "$tmp/x.o" runtime/nnrt_vmath.c
  fi
done
for f in examples/*.net; do
  for target in native generic; do
    "$build/netc" emit "$f" -o "$tmp/out" --main --no-runtime --target "$target"
    for cc in gcc clang; do
      for c in "$tmp"/out/*.c; do
        $cc -std=c11 -O2 -Wall -Wextra -Werror -Iruntime -c -o "$tmp/x.o" "$c"
      done
    done
    rm -rf "$tmp/out"
  done
done
