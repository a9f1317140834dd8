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
%define parse.lac full
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
#include <ctype.h>
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
static Arg *arg_append(ParseCtx *pc, Arg *list, Arg *a);
static Expr *mk_pipe(ParseCtx *pc, Expr *lhs, Expr *call, SrcLoc loc);
static Stmt *mk_stmt(ParseCtx *pc, StmtKind k, SrcLoc loc);
static void add_block(ParseCtx *pc, Block *b);
static void add_net(ParseCtx *pc, Net *n);
#define APPEND(list, item) append_node(pc, (void **)&(list), (item), offsetof(__typeof__(*(item)), next))
static void append_node(ParseCtx *pc, void **list, void *item, size_t next_off);
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
    | file error                /* skip to the next 'block' or 'net' */
    ;

/* block = "block" IDENT "(" IDENT { "," param } ")" "{" { assign } "return" expr ";" "}" */
block
    : "block" IDENT '(' params ')' '{' assigns "return" expr ';' '}'
        { $$ = arena_alloc(pc->arena, sizeof(Block));
          $$->name = $2; $$->loc = @2; $$->params = $4; $$->body = $7; $$->ret = $9; }
    | "block" IDENT '(' params ')' '{' assigns error '}'
        { $$ = NULL; yyerrok; }
    | "block" error '}'
        { $$ = NULL; yyerrok; }
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
    | assigns error ';'         { $$ = $1; yyerrok; }
    ;

/* net = "net" IDENT "{" { stmt } "}" */
net
    : "net" IDENT '{' stmts '}'
        { $$ = arena_alloc(pc->arena, sizeof(Net)); $$->name = $2; $$->loc = @2; $$->stmts = $4; }
    | "net" IDENT '{' stmts error '}'
        { $$ = arena_alloc(pc->arena, sizeof(Net)); $$->name = $2; $$->loc = @2; $$->stmts = $4; yyerrok; }
    | "net" error '}'
        { $$ = NULL; yyerrok; }
    ;

stmts
    : %empty                    { $$ = NULL; }
    | stmts stmt                { $$ = $1; if ($2) APPEND($$, $2); }
    | stmts error ';'           { $$ = $1; yyerrok; }
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
    | "train" '{' kvs error '}' { $$ = NULL; yyerrok; }
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
    | kvs kv                    { $$ = arg_append(pc, $1, $2); }
    | kvs error ';'             { $$ = $1; yyerrok; }
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
    | args ',' arg              { $$ = arg_append(pc, $1, $3); }
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

/* The entry of pc->tails for the list starting at head: its own, or a free one. */
static ListTail *tail_find(const ParseCtx *pc, const void *head)
{
    uint32_t mask = pc->captails - 1;
    uint32_t i = (uint32_t)(((uintptr_t)head >> 4) * 2654435761u) & mask;
    while (pc->tails[i].head && pc->tails[i].head != head)
        i = (i + 1) & mask;
    return &pc->tails[i];
}

/* Notes that the list starting at head reaches tail (the table stays at most half full). */
static void remember_tail(ParseCtx *pc, void *head, void *tail)
{
    if (2 * (pc->ntails + 1) > pc->captails) {
        ListTail *old = pc->tails;
        uint32_t oldcap = pc->captails;
        pc->captails = oldcap ? 2 * oldcap : 64;
        pc->tails = arena_alloc(pc->arena, sizeof *pc->tails * pc->captails);
        for (uint32_t i = 0; i < oldcap; i++)
            if (old[i].head)
                *tail_find(pc, old[i].head) = old[i];
    }
    ListTail *t = tail_find(pc, head);
    pc->ntails += !t->head;
    *t = (ListTail){head, tail};
}

/*
 * Appends item to the list *list, whose nodes link through the pointer at
 * next_off.  The walk to the end starts from the remembered tail of the
 * list when there is one, so a list of n statements is built in O(n), not
 * O(n^2).
 */
static void append_node(ParseCtx *pc, void **list, void *item, size_t next_off)
{
    if (!*list) {
        *list = item;
        remember_tail(pc, item, item);
        return;
    }
    char *p = *list;
    if (pc->captails && tail_find(pc, *list)->head)
        p = tail_find(pc, *list)->tail;
    while (*(void **)(p + next_off))
        p = *(void **)(p + next_off);
    *(void **)(p + next_off) = item;
    remember_tail(pc, *list, item);
}

static Arg *arg_append(ParseCtx *pc, Arg *list, Arg *a)
{
    if (a)
        append_node(pc, (void **)&list, a, offsetof(Arg, next));
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
    if (strcmp(msg, "memory exhausted") == 0)  /* the parser's stack is full (YYMAXDEPTH) */
        diag_error(pc->diag, *loc, "parentheses and calls nested too deeply (the limit is %d levels of grammar)",
                   YYMAXDEPTH);
    else
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
    if (k >= YYSYMBOL_BLOCK && k <= YYSYMBOL_ARROW) {  /* keywords and '->' come unquoted */
        snprintf(buf, cap, "'%s'", name);
        return buf;
    }
    return name;  /* ';' and friends come quoted already */
}

