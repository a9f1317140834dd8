/*
 * test_rt_vmath.c - the array transcendentals (nnrt_vmath) against the C
 * library.
 *
 * The Makefile builds this file three times, each with nnrt_vmath.c under
 * the same flags: as the runtime is built (SLEEF, 4 lanes on x86-64), with
 * -mavx2 -mfma (SLEEF, 8 lanes; skipped on CPUs without them) and with
 * -DNNRT_LIBM.  Stated tolerances:
 *   - primitives (exp, log, log1p, tanh, erf): within MAX_ULP = 2 ULP of
 *     libm's expf etc. with SLEEF (each is within 1 ULP of the exact value),
 *     bit-identical with NNRT_LIBM;
 *   - activations and derivatives: within 1e-6 max(1, |x|) of the formula
 *     in nnrt_vmath.h written with libm (100 times tighter than the
 *     reference suites), bit-identical with NNRT_LIBM;
 *   - special values (+-inf, NaN, 0, log of 0 and of negatives): the same
 *     as the libm formula exactly, NaN for NaN; except SLEEF's log1p of
 *     x > 1e38, which is +inf (documented in nnrt_vmath.h);
 * over inputs from 1e-40 (subnormal) to 1e38 of both signs and a dense grid
 * of the range where each function varies.  Every length 0..40 (none a
 * multiple of 8 but 0, 8, ...), in place and not, gives each element the
 * value it has in a long array.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "nnrt_vmath.h"

#define MAX_ULP 2       /* primitives, SLEEF against libm */
#define ACT_TOL 1e-6    /* activations: |got - want| <= ACT_TOL max(1, |x|) */
#define NGRID 20000     /* grid points per function */

#ifdef NNRT_LIBM
static const int exact = 1; /* the libm build must equal the formulas bit for bit */
#else
static const int exact = 0;
#endif

typedef void ArrayFn(float *y, const float *x, size_t n);

/* The formulas of nnrt_vmath.h, one element, with libm. */
static float ref_sigmoid(float v) { return 1.0f / (1.0f + expf(-v)); }
static float ref_silu(float v) { return v / (1.0f + expf(-v)); }
static float ref_gelu(float v) { return 0.5f * v * (1.0f + erff(v * 0.707106781186547524f)); }
static float ref_silu_grad(float v)
{
    const float s = 1.0f / (1.0f + expf(-v));
    return s * (1.0f + v * (1.0f - s));
}
static float ref_gelu_grad(float v)
{
    return 0.5f * (1.0f + erff(v * 0.707106781186547524f)) + v * 0.398942280401432678f * expf(-0.5f * v * v);
}

typedef struct Func {
    const char *name;
    ArrayFn *fn;             /* under test */
    float (*ref)(float);     /* libm */
    int primitive;           /* ULP tolerance (1) or ACT_TOL (0) */
    float lo, hi;            /* the grid */
} Func;

static const Func FUNCS[] = {
    {"exp", nnrt_vexp, expf, 1, -110.0f, 90.0f},
    {"log", nnrt_vlog, logf, 1, 0.0f, 100.0f},
    {"log1p", nnrt_vlog1p, log1pf, 1, -1.0f, 100.0f},
    {"tanh", nnrt_vtanh, tanhf, 1, -12.0f, 12.0f},
    {"erf", nnrt_verf, erff, 1, -5.0f, 5.0f},
    {"sigmoid", nnrt_vsigmoid, ref_sigmoid, 0, -30.0f, 30.0f},
    {"silu", nnrt_vsilu, ref_silu, 0, -30.0f, 30.0f},
    {"gelu", nnrt_vgelu, ref_gelu, 0, -12.0f, 12.0f},
    {"silu_grad", nnrt_vsilu_grad, ref_silu_grad, 0, -30.0f, 30.0f},
    {"gelu_grad", nnrt_vgelu_grad, ref_gelu_grad, 0, -12.0f, 12.0f},
};
enum { NFUNCS = sizeof FUNCS / sizeof FUNCS[0] };

/* Floats in an order where neighbours differ by one ULP (-0 and +0 both 0). */
static int64_t ordered(float f)
{
    int32_t i;
    memcpy(&i, &f, sizeof i);
    return i < 0 ? -(int64_t)(i & 0x7fffffff) : i;
}

static int64_t ulp_dist(float a, float b)
{
    int64_t d = ordered(a) - ordered(b);
    return d < 0 ? -d : d;
}

/* The inputs: the grid, then +-10^k for k = -40 .. 38 in steps of 1/4. */
static size_t make_inputs(const Func *f, float *x)
{
    size_t n = 0;
    for (int i = 0; i < NGRID; i++)
        x[n++] = f->lo + (f->hi - f->lo) * (float)i / (NGRID - 1);
    for (int k = -160; k <= 152; k++) {
        x[n++] = (float)pow(10.0, k / 4.0);
        x[n++] = -(float)pow(10.0, k / 4.0);
    }
    return n;
}

/* Whether got is acceptable for input v, libm's value want. */
static int close_enough(const Func *f, float v, float got, float want)
{
    if (!exact && f->fn == nnrt_vlog1p && v > 1e38f)
        return got == INFINITY;
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got);
    if (exact || isinf(want) || isinf(got))
        return ordered(got) == ordered(want);
    if (f->primitive)
        return ulp_dist(got, want) <= MAX_ULP;
    return fabs((double)got - want) <= ACT_TOL * fmax(1.0, fabs((double)v));
}

static void check_all(const Func *f, const float *x, const float *y, size_t n)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float want = f->ref(x[i]);
        if (!close_enough(f, x[i], y[i], want) && bad++ < 5)
            print_error("%s(%.9g) = %.9g, libm %.9g (%lld ulp)\n", f->name, x[i], y[i], want,
                        (long long)ulp_dist(y[i], want));
    }
    assert_int_equal(bad, 0);
}

