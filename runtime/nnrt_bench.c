/*
 * nnrt_bench.c — `BIN bench`: how fast this net runs on this machine.
 *
 *   BIN bench [--batch B] [--steps K] [--threads N] [--json FILE]
 *
 * In one process it measures, in order:
 *   1. the single-core FMA peak: a loop of independent FMAs as wide as
 *      the CPU has (16-float AVX-512, else 8-float AVX2; 12 accumulators,
 *      enough to cover FMA latency times throughput), or a plain C loop
 *      where neither is there; the best of 20 short runs;
 *      and again, in short probes, between the timed runs of 2 and 3 (at
 *      most one probe every BENCH_PROBE_GAP seconds), because a shared
 *      machine's speed drifts: each measurement's fraction of peak is taken
 *      against the median of the probes made during it;
 *   2. inference latency at batch 1 and at batch B: the median of many
 *      forward calls after a warm-up;
 *   3. for a trainable net, the training step at batch B: the median of K
 *      steps on one batch of random inputs with valid labels, after warm-up;
 *   (each as wall time, and as the median of the calling thread's CPU time,
 *   which a shared machine disturbs less;)
 *   4. the peak RSS of the process (getrusage);
 *   5. with 2 or more threads, the round trip of a cache line between two
 *      threads, which says how far apart the cores are (every hand-off of a
 *      2-thread run pays it).
 * When the generated C was compiled with -DNNRT_PROFILE, the descriptor's
 * per-kernel entries are reset after each warm-up and read after the batch-B
 * forward calls and after the training steps, and a table shows per kernel:
 * time per call, share of the call or step, GFLOP/s and the fraction of the
 * FMA peak measured during the phase (times the thread count).  --json
 * writes the same numbers.
 *
 * It works from the descriptor alone (nnrt_model.h) and knows nothing of how
 * the kernels are written; --threads only sizes the runtime's thread pool
 * (nnrt_threads.h) before the models are created.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* getrusage, clock_gettime */
#endif
#include "nnrt_cli_int.h"
#include "nnrt_threads.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#ifndef NNRT_NO_THREADS
#include <pthread.h>
#include <stdatomic.h>
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define BENCH_X86 1
#endif

enum {
    BENCH_INFER_MAX_RUNS = 2000, /* forward calls timed at most, per batch size */
    BENCH_MIN_RUNS = 11,         /* and at least */
};
#define BENCH_INFER_SECONDS 0.5  /* time budget per inference measurement */
#define BENCH_WARM_SECONDS 0.05  /* warm-up at least this long */
#define BENCH_PROBE_GAP 0.002    /* seconds between FMA-peak probes during timed runs, at least */

typedef struct BenchOpts {
    int batch;        /* --batch B */
    int steps;        /* --steps K: timed training steps */
    int threads;      /* --threads N, 0 = leave the pool alone */
    const char *json; /* --json FILE, or NULL */
} BenchOpts;

typedef struct Timing {
    double median;    /* seconds per run, wall time */
    double mean;      /* seconds per run, wall time */
    double cpu;       /* median seconds per run of the calling thread's CPU time */
    int runs;         /* runs timed (after warm-up) */
    double peak;      /* median GFLOP/s of the FMA probes made between the runs (one core) */
    int probes;       /* how many */
} Timing;

typedef struct BenchResult {
    double peak;               /* single-core FMA peak, GFLOP/s */
    const char *peak_how;      /* "avx-512", "avx2+fma" or "portable C" */
    int threads;               /* thread count in force */
    Timing infer1, inferb;     /* forward at batch 1 and batch B */
    Timing train;              /* train step at batch B (runs 0: none) */
    NnrtProfEntry *prof_fwd;   /* prof entries after the batch-B forward calls, or NULL */
    NnrtProfEntry *prof_train; /* prof entries after the training steps, or NULL */
    long rss_kib;              /* peak resident set */
    double load;               /* 1-minute load average before the run, -1 if unknown */
    double round_trip_ns;      /* cross-core round trip (cross_core_round_trip), 0 if not measured */
    int ncpu;                  /* online processors, 0 if unknown */
} BenchResult;

