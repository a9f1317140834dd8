/*
 * nnrt_gemm_neon.c - the NEON back end of the GEMM (AArch64).
 *
 * Same 6x16 tile as the AVX2 kernel, here as 6 rows x 4 quad registers = 24
 * accumulators (AArch64 has 32 vector registers: 24 + 4 for B + A scalars).
 * Each k step loads 16 floats of the packed B panel and does 24 vfmaq_n_f32.
 * The epilogue, the packers and the GEMVs are the portable ones. Built with
 * aarch64-linux-gnu-gcc and run under qemu-aarch64, it matches a double
 * reference under every plan (all transposes, sizes 1..33, every epilogue);
 * not yet tuned on hardware. 32-bit ARM (no guaranteed vector FMA) uses the
 * portable back end.
 */
#include "nnrt_gemm_int.h"

#if defined(__ARM_NEON) && defined(__aarch64__)

#include <arm_neon.h>

/* One row of a k step: four FMAs by A's scalar. */
#define ROW(r, p)                                           \
    if (MR > r) {                                           \
        float av = *(p);                                    \
        c##r##0 = vfmaq_n_f32(c##r##0, b0, av);             \
        c##r##1 = vfmaq_n_f32(c##r##1, b1, av);             \
        c##r##2 = vfmaq_n_f32(c##r##2, b2, av);             \
        c##r##3 = vfmaq_n_f32(c##r##3, b3, av);             \
    }

/* Stores the accumulators of row r into the tile buffer. */
#define SAVE(r)                                             \
    vst1q_f32(tile[r] + 0, c##r##0);                        \
    vst1q_f32(tile[r] + 4, c##r##1);                        \
    vst1q_f32(tile[r] + 8, c##r##2);                        \
    vst1q_f32(tile[r] + 12, c##r##3);

/*
 * The kc-long FMA loop of an MR x 16 tile (MR constant after inlining). B's
 * 16 columns are read whole, which is safe: the driver gives a kernel full
 * 16-column B rows (packed panels are zero-padded; in place only full ones).
 */
static inline __attribute__((always_inline)) void kern_body(int kc, const NnrtGemmTile *t,
                                                            float tile[NNRT_GEMM_MR][NNRT_GEMM_NR],
                                                            const int MR)
{
    const float *a = t->a, *bp = t->b;
    long rs = t->rs_a, cs = t->cs_a, sb = t->ldb_k;
    float32x4_t z = vdupq_n_f32(0.0f);
    float32x4_t c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
    float32x4_t c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
    float32x4_t c40 = z, c41 = z, c42 = z, c43 = z, c50 = z, c51 = z, c52 = z, c53 = z;
    for (int k = 0; k < kc; k++, a += cs, bp += sb) {
        float32x4_t b0 = vld1q_f32(bp), b1 = vld1q_f32(bp + 4);
        float32x4_t b2 = vld1q_f32(bp + 8), b3 = vld1q_f32(bp + 12);
        ROW(0, a) ROW(1, a + rs) ROW(2, a + 2 * rs) ROW(3, a + 3 * rs) ROW(4, a + 4 * rs)
        ROW(5, a + 5 * rs)
    }
    SAVE(0) SAVE(1) SAVE(2) SAVE(3) SAVE(4) SAVE(5)
}

#define KERN(MR)                                                                         \
    static void kern_##MR(int kc, const NnrtGemmTile *t)                                 \
    {                                                                                    \
        float tile[NNRT_GEMM_MR][NNRT_GEMM_NR];                                          \
        NnrtGemmTile u = *t;                                                             \
        for (int i = 0; i < t->ntiles; i++, nnrt_gemm_tile_advance(&u)) {                \
            kern_body(kc, &u, tile, MR);                                                 \
            nnrt_gemm_store_tile((const float(*)[NNRT_GEMM_NR])tile, &u);                \
        }                                                                                \
    }
KERN(1) KERN(2) KERN(3) KERN(4) KERN(5) KERN(6)

static NnrtGemmKernFn *const kerns[NNRT_GEMM_MR] = {kern_1, kern_2, kern_3, kern_4, kern_5, kern_6};

static void kern_neon(int kc, const NnrtGemmTile *t)
{
    kerns[t->mr - 1](kc, t);
}

static const NnrtGemmBackend neon = {
    .name = "neon",
    .kern = kern_neon,
    .pack_a = nnrt_gemm_pack_a_portable,
    .pack_b = nnrt_gemm_pack_b_portable,
    .gemv_dot = nnrt_gemm_gemv_dot_portable,
    .gemv_dot_seq = nnrt_gemm_gemv_dot_portable,
    .gemv_axpy = nnrt_gemm_gemv_axpy_portable,
    .adam = nnrt_gemm_adam_portable,
};

const NnrtGemmBackend *nnrt_gemm_backend_neon(void)
{
    return &neon;
}

#else /* no AArch64 NEON */

const NnrtGemmBackend *nnrt_gemm_backend_neon(void)
{
    return NULL;
}

#endif
