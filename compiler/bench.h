/*
 * bench.h — `netc bench`: builds a net twice (fused, and with the fusion
 * pass off) with per-kernel profiling at -O3 -march=native, runs `BIN
 * bench` on both, and prints the fused build's report and a comparison.
 */
#ifndef NETC_BENCH_H
#define NETC_BENCH_H

#include <stdbool.h>

typedef struct BenchOptions {
    const char *file;     /* the .net file */
    const char *net;      /* --net NAME, or NULL for the only net */
    const char *cc;       /* C compiler */
    const char *opt;      /* optimization flag, NULL for -O3 */
    const char *keep;     /* --keep DIR: the two binaries and their JSON reports stay there */
    const char *batch;    /* --batch B, passed to BIN bench; NULL: its default */
    const char *steps;    /* --steps K, likewise */
    const char *threads;  /* --threads N, likewise */
    bool libm;            /* --libm: both builds with libm's transcendentals */
    const char *cmdline;  /* for the generated front matter */
} BenchOptions;

/* Runs the whole benchmark; returns the exit status (0, 1 bad input or a failed run, 2 usage). */
int bench_run(const BenchOptions *o);

#endif
