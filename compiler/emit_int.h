/*
 * emit_int.h — what the emitter's files share and nothing else needs.
 */
#ifndef NETC_EMIT_INT_H
#define NETC_EMIT_INT_H

#include "emit.h"

enum {
    KARGS_MAX = 16,
    ARENA_SLACK = 768,        /* model struct and alignment of the arena's blocks */
    TRAIN_ARENA_SLACK = 576,  /* alignment of the training blocks */
};

/* One argument of a kernel: as declared, and as passed by its caller. */
typedef struct KArg {
    const char *type;  /* "const float *restrict" */
    const char *name;  /* "dy" */
    const char *expr;  /* "work + 128 * mb" */
} KArg;

typedef struct KArgs {
    const char *ret;       /* "void", or "float" for loss values */
    int n;                 /* arguments after `int batch` */
    KArg arg[KARGS_MAX];
} KArgs;

void emit_kernel_args(const IrGraph *g, int node, KArgs *a);
const char *emit_train_kernel_name(const IrGraph *g, int node);
/* Whether node i is a kernel call of the forward pass / of train_step. */
bool emit_is_infer_call(const IrGraph *g, int i);
bool emit_is_train_call(const IrGraph *g, int i);
/* Profile entries: node i's forward call, its train_step call, the update. */
#define PROF_INFER(g, i) (i)
#define PROF_TRAIN(g, i) ((g)->nnodes + (i))
#define PROF_UPDATE(g) (2 * (g)->nnodes)
void emit_prof_table(FILE *out, const IrGraph *g);
int64_t emit_pack_bound(const IrGraph *g, bool train);  /* one thread, any batch up to 65536 */

/* The C expression for a tensor's storage in plan (PLAN_INFER or PLAN_TRAIN). */
const char *emit_tensor_ptr(const IrGraph *g, int plan, int node);

#endif
