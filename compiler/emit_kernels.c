/*
 * emit_kernels.c — one specialized C function per computed node.
 *
 * Every size is a literal; the batch is the one run-time dimension.  The
 * loop nests read their shape from the node's schedule (IrSched: unroll
 * factor of reductions, ...), never from constants written here.  Each
 * function is headed by a comment naming the layer, its op, shapes,
 * attributes, FLOPs per sample and source location.
 *
 * Argument names: x (first input), x2 (second input), the parameters by
 * role (w, bias, rmean, rvar), y (output).
 *
 * A conv2d or dense with a batchnorm folded into it (fold.c) has two
 * kernels: inference's, `<kernel>_bn`, which is the same op with a bias
 * and the batchnorm's epilogue, reading the folded weight and bias that
 * `<net>_fold` computes (emit_api.c); and train_step's, the node as
 * written.  The folded one is emitted from a copy of the node with those
 * attributes, so every loop nest (direct, GEMM, batched GEMM) folds
 * without knowing about it.
 */
#include "emit.h"
#include "emit_int.h"

#include <stdlib.h>
#include <string.h>

static const char *const PARAM_ARG[] = {
    [IRP_WEIGHT] = "w", [IRP_BIAS] = "bias", [IRP_RUNNING_MEAN] = "rmean", [IRP_RUNNING_VAR] = "rvar",
};

const char *emit_kernel_name(const IrGraph *g, int node)
{
    const IrNode *n = &g->nodes[node];
    char *name = arena_printf(g->arena, "%s_k%d_%s", g->name, node, n->name);
    for (char *p = name; *p; p++)
        if (*p == '.')
            *p = '_';
    return name;
}

static const IrShape *in_shape(const IrGraph *g, const IrNode *n, int i)
{
    return &g->nodes[n->in[i]].shape;
}

static long long numel(const IrShape *s)
{
    return (long long)ir_numel(s);
}

/* The name of node's kernel in the forward pass: `<kernel>_bn` when a batchnorm is folded into it. */
const char *emit_infer_kernel_name(const IrGraph *g, int node)
{
    const char *name = emit_kernel_name(g, node);
    return g->nodes[node].a.fold ? arena_printf(g->arena, "%s_bn", name) : name;
}

/* The comment block above a kernel; fold: its inference variant, with the batchnorm folded in. */
const IrNode *emit_epi_add(const IrGraph *g, const IrNode *n)
{
    return n->a.epilogue && g->nodes[n->a.epilogue].op == IR_ADD ? &g->nodes[n->a.epilogue] : NULL;
}


/* The activation n's kernel applies last: its epilogue, or its fused add's; 0 if none. */
static int epi_act(const IrGraph *g, const IrNode *n)
{
    const IrNode *add = emit_epi_add(g, n);
    return add ? add->a.epilogue : n->a.epilogue;
}

int emit_epi_residual(const IrGraph *g, const IrNode *n)
{
    int add = n->a.epilogue;  /* the side that is not the producer (whose epilogue is the add) */
    const IrNode *a = &g->nodes[add];
    return g->nodes[a->in[0]].a.epilogue == add ? a->in[1] : a->in[0];
}


static void kernel_comment(Emitter *e, const IrGraph *g, int id, bool fold)
{
    const IrNode *n = &g->nodes[id];
    const IrAttrs *a = &n->a;
    int line, col;
    int64_t fwd, bwd;
    ir_flops(g, n, &fwd, &bwd);
    diag_line_col(g->src, n->loc.off, &line, &col);
    emit_line(e, "/*");
    if (n->op == IR_BWD)
        fprintf(e->out, " * %s: backward of %s w.r.t. %s;", n->name, ir_ops[g->nodes[n->a.of].op].name,
                n->a.wrt < 0 ? "its parameters" : "its input");
    else
        fprintf(e->out, " * %s: %s", n->name, ir_ops[n->op].name);
    for (int i = 0; i < n->nin; i++)
        fprintf(e->out, "%s%s", i ? " + " : " ", ir_shape_str(g->arena, in_shape(g, n, i)));
    if (n->op == IR_BWD && n->a.wrt < 0)
        fprintf(e->out, " -> parameter gradients\n");
    else
        fprintf(e->out, " -> %s\n", ir_shape_str(g->arena, &n->shape));
    switch (n->op) {
    case IR_DENSE: emit_line(e, " *   units %d%s", a->units, a->bias ? ", bias" : ", no bias"); break;
    case IR_CONV2D:
        emit_line(e, " *   kernel %dx%d, stride %d, pad %d,%d,%d,%d (top,left,bottom,right), dilation %d, groups %d%s",
                  a->kernel[0], a->kernel[1], a->stride[0], a->pad[0], a->pad[1], a->pad[2], a->pad[3],
                  a->dilation[0], a->groups, a->bias ? ", bias" : ", no bias");
        break;
    case IR_MAXPOOL2D:
    case IR_AVGPOOL2D:
        emit_line(e, " *   kernel %dx%d, stride %d, pad %d", a->kernel[0], a->kernel[1], a->stride[0], a->pad[0]);
        break;
    case IR_BATCHNORM: emit_line(e, " *   inference: running statistics, eps %g", a->eps); break;
    case IR_LAYERNORM: emit_line(e, " *   eps %g, over the last dimension", a->eps); break;
    case IR_LEAKY_RELU: emit_line(e, " *   alpha %g", a->alpha); break;
    case IR_CONCAT: emit_line(e, " *   axis %d", a->axis); break;
    case IR_DROPOUT: emit_line(e, " *   inference: identity (p %g in training)", a->p); break;
    default: break;
    }
    if (emit_epi_add(g, n))
        emit_line(e, " *   fused epilogue: add (%s) of %s", emit_epi_add(g, n)->name, g->nodes[emit_epi_residual(g, n)].name);
    if (epi_act(g, n))
        emit_line(e, " *   fused epilogue: %s (%s)", ir_ops[g->nodes[epi_act(g, n)].op].name, g->nodes[epi_act(g, n)].name);
    if (fold) {
        const IrNode *bn = &g->nodes[a->fold];
        emit_line(e, " *   %s folded in (eps %g): weight and bias from %s_fold, for inference", bn->name, bn->a.eps, g->name);
        if (bn->a.epilogue)
            emit_line(e, " *   fused epilogue: %s (%s)", ir_ops[g->nodes[bn->a.epilogue].op].name, g->nodes[bn->a.epilogue].name);
    } else if (a->fold) {
        emit_line(e, " *   train_step's; the forward pass folds %s into %s_bn", g->nodes[a->fold].name, emit_kernel_name(g, id));
    }
    long long fl = n->op == IR_BWD ? (long long)ir_bwd_flops(g, n) : (long long)fwd;
    emit_line(e, " *   %lld FLOPs per sample; %s:%d:%d", fl, g->src->path, line, col);
    emit_line(e, " */");
}

