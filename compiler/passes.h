/*
 * passes.h — the pipeline: from a .net file to a checked, transformed IR.
 */
#ifndef NETC_PASSES_H
#define NETC_PASSES_H

#include "ast.h"
#include "ir.h"

typedef void (*PassFn)(IrGraph *g, Diag *d);

typedef struct Pass {
    const char *name;  /* for --after */
    PassFn run;        /* entry point; NULL for lowering, which starts from the AST */
    const char *what;  /* one line for `netc help dump-ir` */
} Pass;

extern const Pass passes[];
extern const int npasses;

/* One compilation: a source file and what has been made of it. */
typedef struct Compilation {
    Arena *arena;     /* everything below lives here */
    SrcFile src;      /* the file */
    Diag diag;        /* its diagnostics */
    AstFile *ast;     /* parse result */
    IrTarget target;  /* what to schedule for */
    bool no_fuse;     /* skip the fusion pass */
    const struct SchedFile *routes;  /* --schedule file, parsed, or NULL */
} Compilation;

/* Reads and parses path.  Returns 0, 1 on errors in the input (reported). */
int passes_load(Compilation *c, const char *path);
/* The same for text in memory (tests, fuzzing); diagnostics go to out. */
int passes_load_text(Compilation *c, const char *path, const char *text, size_t len, FILE *out);
void passes_free(Compilation *c);
/* Reads and parses a schedule file into c->routes; 0, 1 on errors (reported). */
int passes_load_schedule(Compilation *c, const char *path);

/* The net named `name`, or the only net when name is NULL; NULL with a message otherwise. */
const Net *passes_pick_net(Compilation *c, const char *name);

/*
 * Runs the pipeline on one net up to and including pass `last` (NULL: all).
 * Returns the graph, or NULL if there were errors (reported).
 */
IrGraph *passes_run(Compilation *c, const Net *net, const char *last);
int passes_find(const char *name);  /* index in passes[], or -1 */

#endif
