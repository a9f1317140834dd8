/*
 * nnrt_cli.c — what a binary built by `netc build` does, for any net:
 *
 *   BIN train --data X --labels Y [...]     nnrt_train.c
 *   BIN eval --weights W --data X --labels Y [...]
 *   BIN predict [--weights W] --input X --output Y [...]
 *   BIN bench [--batch B] [--steps K] [...]     nnrt_bench.c
 *   BIN summary
 *
 * It works from the model's descriptor (nnrt_model.h), so it is written
 * once for every net.  This file holds what the commands share — the
 * option table, loading and checking data sets, creating a model and
 * loading weights or checkpoints into it — and the predict command.
 * Data files: .npy, .csv, or IDX (raw or gzip).
 * Exit status: 0 ok, 1 bad input data or weights, 2 wrong usage.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* clock_gettime, fsync, mkdir, open_memstream */
#endif
#include "nnrt_cli_int.h"
#include "nnrt_threads.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- usage ---------------------------------------------------------------- */

static const char *schedule_name(NnrtSchedule s)
{
    return s == NNRT_SCHED_STEP ? "step" : s == NNRT_SCHED_COSINE ? "cosine" : "constant";
}

/* The net's training defaults, or why it has no train and eval commands. */
static void usage_train(const NnrtModelDesc *d, FILE *out)
{
    const NnrtTrainConfig *c = &d->train;
    if (!d->trainable) {
        fprintf(out, "\n(train and eval need a net with a loss and an optimizer; this one has neither.)\n");
        return;
    }
    fprintf(out, "\nTraining defaults (the net's train block): %d epochs, batch %d, %s lr %g, seed %llu, %s,\n"
                 "schedule %s", c->epochs, c->batch, c->optimizer ? c->optimizer : "?", c->lr,
            (unsigned long long)c->seed, c->shuffle ? "shuffled" : "not shuffled", schedule_name(c->schedule));
    if (c->schedule == NNRT_SCHED_STEP)
        fprintf(out, " (gamma %g every %d epochs)", c->gamma, c->step_size);
    if (c->warmup > 0)
        fprintf(out, ", warmup %d steps", c->warmup);
    if (c->clip_norm > 0)
        fprintf(out, ", gradients clipped to norm %g", c->clip_norm);
    fprintf(out, ".\n");
}

static int usage(const NnrtModelDesc *d, FILE *out)
{
    fprintf(out, "%s — compiled by netc %s from %s\n\nusage:\n", d->name, d->netc_version, d->source);
    int lab = d->nlabels > 0;
    if (d->trainable)
        fprintf(out,
                "  %s train --data X%s [--test-data X2%s] [--epochs E] [--batch B]\n"
                "        [--lr LR] [--seed S] [--init W.safetensors] [--save OUT.safetensors] [--resume CKPT]\n"
                "        [--steps K] [--no-shuffle] [--scale F] [--quiet] [--threads N]\n"
                "  %s eval --weights W --data X%s [--batch B] [--scale F]%s [--threads N]\n",
                d->name, lab ? " --labels Y" : "", lab ? " --test-labels Y2" : "", d->name, lab ? " --labels Y" : "",
                lab && d->acc_output >= 0 ? " [--confusion]" : "");
    fprintf(out,
            "  %s predict [--weights W.safetensors] --input X --output Y [--batch B] [--scale F] [--seed S]"
            " [--print K] [--threads N]\n"
            "  %s bench [--batch B] [--steps K] [--threads N] [--json FILE]   (timings: see docs/performance.md)\n"
            "  %s summary\n",
            d->name, d->name, d->name);
    usage_train(d, out);
    fprintf(out,
            "\nData files: .npy, .csv, or IDX (MNIST family, raw or .gz); --scale multiplies the input data\n"
            "(0.00392157 = 1/255 for pixels).  Class labels: integer arrays of any width, or whole-number floats.\n"
            "With several inputs or labels, give NAME=FILE for each; with several outputs, --output names a\n"
            "directory.  --save writes a checkpoint (weights, optimizer state, step, epoch) after every epoch,\n"
            "atomically; --resume continues from one; predict, eval and --init accept one as weights.\n"
            "Exit status: 0 ok, 1 bad data, weights or a diverged run, 2 wrong usage.\n");
    return out == stderr ? NNRT_EXIT_USAGE : 0;
}

