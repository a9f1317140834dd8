/*
 * test_rt_gemm.c - nnrt_sgemm against a double-precision reference, and the
 * thread pool.
 *
 * Every instruction set this build and CPU have (portable always, AVX2,
 * AVX-512 or NEON when present) runs every case; AVX-512 must match AVX2
 * bit for bit. A result passes when
 *   |c - ref| <= 1e-5 * (|ref| + sum_k |a_k b_k| + |old c| + |bias|)
 * i.e. 1e-5 relative to the magnitude of the terms summed, which bounds float
 * rounding without failing on cancellation. The cases: all four transpose
 * combinations over odd sizes (each dimension 1..37, K = 1), every epilogue
 * (bias per row and per column, relu, accumulate, a residual, the relu,
 * sigmoid and tanh gates, the tile step, Adam), small forced blockings
 * (several kc, mc and nc blocks), every plan (C or C^T computed, operands
 * packed or read in place), GEMV shapes (M = 1, N = 1) with strided
 * operands, and K = 0. Padding around C (ldc > N) and after the pack buffer
 * must stay untouched. Thread counts 1, 2 and 3, and every plan, must give
 * bit-identical C.
 */
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "nnrt.h"
#include "nnrt_gemm.h"
#include "nnrt_gemm_int.h"
#include "nnrt_threads.h"

#define GUARD 64          /* bytes of canary after the pack buffer */
#define SENTINEL -777.25f /* value of C's padding, which must survive */

typedef struct Case {
    int ta, tb, M, N, K;   /* transposes and shape */
    int lda, ldb, ldc;     /* leading dimensions (padded) */
    float *A, *B, *C;      /* operands; C padded with SENTINEL */
    float *bias;           /* max(M, N) values */
    float *R, *Y;          /* residual and gate operands, M x ldc like C */
    NnrtEpilogue ep;       /* epilogue under test */
    NnrtGemmBlocking blk;  /* blocking (zeros: default) */
} Case;

static NnrtRng rng;

static float *random_floats(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = nnrt_rng_uniform_range(&rng, -1.0f, 1.0f);
    return p;
}

/* op(X)[i][k] of a row-major X with leading dimension ld. */
static double op_at(const float *X, int ld, int trans, int i, int k)
{
    return trans ? X[(size_t)k * ld + i] : X[(size_t)i * ld + k];
}

/* Allocates a case's operands: A, B random, C's M x N region random, padding SENTINEL. */
static void case_alloc(Case *c)
{
    int ar = c->ta ? c->K : c->M, ac = c->ta ? c->M : c->K;
    int br = c->tb ? c->N : c->K, bc = c->tb ? c->K : c->N;
    c->lda = ac + 3;
    c->ldb = bc + 5;
    c->ldc = c->N + 2;
    c->A = random_floats((size_t)ar * c->lda);
    c->B = random_floats((size_t)br * c->ldb);
    c->C = random_floats((size_t)c->M * c->ldc);
    c->bias = random_floats((size_t)(c->M > c->N ? c->M : c->N));
    c->R = random_floats((size_t)c->M * c->ldc);
    c->Y = random_floats((size_t)c->M * c->ldc);
    for (int m = 0; m < c->M; m++)
        for (int n = c->N; n < c->ldc; n++)
            c->C[(size_t)m * c->ldc + n] = SENTINEL;
}

static void case_free(Case *c)
{
    free(c->A);
    free(c->B);
    free(c->C);
    free(c->bias);
    free(c->R);
    free(c->Y);
}

/* What the tile step of a case saw: how often each element of C came by, and its value then. */
typedef struct TileLog {
    const float *C;       /* the output being computed */
    int M, N, ldc;
    unsigned char *seen;  /* M x N counts */
    float *val;           /* M x N values at the call */
    int bad;              /* a block outside C */
} TileLog;

/* The tile step under test (from any thread; blocks are disjoint, so the counts need no lock). */
static void log_tile(void *ctx, int r0, int r1, int c0, int c1)
{
    TileLog *l = ctx;
    if (r0 < 0 || r1 > l->M || c0 < 0 || c1 > l->N || r0 >= r1 || c0 >= c1) {
        l->bad = 1;
        return;
    }
    for (int m = r0; m < r1; m++)
        for (int n = c0; n < c1; n++) {
            l->seen[(size_t)m * l->N + n]++;
            l->val[(size_t)m * l->N + n] = l->C[(size_t)m * l->ldc + n];
        }
}

