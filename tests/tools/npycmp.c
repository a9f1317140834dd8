/*
 * npycmp.c — compares two float32 .npy files elementwise:
 *
 *   npycmp GOT.npy EXPECTED.npy [RTOL]
 *
 * passes when |got - expected| <= RTOL * max(1, |expected|) for every
 * element (RTOL defaults to 1e-4) and the shapes are equal.  Prints the
 * largest error either way; exit 0 pass, 1 fail, 2 unreadable input.
 */
#include "nnrt_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: npycmp GOT.npy EXPECTED.npy [RTOL]\n");
        return 2;
    }
    double rtol = argc > 3 ? atof(argv[3]) : 1e-4;
    NnrtArray a = {0}, b = {0};
    NnrtError err;
    if (nnrt_npy_load(argv[1], &a, &err) || nnrt_npy_load(argv[2], &b, &err)) {
        fprintf(stderr, "npycmp: %s\n", err.msg);
        return 2;
    }
    char sa[128], sb[128];
    nnrt_format_shape(sa, sizeof sa, a.ndim, a.shape);
    nnrt_format_shape(sb, sizeof sb, b.ndim, b.shape);
    int same = a.ndim == b.ndim && a.count == b.count;
    for (int i = 0; same && i < a.ndim; i++)
        same = a.shape[i] == b.shape[i];
    if (!same) {
        printf("shape %s, expected %s\n", sa, sb);
        return 1;
    }
    float *x = malloc(sizeof(float) * (a.count + 1)), *y = malloc(sizeof(float) * (b.count + 1));
    nnrt_array_get_f32(&a, 0, a.count, 1.0f, x);
    nnrt_array_get_f32(&b, 0, b.count, 1.0f, y);
    double worst = 0;
    size_t at = 0;
    for (size_t i = 0; i < a.count; i++) {
        double e = fabs((double)x[i] - y[i]) / fmax(1.0, fabs(y[i]));
        if (!(e <= worst)) {  /* NaN counts as the worst */
            worst = isnan(e) ? INFINITY : e;
            at = i;
        }
    }
    int ok = worst <= rtol;
    printf("%s max rel err %.3g at %zu (got %.7g, expected %.7g)\n", ok ? "ok" : "FAIL", worst, at,
           a.count ? x[at] : 0.0, b.count ? y[at] : 0.0);
    free(x);
    free(y);
    nnrt_array_free(&a);
    nnrt_array_free(&b);
    return ok ? 0 : 1;
}
