/*
 * schedule.c — choosing each kernel's loop-nest shape.
 *
 * Requires: shapes (shape.c) and the graph's target.
 * Guarantees: every node has an IrSched: the vector width of the target,
 * the number of independent accumulators for reductions (so the emitted
 * inner loops have no loop-carried dependence on one register), and
 * tiles for GEMM-shaped loops.  The emitter builds loop nests from these
 * numbers and never hard-codes them.
 *
 * GEMM-shaped work (dense, and conv2d through im2col) big enough to gain
 * from packing goes to the register-tiled GEMM of the runtime, with cache
 * blocks chosen for its shape from the target's cache sizes
 * (nnrt_gemm_default_blocking, for a nominal batch of 64); tiny layers
 * keep plain loops, which beat packing there.
 *
 * A convolution takes one of two routes when it can: the direct kernels
 * (emit_conv_direct.c, only for what sched_direct_refusal accepts) or
 * im2col + the GEMM.  The default rule sends few-tap layers direct; a
 * schedule file (--schedule, sched_file.c, written by `netc tune` from
 * measurements) forces a route per layer, and is checked here: the layer
 * must exist, be a conv2d and be able to take the route.
 *
 * NETC_FORCE_GEMM=1 in the environment sends every dense and conv2d to the
 * GEMM, and NETC_FORCE_DIRECT=1 every conv2d the direct kernels take to
 * them, so that tests reach both routes with small shapes.  A schedule
 * file's entries come before either.  NETC_GEMM_DX=1 keeps the input
 * gradients of filter-vector layers (IrSched.dx_pixels) on the GEMM.
 */
#include "schedule.h"

#include "nnrt_gemm.h"

#include <stdlib.h>
#include <string.h>

enum {
    GEMM_MIN_MACS = 2048,
    NOMINAL_BATCH = 64,
    CONV_GROUP_FLOATS = 524288,  /* im2col columns and GEMM output of one batched conv GEMM: 2 MiB */
    DIRECT_TAPS = 32,            /* the default rule: direct up to this many taps (C k k) */
    DIRECT_MAX_TAPS = 576,       /* the direct kernels unroll every tap: code size */
    DIRECT_STACK_FLOATS = 65536, /* their stack arrays, per kernel: 256 KiB */
    DX_COL_FLOATS = 32768,       /* a sample's dcol in the filter-vector input gradient: 128 KiB */
};

static bool env_set(const char *name)
{
    const char *v = getenv(name);
    return v && strcmp(v, "1") == 0;
}

static bool force_gemm(void)
{
    return env_set("NETC_FORCE_GEMM");
}

static int target_vec(IrTarget t)
{
    switch (t) {
    case TARGET_AVX512: return 16;
    case TARGET_AVX2: return 8;
    case TARGET_NEON: return 4;
    case TARGET_GENERIC: break;
    }
    return 1;
}

/* The vector width of the direct kernels on the graph's target (emit_conv_direct_width). */
static int direct_width(const IrGraph *g)
{
    return target_vec(g->target) >= 16 ? 16 : 8;
}

/* Largest power of two <= cap that divides n, at least 1. */
static int pow2_divisor(int n, int cap)
{
    int u = 1;
    while (u * 2 <= cap && n % (u * 2) == 0)
        u *= 2;
    return u;
}

static void set_gemm(IrSched *s, int m, int n, int k)
{
    NnrtGemmBlocking b;
    nnrt_gemm_default_blocking(m, n, k, &b);
    s->gemm = true;
    s->tile[0] = b.mc;
    s->tile[1] = b.nc;
    s->tile[2] = b.kc;
}

/*
 * The largest stack use of the direct kernels of n, in floats, from their
 * arrays in emit_conv_direct.c: the zero-padded sample xp (rows of whole
 * vectors plus the window), then the forward's output rows (at most 6
 * filters) or the weight gradient's dy rows (of at most 6 filters) and its
 * per-lane partial sums per filter and tap (and per filter for the bias).
 */