/* Every element of C came by the tile step exactly once, with its final value. */
static void check_tile_log(const TileLog *l, const float *out)
{
    assert_false(l->bad);
    for (int m = 0; m < l->M; m++)
        for (int n = 0; n < l->N; n++) {
            size_t i = (size_t)m * l->N + n;
            if (l->seen[i] != 1 || memcmp(&l->val[i], &out[(size_t)m * l->ldc + n], sizeof(float)) != 0)
                fail_msg("%s M=%d N=%d: tile step saw C[%d][%d] %d times, value %.9g, final %.9g",
                         nnrt_gemm_isa_name(), l->M, l->N, m, n, l->seen[i], l->val[i],
                         out[(size_t)m * l->ldc + n]);
        }
}

/* Runs nnrt_sgemm on a copy of C with an exact-size, canaried pack buffer (and checks the tile step's log). */
static float *run(const Case *c)
{
    size_t cn = (size_t)c->M * c->ldc;
    float *out = malloc(cn * sizeof *out);
    assert_non_null(out);
    memcpy(out, c->C, cn * sizeof *out);
    NnrtEpilogue ep = c->ep;
    TileLog log = {.C = out, .M = c->M, .N = c->N, .ldc = c->ldc};
    if (ep.tile) {
        log.seen = calloc((size_t)c->M * c->N, 1);
        log.val = calloc((size_t)c->M * c->N, sizeof(float));
        assert_true(log.seen && log.val);
        ep.tile_ctx = &log;
    }
    size_t pb = nnrt_sgemm_pack_bytes(c->M, c->N, c->K, &c->blk);
    unsigned char *buf = malloc(pb + GUARD);
    assert_non_null(buf);
    memset(buf + pb, 0xA5, GUARD);
    nnrt_sgemm(c->ta, c->tb, c->M, c->N, c->K, c->A, c->lda, c->B, c->ldb, out, c->ldc, &ep,
               &c->blk, buf);
    for (int i = 0; i < GUARD; i++)
        assert_int_equal(buf[pb + i], 0xA5);
    free(buf);
    if (ep.tile) {
        check_tile_log(&log, out);
        free(log.seen);
        free(log.val);
    }
    return out;
}

/* Checks out against the double reference of the case, element by element. */
static void check(const Case *c, const float *out)
{
    for (int m = 0; m < c->M; m++) {
        for (int n = 0; n < c->N; n++) {
            double s = 0.0, mag = 0.0;
            for (int k = 0; k < c->K; k++) {
                double t = op_at(c->A, c->lda, c->ta, m, k) * op_at(c->B, c->ldb, !c->tb, n, k);
                s += t;
                mag += fabs(t);
            }
            double old = c->C[(size_t)m * c->ldc + n];
            if (c->ep.accumulate) {
                s += old;
                mag += fabs(old);
            }
            if (c->ep.bias) {
                double b = c->ep.bias[c->ep.bias_per_row ? m : n];
                s += b;
                mag += fabs(b);
            }
            if (c->ep.residual) {
                double r = c->R[(size_t)m * c->ldc + n];
                s += r;
                mag += fabs(r);
            }
            if (c->ep.act == NNRT_ACT_RELU && s < 0.0)
                s = 0.0;
            double y = c->Y[(size_t)m * c->ldc + n];
            switch (c->ep.gate) {
            case NNRT_GATE_NONE: break;
            case NNRT_GATE_RELU: s = y > 0.0 ? s : 0.0; break;
            /* the derivative is itself rounded, to about 1e-7 absolute: mag covers it */
            case NNRT_GATE_SIGMOID: s *= y * (1.0 - y), mag *= fabs(y * (1.0 - y)) + 2.0; break;
            case NNRT_GATE_TANH: s *= 1.0 - y * y, mag *= fabs(1.0 - y * y) + 2.0; break;
            }
            double got = out[(size_t)m * c->ldc + n];
            if (fabs(got - s) > 1e-5 * (fabs(s) + mag))
                fail_msg("%s ta=%d tb=%d M=%d N=%d K=%d ep(bias=%d row=%d act=%d acc=%d res=%d gate=%d) "
                         "blk(%d,%d,%d): C[%d][%d] = %.9g, want %.9g",
                         nnrt_gemm_isa_name(), c->ta, c->tb, c->M, c->N, c->K, c->ep.bias != NULL,
                         c->ep.bias_per_row, c->ep.act, c->ep.accumulate, c->ep.residual != NULL,
                         (int)c->ep.gate, c->blk.mc, c->blk.nc,
                         c->blk.kc, m, n, got, s);
        }
        for (int n = c->N; n < c->ldc; n++)
            assert_true(out[(size_t)m * c->ldc + n] == SENTINEL);
    }
}

