/*
 * nnrt_cli_int.h — private to the standalone command line: nnrt_cli.c
 * (options, data sets, weights, predict), nnrt_train.c (train, eval,
 * checkpoints), nnrt_bench.c (bench) and their unit test.  Not part of
 * the runtime's API.
 */
#ifndef NNRT_CLI_INT_H
#define NNRT_CLI_INT_H

#include "nnrt_cli.h"
#include "nnrt_io.h"

#include <stdio.h>

enum {
    NNRT_EXIT_DATA = 1,      /* bad data, weights, checkpoint, or a diverged run */
    NNRT_EXIT_USAGE = 2,     /* wrong command line */
    NNRT_CLI_MAX_NAMED = 16, /* inputs or labels per net the command line handles */
    NNRT_CLI_MAX_META = 64,  /* __metadata__ entries read from a weights file */
};

/* Commands, as bits: which command an option belongs to. */
enum { NNRT_CMD_PREDICT = 1, NNRT_CMD_TRAIN = 2, NNRT_CMD_EVAL = 4 };

/* Files given to a repeatable option, each "PATH" or "NAME=PATH". */
typedef struct CliList {
    const char *v[NNRT_CLI_MAX_NAMED]; /* as given */
    int n;                             /* how many */
} CliList;

/* The parsed command line, with defaults resolved from the descriptor. */
typedef struct CliOpts {
    int cmd;                  /* NNRT_CMD_* */
    const char *argv0;        /* program name, for hints */
    const char *weights;      /* --weights: predict, eval */
    const char *output;       /* --output: predict */
    const char *init;         /* --init: starting weights for train */
    const char *save;         /* --save: checkpoint written every epoch */
    const char *resume;       /* --resume: checkpoint to continue from */
    CliList data, labels;     /* --data/--input, --labels */
    CliList test_data;        /* --test-data */
    CliList test_labels;      /* --test-labels */
    int batch;                /* --batch: samples per step or call */
    int epochs;               /* --epochs: epochs of the whole run */
    int print;                /* --print K: predictions shown */
    int64_t steps;            /* --steps K: stop after K steps of this run, 0 = no limit */
    uint64_t seed;            /* --seed: initialization, shuffling, dropout */
    int seed_given;           /* --seed was on the command line */
    double lr;                /* --lr: base learning rate */
    double scale;             /* --scale: factor applied to input data */
    int shuffle;              /* not --no-shuffle (and the net's shuffle setting) */
    int quiet;                /* --quiet: epoch lines only */
    int confusion;            /* --confusion: eval prints a confusion matrix */
    int threads;              /* --threads N: size of the GEMM thread pool (1 = none) */
} CliOpts;

/* A data set: one array per input and per label, in their stored dtypes. */
typedef struct CliSet {
    NnrtArray x[NNRT_CLI_MAX_NAMED];   /* inputs, in descriptor order */
    const char *xpath[NNRT_CLI_MAX_NAMED];
    NnrtArray y[NNRT_CLI_MAX_NAMED];   /* labels, in descriptor order */
    const char *ypath[NNRT_CLI_MAX_NAMED];
    int64_t count;                     /* samples */
} CliSet;

/* One batch, converted: float inputs, int32 class labels or float labels, outputs. */
typedef struct CliBatch {
    float *x[NNRT_CLI_MAX_NAMED];      /* max_batch * inputs[i].size */
    void *y[NNRT_CLI_MAX_NAMED];       /* max_batch * labels[i].size, int32_t or float */
    float *out[NNRT_CLI_MAX_NAMED];    /* max_batch * outputs[i].size */
} CliBatch;

/* nnrt_cli.c */
int nnrt_cli_load_set(const NnrtModelDesc *d, const CliList *data, const CliList *labels, const char *data_opt,
                      const char *labels_opt, int need_labels, CliSet *s);
void nnrt_cli_free_set(const NnrtModelDesc *d, CliSet *s);
void *nnrt_cli_make_model(const NnrtModelDesc *d, int max_batch, int train, const char *weights, uint64_t seed,
                          void **arena);
int nnrt_cli_load_weights(const NnrtModelDesc *d, void *m, const char *path, int with_state, NnrtStMeta *meta,
                          int *nmeta, NnrtError *err);
const char *nnrt_cli_meta(const NnrtStMeta *meta, int nmeta, const char *key);
int nnrt_cli_state_name(const NnrtModelDesc *d, int param, int k, char *buf, size_t cap);

/* nnrt_train.c */
int nnrt_cli_train(const NnrtModelDesc *d, const CliOpts *o);
int nnrt_cli_eval(const NnrtModelDesc *d, const CliOpts *o);
void nnrt_cli_gather(const NnrtArray *a, int64_t size, const uint32_t *rows, int n, const uint32_t *next,
                     int next_n, float scale, float *dst);
int nnrt_cli_batch_alloc(const NnrtModelDesc *d, int max_batch, CliBatch *b);
/*
 * Returns `bytes` of 64-byte-aligned memory (free() releases it), for the
 * arrays the net reads: a batch-1 GEMV reads its input vector once per 16
 * weights, and on malloc's 16-byte alignment each of those loads straddled
 * two cache lines (fashion_mlp's batch-1 inference 3.4-3.6 -> 3.0 us at 2
 * threads, docs/performance.md, 2026-12-03 14:30).
 */
void *nnrt_cli_alloc(size_t bytes);
void nnrt_cli_batch_free(const NnrtModelDesc *d, CliBatch *b);
/* Fills b with samples rows[0..n) of s, and prefetches next[0..next_n) (nnrt_cli_gather). */
void nnrt_cli_batch_fill(const NnrtModelDesc *d, const CliSet *s, const uint32_t *rows, int n,
                         const uint32_t *next, int next_n, float scale, CliBatch *b);

/* nnrt_bench.c: BIN bench [--batch B] [--steps K] [--threads N] [--json FILE] */
int nnrt_cli_bench(const NnrtModelDesc *d, int argc, char **argv);

#endif
