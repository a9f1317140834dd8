/*
 * net.y — the grammar of .net files (see docs/language.md).
 *
 * A pure, reentrant bison parser.  Locations are SrcLoc byte spans.  It builds
 * the AST of compiler/ast.h directly; the only rewriting it does is to turn a
 * pipe `a -> f(args)` into the call `f(a, args)` (and `a -> f` into `f(a)`).
 *
 * Error recovery: a broken statement is skipped up to its ';' (or the '}'
 * closing its net or block), so one run reports every syntax error.  Messages
 * come from yyreport_syntax_error below, which names what was found and what
 * could have come instead.
 */
%require "3.8"
%define api.pure full
%define api.prefix {netyy}
%define api.location.type {SrcLoc}
%define parse.error custom
%locations
%expect 0
%param {void *scanner}
%parse-param {ParseCtx *pc}

%code requires {
#include "parse_ctx.h"
}

%code provides {
int netyylex(NETYYSTYPE *lval, SrcLoc *lloc, void *scanner);
int netyy_raw_lex(NETYYSTYPE *lval, SrcLoc *lloc, void *scanner);
}

%code {
#include <string.h>

#define YYLLOC_DEFAULT(Cur, Rhs, N)                                        \
    do {                                                                   \
        if (N) {                                                           \
            (Cur) = loc_span(YYRHSLOC(Rhs, 1), YYRHSLOC(Rhs, N));         \
        } else {                                                           \
            (Cur).off = YYRHSLOC(Rhs, 0).off + YYRHSLOC(Rhs, 0).len;       \
            (Cur).len = 0;                                                 \
        }                                                                  \
    } while (0)

static void netyyerror(SrcLoc *loc, void *scanner, ParseCtx *pc, const char *msg);
static Expr *mk_expr(ParseCtx *pc, ExprKind k, SrcLoc loc);
static Expr *mk_num(ParseCtx *pc, NumLit n, int neg, SrcLoc loc);
static Arg *mk_arg(ParseCtx *pc, const char *key, SrcLoc keyloc, Expr *val);
static Arg *arg_append(Arg *list, Arg *a);
static Expr *mk_pipe(ParseCtx *pc, Expr *lhs, Expr *call, SrcLoc loc);
static Stmt *mk_stmt(ParseCtx *pc, StmtKind k, SrcLoc loc);
static void add_block(ParseCtx *pc, Block *b);
static void add_net(ParseCtx *pc, Net *n);
#define APPEND(list, item) append_node((void **)&(list), (item), offsetof(__typeof__(*(item)), next))
static void append_node(void **list, void *item, size_t next_off);
}

%union {
    const char *str;
    NumLit num;
    Expr *expr;
    Arg *arg;
    Stmt *stmt;
    Param *param;
    NameRef *names;
    LossTerm *term;
    TypeSpec type;
    Block *block;
    Net *net;
}

%token BLOCK "block" NET "net" INPUT "input" LABEL "label" OUTPUT "output"
%token LOSS "loss" OPTIMIZER "optimizer" TRAIN "train" RETURN "return"
%token F32 "f32" CLASS "class" TRUE "true" FALSE "false" ARROW "->"
%token <str> IDENT "identifier" STRING "string"
%token <num> INT "integer" FLOAT "number"

%type <expr> expr primary call value literal argval
%type <arg> args arglist arg kvs kv
%type <stmt> stmts stmt assigns assign
%type <param> params param
%type <names> names
%type <term> lterms lterm
%type <type> ttype dims
%type <num> number
%type <block> block
%type <net> net

%%

file
    : %empty
    | file block                { add_block(pc, $2); }
    | file net                  { add_net(pc, $2); }
    ;

/* block = "block" IDENT "(" IDENT { "," param } ")" "{" { assign } "return" expr ";" "}" */
block
    : "block" IDENT '(' params ')' '{' assigns "return" expr ';' '}'
        { $$ = arena_alloc(pc->arena, sizeof(Block));
          $$->name = $2; $$->loc = @2; $$->params = $4; $$->body = $7; $$->ret = $9; }
    | "block" IDENT '(' params ')' '{' assigns error '}'
        { $$ = NULL; }
    | "block" error '}'
        { $$ = NULL; }
    ;

