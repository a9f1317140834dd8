/*
 * gemm_bench.c - netc's nnrt_sgemm against OpenBLAS cblas_sgemm, same run,
 * same shapes, same thread count; plus the machine's own FMA peak.
 *
 *   cc -std=c11 -O3 -fno-math-errno -ffp-contract=fast -march=native -Iruntime \
 *      bench/gemm_bench.c runtime/nnrt_gemm*.c runtime/nnrt_threads.c \
 *      -lopenblas -lpthread -lm
 *   ./a.out [-t THREADS,...] [-q] [-f FILTER] [-i avx512|avx2|neon|portable]
 *
 * The flags are those `netc build` compiles the runtime with, so the rows
 * time the GEMM the nets run (at -O2 GCC does not unroll the kernels'
 * small loops, and lenet5's 120-84 products ran 10% slower).
 *
 * The peak is measured with 12 independent chains of FMAs as wide as the
 * build's vectors (16 floats with AVX-512, 8 with AVX2; 12 chains cover
 * 4-cycle latency on two pipes), best of many short runs. -i forces netc's
 * instruction set (default: the best this CPU has). Shapes are
 * those the example nets produce (fashion_mlp 784-256-128-10 and lenet5 at
 * batch 64: dense forward, dX and dW; lenet5's conv2 through im2col, one
 * GEMM for the batch of 64 (conv1 runs as a direct convolution, no GEMM);
 * batch-1 forward) and large squares; the "net" column says which of them
 * the nets compute with nnrt_sgemm and which with their own emitted kernels
 * (the 10-wide dense layers' loops, lenet5's conv2 over filters and pixels),
 * whose rows then compare the runtime GEMM alone (bench/loop_bench.py times
 * the loops themselves). netc runs each shape with the epilogue
 * its use needs (bias + relu forward, bias per row for conv; the dense dW
 * kernels store, beta = 0, as the generated code does), OpenBLAS with the
 * plain product (beta = 1 where netc accumulates: the "dW+=" rows, the
 * accumulating form of the two largest dW shapes, kept for comparison),
 * so any epilogue cost counts against netc. Timings alternate between the
 * two libraries and keep the best of many samples, which is what survives a
 * noisy machine; ratios matter more than absolute numbers. With one thread
 * samples are timed in the thread's CPU time, so that time slices lost to
 * other processes do not count; with more, in wall time.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nnrt_gemm.h"
#include "nnrt_threads.h"

#if defined(__AVX2__) && defined(__FMA__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

void openblas_set_num_threads(int num_threads);

typedef struct Shape {
    const char *name; /* net and layer */
    const char *use;  /* fwd, dX, dW (store), dW+= (accumulate), conv, gemv, square */
    int ta, tb;       /* transposes */
    int M, N, K;      /* shape */
    int ep;           /* 0 none, 1 bias[n]+relu, 2 accumulate, 3 bias[m]+relu */
    const char *route; /* how the nets compute it, when not with nnrt_sgemm (the "net" column) */
} Shape;

/* The nets' own kernels for the shapes they do not give nnrt_sgemm (docs/architecture.md, schedule). */
#define LOOP "loop"  /* dense below 2048 multiply-adds per sample: emitted loops */
#define FILT "filt"  /* lenet5's conv2: vectorized over filters (forward, dW) and over pixels (dX) */

