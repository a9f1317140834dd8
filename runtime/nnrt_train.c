/*
 * nnrt_train.c — the train and eval commands of standalone binaries.
 *
 * Training is a loop over epochs and batches around the generated
 * train_step.  The data set stays in its stored dtype; each batch is
 * gathered (rows of the epoch's permutation) and converted to float here.
 *
 * Resuming is exact: everything a step depends on is either in the model
 * (parameters, optimizer state, the step counter, the dropout seed) or in
 * the shuffle generator, and a checkpoint holds all of it.  The generator
 * is saved as it was at the start of the epoch to run next, before that
 * epoch's permutation was drawn; a run stopped inside an epoch (--steps)
 * also saves how many samples of the epoch were done, and resuming redraws
 * the same permutation and skips them.  So E epochs straight and E/2 plus
 * a resumed E/2 give bit-identical weights.
 *
 * Checkpoint layout (safetensors): every parameter by name, then
 * `<param>.<state>` for each trainable parameter and optimizer state, and
 * metadata netc_checkpoint="1", net, optimizer, step, epoch (completed),
 * epoch_samples (samples of the next epoch already done), rng (4 hex
 * words), seed.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* clock_gettime, fsync, mkdir, open_memstream */
#endif
#include "nnrt_cli_int.h"
#include "nnrt_threads.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


/* ---- learning rate -------------------------------------------------------- */

/* ---- batches -------------------------------------------------------------- */

/* A gather's arguments, for gather_range. */
typedef struct Gather {
    const NnrtArray *a;
    int64_t size;
    const uint32_t *rows, *next;
    int next_n;
    float scale;
    float *dst;
} Gather;

/* Samples [lo, hi) of a gather, then the prefetch of the same places of the next batch. */
static void gather_range(void *p, int lo, int hi)
{
    const Gather *g = p;
    for (int j = lo; j < hi; j++)
        nnrt_array_get_f32(g->a, (size_t)g->rows[j] * (size_t)g->size, (size_t)g->size, g->scale,
                           g->dst + (size_t)j * (size_t)g->size);
    for (int j = lo; j < hi && j < g->next_n; j++)
        nnrt_array_prefetch(g->a, (size_t)g->next[j] * (size_t)g->size, (size_t)g->size);
}

/*
 * Converts rows[0..n) of a (samples of `size` elements each) to floats
 * times scale, packed in dst, then asks the cache for the samples next[0..
 * next_n) of the batch after (none: NULL, 0), whose lines, scattered over
 * the data set, then arrive while the step computes. A batch of more than
 * GATHER_PAR_FLOATS is split over the thread pool, so each core writes part
 * of the batch, instead of the caller writing it all and the others then
 * fetching it from that core (fashion_mlp's epoch at 2 threads:
 * 261.5-263.9k -> 269.6-274.4k samples/s, docs/performance.md); each core
 * prefetches the samples it will gather next.
 */
#define GATHER_PAR_FLOATS 16384

void nnrt_cli_gather(const NnrtArray *a, int64_t size, const uint32_t *rows, int n, const uint32_t *next,
                     int next_n, float scale, float *dst)
{
    Gather g = {a, size, rows, next, next_n, scale, dst};
    nnrt_parallel_range(n, size, GATHER_PAR_FLOATS, gather_range, &g);
}

void *nnrt_cli_alloc(size_t bytes)
{
    return aligned_alloc(64, bytes > 0 ? (bytes + 63) / 64 * 64 : 64);
}

/* Allocates float buffers for max_batch samples of every input, label and output; 0 or -1. */
int nnrt_cli_batch_alloc(const NnrtModelDesc *d, int max_batch, CliBatch *b)
{
    size_t n = (size_t)max_batch;
    int ok = 1;
    memset(b, 0, sizeof *b);
    for (int i = 0; i < d->ninputs; i++)
        ok &= (b->x[i] = nnrt_cli_alloc(sizeof(float) * n * (size_t)d->inputs[i].size)) != NULL;
    for (int i = 0; i < d->nlabels; i++)
        ok &= (b->y[i] = nnrt_cli_alloc(4 * n * (size_t)d->labels[i].size)) != NULL; /* int32_t or float */
    for (int i = 0; i < d->noutputs; i++)
        ok &= (b->out[i] = nnrt_cli_alloc(sizeof(float) * n * (size_t)d->outputs[i].size)) != NULL;
    return ok ? 0 : -1;
}

void nnrt_cli_batch_free(const NnrtModelDesc *d, CliBatch *b)
{
    for (int i = 0; i < NNRT_CLI_MAX_NAMED; i++) {
        free(b->x[i]);
        free(b->y[i]);
        free(b->out[i]);
    }
    memset(b, 0, sizeof *b);
    (void)d;
}

