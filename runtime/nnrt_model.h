/*
 * nnrt_model.h — how generated code describes a model to the runtime.
 *
 * `netc emit` writes, beside the net's typed API, one NnrtModelDesc: its
 * inputs, outputs, labels and parameters with per-sample shapes, and
 * function pointers into the generated kernels.  The runtime's generic
 * parts (weight loading, default initialization, the standalone command
 * line in nnrt_cli.c) work from this table, so they are written once
 * rather than emitted per net.  Embedded core: no malloc, no file I/O.
 */
#ifndef NNRT_MODEL_H
#define NNRT_MODEL_H

#include "nnrt.h"

typedef struct NnrtTensorDesc {
    const char *name;               /* .net name ("image", "logits") */
    int ndim;                       /* per-sample dimensions */
    int64_t shape[NNRT_MAX_DIMS];   /* per-sample shape */
    int64_t size;                   /* elements per sample */
    int nclass;                     /* labels: classes, 0 for f32 tensors */
} NnrtTensorDesc;

typedef enum NnrtInit {
    NNRT_INIT_UNIFORM,  /* U(-bound, bound): PyTorch's default for dense/conv weights and biases */
    NNRT_INIT_ONES,     /* norm scales, running variances */
    NNRT_INIT_ZEROS,    /* norm shifts, running means */
} NnrtInit;

typedef struct NnrtParamDesc {
    const char *name;               /* weights-file name, "dense_1.weight" */
    int ndim;                       /* dimensions */
    int64_t shape[NNRT_MAX_DIMS];   /* PyTorch layout */
    int64_t size;                   /* elements */
    int64_t offset;                 /* in floats, in the parameter block */
    NnrtInit init;                  /* default initializer */
    float bound;                    /* NNRT_INIT_UNIFORM: 1/sqrt(fan_in) */
    int trainable;                  /* updated by training */
} NnrtParamDesc;

typedef enum NnrtSchedule { NNRT_SCHED_CONSTANT, NNRT_SCHED_STEP, NNRT_SCHED_COSINE } NnrtSchedule;

/* The net's `train { }` settings (defaults filled) and its optimizer's lr. */
typedef struct NnrtTrainConfig {
    int batch;              /* samples per step */
    int epochs;             /* passes over the data */
    uint64_t seed;          /* shuffling and dropout masks */
    int shuffle;            /* reshuffle every epoch */
    NnrtSchedule schedule;  /* learning-rate schedule, by epoch */
    int step_size;          /* NNRT_SCHED_STEP: epochs between decays */
    double gamma;           /* NNRT_SCHED_STEP: decay factor */
    int warmup;             /* linear warmup, in steps */
    double clip_norm;       /* global gradient-norm clip (applied inside train_step), 0 = off */
    double lr;              /* the optimizer's base learning rate */
    const char *optimizer;  /* "adam", ... */
} NnrtTrainConfig;

/* Per-kernel timing, filled when the generated C is compiled with -DNNRT_PROFILE. */
typedef struct NnrtProfEntry {
    const char *name;      /* kernel: layer name and what it computes */
    const char *pass;      /* "forward", "train-forward", "backward", "update" */
    double flops;          /* floating-point operations per sample (update: per call) */
    double seconds;        /* accumulated wall time */
    int64_t calls;         /* times run */
    int64_t samples;       /* samples processed, summed over calls */
} NnrtProfEntry;

#ifdef NNRT_PROFILE
#include <time.h>
static inline double nnrt_prof_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
#define NNRT_PROF(entry, batch, stmt)                     \
    do {                                                  \
        double t0_ = nnrt_prof_now();                     \
        stmt;                                             \
        (entry)->seconds += nnrt_prof_now() - t0_;        \
        (entry)->calls++;                                 \
        (entry)->samples += (batch);                      \
    } while (0)
#else
#define NNRT_PROF(entry, batch, stmt) stmt
#endif