static const Shape shapes[] = {
    {"mlp 784-256", "fwd", 0, 1, 64, 256, 784, 1, NULL},
    {"mlp 784-256", "dX", 0, 0, 64, 784, 256, 0, NULL},
    {"mlp 784-256", "dW", 1, 0, 256, 784, 64, 0, NULL},
    {"mlp 256-128", "fwd", 0, 1, 64, 128, 256, 1, NULL},
    {"mlp 256-128", "dX", 0, 0, 64, 256, 128, 0, NULL},
    {"mlp 256-128", "dW", 1, 0, 128, 256, 64, 0, NULL},
    {"mlp 128-10", "fwd", 0, 1, 64, 10, 128, 1, LOOP},
    {"mlp 128-10", "dX", 0, 0, 64, 128, 10, 0, LOOP},
    {"mlp 128-10", "dW", 1, 0, 10, 128, 64, 0, LOOP},
    {"lenet 400-120", "fwd", 0, 1, 64, 120, 400, 1, NULL},
    {"lenet 400-120", "dX", 0, 0, 64, 400, 120, 0, NULL},
    {"lenet 400-120", "dW", 1, 0, 120, 400, 64, 0, NULL},
    {"lenet 120-84", "fwd", 0, 1, 64, 84, 120, 1, NULL},
    {"lenet 120-84", "dX", 0, 0, 64, 120, 84, 0, NULL},
    {"lenet 120-84", "dW", 1, 0, 84, 120, 64, 0, NULL},
    {"lenet 84-10", "fwd", 0, 1, 64, 10, 84, 1, LOOP},
    {"lenet 84-10", "dX", 0, 0, 64, 84, 10, 0, LOOP},
    {"lenet 84-10", "dW", 1, 0, 10, 84, 64, 0, LOOP},
    {"mlp 784-256", "dW+=", 1, 0, 256, 784, 64, 2, NULL},
    {"mlp 256-128", "dW+=", 1, 0, 128, 256, 64, 2, NULL},
    {"lenet conv2", "conv", 0, 0, 16, 6400, 150, 3, FILT},
    {"lenet conv2", "dW", 0, 1, 16, 150, 6400, 0, FILT},
    {"lenet conv2", "dcol", 1, 0, 150, 6400, 16, 0, FILT},
    {"mlp 784-256 b1", "gemv", 0, 1, 1, 256, 784, 1, NULL},
    {"mlp 256-128 b1", "gemv", 0, 1, 1, 128, 256, 1, NULL},
    {"mlp 128-10 b1", "gemv", 0, 1, 1, 10, 128, 1, LOOP},
    {"lenet 400-120 b1", "gemv", 0, 1, 1, 120, 400, 1, NULL},
    {"lenet 120-84 b1", "gemv", 0, 1, 1, 84, 120, 1, NULL},
    {"lenet 84-10 b1", "gemv", 0, 1, 1, 10, 84, 1, LOOP},
    {"square 512", "square", 0, 0, 512, 512, 512, 0, NULL},
    {"square 1024", "square", 0, 0, 1024, 1024, 1024, 0, NULL},
    {"square 2048", "square", 0, 0, 2048, 2048, 2048, 0, NULL},
    {"square 1024 NT", "square", 0, 1, 1024, 1024, 1024, 0, NULL},
};

static clockid_t sample_clock = CLOCK_MONOTONIC; /* the clock samples are timed with */