void emit_kernel_comment(Emitter *e, const IrGraph *g, int id)
{
    kernel_comment(e, g, id, false);
}

/* A forward kernel's arguments, with their expressions in plan (PLAN_INFER or PLAN_TRAIN). */
void emit_infer_kernel_args(const IrGraph *g, int id, int plan, KArgs *a)
{
    const IrNode *n = &g->nodes[id];
    if (n->a.chain_len) {  /* the chain's inputs and outputs (emit_chain.c) */
        emit_chain_args(g, id, plan, a);
        return;
    }
    a->n = 0;
    a->ret = "void";
    for (int i = 0; i < n->nin; i++)
        emit_add_arg(a, "const float *restrict", i ? "x2" : "x", emit_tensor_ptr(g, plan, n->in[i]),
                     numel(in_shape(g, n, i)));
    if (plan == PLAN_INFER && n->a.fold) {  /* the batchnorm folded in: W' and b' from the fold block */
        emit_add_arg(a, "const float *restrict", "w", arena_printf(g->arena, "m->fold + %lld", (long long)n->fold_off[0]), 0);
        emit_add_arg(a, "const float *restrict", "bias", arena_printf(g->arena, "m->fold + %lld", (long long)n->fold_off[1]), 0);
    }
    for (int i = 0; i < n->nparam && !(plan == PLAN_INFER && n->a.fold); i++)
        emit_add_arg(a, "const float *restrict", PARAM_ARG[g->params[n->param[i]].role],
                     arena_printf(g->arena, "p + %lld", (long long)g->param_off[n->param[i]]), 0);
    const IrNode *last = plan == PLAN_INFER && n->a.fold ? &g->nodes[n->a.fold] : n;  /* whose epilogue the kernel runs */
    if (emit_epi_add(g, last))
        emit_add_arg(a, "const float *restrict", "res", emit_tensor_ptr(g, plan, emit_epi_residual(g, last)), numel(&n->shape));
    emit_add_arg(a, "float *restrict", "y", emit_tensor_ptr(g, plan, id), numel(&n->shape));
    if (n->sched.gemm && !n->sched.filters)
        emit_add_arg(a, "void *", "pack", "m->pack", 0);
    if (n->sched.gemm && !n->sched.filters && n->op == IR_CONV2D)
        emit_add_arg(a, "float *restrict", "col", "m->col", 0);
}

/* `static const NnrtGemmBlocking blk` from the node's schedule. */
static void emit_blocking(Emitter *e, const IrNode *n)
{
    emit_line(e, "static const NnrtGemmBlocking blk = {%d, %d, %d};  /* mc, nc, kc */", n->sched.tile[0],
              n->sched.tile[1], n->sched.tile[2]);
}

/* The GEMM epilogue: bias, and relu when that is the fused activation. */
static bool epi_relu(const IrGraph *g, const IrNode *n)
{
    return epi_act(g, n) && g->nodes[epi_act(g, n)].op == IR_RELU;
}

/*
 * A fused activation the GEMM cannot apply, as a pass over the output:
 * leaky_relu in a loop, the transcendental ones through nnrt_vmath.
 */
static void emit_act_pass(Emitter *e, const IrGraph *g, const IrNode *n, const char *y, const char *count)
{
    if (!epi_act(g, n) || epi_relu(g, n))
        return;
    if (emit_vmath_fn(g->nodes[epi_act(g, n)].op)) {
        emit_vmath_pass(e, g, n, y, count);
        return;
    }
    emit_line(e, "for (size_t i = 0; i < %s; i++) {", count);
    emit_store(e, g, n, arena_printf(g->arena, "%s[i]", y), arena_printf(g->arena, "%s[i]", y));
    emit_line(e, "}");
}

/* dense as Y[batch rows, U] = X[.., D] W[U, D]^T + bias, on the packed GEMM. */
static void k_dense_gemm(Emitter *e, const IrGraph *g, const IrNode *n)
{
    const IrShape *xs = in_shape(g, n, 0);
    int d = xs->dim[xs->ndim - 1], u = n->a.units;
    long long rows = numel(xs) / d;
    emit_blocking(e, n);
    emit_line(e, "const NnrtEpilogue ep = {.bias = %s, .bias_per_row = 0, .act = %s%s};", n->a.bias ? "bias" : "NULL",
              epi_relu(g, n) ? "NNRT_ACT_RELU" : "NNRT_ACT_NONE",
              emit_epi_add(g, n) ? arena_printf(g->arena, ", .residual = res, .ld_residual = %d", u) : "");
    emit_line(e, "nnrt_sgemm(0, 1, batch * %lld, %d, %d, x, %d, w, %d, y, %d, &ep, &blk, pack);", rows, u, d, d, d, u);
    emit_act_pass(e, g, n, "y", arena_printf(g->arena, "(size_t)batch * %lld", rows * u));
}

