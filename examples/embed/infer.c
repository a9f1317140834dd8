/*
 * infer.c — embedding the C that `netc emit examples/fashion_mlp.net` writes.
 *
 * The model lives in one static arena sized by FASHION_MLP_ARENA_BYTES: no
 * malloc anywhere on the model's path.  Built two ways (see Makefile):
 *
 *   infer init W.safetensors SEED   PyTorch-style initialization from SEED,
 *                                   saved as a safetensors weights file
 *   infer run W.safetensors [X.npy] loads W from bytes in memory and with
 *                                   fashion_mlp_load_file, classifies a batch
 *                                   of 8 synthetic images, prints each argmax
 *                                   (and saves the batch as X.npy)
 *
 *   infer_embedded                  built with -DNNRT_NO_FILE_IO against the
 *                                   embedded core only: the weights are a
 *                                   const byte array linked into the program
 *
 * The output lines read like `BIN predict --print`: "sample 0: class 3 (score 0.1234)".
 */
#include "fashion_mlp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef NNRT_NO_FILE_IO
#include "nnrt_io.h" /* file layer: nnrt_read_file, nnrt_st_save, nnrt_npy_save_f32 */
#endif

enum { MAX_BATCH = 8 };

/* Everything the model owns: parameters, load scratch, activations. */
static _Alignas(64) unsigned char arena[FASHION_MLP_ARENA_BYTES(MAX_BATCH)];

static float images[MAX_BATCH * FASHION_MLP_IMAGE_SIZE];   /* the batch, [8, 1, 28, 28] */
static float logits[MAX_BATCH * FASHION_MLP_LOGITS_SIZE];  /* the result, [8, 10] */

/* Eight deterministic images: stripes of different frequencies, in [0, 1]. */
static void make_batch(float *x, int batch)
{
    for (int n = 0; n < batch; n++)
        for (int i = 0; i < FASHION_MLP_IMAGE_SIZE; i++)
            x[n * FASHION_MLP_IMAGE_SIZE + i] = (float)((i * (n + 3) + 7 * n) % 17) / 16.0f;
}

/* The class with the highest score for each sample. */
static void print_argmax(const float *y, int batch)
{
    for (int n = 0; n < batch; n++) {
        const float *row = y + n * FASHION_MLP_LOGITS_SIZE;
        int best = 0;
        for (int k = 1; k < FASHION_MLP_LOGITS_SIZE; k++)
            if (row[k] > row[best])
                best = k;
        printf("sample %d: class %d (score %.4f)\n", n, best, row[best]);
    }
}

#ifdef NNRT_NO_FILE_IO

/* A safetensors image linked into the program (weights_blob.c, made by the Makefile). */
extern const unsigned char fashion_mlp_weights[];
extern const size_t fashion_mlp_weights_len;

int main(void)
{
    NnrtError err;
    fashion_mlp_model *m = fashion_mlp_create(arena, sizeof arena, MAX_BATCH, &err);
    if (!m || fashion_mlp_load(m, fashion_mlp_weights, fashion_mlp_weights_len, &err) != 0) {
        fprintf(stderr, "infer: %s\n", err.msg);
        return 1;
    }
    make_batch(images, MAX_BATCH);
    if (fashion_mlp_forward(m, MAX_BATCH, images, logits) != 0)
        return 1;
    print_argmax(logits, MAX_BATCH);
    return 0;
}

#else

/* Writes the model's parameters as a weights file: one F32 tensor per parameter. */
static int save_weights(fashion_mlp_model *m, const char *path, NnrtError *err)
{
    NnrtStOut t[FASHION_MLP_NUM_PARAMS];
    for (int i = 0; i < FASHION_MLP_NUM_PARAMS; i++) {
        const NnrtParamDesc *p = &fashion_mlp_desc.params[i];
        t[i] = (NnrtStOut){p->name, p->ndim, p->shape, fashion_mlp_param(m, p->name)};
    }
    return nnrt_st_save(path, t, FASHION_MLP_NUM_PARAMS, NULL, 0, err);
}

/* infer init W SEED */
static int cmd_init(fashion_mlp_model *m, const char *path, uint64_t seed, NnrtError *err)
{
    fashion_mlp_init(m, seed);
    return save_weights(m, path, err);
}

/* infer run W [X.npy] */
static int cmd_run(fashion_mlp_model *m, const char *path, const char *save_input, NnrtError *err)
{
    static float again[MAX_BATCH * FASHION_MLP_LOGITS_SIZE];
    unsigned char *bytes = NULL;
    size_t len = 0;
    make_batch(images, MAX_BATCH);

    /* 1. From bytes in memory: here a file read into a buffer, in a product
     *    perhaps a flash partition or a download. */
    if (nnrt_read_file(path, &bytes, &len, err) != 0)
        return -1;
    int rc = fashion_mlp_load(m, bytes, len, err);
    if (rc == 0 && fashion_mlp_load(m, bytes, len / 2, err) != 0)  /* a truncated image is refused, */
        printf("refused: %s\n", err->msg);                         /* and the weights are unchanged */
    free(bytes);
    if (rc != 0 || fashion_mlp_forward(m, MAX_BATCH, images, logits) != 0)
        return -1;

    /* 2. Straight from the file: the same numbers. */
    if (fashion_mlp_load_file(m, path, err) != 0 || fashion_mlp_forward(m, MAX_BATCH, images, again) != 0)
        return -1;
    if (memcmp(logits, again, sizeof logits) != 0)
        return nnrt_errorf(err, "fashion_mlp_load and fashion_mlp_load_file disagree");

    print_argmax(logits, MAX_BATCH);
    const int64_t shape[4] = {MAX_BATCH, 1, 28, 28};
    return save_input ? nnrt_npy_save_f32(save_input, 4, shape, images, err) : 0;
}

int main(int argc, char **argv)
{
    NnrtError err;
    if (argc < 3 || (strcmp(argv[1], "init") && strcmp(argv[1], "run"))) {
        fprintf(stderr, "usage: infer init W.safetensors SEED | infer run W.safetensors [X.npy]\n");
        return 2;
    }
    fashion_mlp_model *m = fashion_mlp_create(arena, sizeof arena, MAX_BATCH, &err);
    int rc = !m ? -1
             : !strcmp(argv[1], "init") ? cmd_init(m, argv[2], strtoull(argc > 3 ? argv[3] : "0", NULL, 10), &err)
                                        : cmd_run(m, argv[2], argc > 3 ? argv[3] : NULL, &err);
    if (rc != 0) {
        fprintf(stderr, "infer: %s\n", err.msg);
        return 1;
    }
    return 0;
}

#endif
