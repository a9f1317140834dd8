/*
 * nnrt_gemm_avx512.c - the AVX-512 back end of the GEMM (x86-64).
 *
 * New here are the micro-kernel and the two dot GEMVs, which give AVX2's
 * bits on 16-float vectors; packing and the axpy GEMV are the AVX2 back
 * end's (the packed layouts are shared, nnrt_gemm_int.h). Like
 * nnrt_gemm_avx2.c, every function carries a target attribute and
 * nnrt_gemm_backend_avx512 checks the CPU at run time, so the file builds
 * without -march flags.
 *
 * Micro-kernel: the layouts hold 6x16 tiles, and a 6x16 tile is only six
 * 16-float zmm accumulators, too few chains to cover the FMA latency (4
 * cycles on 2 pipes wants at least 8). So the kernel runs the tiles of a
 * run two at a time: two neighbouring B panels against one A panel (each k
 * step: 2 loads of B, 6 broadcasts of A, 12 FMAs). Runs are row strips
 * only (rows_only), and a strip's partial last tile is part of its run
 * (edge_in_run): it pairs with the tile before, its B loaded under a mask,
 * in place or packed. A run's odd last tile runs alone. Rows of edge tiles
 * (mr < 6) have their own instantiations; columns past nr are masked at
 * the store. The k loop is unrolled twice: its counter and pointer
 * updates then take fewer of the front end's slots (3-5% on lenet5's
 * 64x120x84 and a 256 square, docs/performance.md, 2026-12-03 17:50-18:25).
 * Every element is the same FMA chain over k as in the other back ends, so
 * the results are identical to AVX2's.
 *
 * A full-height row strip's pairs also run Adam on the strip before (the
 * tile's side work, nnrt_gemm_int.h): one vector every 4 k steps, up to its
 * quota. Its square root and division go to units the FMAs leave idle; run
 * after the strip instead, Adam cost fashion_mlp's dense_1 weight gradient
 * 1-2 us more a step (docs/performance.md, 2026-12-03 16:00-16:20).
 */
#include "nnrt_gemm_int.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "nnrt_gemm_x86.h"

#define AVX512 __attribute__((target("avx512f,avx2,fma")))
#define AVX512_INLINE static inline __attribute__((always_inline, target("avx512f,avx2,fma")))

/* Lanes 0..7 and 8..15 of v. */
AVX512_INLINE __m256 lo8(__m512 v)
{
    return _mm512_castps512_ps256(v);
}

AVX512_INLINE __m256 hi8(__m512 v)
{
    return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
}

/*
 * The epilogue of one tile from its row vectors c[0..MR-1]: old C, bias,
 * relu, in that order, as AVX2's finish_vec; stored through a mask of nr columns,
 * or turned by the AVX2 transposes when the tile goes to C transposed.
 */
AVX512_INLINE void finish_tile(const NnrtGemmTile *t, const __m512 *c, const int MR)
{
    if (t->trans_c) {
        __m256 z = _mm256_setzero_ps(), x0[8], x1[8];
        for (int r = 0; r < 8; r++) {
            x0[r] = r < MR ? lo8(c[r]) : z;
            x1[r] = r < MR ? hi8(c[r]) : z;
        }
        finish_trans(t, 0, x0);
        if (t->nr > 8)
            finish_trans(t, 1, x1);
        return;
    }
    __mmask16 m = (__mmask16)((1u << t->nr) - 1u);
    for (int r = 0; r < MR; r++) {
        float *p = t->c + r * t->ldc;
        __m512 x = c[r];
        if (t->load_c)
            x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, p));
        if (t->bias)
            x = _mm512_add_ps(x, t->bias_per_row ? _mm512_set1_ps(t->bias[r]) : _mm512_maskz_loadu_ps(m, t->bias));
        if (t->relu)
            x = _mm512_max_ps(x, _mm512_setzero_ps());
        _mm512_mask_storeu_ps(p, m, x);
    }
}

/* Adam's constants (nnrt_gemm.h) in registers, and its arrays. */
typedef struct AdamRegs {
    __m512 b1, c1, b2, c2, eps, ss, ibc;
    float *p, *m, *v;
} AdamRegs;