/* What a timed run needs: the model, its batch, and pointers to the batch's data. */
typedef struct RunCtx {
    const NnrtModelDesc *d;                /* the net */
    void *m;                               /* its model */
    int batch;                             /* samples per call */
    float lr;                              /* learning rate of train steps */
    const float *in[NNRT_CLI_MAX_NAMED];   /* inputs */
    const void *lab[NNRT_CLI_MAX_NAMED];   /* labels: int32_t or float */
    float *out[NNRT_CLI_MAX_NAMED];        /* outputs, or NULL (train steps) */
} RunCtx;

typedef int (*RunFn)(RunCtx *c);

/* ---- the FMA peak --------------------------------------------------------- */

#ifdef BENCH_X86
/*
 * iters x 12 independent FMAs of W lanes (2 x 12 x W flops per iteration),
 * for one vector type: 12 chains cover a 4-cycle latency on two pipes.
 */
#define FMA_LOOP(NAME, TARGET, VEC, SET1, FMADD, ADD, STOREU, W)                                  \
    __attribute__((target(TARGET))) static float NAME(long iters)                                \
    {                                                                                            \
        VEC a0 = SET1(0.1f), a1 = SET1(0.2f), a2 = SET1(0.3f), a3 = SET1(0.4f);                  \
        VEC a4 = SET1(0.5f), a5 = SET1(0.6f), a6 = SET1(0.7f), a7 = SET1(0.8f);                  \
        VEC a8 = SET1(0.9f), a9 = SET1(1.0f), a10 = SET1(1.1f), a11 = SET1(1.2f);                \
        const VEC x = SET1(0.9999f), y = SET1(0.0001f);                                          \
        for (long i = 0; i < iters; i++) {                                                       \
            a0 = FMADD(a0, x, y), a1 = FMADD(a1, x, y), a2 = FMADD(a2, x, y);                    \
            a3 = FMADD(a3, x, y), a4 = FMADD(a4, x, y), a5 = FMADD(a5, x, y);                    \
            a6 = FMADD(a6, x, y), a7 = FMADD(a7, x, y), a8 = FMADD(a8, x, y);                    \
            a9 = FMADD(a9, x, y), a10 = FMADD(a10, x, y), a11 = FMADD(a11, x, y);                \
        }                                                                                        \
        VEC s = ADD(ADD(ADD(a0, a1), ADD(a2, a3)), ADD(ADD(a4, a5), ADD(a6, a7)));               \
        s = ADD(s, ADD(ADD(a8, a9), ADD(a10, a11)));                                             \
        float out[W];                                                                            \
        STOREU(out, s);                                                                          \
        return out[0];                                                                           \
    }
FMA_LOOP(fma_loop_avx2, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps, 8)
FMA_LOOP(fma_loop_avx512, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps, 16)
#endif

/* The same in plain C (16 scalar chains): what any target manages. */
static float fma_loop_portable(long iters)
{
    float a[16];
    for (int k = 0; k < 16; k++)
        a[k] = 0.1f * (float)(k + 1);
    for (long i = 0; i < iters; i++)
        for (int k = 0; k < 16; k++)
            a[k] = a[k] * 0.9999f + 0.0001f;
    float s = 0;
    for (int k = 0; k < 16; k++)
        s += a[k];
    return s;
}

/* The FMA loops: plain C, 8-wide AVX2, 16-wide AVX-512; and their flops per iteration. */
enum { LOOP_PORTABLE, LOOP_AVX2, LOOP_AVX512 };
static const double loop_flops[] = {32.0, 192.0, 384.0};
static const char *const loop_name[] = {"portable C", "avx2+fma", "avx-512"};

static volatile float fma_sink; /* keeps the loops' results alive */
static int probe_loop;          /* the loop fma_peak chose */
static long probe_iters;        /* iterations of one probe (about 1/20 of a peak run), 0: no probes */

/* This thread's CPU time, so that slices lost to other processes do not count; else wall time. */
static double cpu_now(void)
{
#ifdef CLOCK_THREAD_CPUTIME_ID
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
        return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
    return nnrt_now();
}

/* GFLOP/s of one run of the loop at `iters` iterations. */
static double fma_run(int loop, long iters)
{
    double t0 = cpu_now();
#ifdef BENCH_X86
    if (loop == LOOP_AVX512)
        fma_sink = fma_loop_avx512(iters);
    else if (loop == LOOP_AVX2)
        fma_sink = fma_loop_avx2(iters);
    else
#endif
        fma_sink = fma_loop_portable(iters);
    double dt = cpu_now() - t0;
    double flops = (double)iters * loop_flops[loop];
    return dt > 0 ? flops / dt * 1e-9 : 0;
}