/*
 * Epilogue number e (0..NEPI-1): bias none/per column/per row x relu x
 * accumulate (e % 12), then the post steps (e / 12): none, a residual, a
 * relu, sigmoid or tanh gate, a residual and a gate; with e % 12 >= 6 also
 * the tile step, which must see every element once, final.
 */
#define NEPI 72
static NnrtEpilogue epilogue(const Case *c, int e)
{
    NnrtEpilogue ep = {0};
    if (e % 3 != 0)
        ep.bias = c->bias;
    ep.bias_per_row = e % 3 == 2;
    ep.act = (e / 3) % 2 ? NNRT_ACT_RELU : NNRT_ACT_NONE;
    ep.accumulate = e % 2;
    int post = e / 12;
    if (post == 1 || post == 5) {
        ep.residual = c->R;
        ep.ld_residual = c->ldc;
    }
    if (post >= 2) {
        static const NnrtGate gates[] = {NNRT_GATE_RELU, NNRT_GATE_SIGMOID, NNRT_GATE_TANH, NNRT_GATE_SIGMOID};
        ep.gate = gates[post - 2];
        ep.gate_y = c->Y;
        ep.ld_gate = c->ldc;
    }
    if (e % 12 >= 6)
        ep.tile = log_tile;
    return ep;
}

/* One shape, every transpose pair, with epilogue number e, on the current ISA. */
static void check_shape(int M, int N, int K, int e, const NnrtGemmBlocking *blk)
{
    for (int t = 0; t < 4; t++) {
        Case c = {.ta = t & 1, .tb = t >> 1, .M = M, .N = N, .K = K};
        if (blk)
            c.blk = *blk;
        case_alloc(&c);
        c.ep = epilogue(&c, e);
        float *out = run(&c);
        check(&c, out);
        free(out);
        case_free(&c);
    }
}

/* Runs body once per instruction set available here. */
static void for_each_isa(void (*body)(void))
{
    static const NnrtGemmIsa isas[] = {NNRT_GEMM_ISA_PORTABLE, NNRT_GEMM_ISA_AVX2,
                                       NNRT_GEMM_ISA_NEON, NNRT_GEMM_ISA_AVX512};
    for (size_t i = 0; i < sizeof isas / sizeof isas[0]; i++)
        if (nnrt_gemm_set_isa(isas[i]) == 0)
            body();
    assert_int_equal(nnrt_gemm_set_isa(NNRT_GEMM_ISA_AUTO), 0);
}

/* ---- shapes and epilogues ---------------------------------------------------- */

static void odd_sizes_body(void)
{
    static const int sz[] = {1, 2, 3, 5, 6, 7, 8, 9, 13, 16, 17, 23, 32, 37};
    int n = sizeof sz / sizeof sz[0], e = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            for (int k = 0; k < n; k++)
                check_shape(sz[i], sz[j], sz[k], e++ % NEPI, NULL);
}

static void test_odd_sizes(void **state)
{
    for_each_isa(odd_sizes_body);
}

/* Each dimension through every value 1..37 with the other two fixed and odd. */
static void every_size_body(void)
{
    for (int v = 1; v <= 37; v++) {
        check_shape(v, 19, 11, v % NEPI, NULL);
        check_shape(13, v, 21, (v + 4) % NEPI, NULL);
        check_shape(7, 29, v, (v + 8) % NEPI, NULL);
        check_shape(v, v, 1, v % NEPI, NULL);
    }
}

static void test_every_size(void **state)
{
    for_each_isa(every_size_body);
}

/* Every epilogue on a shape with full and edge tiles. */
static void epilogues_body(void)
{
    for (int e = 0; e < NEPI; e++)
        check_shape(20, 35, 27, e, NULL);
}

static void test_epilogues(void **state)
{
    for_each_isa(epilogues_body);
}