/* Every function over its grid and the decades, against libm. */
static void test_against_libm(void **state)
{
    float *x = malloc((NGRID + 700) * sizeof *x), *y = malloc((NGRID + 700) * sizeof *y);
    assert_non_null(x);
    assert_non_null(y);
    for (int k = 0; k < NFUNCS; k++) {
        size_t n = make_inputs(&FUNCS[k], x);
        FUNCS[k].fn(y, x, n);
        check_all(&FUNCS[k], x, y, n);
    }
    free(x);
    free(y);
}

/* +-inf, NaN, signed zeros, the largest and smallest floats, log's poles. */
static void test_special_values(void **state)
{
    const float s[] = {INFINITY, -INFINITY, NAN, 0.0f, -0.0f, 3.4028235e38f, -3.4028235e38f, 1.4e-45f, -1.4e-45f,
                       -1.0f, 88.8f, -104.0f, 1e-30f};
    enum { NS = sizeof s / sizeof s[0] };
    float y[NS];
    for (int k = 0; k < NFUNCS; k++) {
        FUNCS[k].fn(y, s, NS);
        check_all(&FUNCS[k], s, y, NS);
    }
    /* What the formulas give, spelled out for the activations. */
    nnrt_vsigmoid(y, s, 3);
    assert_true(y[0] == 1.0f && y[1] == 0.0f && isnan(y[2]));
    nnrt_vtanh(y, s, 3);
    assert_true(y[0] == 1.0f && y[1] == -1.0f && isnan(y[2]));
    nnrt_vgelu(y, s, 3);
    assert_true(y[0] == INFINITY && isnan(y[1]) && isnan(y[2]));
    nnrt_vexp(y, s, 3);
    assert_true(y[0] == INFINITY && y[1] == 0.0f && isnan(y[2]));
}

/*
 * Every length 0..40, out of place and in place, at offsets 0..3: each
 * element equals its value in one long call, and nothing past n is written.
 */
static void test_lengths_and_tails(void **state)
{
    enum { LEN = 40, PAD = 8 };
    float x[LEN + 3], want[LEN + 3], y[LEN + 3 + PAD], z[LEN + 3 + PAD];
    for (int i = 0; i < LEN + 3; i++)
        x[i] = -6.0f + 0.37f * (float)i;
    for (int k = 0; k < NFUNCS; k++) {
        FUNCS[k].fn(want, x, LEN + 3);
        for (int off = 0; off < 4; off++)
            for (int n = 0; n <= LEN; n++) {
                for (int i = 0; i < LEN + 3 + PAD; i++)
                    y[i] = -7.0f;
                memcpy(z, x, sizeof x);
                FUNCS[k].fn(y + off, x + off, (size_t)n);
                FUNCS[k].fn(z + off, z + off, (size_t)n);
                for (int i = 0; i < n; i++) {
                    assert_true(ordered(y[off + i]) == ordered(want[off + i]));
                    assert_true(ordered(z[off + i]) == ordered(want[off + i]));
                }
                for (int i = off + n; i < LEN + 3 + PAD; i++)
                    assert_true(y[i] == -7.0f);
            }
    }
}

/* Longer than a stack block: the block boundaries do not show. */
static void test_blocks(void **state)
{
    enum { N = 3 * NNRT_VMATH_BLOCK + 5 };
    static float x[N], y[N], one[1];
    for (int i = 0; i < N; i++)
        x[i] = -9.0f + 18.0f * (float)i / N;
    for (int k = 0; k < NFUNCS; k++) {
        FUNCS[k].fn(y, x, N);
        for (int i = 0; i < N; i += 37) {
            FUNCS[k].fn(one, x + i, 1);
            assert_true(ordered(y[i]) == ordered(one[0]));
        }
    }
}

/* nnrt_vexp_sum is the in-order float sum of exp(x - shift), and that sum is accurate. */
static void test_exp_sum(void **state)
{
    enum { N = 1000 };
    static float x[N], t[N];
    for (int i = 0; i < N; i++)
        x[i] = 10.0f * sinf((float)i);
    for (int n = 0; n <= N; n += n < 20 ? 1 : 97) {
        for (int i = 0; i < n; i++)
            t[i] = x[i] - 10.0f;
        nnrt_vexp(t, t, (size_t)n);
        float s = 0.0f;
        double d = 0.0;
        for (int i = 0; i < n; i++) {
            s += t[i];
            d += exp((double)x[i] - 10.0);
        }
        float got = nnrt_vexp_sum(x, 10.0f, (size_t)n);
        assert_true(ordered(got) == ordered(s));
        assert_true(fabs(got - d) <= 1e-5 * (d + 1e-30));
    }
}

/* The build is the one the Makefile asked for. */
static void test_impl(void **state)
{
    const char *impl = nnrt_vmath_impl();
    print_message("nnrt_vmath: %s\n", impl);
#if defined(NNRT_LIBM)
    assert_string_equal(impl, "libm");
#elif defined(__AVX2__) && defined(__FMA__)
    assert_string_equal(impl, "sleef-avx2");
#elif defined(__x86_64__)
    assert_string_equal(impl, "sleef-sse2");
#elif defined(__aarch64__)
    assert_string_equal(impl, "sleef-neon");
#endif
}

int main(void)
{
#if defined(__AVX2__) && defined(__x86_64__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
        printf("test_rt_vmath: skipped, the CPU has no AVX2+FMA\n");
        return 0;
    }
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_impl),          cmocka_unit_test(test_against_libm),
        cmocka_unit_test(test_special_values), cmocka_unit_test(test_lengths_and_tails),
        cmocka_unit_test(test_blocks),        cmocka_unit_test(test_exp_sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
