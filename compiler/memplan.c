/*
 * memplan.c — the memory plans: where every tensor lives, for inference
 * and for the training step.
 *
 * Requires: shapes (shape.c) and the backward graph (autodiff.c).
 * Guarantees: every node has a place in each plan (IrNode.place).
 *
 * Inference plan: the nodes the outputs need.  Inputs are read where the
 * caller put them, outputs written where the caller wants them, flatten
 * and dropout alias their input, everything else gets workspace.
 * Training plan: the forward nodes the loss needs, then the backward
 * nodes.  Inputs and labels are the caller's; every other tensor is in the
 * workspace (outputs are copied out on request); flatten, and the
 * backward of flatten and add, alias; parameter gradients and loss values
 * compute no tensor (BUF_EFFECT).  What backward reads stays alive because
 * backward nodes list it as inputs.
 *
 * Offsets are in floats per sample: a model created for at most B samples
 * has a workspace of work_floats * B floats, and tensor t starts at
 * off(t) * B.  A tensor lives from the node computing it to its last
 * reader (through aliases); tensors are placed greedily, largest first, at
 * the lowest offset that overlaps no placed tensor alive at the same
 * time.  Offsets are multiples of 16 floats: every tensor is 64-byte
 * aligned.
 *
 * The im2col buffer holds the im2col columns and the GEMM output of the
 * largest GEMM convolution, for the sched.group samples one of its GEMMs
 * takes (one for per-sample routes), whatever the batch: col_floats for
 * the forward, whose filter-vector convolutions (IrSched.filters) need
 * none, and train_col_floats for train_step, whose input gradients do
 * (but those computed over pixels, IrSched.dx_pixels).
 *
 * Parameters get fixed offsets in one block, trainable ones first so that
 * the optimizer updates one contiguous range; batchnorm's batch
 * statistics get fixed offsets in the stats block.
 *
 * A chain member (chain.c) is computed inside its root's kernel: it has
 * no storage (BUF_CHAIN), except in the training plan when a backward
 * node reads it, where it gets workspace that the root's training kernel
 * fills.  Since that kernel runs at the root, a member's reads count as the
 * root's: what the tree reads lives until the root has run.
 *
 * A batchnorm folded into its producer (fold.c) aliases the producer in
 * the inference plan only; the producer's folded weight and bias get
 * fixed offsets in the fold block (fold_floats, per model, not per
 * sample), which only inference reads.
 */
#include "memplan.h"

#include <stdlib.h>
#include <string.h>

enum { ALIGN_FLOATS = 16 };

static int64_t round_up(int64_t v)
{
    return (v + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
}

/* The node whose memory n uses in plan p: itself, or what it aliases. */
static int storage_of(const IrGraph *g, int p, int n)
{
    while (g->nodes[n].place[p].buf == BUF_ALIAS)
        n = ir_alias_of(g, n);
    return n;
}

static int output_index(const IrGraph *g, int node)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i].node == node)
            return i;
    return -1;
}

static IrBuf infer_kind(const IrNode *n)
{
    if (n->op == IR_INPUT)
        return BUF_INPUT;
    if (n->a.chain)
        return BUF_CHAIN;  /* computed inside its chain root's kernel */
    if (n->a.fused || n->a.folded)
        return BUF_ALIAS;  /* computed in its producer's epilogue, or by its folded kernel */
    if (n->out_index >= 0)
        return BUF_OUTPUT;  /* an aliasing op that is an output copies */
    if (n->op == IR_FLATTEN || n->op == IR_DROPOUT)
        return BUF_ALIAS;
    return BUF_WORK;
}

/* train_kind: bwd_read says whether a backward node reads the tensor. */
static IrBuf train_kind(const IrGraph *g, const IrNode *n, bool bwd_read)
{
    if (n->op == IR_INPUT || n->op == IR_LABEL)
        return BUF_INPUT;
    if (n->a.chain)
        return bwd_read ? BUF_WORK : BUF_CHAIN;  /* stored by the chain's training kernel if backward reads it */
    if ((ir_ops[n->op].flags & IRF_LOSS) || n->op == IR_LOSS_SUM)
        return BUF_EFFECT;
    if (n->op == IR_FLATTEN || n->a.fused)
        return BUF_ALIAS;
    if (n->op == IR_BWD) {
        IrOp f = g->nodes[n->a.of].op;
        if (n->a.wrt < 0)
            return BUF_EFFECT;
        if (f == IR_FLATTEN || f == IR_ADD)
            return BUF_ALIAS;
    }
    return BUF_WORK;
}

/* Nodes each plan computes: inference needs the outputs' ancestors, training the loss's and backward. */
static void live_nodes(const IrGraph *g, int p, bool *live)
{
    memset(live, 0, sizeof(bool) * (size_t)g->nnodes);
    if (p == PLAN_INFER) {
        ir_live_for_inference(g, live);
        return;
    }
    if (g->loss < 0)
        return;
    live[g->loss] = true;
    for (int i = g->nnodes - 1; i >= 0; i--) {
        if (i >= g->nforward)
            live[i] = true;
        if (live[i])
            for (int j = 0; j < g->nodes[i].nin; j++)
                live[g->nodes[i].in[j]] = true;
    }
}

typedef struct Interval {
    int node;        /* owner of the storage */
    int first, last; /* node indices where it is live */
    int64_t size;    /* floats per sample, rounded */
} Interval;

static int by_size_desc(const void *a, const void *b)
{
    const Interval *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->node - y->node;  /* deterministic */
}

