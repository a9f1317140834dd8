/*
 * emit_train.c — the generated training API: create_train, train_step,
 * evaluate, and the optimizer update.
 *
 * train_step runs the forward pass in training mode on the training plan
 * (every tensor backward needs stays alive), the loss terms, the backward
 * kernels in the order autodiff made them, optional gradient clipping,
 * and one vectorizable pass over the trainable part of the parameter
 * block that updates parameters and optimizer state together.  The update
 * follows torch.optim (PyTorch 1.13) operation by operation, except that
 * Adam multiplies by 1/sqrt(bias correction 2) where torch divides by its
 * square root (a rounding-level difference, well inside the reference
 * tolerance, for one divide per parameter less).  In nets whose step runs
 * in shards (emit_shard.c), each shard runs that forward and backward body
 * on its own memory and the update first adds the shards' gradients.
 */
#include "emit.h"
#include "emit_int.h"

#include <string.h>

bool emit_can_train(const IrGraph *g)
{
    return g->loss >= 0 && g->opt.kind != OPT_NONE;
}

static int state_names(const IrGraph *g, const char **names)
{
    return ir_opt_states(&g->opt, names);
}

/* Inputs, then labels, as parameters of train_step / evaluate. */
void emit_io_params(FILE *out, const IrGraph *g)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == IR_INPUT)
            fprintf(out, ", const float *in_%s", g->nodes[i].name);
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == IR_LABEL)
            fprintf(out, ", const %s *lab_%s", emit_label_type(&g->nodes[i]), g->nodes[i].name);
}

void emit_out_params(FILE *out, const IrGraph *g)
{
    for (int i = 0; i < g->noutputs; i++)
        fprintf(out, ", float *out_%s", g->outputs[i].name);
}

void emit_train_header(FILE *out, const IrGraph *g)
{
    if (!emit_can_train(g))
        return;
    const char *N = g->name, *U = emit_upper(g->arena, N);
    const char *names[4];
    int ns = state_names(g, names);
    fprintf(out, "\n/* ---- training ---- */\n\n");
    fprintf(out, "#define %s_TRAINABLE_FLOATS %lld  /* the trainable part of the parameter block */\n", U,
            (long long)g->trainable_floats);
    fprintf(out, "#define %s_TRAIN_WORK_FLOATS %lld  /* training workspace per sample (%lld without reuse) */\n", U,
            (long long)g->work_floats[PLAN_TRAIN], (long long)g->work_floats_noreuse[PLAN_TRAIN]);
    fprintf(out, "#define %s_STATE_TENSORS %d  /* optimizer state per parameter (%s) */\n", U, ns, g->opt.name);
    fprintf(out, "/* Bytes of arena %s_create_train() needs for batches of at most B samples. */\n", N);
    fprintf(out, "#define %s_TRAIN_PACK_BYTES %lld  /* GEMM packing of train_step, one thread */\n", U,
            (long long)emit_pack_bound(g, true));
    fprintf(out, "#define %s_TRAIN_COL_FLOATS %lld  /* im2col buffer of train_step (the backward's too), any batch */\n",
            U, (long long)g->train_col_floats);
    emit_shard_macros(out, g, U);
    fprintf(out, "#define %s_TRAIN_ARENA_BYTES(B) \\\n"
                 "    (%s_ARENA_BYTES(B) + (size_t)%s_TRAINABLE_FLOATS * 4 * (1 + %s_STATE_TENSORS) + \\\n"
                 "     (size_t)%lld * 4 + %d + (size_t)%s_TRAIN_PACK_BYTES + (size_t)%lld + %s_TRAIN_GROW(B) * 4 + \\\n"
                 "     %s_SHARD_BYTES)\n\n",
            U, U, U, U, (long long)g->stat_floats, TRAIN_ARENA_SLACK, U, (long long)emit_train_col_bytes(g), U, U);
    fprintf(out, "size_t %s_train_arena_bytes(int max_batch);\n", N);
    fprintf(out, "/* A model that can also train: gradients, optimizer state, training workspace. */\n");
    fprintf(out, "%s_model *%s_create_train(void *arena, size_t bytes, int max_batch, NnrtError *err);\n", N, N);
    fprintf(out, "/* Seeds the dropout masks (the net's train seed by default). */\n");
    fprintf(out, "void %s_set_seed(%s_model *m, uint64_t seed);\n", N, N);
    fprintf(out, "/*\n * One optimizer step on a batch with learning rate lr; *loss gets the batch's\n"
                 " * loss (before the update), and each non-NULL out_* the batch's output.\n"
                 " * Class labels are int32_t in [0, classes).  Returns 0; -1 if batch is out\n"
                 " * of range or the model was made by %s_create; -2 if a label is out of range.\n */\n", N);
    fprintf(out, "int %s_train_step(%s_model *m, int batch", N, N);
    emit_io_params(out, g);
    fprintf(out, ", float lr, float *loss");
    emit_out_params(out, g);
    fprintf(out, ");\n/* The loss in inference mode (running statistics, no dropout); outputs are required. */\n");
    fprintf(out, "int %s_evaluate(%s_model *m, int batch", N, N);
    emit_io_params(out, g);
    fprintf(out, ", float *loss");
    emit_out_params(out, g);
    fprintf(out, ");\n/* Optimizer state k (0 <= k < %s_STATE_TENSORS), laid out like the parameter block. */\n", U);
    fprintf(out, "float *%s_state(%s_model *m, int k);\n", N, N);
    fprintf(out, "int64_t *%s_step_counter(%s_model *m);\n", N, N);
    fprintf(out, "/* Gradients of the last step, laid out like the parameter block (NULL for inference models). */\n");
    fprintf(out, "float *%s_grad(%s_model *m);\n", N, N);
}

