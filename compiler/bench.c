/*
 * bench.c — `netc bench FILE.net [--batch B] [--steps K] [--threads N]
 * [--rounds R]`.
 *
 * Builds the net into two standalone binaries in a temporary directory (or
 * --keep DIR): one with the full pipeline, one with the fusion pass off;
 * both at -O3 (or -O given) -march=native with -DNNRT_PROFILE, so the
 * generated kernel calls record their times.  Then runs `BIN bench ...
 * --json` on both in R rounds (default 2) of alternating order — fused
 * then unfused, unfused then fused, ... — so that a machine that slows
 * down midway does not decide the ratio; the first round's fused report
 * (with the per-kernel table) goes to stdout, the others are discarded.
 * The fused-vs-unfused comparison takes each build's best round of each
 * timing.  What `BIN bench` measures is described in runtime/nnrt_bench.c
 * and docs/performance.md.
 */
#include "bench.h"

#include "build.h"
#include "passes.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { BENCH_EXIT_INPUT = 1, BENCH_EXIT_USAGE = 2, BENCH_DEFAULT_ROUNDS = 2, BENCH_MAX_ROUNDS = 100 };

/*
 * -D_POSIX_C_SOURCE: the NNRT_PROFILE timer in nnrt_model.h calls
 * clock_gettime, and not every file that includes it asks for POSIX.
 */
#define BENCH_CFLAGS "-DNNRT_PROFILE -D_POSIX_C_SOURCE=200809L"

/* The timings the comparison reads from each report, per row: the median of wall time, and of CPU time. */
static const char *const COMPARED[][2] = {{"infer_b1_us", "infer_b1_cpu_us"},
                                          {"infer_batch_us", "infer_batch_cpu_us"},
                                          {"train_step_us", "train_step_cpu_us"}};
enum { NCOMPARED = sizeof COMPARED / sizeof COMPARED[0] };

/* The two builds compared. */
typedef struct Variant {
    const char *tag;           /* "fused", "unfused" */
    bool no_fuse;              /* fusion pass off */
    char bin[4096];            /* DIR/<tag> */
    char json[4096];           /* DIR/<tag>.json */
    double best[NCOMPARED][2]; /* the best round of each COMPARED timing, NAN if absent */
} Variant;

/* 1 if s is a whole number in [1, 1e9]. */
static bool positive_int(const char *s)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    return *s && !*end && !errno && v >= 1 && v <= 1000000000;
}

int bench_check_numbers(const BenchOptions *o)
{
    const char *names[] = {"--batch", "--steps", "--threads"};
    const char *vals[] = {o->batch, o->steps, o->threads};
    for (int i = 0; i < 3; i++)
        if (vals[i] && !positive_int(vals[i])) {
            fprintf(stderr, "netc %s: %s takes a positive integer, not '%s'\n", o->command, names[i], vals[i]);
            return BENCH_EXIT_USAGE;
        }
    return 0;
}

int bench_rounds(const BenchOptions *o, const char *arg)
{
    if (!arg)
        return BENCH_DEFAULT_ROUNDS;
    char *end = NULL;
    long v = strtol(arg, &end, 10);
    if (*arg && !*end && v >= 1 && v <= BENCH_MAX_ROUNDS)
        return (int)v;
    fprintf(stderr, "netc %s: --rounds takes a whole number from 1 to %d, not '%s'\n", o->command, BENCH_MAX_ROUNDS, arg);
    return -1;
}

/*
 * Compiles the net (fused or not; routes from `routes`, else from the file
 * o->schedule, else the default rule) and builds bin with profiling; an
 * exit status.
 */
int bench_build(const BenchOptions *o, const char *bin, const char *tag, bool no_fuse, const SchedFile *routes)
{
    Compilation c;
    int rc = passes_load(&c, o->file);
    if (rc == 0 && !routes && o->schedule)
        rc = passes_load_schedule(&c, o->schedule);
    if (rc == 0) {
        c.target = build_host_target(true);
        c.no_fuse = no_fuse;
        c.routes = routes ? routes : c.routes;
        const Net *n = passes_pick_net(&c, o->net);
        IrGraph *g = n ? passes_run(&c, n, NULL) : NULL;
        BuildOptions b = {0};
        b.cc = o->cc;
        b.opt = o->opt ? o->opt : "-O3";
        b.native = true;
        b.libm = o->libm;
        b.cflags = BENCH_CFLAGS;
        b.cmdline = o->cmdline;
        if (g)
            fprintf(stderr, "netc %s: building %s (%s, %s -march=native %s%s)\n", o->command, bin, tag, b.opt,
                    BENCH_CFLAGS, b.libm ? ", --libm" : "");
        rc = !n ? BENCH_EXIT_USAGE : !g || build_binary(g, bin, NULL, &b) != 0 ? BENCH_EXIT_INPUT : 0;
    }
    if (c.diag.nerrors)
        fprintf(stderr, "%d error%s.\n", c.diag.nerrors, c.diag.nerrors == 1 ? "" : "s");
    passes_free(&c);
    return rc;
}

