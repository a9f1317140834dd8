/*
 * nnrt_model.c — generic model services over an NnrtModelDesc:
 * default initialization and loading weights from memory.
 */
#include "nnrt_model.h"

#include <math.h>
#include <string.h>

double nnrt_lr_at(const NnrtTrainConfig *c, double base_lr, int epochs, int epoch, int64_t step)
{
    double f = 1.0;
    switch (c->schedule) {
    case NNRT_SCHED_CONSTANT: break;
    case NNRT_SCHED_STEP: f = pow(c->gamma, (double)(epoch / (c->step_size > 0 ? c->step_size : 1))); break;
    case NNRT_SCHED_COSINE: f = 0.5 * (1.0 + cos(3.14159265358979323846 * epoch / (epochs > 0 ? epochs : 1))); break;
    }
    if (c->warmup > 0 && step < c->warmup)
        f *= (double)(step + 1) / c->warmup;
    return base_lr * f;
}

void nnrt_init_params(const NnrtModelDesc *d, float *block, uint64_t seed)
{
    NnrtRng rng;
    nnrt_rng_seed(&rng, seed);
    for (int i = 0; i < d->nparams; i++) {
        const NnrtParamDesc *p = &d->params[i];
        float *dst = block + p->offset;
        for (int64_t j = 0; j < p->size; j++) {
            switch (p->init) {
            case NNRT_INIT_UNIFORM: dst[j] = nnrt_rng_uniform_range(&rng, -p->bound, p->bound); break;
            case NNRT_INIT_ONES: dst[j] = 1.0f; break;
            case NNRT_INIT_ZEROS: dst[j] = 0.0f; break;
            }
        }
    }
}

/* Room for every parameter, a batchnorm counter per parameter, and slack. */
static int scratch_entries(const NnrtModelDesc *d)
{
    return 2 * d->nparams + 16;
}

size_t nnrt_load_scratch_bytes(const NnrtModelDesc *d)
{
    return NNRT_LOAD_SCRATCH_BYTES(d->nparams);
}

int nnrt_load_params(const NnrtModelDesc *d, float *block, const void *bytes, size_t len,
                     const char *what, void *scratch, NnrtError *err)
{
    NnrtStEntry *entries = scratch;
    NnrtParamSpec *specs = (NnrtParamSpec *)(entries + scratch_entries(d));
    int count = 0, nmeta = 0;
    if (nnrt_st_parse(bytes, len, what, entries, scratch_entries(d), &count, NULL, 0, &nmeta, err) != 0)
        return -1;
    for (int i = 0; i < d->nparams; i++) {
        const NnrtParamDesc *p = &d->params[i];
        specs[i].name = p->name;
        specs[i].ndim = p->ndim;
        memcpy(specs[i].shape, p->shape, sizeof specs[i].shape);
        specs[i].dst = block + p->offset;
    }
    return nnrt_st_bind(entries, count, what, specs, d->nparams, err);
}
