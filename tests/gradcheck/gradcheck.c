/*
 * gradcheck.c — checks a generated backward pass by finite differences.
 *
 * Built once per net with -DNET=<name> against the net's generated C.
 * It makes a random batch (inputs uniform in [-1, 1], class labels
 * uniform, f32 labels uniform in [0, 1]), takes the analytic gradient
 * from NET_train_step with lr = 0 (which leaves the parameters as they
 * are), and compares it with central differences of the loss for up to
 * 24 elements of every trainable parameter (step 2e-3):
 *
 *     |fd - analytic| <= 2e-2 * max(|fd|, |analytic|) + 2e-3
 *
 * The step counter is reset before every loss so dropout draws the same
 * mask, and batchnorm uses batch statistics in every evaluation.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/netc_test.h"

enum { BATCH = 3, MAXIO = 8, PER_TENSOR = 24 };

static const NnrtModelDesc *d = &API(desc);
static void *model;
static const float *inputs[MAXIO];
static const void *labels[MAXIO];

static double loss_now(void)
{
    float loss = 0;
    *d->step_counter(model) = 0;
    if (d->train_step(model, BATCH, inputs, labels, 0.0f, &loss, NULL) != 0) {
        fprintf(stderr, "train_step failed\n");
        exit(2);
    }
    return loss;
}

static void make_batch(NnrtRng *rng)
{
    for (int i = 0; i < d->ninputs; i++) {
        float *x = malloc(sizeof(float) * BATCH * (size_t)d->inputs[i].size);
        for (int64_t j = 0; j < BATCH * d->inputs[i].size; j++)
            x[j] = nnrt_rng_uniform_range(rng, -1.0f, 1.0f);
        inputs[i] = x;
    }
    for (int i = 0; i < d->nlabels; i++) {
        const NnrtTensorDesc *t = &d->labels[i];
        if (t->nclass) {
            int32_t *y = malloc(sizeof(int32_t) * BATCH);
            for (int n = 0; n < BATCH; n++)
                y[n] = (int32_t)nnrt_rng_below(rng, (uint32_t)t->nclass);
            labels[i] = y;
        } else {
            float *y = malloc(sizeof(float) * BATCH * (size_t)t->size);
            for (int64_t j = 0; j < BATCH * t->size; j++)
                y[j] = nnrt_rng_uniform(rng);
            labels[i] = y;
        }
    }
}

/* Compares analytic and numeric gradients of one parameter; returns failures. */
static int check_param(const NnrtParamDesc *p, float *params, const float *grad, NnrtRng *rng)
{
    int bad = 0;
    for (int k = 0; k < PER_TENSOR && k < p->size; k++) {
        int64_t j = p->size <= PER_TENSOR ? k : (int64_t)nnrt_rng_below(rng, (uint32_t)p->size);
        float *w = &params[p->offset + j];
        float saved = *w, h = 2e-3f * fmaxf(1.0f, fabsf(saved));
        *w = saved + h;
        double up = loss_now();
        *w = saved - h;
        double down = loss_now();
        *w = saved;
        double fd = (up - down) / ((double)(saved + h) - (double)(saved - h));
        double an = grad[p->offset + j];
        if (fabs(fd - an) > 2e-2 * fmax(fabs(fd), fabs(an)) + 2e-3) {
            if (bad < 5)
                printf("  %s[%lld]: finite difference %.6g, backward %.6g\n", p->name, (long long)j, fd, an);
            bad++;
        }
    }
    return bad;
}

int main(void)
{
    NnrtError err;
    size_t bytes = d->train_arena_bytes(BATCH);
    void *arena = malloc(bytes);
    model = d->create_train(arena, bytes, BATCH, &err);
    if (!model) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    NnrtRng rng;
    nnrt_rng_seed(&rng, 42);
    nnrt_init_params(d, d->param_block(model), 7);
    make_batch(&rng);
    loss_now();  /* analytic gradient, parameters unchanged with lr = 0 */
    int64_t trainable = 0;
    for (int i = 0; i < d->nparams; i++)
        if (d->params[i].trainable && d->params[i].offset + d->params[i].size > trainable)
            trainable = d->params[i].offset + d->params[i].size;
    float *grad = malloc(sizeof(float) * (size_t)(trainable + 1));
    memcpy(grad, API(grad)(model), sizeof(float) * (size_t)trainable);
    int bad = 0, checked = 0;
    for (int i = 0; i < d->nparams; i++)
        if (d->params[i].trainable) {
            bad += check_param(&d->params[i], d->param_block(model), grad, &rng);
            checked++;
        }
    printf("%s: %d parameter tensors checked, %d mismatches\n", d->name, checked, bad);
    for (int i = 0; i < d->ninputs; i++)
        free((void *)inputs[i]);
    for (int i = 0; i < d->nlabels; i++)
        free((void *)labels[i]);
    free(grad);
    free(arena);
    return bad ? 1 : 0;
}