/* Runs `bin bench [options] --json json`, its stdout kept or discarded; 0 or -1. */
int bench_exec(const BenchOptions *o, const char *bin, const char *json, bool show)
{
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)bin;
    argv[n++] = "bench";
    const char *names[] = {"--batch", "--steps", "--threads"};
    const char *vals[] = {o->batch, o->steps, o->threads};
    for (int i = 0; i < 3; i++)
        if (vals[i]) {
            argv[n++] = (char *)names[i];
            argv[n++] = (char *)vals[i];
        }
    argv[n++] = "--json";
    argv[n++] = (char *)json;
    argv[n] = NULL;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        if (!show && !freopen("/dev/null", "w", stdout))
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0;
    while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    fprintf(stderr, "netc %s: '%s bench' failed\n", o->command, bin);
    return -1;
}

/* The whole of a small file, NUL-terminated (malloc'd), or NULL. */
char *bench_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0, got;
    do {
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = 2 * cap + 8192);
            if (!nb)
                break;
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
    } while (got > 0);
    fclose(f);
    if (buf)
        buf[len] = '\0';
    return buf;
}

/* The number after "key": in a flat JSON text, or NAN. */
double bench_json_number(const char *text, const char *key)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    const char *p = text ? strstr(text, pat) : NULL;
    return p ? strtod(p + strlen(pat), NULL) : NAN;
}

/* Occurrences of s in text. */
static int count_of(const char *text, const char *s)
{
    int n = 0;
    for (const char *p = text; p && (p = strstr(p, s)); p += strlen(s))
        n++;
    return n;
}

static void print_time(double us)
{
    if (isnan(us))
        printf(" %12s", "-");
    else if (us < 1000)
        printf(" %9.1f us", us);
    else
        printf(" %9.3f ms", us / 1000);
}

int bench_alternate(const BenchOptions *o, const char *const bin[2], const char *const json[2], const char *const tag[2],
                    int rounds, bool show, int (*read)(void *ctx, int i, bool first), void *ctx)
{
    for (int r = 0; r < rounds; r++)
        for (int j = 0; j < 2; j++) {
            int i = r % 2 == 0 ? j : 1 - j;
            fprintf(stderr, "netc %s: round %d of %d, %s\n", o->command, r + 1, rounds, tag[i]);
            if (bench_exec(o, bin[i], json[i], show && r == 0 && i == 0) || read(ctx, i, r == 0))
                return BENCH_EXIT_INPUT;
        }
    return 0;
}

/* bench_alternate's read: keeps, per COMPARED timing, the better of variant i's best so far and this round's. */
static int keep_best(void *ctx, int i, bool first)
{
    Variant *v = (Variant *)ctx + i;
    char *text = bench_slurp(v->json);
    if (!text) {
        fprintf(stderr, "netc bench: cannot read '%s'\n", v->json);
        return BENCH_EXIT_INPUT;
    }
    for (int k = 0; k < NCOMPARED; k++)
        for (int c = 0; c < 2; c++) {
            double x = bench_json_number(text, COMPARED[k][c]);
            if (first || isnan(v->best[k][c]) || x < v->best[k][c])
                v->best[k][c] = x;
        }
    free(text);
    return 0;
}

/* Comparison row k (COMPARED[k], wall and CPU time): both builds' times, unfused / fused. */
static void compare_row(const char *what, const Variant *fused, const Variant *unfused, int k)
{
    double f = fused->best[k][0], u = unfused->best[k][0], fc = fused->best[k][1], uc = unfused->best[k][1];
    if (isnan(f) && isnan(u))
        return;
    printf("%-22s", what);
    print_time(f);
    print_time(u);
    if (f > 0 && u > 0)
        printf(" %9.2fx", u / f);
    else
        printf(" %10s", "-");
    if (fc > 0 && uc > 0)
        printf(" %15.2fx", uc / fc);
    printf("\n");
}

