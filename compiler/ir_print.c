/*
 * ir_print.c — the IR as text, for `netc dump-ir` and golden tests.
 *
 *   %3 = conv2d "conv_bn_relu_1.conv2d_1" (%0) : [16, 28, 28]  filters=16 kernel=3x3 ...
 *        param conv_bn_relu_1.conv2d_1.weight [16, 1, 3, 3]
 */
#include "ir.h"

#include <string.h>

static void print_attrs(FILE *out, const IrNode *n)
{
    const IrAttrs *a = &n->a;
    switch (n->op) {
    case IR_DENSE: fprintf(out, "  units=%d bias=%s", a->units, a->bias ? "true" : "false"); break;
    case IR_CONV2D:
        fprintf(out, "  filters=%d kernel=%dx%d stride=%dx%d pad=%d,%d,%d,%d%s dilation=%dx%d groups=%d bias=%s",
                a->units, a->kernel[0], a->kernel[1], a->stride[0], a->stride[1], a->pad[0], a->pad[1], a->pad[2],
                a->pad[3], a->pad_same ? "(same)" : "", a->dilation[0], a->dilation[1], a->groups,
                a->bias ? "true" : "false");
        break;
    case IR_MAXPOOL2D:
    case IR_AVGPOOL2D:
        fprintf(out, "  kernel=%dx%d stride=%dx%d pad=%d", a->kernel[0], a->kernel[1], a->stride[0], a->stride[1],
                a->pad[0]);
        break;
    case IR_LEAKY_RELU: fprintf(out, "  alpha=%g", a->alpha); break;
    case IR_BWD:
        if (a->wrt < 0)
            fprintf(out, "  of=%%%d wrt=params", a->of);
        else
            fprintf(out, "  of=%%%d wrt=in%d", a->of, a->wrt);
        break;
    case IR_BATCHNORM: fprintf(out, "  momentum=%g eps=%g", a->momentum, a->eps); break;
    case IR_LAYERNORM: fprintf(out, "  eps=%g", a->eps); break;
    case IR_DROPOUT: fprintf(out, "  p=%g", a->p); break;
    case IR_CONCAT: fprintf(out, "  axis=%d", a->axis); break;
    case IR_CROSS_ENTROPY:
    case IR_MSE:
    case IR_L1:
    case IR_BCE_WITH_LOGITS: fprintf(out, "  weight=%g", a->weight); break;
    default: break;
    }
}

static void print_shape(FILE *out, const IrShape *s)
{
    if (s->ndim < 0) {
        fputs("[?]", out);
        return;
    }
    fputc('[', out);
    for (int i = 0; i < s->ndim; i++)
        fprintf(out, "%s%d", i ? ", " : "", s->dim[i]);
    fputc(']', out);
}

