/*
 * nnrt_threads.c - the persistent pthread pool behind nnrt_parallel_for.
 *
 * One job runs at a time. Its life is kept in one 64-bit word, `state`:
 * the job's generation (high 32 bits), a closed flag and the number of
 * workers checked in to it. The caller publishes fn/ctx and each thread's
 * block of tasks, then a new generation with no worker in it. A worker that sees
 * the new generation checks in with a compare-and-swap, which fails once the
 * job is closed; only then does it read the job, run the tasks of its own
 * block (thread i of n owns tasks [ntasks i / n, ntasks (i + 1) / n)), then
 * take what is left of the others' blocks, and check out. The caller is
 * thread 0 and works the same way; when every task is taken it closes the
 * job and waits for the workers checked in to check out. So a worker that
 * wakes late (the machine is busy, or it was asleep) never holds the caller
 * up and never sees a stale job: the caller has simply done its share. And
 * a thread on time runs the same tasks on every call with the same task
 * count, so consecutive kernels split the same way find their data in the
 * same core's caches.
 *
 * While a thread runs a task, nnrt_threads_count() says 1 to it (a
 * thread-local flag): what the task calls plans for one thread and runs
 * serially, as a sharded train step's kernels must.
 *
 * A worker takes on the caller's floating-point control bits (rounding,
 * denormal flushing) before it runs a job's tasks, so a task computes the
 * same on every thread.
 *
 * Idle workers spin on `state` for about SPIN_ROUNDS pause instructions (a
 * fraction of a millisecond), then sleep on `wake`; the caller broadcasts it
 * only when someone sleeps. `busy` makes a nested or concurrent call run
 * serially instead of deadlocking.
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

#define SPIN_ROUNDS 20000               /* pause instructions a worker spins before it sleeps */
#define CLOSED ((uint64_t)1 << 31)      /* state: no more check-ins */
#define ACTIVE_MASK (CLOSED - 1)        /* state: workers checked in */
#define GEN(s) ((uint32_t)((s) >> 32))  /* state: generation */

/* One thread's run of a job's tasks, [next, end), on a cache line of its own. */
typedef struct Block {
    _Alignas(64) atomic_int next; /* next task of the run to hand out */
    int end;                      /* one past its last task */
} Block;

typedef struct Pool {
    pthread_t tid[NNRT_MAX_THREADS]; /* workers; tid[0] is unused (the caller) */
    int nthreads;                    /* threads in force, the caller included */
    pthread_mutex_t mu;              /* guards sleepers and the wait on wake */
    pthread_cond_t wake;             /* signalled when a job is published and someone sleeps */
    int sleepers;                    /* workers blocked on wake */
    atomic_int quit;                 /* set by shutdown before its publish */
    _Atomic uint64_t state;          /* generation | CLOSED | workers checked in */
    Block block[NNRT_MAX_THREADS];   /* each thread's own run of tasks */
    atomic_int busy;                 /* 1 while a job runs */
    void (*fn)(void *ctx, int task); /* the current job */
    void *ctx;                       /* its context */
    unsigned long fpenv;             /* its caller's floating-point control bits */
    uint32_t start_gen;              /* the generation when the workers were made */
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

static uint32_t current_gen(void)
{
    return GEN(atomic_load_explicit(&pool.state, memory_order_acquire));
}

/* Runs the tasks left in block b; returns when it is used up. */
static void run_block(Block *b)
{
    int t;
    while ((t = atomic_fetch_add_explicit(&b->next, 1, memory_order_relaxed)) < b->end)
        pool.fn(pool.ctx, t);
}

/*
 * Thread self runs its own block of the current job, then helps with the
 * others' (a late or descheduled thread never holds the job up). The blocks
 * are the same for every call with the same task count, so a thread that is
 * on time always runs the same tasks: the samples a kernel writes are on the
 * core that reads them in the next kernel.
 */
static void run_tasks(int self)
{
    int n = pool.nthreads;
    for (int i = 0; i < n; i++)
        run_block(&pool.block[(self + i) % n]);
}

/* Waits until the generation differs from seen (spinning, then sleeping); returns it. */
static uint32_t wait_for_job(uint32_t seen)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        uint32_t g = current_gen();
        if (g != seen)
            return g;
        cpu_relax();
    }
    pthread_mutex_lock(&pool.mu);
    pool.sleepers++;
    while (current_gen() == seen)
        pthread_cond_wait(&pool.wake, &pool.mu);
    pool.sleepers--;
    pthread_mutex_unlock(&pool.mu);
    return current_gen();
}

