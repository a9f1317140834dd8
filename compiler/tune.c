/*
 * tune.c — `netc tune FILE.net [-o OUT] [--threads N] [--steps K] [--rounds R]`:
 * each convolution's route chosen by measurement.
 *
 * The net is compiled once to find its convolutions and which of them the
 * direct kernels can take (sched_direct_refusal); those can run either way.
 * Two profiled binaries are built with bench.c's machinery, one with every
 * such layer forced direct and one with every such layer forced onto the
 * GEMM (in-memory schedule files), and `BIN bench --json` runs on both, R
 * rounds in alternating order (direct first in even rounds), so that a slow
 * minute of a shared machine weighs on both.  Per layer and round the times
 * of the layer's kernels are summed: for a net that trains, the training
 * forward and both backward kernels per step (the training step is where a
 * convolution's time goes); for an inference-only net, the forward kernel at
 * batch B.  The best round of each route is compared and the faster route
 * written to the schedule file, with both times in a comment.  Only the
 * layers' own kernels are compared, so the rest of the net (the same in
 * both builds) adds no noise.
 */
#include "tune.h"

#include "build.h"
#include "passes.h"
#include "version.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { TUNE_EXIT_INPUT = 1, TUNE_EXIT_USAGE = 2 };

/* One convolution of the net. */
typedef struct TuneConv {
    const IrNode *n;     /* the node */
    const char *shape;   /* "16x14x14 k3 -> 32x14x14" */
    const char *rule;    /* the default rule's route: direct, gemm, loops */
    const char *refusal; /* why it cannot run direct, or NULL: it is measured */
    double us[2];        /* best round's time per call or step: direct, gemm (NAN: not seen) */
} TuneConv;

/* The whole run. */
typedef struct Tune {
    const BenchOptions *o;
    Compilation c;       /* the net compiled by the default rule; its arena holds everything */
    IrGraph *g;
    TuneConv *convs;
    int nconvs;
    int measured;        /* convs with refusal NULL */
    bool train;          /* the net trains: compare training kernels */
    int batch, threads;  /* as BIN bench reported them */
    char dir[4096];      /* work directory */
    char bin[2][4096];   /* DIR/<stem>-direct, -gemm */
    char json[2][4096];  /* their reports */
} Tune;

static const char *const ROUTE_TAG[2] = {"direct", "gemm"};

static const char *rule_route(const IrNode *n)
{
    return n->sched.direct ? "direct" : n->sched.gemm ? "gemm" : "loops";
}

static const char *conv_shape(const IrGraph *g, const IrNode *n)
{
    const IrShape *x = &g->nodes[n->in[0]].shape;
    const char *att = "";
    if (n->a.stride[0] != 1 || n->a.stride[1] != 1)
        att = arena_printf(g->arena, " s%d", n->a.stride[0]);
    if (n->a.dilation[0] != 1)
        att = arena_printf(g->arena, "%s d%d", att, n->a.dilation[0]);
    if (n->a.groups != 1)
        att = arena_printf(g->arena, "%s g%d", att, n->a.groups);
    return arena_printf(g->arena, "%dx%dx%d k%d%s -> %dx%dx%d", x->dim[0], x->dim[1], x->dim[2], n->a.kernel[0], att,
                        n->shape.dim[0], n->shape.dim[1], n->shape.dim[2]);
}

/* Compiles the net by the default rule and lists its convolutions; an exit status. */
static int find_convs(Tune *t)
{
    int rc = passes_load(&t->c, t->o->file);
    if (rc)
        return rc;
    t->c.target = build_host_target(true);
    const Net *net = passes_pick_net(&t->c, t->o->net);
    t->g = net ? passes_run(&t->c, net, NULL) : NULL;
    if (!t->g)
        return net ? TUNE_EXIT_INPUT : TUNE_EXIT_USAGE;
    IrGraph *g = t->g;
    t->convs = arena_alloc(g->arena, sizeof *t->convs * (size_t)(g->nforward + 1));
    for (int i = 0; i < g->nforward; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op != IR_CONV2D)
            continue;
        TuneConv *tc = &t->convs[t->nconvs++];
        *tc = (TuneConv){n, conv_shape(g, n), rule_route(n), sched_direct_refusal(g, n), {NAN, NAN}};
        t->measured += !tc->refusal;
    }
    t->train = g->loss >= 0 && g->opt.kind != OPT_NONE;
    return 0;
}

/* A schedule in memory forcing `route` on every measured convolution. */
static SchedFile *all_routes(Tune *t, SchedRoute route)
{
    Arena *a = t->g->arena;
    SchedFile *sf = arena_alloc(a, sizeof *sf);
    sf->src.path = arena_printf(a, "<netc tune: every conv2d %s>", sched_route_name(route));
    sf->src.text = "";
    for (int i = 0; i < t->nconvs; i++) {
        if (t->convs[i].refusal)
            continue;
        ARENA_PUSH(a, sf->e, sf->n, sf->cap);
        sf->e[sf->n++] = (SchedEntry){t->convs[i].n->name, route, {0, 0}, {0, 0}};
    }
    return sf;
}