/* ---- options -------------------------------------------------------------- */

typedef enum OptKind { OPT_PATH, OPT_LIST, OPT_INT, OPT_I64, OPT_U64, OPT_F64, OPT_FLAG } OptKind;

typedef struct OptSpec {
    const char *name; /* "--epochs" */
    OptKind kind;     /* how the value is parsed */
    size_t off;       /* field of CliOpts */
    double lo, hi;    /* numbers: allowed range */
    int cmds;         /* NNRT_CMD_* bits of the commands that take it */
} OptSpec;

#define P_ NNRT_CMD_PREDICT
#define T_ NNRT_CMD_TRAIN
#define E_ NNRT_CMD_EVAL
#define F_(field) offsetof(CliOpts, field)
static const OptSpec opt_specs[] = {
    {"--weights", OPT_PATH, F_(weights), 0, 0, P_ | E_},
    {"--input", OPT_LIST, F_(data), 0, 0, P_},
    {"--data", OPT_LIST, F_(data), 0, 0, P_ | T_ | E_},
    {"--labels", OPT_LIST, F_(labels), 0, 0, T_ | E_},
    {"--test-data", OPT_LIST, F_(test_data), 0, 0, T_},
    {"--test-labels", OPT_LIST, F_(test_labels), 0, 0, T_},
    {"--output", OPT_PATH, F_(output), 0, 0, P_},
    {"--init", OPT_PATH, F_(init), 0, 0, T_},
    {"--save", OPT_PATH, F_(save), 0, 0, T_},
    {"--resume", OPT_PATH, F_(resume), 0, 0, T_},
    {"--batch", OPT_INT, F_(batch), 1, 1 << 20, P_ | T_ | E_},
    {"--epochs", OPT_INT, F_(epochs), 1, 1e6, T_},
    {"--steps", OPT_I64, F_(steps), 1, 1e15, T_},
    {"--print", OPT_INT, F_(print), 0, 1e9, P_},
    {"--seed", OPT_U64, F_(seed), 0, 0, P_ | T_},
    {"--lr", OPT_F64, F_(lr), 0, 1e30, T_},
    {"--scale", OPT_F64, F_(scale), -1e30, 1e30, P_ | T_ | E_},
    {"--no-shuffle", OPT_FLAG, F_(shuffle), 0, 0, T_},
    {"--quiet", OPT_FLAG, F_(quiet), 0, 0, T_},
    {"--confusion", OPT_FLAG, F_(confusion), 0, 0, E_},
    {"--threads", OPT_INT, F_(threads), 1, NNRT_MAX_THREADS, P_ | T_ | E_},
};
#undef P_
#undef T_
#undef E_
#undef F_
enum { NOPTS = sizeof opt_specs / sizeof opt_specs[0] };

static const char *cmd_name(int cmd)
{
    return cmd == NNRT_CMD_TRAIN ? "train" : cmd == NNRT_CMD_EVAL ? "eval" : "predict";
}

/* Parses a number option's value strictly into its field; 0 or -1. */
static int parse_number(const OptSpec *s, const char *v, void *field)
{
    char *end = NULL;
    errno = 0;
    if (s->kind == OPT_U64) {
        unsigned long long u = strtoull(v, &end, 10);
        *(uint64_t *)field = (uint64_t)u;
        return *v && *v != '-' && !*end && !errno ? 0 : -1;
    }
    double x = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x) || x < s->lo || x > s->hi)
        return -1;
    if (s->kind == OPT_F64)
        *(double *)field = x;
    else if (x != floor(x))
        return -1;
    else if (s->kind == OPT_INT)
        *(int *)field = (int)x;
    else
        *(int64_t *)field = (int64_t)x;
    return 0;
}