static double read_clock(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double now(void)
{
    return read_clock(CLOCK_MONOTONIC);
}

/* The sample clock: this thread's CPU time with one thread, wall time with more. */
static double tick(void)
{
    return read_clock(sample_clock);
}

/* ---- FMA peak ---------------------------------------------------------------- */

#if defined(__AVX512F__)
#define FMA_WIDTH 16
typedef __m512 Vec;
#define FMA(x) x = _mm512_fmadd_ps(x, m, a)
#define VSET(v) _mm512_set1_ps(v)
#define FIRST(x) _mm512_cvtss_f32(x)
#elif defined(__AVX2__) && defined(__FMA__)
#define FMA_WIDTH 8
typedef __m256 Vec;
#define FMA(x) x = _mm256_fmadd_ps(x, m, a)
#define VSET(v) _mm256_set1_ps(v)
#define FIRST(x) _mm256_cvtss_f32(x)
#else
#define FMA_WIDTH 4
typedef float Vec __attribute__((vector_size(16)));
#define FMA(x) x = x * m + a
#define VSET(v) ((Vec){v, v, v, v})
#define FIRST(x) ((x)[0])
#endif

/* GFLOP/s of one core running 12 independent FMA chains: best of many short runs. */
static double fma_peak(void)
{
    Vec m = VSET(1.0000001f), a = VSET(1e-7f);
    Vec x0 = VSET(1), x1 = VSET(2), x2 = VSET(3), x3 = VSET(4), x4 = VSET(5), x5 = VSET(6);
    Vec x6 = VSET(7), x7 = VSET(8), x8 = VSET(9), x9 = VSET(10), x10 = VSET(11), x11 = VSET(12);
    const long iters = 200000;
    double best = 1e30;
    for (int rep = 0; rep < 300; rep++) {
        double t0 = read_clock(CLOCK_THREAD_CPUTIME_ID);
        for (long i = 0; i < iters; i++) {
            FMA(x0); FMA(x1); FMA(x2); FMA(x3); FMA(x4); FMA(x5);
            FMA(x6); FMA(x7); FMA(x8); FMA(x9); FMA(x10); FMA(x11);
            __asm__ volatile("" : "+x"(x0), "+x"(x1), "+x"(x2), "+x"(x3), "+x"(x4), "+x"(x5),
                             "+x"(x6), "+x"(x7), "+x"(x8), "+x"(x9), "+x"(x10), "+x"(x11));
        }
        double t = read_clock(CLOCK_THREAD_CPUTIME_ID) - t0;
        if (t < best)
            best = t;
    }
    volatile float sink = FIRST(x0) + FIRST(x1) + FIRST(x2) + FIRST(x3) + FIRST(x4) + FIRST(x5) +
                          FIRST(x6) + FIRST(x7) + FIRST(x8) + FIRST(x9) + FIRST(x10) + FIRST(x11);
    (void)sink;
    return (double)iters * 12 * FMA_WIDTH * 2 / best * 1e-9;
}

/* ---- the two libraries -------------------------------------------------------- */

typedef struct Bufs {
    float *A, *B, *C, *bias; /* operands, big enough for every shape */
    void *pack;              /* netc's pack buffer */
    size_t pack_bytes;       /* its size */
} Bufs;

static void run_netc(const Shape *s, Bufs *b)
{
    NnrtEpilogue ep = {0};
    if (s->ep == 1 || s->ep == 3) {
        ep.bias = b->bias;
        ep.bias_per_row = s->ep == 3;
        ep.act = NNRT_ACT_RELU;
    }
    ep.accumulate = s->ep == 2;
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    nnrt_sgemm(s->ta, s->tb, s->M, s->N, s->K, b->A, lda, b->B, ldb, b->C, s->N, &ep, NULL,
               b->pack);
}

static void run_blas(const Shape *s, Bufs *b)
{
    int lda = s->ta ? s->M : s->K, ldb = s->tb ? s->K : s->N;
    cblas_sgemm(CblasRowMajor, s->ta ? CblasTrans : CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans,
                s->M, s->N, s->K, 1.0f, b->A, lda, b->B, ldb, s->ep == 2 ? 1.0f : 0.0f, b->C, s->N);
}

/* Seconds per call of fn over `inner` calls, after one untimed call that warms the caches. */
static double sample(void (*fn)(const Shape *, Bufs *), const Shape *s, Bufs *b, int inner)
{
    fn(s, b);
    double t0 = tick();
    for (int i = 0; i < inner; i++)
        fn(s, b);
    return (tick() - t0) / inner;
}

/* Times both libraries on a shape, alternating samples; best seconds per call of each. */
static void time_pair(const Shape *s, Bufs *b, int quick, double *t_netc, double *t_blas)
{
    double flops = 2.0 * s->M * s->N * s->K;
    int inner = (int)(2e6 / flops) + 1; /* a sample of at least ~2 MFLOP */
    if (inner > 2000)
        inner = 2000;
    double budget = quick ? 0.15 : 0.6, start = now();
    *t_netc = *t_blas = 1e30;
    run_netc(s, b);
    run_blas(s, b);
    for (int i = 0; i < 20 || now() - start < budget; i++) {
        double tn = sample(run_netc, s, b, inner), tb = sample(run_blas, s, b, inner);
        if (tn < *t_netc)
            *t_netc = tn;
        if (tb < *t_blas)
            *t_blas = tb;
        if (i > 5000)
            break;
    }
}

/* n floats, 64-byte aligned like netc's arena tensors. */
static float *filled(size_t n, float scale)
{
    float *p = aligned_alloc(64, (n * sizeof *p + 63) / 64 * 64);
    if (!p) {
        perror("malloc");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        p[i] = scale * (float)((i * 2654435761u) % 1000) / 1000.0f - scale / 2;
    return p;
}

/* Prints the table for one thread count. */
static void bench_threads(int threads, double peak, int quick, const char *filter, Bufs *b)
{
    nnrt_threads_init(threads);
    openblas_set_num_threads(threads);
    sample_clock = threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    const Shape big = {"warm", "", 0, 0, 2048, 2048, 2048, 0, NULL};
    run_blas(&big, b);
    run_netc(&big, b);
    printf("\n%d thread%s (peak %.1f GFLOP/s; %s time, best sample)\n", threads, threads > 1 ? "s" : "",
           peak * threads, threads == 1 ? "thread CPU" : "wall");
    printf("%-17s %-6s %-3s %5s %5s %5s %9s %9s %6s %6s  %s\n", "shape", "use", "op", "M", "N", "K",
           "netc", "openblas", "ratio", "%peak", "net");
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const Shape *s = &shapes[i];
        if (filter && !strstr(s->name, filter) && !strstr(s->use, filter))
            continue;
        double tn, tb, flops = 2.0 * s->M * s->N * s->K;
        time_pair(s, b, quick, &tn, &tb);
        printf("%-17s %-6s %c%c  %5d %5d %5d %9.1f %9.1f %6.2f %5.0f%%  %s\n", s->name, s->use,
               s->ta ? 'T' : 'N', s->tb ? 'T' : 'N', s->M, s->N, s->K, flops / tn * 1e-9,
               flops / tb * 1e-9, tb / tn, 100.0 * flops / tn * 1e-9 / (peak * threads), s->route ? s->route : "gemm");
        fflush(stdout);
    }
    printf("net: how the example nets compute the shape: gemm = this nnrt_sgemm; " LOOP " = emitted loops (dense\n"
           "below 2048 multiply-adds per sample); " FILT " = lenet5's conv2 vectorized over filters and pixels, no\n"
           "GEMM. Their rows compare the runtime GEMM alone; bench/loop_bench.py times the nets' own loops\n"
           "against OpenBLAS, `netc bench` every kernel of a net.\n");
}

int main(int argc, char **argv)
{
    int tlist[8] = {1, 2}, nt = 2, quick = 0;
    const char *filter = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-q")) {
            quick = 1;
        } else if (!strcmp(argv[i], "-f") && i + 1 < argc) {
            filter = argv[++i];
        } else if (!strcmp(argv[i], "-i") && i + 1 < argc) {
            static const struct { const char *name; NnrtGemmIsa isa; } isas[] = {
                {"avx512", NNRT_GEMM_ISA_AVX512}, {"avx2", NNRT_GEMM_ISA_AVX2},
                {"neon", NNRT_GEMM_ISA_NEON}, {"portable", NNRT_GEMM_ISA_PORTABLE}};
            const char *want = argv[++i];
            size_t k = 0;
            while (k < sizeof isas / sizeof isas[0] && strcmp(isas[k].name, want))
                k++;
            if (k == sizeof isas / sizeof isas[0] || nnrt_gemm_set_isa(isas[k].isa) != 0) {
                fprintf(stderr, "%s: -i %s: not an instruction set this build and CPU have\n", argv[0], want);
                return 2;
            }
        } else if (!strcmp(argv[i], "-t") && i + 1 < argc) {
            nt = 0;
            for (char *p = strtok(argv[++i], ","); p && nt < 8; p = strtok(NULL, ","))
                tlist[nt++] = atoi(p);
        } else {
            fprintf(stderr, "usage: %s [-q] [-t THREADS,...] [-f FILTER] [-i avx512|avx2|neon|portable]\n",
                    argv[0]);
            return 2;
        }
    }
    Bufs b;
    size_t n = 2048 * 2048;
    b.A = filled(n, 1.0f);
    b.B = filled(n, 2.0f);
    b.C = filled(n, 1.0f);
    b.bias = filled(2048, 1.0f);
    int maxt = 1;
    for (int i = 0; i < nt; i++)
        maxt = tlist[i] > maxt ? tlist[i] : maxt;
    b.pack_bytes = nnrt_sgemm_pack_bytes_threads(2048, 2048, 2048, NULL, maxt);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        const Shape *s = &shapes[i];
        size_t need = nnrt_sgemm_pack_bytes_threads(s->M, s->N, s->K, NULL, maxt);
        b.pack_bytes = need > b.pack_bytes ? need : b.pack_bytes;
    }
    b.pack = malloc(b.pack_bytes);
    double peak = fma_peak();
    printf("netc GEMM (%s) vs OpenBLAS cblas_sgemm\n", nnrt_gemm_isa_name());
    printf("FMA peak, one core: %.1f GFLOP/s (%d-wide FMA, 12 chains)\n", peak, FMA_WIDTH);
    for (int i = 0; i < nt; i++)
        bench_threads(tlist[i], peak, quick, filter, &b);
    nnrt_threads_shutdown();
    return 0;
}
