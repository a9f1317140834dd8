/*
 * nnrt_gemm.c - the GEMM driver: blocking, planning, the loops around the
 * micro-kernel, the GEMV shortcut, threads, and the choice of back end.
 *
 * The loop nest is BLIS's (Van Zee and van de Geijn, "BLIS: A Framework for
 * Rapidly Instantiating BLAS Functionality", 2015):
 *
 *   for jc in N step nc          B block kc x nc lives in L3
 *     for pc in K step kc        (K-blocks in order: the K-sum stays one chain)
 *       pack op(B)[pc.., jc..] into 16-column panels (or read B in place)
 *       for ic in M step mc      A block mc x kc lives in L2
 *         pack op(A)[ic.., pc..] into 6-row panels (or read A in place)
 *         for jr in nc step 16   B micro-panel kc x 16, reused over the rows
 *           for ir in mc step 6  micro-kernel: 6x16 tile of C in 12 registers
 *
 * (the last two loops swap when B is packed, see macro_kernel). Before the
 * nest, plan() picks with a cost model whether to compute C or C^T and which
 * operands to read in place; no choice changes a result.
 *
 * With threads, the output is cut into whole 16-column (or 6-row) panels, one
 * range per task, and each task runs the nest above on its range with its own
 * slot of the pack buffer. K is never split, and the kc-blocks do not depend
 * on the split, so each element's sum is the same chain whatever the thread
 * count. When M or N is 1 the product is a GEMV and goes to gemv_dot or
 * gemv_axpy, which read the matrix once without packing.
 */
#include "nnrt_gemm_int.h"
#include "nnrt_threads.h"

#include <stdatomic.h>
#include <stdint.h>

#define L2_BYTES (512 * 1024)      /* L2 per core */
#define L3_BYTES (4 * 1024 * 1024) /* share of L3 per core */
#define KC_MAX 800                 /* deepest kc-block: deeper K is split */
#define KC_SPLIT 512               /* largest block once K is split */
#define MC_MAX 144                 /* tallest A block */
#define ALIGN 64                   /* alignment of packed panels */
#define A_SLACK 8                  /* floats packers may write past an A block */
/*
 * Dot GEMVs over a matrix larger than this read it one row at a time
 * (gemv_dot_seq), one sequential stream. In the nets, where such a matrix
 * comes from L3 or from the other core, that is faster than the 4
 * interleaved rows of gemv_dot; a matrix that fits L1, or one hot in L2,
 * goes faster with the rows interleaved (docs/performance.md, 2026-12-03
 * 12:30 and 14:00-14:20).
 */
#define GEMV_SEQ_BYTES (64 * 1024)

/*
 * One product as the loop nest sees it: D[M,N] = op(A)[M,K] op(B)[K,N] with D
 * stored into C as is or transposed (trans_c: the driver swapped the
 * operands to compute C^T). bias_per_row refers to D's rows.
 */
typedef struct GemmJob {
    const NnrtGemmBackend *be;     /* kernels in use */
    int M, N, K;                   /* shape of D */
    const float *A, *B;            /* operands of D */
    int transa, transb;            /* their op() */
    long lda, ldb, ldc;            /* leading dimensions */
    float *C;                      /* output */
    int trans_c;                   /* D goes to C transposed */
    const float *bias;             /* epilogue bias or NULL */
    int bias_per_row;              /* bias[row of D] (1) or bias[column of D] (0) */
    int relu;                      /* activation, in the micro-kernels */
    int accumulate;                /* C += instead of C = */
    const float *residual;         /* post step: C[m,n] += residual[m*ld_residual + n] (C coordinates) */
    long ld_residual;
    int post_relu;                 /* post step: the activation, after the residual */
    NnrtGate gate;                 /* post step: C[m,n] *= derivative at gate_y[m*ld_gate + n] */
    const float *gate_y;
    long ld_gate;
    NnrtTileFn tile;               /* post step, last: called on each finished block of C */
    void *tile_ctx;
    const NnrtAdam *adam;          /* post step, last, instead of tile: Adam on each finished block */
    NnrtGemmBlocking blk;          /* mc, nc, kc in force */
    int a_inplace;                 /* kernel reads A in place instead of packed panels */
    int b_inplace;                 /* kernel reads B rows in place (op(B) = B only) */
    int rows_outer;                /* macro-kernel loops over rows outside columns */
    unsigned char *buf;            /* pack buffer, one slot per task */
    size_t slot;                   /* bytes per slot */
    int split_n;                   /* tasks cut columns (1) or rows (0) */
    int ntasks;                    /* number of tasks */
    int gemv_cut;                  /* tasks cut the weight's rows as the batch-1 GEMV reading it does */
} GemmJob;

/* ---- back end choice ------------------------------------------------------- */

static _Atomic(const NnrtGemmBackend *) active_be;

/* The best back end this build and CPU have. */
static const NnrtGemmBackend *best_backend(void)
{
    const NnrtGemmBackend *be = nnrt_gemm_backend_avx512();
    if (!be)
        be = nnrt_gemm_backend_avx2();
    if (!be)
        be = nnrt_gemm_backend_neon();
    return be ? be : nnrt_gemm_backend_portable();
}

/* The back end in use, chosen on first use. */
static const NnrtGemmBackend *backend(void)
{
    const NnrtGemmBackend *be = atomic_load_explicit(&active_be, memory_order_acquire);
    if (!be) {
        be = best_backend();
        atomic_store_explicit(&active_be, be, memory_order_release);
    }
    return be;
}