/* Stores the value of option s (argument v) into o; an exit status. */
static int store_opt(const NnrtModelDesc *d, const OptSpec *s, const char *v, CliOpts *o)
{
    void *field = (char *)o + s->off;
    if (s->kind == OPT_PATH) {
        *(const char **)field = v;
    } else if (s->kind == OPT_LIST) {
        CliList *l = field;
        if (l->n == NNRT_CLI_MAX_NAMED) {
            fprintf(stderr, "%s: too many %s options (at most %d)\n", d->name, s->name, NNRT_CLI_MAX_NAMED);
            return NNRT_EXIT_USAGE;
        }
        l->v[l->n++] = v;
    } else if (parse_number(s, v, field) != 0) {
        if (s->kind == OPT_U64)
            fprintf(stderr, "%s: %s takes a non-negative integer, not '%s'\n", d->name, s->name, v);
        else
            fprintf(stderr, "%s: %s takes %s from %g to %g, not '%s'\n", d->name, s->name,
                    s->kind == OPT_F64 ? "a number" : "an integer", s->lo, s->hi, v);
        return NNRT_EXIT_USAGE;
    }
    return 0;
}

static const OptSpec *find_opt(const char *name)
{
    for (int k = 0; k < NOPTS; k++)
        if (!strcmp(opt_specs[k].name, name))
            return &opt_specs[k];
    return NULL;
}

/* Parses the options after the command into o (no defaults); given[k] marks option k. */
static int parse_opts(const NnrtModelDesc *d, int argc, char **argv, CliOpts *o, int *given)
{
    for (int i = 0; i < argc; i++) {
        const OptSpec *s = find_opt(argv[i]);
        if (!s) {
            fprintf(stderr, "%s: unknown option '%s'; see '%s --help'\n", d->name, argv[i], o->argv0);
            return NNRT_EXIT_USAGE;
        }
        if (!(s->cmds & o->cmd)) {
            fprintf(stderr, "%s: %s does not take %s; see '%s --help'\n", d->name, cmd_name(o->cmd), s->name,
                    o->argv0);
            return NNRT_EXIT_USAGE;
        }
        given[s - opt_specs] = 1;
        if (s->kind == OPT_FLAG) {
            *(int *)((char *)o + s->off) = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s: option %s needs a value\n", d->name, s->name);
            return NNRT_EXIT_USAGE;
        }
        int rc = store_opt(d, s, argv[++i], o);
        if (rc)
            return rc;
    }
    return 0;
}

static int was_given(const int *given, const char *name)
{
    return given[find_opt(name) - opt_specs];
}

/* Fills what the command line left out from the net's train block (or fixed defaults). */
static void resolve_defaults(const NnrtModelDesc *d, const int *given, CliOpts *o)
{
    int train = o->cmd == NNRT_CMD_TRAIN;
    if (!was_given(given, "--batch"))
        o->batch = train && d->train.batch > 0 ? d->train.batch : 64;
    if (!was_given(given, "--epochs"))
        o->epochs = d->train.epochs > 0 ? d->train.epochs : 1;
    if (!was_given(given, "--seed"))
        o->seed = d->train.seed;
    if (!was_given(given, "--lr"))
        o->lr = d->train.lr;
    if (!was_given(given, "--scale"))
        o->scale = 1.0;
    o->seed_given = was_given(given, "--seed");
    o->shuffle = !o->shuffle && d->train.shuffle; /* the field held --no-shuffle */
}

/* ---- data sets ------------------------------------------------------------ */

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

/*
 * Shapes match when equal after dropping 1s, or with as many elements per
 * sample when the data is flat ([N, size]) or the tensor is a vector (an
 * image set feeds a flattened input): a layout question only arises when
 * both sides have several dimensions, and then they must agree.
 */
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
    return (a->ndim == 2 || nt <= 1) && size == t->size;
}

