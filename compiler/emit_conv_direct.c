/*
 * emit_conv_direct.c — direct convolution for convolutions with few taps.
 *
 * A convolution whose window has few taps (C k k <= SCHED_DIRECT_TAPS,
 * stride 1, one group: a first layer reading 1 to 3 image channels) does
 * little arithmetic per input element, so the GEMM route's im2col matrix
 * (C k k times larger than the input), its packing and the layout permute
 * cost more than the products.  The direct kernels read the input where it
 * is instead:
 *
 *   forward  every output row of a block of filters is a sum of shifted
 *            input rows: y[f][oh][ow] = sum over taps t of w[f][t] xp[t-shifted].
 *            The taps and the filters of the block are unrolled, the ow loop
 *            runs over a padded copy of the sample (so every tap reads a
 *            full row) and vectorizes with the block's sums in registers.
 *   dW       the same products summed over the batch: partial sums per
 *            filter, tap and output column, added over samples and rows in
 *            order, then across columns in order — a fixed order whatever
 *            the threads; a block of filters by a block of taps at a time.
 *
 * Vectors are 16 floats on an AVX-512 target and 8 elsewhere (IrSched.vec;
 * the generic target's 8-float vectors become whatever the compiler has).
 * The forward sums every element in the same order at either width; the
 * weight gradient's per-lane partial sums, and so its last bits, depend on it.
 *
 * The input gradient of such a layer (needed only when it is not the first)
 * takes the general scatter loop of emit_backward.c.  schedule.c decides
 * which convolutions are direct (IrSched.direct).
 *
 * The file also holds the forward and the weight gradient of GEMM-route
 * layers vectorized over filters instead of output columns
 * (IrSched.filters, at its end), for layers with many taps and filters,
 * and their input gradient over output pixels (IrSched.dx_pixels), when a
 * sample's dcol fits in cache.
 */
#include "emit_int.h"

/* Padded sample geometry of a direct convolution. */
typedef struct Geom {
    int c, h, w;        /* input channels, height, width */
    int f, ho, wo, k;   /* filters, output height, width, kernel */
    int pt, pl;         /* top and left padding */
    int hp, wp;         /* padded height and width */
    int taps;           /* c k k */
} Geom;

static Geom geom(const IrGraph *g, const IrNode *n)
{
    const IrShape *xs = &g->nodes[n->in[0]].shape;
    Geom q = {xs->dim[0], xs->dim[1], xs->dim[2], n->shape.dim[0], n->shape.dim[1], n->shape.dim[2],
              n->a.kernel[0], n->a.pad[0], n->a.pad[1], 0, 0, 0};
    q.hp = q.ho + q.k - 1;  /* stride 1, dilation 1: every output row reads k padded rows */
    q.wp = q.wo + q.k - 1;
    q.taps = q.c * q.k * q.k;
    return q;
}

int emit_conv_direct_width(const IrNode *n)
{
    return n->sched.vec >= 16 ? 16 : 8;
}

/* Filters computed together: the largest divisor of f up to 6 (6 sums + 1 input vector in registers). */
static int filter_block(int f)
{
    for (int b = 6; b > 1; b--)
        if (f % b == 0)
            return b;
    return 1;
}

/* Copies sample xn into the zero-padded local xp[c][hp][wp] (wp: whole vectors plus the window). */
static void emit_padded_sample(Emitter *e, const Geom *q, int wp)
{
    emit_line(e, "float xp[%d];  /* the sample, zero-padded to [%d][%d][%d] */", q->c * q->hp * wp, q->c, q->hp, wp);
    emit_line(e, "memset(xp, 0, sizeof xp);");
    emit_line(e, "for (int c = 0; c < %d; c++)", q->c);
    emit_line(e, "    for (int ih = 0; ih < %d; ih++)", q->h < q->hp - q->pt ? q->h : q->hp - q->pt);
    emit_line(e, "        memcpy(xp + (c * %d + ih + %d) * %d + %d, xn + (c * %d + ih) * %d, sizeof(float) * %d);", q->hp,
              q->pt, wp, q->pl, q->h, q->w, q->w < wp - q->pl ? q->w : wp - q->pl);
}