/* Lowest offset where iv fits beside the already placed intervals. */
static int64_t first_fit(const Interval *placed, const int64_t *offs, int nplaced, const Interval *iv)
{
    int64_t off = 0;
    for (bool moved = true; moved;) {
        moved = false;
        for (int j = 0; j < nplaced; j++) {
            const Interval *q = &placed[j];
            bool time = q->first <= iv->last && iv->first <= q->last;
            bool space = offs[j] < off + iv->size && off < offs[j] + q->size;
            if (time && space) {
                off = offs[j] + q->size;
                moved = true;
            }
        }
    }
    return off;
}

static void place_work(IrGraph *g, int p, const bool *live)
{
    int n = g->nnodes, count = 0;
    Interval *iv = calloc((size_t)n + 1, sizeof *iv);
    int64_t *offs = calloc((size_t)n + 1, sizeof *offs);
    int *slot = calloc((size_t)n + 1, sizeof *slot);
    for (int i = 0; i < n; i++) {
        slot[i] = -1;
        if (g->nodes[i].place[p].buf == BUF_WORK) {
            slot[i] = count;
            iv[count++] = (Interval){i, i, i, round_up(ir_numel(&g->nodes[i].shape))};
        }
    }
    for (int i = 0; i < n; i++) {  /* extend lifetimes to the last reader (a chain member reads at its root) */
        int at = g->nodes[i].a.chain ? g->nodes[i].a.chain : i;
        if (live[i])
            for (int j = 0; j < g->nodes[i].nin; j++) {
                int s = storage_of(g, p, g->nodes[i].in[j]);
                if (slot[s] >= 0 && iv[slot[s]].last < at)
                    iv[slot[s]].last = at;
            }
    }
    g->work_floats_noreuse[p] = 0;
    for (int i = 0; i < count; i++)
        g->work_floats_noreuse[p] += iv[i].size;
    qsort(iv, (size_t)count, sizeof *iv, by_size_desc);
    g->work_floats[p] = 0;
    for (int i = 0; i < count; i++) {
        offs[i] = first_fit(iv, offs, i, &iv[i]);
        g->nodes[iv[i].node].place[p].off = offs[i];
        if (offs[i] + iv[i].size > g->work_floats[p])
            g->work_floats[p] = offs[i] + iv[i].size;
    }
    free(iv);
    free(offs);
    free(slot);
}

static void plan(IrGraph *g, int p)
{
    bool *live = calloc((size_t)g->nnodes + 1, sizeof *live);
    bool *bwd_read = calloc((size_t)g->nnodes + 1, sizeof *bwd_read);
    live_nodes(g, p, live);
    for (int i = g->nforward; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nin; j++)
            bwd_read[g->nodes[i].in[j]] |= live[i];
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = &g->nodes[i];
        n->place[p].off = -1;
        n->place[p].buf = !live[i] ? BUF_NONE : p == PLAN_INFER ? infer_kind(n) : train_kind(g, n, bwd_read[i]);
    }
    place_work(g, p, live);
    free(bwd_read);
    free(live);
}

static void place_params(IrGraph *g)
{
    g->param_off = arena_alloc(g->arena, sizeof(int64_t) * (size_t)(g->nparams + 1));
    int64_t off = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < g->nparams; i++) {
            if (g->params[i].trainable != (pass == 0))
                continue;
            g->param_off[i] = off;
            off += round_up(ir_numel(&g->params[i].shape));
        }
        if (pass == 0)
            g->trainable_floats = off;
    }
    g->param_floats = off;
}

static void place_stats(IrGraph *g)
{
    g->col_floats = g->train_col_floats = 0;
    for (int i = 0; i < g->nforward; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op == IR_CONV2D && n->sched.gemm) {
            int64_t c = g->nodes[n->in[0]].shape.dim[0], k = n->a.kernel[0], hw = n->shape.dim[1] * n->shape.dim[2];
            /* cols and the GEMM's output, for the sched.group samples one GEMM takes (1 per sample) */
            int64_t col = round_up((int64_t)(n->sched.group > 1 ? n->sched.group : 1) * (c * k * k + n->shape.dim[0]) * hw);
            if (col > g->col_floats && !n->sched.filters)
                g->col_floats = col;
            if (col > g->train_col_floats && !n->sched.dx_pixels)
                g->train_col_floats = col;
        }
    }
    g->stat_floats = 0;
    for (int i = 0; i < g->nforward; i++)
        if (g->nodes[i].op == IR_BATCHNORM) {
            g->nodes[i].stat_off = g->stat_floats;
            g->stat_floats += round_up(2 * g->nodes[i].shape.dim[0]);
        }
}

/* Folded weight (as the producer's weight is laid out) then bias, per fold. */
static void place_folds(IrGraph *g)
{
    g->fold_floats = 0;
    for (int i = 0; i < g->nforward; i++) {
        IrNode *n = &g->nodes[i];
        n->fold_off[0] = n->fold_off[1] = -1;
        if (!n->a.fold)
            continue;
        n->fold_off[0] = g->fold_floats;
        n->fold_off[1] = n->fold_off[0] + round_up(ir_numel(&g->params[n->param[0]].shape));
        g->fold_floats = n->fold_off[1] + round_up(n->a.units);
    }
}

void mp_run(IrGraph *g, Diag *d)
{
    (void)d;
    for (int i = 0; i < g->nnodes; i++)
        g->nodes[i].out_index = output_index(g, i);
    plan(g, PLAN_INFER);
    plan(g, PLAN_TRAIN);
    place_params(g);
    place_stats(g);
    place_folds(g);
}
