/*
 * frontend_util.h — running the front end on a string, for the unit tests
 * of the lexer, parser, lowering, shape inference and IR.
 *
 *   Fe *f = fe_compile("net n { input x : f32[3]; y = x -> dense(2); output y; }");
 *   assert_non_null(f->g);                      // the graph after every pass
 *   assert_errors(f, 0);
 *   fe_free(f);
 *
 * Diagnostics are captured in memory (open_memstream) instead of going to
 * stderr; assert_diag() checks that they contain a substring and prints
 * them all when they do not.  Each test binary is one translation unit, so
 * everything here is `static inline` (unused ones draw no warning).
 */
#ifndef NETC_FRONTEND_UTIL_H
#define NETC_FRONTEND_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lower.h"
#include "passes.h"
#include "shape.h"

typedef struct Fe {
    Compilation c;   /* the compilation: arena, source, diagnostics, AST */
    FILE *out;       /* memstream the diagnostics go to */
    char *buf;       /* its text (valid after fe_diags) */
    size_t len;      /* its length */
    int load_rc;     /* passes_load_text's status */
    IrGraph *g;      /* the graph of the last fe_run, NULL on errors */
} Fe;

/* Parses and checks text (no net is lowered yet). */
static inline Fe *fe_load(const char *text)
{
    Fe *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->out = open_memstream(&f->buf, &f->len);
    assert_non_null(f->out);
    f->load_rc = passes_load_text(&f->c, "t.net", text, strlen(text), f->out);
    return f;
}

/* The same for text holding NUL bytes. */
static inline Fe *fe_load_bytes(const char *text, size_t len)
{
    Fe *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->out = open_memstream(&f->buf, &f->len);
    assert_non_null(f->out);
    f->load_rc = passes_load_text(&f->c, "t.net", text, len, f->out);
    return f;
}

/* The net called name (NULL: the first one). */
static inline const Net *fe_net(Fe *f, const char *name)
{
    for (const Net *n = f->c.ast->nets; n; n = n->next)
        if (!name || strcmp(n->name, name) == 0)
            return n;
    fail_msg("no net '%s'", name ? name : "(any)");
    return NULL;
}

/* Runs the pipeline on a net up to pass last (NULL: all, back end included); f->g is the result. */
static inline IrGraph *fe_run(Fe *f, const char *net, const char *last)
{
    f->g = passes_run(&f->c, fe_net(f, net), last);
    return f->g;
}

/* Loads text and runs the front end (through shape inference) on its first net. */
static inline Fe *fe_compile(const char *text)
{
    Fe *f = fe_load(text);
    if (f->load_rc == 0)
        fe_run(f, NULL, "shape");
    return f;
}

/* The same, stopping after lowering. */
static inline Fe *fe_lower(const char *text)
{
    Fe *f = fe_load(text);
    if (f->load_rc == 0)
        fe_run(f, NULL, "lower");
    return f;
}

/* Everything printed so far. */
static inline const char *fe_diags(Fe *f)
{
    fflush(f->out);
    return f->buf ? f->buf : "";
}

static inline int fe_errors(Fe *f)
{
    return f->c.diag.nerrors;
}

static inline void fe_free(Fe *f)
{
    passes_free(&f->c);
    fclose(f->out);
    free(f->buf);
    free(f);
}

/* The AST printed as text (ast_print); the caller frees it. */
static inline char *fe_ast_text(Fe *f)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ast_print(out, f->c.ast);
    fclose(out);
    return buf;
}

/* Checks that the AST prints exactly as text. */
#define assert_ast(f, text)                    \
    do {                                       \
        char *t_ = fe_ast_text(f);             \
        assert_string_equal(t_, (text));       \
        free(t_);                              \
    } while (0)

/* Checks that the diagnostics contain text. */
#define assert_diag(f, text) fe_assert_diag((f), (text), __FILE__, __LINE__)
static inline void fe_assert_diag(Fe *f, const char *text, const char *file, int line)
{
    const char *d = fe_diags(f);
    if (!strstr(d, text)) {
        print_error("diagnostics lack \"%s\"; they are:\n%s\n", text, d);
        _fail(file, line);
    }
}

/* Checks that the diagnostics do not contain text. */
#define assert_no_diag(f, text) fe_assert_no_diag((f), (text), __FILE__, __LINE__)
static inline void fe_assert_no_diag(Fe *f, const char *text, const char *file, int line)
{
    const char *d = fe_diags(f);
    if (strstr(d, text)) {
        print_error("diagnostics contain \"%s\"; they are:\n%s\n", text, d);
        _fail(file, line);
    }
}

/* Checks the error count, printing the diagnostics when it is wrong. */
#define assert_errors(f, n) fe_assert_errors((f), (n), __FILE__, __LINE__)
static inline void fe_assert_errors(Fe *f, int n, const char *file, int line)
{
    if (fe_errors(f) != n) {
        print_error("expected %d errors, got %d:\n%s\n", n, fe_errors(f), fe_diags(f));
        _fail(file, line);
    }
}

/* Compiles text that must be clean; returns its graph. */
#define fe_ok(text) fe_ok_at((text), __FILE__, __LINE__)
static inline Fe *fe_ok_at(const char *text, const char *file, int line)
{
    Fe *f = fe_compile(text);
    if (fe_errors(f) != 0 || !f->g) {
        print_error("expected no errors:\n%s\n", fe_diags(f));
        _fail(file, line);
    }
    return f;
}

/* Compiles text and checks it gives exactly one error containing text. */
#define assert_one_error(src, text) fe_one_error_at((src), (text), __FILE__, __LINE__)
static inline void fe_one_error_at(const char *src, const char *text, const char *file, int line)
{
    Fe *f = fe_compile(src);
    fe_assert_errors(f, 1, file, line);
    fe_assert_diag(f, text, file, line);
    if (f->g) {
        print_error("a graph came back despite the error\n");
        _fail(file, line);
    }
    fe_free(f);
}

/* The node whose layer (or input) name is name. */
static inline const IrNode *fe_node(const IrGraph *g, const char *name)
{
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0)
            return &g->nodes[i];
    fail_msg("no node named '%s'", name);
    return NULL;
}

static inline int fe_node_id(const IrGraph *g, const char *name)
{
    return (int)(fe_node(g, name) - g->nodes);
}

/* The parameter tensor called name. */
static inline const IrParam *fe_param(const IrGraph *g, const char *name)
{
    for (int i = 0; i < g->nparams; i++)
        if (strcmp(g->params[i].name, name) == 0)
            return &g->params[i];
    fail_msg("no parameter named '%s'", name);
    return NULL;
}

/* A shape as text, e.g. "[16, 14, 14]", for exact comparisons. */
static inline const char *fe_shape(const IrGraph *g, const IrShape *s)
{
    return ir_shape_str(g->arena, s);
}

#define assert_shape(g, s, text) assert_string_equal(fe_shape((g), (s)), (text))
#define assert_node_shape(g, name, text) assert_shape((g), &fe_node((g), (name))->shape, (text))
#define assert_param_shape(g, name, text) assert_shape((g), &fe_param((g), (name))->shape, (text))

/* Wraps net statements into a net with one input `x` of the given type. */
static inline const char *fe_net1(char *buf, size_t cap, const char *type, const char *body)
{
    snprintf(buf, cap, "net n {\n    input x : %s;\n%s\n}\n", type, body);
    return buf;
}

#endif
