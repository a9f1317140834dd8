/*
 * nnrt_vmath.h - the transcendental functions of generated kernels, over
 * arrays: y[i] = f(x[i]) for i < n.
 *
 * Two implementations, chosen when nnrt_vmath.c is compiled:
 *   default       SLEEF's vector functions with 1-ULP error (_u10): 8 lanes
 *                 when the build has AVX2 (-march=native on an AVX2
 *                 machine), 4 lanes with SSE2 (any x86-64) or AdvSIMD
 *                 (AArch64), SLEEF's scalar functions otherwise.  Link
 *                 -lsleef (Debian's libsleef-dev).
 *   -DNNRT_LIBM   the C library's expf, tanhf, ... one element at a time;
 *                 no SLEEF header or library needed (`netc build --libm`).
 *
 * Every function computes the formula in its comment, with the primitives
 * (exp, log, log1p, tanh, erf) taken from SLEEF or libm and the rest in
 * plain float arithmetic in the order written.  So the libm build equals
 * those formulas written with expf etc. bit for bit, and the SLEEF build is
 * within a few ULP of it; special values (NaN, +-inf) follow the formula in
 * IEEE arithmetic in both (silu(-inf) = -inf * 0 is NaN, as in PyTorch).
 * One exception, SLEEF's: log1p of x > 1e38 is +inf instead of about 88
 * (netc takes log1p only of values in [0, 1]).
 * An element's value does not depend on n or on its index: tails shorter
 * than a vector go through the same vector function, zero-padded.
 *
 * y may equal x (in place); otherwise they must not overlap.  The
 * activations work through a block of NNRT_VMATH_BLOCK floats on the stack.
 * Nothing allocates, nothing keeps state: safe from any thread.
 */
#ifndef NNRT_VMATH_H
#define NNRT_VMATH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define NNRT_VMATH_BLOCK 256 /* floats per stack block of the composite functions */

/* Primitives: y = exp(x), log(x), log1p(x), tanh(x), erf(x). */
void nnrt_vexp(float *y, const float *x, size_t n);
void nnrt_vlog(float *y, const float *x, size_t n);
void nnrt_vlog1p(float *y, const float *x, size_t n);
void nnrt_vtanh(float *y, const float *x, size_t n);
void nnrt_verf(float *y, const float *x, size_t n);

/* Activations: sigmoid 1 / (1 + exp(-x)), silu x / (1 + exp(-x)), gelu 0.5 x (1 + erf(x / sqrt 2)). */
void nnrt_vsigmoid(float *y, const float *x, size_t n);
void nnrt_vsilu(float *y, const float *x, size_t n);
void nnrt_vgelu(float *y, const float *x, size_t n);

/*
 * Their derivatives d/dx, for the backward pass:
 *   silu'  s (1 + x (1 - s))  with s = 1 / (1 + exp(-x))
 *   gelu'  0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi)
 */
void nnrt_vsilu_grad(float *y, const float *x, size_t n);
void nnrt_vgelu_grad(float *y, const float *x, size_t n);

/*
 * The sum of exp(x[i] - shift) for i < n, added in index order in float
 * (a softmax denominator when shift is the row's maximum).
 */
float nnrt_vexp_sum(const float *x, float shift, size_t n);

/* "sleef-avx2", "sleef-sse2", "sleef-neon", "sleef-scalar" or "libm": what this build uses. */
const char *nnrt_vmath_impl(void);

/*
 * leaky_relu's factor at v: 1 where v > 0, else alpha, so that v times it
 * is leaky_relu(v) and dy times it its gradient, bit for bit as
 * `v > 0 ? v : alpha * v` (0, -0 and NaN included).  Computed with integer
 * operations on the bits: GCC keeps a float comparison that selects
 * between two products as a branch (the comparison may trap), which does
 * not vectorize and mispredicts on random signs; this form vectorizes.
 */
static inline float nnrt_leaky_factor(float v, float alpha)
{
    uint32_t b, a, r;
    const uint32_t one = 0x3f800000u; /* 1.0f */
    memcpy(&b, &v, sizeof b);
    memcpy(&a, &alpha, sizeof a);
    uint32_t pos = 0u - (uint32_t)(((int32_t)b > 0) & (b <= 0x7f800000u)); /* all ones: v > 0 (not NaN) */
    r = (pos & one) | (~pos & a);
    float f;
    memcpy(&f, &r, sizeof f);
    return f;
}

#endif
