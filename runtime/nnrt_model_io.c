/*
 * nnrt_model_io.c — loading a model's weights from a file (file layer).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* clock_gettime, fsync, mkdir, open_memstream */
#endif
#include "nnrt_io.h"
#include "nnrt_model.h"

#include <stdlib.h>

int nnrt_load_params_file(const NnrtModelDesc *d, float *block, const char *path, void *scratch, NnrtError *err)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    if (nnrt_read_file(path, &buf, &len, err) != 0)
        return -1;
    int rc = nnrt_load_params(d, block, buf, len, path, scratch, err);
    free(buf);
    return rc;
}

int nnrt_save_params_file(const NnrtModelDesc *d, const float *block, const char *path, NnrtError *err)
{
    NnrtStOut *t = calloc((size_t)d->nparams + 1, sizeof *t);
    if (!t)
        return nnrt_errorf(err, "%s: out of memory", path);
    for (int i = 0; i < d->nparams; i++)
        t[i] = (NnrtStOut){d->params[i].name, d->params[i].ndim, d->params[i].shape, block + d->params[i].offset};
    NnrtStMeta meta = {"format", "pt"};
    int rc = nnrt_st_save(path, t, d->nparams, &meta, 1, err);
    free(t);
    return rc;
}
