#!/usr/bin/env bash
# install-deps.sh — install the Debian packages netc needs, if any are missing.
#
# Run by the Makefile before the first build.  As root it uses apt-get; as
# anyone else it prints the exact command to run and fails.
set -euo pipefail

# package  : a file that proves it is installed
need=(
  "flex:/usr/bin/flex"
  "bison:/usr/bin/bison"
  "libcmocka-dev:/usr/include/cmocka.h"
  "zlib1g-dev:/usr/include/zlib.h"
  "libsleef-dev:/usr/include/$(gcc -dumpmachine)/sleef.h"
  # libopenblas.so, not cblas.h: libblas-dev (the reference BLAS, which some
  # images carry) installs a cblas.h too, and gemm_bench links -lopenblas.
  "libopenblas-dev:/usr/lib/$(gcc -dumpmachine)/libopenblas.so"
  "clang:/usr/bin/clang"
  # The AArch64 cross compiler and its libc (a recommendation of the former,
  # which --no-install-recommends skips): tests/e2e/test_cross_aarch64.sh.
  "gcc-aarch64-linux-gnu:/usr/bin/aarch64-linux-gnu-gcc"
  "libc6-dev-arm64-cross:/usr/aarch64-linux-gnu/include/stdio.h"
  "python3-numpy:/usr/lib/python3/dist-packages/numpy/__init__.py"
  "dataset-fashion-mnist:/usr/share/datasets/fashion-mnist"
)
# Optional extras: the torch-based reference generator and benchmarks.
if [ "${NETC_WITH_TORCH:-0}" = 1 ]; then
  need+=("python3-torch:/usr/lib/python3/dist-packages/torch/__init__.py")
fi

missing=()
for entry in "${need[@]}"; do
  pkg=${entry%%:*}
  file=${entry#*:}
  [ -e "$file" ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: missing packages: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root:  apt-get update && apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
