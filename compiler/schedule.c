/*
 * schedule.c — choosing each kernel's loop-nest shape.
 *
 * Requires: shapes (shape.c) and the graph's target.
 * Guarantees: every node has an IrSched: the vector width of the target,
 * the number of independent accumulators for reductions (so the emitted
 * inner loops have no loop-carried dependence on one register), and
 * tiles for GEMM-shaped loops.  The emitter builds loop nests from these
 * numbers and never hard-codes them; later versions choose them per shape
 * from cache sizes and measurements.
 */
#include "schedule.h"

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

static void schedule_node(const IrGraph *g, IrNode *n)
{
    IrSched *s = &n->sched;
    s->vec = target_vec(g->target);
    s->unroll = 1;
    if (n->op == IR_DENSE && n->nin) {
        const IrShape *x = &g->nodes[n->in[0]].shape;
        int d = x->dim[x->ndim - 1];
        s->unroll = pow2_divisor(d, 8) > 1 ? pow2_divisor(d, 8) : (d >= 8 ? 4 : 1);
        s->tile[1] = n->a.units >= 4 ? 4 : 1;  /* output units computed together */
    }
}

void sched_run(IrGraph *g, Diag *d)
{
    (void)d;
    for (int i = 0; i < g->nnodes; i++)
        schedule_node(g, &g->nodes[i]);
}