params
    : param                     { $$ = $1; }
    | params ',' param          { $$ = $1; APPEND($$, $3); }
    ;

/* param = IDENT [ "=" value ] */
param
    : IDENT                     { $$ = arena_alloc(pc->arena, sizeof(Param)); $$->name = $1; $$->loc = @1; }
    | IDENT '=' value           { $$ = arena_alloc(pc->arena, sizeof(Param)); $$->name = $1; $$->loc = @1; $$->dflt = $3; }
    ;

assigns
    : %empty                    { $$ = NULL; }
    | assigns assign            { $$ = $1; if ($2) APPEND($$, $2); }
    | assigns error ';'         { $$ = $1; }
    ;

/* net = "net" IDENT "{" { stmt } "}" */
net
    : "net" IDENT '{' stmts '}'
        { $$ = arena_alloc(pc->arena, sizeof(Net)); $$->name = $2; $$->loc = @2; $$->stmts = $4; }
    | "net" IDENT '{' stmts error '}'
        { $$ = arena_alloc(pc->arena, sizeof(Net)); $$->name = $2; $$->loc = @2; $$->stmts = $4; }
    | "net" error '}'
        { $$ = NULL; }
    ;

stmts
    : %empty                    { $$ = NULL; }
    | stmts stmt                { $$ = $1; if ($2) APPEND($$, $2); }
    | stmts error ';'           { $$ = $1; }
    ;

stmt
    : "input" IDENT ':' ttype ';'
        { $$ = mk_stmt(pc, ST_INPUT, @$); $$->name = $2; $$->nameloc = @2; $$->type = $4; }
    | "label" IDENT ':' ttype ';'
        { $$ = mk_stmt(pc, ST_LABEL, @$); $$->name = $2; $$->nameloc = @2; $$->type = $4; }
    | "label" IDENT ':' "class" '[' INT ']' ';'
        { $$ = mk_stmt(pc, ST_LABEL, @$); $$->name = $2; $$->nameloc = @2;
          $$->type.is_class = true; $$->type.ndim = 1; $$->type.dims[0] = (long)$6.value;
          $$->type.loc = loc_span(@4, @7); }
    | assign                    { $$ = $1; }
    | "output" names ';'        { $$ = mk_stmt(pc, ST_OUTPUT, @$); $$->names = $2; }
    | "loss" lterms ';'         { $$ = mk_stmt(pc, ST_LOSS, @$); $$->terms = $2; }
    | "optimizer" call ';'      { $$ = mk_stmt(pc, ST_OPTIMIZER, @$); $$->expr = $2; }
    | "train" '{' kvs '}'       { $$ = mk_stmt(pc, ST_TRAIN, @$); $$->kvs = $3; }
    ;

/* ttype = "f32" "[" INT { "," INT } "]" */
ttype
    : "f32" '[' dims ']'        { $$ = $3; $$.loc = loc_span(@1, @4); }
    ;

dims
    : INT                       { memset(&$$, 0, sizeof $$); $$.ndim = 1; $$.dims[0] = (long)$1.value; }
    | dims ',' INT
        { $$ = $1;
          if ($$.ndim == AST_MAXDIM)
              diag_error(pc->diag, @3, "too many dimensions (at most %d)", AST_MAXDIM);
          else
              $$.dims[$$.ndim++] = (long)$3.value; }
    ;

names
    : IDENT                     { $$ = arena_alloc(pc->arena, sizeof(NameRef)); $$->name = $1; $$->loc = @1; }
    | names ',' IDENT
        { NameRef *n = arena_alloc(pc->arena, sizeof(NameRef)); n->name = $3; n->loc = @3;
          $$ = $1; APPEND($$, n); }
    ;

/* lterm = [ NUMBER "*" ] call */
lterms
    : lterm                     { $$ = $1; }
    | lterms '+' lterm          { $$ = $1; APPEND($$, $3); }
    ;

lterm
    : call
        { $$ = arena_alloc(pc->arena, sizeof(LossTerm)); $$->weight = 1; $$->call = $1; $$->loc = @$; }
    | number '*' call
        { $$ = arena_alloc(pc->arena, sizeof(LossTerm)); $$->weight = $1.value; $$->call = $3; $$->loc = @$; }
    ;