int nnrt_gemm_set_isa(NnrtGemmIsa isa)
{
    const NnrtGemmBackend *be = NULL;
    switch (isa) {
    case NNRT_GEMM_ISA_AUTO: be = best_backend(); break;
    case NNRT_GEMM_ISA_PORTABLE: be = nnrt_gemm_backend_portable(); break;
    case NNRT_GEMM_ISA_AVX2: be = nnrt_gemm_backend_avx2(); break;
    case NNRT_GEMM_ISA_AVX512: be = nnrt_gemm_backend_avx512(); break;
    case NNRT_GEMM_ISA_NEON: be = nnrt_gemm_backend_neon(); break;
    }
    if (!be)
        return -1;
    atomic_store_explicit(&active_be, be, memory_order_release);
    return 0;
}

const char *nnrt_gemm_isa_name(void)
{
    return backend()->name;
}

/* ---- blocking and workspace -------------------------------------------------- */

static int imin(int a, int b) { return a < b ? a : b; }
static int imax(int a, int b) { return a > b ? a : b; }
static int round_up(int x, int m) { return (x + m - 1) / m * m; }
static size_t align_up(size_t x) { return (x + ALIGN - 1) / ALIGN * ALIGN; }

/*
 * kc: all of K up to KC_MAX, else K cut into equal blocks of at most
 * KC_SPLIT (so the last block is not a sliver). Deep blocks pay the tile
 * epilogue (C loaded, stored) less often, and Zen 3's L2 feeds a B
 * micro-panel that has outgrown L1 fast enough. mc: the A block fills half
 * of L2, at most MC_MAX rows. nc: the B block fills the L3 share. Each is
 * clipped to the shape. Measured best on the example-net shapes and within
 * noise of the best on 1024 and 2048 squares.
 */
void nnrt_gemm_default_blocking(int M, int N, int K, NnrtGemmBlocking *out)
{
    int kc = imax(K, 1);
    if (kc > KC_MAX) {
        int nblocks = (kc + KC_SPLIT - 1) / KC_SPLIT;
        kc = round_up((kc + nblocks - 1) / nblocks, 8);
    }
    int mc = imin((L2_BYTES / 2) / (kc * 4), MC_MAX) / NNRT_GEMM_MR * NNRT_GEMM_MR;
    int nc = L3_BYTES / (kc * 4) / NNRT_GEMM_NR * NNRT_GEMM_NR;
    out->kc = kc;
    out->mc = imin(imax(mc, NNRT_GEMM_MR), round_up(imax(M, 1), NNRT_GEMM_MR));
    out->nc = imin(imax(nc, NNRT_GEMM_NR), round_up(imax(N, 1), NNRT_GEMM_NR));
}

/* blk with its zero fields filled in, and mc, nc rounded to whole panels. */
static NnrtGemmBlocking resolve_blocking(int M, int N, int K, const NnrtGemmBlocking *blk)
{
    NnrtGemmBlocking d;
    nnrt_gemm_default_blocking(M, N, K, &d);
    if (blk) {
        if (blk->kc > 0)
            d.kc = imin(blk->kc, imax(K, 1));
        if (blk->mc > 0)
            d.mc = imin(round_up(blk->mc, NNRT_GEMM_MR), round_up(M, NNRT_GEMM_MR));
        if (blk->nc > 0)
            d.nc = imin(round_up(blk->nc, NNRT_GEMM_NR), round_up(N, NNRT_GEMM_NR));
    }
    return d;
}

/* M == 1 or N == 1: no packing, one pass over the matrix. */
static int is_gemv(int M, int N)
{
    return M == 1 || N == 1;
}

/* Bytes of one task's slot: a B block and an A block, each aligned (b is resolved). */
static size_t slot_bytes(const NnrtGemmBlocking *b)
{
    size_t kc = (size_t)b->kc, nc = (size_t)b->nc, mc = (size_t)b->mc;
    return align_up(kc * nc * sizeof(float)) + align_up((mc * kc + A_SLACK) * sizeof(float));
}

size_t nnrt_sgemm_pack_bytes_threads(int M, int N, int K, const NnrtGemmBlocking *blk, int threads)
{
    if (M <= 0 || N <= 0 || K <= 0)
        return 0;
    if (is_gemv(M, N))
        return (size_t)K * sizeof(float) + ALIGN;
    NnrtGemmBlocking direct = resolve_blocking(M, N, K, blk), swapped = resolve_blocking(N, M, K, blk);
    size_t slot = slot_bytes(&direct), other = slot_bytes(&swapped);
    return (size_t)imax(threads, 1) * (slot > other ? slot : other) + ALIGN;
}

size_t nnrt_sgemm_pack_bytes(int M, int N, int K, const NnrtGemmBlocking *blk)
{
    return nnrt_sgemm_pack_bytes_threads(M, N, K, blk, nnrt_threads_count());
}

/* ---- the blocked product ------------------------------------------------------- */

/* Points t at A's rows ic+ir.., depth pc..: a packed panel or A in place. */
static void tile_a(const GemmJob *j, const float *ap, int ic, int ir, int pc, int kc,
                   NnrtGemmTile *t)
{
    if (!j->a_inplace) {
        t->a = ap + (size_t)ir * kc;
        t->rs_a = 1;
        t->cs_a = NNRT_GEMM_MR;
    } else if (j->transa) {
        t->a = j->A + (size_t)pc * j->lda + ic + ir;
        t->rs_a = 1;
        t->cs_a = j->lda;
    } else {
        t->a = j->A + (size_t)(ic + ir) * j->lda + pc;
        t->rs_a = j->lda;
        t->cs_a = 1;
    }
}