/* Copies class labels of rows[0..n) as int32_t (they were range-checked when loaded). */
static void gather_classes(const NnrtArray *a, int64_t size, const uint32_t *rows, int n, int32_t *dst)
{
    NnrtError err;
    for (int j = 0; j < n; j++)
        for (int64_t e = 0; e < size; e++) {
            int64_t v = 0;
            nnrt_array_get_label(a, (size_t)rows[j] * (size_t)size + (size_t)e, &v, &err);
            dst[(int64_t)j * size + e] = (int32_t)v;
        }
}

/* Fills the batch with samples rows[0..n) of s: inputs times scale, labels as the step wants them. */
void nnrt_cli_batch_fill(const NnrtModelDesc *d, const CliSet *s, const uint32_t *rows, int n,
                         const uint32_t *next, int next_n, float scale, CliBatch *b)
{
    for (int i = 0; i < d->ninputs; i++)
        nnrt_cli_gather(&s->x[i], d->inputs[i].size, rows, n, next, next_n, scale, b->x[i]);
    for (int i = 0; i < d->nlabels; i++) {
        if (d->labels[i].nclass > 0)
            gather_classes(&s->y[i], d->labels[i].size, rows, n, b->y[i]);
        else
            nnrt_cli_gather(&s->y[i], d->labels[i].size, rows, n, NULL, 0, 1.0f, b->y[i]);
    }
}

/* ---- loss and accuracy ---------------------------------------------------- */

/* Sums over a pass: loss weighted by batch size, accuracy, optional confusion counts. */
typedef struct Tally {
    double loss;        /* sum of batch loss times batch size */
    int64_t samples;    /* samples seen */
    int64_t correct;    /* accuracy: labels predicted right */
    int64_t total;      /* accuracy: labels compared */
    int64_t *confusion; /* nclass x nclass counts, [true][predicted], or NULL */
} Tally;

/* 1 when the net compares an output with a class label for accuracy. */
static int has_accuracy(const NnrtModelDesc *d)
{
    return d->acc_output >= 0 && d->acc_label >= 0 && d->acc_output < d->noutputs && d->acc_label < d->nlabels &&
           d->labels[d->acc_label].nclass > 0;
}

/*
 * Adds a batch of n samples: its mean loss, and the argmax of output
 * acc_output against label acc_label (classes along the output's first
 * per-sample axis when the label has several positions).
 */
static void tally_batch(const NnrtModelDesc *d, Tally *t, const CliBatch *b, int n, float loss)
{
    t->loss += (double)loss * n;
    t->samples += n;
    if (!has_accuracy(d))
        return;
    const float *out = b->out[d->acc_output];
    const int32_t *lab = b->y[d->acc_label];
    int64_t osize = d->outputs[d->acc_output].size, npos = d->labels[d->acc_label].size;
    int64_t ncls = osize / npos, K = d->labels[d->acc_label].nclass;
    for (int64_t j = 0; j < n; j++)
        for (int64_t p = 0; p < npos; p++) {
            const float *r = out + j * osize + p;
            int64_t best = 0;
            for (int64_t c = 1; c < ncls; c++)
                if (r[c * npos] > r[best * npos])
                    best = c;
            int32_t y = lab[j * npos + p];
            t->correct += best == y;
            t->total++;
            if (t->confusion && best < K)
                t->confusion[(int64_t)y * K + best]++;
        }
}

static double tally_loss(const Tally *t)
{
    return t->samples ? t->loss / (double)t->samples : 0.0;
}

static double tally_acc(const Tally *t)
{
    return t->total ? 100.0 * (double)t->correct / (double)t->total : 0.0;
}

/* Runs evaluate over all of s in order, in batches of at most max_batch; an exit status. */
static int eval_set(const NnrtModelDesc *d, void *m, const CliSet *s, int max_batch, float scale, CliBatch *b,
                    uint32_t *rows, Tally *t)
{
    const float *in[NNRT_CLI_MAX_NAMED];
    const void *lab[NNRT_CLI_MAX_NAMED];
    memcpy(in, b->x, sizeof in);
    memcpy(lab, b->y, sizeof lab);
    for (int64_t at = 0; at < s->count; at += max_batch) {
        int n = (int)(s->count - at < max_batch ? s->count - at : max_batch);
        for (int j = 0; j < n; j++)
            rows[j] = (uint32_t)(at + j);
        nnrt_cli_batch_fill(d, s, rows, n, NULL, 0, scale, b);
        float loss = 0;
        int rc = d->evaluate(m, n, in, lab, &loss, b->out);
        if (rc != 0) {
            fprintf(stderr, "%s: evaluate failed (code %d) on samples %lld..%lld of %s\n", d->name, rc,
                    (long long)at, (long long)(at + n - 1), s->xpath[0]);
            return NNRT_EXIT_DATA;
        }
        tally_batch(d, t, b, n, loss);
    }
    return 0;
}

/* ---- progress ------------------------------------------------------------- */

typedef enum ProgMode { PROG_QUIET, PROG_LINES, PROG_BAR } ProgMode;

/* Progress within an epoch: a bar redrawn in place on a terminal, else a line per tenth. */
typedef struct Progress {
    ProgMode mode;  /* what to print */
    double last;    /* PROG_BAR: time of the last redraw */
    int tenth;      /* PROG_LINES: tenths of the epoch reported */
} Progress;

