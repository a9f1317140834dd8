/*
 * summary.c — the table printed by `netc summary`.
 *
 *   Layer (op)                       Output shape        Params      FLOPs
 *   dense_1 (dense)                  [256]              200,960    401,664
 *
 * then totals: parameters, their bytes, forward and training FLOPs per
 * sample, and activation bytes per sample.
 */
#include "summary.h"

#include "emit.h"

#include <string.h>

/* 1234567 -> "1,234,567" in buf. */
static const char *commas(char *buf, size_t cap, int64_t v)
{
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%lld", (long long)(v < 0 ? -v : v));
    size_t o = 0;
    if (v < 0 && o < cap - 1)
        buf[o++] = '-';
    for (int i = 0; i < n && o < cap - 1; i++) {
        buf[o++] = tmp[i];
        if ((n - i - 1) % 3 == 0 && i != n - 1 && o < cap - 1)
            buf[o++] = ',';
    }
    buf[o] = '\0';
    return buf;
}

static const char *human_bytes(char *buf, size_t cap, int64_t b)
{
    if (b < 1024)
        snprintf(buf, cap, "%lld B", (long long)b);
    else if (b < 1024 * 1024)
        snprintf(buf, cap, "%.1f KiB", b / 1024.0);
    else
        snprintf(buf, cap, "%.1f MiB", b / (1024.0 * 1024.0));
    return buf;
}

static int64_t node_params(const IrGraph *g, const IrNode *n)
{
    int64_t s = 0;
    for (int i = 0; i < n->nparam; i++)
        s += ir_numel(&g->params[n->param[i]].shape);
    return s;
}

void summary_totals(const IrGraph *g, SummaryTotals *t)
{
    memset(t, 0, sizeof *t);
    for (int i = 0; i < g->nparams; i++) {
        int64_t *sum = g->params[i].trainable ? &t->trainable : &t->frozen;
        *sum = ir_add_sat(*sum, ir_numel(&g->params[i].shape));
    }
    for (int i = 0; i < g->nforward; i++) {
        const IrNode *n = &g->nodes[i];
        int64_t f, b;
        ir_flops(g, n, &f, &b);
        bool is_loss = (ir_ops[n->op].flags & IRF_LOSS) || n->op == IR_LOSS_SUM;
        /* Saturating sums: a pool window may be far larger than its input. */
        if (!is_loss)
            t->fwd_flops = ir_add_sat(t->fwd_flops, f);
        t->train_flops = ir_add_sat(t->train_flops, ir_add_sat(f, b));
        if (!is_loss && n->op != IR_LABEL)
            t->act_bytes = ir_add_sat(t->act_bytes, ir_mul_sat(4, ir_numel(&n->shape)));
    }
}

