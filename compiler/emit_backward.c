/*
 * emit_backward.c — kernels only the training step uses: forward ops whose
 * training semantics differ (batchnorm on batch statistics, dropout with
 * a mask), loss values, and every backward (BWD) node.
 *
 * A kernel's arguments are described once, by kernel_args(): their C
 * types, names, and the expression the training step passes for them.
 * The signature and the call site are both printed from that list, so
 * they cannot disagree.
 */
#include "emit.h"
#include "emit_int.h"

#include <math.h>
#include <string.h>

static const IrShape *shape_of(const IrGraph *g, int id)
{
    return &g->nodes[id].shape;
}

static long long numel_of(const IrGraph *g, int id)
{
    return (long long)ir_numel(shape_of(g, id));
}

void emit_add_arg(KArgs *a, const char *type, const char *name, const char *expr, long long per_sample)
{
    if (a->n == KARGS_MAX)
        netc_die("kernel has too many arguments");
    a->arg[a->n++] = (KArg){type, name, expr, per_sample};
}

static void add_arg(KArgs *a, const char *type, const char *name, const char *expr)
{
    emit_add_arg(a, type, name, expr, 0);
}

/* A batch tensor argument: node id's storage in the training plan. */
static void tensor_arg(const IrGraph *g, KArgs *a, const char *type, const char *name, int id)
{
    const IrNode *n = &g->nodes[id];
    emit_add_arg(a, type, name, emit_tensor_ptr(g, PLAN_TRAIN, id), n->is_class ? 1 : numel_of(g, id));
}

bool emit_has_train_kernel(const IrGraph *g, int id)
{
    IrOp op = g->nodes[id].op;
    return id < g->nforward && (op == IR_BATCHNORM || op == IR_DROPOUT || (ir_ops[op].flags & IRF_LOSS));
}

const char *emit_label_type(const IrNode *label)
{
    return label->is_class ? "int32_t" : "float";
}

/* Every parameter of the node: what a training-mode forward kernel reads (and updates). */
static void param_args(const IrGraph *g, int of, KArgs *a, bool writable_stats)
{
    static const char *const names[] = {"w", "bias", "rmean", "rvar"};
    const IrNode *f = &g->nodes[of];
    for (int i = 0; i < f->nparam; i++) {
        const IrParam *p = &g->params[f->param[i]];
        bool rw = writable_stats && !p->trainable;
        add_arg(a, rw ? "float *restrict" : "const float *restrict", names[p->role],
                arena_printf(g->arena, "p + %lld", (long long)g->param_off[f->param[i]]));
    }
}

/* The parameter gradients BWD node id writes: dw and dbias, for the trainable ones. */
static void grad_args(const IrGraph *g, int id, KArgs *a)
{
    static const char *const names[] = {"dw", "dbias"};
    const IrNode *f = &g->nodes[g->nodes[id].a.of];
    for (int i = 0; i < f->nparam; i++) {
        const IrParam *p = &g->params[f->param[i]];
        /* a fused update reads the weight's gradient through m->grad while the GEMM writes it */
        bool shared = i == 0 && emit_update_fused(g, id);
        if (p->trainable)
            add_arg(a, shared ? "float *" : "float *restrict", names[p->role],
                    arena_printf(g->arena, "gr + %lld", (long long)g->param_off[f->param[i]]));
    }
}

/*
 * For a batchnorm's input gradient b: the node that computed its parameter
 * gradients before it, if there is one and it wrote both sums b needs
 * (dw = sum dy * xhat, dbias = sum dy, both trainable), else -1.  b then
 * reads them from the gradient block instead of summing again.
 */
static int bn_sums_before(const IrGraph *g, const IrNode *b)
{
    const IrNode *f = &g->nodes[b->a.of];
    if (f->op != IR_BATCHNORM || b->a.wrt < 0 || f->nparam < 2)
        return -1;
    for (int i = 0; i < 2; i++)
        if (!g->params[f->param[i]].trainable)
            return -1;
    for (int id = g->nforward; id < (int)(b - g->nodes); id++) {
        const IrNode *n = &g->nodes[id];
        if (n->op == IR_BWD && n->a.of == b->a.of && n->a.wrt < 0)
            return id;
    }
    return -1;
}

static const char *tensor_type(const IrGraph *g, int id)
{
    const IrNode *n = &g->nodes[id];
    return n->op == IR_LABEL ? arena_printf(g->arena, "const %s *restrict", emit_label_type(n)) : "const float *restrict";
}

/* Names for the forward tensors a BWD kernel reads (see ad_saved). */
static const char *saved_name(const IrGraph *g, const IrNode *b, int k)
{
    const IrNode *f = &g->nodes[b->a.of];
    int id = b->in[k];
    if (ir_ops[f->op].flags & IRF_LOSS)
        return k == 0 ? "x" : "t";
    if (id == b->a.of)
        return "y";
    return f->op == IR_MUL ? "other" : "x";
}

void emit_kernel_args(const IrGraph *g, int id, KArgs *a)
{
    const IrNode *n = &g->nodes[id];
    a->n = 0;
    a->ret = "void";
    if (n->op == IR_BATCHNORM) {
        tensor_arg(g, a, "const float *restrict", "x", n->in[0]);
        param_args(g, id, a, true);
        add_arg(a, "float *restrict", "stats", arena_printf(g->arena, "st + %lld", (long long)n->stat_off));
        if (emit_epi_add(g, n))  /* a fused residual add (fuse.c), added by emit_store */
            tensor_arg(g, a, "const float *restrict", "res", emit_epi_residual(g, n));
        tensor_arg(g, a, "float *restrict", "y", id);
    } else if (n->op == IR_DROPOUT) {
        tensor_arg(g, a, "const float *restrict", "x", n->in[0]);
        add_arg(a, "uint64_t", "key", arena_printf(g->arena, "dropout_key(m, %d)", n->a.dropout_id));
        tensor_arg(g, a, "float *restrict", "y", id);
    } else if (ir_ops[n->op].flags & IRF_LOSS) {
        a->ret = "float";
        tensor_arg(g, a, "const float *restrict", "x", n->in[0]);
        tensor_arg(g, a, tensor_type(g, n->in[1]), "t", n->in[1]);
    } else if (n->op == IR_BWD) {
        const IrNode *f = &g->nodes[n->a.of];
        bool loss = ir_ops[f->op].flags & IRF_LOSS;
        for (int k = 0; k < n->nin; k++) {
            int t = n->in[k];
            bool is_dy = !loss && k == 0;
            tensor_arg(g, a, tensor_type(g, t), is_dy ? "dy" : saved_name(g, n, k), t);
        }
        if (n->a.wrt >= 0 && (f->op == IR_DENSE || f->op == IR_CONV2D || f->op == IR_BATCHNORM || f->op == IR_LAYERNORM))
            add_arg(a, "const float *restrict", "w", arena_printf(g->arena, "p + %lld", (long long)g->param_off[f->param[0]]));
        if (f->op == IR_BATCHNORM)
            add_arg(a, "const float *restrict", "stats", arena_printf(g->arena, "st + %lld", (long long)f->stat_off));
        if (bn_sums_before(g, n) >= 0) {
            add_arg(a, "const float *restrict", "sdyx_done", arena_printf(g->arena, "gr + %lld", (long long)g->param_off[f->param[0]]));
            add_arg(a, "const float *restrict", "sdy_done", arena_printf(g->arena, "gr + %lld", (long long)g->param_off[f->param[1]]));
        }
        if (f->op == IR_DROPOUT)
            add_arg(a, "uint64_t", "key", arena_printf(g->arena, "dropout_key(m, %d)", f->a.dropout_id));
        if (n->a.wrt < 0)
            grad_args(g, id, a);
        else
            tensor_arg(g, a, "float *restrict", "dx", id);
        if (n->a.epilogue)  /* the fused activation's output, for its derivative */
            tensor_arg(g, a, "const float *restrict", "gate", g->nodes[n->a.epilogue].a.of);
        /* the filter-vector dW and dX need neither */
        bool gemm = f->sched.gemm && !(f->sched.filters && (n->a.wrt < 0 || f->sched.dx_pixels));
        if (gemm)
            add_arg(a, "void *", "pack", "m->pack");
        if (gemm && f->op == IR_CONV2D)
            add_arg(a, "float *restrict", "col", "m->col");
        if (emit_update_fused(g, id))
            add_arg(a, "void *", "upd", arena_printf(g->arena, "&upd%d", id));
    } else {
        netc_die("no training kernel for %s", ir_ops[n->op].name);
    }
}

