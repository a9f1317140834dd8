/*
 * memplan.c — the memory plan: where every tensor of the forward pass lives.
 *
 * Requires: shapes (shape.c).
 * Guarantees: every node has a buffer kind (IrNode.buf).  Inputs are read
 * where the caller put them, outputs are written where the caller wants
 * them, flatten and (inference) dropout alias their input, and every other
 * tensor gets an offset in one workspace.  Offsets are counted in floats
 * per sample: the workspace of a model created for at most B samples is
 * work_floats * B floats, and tensor t starts at off(t) * B.
 *
 * Reuse: a tensor's lifetime runs from the node that computes it to its
 * last reader (through aliases).  Tensors are placed greedily, largest
 * first, at the lowest offset that does not overlap any placed tensor with
 * an overlapping lifetime.  Every offset is a multiple of 16 floats, so
 * every tensor starts 64-byte aligned.
 *
 * Parameters get fixed offsets in one parameter block, in creation order.
 */
#include "memplan.h"

#include <stdlib.h>
#include <string.h>

enum { ALIGN_FLOATS = 16 };

static int64_t round_up(int64_t v)
{
    return (v + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS;
}

/* The node whose memory n uses: itself, or what it aliases. */
static int storage_of(const IrGraph *g, int n)
{
    while (g->nodes[n].buf == BUF_ALIAS)
        n = g->nodes[n].in[0];
    return n;
}

static bool is_alias_op(IrOp op)
{
    return op == IR_FLATTEN || op == IR_DROPOUT;
}

static int output_index(const IrGraph *g, int node)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i].node == node)
            return i;
    return -1;
}

/* Buffer kinds, before any offsets. */
static void assign_kinds(IrGraph *g, const bool *live)
{
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = &g->nodes[i];
        n->off = -1;
        n->out_index = output_index(g, i);
        if (!live[i])
            n->buf = BUF_NONE;
        else if (n->op == IR_INPUT)
            n->buf = BUF_INPUT;
        else if (n->out_index >= 0)
            n->buf = BUF_OUTPUT;  /* an aliasing op that is an output copies */
        else if (is_alias_op(n->op))
            n->buf = BUF_ALIAS;
        else
            n->buf = BUF_WORK;
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
            const Interval *p = &placed[j];
            bool time = p->first <= iv->last && iv->first <= p->last;
            bool space = offs[j] < off + iv->size && off < offs[j] + p->size;
            if (time && space) {
                off = offs[j] + p->size;
                moved = true;
            }
        }
    }
    return off;
}

static void place_work(IrGraph *g, const bool *live)
{
    int n = g->nnodes, count = 0;
    Interval *iv = calloc((size_t)n + 1, sizeof *iv);
    int64_t *offs = calloc((size_t)n + 1, sizeof *offs);
    int *slot = calloc((size_t)n + 1, sizeof *slot);
    for (int i = 0; i < n; i++) {
        slot[i] = -1;
        if (g->nodes[i].buf == BUF_WORK) {
            slot[i] = count;
            iv[count++] = (Interval){i, i, i, round_up(ir_numel(&g->nodes[i].shape))};
        }
    }
    for (int i = 0; i < n; i++)  /* extend lifetimes to the last reader */
        if (live[i])
            for (int j = 0; j < g->nodes[i].nin; j++) {
                int s = storage_of(g, g->nodes[i].in[j]);
                if (slot[s] >= 0 && iv[slot[s]].last < i)
                    iv[slot[s]].last = i;
            }
    g->work_floats_noreuse = 0;
    for (int i = 0; i < count; i++)
        g->work_floats_noreuse += iv[i].size;
    qsort(iv, (size_t)count, sizeof *iv, by_size_desc);
    g->work_floats = 0;
    for (int i = 0; i < count; i++) {
        offs[i] = first_fit(iv, offs, i, &iv[i]);
        g->nodes[iv[i].node].off = offs[i];
        if (offs[i] + iv[i].size > g->work_floats)
            g->work_floats = offs[i] + iv[i].size;
    }
    free(iv);
    free(offs);
    free(slot);
}

static void place_params(IrGraph *g)
{
    g->param_off = arena_alloc(g->arena, sizeof(int64_t) * (size_t)(g->nparams + 1));
    int64_t off = 0;
    for (int i = 0; i < g->nparams; i++) {
        g->param_off[i] = off;
        off += round_up(ir_numel(&g->params[i].shape));
    }
    g->param_floats = off;
}

void mp_run(IrGraph *g, Diag *d)
{
    (void)d;
    bool *live = calloc((size_t)g->nnodes + 1, sizeof *live);
    ir_live_for_inference(g, live);
    assign_kinds(g, live);
    place_work(g, live);
    place_params(g);
    free(live);
}