void summary_print(FILE *out, const IrGraph *g)
{
    char a[32], b[32], c[64];
    fprintf(out, "net %s  (%s)\n\n", g->name, g->src->path);
    fprintf(out, "%-40s %-18s %12s %14s\n", "Layer (op)", "Output shape", "Params", "FLOPs");
    fprintf(out, "%.*s\n", 40 + 1 + 18 + 1 + 12 + 1 + 14,
            "=============================================================================================");
    for (int i = 0; i < g->nforward; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op == IR_LABEL || (ir_ops[n->op].flags & IRF_LOSS) || n->op == IR_LOSS_SUM)
            continue;
        int64_t f, bw;
        ir_flops(g, n, &f, &bw);
        snprintf(c, sizeof c, "%s (%s)", n->name, ir_ops[n->op].name);
        fprintf(out, "%-40s %-18s %12s %14s\n", c, ir_shape_str(g->arena, &n->shape),
                commas(a, sizeof a, node_params(g, n)), commas(b, sizeof b, f));
    }
    fprintf(out, "%.*s\n", 40 + 1 + 18 + 1 + 12 + 1 + 14,
            "---------------------------------------------------------------------------------------------");
    SummaryTotals t;
    summary_totals(g, &t);
    fprintf(out, "Outputs:                      ");
    for (int i = 0; i < g->noutputs; i++)
        fprintf(out, "%s%s %s", i ? ", " : "", g->outputs[i].name,
                ir_shape_str(g->arena, &g->nodes[g->outputs[i].node].shape));
    fputc('\n', out);
    fprintf(out, "Trainable parameters:         %s\n", commas(a, sizeof a, t.trainable));
    fprintf(out, "Non-trainable parameters:     %s\n", commas(a, sizeof a, t.frozen));
    fprintf(out, "Parameter bytes:              %s (%s)\n", commas(a, sizeof a, 4 * (t.trainable + t.frozen)),
            human_bytes(b, sizeof b, 4 * (t.trainable + t.frozen)));
    fprintf(out, "Forward FLOPs per sample:     %s\n", commas(a, sizeof a, t.fwd_flops));
    if (g->loss >= 0)
        fprintf(out, "Training FLOPs per sample:    %s\n", commas(a, sizeof a, t.train_flops));
    fprintf(out, "Activation bytes per sample:  %s (%s)\n", commas(a, sizeof a, t.act_bytes),
            human_bytes(b, sizeof b, t.act_bytes));
    if (g->param_off) {
        /* The generated <NET>_ARENA_BYTES(B), as a fixed part plus a part per sample. */
        /* A shard's workspace holds ceil(B / shards) samples: count whole rounds of shards. */
        int is = emit_infer_shards(g), ts = g->loss >= 0 && g->opt.kind != OPT_NONE ? emit_train_shards(g) : 1;
        int64_t base = emit_arena_bytes(g, false, 0), per = (emit_arena_bytes(g, false, is) - base) / is;
        int64_t noreuse = per - 4 * (g->work_floats[PLAN_INFER] - g->work_floats_noreuse[PLAN_INFER]);
        fprintf(out, "Inference arena:              %s bytes + %s per sample (%s per sample without reuse)%s\n",
                commas(a, sizeof a, base), commas(b, sizeof b, per), commas(c, sizeof c, noreuse),
                is > 1 ? arena_printf(g->arena, "; %d shards, exact for multiples of %d", is, is) : "");
        if (g->loss >= 0 && g->opt.kind != OPT_NONE) {
            int rounds = is * ts;
            int64_t tbase = emit_arena_bytes(g, true, 0), tper = (emit_arena_bytes(g, true, rounds) - tbase) / rounds;
            int64_t tw = g->work_floats[PLAN_TRAIN] > g->work_floats[PLAN_INFER] ? g->work_floats[PLAN_TRAIN]
                                                                                 : g->work_floats[PLAN_INFER];
            fprintf(out, "Training arena:               %s bytes + %s per sample (%s per sample without reuse)%s\n",
                    commas(a, sizeof a, tbase), commas(b, sizeof b, tper),
                    commas(c, sizeof c, tper - 4 * (tw - g->work_floats_noreuse[PLAN_TRAIN])),
                    rounds > 1 ? arena_printf(g->arena, "; exact for multiples of %d", rounds) : "");
        }
    }
    if (g->loss >= 0) {
        fprintf(out, "Loss:                         ");
        const IrNode *sum = &g->nodes[g->loss];
        for (int i = 0; i < sum->nin; i++) {
            const IrNode *l = &g->nodes[sum->in[i]];
            const IrNode *p = &g->nodes[l->in[0]], *q = &g->nodes[l->in[1]];
            if (l->a.weight != 1)
                fprintf(out, "%g * ", l->a.weight);
            fprintf(out, "%s(%s, %s)%s", ir_ops[l->op].name, p->var ? p->var : p->name, q->name,
                    i + 1 < sum->nin ? " + " : "");
        }
        fputc('\n', out);
    }
    if (g->opt.kind != OPT_NONE)
        fprintf(out, "Optimizer:                    %s (lr %g)\n", g->opt.name, ir_hp(&g->opt, "lr"));
}
