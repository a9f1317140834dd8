# test_libm_build.sh BUILD — the transcendentals on SLEEF (default) and on
# libm (--libm) agree, and --libm really drops SLEEF:
#   - a net of every transcendental activation, fused into dense layers and
#     standalone, with softmax and log_softmax outputs, is built three
#     times: native (SLEEF, AVX2 on AVX2 machines), generic (SLEEF, SSE2 on
#     x86-64) and native --libm;
#   - all three predict the same default-initialized weights on inputs in
#     [-6, 6] within npycmp's 1e-4 * max(1, |expected|);
#   - the SLEEF binaries need libsleef.so, the --libm one does not;
#   - `netc emit --libm` writes a directory that compiles and links with no
#     flags and without -lsleef.
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

cat > "$tmp/acts.net" <<'EOF'
net acts {
    input x : f32[37];
    h = x -> dense(45) -> gelu;
    a = h -> dense(45) -> sigmoid;
    b = a -> dense(45) -> tanh -> silu;
    s = b -> dense(11) -> softmax;
    l = b -> dense(13) -> log_softmax;
    output s;
    output l;
}
EOF
/usr/bin/python3 - "$tmp/x.npy" <<'EOF'
import sys, numpy as np
np.save(sys.argv[1], np.linspace(-6, 6, 9 * 37, dtype=np.float32).reshape(9, 37) * np.float32(1.7) % np.float32(12) - np.float32(6))
EOF

for v in native generic libm; do
  case $v in
    libm) flags="--libm" ;;
    *) flags="--target $v" ;;
  esac
  "$build/netc" build "$tmp/acts.net" -o "$tmp/acts_$v" -O1 $flags
  "$tmp/acts_$v" predict --input "$tmp/x.npy" --output "$tmp/y_$v" --seed 3 > /dev/null
done
for out in s l; do
  "$build/tests/npycmp" "$tmp/y_native/$out.npy" "$tmp/y_libm/$out.npy"
  "$build/tests/npycmp" "$tmp/y_generic/$out.npy" "$tmp/y_libm/$out.npy"
done

# Linked against SLEEF, or not.
ldd "$tmp/acts_native" | grep -q libsleef
ldd "$tmp/acts_generic" | grep -q libsleef
if ldd "$tmp/acts_libm" | grep libsleef; then echo "--libm binary links SLEEF"; exit 1; fi

# netc emit --libm: a self-contained libm build.
"$build/netc" emit "$tmp/acts.net" -o "$tmp/emit" --libm --main
head -1 "$tmp/emit/nnrt_vmath.c" | grep -q '^#define NNRT_LIBM'
cc -std=c11 -O1 -Wall -Wextra -Werror -I"$tmp/emit" -o "$tmp/acts_emitted" "$tmp"/emit/*.c -lz -lm
"$tmp/acts_emitted" predict --input "$tmp/x.npy" --output "$tmp/y_emitted" --seed 3 > /dev/null
cmp "$tmp/y_emitted/s.npy" "$tmp/y_libm/s.npy" || "$build/tests/npycmp" "$tmp/y_emitted/s.npy" "$tmp/y_libm/s.npy"