void emit_conv_direct_fwd(Emitter *e, const IrGraph *g, const IrNode *n)
{
    Geom q = geom(g, n);
    int vw = emit_conv_direct_width(n), fb = filter_block(q.f), wv = (q.wo + vw - 1) / vw * vw, wp = wv + q.k - 1;
    /* two vectors of output per filter, so that 2 fb FMA chains cover the FMA's latency: two of a row, else two rows */
    int nj = wv / vw % 2 == 0 ? 2 : 1, nr = nj == 1 && q.ho % 2 == 0 ? 2 : 1, nu = nj * nr;
    const char *N = g->name;
    emit_line(e, "for (int n = 0; n < batch; n++) {");
    emit_line(e, "const float *xn = x + (size_t)n * %d;", q.c * q.h * q.w);
    emit_line(e, "float *yn = y + (size_t)n * %d;", q.f * q.ho * q.wo);
    emit_padded_sample(e, &q, wp);
    emit_line(e, "/* %d filters at a time by %d vector%s of %d columns%s, the sums in registers */", fb, nu,
              nu > 1 ? "s" : "", vw, nr > 1 ? " (one in each of two rows)" : "");
    emit_line(e, "for (int f0 = 0; f0 < %d; f0 += %d) {", q.f, fb);
    emit_line(e, "const float *wf = w + (size_t)f0 * %d;", q.taps);
    emit_line(e, "for (int oh = 0; oh < %d; oh += %d) {", q.ho, nr);
    emit_line(e, "float row[%d][%d];  /* [row * %d + filter][column] */", nr * fb, wv, fb);
    emit_line(e, "for (int j = 0; j < %d; j += %d) {", wv, nj * vw);
    for (int b = 0; b < fb; b++)
        for (int u = 0; u < nu; u++)
            emit_line(e, "%s_v%d s%d_%d = (%s_v%d){0} + %s;", N, vw, b, u, N, vw,
                      n->a.bias ? arena_printf(g->arena, "bias[f0 + %d]", b) : "0.0f");
    for (int t = 0; t < q.taps; t++) {
        int c = t / (q.k * q.k), kh = t / q.k % q.k, kw = t % q.k;
        emit_line(e, "{");
        for (int u = 0; u < nu; u++)  /* unit u: row u / nj, vector u % nj */
            emit_line(e, "const %s_v%d v%d = %s_LD%d(xp + (%d + oh) * %d + j + %d);", N, vw, u, N, vw,
                      c * q.hp + kh + u / nj, wp, kw + u % nj * vw);
        for (int b = 0; b < fb; b++)
            for (int u = 0; u < nu; u++)
                emit_line(e, "s%d_%d += wf[%d] * v%d;", b, u, b * q.taps + t, u);
        emit_line(e, "}");
    }
    for (int b = 0; b < fb; b++)
        for (int u = 0; u < nu; u++)
            emit_line(e, "memcpy(row[%d] + j + %d, &s%d_%d, sizeof s%d_%d);", u / nj * fb + b, u % nj * vw, b, u, b, u);
    emit_line(e, "}");
    for (int r = 0; r < nr; r++) {
        emit_line(e, "for (int ow = 0; ow < %d; ow++) {", q.wo);
        for (int b = 0; b < fb; b++)
            emit_store(e, g, n, arena_printf(g->arena, "yn[((f0 + %d) * %d + oh + %d) * %d + ow]", b, q.ho, r, q.wo),
                       arena_printf(g->arena, "row[%d][ow]", r * fb + b));
        emit_line(e, "}");
    }
    emit_line(e, "}");
    emit_line(e, "}");
    emit_vmath_pass(e, g, n, "yn", arena_printf(g->arena, "%d", q.f * q.ho * q.wo));
    emit_line(e, "}");
}

/*
 * The weight gradient's register block: `fb` filters (the largest divisor
 * of f up to 6, AVX2: 3) by a block of taps, one accumulator each, beside
 * the filters' dy vectors, the input's and the bias sums (22 accumulators
 * with AVX-512's 32 registers, 9 with AVX2's 16).  Each input vector then
 * serves fb filters and each dy vector a block of taps.  The taps are
 * split into blocks of nearly equal size, since a short last block is a
 * few FMA chains bound by the FMA's latency, not its throughput.
 */
typedef struct DwBlock {
    int fb;   /* filters per block */
    int ntb;  /* tap blocks: block b holds taps b taps / ntb .. (b + 1) taps / ntb - 1 */
} DwBlock;

static DwBlock dw_block(const Geom *q, int vw)
{
    DwBlock d = {1, 1};
    for (int b = vw >= 16 ? 6 : 3; b > 1 && d.fb == 1; b--)
        if (q->f % b == 0)
            d.fb = b;
    int most = (vw >= 16 ? 22 : 9) / d.fb;
    d.ntb = (q->taps + most - 1) / most;
    return d;
}

/*
 * The start of a weight-gradient job over a range [lo, hi) of work units
 * (filters, or filter-by-tap blocks): its argument struct `<job>_args`,
 * then `static void <job>_<what>(void *ctx, int lo, int hi)` unpacking dy,
 * x, dw, dbias and batch.  The caller emits the body and closes it.
 */
static void emit_dw_job_begin(Emitter *e, const IrNode *f, const char *job, const char *what, const char *lo,
                              const char *hi)
{
    emit_line(e, "typedef struct %s_args {", job);
    emit_line(e, "const float *dy, *x;");
    emit_line(e, "float *dw, *dbias;");
    emit_line(e, "int batch;");
    emit_line(e, "} %s_args;", job);
    emit_blank(e);
    emit_line(e, "static void %s_%s(void *ctx, int %s, int %s)", job, what, lo, hi);
    emit_line(e, "{");
    emit_line(e, "const %s_args *a = ctx;", job);
    emit_line(e, "const float *restrict dy = a->dy, *restrict x = a->x;");
    emit_line(e, "float *restrict dw = a->dw%s;", f->a.bias ? ", *restrict dbias = a->dbias" : "");
    emit_line(e, "const int batch = a->batch;");
}

/* The kernel's body: units work units of `work` FLOPs per sample each, split over the pool. */
static void emit_dw_job_call(Emitter *e, const IrNode *f, const char *job, const char *what, int units, long long work)
{
    emit_line(e, "%s_args a = {dy, x, dw, %s, batch};", job, f->a.bias ? "dbias" : "NULL");
    emit_line(e, "nnrt_parallel_range(%d, (long long)batch * %lld, %d, %s_%s, &a);", units, work, 32768, job, what);
}

/*
 * The weight gradient: for filter f and tap t, dw[f][t] = sum over samples,
 * rows and columns of dy * the tap's shifted input.  A vector of columns at
 * a time (the rows are padded to whole vectors with zeros: dy's copy gp and
 * the input's xp); a unit of work is a block of fb filters by a block of
 * taps (dw_block), whose per-lane partial sums stay in registers over a
 * sample's rows; the lanes are added in order at the end.  The order of
 * every sum is fixed by the shape and the vector width alone.
 */
