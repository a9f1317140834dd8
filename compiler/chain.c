/*
 * chain.c — the chain pass: trees of elementwise ops computed by one
 * kernel, in one loop over memory.
 *
 * Requires: the backward graph (autodiff.c), so that forward readers and
 * the tensors backward reads are known, and fusion (fuse.c), whose
 * producer epilogues it leaves alone except on add and mul (below).
 * Guarantees: the forward graph's elementwise nodes (relu, leaky_relu,
 * sigmoid, tanh, gelu, silu, add, mul, and dropout in a net that does not
 * train) are grouped into maximal trees.  A node joins the tree of its
 * consumer when
 *   - it is elementwise and not fused into a producer's epilogue,
 *   - exactly one forward node reads it (that consumer, itself in a tree),
 *   - it is not an output,
 *   - and the tree stays within IR_MAXCHAIN nodes and IR_CHAINARGS tensors.
 * A tree of two or more nodes is a chain: its root (the node the rest
 * feeds, never a dropout) gets `chain_len`, every member `chain` = the
 * root.  The root's kernel (emit_chain.c) computes the whole tree block by
 * block; members compute nothing on their own.  memplan gives a member no
 * storage (BUF_CHAIN), except in the training plan when a backward kernel
 * reads it: the root's training kernel then stores it too.  Tensors the
 * members read stay alive until the root runs.
 *
 * An add or mul whose activation fuse.c put in its epilogue is one more
 * edge of a tree: the pair is taken apart, grouped as two nodes (always
 * together: the pair counts as one unit against the limits), and put back
 * together when the chain would be just that pair, which the epilogue
 * already computes in one loop.
 *
 * --no-fuse skips this pass too.
 */
#include "chain.h"

#include <stdlib.h>

/* Per-node facts and per-root totals while trees grow, from the last forward node back. */
typedef struct Grouping {
    IrGraph *g;
    int *consumer;   /* the one forward reader, or -1 */
    bool *bwd_read;  /* read by a backward node: stored in the training plan */
    int *pair;       /* an activation taken out of an add/mul epilogue: that add/mul, else 0 */
    int *group;      /* root of the node's tree, or -1 */
    int *size;       /* per root: nodes */
    int *ext;        /* per root: input edges from outside the tree (a bound on its inputs) */
    int *stores;     /* per root: members stored for backward */
} Grouping;

bool chain_op_ok(const IrGraph *g, IrOp op)
{
    switch (op) {
    case IR_RELU: case IR_LEAKY_RELU: case IR_SIGMOID: case IR_TANH: case IR_GELU: case IR_SILU:
    case IR_ADD: case IR_MUL: return true;
    case IR_DROPOUT: return g->loss < 0;  /* identity only where there is no training step */
    default: return false;
    }
}

/* Readers: the one forward consumer of each node, and which nodes backward reads. */
static void find_readers(Grouping *s)
{
    IrGraph *g = s->g;
    int *nread = calloc((size_t)g->nnodes + 1, sizeof *nread);
    for (int i = 0; i < g->nnodes; i++)
        s->consumer[i] = -1;
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nin; j++) {
            int t = g->nodes[i].in[j];
            if (i >= g->nforward) {
                s->bwd_read[t] = true;
                continue;
            }
            nread[t]++;
            s->consumer[t] = nread[t] == 1 ? i : -1;
        }
    free(nread);
}

/* Takes the activations out of add/mul epilogues; pair[] remembers them. */
static void split_pairs(Grouping *s)
{
    IrGraph *g = s->g;
    for (int i = 0; i < g->nforward; i++) {
        IrNode *n = &g->nodes[i];
        if ((n->op != IR_ADD && n->op != IR_MUL) || n->a.fused || !n->a.epilogue)
            continue;
        s->pair[n->a.epilogue] = i;
        g->nodes[n->a.epilogue].a.fused = false;
        n->a.epilogue = 0;
    }
}

/* Nodes and outside inputs node i brings into a tree: with its add/mul when it is a pair's activation. */
static int unit_size(const Grouping *s, int i)
{
    return s->pair[i] ? 2 : 1;
}

static int unit_inputs(const Grouping *s, int i)
{
    return s->pair[i] ? s->g->nodes[s->pair[i]].nin : s->g->nodes[i].nin;
}

/* Whether node i can join the tree rooted at r within the limits (root output counted). */
static bool fits(const Grouping *s, int i, int r)
{
    int tensors = s->ext[r] + unit_inputs(s, i) - 1 + s->stores[r] + s->bwd_read[i] + 1;
    return s->size[r] + unit_size(s, i) <= IR_MAXCHAIN && tensors <= IR_CHAINARGS;
}

/* Puts node i in its consumer's tree, in a tree of its own, or in none. */
static void assign(Grouping *s, int i)
{
    IrGraph *g = s->g;
    const IrNode *n = &g->nodes[i];
    int c = s->consumer[i], r = c >= 0 ? s->group[c] : -1;
    s->group[i] = -1;
    if (!chain_op_ok(g, n->op) || n->a.fused || n->a.epilogue)
        return;
    if (r >= 0 && !ir_is_output(g, i) && (s->pair[c] == i || fits(s, i, r))) {
        s->group[i] = r;
        if (s->pair[c] == i)
            return;  /* counted with its activation */
        s->size[r] += unit_size(s, i);
        s->ext[r] += unit_inputs(s, i) - 1;
        s->stores[r] += s->bwd_read[i];
        return;
    }
    if (n->op == IR_DROPOUT)
        return;  /* never a root: it would be an alias of its own tree */
    s->group[i] = i;
    s->size[i] = unit_size(s, i);
    s->ext[i] = unit_inputs(s, i);
    s->stores[i] = 0;
}

/* Marks the chains; a tree that is only an add/mul and its activation goes back to the epilogue. */
static void mark(Grouping *s)
{
    IrGraph *g = s->g;
    for (int i = 0; i < g->nforward; i++) {
        int r = s->group[i];
        if (r < 0 || s->size[r] < 2)
            continue;
        if (s->size[r] == 2 && s->pair[r]) {
            g->nodes[s->pair[r]].a.epilogue = r;
            g->nodes[r].a.fused = true;
            continue;
        }
        if (r == i)
            g->nodes[r].a.chain_len = s->size[r];
        else
            g->nodes[i].a.chain = r;
    }
}

void chain_run(IrGraph *g, Diag *d)
{
    (void)d;
    if (g->no_fuse)
        return;
    size_t n = (size_t)g->nnodes + 1;
    Grouping s = {g, calloc(n, sizeof(int)), calloc(n, sizeof(bool)), calloc(n, sizeof(int)), calloc(n, sizeof(int)),
                  calloc(n, sizeof(int)), calloc(n, sizeof(int)), calloc(n, sizeof(int))};
    find_readers(&s);
    split_pairs(&s);
    for (int i = g->nforward - 1; i >= 0; i--)
        assign(&s, i);
    mark(&s);
    free(s.consumer);
    free(s.bwd_read);
    free(s.pair);
    free(s.group);
    free(s.size);
    free(s.ext);
    free(s.stores);
}