static int64_t direct_stack_floats(const IrGraph *g, const IrNode *n)
{
    const IrShape *xs = &g->nodes[n->in[0]].shape;
    int64_t c = xs->dim[0], f = n->shape.dim[0], ho = n->shape.dim[1], wo = n->shape.dim[2], k = n->a.kernel[0];
    int64_t vw = direct_width(g), wv = (wo + vw - 1) / vw * vw, taps = c * k * k;
    int64_t xp = c * (ho + k - 1) * (wv + k - 1);
    int64_t fwd = xp + 6 * wv, dw = xp + 6 * ho * wv + vw * (f * taps + (n->a.bias ? f : 0));
    return fwd > dw ? fwd : dw;
}

/*
 * Whether a conv2d on the GEMM route computes its forward and weight
 * gradient vectorized over filters (IrSched.filters): one group, a whole
 * number of vectors of filters, and stack arrays within DIRECT_STACK_FLOATS
 * (the weights or their gradient sums as [tap][filter], the sample's dy as
 * [pixel][filter], the padded sample).  Measured on lenet5's conv2d_2
 * (6 -> 16 channels, 5x5; docs/performance.md), per batch of 64: forward
 * 171-192 us against 417-590 us through im2col + GEMM, weight gradient
 * 205-252 us against 470-560 us.
 */
static bool filters_route(const IrGraph *g, const IrNode *n)
{
    const IrShape *xs = &g->nodes[n->in[0]].shape;
    const IrAttrs *a = &n->a;
    int64_t c = xs->dim[0], f = n->shape.dim[0], k = a->kernel[0], hw = (int64_t)n->shape.dim[1] * n->shape.dim[2];
    bool pad = a->pad[0] || a->pad[1] || a->pad[2] || a->pad[3];
    int64_t xp = pad ? c * (xs->dim[1] + a->pad[0] + a->pad[2]) * (xs->dim[2] + a->pad[1] + a->pad[3]) : 0;
    int64_t stack = f * c * k * k + f * hw + f + xp;
    return a->groups == 1 && f % direct_width(g) == 0 && stack <= DIRECT_STACK_FLOATS && !force_gemm();
}

/*
 * Whether a filter-vector layer computes its input gradient over output
 * pixels (emit_conv_filters_dx): when a sample's whole dcol (taps by its
 * output pixels, padded to whole vectors) fits in DX_COL_FLOATS, so that
 * it is scattered back from cache, beside dy's copy within
 * DIRECT_STACK_FLOATS.  Measured (docs/performance.md): lenet5's conv2d_2
 * as fast as the GEMM and col2im on one thread and 2.4x faster on two,
 * fashion_cnn's second convolution as fast on one and 1.05x faster on two;
 * resnet_mini's 32-channel layers, whose dcol would not fit, were 27%
 * slower in chunks of rows.
 */
static bool filters_dx_pixels(const IrGraph *g, const IrNode *n)
{
    int64_t taps = (int64_t)g->nodes[n->in[0]].shape.dim[0] * n->a.kernel[0] * n->a.kernel[0];
    int64_t vw = direct_width(g), pc = ((int64_t)n->shape.dim[1] * n->shape.dim[2] + vw - 1) / vw * vw;
    return taps * pc <= DX_COL_FLOATS && (taps + n->shape.dim[0]) * pc <= DIRECT_STACK_FLOATS && !env_set("NETC_GEMM_DX");
}