AVX512_INLINE AdamRegs adam_regs(const NnrtAdam *a)
{
    AdamRegs r = {_mm512_set1_ps(a->b1), _mm512_set1_ps(a->c1), _mm512_set1_ps(a->b2),
                  _mm512_set1_ps(a->c2), _mm512_set1_ps(a->eps), _mm512_set1_ps(a->step_size),
                  _mm512_set1_ps(a->inv_bc2_sqrt), a->p, a->m, a->v};
    return r;
}

/*
 * Adam on the lanes mk of elements i..i+15 of the gradient g. The weight
 * 256 floats ahead is prefetched for writing (NNRT_ADAM_PREFETCH_W).
 */
AVX512_INLINE void adam_vec(const AdamRegs *a, const float *g, long i, __mmask16 mk)
{
    __builtin_prefetch(a->p + i + NNRT_ADAM_PREFETCH_W, 1, 3);
    __m512 gv = _mm512_maskz_loadu_ps(mk, g + i);
    __m512 m = _mm512_fmadd_ps(a->b1, _mm512_maskz_loadu_ps(mk, a->m + i), _mm512_mul_ps(a->c1, gv));
    __m512 v = _mm512_fmadd_ps(a->b2, _mm512_maskz_loadu_ps(mk, a->v + i),
                               _mm512_mul_ps(_mm512_mul_ps(a->c2, gv), gv));
    __m512 d = _mm512_fmadd_ps(_mm512_sqrt_ps(v), a->ibc, a->eps);
    __m512 p = _mm512_sub_ps(_mm512_maskz_loadu_ps(mk, a->p + i), _mm512_div_ps(_mm512_mul_ps(a->ss, m), d));
    _mm512_mask_storeu_ps(a->m + i, mk, m);
    _mm512_mask_storeu_ps(a->v + i, mk, v);
    _mm512_mask_storeu_ps(a->p + i, mk, p);
}

/* Adam (nnrt_gemm.h) on g[i0..i1-1], 16 elements at a time, the tail under a mask. */
AVX512 static void adam_avx512(const NnrtAdam *a, const float *g, long i0, long i1)
{
    const AdamRegs r = adam_regs(a);
    long i = i0;
    for (; i + 16 <= i1; i += 16)
        adam_vec(&r, g, i, 0xffff);
    if (i < i1)
        adam_vec(&r, g, i, (__mmask16)((1u << (i1 - i)) - 1u));
}

/* One row of a k step: broadcast A, one FMA per tile. */
#define ROW(r, p)                                                        \
    if (MR > r) {                                                        \
        __m512 av = _mm512_set1_ps(*(p));                                \
        c##r = _mm512_fmadd_ps(av, b0, c##r);                            \
        if (NT > 1)                                                      \
            d##r = _mm512_fmadd_ps(av, b1, d##r);                        \
    }

/*
 * The kc-long FMA loop of NT (1 or 2) MR x 16 tiles of a row strip, then
 * their epilogues; the second tile's B is b_step further. Rows of A are
 * reached from two bases, a and a + 3*rs, as in the AVX2 kernel; the
 * accumulators are named variables, which GCC keeps in registers (arrays
 * it keeps in memory). SIDE: also up to t->side->quota whole vectors of its
 * Adam, one every 4 k steps (the 12 accumulators, 2 B vectors, a broadcast
 * and Adam's 7 constants and 4 operands fit the 32 registers). EDGE: the
 * last of the NT tiles is the run's partial last one: its B is loaded under
 * a mask of t->edge_nr lanes (in place, the lanes past it may not exist).
 */
