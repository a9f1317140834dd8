/*
 * fuzz_idx.c - libFuzzer target for nnrt_gunzip and nnrt_idx_parse.
 *
 * The input is parsed as an IDX file (which inflates gzip itself), and is
 * also inflated with nnrt_gunzip directly, the result parsed again as IDX.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iruntime \
 *       fuzz/fuzz_idx.c runtime/nnrt*.c -lz -lsleef -lm
 *   ./a.out -max_total_time=60 corpus-idx fuzz/seeds/idx
 */
#include <stdint.h>
#include <stdlib.h>

#include "nnrt_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parses a buffer as IDX and converts the first elements on success. */
static void parse(const void *buf, size_t len)
{
    NnrtArray a;
    NnrtError err;
    float first[16];
    if (nnrt_idx_parse(buf, len, "fuzz-idx", &a, &err) == 0) {
        nnrt_array_get_f32(&a, 0, 16, 1.0f / 255, first);
        nnrt_array_free(&a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *raw;
    size_t rawlen;
    NnrtError err;
    parse(data, size);
    if (nnrt_gunzip(data, size, "fuzz-idx.gz", &raw, &rawlen, &err) == 0) {
        parse(raw, rawlen);
        free(raw);
    }
    return 0;
}
