# Generated C of every example compiles warning-free with -Wall -Wextra -Werror
# under gcc and clang, for both targets; so does the runtime it ships with,
# and nnrt_vmath.c in each of its builds (SSE2, AVX2, libm).  Under the
# sanitizers (make asan) netc still emits every example, but the compilers
# are not run again: the C does not depend on how netc was built, and the
# plain pass compiled it.
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# gcc compiles (some of its warnings come from the optimizer); clang's come
# from its front end, so it only checks the syntax, which is much faster.
mode() { [ "$1" = clang ] && echo -fsyntax-only || true; }
compilers="gcc clang"
[ -n "${SANFLAGS:-}" ] && compilers=
for cc in $compilers; do
  for c in runtime/*.c; do
    $cc $(mode "$cc") -std=c11 -O2 -Wall -Wextra -Werror -c -o "$tmp/x.o" "$c"
  done
  $cc $(mode "$cc") -std=c11 -O2 -Wall -Wextra -Werror -DNNRT_LIBM -c -o "$tmp/x.o" runtime/nnrt_vmath.c
  if [ "$(uname -m)" = x86_64 ]; then
    $cc $(mode "$cc") -std=c11 -O2 -Wall -Wextra -Werror -mavx2 -mfma -c -o "$tmp/x.o" runtime/nnrt_vmath.c
  fi
done
for f in examples/*.net; do
  for target in native generic; do
    "$build/netc" emit "$f" -o "$tmp/out" --main --no-runtime --target "$target"
    for cc in $compilers; do
      for c in "$tmp"/out/*.c; do
        $cc $(mode "$cc") -std=c11 -O2 -Wall -Wextra -Werror -Iruntime -c -o "$tmp/x.o" "$c"
      done
    done
    rm -rf "$tmp/out"
  done
done