/* ---- the optimizer update ---------------------------------------------------- */

static const char *lit(const IrGraph *g, double v)
{
    char buf[32];
    return arena_strdup(g->arena, emit_float(buf, sizeof buf, v));
}

/* A constant of one step's update, computed once (NET_opt_at) from m->step and lr. */
typedef struct OptConst {
    const char *type, *name, *expr;
} OptConst;

/* The constants the optimizer's update loop reads (at most 3). */
static int opt_consts(const IrGraph *g, OptConst *c)
{
    const IrOptim *o = &g->opt;
    int n = 0;
    switch (o->kind) {
    case OPT_SGD:
        if (ir_hp(o, "momentum") != 0)
            c[n++] = (OptConst){"int", "first", "m->step == 0"};
        break;
    case OPT_ADAGRAD:
        c[n++] = (OptConst){"float", "clr", arena_printf(g->arena, "(float)(lr / (1.0 + (double)m->step * %.17g))",
                                                         ir_hp(o, "lr_decay"))};
        break;
    case OPT_ADAM:
    case OPT_ADAMW:
        c[n++] = (OptConst){"float", "step_size", arena_printf(g->arena, "(float)(lr / (1.0 - pow(%.17g, (double)m->step + 1.0)))",
                                                               ir_hp(o, "beta1"))};
        /* one divide per element instead of two */
        c[n++] = (OptConst){"float", "inv_bc2_sqrt", arena_printf(g->arena, "(float)(1.0 / sqrt(1.0 - pow(%.17g, (double)m->step + 1.0)))",
                                                                  ir_hp(o, "beta2"))};
        if (o->kind == OPT_ADAMW && ir_hp(o, "weight_decay") != 0)
            c[n++] = (OptConst){"float", "decay", arena_printf(g->arena, "(float)(1.0 - (double)lr * %.17g)",
                                                               ir_hp(o, "weight_decay"))};
        break;
    case OPT_RMSPROP:
    case OPT_NONE: break;
    }
    return n;
}

static void update_sgd(Emitter *e, const IrGraph *g)
{
    const IrOptim *o = &g->opt;
    double mom = ir_hp(o, "momentum"), damp = ir_hp(o, "dampening"), wd = ir_hp(o, "weight_decay");
    emit_line(e, "for (size_t i = i0; i < i1; i++) {");
    emit_line(e, wd != 0 ? "float d = gr[i] + %s * p[i];" : "float d = gr[i];%s", wd != 0 ? lit(g, wd) : "");
    if (mom != 0) {
        emit_line(e, "s0[i] = first ? d : %s * s0[i] + %s * d;", lit(g, mom), lit(g, 1 - damp));
        emit_line(e, ir_hp(o, "nesterov") != 0 ? "d = d + %s * s0[i];" : "d = s0[i];%s",
                  ir_hp(o, "nesterov") != 0 ? lit(g, mom) : "");
    }
    emit_line(e, "p[i] -= lr * d;");
    emit_line(e, "}");
}

static void update_adagrad(Emitter *e, const IrGraph *g)
{
    const IrOptim *o = &g->opt;
    double wd = ir_hp(o, "weight_decay");
    emit_line(e, "for (size_t i = i0; i < i1; i++) {");
    emit_line(e, wd != 0 ? "const float d = gr[i] + %s * p[i];" : "const float d = gr[i];%s", wd != 0 ? lit(g, wd) : "");
    emit_line(e, "s0[i] += d * d;");
    emit_line(e, "p[i] -= clr * d / (sqrtf(s0[i]) + %s);", lit(g, ir_hp(o, "eps")));
    emit_line(e, "}");
}

static void update_rmsprop(Emitter *e, const IrGraph *g)
{
    const IrOptim *o = &g->opt;
    double a = ir_hp(o, "alpha"), wd = ir_hp(o, "weight_decay"), mom = ir_hp(o, "momentum");
    bool centered = ir_hp(o, "centered") != 0;
    const char *ga = mom != 0 ? "s2" : "s1";
    emit_line(e, "for (size_t i = i0; i < i1; i++) {");
    emit_line(e, wd != 0 ? "const float d = gr[i] + %s * p[i];" : "const float d = gr[i];%s", wd != 0 ? lit(g, wd) : "");
    emit_line(e, "s0[i] = %s * s0[i] + %s * d * d;", lit(g, a), lit(g, 1 - a));
    if (centered) {
        emit_line(e, "%s[i] = %s * %s[i] + %s * d;", ga, lit(g, a), ga, lit(g, 1 - a));
        emit_line(e, "const float avg = sqrtf(s0[i] - %s[i] * %s[i]) + %s;", ga, ga, lit(g, ir_hp(o, "eps")));
    } else {
        emit_line(e, "const float avg = sqrtf(s0[i]) + %s;", lit(g, ir_hp(o, "eps")));
    }
    if (mom != 0) {
        emit_line(e, "s1[i] = %s * s1[i] + d / avg;", lit(g, mom));
        emit_line(e, "p[i] -= lr * s1[i];");
    } else {
        emit_line(e, "p[i] -= lr * d / avg;");
    }
    emit_line(e, "}");
}

/*
 * Adam's constants as float literals: beta1, 1 - beta1, beta2, 1 - beta2,
 * eps.  The update loop and the runtime's Adam (NET_adam_at) both take them
 * from here, so a fused weight and the others round alike.
 */
