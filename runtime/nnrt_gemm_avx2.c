/*
 * nnrt_gemm_avx2.c - the AVX2+FMA back end of the GEMM (x86-64).
 *
 * Every function carries target("avx2,fma"), so this file builds without
 * -march flags and nnrt_gemm_backend_avx2 decides at run time, with
 * __builtin_cpu_supports, whether the CPU can run it.
 *
 * Micro-kernel: a 6x16 tile of C in 12 ymm accumulators. Each k step loads
 * two 8-float vectors of the packed B panel, broadcasts six values of A and
 * issues 12 FMAs; 12 independent chains cover the FMA latency (4 cycles,
 * 2 pipes on Zen 3 and Haswell alike). Measured on the reference machine
 * (Zen 3) with operands in cache, 6x16 beats 4x24, 8x8, 12x8, 3x32, 5x16
 * and 7x16 (which spills): 97% of the FMA peak on a 6x16 tile in L1, where
 * the others stay under 85%. Edge tiles have their own instantiations (1-6
 * rows, 1 or 2 vectors), all running the same per-element FMA chain; only
 * the stores are masked. A tile that goes to C transposed is turned by 8x8
 * transposes in registers. The k loop is not unrolled: GCC then spills the
 * accumulators (measured 25% slower).
 */
#include "nnrt_gemm_int.h"

#if defined(__x86_64__) && defined(__GNUC__)

#include "nnrt_gemm_x86.h"

/* ---- micro-kernel ------------------------------------------------------------ */

/* Finishes one 8-column vector of D's row r: old C, bias, relu, store of n lanes. */
AVX2_INLINE void finish_vec(const NnrtGemmTile *t, int r, int v, __m256 x, int n)
{
    float *c = t->c + r * t->ldc + 8 * v;
    __m256i m = tail_mask(n);
    if (t->load_c)
        x = _mm256_add_ps(x, n == 8 ? _mm256_loadu_ps(c) : _mm256_maskload_ps(c, m));
    if (t->bias) {
        const float *b = t->bias + 8 * v;
        if (t->bias_per_row)
            x = _mm256_add_ps(x, _mm256_broadcast_ss(t->bias + r));
        else
            x = _mm256_add_ps(x, n == 8 ? _mm256_loadu_ps(b) : _mm256_maskload_ps(b, m));
    }
    if (t->relu)
        x = _mm256_max_ps(x, _mm256_setzero_ps());
    if (n == 8)
        _mm256_storeu_ps(c, x);
    else
        store_partial(c, x, n);
}

/* One row of a k step: broadcast A, one or two FMAs. */
#define ROW(r, p)                                                        \
    if (MR > r) {                                                        \
        __m256 av = _mm256_broadcast_ss(p);                              \
        c##r##0 = _mm256_fmadd_ps(av, b0, c##r##0);                      \
        if (NV > 1)                                                      \
            c##r##1 = _mm256_fmadd_ps(av, b1, c##r##1);                  \
    }