const char *emit_train_kernel_name(const IrGraph *g, int id)
{
    const char *base = emit_kernel_name(g, id);
    return id < g->nforward && !(ir_ops[g->nodes[id].op].flags & IRF_LOSS) ? arena_printf(g->arena, "%s_train", base)
                                                                            : base;
}

void emit_args_signature(Emitter *e, const char *ret, const char *name, const KArgs *a)
{
    fprintf(e->out, "static %s %s(int batch", ret, name);
    for (int i = 0; i < a->n; i++)
        fprintf(e->out, ", %s %s", a->arg[i].type, a->arg[i].name);
    fputs(")\n", e->out);
    emit_line(e, "{");
}

/* ---- forward in training mode -------------------------------------------- */

/* expr with every "[i]" replaced by "[i0 + k]". */
static const char *at_lane(const IrGraph *g, const char *expr, int k)
{
    const char *s = "", *p;
    while ((p = strstr(expr, "[i]")) != NULL) {
        s = arena_printf(g->arena, "%s%.*s[i0 + %d]", s, (int)(p - expr), expr, k);
        expr = p + 3;
    }
    return arena_printf(g->arena, "%s%s", s, expr);
}

/*
 * Sums `expr` (written with the index `[i]`) over one channel's elements of
 * every sample into the declared accumulator `acc`: eight partial sums
 * (a0..a7, of type `type`) that the compiler keeps in vector registers,
 * added pairwise at the end, instead of one chain of dependent adds.
 * `plane` declares the sample's pointers from n.
 */
static void emit_channel_sum(Emitter *e, const IrGraph *g, const char *type, const char *acc, const char *plane,
                             long long inner, const char *expr)
{
    long long main_i = inner / 8 * 8;
    emit_line(e, "%s a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;", type);
    emit_line(e, "for (int n = 0; n < batch; n++) {");
    emit_line(e, "%s", plane);
    if (main_i > 0) {
        emit_line(e, "for (int i0 = 0; i0 < %lld; i0 += 8) {", main_i);
        for (int k = 0; k < 8; k++)
            emit_line(e, "a%d += %s;", k, at_lane(g, expr, k));
        emit_line(e, "}");
    }
    if (main_i < inner)
        emit_line(e, "for (int i = %lld; i < %lld; i++) a0 += %s;", main_i, inner, expr);
    emit_line(e, "}");
    emit_line(e, "%s = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7));", acc);
}

/* A training kernel's per-channel job name. */
static const char *channels_job(const IrGraph *g, int id)
{
    return arena_printf(g->arena, "%s_channels", emit_train_kernel_name(g, id));
}

/*
 * batchnorm on batch statistics, one channel: saves mean and 1/std, updates
 * the running statistics (the body of its channel job).
 */
static void bn_train_channel(Emitter *e, const IrGraph *g, const IrNode *n)
{
    int c = n->shape.dim[0];
    long long inner = ir_numel(&n->shape) / c;
    char eps[32], mom[32], keep[32];
    emit_float(eps, sizeof eps, n->a.eps);
    emit_float(mom, sizeof mom, n->a.momentum);
    emit_float(keep, sizeof keep, 1.0 - n->a.momentum);
    const char *plane = arena_printf(g->arena, "const float *xc = x + ((size_t)n * %d + c) * %lld;", c, inner);
    emit_line(e, "const double count = (double)batch * %lld;", inner);
    emit_line(e, "double sum, sq;");
    emit_line(e, "{");
    emit_channel_sum(e, g, "double", "sum", plane, inner, "(double)xc[i]");
    emit_line(e, "}");
    emit_line(e, "const double mean = sum / count;");
    emit_line(e, "{");
    emit_channel_sum(e, g, "double", "sq", plane, inner, "((double)xc[i] - mean) * ((double)xc[i] - mean)");
    emit_line(e, "}");
    emit_line(e, "const double var = sq / count;");
    emit_line(e, "const float invstd = (float)(1.0 / sqrt(var + %s));", eps);
    emit_line(e, "stats[c] = (float)mean;");
    emit_line(e, "stats[%d + c] = invstd;", c);
    emit_line(e, "const float scale = w[c] * invstd, shift = bias[c] - (float)mean * scale;");
    emit_line(e, "for (int n = 0; n < batch; n++) {");
    emit_line(e, "const float *xc = x + ((size_t)n * %d + c) * %lld;", c, inner);
    emit_line(e, "float *yc = y + ((size_t)n * %d + c) * %lld;", c, inner);
    emit_line(e, "for (int i = 0; i < %lld; i++) {", inner);
    emit_store(e, g, n, "yc[i]", "xc[i] * scale + shift");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "rmean[c] = %s * rmean[c] + %s * (float)mean;", keep, mom);
    emit_line(e, "rvar[c] = %s * rvar[c] + %s * (float)(count > 1 ? var * count / (count - 1) : var);", keep, mom);
}

/* batchnorm on batch statistics: its channels over the pool (bn_train_channel), then a transcendental epilogue. */
static void k_bn_train(Emitter *e, const IrGraph *g, const IrNode *n, const KArgs *a)
{
    int c = n->shape.dim[0];
    long long inner = ir_numel(&n->shape) / c;
    emit_channels_call(e, channels_job(g, (int)(n - g->nodes)), a, c,
                       arena_printf(g->arena, "(long long)batch * %lld", 6 * inner));
    emit_vmath_pass(e, g, n, "y", arena_printf(g->arena, "(size_t)batch * %lld", c * inner));
}

static void dropout_consts(const IrNode *n, unsigned long long *thr, char *scale, size_t cap)
{
    *thr = (unsigned long long)floor((double)n->a.p * 4294967296.0);
    emit_float(scale, cap, 1.0 / (1.0 - (double)n->a.p));
}

static void k_dropout_train(Emitter *e, const IrNode *n, bool backward)
{
    unsigned long long thr;
    char scale[32];
    dropout_consts(n, &thr, scale, sizeof scale);
    emit_line(e, "for (size_t i = 0; i < (size_t)batch * %lld; i++)", (long long)ir_numel(&n->shape));
    emit_line(e, "    %s[i] = nnrt_hash_u32(key, i) >= %lluu ? %s[i] * %s : 0.0f;", backward ? "dx" : "y", thr,
              backward ? "dy" : "x", scale);
}

/* ---- losses ------------------------------------------------------------------ */

/*
 * bce_with_logits: the mean of max(x, 0) - x t + log1p(exp(-|x|)), the
 * exponential and log1p through nnrt_vmath a stack block at a time.
 */
static void k_bce_loss(Emitter *e, long long d)
{
    emit_line(e, "const size_t count = (size_t)batch * %lld;", d);
    emit_line(e, "double total = 0.0;");
    emit_line(e, "float sp[NNRT_VMATH_BLOCK];  /* log1p(exp(-|x|)) of a block of logits */");
    emit_line(e, "for (size_t i0 = 0; i0 < count; i0 += NNRT_VMATH_BLOCK) {");
    emit_line(e, "const size_t len = count - i0 < NNRT_VMATH_BLOCK ? count - i0 : NNRT_VMATH_BLOCK;");
    emit_line(e, "for (size_t i = 0; i < len; i++) sp[i] = -fabsf(x[i0 + i]);");
    emit_line(e, "nnrt_vexp(sp, sp, len);");
    emit_line(e, "nnrt_vlog1p(sp, sp, len);");
    emit_line(e, "for (size_t i = 0; i < len; i++)");
    emit_line(e, "    total += (double)(fmaxf(x[i0 + i], 0.0f) - x[i0 + i] * t[i0 + i] + sp[i]);");
    emit_line(e, "}");
    emit_line(e, "return (float)(total / ((double)batch * %lld));", d);
}

enum { CE_BLOCK = 1024 };  /* floats of exponentials on the stack of the cross-entropy loss */

/*
 * cross_entropy over rows of d <= CE_BLOCK / 4 classes: the mean of
 * m + log(sum exp(x - m)) - x[t], m the row's max.  The exponentials of a
 * block of rows go through one nnrt_vexp call (elementwise, so each is the
 * value a call per row gives); each row's sum runs in class order, as
 * nnrt_vexp_sum's.  Wider rows take a call per row (k_loss).
 */