typedef struct AdamLits {
    const char *b1, *c1, *b2, *c2, *eps;
} AdamLits;

static AdamLits adam_lits(const IrGraph *g)
{
    const IrOptim *o = &g->opt;
    double b1 = ir_hp(o, "beta1"), b2 = ir_hp(o, "beta2");
    return (AdamLits){lit(g, b1), lit(g, 1 - b1), lit(g, b2), lit(g, 1 - b2), lit(g, ir_hp(o, "eps"))};
}

static void update_adam(Emitter *e, const IrGraph *g)
{
    const IrOptim *o = &g->opt;
    const AdamLits k = adam_lits(g);
    double wd = ir_hp(o, "weight_decay");
    bool adamw = o->kind == OPT_ADAMW, ams = ir_hp(o, "amsgrad") != 0;
    emit_line(e, "for (size_t i = i0; i < i1; i++) {");
    if (adamw && wd != 0)
        emit_line(e, "p[i] *= decay;");
    emit_line(e, !adamw && wd != 0 ? "const float d = gr[i] + %s * p[i];" : "const float d = gr[i];%s",
              !adamw && wd != 0 ? lit(g, wd) : "");
    emit_line(e, "s0[i] = %s * s0[i] + %s * d;", k.b1, k.c1);
    emit_line(e, "s1[i] = %s * s1[i] + %s * d * d;", k.b2, k.c2);
    if (ams)
        emit_line(e, "s2[i] = s2[i] > s1[i] ? s2[i] : s1[i];");
    emit_line(e, "p[i] -= step_size * s0[i] / (sqrtf(%s[i]) * inv_bc2_sqrt + %s);", ams ? "s2" : "s1", k.eps);
    emit_line(e, "}");
}

/*
 * Whether BWD node id, a dense layer's parameter gradients on the GEMM,
 * applies the optimizer update to the layer's weight in the GEMM's
 * epilogue (NnrtEpilogue.tile), block by block as the gradient is stored
 * and still in cache, instead of leaving it to the update pass: only when
 * fusion is on, nothing reads the weight after this kernel in the step (the
 * layer's input gradient, if any, comes first), the gradient is complete
 * when stored (one GEMM, no shards to add up) and nothing must see every
 * gradient before any update (clipping).  Each element's update is the
 * same expression either way, so the results are too.
 */
bool emit_update_fused(const IrGraph *g, int id)
{
    const IrNode *b = &g->nodes[id];
    if (g->no_fuse || !emit_can_train(g) || g->opt.kind == OPT_NONE || g->train.clip_norm > 0 || b->op != IR_BWD ||
        b->a.wrt >= 0 || !emit_is_train_call(g, id))
        return false;
    const IrNode *f = &g->nodes[b->a.of];
    if (f->op != IR_DENSE || !f->sched.gemm || !g->params[f->param[0]].trainable || emit_train_shards(g) > 1)
        return false;
    for (int j = id + 1; j < g->nnodes; j++)
        if (g->nodes[j].op == IR_BWD && g->nodes[j].a.of == b->a.of && emit_is_train_call(g, j))
            return false;
    return true;
}

/* A weight its gradient GEMM updates: that BWD node, the parameter, its offset and size in the block. */
typedef struct FusedWeight {
    int node;
    const IrParam *w;
    long long at, len;
} FusedWeight;

/* The fused weights, by offset in the parameter block, into a new arena array *out; returns how many. */
static int fused_weights(const IrGraph *g, FusedWeight **out)
{
    FusedWeight *fw = arena_alloc(g->arena, sizeof *fw * (size_t)(g->nnodes + 1));
    int n = 0;
    for (int i = g->nforward; i < g->nnodes; i++) {
        if (!emit_update_fused(g, i))
            continue;
        int p = g->nodes[g->nodes[i].a.of].param[0];
        FusedWeight x = {i, &g->params[p], (long long)g->param_off[p], ir_numel(&g->params[p].shape)};
        int k = n++;
        for (; k > 0 && fw[k - 1].at > x.at; k--)
            fw[k] = fw[k - 1];
        fw[k] = x;
    }
    *out = fw;
    return n;
}

/* NET_opt, NET_opt_at and NET_update_span: one step's constants and the update of parameters i0..i1-1. */
static void emit_update_span(Emitter *e, const IrGraph *g, int S)
{
    const char *N = g->name, *names[4];
    int ns = state_names(g, names);
    OptConst c[3];
    int nc = opt_consts(g, c);
    emit_line(e, "typedef struct %s_opt {", N);
    emit_line(e, "%s_model *m;", N);
    emit_line(e, "float lr;");
    if (S > 1)
        emit_line(e, "const float *part;  /* the shards' shares of the batch, or NULL once train_step has added their gradients */");
    for (int i = 0; i < nc; i++)
        emit_line(e, "%s %s;", c[i].type, c[i].name);
    emit_line(e, "} %s_opt;", N);
    emit_blank(e);
    emit_line(e, "static %s_opt %s_opt_at(%s_model *m, float lr)", N, N, N);
    emit_line(e, "{");
    emit_line(e, "%s_opt o = {.m = m, .lr = lr};", N);
    for (int i = 0; i < nc; i++)
        emit_line(e, "o.%s = %s;", c[i].name, c[i].expr);
    emit_line(e, "return o;");
    emit_line(e, "}");
    emit_blank(e);
    emit_line(e, "static inline void %s_update_span(const %s_opt *o, size_t i0, size_t i1)", N, N);
    emit_line(e, "{");
    emit_line(e, "%s_model *m = o->m;", N);
    emit_line(e, "float *restrict p = m->params;");
    emit_line(e, "const float *restrict gr = m->grad;");
    for (int i = 0; i < ns; i++)
        emit_line(e, "float *restrict s%d = m->state[%d];  /* %s */", i, i, names[i]);
    if (g->opt.kind == OPT_SGD || g->opt.kind == OPT_RMSPROP)
        emit_line(e, "const float lr = o->lr;");
    for (int i = 0; i < nc; i++)
        emit_line(e, "const %s %s = o->%s;", c[i].type, c[i].name, c[i].name);
    switch (g->opt.kind) {
    case OPT_SGD: update_sgd(e, g); break;
    case OPT_ADAGRAD: update_adagrad(e, g); break;
    case OPT_RMSPROP: update_rmsprop(e, g); break;
    case OPT_ADAM:
    case OPT_ADAMW: update_adam(e, g); break;
    case OPT_NONE: emit_line(e, "(void)p, (void)gr, (void)i0, (void)i1;"); break;
    }
    emit_line(e, "}");
    emit_blank(e);
}

