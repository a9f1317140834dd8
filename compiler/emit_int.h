/*
 * emit_int.h — what the emitter's files share and nothing else needs.
 */
#ifndef NETC_EMIT_INT_H
#define NETC_EMIT_INT_H

#include "emit.h"

enum {
    UPDATE_CHUNK = 4096,      /* parameters per task of the optimizer update */
    KARGS_MAX = 16,
    ARENA_SLACK = 768,        /* model struct and alignment of the arena's blocks */
    TRAIN_ARENA_SLACK = 576,  /* alignment of the training blocks */
};

/* One argument of a kernel: as declared, and as passed by its caller. */
typedef struct KArg {
    const char *type;  /* "const float *restrict" */
    const char *name;  /* "dy" */
    const char *expr;  /* "work + 128 * mb" */
    long long per_sample;  /* elements per sample of a batch tensor; 0 for parameters and buffers */
} KArg;

typedef struct KArgs {
    const char *ret;       /* "void", or "float" for loss values */
    int n;                 /* arguments after `int batch` */
    KArg arg[KARGS_MAX];
} KArgs;

void emit_kernel_args(const IrGraph *g, int node, KArgs *a);           /* a training-mode kernel's */
void emit_infer_kernel_args(const IrGraph *g, int node, int plan, KArgs *a);  /* a forward kernel's */
void emit_add_arg(KArgs *a, const char *type, const char *name, const char *expr, long long per_sample);
/* The kernel's signature line "static RET NAME(int batch, ...)" and its opening brace. */
void emit_args_signature(Emitter *e, const char *ret, const char *name, const KArgs *a);
/* A timed call "NNRT_PROF(&<net>_prof[prof], batch, LHS NAME(batch, args))". */
void emit_kernel_call(Emitter *e, const IrGraph *g, int prof, const char *lhs, const char *name, const KArgs *a);

/* emit_par.c: a kernel's batch split over the thread pool. */
bool emit_par_split(const IrGraph *g, int node, bool train_kernel);
const char *emit_par_name(const IrGraph *g, int node, bool train_kernel, const char *kernel);
void emit_par_wrapper(Emitter *e, const IrGraph *g, int node, const char *kernel, const KArgs *a);
/*
 * A per-sample job inside a kernel: "static void FN(void *ctx, int n0, int
 * n1)" reading SRC (and AUX, unless NULL) and writing DST (an NnrtSamples
 * context), whose loop over n in [n0, n1) the caller emits between begin
 * and end; and the kernel's call of it over the pool for `count` samples
 * (the job's `batch`), `work` elements per sample.
 */
void emit_samples_fn_begin(Emitter *e, const char *fn, const char *src, const char *dst, const char *aux);
/*
 * A kernel whose channels are independent (batchnorm in training and its
 * gradients: each channel's sums are one thread's, in a fixed order) runs
 * them over the pool: "static void FN(void *ctx, int c0, int c1)" binds the
 * kernel's arguments a (and batch) from an FN_args context, and the caller
 * emits its loop over c in [c0, c1) between begin and end; call, in the
 * kernel, runs it on `channels` channels of `work` (an expression)
 * elements each.
 */
void emit_channels_fn_begin(Emitter *e, const char *fn, const KArgs *a);
void emit_channels_fn_end(Emitter *e);
void emit_channels_call(Emitter *e, const char *fn, const KArgs *a, int channels, const char *work);
void emit_samples_fn_end(Emitter *e);
/* A residual add fused into n's epilogue (fuse.c), or NULL; and the tensor it adds (its other input). */
const IrNode *emit_epi_add(const IrGraph *g, const IrNode *n);
int emit_epi_residual(const IrGraph *g, const IrNode *n);
void emit_samples_call(Emitter *e, const char *fn, const char *src, const char *dst, const char *aux, const char *count,
                       long long work);
