/*
 * autodiff.c — the autodiff pass: appends the backward graph.
 *
 * Requires: shapes (shape.c).  Nets without a loss are left alone.
 * Guarantees: nodes [0, nforward) are the forward pass, unchanged; after
 * them come BWD nodes (the gradient of one forward node with respect to
 * one input, or to its parameters) and ADD nodes summing the gradient
 * contributions of tensors read more than once, in an order where every
 * gradient is complete before it is used.  Gradients nothing needs are not
 * made: a tensor gets one only if it depends on a trainable parameter
 * (so never the net's inputs), and only nodes the loss depends on are
 * differentiated.
 *
 * Each BWD node lists its inputs explicitly (output gradient first, then
 * the forward tensors its derivative reads: x for dense weights, y for
 * relu, ...), so liveness and memory planning need no special cases.
 * Loss terms are differentiated with the softmax fused into
 * cross-entropy: d logits = w (softmax(logits) - onehot) / N.
 */
#include "autodiff.h"

#include <string.h>

typedef struct Contrib {
    int *ids;       /* gradient tensors to sum */
    int n, cap;
} Contrib;

typedef struct Ad {
    IrGraph *g;       /* graph being extended */
    Contrib *grads;   /* per forward tensor: its gradient contributions */
} Ad;

static bool has_trainable(const IrGraph *g, const IrNode *n)
{
    for (int i = 0; i < n->nparam; i++)
        if (g->params[n->param[i]].trainable)
            return true;
    return false;
}

static bool is_loss(IrOp op)
{
    return (ir_ops[op].flags & IRF_LOSS) != 0;
}

int ad_saved(const IrGraph *g, int of, int wrt, int *saved)
{
    const IrNode *n = &g->nodes[of];
    if (is_loss(n->op)) {
        saved[0] = n->in[0];
        saved[1] = n->in[1];
        return 2;
    }
    if (wrt < 0)  /* parameters: the layer's input */
        return saved[0] = n->in[0], 1;
    switch (n->op) {
    case IR_MAXPOOL2D:
    case IR_LEAKY_RELU:
    case IR_GELU:
    case IR_SILU:
    case IR_BATCHNORM:
    case IR_LAYERNORM: return saved[0] = n->in[0], 1;
    case IR_RELU:
    case IR_SIGMOID:
    case IR_TANH:
    case IR_SOFTMAX:
    case IR_LOG_SOFTMAX: return saved[0] = of, 1;
    case IR_MUL: return saved[0] = n->in[1 - wrt], 1;
    default: return 0;
    }
}

static int add_bwd(Ad *ad, int of, int wrt, int dy)
{
    IrGraph *g = ad->g;
    int saved[IR_MAXIN];
    int ns = ad_saved(g, of, wrt, saved);
    int id = ir_add_node(g, IR_BWD, g->nodes[of].loc);
    IrNode *n = &g->nodes[id], *f = &g->nodes[of];
    n->a.of = of;
    n->a.wrt = wrt;
    n->inst = f->inst;
    n->name = wrt < 0 ? arena_printf(g->arena, "%s.grad_params", f->name)
                      : arena_printf(g->arena, "%s.grad_in%d", f->name, wrt);
    if (dy >= 0)
        n->in[n->nin++] = dy;
    for (int i = 0; i < ns; i++)
        n->in[n->nin++] = saved[i];
    if (wrt >= 0)
        n->shape = g->nodes[f->in[wrt]].shape;
    else
        n->shape.ndim = 0;
    return id;
}

static void contribute(Ad *ad, int tensor, int grad)
{
    Contrib *c = &ad->grads[tensor];
    ARENA_PUSH(ad->g->arena, c->ids, c->n, c->cap);
    c->ids[c->n++] = grad;
}

/* The complete gradient of a tensor: its one contribution, or their sum. */
static int gradient_of(Ad *ad, int tensor)
{
    Contrib *c = &ad->grads[tensor];
    int sum = c->ids[0];
    for (int i = 1; i < c->n; i++) {
        int id = ir_add_node(ad->g, IR_ADD, ad->g->nodes[tensor].loc);
        IrNode *n = &ad->g->nodes[id];
        n->name = arena_printf(ad->g->arena, "%s.grad_sum%d", ad->g->nodes[tensor].name, i);
        n->nin = 2;
        n->in[0] = sum;
        n->in[1] = c->ids[i];
        n->shape = ad->g->nodes[tensor].shape;
        sum = id;
    }
    return sum;
}

static void mark_needs_grad(IrGraph *g)
{
    int dropouts = 0;
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = &g->nodes[i];
        n->needs_grad = has_trainable(g, n);
        for (int j = 0; j < n->nin; j++)
            n->needs_grad |= g->nodes[n->in[j]].needs_grad;
        if (n->op == IR_DROPOUT)
            n->a.dropout_id = ++dropouts;
    }
}

/*
 * Backward of one forward node whose gradient is complete: the parameter
 * gradients first (a batchnorm's input gradient reuses their sums), except
 * for dense, whose input gradient comes first: it is the last reader of the
 * weight, so the weight gradient's GEMM may then update the weight as it
 * stores the gradient (emit_update_fused).
 */
static void differentiate(Ad *ad, int i)
{
    IrGraph *g = ad->g;
    int dy = gradient_of(ad, i);
    bool params_last = g->nodes[i].op == IR_DENSE;
    if (has_trainable(g, &g->nodes[i]) && !params_last)
        add_bwd(ad, i, -1, dy);
    for (int k = 0; k < g->nodes[i].nin; k++)
        if (g->nodes[g->nodes[i].in[k]].needs_grad)
            contribute(ad, g->nodes[i].in[k], add_bwd(ad, i, k, dy));
    if (has_trainable(g, &g->nodes[i]) && params_last)
        add_bwd(ad, i, -1, dy);
}

void ad_run(IrGraph *g, Diag *d)
{
    (void)d;
    g->nforward = g->nnodes;
    mark_needs_grad(g);
    if (g->loss < 0)
        return;
    Ad ad = {g, arena_alloc(g->arena, sizeof(Contrib) * (size_t)g->nnodes)};
    const IrNode *sum = &g->nodes[g->loss];
    int nterms = sum->nin, terms[IR_MAXIN];
    memcpy(terms, sum->in, sizeof(int) * (size_t)nterms);
    for (int t = 0; t < nterms; t++) {
        int pred = g->nodes[terms[t]].in[0];
        if (g->nodes[pred].needs_grad)
            contribute(&ad, pred, add_bwd(&ad, terms[t], 0, -1));
    }
    for (int i = g->nforward - 1; i >= 0; i--)
        if (ad.grads[i].n > 0 && !is_loss(g->nodes[i].op))
            differentiate(&ad, i);
}