static void emit_dw_filters(Emitter *e, const IrGraph *g, const IrNode *f, const char *job)
{
    Geom q = geom(g, f);
    int vw = emit_conv_direct_width(f), wv = (q.wo + vw - 1) / vw * vw, wp = wv + q.k - 1;
    DwBlock d = dw_block(&q, vw);
    const char *N = g->name;
    int nacc = q.f * q.taps + (f->a.bias ? q.f : 0);
    emit_dw_job_begin(e, f, job, "units", "u0", "u1");
    emit_line(e, "%s_v%d part[%d];  /* %d-lane partial sums: per filter and tap%s (the units' used) */", N, vw, nacc, vw,
              f->a.bias ? ", then per filter for the bias" : "");
    emit_line(e, "memset(part, 0, sizeof part);");
    emit_line(e, "float gp[%d];  /* dy of the sample and the unit's %d filters, rows padded to %d */", d.fb * q.ho * wv,
              d.fb, wv);
    if (wv != q.wo)
        emit_line(e, "memset(gp, 0, sizeof gp);");
    emit_line(e, "for (int n = 0; n < batch; n++) {");
    emit_line(e, "const float *xn = x + (size_t)n * %d;", q.c * q.h * q.w);
    emit_padded_sample(e, &q, wp);
    emit_line(e, "for (int u = u0; u < u1; u++) {");
    emit_line(e, "const int f0 = u / %d * %d;", d.ntb, d.fb);
    emit_line(e, "if (u == u0 || u %% %d == 0)  /* a new block of filters */", d.ntb);
    emit_line(e, "    for (int i = 0; i < %d; i++)", d.fb);
    emit_line(e, "        for (int oh = 0; oh < %d; oh++)", q.ho);
    emit_line(e, "            memcpy(gp + (i * %d + oh) * %d, dy + (((size_t)n * %d + f0 + i) * %d + oh) * %d,", q.ho, wv,
              q.f, q.ho, q.wo);
    emit_line(e, "                   sizeof(float) * %d);", q.wo);
    emit_line(e, "switch (u %% %d) {", d.ntb);
    for (int b = 0; b < d.ntb; b++) {
        int t0 = b * q.taps / d.ntb, t1 = (b + 1) * q.taps / d.ntb;
        bool bias = f->a.bias && b == 0;
        emit_line(e, "case %d: {  /* taps %d..%d */", b, t0, t1 - 1);
        for (int t = t0; t < t1; t++)
            for (int i = 0; i < d.fb; i++)
                emit_line(e, "%s_v%d a%d_%d = part[(f0 + %d) * %d + %d];", N, vw, t, i, i, q.taps, t);
        for (int i = 0; bias && i < d.fb; i++)
            emit_line(e, "%s_v%d ab%d = part[%d + f0 + %d];", N, vw, i, q.f * q.taps, i);
        emit_line(e, "for (int oh = 0; oh < %d; oh++) {", q.ho);
        emit_line(e, "for (int j = 0; j < %d; j += %d) {", wv, vw);
        for (int i = 0; i < d.fb; i++)
            emit_line(e, "const %s_v%d g%d = %s_LD%d(gp + %d + oh * %d + j);", N, vw, i, N, vw, i * q.ho * wv, wv);
        for (int i = 0; bias && i < d.fb; i++)
            emit_line(e, "ab%d += g%d;", i, i);
        for (int t = t0; t < t1; t++) {
            int c = t / (q.k * q.k), kh = t / q.k % q.k, kw = t % q.k;
            emit_line(e, "{");
            emit_line(e, "const %s_v%d xv = %s_LD%d(xp + (%d + oh) * %d + j + %d);", N, vw, N, vw, c * q.hp + kh, wp, kw);
            for (int i = 0; i < d.fb; i++)
                emit_line(e, "a%d_%d += g%d * xv;", t, i, i);
            emit_line(e, "}");
        }
        emit_line(e, "}");
        emit_line(e, "}");
        for (int t = t0; t < t1; t++)
            for (int i = 0; i < d.fb; i++)
                emit_line(e, "part[(f0 + %d) * %d + %d] = a%d_%d;", i, q.taps, t, t, i);
        for (int i = 0; bias && i < d.fb; i++)
            emit_line(e, "part[%d + f0 + %d] = ab%d;", q.f * q.taps, i, i);
        emit_line(e, "break;");
        emit_line(e, "}");
    }
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "for (int u = u0; u < u1; u++) {");
    emit_line(e, "const int f0 = u / %d * %d, b = u %% %d, t0 = b * %d / %d, t1 = (b + 1) * %d / %d;", d.ntb, d.fb, d.ntb,
              q.taps, d.ntb, q.taps, d.ntb);
    emit_line(e, "for (int f = f0; f < f0 + %d; f++) {", d.fb);
    emit_line(e, "for (int t = t0; t < t1; t++) {");
    emit_line(e, "float s = 0.0f;");
    emit_line(e, "for (int l = 0; l < %d; l++) s += part[f * %d + t][l];", vw, q.taps);
    emit_line(e, "dw[f * %d + t] = s;", q.taps);
    emit_line(e, "}");
    if (f->a.bias) {
        emit_line(e, "if (b == 0) {");
        emit_line(e, "float s = 0.0f;");
        emit_line(e, "for (int l = 0; l < %d; l++) s += part[%d + f][l];", vw, q.f * q.taps);
        emit_line(e, "dbias[f] = s;");
        emit_line(e, "}");
    }
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_blank(e);
}

/* The weight gradient's job over a range of units, emitted before the kernel b. */
void emit_conv_direct_dw_job(Emitter *e, const IrGraph *g, int b, const IrNode *f)
{
    emit_dw_filters(e, g, f, emit_train_kernel_name(g, b));
}