/*
 * Single-core FMA peak in GFLOP/s, with the widest FMA the CPU has (the
 * one the GEMM's back end uses too): the best of 20 runs of about 10 ms of
 * thread CPU time.  The best rather than the median: the peak is a
 * property of the core, and a run that shared it says nothing about it.
 */
static double fma_peak(const char **how)
{
    int loop = LOOP_PORTABLE;
#ifdef BENCH_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        loop = LOOP_AVX512;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        loop = LOOP_AVX2;
#endif
    *how = loop_name[loop];
    long iters = 1 << 16;
    double g = fma_run(loop, iters);
    while (g > 0 && (double)iters * loop_flops[loop] / (g * 1e9) < 0.01 && iters < (1L << 40))
        g = fma_run(loop, iters *= 2);
    double best = g;
    for (int r = 0; r < 20; r++) {
        double x = fma_run(loop, iters);
        best = x > best ? x : best;
    }
    probe_loop = loop;
    probe_iters = iters / 20 > 0 ? iters / 20 : 1;
    return best;
}

/* ---- timing --------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void prof_reset(const NnrtModelDesc *d)
{
    for (int k = 0; k < d->nprof; k++) {
        d->prof[k].seconds = 0;
        d->prof[k].calls = d->prof[k].samples = 0;
    }
}

/* A copy of the prof entries as they are now (NULL without profiling). */
static NnrtProfEntry *prof_snapshot(const NnrtModelDesc *d)
{
    if (!d->prof || d->nprof <= 0)
        return NULL;
    NnrtProfEntry *p = malloc(sizeof *p * (size_t)d->nprof);
    if (p)
        memcpy(p, d->prof, sizeof *p * (size_t)d->nprof);
    return p;
}

/* Median of v[0..n), sorting it. */
static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/*
 * Runs fn `warm` times and for at least BENCH_WARM_SECONDS, resets the
 * profile, then times single runs until there are max_runs of them, or
 * min_runs and `budget` seconds have passed: wall time, and the calling
 * thread's CPU time, which leaves out time slices lost to other processes
 * (a steadier number on a shared machine, and the whole cost with one
 * thread).  Between runs, at least BENCH_PROBE_GAP seconds apart, a short
 * FMA loop probes the core's speed (it touches no memory, so the runs'
 * caches stay as they were).  Medians and mean into *t; 0, or the first
 * non-zero status of fn.
 */
static int time_runs(RunFn fn, RunCtx *c, int warm, int min_runs, int max_runs, double budget, Timing *t)
{
    int rc = 0;
    double t0 = nnrt_now();
    for (int i = 0; !rc && (i < warm || nnrt_now() - t0 < BENCH_WARM_SECONDS); i++)
        rc = fn(c);
    double *v = malloc(sizeof *v * 3 * (size_t)max_runs), *cpu = v + max_runs, *probe = cpu + max_runs;
    if (rc || !v) {
        free(v);
        return rc ? rc : -1;
    }
    prof_reset(c->d);
    double sum = 0, start = nnrt_now(), last_probe = -1;
    int n = 0, np = 0;
    while (!rc && n < max_runs && (n < min_runs || nnrt_now() - start < budget)) {
        double ca = cpu_now(), a = nnrt_now();
        rc = fn(c);
        double b = nnrt_now();
        cpu[n] = cpu_now() - ca;
        sum += v[n++] = b - a;
        if (probe_iters > 0 && (last_probe < 0 || b - last_probe >= BENCH_PROBE_GAP)) {
            probe[np++] = fma_run(probe_loop, probe_iters);
            last_probe = nnrt_now();
        }
    }
    t->runs = n;
    t->probes = np;
    t->peak = np ? median_of(probe, np) : 0;
    t->mean = sum / n;
    t->median = median_of(v, n);
    t->cpu = median_of(cpu, n);
    free(v);
    return rc;
}

static int run_forward(RunCtx *c)
{
    return c->d->forward(c->m, c->batch, c->in, c->out);
}

static int run_step(RunCtx *c)
{
    float loss = 0;
    return c->d->train_step(c->m, c->batch, c->in, c->lab, c->lr, &loss, c->out);
}

/* ---- random batches ------------------------------------------------------- */

