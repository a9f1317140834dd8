/*
 * nnrt_threads.h - a tiny persistent pthread pool for the runtime's kernels.
 *
 * nnrt_threads_init(n) starts n-1 workers once; the calling thread is the
 * n-th. nnrt_parallel_for(ntasks, fn, ctx) runs fn(ctx, 0..ntasks-1) on the
 * pool and returns when every task has finished. Workers spin for a short
 * while after a job (so back-to-back kernels of a training step dispatch in
 * well under a microsecond), then sleep on a condition variable.
 *
 * Each thread runs a fixed block of the tasks; the block of a worker that
 * has not started on it (asleep or descheduled) is taken over by the others, so
 * a task must not care which thread runs it: a task that needs scratch
 * memory indexes it by its task number.  Inside a task
 * nnrt_threads_count() is 1.
 * Results stay deterministic as long as each task's work is a fixed function
 * of its task number (the GEMM splits output columns or rows, never K).
 *
 * A nested nnrt_parallel_for (from inside a task, or from a second thread
 * while the pool is busy) runs its tasks serially on the calling thread.
 * Without nnrt_threads_init, or after nnrt_threads_init(1), everything runs
 * on the caller and no thread is ever created. Built with -DNNRT_NO_THREADS
 * (embedded targets without pthreads) the pool is compiled out: one thread.
 */
#ifndef NNRT_THREADS_H
#define NNRT_THREADS_H

#define NNRT_MAX_THREADS 64 /* largest pool nnrt_threads_init accepts */

/*
 * Sets the pool to n threads (the caller included), n clamped to
 * [1, NNRT_MAX_THREADS]; an existing pool of another size is shut down
 * first. Returns the thread count in force, which is smaller than n only
 * if pthread_create failed. Not to be called from inside a task.
 */
int nnrt_threads_init(int n);

/* Joins the workers and frees the pool; the count drops back to 1. */
void nnrt_threads_shutdown(void);

/* The thread count in force: 1 until nnrt_threads_init says otherwise, and 1 inside a task. */
int nnrt_threads_count(void);

/*
 * Runs fn(ctx, task) for task = 0..ntasks-1 over the pool; returns when all
 * are done. The workers run the tasks with the caller's floating-point
 * control state (nnrt_fpenv_get), so rounding and denormal flushing, and
 * with them the results, do not depend on the thread count.
 */
void nnrt_parallel_for(int ntasks, void (*fn)(void *ctx, int task), void *ctx);

/*
 * The calling thread's floating-point control bits: MXCSR's (rounding,
 * exception masks, FTZ, DAZ) on x86, FPCR on AArch64, 0 elsewhere; the
 * status flags are left out. nnrt_fpenv_set puts such bits back.
 */
unsigned long nnrt_fpenv_get(void);
void nnrt_fpenv_set(unsigned long env);

/*
 * Makes the calling thread treat denormal floats as zero, in and out (FTZ
 * and DAZ on x86, FZ on AArch64; nothing elsewhere). A training run's Adam
 * moments for weights that get no gradient (the always-black pixels of
 * Fashion-MNIST) decay into denormals after a few hundred steps, and
 * arithmetic on them made fashion_mlp's epoch 7% slower. What changes is
 * below 1.2e-38, far under float32 tolerance. The binaries netc builds
 * call it at start; an embedding program may.
 */
void nnrt_flush_denormals(void);

/*
 * Runs fn(ctx, lo, hi) over [0, n) cut into one contiguous range per thread
 * (at most n ranges; the whole of it on the caller with one thread or when
 * n * work_per_item < min_work). The ranges depend on the thread count, so
 * fn must compute each item independently of the others (as generated
 * kernels do for the samples of a batch) for results to be the same for
 * every thread count.
 */
void nnrt_parallel_range(int n, long long work_per_item, long long min_work, void (*fn)(void *ctx, int lo, int hi),
                         void *ctx);

/* The usual context of a per-sample job in generated code. */
typedef struct NnrtSamples {
    const float *src; /* read */
    float *dst;       /* written */
    int batch;        /* samples in the whole batch (for batch-wide layouts) */
    const float *aux; /* a second input, or NULL */
} NnrtSamples;

#endif
