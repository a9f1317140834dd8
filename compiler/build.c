/*
 * build.c — files and processes: writing the generated C, then running the
 * system C compiler on it.
 */
#include "build.h"

#include "runtime_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

IrTarget build_host_target(bool native)
{
    if (!native)
        return TARGET_GENERIC;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return __builtin_cpu_supports("avx512f") ? TARGET_AVX512 : TARGET_AVX2;
#elif defined(__aarch64__)
    return TARGET_NEON;
#endif
    return TARGET_GENERIC;
}

static int write_with(const char *path, void (*fn)(FILE *, const IrGraph *, const EmitOptions *), const IrGraph *g,
                      const EmitOptions *eo)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "netc: cannot write '%s': %s\n", path, strerror(errno));
        return -1;
    }
    fn(f, g, eo);
    if (fclose(f) != 0) {
        fprintf(stderr, "netc: cannot write '%s': %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        fprintf(stderr, "netc: cannot write '%s': %s\n", path, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    return 0;
}

/*
 * Writes one runtime file.  With --libm, nnrt_vmath.c starts by defining
 * NNRT_LIBM, so the directory compiles and links without SLEEF and without
 * flags (the only runtime file that differs between the two).
 */
static int write_runtime_file(const IrGraph *g, const char *dir, const RuntimeFile *rf, bool libm)
{
    const char *text = rf->text;
    if (libm && strcmp(rf->name, "nnrt_vmath.c") == 0)
        text = arena_printf(g->arena, "#define NNRT_LIBM 1 /* netc --libm: libm instead of SLEEF */\n%s", text);
    return write_text(arena_printf(g->arena, "%s/%s", dir, rf->name), text);
}

int build_emit(const IrGraph *g, const char *dir, const BuildOptions *o)
{
    EmitOptions eo = {o->cmdline};
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "netc: cannot create directory '%s': %s\n", dir, strerror(errno));
        return -1;
    }
    char *h = arena_printf(g->arena, "%s/%s.h", dir, g->name);
    char *c = arena_printf(g->arena, "%s/%s.c", dir, g->name);
    if (write_with(h, emit_header, g, &eo) || write_with(c, emit_source, g, &eo))
        return -1;
    if (o->main && write_with(arena_printf(g->arena, "%s/%s_main.c", dir, g->name), emit_main, g, &eo))
        return -1;
    for (int i = 0; o->runtime && i < nruntime_files; i++)
        if (write_runtime_file(g, dir, &runtime_files[i], o->libm))
            return -1;
    return 0;
}

/* Starts argv; the child's pid, or -1. */
static pid_t start(char **argv)
{
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "netc: cannot start '%s': %s\n", argv[0], strerror(errno));
        return -1;
    }
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "netc: cannot run '%s': %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return pid;
}

/* Waits for one child; 0 if it succeeded. */
static int reap(const char *what)
{
    int status;
    while (wait(&status) < 0)
        if (errno != EINTR)
            return -1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 127))
        fprintf(stderr, "netc: the C compiler '%s' failed\n", what);
    return -1;
}

enum { MAXARGS = 48, MAXFILES = 64 };

/* The compiler and the flags every translation unit gets. */
static int base_args(const IrGraph *g, const char *dir, const BuildOptions *o, char **argv)
{
    int n = 0;
    argv[n++] = (char *)o->cc;
    argv[n++] = "-std=c11";
    argv[n++] = (char *)(o->opt ? o->opt : "-O3");
    argv[n++] = "-fno-math-errno";  /* lets sqrtf and friends vectorize; netc never reads errno */
    argv[n++] = "-ffp-contract=fast"; /* a * b + c as one FMA: gcc's -std=c11 turns contraction off */
    if (o->native)
        argv[n++] = "-march=native";
    char *flags = o->cflags ? arena_strdup(g->arena, o->cflags) : NULL;
    for (char *f = flags ? strtok(flags, " ") : NULL; f && n < MAXARGS / 2; f = strtok(NULL, " "))
        argv[n++] = f;
    argv[n++] = arena_printf(g->arena, "-I%s", dir);
    return n;
}

/*
 * Compiles the net, its main and the runtime, one translation unit per
 * process with as many at once as there are processors, then links.
 */
static int compile(const IrGraph *g, const char *dir, const char *out, const BuildOptions *o)
{
    const char *src[MAXFILES];
    int nsrc = 0;
    src[nsrc++] = arena_printf(g->arena, "%s/%s.c", dir, g->name);
    src[nsrc++] = arena_printf(g->arena, "%s/%s_main.c", dir, g->name);
    for (int i = 0; i < nruntime_files && nsrc < MAXFILES; i++) {
        const char *name = runtime_files[i].name;
        if (strcmp(name + strlen(name) - 2, ".c") == 0)
            src[nsrc++] = arena_printf(g->arena, "%s/%s", dir, name);
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int jobs = cpus > 0 ? (int)cpus : 1, running = 0, rc = 0;
    char *argv[MAXARGS];
    for (int i = 0; i < nsrc && rc == 0; i++) {
        int n = base_args(g, dir, o, argv);
        argv[n++] = "-c";
        argv[n++] = (char *)src[i];
        argv[n++] = "-o";
        argv[n++] = arena_printf(g->arena, "%s.o", src[i]);
        argv[n] = NULL;
        if (running == jobs)
            rc |= reap(o->cc), running--;
        if (start(argv) < 0)
            rc = -1;
        else
            running++;
    }
    while (running-- > 0)
        rc |= reap(o->cc);
    if (rc)
        return -1;
    int n = base_args(g, dir, o, argv);
    argv[n++] = "-o";
    argv[n++] = (char *)out;
    for (int i = 0; i < nsrc && n < MAXARGS - 4; i++)
        argv[n++] = arena_printf(g->arena, "%s.o", src[i]);
    argv[n++] = "-lz";
    if (!o->libm)
        argv[n++] = "-lsleef";  /* nnrt_vmath.c's transcendentals */
    argv[n++] = "-lm";
    argv[n] = NULL;
    pid_t pid = start(argv);
    return pid < 0 ? -1 : reap(o->cc);
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    char path[4096];
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

int build_binary(const IrGraph *g, const char *out, const char *keep_dir, const BuildOptions *o)
{
    char tmp[] = "/tmp/netc-build-XXXXXX";
    const char *dir = keep_dir;
    if (!dir && !(dir = mkdtemp(tmp))) {
        fprintf(stderr, "netc: cannot create a temporary directory: %s\n", strerror(errno));
        return -1;
    }
    BuildOptions bo = *o;
    bo.runtime = bo.main = true;
    int rc = build_emit(g, dir, &bo);
    if (rc == 0)
        rc = compile(g, dir, out, o);
    if (!keep_dir)
        remove_dir(dir);
    return rc;
}