static int floor_div(int a, int b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

/* Outputs o in [0, n) whose input o * stride + shift lies in [0, size): [*lo, *hi). */
static void valid_range(int n, int stride, int shift, int size, int *lo, int *hi)
{
    *lo = -floor_div(shift, stride);  /* ceil(-shift / stride) */
    *hi = floor_div(size - 1 - shift, stride) + 1;
    *lo = *lo < 0 ? 0 : *lo > n ? n : *lo;
    *hi = *hi < *lo ? *lo : *hi > n ? n : *hi;
}

/*
 * im2col of one sample: row (c k + kh) k + kw of col (ld floats apart),
 * from column `off`, gets x[c][ih][iw] at oh Wo + ow, 0 in the padding.
 * With back set it is col2im instead: src[c][ih][iw] += the row.  Each
 * window position (kh, kw) is unrolled with the output range that reads
 * inside the image computed here, so the inner loops are branch-free
 * copies (contiguous for stride 1).
 */
void emit_im2col(Emitter *e, const IrGraph *g, const IrNode *n, const char *src, const char *col, bool back,
                 const char *ld, const char *off)
{
    const IrAttrs *a = &n->a;
    const IrShape *xs = in_shape(g, n, 0);
    int c = xs->dim[0], h = xs->dim[1], w = xs->dim[2], ho = n->shape.dim[1], wo = n->shape.dim[2], k = a->kernel[0];
    for (int kh = 0; kh < k; kh++)
        for (int kw = 0; kw < k; kw++) {
            int sh = kh * a->dilation[0] - a->pad[0], sw = kw * a->dilation[1] - a->pad[1];
            int hlo, hhi, wlo, whi;
            valid_range(ho, a->stride[0], sh, h, &hlo, &hhi);
            valid_range(wo, a->stride[1], sw, w, &wlo, &whi);
            emit_line(e, "for (int c = 0; c < %d; c++) {  /* window position (%d, %d) */", c, kh, kw);
            emit_line(e, "%sfloat *row = %s + (size_t)(c * %d + %d) * %s + %s;", back ? "const " : "", col, k * k,
                      kh * k + kw, ld, off);
            emit_line(e, "%sfloat *xc = %s + (size_t)c * %d;", back ? "" : "const ", src, h * w);
            if (!back && hlo > 0)
                emit_line(e, "memset(row, 0, sizeof(float) * %d);", hlo * wo);
            if (hlo < hhi && wlo < whi) {
                emit_line(e, "for (int oh = %d; oh < %d; oh++) {", hlo, hhi);
                emit_line(e, "%sfloat *r = row + oh * %d;", back ? "const " : "", wo);
                emit_line(e, "%sfloat *xr = xc + (oh * %d + %d) * %d;", back ? "" : "const ", a->stride[0], sh, w);
                if (!back && wlo > 0)
                    emit_line(e, "for (int ow = 0; ow < %d; ow++) r[ow] = 0.0f;", wlo);
                if (back)
                    emit_line(e, "for (int ow = %d; ow < %d; ow++) xr[ow * %d + %d] += r[ow];", wlo, whi, a->stride[1], sw);
                else
                    emit_line(e, "for (int ow = %d; ow < %d; ow++) r[ow] = xr[ow * %d + %d];", wlo, whi, a->stride[1], sw);
                if (!back && whi < wo)
                    emit_line(e, "for (int ow = %d; ow < %d; ow++) r[ow] = 0.0f;", whi, wo);
                emit_line(e, "}");
            }
            int zero_from = hlo < hhi && wlo < whi ? hhi : hlo;
            if (!back && zero_from < ho)
                emit_line(e, "memset(row + %d, 0, sizeof(float) * %d);", zero_from * wo, (ho - zero_from) * wo);
            emit_line(e, "}");
        }
}

/* Whether a convolution runs as one GEMM over the whole batch (groups == 1). */
bool emit_conv_batched(const IrNode *n)
{
    return n->op == IR_CONV2D && n->a.groups == 1;
}

/*
 * Moves sample n between the layouts [batch][F][HW] (tensors) and [F][batch
 * HW] (the batched GEMM's): to_gemm copies a tensor into the GEMM layout.
 */
void emit_conv_permute(Emitter *e, const char *tensor, const char *gemm, int f, int hw, bool to_gemm)
{
    emit_line(e, "for (int f = 0; f < %d; f++)", f);
    if (to_gemm)
        emit_line(e, "    memcpy(%s + ((size_t)f * batch + n) * %d, %s + ((size_t)n * %d + f) * %d, sizeof(float) * %d);",
                  gemm, hw, tensor, f, hw, hw);
    else
        emit_line(e, "    memcpy(%s + ((size_t)n * %d + f) * %d, %s + ((size_t)f * batch + n) * %d, sizeof(float) * %d);",
                  tensor, f, hw, gemm, hw, hw);
}

/* The per-sample job `what` ("cols", "out") of the batched convolution kernel named kernel. */
static const char *conv_job(const IrGraph *g, const char *kernel, const char *what)
{
    return arena_printf(g->arena, "%s_%s", kernel, what);
}

/* The name of a batched convolution's per-sample job (what: "cols", "out", ...). */
const char *emit_conv_job(const IrGraph *g, int id, const char *what)
{
    return conv_job(g, emit_kernel_name(g, id), what);
}

/*
 * The per-sample jobs of a batched convolution's forward, emitted before its
 * kernel: "cols" (im2col of samples n0..n1-1 into their columns of cols,
 * also used by the weight gradient) and "out" (the GEMM's [F][batch HW]
 * result back to [batch][F][HW], with a fused activation the GEMM cannot
 * apply); none with IrSched.filters, whose forward and weight gradient
 * need neither.  The kernel runs them on one group of samples at a time:
 * their `batch` is the group's size and their pointers start at its first
 * sample.
 */
static void emit_conv_batched_jobs(Emitter *e, const IrGraph *g, const IrNode *n, const char *kernel)
{
    const IrShape *xs = in_shape(g, n, 0);
    int c = xs->dim[0], h = xs->dim[1], w = xs->dim[2], f = n->shape.dim[0], hw = n->shape.dim[1] * n->shape.dim[2];
    if (n->sched.filters)
        return;  /* the forward and the weight gradient are emit_conv_direct.c's filter-vector kernels */
    char ld[32];
    snprintf(ld, sizeof ld, "(size_t)batch * %d", hw);
    emit_samples_fn_begin(e, conv_job(g, kernel, "cols"), "x", "cols", NULL);
    emit_line(e, "const float *xn = x + (size_t)n * %d;", c * h * w);
    emit_im2col(e, g, n, "xn", "cols", false, ld, arena_printf(g->arena, "(size_t)n * %d", hw));
    emit_samples_fn_end(e);
    emit_samples_fn_begin(e, conv_job(g, kernel, "out"), "out", "y", emit_epi_add(g, n) ? "res" : NULL);
    emit_conv_permute(e, "y", "out", f, hw, false);
    if (emit_epi_add(g, n)) {  /* the residual, then the whole activation (the GEMM applied none) */
        emit_line(e, "for (size_t i = (size_t)n * %d; i < (size_t)(n + 1) * %d; i++) {", f * hw, f * hw);
        emit_store(e, g, n, "y[i]", "y[i]");
        emit_line(e, "}");
        emit_vmath_pass(e, g, n, arena_printf(g->arena, "(y + (size_t)n * %d)", f * hw), arena_printf(g->arena, "%d", f * hw));
    } else {
        emit_act_pass(e, g, n, arena_printf(g->arena, "(y + (size_t)n * %d)", f * hw), arena_printf(g->arena, "%d", f * hw));
    }
    emit_samples_fn_end(e);
}

/*
 * conv2d, groups == 1, as one GEMM per group of sched.group samples (their
 * columns fit in cache): cols[C k k, group HW] = im2col of the group's
 * samples, Y'[F, group HW] = W cols + bias, then Y' is laid out back as
 * [sample][F][HW].  The GEMM splits its columns over the threads, the
 * per-sample jobs their samples.
 */
static void k_conv_gemm_batched(Emitter *e, const IrGraph *g, const IrNode *n, const char *kernel)
{
    const IrShape *xs = in_shape(g, n, 0);
    int c = xs->dim[0], f = n->shape.dim[0], hw = n->shape.dim[1] * n->shape.dim[2], gs = n->sched.group;
    int kk = c * n->a.kernel[0] * n->a.kernel[0], chw = c * xs->dim[1] * xs->dim[2];
    emit_blocking(e, n);
    emit_line(e, "float *cols = col, *out = col + (size_t)(batch < %d ? batch : %d) * %d;", gs, gs, kk * hw);
    emit_line(e, "const NnrtEpilogue ep = {.bias = %s, .bias_per_row = 1, .act = %s};", n->a.bias ? "bias" : "NULL",
              epi_relu(g, n) && !emit_epi_add(g, n) ? "NNRT_ACT_RELU" : "NNRT_ACT_NONE");
    emit_line(e, "const int ng = (batch + %d) / %d;  /* groups of at most %d samples, sizes within one */", gs - 1, gs, gs);
    emit_line(e, "for (int gi = 0; gi < ng; gi++) {");
    emit_line(e, "const int g0 = (int)((long)gi * batch / ng), gn = (int)((long)(gi + 1) * batch / ng) - g0;");
    emit_samples_call(e, conv_job(g, kernel, "cols"), arena_printf(g->arena, "x + (size_t)g0 * %d", chw), "cols", NULL, "gn",
                      (long long)kk * hw);
    emit_line(e, "nnrt_sgemm(0, 0, %d, gn * %d, %d, w, %d, cols, gn * %d, out, gn * %d, &ep, &blk, pack);", f, hw, kk, kk, hw,
              hw);
    emit_samples_call(e, conv_job(g, kernel, "out"), "out", arena_printf(g->arena, "y + (size_t)g0 * %d", f * hw),
                      emit_epi_add(g, n) ? arena_printf(g->arena, "res + (size_t)g0 * %d", f * hw) : NULL, "gn",
                      (long long)f * hw);
    emit_line(e, "}");
}

/* Whether a convolution reads its input as the im2col matrix directly (1x1, stride 1, no pad). */
bool emit_conv_is_pointwise(const IrNode *n)
{
    const IrAttrs *a = &n->a;
    return a->kernel[0] == 1 && a->stride[0] == 1 && !a->pad[0] && !a->pad[1] && !a->pad[2] && !a->pad[3];
}

/* conv2d through im2col: per sample and group, Y[Fg, HoWo] = W[Fg, Cg k k] col[Cg k k, HoWo] + bias. */
static void k_conv_gemm(Emitter *e, const IrGraph *g, const IrNode *n)
{
    const IrAttrs *a = &n->a;
    const IrShape *xs = in_shape(g, n, 0);
    int c = xs->dim[0], h = xs->dim[1], w = xs->dim[2], f = n->shape.dim[0], hw = n->shape.dim[1] * n->shape.dim[2];
    int cg = c / a->groups, fg = f / a->groups, kk = cg * a->kernel[0] * a->kernel[0];
    bool direct = emit_conv_is_pointwise(n);
    emit_blocking(e, n);
    emit_line(e, "for (int n = 0; n < batch; n++) {");
    emit_line(e, "const float *xn = x + (size_t)n * %d;", c * h * w);
    emit_line(e, "float *yn = y + (size_t)n * %d;", f * hw);
    if (direct)
        emit_line(e, "const float *cols = xn;  /* a 1x1 convolution reads its input as is */");
    else {
        emit_im2col(e, g, n, "xn", "col", false, arena_printf(g->arena, "%d", hw), "0");
        emit_line(e, "const float *cols = col;");
    }
    emit_line(e, "for (int gr = 0; gr < %d; gr++) {", a->groups);
    emit_line(e, "const NnrtEpilogue ep = {.bias = %s, .bias_per_row = 1, .act = %s%s};",
              a->bias ? arena_printf(g->arena, "bias + gr * %d", fg) : "NULL",
              epi_relu(g, n) ? "NNRT_ACT_RELU" : "NNRT_ACT_NONE",
              emit_epi_add(g, n) ? arena_printf(g->arena, ", .residual = res + (size_t)n * %d + (size_t)gr * %d, .ld_residual = %d",
                                           f * hw, fg * hw, hw)
                            : "");
    emit_line(e, "nnrt_sgemm(0, 0, %d, %d, %d, w + (size_t)gr * %d, %d, cols + (size_t)gr * %d, %d, yn + (size_t)gr * %d, %d, "
                 "&ep, &blk, pack);", fg, hw, kk, fg * kk, kk, kk * hw, hw, fg * hw, hw);
    emit_line(e, "}");
    emit_act_pass(e, g, n, "yn", arena_printf(g->arena, "%d", f * hw));
    emit_line(e, "}");
    if (direct)
        emit_line(e, "(void)col;");
}

/*
 * The runtime array function (nnrt_vmath.h) computing a transcendental
 * activation, or NULL for relu and leaky_relu, which are inline
 * expressions.  The transcendental ones run a whole tensor at a time so
 * that SLEEF's vector functions see whole vectors.
 */
const char *emit_vmath_fn(IrOp op)
{
    switch (op) {
    case IR_SIGMOID: return "nnrt_vsigmoid";
    case IR_TANH: return "nnrt_vtanh";
    case IR_GELU: return "nnrt_vgelu";
    case IR_SILU: return "nnrt_vsilu";
    default: return NULL;
    }
}

/* relu and leaky_relu: the expression of v computing y. */
static const char *elem_expr(const IrGraph *g, const IrNode *n)
{
    char buf[32];
    switch (n->op) {
    case IR_RELU: return "v > 0.0f ? v : 0.0f";
    case IR_LEAKY_RELU: return arena_printf(g->arena, "v * nnrt_leaky_factor(v, %s)", emit_float(buf, sizeof buf, n->a.alpha));
    default: netc_unreachable();
    }
}

/*
 * The node's fused transcendental activation, applied in place to the
 * count floats at y once the kernel has stored them (emit_store left them
 * as they were); nothing for other nodes.
 */
void emit_vmath_pass(Emitter *e, const IrGraph *g, const IrNode *n, const char *y, const char *count)
{
    const char *fn = epi_act(g, n) ? emit_vmath_fn(g->nodes[epi_act(g, n)].op) : NULL;
    if (!fn)
        return;
    emit_line(e, "%s(%s, %s, %s);  /* fused %s, in place */", fn, y, y, count, g->nodes[epi_act(g, n)].name);
    e->unapplied = NULL;
}

/*
 * A kernel whose emit_store skipped a transcendental activation must have
 * called emit_vmath_pass since; otherwise the activation would silently be
 * missing from the generated code.
 */
void emit_check_applied(Emitter *e, const IrGraph *g)
{
    if (e->unapplied)
        netc_die("kernel of %s stores its fused %s without emit_vmath_pass", e->unapplied->name,
                 g->nodes[epi_act(g, e->unapplied)].name);
}

/*
 * Stores `val` into `dst`, plus the fused residual (read at dst's offset in
 * y: the kernel's output is `y` and the residual `res`, same layout), through
 * the node's fused activation if it is inline: "dst = val;" or
 * "{ const float v = val; dst = <activation of v>; }".
 * A transcendental activation is left to emit_vmath_pass, which the kernel
 * must call after its loop (emit_check_applied holds it to that).
 */
void emit_store(Emitter *e, const IrGraph *g, const IrNode *n, const char *dst, const char *val)
{
    int act = epi_act(g, n);
    if (emit_epi_add(g, n))  /* after the bias, as in the unfused add kernel */
        val = arena_printf(g->arena, "%s + res[&%s - y]", val, dst);
    if (!act || emit_vmath_fn(g->nodes[act].op)) {
        emit_line(e, "%s = %s;", dst, val);
        if (act)
            e->unapplied = n;
        return;
    }
    emit_line(e, "{");
    emit_line(e, "const float v = %s;", val);
    emit_line(e, "%s = %s;  /* fused %s */", dst, elem_expr(g, &g->nodes[act]), g->nodes[act].name);
    emit_line(e, "}");
}

static void k_unary(Emitter *e, const IrGraph *g, const IrNode *n)
{
    const char *fn = emit_vmath_fn(n->op);
    if (fn) {
        emit_line(e, "%s(y, x, (size_t)batch * %lld);  /* nnrt_vmath: SLEEF, or libm with NNRT_LIBM */", fn,
                  numel(&n->shape));
        return;
    }
    emit_line(e, "for (size_t i = 0; i < (size_t)batch * %lld; i++) {", numel(&n->shape));
    emit_line(e, "const float v = x[i];");
    emit_line(e, "y[i] = %s;", elem_expr(g, n));
    emit_line(e, "}");
}

static void k_binary(Emitter *e, const IrGraph *g, const IrNode *n)
{
    emit_line(e, "for (size_t i = 0; i < (size_t)batch * %lld; i++) {", numel(&n->shape));
    emit_store(e, g, n, "y[i]", n->op == IR_ADD ? "x[i] + x2[i]" : "x[i] * x2[i]");
    emit_line(e, "}");
    emit_vmath_pass(e, g, n, "y", arena_printf(g->arena, "(size_t)batch * %lld", numel(&n->shape)));
}

static void k_copy(Emitter *e, const IrNode *n)
{
    emit_line(e, "memcpy(y, x, sizeof(float) * (size_t)batch * %lld);", numel(&n->shape));
}

/* Sum of accumulators a0..a{k-1}, pairwise: "(a0 + a1) + (a2 + a3)". */
static void emit_acc_sum(FILE *out, int lo, int k)
{
    if (k == 1) {
        fprintf(out, "a%d", lo);
        return;
    }
    fputc('(', out);
    emit_acc_sum(out, lo, k / 2);
    fputs(" + ", out);
    emit_acc_sum(out, lo + k / 2, k - k / 2);
    fputc(')', out);
}

/*
 * The vector width of a small dense layer's loops (the forward's sums, the
 * backward's rows): sched.unroll, 16 on AVX-512 when d >= 16, else 8 when
 * d >= 8; 0 when the layer is on the GEMM or its rows are shorter than 8
 * (plain scalar loops).
 */
int emit_dense_width(const IrNode *n)
{
    return n->op == IR_DENSE && !n->sched.gemm && n->sched.unroll >= 8 ? n->sched.unroll : 0;
}

/*
 * Output yr[u + j] of a dense row from accumulators a0..a{k-1}: the tail
 * d0..d-1 (input t into a{t - d + k}, the last accumulators, when d >= k;
 * else into a0), the pairwise sum, the bias, the fused epilogue.
 */
static void dense_finish(Emitter *e, const IrGraph *g, const IrNode *n, int d0, int d, int k)
{
    if (d0 < d && d >= k)
        for (int t = d0; t < d; t++)
            emit_line(e, "a%d += xr[%d] * wu[%d];", t - d + k, t, t);
    else if (d0 < d)
        emit_line(e, "for (int d = %d; d < %d; d++) a0 += xr[d] * wu[d];", d0, d);
    char *sum = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&sum, &len);
    emit_acc_sum(mem, 0, k);
    if (n->a.bias)
        fputs(" + bias[u]", mem);
    fclose(mem);
    emit_store(e, g, n, "yr[u]", arena_strdup(g->arena, sum));
    free(sum);
}