static void print_node(FILE *out, const IrGraph *g, int id)
{
    const IrNode *n = &g->nodes[id];
    int line, col;
    diag_line_col(g->src, n->loc.off, &line, &col);
    if (n->op == IR_INPUT || n->op == IR_LABEL) {
        fprintf(out, "  %%%d = %s %s : ", id, ir_ops[n->op].name, n->name);
        if (n->is_class)
            fprintf(out, "class[%d]", n->a.nclass);
        else
            print_shape(out, &n->shape);
        fprintf(out, "    # %d:%d\n", line, col);
        return;
    }
    fprintf(out, "  %%%d = %s \"%s\" (", id, ir_ops[n->op].name, n->name);
    for (int i = 0; i < n->nin; i++)
        fprintf(out, "%s%%%d", i ? ", " : "", n->in[i]);
    fputs(") : ", out);
    print_shape(out, &n->shape);
    print_attrs(out, n);
    if (n->a.epilogue)
        fprintf(out, "  epilogue=%%%d", n->a.epilogue);
    if (n->a.fused)
        fprintf(out, "  fused");
    if (n->a.fold)
        fprintf(out, "  fold=%%%d", n->a.fold);
    if (n->a.folded)
        fprintf(out, "  folded");
    if (n->a.chain_len)
        fprintf(out, "  chain-root(%d ops)", n->a.chain_len);
    if (n->a.chain)
        fprintf(out, "  chained=%%%d", n->a.chain);
    if (n->sched.direct)
        fprintf(out, "  sched(direct vec=%d)", n->sched.vec);
    else if (n->sched.gemm)
        fprintf(out, "  sched(gemm mc=%d nc=%d kc=%d%s%s)", n->sched.tile[0], n->sched.tile[1], n->sched.tile[2],
                n->op == IR_CONV2D && n->a.groups == 1 ? arena_printf(g->arena, " group=%d", n->sched.group) : "",
                n->sched.filters
                    ? arena_printf(g->arena, " filters vec=%d%s", n->sched.vec, n->sched.dx_pixels ? " dx=pixels" : "")
                    : "");
    else if (n->sched.vec)
        fprintf(out, "  sched(vec=%d unroll=%d)", n->sched.vec, n->sched.unroll);
    static const char *bufs[] = {"", "input", "output", "work", "alias", "effect", "chain"};
    for (int p = 0; p < 2; p++) {
        const IrPlace *pl = &n->place[p];
        const char *plan = p == PLAN_INFER ? "infer" : "train";
        if (pl->buf == BUF_WORK)
            fprintf(out, "  %s@work+%lld", plan, (long long)pl->off);
        else if (pl->buf != BUF_NONE)
            fprintf(out, "  %s@%s", plan, bufs[pl->buf]);
    }
    if (n->var)
        fprintf(out, "    # %s, %d:%d\n", n->var, line, col);
    else
        fprintf(out, "    # %d:%d\n", line, col);
    for (int i = 0; i < n->nparam; i++) {
        const IrParam *p = &g->params[n->param[i]];
        fprintf(out, "        param %s ", p->name);
        print_shape(out, &p->shape);
        fputs(p->trainable ? "\n" : " (not trained)\n", out);
    }
}

void ir_print(FILE *out, const IrGraph *g)
{
    fprintf(out, "net %s {\n", g->name);
    for (int i = 0; i < g->nnodes; i++)
        print_node(out, g, i);
    for (int i = 0; i < g->noutputs; i++)
        fprintf(out, "  output %s = %%%d\n", g->outputs[i].name, g->outputs[i].node);
    if (g->loss >= 0)
        fprintf(out, "  loss = %%%d\n", g->loss);
    if (g->opt.kind != OPT_NONE) {
        fprintf(out, "  optimizer %s", g->opt.name);
        for (int i = 0; i < g->opt.nhp; i++)
            fprintf(out, " %s=%g", g->opt.hpname[i], g->opt.hp[i]);
        fputc('\n', out);
    }
    if (g->param_off) {
        fprintf(out, "  memory: params %lld floats; workspace per sample: inference %lld floats (%lld without reuse), "
                     "training %lld (%lld without reuse)",
                (long long)g->param_floats, (long long)g->work_floats[PLAN_INFER],
                (long long)g->work_floats_noreuse[PLAN_INFER], (long long)g->work_floats[PLAN_TRAIN],
                (long long)g->work_floats_noreuse[PLAN_TRAIN]);
        if (g->fold_floats)
            fprintf(out, "; folded weights %lld floats", (long long)g->fold_floats);
        fputc('\n', out);
    }
    const IrTrain *t = &g->train;
    fprintf(out, "  train batch=%d epochs=%d seed=%llu shuffle=%s schedule=%s step_size=%d gamma=%g warmup=%d clip_norm=%g\n",
            t->batch, t->epochs, (unsigned long long)t->seed, t->shuffle ? "true" : "false",
            ir_schedule_name(t->schedule), t->step_size, t->gamma, t->warmup, t->clip_norm);
    fputs("}\n", out);
}