/* Every plan (direct or C^T, A and B packed or in place) on every ISA. */
static void plans_body(void)
{
    static const int sz[] = {2, 5, 6, 7, 16, 17, 23};
    int n = sizeof sz / sizeof sz[0], e = 0;
    for (int p = 0; p < 8; p++) {
        nnrt_gemm_test_force_plan(p);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                for (int k = 0; k < n; k++)
                    check_shape(sz[i], sz[j], sz[k], e++ % NEPI, NULL);
        for (int e2 = 0; e2 < NEPI; e2 += 5)
            check_shape(29, 50, 41, e2, &(NnrtGemmBlocking){7, 20, 3});
        /* kc = 700: row strips cover 176 columns at a time, then 124 (an edge panel among them) */
        check_shape(13, 300, 700, p % NEPI, NULL);
        /* ... then 8: the edge panel alone, which in place is read packed even where runs take edges */
        check_shape(13, 184, 700, (p + 3) % NEPI, NULL);
    }
    nnrt_gemm_test_force_plan(-1);
}

static void test_plans(void **state)
{
    for_each_isa(plans_body);
}

/* Every plan gives bit for bit the result of the plan the cost model picks. */
static void plans_identical_body(void)
{
    static const int shapes[][3] = {{64, 100, 150}, {37, 29, 300}, {6, 50, 25}, {130, 20, 64}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++) {
            Case c = {.ta = t & 1, .tb = t >> 1, .M = shapes[s][0], .N = shapes[s][1],
                      .K = shapes[s][2]};
            case_alloc(&c);
            c.ep = epilogue(&c, ((int)s * 4 + t) * 5 % NEPI);
            float *want = run(&c);
            for (int p = 0; p < 8; p++) {
                nnrt_gemm_test_force_plan(p);
                float *got = run(&c);
                assert_memory_equal(want, got, (size_t)c.M * c.ldc * sizeof(float));
                free(got);
            }
            nnrt_gemm_test_force_plan(-1);
            free(want);
            case_free(&c);
        }
}

static void test_plans_identical(void **state)
{
    for_each_isa(plans_identical_body);
}

/*
 * AVX-512 and AVX2 run the same FMA chain per element, so where the CPU has
 * both they give bit for bit the same C: every plan (C^T included), every
 * epilogue, edge tiles in rows and columns, runs of odd and even length.
 */
static void test_isas_identical(void **state)
{
    (void)state;
    if (nnrt_gemm_set_isa(NNRT_GEMM_ISA_AVX512) != 0 || nnrt_gemm_set_isa(NNRT_GEMM_ISA_AVX2) != 0)
        skip();
    static const int shapes[][3] = {{64, 100, 150}, {37, 29, 300}, {6, 50, 25}, {130, 20, 64}, {7, 33, 9},
                                    {1, 300, 77}, {45, 1, 37}, {1, 13, 784},
                                    /* GEMVs past GEMV_SEQ_BYTES (one row at a time): K of 64s,
                                     * 16-blocks and 8-chunk tails */
                                    {1, 200, 120}, {1, 40, 1000}, {1, 700, 30}, {600, 1, 29}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int t = 0; t < 4; t++)
            for (int p = -1; p < 8; p++) {
                Case c = {.ta = t & 1, .tb = t >> 1, .M = shapes[s][0], .N = shapes[s][1],
                          .K = shapes[s][2]};
                case_alloc(&c);
                c.ep = epilogue(&c, ((int)s * 36 + t * 9 + p + 1) % NEPI);
                nnrt_gemm_test_force_plan(p);
                assert_int_equal(nnrt_gemm_set_isa(NNRT_GEMM_ISA_AVX2), 0);
                float *want = run(&c);
                assert_int_equal(nnrt_gemm_set_isa(NNRT_GEMM_ISA_AVX512), 0);
                float *got = run(&c);
                assert_memory_equal(want, got, (size_t)c.M * c.ldc * sizeof(float));
                free(want);
                free(got);
                case_free(&c);
            }
    nnrt_gemm_test_force_plan(-1);
    assert_int_equal(nnrt_gemm_set_isa(NNRT_GEMM_ISA_AUTO), 0);
}

