/*
 * passes.c — the pipeline as a table, and the driver that runs it.
 *
 *   parse (grammar/net.y)   text -> AST
 *   lower                   AST -> IR: names, blocks, arguments
 *   shape                   shapes, attribute resolution, parameters
 *   autodiff                the backward graph
 *   fuse                    activations into producers' epilogues
 *   chain                   trees of elementwise ops into one kernel
 *   fold                    batchnorm into the preceding conv2d/dense, for inference
 *   schedule                loop-nest shape of every kernel
 *   memplan                 where every tensor lives
 *
 * Each pass is one file with one entry point; the verifier runs after
 * every pass, and `netc dump-ir --after NAME` prints the IR after any of
 * them.
 */
#include "passes.h"

#include "autodiff.h"
#include "chain.h"
#include "fold.h"
#include "fuse.h"
#include "lower.h"
#include "memplan.h"
#include "schedule.h"
#include "shape.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const Pass passes[] = {
    {"lower", NULL, "names resolved, blocks expanded, layers named, arguments checked"},
    {"shape", shape_run, "shapes inferred and checked, parameters created"},
    {"autodiff", ad_run, "backward graph appended: gradients of every tensor the loss needs"},
    {"fuse", fuse_run, "activations fused into the epilogue of the kernel producing their input"},
    {"chain", chain_run, "trees of elementwise ops grouped: each tree's root kernel computes it in one loop"},
    {"fold", fold_run, "batchnorm folded into the conv2d/dense producing its input, for inference"},
    {"schedule", sched_run, "loop-nest shape of every kernel (vector width, unrolling, tiles)"},
    {"memplan", mp_run, "buffers: inputs, outputs, aliases, and workspace offsets with reuse"},
};
const int npasses = (int)(sizeof passes / sizeof passes[0]);

enum { MAX_SOURCE = 16 << 20 };

int passes_find(const char *name)
{
    for (int i = 0; i < npasses; i++)
        if (strcmp(passes[i].name, name) == 0)
            return i;
    return -1;
}

static char *read_source(const char *path, uint32_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "netc: cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MAX_SOURCE + 1);
    size_t n = buf ? fread(buf, 1, MAX_SOURCE + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad || n > MAX_SOURCE) {
        fprintf(stderr, "netc: cannot read '%s': %s\n", path, bad ? strerror(errno) : "file larger than 16 MiB");
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = (uint32_t)n;
    return buf;
}

int passes_load(Compilation *c, const char *path)
{
    uint32_t len = 0;
    char *text = read_source(path, &len);
    if (!text) {
        memset(c, 0, sizeof *c);
        c->arena = arena_new();
        c->src.path = path;
        return 1;
    }
    int rc = passes_load_text(c, path, text, len, stderr);
    free(text);
    return rc;
}

int passes_load_text(Compilation *c, const char *path, const char *text, size_t len, FILE *out)
{
    memset(c, 0, sizeof *c);
    c->arena = arena_new();
    c->src.path = path;
    if (len > MAX_SOURCE)
        len = MAX_SOURCE;  /* only for in-memory callers; files are checked on reading */
    c->src.text = arena_strndup(c->arena, text, len);
    c->src.len = (uint32_t)len;
    diag_init(&c->diag, &c->src, out);
    c->ast = ast_parse(&c->src, c->arena, &c->diag);
    lower_check_file(c->ast, c->arena, &c->diag);
    return c->diag.nerrors ? 1 : 0;
}

int passes_load_schedule(Compilation *c, const char *path)
{
    uint32_t len = 0;
    char *text = read_source(path, &len);
    if (!text)
        return 1;
    SchedFile *sf = arena_alloc(c->arena, sizeof *sf);
    sf->src.path = arena_strdup(c->arena, path);
    sf->src.text = arena_strndup(c->arena, text, len);
    sf->src.len = len;
    free(text);
    c->routes = sf;
    return sched_file_parse(sf, c->arena, &c->diag) ? 1 : 0;
}

void passes_free(Compilation *c)
{
    arena_free(c->arena);
    c->arena = NULL;
}

const Net *passes_pick_net(Compilation *c, const char *name)
{
    int n = 0;
    for (const Net *net = c->ast->nets; net; net = net->next) {
        if (name && strcmp(net->name, name) == 0)
            return net;
        n++;
    }
    if (!name && n == 1)
        return c->ast->nets;
    if (name) {
        fprintf(stderr, "netc: %s: no net named '%s'; nets in this file:", c->src.path, name);
    } else {
        fprintf(stderr, "netc: %s holds %d nets; choose one with --net NAME:", c->src.path, n);
    }
    for (const Net *net = c->ast->nets; net; net = net->next)
        fprintf(stderr, " %s", net->name);
    fputc('\n', stderr);
    return NULL;
}

IrGraph *passes_run(Compilation *c, const Net *net, const char *last)
{
    IrGraph *g = lower_run(c->ast, net, c->arena, &c->diag);
    g->target = c->target;
    g->no_fuse = c->no_fuse;
    g->routes = c->routes;
    for (int i = 0; i < npasses; i++) {
        /* Shape checking still runs after lowering errors, to report more. */
        if (passes[i].run && (c->diag.nerrors == 0 || passes[i].run == shape_run))
            passes[i].run(g, &c->diag);
        if (c->diag.nerrors == 0)
            ir_verify(g, passes[i].name);
        if (last && strcmp(passes[i].name, last) == 0)
            break;
    }
    return c->diag.nerrors ? NULL : g;
}