static void k_ce_blocks(Emitter *e, long long d)
{
    long long rb = CE_BLOCK / d;
    emit_line(e, "double total = 0.0;");
    emit_line(e, "float ex[%lld], mx[%lld];  /* exp(x - m) of a block of rows; their maxima m */", rb * d, rb);
    emit_line(e, "for (int n0 = 0; n0 < batch; n0 += %lld) {", rb);
    emit_line(e, "const int rows = batch - n0 < %lld ? batch - n0 : %lld;", rb, rb);
    emit_line(e, "for (int n = 0; n < rows; n++) {");
    emit_line(e, "const float *xr = x + (size_t)(n0 + n) * %lld;", d);
    emit_row_max(e, d);
    emit_line(e, "for (int i = 0; i < %lld; i++) ex[n * %lld + i] = xr[i] - m;", d, d);
    emit_line(e, "mx[n] = m;");
    emit_line(e, "}");
    emit_line(e, "nnrt_vexp(ex, ex, (size_t)rows * %lld);", d);
    emit_line(e, "for (int n = 0; n < rows; n++) {");
    emit_line(e, "float s = 0.0f;");
    emit_line(e, "for (int i = 0; i < %lld; i++) s += ex[n * %lld + i];", d, d);
    emit_line(e, "total += (double)(mx[n] + logf(s) - x[(size_t)(n0 + n) * %lld + t[n0 + n]]);", d);
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "return (float)(total / batch);");
}

static void k_loss(Emitter *e, const IrGraph *g, const IrNode *n)
{
    long long d = numel_of(g, n->in[0]);
    if (n->op == IR_CROSS_ENTROPY && d <= CE_BLOCK / 4) {
        k_ce_blocks(e, d);
        return;
    }
    if (n->op == IR_CROSS_ENTROPY) {
        emit_line(e, "double total = 0.0;");
        emit_line(e, "for (int n = 0; n < batch; n++) {");
        emit_line(e, "const float *xr = x + (size_t)n * %lld;", d);
        emit_row_max(e, d);
        emit_line(e, "total += (double)(m + logf(nnrt_vexp_sum(xr, m, %lld)) - xr[t[n]]);", d);
        emit_line(e, "}");
        emit_line(e, "return (float)(total / batch);");
        return;
    }
    if (n->op == IR_BCE_WITH_LOGITS) {
        k_bce_loss(e, d);
        return;
    }
    static const char *term[] = {[IR_MSE] = "(x[i] - t[i]) * (x[i] - t[i])", [IR_L1] = "fabsf(x[i] - t[i])"};
    emit_line(e, "double total = 0.0;");
    emit_line(e, "for (size_t i = 0; i < (size_t)batch * %lld; i++)", d);
    emit_line(e, "    total += (double)(%s);", term[n->op]);
    emit_line(e, "return (float)(total / ((double)batch * %lld));", d);
}

static void k_loss_bwd(Emitter *e, const IrGraph *g, const IrNode *b)
{
    const IrNode *f = &g->nodes[b->a.of];
    long long d = numel_of(g, f->in[0]);
    char w[32];
    emit_float(w, sizeof w, f->a.weight);
    if (f->op == IR_CROSS_ENTROPY) {
        /* x - m row by row, the exponentials of the whole batch in one call, then each row's softmax - onehot */
        emit_line(e, "const float scale = %s / (float)batch;", w);
        emit_line(e, "for (int n = 0; n < batch; n++) {");
        emit_line(e, "const float *xr = x + (size_t)n * %lld;", d);
        emit_line(e, "float *dr = dx + (size_t)n * %lld;", d);
        emit_row_max(e, d);
        emit_line(e, "for (int i = 0; i < %lld; i++) dr[i] = xr[i] - m;", d);
        emit_line(e, "}");
        emit_line(e, "nnrt_vexp(dx, dx, (size_t)batch * %lld);", d);
        emit_line(e, "for (int n = 0; n < batch; n++) {");
        emit_line(e, "float *dr = dx + (size_t)n * %lld, s = 0.0f;", d);
        emit_line(e, "for (int i = 0; i < %lld; i++) s += dr[i];", d);
        emit_line(e, "for (int i = 0; i < %lld; i++) dr[i] = dr[i] / s * scale;", d);
        emit_line(e, "dr[t[n]] -= scale;");
        emit_line(e, "}");
        return;
    }
    static const char *grad[] = {[IR_MSE] = "2.0f * (x[i] - t[i])",
                                 [IR_L1] = "(float)((x[i] > t[i]) - (x[i] < t[i]))",
                                 [IR_BCE_WITH_LOGITS] = "(dx[i] - t[i])"};
    emit_line(e, "const float scale = %s / ((float)batch * %lld.0f);", w, d);
    if (f->op == IR_BCE_WITH_LOGITS)
        emit_line(e, "nnrt_vsigmoid(dx, x, (size_t)batch * %lld);  /* then dx = (sigmoid(x) - t) scale */", d);
    emit_line(e, "for (size_t i = 0; i < (size_t)batch * %lld; i++)", d);
    emit_line(e, "    dx[i] = %s * scale;", grad[f->op]);
}

/* ---- backward of each op ------------------------------------------------- */

static const char *grad_formula(const IrGraph *g, const IrNode *f, const char *dy, const char *y, const char *x);

/*
 * The activation whose derivative input-gradient kernel b applies as it
 * stores dx (fuse.c), or NULL: the forward node of b's fused BWD epilogue.
 */
static const IrNode *grad_gate(const IrGraph *g, const IrNode *b)
{
    return b->a.epilogue ? &g->nodes[g->nodes[b->a.epilogue].a.of] : NULL;
}

/*
 * Multiplies count gradients at d by the gate's derivative, read from its
 * output at y: the same formula, so the same rounding, as its own kernel.
 */
static void emit_gate_loop(Emitter *e, const IrGraph *g, const IrNode *act, const char *d, const char *y,
                           const char *count)
{
    emit_line(e, "for (size_t i = 0; i < (size_t)%s; i++)  /* fused %s backward */", count, act->name);
    emit_line(e, "    %s[i] = %s;", d, grad_formula(g, act, d, y, NULL));
}

/*
 * The gate of input-gradient kernel b, if it has one, on the `count`
 * gradients at d: those of sample (or channel plane) `index`, whose
 * activation outputs start at gate + index * count.
 */
static void emit_gate_at(Emitter *e, const IrGraph *g, const IrNode *b, const char *d, const char *index, int count)
{
    if (!grad_gate(g, b))
        return;
    emit_line(e, "const float *gp = gate + (size_t)%s * %d;", index, count);
    emit_gate_loop(e, g, grad_gate(g, b), d, "gp", arena_printf(g->arena, "%d", count));
}

/* The runtime's name of the gate's derivative, for the GEMM epilogue. */
static const char *gate_enum(const IrNode *act)
{
    switch (act->op) {
    case IR_RELU: return "NNRT_GATE_RELU";
    case IR_SIGMOID: return "NNRT_GATE_SIGMOID";
    case IR_TANH: return "NNRT_GATE_TANH";
    default: netc_unreachable();
    }
}

/* dense on the GEMM: dX = dY W, dW = dY^T X, dbias = column sums of dY. */
static void k_dense_bwd_gemm(Emitter *e, const IrGraph *g, const IrNode *b, const IrNode *f, int d, int u, long long rows)
{
    if (b->a.wrt >= 0) {
        const IrNode *act = grad_gate(g, b);
        if (act)
            emit_line(e, "const NnrtEpilogue ep = {.gate = %s, .gate_y = gate, .ld_gate = %d};  /* fused %s backward */",
                      gate_enum(act), d, act->name);
        emit_line(e, "nnrt_sgemm(0, 0, batch * %lld, %d, %d, dy, %d, w, %d, dx, %d, %s, NULL, pack);", rows, d, u, u, d, d,
                  act ? "&ep" : "NULL");
        return;
    }
    bool upd = emit_update_fused(g, (int)(b - g->nodes));
    if (upd && emit_update_is_adam(g)) {
        emit_line(e, "const NnrtAdam adam = %s_adam_at(upd);", g->name);
        emit_line(e, "const NnrtEpilogue ep = {.adam = &adam};  /* fused: the runtime's adam update of %s */",
                  g->params[f->param[0]].name);
    } else if (upd) {
        emit_line(e, "const NnrtEpilogue ep = {.tile = %s_update_tile, .tile_ctx = upd};  /* fused: the %s update of %s */",
                  g->name, g->opt.name, g->params[f->param[0]].name);
    }
    emit_line(e, "nnrt_sgemm(1, 0, %d, %d, batch * %lld, dy, %d, x, %d, dw, %d, %s, NULL, pack);", u, d, rows, u, d, d,
              upd ? "&ep" : "NULL");
    if (!f->a.bias)
        return;
    emit_line(e, "memset(dbias, 0, sizeof(float) * %d);", u);
    emit_line(e, "for (size_t r = 0; r < (size_t)batch * %lld; r++)", rows);
    emit_line(e, "    for (int u = 0; u < %d; u++) dbias[u] += dy[r * %d + u];", u, u);
}