/* Points t at B's columns jc+jr.., depth pc..: a packed panel, B in place, or the packed edge. */
static void tile_b(const GemmJob *j, const float *bp, int jc, int jr, int nc, int pc, int kc,
                   NnrtGemmTile *t)
{
    if (!j->b_inplace) {
        t->b = bp + (size_t)jr * kc;
        t->ldb_k = NNRT_GEMM_NR;
    } else if (jr + NNRT_GEMM_NR <= nc) {
        t->b = j->B + (size_t)pc * j->ldb + jc + jr;
        t->ldb_k = j->ldb;
    } else {
        t->b = bp;
        t->ldb_k = NNRT_GEMM_NR;
    }
}

/* Points t at the tile at (ir, jr) of the block at (ic, jc), depth pc.., as one run of one tile. */
static void place_tile(const GemmJob *j, NnrtGemmTile *t, int ic, int ir, int mc, int jc, int jr,
                       int nc, int pc, int kc, const float *ap, const float *bp)
{
    int row = ic + ir, col = jc + jr;
    tile_a(j, ap, ic, ir, pc, kc, t);
    tile_b(j, bp, jc, jr, nc, pc, kc, t);
    t->mr = imin(NNRT_GEMM_MR, mc - ir);
    t->nr = imin(NNRT_GEMM_NR, nc - jr);
    t->c = j->trans_c ? j->C + (size_t)col * j->ldc + row : j->C + (size_t)row * j->ldc + col;
    t->bias = NULL;
    if (pc + kc >= j->K && j->bias)
        t->bias = j->bias + (j->bias_per_row ? row : col);
    t->ntiles = 1;
}

/*
 * Whether a row strip `width` columns wide runs its partial last tile as
 * the last of its run (the back end's edge_in_run): only behind a full tile.
 */
static int edge_joins_run(const GemmJob *j, int width)
{
    return j->be->edge_in_run && width > NNRT_GEMM_NR && width % NNRT_GEMM_NR != 0;
}

/*
 * The tiles of row strip ir, columns jr.. of the block, as runs for the
 * kernel: the full-width tiles whose B is in one layout as one run, then
 * the partial last tile alone; or, for a back end with edge_in_run, as the
 * run's last tile (edge_nr), its B at the same step: in place it is read
 * under a mask, packed it is the block's last panel. So AVX-512 pairs it
 * with the tile before instead of running two latency-bound single tiles
 * (lenet5's 120-wide products: 3 pairs, then 16 and 8 columns alone).
 */
static void row_strip(const GemmJob *j, NnrtGemmTile *t, int ic, int ir, int mc, int jc, int nc,
                      int pc, int kc, const float *ap, const float *bp)
{
    int full = nc / NNRT_GEMM_NR, edge = nc - full * NNRT_GEMM_NR;
    place_tile(j, t, ic, ir, mc, jc, 0, nc, pc, kc, ap, bp);
    t->ntiles = full;
    t->a_step = 0;
    t->b_step = j->b_inplace ? NNRT_GEMM_NR : (long)NNRT_GEMM_NR * kc;
    t->c_step = j->trans_c ? NNRT_GEMM_NR * j->ldc : NNRT_GEMM_NR;
    t->bias_step = j->bias_per_row ? 0 : NNRT_GEMM_NR;
    if (edge_joins_run(j, nc)) {
        t->ntiles++;
        t->edge_nr = edge;
        edge = 0;
    }
    if (t->ntiles > 0)
        j->be->kern(kc, t);
    t->edge_nr = 0;
    if (edge) {
        place_tile(j, t, ic, ir, mc, jc, full * NNRT_GEMM_NR, nc, pc, kc, ap, bp);
        j->be->kern(kc, t);
    }
}

/* The tiles of column strip jr, rows ir.. of the block, as runs (see row_strip). */
static void col_strip(const GemmJob *j, NnrtGemmTile *t, int ic, int mc, int jc, int jr, int nc,
                      int pc, int kc, const float *ap, const float *bp)
{
    int full = mc / NNRT_GEMM_MR;
    place_tile(j, t, ic, 0, mc, jc, jr, nc, pc, kc, ap, bp);
    t->ntiles = full;
    t->a_step = !j->a_inplace ? (long)NNRT_GEMM_MR * kc
                : j->transa   ? NNRT_GEMM_MR
                              : NNRT_GEMM_MR * j->lda;
    t->b_step = 0;
    t->c_step = j->trans_c ? NNRT_GEMM_MR : NNRT_GEMM_MR * j->ldc;
    t->bias_step = j->bias_per_row ? NNRT_GEMM_MR : 0;
    if (full > 0)
        j->be->kern(kc, t);
    if (full * NNRT_GEMM_MR < mc) {
        place_tile(j, t, ic, full * NNRT_GEMM_MR, mc, jc, jr, nc, pc, kc, ap, bp);
        j->be->kern(kc, t);
    }
}

/* The residual, the activation and the gate on C's rows m0..m1-1, columns n0..n1-1. */
static void post_rows(const GemmJob *j, int m0, int m1, int n0, int n1)
{
    for (int m = m0; m < m1; m++) {
        float *c = j->C + (size_t)m * j->ldc;
        if (j->residual) {
            const float *r = j->residual + (size_t)m * j->ld_residual;
            for (int n = n0; n < n1; n++)
                c[n] += r[n];
        }
        if (j->post_relu)
            for (int n = n0; n < n1; n++)
                c[n] = c[n] > 0.0f ? c[n] : 0.0f;
        if (j->gate == NNRT_GATE_NONE)
            continue;
        const float *y = j->gate_y + (size_t)m * j->ld_gate; /* never NULL + offset */
        switch (j->gate) {
        case NNRT_GATE_NONE: break;
        case NNRT_GATE_RELU:
            for (int n = n0; n < n1; n++)
                c[n] = y[n] > 0.0f ? c[n] : 0.0f;
            break;
        case NNRT_GATE_SIGMOID:
            for (int n = n0; n < n1; n++)
                c[n] = c[n] * y[n] * (1.0f - y[n]);
            break;
        case NNRT_GATE_TANH:
            for (int n = n0; n < n1; n++)
                c[n] = c[n] * (1.0f - y[n] * y[n]);
            break;
        }
    }
}

