/*
 * fuse.c — the fusion pass: activations into the kernels that produce
 * their input.
 *
 * Requires: the backward graph (autodiff.c), so that every reader of a
 * tensor is known.
 * Guarantees: an activation whose input is computed by a dense, conv2d,
 * batchnorm, add or mul node that nobody else reads (and that is not an
 * output) is marked `fused`, and its producer's `epilogue` names it: the
 * producer's kernel applies the activation before storing, and the
 * activation node computes nothing (memplan makes it an alias of its
 * producer).  The pre-activation tensor then never exists.
 *
 * In a net that trains, only relu, sigmoid and tanh are fused: their
 * derivatives read the activation's output, which the fused kernel still
 * stores, while leaky_relu, gelu and silu need the pre-activation.
 *
 * A residual add whose one input is a dense, conv2d or batchnorm that
 * nobody else reads (and that is not an output), computed after the
 * add's other input (which the kernel reads), goes into that node's
 * epilogue the same way: its `epilogue` names the add, marked `fused`
 * (memplan aliases it to the producer, ir_alias_of), and an activation
 * after the add joins it as the add's own epilogue.  The kernel stores
 * act(x W^T + b + r).  Backward never reads the producer's own output
 * (dense and conv2d read x, batchnorm x and its statistics), so this holds
 * in training too; for inference, fold.c carries a batchnorm's residual
 * epilogue into the conv2d it folds into.
 *
 * Backward, the same activations' derivatives go into the kernel that
 * computes their output gradient: when the gradient of a relu, sigmoid or
 * tanh output is the input gradient of one dense, conv2d or pool (its
 * only reader), that BWD node's `epilogue` names the activation's BWD
 * node, which is marked `fused`.  The dense/conv/pool kernel multiplies
 * by the derivative, read from the activation's output, as it stores dX
 * (in the GEMM's epilogue, or per sample or channel while it is still in
 * cache), and the activation's BWD computes nothing (memplan aliases it
 * to its input).
 *
 * The softmax of cross-entropy is fused into the loss kernels and the
 * optimizer update is one pass by construction (emit_train.c), from which
 * the emitter moves dense weights into their gradient GEMM's epilogue
 * (emit_update_fused, which needs the schedule and the shard count).
 * --no-fuse skips this pass and that, for comparison.
 */
#include "fuse.h"

#include <stdlib.h>

static bool is_producer(IrOp op)
{
    return op == IR_DENSE || op == IR_CONV2D || op == IR_BATCHNORM || op == IR_ADD || op == IR_MUL;
}

static bool is_fusable_act(const IrGraph *g, IrOp op)
{
    switch (op) {
    case IR_RELU:
    case IR_SIGMOID:
    case IR_TANH: return true;
    case IR_LEAKY_RELU:
    case IR_GELU:
    case IR_SILU: return g->loss < 0;  /* inference only: backward needs the input */
    default: return false;
    }
}

/*
 * Whether BWD node b (the gradient of an activation's input) can be
 * computed by the kernel producing its output gradient b->in[0].
 */
static bool grad_fusable(const IrGraph *g, const IrNode *b, const int *readers)
{
    const IrNode *act = &g->nodes[b->a.of];
    if (b->op != IR_BWD || b->a.wrt != 0 || (act->op != IR_RELU && act->op != IR_SIGMOID && act->op != IR_TANH))
        return false;
    int p = b->in[0];
    const IrNode *prod = &g->nodes[p];
    if (prod->op != IR_BWD || prod->a.wrt != 0 || prod->a.epilogue || readers[p] != 1)
        return false;
    IrOp of = g->nodes[prod->a.of].op;
    return of == IR_DENSE || of == IR_CONV2D || of == IR_MAXPOOL2D || of == IR_AVGPOOL2D;
}

void fuse_run(IrGraph *g, Diag *d)
{
    (void)d;
    if (g->no_fuse)
        return;
    int *readers = calloc((size_t)g->nnodes + 1, sizeof *readers);
    for (int i = 0; i < g->nnodes; i++)
        for (int j = 0; j < g->nodes[i].nin; j++)
            readers[g->nodes[i].in[j]]++;
    for (int i = 0; i < g->nforward; i++) {  /* residual adds first: an activation after them joins them */
        IrNode *add = &g->nodes[i];
        if (add->op != IR_ADD || add->in[0] == add->in[1] || ir_is_output(g, i))
            continue;
        for (int k = 0; k < 2; k++) {
            IrNode *prod = &g->nodes[add->in[k]];
            bool residual_producer = prod->op == IR_DENSE || prod->op == IR_CONV2D || prod->op == IR_BATCHNORM;
            bool ready = add->in[1 - k] < add->in[k];  /* the residual exists when the producer's kernel runs */
            if (residual_producer && ready && !prod->a.epilogue && readers[add->in[k]] == 1 && !ir_is_output(g, add->in[k])) {
                prod->a.epilogue = i;
                add->a.fused = true;
                break;
            }
        }
    }
    for (int i = 0; i < g->nforward; i++) {
        IrNode *act = &g->nodes[i];
        if (!is_fusable_act(g, act->op))
            continue;
        int p = act->in[0];
        IrNode *prod = &g->nodes[p];
        if (!is_producer(prod->op) || prod->a.epilogue || readers[p] != 1 || ir_is_output(g, p) || ir_is_output(g, i))
            continue;
        prod->a.epilogue = i;
        act->a.fused = true;
    }
    for (int i = g->nforward; i < g->nnodes; i++) {
        IrNode *b = &g->nodes[i];
        if (!grad_fusable(g, b, readers))
            continue;
        g->nodes[b->in[0]].a.epilogue = i;
        b->a.fused = true;
    }
    free(readers);
}