/* " + k", or "" for 0: an offset in emitted C. */
static const char *plus(const IrGraph *g, int k)
{
    return k ? arena_printf(g->arena, " + %d", k) : "";
}

enum { DX_BLOCK = 8 }; /* vectors of a row of dx in registers at once */

/* A small dense layer's backward as the emitted blocks see it. */
typedef struct DenseBwd {
    const IrGraph *g;
    int V, d, u;      /* vector width, inputs, units */
    long long rows;   /* rows per sample */
    bool relu_gate;   /* dx: the fused gate is relu, applied as a lane mask */
    int nu;           /* dW: units of the block being emitted */
    bool dbias;       /* dW: the blocks also sum dbias (the same value in each) */
    int tail_at;      /* dx: the block's first column when it also does the last V (else -1) */
} DenseBwd;

/*
 * Part of a small dense layer's input gradient, vectorized over d: nv
 * vectors of dx from column i on, each a sum over the units in order, in
 * registers (the order of the scalar loop, so the same bits); with tail_at,
 * one more: the last V columns, recomputed where they overlap (the same
 * sums, so the same bits).  In its own block, that vector was one chain of
 * FMAs, latency-bound (docs/performance.md, 2026-12-03 16:25-16:50).
 */
static void dense_dx_block(Emitter *e, const void *ctx, int nv)
{
    const DenseBwd *c = ctx;
    const IrGraph *g = c->g;
    const char *N = g->name;
    int V = c->V, all = nv + (c->tail_at >= 0);
    int off[DX_BLOCK + 1]; /* vector j's first column, from i */
    for (int j = 0; j < all; j++)
        off[j] = j < nv ? j * V : c->d - V - c->tail_at;
    for (int j = 0; j < all; j++)
        emit_line(e, "%s_v%d s%d = {0.0f};", N, V, j);
    emit_line(e, "for (int u = 0; u < %d; u++) {", c->u);
    emit_line(e, "const float gu = dyr[u];");
    emit_line(e, "const float *wu = w + (size_t)u * %d + i;", c->d);
    for (int j = 0; j < all; j++)
        emit_line(e, "s%d += gu * %s_LD%d(wu%s);", j, N, V, plus(g, off[j]));
    emit_line(e, "}");
    for (int j = 0; j < all; j++) {
        if (c->relu_gate)  /* the relu gate as a lane mask: gr > 0 ? s : 0 */
            emit_line(e, "s%d = (%s_v%d)((%s_v%di)s%d & (%s_LD%d(gr + i%s) > 0.0f));", j, N, V, N, V, j, N, V,
                      plus(g, off[j]));
        emit_line(e, "memcpy(dxr + i%s, &s%d, sizeof s%d);", plus(g, off[j]), j, j);
    }
}

/*
 * A block of a small dense layer's weight gradient: units u0..u0+nu-1 by
 * nc vectors of columns from column i, each a sum over the rows in order
 * in registers, then stored.  With dbias, also those units' bias gradients,
 * summed over the rows in order on the add pipes the FMAs leave free (a
 * loop of its own cost fashion_mlp's 10x128 head 9%: docs/performance.md,
 * 2026-12-03 16:25-16:50); every block stores the same sums.
 */
static void dense_dw_block(Emitter *e, const void *ctx, int nc)
{
    const DenseBwd *c = ctx;
    const IrGraph *g = c->g;
    const char *N = g->name;
    int V = c->V, nu = c->nu;
    for (int j = 0; j < nu; j++)
        for (int k = 0; k < nc; k++)
            emit_line(e, "%s_v%d s%d_%d = {0.0f};", N, V, j, k);
    for (int j = 0; c->dbias && j < nu; j++)
        emit_line(e, "float b%d = 0.0f;", j);
    emit_line(e, "for (size_t r = 0; r < (size_t)batch * %lld; r++) {", c->rows);
    emit_line(e, "const float *dyr = dy + r * %d + u0;", c->u);
    for (int k = 0; k < nc; k++)
        emit_line(e, "const %s_v%d x%d = %s_LD%d(x + r * %d + i%s);", N, V, k, N, V, c->d, plus(g, k * V));
    for (int j = 0; j < nu; j++)
        for (int k = 0; k < nc; k++)
            emit_line(e, "s%d_%d += dyr[%d] * x%d;", j, k, j, k);
    for (int j = 0; c->dbias && j < nu; j++)
        emit_line(e, "b%d += dyr[%d];", j, j);
    emit_line(e, "}");
    for (int j = 0; c->dbias && j < nu; j++)
        emit_line(e, "dbias[u0%s] = b%d;", plus(g, j), j);
    for (int j = 0; j < nu; j++)
        for (int k = 0; k < nc; k++)
            emit_line(e, "memcpy(dw + (size_t)(u0%s) * %d + i%s, &s%d_%d, sizeof s%d_%d);", plus(g, j), c->d, plus(g, k * V),
                      j, k, j, k);
}

/*
 * The weight gradient of units u0..u0+nu-1: blocks of two column vectors
 * (dense_dw_block), then the columns past the last whole vector as one more
 * block of the last V columns, recomputed where they overlap the vectors
 * before: each lane the same sum in the same order, so the same bits.
 */
static void dense_dw_units(Emitter *e, const void *ctx, int nu)
{
    DenseBwd c = *(const DenseBwd *)ctx;
    int nvec = c.d / c.V;
    c.nu = nu;
    emit_blocks(e, "i", nvec, nvec < 2 ? nvec : 2, c.V, dense_dw_block, &c);
    if (c.d % c.V == 0)
        return;
    emit_line(e, "{  /* columns %d..%d: the last %d */", nvec * c.V, c.d - 1, c.V);
    emit_line(e, "const int i = %d;", c.d - c.V);
    dense_dw_block(e, &c, 1);
    emit_line(e, "}");
}

/*
 * A small dense layer's backward (below the GEMM), on <net>_v<V> vectors
 * (emit_dense_width) where its rows have one: each sum in registers, over
 * the units (dx) or the rows (dW) in order, so a vector lane and a scalar
 * loop compute the same value.  dx: a row at a time, blocks of up to
 * DX_BLOCK vectors of columns.  dW: blocks of units by two vectors of
 * columns, as many units as the registers hold beside them, summing dbias
 * too.  The columns past the last whole vector as one more vector, the
 * last V columns (in dx's last block, or dW's block after its last; as
 * scalar loops, lenet5's 84-column head ran at 30% of the FMA peak:
 * docs/performance.md, 2026-12-03 16:25-16:50).  With V = 0 every column,
 * and dbias, as scalar loops.
 */
