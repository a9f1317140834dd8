/*
 * fuzz_csv.c - libFuzzer target for nnrt_csv_parse.
 *
 * On success checks that the array is a consistent float32 [rows, cols].
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iruntime \
 *       fuzz/fuzz_csv.c runtime/nnrt*.c -lz -lsleef -lm
 *   ./a.out -max_total_time=60 corpus-csv fuzz/seeds/csv
 */
#include <stdint.h>
#include <stdlib.h>

#include "nnrt_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    NnrtArray a;
    NnrtError err;
    if (nnrt_csv_parse(data, size, "fuzz.csv", &a, &err) == 0) {
        if (a.dtype != NNRT_F32 || a.ndim != 2 ||
            (size_t)(a.shape[0] * a.shape[1]) != a.count || a.count == 0)
            abort();
        volatile float last = ((const float *)a.data)[a.count - 1];
        (void)last;
        nnrt_array_free(&a);
    }
    return 0;
}