/* Fills b's inputs with U[0, 1) and its labels with valid classes (or U[0, 1) targets). */
static void fill_random(const NnrtModelDesc *d, int batch, uint64_t seed, CliBatch *b)
{
    NnrtRng r;
    nnrt_rng_seed(&r, seed);
    for (int i = 0; i < d->ninputs; i++)
        for (int64_t k = 0; k < batch * d->inputs[i].size; k++)
            b->x[i][k] = nnrt_rng_uniform(&r);
    for (int i = 0; i < d->nlabels; i++)
        for (int64_t k = 0; k < batch * d->labels[i].size; k++) {
            if (d->labels[i].nclass > 0)
                ((int32_t *)b->y[i])[k] = (int32_t)nnrt_rng_below(&r, (uint32_t)d->labels[i].nclass);
            else
                ((float *)b->y[i])[k] = nnrt_rng_uniform(&r);
        }
}

/* Points c at b's buffers; outputs only when with_out (train steps skip them). */
static void bind_batch(const NnrtModelDesc *d, const CliBatch *b, int with_out, RunCtx *c)
{
    for (int i = 0; i < d->ninputs; i++)
        c->in[i] = b->x[i];
    for (int i = 0; i < d->nlabels; i++)
        c->lab[i] = b->y[i];
    for (int i = 0; i < d->noutputs; i++)
        c->out[i] = with_out ? b->out[i] : NULL;
}

/* ---- the measurements ----------------------------------------------------- */

/* Forward latency at batch 1 and batch B on one inference model. */
static int bench_infer(const NnrtModelDesc *d, const BenchOpts *o, const CliBatch *b, BenchResult *r)
{
    void *arena = NULL;
    RunCtx c = {d, NULL, 1, 0, {0}, {0}, {0}};
    int rc = !(c.m = nnrt_cli_make_model(d, o->batch, 0, NULL, 1, &arena));
    bind_batch(d, b, 1, &c);
    if (!rc)
        rc = time_runs(run_forward, &c, 10, BENCH_MIN_RUNS, BENCH_INFER_MAX_RUNS, BENCH_INFER_SECONDS, &r->infer1);
    c.batch = o->batch;
    if (!rc)
        rc = time_runs(run_forward, &c, 10, BENCH_MIN_RUNS, BENCH_INFER_MAX_RUNS, BENCH_INFER_SECONDS, &r->inferb);
    if (!rc)
        r->prof_fwd = prof_snapshot(d);
    else if (c.m)
        fprintf(stderr, "%s bench: forward failed (code %d)\n", d->name, rc);
    free(arena);
    return rc ? NNRT_EXIT_DATA : 0;
}

/* Median train step at batch B over K steps, after min(10, max(1, K/5)) warm-up steps. */
static int bench_train(const NnrtModelDesc *d, const BenchOpts *o, const CliBatch *b, BenchResult *r)
{
    void *arena = NULL;
    RunCtx c = {d, NULL, o->batch, (float)d->train.lr, {0}, {0}, {0}};
    int rc = !(c.m = nnrt_cli_make_model(d, o->batch, 1, NULL, 1, &arena));
    int warm = o->steps / 5 < 1 ? 1 : o->steps / 5 > 10 ? 10 : o->steps / 5;
    bind_batch(d, b, 0, &c);
    if (!rc)
        rc = time_runs(run_step, &c, warm, o->steps, o->steps, 0, &r->train);
    if (!rc)
        r->prof_train = prof_snapshot(d);
    else if (c.m)
        fprintf(stderr, "%s bench: train_step failed (code %d)\n", d->name, rc);
    free(arena);
    return rc ? NNRT_EXIT_DATA : 0;
}

/* The 1-minute load average (Linux /proc/loadavg), or -1. */
static double load_average(void)
{
    double v = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f && fscanf(f, "%lf", &v) != 1)
        v = -1;
    if (f)
        fclose(f);
    return v;
}

#ifndef NNRT_NO_THREADS
#define TRIP_SAMPLES 9      /* samples of the round trip; the median is kept */
#define TRIP_ROUNDS 2000    /* round trips per sample */
#define TRIP_DEADLINE 0.25  /* seconds before the probe gives up (a busy machine) */

typedef struct Trip {
    _Atomic long ball; /* odd: the partner's turn; even: the caller's */
    _Atomic int stop;  /* the caller gave up or finished */
} Trip;

