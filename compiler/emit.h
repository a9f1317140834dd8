/*
 * emit.h — writing C: the indenting printer, and the C emitter's entry points.
 */
#ifndef NETC_EMIT_H
#define NETC_EMIT_H

#include "ir.h"

#include <stdio.h>

/* A printf-style writer that indents by braces: a line ending in '{'
 * indents what follows, a line starting with '}' dedents itself. */
typedef struct Emitter {
    FILE *out;   /* destination */
    int depth;   /* current indentation, in levels of 4 spaces */
    const IrNode *unapplied;  /* node whose fused transcendental activation emit_store left to emit_vmath_pass */
    const char *prof;  /* the profile table kernel calls record into; NULL: <net>_prof */
} Emitter;

void emit_line(Emitter *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void emit_blank(Emitter *e);
/*
 * n items in blocks of `step`: "for (int VAR = 0; VAR < ..; VAR += ..)"
 * around body(count = step), then body(count = the rest) in a block with
 * VAR fixed where the loop stopped; VAR moves `scale` per item.
 */
typedef void EmitBlockFn(Emitter *e, const void *ctx, int count);
void emit_blocks(Emitter *e, const char *var, int n, int step, int scale, EmitBlockFn *body, const void *ctx);
const char *emit_float(char *buf, size_t cap, double v);  /* a C float literal: "0.01f" */
const char *emit_upper(Arena *a, const char *s);          /* "LENET5" */

/*
 * Bytes of the arena <net>_create (train false) or <net>_create_train
 * (train true) needs for batches of at most `batch` samples, with one
 * thread: the value of the generated <NET>_ARENA_BYTES / _TRAIN_ARENA_BYTES
 * macros, which are printed from the same constants.
 */
int64_t emit_arena_bytes(const IrGraph *g, bool train, int64_t batch);
int64_t emit_train_col_bytes(const IrGraph *g);  /* emit_train.c: train_step's own im2col buffer, or 0 */
int emit_train_shards(const IrGraph *g);         /* emit_shard.c: parts train_step cuts a batch into */
int emit_infer_shards(const IrGraph *g);         /* emit_shard.c: parts forward cuts a batch into */
int64_t emit_work_total(int64_t per, int shards, int64_t batch);  /* emit_shard.c: the shards' workspaces, floats */
int64_t emit_shard_bytes(const IrGraph *g);      /* emit_shard.c: training shards' memory past the first */
int64_t emit_infer_shard_bytes(const IrGraph *g);  /* emit_shard.c: inference shards' memory past the first */

typedef struct EmitOptions {
    const char *cmdline;  /* for the front matter */
} EmitOptions;

/* The generated translation unit and header of a net, to two streams. */
void emit_header(FILE *out, const IrGraph *g, const EmitOptions *o);
void emit_source(FILE *out, const IrGraph *g, const EmitOptions *o);
/* The `main` of a standalone binary. */
void emit_main(FILE *out, const IrGraph *g, const EmitOptions *o);

/* emit_kernels.c: one static function per computed node. */
void emit_kernel(Emitter *e, const IrGraph *g, int node);            /* as the forward pass runs it */
void emit_kernel_unfolded(Emitter *e, const IrGraph *g, int node);   /* a node with a fold, as train_step runs it */
const char *emit_kernel_name(const IrGraph *g, int node);   /* "lenet5_k3_conv2d_1" */
const char *emit_infer_kernel_name(const IrGraph *g, int node);  /* the same, "_bn" when a batchnorm is folded in */
void emit_kernel_comment(Emitter *e, const IrGraph *g, int node);
void emit_store(Emitter *e, const IrGraph *g, const IrNode *n, const char *dst, const char *val);
int emit_dense_width(const IrNode *n);  /* small dense loops on <net>_v8 or _v16 vectors, or 0 */
const char *emit_vmath_fn(IrOp op);  /* "nnrt_vsigmoid", ..., NULL for relu and leaky_relu */
void emit_vmath_pass(Emitter *e, const IrGraph *g, const IrNode *n, const char *y, const char *count);
void emit_row_max(Emitter *e, long long d);  /* float m = the max of xr[0..d-1] */
void emit_check_applied(Emitter *e, const IrGraph *g);  /* dies if a kernel forgot its emit_vmath_pass */
void emit_im2col(Emitter *e, const IrGraph *g, const IrNode *n, const char *src, const char *col, bool back,
                 const char *ld, const char *off);
bool emit_conv_batched(const IrNode *n);
void emit_conv_permute(Emitter *e, const char *tensor, const char *gemm, int f, int hw, bool to_gemm);
const char *emit_conv_job(const IrGraph *g, int id, const char *what);
bool emit_conv_is_pointwise(const IrNode *n);
/* emit_conv_direct.c: convolutions with few taps, without im2col. */
int emit_conv_direct_width(const IrNode *n);  /* floats per vector of a direct conv: 8 or 16 */
void emit_conv_direct_fwd(Emitter *e, const IrGraph *g, const IrNode *n);
void emit_conv_filters_fwd(Emitter *e, const IrGraph *g, const IrNode *n);  /* IrSched.filters */
void emit_conv_filters_dw(Emitter *e, const IrGraph *g, int bwd, const IrNode *f);
void emit_conv_filters_dw_job(Emitter *e, const IrGraph *g, int bwd, const IrNode *f);  /* before that kernel */
void emit_conv_filters_dx(Emitter *e, const IrGraph *g, const IrNode *f);  /* one sample n into dxn */
void emit_conv_direct_dw(Emitter *e, const IrGraph *g, int bwd, const IrNode *f);
void emit_conv_direct_dw_job(Emitter *e, const IrGraph *g, int bwd, const IrNode *f);  /* before that kernel */

/* emit_backward.c: training-mode forward kernels, loss and backward kernels. */
bool emit_has_train_kernel(const IrGraph *g, int node);  /* forward differs in training */
void emit_train_kernel(Emitter *e, const IrGraph *g, int node);

/* emit_train.c: the training API (train_step, evaluate, optimizer). */
void emit_train_header(FILE *out, const IrGraph *g);
void emit_train_source(Emitter *e, const IrGraph *g);
void emit_train_desc_fields(FILE *out, const IrGraph *g);
void emit_train_wrappers(FILE *out, const IrGraph *g);
const char *emit_label_type(const IrNode *label);  /* "int32_t" or "float" */

#endif
