/*
 * fold.c — the fold pass: a batchnorm folded into the conv2d or dense
 * that produces its input, for inference.
 *
 * Requires: the backward graph (autodiff.c), so the forward pass is known
 * (nodes below nforward), and fusion (fuse.c), whose epilogue on the
 * batchnorm the folded kernel takes over.
 * Guarantees: a batchnorm whose input is computed by a conv2d, or by a
 * dense with a one-dimensional output (so the batchnorm's channels are
 * the dense's units), is marked `folded` and its producer's `fold` names
 * it, when
 *   - no other forward node reads the producer's output, and neither the
 *     producer nor the batchnorm is an output (the pre-batchnorm tensor
 *     then never exists in inference);
 *   - both are computed by inference (ir_live_for_inference);
 *   - the producer has no epilogue of its own (it cannot: its one reader
 *     is the batchnorm, not an activation).
 *
 * What folding means, only in the inference plan (forward, evaluate):
 * with s[c] = gamma[c] / sqrt(running_var[c] + eps), the producer runs
 * with W'[c, ...] = W[c, ...] s[c], b'[c] = (b[c] or 0 - running_mean[c])
 * s[c] + beta[c] and the batchnorm's epilogue (its fused activation);
 * the batchnorm computes nothing (memplan makes it an alias of its
 * producer).  W' and b' are recomputed at run time from the parameters
 * (emit_api.c, `<net>_fold`), since weights are loaded and trained.
 *
 * The training plan is untouched: train_step's forward computes batchnorm
 * on batch statistics, as PyTorch's train() mode does, and its backward
 * reads the producer's output.  --no-fuse skips this pass too.
 */
#include "fold.h"

#include <stdlib.h>

/* Whether producer p's output channels are the batchnorm's channels. */
static bool channels_match(const IrNode *p)
{
    if (p->op == IR_CONV2D)
        return true;
    return p->op == IR_DENSE && p->shape.ndim == 1;
}

/* Whether batchnorm bn can fold into its input's kernel; readers counts forward readers. */
static bool can_fold(const IrGraph *g, int bn, const int *readers, const bool *live)
{
    int p = g->nodes[bn].in[0];
    const IrNode *prod = &g->nodes[p];
    return channels_match(prod) && readers[p] == 1 && !prod->a.epilogue && !prod->a.fold && live[p] && live[bn] &&
           !ir_is_output(g, p) && !ir_is_output(g, bn);
}

void fold_run(IrGraph *g, Diag *d)
{
    (void)d;
    if (g->no_fuse)
        return;
    int *readers = calloc((size_t)g->nnodes + 1, sizeof *readers);
    bool *live = calloc((size_t)g->nnodes + 1, sizeof *live);
    ir_live_for_inference(g, live);
    for (int i = 0; i < g->nforward; i++)  /* backward readers use the training plan, which keeps the tensor */
        for (int j = 0; j < g->nodes[i].nin; j++)
            readers[g->nodes[i].in[j]]++;
    for (int i = 0; i < g->nforward; i++) {
        if (g->nodes[i].op != IR_BATCHNORM || !can_fold(g, i, readers, live))
            continue;
        g->nodes[g->nodes[i].in[0]].a.fold = i;
        g->nodes[i].a.folded = true;
    }
    free(readers);
    free(live);
}
