/*
 * train.c — training examples/xor.net through its generated training API.
 *
 *   train [W.safetensors]
 *
 * Runs the net's own settings (train { batch = 4; epochs = 2000; seed = 1; },
 * sgd lr 0.5): one full-batch step per epoch, the learning rate from
 * nnrt_lr_at, the loss printed every 250 epochs, then the prediction for
 * each of the four XOR points.  With W, the trained weights are saved as a
 * safetensors file (which `BIN predict --weights W` reads).
 *
 * Built with -DNNRT_NO_FILE_IO too: training needs only the embedded core.
 */
#include "xor.h"

#include <math.h>
#include <stdio.h>

#ifndef NNRT_NO_FILE_IO
#include "nnrt_io.h" /* nnrt_st_save */
#endif

enum { BATCH = 4 };

/* Parameters, gradients, optimizer state and the training workspace. */
static _Alignas(64) unsigned char arena[XOR_TRAIN_ARENA_BYTES(BATCH)];

static const float x[BATCH * XOR_X_SIZE] = {0, 0, 0, 1, 1, 0, 1, 1};
static const float y[BATCH] = {0, 1, 1, 0}; /* f32 label: float; a class label would be int32_t */

/* One pass over the data per epoch; returns the last loss. */
static float train(xor_model *m, const NnrtTrainConfig *cfg)
{
    float loss = 0.0f;
    for (int epoch = 0; epoch < cfg->epochs; epoch++) {
        int64_t step = *xor_step_counter(m);
        float lr = (float)nnrt_lr_at(cfg, cfg->lr, cfg->epochs, epoch, step);
        if (xor_train_step(m, BATCH, x, y, lr, &loss, NULL) != 0)
            return NAN;
        if (epoch % 250 == 0 || epoch == cfg->epochs - 1)
            printf("epoch %4d  lr %.3f  loss %.6f\n", epoch + 1, lr, loss);
    }
    return loss;
}

#ifndef NNRT_NO_FILE_IO
/* The trained parameters as a weights file, named as the net names them. */
static int save_weights(xor_model *m, const char *path, NnrtError *err)
{
    NnrtStOut t[XOR_NUM_PARAMS];
    for (int i = 0; i < XOR_NUM_PARAMS; i++) {
        const NnrtParamDesc *p = &xor_desc.params[i];
        t[i] = (NnrtStOut){p->name, p->ndim, p->shape, xor_param(m, p->name)};
    }
    return nnrt_st_save(path, t, XOR_NUM_PARAMS, NULL, 0, err);
}
#endif

int main(int argc, char **argv)
{
    const NnrtTrainConfig *cfg = &xor_desc.train; /* the .net file's train { } and lr */
    NnrtError err;
    xor_model *m = xor_create_train(arena, sizeof arena, BATCH, &err);
    if (!m) {
        fprintf(stderr, "train: %s\n", err.msg);
        return 1;
    }
    xor_init(m, cfg->seed);
    xor_set_seed(m, cfg->seed);
    float loss = train(m, cfg);

    float logit[BATCH], eval_loss;
    if (xor_evaluate(m, BATCH, x, y, &eval_loss, logit) != 0)
        return 1;
    printf("final loss %.6f\n", eval_loss);
    for (int n = 0; n < BATCH; n++) {
        float p = 1.0f / (1.0f + expf(-logit[n]));
        printf("xor(%g, %g) = %d  (p %.4f)\n", x[2 * n], x[2 * n + 1], p > 0.5f, p);
    }
#ifndef NNRT_NO_FILE_IO
    if (argc > 1 && save_weights(m, argv[1], &err) != 0) {
        fprintf(stderr, "train: %s\n", err.msg);
        return 1;
    }
#else
    (void)argc;
    (void)argv;
#endif
    return isfinite(loss) ? 0 : 1;
}