number
    : INT | FLOAT
    ;

kvs
    : %empty                    { $$ = NULL; }
    | kvs kv                    { $$ = arg_append($1, $2); }
    | kvs error ';'             { $$ = $1; }
    ;

kv
    : IDENT '=' value ';'       { $$ = mk_arg(pc, $1, @1, $3); }
    ;

/* assign = IDENT "=" expr ";" */
assign
    : IDENT '=' expr ';'
        { $$ = mk_stmt(pc, ST_ASSIGN, @$); $$->name = $1; $$->nameloc = @1; $$->expr = $3; }
    ;

/* expr = primary { "->" ( IDENT | call ) } */
expr
    : primary                   { $$ = $1; }
    | expr "->" IDENT
        { Expr *c = mk_expr(pc, EX_CALL, @3); c->name = $3; $$ = mk_pipe(pc, $1, c, @$); }
    | expr "->" call            { $$ = mk_pipe(pc, $1, $3, @$); }
    ;

/* primary = IDENT | call | "(" expr ")" */
primary
    : IDENT                     { $$ = mk_expr(pc, EX_NAME, @1); $$->name = $1; }
    | call                      { $$ = $1; }
    | '(' expr ')'              { $$ = $2; }
    ;

/* call = IDENT "(" [ arg { "," arg } ] ")" */
call
    : IDENT '(' arglist ')'     { $$ = mk_expr(pc, EX_CALL, @$); $$->name = $1; $$->args = $3; }
    ;

arglist
    : %empty                    { $$ = NULL; }
    | args                      { $$ = $1; }
    ;

args
    : arg                       { $$ = $1; }
    | args ',' arg              { $$ = arg_append($1, $3); }
    ;

/* arg = [ IDENT "=" ] ( expr | value ) */
arg
    : argval                    { $$ = mk_arg(pc, NULL, @1, $1); }
    | IDENT '=' argval          { $$ = mk_arg(pc, $1, @1, $3); }
    ;

argval
    : expr                      { $$ = $1; }
    | literal                   { $$ = $1; }
    ;

/* value = [ "-" ] NUMBER | "true" | "false" | IDENT | STRING */
value
    : literal                   { $$ = $1; }
    | IDENT                     { $$ = mk_expr(pc, EX_NAME, @1); $$->name = $1; }
    ;

literal
    : number                    { $$ = mk_num(pc, $1, 0, @1); }
    | '-' number                { $$ = mk_num(pc, $2, 1, @$); }
    | "true"                    { $$ = mk_expr(pc, EX_BOOL, @1); $$->num = 1; }
    | "false"                   { $$ = mk_expr(pc, EX_BOOL, @1); $$->num = 0; }
    | STRING                    { $$ = mk_expr(pc, EX_STR, @1); $$->name = $1; }
    ;

%%

#include "net.lex.h"

/* The scanner, wrapped to remember where the previous token ended. */
int netyylex(NETYYSTYPE *lval, SrcLoc *lloc, void *scanner)
{
    ParseCtx *pc = netyyget_extra(scanner);
    pc->prev_end = pc->tok_end;
    int t = netyy_raw_lex(lval, lloc, scanner);
    pc->tok_end = lloc->off + lloc->len;
    return t;
}

static void append_node(void **list, void *item, size_t next_off)
{
    void **p = list;
    while (*p)
        p = (void **)((char *)*p + next_off);
    *p = item;
}

static Arg *arg_append(Arg *list, Arg *a)
{
    if (!a)
        return list;
    if (!list)
        return a;
    Arg *p = list;
    while (p->next)
        p = p->next;
    p->next = a;
    return list;
}

static Expr *mk_expr(ParseCtx *pc, ExprKind k, SrcLoc loc)
{
    Expr *e = arena_alloc(pc->arena, sizeof(Expr));
    e->kind = k;
    e->loc = loc;
    return e;
}

static Expr *mk_num(ParseCtx *pc, NumLit n, int neg, SrcLoc loc)
{
    Expr *e = mk_expr(pc, EX_NUM, loc);
    e->num = neg ? -n.value : n.value;
    e->is_int = n.is_int;
    return e;
}