/* Reads the string after `"key": "` at p into buf; the position after it, or NULL. */
static const char *json_str(const char *p, const char *key, char *buf, size_t size)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    p = strstr(p, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    size_t n = strcspn(p, "\"");
    snprintf(buf, size, "%.*s", (int)(n < size ? n : size - 1), p);
    return p + n;
}

/* Whether kernel name k is "<layer><suffix> (...)". */
static bool kernel_of(const char *k, const char *layer, const char *suffix)
{
    size_t l = strlen(layer), s = strlen(suffix);
    return strncmp(k, layer, l) == 0 && strncmp(k + l, suffix, s) == 0 && strncmp(k + l + s, " (", 2) == 0;
}

/* Whether a kernel entry belongs to conv layer and counts for the comparison. */
static bool counts(const Tune *t, const char *pass, const char *kernel, const char *layer)
{
    if (!t->train)
        return strcmp(pass, "forward") == 0 && kernel_of(kernel, layer, "");
    if (strcmp(pass, "train-forward") == 0)
        return kernel_of(kernel, layer, "");
    return strcmp(pass, "backward") == 0 &&
           (kernel_of(kernel, layer, ".grad_params") || kernel_of(kernel, layer, ".grad_in0"));
}

/* bench_alternate's read: one round's report of route r, each measured conv's kernel times, keeping the best round. */
static int read_round(void *ctx, int r, bool first)
{
    Tune *t = ctx;
    (void)first;  /* the best starts as NAN */
    char *text = bench_slurp(t->json[r]);
    if (!text) {
        fprintf(stderr, "netc tune: cannot read '%s'\n", t->json[r]);
        return -1;
    }
    t->batch = (int)bench_json_number(text, "batch");
    t->threads = (int)bench_json_number(text, "threads");
    double *sum = calloc((size_t)t->nconvs + 1, sizeof *sum);
    char pass[64], kernel[512];
    const char *p = strstr(text, "\"kernels\": [");
    while (sum && p && (p = json_str(p, "pass", pass, sizeof pass)) && (p = json_str(p, "kernel", kernel, sizeof kernel))) {
        const char *u = strstr(p, "\"us_per_call\": ");
        double us = u ? strtod(u + strlen("\"us_per_call\": "), NULL) : 0;
        for (int i = 0; i < t->nconvs; i++)
            if (!t->convs[i].refusal && counts(t, pass, kernel, t->convs[i].n->name))
                sum[i] += us;
    }
    for (int i = 0; sum && i < t->nconvs; i++) {
        double *best = &t->convs[i].us[r];
        if (!t->convs[i].refusal && sum[i] > 0 && (isnan(*best) || sum[i] < *best))
            *best = sum[i];
    }
    free(sum);
    free(text);
    return 0;
}

/* Builds both binaries and runs the rounds; an exit status. */
static int measure(Tune *t, int rounds)
{
    for (int r = 0; r < 2; r++) {
        int rc = bench_build(t->o, t->bin[r], ROUTE_TAG[r], false, all_routes(t, r == 0 ? ROUTE_DIRECT : ROUTE_GEMM));
        if (rc)
            return rc;
    }
    const char *bins[2] = {t->bin[0], t->bin[1]}, *jsons[2] = {t->json[0], t->json[1]};
    return bench_alternate(t->o, bins, jsons, ROUTE_TAG, rounds, false, read_round, t) ? TUNE_EXIT_INPUT : 0;
}

/* The faster route of a measured conv: 0 direct, 1 gemm (ties and gaps to the default rule). */
static int choice(const TuneConv *tc)
{
    if (isnan(tc->us[0]) || isnan(tc->us[1]))
        return strcmp(tc->rule, "direct") == 0 ? 0 : 1;
    return tc->us[1] < tc->us[0] ? 1 : 0;
}

static void print_us(double us)
{
    if (isnan(us))
        printf(" %11s", "-");
    else
        printf(" %8.1f us", us);
}

static void print_table(const Tune *t, int rounds)
{
    printf("%s: conv2d routes, %s, best of %d round%s (batch %d, %d thread%s)\n", t->g->name,
           t->train ? "per training step: training forward + backward kernels" : "forward kernel per call",
           rounds, rounds == 1 ? "" : "s", t->batch, t->threads, t->threads == 1 ? "" : "s");
    printf("%-28s %-26s %-7s %11s %11s %8s  %s\n", "layer", "shape", "rule", "direct", "gemm", "gemm/dir", "choice");
    for (int i = 0; i < t->nconvs; i++) {
        const TuneConv *tc = &t->convs[i];
        printf("%-28s %-26s %-7s", tc->n->name, tc->shape, tc->rule);
        if (tc->refusal) {
            printf(" %11s %11s %8s  %s (cannot run direct: %s)\n", "-", "-", "-", tc->rule, tc->refusal);
            continue;
        }
        print_us(tc->us[0]);
        print_us(tc->us[1]);
        if (tc->us[0] > 0 && tc->us[1] > 0)
            printf(" %7.2fx", tc->us[1] / tc->us[0]);
        else
            printf(" %8s", "-");
        int ch = choice(tc);
        printf("  %s%s\n", ROUTE_TAG[ch], strcmp(ROUTE_TAG[ch], tc->rule) ? "  (differs from the rule)" : "");
    }
}

