/*
 * main.c — the `netc` command line.
 *
 *   netc check FILE.net           diagnostics only
 *   netc summary FILE.net         layer table and totals
 *   netc dump-ir FILE.net         the IR after any pass
 *   netc emit FILE.net -o DIR     the C of a net, to embed (build.c)
 *   netc build FILE.net -o BIN    a standalone binary (build.c)
 *   netc bench FILE.net           timings, fused against unfused (bench.c)
 *   netc tune FILE.net            each conv2d's route, by measurement (tune.c)
 *   netc help [COMMAND]
 *
 * Exit status: 0 success, 1 errors in the input, 2 wrong usage.
 */
#include "bench.h"
#include "build.h"
#include "passes.h"
#include "summary.h"
#include "tune.h"
#include "version.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { EXIT_INPUT = 1, EXIT_USAGE = 2 };

typedef struct Options {
    const char *file;   /* the .net file */
    const char *net;    /* --net NAME */
    const char *after;  /* --after PASS */
    const char *out;    /* -o PATH */
    const char *cc;     /* --cc CC */
    const char *opt;    /* -O0 .. -O3, -Os */
    const char *keep;   /* --keep DIR: where build leaves the generated C */
    const char *schedule;  /* --schedule FILE: routes forced per conv2d */
    bool generic;       /* --target generic */
    bool no_runtime;    /* --no-runtime */
    bool main;          /* --main: emit also writes <net>_main.c */
    bool no_fuse;       /* --no-fuse */
    bool libm;          /* --libm: transcendentals from libm, not SLEEF */
    const char *batch, *steps, *threads;  /* bench: --batch B, --steps K, --threads N */
    const char *rounds;  /* tune: --rounds R */
    const char *cmdline;  /* the command as typed, for generated front matter */
} Options;

typedef struct Command {
    const char *name;                   /* as typed */
    int (*run)(const Options *o);       /* returns the exit status */
    const char *usage;                  /* one line */
    const char *help;                   /* paragraph for `netc help NAME` */
} Command;

static int cmd_check(const Options *o);
static int cmd_summary(const Options *o);
static int cmd_dump_ir(const Options *o);
static int cmd_dump_ast(const Options *o);
static int cmd_emit(const Options *o);
static int cmd_build(const Options *o);
static int cmd_bench(const Options *o);
static int cmd_tune(const Options *o);