/* Prints the comparison of the best rounds, with the kernel counts from both JSON reports; an exit status. */
static int compare(const Variant *fused, const Variant *unfused, int rounds)
{
    char *fj = bench_slurp(fused->json), *uj = bench_slurp(unfused->json);
    if (!fj || !uj) {
        fprintf(stderr, "netc bench: cannot read '%s'\n", fj ? unfused->json : fused->json);
        free(fj);
        free(uj);
        return BENCH_EXIT_INPUT;
    }
    int batch = (int)bench_json_number(fj, "batch");
    char rowb[64], rowt[64];
    snprintf(rowb, sizeof rowb, "inference batch %d", batch);
    snprintf(rowt, sizeof rowt, "train step batch %d", batch);
    printf("\nfused vs unfused (medians of wall time, the best of %d alternating round%s each; ratio = unfused /\n"
           "fused: above 1 means fusion helps; CPU-time ratio: the same for the calling thread's CPU time,\n"
           "steadier on a busy machine, whole with 1 thread)\n", rounds, rounds == 1 ? "" : "s");
    printf("%-22s %12s %12s %10s %16s\n", "", "fused", "unfused", "ratio", "CPU-time ratio");
    compare_row("inference batch 1", fused, unfused, 0);
    compare_row(rowb, fused, unfused, 1);
    compare_row(rowt, fused, unfused, 2);
    int fk = count_of(fj, "\"pass\": "), uk = count_of(uj, "\"pass\": ");
    int ff = count_of(fj, "\"pass\": \"forward\""), uf = count_of(uj, "\"pass\": \"forward\"");
    printf("%-22s %12d %12d\n", "kernels per forward", ff, uf);
    if (fk > ff || uk > uf)
        printf("%-22s %12d %12d\n", "kernels per step", fk - ff, uk - uf);
    free(fj);
    free(uj);
    return 0;
}

static void cleanup(const char *dir, Variant *v, int nv)
{
    for (int i = 0; i < nv; i++) {
        unlink(v[i].bin);
        unlink(v[i].json);
    }
    rmdir(dir);
}

/* Names the binaries and reports in dir; -1 if a path is too long. */
static int name_variants(const char *dir, const char *stem, Variant *v, int nv)
{
    for (int i = 0; i < nv; i++) {
        int a = snprintf(v[i].bin, sizeof v[i].bin, "%s/%s-%s", dir, stem, v[i].tag);
        int b = snprintf(v[i].json, sizeof v[i].json, "%s/%s-%s.json", dir, stem, v[i].tag);
        if (a < 0 || b < 0 || (size_t)a >= sizeof v[i].bin || (size_t)b >= sizeof v[i].json)
            return -1;
    }
    return 0;
}

const char *bench_workdir(const BenchOptions *o, char *tmpl)
{
    const char *dir = o->keep;
    if (dir && mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "netc %s: cannot create directory '%s': %s\n", o->command, dir, strerror(errno));
        return NULL;
    }
    if (!dir && !(dir = mkdtemp(tmpl)))
        fprintf(stderr, "netc %s: cannot create a temporary directory: %s\n", o->command, strerror(errno));
    return dir;
}

int bench_run(const BenchOptions *o, const char *rounds_arg)
{
    Variant v[2] = {{.tag = "fused", .no_fuse = false}, {.tag = "unfused", .no_fuse = true}};
    char tmp[] = "/tmp/netc-bench-XXXXXX";
    int rounds = bench_rounds(o, rounds_arg);
    if (rounds < 0)
        return BENCH_EXIT_USAGE;
    int rc = bench_check_numbers(o);
    if (rc)
        return rc;
    const char *dir = bench_workdir(o, tmp);
    if (!dir)
        return BENCH_EXIT_INPUT;
    const char *base = strrchr(o->file, '/') ? strrchr(o->file, '/') + 1 : o->file;
    char stem[256];
    snprintf(stem, sizeof stem, "%.*s", (int)strcspn(base, "."), base);
    if (name_variants(dir, o->net ? o->net : stem, v, 2) != 0) {
        fprintf(stderr, "netc bench: directory name too long\n");
        rc = BENCH_EXIT_USAGE;
    }
    for (int i = 0; i < 2 && !rc; i++)
        rc = bench_build(o, v[i].bin, v[i].tag, v[i].no_fuse, NULL);
    const char *bins[2] = {v[0].bin, v[1].bin}, *jsons[2] = {v[0].json, v[1].json}, *tags[2] = {v[0].tag, v[1].tag};
    if (!rc)  /* fused, unfused; then unfused, fused; ...: the first round's fused report is the one shown */
        rc = bench_alternate(o, bins, jsons, tags, rounds, true, keep_best, v);
    if (!rc)
        rc = compare(&v[0], &v[1], rounds);
    if (!o->keep)
        cleanup(dir, v, 2);
    return rc;
}