/* The partner: sends every odd ball back as the next even one. */
static void *trip_partner(void *arg)
{
    Trip *t = arg;
    while (!atomic_load_explicit(&t->stop, memory_order_relaxed)) {
        long b = atomic_load_explicit(&t->ball, memory_order_acquire);
        if (b & 1)
            atomic_store_explicit(&t->ball, b + 1, memory_order_release);
    }
    return NULL;
}

/*
 * The round trip of one cache line between this thread and a second one,
 * in ns: the median of TRIP_SAMPLES samples of TRIP_ROUNDS ping-pongs
 * through one atomic. The second thread runs where the OS puts it, which on
 * a 2-core machine is the other core. 0 when the thread cannot start or
 * the probe runs past TRIP_DEADLINE. The reference VM measured 85-122 ns
 * in one of its phases and 352-414 in the other, and its 2-thread runs
 * followed (docs/performance.md, 2026-12-03 15:00).
 */
static double cross_core_round_trip(void)
{
    Trip t = {0, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, trip_partner, &t) != 0)
        return 0;
    double v[TRIP_SAMPLES], start = nnrt_now();
    long ball = 0;
    int ok = 1;
    for (int s = 0; s < TRIP_SAMPLES && ok; s++) {
        double t0 = nnrt_now();
        for (int i = 0; i < TRIP_ROUNDS && ok; i++) {
            atomic_store_explicit(&t.ball, ball + 1, memory_order_release);
            for (long spins = 1; atomic_load_explicit(&t.ball, memory_order_acquire) != ball + 2; spins++)
                if (spins % 4096 == 0 && nnrt_now() - start > TRIP_DEADLINE) {
                    ok = 0;
                    break;
                }
            ball += 2;
        }
        v[s] = (nnrt_now() - t0) / TRIP_ROUNDS;
    }
    atomic_store_explicit(&t.stop, 1, memory_order_relaxed);
    pthread_join(th, NULL);
    if (!ok)
        return 0;
    qsort(v, TRIP_SAMPLES, sizeof v[0], cmp_double);
    return v[TRIP_SAMPLES / 2] * 1e9;
}
#else
static double cross_core_round_trip(void)
{
    return 0;
}
#endif

static long peak_rss_kib(void)
{
    struct rusage u;
    return getrusage(RUSAGE_SELF, &u) == 0 ? u.ru_maxrss : 0;
}

/* ---- the report ----------------------------------------------------------- */

/* Floating-point work an entry recorded: flops per sample times samples (update: per call). */
static double entry_flops(const NnrtProfEntry *e)
{
    return e->flops * (double)(strcmp(e->pass, "update") ? e->samples : e->calls);
}

static int is_forward(const NnrtProfEntry *e)
{
    return !strcmp(e->pass, "forward");
}

/*
 * The floating-point work of one run of a phase, from snapshot p: every
 * kernel's FLOPs per sample times the batch (a sharded call times only its
 * first shard's kernels, on part of the batch), the update's per call.
 */
static double phase_flops(const NnrtModelDesc *d, const NnrtProfEntry *p, int forward, const Timing *t, int batch)
{
    double f = 0;
    for (int k = 0; p && t->runs && k < d->nprof; k++)
        if (p[k].name && p[k].pass && p[k].calls && is_forward(&p[k]) == forward)
            f += strcmp(p[k].pass, "update") ? p[k].flops * batch : p[k].flops * (double)p[k].calls / t->runs;
    return f;
}

/* Whether entry e ran on part of each batch (a shard's kernel): fewer samples than batch a call. */
static int is_shard_row(const NnrtProfEntry *e, int batch)
{
    return strcmp(e->pass, "update") && e->samples < e->calls * (int64_t)batch;
}

/* Prints "12.3 us" or "4.56 ms" into buf. */
static const char *fmt_time(char *buf, size_t cap, double s)
{
    if (s < 1e-3)
        snprintf(buf, cap, "%.1f us", s * 1e6);
    else if (s < 1)
        snprintf(buf, cap, "%.3f ms", s * 1e3);
    else
        snprintf(buf, cap, "%.3f s", s);
    return buf;
}

