/*
 * nnrt_cli.c — what a binary built by `netc build` does, for any net:
 *
 *   BIN predict [--weights W.safetensors] --input X --output Y [--batch B]
 *   BIN summary
 *
 * It works from the model's descriptor (nnrt_model.h), so it is written
 * once for every net.  Data files: .npy, .csv, or IDX (raw or gzip).
 * Exit status: 0 ok, 1 bad input data or weights, 2 wrong usage.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* clock_gettime, fsync, mkdir, open_memstream */
#endif
#include "nnrt_cli.h"

#include "nnrt_io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { EXIT_DATA = 1, EXIT_USAGE = 2, MAX_NAMED = 16 };

typedef struct CliOpts {
    const char *weights;                 /* --weights */
    const char *inputs[MAX_NAMED];       /* --input, as given (NAME=PATH or PATH) */
    int ninputs;
    const char *output;                  /* --output: file, or directory for several outputs */
    int batch;                           /* --batch: samples per forward call */
    uint64_t seed;                       /* --seed: initialization without --weights */
    float scale;                         /* --scale: factor applied to data (1/255 for pixels) */
    int print;                           /* --print K: show the first K predictions */
} CliOpts;

static int usage(const NnrtModelDesc *d, FILE *out)
{
    fprintf(out,
            "%s — compiled by netc %s from %s\n\n"
            "usage:\n"
            "  %s predict [--weights W.safetensors] --input X --output Y [--batch B] [--scale S] [--seed N] [--print K]\n"
            "  %s summary\n\n"
            "Data files: .npy, .csv, or IDX (MNIST family, raw or .gz).  With several inputs, give\n"
            "--input NAME=FILE for each; with several outputs, --output names a directory.\n",
            d->name, d->netc_version, d->source, d->name, d->name);
    return out == stderr ? EXIT_USAGE : 0;
}