/*
 * The epilogue steps after the micro-kernels' (which end with the bias):
 * the residual, then the activation, then the gate, then the tile step or
 * Adam, on C's rows m0..m1-1, columns n0..n1-1. The region was just
 * written, so it is in cache.
 */
static void post_c(const GemmJob *j, int m0, int m1, int n0, int n1)
{
    post_rows(j, m0, m1, n0, n1);
    if (j->adam)
        for (int m = m0; m < m1; m++)
            j->be->adam(j->adam, j->C, (long)m * j->ldc + n0, (long)m * j->ldc + n1);
    else if (j->tile)
        j->tile(j->tile_ctx, m0, m1, n0, n1);
}

static int has_post(const GemmJob *j)
{
    return j->residual || j->gate != NNRT_GATE_NONE || j->tile || j->adam;
}

/* post_c on D's rows r0..r1-1, columns c0..c1-1, wherever D went in C. */
static void post_d(const GemmJob *j, int r0, int r1, int c0, int c1)
{
    if (j->trans_c)
        post_c(j, c0, c1, r0, r1);
    else
        post_c(j, r0, r1, c0, c1);
}

/*
 * Columns a row strip covers before the next strip starts: as many as keep
 * the kc x width part of B they read within L2_BYTES (B in place has no edge
 * panel but the last, which stays at bp). A 2048-wide B block of kc = 512
 * is 4 MiB, streamed from L3 once per row strip without this; cut into
 * 256-wide parts, the 1024 and 2048 squares went from 0.89-0.95x of
 * OpenBLAS to 0.97-1.01x (gemm_bench, AVX-512 on Zen 5, whose L2 is 1 MiB),
 * the nets' shapes unchanged.
 */
static int row_strip_width(int kc)
{
    return imax(NNRT_GEMM_NR, L2_BYTES / (kc * (int)sizeof(float)) / NNRT_GEMM_NR * NNRT_GEMM_NR);
}

/*
 * Whether the row strips of the last kc-block of j can hand their Adam to
 * the next strip's micro-kernel (strips_with_side): Adam is the only post
 * step, and a strip is whole rows of C, contiguous.
 */
static int side_adam(const GemmJob *j, int nc, int kc)
{
    return j->adam && j->rows_outer && !j->trans_c && !j->residual && j->gate == NNRT_GATE_NONE &&
           nc == j->N && j->ldc == j->N && row_strip_width(kc) >= nc;
}

/*
 * The row strips of block (ic, jc) when side_adam: each strip's Adam is
 * the side work of the next strip's tile pairs, spread evenly over them;
 * what a kernel leaves of it, and the last strip's, runs after.
 */
static void strips_with_side(const GemmJob *j, NnrtGemmTile *t, int ic, int mc, int jc, int nc, int pc,
                             int kc, const float *ap, const float *bp)
{
    NnrtGemmSide side = {.adam = j->adam, .g = j->C};
    int pairs = nc / NNRT_GEMM_NR / 2;
    long done = 0, end = 0; /* the strip before: C elements done..end-1 */
    for (int ir = 0; ir < mc; ir += NNRT_GEMM_MR) {
        side.i = done;
        side.end = end;
        side.quota = pairs > 0 ? (int)((end - done + 15) / 16 + pairs - 1) / pairs : 0;
        t->side = end > done ? &side : NULL;
        row_strip(j, t, ic, ir, mc, jc, nc, pc, kc, ap, bp);
        if (side.i < end)
            j->be->adam(j->adam, j->C, side.i, end);
        done = (long)(ic + ir) * j->ldc;
        end = (long)(ic + imin(mc, ir + NNRT_GEMM_MR)) * j->ldc;
    }
    t->side = NULL;
    j->be->adam(j->adam, j->C, done, end);
}

/*
 * Runs the micro-kernel over one mc x nc block at (ic, jc), depth pc..pc+kc-1.
 * Column strips outside, so a B micro-panel stays in L1 across the rows; or
 * (rows_outer) row strips outside, so that C is walked along its rows, which
 * the prefetchers follow, while B streams from L2 (in parts of
 * row_strip_width columns). Rows outside when B is packed, and when A is
 * read in place along its rows (op(A) = A): a column strip's tile pairs
 * would then broadcast from 12 rows of A per k, a row strip's from 6 (10%
 * on the dense dX shapes, AVX-512 on Zen 5). A back end with rows_only
 * (AVX-512) always has rows outside: on Zen 5 they were as fast or faster
 * on every net shape and every plan, lenet5's 84x120x64 weight gradient
 * 0.80x of OpenBLAS with columns outside, 0.93x with rows
 * (docs/performance.md, 2026-12-03 17:50-18:25).
 */
