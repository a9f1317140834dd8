/*
 * nnrt_threads.c - the persistent pthread pool behind nnrt_parallel_for.
 *
 * One job runs at a time, and thread i of n owns a block of its tasks,
 * [ntasks i / n, ntasks (i + 1) / n), or task i alone when there are fewer
 * tasks than threads; the caller is thread 0. Every call with the same task
 * count so splits the same way, and consecutive kernels split alike find
 * their data in the same core's caches.
 *
 * The protocol is laid out so that a worker on time pays one cache-line
 * hand-off to start and one to finish (between distant cores a hand-off
 * takes up to 0.2 us, about a GEMV's worth of a batch-1 layer):
 *   - the caller writes the job (fn, ctx, control bits, pool size) and then
 *     its word, WORD(generation, ntasks), all on one line, which the idle
 *     workers watch;
 *   - worker i takes its block's tasks one by one with a compare-and-swap on
 *     its own claim line, which stays in its cache, and after each says on
 *     its own done line how many tasks of the job it has finished;
 *   - the caller runs its block. The block of a worker that has not started
 *     (its done line says so: it woke late, sleeps, or is not running on a
 *     machine with more threads than cores) is taken over through the same
 *     claim line, by the caller and by workers done with their own, so no
 *     thread waits for one that is not running; then the caller waits until
 *     the done lines add up to the job.
 * Claim and done words carry the job's generation, so nothing is reset
 * between jobs, and a worker that wakes after its job ended finds every task
 * of it taken.
 *
 * While a thread runs a task, nnrt_threads_count() says 1 to it (a
 * thread-local flag): what the task calls plans for one thread and runs
 * serially, as a sharded train step's kernels must.
 *
 * A worker takes on the caller's floating-point control bits (rounding,
 * denormal flushing) before it runs a job's tasks, so a task computes the
 * same on every thread.
 *
 * Idle workers spin on the job line for about SPIN_ROUNDS pause
 * instructions (a fraction of a millisecond), yielding the CPU now and then
 * (with more threads than cores, a spinning worker otherwise takes the core
 * from one that holds a task: fashion_mlp's step at 8 threads on 2 vCPUs
 * took 1.79-2.29 ms instead of 0.27), then sleep on `wake`; the caller
 * broadcasts it only when someone sleeps. A nested call (from inside
 * a task) or a concurrent one (`busy`) runs serially instead of
 * deadlocking.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "nnrt_threads.h"

#if defined(__x86_64__) || (defined(__i386__) && defined(__SSE__))
#include <xmmintrin.h>
#define MXCSR_CONTROL 0xffc0u /* DAZ, the exception masks, rounding, FTZ: all but the status flags */
#define MXCSR_FTZ_DAZ 0x8040u

unsigned long nnrt_fpenv_get(void)
{
    return _mm_getcsr() & MXCSR_CONTROL;
}

void nnrt_fpenv_set(unsigned long env)
{
    _mm_setcsr((_mm_getcsr() & ~MXCSR_CONTROL) | ((unsigned)env & MXCSR_CONTROL));
}

void nnrt_flush_denormals(void)
{
    nnrt_fpenv_set(nnrt_fpenv_get() | MXCSR_FTZ_DAZ);
}
#elif defined(__aarch64__)
#define FPCR_FZ (1ul << 24)

unsigned long nnrt_fpenv_get(void)
{
    unsigned long v;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(v));
    return v;
}

void nnrt_fpenv_set(unsigned long env)
{
    __asm__ __volatile__("msr fpcr, %0" : : "r"(env));
}

void nnrt_flush_denormals(void)
{
    nnrt_fpenv_set(nnrt_fpenv_get() | FPCR_FZ);
}
#else
unsigned long nnrt_fpenv_get(void)
{
    return 0;
}

void nnrt_fpenv_set(unsigned long env)
{
    (void)env;
}

void nnrt_flush_denormals(void)
{
}
#endif

#ifdef NNRT_NO_THREADS
/*
 * Embedded builds without pthreads (-DNNRT_NO_THREADS): one thread, every
 * job run serially by the caller, no global state.
 */
int nnrt_threads_init(int n)
{
    (void)n;
    return 1;
}

void nnrt_threads_shutdown(void)
{
}

int nnrt_threads_count(void)
{
    return 1;
}