/* "0.4321", or "1.234e-05" for small values, for losses. */
static const char *fmt_loss(char *buf, size_t cap, double v)
{
    snprintf(buf, cap, fabs(v) >= 1e-3 || v == 0 || !isfinite(v) ? "%.4f" : "%.3e", v);
    return buf;
}

static void progress_bar(int epoch, int epochs, int64_t done, int64_t total, const char *loss,
                         double rate)
{
    enum { WIDTH = 30 };
    char bar[WIDTH + 1];
    int fill = total ? (int)(WIDTH * done / total) : WIDTH;
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[WIDTH] = '\0';
    fprintf(stderr, "\repoch %d/%d [%s] %lld/%lld  loss %s  %.0f samples/s\033[K", epoch, epochs, bar,
            (long long)done, (long long)total, loss, rate);
    fflush(stderr);
}

/* Reports step `done` of `total` in the epoch, with the running mean loss and throughput. */
static void progress(Progress *p, int epoch, int epochs, int64_t done, int64_t total, const Tally *t, double rate)
{
    char loss[32];
    fmt_loss(loss, sizeof loss, tally_loss(t));
    if (p->mode == PROG_BAR) {
        double now = nnrt_now();
        if (now - p->last < 0.1 && done < total)
            return;
        p->last = now;
        progress_bar(epoch, epochs, done, total, loss, rate);
    } else if (p->mode == PROG_LINES && done < total && (int)(10 * done / total) > p->tenth) {
        p->tenth = (int)(10 * done / total);
        fprintf(stderr, "epoch %d/%d  step %lld/%lld  loss %s  %.0f samples/s\n", epoch, epochs, (long long)done,
                (long long)total, loss, rate);
    }
}

/* Clears the bar before a line is printed. */
static void progress_clear(Progress *p)
{
    if (p->mode == PROG_BAR)
        fputs("\r\033[K", stderr);
    fflush(stderr);
    p->tenth = 0;
    p->last = 0;
}

/* ---- the trainer ---------------------------------------------------------- */

typedef struct Trainer {
    const NnrtModelDesc *d;
    const CliOpts *o;
    void *m, *arena;        /* the model and its memory */
    CliSet train, test;     /* data sets; test.count == 0 without --test-data */
    CliBatch batch;         /* converted batch and outputs */
    uint32_t *perm;         /* the epoch's sample order, train.count entries */
    uint32_t *rows;         /* scratch rows for evaluation, batch entries */
    NnrtRng rng;            /* the shuffle generator */
    NnrtRng rng_epoch;      /* its state when the current epoch began */
    uint64_t seed;          /* shuffling (initial rng) and dropout */
    int epoch;              /* current epoch, 0-based */
    int64_t pos;            /* samples of the current epoch done */
    int64_t steps_run;      /* optimizer steps taken by this run */
    double t0;              /* start of the run */
    int saved;              /* a checkpoint was written by this run (or resumed from) */
    int saved_epoch;        /* epochs it holds */
    int64_t saved_step;     /* its step */
    Progress prog;          /* progress display */
} Trainer;

enum { TRAIN_STOPPED = -1 }; /* --steps reached: not an error */

static int64_t steps_per_epoch(const Trainer *t)
{
    return (t->train.count + t->o->batch - 1) / t->o->batch;
}

/* Sets one metadata entry from a printf format. */
static void put_meta(NnrtStMeta *m, const char *key, const char *fmt, ...)
{
    va_list ap;
    snprintf(m->key, sizeof m->key, "%s", key);
    va_start(ap, fmt);
    vsnprintf(m->value, sizeof m->value, fmt, ap);
    va_end(ap);
}

/* The checkpoint's metadata: what resuming needs beyond the tensors. */
static int checkpoint_meta(const Trainer *t, int epochs_done, int64_t pos, const NnrtRng *r, NnrtStMeta *m)
{
    const NnrtModelDesc *d = t->d;
    int n = 0;
    put_meta(&m[n++], "netc_checkpoint", "1");
    put_meta(&m[n++], "net", "%s", d->name);
    put_meta(&m[n++], "optimizer", "%s", d->train.optimizer ? d->train.optimizer : "");
    put_meta(&m[n++], "step", "%lld", (long long)*d->step_counter(t->m));
    put_meta(&m[n++], "epoch", "%d", epochs_done);
    put_meta(&m[n++], "epoch_samples", "%lld", (long long)pos);
    put_meta(&m[n++], "rng", "%016llx %016llx %016llx %016llx", (unsigned long long)r->s[0],
             (unsigned long long)r->s[1], (unsigned long long)r->s[2], (unsigned long long)r->s[3]);
    put_meta(&m[n++], "seed", "%llu", (unsigned long long)t->seed);
    put_meta(&m[n++], "netc_version", "%s", d->netc_version ? d->netc_version : "");
    return n;
}