/* Forced small blocks: several kc-, mc- and nc-blocks; the epilogue only on the last. */
static void blocking_body(void)
{
    static const NnrtGemmBlocking blks[] = {{6, 16, 5}, {12, 32, 8}, {7, 20, 3}, {1, 1, 1}};
    for (size_t b = 0; b < sizeof blks / sizeof blks[0]; b++)
        for (int e = 0; e < NEPI; e += 2)
            check_shape(29, 50, 41, e, &blks[b]);
}

static void test_blocking(void **state)
{
    for_each_isa(blocking_body);
}

/* GEMV shapes: M == 1 and N == 1 (strided operands when transposed), and 1x1. */
static void gemv_body(void)
{
    static const int len[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 100, 130};
    int n = sizeof len / sizeof len[0], e = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < n; k++) {
            check_shape(1, len[i], len[k], e++ % NEPI, NULL);
            check_shape(len[i], 1, len[k], e++ % NEPI, NULL);
        }
    /* matrices past GEMV_SEQ_BYTES, read one row at a time: 64-k steps, then
     * 16-k blocks (3, 2, 1) and 8-chunk tails (8, 4, 8 + 5) */
    check_shape(1, 300, 120, 1, NULL);
    check_shape(1, 200, 100, 2, NULL);
    check_shape(600, 1, 29, 3, NULL);
}

static void test_gemv(void **state)
{
    for_each_isa(gemv_body);
}

/* K == 0: C = (accumulate ? C : 0) + bias, activated. */
static void test_k_zero(void **state)
{
    for (int e = 0; e < NEPI; e++) {
        check_shape(5, 9, 0, e, NULL);
        check_shape(1, 9, 0, e, NULL);
    }
}

/* The net shapes of the examples (forward, dX, dW, conv) on the default ISA. */
static void test_net_shapes(void **state)
{
    static const int fwd[][2] = {{256, 784}, {128, 256}, {10, 128}, {120, 400}, {84, 120}, {10, 84}};
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) {
        Case c = {.ta = 0, .tb = 1, .M = 64, .N = fwd[i][0], .K = fwd[i][1]};
        case_alloc(&c);
        c.ep = epilogue(&c, 4);
        float *out = run(&c);
        check(&c, out);
        free(out);
        case_free(&c);
    }
    check_shape(6, 784, 25, 2, NULL);
    check_shape(16, 100, 150, 2, NULL);
}

/* ---- Adam in the epilogue --------------------------------------------------------- */

/* Adam on element i of a from gradient g, as nnrt_gemm.h defines it. */
static void adam_ref(const NnrtAdam *a, float g, size_t i)
{
    float m = fmaf(a->b1, a->m[i], a->c1 * g);
    float v = fmaf(a->b2, a->v[i], (a->c2 * g) * g);
    a->m[i] = m;
    a->v[i] = v;
    a->p[i] = a->p[i] - (a->step_size * m) / fmaf(sqrtf(v), a->inv_bc2_sqrt, a->eps);
}

/* Adam's arrays for an M x ld gradient: p, m in [-1, 1), v in [0, 1); columns past N SENTINEL. */
static NnrtAdam adam_alloc(int M, int N, int ld)
{
    size_t n = (size_t)M * ld;
    NnrtAdam a = {random_floats(n), random_floats(n), random_floats(n), 0.9f, (float)(1 - 0.9), 0.999f,
                  (float)(1 - 0.999), 1e-8f, (float)(1e-3 / (1 - pow(0.9, 3))), (float)(1 / sqrt(1 - pow(0.999, 3)))};
    for (size_t i = 0; i < n; i++) {
        a.v[i] = fabsf(a.v[i]);
        if ((int)(i % (size_t)ld) >= N)
            a.p[i] = a.m[i] = a.v[i] = SENTINEL;
    }
    return a;
}

static NnrtAdam adam_copy(const NnrtAdam *a, size_t n)
{
    NnrtAdam c = *a;
    c.p = malloc(n * sizeof(float));
    c.m = malloc(n * sizeof(float));
    c.v = malloc(n * sizeof(float));
    assert_true(c.p && c.m && c.v);
    memcpy(c.p, a->p, n * sizeof(float));
    memcpy(c.m, a->m, n * sizeof(float));
    memcpy(c.v, a->v, n * sizeof(float));
    return c;
}

static void adam_free(NnrtAdam *a)
{
    free(a->p);
    free(a->m);
    free(a->v);
}