/* Writes the schedule file; 0 or -1 with a message. */
static int write_schedule(const Tune *t, const char *path, int rounds)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "netc tune: cannot write '%s': %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "# %s — conv2d routes for net %s, measured by netc %s tune\n", path, t->g->name, NETC_VERSION);
    fprintf(f, "# command: %s\n", t->o->cmdline ? t->o->cmdline : "netc tune");
    fprintf(f, "# times: %s, batch %d, %d thread%s, best of %d round%s\n",
            t->train ? "training forward + backward kernels per step" : "forward kernel per call", t->batch, t->threads,
            t->threads == 1 ? "" : "s", rounds, rounds == 1 ? "" : "s");
    fprintf(f, "# use: netc build %s --schedule %s ...\nnet %s\n", t->o->file, path, t->g->name);
    for (int i = 0; i < t->nconvs; i++) {
        const TuneConv *tc = &t->convs[i];
        if (tc->refusal) {
            fprintf(f, "# %s (%s): %s by the rule; cannot run direct: %s\n", tc->n->name, tc->shape, tc->rule, tc->refusal);
            continue;
        }
        fprintf(f, "conv2d %s %-6s  # %s: direct %.1f us, gemm %.1f us\n", tc->n->name, ROUTE_TAG[choice(tc)], tc->shape,
                tc->us[0], tc->us[1]);
    }
    if (fclose(f) != 0) {
        fprintf(stderr, "netc tune: cannot write '%s': %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* FILE.net -> FILE.sched (FILE.sched appended when it does not end in .net). */
static const char *default_out(Arena *a, const char *file)
{
    size_t n = strlen(file);
    if (n > 4 && strcmp(file + n - 4, ".net") == 0)
        n -= 4;
    return arena_printf(a, "%.*s.sched", (int)n, file);
}

/* Creates the work directory and names the binaries; an exit status. */
static int workdir(Tune *t)
{
    char tmp[] = "/tmp/netc-tune-XXXXXX";
    const char *dir = bench_workdir(t->o, tmp);
    if (!dir)
        return TUNE_EXIT_INPUT;
    snprintf(t->dir, sizeof t->dir, "%s", dir);
    for (int r = 0; r < 2; r++) {
        int a = snprintf(t->bin[r], sizeof t->bin[r], "%s/%s-%s", dir, t->g->name, ROUTE_TAG[r]);
        int b = snprintf(t->json[r], sizeof t->json[r], "%s/%s-%s.json", dir, t->g->name, ROUTE_TAG[r]);
        if (a < 0 || b < 0 || (size_t)a >= sizeof t->bin[r] || (size_t)b >= sizeof t->json[r]) {
            fprintf(stderr, "netc tune: directory name too long\n");
            return TUNE_EXIT_USAGE;
        }
    }
    return 0;
}

static void cleanup(const Tune *t)
{
    if (t->o->keep || !t->dir[0])
        return;
    for (int r = 0; r < 2; r++) {
        unlink(t->bin[r]);
        unlink(t->json[r]);
    }
    rmdir(t->dir);
}

int tune_run(const BenchOptions *o, const char *out, const char *rounds_arg)
{
    int rounds = bench_rounds(o, rounds_arg);
    if (rounds < 0)
        return TUNE_EXIT_USAGE;
    Tune t = {.o = o};
    int rc = bench_check_numbers(o);
    if (!rc)
        rc = find_convs(&t);
    if (t.c.diag.nerrors)
        fprintf(stderr, "%d error%s.\n", t.c.diag.nerrors, t.c.diag.nerrors == 1 ? "" : "s");
    if (!rc && t.measured == 0)
        fprintf(stderr, "netc tune: no conv2d of net %s can take both routes; nothing to measure\n", t.g->name);
    if (!rc && t.measured)
        rc = workdir(&t);
    if (!rc && t.measured)
        rc = measure(&t, rounds);
    if (!rc) {
        const char *path = out ? out : default_out(t.g->arena, o->file);
        print_table(&t, rounds);
        rc = write_schedule(&t, path, rounds) ? TUNE_EXIT_INPUT : 0;
        if (!rc)
            printf("wrote %s\n", path);
    }
    cleanup(&t);
    passes_free(&t.c);
    return rc;
}
