/*
 * nnrt_gemm_x86.h - what the AVX2 and AVX-512 back ends of the GEMM
 * (nnrt_gemm_avx2.c, nnrt_gemm_avx512.c) share: masks, partial stores, the
 * 8x8 transpose and the transposed epilogue of a tile (C^T plans), the
 * GEMVs' final sum and their epilogue. Every
 * function carries target("avx2,fma"), so it builds without -march flags;
 * only code that checked the CPU may call it. Private to those two files.
 */
#ifndef NNRT_GEMM_X86_H
#define NNRT_GEMM_X86_H

#include "nnrt_gemm_int.h"

#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/*
 * For the micro-kernels' loop over a run of tiles. At -O3, GCC unswitches
 * that loop on every epilogue flag of the tile (old C, bias, relu,
 * transposed C, ...), one copy of the whole FMA loop per combination, and
 * the AVX-512 file took a minute and more to compile; every `netc build`
 * compiles it (docs/performance.md, 2026-12-02). The branches it would save
 * run once per tile.
 */
#if defined(__GNUC__) && !defined(__clang__)
#define NNRT_NO_UNSWITCH __attribute__((optimize("no-unswitch-loops")))
#else
#define NNRT_NO_UNSWITCH
#endif

/* Lanes 0..n-1 set (n in 0..8). */
AVX2_INLINE __m256i tail_mask(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Sum of the 8 lanes of v, in a fixed order (the GEMVs' last step in both back ends). */
AVX2_INLINE float hsum(__m256 v)
{
    __m128 x = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    x = _mm_add_ps(x, _mm_movehl_ps(x, x));
    x = _mm_add_ss(x, _mm_movehdup_ps(x));
    return _mm_cvtss_f32(x);
}

/* Outputs a dot GEMV sums before it finishes them (gemv_dot_runs). */
#define GEMV_RUN 32

/*
 * Finishes outputs i..i+n-1 of a GEMV from their sums s[0..n-1] as
 * nnrt_gemm_gemv_store does each (old y, bias, relu, in that order), 8 at a
 * time when y is contiguous. The kernels collect a run of sums before they
 * finish it: finishing each sum as it came made the 128x256 and 256x784
 * GEMVs 20-30% slower (docs/performance.md, 2026-12-03 14:00-14:20).
 */
AVX2_INLINE void gemv_finish(const NnrtGemvOp *op, int i, const float *s, int n)
{
    int c = 0;
    if (op->ys == 1) {
        float *y = op->y + i;
        const float *bias = op->bias ? op->bias + (size_t)i * op->bias_stride : NULL;
        for (; c + 8 <= n; c += 8) {
            __m256 v = _mm256_loadu_ps(s + c);
            if (op->accumulate)
                v = _mm256_add_ps(v, _mm256_loadu_ps(y + c));
            if (bias)
                v = _mm256_add_ps(v, op->bias_stride ? _mm256_loadu_ps(bias + c) : _mm256_broadcast_ss(bias));
            if (op->relu) /* max_ps(v, 0) gives 0 for NaN and -0, as nnrt_gemm_finish */
                v = _mm256_max_ps(v, _mm256_setzero_ps());
            _mm256_storeu_ps(y + c, v);
        }
    }
    for (; c < n; c++)
        nnrt_gemm_gemv_store(op, i + c, s[c]);
}

/* Sums of rows i..i+ROWS-1 of a dot GEMV into sum[0..ROWS-1]. */
typedef void GemvRowsFn(const NnrtGemvOp *op, int i, float *sum, const int ROWS);

/*
 * A dot GEMV over outputs i0..i1-1, in runs of GEMV_RUN rows: the run's
 * sums from the back end's `rows`, GROUP rows a call and the last ones one
 * at a time, then gemv_finish on them. Inlined with `rows` and GROUP, which
 * the kernels pass as constants, so each call of `rows` is specialized.
 */
AVX2_INLINE void gemv_dot_runs(const NnrtGemvOp *op, int i0, int i1, GemvRowsFn *rows, const int GROUP)
{
    for (int i = i0; i < i1; i += GEMV_RUN) {
        int n = i1 - i < GEMV_RUN ? i1 - i : GEMV_RUN, r = 0;
        float s[GEMV_RUN];
        for (; r + GROUP <= n; r += GROUP)
            rows(op, i + r, s + r, GROUP);
        for (; r < n; r++)
            rows(op, i + r, s + r, 1);
        gemv_finish(op, i, s, n);
    }
}

/* Stores lanes 0..n-1 of v (n in 1..7) without touching memory past them. */
AVX2_INLINE void store_partial(float *p, __m256 v, int n)
{
    __m128 x = _mm256_castps256_ps128(v);
    if (n >= 4) {
        _mm_storeu_ps(p, x);
        x = _mm256_extractf128_ps(v, 1);
        p += 4;
        n -= 4;
    }
    if (n >= 2) {
        _mm_storel_pi((__m64 *)(void *)p, x);
        x = _mm_movehl_ps(x, x);
        p += 2;
        n -= 2;
    }
    if (n >= 1)
        _mm_store_ss(p, x);
}

/* Transposes the 8x8 block r[0..7] in place. */
AVX2_INLINE void transpose8(__m256 r[8])
{
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
    r[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
    r[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
    r[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
    r[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
    r[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
    r[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
    r[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

/*
 * The transposed epilogue of 8 columns of D (x[r] = row r's vector v, rows
 * past mr zero): one 8x8 transpose turns them into 8 rows of C with mr
 * valid lanes each, finished and stored like finish_vec's.
 */
AVX2 static inline void finish_trans(const NnrtGemmTile *t, int v, __m256 x[8])
{
    int n = t->nr - 8 * v < 8 ? t->nr - 8 * v : 8;
    __m256i m = tail_mask(t->mr);
    transpose8(x);
    for (int i = 0; i < n; i++) {
        int col = 8 * v + i;
        float *c = t->c + (size_t)col * t->ldc;
        __m256 y = x[i];
        if (t->load_c)
            y = _mm256_add_ps(y, _mm256_maskload_ps(c, m));
        if (t->bias)
            y = _mm256_add_ps(y, t->bias_per_row ? _mm256_maskload_ps(t->bias, m)
                                                 : _mm256_broadcast_ss(t->bias + col));
        if (t->relu)
            y = _mm256_max_ps(y, _mm256_setzero_ps());
        store_partial(c, y, t->mr);
    }
}

#endif