const char *emit_train_kernel_name(const IrGraph *g, int node);
/* Whether node i is a kernel call of the forward pass / of train_step. */
bool emit_is_infer_call(const IrGraph *g, int i);
bool emit_is_train_call(const IrGraph *g, int i);
bool emit_update_fused(const IrGraph *g, int id);  /* this weight-gradient GEMM applies the optimizer update */
int64_t emit_update_rest(const IrGraph *g);      /* trainable floats the update pass covers (the others are fused) */
bool emit_update_is_adam(const IrGraph *g);      /* fused updates are the runtime's Adam (NnrtAdam), not NET_update_tile */
/* Profile entries: node i's forward call, its train_step call, the update. */
#define PROF_INFER(g, i) (i)
#define PROF_TRAIN(g, i) ((g)->nnodes + (i))
#define PROF_UPDATE(g) (2 * (g)->nnodes)
#define PROF_FOLD(g) (2 * (g)->nnodes + 1)
#define PROF_COUNT(g) (2 * (g)->nnodes + 2)
void emit_prof_table(FILE *out, const IrGraph *g);
int64_t emit_pack_bound(const IrGraph *g, bool train);  /* one thread, any batch up to 65536 */

/* The statement marking the folded weights stale ("    m->fold_stale = 1;\n"), or "" for a net without folds. */
const char *emit_fold_stale(const IrGraph *g);

/*
 * emit_chain.c: the kernel of an elementwise chain (chain.c), emitted for
 * its root: the forward pass's (plan PLAN_INFER) or train_step's, which
 * also stores the members backward reads (plan PLAN_TRAIN).
 */
void emit_chain_kernel(Emitter *e, const IrGraph *g, int root, int plan);
void emit_chain_args(const IrGraph *g, int root, int plan, KArgs *a);
const char *emit_chain_kernel_name(const IrGraph *g, int id, int plan);  /* emit_kernel_name for other nodes */
bool emit_chain_train_kernel(const IrGraph *g, int root);  /* train_step needs a chain kernel of its own */
const char *emit_chain_ops(const IrGraph *g, int root);    /* "sigmoid + tanh + mul" */
int64_t emit_chain_flops(const IrGraph *g, int root);      /* per sample, the whole tree */

/* The C expression for a tensor's storage in plan (PLAN_INFER or PLAN_TRAIN). */
const char *emit_tensor_ptr(const IrGraph *g, int plan, int node);

/* emit_api.c: pieces of forward that the sharded forward shares. */
void emit_forward_params(FILE *out, const IrGraph *g);  /* ", const float *in_x, float *out_y" */
void emit_forward_head(Emitter *e, const IrGraph *g);   /* forward's signature, check and fold */
void emit_forward_body(Emitter *e, const IrGraph *g);   /* the forward kernels on m's workspace */

/* emit_train.c: pieces of train_step that the sharded step shares. */
bool emit_can_train(const IrGraph *g);                      /* a loss and an optimizer */
void emit_io_params(FILE *out, const IrGraph *g);          /* ", const float *in_x, const int32_t *lab_t" */
void emit_out_params(FILE *out, const IrGraph *g);         /* ", float *out_y" */
void emit_step_head(Emitter *e, const IrGraph *g);         /* train_step's signature and checks */
void emit_step_body(Emitter *e, const IrGraph *g);         /* forward, loss into `total`, outputs, backward */
void emit_step_tail(Emitter *e, const IrGraph *g, const char *update_args);  /* the update, the count, the loss */
void emit_clip(Emitter *e, const IrGraph *g);              /* gradient clipping of `gr`, if the net asks */

/* emit_shard.c: the sharded training step (emit_train_shards > 1) and forward pass (emit_infer_shards > 1). */
void emit_shard_macros(FILE *out, const IrGraph *g, const char *U);        /* NET_TRAIN_SHARDS, ..., NET_SHARD_BYTES */
void emit_infer_shard_macros(FILE *out, const IrGraph *g, const char *U);  /* NET_INFER_SHARDS, NET_WORK_TOTAL(B), ... */
const char *emit_shard_grow(const IrGraph *g);    /* create_train's statement growing the workspace */
const char *emit_shard_memory(const IrGraph *g);  /* create_train's statements giving each shard its memory */
const char *emit_infer_shard_memory(const IrGraph *g);  /* create's workspace and inference shards */
void emit_shard_forward(Emitter *e, const IrGraph *g);  /* <net>_forward_part, the shard task, forward */
void emit_shard_reduce(Emitter *e, const IrGraph *g, int shards);  /* <net>_reduce_range, <net>_reduce */
void emit_shard_step(Emitter *e, const IrGraph *g);  /* <net>_train_shard, the shard task, train_step */

#endif
