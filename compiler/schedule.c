/*
 * schedule.c — choosing each kernel's loop-nest shape.
 *
 * Requires: shapes (shape.c) and the graph's target.
 * Guarantees: every node has an IrSched: the vector width of the target,
 * the number of independent accumulators for reductions (so the emitted
 * inner loops have no loop-carried dependence on one register), and
 * tiles for GEMM-shaped loops.  The emitter builds loop nests from these
 * numbers and never hard-codes them.
 *
 * GEMM-shaped work (dense, and conv2d through im2col) big enough to gain
 * from packing goes to the register-tiled GEMM of the runtime, with cache
 * blocks chosen for its shape from the target's cache sizes
 * (nnrt_gemm_default_blocking, for a nominal batch of 64); tiny layers
 * keep plain loops, which beat packing there.
 *
 * NETC_FORCE_GEMM=1 in the environment sends every dense and conv2d to the
 * GEMM, so that tests reach its code paths with small shapes.
 */
#include "schedule.h"

#include "nnrt_gemm.h"

#include <stdlib.h>
#include <string.h>

enum {
    GEMM_MIN_MACS = 2048,
    NOMINAL_BATCH = 64,
    DIRECT_TAPS = 32,          /* largest C k k a direct convolution takes */
    DIRECT_MAX_FLOATS = 16384, /* largest stack array of a direct kernel (64 KiB) */
};

static bool force_gemm(void)
{
    const char *v = getenv("NETC_FORCE_GEMM");
    return v && strcmp(v, "1") == 0;
}

static int target_vec(IrTarget t)
{
    switch (t) {
    case TARGET_AVX2: return 8;
    case TARGET_NEON: return 4;
    case TARGET_GENERIC: break;
    }
    return 1;
}

/* Largest power of two <= cap that divides n, at least 1. */
static int pow2_divisor(int n, int cap)
{
    int u = 1;
    while (u * 2 <= cap && n % (u * 2) == 0)
        u *= 2;
    return u;
}

static void set_gemm(IrSched *s, int m, int n, int k)
{
    NnrtGemmBlocking b;
    nnrt_gemm_default_blocking(m, n, k, &b);
    s->gemm = true;
    s->tile[0] = b.mc;
    s->tile[1] = b.nc;
    s->tile[2] = b.kc;
}

/*
 * Whether a convolution runs direct (emit_conv_direct.c): stride 1, one
 * group, no dilation, at most DIRECT_TAPS taps (C k k), and its padded
 * sample and per-tap sums small enough for the kernel's stack arrays.
 */
static bool direct_fits(const IrGraph *g, const IrNode *n)
{
    const IrAttrs *a = &n->a;
    const IrShape *xs = &g->nodes[n->in[0]].shape;
    int k = a->kernel[0], ho = n->shape.dim[1], wo = n->shape.dim[2];
    int64_t taps = (int64_t)xs->dim[0] * k * k;
    int64_t padded = (int64_t)xs->dim[0] * (ho + k - 1) * (wo + k - 1);
    return a->stride[0] == 1 && a->stride[1] == 1 && a->groups == 1 && a->dilation[0] == 1 && a->dilation[1] == 1 &&
           taps <= DIRECT_TAPS && padded <= DIRECT_MAX_FLOATS && taps * wo <= DIRECT_MAX_FLOATS;
}

static void schedule_node(const IrGraph *g, IrNode *n)
{
    IrSched *s = &n->sched;
    s->vec = target_vec(g->target);
    s->unroll = 1;
    if (n->op == IR_DENSE) {
        const IrShape *x = &g->nodes[n->in[0]].shape;
        int d = x->dim[x->ndim - 1];
        int rows = (int)(ir_numel(x) / d);
        s->unroll = pow2_divisor(d, 8) > 1 ? pow2_divisor(d, 8) : (d >= 8 ? 4 : 1);
        if ((int64_t)d * n->a.units >= GEMM_MIN_MACS || force_gemm())
            set_gemm(s, NOMINAL_BATCH * rows, n->a.units, d);
    } else if (n->op == IR_CONV2D) {
        int cg = g->nodes[n->in[0]].shape.dim[0] / n->a.groups, k = n->a.kernel[0];
        int fg = n->a.units / n->a.groups, hw = n->shape.dim[1] * n->shape.dim[2];
        if (direct_fits(g, n) && !force_gemm())
            s->direct = true;
        else if ((int64_t)fg * cg * k * k * hw >= GEMM_MIN_MACS * 8 || force_gemm())
            set_gemm(s, fg, n->a.groups == 1 ? NOMINAL_BATCH * hw : hw, cg * k * k);  /* groups 1: one GEMM per batch */
    }
}

void sched_run(IrGraph *g, Diag *d)
{
    (void)d;
    for (int i = 0; i < g->nnodes; i++)
        schedule_node(g, &g->nodes[i]);
}