/* The name of vector i at level `level` of pair_tree: s{i} first, `sum` last. */
static const char *tree_name(const IrGraph *g, int level, int last, int i)
{
    if (level == 0)
        return arena_printf(g->arena, "s%d", i);
    return level == last ? "sum" : arena_printf(g->arena, "p%d_%d", level, i);
}

/*
 * Reduces the G accumulator vectors s0..s{G-1} of V lanes (G <= V) into
 * one vector `sum` whose lane j is s{j}'s lanes added pairwise,
 * ((l0 + l1) + (l2 + l3)) + ..., the order of emit_acc_sum: each level
 * <net>_PAIR<V>s neighbours, so it adds neighbouring lanes of two vectors
 * and puts the halves side by side; log2 V levels leave one vector.  A
 * missing partner is the zero vector.  Replaces V - 1 scalar adds per
 * output with about one vector add.
 */
static void pair_tree(Emitter *e, const IrGraph *g, int V, int G)
{
    const char *N = g->name;
    int last = 0;
    for (int w = V; w > 1; w /= 2)
        last++;
    bool zero = false;
    for (int cnt = G, l = 0; l < last; l++, cnt = (cnt + 1) / 2)
        zero |= cnt % 2 == 1;
    if (zero)
        emit_line(e, "const %s_v%d z = {0.0f};", N, V);
    for (int cnt = G, l = 0; l < last; l++, cnt = (cnt + 1) / 2) {
        for (int i = 0; i < (cnt + 1) / 2; i++)
            emit_line(e, "const %s_v%d %s = %s_PAIR%d(%s, %s);", N, V, tree_name(g, l + 1, last, i), N, V,
                      tree_name(g, l, last, 2 * i), 2 * i + 1 < cnt ? tree_name(g, l, last, 2 * i + 1) : "z");
    }
}