typedef struct NnrtModelDesc {
    const char *name;               /* net name */
    const char *source;             /* .net file it was compiled from */
    const char *netc_version;       /* compiler version */
    const char *summary;            /* `netc summary` text */
    int ninputs, noutputs, nlabels; /* counts of the arrays below */
    const NnrtTensorDesc *inputs;   /* in declaration order */
    const NnrtTensorDesc *outputs;  /* in `output` order */
    const NnrtTensorDesc *labels;   /* in declaration order */
    int nparams;                    /* parameter tensors */
    const NnrtParamDesc *params;    /* in creation order */
    int64_t param_floats;           /* size of the parameter block */
    size_t (*arena_bytes)(int max_batch);
    void *(*create)(void *arena, size_t bytes, int max_batch, NnrtError *err);
    float *(*param_block)(void *model);
    int (*forward)(void *model, int batch, const float *const *inputs, float *const *outputs);

    /* Training: set when the net has a loss, NULL/0 otherwise.  Labels are
     * passed as int32_t arrays for class labels, float arrays otherwise. */
    int trainable;                  /* the net has a loss and an optimizer */
    NnrtTrainConfig train;          /* defaults from the .net file */
    int acc_output, acc_label;      /* output and label compared for accuracy (cross_entropy), or -1 */
    int nstate;                     /* optimizer state tensors per trainable parameter */
    const char *const *state_names; /* their names: "exp_avg", "exp_avg_sq", ... */
    size_t (*train_arena_bytes)(int max_batch);
    void *(*create_train)(void *arena, size_t bytes, int max_batch, NnrtError *err);
    /* State k laid out like the trainable part of the parameter block (param offsets). */
    float *(*state_block)(void *model, int k);
    int64_t *(*step_counter)(void *model);     /* optimizer steps taken so far */
    void (*set_seed)(void *model, uint64_t seed);  /* dropout mask stream */
    /* One step on a batch: forward in training mode, backward, update with
     * learning rate lr.  *loss gets the batch's loss; outputs[i], when not
     * NULL, the batch's output i.  0, or -1 for a batch out of range or a
     * model created without training memory, -2 for a label out of range. */
    int (*train_step)(void *model, int batch, const float *const *inputs, const void *const *labels, float lr,
                      float *loss, float *const *outputs);
    /* The loss in inference mode (running statistics, no dropout) and the outputs. */
    int (*evaluate)(void *model, int batch, const float *const *inputs, const void *const *labels, float *loss,
                    float *const *outputs);

    NnrtProfEntry *prof;            /* per-kernel timing (-DNNRT_PROFILE), else NULL */
    int nprof;                      /* entries in prof */
} NnrtModelDesc;

/*
 * Learning rate at global step `step` (0-based, over the whole run) in
 * epoch `epoch` (0-based) of `epochs`: base_lr * f_sched(epoch) *
 * f_warm(step), where f_sched is 1 (constant), gamma^floor(epoch /
 * step_size) (step) or (1 + cos(pi epoch / epochs)) / 2 (cosine), and
 * f_warm(step) = min(1, (step + 1) / warmup) when warmup > 0.
 */
double nnrt_lr_at(const NnrtTrainConfig *c, double base_lr, int epochs, int epoch, int64_t step);

/* Default initialization (PyTorch's rules), deterministic from seed. */
void nnrt_init_params(const NnrtModelDesc *d, float *block, uint64_t seed);

/*
 * Loads a safetensors image from memory into the parameter block: every
 * parameter must be present with its shape and dtype F32, nothing else may
 * be (but PyTorch's `*.num_batches_tracked`).  `scratch` holds the parsed
 * header: nnrt_load_scratch_bytes(d) bytes.
 */
#define NNRT_LOAD_SCRATCH_BYTES(nparams) \
    ((size_t)(2 * (nparams) + 16) * sizeof(NnrtStEntry) + (size_t)(nparams) * sizeof(NnrtParamSpec))
size_t nnrt_load_scratch_bytes(const NnrtModelDesc *d);
int nnrt_load_params(const NnrtModelDesc *d, float *block, const void *bytes, size_t len,
                     const char *what, void *scratch, NnrtError *err);

/* nnrt_model_io.c (file layer): the same from a file. */
int nnrt_load_params_file(const NnrtModelDesc *d, float *block, const char *path, void *scratch, NnrtError *err);
int nnrt_save_params_file(const NnrtModelDesc *d, const float *block, const char *path, NnrtError *err);

#endif