static void macro_kernel(const GemmJob *j, int ic, int mc, int jc, int nc, int pc, int kc,
                         const float *ap, const float *bp)
{
    NnrtGemmTile t = {
        .ldc = j->ldc,
        .trans_c = j->trans_c,
        .load_c = pc > 0 || j->accumulate,
        .bias_per_row = j->bias_per_row,
        .relu = pc + kc >= j->K && j->relu,
    };
    int post = pc + kc >= j->K && has_post(j);
    if (post && side_adam(j, nc, kc)) {
        strips_with_side(j, &t, ic, mc, jc, nc, pc, kc, ap, bp);
    } else if (j->rows_outer) {
        int wb = row_strip_width(kc);
        for (int jb = 0; jb < nc; jb += wb) {
            int nb = imin(wb, nc - jb);
            const float *bs = j->b_inplace ? bp : bp + (size_t)jb * kc;
            for (int ir = 0; ir < mc; ir += NNRT_GEMM_MR) {
                row_strip(j, &t, ic, ir, mc, jc + jb, nb, pc, kc, ap, bs);
                if (post)
                    post_d(j, ic + ir, ic + imin(mc, ir + NNRT_GEMM_MR), jc + jb, jc + jb + nb);
            }
        }
    } else {
        for (int jr = 0; jr < nc; jr += NNRT_GEMM_NR) {
            col_strip(j, &t, ic, mc, jc, jr, nc, pc, kc, ap, bp);
            if (post)
                post_d(j, ic, ic + mc, jc + jr, jc + imin(nc, jr + NNRT_GEMM_NR));
        }
    }
}

/*
 * Packs what the kernels read packed of B's block at (pc, jc): all of it,
 * or only a partial last panel, unless the last row strip part (macro_kernel
 * cuts the block into parts of row_strip_width) reads it in place in its run.
 */
static void pack_b_block(const GemmJob *j, int pc, int kc, int jc, int nc, float *bp)
{
    if (!j->b_inplace) {
        j->be->pack_b(j->transb, j->B, j->ldb, pc, kc, jc, nc, bp);
        return;
    }
    int full = nc / NNRT_GEMM_NR * NNRT_GEMM_NR;
    if (full < nc && !(j->rows_outer && edge_joins_run(j, (nc - 1) % row_strip_width(kc) + 1)))
        j->be->pack_b(j->transb, j->B, j->ldb, pc, kc, jc + full, nc - full, bp);
}

/* The whole loop nest over rows m0..m1-1 and columns n0..n1-1 of D, packing into ws. */
static void gemm_range(const GemmJob *j, int m0, int m1, int n0, int n1, unsigned char *ws)
{
    const NnrtGemmBlocking *b = &j->blk;
    float *bp = (float *)ws;
    float *ap = (float *)(ws + align_up((size_t)b->kc * b->nc * sizeof(float)));
    for (int jc = n0; jc < n1; jc += b->nc) {
        int nc = imin(b->nc, n1 - jc);
        for (int pc = 0; pc < j->K; pc += b->kc) {
            int kc = imin(b->kc, j->K - pc);
            pack_b_block(j, pc, kc, jc, nc, bp);
            for (int ic = m0; ic < m1; ic += b->mc) {
                int mc = imin(b->mc, m1 - ic);
                if (!j->a_inplace)
                    j->be->pack_a(j->transa, j->A, j->lda, ic, mc, pc, kc, ap);
                macro_kernel(j, ic, mc, jc, nc, pc, kc, ap, bp);
            }
        }
    }
}

/* Task t of ntasks: its share of `panels` panels of `width`, clipped to n. */
static void task_range(int t, int ntasks, int n, int width, int *lo, int *hi)
{
    int panels = (n + width - 1) / width;
    *lo = imin(n, (int)((long)t * panels / ntasks) * width);
    *hi = imin(n, (int)((long)(t + 1) * panels / ntasks) * width);
}

/*
 * A GEMV's task t of ntasks over n outputs (panels of 16), each reading
 * `bytes` of the matrix. Task 0, the caller's, takes about GEMV_LEAD_BYTES
 * more than an even share: the workers start a cache-line hand-off later
 * (0.3-0.4 us between distant cores here), which on a GEMV of a few us is a
 * fifth of it. The weight update of a batch-1 training step cuts the
 * weight's rows with it too (gemm_task), so each core updates what it reads.
 */
#define GEMV_LEAD_BYTES 65536.0

/* The tasks of a GEMV over n outputs reading `bytes` of matrix: one per thread above NNRT_GEMV_PAR_BYTES. */
static int gemv_tasks(int n, double bytes)
{
    int threads = nnrt_threads_count();
    return threads > 1 && bytes >= NNRT_GEMV_PAR_BYTES ? imin(threads, (n + 15) / 16) : 1;
}

static void gemv_range(int t, int ntasks, int n, double bytes, int *lo, int *hi)
{
    int panels = (n + 15) / 16;
    int first = imin(panels, panels / ntasks + (int)(GEMV_LEAD_BYTES / (16.0 * bytes) + 0.5));
    int p0 = t == 0 ? 0 : first + (int)((long)(t - 1) * (panels - first) / (ntasks - 1));
    int p1 = t == 0 ? first : first + (int)((long)t * (panels - first) / (ntasks - 1));
    *lo = imin(n, p0 * 16);
    *hi = imin(n, p1 * 16);
}

/* nnrt_parallel_for body: one task's range of the output. */
static void gemm_task(void *ctx, int t)
{
    const GemmJob *j = ctx;
    unsigned char *ws = j->buf + (size_t)t * j->slot;
    int lo, hi;
    if (j->gemv_cut) /* the weight's rows: C's, or D's (C^T's, split_n) */
        gemv_range(t, j->ntasks, j->split_n ? j->N : j->M, (j->split_n ? j->M : j->N) * (double)sizeof(float),
                   &lo, &hi);
    else if (j->split_n)
        task_range(t, j->ntasks, j->N, NNRT_GEMM_NR, &lo, &hi);
    else
        task_range(t, j->ntasks, j->M, NNRT_GEMM_MR, &lo, &hi);
    if (lo >= hi)
        return;
    if (j->split_n)
        gemm_range(j, 0, j->M, lo, hi, ws);
    else
        gemm_range(j, lo, hi, 0, j->N, ws);
}