/*
 * Whether the weight-gradient GEMMs apply the update as the runtime's Adam
 * (NnrtAdam in nnrt_gemm.h: the same operations as update_adam's loop) rather
 * than through NET_update_tile: Adam or AdamW without weight decay or
 * amsgrad. The runtime's AVX-512 kernel runs it between the next row strip's
 * FMAs (docs/performance.md, 2026-12-03 16:00-16:20).
 */
bool emit_update_is_adam(const IrGraph *g)
{
    const IrOptim *o = &g->opt;
    return (o->kind == OPT_ADAM || o->kind == OPT_ADAMW) && ir_hp(o, "weight_decay") == 0 &&
           ir_hp(o, "amsgrad") == 0;
}

/*
 * What a fused weight's gradient GEMM is given for its update: NET_adam_at,
 * the runtime's Adam on the weight (emit_update_is_adam), or NET_update_tile,
 * the update of a block of it.
 */
static void emit_update_tile(Emitter *e, const IrGraph *g)
{
    const char *N = g->name;
    emit_line(e, "/* A fused weight: where it starts in the parameter block, its row length. */");
    emit_line(e, "typedef struct %s_update_part {", N);
    emit_line(e, "const %s_opt *o;", N);
    emit_line(e, "size_t at, ld;");
    emit_line(e, "} %s_update_part;", N);
    emit_blank(e);
    if (emit_update_is_adam(g)) {
        const AdamLits k = adam_lits(g);
        emit_line(e, "/* The runtime's Adam on a fused weight (a %s_update_part) and its moments. */", N);
        emit_line(e, "static NnrtAdam %s_adam_at(const %s_update_part *u)", N, N);
        emit_line(e, "{");
        emit_line(e, "%s_model *m = u->o->m;", N);
        emit_line(e, "const NnrtAdam a = {m->params + u->at, m->state[0] + u->at, m->state[1] + u->at,");
        emit_line(e, "                    %s, %s, %s, %s, %s, u->o->step_size, u->o->inv_bc2_sqrt};", k.b1, k.c1, k.b2,
                  k.c2, k.eps);
        emit_line(e, "return a;");
        emit_line(e, "}");
        emit_blank(e);
        return;
    }
    emit_line(e, "/* Rows r0..r1-1, columns c0..c1-1 of a fused weight (a %s_update_part), once the GEMM stored their gradient. */", N);
    emit_line(e, "static void %s_update_tile(void *ctx, int r0, int r1, int c0, int c1)", N);
    emit_line(e, "{");
    emit_line(e, "const %s_update_part *u = ctx;", N);
    emit_line(e, "for (int r = r0; r < r1; r++)");
    emit_line(e, "    %s_update_span(u->o, u->at + (size_t)r * u->ld + (size_t)c0, u->at + (size_t)r * u->ld + (size_t)c1);", N);
    emit_line(e, "}");
    emit_blank(e);
}

int64_t emit_update_rest(const IrGraph *g)
{
    FusedWeight *fw;
    int nf = fused_weights(g, &fw);
    int64_t rest = g->trainable_floats;
    for (int k = 0; k < nf; k++)
        rest -= fw[k].len;
    return rest;
}

/*
 * The optimizer step: every trainable parameter is updated from its own
 * gradient and state alone, so the parameters the weight-gradient GEMMs do
 * not update (emit_update_fused) are cut into chunks of UPDATE_CHUNK
 * floats that the pool runs in parallel (same result for every thread
 * count).  Emitted before the kernels, which call NET_update_tile.
 */