static int parse_opts(const NnrtModelDesc *d, int argc, char **argv, CliOpts *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 64;
    o->scale = 1.0f;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = 1;
        if (!strcmp(a, "--weights"))
            o->weights = v;
        else if (!strcmp(a, "--input")) {
            if (o->ninputs == MAX_NAMED) {
                fprintf(stderr, "%s: too many --input options\n", d->name);
                return EXIT_USAGE;
            }
            if (v)
                o->inputs[o->ninputs++] = v;
        } else if (!strcmp(a, "--output"))
            o->output = v;
        else if (!strcmp(a, "--batch"))
            o->batch = v ? atoi(v) : 0;
        else if (!strcmp(a, "--seed"))
            o->seed = v ? strtoull(v, NULL, 10) : 0;
        else if (!strcmp(a, "--scale"))
            o->scale = v ? strtof(v, NULL) : 0;
        else if (!strcmp(a, "--print"))
            o->print = v ? atoi(v) : 0;
        else {
            fprintf(stderr, "%s: unknown option '%s'\n", d->name, a);
            return EXIT_USAGE;
        }
        if (takes && !v) {
            fprintf(stderr, "%s: option %s needs a value\n", d->name, a);
            return EXIT_USAGE;
        }
        i += takes;
    }
    if (o->batch < 1 || o->batch > (1 << 20)) {
        fprintf(stderr, "%s: --batch must be between 1 and %d\n", d->name, 1 << 20);
        return EXIT_USAGE;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Loads a data file by its extension: .npy, .csv, else IDX (raw or gzip). */
static int load_data(const char *path, NnrtArray *a, NnrtError *err)
{
    if (ends_with(path, ".npy"))
        return nnrt_npy_load(path, a, err);
    if (ends_with(path, ".csv"))
        return nnrt_csv_load(path, a, err);
    return nnrt_idx_load(path, a, err);
}

/* Shapes match when equal after dropping 1s, or when the data is flat with as many elements. */
static int sample_shape_ok(const NnrtArray *a, const NnrtTensorDesc *t)
{
    int64_t da[NNRT_MAX_DIMS], dt[NNRT_MAX_DIMS], size = 1;
    int na = 0, nt = 0;
    for (int i = 1; i < a->ndim; i++) {
        size *= a->shape[i];
        if (a->shape[i] != 1)
            da[na++] = a->shape[i];
    }
    for (int i = 0; i < t->ndim; i++)
        if (t->shape[i] != 1)
            dt[nt++] = t->shape[i];
    if (na == nt && memcmp(da, dt, sizeof(int64_t) * (size_t)na) == 0)
        return 1;
    return a->ndim == 2 && size == t->size;
}

/* Finds the data file for input i: NAME=PATH, or a bare PATH when there is one input. */
static const char *input_path(const NnrtModelDesc *d, const CliOpts *o, int i)
{
    size_t n = strlen(d->inputs[i].name);
    for (int j = 0; j < o->ninputs; j++)
        if (!strncmp(o->inputs[j], d->inputs[i].name, n) && o->inputs[j][n] == '=')
            return o->inputs[j] + n + 1;
    if (d->ninputs == 1 && o->ninputs == 1)
        return o->inputs[0];
    return NULL;
}

static int load_inputs(const NnrtModelDesc *d, const CliOpts *o, NnrtArray *data, int64_t *count)
{
    NnrtError err;
    for (int i = 0; i < d->ninputs; i++) {
        const NnrtTensorDesc *t = &d->inputs[i];
        const char *path = input_path(d, o, i);
        if (!path) {
            fprintf(stderr, "%s: no data for input '%s'; give --input %s=FILE\n", d->name, t->name, t->name);
            return EXIT_USAGE;
        }
        if (load_data(path, &data[i], &err) != 0) {
            fprintf(stderr, "%s: %s\n", d->name, err.msg);
            return EXIT_DATA;
        }
        char got[128], want[128];
        if (data[i].ndim < 1 || !sample_shape_ok(&data[i], t)) {
            nnrt_format_shape(got, sizeof got, data[i].ndim, data[i].shape);
            nnrt_format_shape(want, sizeof want, t->ndim, t->shape);
            fprintf(stderr, "%s: %s holds data of shape %s, but input '%s' takes [N, %s] (N samples of %s)\n",
                    d->name, path, got, t->name, want + 1, want);
            return EXIT_DATA;
        }
        if (i > 0 && data[i].shape[0] != *count) {
            fprintf(stderr, "%s: %s holds %lld samples, but the first input has %lld\n", d->name, path,
                    (long long)data[i].shape[0], (long long)*count);
            return EXIT_DATA;
        }
        *count = data[i].shape[0];
    }
    return 0;
}

/* Writes outputs: one .npy file, or DIR/<name>.npy for each output. */
static int save_outputs(const NnrtModelDesc *d, const char *dest, float **out, int64_t count)
{
    NnrtError err;
    if (d->noutputs > 1 && mkdir(dest, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create directory '%s': %s\n", d->name, dest, strerror(errno));
        return EXIT_DATA;
    }
    for (int i = 0; i < d->noutputs; i++) {
        const NnrtTensorDesc *t = &d->outputs[i];
        int64_t shape[NNRT_MAX_DIMS + 1] = {count};
        memcpy(shape + 1, t->shape, sizeof(int64_t) * (size_t)t->ndim);
        char path[4096];
        if (d->noutputs > 1)
            snprintf(path, sizeof path, "%s/%s.npy", dest, t->name);
        else
            snprintf(path, sizeof path, "%s", dest);
        if (nnrt_npy_save_f32(path, t->ndim + 1, shape, out[i], &err) != 0) {
            fprintf(stderr, "%s: %s\n", d->name, err.msg);
            return EXIT_DATA;
        }
    }
    return 0;
}

/* Creates a model in a malloc'd arena, with weights from a file or from the seed. */
static void *make_model(const NnrtModelDesc *d, int max_batch, const char *weights, uint64_t seed, void **arena)
{
    NnrtError err;
    size_t bytes = d->arena_bytes(max_batch);
    *arena = malloc(bytes);
    void *m = *arena ? d->create(*arena, bytes, max_batch, &err) : NULL;
    if (!m) {
        fprintf(stderr, "%s: %s\n", d->name, *arena ? err.msg : "out of memory");
        return NULL;
    }
    if (weights) {
        void *scratch = malloc(nnrt_load_scratch_bytes(d));
        int rc = scratch ? nnrt_load_params_file(d, d->param_block(m), weights, scratch, &err) : -1;
        free(scratch);
        if (rc != 0) {
            fprintf(stderr, "%s: %s\n", d->name, scratch ? err.msg : "out of memory");
            return NULL;
        }
    } else {
        nnrt_init_params(d, d->param_block(m), seed);
    }
    return m;
}

/* "sample 0: class 9 (score 3.21)" for the first k samples of output 0. */
static void print_predictions(const NnrtModelDesc *d, const float *y, int64_t count, int k)
{
    int64_t size = d->outputs[0].size;
    for (int64_t n = 0; n < count && n < k; n++) {
        const float *r = y + n * size;
        int64_t best = 0;
        for (int64_t j = 1; j < size; j++)
            if (r[j] > r[best])
                best = j;
        if (size > 1)
            printf("sample %lld: class %lld (score %.4f)\n", (long long)n, (long long)best, r[best]);
        else
            printf("sample %lld: %.6g\n", (long long)n, r[0]);
    }
}

static int run_batches(const NnrtModelDesc *d, void *m, const CliOpts *o, const NnrtArray *data, float **out,
                       int64_t count)
{
    const float *in[MAX_NAMED];
    float *y[MAX_NAMED];
    float *xbuf[MAX_NAMED] = {0};
    int rc = 0;
    for (int i = 0; i < d->ninputs && !rc; i++)
        if (!(xbuf[i] = malloc(sizeof(float) * (size_t)o->batch * (size_t)d->inputs[i].size)))
            rc = EXIT_DATA;
    for (int64_t s = 0; s < count && !rc; s += o->batch) {
        int b = (int)(count - s < o->batch ? count - s : o->batch);
        for (int i = 0; i < d->ninputs; i++) {
            nnrt_array_get_f32(&data[i], (size_t)(s * d->inputs[i].size), (size_t)b * (size_t)d->inputs[i].size,
                               o->scale, xbuf[i]);
            in[i] = xbuf[i];
        }
        for (int i = 0; i < d->noutputs; i++)
            y[i] = out[i] + s * d->outputs[i].size;
        if (d->forward(m, b, in, y) != 0)
            rc = EXIT_DATA;
    }
    for (int i = 0; i < d->ninputs; i++)
        free(xbuf[i]);
    return rc;
}

static int cmd_predict(const NnrtModelDesc *d, const CliOpts *o)
{
    if (!o->ninputs || !o->output) {
        fprintf(stderr, "%s predict: needs --input and --output\n", d->name);
        return EXIT_USAGE;
    }
    NnrtArray data[MAX_NAMED];
    float *out[MAX_NAMED] = {0};
    void *arena = NULL, *m = NULL;
    int64_t count = 0;
    memset(data, 0, sizeof data);
    int rc = load_inputs(d, o, data, &count);
    if (!rc && !(m = make_model(d, o->batch, o->weights, o->seed, &arena)))
        rc = EXIT_DATA;
    for (int i = 0; i < d->noutputs && !rc; i++)
        if (!(out[i] = malloc(sizeof(float) * (size_t)(count ? count : 1) * (size_t)d->outputs[i].size)))
            rc = EXIT_DATA;
    double t0 = nnrt_now();
    if (!rc)
        rc = run_batches(d, m, o, data, out, count);
    double dt = nnrt_now() - t0;
    if (!rc)
        rc = save_outputs(d, o->output, out, count);
    if (!rc) {
        print_predictions(d, out[0], count, o->print);
        fprintf(stderr, "%s: predicted %lld samples in %.1f ms (%.0f samples/s)\n", d->name, (long long)count,
                dt * 1e3, dt > 0 ? count / dt : 0.0);
    }
    for (int i = 0; i < MAX_NAMED; i++) {
        if (i < d->ninputs)
            nnrt_array_free(&data[i]);
        free(out[i]);
    }
    free(arena);
    return rc;
}

int nnrt_cli_main(const NnrtModelDesc *d, int argc, char **argv)
{
    if (argc < 2)
        return usage(d, stderr);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help"))
        return usage(d, stdout);
    if (!strcmp(cmd, "summary")) {
        fputs(d->summary, stdout);
        return 0;
    }
    CliOpts o;
    int rc = parse_opts(d, argc - 2, argv + 2, &o);
    if (rc)
        return rc;
    if (!strcmp(cmd, "predict"))
        return cmd_predict(d, &o);
    fprintf(stderr, "%s: unknown command '%s'; see '%s --help'\n", d->name, cmd, argv[0]);
    return EXIT_USAGE;
}
