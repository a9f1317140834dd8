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
 *   dW       the same products summed over the batch: partial sums per tap
 *            and output column, added over samples and rows in order, then
 *            across columns in order — a fixed order whatever the threads.
 *
 * The input gradient of such a layer (needed only when it is not the first)
 * takes the general scatter loop of emit_backward.c.  schedule.c decides
 * which convolutions are direct (IrSched.direct).
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

/* Filters computed together: the largest divisor of f up to 6 (6 sums + 1 input vector in registers). */
static int filter_block(int f)
{
    for (int b = 6; b > 1; b--)
        if (f % b == 0)
            return b;
    return 1;
}

/* Copies sample xn into the zero-padded xp[c][hp][wp] (a local array). */
static void emit_pad_copy(Emitter *e, const Geom *q)
{
    emit_line(e, "float xp[%d];  /* the sample, zero-padded to [%d][%d][%d] */", q->c * q->hp * q->wp, q->c, q->hp, q->wp);
    emit_line(e, "memset(xp, 0, sizeof xp);");
    int rows = q->h < q->hp - q->pt ? q->h : q->hp - q->pt;
    int cols = q->w < q->wp - q->pl ? q->w : q->wp - q->pl;
    emit_line(e, "for (int c = 0; c < %d; c++)", q->c);
    emit_line(e, "    for (int ih = 0; ih < %d; ih++)", rows);
    emit_line(e, "        memcpy(xp + (c * %d + ih + %d) * %d + %d, xn + (c * %d + ih) * %d, sizeof(float) * %d);", q->hp,
              q->pt, q->wp, q->pl, q->h, q->w, cols);
}

/* The offset in xp of tap t's row for output row oh (as C text). */
static const char *tap_row(const IrGraph *g, const Geom *q, int t)
{
    int c = t / (q->k * q->k), kh = t / q->k % q->k, kw = t % q->k;
    return arena_printf(g->arena, "xp[(%d + oh) * %d + ow + %d]", c * q->hp + kh, q->wp, kw);
}

void emit_conv_direct_fwd(Emitter *e, const IrGraph *g, const IrNode *n)
{
    Geom q = geom(g, n);
    int fb = filter_block(q.f);
    emit_line(e, "for (int n = 0; n < batch; n++) {");
    emit_line(e, "const float *xn = x + (size_t)n * %d;", q.c * q.h * q.w);
    emit_line(e, "float *yn = y + (size_t)n * %d;", q.f * q.ho * q.wo);
    emit_pad_copy(e, &q);
    emit_line(e, "/* %d filters at a time, their sums in registers */", fb);
    emit_line(e, "for (int f0 = 0; f0 < %d; f0 += %d) {", q.f, fb);
    emit_line(e, "const float *wf = w + (size_t)f0 * %d;", q.taps);
    emit_line(e, "for (int oh = 0; oh < %d; oh++) {", q.ho);
    emit_line(e, "for (int ow = 0; ow < %d; ow++) {", q.wo);
    for (int b = 0; b < fb; b++)
        emit_line(e, "float s%d = %s;", b, n->a.bias ? arena_printf(g->arena, "bias[f0 + %d]", b) : "0.0f");
    for (int t = 0; t < q.taps; t++) {
        emit_line(e, "{");
        emit_line(e, "const float v = %s;", tap_row(g, &q, t));
        for (int b = 0; b < fb; b++)
            emit_line(e, "s%d += wf[%d] * v;", b, b * q.taps + t);
        emit_line(e, "}");
    }
    for (int b = 0; b < fb; b++)
        emit_store(e, g, n, arena_printf(g->arena, "yn[((f0 + %d) * %d + oh) * %d + ow]", b, q.ho, q.wo),
                   arena_printf(g->arena, "s%d", b));
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_vmath_pass(e, g, n, "y", arena_printf(g->arena, "(size_t)batch * %d", q.f * q.ho * q.wo));
}

void emit_conv_direct_dw(Emitter *e, const IrGraph *g, const IrNode *f)
{
    Geom q = geom(g, f);
    emit_line(e, "float part[%d][%d];  /* per tap and output column, summed over samples and rows */", q.taps, q.wo);
    emit_line(e, "for (int f = 0; f < %d; f++) {", q.f);
    emit_line(e, "memset(part, 0, sizeof part);");
    if (f->a.bias)
        emit_line(e, "float pb[%d] = {0};", q.wo);
    emit_line(e, "for (int n = 0; n < batch; n++) {");
    emit_line(e, "const float *xn = x + (size_t)n * %d;", q.c * q.h * q.w);
    emit_line(e, "const float *dyf = dy + ((size_t)n * %d + f) * %d;", q.f, q.ho * q.wo);
    emit_pad_copy(e, &q);
    emit_line(e, "for (int oh = 0; oh < %d; oh++) {", q.ho);
    emit_line(e, "for (int ow = 0; ow < %d; ow++) {", q.wo);
    emit_line(e, "const float gy = dyf[oh * %d + ow];", q.wo);
    if (f->a.bias)
        emit_line(e, "pb[ow] += gy;");
    for (int t = 0; t < q.taps; t++)
        emit_line(e, "part[%d][ow] += gy * %s;", t, tap_row(g, &q, t));
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_line(e, "for (int t = 0; t < %d; t++) {", q.taps);
    emit_line(e, "float s = 0.0f;");
    emit_line(e, "for (int ow = 0; ow < %d; ow++) s += part[t][ow];", q.wo);
    emit_line(e, "dw[f * %d + t] = s;", q.taps);
    emit_line(e, "}");
    if (f->a.bias) {
        emit_line(e, "float sb = 0.0f;");
        emit_line(e, "for (int ow = 0; ow < %d; ow++) sb += pb[ow];", q.wo);
        emit_line(e, "dbias[f] = sb;");
    }
    emit_line(e, "}");
}
