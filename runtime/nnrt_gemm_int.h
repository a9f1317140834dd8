/*
 * nnrt_gemm_int.h - what the GEMM driver (nnrt_gemm.c) and its instruction-
 * set back ends (nnrt_gemm_avx2.c, nnrt_gemm_neon.c, nnrt_gemm_portable.c)
 * share: the packed layouts, the tile and GEMV descriptions and the table of
 * back-end functions.
 *
 * Packed layouts (every back end reads and writes the same ones):
 *   A panel: 6 rows x kc, stored k-major: ap[k*6 + r] = op(A)[i0+r][p0+k];
 *            rows past M are zero.
 *   B panel: kc x 16 columns, stored k-major: bp[k*16 + c] = op(B)[p0+k][j0+c];
 *            columns past N are zero.
 * A micro-kernel reads A through two strides, element (r, k) at
 * a[r*rs_a + k*cs_a] (packed: rs_a = 1, cs_a = 6; in place: lda and 1, or
 * 1 and lda), and B through one, the 16 columns of step k at b + k*ldb_k
 * (packed: 16; in place: ldb of a row-major op(B) = B, full panels only).
 *
 * The tile it computes is D = A.B (mr x nr). It goes to C as is, or
 * transposed (trans_c: D(r, c) -> C[c*ldc + r]) when the driver computed
 * C^T = op(B)^T op(A)^T to pack the smaller operand.
 *
 * Every kernel computes each element as one chain of FMAs over k in
 * increasing order, starting from 0, then adds C's old value (load_c), then
 * the bias, then the activation. Edge tiles use the same chain, so the value
 * of an element does not depend on where tile or thread boundaries fall.
 */
#ifndef NNRT_GEMM_INT_H
#define NNRT_GEMM_INT_H

#include "nnrt_gemm.h"

#define NNRT_GEMM_MR 6  /* rows of the register tile */
#define NNRT_GEMM_NR 16 /* columns of the register tile */

/*
 * How far ahead (floats) the vector Adam updates prefetch the weight for
 * writing. When threads share a training step, the weight's lines have
 * often been read by another core (dX = dY W reads columns of rows another
 * core updates), and each store then waits for that core to drop its copy;
 * asked for early, those hand-offs overlap. fashion_mlp's step at 2 threads
 * between distant vCPUs: 222.5-228.6 -> 202.9-205.5 us (docs/performance.md).
 */
#define NNRT_ADAM_PREFETCH_W 256

/*
 * Adam's update of C's elements i..end-1 (a finished row strip, contiguous),
 * for a micro-kernel to run between its FMAs: at most `quota` vectors of it
 * per pair of tiles; it advances i past what it did. Kernels may ignore it.
 */
typedef struct NnrtGemmSide {
    const NnrtAdam *adam;
    const float *g; /* C: the gradient */
    long i, end;
    int quota;
} NnrtGemmSide;

typedef struct NnrtGemmTile {
    const float *a;     /* A of the tile: element (r, k) at a[r*rs_a + k*cs_a] */
    long rs_a, cs_a;    /* A's strides */
    const float *b;     /* B of the tile: columns of step k at b + k*ldb_k */
    long ldb_k;         /* B's stride per k */
    float *c;           /* C element that D(0, 0) goes to */
    long ldc;           /* C's row stride */
    int mr;             /* valid rows of D, 1..NNRT_GEMM_MR */
    int nr;             /* valid columns of D, 1..NNRT_GEMM_NR */
    int trans_c;        /* 1: D(r, c) goes to c[c*ldc + r]; 0: to c[r*ldc + c] */
    int load_c;         /* 1: add C's current values (later kc-blocks, accumulate) */
    const float *bias;  /* bias of D's first row or column, or NULL (not last block) */
    int bias_per_row;   /* 1: bias[r] per row of D, 0: bias[c] per column of D */
    int relu;           /* apply max(x, 0) last (only on the last kc-block) */
    int ntiles;         /* tiles to run, each the last one moved by the steps below */
    int edge_nr;        /* 0, or the valid columns of the run's last tile, whose B the
                           kernel loads under a mask (back ends with edge_in_run) */
    long a_step;        /* floats between consecutive tiles' a */
    long b_step;        /* ... b */
    long c_step;        /* ... c */
    long bias_step;     /* ... bias (when it is not NULL) */
    NnrtGemmSide *side; /* work to run between the tiles' FMAs, or NULL */
} NnrtGemmTile;

/* Moves t on to the next tile of a run. */
static inline void nnrt_gemm_tile_advance(NnrtGemmTile *t)
{
    t->a += t->a_step;
    t->b += t->b_step;
    t->c += t->c_step;
    if (t->bias)
        t->bias += t->bias_step;
}

/* y[i*ys] = epilogue(sum_k x[k*xs] * mat(i, k)) for output indices i. */
typedef struct NnrtGemvOp {
    int k;              /* reduction length */
    const float *mat;   /* dot form: mat[i*ldm + k]; axpy form: mat[k*ldm + i] */
    long ldm;           /* mat's row stride */
    const float *x;     /* the vector; the dot form needs xs == 1 */
    long xs;            /* x's stride */
    float *y;           /* output */
    long ys;            /* output stride */
    const float *bias;  /* bias[i*bias_stride], or NULL */
    long bias_stride;   /* 1: bias per output, 0: one bias for all */
    int relu;           /* apply max(x, 0) last */
    int accumulate;     /* add y's old value before the bias */
} NnrtGemvOp;