/*
 * The weight-gradient GEMM with Adam as its last step (ep.adam), on
 * `threads` threads and plan `plan` (-1: the model's): C must come out as
 * without it, and p, m and v as adam_ref on every element of that C, bit
 * for bit; the columns of C and of the three arrays past N (pad > 0) stay
 * SENTINEL. With pad == 0, strips of whole rows are contiguous, and the
 * AVX-512 kernel runs each strip's Adam inside the next strip's pairs of
 * tiles.
 */
static void check_adam(int ta, int M, int N, int K, int pad, int plan, int threads)
{
    Case c = {.ta = ta, .tb = 0, .M = M, .N = N, .K = K};
    case_alloc(&c);
    free(c.C);
    c.ldc = N + pad;
    size_t n = (size_t)M * c.ldc;
    c.C = random_floats(n);
    for (size_t i = 0; i < n; i++)
        if ((int)(i % (size_t)c.ldc) >= N)
            c.C[i] = SENTINEL;
    nnrt_gemm_test_force_plan(plan);
    assert_int_equal(nnrt_threads_init(threads), threads);
    float *want = run(&c);
    NnrtAdam a = adam_alloc(M, N, c.ldc), ref = adam_copy(&a, n);
    for (int m = 0; m < M; m++)
        for (int j = 0; j < N; j++)
            adam_ref(&ref, want[(size_t)m * c.ldc + j], (size_t)m * c.ldc + j);
    c.ep.adam = &a;
    float *got = run(&c);
    nnrt_threads_init(1);
    nnrt_gemm_test_force_plan(-1);
    if (memcmp(want, got, n * sizeof(float)) != 0 || memcmp(ref.p, a.p, n * sizeof(float)) != 0 ||
        memcmp(ref.m, a.m, n * sizeof(float)) != 0 || memcmp(ref.v, a.v, n * sizeof(float)) != 0) {
        for (size_t i = 0; i < n; i++)
            if (memcmp(&ref.p[i], &a.p[i], sizeof(float)) != 0 || memcmp(&ref.v[i], &a.v[i], sizeof(float)) != 0)
                fail_msg("%s ta=%d M=%d N=%d K=%d pad=%d plan=%d threads=%d: p[%zu] = %.9g, want %.9g "
                         "(v %.9g, want %.9g)", nnrt_gemm_isa_name(), ta, M, N, K, pad, plan, threads, i,
                         a.p[i], ref.p[i], a.v[i], ref.v[i]);
        fail_msg("%s ta=%d M=%d N=%d K=%d pad=%d plan=%d threads=%d: C or m differ", nnrt_gemm_isa_name(), ta,
                 M, N, K, pad, plan, threads);
    }
    free(want);
    free(got);
    adam_free(&a);
    adam_free(&ref);
    case_free(&c);
}

/*
 * fashion_mlp's two fused weight gradients, strips with and without pairs
 * and an edge strip, padded C, every plan and 1-3 threads, GEMVs and K = 0.
 */
static void adam_body(void)
{
    check_adam(1, 256, 784, 64, 0, -1, 1);
    check_adam(1, 128, 256, 64, 0, -1, 2);
    for (int p = -1; p < 8; p++)
        for (int t = 1; t <= 3; t++) {
            check_adam(p & 1, 37, 50, 64, 0, p, t);
            check_adam(1, 90, 70, 300, 0, p, t);
            check_adam(0, 20, 35, 27, 2, p, t);
        }
    /* batch 1 (K = 1) over NNRT_GEMV_PAR_BYTES: the rows cut as the GEMV reading the weight cuts them */
    for (int p = -1; p < 2; p++)
        for (int t = 2; t <= 3; t++)
            check_adam(1, 256, 784, 1, 0, p, t);
    check_adam(1, 100, 700, 1, 3, -1, 3);
    check_adam(1, 13, 16, 64, 0, -1, 1);
    check_adam(0, 1, 300, 77, 0, -1, 1);
    check_adam(0, 45, 1, 37, 0, -1, 1);
    check_adam(1, 5, 9, 0, 0, -1, 1);
}

static void test_adam(void **state)
{
    for_each_isa(adam_body);
}

/* ---- threads ------------------------------------------------------------------ */