void nnrt_parallel_for(int ntasks, void (*fn)(void *ctx, int task), void *ctx)
{
    for (int i = 0; i < ntasks; i++)
        fn(ctx, i);
}
#else

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#define SPIN_ROUNDS 20000 /* pause instructions a worker spins before it sleeps */
#define YIELD_ROUNDS 4096 /* pause instructions between sched_yield calls while it spins */

/*
 * Claim and done words: a job's generation (its low GEN_BITS bits) above a
 * count of TASK_BITS bits. Generations are compared modulo 2^GEN_BITS, so a
 * worker tells an older word from a newer one unless it was held up for
 * 2^39 jobs between reading a job and claiming a task of it.
 */
#define TASK_BITS 24
#define GEN_BITS 40
#define MAX_TASKS ((1 << TASK_BITS) - 1)            /* tasks in one job; more run in several */
#define GEN_MASK (((uint64_t)1 << GEN_BITS) - 1)
#define WORD(g, n) ((((g) & GEN_MASK) << TASK_BITS) | (uint64_t)(n))
#define WORD_GEN(w) ((w) >> TASK_BITS)
#define WORD_COUNT(w) ((int)((w) & MAX_TASKS))

/*
 * The job, on one cache line: a worker learns all of it in one transfer.
 * The caller writes fn, ctx, fpenv and nthreads, then word. A worker that read an
 * older job's fields with a newer word (or the reverse) cannot run them: a
 * task of a job that has ended is never claimed (claim), and while a job
 * runs the caller writes nothing here.
 */
typedef struct Job {
    _Alignas(64) _Atomic uint64_t word; /* WORD(generation, ntasks); written last */
    _Atomic(void (*)(void *, int)) fn;  /* the tasks */
    _Atomic(void *) ctx;                /* their context */
    _Atomic unsigned long fpenv;        /* the caller's floating-point control bits */
    atomic_int nthreads;                /* the pool's size, for the blocks */
} Job;

/* A word alone on its cache line. */
typedef struct Line {
    _Alignas(64) _Atomic uint64_t w;
} Line;

typedef struct Pool {
    Job job;                          /* the current job; only the caller writes it */
    Line claim[NNRT_MAX_THREADS];     /* block i's tasks taken, by its thread or by one taking it over */
    Line done[NNRT_MAX_THREADS];      /* tasks of the job worker i has finished, of any block */
    pthread_t tid[NNRT_MAX_THREADS];  /* workers; tid[0] is unused (the caller) */
    int nthreads;                     /* threads in force, the caller included */
    pthread_mutex_t mu;               /* guards the wait on wake */
    pthread_cond_t wake;              /* broadcast when a job is published and someone sleeps */
    atomic_int sleepers;              /* workers asleep on wake, or about to be */
    atomic_int busy;                  /* 1 while a job runs */
    uint64_t start_word;              /* the job word when the workers were made */
} Pool;

/* Set while this thread runs a task: what it calls then runs serially. */
static _Thread_local int in_task;

static Pool pool = {
    .nthreads = 1,
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
};

/* A polite busy-wait step. */
static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static uint64_t current_word(void)
{
    return atomic_load_explicit(&pool.job.word, memory_order_acquire);
}

/*
 * The first task of block i, thread i's of n: [ntasks i / n, ntasks (i + 1) / n),
 * or with fewer tasks than threads, task i for threads 0..ntasks-1.
 */
static int block_lo(int ntasks, int i, int n)
{
    return ntasks >= n ? (int)((long long)ntasks * i / n) : i < ntasks ? i : ntasks;
}

static int block_size(int ntasks, int i, int n)
{
    return block_lo(ntasks, i + 1, n) - block_lo(ntasks, i, n);
}

/*
 * Takes the next task of block i (size tasks) for job g: its index in the
 * block, or -1 when none is left. A claim word of another generation means
 * nothing of the block is taken yet, except to a worker that finds it newer
 * than its own job, which has ended then: it takes nothing.
 */
static int claim(int i, uint64_t g, int size, int worker)
{
    _Atomic uint64_t *w = &pool.claim[i].w;
    uint64_t c = atomic_load_explicit(w, memory_order_relaxed);
    for (;;) {
        uint64_t age = (g - WORD_GEN(c)) & GEN_MASK;
        if (worker && age >= (GEN_MASK >> 1))
            return -1;
        int taken = age == 0 ? WORD_COUNT(c) : 0;
        if (taken >= size)
            return -1;
        if (atomic_compare_exchange_weak_explicit(w, &c, WORD(g, taken + 1), memory_order_acq_rel,
                                                  memory_order_relaxed))
            return taken;
    }
}