/* The weight gradient kernel: its units split over the pool (each unit's sums are one task's). */
void emit_conv_direct_dw(Emitter *e, const IrGraph *g, int b, const IrNode *f)
{
    Geom q = geom(g, f);
    DwBlock d = dw_block(&q, emit_conv_direct_width(f));
    int units = q.f / d.fb * d.ntb;
    emit_dw_job_call(e, f, emit_train_kernel_name(g, b), "units", units, 2LL * q.f * q.taps * q.ho * q.wo / units);
}

/*
 * The forward vectorized over filters (IrSched.filters), for
 * convolutions on the GEMM route with many taps and a filter count that
 * is a multiple of the vector width.  A vector holds one output pixel of
 * vw consecutive filters; a register block is up to `nvb` such vectors
 * (filters) by `r` pixels of an output row, summed over every tap
 * (c, kh, kw) from the filters' weights as vectors (the weights transposed
 * to [tap][filter] once per call) times the input pixel broadcast.  The
 * sum of each output starts from the bias and runs over c, kh, kw in
 * order.  No im2col, no GEMM packing, no layout permute: the forward reads
 * the sample where it is (or a zero-padded copy) and writes y through a
 * small transpose, so it costs the FMAs plus one pass over the output.
 */
typedef struct FGeom {
    int c, h, w, f, ho, wo, k;     /* as Geom */
    int sh, sw, dh, dw;            /* stride and dilation */
    int pt, pl, pb, pr;            /* padding */
    int hp, wp;                    /* height and width of what the taps read (padded when padding) */
    int vw, nvb, rmax;             /* vector width, vectors per block, pixels per block at most */
    int taps;                      /* c k k */
} FGeom;

static FGeom fgeom(const IrGraph *g, const IrNode *n)
{
    const IrShape *xs = &g->nodes[n->in[0]].shape;
    const IrAttrs *a = &n->a;
    FGeom q = {xs->dim[0], xs->dim[1], xs->dim[2], n->shape.dim[0], n->shape.dim[1], n->shape.dim[2], a->kernel[0],
               a->stride[0], a->stride[1], a->dilation[0], a->dilation[1], a->pad[0], a->pad[1], a->pad[2], a->pad[3],
               0, 0, emit_conv_direct_width(n), 0, 0, 0};
    q.taps = q.c * q.k * q.k;
    q.hp = q.h + q.pt + q.pb;
    q.wp = q.w + q.pl + q.pr;
    /* accumulators: 24 of AVX-512's 32 registers, 12 of AVX2's 16 (the rest: weights and a broadcast) */
    int regs = q.vw >= 16 ? 24 : 12, nv = q.f / q.vw, most = q.vw >= 16 ? 4 : 2;
    q.nvb = nv < most ? nv : most;
    while (nv % q.nvb)
        q.nvb--;
    q.rmax = regs / q.nvb;
    return q;
}

/* `xs`: what the taps read, sample xn as is, or its zero-padded copy xp when the layer pads. */
static void emit_filters_sample(Emitter *e, const FGeom *q)
{
    if (!(q->pt || q->pl || q->pb || q->pr)) {
        emit_line(e, "const float *xs = xn;");
        return;
    }
    emit_line(e, "float xp[%d];  /* the sample, zero-padded to [%d][%d][%d] */", q->c * q->hp * q->wp, q->c, q->hp, q->wp);
    emit_line(e, "memset(xp, 0, sizeof xp);");
    emit_line(e, "for (int c = 0; c < %d; c++)", q->c);
    emit_line(e, "    for (int ih = 0; ih < %d; ih++)", q->h);
    emit_line(e, "        memcpy(xp + (c * %d + ih + %d) * %d + %d, xn + (c * %d + ih) * %d, sizeof(float) * %d);", q->hp,
              q->pt, q->wp, q->pl, q->h, q->w, q->w);
    emit_line(e, "const float *xs = xp;");
}

/* One register block: `nvb` filter vectors from f0 by r pixels from output column ow0 (an expression). */
static void emit_filters_block(Emitter *e, const IrGraph *g, const IrNode *n, const FGeom *q, int r, const char *ow0)
{
    const char *N = g->name;
    int fbw = q->nvb * q->vw;
    emit_line(e, "{");
    for (int v = 0; v < q->nvb; v++)
        for (int i = 0; i < r; i++)
            emit_line(e, "%s_v%d s%d_%d = %s;", N, q->vw, v, i,
                      n->a.bias ? arena_printf(g->arena, "%s_LD%d(bias + f0 + %d)", N, q->vw, v * q->vw)
                                : arena_printf(g->arena, "(%s_v%d){0}", N, q->vw));
    emit_line(e, "for (int c = 0; c < %d; c++) {", q->c);
    emit_line(e, "for (int kh = 0; kh < %d; kh++) {", q->k);
    emit_line(e, "const float *xr = xs + (c * %d + oh * %d + kh * %d) * %d + %s * %d;", q->hp, q->sh, q->dh, q->wp, ow0,
              q->sw);
    emit_line(e, "const float *wr = wt + ((c * %d + kh) * %d) * %d + f0;", q->k, q->k, q->f);
    for (int kw = 0; kw < q->k; kw++) {
        emit_line(e, "{  /* kw = %d */", kw);
        for (int v = 0; v < q->nvb; v++)
            emit_line(e, "const %s_v%d w%d = %s_LD%d(wr + %d);", N, q->vw, v, N, q->vw, kw * q->f + v * q->vw);
        for (int i = 0; i < r; i++) {
            if (q->nvb == 1) {
                emit_line(e, "s0_%d += w0 * xr[%d];", i, kw * q->dw + i * q->sw);
                continue;
            }
            emit_line(e, "{");
            emit_line(e, "const float xv = xr[%d];", kw * q->dw + i * q->sw);
            for (int v = 0; v < q->nvb; v++)
                emit_line(e, "s%d_%d += w%d * xv;", v, i, v);
            emit_line(e, "}");
        }
        emit_line(e, "}");
    }
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "float t[%d][%d];  /* the block's sums, pixel by filter */", r, fbw);
    for (int v = 0; v < q->nvb; v++)
        for (int i = 0; i < r; i++)
            emit_line(e, "memcpy(t[%d] + %d, &s%d_%d, sizeof s%d_%d);", i, v * q->vw, v, i, v, i);
    emit_line(e, "for (int f = 0; f < %d; f++) {", fbw);
    emit_line(e, "for (int i = 0; i < %d; i++) {", r);
    emit_store(e, g, n, arena_printf(g->arena, "yn[((f0 + f) * %d + oh) * %d + %s + i]", q->ho, q->wo, ow0), "t[i][f]");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "}");
}