static void print_timing(const char *what, int batch, const Timing *t)
{
    char a[32], b[32], c[32];
    printf("%-18s batch %-5d median %-10s mean %-10s cpu %-10s (%d runs; FMA peak meanwhile %.2f)\n", what, batch,
           fmt_time(a, sizeof a, t->median), fmt_time(b, sizeof b, t->mean), fmt_time(c, sizeof c, t->cpu), t->runs,
           t->peak);
}

/* The FMA peak of the whole pool while t's runs were timed: its probes' median, else the start's best. */
static double phase_peak(const BenchResult *r, const Timing *t)
{
    return (t->probes ? t->peak : r->peak) * r->threads;
}

/*
 * Prints the rows of one phase (the forward calls, or the train steps) of
 * snapshot p: per kernel its pass, name, time per call, share of the
 * phase's total time (mean x runs), GFLOP/s and fraction of peak_all (of
 * one core's, for a shard's kernel); then the time outside kernels.  Returns
 * whether any row was a shard's.
 */
static int print_phase(const NnrtModelDesc *d, const NnrtProfEntry *p, int forward, const Timing *t,
                       double peak_all, int batch, int threads)
{
    double total = t->mean * t->runs, in_kernels = 0;
    int shards = 0;
    char a[32];
    for (int k = 0; k < d->nprof; k++) {
        const NnrtProfEntry *e = &p[k];
        if (!e->name || !e->pass || e->calls == 0 || is_forward(e) != forward)
            continue;
        double f = entry_flops(e), g = e->seconds > 0 ? f / e->seconds * 1e-9 : 0;
        int shard = is_shard_row(e, batch);
        shards |= shard;
        printf("%-13s%c %-44.44s %11s %6.1f%%", e->pass, shard ? '*' : ' ', e->name,
               fmt_time(a, sizeof a, e->seconds / (double)e->calls), 100 * e->seconds / total);
        if (f > 0)
            printf(" %8.2f %6.1f%%\n", g, 100 * g / (shard ? peak_all / threads : peak_all));
        else
            printf(" %8s %7s\n", "-", "-");
        in_kernels += e->seconds;
    }
    printf("%-14s %-44s %11s %6.1f%%\n", "", "(outside kernels)", "", 100 * (total - in_kernels) / total);
    return shards;
}

/*
 * One line of totals: flops per run, then GFLOP/s and fraction of peak at
 * the median wall time and at the median CPU time of the calling thread,
 * and at the median wall time against the best peak before the runs
 * (best_all), the stricter and the more drift-prone of the two.
 */
static void print_total(const char *what, double flops, const Timing *t, double peak_all, double best_all)
{
    double g = flops / t->median * 1e-9, gc = t->cpu > 0 ? flops / t->cpu * 1e-9 : 0;
    printf("  %-11s %8.3f MFLOP: %7.2f GFLOP/s, %5.1f%% of peak (wall); %7.2f GFLOP/s, %5.1f%% (CPU time); "
           "%5.1f%% of the best peak\n", what, flops * 1e-6, g, 100 * g / peak_all, gc, 100 * gc / peak_all,
           100 * g / best_all);
}

static void print_profile(const NnrtModelDesc *d, const BenchOpts *o, const BenchResult *r)
{
    double pf = phase_peak(r, &r->inferb), pt = phase_peak(r, &r->train);
    if (!r->prof_fwd) {
        printf("\nper-kernel profile: off (build with -DNNRT_PROFILE, as `netc bench` does)\n");
        return;
    }
    printf("\nper-kernel profile, batch %d (share: of the forward call, or of the train step; %%peak: of %d x "
           "the FMA peak measured during the phase, %.1f and %.1f GFLOP/s)\n", o->batch, r->threads,
           pf / r->threads, pt / r->threads);
    printf("%-14s %-44s %11s %7s %8s %7s\n", "pass", "kernel", "time/call", "share", "GFLOP/s", "%peak");
    int shards = print_phase(d, r->prof_fwd, 1, &r->inferb, pf, o->batch, r->threads);
    if (r->prof_train)
        shards |= print_phase(d, r->prof_train, 0, &r->train, pt, o->batch, r->threads);
    if (shards)
        printf("* a shard's kernel: the batch ran in shards, one thread each; the row times the first shard's\n"
               "  kernel on its part of the batch, and %%peak is of one core's peak\n");
    printf("totals:\n");
    print_total("forward", phase_flops(d, r->prof_fwd, 1, &r->inferb, o->batch), &r->inferb, pf, r->peak * r->threads);
    if (r->prof_train)
        print_total("train step", phase_flops(d, r->prof_train, 0, &r->train, o->batch), &r->train, pt,
                    r->peak * r->threads);
}

