/*
 * nnrt_threads.c - the persistent pthread pool behind nnrt_parallel_for.
 *
 * One job runs at a time. The caller publishes fn/ctx/ntasks, then bumps the
 * generation counter `gen` (release); workers that see the new generation
 * (acquire) take task numbers from the shared counter `next` until it passes
 * ntasks, and check out through `finished`. The caller works on tasks too and
 * returns only when every worker has checked out, so no worker can still be
 * looking at a job's fields when the next job is published.
 *
 * Idle workers spin on `gen` for about SPIN_ROUNDS pause instructions (a
 * fraction of a millisecond), then sleep on `wake`; the caller broadcasts it
 * only when someone sleeps. `busy` makes a nested or concurrent call run
 * serially instead of deadlocking.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "nnrt_threads.h"

#ifdef NNRT_NO_THREADS
/*
 * Embedded builds without pthreads (-DNNRT_NO_THREADS): one thread, every
 * job run serially by the caller, no global state.
 */
int nnrt_threads_init(int n)
{
    return n <= 1 ? 0 : -1;
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

#define SPIN_ROUNDS 20000 /* pause instructions a worker spins before it sleeps */

typedef struct Pool {
    pthread_t tid[NNRT_MAX_THREADS]; /* workers; tid[0] is unused (the caller) */
    int nthreads;                    /* threads in force, the caller included */
    pthread_mutex_t mu;              /* guards sleepers and the wait on wake */
    pthread_cond_t wake;             /* signalled when gen moves and someone sleeps */
    int sleepers;                    /* workers blocked on wake */
    atomic_int quit;                 /* set by shutdown before its gen bump */
    atomic_uint gen;                 /* job generation, bumped per job */
    atomic_int next;                 /* next task number to hand out */
    atomic_int finished;             /* workers checked out of the current job */
    atomic_int busy;                 /* 1 while a job runs */
    void (*fn)(void *ctx, int task); /* the current job */
    void *ctx;                       /* its context */
    int ntasks;                      /* its task count */
} Pool;

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

/* Runs tasks of the current job until none is left. */
static void run_tasks(void)
{
    int t;
    while ((t = atomic_fetch_add_explicit(&pool.next, 1, memory_order_relaxed)) < pool.ntasks)
        pool.fn(pool.ctx, t);
}

/* Waits until gen differs from seen (spinning, then sleeping); returns the new gen. */
static unsigned wait_for_job(unsigned seen)
{
    for (int i = 0; i < SPIN_ROUNDS; i++) {
        unsigned g = atomic_load_explicit(&pool.gen, memory_order_acquire);
        if (g != seen)
            return g;
        cpu_relax();
    }
    pthread_mutex_lock(&pool.mu);
    pool.sleepers++;
    while (atomic_load_explicit(&pool.gen, memory_order_acquire) == seen)
        pthread_cond_wait(&pool.wake, &pool.mu);
    pool.sleepers--;
    pthread_mutex_unlock(&pool.mu);
    return atomic_load_explicit(&pool.gen, memory_order_acquire);
}

/* A worker's life: wait for a job, help with it, check out; until quit. */
static void *worker_main(void *arg)
{
    unsigned seen = (unsigned)(size_t)arg;
    for (;;) {
        seen = wait_for_job(seen);
        if (atomic_load_explicit(&pool.quit, memory_order_relaxed))
            return NULL;
        run_tasks();
        atomic_fetch_add_explicit(&pool.finished, 1, memory_order_release);
    }
}

/* Publishes a new generation and wakes sleeping workers. */
static void bump_generation(void)
{
    pthread_mutex_lock(&pool.mu);
    atomic_fetch_add_explicit(&pool.gen, 1, memory_order_release);
    if (pool.sleepers > 0)
        pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.mu);
}

void nnrt_threads_shutdown(void)
{
    if (pool.nthreads <= 1)
        return;
    atomic_store_explicit(&pool.quit, 1, memory_order_relaxed);
    bump_generation();
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
    unsigned g = atomic_load_explicit(&pool.gen, memory_order_relaxed);
    int made = 1;
    while (made < n && pthread_create(&pool.tid[made], NULL, worker_main, (void *)(size_t)g) == 0)
        made++;
    pool.nthreads = made;
    return made;
}

int nnrt_threads_count(void)
{
    return pool.nthreads;
}

/* Runs every task on the calling thread. */
static void run_serial(int ntasks, void (*fn)(void *ctx, int task), void *ctx)
{
    for (int t = 0; t < ntasks; t++)
        fn(ctx, t);
}

/* Spins (yielding now and then) until every worker has checked out. */
static void wait_for_workers(void)
{
    int workers = pool.nthreads - 1;
    for (unsigned i = 1; atomic_load_explicit(&pool.finished, memory_order_acquire) < workers; i++) {
        cpu_relax();
        if (i % 4096 == 0)
            sched_yield();
    }
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
    pool.ntasks = ntasks;
    atomic_store_explicit(&pool.next, 0, memory_order_relaxed);
    atomic_store_explicit(&pool.finished, 0, memory_order_relaxed);
    bump_generation();
    run_tasks();
    wait_for_workers();
    atomic_store_explicit(&pool.busy, 0, memory_order_release);
}

#endif /* NNRT_NO_THREADS */
