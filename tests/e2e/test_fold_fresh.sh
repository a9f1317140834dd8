# Inference never runs on stale folded weights: after create, init, train
# steps, writes through <net>_param and the descriptor's param_block, save,
# load_file and load, the net built with batchnorm folded (compiler/fold.c)
# gives the outputs of the same net built with --no-fuse, within the
# reference tolerance.  Also checks that folding happened in the first build.
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for v in fold nofold; do
  flag=; [ $v = nofold ] && flag=--no-fuse
  "$build/netc" emit tests/e2e/fold_fresh.net -o "$tmp/$v" --no-runtime $flag
  ${CC:-cc} -std=c11 -O1 -Wall -Wextra -Werror ${SANFLAGS:-} -Iruntime -I"$tmp/$v" -o "$tmp/$v/run" tests/e2e/fold_fresh.c "$tmp/$v/fold_fresh.c" \
     "$build/libnnrt.a" -lz -lsleef -lm
  "$tmp/$v/run" "$tmp/$v/w.safetensors" > "$tmp/$v.txt"
done
grep -q fold_fresh_fold "$tmp/fold/fold_fresh.c"
! grep -q fold_fresh_fold "$tmp/nofold/fold_fresh.c"
[ "$(wc -l < "$tmp/fold.txt")" -eq 14 ]
# Same labels line by line, every number within 1e-4 * max(1, |expected|).
paste -d'\n' "$tmp/fold.txt" "$tmp/nofold.txt" | awk '
  NR % 2 == 1 { n = split($0, a); next }
  {
    m = split($0, b)
    if (m != n || a[1] != b[1]) { print "line " NR/2 ": " a[1] " vs " b[1]; bad = 1; next }
    for (i = 2; i <= n; i++) {
      if (a[i] == "loss") continue
      d = a[i] - b[i]; if (d < 0) d = -d
      e = b[i] < 0 ? -b[i] : b[i]; if (e < 1) e = 1
      if (d > 1e-4 * e) { print a[1] ": field " i ": " a[i] " vs " b[i]; bad = 1 }
    }
  }
  END { exit bad }'