const char *sched_direct_refusal(const IrGraph *g, const IrNode *n)
{
    const IrAttrs *a = &n->a;
    int64_t taps = (int64_t)g->nodes[n->in[0]].shape.dim[0] * a->kernel[0] * a->kernel[0];
    int64_t stack = direct_stack_floats(g, n);
    if (a->stride[0] != 1 || a->stride[1] != 1)
        return arena_printf(g->arena, "stride %dx%d (the direct kernels take stride 1)", a->stride[0], a->stride[1]);
    if (a->dilation[0] != 1 || a->dilation[1] != 1)
        return arena_printf(g->arena, "dilation %dx%d (the direct kernels take dilation 1)", a->dilation[0], a->dilation[1]);
    if (a->groups != 1)
        return arena_printf(g->arena, "%d groups (the direct kernels take one group)", a->groups);
    if (taps > DIRECT_MAX_TAPS)
        return arena_printf(g->arena, "%lld taps (channels x kernel x kernel), above the %d the direct kernels unroll",
                            (long long)taps, DIRECT_MAX_TAPS);
    if (stack > DIRECT_STACK_FLOATS)
        return arena_printf(g->arena, "its direct kernels would need %lld KiB of stack arrays, above %d KiB",
                            (long long)(stack * 4 + 1023) / 1024, DIRECT_STACK_FLOATS * 4 / 1024);
    return NULL;
}

/*
 * The default rule: direct for stride 1, one group, no dilation and at most
 * DIRECT_TAPS taps (C k k: a first layer on 1-3 image channels), with the
 * padded sample within 64 KiB, when the direct kernels take it at all.
 */
static bool direct_by_default(const IrGraph *g, const IrNode *n)
{
    const IrShape *xs = &g->nodes[n->in[0]].shape;
    int k = n->a.kernel[0], ho = n->shape.dim[1], wo = n->shape.dim[2];
    int64_t taps = (int64_t)xs->dim[0] * k * k;
    int64_t padded = (int64_t)xs->dim[0] * (ho + k - 1) * (wo + k - 1);
    return taps <= DIRECT_TAPS && padded <= 16384 && taps * wo <= 16384 && !sched_direct_refusal(g, n);
}

/* The route of conv2d n: forced by the schedule file, by the environment, or by the rule. */
static SchedRoute conv_route(const IrGraph *g, const IrNode *n, SchedRoute forced)
{
    if (forced != ROUTE_DEFAULT)
        return forced;
    if (env_set("NETC_FORCE_DIRECT") && !sched_direct_refusal(g, n))
        return ROUTE_DIRECT;
    if (force_gemm())
        return ROUTE_GEMM;
    return direct_by_default(g, n) ? ROUTE_DIRECT : ROUTE_DEFAULT;
}

/*
 * Samples per GEMM of a convolution with one group: as many as keep their
 * im2col columns (taps x hw) and the GEMM's output (f x hw) within
 * CONV_GROUP_FLOATS, so that im2col writes them to cache and the GEMM reads
 * them from there; at least 1, at most NOMINAL_BATCH.  One GEMM over a
 * whole batch of 28x28 images would stream tens of MiB through memory.
 */
static int conv_group(int taps, int f, int hw)
{
    int64_t per_sample = (int64_t)(taps + f) * hw;
    int64_t gr = CONV_GROUP_FLOATS / per_sample;
    return gr < 1 ? 1 : gr > NOMINAL_BATCH ? NOMINAL_BATCH : (int)gr;
}

static void schedule_node(const IrGraph *g, IrNode *n, SchedRoute forced)
{
    IrSched *s = &n->sched;
    s->vec = target_vec(g->target);
    s->unroll = 1;
    if (n->op == IR_DENSE) {
        const IrShape *x = &g->nodes[n->in[0]].shape;
        int d = x->dim[x->ndim - 1];
        int rows = (int)(ir_numel(x) / d);
        /* a vector of sums (16 on AVX-512, else 8) when the row has one, the tail d % unroll in the last sums */
        s->unroll = d >= 16 && s->vec >= 16 ? 16 : d >= 8 ? 8 : pow2_divisor(d, 8);
        if ((int64_t)d * n->a.units >= GEMM_MIN_MACS || force_gemm())
            set_gemm(s, NOMINAL_BATCH * rows, n->a.units, d);
    } else if (n->op == IR_CONV2D) {
        int cg = g->nodes[n->in[0]].shape.dim[0] / n->a.groups, k = n->a.kernel[0];
        int fg = n->a.units / n->a.groups, hw = n->shape.dim[1] * n->shape.dim[2];
        SchedRoute r = conv_route(g, n, forced);
        if (r == ROUTE_DIRECT)
            s->direct = true;
        else if (r == ROUTE_GEMM || (int64_t)fg * cg * k * k * hw >= GEMM_MIN_MACS * 8) {
            s->group = n->a.groups == 1 ? conv_group(cg * k * k, fg, hw) : 1;
            set_gemm(s, fg, s->group * hw, cg * k * k);  /* groups 1: one GEMM per `group` samples */
            s->filters = filters_route(g, n);
            s->dx_pixels = s->filters && filters_dx_pixels(g, n);
        }
    }
}

