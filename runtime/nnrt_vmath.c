/*
 * nnrt_vmath.c - array transcendentals on SLEEF's vector functions, or on
 * libm with -DNNRT_LIBM (see nnrt_vmath.h for the contract).
 *
 * One loop, vmap, applies a function of one vector to an array; the
 * instruction set decides only what a "vector" is (VEC, LANES, VLOAD,
 * VSTORE) and which SLEEF function a primitive names (SLEEF(exp) is
 * Sleef_expf8_u10avx2 in an AVX2+FMA build).  With libm a vector is one
 * float and SLEEF(exp) is expf.  The composite functions (sigmoid, gelu,
 * ...) run a primitive over a stack block, then finish it with plain float
 * arithmetic the compiler vectorizes; the same C serves both builds.
 *
 * The choice is made at compile time, not by CPU detection: a native build
 * (-march=native) gets AVX2 where the machine has it; a generic x86-64
 * build gets SSE2 (SLEEF's 4-lane functions pick SSE4.1 themselves when the
 * CPU has it).  SLEEF's _u10 functions are within 1 ULP; glibc's are
 * within 1 ULP too, so the two builds differ by at most a few ULP.
 */
#include "nnrt_vmath.h"

#include <math.h>
#include <string.h>

#if defined(NNRT_LIBM)
#define VMATH_IMPL "libm"
typedef float Vec;
#define LANES 1
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define SLEEF(fn) fn##f /* expf */
#else
#include <sleef.h>
#if defined(__AVX2__) && defined(__FMA__)
#define VMATH_IMPL "sleef-avx2"
typedef __m256 Vec;
#define LANES 8
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define SLEEF(fn) Sleef_##fn##f8_u10avx2
#elif defined(__AVX__)
#define VMATH_IMPL "sleef-avx"
typedef __m256 Vec;
#define LANES 8
#define VLOAD _mm256_loadu_ps
#define VSTORE _mm256_storeu_ps
#define SLEEF(fn) Sleef_##fn##f8_u10 /* SLEEF's dispatcher: AVX or FMA4 */
#elif defined(__SSE2__)
#define VMATH_IMPL "sleef-sse2"
typedef __m128 Vec;
#define LANES 4
#define VLOAD _mm_loadu_ps
#define VSTORE _mm_storeu_ps
#define SLEEF(fn) Sleef_##fn##f4_u10 /* SLEEF's dispatcher: SSE2 or SSE4.1 */
#elif defined(__ARM_NEON) && defined(__aarch64__)
#define VMATH_IMPL "sleef-neon"
typedef float32x4_t Vec;
#define LANES 4
#define VLOAD vld1q_f32
#define VSTORE vst1q_f32
#define SLEEF(fn) Sleef_##fn##f4_u10 /* AdvSIMD */
#else
#define VMATH_IMPL "sleef-scalar"
typedef float Vec;
#define LANES 1
#define VLOAD(p) (*(p))
#define VSTORE(p, v) (*(p) = (v))
#define SLEEF(fn) Sleef_##fn##f_u10
#endif
#endif

typedef Vec VecFn(Vec);

/*
 * The primitives as functions of one vector.  (SLEEF declares its functions
 * with a const-qualified return type, which clang will not convert to a
 * VecFn pointer; these wrappers inline away.)
 */
#define PRIMITIVE(fn) \
    static Vec v_##fn(Vec v) { return SLEEF(fn)(v); }
PRIMITIVE(exp)
PRIMITIVE(log)
PRIMITIVE(log1p)
PRIMITIVE(tanh)
PRIMITIVE(erf)

#define BLOCK NNRT_VMATH_BLOCK

const char *nnrt_vmath_impl(void)
{
    return VMATH_IMPL;
}

/*
 * y[i] = f(x[i]) for i < n, a vector at a time.  The tail goes through f
 * too, zero-padded, so that every element is computed the same way.
 */
