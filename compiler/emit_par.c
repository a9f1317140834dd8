/*
 * emit_par.c — splitting a kernel's batch over the thread pool.
 *
 * Most kernels compute every sample from that sample alone: activations,
 * pooling, direct convolutions, normalization over a sample, and the input
 * gradients of all of these.  Such a kernel gets a `_par` twin with the same
 * parameters, which cuts the batch into one contiguous range per thread and
 * runs the kernel on each range (nnrt_parallel_for), moving every per-sample
 * pointer to the range's first sample.  Each sample is computed by exactly
 * the code that computes it serially, so the result is bit-identical for
 * every thread count.
 *
 * Not split by samples: kernels that sum over the batch (parameter
 * gradients, losses; batchnorm in training splits its channels instead,
 * emit_channels_fn_begin below), dropout in training (its mask is a
 * function of the element's index in the batch), and the GEMM kernels,
 * which split their output over the pool themselves (nnrt_gemm.h).
 *
 * A split costs a dispatch (well under a microsecond with spinning
 * workers); below PAR_MIN_WORK elements or FLOPs per call the twin calls
 * the kernel directly.
 */
#include "emit_int.h"

enum { PAR_MIN_WORK = 32768 };

static bool per_sample_op(const IrNode *f, bool fwd)
{
    if (f->sched.gemm && !(f->sched.filters && (fwd || f->sched.dx_pixels)))
        return false;
    switch (f->op) {
    case IR_DENSE: case IR_CONV2D: case IR_MAXPOOL2D: case IR_AVGPOOL2D: case IR_GLOBAL_AVGPOOL:
    case IR_RELU: case IR_LEAKY_RELU: case IR_SIGMOID: case IR_TANH: case IR_GELU: case IR_SILU:
    case IR_SOFTMAX: case IR_LOG_SOFTMAX: case IR_LAYERNORM: case IR_ADD: case IR_MUL: case IR_CONCAT:
        return true;
    default: return false;
    }
}

bool emit_par_split(const IrGraph *g, int id, bool train_kernel)
{
    const IrNode *n = &g->nodes[id];
    if (n->op == IR_BWD)
        return n->a.wrt >= 0 && per_sample_op(&g->nodes[n->a.of], false);
    if (train_kernel)
        return false;  /* batchnorm, dropout and losses in training mode */
    /* the inference kernels: batchnorm on running statistics, and copies, are per sample too */
    return per_sample_op(n, true) || n->op == IR_BATCHNORM || n->op == IR_FLATTEN || n->op == IR_DROPOUT;
}

const char *emit_par_name(const IrGraph *g, int id, bool train_kernel, const char *kernel)
{
    return emit_par_split(g, id, train_kernel) ? arena_printf(g->arena, "%s_par", kernel) : kernel;
}

/* Work of one sample: the larger of its FLOPs and the elements it writes. */
static long long sample_work(const IrGraph *g, const IrNode *n)
{
    int64_t w, bwd;
    if (n->op == IR_BWD)
        w = ir_bwd_flops(g, n);
    else if (n->a.chain_len)
        w = emit_chain_flops(g, (int)(n - g->nodes));
    else
        ir_flops(g, n, &w, &bwd);
    int64_t out = ir_numel(&n->shape);
    return (long long)(w > out ? w : out);
}

/* "typedef struct NAME { [int batch;] <a kernel's arguments> } NAME;": a pool job's context. */
static void emit_args_struct(Emitter *e, const char *name, bool with_batch, const KArgs *a)
{
    emit_line(e, "typedef struct %s {", name);
    if (with_batch)
        emit_line(e, "int batch;");
    for (int i = 0; i < a->n; i++)
        emit_line(e, "%s %s;", a->arg[i].type, a->arg[i].name);
    emit_line(e, "} %s;", name);
    emit_blank(e);
}