void emit_conv_filters_fwd(Emitter *e, const IrGraph *g, const IrNode *n)
{
    FGeom q = fgeom(g, n);
    const char *N = g->name;
    int taps = q.taps, fbw = q.nvb * q.vw;
    int nblk = (q.wo + q.rmax - 1) / q.rmax, r = (q.wo + nblk - 1) / nblk, full = q.wo / r, rest = q.wo - full * r;
    emit_line(e, "/* %d filters of %d floats per vector at a time, by %d output pixels, the sums in registers */", fbw,
              q.vw, r);
    emit_line(e, "%s_v%d wt_v[%d];  /* the weights as [tap][filter] */", N, q.vw, taps * q.f / q.vw);
    emit_line(e, "float *wt = (float *)wt_v;");
    emit_line(e, "for (int f = 0; f < %d; f++)", q.f);
    emit_line(e, "    for (int t = 0; t < %d; t++)", taps);
    emit_line(e, "        wt[t * %d + f] = w[f * %d + t];", q.f, taps);
    emit_line(e, "for (int n = 0; n < batch; n++) {");
    emit_line(e, "const float *xn = x + (size_t)n * %d;", q.c * q.h * q.w);
    emit_line(e, "float *yn = y + (size_t)n * %d;", q.f * q.ho * q.wo);
    emit_filters_sample(e, &q);
    emit_line(e, "for (int oh = 0; oh < %d; oh++) {", q.ho);
    emit_line(e, "for (int f0 = 0; f0 < %d; f0 += %d) {", q.f, fbw);
    if (full == 1)
        emit_filters_block(e, g, n, &q, r, "0");
    else {
        emit_line(e, "for (int ow0 = 0; ow0 < %d; ow0 += %d)", full * r, r);
        emit_filters_block(e, g, n, &q, r, "ow0");
    }
    if (rest)
        emit_filters_block(e, g, n, &q, rest, arena_printf(g->arena, "%d", full * r));
    emit_line(e, "}");
    emit_line(e, "}");
    emit_vmath_pass(e, g, n, "yn", arena_printf(g->arena, "%d", q.f * q.ho * q.wo));
    emit_line(e, "}");
}

/*
 * The weight gradient vectorized over filters (IrSched.filters), the
 * forward's counterpart: dw[f][t] = sum over samples and output pixels of
 * dy[f][pixel] * the tap's input pixel.  A unit of work is a block of
 * `nvb` filter vectors by `rows` consecutive kernel rows (c, kh), each of
 * k taps, whose sums stay in registers; per sample, dy is transposed to
 * [pixel][filter] (gt), and every output pixel adds its dy vector times
 * the broadcast input under each tap (the taps' offsets literals: a
 * `case` per row block when there are at most DW_SWITCH_MAX of them, else
 * one block of code with the rows' offsets computed per unit, which keeps
 * the C of many-channel layers small enough to compile quickly: resnet_mini
 * 14 s -> 4 s at -O2).  The units split over the pool;
 * each element is one unit's chain over samples and pixels in order, so
 * the result does not depend on the thread count.
 */
enum {
    DW_ROWS_MAX = 24,   /* kernel rows per unit at most (at least one tap each in 24 registers) */
    DW_SWITCH_MAX = 8,  /* row blocks up to which each gets its own code, its offsets literals */
};

static int filters_dw_rows(const FGeom *q)
{
    int most = (q->vw >= 16 ? 24 : 12) / (q->nvb * q->k), rows = 1;
    for (int r = most < q->c * q->k ? most : q->c * q->k; r > 1 && rows == 1; r--)
        if (q->c * q->k % r == 0)
            rows = r;
    return rows;
}

/* Units of work of the filter-vector weight gradient: filter blocks x row blocks. */
static int filters_dw_units(const FGeom *q, int *row_blocks)
{
    *row_blocks = q->c * q->k / filters_dw_rows(q);
    return q->f / (q->nvb * q->vw) * *row_blocks;
}

/*
 * One unit's block: the sums of kernel rows r0.. (an expression) of the
 * unit's filters, in registers over the sample's pixels; offs[r]: where
 * row r's taps start in xs (expressions).
 */
