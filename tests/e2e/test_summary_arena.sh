# netc summary's arena sizes are exactly what the generated macros say, and
# create_train (create) lays a model out in exactly <net>_train_arena_bytes(B)
# (<net>_arena_bytes(B)) bytes and trains in it (runs forward), for every B
# up to 9 and from 61 to 70 (and some between): lenet5 in its 2 shards, in
# 3 and in 1, with 1 and 2 threads.
set -eu
build=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for net in fashion_cnn lenet5 resnet_mini xor; do  # fashion_cnn and resnet_mini have a fold block
  "$build/netc" emit "examples/$net.net" -o "$tmp/$net" --no-runtime
  U=$(echo "$net" | tr a-z A-Z)
  # per sample: over whole rounds of shards (a shard's workspace holds ceil(B / shards) samples)
  cat > "$tmp/m.c" <<C
#include <stdio.h>
#include "$net.h"
int main(void)
{
    const size_t is = ${U}_INFER_SHARDS, ts = ${U}_INFER_SHARDS * ${U}_TRAIN_SHARDS;
    printf("%zu %zu %zu %zu\n", ${U}_ARENA_BYTES(0), (${U}_ARENA_BYTES(is) - ${U}_ARENA_BYTES(0)) / is,
           ${U}_TRAIN_ARENA_BYTES(0), (${U}_TRAIN_ARENA_BYTES(ts) - ${U}_TRAIN_ARENA_BYTES(0)) / ts);
    return 0;
}
C
  cc -std=c11 -Iruntime -I"$tmp/$net" -o "$tmp/m" "$tmp/m.c"
  read -r ib ip tb tp < <("$tmp/m")
  s=$("$build/netc" summary "examples/$net.net" | tr -d ,)
  echo "$s" | grep -q "Inference arena: *$ib bytes + $ip per sample"
  echo "$s" | grep -q "Training arena: *$tb bytes + $tp per sample"
done

cat > "$tmp/fit.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lenet5.h"
#include "nnrt_threads.h"
int main(int argc, char **argv)
{
    nnrt_threads_init(argc > 1 ? atoi(argv[1]) : 1);
    static float x[70 * 784];
    static int32_t y[70];
    for (int i = 0; i < 70 * 784; i++)
        x[i] = (float)(i % 13) / 13.0f;
    for (int b = 1; b <= 70; b += b < 10 || b > 60 ? 1 : 7) {  /* every rounding, small and large */
        size_t bytes = lenet5_train_arena_bytes(b);
        void *arena = malloc(bytes);
        NnrtError err;
        lenet5_model *m = lenet5_create_train(arena, bytes, b, &err);
        float loss = 0;
        for (int n = 0; n < b; n++)
            y[n] = n % 10;
        if (!m || lenet5_train_step(m, b, x, y, 0.01f, &loss, NULL) != 0 || !(loss > 0)) {
            fprintf(stderr, "lenet5 in %d shards, max_batch %d: %s\n", LENET5_TRAIN_SHARDS, b, m ? "train_step failed" : err.msg);
            return 1;
        }
        if (lenet5_create_train(arena, bytes - 1, b, &err)) {
            fprintf(stderr, "max_batch %d: create_train accepted a byte less than it asks for\n", b);
            return 1;
        }
        free(arena);
        static float out[70 * 10];
        bytes = lenet5_arena_bytes(b);
        arena = malloc(bytes);
        m = lenet5_create(arena, bytes, b, &err);
        if (!m || lenet5_forward(m, b, x, out) != 0 || out[b * 10 - 1] != out[b * 10 - 1]) {
            fprintf(stderr, "lenet5 forward in %d shards, max_batch %d: %s\n", LENET5_INFER_SHARDS, b,
                    m ? "forward failed" : err.msg);
            return 1;
        }
        free(arena);
    }
    return 0;
}
C
for shards in "" 3 1; do
  rm -rf "$tmp/fit"
  NETC_TRAIN_SHARDS=$shards NETC_INFER_SHARDS=$shards "$build/netc" emit examples/lenet5.net -o "$tmp/fit" --no-runtime
  grep -q "LENET5_TRAIN_SHARDS ${shards:-2} " "$tmp/fit/lenet5.h"
  grep -q "LENET5_INFER_SHARDS ${shards:-2} " "$tmp/fit/lenet5.h"
  ${CC:-cc} -std=c11 -O1 -Wall -Wextra -Werror ${SANFLAGS:-} -D_POSIX_C_SOURCE=200809L -Iruntime -I"$tmp/fit" -o "$tmp/fit/fit" "$tmp/fit.c" "$tmp/fit/lenet5.c" \
    "$build/libnnrt.a" -lsleef -lz -lm -lpthread
  for t in 1 2; do "$tmp/fit/fit" $t; done
done