static void k_dense_bwd_loops(Emitter *e, const IrGraph *g, const IrNode *b, const IrNode *f, int V, int d, int u,
                              long long rows)
{
    int nvec = V ? d / V : 0;
    const IrNode *act = b->a.wrt >= 0 ? grad_gate(g, b) : NULL;
    const DenseBwd c = {g, V, d, u, rows, act && act->op == IR_RELU, 0, V && f->a.bias, -1};
    if (b->a.wrt >= 0) {
        emit_line(e, "for (size_t r = 0; r < (size_t)batch * %lld; r++) {", rows);
        emit_line(e, "const float *dyr = dy + r * %d;", u);
        emit_line(e, "float *dxr = dx + r * %d;", d);
        if (act)
            emit_line(e, "const float *gr = gate + r * %d;", d);
        if (V) {  /* blocks of DX_BLOCK vectors; the last (one more with the tail) outside the loop */
            int step = nvec < DX_BLOCK ? nvec : DX_BLOCK, full = nvec / step, rest = nvec - full * step;
            if (rest == 0 && d % V) {
                full--;
                rest = step;
            }
            emit_blocks(e, "i", full * step, step, V, dense_dx_block, &c);
            if (rest) {
                DenseBwd last = c;
                last.tail_at = d % V ? full * step * V : -1;
                emit_line(e, "{");
                emit_line(e, "const int i = %d;", full * step * V);
                dense_dx_block(e, &last, rest);
                emit_line(e, "}");
            }
        }
        if (!V) {
            emit_line(e, "for (int i = 0; i < %d; i++) {", d);
            emit_line(e, "float a = 0.0f;");
            emit_line(e, "for (int u = 0; u < %d; u++) a += dyr[u] * w[(size_t)u * %d + i];", u, d);
            emit_line(e, "dxr[i] = a;");
            emit_line(e, "}");
        }
        if (act && !(V && c.relu_gate))  /* else the vectors applied it as a lane mask */
            emit_gate_loop(e, g, act, "dxr", "gr", arena_printf(g->arena, "%d", d));
        emit_line(e, "}");
        return;
    }
    if (nvec) {
        int most = (V == 16 ? 24 : 12) / (nvec < 2 ? nvec : 2), groups = (u + most - 1) / most;
        emit_blocks(e, "u0", u, (u + groups - 1) / groups, 1, dense_dw_units, &c);
    }
    if (!V) {
        emit_line(e, "for (int u = 0; u < %d; u++) {", u);
        emit_line(e, "for (int i = 0; i < %d; i++) {", d);
        emit_line(e, "float a = 0.0f;");
        emit_line(e, "for (size_t r = 0; r < (size_t)batch * %lld; r++) a += dy[r * %d + u] * x[r * %d + i];", rows, u, d);
        emit_line(e, "dw[(size_t)u * %d + i] = a;", d);
        emit_line(e, "}");
        emit_line(e, "}");
    }
    if (!f->a.bias || V)  /* with vectors, the weight gradient's blocks summed it */
        return;
    emit_line(e, "memset(dbias, 0, sizeof(float) * %d);", u);
    emit_line(e, "for (size_t r = 0; r < (size_t)batch * %lld; r++)", rows);
    emit_line(e, "    for (int u = 0; u < %d; u++) dbias[u] += dy[r * %d + u];", u, u);
}

/* dense: dx = dy W; dW = dy^T x, dbias = column sums of dy. */
static void k_dense_bwd(Emitter *e, const IrGraph *g, const IrNode *b, const IrNode *f)
{
    const IrShape *xs = shape_of(g, f->in[0]);
    int d = xs->dim[xs->ndim - 1], u = f->a.units;
    long long rows = ir_numel(xs) / d;
    if (f->sched.gemm) {
        k_dense_bwd_gemm(e, g, b, f, d, u, rows);
        return;
    }
    k_dense_bwd_loops(e, g, b, f, emit_dense_width(f), d, u, rows);
}

/*
 * conv2d on the GEMM, per sample and group: dW += dY col^T (col = im2col of
 * x), or dcol = W^T dY and dx = col2im(dcol).
 */
static void k_conv_bwd_gemm(Emitter *e, const IrGraph *g, const IrNode *b, const IrNode *f)
{
    const IrAttrs *a = &f->a;
    const IrShape *xs = shape_of(g, f->in[0]);
    int c = xs->dim[0], h = xs->dim[1], w = xs->dim[2], fo = f->shape.dim[0], hw = f->shape.dim[1] * f->shape.dim[2];
    int cg = c / a->groups, fg = fo / a->groups, kk = cg * a->kernel[0] * a->kernel[0];
    bool direct = emit_conv_is_pointwise(f), params = b->a.wrt < 0;
    if (params) {
        emit_line(e, "memset(dw, 0, sizeof(float) * %d);", fo * kk);
        if (a->bias)
            emit_line(e, "memset(dbias, 0, sizeof(float) * %d);", fo);
        emit_line(e, "const NnrtEpilogue acc = {.accumulate = 1};");
    } else {
        emit_line(e, "memset(dx, 0, sizeof(float) * (size_t)batch * %d);", c * h * w);
    }
    emit_line(e, "for (int n = 0; n < batch; n++) {");
    emit_line(e, "const float *dyn = dy + (size_t)n * %d;", fo * hw);
    if (params) {
        emit_line(e, "const float *xn = x + (size_t)n * %d;", c * h * w);
        if (direct)
            emit_line(e, "const float *cols = xn;");
        else {
            emit_im2col(e, g, f, "xn", "col", false, arena_printf(g->arena, "%d", hw), "0");
            emit_line(e, "const float *cols = col;");
        }
        emit_line(e, "for (int gr = 0; gr < %d; gr++)", a->groups);
        emit_line(e, "    nnrt_sgemm(0, 1, %d, %d, %d, dyn + (size_t)gr * %d, %d, cols + (size_t)gr * %d, %d, dw + (size_t)gr * %d, "
                     "%d, &acc, NULL, pack);", fg, kk, hw, fg * hw, hw, kk * hw, hw, fg * kk, kk);
        if (a->bias) {
            emit_line(e, "for (int f = 0; f < %d; f++)", fo);
            emit_line(e, "    for (int i = 0; i < %d; i++) dbias[f] += dyn[f * %d + i];", hw, hw);
        }
    } else {
        emit_line(e, "float *dxn = dx + (size_t)n * %d;", c * h * w);
        emit_line(e, "float *dcol = %s;", direct ? "dxn" : "col");
        emit_line(e, "for (int gr = 0; gr < %d; gr++)", a->groups);
        emit_line(e, "    nnrt_sgemm(1, 0, %d, %d, %d, w + (size_t)gr * %d, %d, dyn + (size_t)gr * %d, %d, dcol + (size_t)gr * %d, "
                     "%d, NULL, NULL, pack);", kk, hw, fg, fg * kk, kk, fg * hw, hw, kk * hw, hw);
        if (!direct)
            emit_im2col(e, g, f, "dxn", "col", true, arena_printf(g->arena, "%d", hw), "0");
        emit_gate_at(e, g, b, "dxn", "n", c * h * w);
    }
    emit_line(e, "}");
    if (direct)
        emit_line(e, "(void)col;");
}

/*
 * conv2d with groups == 1 as one GEMM for the batch (see
 * k_conv_gemm_batched): dY' = dY laid out [F][batch HW]; dW = dY' cols^T
 * with cols the batch's im2col, or dcols = W^T dY' and dx = col2im(dcols).
 */
/* A batched convolution's backward job names: "dyg" (dY into the GEMM layout), "col2im". */
static const char *conv_bwd_job(const IrGraph *g, const IrNode *b, const char *what)
{
    return arena_printf(g->arena, "%s_%s", emit_train_kernel_name(g, (int)(b - g->nodes)), what);
}

/* The per-sample jobs of a batched convolution's backward kernel b, emitted before it. */
static void emit_conv_bwd_jobs(Emitter *e, const IrGraph *g, const IrNode *b, const IrNode *f)
{
    const IrShape *xs = shape_of(g, f->in[0]);
    int c = xs->dim[0], h = xs->dim[1], w = xs->dim[2], fo = f->shape.dim[0], hw = f->shape.dim[1] * f->shape.dim[2];
    char ld[32];
    snprintf(ld, sizeof ld, "(size_t)batch * %d", hw);
    emit_samples_fn_begin(e, conv_bwd_job(g, b, "dyg"), "dy", "dyg", NULL);
    emit_conv_permute(e, "dy", "dyg", fo, hw, true);
    emit_samples_fn_end(e);
    if (b->a.wrt < 0)
        return;
    emit_samples_fn_begin(e, conv_bwd_job(g, b, "col2im"), "cols", "dx", b->a.epilogue ? "gate" : NULL);
    emit_line(e, "float *dxn = dx + (size_t)n * %d;", c * h * w);
    emit_line(e, "memset(dxn, 0, sizeof(float) * %d);", c * h * w);
    emit_im2col(e, g, f, "dxn", "cols", true, ld, arena_printf(g->arena, "(size_t)n * %d", hw));
    emit_gate_at(e, g, b, "dxn", "n", c * h * w);
    emit_samples_fn_end(e);
}

/*
 * conv2d, groups == 1, backward as GEMMs over [F][group HW], one group of
 * sched.group samples at a time (as the forward, k_conv_gemm_batched):
 * dW = sum over groups of dY' cols^T (cols recomputed by the forward's
 * im2col job; the first group stores, the others accumulate), or
 * dcols = W^T dY' and then col2im into dX.
 */