static void emit_dw_rows_block(Emitter *e, const IrGraph *g, const FGeom *q, int rows, const char *r0, const char **offs)
{
    const char *N = g->name;
    int fv = q->f / q->vw;
    for (int r = 0; r < rows; r++)
        for (int kw = 0; kw < q->k; kw++)
            for (int v = 0; v < q->nvb; v++)
                emit_line(e, "%s_v%d a%d_%d_%d = part[((%s + %d) * %d + %d) * %d + f0 / %d + %d];", N, q->vw, r, kw,
                          v, r0, r, q->k, kw, fv, q->vw, v);
    emit_line(e, "for (int oh = 0; oh < %d; oh++) {", q->ho);
    emit_line(e, "const float *xr = xs + oh * %d;", q->sh * q->wp);
    emit_line(e, "const float *gr = gt + oh * %d + f0;", q->wo * q->f);
    emit_line(e, "for (int ow = 0; ow < %d; ow++) {", q->wo);
    emit_line(e, "const float *xq = xr + ow * %d;", q->sw);
    for (int v = 0; v < q->nvb; v++)
        emit_line(e, "const %s_v%d g%d = %s_LD%d(gr + ow * %d + %d);", N, q->vw, v, N, q->vw, q->f, v * q->vw);
    for (int r = 0; r < rows; r++)
        for (int kw = 0; kw < q->k; kw++)
            for (int v = 0; v < q->nvb; v++)
                emit_line(e, "a%d_%d_%d += g%d * xq[%s + %d];", r, kw, v, v, offs[r], kw * q->dw);
    emit_line(e, "}");
    emit_line(e, "}");
    for (int r = 0; r < rows; r++)
        for (int kw = 0; kw < q->k; kw++)
            for (int v = 0; v < q->nvb; v++)
                emit_line(e, "part[((%s + %d) * %d + %d) * %d + f0 / %d + %d] = a%d_%d_%d;", r0, r, q->k, kw, fv,
                          q->vw, v, r, kw, v);
}

/* The job over units u0..u1-1, with its argument struct, emitted before the kernel b. */
void emit_conv_filters_dw_job(Emitter *e, const IrGraph *g, int b, const IrNode *f)
{
    FGeom q = fgeom(g, f);
    const char *N = g->name, *job = emit_train_kernel_name(g, b);
    int taps = q.taps, hw = q.ho * q.wo, rows = filters_dw_rows(&q), nrb, fbw = q.nvb * q.vw, fv = q.f / q.vw;
    filters_dw_units(&q, &nrb);
    emit_dw_job_begin(e, f, job, "units", "u0", "u1");
    emit_line(e, "%s_v%d part[%d];  /* per tap, its filters' sums as vectors (the units' taps and filters used) */", N,
              q.vw, taps * fv);
    emit_line(e, "memset(part, 0, sizeof part);");
    if (f->a.bias) {
        emit_line(e, "%s_v%d pb[%d];  /* the bias sums, per filter vector (units of row block 0) */", N, q.vw, fv);
        emit_line(e, "memset(pb, 0, sizeof pb);");
    }
    emit_line(e, "for (int n = 0; n < batch; n++) {");
    emit_line(e, "const float *xn = x + (size_t)n * %d;", q.c * q.h * q.w);
    emit_filters_sample(e, &q);
    emit_line(e, "%s_v%d gt_v[%d];  /* dy of the sample as [pixel][filter] */", N, q.vw, hw * fv);
    emit_line(e, "float *gt = (float *)gt_v;");
    emit_line(e, "for (int f = 0; f < %d; f++)", q.f);
    emit_line(e, "    for (int p = 0; p < %d; p++)", hw);
    emit_line(e, "        gt[p * %d + f] = dy[((size_t)n * %d + f) * %d + p];", q.f, q.f, hw);
    emit_line(e, "for (int u = u0; u < u1; u++) {");
    emit_line(e, "const int f0 = u / %d * %d;  /* filters f0.. */", nrb, fbw);
    if (f->a.bias) {
        emit_line(e, "if (u %% %d == 0) {", nrb);
        emit_line(e, "for (int p = 0; p < %d; p++) {", hw);
        for (int v = 0; v < q.nvb; v++)
            emit_line(e, "pb[f0 / %d + %d] += %s_LD%d(gt + p * %d + f0 + %d);", q.vw, v, N, q.vw, q.f, v * q.vw);
        emit_line(e, "}");
        emit_line(e, "}");
    }
    const char *offs[DW_ROWS_MAX];
    if (nrb <= DW_SWITCH_MAX) {  /* one case per row block, its offsets literals */
        emit_line(e, "switch (u %% %d) {", nrb);
        for (int b0 = 0; b0 < nrb; b0++) {
            emit_line(e, "case %d: {  /* kernel rows (c k + kh) %d..%d */", b0, b0 * rows, b0 * rows + rows - 1);
            for (int r = 0; r < rows; r++) {
                int row = b0 * rows + r;
                offs[r] = arena_printf(g->arena, "%d", (row / q.k * q.hp + row % q.k * q.dh) * q.wp);
            }
            emit_dw_rows_block(e, g, &q, rows, arena_printf(g->arena, "%d", b0 * rows), offs);
            emit_line(e, "break;");
            emit_line(e, "}");
        }
        emit_line(e, "}");
    } else {  /* many row blocks: one block of code, its rows' offsets computed */
        emit_line(e, "const int r0 = u %% %d * %d;  /* kernel rows (c k + kh) r0.. */", nrb, rows);
        for (int r = 0; r < rows; r++) {
            emit_line(e, "const int o%d = ((r0 + %d) / %d * %d + (r0 + %d) %% %d * %d) * %d;  /* row %d's offset in xs */",
                      r, r, q.k, q.hp, r, q.k, q.dh, q.wp, r);
            offs[r] = arena_printf(g->arena, "o%d", r);
        }
        emit_dw_rows_block(e, g, &q, rows, "r0", offs);
    }
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "for (int u = u0; u < u1; u++) {");
    emit_line(e, "const int f0 = u / %d * %d, t0 = u %% %d * %d;", nrb, fbw, nrb, rows * q.k);
    emit_line(e, "for (int f = f0; f < f0 + %d; f++) {", fbw);
    emit_line(e, "for (int t = t0; t < t0 + %d; t++)", rows * q.k);
    emit_line(e, "    dw[f * %d + t] = part[t * %d + f / %d][f %% %d];", taps, fv, q.vw, q.vw);
    if (f->a.bias) {
        emit_line(e, "if (t0 == 0)");
        emit_line(e, "    dbias[f] = pb[f / %d][f %% %d];", q.vw, q.vw);
    }
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_blank(e);
}