/*
 * G outputs u..u+G-1 of a dense row on <net>_v<V> vectors: one accumulator
 * vector per output, lane i holding what the scalar kernel's a{i} holds
 * (x[d+i] w[d+i] summed over d in steps of V, in order; the tail's inputs
 * in the last lanes, as dense_finish puts them), reduced by pair_tree, so
 * the value is the scalar kernel's with V sums.  The G chains side by side
 * hide the add latency that one vector chain would expose, and share each
 * load of x.  The tail is one more vector, the row's last V inputs with
 * those the loop took masked to zero: scalar lane updates there made
 * lenet5's 84-input head run at 30% of the FMA peak (docs/performance.md,
 * 2026-12-03 16:25-16:50).
 */
typedef struct DenseRow {
    const IrGraph *g;
    const IrNode *n;
    int V, d;  /* vector width, inputs */
} DenseRow;

static void dense_vec_group(Emitter *e, const void *ctx, int G)
{
    const DenseRow *c = ctx;
    const IrGraph *g = c->g;
    const IrNode *n = c->n;
    int V = c->V, d = c->d;
    const char *N = g->name;
    int main_d = d / V * V;
    emit_line(e, "const float *wu = w + (size_t)u * %d;", d);
    for (int j = 0; j < G; j++)
        emit_line(e, "%s_v%d s%d = {0.0f};", N, V, j);
    emit_line(e, "for (int d = 0; d < %d; d += %d) {", main_d, V);
    emit_line(e, "const %s_v%d xv = %s_LD%d(xr + d);", N, V, N, V);
    emit_line(e, "s0 += xv * %s_LD%d(wu + d);", N, V);
    for (int j = 1; j < G; j++)
        emit_line(e, "s%d += xv * %s_LD%d(wu + %d + d);", j, N, V, j * d);
    emit_line(e, "}");
    if (main_d < d) {
        emit_line(e, "{  /* the tail, inputs %d..%d: the last %d, those before %d masked off */", main_d, d - 1, V, main_d);
        char keep[80] = "";
        for (int i = 0; i < V; i++)
            snprintf(keep + strlen(keep), sizeof keep - strlen(keep), "%s%d", i ? ", " : "", i >= V - (d - main_d) ? -1 : 0);
        emit_line(e, "const %s_v%di keep = {%s};", N, V, keep);
        emit_line(e, "const %s_v%d xv = (%s_v%d)((%s_v%di)%s_LD%d(xr + %d) & keep);", N, V, N, V, N, V, N, V, d - V);
        for (int j = 0; j < G; j++)
            emit_line(e, "s%d += xv * %s_LD%d(wu + %d);", j, N, V, j * d + d - V);
        emit_line(e, "}");
    }
    pair_tree(e, g, V, G);
    for (int j = 0; j < G; j++)
        emit_store(e, g, n, arena_printf(g->arena, "yr[u + %d]", j),
                   n->a.bias ? arena_printf(g->arena, "sum[%d] + bias[u + %d]", j, j) : arena_printf(g->arena, "sum[%d]", j));
}

