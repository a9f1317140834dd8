# netc summary's arena sizes are exactly what the generated macros say.
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for net in fashion_cnn lenet5 resnet_mini xor; do  # fashion_cnn and resnet_mini have a fold block
  "$build/netc" emit "examples/$net.net" -o "$tmp/$net" --no-runtime
  U=$(echo "$net" | tr a-z A-Z)
  printf '#include <stdio.h>\n#include "%s.h"\nint main(void) { printf("%%zu %%zu %%zu %%zu\\n", %s_ARENA_BYTES(0), %s_ARENA_BYTES(1) - %s_ARENA_BYTES(0), %s_TRAIN_ARENA_BYTES(0), %s_TRAIN_ARENA_BYTES(1) - %s_TRAIN_ARENA_BYTES(0)); return 0; }\n' \
    "$net" "$U" "$U" "$U" "$U" "$U" "$U" > "$tmp/m.c"
  cc -std=c11 -Iruntime -I"$tmp/$net" -o "$tmp/m" "$tmp/m.c"
  read -r ib ip tb tp < <("$tmp/m")
  s=$("$build/netc" summary "examples/$net.net" | tr -d ,)
  echo "$s" | grep -q "Inference arena: *$ib bytes + $ip per sample"
  echo "$s" | grep -q "Training arena: *$tb bytes + $tp per sample"
done
