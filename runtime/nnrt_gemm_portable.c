/*
 * nnrt_gemm_portable.c - the plain-C back end of the GEMM, for every target.
 *
 * Same packed layouts, same tile and same per-element order as the SIMD back
 * ends (nnrt_gemm_int.h): a K-chain per element from 0, then C's old value,
 * the bias and the activation. The packers here are also the reference the
 * SIMD packers are tested against. Loops are written so that compilers can
 * vectorize the 16 columns of a tile row.
 */
#include "nnrt_gemm_int.h"

#include <math.h>

/* Applies the epilogue to an accumulated tile and stores it (also used by NEON). */
void nnrt_gemm_store_tile(const float acc[NNRT_GEMM_MR][NNRT_GEMM_NR], const NnrtGemmTile *t)
{
    for (int r = 0; r < t->mr; r++)
        for (int c = 0; c < t->nr; c++) {
            float *cp = nnrt_gemm_tile_at(t, r, c);
            const float *bias = t->bias ? t->bias + (t->bias_per_row ? r : c) : NULL;
            *cp = nnrt_gemm_finish(acc[r][c], t->load_c ? cp : NULL, bias, t->relu);
        }
}

/*
 * One 6x16 tile in plain C. All 16 columns of B are read (the driver hands
 * kernels zero-padded panels or full in-place rows), so the inner loop has a
 * constant trip count that compilers vectorize.
 */
static void tile_portable(int kc, const NnrtGemmTile *t)
{
    float acc[NNRT_GEMM_MR][NNRT_GEMM_NR] = {{0}};
    for (int k = 0; k < kc; k++) {
        const float *b = t->b + (size_t)k * t->ldb_k;
        for (int r = 0; r < t->mr; r++) {
            float av = t->a[r * t->rs_a + k * t->cs_a];
            for (int c = 0; c < NNRT_GEMM_NR; c++)
                acc[r][c] += av * b[c];
        }
    }
    nnrt_gemm_store_tile(acc, t);
}

/* The run of tiles t describes. */
static void kern_portable(int kc, const NnrtGemmTile *t)
{
    NnrtGemmTile u = *t;
    for (int i = 0; i < t->ntiles; i++, nnrt_gemm_tile_advance(&u))
        tile_portable(kc, &u);
}

/* op(A)[i0.., p0..] into 6-row panels, rows past mc zero. */
void nnrt_gemm_pack_a_portable(int transa, const float *A, long lda, int i0, int mc, int p0,
                               int kc, float *dst)
{
    for (int ir = 0; ir < mc; ir += NNRT_GEMM_MR, dst += (size_t)NNRT_GEMM_MR * kc)
        for (int k = 0; k < kc; k++)
            for (int r = 0; r < NNRT_GEMM_MR; r++) {
                size_t i = (size_t)(i0 + ir + r), p = (size_t)(p0 + k);
                float v = 0.0f;
                if (ir + r < mc)
                    v = transa ? A[p * lda + i] : A[i * lda + p];
                dst[k * NNRT_GEMM_MR + r] = v;
            }
}

/* op(B)[p0.., j0..] into 16-column panels, columns past nc zero. */
void nnrt_gemm_pack_b_portable(int transb, const float *B, long ldb, int p0, int kc, int j0,
                               int nc, float *dst)
{
    for (int jr = 0; jr < nc; jr += NNRT_GEMM_NR, dst += (size_t)NNRT_GEMM_NR * kc)
        for (int k = 0; k < kc; k++)
            for (int c = 0; c < NNRT_GEMM_NR; c++) {
                size_t j = (size_t)(j0 + jr + c), p = (size_t)(p0 + k);
                float v = 0.0f;
                if (jr + c < nc)
                    v = transb ? B[j * ldb + p] : B[p * ldb + j];
                dst[k * NNRT_GEMM_NR + c] = v;
            }
}

/* Outputs i0..i1-1 as dot products of mat's rows with x. */
void nnrt_gemm_gemv_dot_portable(const NnrtGemvOp *op, int i0, int i1)
{
    for (int i = i0; i < i1; i++) {
        const float *m = op->mat + (size_t)i * op->ldm;
        float s = 0.0f;
        for (int k = 0; k < op->k; k++)
            s += m[k] * op->x[k];
        nnrt_gemm_gemv_store(op, i, s);
    }
}

/* Outputs i0..i1-1 as sums of mat's rows scaled by x, 64 outputs at a time. */
void nnrt_gemm_gemv_axpy_portable(const NnrtGemvOp *op, int i0, int i1)
{
    enum { W = 64 };
    for (int i = i0; i < i1; i += W) {
        float acc[W] = {0};
        int w = i1 - i < W ? i1 - i : W;
        for (int k = 0; k < op->k; k++) {
            const float *m = op->mat + (size_t)k * op->ldm + i;
            float xv = op->x[(size_t)k * op->xs];
            for (int c = 0; c < w; c++)
                acc[c] += xv * m[c];
        }
        for (int c = 0; c < w; c++)
            nnrt_gemm_gemv_store(op, i + c, acc[c]);
    }
}

/* Adam on g[i0..i1-1] as nnrt_gemm.h writes it, one element at a time (also used by NEON). */
void nnrt_gemm_adam_portable(const NnrtAdam *a, const float *g, long i0, long i1)
{
    for (long i = i0; i < i1; i++) {
        float m = fmaf(a->b1, a->m[i], a->c1 * g[i]);
        float v = fmaf(a->b2, a->v[i], (a->c2 * g[i]) * g[i]);
        a->m[i] = m;
        a->v[i] = v;
        a->p[i] = a->p[i] - (a->step_size * m) / fmaf(sqrtf(v), a->inv_bc2_sqrt, a->eps);
    }
}

static const NnrtGemmBackend portable = {
    .name = "portable",
    .kern = kern_portable,
    .pack_a = nnrt_gemm_pack_a_portable,
    .pack_b = nnrt_gemm_pack_b_portable,
    .gemv_dot = nnrt_gemm_gemv_dot_portable,
    .gemv_dot_seq = nnrt_gemm_gemv_dot_portable,
    .gemv_axpy = nnrt_gemm_gemv_axpy_portable,
    .adam = nnrt_gemm_adam_portable,
};

const NnrtGemmBackend *nnrt_gemm_backend_portable(void)
{
    return &portable;
}