/* Waits until the job word differs from seen (spinning, then sleeping); returns it. */
static uint64_t wait_for_job(uint64_t seen)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        uint64_t w = current_word();
        if (w != seen)
            return w;
        cpu_relax();
        if (i % YIELD_ROUNDS == YIELD_ROUNDS - 1)
            sched_yield(); /* lets a thread with work run here, when there are more threads than cores */
    }
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add(&pool.sleepers, 1);
    while (atomic_load(&pool.job.word) == seen)
        pthread_cond_wait(&pool.wake, &pool.mu);
    atomic_fetch_sub(&pool.sleepers, 1);
    pthread_mutex_unlock(&pool.mu);
    return current_word();
}

/*
 * Runs the tasks of block b of job g (ntasks over n threads) that thread
 * self can claim, after `finished` tasks of g; returns its new count of
 * finished tasks. A worker says on its done line that it has started, and
 * after each task how many it has finished.
 */
static int run_block(int self, int b, uint64_t g, int ntasks, int n, int finished, void (*fn)(void *, int),
                     void *ctx)
{
    int k, lo = block_lo(ntasks, b, n), size = block_size(ntasks, b, n);
    while ((k = claim(b, g, size, self != 0)) >= 0) {
        if (self != 0 && finished == 0) /* checked in: others leave its block to it */
            atomic_store_explicit(&pool.done[self].w, WORD(g, 0), memory_order_relaxed);
        fn(ctx, lo + k);
        finished++;
        if (self != 0)
            atomic_store_explicit(&pool.done[self].w, WORD(g, finished), memory_order_release);
    }
    return finished;
}

/* Whether thread i has started on job g, by its done line. */
static int checked_in(int i, uint64_t g)
{
    return WORD_GEN(atomic_load_explicit(&pool.done[i].w, memory_order_relaxed)) == g;
}

/*
 * A worker's life: wait for a job; run its own block; then take the blocks
 * of other workers that have not started (on a busy machine, or with more
 * threads than cores, some are not running); until shutdown publishes a job
 * without fn.
 */
static void *worker_main(void *arg)
{
    int self = (int)(uintptr_t)arg;
    uint64_t seen = pool.start_word;
    unsigned long env = nnrt_fpenv_get();
    for (;;) {
        seen = wait_for_job(seen);
        uint64_t g = WORD_GEN(seen);
        int ntasks = WORD_COUNT(seen);
        void (*fn)(void *, int) = atomic_load_explicit(&pool.job.fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&pool.job.ctx, memory_order_relaxed);
        unsigned long fpenv = atomic_load_explicit(&pool.job.fpenv, memory_order_relaxed);
        int n = atomic_load_explicit(&pool.job.nthreads, memory_order_relaxed);
        if (!fn)
            return NULL; /* shutdown */
        if (fpenv != env)
            nnrt_fpenv_set(env = fpenv);
        in_task = 1;
        for (int d = 0, finished = 0; d < n; d++) {
            int b = (self + d) % n; /* its own block first, then the unstarted ones of other workers */
            if (d == 0 || (b != 0 && block_size(ntasks, b, n) > 0 && !checked_in(b, g)))
                finished = run_block(self, b, g, ntasks, n, finished, fn, ctx);
        }
        in_task = 0;
    }
}

/* Publishes the job word w; wakes sleeping workers. */
static void publish(uint64_t w)
{
    atomic_store_explicit(&pool.job.word, w, memory_order_release);
    /*
     * No fence before this read, which may so miss a worker just falling
     * asleep: that worker's tasks are then run by the caller, and the next
     * job wakes it.
     */
    if (atomic_load_explicit(&pool.sleepers, memory_order_relaxed) > 0) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.wake);
        pthread_mutex_unlock(&pool.mu);
    }
}

/* Tasks of job g that the workers 1..n-1 have finished, by their done lines. */
static int workers_finished(int n, uint64_t g)
{
    int sum = 0;
    for (int i = 1; i < n; i++) {
        uint64_t d = atomic_load_explicit(&pool.done[i].w, memory_order_acquire);
        if (WORD_GEN(d) == g)
            sum += WORD_COUNT(d);
    }
    return sum;
}

void nnrt_threads_shutdown(void)
{
    if (pool.nthreads <= 1)
        return;
    atomic_store_explicit(&pool.job.fn, NULL, memory_order_relaxed);
    pthread_mutex_lock(&pool.mu);
    atomic_store_explicit(&pool.job.word, WORD(WORD_GEN(current_word()) + 1, 0), memory_order_release);
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
    for (int i = 1; i < pool.nthreads; i++)
        pthread_join(pool.tid[i], NULL);
    pool.nthreads = 1;
}