/* The node named layer, or -1. */
static int find_layer(const IrGraph *g, const char *layer)
{
    for (int i = 0; i < g->nforward; i++)
        if (g->nodes[i].name && strcmp(g->nodes[i].name, layer) == 0)
            return i;
    return -1;
}

/* "no layer X" with the nearest conv2d's name, if one is close. */
static void unknown_layer(const IrGraph *g, Diag *d, const SchedEntry *e)
{
    const char **convs = arena_alloc(g->arena, sizeof(char *) * (size_t)(g->nforward + 1));
    int n = 0;
    for (int i = 0; i < g->nforward; i++)
        if (g->nodes[i].op == IR_CONV2D)
            convs[n++] = g->nodes[i].name;
    const char *near = diag_nearest(e->layer, convs, n);
    diag_error_in(d, &g->routes->src, e->loc, "net '%s' has no layer '%s'%s%s%s", g->name, e->layer,
                  near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
}

/* Checks one entry against the graph; its node, or -1 (reported). */
static int check_entry(const IrGraph *g, Diag *d, const SchedEntry *e)
{
    const SrcFile *f = &g->routes->src;
    int id = find_layer(g, e->layer);
    if (id < 0) {
        unknown_layer(g, d, e);
        return -1;
    }
    const IrNode *n = &g->nodes[id];
    if (n->op != IR_CONV2D) {
        diag_error_in(d, f, e->loc, "layer '%s' is a %s, not a conv2d", e->layer, ir_ops[n->op].name);
        diag_note(d, n->loc, "'%s' is defined here", e->layer);
        return -1;
    }
    const char *why = e->route == ROUTE_DIRECT ? sched_direct_refusal(g, n) : NULL;
    if (why) {
        diag_error_in(d, f, e->rloc, "layer '%s' cannot run direct: %s", e->layer, why);
        diag_note(d, n->loc, "'%s' is defined here", e->layer);
        return -1;
    }
    return id;
}

/* The route the schedule file forces on each node (ROUTE_DEFAULT where none); NULL on errors. */
static SchedRoute *forced_routes(IrGraph *g, Diag *d)
{
    SchedRoute *r = arena_alloc(g->arena, sizeof *r * (size_t)g->nnodes);
    const SchedFile *sf = g->routes;
    if (!sf)
        return r;
    if (sf->net && strcmp(sf->net, g->name) != 0) {
        diag_error_in(d, &sf->src, sf->netloc, "this schedule is for net '%s', not '%s'", sf->net, g->name);
        return NULL;
    }
    int before = d->nerrors;
    for (int i = 0; i < sf->n; i++) {
        int id = check_entry(g, d, &sf->e[i]);
        if (id >= 0)
            r[id] = sf->e[i].route;
    }
    return d->nerrors == before ? r : NULL;
}

void sched_run(IrGraph *g, Diag *d)
{
    SchedRoute *forced = forced_routes(g, d);
    if (!forced)
        return;
    for (int i = 0; i < g->nnodes; i++)
        schedule_node(g, &g->nodes[i], forced[i]);
}
