/*
 * fold_fresh.c — driver of test_fold_fresh.sh: every way the documented API
 * changes parameters, each followed by an inference, printed.  Compiled
 * once against the net built normally (batchnorm folded into the layers
 * before it) and once built with --no-fuse (no folding); the two outputs
 * must agree, which they cannot if a forward pass ran on stale folded
 * weights.
 */
#include "fold_fresh.h"
#include "nnrt_io.h"

#include <stdio.h>
#include <stdlib.h>

enum { B = 4 };

static float x[B * FOLD_FRESH_X_SIZE], y[B * FOLD_FRESH_Y_SIZE];
static int32_t t[B] = {0, 1, 2, 1};

/* Runs forward (or evaluate) and prints the outputs under a label. */
static void infer(fold_fresh_model *m, const char *what, int eval)
{
    float loss = 0;
    int rc = eval ? fold_fresh_evaluate(m, B, x, t, &loss, y) : fold_fresh_forward(m, B, x, y);
    if (rc != 0) {
        fprintf(stderr, "%s failed\n", what);
        exit(1);
    }
    printf("%s", what);
    if (eval)
        printf(" loss %.9g", loss);
    for (int i = 0; i < B * FOLD_FRESH_Y_SIZE; i++)
        printf(" %.9g", y[i]);
    printf("\n");
}

static void step(fold_fresh_model *m, const char *what)
{
    float loss;
    if (fold_fresh_train_step(m, B, x, t, 0.5f, &loss, NULL) != 0)
        exit(1);
    printf("%s loss %.9g\n", what, loss);
}

int main(int argc, char **argv)
{
    NnrtError err;
    size_t bytes = fold_fresh_train_arena_bytes(B);
    void *arena = malloc(bytes);
    fold_fresh_model *m = fold_fresh_create_train(arena, bytes, B, &err);
    if (!m || argc < 2)
        return 1;
    for (int i = 0; i < B * FOLD_FRESH_X_SIZE; i++)
        x[i] = (float)((i * 37) % 23) / 11.0f - 1.0f;
    infer(m, "create", 0);
    fold_fresh_init(m, 7);
    infer(m, "init", 0);
    step(m, "step1");
    infer(m, "after-step1", 0);
    step(m, "step2");
    infer(m, "after-step2-evaluate", 1);
    /* Writes through param(): statistics, scale, shift and the weights folded into. */
    fold_fresh_param(m, "batchnorm_1.running_mean")[0] += 1.0f;
    fold_fresh_param(m, "batchnorm_1.running_var")[1] *= 3.0f;
    fold_fresh_param(m, "batchnorm_2.weight")[2] *= -2.0f;
    fold_fresh_param(m, "batchnorm_2.bias")[3] += 0.75f;
    fold_fresh_param(m, "conv2d_1.weight")[0] += 0.5f;
    fold_fresh_param(m, "conv2d_1.bias")[1] -= 0.5f;
    infer(m, "after-param", 0);
    /* Through the descriptor's parameter block, as the runtime's loaders do. */
    fold_fresh_desc.param_block(m)[fold_fresh_desc.params[0].offset + 1] += 0.25f;
    infer(m, "after-param-block", 0);
    if (fold_fresh_save(m, argv[1], &err) != 0)
        return 1;
    fold_fresh_init(m, 11);
    infer(m, "reinit", 0);
    if (fold_fresh_load_file(m, argv[1], &err) != 0)
        return 1;
    infer(m, "after-load-file", 0);
    unsigned char *buf;
    size_t len;
    fold_fresh_init(m, 12);
    infer(m, "reinit2", 0);
    if (nnrt_read_file(argv[1], &buf, &len, &err) != 0 || fold_fresh_load(m, buf, len, &err) != 0)
        return 1;
    free(buf);
    infer(m, "after-load", 0);
    step(m, "step3");
    infer(m, "after-step3-evaluate", 1);
    free(arena);
    return 0;
}
