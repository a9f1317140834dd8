/*
 * train_check.c — runs a generated training step against a PyTorch
 * reference case (tests/reference/train/<case>/, see README.md).
 *
 * Built once per case with -DNET=<name> against the net's generated C:
 *
 *   train_check CASE_DIR
 *
 * loads init.safetensors, takes `steps` steps of `batch` consecutive
 * samples of data.npy / labels.npy with the learning rate of nnrt_lr_at,
 * and compares every step's loss with expected_losses.npy and every
 * parameter afterwards with expected.safetensors:
 * |got - expected| <= tolerance * max(1, |expected|).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nnrt_io.h"

#include "../lib/netc_test.h"

static const NnrtModelDesc *d = &API(desc);

/* The integer or number after "key": in a small JSON file. */
static double json_number(const char *text, const char *key, double dflt)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(text, pat);
    return p ? strtod(p + strlen(pat), NULL) : dflt;
}

static int fail(const char *what, const char *msg)
{
    printf("FAIL %s: %s\n", what, msg);
    return 1;
}

static int compare(const char *what, const float *got, const float *want, int64_t n, double tol)
{
    double worst = 0;
    int64_t at = 0;
    for (int64_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / fmax(1.0, fabs(want[i]));
        if (!(e <= worst)) {
            worst = isnan(e) ? INFINITY : e;
            at = i;
        }
    }
    if (worst <= tol)
        return 0;
    printf("FAIL %s: rel err %.3g at %lld (got %.8g, expected %.8g)\n", what, worst, (long long)at, got[at], want[at]);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return fprintf(stderr, "usage: train_check CASE_DIR\n"), 2;
    char path[4096];
    NnrtError err;
    unsigned char *json;
    size_t jlen;
    snprintf(path, sizeof path, "%s/case.json", argv[1]);
    if (nnrt_read_file(path, &json, &jlen, &err))
        return fail(path, err.msg);
    int batch = (int)json_number((char *)json, "batch", 8), steps = (int)json_number((char *)json, "steps", 3);
    uint64_t seed = (uint64_t)json_number((char *)json, "seed", 0);
    double tol = json_number((char *)json, "tolerance", 1e-4);
    free(json);

    size_t bytes = d->train_arena_bytes(batch);
    void *arena = malloc(bytes), *m = d->create_train(arena, bytes, batch, &err);
    void *scratch = malloc(nnrt_load_scratch_bytes(d));
    snprintf(path, sizeof path, "%s/init.safetensors", argv[1]);
    if (!m || nnrt_load_params_file(d, d->param_block(m), path, scratch, &err))
        return fail(path, err.msg);
    d->set_seed(m, seed);

    NnrtArray data = {0}, labels = {0};
    snprintf(path, sizeof path, "%s/data.npy", argv[1]);
    if (nnrt_npy_load(path, &data, &err))
        return fail(path, err.msg);
    snprintf(path, sizeof path, "%s/labels.npy", argv[1]);
    bool has_labels = d->nlabels > 0;
    if (has_labels && nnrt_npy_load(path, &labels, &err))
        return fail(path, err.msg);

    int64_t in_size = d->inputs[0].size;
    int64_t lab_size = has_labels ? (d->labels[0].nclass ? 1 : d->labels[0].size) : 0;
    float *x = malloc(sizeof(float) * (size_t)(batch * in_size));
    int32_t *yc = malloc(sizeof(int32_t) * (size_t)batch);
    float *yf = malloc(sizeof(float) * (size_t)(batch * (lab_size ? lab_size : 1)));
    float losses[64];
    int bad = 0;
    for (int s = 0; s < steps && s < 64; s++) {
        nnrt_array_get_f32(&data, (size_t)(s * batch * in_size), (size_t)(batch * in_size), 1.0f, x);
        const float *in[1] = {x};
        const void *lab[1] = {NULL};
        if (has_labels && d->labels[0].nclass) {
            for (int n = 0; n < batch; n++) {
                int64_t v;
                if (nnrt_array_get_label(&labels, (size_t)(s * batch + n), &v, &err))
                    return fail("labels", err.msg);
                yc[n] = (int32_t)v;
            }
            lab[0] = yc;
        } else if (has_labels) {
            nnrt_array_get_f32(&labels, (size_t)(s * batch * lab_size), (size_t)(batch * lab_size), 1.0f, yf);
            lab[0] = yf;
        }
        float lr = (float)nnrt_lr_at(&d->train, d->train.lr, d->train.epochs, 0, s);
        if (d->train_step(m, batch, in, lab, lr, &losses[s], NULL) != 0)
            return fail("train_step", "returned an error");
    }
    NnrtArray want_losses = {0};
    snprintf(path, sizeof path, "%s/expected_losses.npy", argv[1]);
    if (nnrt_npy_load(path, &want_losses, &err))
        return fail(path, err.msg);
    bad += compare("losses", losses, want_losses.data, steps, tol);

    /* Every parameter after the steps, by name. */
    unsigned char *buf;
    size_t len;
    int count = 0, nmeta = 0;
    NnrtStEntry *e = malloc(sizeof(NnrtStEntry) * 1024);
    snprintf(path, sizeof path, "%s/expected.safetensors", argv[1]);
    if (nnrt_st_load_file(path, &buf, &len, e, 1024, &count, NULL, 0, &nmeta, &err))
        return fail(path, err.msg);
    for (int i = 0; i < d->nparams; i++) {
        const NnrtParamDesc *p = &d->params[i];
        int j = 0;
        while (j < count && strcmp(e[j].name, p->name) != 0)
            j++;
        if (j == count || (int64_t)e[j].nbytes != 4 * p->size) {
            bad += fail(p->name, "missing from expected.safetensors");
            continue;
        }
        float *want = malloc(e[j].nbytes);
        memcpy(want, e[j].data, e[j].nbytes);
        bad += compare(p->name, d->param_block(m) + p->offset, want, p->size, tol);
        free(want);
    }
    printf("%s: %d steps, losses", d->name, steps);
    for (int s = 0; s < steps; s++)
        printf(" %.6f", losses[s]);
    printf(", %d parameter tensors: %s\n", d->nparams, bad ? "MISMATCH" : "ok");
    free(buf);
    free(e);
    free(x);
    free(yc);
    free(yf);
    free(scratch);
    free(arena);
    nnrt_array_free(&data);
    nnrt_array_free(&labels);
    nnrt_array_free(&want_losses);
    return bad ? 1 : 0;
}