static void k_conv_bwd_batched(Emitter *e, const IrGraph *g, const IrNode *b, const IrNode *f)
{
    const IrShape *xs = shape_of(g, f->in[0]);
    int c = xs->dim[0], fo = f->shape.dim[0], hw = f->shape.dim[1] * f->shape.dim[2], gs = f->sched.group;
    int kk = c * f->a.kernel[0] * f->a.kernel[0], chw = c * xs->dim[1] * xs->dim[2];
    bool params = b->a.wrt < 0;
    emit_line(e, "float *cols = col, *dyg = col + (size_t)(batch < %d ? batch : %d) * %d;", gs, gs, kk * hw);
    if (params)
        emit_line(e, "const NnrtEpilogue acc = {.accumulate = 1};");
    emit_line(e, "const int ng = (batch + %d) / %d;  /* groups of at most %d samples, sizes within one */", gs - 1, gs, gs);
    emit_line(e, "for (int gi = 0; gi < ng; gi++) {");
    emit_line(e, "const int g0 = (int)((long)gi * batch / ng), gn = (int)((long)(gi + 1) * batch / ng) - g0;");
    emit_samples_call(e, conv_bwd_job(g, b, "dyg"), arena_printf(g->arena, "dy + (size_t)g0 * %d", fo * hw), "dyg", NULL,
                      "gn", (long long)fo * hw);
    if (params) {
        emit_samples_call(e, emit_conv_job(g, b->a.of, "cols"), arena_printf(g->arena, "x + (size_t)g0 * %d", chw), "cols",
                          NULL, "gn", (long long)kk * hw);
        emit_line(e, "nnrt_sgemm(0, 1, %d, %d, gn * %d, dyg, gn * %d, cols, gn * %d, dw, %d, g0 ? &acc : NULL, NULL, pack);",
                  fo, kk, hw, hw, hw, kk);
        if (f->a.bias) {
            emit_line(e, "for (int f = 0; f < %d; f++) {", fo);
            emit_line(e, "float s = 0.0f;");
            emit_line(e, "for (size_t i = 0; i < (size_t)gn * %d; i++) s += dyg[(size_t)f * gn * %d + i];", hw, hw);
            emit_line(e, "dbias[f] = g0 ? dbias[f] + s : s;");
            emit_line(e, "}");
        }
    } else {
        emit_line(e, "nnrt_sgemm(1, 0, %d, gn * %d, %d, w, %d, dyg, gn * %d, cols, gn * %d, NULL, NULL, pack);", kk, hw, fo,
                  kk, hw, hw);
        emit_samples_call(e, conv_bwd_job(g, b, "col2im"), "cols", arena_printf(g->arena, "dx + (size_t)g0 * %d", chw),
                          b->a.epilogue ? arena_printf(g->arena, "gate + (size_t)g0 * %d", chw) : NULL, "gn",
                          (long long)kk * hw);
    }
    emit_line(e, "}");
}

/* conv2d: scatter each output gradient back over its window. */
static void k_conv_bwd(Emitter *e, const IrGraph *g, const IrNode *b, const IrNode *f)
{
    if (f->sched.filters && b->a.wrt < 0) {
        emit_conv_filters_dw(e, g, (int)(b - g->nodes), f);
        return;
    }
    if (f->sched.dx_pixels) {
        int chw = (int)ir_numel(shape_of(g, f->in[0]));
        emit_line(e, "for (int n = 0; n < batch; n++) {");
        emit_line(e, "float *dxn = dx + (size_t)n * %d;", chw);
        emit_conv_filters_dx(e, g, f);
        emit_gate_at(e, g, b, "dxn", "n", chw);
        emit_line(e, "}");
        return;
    }
    if (f->sched.gemm && emit_conv_batched(f)) {
        k_conv_bwd_batched(e, g, b, f);
        return;
    }
    if (f->sched.gemm) {
        k_conv_bwd_gemm(e, g, b, f);
        return;
    }
    if (f->sched.direct && b->a.wrt < 0) {
        emit_conv_direct_dw(e, g, (int)(b - g->nodes), f);
        return;
    }
    const IrAttrs *a = &f->a;
    const IrShape *xs = shape_of(g, f->in[0]);
    int c = xs->dim[0], h = xs->dim[1], w = xs->dim[2];
    int fo = f->shape.dim[0], ho = f->shape.dim[1], wo = f->shape.dim[2];
    int cg = c / a->groups, fg = fo / a->groups, k = a->kernel[0];
    bool params = b->a.wrt < 0;
    if (params) {
        emit_line(e, "memset(dw, 0, sizeof(float) * %d);", fo * cg * k * k);
        if (a->bias)
            emit_line(e, "memset(dbias, 0, sizeof(float) * %d);", fo);
    } else {
        emit_line(e, "memset(dx, 0, sizeof(float) * (size_t)batch * %d);", c * h * w);
    }
    emit_line(e, "for (int n = 0; n < batch; n++) {");
    emit_line(e, "for (int f = 0; f < %d; f++) {", fo);
    emit_line(e, "const size_t xoff = ((size_t)n * %d + (size_t)(f / %d) * %d) * %d;", c, fg, cg, h * w);
    emit_line(e, "const float *dyf = dy + ((size_t)n * %d + f) * %d;", fo, ho * wo);
    emit_line(e, params ? "float *wf = dw + (size_t)f * %d;" : "const float *wf = w + (size_t)f * %d;", cg * k * k);
    emit_line(e, "for (int oh = 0; oh < %d; oh++) {", ho);
    emit_line(e, "for (int ow = 0; ow < %d; ow++) {", wo);
    emit_line(e, "const float gy = dyf[oh * %d + ow];", wo);
    if (params && a->bias)
        emit_line(e, "dbias[f] += gy;");
    emit_line(e, "for (int c = 0; c < %d; c++) {", cg);
    emit_line(e, "for (int kh = 0; kh < %d; kh++) {", k);
    emit_line(e, "const int ih = oh * %d - %d + kh * %d;", a->stride[0], a->pad[0], a->dilation[0]);
    emit_line(e, "if (ih < 0 || ih >= %d) continue;", h);
    emit_line(e, "for (int kw = 0; kw < %d; kw++) {", k);
    emit_line(e, "const int iw = ow * %d - %d + kw * %d;", a->stride[1], a->pad[1], a->dilation[1]);
    emit_line(e, "if (iw < 0 || iw >= %d) continue;", w);
    if (params)
        emit_line(e, "wf[(c * %d + kh) * %d + kw] += gy * x[xoff + (size_t)(c * %d + ih) * %d + iw];", k, k, h, w);
    else
        emit_line(e, "dx[xoff + (size_t)(c * %d + ih) * %d + iw] += gy * wf[(c * %d + kh) * %d + kw];", h, w, k, k);
    for (int i = 0; i < 6; i++)
        emit_line(e, "}");
    if (!params && grad_gate(g, b)) {
        emit_line(e, "float *dxn = dx + (size_t)n * %d;", c * h * w);
        emit_gate_at(e, g, b, "dxn", "n", c * h * w);
    }
    emit_line(e, "}");
}

/*
 * maxpool2d whose windows tile the input exactly (stride == kernel, no
 * padding, sizes divisible): every input belongs to one window, so each
 * window writes all its gradients — dy at its first maximum, 0 elsewhere —
 * with no clearing pass and no read-modify-write.  The first maximum is
 * found with flags rather than jumps (ReLU outputs tie often, and the
 * mispredicted branches cost 5x); the result is the general loop's.
 */
static void k_maxpool_bwd_tiled(Emitter *e, const IrGraph *g, const IrNode *b, int c, int h, int w, int k)
{
    int ho = h / k, wo = w / k, kk = k * k;
    emit_line(e, "for (size_t nc = 0; nc < (size_t)batch * %d; nc++) {", c);
    emit_line(e, "const float *xc = x + nc * %d;", h * w);
    emit_line(e, "float *dxc = dx + nc * %d;", h * w);
    emit_line(e, "const float *dyc = dy + nc * %d;", ho * wo);
    emit_line(e, "for (int oh = 0; oh < %d; oh++) {", ho);
    emit_line(e, "for (int ow = 0; ow < %d; ow++) {", wo);
    emit_line(e, "const float *xw = xc + oh * %d + ow * %d;", k * w, k);
    emit_line(e, "float *dxw = dxc + oh * %d + ow * %d;", k * w, k);
    for (int t = 0; t < kk; t++)
        emit_line(e, "const float v%d = xw[%d];", t, t / k * w + t % k);
    emit_line(e, "float m = -INFINITY;");
    for (int t = 0; t < kk; t++)
        emit_line(e, "m = v%d > m ? v%d : m;", t, t);
    emit_line(e, "const float gy = dyc[oh * %d + ow];", wo);
    emit_line(e, "int left = m > -INFINITY;  /* branch-free: flags, not jumps */");
    for (int t = 0; t < kk; t++) {
        emit_line(e, "const int hit%d = left & (v%d == m);", t, t);
        if (t < kk - 1)
            emit_line(e, "left &= !hit%d;", t);
    }
    for (int t = 0; t < kk; t++)
        emit_line(e, "dxw[%d] = hit%d ? gy : 0.0f;", t / k * w + t % k, t);
    emit_line(e, "}");
    emit_line(e, "}");
    emit_gate_at(e, g, b, "dxc", "nc", h * w);
    emit_line(e, "}");
}

