/*
 * ast.c — running the parser, and printing the AST (for tests and
 * `netc dump-ast`).
 */
#include "ast.h"

#include "parse_ctx.h"
#include "net.tab.h"
#include "net.lex.h"

AstFile *ast_parse(const SrcFile *src, Arena *arena, Diag *d)
{
    ParseCtx pc = {0};
    pc.arena = arena;
    pc.diag = d;
    pc.src = src;
    pc.file = arena_alloc(arena, sizeof(AstFile));
    if (netyylex_init_extra(&pc, &pc.scanner) != 0)
        netc_die("cannot create scanner");
    YY_BUFFER_STATE buf = netyy_scan_bytes(src->text, (int)src->len, pc.scanner);
    int rc = netyyparse(pc.scanner, &pc);
    netyy_delete_buffer(buf, pc.scanner);
    netyylex_destroy(pc.scanner);
    /* rc 2 is bison's "memory exhausted": its stack limit, reached by
     * nesting too deep, already reported by netyyerror (grammar/net.y). */
    if (rc != 0 && d->nerrors == 0)
        diag_error(d, (SrcLoc){src->len, 0}, "cannot parse this file");
    return pc.file;
}

const char *ast_stmt_kind_name(StmtKind k)
{
    static const char *names[] = {"input", "label", "assign", "output", "loss", "optimizer", "train"};
    return names[k];
}

/* Deeper expressions print as "..." (a long pipe chain nests one call per arrow). */
enum { PRINT_DEPTH = 1000 };

static void print_expr(FILE *out, const Expr *e, int depth);

static void print_args(FILE *out, const Arg *a, int depth)
{
    for (; a; a = a->next) {
        if (a->key)
            fprintf(out, "%s=", a->key);
        print_expr(out, a->val, depth);
        if (a->next)
            fputs(", ", out);
    }
}

static void print_expr(FILE *out, const Expr *e, int depth)
{
    if (depth > PRINT_DEPTH) {
        fputs("...", out);
        return;
    }
    switch (e->kind) {
    case EX_NAME: fputs(e->name, out); break;
    case EX_NUM: fprintf(out, "%.9g", e->num); break;
    case EX_STR: fprintf(out, "\"%s\"", e->name); break;
    case EX_BOOL: fputs(e->num ? "true" : "false", out); break;
    case EX_CALL:
        fprintf(out, "%s(", e->name);
        print_args(out, e->args, depth + 1);
        fputc(')', out);
        break;
    }
}

static void print_type(FILE *out, const TypeSpec *t)
{
    if (t->is_class) {
        fprintf(out, "class[%ld]", t->dims[0]);
        return;
    }
    fputs("f32[", out);
    for (int i = 0; i < t->ndim; i++)
        fprintf(out, "%s%ld", i ? ", " : "", t->dims[i]);
    fputc(']', out);
}

static void print_stmt(FILE *out, const Stmt *s)
{
    fprintf(out, "  %s ", ast_stmt_kind_name(s->kind));
    switch (s->kind) {
    case ST_INPUT:
    case ST_LABEL:
        fprintf(out, "%s : ", s->name);
        print_type(out, &s->type);
        break;
    case ST_ASSIGN:
        fprintf(out, "%s = ", s->name);
        print_expr(out, s->expr, 0);
        break;
    case ST_OUTPUT:
        for (const NameRef *n = s->names; n; n = n->next)
            fprintf(out, "%s%s", n->name, n->next ? ", " : "");
        break;
    case ST_LOSS:
        for (const LossTerm *t = s->terms; t; t = t->next) {
            fprintf(out, "%.9g * ", t->weight);
            print_expr(out, t->call, 0);
            if (t->next)
                fputs(" + ", out);
        }
        break;
    case ST_OPTIMIZER: print_expr(out, s->expr, 0); break;
    case ST_TRAIN: print_args(out, s->kvs, 0); break;
    }
    fputc('\n', out);
}

void ast_print(FILE *out, const AstFile *f)
{
    for (const Block *b = f->blocks; b; b = b->next) {
        fprintf(out, "block %s(", b->name);
        for (const Param *p = b->params; p; p = p->next) {
            fputs(p->name, out);
            if (p->dflt) {
                fputc('=', out);
                print_expr(out, p->dflt, 0);
            }
            if (p->next)
                fputs(", ", out);
        }
        fputs(")\n", out);
        for (const Stmt *s = b->body; s; s = s->next)
            print_stmt(out, s);
        fputs("  return ", out);
        print_expr(out, b->ret, 0);
        fputc('\n', out);
    }
    for (const Net *n = f->nets; n; n = n->next) {
        fprintf(out, "net %s\n", n->name);
        for (const Stmt *s = n->stmts; s; s = s->next)
            print_stmt(out, s);
    }
}