static void emit_update(Emitter *e, const IrGraph *g)
{
    const char *N = g->name;
    FusedWeight *fw;
    int nf = fused_weights(g, &fw);
    long long total = (long long)g->trainable_floats, rest = (long long)emit_update_rest(g);
    long long chunks = (rest + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
    fprintf(e->out, "/*\n * The %s update (", g->opt.name);
    for (int i = 0; i < g->opt.nhp; i++)
        fprintf(e->out, "%s%s %g", i ? ", " : "", g->opt.hpname[i], g->opt.hp[i]);
    fprintf(e->out, ").\n");
    for (int k = 0; k < nf; k++)
        fprintf(e->out, " * %s (parameters %lld..%lld) is updated in its gradient GEMM's epilogue.\n", fw[k].w->name,
                fw[k].at, fw[k].at + fw[k].len - 1);
    fprintf(e->out, " * %s_update does the other %lld parameters, in chunks of %d over the thread pool.\n */\n", N, rest,
            UPDATE_CHUNK);
    int S = emit_train_shards(g);
    if (S > 1)
        emit_shard_reduce(e, g, S);
    emit_update_span(e, g, S);
    if (rest < total)
        emit_update_tile(e, g);
    emit_line(e, "static void %s_update_range(void *ctx, int c0, int c1)", N);
    emit_line(e, "{");
    emit_line(e, "const %s_opt *o = ctx;", N);
    emit_line(e, "const size_t i0 = (size_t)c0 * %d;", UPDATE_CHUNK);
    emit_line(e, "const size_t i1 = (size_t)c1 * %d < %lld ? (size_t)c1 * %d : %lld;", UPDATE_CHUNK, rest, UPDATE_CHUNK, rest);
    if (S > 1) {
        emit_line(e, "if (o->part)");
        emit_line(e, "    %s_reduce_range(o->m, o->part, i0, i1);", N);
    }
    if (rest == total) {
        emit_line(e, "%s_update_span(o, i0, i1);", N);
    } else {
        emit_line(e, "/* i0..i1-1 count the parameters left to this pass; each run of them in the block: */");
        long long pos = 0, next = 0;
        for (int k = 0; k <= nf; k++) {
            long long end = k < nf ? fw[k].at : total;
            if (end > next) {
                long long n = end - next;
                emit_line(e, "if (i0 < %lld && i1 > %lld)  /* parameters %lld..%lld */", pos + n, pos, next, end - 1);
                if (pos == 0)
                    emit_line(e, "    %s_update_span(o, %lld + i0, %lld + (i1 < %lld ? i1 : %lld));", N, next, next, n, n);
                else
                    emit_line(e, "    %s_update_span(o, %lld + (i0 > %lld ? i0 - %lld : 0), %lld + (i1 < %lld ? i1 : %lld) - %lld);",
                              N, next, pos, pos, next, pos + n, pos + n, pos);
                pos += n;
            }
            if (k < nf)
                next = fw[k].at + fw[k].len;
        }
    }
    emit_line(e, "}");
    emit_blank(e);
    emit_line(e, "static void %s_update(%s_model *m, float lr%s)", N, N, S > 1 ? ", const float *part" : "");
    emit_line(e, "{");
    emit_line(e, "%s_opt o = %s_opt_at(m, lr);", N, N);
    if (S > 1)
        emit_line(e, "o.part = part;");
    emit_line(e, "nnrt_parallel_range(%lld, %d, %d, %s_update_range, &o);", chunks, UPDATE_CHUNK, 32768, N);
    emit_line(e, "}");
    emit_blank(e);
}

void emit_clip(Emitter *e, const IrGraph *g)
{
    if (g->train.clip_norm <= 0)
        return;
    emit_line(e, "/* clip the global gradient norm to %g */", g->train.clip_norm);
    emit_line(e, "{");
    emit_line(e, "double sq = 0.0;");
    emit_line(e, "for (size_t i = 0; i < %lld; i++) sq += (double)gr[i] * gr[i];", (long long)g->trainable_floats);
    emit_line(e, "const double coef = %.17g / (sqrt(sq) + 1e-6);", g->train.clip_norm);
    emit_line(e, "if (coef < 1.0)");
    emit_line(e, "    for (size_t i = 0; i < %lld; i++) gr[i] *= (float)coef;", (long long)g->trainable_floats);
    emit_line(e, "}");
}

bool emit_is_train_call(const IrGraph *g, int i)
{
    const IrNode *n = &g->nodes[i];
    IrBuf b = n->place[PLAN_TRAIN].buf;
    return b != BUF_NONE && b != BUF_INPUT && b != BUF_ALIAS && b != BUF_CHAIN && n->op != IR_LOSS_SUM && !n->a.chain;
}

/* Prints a timed call of a kernel with its argument expressions. */
static void emit_call(Emitter *e, const IrGraph *g, int id, const char *lhs)
{
    KArgs a;
    emit_kernel_args(g, id, &a);
    emit_kernel_call(e, g, PROF_TRAIN(g, id), lhs, emit_par_name(g, id, true, emit_train_kernel_name(g, id)), &a);
}

/* A forward kernel shared with inference, called on the training plan. */
static void emit_plain_call(Emitter *e, const IrGraph *g, int id)
{
    KArgs a;
    emit_infer_kernel_args(g, id, PLAN_TRAIN, &a);
    emit_kernel_call(e, g, PROF_TRAIN(g, id), NULL, emit_par_name(g, id, false, emit_chain_kernel_name(g, id, PLAN_TRAIN)), &a);
}

/* Checks class labels are in range; returns -2 from the caller if not. */
static void emit_label_checks(Emitter *e, const IrGraph *g)
{
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op != IR_LABEL || !n->is_class || n->place[PLAN_TRAIN].buf == BUF_NONE)
            continue;
        emit_line(e, "for (int n = 0; n < batch; n++)");
        emit_line(e, "    if (lab_%s[n] < 0 || lab_%s[n] >= %d)", n->name, n->name, n->a.nclass);
        emit_line(e, "        return -2;");
    }
}

/* loss = sum of w_k * term_k, each term computed by its kernel. */
static void emit_loss_sum(Emitter *e, const IrGraph *g, bool train)
{
    const IrNode *sum = &g->nodes[g->loss];
    emit_line(e, "float total = 0.0f;");
    for (int k = 0; k < sum->nin; k++) {
        int t = sum->in[k];
        const IrNode *n = &g->nodes[t];
        char w[32];
        emit_float(w, sizeof w, n->a.weight);
        if (train) {
            emit_call(e, g, t, arena_printf(g->arena, "total += %s * ", w));
        } else {
            emit_line(e, "total += %s * %s(batch, %s, %s);", w, emit_kernel_name(g, t),
                      emit_tensor_ptr(g, PLAN_INFER, n->in[0]), arena_printf(g->arena, "%s_%s",
                      g->nodes[n->in[1]].op == IR_LABEL ? "lab" : "in", g->nodes[n->in[1]].name));
        }
    }
}

