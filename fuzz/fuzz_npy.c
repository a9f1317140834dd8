/*
 * fuzz_npy.c - libFuzzer target for nnrt_npy_parse.
 *
 * On success converts every element to float and reads the first labels,
 * so the array's dtype, count and data must agree.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iruntime \
 *       fuzz/fuzz_npy.c runtime/nnrt*.c -lz -lsleef -lm
 *   ./a.out -max_total_time=60 corpus-npy fuzz/seeds/npy
 */
#include <stdint.h>
#include <stdlib.h>

#include "nnrt_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Converts the whole array in batches and reads a few labels. */
static void exercise(const NnrtArray *a)
{
    float buf[64];
    int64_t label;
    NnrtError err;
    for (size_t i = 0; i < a->count; i += 64)
        nnrt_array_get_f32(a, i, 64, 0.5f, buf);
    for (size_t i = 0; i < 4 && i <= a->count; i++)
        nnrt_array_get_label(a, i, &label, &err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    NnrtArray a;
    NnrtError err;
    if (nnrt_npy_parse(data, size, "fuzz.npy", &a, &err) == 0) {
        exercise(&a);
        nnrt_array_free(&a);
    }
    return 0;
}