static void print_report(const NnrtModelDesc *d, const BenchOpts *o, const BenchResult *r)
{
    printf("%s bench — netc %s, %s; batch %d, %d thread%s\n", d->name, d->netc_version, d->source, o->batch,
           r->threads, r->threads == 1 ? "" : "s");
    printf("FMA peak           %.2f GFLOP/s on one core (%s loop, best of 20 before the runs)\n", r->peak,
           r->peak_how);
    print_timing("inference", 1, &r->infer1);
    print_timing("inference", o->batch, &r->inferb);
    if (r->train.runs)
        print_timing("train step", o->batch, &r->train);
    else
        printf("train step         none (the net has no loss and optimizer)\n");
    printf("peak RSS           %.1f MiB\n", r->rss_kib / 1024.0);
    if (r->load >= 0)
        printf("load average       %.2f on %d cores (1 min, before the run)\n", r->load, r->ncpu);
    if (r->round_trip_ns > 0)
        printf("cross-core trip    %.0f ns (a cache line to another thread and back, after the runs)\n",
               r->round_trip_ns);
    print_profile(d, o, r);
}

/* ---- JSON ----------------------------------------------------------------- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++)
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    fputc('"', f);
}

static void json_kernels(FILE *f, const NnrtModelDesc *d, const NnrtProfEntry *p, const Timing *t, double peak_all,
                         int forward, int *first)
{
    for (int k = 0; p && k < d->nprof; k++) {
        const NnrtProfEntry *e = &p[k];
        if (!e->name || !e->pass || e->calls == 0 || is_forward(e) != forward)
            continue;
        double g = e->seconds > 0 ? entry_flops(e) / e->seconds * 1e-9 : 0;
        fprintf(f, "%s\n    {\"pass\": ", *first ? "" : ",");
        json_string(f, e->pass);
        fprintf(f, ", \"kernel\": ");
        json_string(f, e->name);
        fprintf(f, ", \"calls\": %lld, \"us_per_call\": %.3f, \"share\": %.4f, \"gflops\": %.3f, \"peak_frac\": %.4f}",
                (long long)e->calls, 1e6 * e->seconds / (double)e->calls, e->seconds / (t->mean * t->runs), g,
                g / peak_all);
        *first = 0;
    }
}

/* Sums the flops per run of one phase of snapshot p. */
static void json_timing(FILE *f, const char *key, const Timing *t, double flops, double peak_all)
{
    fprintf(f, "  \"%s_us\": %.3f, \"%s_mean_us\": %.3f, \"%s_cpu_us\": %.3f, \"%s_runs\": %d,\n", key,
            t->median * 1e6, key, t->mean * 1e6, key, t->cpu * 1e6, key, t->runs);
    fprintf(f, "  \"%s_fma_peak_gflops\": %.3f, \"%s_fma_probes\": %d,\n", key, t->peak, key, t->probes);
    if (flops > 0)
        fprintf(f, "  \"%s_gflops\": %.3f, \"%s_peak_frac\": %.4f, \"%s_cpu_peak_frac\": %.4f,\n", key,
                flops / t->median * 1e-9, key, flops / t->median * 1e-9 / peak_all, key,
                t->cpu > 0 ? flops / t->cpu * 1e-9 / peak_all : 0);
}