/*
 * How to cut the work: one task below NNRT_GEMM_PAR_FLOPS; else one task per
 * thread, cutting columns unless there are too few column panels or
 * re-packing A in every task would cost more than re-packing B. A tile step
 * or Adam (the optimizer update of a weight gradient dW = dY^T X) cuts
 * rows, the weight's rows, which the forward GEMM X W^T cuts too (as its
 * columns): each core then updates what it reads in the next forward pass.
 * Cut by columns, every row of the weight crossed cores twice a step:
 * fashion_mlp's step at 2 threads took 396-398 us instead of 225-229 (the
 * update pass before: 255-277). At batch 1 (K == 1) the forward pass reads
 * the weight as a GEMV, so a weight over NNRT_GEMV_PAR_BYTES is cut as the
 * GEMV cuts it (gemv_range), below NNRT_GEMM_PAR_FLOPS too: on one thread
 * the update made half of fashion_mlp's dense_1 cross cores twice a step,
 * and its batch-1 step took 162.8 us at 2 threads against 57.1 at 1.
 */
static void plan_tasks(GemmJob *j)
{
    int threads = nnrt_threads_count();
    int pn = (j->N + NNRT_GEMM_NR - 1) / NNRT_GEMM_NR;
    int pm = (j->M + NNRT_GEMM_MR - 1) / NNRT_GEMM_MR;
    double flops = 2.0 * j->M * j->N * j->K;
    j->ntasks = 1;
    j->split_n = 1;
    j->gemv_cut = 0;
    if (threads <= 1)
        return;
    if ((j->adam || j->tile) && j->K == 1) { /* batch 1: the weight's rows as the forward GEMV cuts them */
        int n = gemv_tasks(j->trans_c ? j->N : j->M, (double)j->M * j->N * sizeof(float));
        if (n > 1) {
            j->ntasks = n;
            j->split_n = j->trans_c;
            j->gemv_cut = 1;
            return;
        }
    }
    if (flops < NNRT_GEMM_PAR_FLOPS)
        return;
    if ((j->tile || j->adam) && (j->trans_c ? pn : pm) >= threads) { /* C's rows: D's columns when D = C^T */
        j->ntasks = threads;
        j->split_n = j->trans_c;
    } else if (pn >= threads && (j->M <= j->N || pm < threads)) {
        j->ntasks = threads;
    } else if (pm >= threads) {
        j->ntasks = threads;
        j->split_n = 0;
    } else {
        j->ntasks = imax(pn, pm);
        j->split_n = pn >= pm;
    }
}

/*
 * Whether to pack A or let the kernel read it in place. In place saves the
 * packing pass, which matters when A is reused over few column panels; it
 * loses when A's rows alias in the cache (a row stride of a multiple of
 * 4 KiB) or when the A block is reused over many panels.
 */
/* ---- planning ------------------------------------------------------------------ */

/*
 * Cost model of a way to run the product, in cycles of the reference machine
 * (Zen 3), fitted to interleaved measurements of every example-net shape
 * under every plan (it then picks a plan within 5% of the fastest on all but
 * three of 24 shapes, and one faster than OpenBLAS on all 24):
 *   - a tile of mr rows and nv vectors costs max(mr*nv/2, 4) cycles per k
 *     (two FMA pipes, or the 4-cycle latency of too few chains), a quarter
 *     more for edge tiles;
 *   - a tile's epilogue ~50 cycles, ~150 when it stores C transposed;
 *   - packing costs 0.3 cycles per element of A or B, 0.5 when B is packed
 *     transposed; B read in place costs 0.02 per element and row tile.
 * The plan changes no result: every element is the same chain of FMAs
 * whichever way it is run.
 */
#define COST_EPILOGUE 50.0        /* cycles per tile epilogue */
#define COST_EPILOGUE_TRANS 150.0 /* the same storing C transposed */
#define COST_PACK_B 0.3           /* cycles per element of B packed */
#define COST_PACK_B_TRANS 0.5     /* the same, transposed */
#define COST_PACK_A 0.3           /* cycles per element of A packed */
#define COST_B_INPLACE 0.02       /* cycles per element of B in place, per row tile */
#define COST_EDGE 1.25            /* slowdown of edge tiles */

static int test_plan = -1; /* nnrt_gemm_test_force_plan: -1, or swap | 2 a_inplace | 4 b_inplace */

void nnrt_gemm_test_force_plan(int plan)
{
    test_plan = plan;
}

/* Cycles per k of one mr x nr tile. */
static double tile_cost(int mr, int nr)
{
    int nv = nr <= 8 ? 1 : 2;
    double t = mr * nv / 2.0 < 4.0 ? 4.0 : mr * nv / 2.0;
    return (mr < NNRT_GEMM_MR || nr < NNRT_GEMM_NR) ? t * COST_EDGE : t;
}

/* Cycles per k of all tiles of an M x N product: full ones, the edge row and column, the corner. */
static double tiles_cost(int M, int N)
{
    int fm = M / NNRT_GEMM_MR, rm = M % NNRT_GEMM_MR;
    int fn = N / NNRT_GEMM_NR, rn = N % NNRT_GEMM_NR;
    double c = (double)fm * fn * tile_cost(NNRT_GEMM_MR, NNRT_GEMM_NR);
    if (rm)
        c += fn * tile_cost(rm, NNRT_GEMM_NR);
    if (rn)
        c += fm * tile_cost(NNRT_GEMM_MR, rn);
    if (rm && rn)
        c += tile_cost(rm, rn);
    return c;
}