/* Lists parameters then optimizer state as tensors to save; the count, or -1. */
static int checkpoint_tensors(const Trainer *t, NnrtStOut *ts, char (*names)[128])
{
    const NnrtModelDesc *d = t->d;
    int n = 0;
    for (int i = 0; i < d->nparams; i++) {
        const NnrtParamDesc *p = &d->params[i];
        ts[n++] = (NnrtStOut){p->name, p->ndim, p->shape, d->param_block(t->m) + p->offset};
    }
    for (int i = 0; i < d->nparams; i++) {
        const NnrtParamDesc *p = &d->params[i];
        for (int k = 0; p->trainable && k < d->nstate; k++) {
            float *state = d->state_block(t->m, k);
            if (!state || nnrt_cli_state_name(d, i, k, names[n], sizeof names[n]) != 0)
                return -1;
            ts[n] = (NnrtStOut){names[n], p->ndim, p->shape, state + p->offset};
            n++;
        }
    }
    return n;
}

/* Writes the checkpoint to --save (atomically), if given; an exit status. */
static int save_checkpoint(Trainer *t, int epochs_done, int64_t pos, const NnrtRng *r)
{
    const NnrtModelDesc *d = t->d;
    if (!t->o->save)
        return 0;
    size_t cap = (size_t)d->nparams * (size_t)(1 + d->nstate) + 1;
    NnrtStOut *ts = calloc(cap, sizeof *ts);
    char(*names)[128] = calloc(cap, sizeof *names);
    NnrtStMeta meta[16];
    NnrtError err;
    int rc = NNRT_EXIT_DATA, n = ts && names ? checkpoint_tensors(t, ts, names) : -1;
    if (n < 0)
        fprintf(stderr, "%s: %s: out of memory, an optimizer state missing, or its name too long\n", d->name, t->o->save);
    else if (nnrt_st_save(t->o->save, ts, n, meta, checkpoint_meta(t, epochs_done, pos, r, meta), &err) != 0)
        fprintf(stderr, "%s: cannot write the checkpoint: %s\n", d->name, err.msg);
    else {
        rc = 0;
        t->saved = 1;
        t->saved_epoch = epochs_done;
        t->saved_step = *d->step_counter(t->m);
    }
    free(ts);
    free(names);
    return rc;
}

/* ---- resuming ------------------------------------------------------------- */

/* Reads an integer metadata value in [lo, hi]; an exit status. */
static int meta_int(const Trainer *t, const NnrtStMeta *m, int nm, const char *key, int64_t lo, int64_t hi,
                    int64_t *out)
{
    const char *v = nnrt_cli_meta(m, nm, key);
    char *end = NULL;
    errno = 0;
    long long x = v ? strtoll(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "%s: %s: checkpoint metadata '%s' is %s%s%s, expected an integer in [%lld, %lld]\n",
                t->d->name, t->o->resume, key, v ? "'" : "missing", v ? v : "", v ? "'" : "", (long long)lo,
                (long long)hi);
        return NNRT_EXIT_DATA;
    }
    *out = x;
    return 0;
}