/* Keywords that can never be names ('true' and 'false' are values). */
static bool is_keyword(yysymbol_kind_t k)
{
    return k >= YYSYMBOL_BLOCK && k <= YYSYMBOL_CLASS;
}

/* True if k is the punctuation token written `c` ('(' for '('). */
static bool is_punct(yysymbol_kind_t k, char c)
{
    const char *name = yysymbol_name(k);
    return name[0] == '\'' && name[1] == c && name[2] == '\'';
}

/* The nearest keyword among kinds[0..n) to the n-byte word at text, or NULL. */
static const char *near_keyword(const char *text, uint32_t len, const yysymbol_kind_t *kinds, int n)
{
    char word[64];
    const char *cands[YYNTOKENS];
    int m = 0;
    if (len == 0 || len >= sizeof word)
        return NULL;
    memcpy(word, text, len);
    word[len] = '\0';
    for (int i = 0; i < n; i++)
        if (is_keyword(kinds[i]))
            cands[m++] = yysymbol_name(kinds[i]);
    return diag_nearest(word, cands, m);
}

/*
 * `outptu y;` parses as the start of an assignment and fails at `y`.  If the
 * identifier before the failing one looks like a statement keyword, says so.
 */
static bool report_misspelled_stmt(ParseCtx *pc, const SrcLoc *loc)
{
    static const yysymbol_kind_t stmts[] = {YYSYMBOL_INPUT, YYSYMBOL_LABEL, YYSYMBOL_OUTPUT, YYSYMBOL_LOSS,
                                            YYSYMBOL_OPTIMIZER, YYSYMBOL_TRAIN, YYSYMBOL_RETURN};
    const char *t = pc->src->text;
    uint32_t start = pc->prev_end;
    while (start > 0 && (isalnum((unsigned char)t[start - 1]) || t[start - 1] == '_'))
        start--;
    const char *kw = near_keyword(t + start, pc->prev_end - start, stmts, sizeof stmts / sizeof *stmts);
    if (!kw || start == pc->prev_end || pc->prev_end >= loc->off)
        return false;
    diag_error(pc->diag, (SrcLoc){start, pc->prev_end - start}, "unknown statement '%.*s'; did you mean '%s'?",
               (int)(pc->prev_end - start), t + start, kw);
    return true;
}

/* `output = ...`: a keyword where a name was meant, seen at the '='. */
static bool report_keyword_as_name(ParseCtx *pc)
{
    static const char *const kws[] = {"block", "net", "input", "label", "output", "loss",
                                      "optimizer", "train", "return", "f32", "class"};
    const char *t = pc->src->text;
    uint32_t start = pc->prev_end;
    while (start > 0 && (isalnum((unsigned char)t[start - 1]) || t[start - 1] == '_'))
        start--;
    for (size_t i = 0; i < sizeof kws / sizeof *kws; i++)
        if (pc->prev_end - start == strlen(kws[i]) && strncmp(t + start, kws[i], strlen(kws[i])) == 0) {
            diag_error(pc->diag, (SrcLoc){start, pc->prev_end - start},
                       "'%s' is a reserved word and cannot be used as a name", kws[i]);
            return true;
        }
    return false;
}

/* "'->', ',' or ')'": the expected tokens worth listing, or "" if too many; returns their number. */
static int expected_list(yysymbol_kind_t *exp, int n, char *want, size_t cap)
{
    bool can_end = false;
    for (int i = 0; i < n; i++)
        can_end |= exp[i] == YYSYMBOL_YYEOF || is_punct(exp[i], ')') || is_punct(exp[i], ';');
    int m = 0;
    for (int i = 0; i < n; i++) {
        /* Where the construct may end here, '(' and '=' would only extend a name. */
        if (exp[i] == YYSYMBOL_YYEOF || (can_end && (is_punct(exp[i], '(') || is_punct(exp[i], '='))))
            continue;
        exp[m++] = exp[i];
    }
    want[0] = '\0';
    if (m > 4)
        return m;
    for (int i = 0; i < m; i++) {
        char one[64];
        if (i)
            strncat(want, i == m - 1 ? " or " : ", ", cap - strlen(want) - 1);
        strncat(want, token_desc(NULL, exp[i], NULL, one, sizeof one), cap - strlen(want) - 1);
    }
    return m;
}

static bool expects(const yysymbol_kind_t *exp, int n, yysymbol_kind_t k)
{
    for (int i = 0; i < n; i++)
        if (exp[i] == k)
            return true;
    return false;
}