/* Reports a file whose per-sample shape is not the tensor's, naming both shapes. */
static int shape_mismatch(const NnrtModelDesc *d, const char *path, const NnrtArray *a, const NnrtTensorDesc *t,
                          int is_label)
{
    char got[160], want[160];
    nnrt_format_shape(got, sizeof got, a->ndim, a->shape);
    nnrt_format_shape(want, sizeof want, t->ndim, t->shape);
    if (is_label && t->nclass > 0)
        fprintf(stderr, "%s: %s holds labels of shape %s, but label '%s' takes [N] (N class indices in [0, %d))\n",
                d->name, path, got, t->name, t->nclass);
    else if (t->ndim == 0)
        fprintf(stderr, "%s: %s holds data of shape %s, but %s '%s' takes [N] (N samples of one value)\n", d->name,
                path, got, is_label ? "label" : "input", t->name);
    else
        fprintf(stderr, "%s: %s holds data of shape %s, but %s '%s' takes [N, %s (N samples of %s)\n", d->name, path,
                got, is_label ? "label" : "input", t->name, want + 1, want);
    return NNRT_EXIT_DATA;
}

/* Checks every class label once: a whole number in [0, nclass). */
static int check_class_labels(const NnrtModelDesc *d, const char *path, const NnrtTensorDesc *t, const NnrtArray *a)
{
    NnrtError err;
    for (size_t i = 0; i < a->count; i++) {
        int64_t v;
        if (nnrt_array_get_label(a, i, &v, &err) != 0) {
            fprintf(stderr, "%s: %s: %s (label '%s' takes class indices in [0, %d))\n", d->name, path, err.msg,
                    t->name, t->nclass);
            return NNRT_EXIT_DATA;
        }
        if (v < 0 || v >= t->nclass) {
            fprintf(stderr, "%s: %s: label of sample %zu is %lld, out of range: label '%s' has %d classes, "
                            "valid labels are [0, %d)\n",
                    d->name, path, i, (long long)v, t->name, t->nclass, t->nclass);
            return NNRT_EXIT_DATA;
        }
    }
    return 0;
}

/* Checks float targets once: no NaN or infinity. */
static int check_float_labels(const NnrtModelDesc *d, const char *path, const NnrtTensorDesc *t, const NnrtArray *a)
{
    if (a->dtype != NNRT_F32 && a->dtype != NNRT_F64)
        return 0;
    for (size_t i = 0; i < a->count; i++) {
        double v = a->dtype == NNRT_F32 ? ((const float *)a->data)[i] : ((const double *)a->data)[i];
        if (!isfinite(v)) {
            fprintf(stderr, "%s: %s: label '%s' of sample %lld is %g\n", d->name, path, t->name,
                    (long long)(i / (size_t)(t->size > 0 ? t->size : 1)), v);
            return NNRT_EXIT_DATA;
        }
    }
    return 0;
}

/* Loads one file for tensor t and checks its shape (and, for labels, its values). */
static int load_one(const NnrtModelDesc *d, const char *path, const NnrtTensorDesc *t, int is_label, NnrtArray *a)
{
    NnrtError err;
    if (load_data(path, a, &err) != 0) {
        fprintf(stderr, "%s: %s\n", d->name, err.msg);
        return NNRT_EXIT_DATA;
    }
    if (a->ndim < 1 || !sample_shape_ok(a, t))
        return shape_mismatch(d, path, a, t, is_label);
    if (!is_label)
        return 0;
    return t->nclass > 0 ? check_class_labels(d, path, t, a) : check_float_labels(d, path, t, a);
}

/* The file for tensor `name`: NAME=PATH, or a bare PATH when there is one such tensor. */
static const char *named_path(const CliList *l, const char *name, int ntensors, int *used)
{
    size_t n = strlen(name);
    for (int j = 0; j < l->n; j++)
        if (!strncmp(l->v[j], name, n) && l->v[j][n] == '=') {
            used[j] = 1;
            return l->v[j] + n + 1;
        }
    if (ntensors == 1 && l->n == 1) {
        used[0] = 1;
        return l->v[0];
    }
    return NULL;
}

/* Where the sample count of a set came from, for mismatch messages. */
typedef struct CountFrom {
    int64_t count;    /* samples */
    const char *path; /* first file read, NULL before */
} CountFrom;