/* C for a case at a given thread count. */
static float *run_threads(const Case *c, int threads)
{
    assert_int_equal(nnrt_threads_init(threads), threads);
    float *out = run(c);
    nnrt_threads_init(1);
    return out;
}

/* One case on 1, 2 and 3 threads: checked, and bit for bit the same. */
static void check_threads(int ta, int tb, int M, int N, int K, int e)
{
    Case c = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K};
    case_alloc(&c);
    c.ep = epilogue(&c, e);
    float *one = run_threads(&c, 1);
    check(&c, one);
    for (int t = 2; t <= 3; t++) {
        float *many = run_threads(&c, t);
        assert_memory_equal(one, many, (size_t)c.M * c.ldc * sizeof(float));
        free(many);
    }
    free(one);
    case_free(&c);
}

/* Shapes big enough to be split over threads, and GEMVs: 1, 2, 3 threads agree bit for bit. */
static void test_threads_identical(void **state)
{
    static const int shapes[][5] = {
        {0, 1, 64, 256, 784}, {0, 0, 64, 784, 256}, {1, 0, 256, 784, 64}, {0, 0, 300, 40, 500},
        {0, 1, 1, 3000, 700}, {1, 0, 1, 3000, 700}, {0, 0, 2000, 1, 900}, {0, 1, 64, 100, 1000},
        {0, 1, 1, 256, 784}, /* fashion_mlp's batch-1 dense_1: over NNRT_GEMV_PAR_BYTES, split */
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        check_threads(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], shapes[s][4], (int)s % NEPI);
    /* the tile step cuts C's rows over the threads, in every plan (C^T ones too) */
    for (int p = 0; p < 8; p++) {
        nnrt_gemm_test_force_plan(p);
        check_threads(p & 1, 0, 90, 70, 300, 7);
        check_threads(p & 1, 0, 256, 784, 1, 7); /* batch 1: cut as the GEMV reading the weight */
    }
    nnrt_gemm_test_force_plan(-1);
}

static void count_task(void *ctx, int task)
{
    int *hits = ctx;
    __atomic_fetch_add(&hits[task], 1, __ATOMIC_RELAXED);
}

/* A task that starts a nested parallel_for, which must run serially; inside it the pool counts 1 thread. */
static void nested_task(void *ctx, int task)
{
    int(*hits)[10] = ctx;
    if (nnrt_threads_count() != 1)
        hits[task][0] = -100;  /* fails the count check below */
    nnrt_parallel_for(10, count_task, hits[task]);
}

/*
 * Every task runs exactly once, for any pool size, nested or not, many times
 * over; now and then after a pause long enough for the workers to fall
 * asleep, so that jobs meet workers asleep, waking, late and on time.
 */
static void test_pool(void **state)
{
    for (int threads = 1; threads <= 4; threads++) {
        assert_int_equal(nnrt_threads_init(threads), threads);
        assert_int_equal(nnrt_threads_count(), threads);
        for (int rep = 0; rep < 2000; rep++) {
            int hits[37] = {0};
            if (rep % 100 == 99)
                nanosleep(&(struct timespec){.tv_nsec = 3000000}, NULL);
            nnrt_parallel_for(rep % 37 + 1, count_task, hits);
            for (int t = 0; t < 37; t++)
                assert_int_equal(hits[t], t <= rep % 37 ? 1 : 0);
        }
        int nested[5][10] = {{0}};
        nnrt_parallel_for(5, nested_task, nested);
        for (int t = 0; t < 5; t++)
            for (int u = 0; u < 10; u++)
                assert_int_equal(nested[t][u], 1);
        assert_int_equal(nnrt_threads_count(), threads);  /* back to the pool's size outside tasks */
    }
    nnrt_threads_shutdown();
    assert_int_equal(nnrt_threads_count(), 1);
}

static void mark_task(void *ctx, int task)
{
    ((unsigned char *)ctx)[task]++;
}

/* A job of more tasks than the pool's words count (2^24 - 1 a job) runs in parts: every task once. */
static void test_pool_many_tasks(void **state)
{
    enum { MANY = (1 << 24) + 3 };
    unsigned char *hits = calloc(MANY, 1);
    assert_non_null(hits);
    assert_int_equal(nnrt_threads_init(2), 2);
    nnrt_parallel_for(MANY, mark_task, hits);
    nnrt_threads_shutdown();
    for (int i = 0; i < MANY; i++)
        if (hits[i] != 1)
            fail_msg("task %d ran %d times", i, hits[i]);
    free(hits);
}