/* Pools: the gradient goes to the window's first maximum, or is shared evenly. */
static void k_pool_bwd(Emitter *e, const IrGraph *g, const IrNode *b, const IrNode *f)
{
    const IrAttrs *a = &f->a;
    const IrShape *xs = shape_of(g, f->in[0]);
    int c = xs->dim[0], h = xs->dim[1], w = xs->dim[2], ho = f->shape.dim[1], wo = f->shape.dim[2];
    int k = a->kernel[0], s = a->stride[0], p = a->pad[0];
    bool mx = f->op == IR_MAXPOOL2D;
    if (mx && s == k && !a->pad[0] && !a->pad[1] && !a->pad[2] && !a->pad[3] && h % k == 0 && w % k == 0 &&
        ho == h / k && wo == w / k) {
        k_maxpool_bwd_tiled(e, g, b, c, h, w, k);
        return;
    }
    emit_line(e, "memset(dx, 0, sizeof(float) * (size_t)batch * %d);", c * h * w);
    emit_line(e, "for (size_t nc = 0; nc < (size_t)batch * %d; nc++) {", c);
    if (mx)
        emit_line(e, "const float *xc = x + nc * %d;", h * w);
    emit_line(e, "float *dxc = dx + nc * %d;", h * w);
    emit_line(e, "const float *dyc = dy + nc * %d;", ho * wo);
    emit_line(e, "for (int oh = 0; oh < %d; oh++) {", ho);
    emit_line(e, "for (int ow = 0; ow < %d; ow++) {", wo);
    if (mx)
        emit_line(e, "float best = -INFINITY;"), emit_line(e, "int at = -1;");
    emit_line(e, "for (int kh = 0; kh < %d; kh++) {", k);
    emit_line(e, "const int ih = oh * %d - %d + kh;", s, p);
    emit_line(e, "if (ih < 0 || ih >= %d) continue;", h);
    emit_line(e, "for (int kw = 0; kw < %d; kw++) {", k);
    emit_line(e, "const int iw = ow * %d - %d + kw;", s, p);
    emit_line(e, "if (iw < 0 || iw >= %d) continue;", w);
    if (mx) {
        emit_line(e, "if (xc[ih * %d + iw] > best) {", w);
        emit_line(e, "best = xc[ih * %d + iw];", w);
        emit_line(e, "at = ih * %d + iw;", w);
        emit_line(e, "}");
    } else {
        emit_line(e, "dxc[ih * %d + iw] += dyc[oh * %d + ow] / %d.0f;", w, wo, k * k);
    }
    emit_line(e, "}");
    emit_line(e, "}");
    if (mx)
        emit_line(e, "if (at >= 0) dxc[at] += dyc[oh * %d + ow];", wo);
    emit_line(e, "}");
    emit_line(e, "}");
    emit_gate_at(e, g, b, "dxc", "nc", h * w);
    emit_line(e, "}");
}

/*
 * d/dv of the unary elementwise ops, as an expression of dy, x or y; for
 * gelu and silu of dx, where nnrt_vgelu_grad / nnrt_vsilu_grad put the
 * derivative first (unary_grad_fn).
 */
static const char *unary_grad_fn(IrOp op)
{
    return op == IR_GELU ? "nnrt_vgelu_grad" : op == IR_SILU ? "nnrt_vsilu_grad" : NULL;
}

/* The derivative of f at element i, times dy[i]; dy, y and x name the arrays (dx for gelu/silu). */
static const char *grad_formula(const IrGraph *g, const IrNode *f, const char *dy, const char *y, const char *x)
{
    char buf[32];
    switch (f->op) {
    case IR_RELU: return arena_printf(g->arena, "%s[i] > 0.0f ? %s[i] : 0.0f", y, dy);
    case IR_LEAKY_RELU:
        return arena_printf(g->arena, "%s[i] * nnrt_leaky_factor(%s[i], %s)", dy, x, emit_float(buf, sizeof buf, f->a.alpha));
    case IR_SIGMOID: return arena_printf(g->arena, "%s[i] * %s[i] * (1.0f - %s[i])", dy, y, y);
    case IR_TANH: return arena_printf(g->arena, "%s[i] * (1.0f - %s[i] * %s[i])", dy, y, y);
    case IR_GELU:
    case IR_SILU: return arena_printf(g->arena, "%s[i] * dx[i]", dy);
    case IR_MUL: return arena_printf(g->arena, "%s[i] * other[i]", dy);
    default: netc_unreachable();
    }
}

static const char *unary_grad(const IrGraph *g, const IrNode *f)
{
    return grad_formula(g, f, "dy", "y", "x");
}

static void k_softmax_bwd(Emitter *e, const IrNode *f)
{
    int l = f->shape.dim[f->shape.ndim - 1];
    long long rows = ir_numel(&f->shape) / l;
    emit_line(e, "for (size_t r = 0; r < (size_t)batch * %lld; r++) {", rows);
    emit_line(e, "const float *yr = y + r * %d, *dyr = dy + r * %d;", l, l);
    emit_line(e, "float *dxr = dx + r * %d;", l);
    emit_line(e, "float s = 0.0f;");
    if (f->op == IR_SOFTMAX) {
        emit_line(e, "for (int i = 0; i < %d; i++) s += dyr[i] * yr[i];", l);
        emit_line(e, "for (int i = 0; i < %d; i++) dxr[i] = yr[i] * (dyr[i] - s);", l);
    } else {
        emit_line(e, "for (int i = 0; i < %d; i++) s += dyr[i];", l);
        emit_line(e, "nnrt_vexp(dxr, yr, %d);  /* softmax = exp(log_softmax) */", l);
        emit_line(e, "for (int i = 0; i < %d; i++) dxr[i] = dyr[i] - dxr[i] * s;", l);
    }
    emit_line(e, "}");
}

/* batchnorm on batch statistics: dx, or dweight and dbias, per channel. */
/* batchnorm backward, one channel (the body of its channel job): dW and dbias, or dx. */
static void bn_bwd_channel(Emitter *e, const IrGraph *g, const IrNode *b, const IrNode *f)
{
    int c = f->shape.dim[0];
    long long inner = ir_numel(&f->shape) / c;
    const char *plane = arena_printf(g->arena, "const float *dyc = dy + ((size_t)n * %d + c) * %lld, "
                                               "*xc = x + ((size_t)n * %d + c) * %lld;", c, inner, c, inner);
    if (b->a.wrt >= 0)
        emit_line(e, "const float count = (float)batch * %lld.0f;", inner);
    emit_line(e, "const float mean = stats[c], invstd = stats[%d + c];", c);
    if (bn_sums_before(g, b) >= 0) {
        emit_line(e, "const float sdy = sdy_done[c], sdyx = sdyx_done[c];  /* the sums dbias and dw hold */");
    } else {
        /* two passes: GCC 12 vectorizes each sum, not the two in one loop (4x slower) */
        emit_line(e, "float sdy, sdyx;");
        emit_line(e, "{");
        emit_channel_sum(e, g, "float", "sdy",
                         arena_printf(g->arena, "const float *dyc = dy + ((size_t)n * %d + c) * %lld;", c, inner), inner,
                         "dyc[i]");
        emit_line(e, "}");
        emit_line(e, "{");
        emit_channel_sum(e, g, "float", "sdyx", plane, inner, "dyc[i] * (xc[i] - mean) * invstd");
        emit_line(e, "}");
    }
    if (b->a.wrt < 0) {
        emit_line(e, "dw[c] = sdyx;");
        emit_line(e, "dbias[c] = sdy;");
    } else {
        emit_line(e, "const float k = w[c] * invstd, mdy = sdy / count, kx = invstd * sdyx / count;");
        emit_line(e, "for (int n = 0; n < batch; n++) {");
        emit_line(e, "const size_t o = ((size_t)n * %d + c) * %lld;", c, inner);
        emit_line(e, "for (int i = 0; i < %lld; i++)", inner);
        emit_line(e, "    dx[o + i] = k * (dy[o + i] - mdy - (x[o + i] - mean) * kx);");
        emit_line(e, "}");
    }
}