/*
 * Outputs per group of dense_vec_group: as many as fit the registers beside
 * x and w (at most 12, and at most V for pair_tree), the units split evenly.
 */
static int dense_group(int V, int u)
{
    int most = V < 12 ? V : 12, groups = (u + most - 1) / most;
    return (u + groups - 1) / groups;
}

/*
 * dense: y[r, u] = sum_d x[r, d] w[u, d] + bias[u], over rows r of every
 * sample.  The reduction over d runs on sched.unroll accumulators; with a
 * vector width (emit_dense_width), as vectors, a group of outputs at a time.
 */
static void k_dense(Emitter *e, const IrGraph *g, const IrNode *n)
{
    const IrShape *xs = in_shape(g, n, 0);
    int d = xs->dim[xs->ndim - 1], u = n->a.units, k = n->sched.unroll > 0 ? n->sched.unroll : 1;
    long long rows = numel(xs) / d;
    int main_d = d / k * k, V = emit_dense_width(n);
    emit_line(e, "for (size_t r = 0; r < (size_t)batch * %lld; r++) {", rows);
    emit_line(e, "const float *xr = x + r * %d;", d);
    emit_line(e, "float *yr = y + r * %d;", u);
    if (V) {
        const DenseRow c = {g, n, V, d};
        emit_blocks(e, "u", u, dense_group(V, u), 1, dense_vec_group, &c);
        emit_line(e, "}");
        emit_vmath_pass(e, g, n, "y", arena_printf(g->arena, "(size_t)batch * %lld", rows * u));
        return;
    }
    emit_line(e, "for (int u = 0; u < %d; u++) {", u);
    emit_line(e, "const float *wu = w + (size_t)u * %d;", d);
    for (int i = 0; i < k; i++)
        emit_line(e, "float a%d = 0.0f;", i);
    if (main_d > 0) {
        emit_line(e, "for (int d = 0; d < %d; d += %d) {", main_d, k);
        for (int i = 0; i < k; i++)
            emit_line(e, "a%d += xr[d + %d] * wu[d + %d];", i, i, i);
        emit_line(e, "}");
    }
    dense_finish(e, g, n, main_d, d, k);
    emit_line(e, "}");
    emit_line(e, "}");
    emit_vmath_pass(e, g, n, "y", arena_printf(g->arena, "(size_t)batch * %lld", rows * u));
}