AVX512_INLINE void kern_body(int kc, const NnrtGemmTile *t, const int MR, const int NT, const int SIDE,
                             const int EDGE)
{
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
    __m512 d0 = c0, d1 = c0, d2 = c0, d3 = c0, d4 = c0, d5 = c0;
    const float *a = t->a, *bp = t->b;
    long rs = t->rs_a, cs = t->cs_a, sb = t->ldb_k, rs2 = 2 * rs;
    long bo = NT > 1 ? t->b_step : 0;
    const float *a3 = a + 3 * rs;
    __mmask16 bm = EDGE ? (__mmask16)((1u << t->edge_nr) - 1u) : 0xffff;
    NnrtGemmSide *sd = t->side;
    AdamRegs ar;
    const float *sg = NULL;
    long si = 0, slim = 0;
    if (SIDE) {
        ar = adam_regs(sd->adam);
        sg = sd->g;
        si = sd->i;
        slim = si + (sd->end - si < 16L * sd->quota ? (sd->end - si) / 16 * 16 : 16L * sd->quota);
    }
#pragma GCC unroll 2
    for (int k = 0; k < kc; k++) {
        if (SIDE && (k & 3) == 3 && si < slim) {
            adam_vec(&ar, sg, si, 0xffff);
            si += 16;
        }
        __m512 b0 = EDGE && NT == 1 ? _mm512_maskz_loadu_ps(bm, bp) : _mm512_loadu_ps(bp);
        __m512 b1 = NT == 1 ? b0 : EDGE ? _mm512_maskz_loadu_ps(bm, bp + bo) : _mm512_loadu_ps(bp + bo);
        ROW(0, a) ROW(1, a + rs) ROW(2, a + rs2) ROW(3, a3) ROW(4, a3 + rs) ROW(5, a3 + rs2)
        a += cs;
        a3 += cs;
        bp += sb;
    }
    if (SIDE)
        sd->i = si;
    NnrtGemmTile u = *t;
    if (EDGE && NT == 1)
        u.nr = t->edge_nr;
    const __m512 c[6] = {c0, c1, c2, c3, c4, c5};
    finish_tile(&u, c, MR);
    if (NT > 1) {
        const __m512 d[6] = {d0, d1, d2, d3, d4, d5};
        nnrt_gemm_tile_advance(&u);
        if (EDGE)
            u.nr = t->edge_nr;
        finish_tile(&u, d, MR);
    }
}

/*
 * A run of MR-row tiles: pairs along the run (full-height row strips' with
 * their side work), then the odd one; the pair or single that ends the run
 * loads its last B under a mask when that tile is partial (edge_nr).
 */
#define KERN(MR)                                                         \
    AVX512 NNRT_NO_UNSWITCH static void kern_##MR(int kc, const NnrtGemmTile *t) \
    {                                                                    \
        NnrtGemmTile u = *t;                                             \
        int i = 0, n = t->ntiles, edge = t->edge_nr != 0;                \
        for (; i + 2 <= n; i += 2) {                                     \
            if (edge && i + 2 == n)                                      \
                kern_body(kc, &u, MR, 2, 0, 1);                          \
            else if (MR == NNRT_GEMM_MR && t->side)                      \
                kern_body(kc, &u, MR, 2, 1, 0);                          \
            else                                                         \
                kern_body(kc, &u, MR, 2, 0, 0);                          \
            nnrt_gemm_tile_advance(&u);                                  \
            nnrt_gemm_tile_advance(&u);                                  \
        }                                                                \
        if (i < n && edge)                                               \
            kern_body(kc, &u, MR, 1, 0, 1);                              \
        else if (i < n)                                                  \
            kern_body(kc, &u, MR, 1, 0, 0);                              \
    }
KERN(1) KERN(2) KERN(3) KERN(4) KERN(5) KERN(6)

static NnrtGemmKernFn *const kerns[NNRT_GEMM_MR] = {kern_1, kern_2, kern_3, kern_4, kern_5, kern_6};

/* The micro-kernel entry: picks the instantiation for the tile's rows. */
static void kern_avx512(int kc, const NnrtGemmTile *t)
{
    kerns[t->mr - 1](kc, t);
}

/*
 * The AVX2 back end's dot_rows on 16-float vectors: a[r] holds that
 * kernel's lo[r] and hi[r] side by side, and the 8-k tail chunks go to the
 * low half under a merge mask, so every sum is AVX2's bit for bit
 * (test_isas_identical), in half the instructions.
 */