/* Loads the files of n inputs or labels from list l (option opt) and checks their counts agree. */
static int load_arrays(const NnrtModelDesc *d, const char *opt, const CliList *l, const NnrtTensorDesc *t, int n,
                       int is_label, NnrtArray *a, const char **paths, CountFrom *cf)
{
    int used[NNRT_CLI_MAX_NAMED] = {0};
    const char *kind = is_label ? "label" : "input";
    for (int i = 0; i < n; i++) {
        if (!(paths[i] = named_path(l, t[i].name, n, used))) {
            fprintf(stderr, "%s: no data for %s '%s'; give %s %s%s=FILE\n", d->name, kind, t[i].name, opt,
                    n == 1 && !l->n ? "FILE or " : "", t[i].name);
            return NNRT_EXIT_USAGE;
        }
        int rc = load_one(d, paths[i], &t[i], is_label, &a[i]);
        if (rc)
            return rc;
        if (cf->path && a[i].shape[0] != cf->count) {
            fprintf(stderr, "%s: %s holds %lld %s, but %s holds %lld samples\n", d->name, paths[i],
                    (long long)a[i].shape[0], is_label ? "labels" : "samples", cf->path, (long long)cf->count);
            return NNRT_EXIT_DATA;
        }
        cf->count = a[i].shape[0];
        cf->path = paths[i];
    }
    for (int j = 0; j < l->n; j++)
        if (!used[j]) {
            fprintf(stderr, "%s: %s %s: the net has no %s of that name (or give NAME=FILE)\n", d->name, opt, l->v[j],
                    kind);
            return NNRT_EXIT_USAGE;
        }
    return 0;
}

/*
 * Loads a data set: a file per input from `data`, and with need_labels a
 * file per label from `labels`; all with the same number of samples, of
 * the right per-sample shapes, class labels in range.  An exit status.
 */
int nnrt_cli_load_set(const NnrtModelDesc *d, const CliList *data, const CliList *labels, const char *data_opt,
                      const char *labels_opt, int need_labels, CliSet *s)
{
    CountFrom cf = {0, NULL};
    memset(s, 0, sizeof *s);
    if (d->ninputs > NNRT_CLI_MAX_NAMED || d->nlabels > NNRT_CLI_MAX_NAMED) {
        fprintf(stderr, "%s: the command line handles at most %d inputs and labels\n", d->name, NNRT_CLI_MAX_NAMED);
        return NNRT_EXIT_USAGE;
    }
    if (need_labels && !d->nlabels && labels->n) {
        fprintf(stderr, "%s: %s: the net has no labels (its loss needs none)\n", d->name, labels_opt);
        return NNRT_EXIT_USAGE;
    }
    int rc = load_arrays(d, data_opt, data, d->inputs, d->ninputs, 0, s->x, s->xpath, &cf);
    if (!rc && need_labels)
        rc = load_arrays(d, labels_opt, labels, d->labels, d->nlabels, 1, s->y, s->ypath, &cf);
    s->count = cf.count;
    return rc;
}

void nnrt_cli_free_set(const NnrtModelDesc *d, CliSet *s)
{
    for (int i = 0; i < NNRT_CLI_MAX_NAMED; i++) {
        nnrt_array_free(&s->x[i]);
        nnrt_array_free(&s->y[i]);
    }
    (void)d;
}

/* ---- weights and checkpoints ---------------------------------------------- */

/* The value of metadata key, or NULL. */
const char *nnrt_cli_meta(const NnrtStMeta *meta, int nmeta, const char *key)
{
    for (int i = 0; i < nmeta; i++)
        if (!strcmp(meta[i].key, key))
            return meta[i].value;
    return NULL;
}

/* "<param>.<state>", the checkpoint name of optimizer state k of parameter p; -1 if too long. */
int nnrt_cli_state_name(const NnrtModelDesc *d, int p, int k, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s.%s", d->params[p].name, d->state_names[k]);
    return n > 0 && (size_t)n < cap && n <= 127 ? 0 : -1;
}