/* conv2d, direct: every output pixel is a dot product over its window. */
static void k_conv(Emitter *e, const IrGraph *g, const IrNode *n)
{
    const IrAttrs *a = &n->a;
    const IrShape *xs = in_shape(g, n, 0);
    int c = xs->dim[0], h = xs->dim[1], w = xs->dim[2];
    int f = n->shape.dim[0], ho = n->shape.dim[1], wo = n->shape.dim[2];
    int cg = c / a->groups, fg = f / a->groups, k = a->kernel[0];
    bool padded = a->pad[0] || a->pad[1] || a->pad[2] || a->pad[3];
    emit_line(e, "for (int n = 0; n < batch; n++) {");
    emit_line(e, "const float *xn = x + (size_t)n * %d;", c * h * w);
    emit_line(e, "float *yn = y + (size_t)n * %d;", f * ho * wo);
    emit_line(e, "for (int f = 0; f < %d; f++) {", f);
    emit_line(e, "const float *wf = w + (size_t)f * %d;", cg * k * k);
    if (a->groups > 1)
        emit_line(e, "const float *xg = xn + (size_t)(f / %d) * %d;", fg, cg * h * w);
    else
        emit_line(e, "const float *xg = xn;");
    emit_line(e, "for (int oh = 0; oh < %d; oh++) {", ho);
    emit_line(e, "for (int ow = 0; ow < %d; ow++) {", wo);
    emit_line(e, "float acc = 0.0f;");
    emit_line(e, "for (int c = 0; c < %d; c++) {", cg);
    emit_line(e, "for (int kh = 0; kh < %d; kh++) {", k);
    emit_line(e, "const int ih = oh * %d - %d + kh * %d;", a->stride[0], a->pad[0], a->dilation[0]);
    if (padded)
        emit_line(e, "if (ih < 0 || ih >= %d) continue;", h);
    emit_line(e, "for (int kw = 0; kw < %d; kw++) {", k);
    emit_line(e, "const int iw = ow * %d - %d + kw * %d;", a->stride[1], a->pad[1], a->dilation[1]);
    if (padded)
        emit_line(e, "if (iw < 0 || iw >= %d) continue;", w);
    emit_line(e, "acc += xg[(c * %d + ih) * %d + iw] * wf[(c * %d + kh) * %d + kw];", h, w, k, k);
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_store(e, g, n, arena_printf(g->arena, "yn[(f * %d + oh) * %d + ow]", ho, wo), a->bias ? "acc + bias[f]" : "acc");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_vmath_pass(e, g, n, "y", arena_printf(g->arena, "(size_t)batch * %d", f * ho * wo));
}

/* maxpool2d / avgpool2d; padding never wins a max and counts in an average. */
static void k_pool(Emitter *e, const IrGraph *g, const IrNode *n)
{
    const IrAttrs *a = &n->a;
    const IrShape *xs = in_shape(g, n, 0);
    int c = xs->dim[0], h = xs->dim[1], w = xs->dim[2], ho = n->shape.dim[1], wo = n->shape.dim[2];
    int k = a->kernel[0], s = a->stride[0], p = a->pad[0];
    bool mx = n->op == IR_MAXPOOL2D;
    emit_line(e, "for (size_t nc = 0; nc < (size_t)batch * %d; nc++) {", c);
    emit_line(e, "const float *xc = x + nc * %d;", h * w);
    emit_line(e, "float *yc = y + nc * %d;", ho * wo);
    emit_line(e, "for (int oh = 0; oh < %d; oh++) {", ho);
    emit_line(e, "for (int ow = 0; ow < %d; ow++) {", wo);
    emit_line(e, mx ? "float acc = -INFINITY;" : "float acc = 0.0f;");
    emit_line(e, "for (int kh = 0; kh < %d; kh++) {", k);
    emit_line(e, "const int ih = oh * %d - %d + kh;", s, p);
    if (p)
        emit_line(e, "if (ih < 0 || ih >= %d) continue;", h);
    emit_line(e, "for (int kw = 0; kw < %d; kw++) {", k);
    emit_line(e, "const int iw = ow * %d - %d + kw;", s, p);
    if (p)
        emit_line(e, "if (iw < 0 || iw >= %d) continue;", w);
    emit_line(e, "const float v = xc[ih * %d + iw];", w);
    emit_line(e, mx ? "acc = v > acc ? v : acc;" : "acc += v;");
    emit_line(e, "}");
    emit_line(e, "}");
    if (mx)
        emit_line(e, "yc[oh * %d + ow] = acc;", wo);
    else
        emit_line(e, "yc[oh * %d + ow] = acc / %d.0f;", wo, k * k);
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "}");
}

static void k_global_avgpool(Emitter *e, const IrGraph *g, const IrNode *n)
{
    const IrShape *xs = in_shape(g, n, 0);
    int c = xs->dim[0], hw = xs->dim[1] * xs->dim[2];
    emit_line(e, "for (size_t nc = 0; nc < (size_t)batch * %d; nc++) {", c);
    emit_line(e, "const float *xc = x + nc * %d;", hw);
    emit_line(e, "float acc = 0.0f;");
    emit_line(e, "for (int i = 0; i < %d; i++) acc += xc[i];", hw);
    emit_line(e, "y[nc] = acc / %d.0f;", hw);
    emit_line(e, "}");
}

/* "float m = ...": the max of row xr[0..d-1], for softmax and cross-entropy's shift. */
void emit_row_max(Emitter *e, long long d)
{
    emit_line(e, "float m = xr[0];");
    emit_line(e, "for (int i = 1; i < %lld; i++) m = xr[i] > m ? xr[i] : m;", d);
}

/*
 * softmax / log_softmax over the last dimension, max-shifted: y = x - m row
 * by row, the exponentials of every row in one nnrt_vmath call (a call per
 * 10-float row cost more than its exponentials), then each row's sum, in
 * order, and its normalization (the row's log stays libm's).
 */
static void k_softmax(Emitter *e, const IrNode *n)
{
    int l = n->shape.dim[n->shape.ndim - 1];
    long long rows = numel(&n->shape) / l;
    bool log_sm = n->op == IR_LOG_SOFTMAX;
    emit_line(e, "for (size_t r = 0; r < (size_t)batch * %lld; r++) {", rows);
    emit_line(e, "const float *xr = x + r * %d;", l);
    emit_line(e, "float *yr = y + r * %d;", l);
    emit_row_max(e, l);
    emit_line(e, "for (int i = 0; i < %d; i++) yr[i] = xr[i] - m;", l);
    emit_line(e, "}");
    emit_line(e, "nnrt_vexp(y, y, (size_t)batch * %lld);", rows * l);
    emit_line(e, "for (size_t r = 0; r < (size_t)batch * %lld; r++) {", rows);
    emit_line(e, "float *yr = y + r * %d, s = 0.0f;", l);
    emit_line(e, "for (int i = 0; i < %d; i++) s += yr[i];", l);
    if (log_sm) {
        /* log(exp(x - m) / s) as x - m - log s: the row's max again, from x */
        emit_line(e, "const float *xr = x + r * %d;", l);
        emit_row_max(e, l);
        emit_line(e, "const float ls = logf(s);");
        emit_line(e, "for (int i = 0; i < %d; i++) yr[i] = xr[i] - m - ls;", l);
    } else {
        emit_line(e, "for (int i = 0; i < %d; i++) yr[i] /= s;", l);
    }
    emit_line(e, "}");
}