AVX512_INLINE void dot_rows(const NnrtGemvOp *op, int i, float *sum, const int ROWS)
{
    const float *m[4], *x = op->x;
    __m512 a[4];
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; r++) {
        m[r] = op->mat + (size_t)(i + r) * op->ldm;
        a[r] = _mm512_setzero_ps();
    }
    int k = 0;
    for (; k + 16 <= op->k; k += 16) {
        __m512 xv = _mm512_loadu_ps(x + k);
#pragma GCC unroll 4
        for (int r = 0; r < ROWS; r++)
            a[r] = _mm512_fmadd_ps(_mm512_loadu_ps(m[r] + k), xv, a[r]);
    }
    for (; k < op->k; k += 8) {
        __mmask16 mk = (__mmask16)((1u << (op->k - k < 8 ? op->k - k : 8)) - 1u);
        __m512 xv = _mm512_maskz_loadu_ps(mk, x + k);
#pragma GCC unroll 4
        for (int r = 0; r < ROWS; r++)
            a[r] = _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(mk, m[r] + k), xv, a[r], 0x00ff);
    }
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; r++)
        sum[r] = hsum(_mm256_add_ps(lo8(a[r]), hi8(a[r])));
}

AVX512 static void nnrt_gemm_gemv_dot_avx512(const NnrtGemvOp *op, int i0, int i1)
{
    gemv_dot_runs(op, i0, i1, dot_rows, 4);
}

/*
 * The sequential dot GEMV (see nnrt_gemm_gemv_dot_seq_avx2) on 16-float
 * vectors: a[j] here is the AVX2 kernel's a[2j] and a[2j+1] side by side, the
 * 16-k blocks past the last 64 go to a[0], a[1], a[2], and the 8-k tail
 * chunks to a[0]'s low half under a merge mask, leaving the high half as
 * AVX2 leaves a[1]. So every lane sums what the AVX2 lane does, in the same
 * order, and the results are the same bit for bit (test_isas_identical).
 * seq_row sums row m of depth K; the kernel collects GEMV_RUN sums, then
 * finishes them (gemv_finish).
 */
AVX512_INLINE float seq_row(const float *m, const float *x, int K)
{
    __m512 a[4];
#pragma GCC unroll 4
    for (int v = 0; v < 4; v++)
        a[v] = _mm512_setzero_ps();
    int k = 0;
    for (; k + 64 <= K; k += 64) {
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++)
            a[v] = _mm512_fmadd_ps(_mm512_loadu_ps(m + k + 16 * v), _mm512_loadu_ps(x + k + 16 * v), a[v]);
    }
#pragma GCC unroll 3
    for (int v = 0; v < 3; v++)  /* the 16-k blocks left, at most 3; unrolled, a[] stays in registers */
        if (k + 16 <= K) {
            a[v] = _mm512_fmadd_ps(_mm512_loadu_ps(m + k), _mm512_loadu_ps(x + k), a[v]);
            k += 16;
        }
    for (; k < K; k += 8) {
        __mmask16 mk = (__mmask16)((1u << (K - k < 8 ? K - k : 8)) - 1u);
        a[0] = _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(mk, m + k), _mm512_maskz_loadu_ps(mk, x + k), a[0], 0x00ff);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a[0], a[1]), a[2]), a[3]);
    return hsum(_mm256_add_ps(lo8(s), hi8(s)));
}

/* Rows i..i+ROWS-1 one after the other (GemvRowsFn). */
AVX512_INLINE void seq_rows(const NnrtGemvOp *op, int i, float *sum, const int ROWS)
{
    for (int r = 0; r < ROWS; r++)
        sum[r] = seq_row(op->mat + (size_t)(i + r) * op->ldm, op->x, op->k);
}

AVX512 static void nnrt_gemm_gemv_dot_seq_avx512(const NnrtGemvOp *op, int i0, int i1)
{
    gemv_dot_runs(op, i0, i1, seq_rows, 1);
}

static const NnrtGemmBackend avx512 = {
    .name = "avx512",
    .kern = kern_avx512,
    .pack_a = nnrt_gemm_pack_a_avx2,
    .pack_b = nnrt_gemm_pack_b_avx2,
    .gemv_dot = nnrt_gemm_gemv_dot_avx512,
    .gemv_dot_seq = nnrt_gemm_gemv_dot_seq_avx512,
    .gemv_axpy = nnrt_gemm_gemv_axpy_avx2,
    .adam = adam_avx512,
    .edge_in_run = 1,
    .rows_only = 1,
};

const NnrtGemmBackend *nnrt_gemm_backend_avx512(void)
{
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && nnrt_gemm_backend_avx2())
        return &avx512;
    return NULL;
}

#else /* not x86-64 */

const NnrtGemmBackend *nnrt_gemm_backend_avx512(void)
{
    return NULL;
}

#endif