static inline void vmap(float *y, const float *x, size_t n, VecFn *f)
{
    size_t i = 0;
    for (; i + LANES <= n; i += LANES)
        VSTORE(y + i, f(VLOAD(x + i)));
#if LANES > 1
    if (i < n) {
        float pad[LANES] = {0};
        memcpy(pad, x + i, (n - i) * sizeof *pad);
        VSTORE(pad, f(VLOAD(pad)));
        memcpy(y + i, pad, (n - i) * sizeof *pad);
    }
#endif
}

void nnrt_vexp(float *y, const float *x, size_t n) { vmap(y, x, n, v_exp); }
void nnrt_vlog(float *y, const float *x, size_t n) { vmap(y, x, n, v_log); }
void nnrt_vlog1p(float *y, const float *x, size_t n) { vmap(y, x, n, v_log1p); }
void nnrt_vtanh(float *y, const float *x, size_t n) { vmap(y, x, n, v_tanh); }
void nnrt_verf(float *y, const float *x, size_t n) { vmap(y, x, n, v_erf); }

static size_t block_len(size_t n, size_t i0)
{
    return n - i0 < BLOCK ? n - i0 : BLOCK;
}

/* t = exp(-x) over one block. */
static void exp_neg(float *t, const float *x, size_t len)
{
    for (size_t i = 0; i < len; i++)
        t[i] = -x[i];
    vmap(t, t, len, v_exp);
}

void nnrt_vsigmoid(float *y, const float *x, size_t n)
{
    float t[BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        size_t len = block_len(n, i0);
        exp_neg(t, x + i0, len);
        for (size_t i = 0; i < len; i++)
            y[i0 + i] = 1.0f / (1.0f + t[i]);
    }
}

void nnrt_vsilu(float *y, const float *x, size_t n)
{
    float t[BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        size_t len = block_len(n, i0);
        exp_neg(t, x + i0, len);
        for (size_t i = 0; i < len; i++)
            y[i0 + i] = x[i0 + i] / (1.0f + t[i]);
    }
}

/* t = erf(x / sqrt 2) over one block. */
static void erf_scaled(float *t, const float *x, size_t len)
{
    for (size_t i = 0; i < len; i++)
        t[i] = x[i] * 0.707106781186547524f;
    vmap(t, t, len, v_erf);
}

void nnrt_vgelu(float *y, const float *x, size_t n)
{
    float t[BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        size_t len = block_len(n, i0);
        erf_scaled(t, x + i0, len);
        for (size_t i = 0; i < len; i++)
            y[i0 + i] = 0.5f * x[i0 + i] * (1.0f + t[i]);
    }
}

void nnrt_vsilu_grad(float *y, const float *x, size_t n)
{
    float t[BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        size_t len = block_len(n, i0);
        exp_neg(t, x + i0, len);
        for (size_t i = 0; i < len; i++) {
            const float s = 1.0f / (1.0f + t[i]);
            y[i0 + i] = s * (1.0f + x[i0 + i] * (1.0f - s));
        }
    }
}

void nnrt_vgelu_grad(float *y, const float *x, size_t n)
{
    float t[BLOCK], u[BLOCK];
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        size_t len = block_len(n, i0);
        const float *xb = x + i0;
        erf_scaled(t, xb, len);
        for (size_t i = 0; i < len; i++)
            u[i] = -0.5f * xb[i] * xb[i];
        vmap(u, u, len, v_exp);
        for (size_t i = 0; i < len; i++)
            y[i0 + i] = 0.5f * (1.0f + t[i]) + xb[i] * 0.398942280401432678f * u[i];
    }
}

float nnrt_vexp_sum(const float *x, float shift, size_t n)
{
    float t[BLOCK], s = 0.0f;
    for (size_t i0 = 0; i0 < n; i0 += BLOCK) {
        size_t len = block_len(n, i0);
        for (size_t i = 0; i < len; i++)
            t[i] = x[i0 + i] - shift;
        vmap(t, t, len, v_exp);
        for (size_t i = 0; i < len; i++)
            s += t[i];
    }
    return s;
}