/* 1 if name is "<parameter>.<word>" — optimizer state of any optimizer in a checkpoint. */
static int is_state_tensor(const NnrtModelDesc *d, const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot || !dot[1])
        return 0;
    int prefix = 0;
    for (int i = 0; i < d->nparams; i++) {
        if (!strcmp(d->params[i].name, name))
            return 0;
        prefix |= strlen(d->params[i].name) == (size_t)(dot - name) &&
                  !strncmp(d->params[i].name, name, (size_t)(dot - name));
    }
    return prefix;
}

/* Drops optimizer state tensors from a checkpoint's entries; the new count. */
static int drop_state(const NnrtModelDesc *d, NnrtStEntry *e, int n)
{
    int kept = 0;
    for (int i = 0; i < n; i++)
        if (!is_state_tensor(d, e[i].name))
            e[kept++] = e[i];
    return kept;
}

/* Fills specs for every parameter and, with_state, each trainable one's optimizer state. */
static int fill_specs(const NnrtModelDesc *d, void *m, int with_state, NnrtParamSpec *specs, char (*names)[128])
{
    int n = 0;
    for (int i = 0; i < d->nparams; i++) {
        const NnrtParamDesc *p = &d->params[i];
        specs[n] = (NnrtParamSpec){p->name, p->ndim, {0}, d->param_block(m) + p->offset};
        memcpy(specs[n++].shape, p->shape, sizeof p->shape);
    }
    for (int i = 0; with_state && i < d->nparams; i++) {
        const NnrtParamDesc *p = &d->params[i];
        for (int k = 0; p->trainable && k < d->nstate; k++) {
            float *state = d->state_block(m, k);
            if (!state || nnrt_cli_state_name(d, i, k, names[n], sizeof names[n]) != 0)
                return -1;
            specs[n] = (NnrtParamSpec){names[n], p->ndim, {0}, state + p->offset};
            memcpy(specs[n++].shape, p->shape, sizeof p->shape);
        }
    }
    return n;
}

/* Binds parsed entries to the model: parameters, and optimizer state when with_state. */
static int bind_entries(const NnrtModelDesc *d, void *m, const char *path, NnrtStEntry *e, int count, int with_state,
                        NnrtError *err)
{
    size_t maxspecs = (size_t)d->nparams * (size_t)(1 + (with_state ? d->nstate : 0)) + 1;
    NnrtParamSpec *specs = calloc(maxspecs, sizeof *specs);
    char(*names)[128] = calloc(maxspecs, sizeof *names);
    int rc = -1;
    if (!specs || !names)
        nnrt_errorf(err, "%s: out of memory", path);
    else {
        int n = fill_specs(d, m, with_state, specs, names);
        if (n < 0)
            nnrt_errorf(err, "%s: an optimizer state is missing or its name is longer than 127 bytes", path);
        else
            rc = nnrt_st_bind(e, count, path, specs, n, err);
    }
    free(specs);
    free(names);
    return rc;
}

/*
 * Loads a weights file into the model's parameters.  A checkpoint (metadata
 * netc_checkpoint = "1") is accepted too: with_state binds its optimizer
 * state (`<param>.<state>`) as well, otherwise those tensors are skipped.
 * with_state needs a checkpoint.  The metadata goes to meta[0..*nmeta)
 * (NNRT_CLI_MAX_META room) when meta is not NULL.
 */