/* The epilogue of row r: its one or two vectors (n0 and n1 valid lanes). */
#define EPI(r)                                                           \
    if (MR > r) {                                                        \
        finish_vec(t, r, 0, c##r##0, n0);                                \
        if (NV > 1)                                                      \
            finish_vec(t, r, 1, c##r##1, n1);                            \
    }

/* Row r of a full-width tile: store, or add to C and store. */
#define FAST(r)                                                          \
    if (MR > r) {                                                        \
        _mm256_storeu_ps(c + r * ldc, c##r##0);                          \
        _mm256_storeu_ps(c + r * ldc + 8, c##r##1);                      \
    }
#define FAST_ADD(r)                                                      \
    if (MR > r) {                                                        \
        _mm256_storeu_ps(c + r * ldc, _mm256_add_ps(c##r##0, _mm256_loadu_ps(c + r * ldc))); \
        _mm256_storeu_ps(c + r * ldc + 8,                                \
                         _mm256_add_ps(c##r##1, _mm256_loadu_ps(c + r * ldc + 8))); \
    }

/*
 * The kc-long FMA loop of an MR x (8*NV) tile (MR, NV constant after
 * inlining), then the epilogue. Rows of A are reached from two bases, a and
 * a + 3*rs, with offsets 0, rs and 2*rs, which x86 addressing encodes.
 */
AVX2_INLINE void kern_body(int kc, const NnrtGemmTile *t, const int MR, const int NV)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
    const float *a = t->a, *bp = t->b;
    long rs = t->rs_a, cs = t->cs_a, sb = t->ldb_k, rs2 = 2 * rs;
    const float *a3 = a + 3 * rs;
#pragma GCC unroll 2 /* fewer loop updates per FMA; on Zen 5, 3-4% on dX shapes (performance.md) */
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_loadu_ps(bp);
        __m256 b1 = NV > 1 ? _mm256_loadu_ps(bp + 8) : b0;
        ROW(0, a) ROW(1, a + rs) ROW(2, a + rs2) ROW(3, a3) ROW(4, a3 + rs) ROW(5, a3 + rs2)
        a += cs;
        a3 += cs;
        bp += sb;
    }
    if (t->trans_c) {
        __m256 z = _mm256_setzero_ps();
        __m256 x0[8] = {c00, MR > 1 ? c10 : z, MR > 2 ? c20 : z, MR > 3 ? c30 : z,
                        MR > 4 ? c40 : z, MR > 5 ? c50 : z, z, z};
        finish_trans(t, 0, x0);
        if (NV > 1) {
            __m256 x1[8] = {c01, MR > 1 ? c11 : z, MR > 2 ? c21 : z, MR > 3 ? c31 : z,
                            MR > 4 ? c41 : z, MR > 5 ? c51 : z, z, z};
            finish_trans(t, 1, x1);
        }
        return;
    }
    if (NV == 2 && t->nr == NNRT_GEMM_NR && !t->bias && !t->relu) {
        /* the common case: full width, nothing but the optional old C */
        float *c = t->c;
        long ldc = t->ldc;
        if (t->load_c) {
            FAST_ADD(0) FAST_ADD(1) FAST_ADD(2) FAST_ADD(3) FAST_ADD(4) FAST_ADD(5)
        } else {
            FAST(0) FAST(1) FAST(2) FAST(3) FAST(4) FAST(5)
        }
        return;
    }
    int n0 = t->nr < 8 ? t->nr : 8, n1 = t->nr - 8;
    EPI(0) EPI(1) EPI(2) EPI(3) EPI(4) EPI(5)
}

#define KERN(MR, NV)                                                     \
    AVX2 NNRT_NO_UNSWITCH static void kern_##MR##x##NV(int kc, const NnrtGemmTile *t) \
    {                                                                    \
        NnrtGemmTile u = *t;                                             \
        for (int i = 0; i < t->ntiles; i++, nnrt_gemm_tile_advance(&u))  \
            kern_body(kc, &u, MR, NV);                                   \
    }
KERN(1, 1) KERN(2, 1) KERN(3, 1) KERN(4, 1) KERN(5, 1) KERN(6, 1)
KERN(1, 2) KERN(2, 2) KERN(3, 2) KERN(4, 2) KERN(5, 2) KERN(6, 2)

static NnrtGemmKernFn *const kerns[2][NNRT_GEMM_MR] = {
    {kern_1x1, kern_2x1, kern_3x1, kern_4x1, kern_5x1, kern_6x1},
    {kern_1x2, kern_2x2, kern_3x2, kern_4x2, kern_5x2, kern_6x2},
};

/* The micro-kernel entry: picks the instantiation for the tile's edges. */
static void kern_avx2(int kc, const NnrtGemmTile *t)
{
    kerns[t->nr > 8][t->mr - 1](kc, t);
}

/* ---- packing ------------------------------------------------------------------- */

/* Loads n (0..8) floats from each of `rows` rows src + i*ld; other rows are zero. */
AVX2_INLINE void load_rows(__m256 r[8], const float *src, long ld, int rows, int n)
{
    __m256i m = tail_mask(n);
    for (int i = 0; i < 8; i++) {
        if (i >= rows)
            r[i] = _mm256_setzero_ps();
        else if (n == 8)
            r[i] = _mm256_loadu_ps(src + i * ld);
        else
            r[i] = _mm256_maskload_ps(src + i * ld, m);
    }
}

/*
 * Panels from rows of op(B) = B, 8 rows at a time across all panels: reads
 * stay sequential in 8 streams and each panel gets 512 contiguous bytes.
 */
AVX2_INLINE void pack_b_rows(const float *src, long ldb, int kc, int nc, float *dst)
{
    int full = nc / NNRT_GEMM_NR * NNRT_GEMM_NR, w = nc - full;
    __m256i m0 = tail_mask(w < 8 ? w : 8), m1 = tail_mask(w > 8 ? w - 8 : 0);
    size_t panel = (size_t)NNRT_GEMM_NR * kc;
    for (int k0 = 0; k0 < kc; k0 += 8) {
        int k1 = kc - k0 < 8 ? kc : k0 + 8;
        float *d = dst + (size_t)k0 * NNRT_GEMM_NR;
        for (int j = 0; j < full; j += NNRT_GEMM_NR, d += panel) {
            const float *s = src + (size_t)k0 * ldb + j;
            for (int k = k0; k < k1; k++, s += ldb) {
                _mm256_store_ps(d + (k - k0) * NNRT_GEMM_NR, _mm256_loadu_ps(s));
                _mm256_store_ps(d + (k - k0) * NNRT_GEMM_NR + 8, _mm256_loadu_ps(s + 8));
            }
        }
        if (w) {
            const float *s = src + (size_t)k0 * ldb + full;
            for (int k = k0; k < k1; k++, s += ldb) {
                _mm256_store_ps(d + (k - k0) * NNRT_GEMM_NR, _mm256_maskload_ps(s, m0));
                _mm256_store_ps(d + (k - k0) * NNRT_GEMM_NR + 8, _mm256_maskload_ps(s + 8, m1));
            }
        }
    }
}

/* Transposes the 8x8 block at s (rows ld apart) into d (rows ds apart). */
AVX2_INLINE void block8(const float *s, long ld, float *d, long ds)
{
    __m256 r[8] = {_mm256_loadu_ps(s),          _mm256_loadu_ps(s + ld),
                   _mm256_loadu_ps(s + 2 * ld), _mm256_loadu_ps(s + 3 * ld),
                   _mm256_loadu_ps(s + 4 * ld), _mm256_loadu_ps(s + 5 * ld),
                   _mm256_loadu_ps(s + 6 * ld), _mm256_loadu_ps(s + 7 * ld)};
    transpose8(r);
    _mm256_store_ps(d, r[0]);
    _mm256_store_ps(d + ds, r[1]);
    _mm256_store_ps(d + 2 * ds, r[2]);
    _mm256_store_ps(d + 3 * ds, r[3]);
    _mm256_store_ps(d + 4 * ds, r[4]);
    _mm256_store_ps(d + 5 * ds, r[5]);
    _mm256_store_ps(d + 6 * ds, r[6]);
    _mm256_store_ps(d + 7 * ds, r[7]);
}

/*
 * One 16-column panel of op(B) = B^T: its columns are w rows of B. Full
 * 16 x 8 blocks go through two 8x8 transposes that fill 8 whole cache lines
 * of the panel; edges through masked loads.
 */
AVX2_INLINE void pack_b_cols(const float *src, long ldb, int kc, int w, float *dst)
{
    int k0 = 0;
    if (w == NNRT_GEMM_NR)
        for (; k0 + 8 <= kc; k0 += 8) {
            block8(src + k0, ldb, dst + (size_t)k0 * NNRT_GEMM_NR, NNRT_GEMM_NR);
            block8(src + 8 * ldb + k0, ldb, dst + (size_t)k0 * NNRT_GEMM_NR + 8, NNRT_GEMM_NR);
        }
    for (int h = 0; h < 2; h++) {
        int rows = w - 8 * h < 0 ? 0 : (w - 8 * h > 8 ? 8 : w - 8 * h);
        const float *s = src + 8 * h * ldb;
        for (int k = k0; k < kc; k += 8) {
            int n = kc - k < 8 ? kc - k : 8;
            __m256 r[8];
            load_rows(r, s + k, ldb, rows, n);
            transpose8(r);
            for (int i = 0; i < n; i++)
                _mm256_store_ps(dst + (size_t)(k + i) * NNRT_GEMM_NR + 8 * h, r[i]);
        }
    }
}

AVX2 void nnrt_gemm_pack_b_avx2(int transb, const float *B, long ldb, int p0, int kc, int j0, int nc,
                             float *dst)
{
    if (!transb) {
        pack_b_rows(B + (size_t)p0 * ldb + j0, ldb, kc, nc, dst);
        return;
    }
    for (int jr = 0; jr < nc; jr += NNRT_GEMM_NR, dst += (size_t)NNRT_GEMM_NR * kc) {
        int w = nc - jr < NNRT_GEMM_NR ? nc - jr : NNRT_GEMM_NR;
        pack_b_cols(B + (size_t)(j0 + jr) * ldb + p0, ldb, kc, w, dst);
    }
}

/*
 * 8 k-steps of a full 6-row panel: an 8x8 transpose of the 6 rows and 2 zero
 * rows; each k's 6 values go out as an 8-float store that the next k's store
 * overlaps (the last spills 2 floats into the next panel or the A_SLACK
 * after the block, both rewritten or unused).
 */
AVX2_INLINE void block6(const float *s, long lda, float *d)
{
    __m256 z = _mm256_setzero_ps();
    __m256 r[8] = {_mm256_loadu_ps(s),           _mm256_loadu_ps(s + lda),
                   _mm256_loadu_ps(s + 2 * lda), _mm256_loadu_ps(s + 3 * lda),
                   _mm256_loadu_ps(s + 4 * lda), _mm256_loadu_ps(s + 5 * lda),
                   z,                            z};
    transpose8(r);
    _mm256_storeu_ps(d, r[0]);
    _mm256_storeu_ps(d + 6, r[1]);
    _mm256_storeu_ps(d + 12, r[2]);
    _mm256_storeu_ps(d + 18, r[3]);
    _mm256_storeu_ps(d + 24, r[4]);
    _mm256_storeu_ps(d + 30, r[5]);
    _mm256_storeu_ps(d + 36, r[6]);
    _mm256_storeu_ps(d + 42, r[7]);
}

/* One 6-row panel of op(A) = A: block6 where full, masked loads at the edges. */
AVX2_INLINE void pack_a_rows(const float *src, long lda, int kc, int rows, float *dst)
{
    int k = 0;
    if (rows == NNRT_GEMM_MR)
        for (; k + 8 <= kc; k += 8)
            block6(src + k, lda, dst + (size_t)k * NNRT_GEMM_MR);
    for (; k < kc; k += 8) {
        int n = kc - k < 8 ? kc - k : 8;
        __m256 r[8];
        load_rows(r, src + k, lda, rows, n);
        transpose8(r);
        for (int i = 0; i < n; i++)
            _mm256_storeu_ps(dst + (size_t)(k + i) * NNRT_GEMM_MR, r[i]);
    }
}

/*
 * Panels of op(A) = A^T: each k of a panel is 6 contiguous floats of A
 * (masked load, 8-float store that the next k's store overlaps). 8 rows of
 * A at a time across all panels, so that reads stay sequential.
 */
AVX2_INLINE void pack_a_cols(const float *src, long lda, int kc, int mc, float *dst)
{
    size_t panel = (size_t)NNRT_GEMM_MR * kc;
    for (int k0 = 0; k0 < kc; k0 += 8) {
        int k1 = kc - k0 < 8 ? kc : k0 + 8;
        for (int ir = 0; ir < mc; ir += NNRT_GEMM_MR) {
            __m256i m = tail_mask(mc - ir < NNRT_GEMM_MR ? mc - ir : NNRT_GEMM_MR);
            float *d = dst + ir / NNRT_GEMM_MR * panel + (size_t)k0 * NNRT_GEMM_MR;
            const float *s = src + (size_t)k0 * lda + ir;
            for (int k = k0; k < k1; k++, s += lda, d += NNRT_GEMM_MR) {
                __m256 v = _mm256_maskload_ps(s, m);
                if (k + 1 < kc)
                    _mm256_storeu_ps(d, v);
                else /* the next panel is already packed: no spill */
                    store_partial(d, v, NNRT_GEMM_MR);
            }
        }
    }
}

AVX2 void nnrt_gemm_pack_a_avx2(int transa, const float *A, long lda, int i0, int mc, int p0, int kc,
                             float *dst)
{
    if (transa) {
        pack_a_cols(A + (size_t)p0 * lda + i0, lda, kc, mc, dst);
        return;
    }
    for (int ir = 0; ir < mc; ir += NNRT_GEMM_MR, dst += (size_t)NNRT_GEMM_MR * kc) {
        int rows = mc - ir < NNRT_GEMM_MR ? mc - ir : NNRT_GEMM_MR;
        pack_a_rows(A + (size_t)(i0 + ir) * lda + p0, lda, kc, rows, dst);
    }
}

/* ---- GEMV ------------------------------------------------------------------------ */

/*
 * ROWS (1 or 4) dot products of mat's rows i.. with x: two accumulators per
 * row over 16 k at a time, a masked tail, then a fixed-order reduction. A
 * row gets the same arithmetic whether it is done alone or in a group.
 * The row loops are unrolled by pragma: -O2 does not unroll them by itself
 * and then keeps lo and hi in memory (2x slower, measured on 256x784).
 */
AVX2_INLINE void dot_rows(const NnrtGemvOp *op, int i, float *sum, const int ROWS)
{
    const float *m[4], *x = op->x;
    __m256 lo[4], hi[4];
#pragma GCC unroll 4
    for (int r = 0; r < ROWS; r++) {
        m[r] = op->mat + (size_t)(i + r) * op->ldm;
        lo[r] = hi[r] = _mm256_setzero_ps();
    }
    int k = 0;
    for (; k + 16 <= op->k; k += 16) {
        __m256 x0 = _mm256_loadu_ps(x + k), x1 = _mm256_loadu_ps(x + k + 8);
#pragma GCC unroll 4
        for (int r = 0; r < ROWS; r++) {
            lo[r] = _mm256_fmadd_ps(_mm256_loadu_ps(m[r] + k), x0, lo[r]);
            hi[r] = _mm256_fmadd_ps(_mm256_loadu_ps(m[r] + k + 8), x1, hi[r]);
        }
    }
    for (; k < op->k; k += 8) {
        __m256i mk = tail_mask(op->k - k < 8 ? op->k - k : 8);
        __m256 x0 = _mm256_maskload_ps(x + k, mk);
#pragma GCC unroll 4
        for (int r = 0; r < ROWS; r++)
            lo[r] = _mm256_fmadd_ps(_mm256_maskload_ps(m[r] + k, mk), x0, lo[r]);
    }
    for (int r = 0; r < ROWS; r++)
        sum[r] = hsum(_mm256_add_ps(lo[r], hi[r]));
}

AVX2 void nnrt_gemm_gemv_dot_avx2(const NnrtGemvOp *op, int i0, int i1)
{
    gemv_dot_runs(op, i0, i1, dot_rows, 4);
}

/*
 * The dot GEMV for matrices past GEMV_SEQ_BYTES (nnrt_gemm.c), one row at a
 * time, so that the matrix is read as one sequential stream. In the nets,
 * where the matrix comes from L3 or from the other core, that beats
 * dot_rows' 4 interleaved rows (fashion_mlp's batch-1 inference: 3.8-4.0 us
 * against 5.3-5.6 at 2 threads); with the matrix hot in L2 the 4 rows are
 * faster (docs/performance.md, 2026-12-03 12:30 and 14:00-14:20).
 *
 * seq_row sums row m of depth K in 8 accumulators, a[v] over k = 64i + 8v..,
 * the remaining 16-k blocks into a[0..1], a[2..3], a[4..5], tail chunks of
 * 8 into a[0]; then the even ones and the odd ones in order, and hsum of
 * the two. The kernel collects GEMV_RUN sums, then finishes them
 * (gemv_finish). The AVX-512 kernel (nnrt_gemm_avx512.c) holds a[2j] and
 * a[2j+1] as the halves of one vector and gives the same bits.
 */
AVX2_INLINE float seq_row(const float *m, const float *x, int K)
{
    __m256 a[8];
#pragma GCC unroll 8
    for (int v = 0; v < 8; v++)
        a[v] = _mm256_setzero_ps();
    int k = 0;
    for (; k + 64 <= K; k += 64) {
#pragma GCC unroll 8
        for (int v = 0; v < 8; v++)
            a[v] = _mm256_fmadd_ps(_mm256_loadu_ps(m + k + 8 * v), _mm256_loadu_ps(x + k + 8 * v), a[v]);
    }
#pragma GCC unroll 3
    for (int v = 0; v < 6; v += 2)  /* the 16-k blocks left, at most 3; unrolled, a[] stays in registers */
        if (k + 16 <= K) {
            a[v] = _mm256_fmadd_ps(_mm256_loadu_ps(m + k), _mm256_loadu_ps(x + k), a[v]);
            a[v + 1] = _mm256_fmadd_ps(_mm256_loadu_ps(m + k + 8), _mm256_loadu_ps(x + k + 8), a[v + 1]);
            k += 16;
        }
    for (; k < K; k += 8) {
        __m256i mk = tail_mask(K - k < 8 ? K - k : 8);
        a[0] = _mm256_fmadd_ps(_mm256_maskload_ps(m + k, mk), _mm256_maskload_ps(x + k, mk), a[0]);
    }
    __m256 lo = a[0], hi = a[1];
#pragma GCC unroll 3
    for (int v = 2; v < 8; v += 2) {
        lo = _mm256_add_ps(lo, a[v]);
        hi = _mm256_add_ps(hi, a[v + 1]);
    }
    return hsum(_mm256_add_ps(lo, hi));
}

/* Rows i..i+ROWS-1 one after the other (GemvRowsFn). */
AVX2_INLINE void seq_rows(const NnrtGemvOp *op, int i, float *sum, const int ROWS)
{
    for (int r = 0; r < ROWS; r++)
        sum[r] = seq_row(op->mat + (size_t)(i + r) * op->ldm, op->x, op->k);
}

AVX2 static void nnrt_gemm_gemv_dot_seq_avx2(const NnrtGemvOp *op, int i0, int i1)
{
    gemv_dot_runs(op, i0, i1, seq_rows, 1);
}

/* Finishes n (1..8) outputs from i whose sums are the lanes of v. */
AVX2_INLINE void axpy_store(const NnrtGemvOp *op, int i, __m256 v, int n)
{
    float s[8];
    _mm256_storeu_ps(s, v);
    gemv_finish(op, i, s, n);
}

/*
 * NV vectors of outputs from i (the last one masked to n lanes): each is the
 * chain over k of x[k] * row k of mat, so chunk size does not change a value.
 * Unrolled by pragma, as dot_rows.
 */
AVX2_INLINE void axpy_cols(const NnrtGemvOp *op, int i, const int NV, int n)
{
    __m256 acc[8];
    __m256i mk = tail_mask(n);
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++)
        acc[v] = _mm256_setzero_ps();
    const float *m = op->mat + i;
    for (int k = 0; k < op->k; k++, m += op->ldm) {
        __m256 xv = _mm256_broadcast_ss(op->x + (size_t)k * op->xs);
#pragma GCC unroll 8
        for (int v = 0; v < NV - 1; v++)
            acc[v] = _mm256_fmadd_ps(xv, _mm256_loadu_ps(m + 8 * v), acc[v]);
        __m256 last = n == 8 ? _mm256_loadu_ps(m + 8 * (NV - 1)) : _mm256_maskload_ps(m + 8 * (NV - 1), mk);
        acc[NV - 1] = _mm256_fmadd_ps(xv, last, acc[NV - 1]);
    }
    for (int v = 0; v < NV; v++)
        axpy_store(op, i + 8 * v, acc[v], v == NV - 1 ? n : 8);
}

AVX2 void nnrt_gemm_gemv_axpy_avx2(const NnrtGemvOp *op, int i0, int i1)
{
    int i = i0;
    for (; i + 64 <= i1; i += 64)
        axpy_cols(op, i, 8, 8);
    for (; i + 32 <= i1; i += 32)
        axpy_cols(op, i, 4, 8);
    for (; i < i1; i += 8)
        axpy_cols(op, i, 1, i1 - i < 8 ? i1 - i : 8);
}

/* Adam (nnrt_gemm.h) on g[i0..i1-1], 8 elements at a time (NNRT_ADAM_PREFETCH_W ahead); the tail as the portable back end. */
AVX2 static void adam_avx2(const NnrtAdam *a, const float *g, long i0, long i1)
{
    const __m256 b1 = _mm256_set1_ps(a->b1), c1 = _mm256_set1_ps(a->c1), b2 = _mm256_set1_ps(a->b2);
    const __m256 c2 = _mm256_set1_ps(a->c2), eps = _mm256_set1_ps(a->eps);
    const __m256 ss = _mm256_set1_ps(a->step_size), ibc = _mm256_set1_ps(a->inv_bc2_sqrt);
    float *pp = a->p, *pm = a->m, *pv = a->v;
    long i = i0;
    for (; i + 8 <= i1; i += 8) {
        __builtin_prefetch(pp + i + NNRT_ADAM_PREFETCH_W, 1, 3);
        __m256 gv = _mm256_loadu_ps(g + i);
        __m256 m = _mm256_fmadd_ps(b1, _mm256_loadu_ps(pm + i), _mm256_mul_ps(c1, gv));
        __m256 v = _mm256_fmadd_ps(b2, _mm256_loadu_ps(pv + i), _mm256_mul_ps(_mm256_mul_ps(c2, gv), gv));
        __m256 d = _mm256_fmadd_ps(_mm256_sqrt_ps(v), ibc, eps);
        _mm256_storeu_ps(pm + i, m);
        _mm256_storeu_ps(pv + i, v);
        _mm256_storeu_ps(pp + i, _mm256_sub_ps(_mm256_loadu_ps(pp + i), _mm256_div_ps(_mm256_mul_ps(ss, m), d)));
    }
    nnrt_gemm_adam_portable(a, g, i, i1);
}

static const NnrtGemmBackend avx2 = {
    .name = "avx2",
    .kern = kern_avx2,
    .pack_a = nnrt_gemm_pack_a_avx2,
    .pack_b = nnrt_gemm_pack_b_avx2,
    .gemv_dot = nnrt_gemm_gemv_dot_avx2,
    .gemv_dot_seq = nnrt_gemm_gemv_dot_seq_avx2,
    .gemv_axpy = nnrt_gemm_gemv_axpy_avx2,
    .adam = adam_avx2,
};

const NnrtGemmBackend *nnrt_gemm_backend_avx2(void)
{
#if defined(__AVX2__) && defined(__FMA__)
    return &avx2;
#else
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return &avx2;
    return NULL;
#endif
}

#else /* not x86-64 */

const NnrtGemmBackend *nnrt_gemm_backend_avx2(void)
{
    return NULL;
}

#endif