static Arg *mk_arg(ParseCtx *pc, const char *key, SrcLoc keyloc, Expr *val)
{
    Arg *a = arena_alloc(pc->arena, sizeof(Arg));
    a->key = key;
    a->keyloc = keyloc;
    a->val = val;
    return a;
}

/* `lhs -> call` becomes call(lhs, args...). */
static Expr *mk_pipe(ParseCtx *pc, Expr *lhs, Expr *call, SrcLoc loc)
{
    (void)loc;
    Arg *first = mk_arg(pc, NULL, lhs->loc, lhs);
    first->next = call->args;
    call->args = first;
    call->piped = true;
    return call;
}

static Stmt *mk_stmt(ParseCtx *pc, StmtKind k, SrcLoc loc)
{
    Stmt *s = arena_alloc(pc->arena, sizeof(Stmt));
    s->kind = k;
    s->loc = loc;
    return s;
}

static void add_block(ParseCtx *pc, Block *b)
{
    if (!b)
        return;
    if (pc->last_block)
        pc->last_block->next = b;
    else
        pc->file->blocks = b;
    pc->last_block = b;
}

static void add_net(ParseCtx *pc, Net *n)
{
    if (!n)
        return;
    if (pc->last_net)
        pc->last_net->next = n;
    else
        pc->file->nets = n;
    pc->last_net = n;
}

static void netyyerror(SrcLoc *loc, void *scanner, ParseCtx *pc, const char *msg)
{
    (void)scanner;
    diag_error(pc->diag, *loc, "%s", msg);
}

/* A token's name for messages: 'block', ';', identifier 'foo', end of file. */
static const char *token_desc(ParseCtx *pc, yysymbol_kind_t k, const SrcLoc *loc, char *buf, size_t cap)
{
    const char *name = yysymbol_name(k);
    if (k == YYSYMBOL_YYEOF)
        return "end of file";
    if (loc && (k == YYSYMBOL_IDENT || k == YYSYMBOL_INT || k == YYSYMBOL_FLOAT)) {
        int n = loc->len > 40 ? 40 : (int)loc->len;
        snprintf(buf, cap, "%s '%.*s'", name, n, pc->src->text + loc->off);
        return buf;
    }
    if (name[0] == '"') {  /* "block" -> 'block' */
        size_t n = strlen(name);
        snprintf(buf, cap, "'%.*s'", (int)(n - 2), name + 1);
        return buf;
    }
    return name;  /* ';' and friends come quoted already */
}

static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, ParseCtx *pc)
{
    (void)scanner;
    enum { MAXEXP = 6 };
    yysymbol_kind_t exp[MAXEXP];
    int n = yypcontext_expected_tokens(ctx, exp, MAXEXP);
    yysymbol_kind_t tok = yypcontext_token(ctx);
    const SrcLoc *loc = yypcontext_location(ctx);
    char found[80], want[256] = "", one[64];
    token_desc(pc, tok, loc, found, sizeof found);
    int semi = 0;
    for (int i = 0; i < n && n <= 4; i++) {
        if (exp[i] == YYSYMBOL_YYEOF)
            continue;
        if (strcmp(yysymbol_name(exp[i]), "';'") == 0)
            semi = 1;
        const char *d = token_desc(pc, exp[i], NULL, one, sizeof one);
        if (want[0])
            strncat(want, i == n - 1 ? " or " : ", ", sizeof want - strlen(want) - 1);
        strncat(want, d, sizeof want - strlen(want) - 1);
    }
    if (semi && pc->prev_end < loc->off) {
        /* A missing ';' is best shown right after the token before it. */
        int l1, c1, l2, c2;
        diag_line_col(pc->src, pc->prev_end, &l1, &c1);
        diag_line_col(pc->src, loc->off, &l2, &c2);
        if (l1 != l2) {
            diag_error(pc->diag, (SrcLoc){pc->prev_end, 0}, "expected ';' before %s", found);
            return 0;
        }
    }
    if (want[0])
        diag_error(pc->diag, *loc, "unexpected %s, expected %s", found, want);
    else
        diag_error(pc->diag, *loc, "unexpected %s", found);
    return 0;
}