/* train_step's opening: its signature, then the checks of batch and labels. */
void emit_step_head(Emitter *e, const IrGraph *g)
{
    const char *N = g->name;
    fprintf(e->out, "int %s_train_step(%s_model *m, int batch", N, N);
    emit_io_params(e->out, g);
    fprintf(e->out, ", float lr, float *loss");
    emit_out_params(e->out, g);
    fputs(")\n", e->out);
    emit_line(e, "{");
    emit_line(e, "if (!m->grad || batch < 1 || batch > m->max_batch)");
    emit_line(e, "    return -1;");
    emit_label_checks(e, g);
}

/*
 * The forward pass in training mode, the loss (into `total`), the outputs,
 * and the backward pass, on the model's workspace: train_step's body, or
 * one shard's.
 */
void emit_step_body(Emitter *e, const IrGraph *g)
{
    emit_line(e, "float *const work = m->work;");
    emit_line(e, "float *const p = m->params;");
    emit_line(e, "float *const gr = m->grad;");
    emit_line(e, "float *const st = m->stats;");
    emit_line(e, "const size_t mb = (size_t)m->max_batch;");
    emit_line(e, "(void)st;");
    emit_line(e, "(void)gr;");
    emit_line(e, "/* forward, training mode */");
    for (int i = 0; i < g->nforward; i++) {
        const IrNode *n = &g->nodes[i];
        if (!emit_is_train_call(g, i) || (ir_ops[n->op].flags & IRF_LOSS))
            continue;
        if (emit_has_train_kernel(g, i))
            emit_call(e, g, i, NULL);
        else
            emit_plain_call(e, g, i);
    }
    emit_loss_sum(e, g, true);
    /* Outputs are copied before backward reuses their memory. */
    for (int i = 0; i < g->noutputs; i++) {
        int id = g->outputs[i].node;
        if (g->nodes[id].place[PLAN_TRAIN].buf == BUF_NONE)
            continue;
        emit_line(e, "if (out_%s)", g->outputs[i].name);
        emit_line(e, "    memcpy(out_%s, %s, sizeof(float) * (size_t)batch * %lld);", g->outputs[i].name,
                  emit_tensor_ptr(g, PLAN_TRAIN, id), (long long)ir_numel(&g->nodes[id].shape));
    }
    for (int i = 0; i < g->noutputs; i++)
        if (g->nodes[g->outputs[i].node].place[PLAN_TRAIN].buf == BUF_NONE)
            emit_line(e, "(void)out_%s;  /* not computed in training */", g->outputs[i].name);
    emit_line(e, "/* backward */");
    FusedWeight *fw;
    int nf = fused_weights(g, &fw);
    if (nf > 0)
        emit_line(e, "const %s_opt opt = %s_opt_at(m, lr);  /* for the updates fused into gradient GEMMs */", g->name, g->name);
    for (int k = 0; k < nf; k++)
        emit_line(e, "%s_update_part upd%d = {&opt, %lld, %d};  /* %s */", g->name, fw[k].node, fw[k].at,
                  fw[k].w->shape.dim[fw[k].w->shape.ndim - 1], fw[k].w->name);
    for (int i = g->nforward; i < g->nnodes; i++) {
        const IrNode *n = &g->nodes[i];
        if (!emit_is_train_call(g, i))
            continue;
        if (n->op == IR_ADD)
            emit_plain_call(e, g, i);
        else
            emit_call(e, g, i, NULL);
    }
}

/* train_step's end: the update, the step count, the loss. */
void emit_step_tail(Emitter *e, const IrGraph *g, const char *update_args)
{
    const char *N = g->name;
    emit_line(e, "NNRT_PROF(&%s_prof[%d], 1, %s_update(%s));", N, PROF_UPDATE(g), N, update_args);
    emit_line(e, "m->step++;");
    if (g->fold_floats)
        emit_line(e, "m->fold_stale = 1;  /* the parameters changed: the next forward pass refolds batchnorm */");
    emit_line(e, "*loss = total;");
    emit_line(e, "return 0;");
    emit_line(e, "}");
    emit_blank(e);
}

static void emit_train_step(Emitter *e, const IrGraph *g)
{
    emit_step_head(e, g);
    emit_step_body(e, g);
    emit_clip(e, g);
    emit_step_tail(e, g, "m, lr");
}

static void emit_evaluate(Emitter *e, const IrGraph *g)
{
    const char *N = g->name;
    fprintf(e->out, "int %s_evaluate(%s_model *m, int batch", N, N);
    emit_io_params(e->out, g);
    fprintf(e->out, ", float *loss");
    emit_out_params(e->out, g);
    fputs(")\n", e->out);
    emit_line(e, "{");
    emit_label_checks(e, g);
    for (int k = 0; k < e->depth; k++)
        fputs("    ", e->out);
    fprintf(e->out, "if (%s_forward(m, batch", N);
    for (int j = 0; j < g->nnodes; j++)
        if (g->nodes[j].op == IR_INPUT)
            fprintf(e->out, ", in_%s", g->nodes[j].name);
    for (int j = 0; j < g->noutputs; j++)
        fprintf(e->out, ", out_%s", g->outputs[j].name);
    fputs(") != 0)\n", e->out);
    emit_line(e, "    return -1;");
    emit_loss_sum(e, g, false);
    emit_line(e, "*loss = total;");
    emit_line(e, "return 0;");
    emit_line(e, "}");
    emit_blank(e);
}