/* Checks in to job generation g; fails if it is closed or already replaced. */
static int check_in(uint32_t g)
{
    uint64_t s = atomic_load_explicit(&pool.state, memory_order_acquire);
    while (GEN(s) == g && !(s & CLOSED))
        if (atomic_compare_exchange_weak_explicit(&pool.state, &s, s + 1, memory_order_acquire,
                                                  memory_order_acquire))
            return 1;
    return 0;
}

/* A worker's life: wait for a job, help with it if still open, check out; until quit. */
static void *worker_main(void *arg)
{
    int self = (int)(uintptr_t)arg;
    uint32_t seen = pool.start_gen;
    unsigned long env = nnrt_fpenv_get();
    for (;;) {
        seen = wait_for_job(seen);
        if (atomic_load_explicit(&pool.quit, memory_order_acquire))
            return NULL;
        if (!check_in(seen))
            continue;
        if (pool.fpenv != env)
            nnrt_fpenv_set(env = pool.fpenv);
        in_task = 1;
        run_tasks(self);
        in_task = 0;
        atomic_fetch_sub_explicit(&pool.state, 1, memory_order_release);
    }
}

/* Publishes a new generation with nobody checked in, and wakes sleeping workers. */
static void publish(void)
{
    pthread_mutex_lock(&pool.mu);
    uint64_t g = GEN(atomic_load_explicit(&pool.state, memory_order_relaxed)) + 1u;
    atomic_store_explicit(&pool.state, (g & 0xffffffffu) << 32, memory_order_release);
    if (pool.sleepers > 0)
        pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
}

/* Closes the current job to check-ins, then waits for the workers in it to check out. */
static void close_and_wait(void)
{
    uint64_t s = atomic_fetch_or_explicit(&pool.state, CLOSED, memory_order_acq_rel);
    for (unsigned i = 1; s & ACTIVE_MASK; i++) {
        cpu_relax();
        if (i % 4096 == 0)
            sched_yield();
        s = atomic_load_explicit(&pool.state, memory_order_acquire);
    }
}

void nnrt_threads_shutdown(void)
{
    if (pool.nthreads <= 1)
        return;
    atomic_store_explicit(&pool.quit, 1, memory_order_relaxed);
    publish();
    for (int i = 1; i < pool.nthreads; i++)
        pthread_join(pool.tid[i], NULL);
    atomic_store_explicit(&pool.quit, 0, memory_order_relaxed);
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
    pool.start_gen = current_gen();
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

void nnrt_parallel_for(int ntasks, void (*fn)(void *ctx, int task), void *ctx)
{
    int expect = 0;
    if (ntasks <= 1 || pool.nthreads <= 1 ||
        !atomic_compare_exchange_strong(&pool.busy, &expect, 1)) {
        run_serial(ntasks, fn, ctx);
        return;
    }
    pool.fn = fn;
    pool.ctx = ctx;
    pool.fpenv = nnrt_fpenv_get();
    int n = pool.nthreads;
    for (int i = 0; i < n; i++) {
        atomic_store_explicit(&pool.block[i].next, (int)((long long)ntasks * i / n), memory_order_relaxed);
        pool.block[i].end = (int)((long long)ntasks * (i + 1) / n);
    }
    publish();
    in_task = 1;
    run_tasks(0);
    in_task = 0;
    close_and_wait();
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