int nnrt_threads_init(int n)
{
    if (n < 1)
        n = 1;
    if (n > NNRT_MAX_THREADS)
        n = NNRT_MAX_THREADS;
    if (n == pool.nthreads)
        return n;
    nnrt_threads_shutdown();
    pool.start_word = current_word();
    int made = 1;
    while (made < n && pthread_create(&pool.tid[made], NULL, worker_main, (void *)(uintptr_t)made) == 0)
        made++;
    pool.nthreads = made;
    return made;
}

int nnrt_threads_count(void)
{
    return in_task ? 1 : pool.nthreads;
}

/* Runs every task on the calling thread. */
static void run_serial(int ntasks, void (*fn)(void *ctx, int task), void *ctx)
{
    for (int t = 0; t < ntasks; t++)
        fn(ctx, t);
}

/* A part of a job too large for one: tasks off, off + 1, ... of the whole. */
typedef struct Part {
    void (*fn)(void *ctx, int task);
    void *ctx;
    int off;
} Part;

static void part_task(void *p, int t)
{
    const Part *part = p;
    part->fn(part->ctx, part->off + t);
}

/*
 * The caller publishes the job and runs its own block. Then it takes tasks
 * from the blocks of workers that have not started (late, or asleep), and
 * from any block of several tasks; then it waits until the workers have
 * finished the rest.
 */
void nnrt_parallel_for(int ntasks, void (*fn)(void *ctx, int task), void *ctx)
{
    int expect = 0;
    if (ntasks <= 1 || pool.nthreads <= 1 || in_task ||
        !atomic_compare_exchange_strong(&pool.busy, &expect, 1)) {
        run_serial(ntasks, fn, ctx);
        return;
    }
    if (ntasks > MAX_TASKS) {
        atomic_store_explicit(&pool.busy, 0, memory_order_release);
        for (int off = 0; off < ntasks; off += MAX_TASKS) {
            Part part = {fn, ctx, off};
            nnrt_parallel_for(ntasks - off < MAX_TASKS ? ntasks - off : MAX_TASKS, part_task, &part);
        }
        return;
    }
    uint64_t g = (WORD_GEN(atomic_load_explicit(&pool.job.word, memory_order_relaxed)) + 1) & GEN_MASK;
    atomic_store_explicit(&pool.job.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool.job.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&pool.job.fpenv, nnrt_fpenv_get(), memory_order_relaxed);
    int n = pool.nthreads;
    atomic_store_explicit(&pool.job.nthreads, n, memory_order_relaxed);
    publish(WORD(g, ntasks));
    in_task = 1;
    int done = block_lo(ntasks, 1, n);
    for (int t = 0; t < done; t++)
        fn(ctx, t);
    for (int i = 1; i < n; i++) {
        int size = block_size(ntasks, i, n);
        if (size > 1 || (size == 1 && !checked_in(i, g)))
            done = run_block(0, i, g, ntasks, n, done, fn, ctx);
    }
    for (unsigned spin = 1; done + workers_finished(n, g) < ntasks; spin++) {
        cpu_relax();
        if (spin % 4096 == 0)
            sched_yield();
    }
    in_task = 0;
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
}

#endif /* NNRT_NO_THREADS */

/* ---- ranges: shared by both builds ---- */

typedef struct RangeJob {
    void (*fn)(void *ctx, int lo, int hi);
    void *ctx;
    int n, tasks;
} RangeJob;

static void range_task(void *p, int t)
{
    const RangeJob *j = p;
    int lo = (int)((long long)j->n * t / j->tasks), hi = (int)((long long)j->n * (t + 1) / j->tasks);
    if (lo < hi)
        j->fn(j->ctx, lo, hi);
}

void nnrt_parallel_range(int n, long long work_per_item, long long min_work, void (*fn)(void *ctx, int lo, int hi),
                         void *ctx)
{
    int tasks = nnrt_threads_count() < n ? nnrt_threads_count() : n;
    if (n <= 0)
        return;
    if (tasks < 2 || (long long)n * work_per_item < min_work) {
        fn(ctx, 0, n);
        return;
    }
    RangeJob j = {fn, ctx, n, tasks};
    nnrt_parallel_for(tasks, range_task, &j);
}