static void emit_train_api(Emitter *e, const IrGraph *g)
{
    const char *N = g->name, *U = emit_upper(g->arena, N);
    FILE *out = e->out;
    fprintf(out, "size_t %s_train_arena_bytes(int max_batch)\n{\n    if (max_batch < 1)\n        max_batch = 1;\n"
                 "    return %s_TRAIN_ARENA_BYTES(max_batch) - %s_PACK_BYTES - %s_TRAIN_PACK_BYTES + %s_pack_bytes(max_batch, 0) +\n"
                 "           %s_pack_bytes(max_batch, 1);\n}\n\n", N, U, U, U, N, N);
    fprintf(out,
            "%s_model *%s_create_train(void *arena, size_t bytes, int max_batch, NnrtError *err)\n{\n"
            "    if (max_batch >= 1 && bytes < %s_train_arena_bytes(max_batch)) {\n"
            "        nnrt_errorf(err, \"%s: arena of %%zu bytes is too small to train; max_batch %%d needs %%zu\", bytes,\n"
            "                    max_batch, %s_train_arena_bytes(max_batch));\n"
            "        return NULL;\n    }\n"
            "    %s_model *m = %s_create(arena, bytes, max_batch, err);\n"
            "    if (!m)\n        return NULL;\n"
            "    NnrtArena a;\n"
            "    nnrt_arena_init(&a, arena, bytes);\n"
            "    a.used = (size_t)((unsigned char *)(m->work + %s_WORK_TOTAL(max_batch)) - (unsigned char *)arena);\n"
            "%s"
            "    m->grad = nnrt_arena_alloc(&a, sizeof(float) * %s_TRAINABLE_FLOATS, 64);\n"
            "    memset(m->grad, 0, sizeof(float) * %s_TRAINABLE_FLOATS);\n"
            "    for (int k = 0; k < %s_STATE_TENSORS; k++)\n"
            "        m->state[k] = nnrt_arena_alloc(&a, sizeof(float) * %s_TRAINABLE_FLOATS, 64);\n"
            "    m->stats = nnrt_arena_alloc(&a, sizeof(float) * %lld + 4, 64);\n"
            "    m->pack = nnrt_arena_alloc(&a, %s_pack_bytes(max_batch, 1) + 64, 64);  /* train_step's GEMMs */\n%s%s"
            "    %s_reset_state(m);\n"
            "    m->seed = %lluu;\n"
            "    return m;\n}\n\n",
            N, N, N, N, N, N, N, U, emit_shard_grow(g), U, U, U, U, (long long)g->stat_floats, N,
            emit_train_col_bytes(g)
                ? arena_printf(g->arena, "    m->col = nnrt_arena_alloc(&a, sizeof(float) * %s_TRAIN_COL_FLOATS + 4, 64);"
                                         "  /* the backward's im2col, larger than the forward's */\n", U)
                : "",
            emit_shard_memory(g), N, (unsigned long long)g->train.seed);
    fprintf(out, "void %s_set_seed(%s_model *m, uint64_t seed)\n{\n    m->seed = seed;\n}\n\n", N, N);
    fprintf(out, "float *%s_state(%s_model *m, int k)\n{\n    return k >= 0 && k < %s_STATE_TENSORS ? m->state[k] : NULL;\n}\n\n", N, N, U);
    fprintf(out, "int64_t *%s_step_counter(%s_model *m)\n{\n    return &m->step;\n}\n\n", N, N);
    fprintf(out, "float *%s_grad(%s_model *m)\n{\n    return m->grad;\n}\n\n", N, N);
}

/*
 * Bytes train_step's own im2col buffer takes in the training arena: none
 * when the forward's buffer is as large (the model keeps using it), else
 * TRAIN_COL_FLOATS floats, allocated by create_train.
 */
int64_t emit_train_col_bytes(const IrGraph *g)
{
    return g->train_col_floats > g->col_floats ? 4 * g->train_col_floats + 4 + 64 : 0;
}

/* Fresh optimizer state: zeros, or adagrad's initial accumulator. */
static void emit_reset_state(Emitter *e, const IrGraph *g)
{
    const char *names[4];
    int ns = state_names(g, names);
    double init = g->opt.kind == OPT_ADAGRAD ? ir_hp(&g->opt, "initial_accumulator_value") : 0;
    fprintf(e->out, "static void %s_reset_state(%s_model *m)\n", g->name, g->name);
    emit_line(e, "{");
    emit_line(e, "m->step = 0;");
    for (int k = 0; k < ns; k++)
        emit_line(e, "for (size_t i = 0; i < %lld; i++) m->state[%d][i] = %s;", (long long)g->trainable_floats, k,
                  k == 0 ? lit(g, init) : "0.0f");
    emit_line(e, "}");
    emit_blank(e);
}