int nnrt_cli_load_weights(const NnrtModelDesc *d, void *m, const char *path, int with_state, NnrtStMeta *meta,
                          int *nmeta, NnrtError *err)
{
    NnrtStMeta local[NNRT_CLI_MAX_META];
    int nlocal = 0, count = 0, cap = d->nparams * 8 + 16;
    unsigned char *buf = NULL;
    size_t len = 0;
    meta = meta ? meta : local;
    nmeta = nmeta ? nmeta : &nlocal;
    NnrtStEntry *e = malloc(sizeof *e * (size_t)cap);
    if (!e)
        return nnrt_errorf(err, "%s: out of memory", path);
    int rc = nnrt_st_load_file(path, &buf, &len, e, cap, &count, meta, NNRT_CLI_MAX_META, nmeta, err);
    const char *ck = rc ? NULL : nnrt_cli_meta(meta, *nmeta, "netc_checkpoint");
    int is_ckpt = ck && !strcmp(ck, "1");
    if (!rc && with_state && !is_ckpt)
        rc = nnrt_errorf(err, "%s is a weights file, not a netc checkpoint (no netc_checkpoint metadata); "
                              "start from its weights with --init instead", path);
    if (!rc && is_ckpt && !with_state)
        count = drop_state(d, e, count);
    if (!rc)
        rc = bind_entries(d, m, path, e, count, with_state, err);
    free(buf);
    free(e);
    return rc;
}

/*
 * Creates a model in a zeroed, malloc'd arena (*arena, freed by the caller
 * even on failure): for training with create_train, else create.  Weights
 * come from a weights file or checkpoint, or from the seed when NULL.
 */
void *nnrt_cli_make_model(const NnrtModelDesc *d, int max_batch, int train, const char *weights, uint64_t seed,
                          void **arena)
{
    NnrtError err;
    size_t bytes = train ? d->train_arena_bytes(max_batch) : d->arena_bytes(max_batch);
    *arena = calloc(1, bytes ? bytes : 1);
    void *m = NULL;
    if (*arena)
        m = train ? d->create_train(*arena, bytes, max_batch, &err) : d->create(*arena, bytes, max_batch, &err);
    if (!m) {
        fprintf(stderr, "%s: %s\n", d->name, *arena ? err.msg : "out of memory");
        return NULL;
    }
    if (weights && nnrt_cli_load_weights(d, m, weights, 0, NULL, NULL, &err) != 0) {
        fprintf(stderr, "%s: %s\n", d->name, err.msg);
        return NULL;
    }
    if (!weights)
        nnrt_init_params(d, d->param_block(m), seed);
    return m;
}

/* ---- predict -------------------------------------------------------------- */