/* batchnorm with running statistics: y = x * scale[c] + shift[c]. */
static void k_batchnorm(Emitter *e, const IrGraph *g, const IrNode *n)
{
    int c = n->shape.dim[0];
    long long inner = numel(&n->shape) / c;
    char eps[32];
    emit_line(e, "for (int n = 0; n < batch; n++) {");
    emit_line(e, "for (int c = 0; c < %d; c++) {", c);
    emit_line(e, "const float scale = w[c] / sqrtf(rvar[c] + %s);", emit_float(eps, sizeof eps, n->a.eps));
    emit_line(e, "const float shift = bias[c] - rmean[c] * scale;");
    emit_line(e, "const float *xc = x + ((size_t)n * %d + c) * %lld;", c, inner);
    emit_line(e, "float *yc = y + ((size_t)n * %d + c) * %lld;", c, inner);
    emit_line(e, "for (int i = 0; i < %lld; i++) {", inner);
    emit_store(e, g, n, "yc[i]", "xc[i] * scale + shift");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_vmath_pass(e, g, n, "y", arena_printf(g->arena, "(size_t)batch * %lld", numel(&n->shape)));
}

static void k_layernorm(Emitter *e, const IrNode *n)
{
    int d = n->shape.dim[n->shape.ndim - 1];
    long long rows = numel(&n->shape) / d;
    char eps[32];
    emit_line(e, "for (size_t r = 0; r < (size_t)batch * %lld; r++) {", rows);
    emit_line(e, "const float *xr = x + r * %d;", d);
    emit_line(e, "float *yr = y + r * %d;", d);
    emit_line(e, "float mean = 0.0f, var = 0.0f;");
    emit_line(e, "for (int i = 0; i < %d; i++) mean += xr[i];", d);
    emit_line(e, "mean /= %d.0f;", d);
    emit_line(e, "for (int i = 0; i < %d; i++) var += (xr[i] - mean) * (xr[i] - mean);", d);
    emit_line(e, "const float rstd = 1.0f / sqrtf(var / %d.0f + %s);", d, emit_float(eps, sizeof eps, n->a.eps));
    emit_line(e, "for (int i = 0; i < %d; i++) yr[i] = (xr[i] - mean) * rstd * w[i] + bias[i];", d);
    emit_line(e, "}");
}

static void k_concat(Emitter *e, const IrGraph *g, const IrNode *n)
{
    int ax = n->a.axis;
    const IrShape *as = in_shape(g, n, 0), *bs = in_shape(g, n, 1);
    long long outer = 1, inner = 1;
    for (int i = 0; i < ax; i++)
        outer *= n->shape.dim[i];
    for (int i = ax + 1; i < n->shape.ndim; i++)
        inner *= n->shape.dim[i];
    long long ca = as->dim[ax] * inner, cb = bs->dim[ax] * inner;
    emit_line(e, "for (size_t o = 0; o < (size_t)batch * %lld; o++) {", outer);
    emit_line(e, "memcpy(y + o * %lld, x + o * %lld, sizeof(float) * %lld);", ca + cb, ca, ca);
    emit_line(e, "memcpy(y + o * %lld + %lld, x2 + o * %lld, sizeof(float) * %lld);", ca + cb, ca, cb, cb);
    emit_line(e, "}");
}

/* The body of node n's kernel named kernel (n may be a folded copy, see the top of the file). */
static void kernel_body(Emitter *e, const IrGraph *g, const IrNode *n, const char *kernel)
{
    switch (n->op) {
    case IR_DENSE: n->sched.gemm ? k_dense_gemm(e, g, n) : k_dense(e, g, n); break;
    case IR_CONV2D:
        if (n->sched.direct)
            emit_conv_direct_fwd(e, g, n);
        else if (n->sched.filters)
            emit_conv_filters_fwd(e, g, n);
        else if (!n->sched.gemm)
            k_conv(e, g, n);
        else if (emit_conv_batched(n))
            k_conv_gemm_batched(e, g, n, kernel);
        else
            k_conv_gemm(e, g, n);
        break;
    case IR_MAXPOOL2D:
    case IR_AVGPOOL2D: k_pool(e, g, n); break;
    case IR_GLOBAL_AVGPOOL: k_global_avgpool(e, g, n); break;
    case IR_FLATTEN:
    case IR_DROPOUT: k_copy(e, n); break;
    case IR_RELU: case IR_LEAKY_RELU: case IR_SIGMOID: case IR_TANH: case IR_GELU: case IR_SILU:
        k_unary(e, g, n);
        break;
    case IR_SOFTMAX:
    case IR_LOG_SOFTMAX: k_softmax(e, n); break;
    case IR_BATCHNORM: k_batchnorm(e, g, n); break;
    case IR_LAYERNORM: k_layernorm(e, n); break;
    case IR_ADD:
    case IR_MUL: k_binary(e, g, n); break;
    case IR_CONCAT: k_concat(e, g, n); break;
    default: netc_die("no inference kernel for op %s", ir_ops[n->op].name);
    }
}

/* Node id's kernel, its batched convolution's jobs and its thread-pool twin; fold: the forward pass's variant. */
static void kernel(Emitter *e, const IrGraph *g, int id, bool fold)
{
    IrNode n = g->nodes[id];
    if (fold) {  /* the same op with a bias and the batchnorm's epilogue */
        n.a.bias = true;
        n.a.epilogue = g->nodes[n.a.fold].a.epilogue;
    }
    const char *name = fold ? emit_infer_kernel_name(g, id) : emit_kernel_name(g, id);
    KArgs args;
    emit_infer_kernel_args(g, id, fold || (n.place[PLAN_INFER].buf != BUF_NONE && !n.a.fold) ? PLAN_INFER : PLAN_TRAIN, &args);
    if (n.op == IR_CONV2D && n.sched.gemm && emit_conv_batched(&n))
        emit_conv_batched_jobs(e, g, &n, name);
    kernel_comment(e, g, id, fold);
    emit_args_signature(e, "void", name, &args);
    kernel_body(e, g, &n, name);
    emit_check_applied(e, g);
    emit_line(e, "}");
    emit_blank(e);
    if (emit_par_split(g, id, false))
        emit_par_wrapper(e, g, id, name, &args);
}

void emit_kernel(Emitter *e, const IrGraph *g, int id)
{
    if (g->nodes[id].a.chain_len) {
        emit_chain_kernel(e, g, id, PLAN_INFER);
        return;
    }
    kernel(e, g, id, g->nodes[id].a.fold != 0);
}

void emit_kernel_unfolded(Emitter *e, const IrGraph *g, int id)
{
    kernel(e, g, id, false);
}