/* batchnorm backward: its channels over the pool (bn_bwd_channel). */
static void k_bn_bwd(Emitter *e, const IrGraph *g, const IrNode *b, const IrNode *f, const KArgs *a)
{
    int c = f->shape.dim[0];
    long long inner = ir_numel(&f->shape) / c;
    emit_channels_call(e, channels_job(g, (int)(b - g->nodes)), a, c,
                       arena_printf(g->arena, "(long long)batch * %lld", 8 * inner));
}

static void k_ln_bwd(Emitter *e, const IrNode *b, const IrNode *f)
{
    int d = f->shape.dim[f->shape.ndim - 1];
    long long rows = ir_numel(&f->shape) / d;
    char eps[32];
    emit_float(eps, sizeof eps, f->a.eps);
    if (b->a.wrt < 0) {
        emit_line(e, "memset(dw, 0, sizeof(float) * %d);", d);
        emit_line(e, "memset(dbias, 0, sizeof(float) * %d);", d);
    }
    emit_line(e, "for (size_t r = 0; r < (size_t)batch * %lld; r++) {", rows);
    emit_line(e, "const float *xr = x + r * %d, *dyr = dy + r * %d;", d, d);
    emit_line(e, "float mean = 0.0f, var = 0.0f;");
    emit_line(e, "for (int i = 0; i < %d; i++) mean += xr[i];", d);
    emit_line(e, "mean /= %d.0f;", d);
    emit_line(e, "for (int i = 0; i < %d; i++) var += (xr[i] - mean) * (xr[i] - mean);", d);
    emit_line(e, "const float rstd = 1.0f / sqrtf(var / %d.0f + %s);", d, eps);
    if (b->a.wrt < 0) {
        emit_line(e, "for (int i = 0; i < %d; i++) {", d);
        emit_line(e, "dw[i] += dyr[i] * (xr[i] - mean) * rstd;");
        emit_line(e, "dbias[i] += dyr[i];");
        emit_line(e, "}");
    } else {
        emit_line(e, "float *dxr = dx + r * %d;", d);
        emit_line(e, "float sg = 0.0f, sgx = 0.0f;");
        emit_line(e, "for (int i = 0; i < %d; i++) {", d);
        emit_line(e, "sg += dyr[i] * w[i];");
        emit_line(e, "sgx += dyr[i] * w[i] * (xr[i] - mean) * rstd;");
        emit_line(e, "}");
        emit_line(e, "for (int i = 0; i < %d; i++)", d);
        emit_line(e, "    dxr[i] = rstd * (dyr[i] * w[i] - sg / %d.0f - (xr[i] - mean) * rstd * sgx / %d.0f);", d, d);
    }
    emit_line(e, "}");
}

static void k_concat_bwd(Emitter *e, const IrGraph *g, const IrNode *b, const IrNode *f)
{
    int ax = f->a.axis;
    long long outer = 1, inner = 1;
    for (int i = 0; i < ax; i++)
        outer *= f->shape.dim[i];
    for (int i = ax + 1; i < f->shape.ndim; i++)
        inner *= f->shape.dim[i];
    long long ca = shape_of(g, f->in[0])->dim[ax] * inner, cb = shape_of(g, f->in[1])->dim[ax] * inner;
    long long mine = b->a.wrt == 0 ? ca : cb, skip = b->a.wrt == 0 ? 0 : ca;
    emit_line(e, "for (size_t o = 0; o < (size_t)batch * %lld; o++)", outer);
    emit_line(e, "    memcpy(dx + o * %lld, dy + o * %lld + %lld, sizeof(float) * %lld);", mine, ca + cb, skip, mine);
}

static void k_bwd(Emitter *e, const IrGraph *g, const IrNode *b, const KArgs *a)
{
    const IrNode *f = &g->nodes[b->a.of];
    switch (f->op) {
    case IR_CROSS_ENTROPY:
    case IR_MSE:
    case IR_L1:
    case IR_BCE_WITH_LOGITS: k_loss_bwd(e, g, b); break;
    case IR_DENSE: k_dense_bwd(e, g, b, f); break;
    case IR_CONV2D: k_conv_bwd(e, g, b, f); break;
    case IR_MAXPOOL2D:
    case IR_AVGPOOL2D: k_pool_bwd(e, g, b, f); break;
    case IR_GLOBAL_AVGPOOL: {
        const IrShape *xs = shape_of(g, f->in[0]);
        int hw = xs->dim[1] * xs->dim[2];
        emit_line(e, "for (size_t nc = 0; nc < (size_t)batch * %d; nc++)", xs->dim[0]);
        emit_line(e, "    for (int i = 0; i < %d; i++) dx[nc * %d + i] = dy[nc] / %d.0f;", hw, hw, hw);
        break;
    }
    case IR_RELU: case IR_LEAKY_RELU: case IR_SIGMOID: case IR_TANH: case IR_GELU: case IR_SILU: case IR_MUL:
        if (unary_grad_fn(f->op))
            emit_line(e, "%s(dx, x, (size_t)batch * %lld);  /* d%s/dx, times dy below */", unary_grad_fn(f->op),
                      (long long)ir_numel(&b->shape), ir_ops[f->op].name);
        emit_line(e, "for (size_t i = 0; i < (size_t)batch * %lld; i++)", (long long)ir_numel(&b->shape));
        emit_line(e, "    dx[i] = %s;", unary_grad(g, f));
        break;
    case IR_SOFTMAX:
    case IR_LOG_SOFTMAX: k_softmax_bwd(e, f); break;
    case IR_BATCHNORM: k_bn_bwd(e, g, b, f, a); break;
    case IR_LAYERNORM: k_ln_bwd(e, b, f); break;
    case IR_DROPOUT: k_dropout_train(e, f, true); break;
    case IR_CONCAT: k_concat_bwd(e, g, b, f); break;
    default: netc_die("no backward kernel for %s", ir_ops[f->op].name);
    }
}

void emit_train_kernel(Emitter *e, const IrGraph *g, int id)
{
    const IrNode *n = &g->nodes[id];
    KArgs a;
    emit_kernel_args(g, id, &a);
    const IrNode *of = n->op == IR_BWD ? &g->nodes[n->a.of] : NULL;  /* the per-unit jobs its kernel runs */
    if (of && of->sched.filters && n->a.wrt < 0)
        emit_conv_filters_dw_job(e, g, id, of);
    else if (of && of->sched.gemm && emit_conv_batched(of) && !of->sched.dx_pixels)
        emit_conv_bwd_jobs(e, g, n, of);
    else if (of && of->sched.direct && n->a.wrt < 0)
        emit_conv_direct_dw_job(e, g, id, of);
    bool bn = n->op == IR_BATCHNORM, bn_bwd = n->op == IR_BWD && g->nodes[n->a.of].op == IR_BATCHNORM;
    if (bn || bn_bwd) {  /* the channel job the kernel runs over the pool */
        emit_channels_fn_begin(e, channels_job(g, id), &a);
        if (bn)
            bn_train_channel(e, g, n);
        else
            bn_bwd_channel(e, g, n, &g->nodes[n->a.of]);
        emit_channels_fn_end(e);
    }
    emit_kernel_comment(e, g, id);
    if (n->op == IR_BATCHNORM || n->op == IR_DROPOUT)
        fprintf(e->out, "/* (training mode: %s) */\n",
                n->op == IR_BATCHNORM ? "batch statistics, running statistics updated" : "random mask");
    const char *name = emit_train_kernel_name(g, id);
    emit_args_signature(e, a.ret, name, &a);
    switch (n->op) {
    case IR_BATCHNORM: k_bn_train(e, g, n, &a); break;
    case IR_DROPOUT: k_dropout_train(e, n, false); break;
    case IR_BWD: k_bwd(e, g, n, &a); break;
    default: k_loss(e, g, n); break;
    }
    emit_check_applied(e, g);
    emit_line(e, "}");
    emit_blank(e);
    if (emit_par_split(g, id, true))
        emit_par_wrapper(e, g, id, name, &a);
}
