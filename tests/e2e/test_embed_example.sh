# test_embed_example.sh BUILD — the embedding examples of docs/embedding.md
# (examples/embed/) build warning-free under -std=c11 -Wall -Wextra -Werror
# with gcc and clang, and run:
#   - infer (file layer) and infer_embedded (-DNNRT_NO_FILE_IO, embedded
#     core only, weights linked in) print the same classes, and the same as
#     `BIN predict` on the same weights and images;
#   - the embedded objects call no malloc and no stdio file functions;
#   - describe links fashion_mlp and xor into one program and reads both
#     through their NnrtModelDesc;
#   - train (and train_embedded) bring xor's loss down and classify the four
#     points; the weights it saves give `BIN predict` the same predictions.
# Under `make asan`, SANFLAGS instruments the examples too.
set -eu
build=$1
netc=$(cd "$(dirname "$build/netc")" && pwd)/netc
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# Prints "N CLASS SCORE" for each "sample N: class CLASS (score SCORE)" line of file $1.
classes() { sed -n 's/^sample \([0-9]*\): class \([0-9]*\) (score \(.*\))$/\1 \2 \3/p' "$1"; }

# Same samples and classes, scores within 2e-4 (they are printed to 4 decimals).
same_classes() {
  paste -d' ' <(classes "$1") <(classes "$2") | awk -v n="$3" '
    { d = $3 - $6; if ($1 != $4 || $2 != $5 || d > 2e-4 || d < -2e-4) bad = 1; rows++ }
    END { exit bad || rows != n }'
}

for cc in gcc clang; do
  out=$tmp/$cc
  env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -f examples/embed/Makefile NETC="$netc" OUT="$out" CC="$cc" CFLAGS="-O2 ${SANFLAGS:-}" \
    > "$tmp/make_$cc.log" 2>&1 ||
    { cat "$tmp/make_$cc.log"; exit 1; }

  # Inference: weights from memory and from the file agree (checked inside),
  # a truncated image is refused, the embedded build prints the same lines.
  "$out/infer" run "$out/weights.safetensors" "$tmp/x_$cc.npy" > "$tmp/infer_$cc.txt"
  grep -q "^refused: weights: .*run past the end" "$tmp/infer_$cc.txt"
  [ "$(classes "$tmp/infer_$cc.txt" | wc -l)" -eq 8 ]
  "$out/infer_embedded" > "$tmp/embedded_$cc.txt"
  diff <(grep '^sample' "$tmp/infer_$cc.txt") "$tmp/embedded_$cc.txt"

  # No malloc and no file I/O on the model's path.
  for o in infer fashion_mlp nnrt_core nnrt_safetensors nnrt_model nnrt_vmath; do
    if nm -u "$out/embedded/$o.o" | grep -Ew 'malloc|calloc|realloc|free|fopen|fread|fwrite|open|read'; then
      echo "$o.o of the embedded build needs the symbols above"; exit 1
    fi
  done

  # Training: the loss goes down, XOR is learned, with or without the file layer.
  "$out/train" "$tmp/xor_$cc.safetensors" > "$tmp/train_$cc.txt"
  "$out/train_embedded" > "$tmp/train_embedded_$cc.txt"
  diff "$tmp/train_$cc.txt" "$tmp/train_embedded_$cc.txt"
  awk '/^epoch/ { if (!first) first = $NF; last = $NF }
       /^final loss/ { final = $3 }
       END { exit !(first > 0.5 && last < first / 100 && final < 0.01) }' "$tmp/train_$cc.txt"
  [ "$(grep -c '^xor(' "$tmp/train_$cc.txt")" -eq 4 ]
  grep -q '^xor(0, 0) = 0 ' "$tmp/train_$cc.txt"
  grep -q '^xor(0, 1) = 1 ' "$tmp/train_$cc.txt"
  grep -q '^xor(1, 0) = 1 ' "$tmp/train_$cc.txt"
  grep -q '^xor(1, 1) = 0 ' "$tmp/train_$cc.txt"

  # Two nets in one program, through their descriptors.
  "$out/describe" > "$tmp/describe_$cc.txt"
  grep -q '^  dense_1.weight   \[256, 784\]$' "$tmp/describe_$cc.txt"
  grep -q '^xor (from examples/xor.net' "$tmp/describe_$cc.txt"
  [ "$(grep -c 'on zeros' "$tmp/describe_$cc.txt")" -eq 2 ]
done

# The same weights and images through the standalone binary.
"$netc" build examples/fashion_mlp.net -o "$tmp/mlp" --target generic
"$tmp/mlp" predict --weights "$tmp/gcc/weights.safetensors" --input "$tmp/x_gcc.npy" --output "$tmp/y.npy" \
  --print 8 > "$tmp/predict.txt" 2> "$tmp/predict.err"
same_classes "$tmp/predict.txt" "$tmp/infer_gcc.txt" 8
same_classes "$tmp/predict.txt" "$tmp/infer_clang.txt" 8

# The trained xor weights as the binary reads them: same signs of the logits.
"$netc" build examples/xor.net -o "$tmp/xor" --target generic
printf 'a,b\n0,0\n0,1\n1,0\n1,1\n' > "$tmp/xor.csv"
"$tmp/xor" predict --weights "$tmp/xor_gcc.safetensors" --input "$tmp/xor.csv" --output "$tmp/xy.npy" \
  --print 4 > "$tmp/xor_predict.txt" 2> "$tmp/xor_predict.err"
[ "$(sed -n 's/^sample [0-9]*: //p' "$tmp/xor_predict.txt" | awk '{ printf "%d", ($1 > 0) }')" = 0110 ]