/* Writes outputs: one .npy file, or DIR/<name>.npy for each output. */
static int save_outputs(const NnrtModelDesc *d, const char *dest, float **out, int64_t count)
{
    NnrtError err;
    if (d->noutputs > 1 && mkdir(dest, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create directory '%s': %s\n", d->name, dest, strerror(errno));
        return NNRT_EXIT_DATA;
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
            return NNRT_EXIT_DATA;
        }
    }
    return 0;
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

static int run_batches(const NnrtModelDesc *d, void *m, const CliOpts *o, const CliSet *s, float **out)
{
    const float *in[NNRT_CLI_MAX_NAMED];
    float *y[NNRT_CLI_MAX_NAMED];
    float *xbuf[NNRT_CLI_MAX_NAMED] = {0};
    int rc = 0;
    for (int i = 0; i < d->ninputs && !rc; i++)
        if (!(xbuf[i] = nnrt_cli_alloc(sizeof(float) * (size_t)o->batch * (size_t)d->inputs[i].size)))
            rc = NNRT_EXIT_DATA;
    for (int64_t at = 0; at < s->count && !rc; at += o->batch) {
        int b = (int)(s->count - at < o->batch ? s->count - at : o->batch);
        for (int i = 0; i < d->ninputs; i++) {
            size_t size = (size_t)d->inputs[i].size;
            nnrt_array_get_f32(&s->x[i], (size_t)at * size, (size_t)b * size, (float)o->scale, xbuf[i]);
            in[i] = xbuf[i];
        }
        for (int i = 0; i < d->noutputs; i++)
            y[i] = out[i] + at * d->outputs[i].size;
        if (d->forward(m, b, in, y) != 0)
            rc = NNRT_EXIT_DATA;
    }
    for (int i = 0; i < d->ninputs; i++)
        free(xbuf[i]);
    return rc;
}

static int cmd_predict(const NnrtModelDesc *d, const CliOpts *o)
{
    if (!o->data.n || !o->output) {
        fprintf(stderr, "%s predict: needs --input and --output\n", d->name);
        return NNRT_EXIT_USAGE;
    }
    CliSet set;
    float *out[NNRT_CLI_MAX_NAMED] = {0};
    void *arena = NULL, *m = NULL;
    int rc = nnrt_cli_load_set(d, &o->data, NULL, "--input", NULL, 0, &set);
    if (!rc && !(m = nnrt_cli_make_model(d, o->batch, 0, o->weights, o->seed, &arena)))
        rc = NNRT_EXIT_DATA;
    for (int i = 0; i < d->noutputs && !rc; i++)
        if (!(out[i] = nnrt_cli_alloc(sizeof(float) * (size_t)(set.count ? set.count : 1) * (size_t)d->outputs[i].size)))
            rc = NNRT_EXIT_DATA;
    double t0 = nnrt_now();
    if (!rc)
        rc = run_batches(d, m, o, &set, out);
    double dt = nnrt_now() - t0;
    if (!rc)
        rc = save_outputs(d, o->output, out, set.count);
    if (!rc) {
        print_predictions(d, out[0], set.count, o->print);
        fprintf(stderr, "%s: predicted %lld samples in %.1f ms (%.0f samples/s)\n", d->name, (long long)set.count,
                dt * 1e3, dt > 0 ? set.count / dt : 0.0);
    }
    for (int i = 0; i < NNRT_CLI_MAX_NAMED; i++)
        free(out[i]);
    nnrt_cli_free_set(d, &set);
    free(arena);
    return rc;
}

/* ---- entry point ---------------------------------------------------------- */

static int command_of(const char *s)
{
    return !strcmp(s, "predict") ? NNRT_CMD_PREDICT
           : !strcmp(s, "train") ? NNRT_CMD_TRAIN
           : !strcmp(s, "eval")  ? NNRT_CMD_EVAL
                                 : 0;
}

/* 1 when argv holds --help or -h. */
static int wants_help(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return 1;
    return 0;
}

int nnrt_cli_main(const NnrtModelDesc *d, int argc, char **argv)
{
    nnrt_flush_denormals(); /* the pool's workers follow (nnrt_threads.h) */
    if (argc < 2)
        return usage(d, stderr);
    const char *cmd = argv[1];
    if (!strcmp(cmd, "help") || wants_help(argc - 1, argv + 1))
        return usage(d, stdout);
    if (!strcmp(cmd, "bench"))
        return nnrt_cli_bench(d, argc - 2, argv + 2);
    if (!strcmp(cmd, "summary")) {
        fputs(d->summary, stdout);
        return 0;
    }
    CliOpts o;
    int given[NOPTS] = {0};
    memset(&o, 0, sizeof o);
    o.argv0 = argv[0];
    if (!(o.cmd = command_of(cmd))) {
        fprintf(stderr, "%s: unknown command '%s'; see '%s --help'\n", d->name, cmd, argv[0]);
        return NNRT_EXIT_USAGE;
    }
    if (o.cmd != NNRT_CMD_PREDICT && (!d->trainable || !d->evaluate)) {
        fprintf(stderr, "%s: this net has no loss and optimizer, so it cannot %s; add `loss` and `optimizer` "
                        "statements to %s\n",
                d->name, o.cmd == NNRT_CMD_TRAIN ? "be trained" : "be evaluated", d->source);
        return NNRT_EXIT_USAGE;
    }
    int rc = parse_opts(d, argc - 2, argv + 2, &o, given);
    if (rc == 0 && o.threads > 1 && nnrt_threads_init(o.threads) < o.threads) {
        fprintf(stderr, "%s: cannot start %d threads\n", d->name, o.threads);
        return NNRT_EXIT_DATA;
    }
    if (rc)
        return rc;
    resolve_defaults(d, given, &o);
    if (o.cmd == NNRT_CMD_TRAIN)
        return nnrt_cli_train(d, &o);
    if (o.cmd == NNRT_CMD_EVAL)
        return nnrt_cli_eval(d, &o);
    return cmd_predict(d, &o);
}