/* Micro-kernel: t->ntiles tiles of (up to) 6x16, of a kc-deep block, starting at t. */
typedef void NnrtGemmKernFn(int kc, const NnrtGemmTile *t);
/* Packs rows i0..i0+mc-1, depth p0..p0+kc-1 of op(A) into 6-row panels. */
typedef void NnrtGemmPackAFn(int transa, const float *A, long lda, int i0, int mc, int p0, int kc,
                             float *dst);
/* Packs depth p0..p0+kc-1, columns j0..j0+nc-1 of op(B) into 16-column panels. */
typedef void NnrtGemmPackBFn(int transb, const float *B, long ldb, int p0, int kc, int j0, int nc,
                             float *dst);
/* Computes outputs i0..i1-1 of a GEMV. */
typedef void NnrtGemvFn(const NnrtGemvOp *op, int i0, int i1);
/* Adam (nnrt_gemm.h) on elements i0..i1-1 of the gradient g. */
typedef void NnrtAdamFn(const NnrtAdam *a, const float *g, long i0, long i1);

typedef struct NnrtGemmBackend {
    const char *name;          /* "avx512", "avx2", "neon", "portable" */
    NnrtGemmKernFn *kern;      /* micro-kernel */
    NnrtGemmPackAFn *pack_a;   /* A packing */
    NnrtGemmPackBFn *pack_b;   /* B packing */
    NnrtGemvFn *gemv_dot;      /* rows of mat are contiguous along k */
    NnrtGemvFn *gemv_dot_seq;  /* the same, one row at a time: matrices past GEMV_SEQ_BYTES (nnrt_gemm.c) */
    NnrtGemvFn *gemv_axpy;     /* rows of mat are contiguous along i */
    NnrtAdamFn *adam;          /* Adam over a span of C */
    int edge_in_run;           /* kern takes a row strip's partial last tile in its run (edge_nr) */
    int rows_only;             /* kern is given row strips only (rows outside in every plan) */
} NnrtGemmBackend;

/* The back ends; each is NULL when this build cannot have it. */
const NnrtGemmBackend *nnrt_gemm_backend_avx2(void);
const NnrtGemmBackend *nnrt_gemm_backend_avx512(void);
const NnrtGemmBackend *nnrt_gemm_backend_neon(void);
const NnrtGemmBackend *nnrt_gemm_backend_portable(void);

/*
 * Tests only: forces the plan of later products (bit 0 computes C^T, bit 1
 * reads A in place, bit 2 reads B in place when op(B) = B); -1 restores the
 * cost model.
 */
void nnrt_gemm_test_force_plan(int plan);

/* The AVX2 pieces the AVX-512 back end reuses (x86-64 only; CPUs with AVX2+FMA only). */
NnrtGemmPackAFn nnrt_gemm_pack_a_avx2;
NnrtGemmPackBFn nnrt_gemm_pack_b_avx2;
NnrtGemvFn nnrt_gemm_gemv_dot_avx2;
NnrtGemvFn nnrt_gemm_gemv_axpy_avx2;

/* The portable pieces, which the NEON back end reuses. */
void nnrt_gemm_store_tile(const float acc[NNRT_GEMM_MR][NNRT_GEMM_NR], const NnrtGemmTile *t);
NnrtGemmPackAFn nnrt_gemm_pack_a_portable;
NnrtGemmPackBFn nnrt_gemm_pack_b_portable;
NnrtGemvFn nnrt_gemm_gemv_dot_portable;
NnrtGemvFn nnrt_gemm_gemv_axpy_portable;
NnrtAdamFn nnrt_gemm_adam_portable;

/* The C element D(r, c) of a tile goes to. */
static inline float *nnrt_gemm_tile_at(const NnrtGemmTile *t, int r, int c)
{
    return t->trans_c ? t->c + (size_t)c * t->ldc + r : t->c + (size_t)r * t->ldc + c;
}

/* The scalar epilogue of one C element (portable and NEON tiles, GEMVs). */
static inline float nnrt_gemm_finish(float acc, const float *old, const float *bias, int relu)
{
    float v = acc;
    if (old)
        v += *old;
    if (bias)
        v += *bias;
    if (relu)
        v = v > 0.0f ? v : 0.0f;
    return v;
}

/* Stores output i of a GEMV from its sum: old y, bias, relu, as nnrt_gemm_finish. */
static inline void nnrt_gemm_gemv_store(const NnrtGemvOp *op, int i, float sum)
{
    float *y = op->y + (size_t)i * op->ys;
    const float *bias = op->bias ? op->bias + (size_t)i * op->bias_stride : NULL;
    *y = nnrt_gemm_finish(sum, op->accumulate ? y : NULL, bias, op->relu);
}

#endif