/* The weight gradient kernel: its units split over the pool. */
void emit_conv_filters_dw(Emitter *e, const IrGraph *g, int b, const IrNode *f)
{
    FGeom q = fgeom(g, f);
    int nrb, units = filters_dw_units(&q, &nrb);
    emit_dw_job_call(e, f, emit_train_kernel_name(g, b), "units", units,
                     2LL * q.f * q.taps * q.ho * q.wo / units);
}

/*
 * The input gradient vectorized over output pixels (IrSched.dx_pixels),
 * for sample n into dxn: dcol = W^T dy (taps by output pixels, each
 * element a sum over the filters in order, as the GEMM's), then back over
 * the windows into dx (emit_dx_gather for stride 1 and dilation 1, else
 * col2im's scatter).  A vector is vw consecutive pixels of
 * dy (copied to dyp with each filter's pixels zero-padded to whole
 * vectors, so that every load is aligned), a register block `tb` taps by
 * `pb` pixel vectors.  No GEMM packing, layout permute or batch-sized
 * im2col matrix: the sample's dcol stays in cache between the products
 * and the scatter, and the samples split over the pool (emit_par.c).
 */
static void emit_dx_block(Emitter *e, const IrGraph *g, const FGeom *q, int tb, int pb, int pc)
{
    const char *N = g->name;
    emit_line(e, "{");
    for (int i = 0; i < tb; i++)
        for (int p = 0; p < pb; p++)
            emit_line(e, "%s_v%d a%d_%d = (%s_v%d){0};", N, q->vw, i, p, N, q->vw);
    emit_line(e, "for (int f = 0; f < %d; f++) {", q->f);
    emit_line(e, "const float *wf = w + f * %d + t0;", q->taps);
    emit_line(e, "const %s_v%d *yf = dyp_v + f * %d + j0;", N, q->vw, pc / q->vw);
    for (int p = 0; p < pb; p++)
        emit_line(e, "const %s_v%d y%d = yf[%d];", N, q->vw, p, p);
    for (int i = 0; i < tb; i++) {
        emit_line(e, "{");
        emit_line(e, "const float s = wf[%d];", i);
        for (int p = 0; p < pb; p++)
            emit_line(e, "a%d_%d += s * y%d;", i, p, p);
        emit_line(e, "}");
    }
    emit_line(e, "}");
    for (int i = 0; i < tb; i++)
        for (int p = 0; p < pb; p++)
            emit_line(e, "dcol_v[(t0 + %d) * %d + j0 + %d] = a%d_%d;", i, pc / q->vw, p, i, p);
    emit_line(e, "}");
}

/* The blocks of taps for the pixel vectors from j0: whole blocks of tb, then the rest. */
static void emit_dx_taps(Emitter *e, const IrGraph *g, const FGeom *q, int tb, int pb, int pc)
{
    int full = q->taps / tb * tb;
    emit_line(e, "for (int t0 = 0; t0 < %d; t0 += %d)", full, tb);
    emit_dx_block(e, g, q, tb, pb, pc);
    if (full < q->taps) {
        emit_line(e, "{");
        emit_line(e, "const int t0 = %d;", full);
        emit_dx_block(e, g, q, q->taps - full, pb, pc);
        emit_line(e, "}");
    }
}

/*
 * col2im for stride 1 and dilation 1, as a gather: input row y of channel
 * c is the sum, over the window positions (kh, kw) in the scatter's order,
 * of dcol's row for output row y + pt - kh, shifted by kw - pl, with the
 * lanes outside the output row masked to zero.  Each element gets the
 * scatter's additions in the scatter's order (and +0.0 for the masked
 * lanes, which changes no sum that starts at +0.0), so the result is the
 * same to the bit; but whole vectors are added and each row is stored
 * once, where the scatter added rows of wo floats into dx once per
 * window position (lenet5's conv2d_2: 130 -> 103 us per 32 samples).
 * dcol has zero vectors around it for the loads that reach past it.
 */
