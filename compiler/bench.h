/*
 * bench.h — `netc bench`: builds a net twice (fused, and with the fusion
 * pass off) with per-kernel profiling at -O3 -march=native, runs `BIN
 * bench` on both, and prints the fused build's report and a comparison.
 */
#ifndef NETC_BENCH_H
#define NETC_BENCH_H

#include "schedule.h"

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
    const char *schedule; /* --schedule FILE: routes forced per conv2d, or NULL */
    bool libm;            /* --libm: both builds with libm's transcendentals */
    const char *cmdline;  /* for the generated front matter */
    const char *command;  /* "bench" or "tune", for messages */
} BenchOptions;

/*
 * Runs the whole benchmark, the comparison over `rounds` (--rounds, NULL:
 * 2) alternating rounds; returns the exit status (0, 1 bad input or a
 * failed run, 2 usage).
 */
int bench_run(const BenchOptions *o, const char *rounds);

/* The pieces, shared with `netc tune` (tune.c). */
int bench_check_numbers(const BenchOptions *o);  /* 0, or 2 with a message */
int bench_rounds(const BenchOptions *o, const char *arg);  /* --rounds: 1..100 (NULL: 2), or -1 with a message */
/* Builds bin with per-kernel profiling; routes forced by `routes`, else by o->schedule; an exit status. */
int bench_build(const BenchOptions *o, const char *bin, const char *tag, bool no_fuse, const SchedFile *routes);
/* Runs `bin bench` with o's batch, steps and threads, writing json; 0 or -1. */
int bench_exec(const BenchOptions *o, const char *bin, const char *json, bool show);
/*
 * Runs bin[0] and bin[1] (`BIN bench`, reports to json[0] and json[1]) in
 * `rounds` rounds of alternating order — 0 then 1, 1 then 0, ... — so that
 * a machine that slows down midway does not favour either; after each run
 * read(ctx, i, first) takes what it needs from json[i] (first: i's first
 * round).  show: bin[0]'s first report goes to stdout.  0, or 1 when a run
 * or a read fails.
 */
int bench_alternate(const BenchOptions *o, const char *const bin[2], const char *const json[2], const char *const tag[2],
                    int rounds, bool show, int (*read)(void *ctx, int i, bool first), void *ctx);
/* o->keep, created if need be, or a new directory from the template tmpl; NULL with a message. */
const char *bench_workdir(const BenchOptions *o, char *tmpl);
char *bench_slurp(const char *path);  /* a whole small file (malloc'd), or NULL */
double bench_json_number(const char *text, const char *key);  /* after "key": , or NAN */

#endif