/* Reads the "rng" metadata: four hex words, not all zero. */
static int meta_rng(const Trainer *t, const NnrtStMeta *m, int nm, NnrtRng *r)
{
    const char *v = nnrt_cli_meta(m, nm, "rng"), *s = v;
    int ok = v != NULL;
    for (int i = 0; i < 4 && ok; i++) {
        char *end = NULL;
        errno = 0;
        ok = (i == 0 || *s++ == ' ') && ((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'));
        r->s[i] = ok ? (uint64_t)strtoull(s, &end, 16) : 0;
        ok = ok && !errno && end - s <= 16;
        s = ok ? end : s;
    }
    if (ok && !*s && (r->s[0] | r->s[1] | r->s[2] | r->s[3]))
        return 0;
    fprintf(stderr, "%s: %s: checkpoint metadata 'rng' is %s%s%s, expected four hex words\n", t->d->name,
            t->o->resume, v ? "'" : "missing", v ? v : "", v ? "'" : "");
    return NNRT_EXIT_DATA;
}

/* Explains a checkpoint that does not fit the net, when its metadata says why; 1 if it did. */
static int explain_foreign(const Trainer *t, const NnrtStMeta *m, int nm)
{
    const NnrtModelDesc *d = t->d;
    const char *net = nnrt_cli_meta(m, nm, "net"), *opt = nnrt_cli_meta(m, nm, "optimizer");
    if (net && strcmp(net, d->name)) {
        fprintf(stderr, "%s: %s is a checkpoint of net '%s', not '%s'\n", d->name, t->o->resume, net, d->name);
        return 1;
    }
    if (opt && d->train.optimizer && strcmp(opt, d->train.optimizer)) {
        fprintf(stderr, "%s: %s was trained with %s, but this net uses %s; start from its weights with --init\n",
                d->name, t->o->resume, opt, d->train.optimizer);
        return 1;
    }
    return 0;
}

/* Takes step, epoch, position, generator and seed from the checkpoint's metadata. */
static int apply_meta(Trainer *t, const NnrtStMeta *m, int nm)
{
    int64_t step, epoch, pos, seed;
    int rc = meta_int(t, m, nm, "step", 0, INT64_MAX, &step);
    rc = rc ? rc : meta_int(t, m, nm, "epoch", 0, 1000000, &epoch);
    rc = rc ? rc : meta_int(t, m, nm, "epoch_samples", 0, INT64_MAX, &pos);
    rc = rc ? rc : meta_rng(t, m, nm, &t->rng);
    const char *sv = nnrt_cli_meta(m, nm, "seed");
    char *end = NULL;
    seed = sv ? (int64_t)strtoull(sv, &end, 10) : 0;
    if (!rc && (!sv || !*sv || *end)) {
        fprintf(stderr, "%s: %s: checkpoint metadata 'seed' is missing or not an integer\n", t->d->name,
                t->o->resume);
        rc = NNRT_EXIT_DATA;
    }
    if (rc)
        return rc;
    *t->d->step_counter(t->m) = step;
    t->epoch = (int)epoch;
    t->pos = pos;
    t->seed = (uint64_t)seed;
    return 0;
}

/* Checks the resumed position against this run's data and options. */
static int check_resume(Trainer *t)
{
    const CliOpts *o = t->o;
    if (o->seed_given && o->seed != t->seed) {
        fprintf(stderr, "%s: --seed %llu differs from the seed %llu of %s; leave --seed out to resume\n", t->d->name,
                (unsigned long long)o->seed, (unsigned long long)t->seed, o->resume);
        return NNRT_EXIT_USAGE;
    }
    if (t->pos >= t->train.count && t->pos > 0) {
        fprintf(stderr, "%s: %s stopped %lld samples into epoch %d, but %s holds %lld samples; resume with the "
                        "same data\n",
                t->d->name, o->resume, (long long)t->pos, t->epoch + 1, t->train.xpath[0],
                (long long)t->train.count);
        return NNRT_EXIT_DATA;
    }
    return 0;
}

/* Loads --resume: parameters, optimizer state, step, epoch, generator, seed. */
static int resume(Trainer *t)
{
    NnrtStMeta meta[NNRT_CLI_MAX_META];
    NnrtError err;
    int nm = 0;
    if (nnrt_cli_load_weights(t->d, t->m, t->o->resume, 1, meta, &nm, &err) != 0) {
        if (!explain_foreign(t, meta, nm))
            fprintf(stderr, "%s: %s\n", t->d->name, err.msg);
        return NNRT_EXIT_DATA;
    }
    int rc = explain_foreign(t, meta, nm) ? NNRT_EXIT_DATA : apply_meta(t, meta, nm);
    if (!rc)
        rc = check_resume(t);
    t->saved = !rc && t->o->save && !strcmp(t->o->save, t->o->resume); /* --save already holds this state */
    t->saved_epoch = t->epoch;
    t->saved_step = *t->d->step_counter(t->m);
    return rc;
}

/* ---- the training loop ---------------------------------------------------- */

/* The loss is NaN or infinite: says where, and what the checkpoint holds. */
static int diverged(const Trainer *t, int64_t step, float loss)
{
    const NnrtModelDesc *d = t->d;
    int64_t batch = (t->pos + t->o->batch - 1) / t->o->batch + 1;
    fprintf(stderr, "%s: stopping: the loss is %s at step %lld (epoch %d of %d, batch %lld of %lld); try a lower "
                    "--lr, or check the data\n",
            d->name, isnan(loss) ? "NaN" : "infinite", (long long)step + 1, t->epoch + 1, t->o->epochs,
            (long long)batch, (long long)steps_per_epoch(t));
    if (!t->o->save)
        fprintf(stderr, "%s: nothing was saved (no --save)\n", d->name);
    else if (!t->saved)
        fprintf(stderr, "%s: %s was not written (no epoch finished)\n", d->name, t->o->save);
    else
        fprintf(stderr, "%s: %s was not overwritten; it holds the last good state: epoch %d, step %lld\n", d->name,
                t->o->save, t->saved_epoch, (long long)t->saved_step);
    return NNRT_EXIT_DATA;
}

/* One optimizer step on samples perm[pos..pos+n); an exit status. */
static int train_batch(Trainer *t, int n, Tally *tally)
{
    const NnrtModelDesc *d = t->d;
    const float *in[NNRT_CLI_MAX_NAMED];
    const void *lab[NNRT_CLI_MAX_NAMED];
    float *out[NNRT_CLI_MAX_NAMED] = {NULL};
    memcpy(in, t->batch.x, sizeof in);
    memcpy(lab, t->batch.y, sizeof lab);
    if (has_accuracy(d))
        out[d->acc_output] = t->batch.out[d->acc_output];
    int64_t after = t->train.count - t->pos - n; /* samples left for the next batch */
    nnrt_cli_batch_fill(d, &t->train, t->perm + t->pos, n, t->perm + t->pos + n, after < n ? (int)after : n,
                        (float)t->o->scale, &t->batch);
    int64_t *counter = d->step_counter(t->m), step = *counter;
    float lr = (float)nnrt_lr_at(&d->train, t->o->lr, t->o->epochs, t->epoch, step), loss = 0;
    int rc = d->train_step(t->m, n, in, lab, lr, &loss, out);
    if (rc != 0) {
        fprintf(stderr, "%s: train_step failed (code %d) at step %lld\n", d->name, rc, (long long)step + 1);
        return NNRT_EXIT_DATA;
    }
    if (!isfinite(loss))
        return diverged(t, step, loss);
    if (*counter != step + 1) {
        fprintf(stderr, "%s: internal error: train_step moved the step counter from %lld to %lld\n", d->name,
                (long long)step, (long long)*counter);
        return NNRT_EXIT_DATA;
    }
    tally_batch(d, tally, &t->batch, n, loss);
    t->pos += n;
    t->steps_run++;
    return 0;
}

/* "epoch 2/5  loss 0.4321  acc 84.21%  test loss ...  52311 samples/s  elapsed 9.6 s" on stdout. */
static void epoch_line(Trainer *t, const Tally *train, const Tally *test, double rate)
{
    char buf[32];
    progress_clear(&t->prog);
    printf("epoch %d/%d  loss %s", t->epoch + 1, t->o->epochs, fmt_loss(buf, sizeof buf, tally_loss(train)));
    if (has_accuracy(t->d))
        printf("  acc %.2f%%", tally_acc(train));
    if (test) {
        printf("  test loss %s", fmt_loss(buf, sizeof buf, tally_loss(test)));
        if (has_accuracy(t->d))
            printf("  test acc %.2f%%", tally_acc(test));
    }
    printf("  %.0f samples/s  elapsed %.1f s", rate, nnrt_now() - t->t0);
    if (t->pos < t->train.count)
        printf("  (stopped at sample %lld of %lld)", (long long)t->pos, (long long)t->train.count);
    printf("\n");
    fflush(stdout);
}

/* After the last step of an epoch (or of a stopped run): test pass, epoch line, checkpoint. */
static int finish_epoch(Trainer *t, const Tally *tally, double rate, int complete)
{
    Tally test = {0};
    int rc = 0;
    if (t->test.count)
        rc = eval_set(t->d, t->m, &t->test, t->o->batch, (float)t->o->scale, &t->batch, t->rows, &test);
    if (!rc)
        epoch_line(t, tally, t->test.count ? &test : NULL, rate);
    if (!rc && complete)
        rc = save_checkpoint(t, t->epoch + 1, 0, &t->rng);
    else if (!rc)
        rc = save_checkpoint(t, t->epoch, t->pos, &t->rng_epoch);
    return rc;
}

/* Draws the epoch's order: the identity, shuffled by the generator when shuffling. */
static void draw_permutation(Trainer *t)
{
    t->rng_epoch = t->rng;
    for (int64_t i = 0; i < t->train.count; i++)
        t->perm[i] = (uint32_t)i;
    if (t->o->shuffle)
        nnrt_rng_shuffle_u32(&t->rng, t->perm, (size_t)t->train.count);
}

/* Runs the rest of the current epoch; 0, TRAIN_STOPPED, or an exit status. */
static int train_epoch(Trainer *t)
{
    Tally tally = {0};
    int64_t total = steps_per_epoch(t), first = t->pos;
    double start = nnrt_now();
    draw_permutation(t);
    while (t->pos < t->train.count) {
        int n = (int)(t->train.count - t->pos < t->o->batch ? t->train.count - t->pos : t->o->batch);
        int rc = train_batch(t, n, &tally);
        if (rc)
            return rc;
        double dt = nnrt_now() - start;
        double rate = dt > 0 ? (double)(t->pos - first) / dt : 0;
        progress(&t->prog, t->epoch + 1, t->o->epochs, (t->pos + t->o->batch - 1) / t->o->batch, total, &tally,
                 rate);
        int stop = t->o->steps && t->steps_run >= t->o->steps;
        if (stop || t->pos == t->train.count) {
            rc = finish_epoch(t, &tally, rate, t->pos == t->train.count);
            return rc ? rc : stop ? TRAIN_STOPPED : 0;
        }
    }
    return 0;
}

/* Epochs from the current one to --epochs. */
static int train_loop(Trainer *t)
{
    for (; t->epoch < t->o->epochs; t->epoch++, t->pos = 0) {
        int rc = train_epoch(t);
        if (rc == TRAIN_STOPPED) {
            if (t->prog.mode != PROG_QUIET && t->pos < t->train.count)
                fprintf(stderr, "%s: stopped after %lld steps (--steps), %lld samples into epoch %d\n", t->d->name,
                        (long long)t->steps_run, (long long)t->pos, t->epoch + 1);
            else if (t->prog.mode != PROG_QUIET)
                fprintf(stderr, "%s: stopped after %lld steps (--steps), at the end of epoch %d\n", t->d->name,
                        (long long)t->steps_run, t->epoch + 1);
            return 0;
        }
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- the train command ---------------------------------------------------- */

/* Checks the options train needs; an exit status. */
static int train_usage(const NnrtModelDesc *d, const CliOpts *o)
{
    const char *why = NULL;
    if (!o->data.n)
        why = "needs --data";
    else if (d->nlabels && !o->labels.n)
        why = "needs --labels";
    else if (o->test_data.n && d->nlabels && !o->test_labels.n)
        why = "--test-data needs --test-labels";
    else if (o->test_labels.n && !o->test_data.n)
        why = "--test-labels needs --test-data";
    else if (o->init && o->resume)
        why = "takes --init or --resume, not both";
    if (!why)
        return 0;
    fprintf(stderr, "%s train: %s; see '%s --help'\n", d->name, why, o->argv0);
    return NNRT_EXIT_USAGE;
}

/* Fails early when --save's directory cannot be written, rather than after an epoch. */
static int save_dir_ok(const NnrtModelDesc *d, const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + 1 : 1, slash ? path : ".");
    if (access(dir, W_OK) == 0)
        return 0;
    fprintf(stderr, "%s: cannot write the checkpoint %s: directory '%s': %s\n", d->name, path, dir,
            strerror(errno));
    return NNRT_EXIT_DATA;
}

/* Loads the data sets and checks their sizes. */
static int train_data(Trainer *t)
{
    const NnrtModelDesc *d = t->d;
    const CliOpts *o = t->o;
    int rc = nnrt_cli_load_set(d, &o->data, &o->labels, "--data", "--labels", 1, &t->train);
    if (!rc && o->test_data.n)
        rc = nnrt_cli_load_set(d, &o->test_data, &o->test_labels, "--test-data", "--test-labels", 1, &t->test);
    if (rc)
        return rc;
    if (t->train.count < 1 || t->train.count > (int64_t)UINT32_MAX) {
        fprintf(stderr, "%s: %s holds %lld samples; training needs 1 to %lu\n", d->name, t->train.xpath[0],
                (long long)t->train.count, (unsigned long)UINT32_MAX);
        return NNRT_EXIT_DATA;
    }
    return 0;
}

/* Creates the model, its starting point (--init, --resume or the seed) and the buffers. */
static int train_setup(Trainer *t)
{
    const NnrtModelDesc *d = t->d;
    const CliOpts *o = t->o;
    t->seed = o->seed;
    nnrt_rng_seed(&t->rng, t->seed);
    if (!(t->m = nnrt_cli_make_model(d, o->batch, 1, o->init, o->seed, &t->arena)))
        return NNRT_EXIT_DATA;
    int rc = o->resume ? resume(t) : 0;
    if (rc)
        return rc;
    d->set_seed(t->m, t->seed);
    t->perm = malloc(sizeof *t->perm * (size_t)t->train.count);
    t->rows = malloc(sizeof *t->rows * (size_t)o->batch);
    if (!t->perm || !t->rows || nnrt_cli_batch_alloc(d, o->batch, &t->batch) != 0) {
        fprintf(stderr, "%s: out of memory for batches of %d\n", d->name, o->batch);
        return NNRT_EXIT_DATA;
    }
    return 0;
}

/* What is about to happen, on stderr. */
static void banner(const Trainer *t)
{
    const NnrtModelDesc *d = t->d;
    const CliOpts *o = t->o;
    if (t->prog.mode == PROG_QUIET)
        return;
    if (o->resume && t->pos)
        fprintf(stderr, "%s: resuming from %s at step %lld, %lld samples into epoch %d\n", d->name, o->resume,
                (long long)*d->step_counter(t->m), (long long)t->pos, t->epoch + 1);
    else if (o->resume)
        fprintf(stderr, "%s: resuming from %s at step %lld, after epoch %d\n", d->name, o->resume,
                (long long)*d->step_counter(t->m), t->epoch);
    fprintf(stderr, "%s: training on %lld samples", d->name, (long long)t->train.count);
    if (t->test.count)
        fprintf(stderr, " (test: %lld)", (long long)t->test.count);
    fprintf(stderr, ", %d epochs of %lld steps, batch %d, %s lr %g, seed %llu%s\n", o->epochs,
            (long long)steps_per_epoch(t), o->batch, d->train.optimizer ? d->train.optimizer : "", o->lr,
            (unsigned long long)t->seed, o->save ? "" : " (no --save: the weights will not be kept)");
}

static void train_free(Trainer *t)
{
    nnrt_cli_free_set(t->d, &t->train);
    nnrt_cli_free_set(t->d, &t->test);
    nnrt_cli_batch_free(t->d, &t->batch);
    free(t->perm);
    free(t->rows);
    free(t->arena);
}

/* BIN train ...: see the file comment. */
int nnrt_cli_train(const NnrtModelDesc *d, const CliOpts *o)
{
    Trainer t;
    memset(&t, 0, sizeof t);
    t.d = d;
    t.o = o;
    t.prog.mode = o->quiet ? PROG_QUIET : isatty(2) ? PROG_BAR : PROG_LINES;
    int rc = train_usage(d, o);
    rc = rc ? rc : o->save ? save_dir_ok(d, o->save) : 0;
    rc = rc ? rc : train_data(&t);
    rc = rc ? rc : train_setup(&t);
    if (!rc && t.epoch >= o->epochs) {
        fprintf(stderr, "%s: %s already holds %d epochs (--epochs %d); nothing to train\n", d->name, o->resume,
                t.epoch, o->epochs);
    } else if (!rc) {
        banner(&t);
        t.t0 = nnrt_now();
        rc = train_loop(&t);
        if (!rc && t.prog.mode != PROG_QUIET)
            fprintf(stderr, "%s: %lld steps in %.1f s%s%s\n", d->name, (long long)t.steps_run, nnrt_now() - t.t0,
                    o->save ? "; saved " : "", o->save ? o->save : "");
    }
    train_free(&t);
    return rc;
}

/* ---- the eval command ----------------------------------------------------- */

static int digits(int64_t v)
{
    int n = 1;
    for (; v >= 10; v /= 10)
        n++;
    return n;
}

/* The confusion matrix, aligned: rows are true classes, columns predicted ones, then recall. */
static void print_confusion(const int64_t *c, int K)
{
    int64_t max = K - 1;
    for (int64_t i = 0; i < (int64_t)K * K; i++)
        max = c[i] > max ? c[i] : max;
    int w = digits(max) + 2;
    printf("confusion matrix (rows: true class, columns: predicted class)\n%9s", "true\\pred");
    for (int j = 0; j < K; j++)
        printf("%*d", w, j);
    printf("  recall\n");
    for (int i = 0; i < K; i++) {
        int64_t row = 0;
        printf("%9d", i);
        for (int j = 0; j < K; j++) {
            printf("%*lld", w, (long long)c[(int64_t)i * K + j]);
            row += c[(int64_t)i * K + j];
        }
        if (row)
            printf("  %5.1f%%\n", 100.0 * (double)c[(int64_t)i * K + i] / (double)row);
        else
            printf("      -\n");
    }
}

/* "loss 0.3456  accuracy 87.52% (8752/10000)  10000 samples in 0.2 s (50000 samples/s)" */
static void eval_report(const NnrtModelDesc *d, const Tally *t, double dt)
{
    char buf[32];
    printf("loss %s", fmt_loss(buf, sizeof buf, tally_loss(t)));
    if (has_accuracy(d))
        printf("  accuracy %.2f%% (%lld/%lld)", tally_acc(t), (long long)t->correct, (long long)t->total);
    printf("  %lld samples in %.2f s (%.0f samples/s)\n", (long long)t->samples, dt, dt > 0 ? t->samples / dt : 0.0);
}

/* BIN eval --weights W --data X --labels Y [--batch B] [--scale F] [--confusion] */
int nnrt_cli_eval(const NnrtModelDesc *d, const CliOpts *o)
{
    if (!o->weights || !o->data.n || (d->nlabels && !o->labels.n)) {
        fprintf(stderr, "%s eval: needs --weights, --data%s; see '%s --help'\n", d->name,
                d->nlabels ? " and --labels" : "", o->argv0);
        return NNRT_EXIT_USAGE;
    }
    if (o->confusion && !has_accuracy(d)) {
        fprintf(stderr, "%s eval: --confusion needs a class label and cross_entropy; this net has none\n", d->name);
        return NNRT_EXIT_USAGE;
    }
    CliSet s;
    CliBatch b;
    Tally t = {0};
    memset(&b, 0, sizeof b);
    void *arena = NULL, *m = NULL;
    uint32_t *rows = NULL;
    int K = has_accuracy(d) ? d->labels[d->acc_label].nclass : 0;
    int rc = nnrt_cli_load_set(d, &o->data, &o->labels, "--data", "--labels", 1, &s);
    if (!rc && !(m = nnrt_cli_make_model(d, o->batch, 1, o->weights, 0, &arena)))
        rc = NNRT_EXIT_DATA;
    if (!rc && (!(rows = malloc(sizeof *rows * (size_t)o->batch)) || nnrt_cli_batch_alloc(d, o->batch, &b) != 0 ||
                (o->confusion && !(t.confusion = calloc((size_t)K * (size_t)K, sizeof *t.confusion))))) {
        fprintf(stderr, "%s: out of memory\n", d->name);
        rc = NNRT_EXIT_DATA;
    }
    double t0 = nnrt_now();
    if (!rc)
        rc = eval_set(d, m, &s, o->batch, (float)o->scale, &b, rows, &t);
    if (!rc)
        eval_report(d, &t, nnrt_now() - t0);
    if (!rc && o->confusion)
        print_confusion(t.confusion, K);
    free(t.confusion);
    free(rows);
    nnrt_cli_batch_free(d, &b);
    nnrt_cli_free_set(d, &s);
    free(arena);
    return rc;
}