/* Modelled cycles of the job j (form and in-place flags set) over depth K. */
static double plan_cost(const GemmJob *j)
{
    double tiles = (double)((j->M + NNRT_GEMM_MR - 1) / NNRT_GEMM_MR) *
                   ((j->N + NNRT_GEMM_NR - 1) / NNRT_GEMM_NR);
    double c = tiles_cost(j->M, j->N) * j->K;
    c += tiles * (j->trans_c ? COST_EPILOGUE_TRANS : COST_EPILOGUE);
    if (!j->b_inplace)
        c += (double)j->K * j->N * (j->transb ? COST_PACK_B_TRANS : COST_PACK_B);
    else
        c += (double)j->K * j->N * COST_B_INPLACE * ((j->M + NNRT_GEMM_MR - 1) / NNRT_GEMM_MR);
    if (!j->a_inplace)
        c += (double)j->M * j->K * COST_PACK_A;
    return c;
}

static int gcd(int a, int b)
{
    while (b) {
        int t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/*
 * Whether `rows` rows ld floats apart can stay in a cache of `sets` sets of
 * 64-byte lines (8 ways each) together: with ld a multiple of 16 floats they
 * start on only sets/gcd(ld/16, sets) of the sets, and a power-of-two stride
 * thrashes the cache (the 512, 1024 and 2048 squares do); other strides
 * spread over all sets.
 */
static int rows_fit(long ld, int rows, int sets)
{
    if (ld % 16 != 0)
        return 1;
    int starts = sets / gcd((int)((ld / 16) % sets), sets);
    return starts * 8 >= rows;
}

/*
 * Whether the kernels may read A, and B, of job j in place. op(A) = A^T in
 * place means one cache line per k for 6 floats: its kc lines must stay in
 * L1. B's rows must not all straddle lines (B not 64-byte aligned while ldb
 * is a multiple of 16 runs at three quarters of the speed).
 */
static void inplace_allowed(const GemmJob *j, int *a_ok, int *b_ok)
{
    int kc = j->blk.kc, b_split = j->ldb % 16 == 0 && (uintptr_t)j->B % 64 != 0;
    if (j->transa)
        *a_ok = rows_fit(j->lda, kc, 64) && rows_fit(j->lda, 2 * kc, 1024);
    else
        *a_ok = rows_fit(j->lda, 2 * j->blk.mc, 1024);
    *b_ok = !j->transb && !b_split && rows_fit(j->ldb, 2 * kc, 1024);
}

/* Fills j with the product as computed: direct or swapped (C^T = op(B)^T op(A)^T). */
static void set_form(GemmJob *j, const GemmJob *orig, int swap, const NnrtGemmBlocking *blk)
{
    *j = *orig;
    j->trans_c = swap;
    if (swap) {
        j->M = orig->N;
        j->N = orig->M;
        j->A = orig->B;
        j->lda = orig->ldb;
        j->transa = !orig->transb;
        j->B = orig->A;
        j->ldb = orig->lda;
        j->transb = !orig->transa;
        j->bias_per_row = !orig->bias_per_row;
    }
    j->blk = resolve_blocking(j->M, j->N, j->K, blk);
}

/* Whether plan number p (as in nnrt_gemm_test_force_plan) may run job j. */
static int plan_allowed(const GemmJob *j, int p)
{
    if (j->b_inplace && j->transb)
        return 0;
    if (test_plan >= 0)
        return p == (j->transb ? test_plan & 3 : test_plan);
    int a_ok, b_ok;
    inplace_allowed(j, &a_ok, &b_ok);
    return (a_ok || !j->a_inplace) && (b_ok || !j->b_inplace);
}

/* Sets plan p's in-place flags (as in nnrt_gemm_test_force_plan) and the loop order they imply. */
static void set_inplace(GemmJob *j, int p)
{
    j->a_inplace = (p & 2) != 0;
    j->b_inplace = (p & 4) != 0;
    j->rows_outer = j->be->rows_only || !j->b_inplace || (j->a_inplace && !j->transa);
}

/*
 * Picks the plan the model finds cheapest: either form, operands packed or
 * in place. The two forms are built once and the job copied once at the
 * end: a copy per candidate made planning 2.5% of lenet5's 64x120x84
 * product (the copies' wide loads wait on the narrow stores just made).
 */
static void plan(GemmJob *j, const NnrtGemmBlocking *blk)
{
    GemmJob form[2];
    set_form(&form[0], j, 0, blk);
    set_form(&form[1], j, 1, blk);
    double best = -1.0;
    int pick = 0;
    for (int p = 0; p < 8; p++) {
        GemmJob *f = &form[p & 1];
        set_inplace(f, p);
        if (!plan_allowed(f, p))
            continue;
        double c = plan_cost(f);
        if (best < 0.0 || c < best) {
            pick = p;
            best = c;
        }
    }
    set_inplace(&form[pick & 1], pick);
    *j = form[pick & 1];
}

/* ---- GEMV ----------------------------------------------------------------------- */

typedef struct GemvJob {
    NnrtGemvFn *fn;   /* gemv_dot or gemv_axpy */
    NnrtGemvOp op;    /* the product */
    int n;            /* outputs */
    int ntasks;       /* tasks; each takes a contiguous run of outputs */
} GemvJob;

/* nnrt_parallel_for body: outputs of task t. */
static void gemv_task(void *ctx, int t)
{
    const GemvJob *g = ctx;
    int lo, hi;
    gemv_range(t, g->ntasks, g->n, g->op.k * (double)sizeof(float), &lo, &hi);
    if (lo < hi)
        g->fn(&g->op, lo, hi);
}

/* The bytes of a GEMV's matrix, which pick its kernel and its split. */
static double gemv_bytes(const GemvJob *g)
{
    return (double)g->n * g->op.k * sizeof(float);
}

/* Runs a GEMV over n outputs, split over the pool when it is large. */
static void run_gemv(GemvJob *g)
{
    g->ntasks = gemv_tasks(g->n, gemv_bytes(g));
    if (g->ntasks > 1)
        nnrt_parallel_for(g->ntasks, gemv_task, g);
    else
        g->fn(&g->op, 0, g->n);
}

/* Copies a strided vector into ws, which the dot form needs contiguous. */
static const float *contiguous(const float *x, long xs, int k, unsigned char *ws)
{
    if (xs == 1)
        return x;
    float *d = (float *)(((uintptr_t)ws + ALIGN - 1) / ALIGN * ALIGN);
    for (int i = 0; i < k; i++)
        d[i] = x[(size_t)i * xs];
    return d;
}

/*
 * M == 1: y[n] = sum_k op(A)[0,k] op(B)[k,n]. With op(B) = W^T (transb) the
 * rows of W are dot products; otherwise rows of B are scaled and summed.
 * N == 1 is the same with the roles of A and B swapped and y strided by ldc.
 */
static void sgemv(const GemmJob *j, unsigned char *ws)
{
    const NnrtGemmBackend *be = j->be;
    GemvJob g = {.op = {.k = j->K, .relu = j->relu, .accumulate = j->accumulate, .y = j->C}};
    NnrtGemvOp *op = &g.op;
    int dot;
    if (j->M == 1) {
        g.n = j->N;
        op->ys = 1;
        op->x = j->A;
        op->xs = j->transa ? j->lda : 1;
        op->mat = j->B;
        op->ldm = j->ldb;
        dot = j->transb;
        op->bias_stride = j->bias_per_row ? 0 : 1;
    } else {
        g.n = j->M;
        op->ys = j->ldc;
        op->x = j->B;
        op->xs = j->transb ? 1 : j->ldb;
        op->mat = j->A;
        op->ldm = j->lda;
        dot = !j->transa;
        op->bias_stride = j->bias_per_row ? 1 : 0;
    }
    op->bias = j->bias;
    g.fn = be->gemv_axpy;
    if (dot) {
        op->x = contiguous(op->x, op->xs, op->k, ws);
        op->xs = 1;
        /* by the whole matrix, not a task's share: the choice changes the sums' order */
        g.fn = gemv_bytes(&g) > GEMV_SEQ_BYTES ? be->gemv_dot_seq : be->gemv_dot;
    }
    run_gemv(&g);
}

/* K == 0: C = (accumulate ? C : 0) + bias, then the activation. */
static void epilogue_only(const GemmJob *j)
{
    for (int m = 0; m < j->M; m++)
        for (int n = 0; n < j->N; n++) {
            float *c = j->C + (size_t)m * j->ldc + n;
            const float *b = j->bias ? j->bias + (j->bias_per_row ? m : n) : NULL;
            *c = nnrt_gemm_finish(0.0f, j->accumulate ? c : NULL, b, j->relu);
        }
    if (has_post(j))
        post_c(j, 0, j->M, 0, j->N);
}

/* ---- entry point ------------------------------------------------------------------ */

void nnrt_sgemm(int transa, int transb, int M, int N, int K, const float *A, int lda, const float *B,
                int ldb, float *C, int ldc, const NnrtEpilogue *ep, const NnrtGemmBlocking *blk,
                void *pack_buf)
{
    if (M <= 0 || N <= 0)
        return;
    GemmJob j = {
        .be = backend(), .transa = transa != 0, .transb = transb != 0, .M = M, .N = N,
        .K = K > 0 ? K : 0, .A = A, .B = B, .lda = lda, .ldb = ldb, .ldc = ldc, .C = C,
    };
    if (ep) {
        j.bias = ep->bias;
        j.bias_per_row = ep->bias_per_row != 0;
        j.relu = ep->act == NNRT_ACT_RELU;
        j.accumulate = ep->accumulate != 0;
        j.residual = ep->residual;
        j.ld_residual = ep->ld_residual;
        j.gate = ep->gate_y ? ep->gate : NNRT_GATE_NONE;
        j.gate_y = ep->gate_y;
        j.ld_gate = ep->ld_gate;
        j.tile = ep->tile;
        j.tile_ctx = ep->tile_ctx;
        j.adam = ep->adam;
        if (j.residual) { /* the activation comes after the residual: a post step */
            j.post_relu = j.relu;
            j.relu = 0;
        }
    }
    if (j.K == 0) {
        epilogue_only(&j);
        return;
    }
    if (is_gemv(M, N)) {
        sgemv(&j, pack_buf);
        if (has_post(&j))
            post_c(&j, 0, M, 0, N);
        return;
    }
    plan(&j, blk);
    j.slot = slot_bytes(&j.blk);
    j.buf = (unsigned char *)(((uintptr_t)pack_buf + ALIGN - 1) / ALIGN * ALIGN);
    plan_tasks(&j);
    if (j.ntasks > 1)
        nnrt_parallel_for(j.ntasks, gemm_task, &j);
    else
        gemm_range(&j, 0, j.M, 0, j.N, j.buf);
}
