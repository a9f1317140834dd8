/*
 * nnrt_gemm.h - the single-precision GEMM that netc's generated kernels call.
 *
 *   C[M,N] (row-major, ldc) = op(A)[M,K] . op(B)[K,N]   then the epilogue
 *
 * op(X) is X, or X transposed when trans* is 1; A and B are row-major with
 * leading dimensions lda and ldb (so op(A) = A^T reads A as [K,M]).
 * The epilogue adds C's old value (accumulate), a bias per row or per column,
 * a residual tensor, applies an activation, and multiplies by an
 * activation's derivative (a gate), in that order, after the full K-sum;
 * then a step on each finished block: a caller's function, or Adam.
 *
 * Uses in generated code:
 *   dense forward  Y[B,U]  = X[B,I] . W[U,I]^T  + bias[u], relu   (0, 1)
 *   residual       Y[B,U]  = X . W^T + bias[u] + R[B,U], relu      (0, 1)
 *   dense dX       dX[B,I] = dY[B,U] . W[U,I]                     (0, 0)
 *   ... fused act  dX[B,I] = (dY . W) * act'(y[B,I])              (0, 0)
 *   dense dW       dW[U,I] (+)= dY[B,U]^T . X[B,I]                (1, 0)
 *   conv (im2col)  Y[F,HW] = W[F,CKK] . col[CKK,HW] + bias[f]     (0, 0)
 *
 * Design (BLIS-style): a 6x16 register-tiled micro-kernel (12 accumulators)
 * over B in kc x 16 panels and A in 6 x kc panels: AVX2+FMA on x86-64, NEON
 * on AArch64, plain C elsewhere. The x86 kernels carry target attributes
 * and are picked at run time, so a library built without -march still uses
 * AVX2 where the CPU has it. Per call a cost model picks the plan: compute C
 * or C^T = op(B)^T op(A)^T (so that the small operand is the packed one and
 * edge tiles waste few lanes), and let the kernels read A and B in place
 * instead of packing them where the strides allow. M == 1 or N == 1 is a
 * GEMV that streams the matrix once.
 *
 * Memory: nnrt_sgemm never allocates. The caller passes pack_buf of at least
 * nnrt_sgemm_pack_bytes(M, N, K, blk) bytes, any alignment (arena memory is
 * fine); that size covers the thread count in force (nnrt_threads_count()),
 * so compute it after nnrt_threads_init and do not grow the pool afterwards,
 * or size it with nnrt_sgemm_pack_bytes_threads for the largest pool. C must
 * not overlap A, B or pack_buf. A, B and C need no alignment, but B read in
 * place is only used when B is 64-byte aligned or ldb is not a multiple of
 * 16: give tensors 64-byte alignment.
 *
 * Threads and determinism: work above NNRT_GEMM_PAR_FLOPS is split over the
 * pool (nnrt_threads.h) by output columns (or rows), never by K; a GEMV,
 * bound by reading its matrix, is split when the matrix passes
 * NNRT_GEMV_PAR_BYTES (each core then reads its share from its own cache;
 * below it the pool's hand-off costs more than it saves: docs/performance.md,
 * "batch-1 inference and the L2"). Every C
 * element's K-sum is one thread's fixed-order chain of FMAs over kc-blocks,
 * so results are bit-identical for every thread count and every plan. They
 * depend on kc (the blocking) and on the instruction set (AVX2, NEON and
 * plain C agree to float rounding, not bit for bit).
 */
#ifndef NNRT_GEMM_H
#define NNRT_GEMM_H

#include <stddef.h>

#define NNRT_GEMM_PAR_FLOPS 1000000.0 /* 2*M*N*K above which the pool is used */
#define NNRT_GEMV_PAR_BYTES 262144.0  /* matrix bytes above which a GEMV uses the pool */

typedef enum { NNRT_ACT_NONE, NNRT_ACT_RELU } NnrtAct;

/* The derivative a gradient is multiplied by, from the activation's output y. */
typedef enum {
    NNRT_GATE_NONE,
    NNRT_GATE_RELU,    /* y > 0 ? c : 0 */
    NNRT_GATE_SIGMOID, /* c * y * (1 - y) */
    NNRT_GATE_TANH     /* c * (1 - y * y) */
} NnrtGate;

/*
 * A step run on finished blocks of C, after every other epilogue step: rows
 * r0..r1-1, columns c0..c1-1 of C, final values, each element in exactly one
 * call, from the thread that computed it (the generated optimizer update
 * fused into a weight-gradient GEMM).
 */
typedef void (*NnrtTileFn)(void *ctx, int r0, int r1, int c0, int c1);