static int write_json(const NnrtModelDesc *d, const BenchOpts *o, const BenchResult *r)
{
    FILE *f = fopen(o->json, "w");
    if (!f) {
        fprintf(stderr, "%s bench: cannot write '%s': %s\n", d->name, o->json, strerror(errno));
        return NNRT_EXIT_DATA;
    }
    double pf = phase_peak(r, &r->inferb), pt = phase_peak(r, &r->train);
    fprintf(f, "{\n  \"net\": ");
    json_string(f, d->name);
    fprintf(f, ", \"netc_version\": ");
    json_string(f, d->netc_version);
    fprintf(f, ",\n  \"batch\": %d, \"threads\": %d, \"profile\": %s,\n", o->batch, r->threads,
            r->prof_fwd ? "true" : "false");
    fprintf(f, "  \"fma_peak_gflops\": %.3f, \"fma_peak_loop\": \"%s\",\n", r->peak, r->peak_how);
    json_timing(f, "infer_b1", &r->infer1, 0, phase_peak(r, &r->infer1));
    json_timing(f, "infer_batch", &r->inferb, phase_flops(d, r->prof_fwd, 1, &r->inferb, o->batch), pf);
    if (r->train.runs)
        json_timing(f, "train_step", &r->train, phase_flops(d, r->prof_train, 0, &r->train, o->batch), pt);
    fprintf(f, "  \"peak_rss_kib\": %ld, \"load_average\": %.2f, \"cpus\": %d,\n", r->rss_kib, r->load, r->ncpu);
    if (r->round_trip_ns > 0)
        fprintf(f, "  \"cross_core_round_trip_ns\": %.1f,\n", r->round_trip_ns);
    else
        fprintf(f, "  \"cross_core_round_trip_ns\": null,\n");
    fprintf(f, "  \"kernels\": [");
    int first = 1;
    json_kernels(f, d, r->prof_fwd, &r->inferb, pf, 1, &first);
    json_kernels(f, d, r->prof_train, &r->train, pt, 0, &first);
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0 ? 0 : NNRT_EXIT_DATA;
}

/* ---- options and entry point ---------------------------------------------- */

/* Parses an integer option value in [lo, hi] into *v; an exit status. */
static int int_arg(const NnrtModelDesc *d, const char *opt, const char *s, long lo, long hi, int *v)
{
    char *end = NULL;
    errno = 0;
    long x = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "%s bench: %s takes an integer from %ld to %ld, not '%s'\n", d->name, opt, lo, hi,
                s ? s : "");
        return NNRT_EXIT_USAGE;
    }
    *v = (int)x;
    return 0;
}

static int parse_bench_opts(const NnrtModelDesc *d, int argc, char **argv, BenchOpts *o)
{
    o->batch = d->trainable && d->train.batch > 0 ? d->train.batch : 64;
    o->steps = 100;
    for (int i = 0; i < argc; i += 2) { /* every option takes a value */
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int rc = 0;
        if (!strcmp(a, "--batch"))
            rc = int_arg(d, a, v, 1, 1 << 20, &o->batch);
        else if (!strcmp(a, "--steps"))
            rc = int_arg(d, a, v, 1, 1000000000, &o->steps);
        else if (!strcmp(a, "--threads"))
            rc = int_arg(d, a, v, 1, NNRT_MAX_THREADS, &o->threads);
        else if (!strcmp(a, "--json") && v)
            o->json = v;
        else {
            fprintf(stderr, "%s bench: unknown option '%s'%s; usage: %s bench [--batch B] [--steps K] "
                            "[--threads N] [--json FILE]\n", d->name, a, !strcmp(a, "--json") ? " (needs a FILE)" : "",
                    d->name);
            return NNRT_EXIT_USAGE;
        }
        if (rc)
            return rc;
    }
    return 0;
}

int nnrt_cli_bench(const NnrtModelDesc *d, int argc, char **argv)
{
    BenchOpts o = {0, 0, 0, NULL};
    BenchResult r;
    CliBatch b;
    memset(&r, 0, sizeof r);
    int rc = parse_bench_opts(d, argc, argv, &o);
    if (rc)
        return rc;
    r.load = load_average();
#ifdef _SC_NPROCESSORS_ONLN
    r.ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
#endif
    r.threads = o.threads ? nnrt_threads_init(o.threads) : nnrt_threads_count();
    r.peak = fma_peak(&r.peak_how);
    if (nnrt_cli_batch_alloc(d, o.batch, &b) != 0) {
        fprintf(stderr, "%s bench: out of memory\n", d->name);
        return NNRT_EXIT_DATA;
    }
    fill_random(d, o.batch, 1, &b);
    rc = bench_infer(d, &o, &b, &r);
    if (!rc && d->trainable && d->train_step)
        rc = bench_train(d, &o, &b, &r);
    r.rss_kib = peak_rss_kib();
    if (!rc && r.threads > 1)
        r.round_trip_ns = cross_core_round_trip();
    if (!rc)
        print_report(d, &o, &r);
    if (!rc && o.json)
        rc = write_json(d, &o, &r);
    nnrt_cli_batch_free(d, &b);
    free(r.prof_fwd);
    free(r.prof_train);
    return rc;
}