static const Command COMMANDS[] = {
    {"check", cmd_check, "netc check FILE.net [--net NAME] [--schedule FILE]",
     "Parses and checks FILE.net: syntax, names, arguments, shapes, losses,\n"
     "optimizer and train settings.  Prints every error (at most 20) as\n"
     "file:line:col with the source line and a caret, and exits 1 if there\n"
     "were any.  Without --net, every net in the file is checked.\n"
     "--schedule FILE checks a schedule file against the net too.\n"},
    {"summary", cmd_summary, "netc summary FILE.net [--net NAME] [--schedule FILE]",
     "Prints a table of the net's layers: name, op, output shape, parameter\n"
     "count and forward FLOPs per sample; then trainable and non-trainable\n"
     "parameters, parameter bytes, forward and training FLOPs per sample and\n"
     "activation bytes per sample.  Without --net, summarizes every net.\n"
     "--schedule FILE: the arena sizes with the conv2d routes it names.\n"},
    {"dump-ir", cmd_dump_ir, "netc dump-ir FILE.net [--net NAME] [--after PASS] [--schedule FILE]",
     "Prints the graph IR of a net after the given pass (default: the last).\n"
     "--schedule FILE forces the conv2d routes it names (see 'netc help\n"
     "tune'); they show as sched(direct ...) or sched(gemm ...).\n"
     "Passes, in order:\n"},
    {"emit", cmd_emit, "netc emit FILE.net -o DIR [--net NAME] [--target native|generic] [--no-fuse] [--no-runtime] [--main] [--libm] [--schedule FILE]",
     "Writes DIR/<net>.h and DIR/<net>.c: specialized C for the net's forward\n"
     "pass with the embedding API (see docs/embedding.md), and the runtime\n"
     "sources it links against (nnrt_*.c, nnrt_*.h) unless --no-runtime.\n"
     "--main also writes <net>_main.c, the main() of the standalone binary.\n"
     "--target native (default) schedules for this machine's vector unit;\n"
     "generic for any machine of this architecture.  --no-fuse turns\n"
     "fusion off (for comparison): epilogues, chains, batchnorm folding and\n"
     "the optimizer update in weight-gradient GEMMs.  The transcendentals\n"
     "(exp, tanh, erf, ...) run on SLEEF's vector functions: link -lsleef,\n"
     "or compile with -DNNRT_LIBM for the C library's; --libm writes\n"
     "nnrt_vmath.c with NNRT_LIBM defined, so the directory needs no SLEEF.\n"
     "--schedule FILE forces the conv2d routes it names (see 'netc help tune').\n"},
    {"build", cmd_build, "netc build FILE.net -o BIN [--net NAME] [--cc CC] [-O0..3|-Os] [--target native|generic] [--no-fuse] [--libm] [--schedule FILE] [--keep DIR]",
     "Emits the net and compiles a standalone binary with the system C\n"
     "compiler (--cc, else $CC, else cc; gcc and clang both work).  -O picks\n"
     "the optimization level (default -O3); --target native adds\n"
     "-march=native; --keep DIR leaves the generated C in DIR.  The binary\n"
     "links SLEEF (-lsleef) for exp, tanh, erf and friends; --libm uses the\n"
     "C library's instead (slower; no SLEEF needed).  Run 'BIN --help' for\n"
     "what the binary does (predict, summary).  --schedule FILE forces the\n"
     "conv2d routes it names (see 'netc help tune').\n"},
    {"bench", cmd_bench, "netc bench FILE.net [--net NAME] [--batch B] [--steps K] [--threads N] [--rounds R] [--cc CC] [-O0..3|-Os] [--libm] [--schedule FILE] [--keep DIR]",
     "Builds the net twice, fused and with --no-fuse, at -O3 (or the -O\n"
     "given) and -march=native with per-kernel profiling, runs 'BIN bench'\n"
     "on both and prints the fused build's report (FMA peak, inference\n"
     "latency at batch 1 and B, training step time, peak RSS, a per-kernel\n"
     "table) and a fused-vs-unfused comparison: R rounds (default 2) in\n"
     "alternating order, fused first in odd rounds, each build's best\n"
     "round, so that a machine that slows down midway does not decide the\n"
     "ratio (the report shown is the first round's).  --keep DIR keeps both\n"
     "binaries and their JSON reports.  --libm builds both with libm's\n"
     "transcendentals instead of SLEEF's.  --schedule FILE builds both with\n"
     "the conv2d routes it names.  See docs/performance.md.\n"},
    {"tune", cmd_tune, "netc tune FILE.net [-o OUT] [--net NAME] [--batch B] [--steps K] [--threads N] [--rounds R] [--cc CC] [-O0..3|-Os] [--libm] [--keep DIR]",
     "Chooses each convolution's route by measurement.  Every conv2d that can\n"
     "run both on the direct kernels and on im2col + the packed GEMM is built\n"
     "both ways (two profiled builds as in 'netc bench': every such layer\n"
     "direct, then every one on the GEMM), 'BIN bench' runs on each, R times\n"
     "(default 2) in alternating order, and per layer the best round's time\n"
     "of its kernels decides: for a net that trains, its training forward\n"
     "and backward kernels per step; else its forward kernel at batch B.\n"
     "Prints a table (layer, shape, the default rule's route, both times,\n"
     "their ratio, the choice) and writes the schedule file OUT (default:\n"
     "FILE.net with .sched for .net, e.g. examples/lenet5.sched).  Give it to\n"
     "emit, build, bench or dump-ir with --schedule OUT.  A schedule file\n"
     "holds one entry per line, '#' comments and blank lines:\n"
     "  net NAME               optional, first: the net it is for\n"
     "  conv2d LAYER ROUTE     ROUTE is direct or gemm\n"
     "-O and --libm build both binaries as for 'netc bench'.\n"
     "See docs/architecture.md (schedule) and docs/performance.md.\n"},
    {"dump-ast", cmd_dump_ast, "netc dump-ast FILE.net",
     "Prints the syntax tree as the parser built it (pipes already rewritten\n"
     "into calls).\n"},
};
enum { NCOMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

static void usage(FILE *out)
{
    fprintf(out, "netc %s — an ahead-of-time compiler for neural networks\n\nusage:\n", NETC_VERSION);
    for (int i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %s\n", COMMANDS[i].usage);
    fprintf(out, "  netc help [COMMAND]\n  netc --version\n\n"
                 "Exit status: 0 success, 1 errors in the input, 2 wrong usage.\n"
                 "The language is described in docs/language.md.\n");
}

static const Command *find_command(const char *name)
{
    for (int i = 0; i < NCOMMANDS; i++)
        if (strcmp(COMMANDS[i].name, name) == 0)
            return &COMMANDS[i];
    return NULL;
}

static int unknown_command(const char *name)
{
    const char *names[NCOMMANDS + 1];
    for (int i = 0; i < NCOMMANDS; i++)
        names[i] = COMMANDS[i].name;
    names[NCOMMANDS] = "help";
    const char *near = diag_nearest(name, names, NCOMMANDS + 1);
    fprintf(stderr, "netc: unknown command '%s'%s%s%s; see 'netc --help'\n", name,
            near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
    return EXIT_USAGE;
}

static int cmd_help(int argc, char **argv)
{
    if (argc < 1) {
        usage(stdout);
        return 0;
    }
    const Command *c = find_command(argv[0]);
    if (!c)
        return unknown_command(argv[0]);
    printf("usage: %s\n\n%s", c->usage, c->help);
    if (c->run == cmd_dump_ir)
        for (int i = 0; i < npasses; i++)
            printf("  %-10s %s\n", passes[i].name, passes[i].what);
    return 0;
}

/* Loads the file and runs fn on the chosen net, or on every net when all. */
static int for_nets(const Options *o, bool all, int (*fn)(Compilation *, const Net *, const Options *))
{
    Compilation c;
    int rc = passes_load(&c, o->file);
    c.target = build_host_target(!o->generic);
    c.no_fuse = o->no_fuse;
    if (rc == 0 && o->schedule)
        rc = passes_load_schedule(&c, o->schedule);
    if (rc == 0) {
        if (!o->net && all) {
            for (const Net *n = c.ast->nets; n; n = n->next)
                rc |= fn(&c, n, o);
        } else {
            const Net *n = passes_pick_net(&c, o->net);
            rc = n ? fn(&c, n, o) : EXIT_USAGE;
        }
    }
    if (c.diag.nerrors)
        fprintf(stderr, "%d error%s.\n", c.diag.nerrors, c.diag.nerrors == 1 ? "" : "s");
    passes_free(&c);
    return rc;
}

static int check_one(Compilation *c, const Net *n, const Options *o)
{
    return passes_run(c, n, NULL) ? 0 : EXIT_INPUT;
}

static int cmd_check(const Options *o)
{
    return for_nets(o, true, check_one);
}

static int summary_one(Compilation *c, const Net *n, const Options *o)
{
    IrGraph *g = passes_run(c, n, NULL);
    if (!g)
        return EXIT_INPUT;
    summary_print(stdout, g);
    if (n->next && !o->net)
        putchar('\n');
    return 0;
}

static int cmd_summary(const Options *o)
{
    return for_nets(o, true, summary_one);
}

static int dump_ir_one(Compilation *c, const Net *n, const Options *o)
{
    IrGraph *g = passes_run(c, n, o->after);
    if (!g)
        return EXIT_INPUT;
    ir_print(stdout, g);
    return 0;
}

static int cmd_dump_ir(const Options *o)
{
    if (o->after && passes_find(o->after) < 0) {
        fprintf(stderr, "netc: unknown pass '%s'; passes:", o->after);
        for (int i = 0; i < npasses; i++)
            fprintf(stderr, " %s", passes[i].name);
        fputc('\n', stderr);
        return EXIT_USAGE;
    }
    return for_nets(o, false, dump_ir_one);
}

static BuildOptions build_options(const Options *o)
{
    BuildOptions b = {0};
    b.cc = o->cc ? o->cc : getenv("CC") && *getenv("CC") ? getenv("CC") : "cc";
    b.opt = o->opt;
    b.native = !o->generic;
    b.libm = o->libm;
    b.runtime = !o->no_runtime;
    b.main = o->main;
    b.cmdline = o->cmdline;
    return b;
}

/* Loads, picks the net, runs every pass; NULL (status in *rc) on failure. */
static IrGraph *compile_net(Compilation *c, const Options *o, int *rc)
{
    c->target = build_host_target(!o->generic);
    c->no_fuse = o->no_fuse;
    const Net *n = passes_pick_net(c, o->net);
    if (!n) {
        *rc = EXIT_USAGE;
        return NULL;
    }
    IrGraph *g = passes_run(c, n, NULL);
    *rc = g ? 0 : EXIT_INPUT;
    return g;
}

static int emit_or_build(const Options *o, bool build)
{
    if (!o->out) {
        fprintf(stderr, "netc %s: needs -o %s\n", build ? "build" : "emit", build ? "BIN" : "DIR");
        return EXIT_USAGE;
    }
    Compilation c;
    int rc = passes_load(&c, o->file);
    if (rc == 0 && o->schedule)
        rc = passes_load_schedule(&c, o->schedule);
    IrGraph *g = rc == 0 ? compile_net(&c, o, &rc) : NULL;
    if (g) {
        BuildOptions b = build_options(o);
        if ((build ? build_binary(g, o->out, o->keep, &b) : build_emit(g, o->out, &b)) != 0)
            rc = EXIT_INPUT;
    }
    if (c.diag.nerrors)
        fprintf(stderr, "%d error%s.\n", c.diag.nerrors, c.diag.nerrors == 1 ? "" : "s");
    passes_free(&c);
    return rc;
}

static int cmd_emit(const Options *o)
{
    return emit_or_build(o, false);
}

static int cmd_build(const Options *o)
{
    return emit_or_build(o, true);
}

static int cmd_bench(const Options *o)
{
    BenchOptions b = {o->file, o->net, build_options(o).cc, o->opt, o->keep, o->batch, o->steps, o->threads,
                      o->schedule, o->libm, o->cmdline, "bench"};
    return bench_run(&b, o->rounds);
}

static int cmd_tune(const Options *o)
{
    BenchOptions b = {o->file, o->net, build_options(o).cc, o->opt, o->keep, o->batch, o->steps, o->threads,
                      NULL, o->libm, o->cmdline, "tune"};
    return tune_run(&b, o->out, o->rounds);
}

static int cmd_dump_ast(const Options *o)
{
    Compilation c;
    int rc = passes_load(&c, o->file);
    if (c.ast && rc == 0)
        ast_print(stdout, c.ast);
    passes_free(&c);
    return rc;
}

/* An option netc knows: its name and the Options field it sets. */
typedef struct OptionSpec {
    const char *name;  /* "--net", "-o", ... */
    size_t field;      /* offsetof(Options, ...) */
    bool value;        /* takes the next argument (a const char * field), else sets a bool */
} OptionSpec;

static const OptionSpec OPTIONS[] = {
    {"--net", offsetof(Options, net), true},
    {"--after", offsetof(Options, after), true},
    {"-o", offsetof(Options, out), true},
    {"--cc", offsetof(Options, cc), true},
    {"--keep", offsetof(Options, keep), true},
    {"--batch", offsetof(Options, batch), true},
    {"--steps", offsetof(Options, steps), true},
    {"--threads", offsetof(Options, threads), true},
    {"--schedule", offsetof(Options, schedule), true},
    {"--rounds", offsetof(Options, rounds), true},
    {"--no-runtime", offsetof(Options, no_runtime), false},
    {"--main", offsetof(Options, main), false},
    {"--no-fuse", offsetof(Options, no_fuse), false},
    {"--libm", offsetof(Options, libm), false},
};

/* The option named a, or NULL (-O levels and --target are parsed apart). */
static const OptionSpec *find_option(const char *a)
{
    for (size_t i = 0; i < sizeof OPTIONS / sizeof OPTIONS[0]; i++)
        if (!strcmp(a, OPTIONS[i].name))
            return &OPTIONS[i];
    return NULL;
}

/* -O0, -O1, -O2, -O3 or -Os. */
static bool is_opt_level(const char *a)
{
    return a[0] == '-' && a[1] == 'O' && a[2] && strchr("0123s", a[2]) && !a[3];
}

static int set_target(const Command *cmd, Options *o, const char *t)
{
    if (strcmp(t, "native") && strcmp(t, "generic")) {
        fprintf(stderr, "netc %s: unknown target '%s' (targets: native, generic)\n", cmd->name, t);
        return EXIT_USAGE;
    }
    o->generic = !strcmp(t, "generic");
    return 0;
}

/*
 * Whether option a (its name, before any '=') is one the command takes:
 * one its usage line names ("[--keep DIR]", "-o DIR", "[-O0..3|-Os]").  An
 * option meant for another command is refused rather than ignored.
 */
static bool option_allowed(const Command *cmd, const char *a)
{
    char name[32];
    size_t n = strcspn(a, "=");
    if (a[0] == '-' && a[1] == 'O')
        return strstr(cmd->usage, "-O0..3|-Os") != NULL;
    if (n >= sizeof name)
        return false;
    memcpy(name, a, n);
    name[n] = '\0';
    for (const char *p = strstr(cmd->usage, name); p; p = strstr(p + 1, name)) {
        char before = p == cmd->usage ? ' ' : p[-1], after = p[n];
        if ((before == ' ' || before == '[') && (after == ' ' || after == ']' || after == '\0'))
            return true;
    }
    return false;
}

/* Parses options after the command name. */
static int parse_options(const Command *cmd, int argc, char **argv, Options *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const OptionSpec *spec = find_option(a);
        bool slot = spec && spec->value, flag = spec && !spec->value;
        bool is_target = !strcmp(a, "--target"), target_eq = !strncmp(a, "--target=", 9);
        if ((slot || flag || is_target || target_eq || is_opt_level(a)) && !option_allowed(cmd, a)) {
            fprintf(stderr, "netc %s: option '%.*s' does not apply to %s\nusage: %s\n", cmd->name,
                    (int)strcspn(a, "="), a, cmd->name, cmd->usage);
            return EXIT_USAGE;
        }
        if (slot || is_target) {
            if (i + 1 >= argc) {
                fprintf(stderr, "netc %s: option %s needs a value\n", cmd->name, a);
                return EXIT_USAGE;
            }
            if (slot)
                *(const char **)((char *)o + spec->field) = argv[++i];
            else if (set_target(cmd, o, argv[++i]))
                return EXIT_USAGE;
        } else if (target_eq) {
            if (set_target(cmd, o, a + 9))
                return EXIT_USAGE;
        } else if (flag) {
            *(bool *)((char *)o + spec->field) = true;
        } else if (is_opt_level(a)) {
            o->opt = a;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "netc %s: unknown option '%s'\nusage: %s\n", cmd->name, a, cmd->usage);
            return EXIT_USAGE;
        } else if (o->file) {
            fprintf(stderr, "netc %s: more than one input file ('%s' and '%s')\n", cmd->name, o->file, a);
            return EXIT_USAGE;
        } else {
            o->file = a;
        }
    }
    if (!o->file) {
        fprintf(stderr, "netc %s: no input file\nusage: %s\n", cmd->name, cmd->usage);
        return EXIT_USAGE;
    }
    return 0;
}

/* "netc emit examples/x.net -o out", for the generated front matter. */
static const char *command_line(int argc, char **argv)
{
    static char buf[1024];
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < argc && n < sizeof buf - 1; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s", i ? " " : "", i ? argv[i] : "netc");
    return buf;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("netc %s\n", NETC_VERSION);
        return 0;
    }
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "help"))
        return cmd_help(argc - 2, argv + 2);
    const Command *cmd = find_command(name);
    if (!cmd)
        return unknown_command(name);
    Options o;
    int rc = parse_options(cmd, argc - 2, argv + 2, &o);
    o.cmdline = command_line(argc, argv);
    return rc ? rc : cmd->run(&o);
}
