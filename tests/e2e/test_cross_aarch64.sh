# test_cross_aarch64.sh BUILD — the AArch64 build, NEON GEMM micro-kernel
# included, compiles warning-free with Debian's cross compiler
# (gcc-aarch64-linux-gnu and libc6-dev-arm64-cross, installed by
# scripts/install-deps.sh):
#   - the runtime's GEMM (nnrt_gemm*.c; nnrt_gemm_neon.c is the NEON
#     kernel, which must really be compiled in, not #if'd out);
#   - the generated C and the embedded-core runtime of examples/lenet5.net
#     (convolutions and dense layers on the GEMM) for --target generic,
#     with and without -DNNRT_NO_FILE_IO -DNNRT_NO_THREADS;
#   - examples/embed/train.c on examples/xor.net links into a static
#     AArch64 program.
# SLEEF is installed for the host only (there is no AArch64 sleef.h), so the
# C is emitted with --libm: nnrt_vmath.c then uses libm.  Where qemu-aarch64
# is installed (it is not a CI dependency), the program also runs and must
# learn XOR.
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
xcc=aarch64-linux-gnu-gcc
if ! command -v "$xcc" > /dev/null; then
  echo "$xcc not found: install gcc-aarch64-linux-gnu and libc6-dev-arm64-cross (scripts/install-deps.sh)"
  exit 1
fi
flags="-std=c11 -O2 -Wall -Wextra -Werror"

# The GEMM alone, from the source tree; the NEON back end has its kernel.
for c in runtime/nnrt_gemm*.c; do
  $xcc $flags -Iruntime -c -o "$tmp/$(basename "$c" .c).o" "$c"
done
aarch64-linux-gnu-nm "$tmp/nnrt_gemm_neon.o" | grep -q ' T nnrt_gemm_backend_neon$'
aarch64-linux-gnu-objdump -d "$tmp/nnrt_gemm_neon.o" | grep -q 'fmla'

# A generated net and the embedded core, with and without the embedded flags.
core="nnrt_core nnrt_safetensors nnrt_model nnrt_gemm nnrt_gemm_avx2 nnrt_gemm_avx512 nnrt_gemm_neon nnrt_gemm_portable nnrt_threads nnrt_vmath"
"$build/netc" emit examples/lenet5.net -o "$tmp/lenet5" --target generic --libm
for emb in "" "-DNNRT_NO_FILE_IO -DNNRT_NO_THREADS"; do
  for f in lenet5 $core; do
    $xcc $flags $emb -I"$tmp/lenet5" -c -o "$tmp/x.o" "$tmp/lenet5/$f.c"
  done
done

# A whole program: xor trained by examples/embed/train.c, embedded build.
"$build/netc" emit examples/xor.net -o "$tmp/xor" --target generic --libm
$xcc $flags -DNNRT_NO_FILE_IO -DNNRT_NO_THREADS -static -I"$tmp/xor" -o "$tmp/train" examples/embed/train.c \
  "$tmp/xor/xor.c" $(for f in $core; do echo "$tmp/xor/$f.c"; done) -lm
if command -v qemu-aarch64 > /dev/null; then
  qemu-aarch64 "$tmp/train" > "$tmp/train.txt"
  grep -q '^xor(0, 1) = 1 ' "$tmp/train.txt"
  grep -q '^xor(1, 1) = 0 ' "$tmp/train.txt"
fi