void emit_par_wrapper(Emitter *e, const IrGraph *g, int id, const char *kernel, const KArgs *a)
{
    const char *ctx = arena_printf(g->arena, "%s_args", kernel);
    emit_line(e, "/* %s over the thread pool: one range of samples per thread. */", kernel);
    emit_args_struct(e, ctx, false, a);
    emit_line(e, "static void %s_range(void *ctx, int n0, int n1)", kernel);
    emit_line(e, "{");
    emit_line(e, "const %s *r = ctx;", ctx);
    fprintf(e->out, "%*s%s(n1 - n0", 4 * e->depth, "", kernel);
    for (int i = 0; i < a->n; i++) {
        if (a->arg[i].per_sample)
            fprintf(e->out, ", r->%s + (size_t)n0 * %lld", a->arg[i].name, a->arg[i].per_sample);
        else
            fprintf(e->out, ", r->%s", a->arg[i].name);
    }
    fputs(");\n", e->out);
    emit_line(e, "}");
    emit_blank(e);
    emit_args_signature(e, "void", arena_printf(g->arena, "%s_par", kernel), a);
    fprintf(e->out, "%*s%s r = {", 4 * e->depth, "", ctx);
    for (int i = 0; i < a->n; i++)
        fprintf(e->out, "%s%s", i ? ", " : "", a->arg[i].name);
    fputs("};\n", e->out);
    emit_line(e, "nnrt_parallel_range(batch, %lld, %d, %s_range, &r);", sample_work(g, &g->nodes[id]), PAR_MIN_WORK,
              kernel);
    emit_line(e, "}");
    emit_blank(e);
}

void emit_samples_fn_begin(Emitter *e, const char *fn, const char *src, const char *dst, const char *aux)
{
    emit_line(e, "static void %s(void *ctx, int n0, int n1)", fn);
    emit_line(e, "{");
    emit_line(e, "const NnrtSamples *s = ctx;");
    emit_line(e, "const float *restrict %s = s->src;", src);
    emit_line(e, "float *restrict %s = s->dst;", dst);
    if (aux)
        emit_line(e, "const float *restrict %s = s->aux;", aux);
    emit_line(e, "const int batch = s->batch;");
    emit_line(e, "(void)batch;");
    emit_line(e, "for (int n = n0; n < n1; n++) {");
}

void emit_samples_fn_end(Emitter *e)
{
    emit_line(e, "}");
    emit_line(e, "}");
    emit_blank(e);
}

void emit_samples_call(Emitter *e, const char *fn, const char *src, const char *dst, const char *aux, const char *count,
                       long long work)
{
    emit_line(e, "{");
    emit_line(e, "NnrtSamples s = {%s, %s, %s, %s};", src, dst, count, aux ? aux : "NULL");
    emit_line(e, "nnrt_parallel_range(%s, %lld, %d, %s, &s);", count, work, PAR_MIN_WORK, fn);
    emit_line(e, "}");
}

void emit_channels_fn_begin(Emitter *e, const char *fn, const KArgs *a)
{
    char name[256];
    snprintf(name, sizeof name, "%s_args", fn);
    emit_args_struct(e, name, true, a);
    emit_line(e, "static void %s(void *ctx, int c0, int c1)", fn);
    emit_line(e, "{");
    emit_line(e, "const %s_args *r = ctx;", fn);
    emit_line(e, "const int batch = r->batch;");
    for (int i = 0; i < a->n; i++)
        emit_line(e, "%s %s = r->%s;", a->arg[i].type, a->arg[i].name, a->arg[i].name);
    emit_line(e, "for (int c = c0; c < c1; c++) {");
}

void emit_channels_fn_end(Emitter *e)
{
    emit_line(e, "}");
    emit_line(e, "}");
    emit_blank(e);
}

void emit_channels_call(Emitter *e, const char *fn, const KArgs *a, int channels, const char *work)
{
    fprintf(e->out, "%*s%s_args r = {batch", 4 * e->depth, "", fn);
    for (int i = 0; i < a->n; i++)
        fprintf(e->out, ", %s", a->arg[i].name);
    fputs("};\n", e->out);
    emit_line(e, "nnrt_parallel_range(%d, %s, %d, %s, &r);", channels, work, PAR_MIN_WORK, fn);
}