static void emit_dx_gather(Emitter *e, const IrGraph *g, const FGeom *q, int pc, int nxv)
{
    const char *N = g->name;
    int vw = q->vw;
    emit_line(e, "{");
    emit_line(e, "/* lanes of input vector v that window column kw reaches from an output pixel */");
    emit_line(e, "static const %s_v%di mk[%d][%d] = {", N, vw, q->k, nxv);
    for (int kw = 0; kw < q->k; kw++) {
        char *row = arena_printf(g->arena, "{");
        for (int v = 0; v < nxv; v++) {
            row = arena_printf(g->arena, "%s%s{", row, v ? ", " : "");
            for (int l = 0; l < vw; l++) {
                int x = v * vw + l, ow = x + q->pl - kw;
                row = arena_printf(g->arena, "%s%s%d", row, l ? ", " : "", x < q->w && ow >= 0 && ow < q->wo ? -1 : 0);
            }
            row = arena_printf(g->arena, "%s}", row);
        }
        emit_line(e, "%s}%s", row, kw + 1 < q->k ? "," : "");
    }
    emit_line(e, "};");
    emit_line(e, "for (int c = 0; c < %d; c++) {", q->c);
    emit_line(e, "for (int y = 0; y < %d; y++) {", q->h);
    for (int v = 0; v < nxv; v++)
        emit_line(e, "%s_v%d s%d = (%s_v%d){0};", N, vw, v, N, vw);
    emit_line(e, "for (int kh = 0; kh < %d; kh++) {", q->k);
    emit_line(e, "const int oh = y + %d - kh;", q->pt);
    emit_line(e, "if (oh < 0 || oh >= %d)", q->ho);
    emit_line(e, "    continue;");
    emit_line(e, "for (int kw = 0; kw < %d; kw++) {", q->k);
    emit_line(e, "const float *r = dcol + (size_t)(c * %d + kh * %d + kw) * %d + oh * %d + %d - kw;", q->k * q->k, q->k,
              pc, q->wo, q->pl);
    for (int v = 0; v < nxv; v++)
        emit_line(e, "s%d += (%s_v%d)((%s_v%di)%s_LD%d(r + %d) & mk[kw][%d]);", v, N, vw, N, vw, N, vw, v * vw, v);
    emit_line(e, "}");
    emit_line(e, "}");
    for (int v = 0; v < nxv; v++) {
        int n = q->w - v * vw < vw ? q->w - v * vw : vw;
        emit_line(e, "memcpy(dxn + (size_t)(c * %d + y) * %d + %d, &s%d, sizeof(float) * %d);", q->h, q->w, v * vw, v, n);
    }
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "}");
}

/* Taps per register block beside pb pixel vectors: 21-22 of AVX-512's 32 registers, 12 of AVX2's 16. */
static int dx_tap_block(const FGeom *q, int pb)
{
    int tb = (q->vw >= 16 ? 22 : 12) / pb;
    return tb < q->taps ? tb : q->taps;
}

void emit_conv_filters_dx(Emitter *e, const IrGraph *g, const IrNode *n)
{
    FGeom q = fgeom(g, n);
    const char *N = g->name;
    int hw = q.ho * q.wo, pc = (hw + q.vw - 1) / q.vw * q.vw, pv = pc / q.vw;
    int most = q.vw >= 16 ? 7 : 4, npb = (pv + most - 1) / most, pb = (pv + npb - 1) / npb, pfull = pv / pb * pb;
    emit_line(e, "/* dcol = W^T dy: %d taps by %d pixels of %d floats per vector at a time, then col2im */",
              dx_tap_block(&q, pb), pb * q.vw, q.vw);
    emit_line(e, "%s_v%d dyp_v[%d];  /* dy of the sample, each filter's %d pixels zero-padded to %d */", N, q.vw,
              q.f * pv, hw, pc);
    emit_line(e, "float *dyp = (float *)dyp_v;");
    emit_line(e, "for (int f = 0; f < %d; f++) {", q.f);
    emit_line(e, "memcpy(dyp + f * %d, dy + ((size_t)n * %d + f) * %d, sizeof(float) * %d);", pc, q.f, hw, hw);
    if (pc > hw)
        emit_line(e, "memset(dyp + f * %d + %d, 0, sizeof(float) * %d);", pc, hw, pc - hw);
    emit_line(e, "}");
    bool gather = q.sh == 1 && q.sw == 1 && q.dh == 1 && q.dw == 1;
    int nxv = (q.w + q.vw - 1) / q.vw;  /* vectors per input row, gathering */
    int front = gather ? q.k - 1 - q.pl : 0, back = gather ? (q.ho - 1) * q.wo + nxv * q.vw + q.pl - pc : 0;
    int fv = front > 0 ? (front + q.vw - 1) / q.vw : 0, bv = back > 0 ? (back + q.vw - 1) / q.vw : 0;
    if (fv + bv > 0) {
        emit_line(e, "%s_v%d dcol_buf[%d];  /* W^T dy as [tap][pixel], rows of %d, after %d and before %d zero vectors (for the gather) */",
                  N, q.vw, fv + q.taps * pv + bv, pc, fv, bv);
        for (int i = 0; i < fv; i++)
            emit_line(e, "dcol_buf[%d] = (%s_v%d){0};", i, N, q.vw);
        for (int i = 0; i < bv; i++)
            emit_line(e, "dcol_buf[%d] = (%s_v%d){0};", fv + q.taps * pv + i, N, q.vw);
        emit_line(e, "%s_v%d *const dcol_v = dcol_buf + %d;", N, q.vw, fv);
    } else {
        emit_line(e, "%s_v%d dcol_v[%d];  /* W^T dy as [tap][pixel], rows of %d */", N, q.vw, q.taps * pv, pc);
    }
    emit_line(e, "for (int j0 = 0; j0 < %d; j0 += %d) {", pfull, pb);
    emit_dx_taps(e, g, &q, dx_tap_block(&q, pb), pb, pc);
    emit_line(e, "}");
    if (pfull < pv) {
        emit_line(e, "{");
        emit_line(e, "const int j0 = %d;", pfull);
        emit_dx_taps(e, g, &q, dx_tap_block(&q, pv - pfull), pv - pfull, pc);
        emit_line(e, "}");
    }
    emit_line(e, "const float *dcol = (const float *)dcol_v;");
    if (gather) {
        emit_dx_gather(e, g, &q, pc, nxv);
    } else {
        emit_line(e, "memset(dxn, 0, sizeof(float) * %d);", q.c * q.h * q.w);
        emit_im2col(e, g, n, "dxn", "dcol", true, arena_printf(g->arena, "%d", pc), "0");
    }
}