void emit_train_source(Emitter *e, const IrGraph *g)
{
    if (!emit_can_train(g))
        return;
    fprintf(e->out, "/* ---- training ---- */\n\n");
    bool any_dropout = false;
    for (int i = 0; i < g->nnodes; i++)
        any_dropout |= g->nodes[i].op == IR_DROPOUT && g->nodes[i].place[PLAN_TRAIN].buf != BUF_NONE;
    if (any_dropout) {
        fprintf(e->out, "/* The mask stream of dropout layer j at the current step (docs/language.md). */\n");
        fprintf(e->out, "static uint64_t dropout_key(const %s_model *m, int j)\n", g->name);
        emit_line(e, "{");
        emit_line(e, "return m->seed + (uint64_t)m->step * 0x9E3779B97F4A7C15ull + (uint64_t)j * 0xBF58476D1CE4E5B9ull;");
        emit_line(e, "}");
        emit_blank(e);
    }
    emit_update(e, g);
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = &g->nodes[i];
        IrBuf b = n->place[PLAN_TRAIN].buf;
        if (b == BUF_NONE || b == BUF_ALIAS || b == BUF_CHAIN || n->a.chain || n->op == IR_LOSS_SUM)
            continue;  /* chain members are computed by their root's kernel */
        if (emit_chain_train_kernel(g, i))
            emit_chain_kernel(e, g, i, PLAN_TRAIN);  /* it stores members for backward */
        else if (emit_has_train_kernel(g, i) || n->op == IR_BWD)
            emit_train_kernel(e, g, i);
        else if (i >= g->nforward)
            emit_kernel(e, g, i);  /* gradient sums */
        else if (n->a.fold)
            emit_kernel_unfolded(e, g, i);  /* the forward pass runs it with a batchnorm folded in */
    }
    emit_reset_state(e, g);
    if (emit_train_shards(g) > 1)
        emit_shard_step(e, g);
    else
        emit_train_step(e, g);
    emit_evaluate(e, g);
    emit_train_api(e, g);
}

void emit_train_desc_fields(FILE *out, const IrGraph *g)
{
    const char *N = g->name;
    if (!emit_can_train(g)) {
        fprintf(out, "    0, {0}, -1, -1, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,\n");
        return;
    }
    const char *names[4];
    int ns = state_names(g, names);
    const IrTrain *t = &g->train;
    int acc_out = -1, acc_lab = -1;
    const IrNode *sum = &g->nodes[g->loss];
    for (int k = 0; k < sum->nin && acc_out < 0; k++) {
        const IrNode *l = &g->nodes[sum->in[k]];
        if (l->op != IR_CROSS_ENTROPY)
            continue;
        acc_out = g->nodes[l->in[0]].out_index;
        for (int i = 0, j = 0; i < g->nnodes; i++)
            if (g->nodes[i].op == IR_LABEL) {
                if (i == l->in[1])
                    acc_lab = j;
                j++;
            }
    }
    static const char *sched[] = {"NNRT_SCHED_CONSTANT", "NNRT_SCHED_STEP", "NNRT_SCHED_COSINE"};
    fprintf(out, "    1,\n    {%d, %d, %lluu, %d, %s, %d, %.17g, %d, %.17g, %.17g, \"%s\"},\n", t->batch, t->epochs,
            (unsigned long long)t->seed, t->shuffle, sched[t->schedule], t->step_size, t->gamma, t->warmup,
            t->clip_norm, ir_hp(&g->opt, "lr"), g->opt.name);
    fprintf(out, "    %d, %d,\n    %d, %s_state_names,\n", acc_out, acc_lab, ns, N);
    fprintf(out, "    %s_train_arena_bytes, %s_create_train_v, %s_state_v, %s_step_counter_v, %s_set_seed_v,\n"
                 "    %s_train_step_v, %s_evaluate_v,\n", N, N, N, N, N, N, N);
}

/* Generic wrappers the descriptor points at (before the descriptor). */
void emit_train_wrappers(FILE *out, const IrGraph *g)
{
    if (!emit_can_train(g))
        return;
    const char *N = g->name;
    const char *names[4];
    int ns = state_names(g, names);
    fprintf(out, "static const char *const %s_state_names[] = {", N);
    for (int i = 0; i < ns; i++)
        fprintf(out, "\"%s\", ", names[i]);
    fprintf(out, "NULL};\n\n");
    fprintf(out, "static void *%s_create_train_v(void *arena, size_t bytes, int max_batch, NnrtError *err)\n{\n"
                 "    return %s_create_train(arena, bytes, max_batch, err);\n}\n\n", N, N);
    fprintf(out, "static float *%s_state_v(void *m, int k)\n{\n    return %s_state(m, k);\n}\n\n", N, N);
    fprintf(out, "static int64_t *%s_step_counter_v(void *m)\n{\n    return %s_step_counter(m);\n}\n\n", N, N);
    fprintf(out, "static void %s_set_seed_v(void *m, uint64_t seed)\n{\n    %s_set_seed(m, seed);\n}\n\n", N, N);
    for (int pass = 0; pass < 2; pass++) {
        bool train = pass == 0;
        fprintf(out, "static int %s_%s_v(void *m, int batch, const float *const *in, const void *const *lab, %s"
                     "float *loss, float *const *out)\n{\n    (void)in;\n    (void)lab;\n",
                N, train ? "train_step" : "evaluate", train ? "float lr, " : "");
        fprintf(out, "    return %s_%s(m, batch", N, train ? "train_step" : "evaluate");
        int ni = 0, nl = 0;
        for (int i = 0; i < g->nnodes; i++)
            if (g->nodes[i].op == IR_INPUT)
                fprintf(out, ", in[%d]", ni++);
        for (int i = 0; i < g->nnodes; i++)
            if (g->nodes[i].op == IR_LABEL)
                fprintf(out, ", (const %s *)lab[%d]", emit_label_type(&g->nodes[i]), nl++);
        fprintf(out, train ? ", lr, loss" : ", loss");
        for (int i = 0; i < g->noutputs; i++)
            fprintf(out, train ? ", out ? out[%d] : NULL" : ", out[%d]", i);
        fprintf(out, ");\n}\n\n");
    }
}
