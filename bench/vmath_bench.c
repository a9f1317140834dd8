/*
 * vmath_bench.c - nnrt_vmath's array functions, time per element, for SLEEF
 * against libm (docs/performance.md, "Transcendentals").
 *
 *   for v in "-march=native" "" "-march=native -DNNRT_LIBM"; do
 *     cc -std=c11 -O3 -fno-math-errno $v -Iruntime -o vmath_bench \
 *        bench/vmath_bench.c runtime/nnrt_vmath.c -lsleef -lm && ./vmath_bench
 *   done
 *
 * (the three builds `netc build` makes: native SLEEF, i.e. AVX2 on AVX2
 * machines; generic SLEEF, SSE2 on x86-64; and --libm).  Each function runs
 * over N = 131072 floats (512 KiB in, 512 KiB out: a 64 x 2048 activation)
 * spread evenly over [-4, 4], or over [-0.5, 0.5] with "small": glibc's
 * erff and tanhf take a short path for small arguments, SLEEF's cost does
 * not depend on the value.  Times are the best of 30 runs in the thread's
 * CPU time, which other processes on a shared machine disturb least.
 */
#define _POSIX_C_SOURCE 200809L
#include "nnrt_vmath.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

enum { N = 131072, RUNS = 30 };

static float x[N], y[N];

typedef void ArrayFn(float *y, const float *x, size_t n);

static double cpu_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Best time of RUNS calls of fn over x, in ns per element. */
static double time_fn(ArrayFn *fn)
{
    double best = 1e30;
    for (int r = 0; r < RUNS; r++) {
        double t = cpu_seconds();
        fn(y, x, N);
        t = cpu_seconds() - t;
        best = t < best ? t : best;
    }
    return best * 1e9 / N;
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        ArrayFn *fn;
    } fns[] = {
        {"exp", nnrt_vexp},         {"log1p", nnrt_vlog1p},         {"tanh", nnrt_vtanh},
        {"erf", nnrt_verf},         {"sigmoid", nnrt_vsigmoid},     {"silu", nnrt_vsilu},
        {"gelu", nnrt_vgelu},       {"silu_grad", nnrt_vsilu_grad}, {"gelu_grad", nnrt_vgelu_grad},
    };
    printf("nnrt_vmath: %s\n%-10s %14s %14s\n", nnrt_vmath_impl(), "function", "[-4,4] ns/elt", "[-.5,.5] ns/elt");
    for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
        double t[2];
        for (int small = 0; small < 2; small++) {
            float r = small ? 0.5f : 4.0f;
            for (int i = 0; i < N; i++)
                x[i] = -r + 2.0f * r * (float)i / N;
            t[small] = time_fn(fns[k].fn);
        }
        printf("%-10s %14.2f %14.2f\n", fns[k].name, t[0], t[1]);
    }
    (void)argc;
    (void)argv;
    return 0;
}