static bool expects_punct(const yysymbol_kind_t *exp, int n, char c)
{
    for (int i = 0; i < n; i++)
        if (is_punct(exp[i], c))
            return true;
    return false;
}

/* True if a keyword other than 'true'/'false' is among the expected tokens. */
static bool expects_keyword(const yysymbol_kind_t *exp, int n)
{
    for (int i = 0; i < n; i++)
        if (is_keyword(exp[i]))
            return true;
    return false;
}

static bool is_constant(yysymbol_kind_t k)
{
    return k == YYSYMBOL_INT || k == YYSYMBOL_FLOAT || k == YYSYMBOL_STRING || k == YYSYMBOL_TRUE ||
           k == YYSYMBOL_FALSE || is_punct(k, '-');
}

/*
 * Common mistakes that get a message of their own rather than "unexpected X,
 * expected Y".  Returns true if it reported one.
 */
static bool report_known_mistake(ParseCtx *pc, yysymbol_kind_t tok, const yysymbol_kind_t *exp, int n,
                                 const SrcLoc *loc, const char *what)
{
    Diag *d = pc->diag;
    bool only_eq = n == 1 && is_punct(exp[0], '=');
    if (tok == YYSYMBOL_IDENT && only_eq && report_misspelled_stmt(pc, loc))
        return true;
    if (is_punct(tok, '=') && report_keyword_as_name(pc))
        return true;
    if (tok >= YYSYMBOL_INPUT && tok <= YYSYMBOL_TRAIN && expects(exp, n, YYSYMBOL_RETURN))
        diag_error(d, *loc, "%s statements belong in a net; a block holds assignments and 'return'", what);
    else if (n == 2 && expects(exp, n, YYSYMBOL_IDENT) && expects_punct(exp, n, '(') && is_constant(tok))
        diag_error(d, *loc, "unexpected %s, expected a tensor (names hold tensors only)", what);
    else if (tok == YYSYMBOL_ARROW && only_eq)
        diag_error(d, *loc, "an expression cannot stand alone as a statement; assign it: 'name = ...;'");
    else if (is_punct(tok, '}') && expects(exp, n, YYSYMBOL_RETURN))
        diag_error(d, *loc, "a block must end with 'return EXPR;'");
    else if (is_keyword(tok) && expects(exp, n, YYSYMBOL_IDENT) && !expects_keyword(exp, n))
        diag_error(d, *loc, "%s is a reserved word and cannot be used as a name", what);
    else
        return false;
    return true;
}

/* A missing ';' is best shown right after the token before it, when that is on an earlier line. */
static bool report_missing_semicolon(ParseCtx *pc, const yysymbol_kind_t *exp, int n, const SrcLoc *loc,
                                     const char *what)
{
    int l1, c1, l2, c2;
    if (!expects_punct(exp, n, ';') || pc->prev_end >= loc->off)
        return false;
    diag_line_col(pc->src, pc->prev_end, &l1, &c1);
    diag_line_col(pc->src, loc->off, &l2, &c2);
    if (l1 == l2)
        return false;
    diag_error(pc->diag, (SrcLoc){pc->prev_end, 0}, "expected ';' before %s", what);
    return true;
}

static int yyreport_syntax_error(const yypcontext_t *ctx, void *scanner, ParseCtx *pc)
{
    (void)scanner;
    yysymbol_kind_t exp[YYNTOKENS];
    int n = yypcontext_expected_tokens(ctx, exp, YYNTOKENS);
    yysymbol_kind_t tok = yypcontext_token(ctx);
    const SrcLoc *loc = yypcontext_location(ctx);
    char found[80], want[256];
    const char *what = token_desc(pc, tok, loc, found, sizeof found);
    if (report_known_mistake(pc, tok, exp, n, loc, what) || report_missing_semicolon(pc, exp, n, loc, what))
        return 0;
    const char *kw = tok == YYSYMBOL_IDENT ? near_keyword(pc->src->text + loc->off, loc->len, exp, n) : NULL;
    bool brace = expects_punct(exp, n, '}');
    bool value = expects(exp, n, YYSYMBOL_IDENT) && expects(exp, n, YYSYMBOL_INT);
    if (expected_list(exp, n, want, sizeof want) < 2)
        kw = NULL;  /* "expected 'f32'; did you mean 'f32'?" says nothing new */
    if (!want[0] && value)
        snprintf(want, sizeof want, "a name or a value");
    if (tok == YYSYMBOL_YYEOF && !want[0] && brace)
        diag_error(pc->diag, *loc, "unexpected end of file; a '}' is missing");
    else if (want[0])
        diag_error(pc->diag, *loc, "unexpected %s, expected %s%s%s%s", what, want, kw ? "; did you mean '" : "",
                   kw ? kw : "", kw ? "'?" : "");
    else
        diag_error(pc->diag, *loc, "unexpected %s", what);
    return 0;
}
