/*
 * fuzz_safetensors.c - libFuzzer target for nnrt_st_parse and nnrt_st_bind.
 *
 * Parses the input as a safetensors file; on success reads every tensor's
 * bytes (so ASan checks the pointers stay inside the input) and binds all
 * F32 tensors to freshly allocated parameters of the parsed shapes.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iruntime \
 *       fuzz/fuzz_safetensors.c runtime/nnrt*.c -lz -lsleef -lm
 *   ./a.out -max_total_time=60 corpus-safetensors fuzz/seeds/safetensors
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Sums every data byte so out-of-bounds entries are caught by ASan. */
static unsigned touch(const NnrtStEntry *e, int n)
{
    unsigned sum = 0;
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < e[i].nbytes; k++)
            sum += e[i].data[k];
    return sum;
}

/* Binds the F32 entries (others make bind report an unexpected tensor). */
static void bind_all(const NnrtStEntry *e, int n)
{
    static NnrtParamSpec specs[64];
    NnrtError err;
    int ns = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(e[i].dtype, "F32") != 0)
            continue;
        specs[ns] = (NnrtParamSpec){e[i].name, e[i].ndim, {0}, malloc(e[i].nbytes + 1)};
        memcpy(specs[ns].shape, e[i].shape, sizeof e[i].shape);
        ns++;
    }
    nnrt_st_bind(e, n, "fuzz", specs, ns, &err);
    for (int s = 0; s < ns; s++)
        free(specs[s].dst);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static NnrtStEntry e[64];
    NnrtStMeta meta[4];
    NnrtError err;
    int n, nmeta;
    if (nnrt_st_parse(data, size, "fuzz", e, 64, &n, meta, 4, &nmeta, &err) == 0) {
        volatile unsigned sink = touch(e, n);
        (void)sink;
        bind_all(e, n);
    }
    return 0;
}