/*
 * A task that records its thread's control bits, what 1e-30 * 1e-10 (a
 * denormal) comes out as, and whether a worker ran it.
 */
typedef struct FpSeen {
    pthread_t caller;
    atomic_int workers; /* tasks a worker has run */
    unsigned long env[8];
    float tiny[8];
    int on_worker[8];
} FpSeen;

static void fp_task(void *ctx, int task)
{
    FpSeen *s = ctx;
    volatile float a = 1e-30f, b = 1e-10f;
    s->env[task] = nnrt_fpenv_get();
    s->tiny[task] = a * b;
    s->on_worker[task] = !pthread_equal(pthread_self(), s->caller);
    if (s->on_worker[task]) {
        atomic_fetch_add(&s->workers, 1);
        return;
    }
    /* the caller yields until a worker has run a task (even on one CPU), for at most about 2 s */
    for (int i = 0; i < 200000 && atomic_load(&s->workers) == 0; i++)
        if (sched_yield() != 0)
            break;
}

/*
 * Every task runs with the caller's floating-point control bits, whichever
 * thread runs it: denormals flushed after nnrt_flush_denormals, kept after
 * the bits are put back.
 */
static void test_pool_fpenv(void **state)
{
    unsigned long orig = nnrt_fpenv_get();
    int worker_tasks[2] = {0, 0}; /* per setting: tasks the workers ran, so the check saw their bits */
    assert_int_equal(nnrt_threads_init(4), 4);
    for (int flush = 1; flush >= 0; flush--) {
        if (flush)
            nnrt_flush_denormals();
        else
            nnrt_fpenv_set(orig);
        unsigned long want = nnrt_fpenv_get();
        for (int rep = 0; rep < 20; rep++) {
            FpSeen s;
            memset(&s, 0xff, sizeof s);
            s.caller = pthread_self();
            atomic_init(&s.workers, 0);
            nnrt_parallel_for(8, fp_task, &s);
            for (int t = 0; t < 8; t++) {
                worker_tasks[flush] += s.on_worker[t];
                assert_true(s.env[t] == want);
#if defined(__x86_64__) || defined(__aarch64__)
                if (flush)
                    assert_true(s.tiny[t] == 0.0f);
                else
                    assert_true(s.tiny[t] > 0.0f);
#endif
            }
        }
    }
    nnrt_threads_shutdown();
    assert_true(worker_tasks[0] > 0 && worker_tasks[1] > 0);
    assert_true(nnrt_fpenv_get() == orig);
}

/* pack_bytes grows with the thread count and nnrt_gemm_default_blocking stays in range. */
static void test_pack_bytes(void **state)
{
    NnrtGemmBlocking b;
    nnrt_gemm_default_blocking(64, 256, 784, &b);
    assert_true(b.kc >= 1 && b.kc <= 784);
    assert_true(b.mc % 6 == 0 && b.mc >= 64);
    assert_true(b.nc % 16 == 0 && b.nc >= 256);
    size_t one = nnrt_sgemm_pack_bytes_threads(64, 256, 784, NULL, 1);
    size_t two = nnrt_sgemm_pack_bytes_threads(64, 256, 784, NULL, 2);
    assert_true(two > one && two <= 2 * one);
    assert_int_equal(nnrt_sgemm_pack_bytes(0, 5, 5, NULL), 0);
    assert_true(nnrt_sgemm_pack_bytes(1, 5000, 7, NULL) < 1024);
}

int main(void)
{
    nnrt_rng_seed(&rng, 5);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_odd_sizes),    cmocka_unit_test(test_every_size),
        cmocka_unit_test(test_epilogues),    cmocka_unit_test(test_plans),
        cmocka_unit_test(test_plans_identical), cmocka_unit_test(test_isas_identical),
        cmocka_unit_test(test_blocking),
        cmocka_unit_test(test_gemv),         cmocka_unit_test(test_k_zero),
        cmocka_unit_test(test_net_shapes),   cmocka_unit_test(test_threads_identical),
        cmocka_unit_test(test_adam),
        cmocka_unit_test(test_pool),         cmocka_unit_test(test_pool_fpenv),
        cmocka_unit_test(test_pool_many_tasks),
        cmocka_unit_test(test_pack_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