/*
 * Adam (torch.optim.Adam without weight decay or amsgrad) on a weight whose
 * gradient is C: element i of C (row r, column c: i = r*ldc + c) updates
 * p[i] and its moments m[i], v[i] as
 *     m = fma(b1, m, c1*g)    v = fma(b2, v, (c2*g)*g)
 *     p = p - (step_size*m) / fma(sqrt(v), inv_bc2_sqrt, eps)
 * with c1 = 1 - b1 and c2 = 1 - b2 as the caller rounded them, step_size =
 * lr/(1 - b1^t) and inv_bc2_sqrt = 1/sqrt(1 - b2^t): the operations of the
 * generated update loop, exactly rounded, so every back end and thread
 * count gives the same bits. The AVX-512 micro-kernel runs a row strip's
 * update inside the next strip's FMA loop, where the square roots and
 * divisions use units the FMAs leave idle (docs/performance.md,
 * 2026-12-03 16:00-16:20). p, m and v must not overlap A, B, C or each other.
 */
typedef struct NnrtAdam {
    float *p, *m, *v;            /* the weight and its two moments, laid out as C */
    float b1, c1, b2, c2, eps;   /* beta1, 1 - beta1, beta2, 1 - beta2, eps */
    float step_size, inv_bc2_sqrt; /* this step's bias corrections */
} NnrtAdam;

typedef struct NnrtEpilogue {
    const float *bias;     /* added per column n (dense forward) or per row m (conv as W.col), or NULL */
    int bias_per_row;      /* 1: bias[m], 0: bias[n] */
    NnrtAct act;           /* applied after bias (and after the residual) */
    int accumulate;        /* 1: C += A.B (gradient sums), 0: C = A.B */
    const float *residual; /* added after bias, before act: residual[m * ld_residual + n], or NULL */
    int ld_residual;       /* its row stride */
    NnrtGate gate;         /* last: C[m,n] times the derivative at gate_y[m * ld_gate + n] */
    const float *gate_y;   /* the activation's output (NULL: no gate) */
    int ld_gate;           /* its row stride */
    NnrtTileFn tile;       /* after all of these, on each finished block (NULL: none) */
    void *tile_ctx;        /* its first argument */
    const NnrtAdam *adam;  /* instead of tile: Adam on each finished block (NULL: none) */
} NnrtEpilogue;

typedef struct NnrtGemmBlocking {
    int mc; /* rows of op(A) packed per block (L2-resident); 0 = choose */
    int nc; /* columns of op(B) packed per block (L3-resident); 0 = choose */
    int kc; /* depth of one block (B micro-panel L1-resident); 0 = choose */
} NnrtGemmBlocking;

/* Instruction sets nnrt_sgemm can run on; AUTO picks the best available. */
typedef enum {
    NNRT_GEMM_ISA_AUTO,
    NNRT_GEMM_ISA_PORTABLE, /* plain C, every target */
    NNRT_GEMM_ISA_AVX2,     /* x86-64 with AVX2 and FMA */
    NNRT_GEMM_ISA_NEON,     /* AArch64 */
    NNRT_GEMM_ISA_AVX512    /* x86-64 with AVX-512F (and AVX2, FMA) */
} NnrtGemmIsa;

/*
 * C = op(A) . op(B) with the epilogue ep (NULL: plain C = A.B), blocking blk
 * (NULL or zero fields: nnrt_gemm_default_blocking) and the caller's packing
 * workspace pack_buf (see nnrt_sgemm_pack_bytes). M, N or K may be 0.
 */
void nnrt_sgemm(int transa, int transb, int M, int N, int K, const float *A, int lda, const float *B,
                int ldb, float *C, int ldc, const NnrtEpilogue *ep, const NnrtGemmBlocking *blk,
                void *pack_buf);

/* Bytes of pack_buf nnrt_sgemm needs for this shape and blocking, for the current thread count. */
size_t nnrt_sgemm_pack_bytes(int M, int N, int K, const NnrtGemmBlocking *blk);

/*
 * The same for a given thread count (a compile-time size for a pool of at most
 * `threads`): roughly threads x (kc*nc + mc*kc) floats; K floats for a GEMV.
 */
size_t nnrt_sgemm_pack_bytes_threads(int M, int N, int K, const NnrtGemmBlocking *blk, int threads);

/*
 * Cache blocking for a shape, from fixed cache sizes (L2 512 KiB, 4 MiB of L3
 * per core) rather than probed ones, so that the blocking, and with it the
 * rounding of every result, is the same on every machine. Blocking passed to
 * nnrt_sgemm applies to the product as computed (C^T when the plan swaps).
 */
void nnrt_gemm_default_blocking(int M, int N, int K, NnrtGemmBlocking *out);

/*
 * Forces an instruction set for later calls (tests and benchmarks compare
 * them); returns 0, or -1 if this build or CPU lacks it (nothing changes).
 */
int nnrt_gemm_set_isa(NnrtGemmIsa isa);

/* The instruction set nnrt_sgemm uses now: "avx512", "avx2", "neon" or "portable". */
const char *nnrt_gemm_isa_name(void);

#endif
