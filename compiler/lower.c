/*
 * lower.c — the lowering pass: AST -> graph IR.
 *
 * Requires: a parsed AstFile (syntax errors, if any, already reported).
 * Guarantees: an IrGraph whose nodes are in topological order, every layer
 * named by the weights-file contract (`<op>_<k>`, `<block>_<k>.` prefixes
 * inside block instances, or `name = "..."`), every argument of every op
 * typed and range-checked, and every tensor input resolved.  Shapes are not
 * known yet (shape.c).
 *
 * How it works: statements are walked in order with a scope that maps
 * names to values.  A value is a tensor (a node id) or a constant (number,
 * bool, string, or a symbol such as `same`).  A call is an op, a block or
 * an error.  A block call evaluates its arguments in the caller's scope,
 * opens a fresh scope that sees only the block's parameters (blocks are
 * hygienic), and lowers the body; node names inside get the prefix
 * `<block>_<k>.`.
 */
#include "lower.h"

#include <math.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>

typedef enum ValKind { VAL_NONE, VAL_TENSOR, VAL_NUM, VAL_BOOL, VAL_STR, VAL_SYM } ValKind;

typedef struct Value {
    ValKind kind;      /* VAL_NONE: an error was already reported */
    double num;        /* VAL_NUM, VAL_BOOL */
    bool is_int;       /* VAL_NUM written as an integer */
    const char *str;   /* VAL_STR, VAL_SYM */
    int node;          /* VAL_TENSOR */
    SrcLoc loc;        /* where the value was written */
} Value;

typedef struct Binding Binding;
struct Binding {
    const char *name;  /* variable or block parameter */
    SrcLoc loc;        /* where it was bound */
    Value val;         /* its value */
    Binding *next;     /* older bindings */
};

typedef struct Counter {
    const char *block;  /* block name */
    int n;              /* instances so far in this scope */
} Counter;

/* A hash table from names to pointers, in the arena (open addressing). */
typedef struct NameMap {
    const char **keys;  /* cap slots; NULL: empty */
    void **vals;        /* value of each key */
    uint32_t cap;       /* a power of two, or 0 before the first insertion */
    uint32_t n;         /* keys stored */
} NameMap;

typedef struct Scope {
    Binding *vars;          /* names visible here */
    NameMap index;          /* the same by name, newest binding */
    const char *prefix;     /* layer-name prefix, "" at net level */
    int opcount[IR_NOPS];   /* ops of each kind so far, for <op>_<k> */
    NameMap blocks;         /* block name -> Counter: instances so far, for <block>_<k> */
    int inst;               /* IrGraph.insts entry, -1 at net level */
} Scope;

enum {
    MAX_BLOCK_DEPTH = 32,    /* blocks expanded inside one another */
    MAX_BLOCK_PARAMS = 64,   /* parameters of one block */
    MAX_EXPANSION = 1 << 16, /* layers, and block instances, of one net */
    MAX_EXPR_DEPTH = 1000,   /* calls being evaluated inside one another, blocks included */
};

typedef struct Lower {
    Arena *arena;            /* everything allocated here */
    Diag *d;                 /* error sink */
    const AstFile *file;     /* for block lookup */
    const Net *net;          /* the net being lowered */
    IrGraph *g;              /* result */
    Scope *scope;            /* current scope */
    const Block *stack[MAX_BLOCK_DEPTH];  /* blocks being expanded */
    int depth;               /* entries in stack */
    const Stmt *loss_stmt, *opt_stmt, *train_stmt;  /* for duplicate notes */
    bool too_big;            /* MAX_EXPANSION reached (reported once) */
    int expr_depth;          /* eval() calls active: bounds the C stack */
    bool too_deep;           /* MAX_EXPR_DEPTH reached (reported once) */
    NameMap layers;          /* node names -> node id + 1, for duplicates */
    const NameMap *blocks;   /* block names -> the file's first Block of that name */
} Lower;

static const char *const SYMBOLS[] = {"same", "constant", "step", "cosine"};

/* ---- errors ------------------------------------------------------------ */

static void lerror(Lower *L, SrcLoc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* An error with "in block ... used here" notes for the current expansion. */
static void lerror(Lower *L, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = arena_vprintf(L->arena, fmt, ap);
    va_end(ap);
    diag_error(L->d, loc, "%s", msg);
    ir_note_inst(L->d, L->g, L->scope ? L->scope->inst : -1);
}

static const char *value_desc(Lower *L, Value v)
{
    switch (v.kind) {
    case VAL_TENSOR: return arena_printf(L->arena, "tensor '%s'", L->g->nodes[v.node].var
                                         ? L->g->nodes[v.node].var : L->g->nodes[v.node].name);
    case VAL_NUM: return arena_printf(L->arena, "number %g", v.num);
    case VAL_BOOL: return v.num ? "true" : "false";
    case VAL_STR: return arena_printf(L->arena, "string \"%s\"", v.str);
    case VAL_SYM: return arena_printf(L->arena, "'%s'", v.str);
    case VAL_NONE: break;
    }
    return "nothing";
}

/* ---- scopes ------------------------------------------------------------ */

/* ---- name tables --------------------------------------------------------- */

/* Large nets bind many names: looking each up in a list would be quadratic. */
static uint32_t hash_name(const char *s)
{
    uint32_t h = 2166136261u;  /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static void *map_get(const NameMap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    for (uint32_t i = hash_name(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        if (!m->keys[i])
            return NULL;
        if (strcmp(m->keys[i], key) == 0)
            return m->vals[i];
    }
}

/* Sets key to val, growing the table to stay at most half full. */
static void map_put(Arena *a, NameMap *m, const char *key, void *val)
{
    if (2 * (m->n + 1) > m->cap) {
        NameMap old = *m;
        m->cap = old.cap ? 2 * old.cap : 64;
        m->n = 0;
        m->keys = arena_alloc(a, sizeof *m->keys * m->cap);
        m->vals = arena_alloc(a, sizeof *m->vals * m->cap);
        for (uint32_t i = 0; i < old.cap; i++)
            if (old.keys[i])
                map_put(a, m, old.keys[i], old.vals[i]);
    }
    uint32_t i = hash_name(key) & (m->cap - 1);
    while (m->keys[i] && strcmp(m->keys[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    m->n += !m->keys[i];
    m->keys[i] = key;
    m->vals[i] = val;
}

static Binding *lookup(Scope *s, const char *name)
{
    return map_get(&s->index, name);
}

static void bind(Lower *L, const char *name, SrcLoc loc, Value v)
{
    Binding *b = arena_alloc(L->arena, sizeof *b);
    b->name = name;
    b->loc = loc;
    b->val = v;
    b->next = L->scope->vars;
    L->scope->vars = b;
    map_put(L->arena, &L->scope->index, name, b);
}

/* The scope's names, for "did you mean". */
static const char *nearest_var(Lower *L, const char *name)
{
    const char *c[256];
    int n = 0;
    for (Binding *b = L->scope->vars; b && n < 256; b = b->next)
        c[n++] = b->name;
    return diag_nearest(name, c, n);
}

static const Block *find_block(Lower *L, const char *name)
{
    return map_get(L->blocks, name);
}

/* Past the error limit nothing more is printed: the search for hints is skipped. */
static bool quiet(const Lower *L)
{
    return L->d->nerrors >= L->d->max_errors;
}

/* The statement of body that defines name, or NULL. */
static const Stmt *find_def(const Stmt *body, const char *name)
{
    for (const Stmt *s = body; s; s = s->next)
        if ((s->kind == ST_ASSIGN || s->kind == ST_INPUT || s->kind == ST_LABEL) &&
            strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

/* The statement that defines a name later in the current net or block body. */
static const Stmt *defined_later(Lower *L, const char *name)
{
    return find_def(L->depth > 0 ? L->stack[L->depth - 1]->body : L->net->stmts, name);
}

/* ---- expressions ------------------------------------------------------- */

static Value eval(Lower *L, const Expr *e);

static bool is_callable_op(int op)
{
    return op >= 0 && !(ir_ops[op].flags & (IRF_INTERNAL | IRF_LOSS));
}

static Value eval_name(Lower *L, const Expr *e)
{
    Value v = {.loc = e->loc};
    Binding *b = lookup(L->scope, e->name);
    if (b) {
        v = b->val;
        v.loc = e->loc;
        return v;
    }
    for (size_t i = 0; i < sizeof SYMBOLS / sizeof *SYMBOLS; i++)
        if (strcmp(e->name, SYMBOLS[i]) == 0)
            return (Value){.kind = VAL_SYM, .str = e->name, .loc = e->loc};
    if (quiet(L)) {
        lerror(L, e->loc, "unknown name '%s'", e->name);
        return v;
    }
    const Stmt *later = defined_later(L, e->name);
    const char *near = nearest_var(L, e->name);
    const Stmt *outside = L->depth > 0 && !later ? find_def(L->net->stmts, e->name) : NULL;
    if (outside) {
        lerror(L, e->loc, "'%s' is defined outside block '%s'; a block sees only its parameters and its own names",
               e->name, L->stack[L->depth - 1]->name);
        diag_note(L->d, outside->nameloc, "'%s' is defined here; pass it to the block as an argument", e->name);
    } else if (!later && (is_callable_op(ir_op_lookup(e->name)) || find_block(L, e->name))) {
        lerror(L, e->loc, "'%s' is %s, not a value; apply it with 'x -> %s' or '%s(x)'", e->name,
               find_block(L, e->name) ? "a block" : "an op", e->name, e->name);
    } else if (later) {
        lerror(L, e->loc, "'%s' is used before it is defined", e->name);
        diag_note(L->d, later->nameloc, "'%s' is defined here", e->name);
    } else if (near) {
        lerror(L, e->loc, "unknown name '%s'; did you mean '%s'?", e->name, near);
    } else {
        lerror(L, e->loc, "unknown name '%s'", e->name);
    }
    return v;
}

/* Every op and block name, for "did you mean". */
static const char *nearest_callee(Lower *L, const char *name)
{
    const char *c[IR_NOPS + 256];
    int n = 0;
    for (int i = 0; i < IR_NOPS; i++)
        if (is_callable_op(i))
            c[n++] = ir_ops[i].name;
    for (const Block *b = L->file->blocks; b && n < IR_NOPS + 256; b = b->next)
        c[n++] = b->name;
    return diag_nearest(name, c, n);
}

/* "argument 'units' of dense", or "train key 'batch'". */
static const char *arg_desc(Lower *L, const char *arg, const char *what)
{
    if (strcmp(what, "train") == 0)
        return arena_printf(L->arena, "train key '%s'", arg);
    return arena_printf(L->arena, "argument '%s' of %s", arg, what);
}

/* "too many arguments to dense; it takes (x, units, bias)" */
static void too_many_args(Lower *L, SrcLoc loc, const char *what, const char *const *names, int npos)
{
    const char *list = "";
    for (int i = 0; i < npos; i++)
        list = arena_printf(L->arena, "%s%s%s", list, i ? ", " : "", names[i]);
    lerror(L, loc, "too many arguments to %s; it takes (%s)", what, list);
}

static void unknown_arg(Lower *L, const Arg *a, const char *what, const char *const *names, int n)
{
    const char *near = diag_nearest(a->key, names, n);
    const char *hint = near ? arena_printf(L->arena, "; did you mean '%s'?", near) : "";
    if (!near && strcmp(a->key, "lr") == 0)
        hint = " (the learning rate is set by the optimizer: optimizer sgd(lr = ...))";
    if (strcmp(a->key, "name") == 0 && strncmp(what, "block ", 6) == 0)
        lerror(L, a->keyloc, "%s takes no 'name'; its layers are named '<block>_<k>.<layer>'", what);
    else if (strcmp(what, "train") == 0)
        lerror(L, a->keyloc, "unknown train key '%s'%s", a->key, hint);
    else
        lerror(L, a->keyloc, "%s has no argument '%s'%s", what, a->key, hint);
}

/*
 * Matches a call's arguments to parameter names: positional ones in order
 * (only the first npos names may be given by position), then keywords.
 * slots[i] receives the Arg for names[i], or NULL.
 */
static bool match_args(Lower *L, const Expr *call, const char *what, const char *const *names,
                       int n, int npos, const Arg **slots)
{
    bool ok = true, seen_kw = false;
    int pos = 0;
    for (int i = 0; i < n; i++)
        slots[i] = NULL;
    for (const Arg *a = call->args; a; a = a->next) {
        int i = -1;
        if (!a->key) {
            if (seen_kw) {
                lerror(L, a->val->loc, "positional argument after a keyword argument in %s", what);
                ok = false;
                continue;
            }
            if (pos >= npos) {
                too_many_args(L, a->val->loc, what, names, npos);
                return false;
            }
            i = pos++;
        } else {
            seen_kw = true;
            for (int j = 0; j < n; j++)
                if (strcmp(names[j], a->key) == 0)
                    i = j;
            if (i < 0) {
                unknown_arg(L, a, what, names, n);
                ok = false;
                continue;
            }
        }
        if (slots[i]) {
            lerror(L, a->key ? a->keyloc : a->val->loc, "%s is given twice", arg_desc(L, names[i], what));
            diag_note(L->d, slots[i]->key ? slots[i]->keyloc : slots[i]->val->loc, "first given here");
            ok = false;
            continue;
        }
        slots[i] = a;
    }
    return ok;
}

static Value const_of(const Expr *e)
{
    Value v = {.loc = e->loc};
    switch (e->kind) {
    case EX_NUM: v.kind = VAL_NUM; v.num = e->num; v.is_int = e->is_int; break;
    case EX_BOOL: v.kind = VAL_BOOL; v.num = e->num; break;
    case EX_STR: v.kind = VAL_STR; v.str = e->name; break;
    default: break;
    }
    return v;
}

/* Converts the default written in a signature ("3", "true", "1e-5"). */
static Value parse_default(const char *s, SrcLoc loc)
{
    Value v = {.kind = VAL_NUM, .loc = loc};
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
        v.kind = VAL_BOOL;
        v.num = s[0] == 't';
    } else if (strcmp(s, "same") == 0 || strcmp(s, "constant") == 0) {
        v.kind = VAL_SYM;
        v.str = s;
    } else {
        v.num = strtod(s, NULL);
        v.is_int = strpbrk(s, ".eE") == NULL;
    }
    return v;
}

/* Checks v against signature type t; reports and returns false if wrong. */
static bool check_type(Lower *L, Value v, char t, const char *arg, const char *what)
{
    const char *want = NULL;
    switch (t) {
    case 'T': if (v.kind != VAL_TENSOR) want = "a tensor"; break;
    case 'I': if (v.kind != VAL_NUM || !v.is_int) want = "an integer"; break;
    case 'F': if (v.kind != VAL_NUM) want = "a number"; break;
    case 'B': if (v.kind != VAL_BOOL) want = "true or false"; break;
    case 'S': if (v.kind != VAL_STR) want = "a string"; break;
    case 'Y': if (v.kind != VAL_SYM && v.kind != VAL_STR) want = "a word"; break;
    case 'P':
        if (!(v.kind == VAL_NUM && v.is_int) && !(v.kind == VAL_SYM && strcmp(v.str, "same") == 0))
            want = "an integer or 'same'";
        break;
    default: netc_unreachable();
    }
    if (!want)
        return true;
    lerror(L, v.loc, "%s must be %s, not %s", arg_desc(L, arg, what), want, value_desc(L, v));
    return false;
}

typedef struct Range {
    const char *arg;   /* argument name */
    double lo, hi;     /* bounds */
    bool lo_open;      /* lo excluded */
    bool hi_open;      /* hi excluded */
} Range;

/* Ranges of op, optimizer and train arguments, by argument name. */
static const Range RANGES[] = {
    {"units", 1, 1e9, false, false},     {"filters", 1, 1e9, false, false},
    {"kernel", 1, 1e6, false, false},    {"stride", 1, 1e6, false, false},
    {"dilation", 1, 1e6, false, false},  {"groups", 1, 1e9, false, false},
    {"pad", 0, 1e6, false, false},       {"momentum", 0, 1, false, false},
    {"axis", -IR_MAXDIM, IR_MAXDIM - 1, false, false},
    {"eps", 0, 1, true, false},          {"p", 0, 1, false, true},
    {"lr", 0, 1e9, false, false},        {"dampening", 0, 1e9, false, false},
    {"weight_decay", 0, 1e9, false, false}, {"beta1", 0, 1, false, true},
    {"beta2", 0, 1, false, true},        {"lr_decay", 0, 1e9, false, false},
    {"initial_accumulator_value", 0, 1e9, false, false},
    {"batch", 1, 1 << 20, false, false}, {"epochs", 1, 1e7, false, false},
    {"seed", 0, 9e15, false, false},     {"step_size", 1, 1e9, false, false},
    {"gamma", 0, 1e9, true, false},      {"warmup", 0, 1e9, false, false},
    {"clip_norm", 0, 1e9, false, false},
};

static const Range OPT_MOMENTUM = {"momentum", 0, 1e9, false, false};

static bool check_range(Lower *L, Value v, const char *arg, const char *what, bool in_op)
{
    if (v.kind != VAL_NUM)
        return true;
    for (size_t i = 0; i < sizeof RANGES / sizeof *RANGES; i++) {
        const Range *r = &RANGES[i];
        if (strcmp(r->arg, arg) != 0)
            continue;
        if (strcmp(arg, "momentum") == 0 && !in_op)
            r = &OPT_MOMENTUM;  /* sgd/rmsprop: not a fraction */
        bool below = r->lo_open ? v.num <= r->lo : v.num < r->lo;
        bool above = r->hi_open ? v.num >= r->hi : v.num > r->hi;
        if (!below && !above && isfinite(v.num))
            return true;
        if (r->hi >= 1e6 && above)  /* the upper bound is only a sanity limit */
            lerror(L, v.loc, "%s must be at most %g, got %g", arg_desc(L, arg, what), r->hi, v.num);
        else if (r->hi >= 1e6)
            lerror(L, v.loc, "%s must be %s %g, got %g", arg_desc(L, arg, what),
                   r->lo_open ? "greater than" : "at least", r->lo, v.num);
        else
            lerror(L, v.loc, "%s must be in %c%g, %g%c, got %g", arg_desc(L, arg, what),
                   r->lo_open ? '(' : '[', r->lo, r->hi, r->hi_open ? ')' : ']', v.num);
        return false;
    }
    return true;
}

/* The index of a in slots[0..n), or -1. */
static int slot_of(const Arg *const *slots, int n, const Arg *a)
{
    for (int i = 0; i < n; i++)
        if (slots[i] == a)
            return i;
    return -1;
}

/* Evaluates the `name = "..."` of an op into *name_out. */
static bool eval_layer_name(Lower *L, const Expr *e, const char *what, const char **name_out)
{
    if (e->kind == EX_NAME && !lookup(L->scope, e->name)) {  /* a block parameter may hold the string */
        lerror(L, e->loc, "argument 'name' of %s must be a string; write name = \"%s\"", what, e->name);
        return false;
    }
    Value v = eval(L, e);
    if (v.kind != VAL_STR) {
        if (v.kind != VAL_NONE)
            lerror(L, v.loc, "argument 'name' of %s must be a string, not %s", what, value_desc(L, v));
        return false;
    }
    if (!v.str[0] || strspn(v.str, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(v.str)) {
        lerror(L, v.loc, "layer name \"%s\" must be letters, digits and '_'", v.str);
        return false;
    }
    *name_out = v.str;
    return true;
}

/* Evaluates one argument for parameter p and checks its type and range. */
static bool eval_sig_arg(Lower *L, const IrSigParam *p, const Expr *ae, const char *what, bool in_op, Value *out)
{
    bool word = ae->kind == EX_NAME && (p->type == 'Y' || (p->type == 'P' && !lookup(L->scope, ae->name)));
    Value v = word ? (Value){.kind = VAL_SYM, .str = ae->name, .loc = ae->loc}  /* a bare word */
                   : eval(L, ae);
    if (v.kind == VAL_NONE || !check_type(L, v, p->type, p->name, what) || !check_range(L, v, p->name, what, in_op))
        return false;
    *out = v;
    return true;
}

/*
 * Evaluates the arguments of a call against a signature, in source order
 * (layer names count in that order).  vals[i] is the value of parameter i
 * (its default when not given; VAL_NONE when absent without a default or
 * when erroneous).  Returns false on any error.
 */
static bool eval_sig_args(Lower *L, const Expr *call, const char *what, const IrSig *sig,
                          bool allow_name, Value *vals, SrcLoc *locs, const char **name_out)
{
    const char *names[IR_MAXARG + 1];
    const Arg *slots[IR_MAXARG + 1];
    int n = sig->n;
    for (int i = 0; i < n; i++) {
        names[i] = sig->p[i].name;
        locs[i] = call->loc;
        vals[i] = (Value){.kind = VAL_NONE, .loc = call->loc};
    }
    if (allow_name)
        names[n++] = "name";
    if (name_out)
        *name_out = NULL;
    bool matched = match_args(L, call, what, names, n, sig->n, slots);  /* `name` only by keyword */
    bool ok = matched;
    for (const Arg *a = call->args; a; a = a->next) {
        int i = slot_of(slots, n, a);
        if (i == sig->n) {
            ok &= eval_layer_name(L, a->val, what, name_out);
        } else if (i >= 0) {
            locs[i] = a->val->loc;
            ok &= eval_sig_arg(L, &sig->p[i], a->val, what, allow_name, &vals[i]);
        }
    }
    for (int i = 0; i < sig->n; i++) {
        const IrSigParam *p = &sig->p[i];
        if (slots[i])
            continue;
        if (p->required || p->type == 'T') {  /* a tensor operand has no default */
            if (matched)  /* else the misplaced argument was the mistake */
                lerror(L, call->loc, "%s needs argument '%s'", what, p->name);
            ok = false;
        } else if (p->dflt) {
            vals[i] = parse_default(p->dflt, call->loc);
        }
    }
    return ok;
}

/* Stores an evaluated argument into the node's attributes. */
static void set_attr(IrAttrs *a, const char *arg, Value v)
{
    int iv = fabs(v.num) < 1e9 ? (int)v.num : 0;  /* integer arguments are range-checked; others unused */
    float fv = (float)v.num;
    if (!strcmp(arg, "units") || !strcmp(arg, "filters"))
        a->units = iv;
    else if (!strcmp(arg, "kernel"))
        a->kernel[0] = a->kernel[1] = iv;
    else if (!strcmp(arg, "stride"))
        a->stride[0] = a->stride[1] = iv;
    else if (!strcmp(arg, "dilation"))
        a->dilation[0] = a->dilation[1] = iv;
    else if (!strcmp(arg, "pad")) {
        a->pad_same = v.kind == VAL_SYM;
        a->pad[0] = a->pad[1] = a->pad[2] = a->pad[3] = a->pad_same ? 0 : iv;
    } else if (!strcmp(arg, "groups"))
        a->groups = iv;
    else if (!strcmp(arg, "bias"))
        a->bias = v.num != 0;
    else if (!strcmp(arg, "axis"))
        a->axis = iv;
    else if (!strcmp(arg, "alpha"))
        a->alpha = fv;
    else if (!strcmp(arg, "momentum"))
        a->momentum = fv;
    else if (!strcmp(arg, "eps"))
        a->eps = fv;
    else if (!strcmp(arg, "p"))
        a->p = fv;
}

/* Records node id's name; if another node has it already, returns false and that node in *other. */
static bool claim_name(Lower *L, int id, int *other)
{
    intptr_t prev = (intptr_t)map_get(&L->layers, L->g->nodes[id].name);
    if (prev) {
        *other = (int)prev - 1;
        return false;
    }
    map_put(L->arena, &L->layers, L->g->nodes[id].name, (void *)(intptr_t)(id + 1));
    return true;
}

/* A label holds training targets only: the net cannot compute with it. */
static bool check_no_label(Lower *L, const IrSig *sig, const Value *vals)
{
    for (int i = 0; i < sig->n; i++) {
        if (sig->p[i].type != 'T')
            continue;
        const IrNode *x = &L->g->nodes[vals[i].node];
        if (x->op == IR_LABEL) {
            lerror(L, vals[i].loc, "'%s' is a label; a label can only be the target of a loss", x->name);
            diag_note(L->d, x->loc, "'%s' is declared here", x->name);
            return false;
        }
    }
    return true;
}

static bool too_big(Lower *L, SrcLoc loc);

/*
 * Blocks nested in blocks can expand exponentially (each using the one
 * below twice); stops, with one message, at MAX_EXPANSION layers or
 * block instances.
 */
static bool too_big(Lower *L, SrcLoc loc)
{
    if (L->g->nnodes < MAX_EXPANSION && L->g->ninsts < MAX_EXPANSION)
        return false;
    if (!L->too_big)
        lerror(L, loc, "net '%s' expands to more than %d layers or block instances", L->net->name, MAX_EXPANSION);
    L->too_big = true;
    return true;
}

/* Lowers a call to an op of the table. */
static Value lower_op(Lower *L, IrOp op, const Expr *call)
{
    IrSig sig;
    Value vals[IR_MAXARG];
    SrcLoc locs[IR_MAXARG];
    const char *explicit_name = NULL;
    ir_sig_parse(ir_ops[op].sig, &sig);
    const Arg *first = call->args;
    if (!call->piped && first && !first->key && first->val->kind != EX_NAME && first->val->kind != EX_CALL) {
        /* dense(10): the input tensor was forgotten */
        lerror(L, first->val->loc, "%s needs its input tensor first: write 'x -> %s(...)' or '%s(x, ...)'",
               ir_ops[op].name, ir_ops[op].name, ir_ops[op].name);
        ++L->scope->opcount[op];
        return (Value){.kind = VAL_NONE, .loc = call->loc};
    }
    bool ok = eval_sig_args(L, call, ir_ops[op].name, &sig, true, vals, locs, &explicit_name);
    int k = ++L->scope->opcount[op];  /* after the arguments: they come first in source order */
    if (!ok)
        return (Value){.kind = VAL_NONE, .loc = call->loc};
    if (!check_no_label(L, &sig, vals) || too_big(L, call->loc))
        return (Value){.kind = VAL_NONE, .loc = call->loc};
    int id = ir_add_node(L->g, op, call->loc);
    IrNode *n = &L->g->nodes[id];
    n->inst = L->scope->inst;
    for (int i = 0; i < sig.n; i++) {
        n->argloc[i] = locs[i];
        if (sig.p[i].type == 'T')
            n->in[n->nin++] = vals[i].node;
        else if (vals[i].kind != VAL_NONE)
            set_attr(&n->a, sig.p[i].name, vals[i]);
    }
    const char *base = explicit_name ? explicit_name : arena_printf(L->arena, "%s_%d", ir_ops[op].name, k);
    n->name = arena_printf(L->arena, "%s%s", L->scope->prefix, base);
    int other;
    if (!claim_name(L, id, &other)) {
        lerror(L, call->loc, "layer name '%s' is used twice", n->name);
        IrOp oop = L->g->nodes[other].op;
        diag_note(L->d, L->g->nodes[other].loc, "'%s' is this %s", n->name,
                  oop == IR_INPUT ? "input" : oop == IR_LABEL ? "label" : "layer");
    }
    return (Value){.kind = VAL_TENSOR, .node = id, .loc = call->loc};
}

static void lower_assign(Lower *L, const Stmt *s);

static int block_instance(Lower *L, const Block *b)
{
    Counter *c = map_get(&L->scope->blocks, b->name);
    if (!c) {
        c = arena_alloc(L->arena, sizeof *c);
        c->block = b->name;
        map_put(L->arena, &L->scope->blocks, b->name, c);
    }
    return ++c->n;
}

/* Binds a block's parameters from a call's arguments, in the caller's scope. */
static bool bind_block_args(Lower *L, const Block *b, const Expr *call, Value *vals, const char **names)
{
    const Arg *slots[MAX_BLOCK_PARAMS];
    int n = 0;
    for (const Param *p = b->params; p && n < MAX_BLOCK_PARAMS; p = p->next)
        names[n++] = p->name;
    const char *what = arena_printf(L->arena, "block '%s'", b->name);
    bool matched = match_args(L, call, what, names, n, n, slots);
    bool ok = matched;
    for (int i = 0; i < n; i++)
        vals[i] = (Value){.kind = VAL_NONE, .loc = call->loc};
    for (const Arg *a = call->args; a; a = a->next) {  /* in source order, as for ops */
        int i = slot_of(slots, n, a);
        if (i >= 0 && (vals[i] = eval(L, a->val)).kind == VAL_NONE)
            ok = false;
    }
    int i = 0;
    for (const Param *p = b->params; p && i < n; p = p->next, i++) {
        if (slots[i])
            continue;
        if (p->dflt) {
            vals[i] = p->dflt->kind == EX_NAME ? (Value){.kind = VAL_SYM, .str = p->dflt->name, .loc = p->dflt->loc}
                                               : const_of(p->dflt);
        } else {
            if (matched) {
                lerror(L, call->loc, "%s needs argument '%s'", what, p->name);
                diag_note(L->d, p->loc, "'%s' is declared here", p->name);
            }
            ok = false;
        }
    }
    if (ok && vals[0].kind != VAL_TENSOR) {
        lerror(L, vals[0].loc, "the first argument of %s must be a tensor, not %s", what, value_desc(L, vals[0]));
        ok = false;
    }
    return ok;
}

/* Expands a block call in a fresh scope. */
static Value lower_block(Lower *L, const Block *b, const Expr *call)
{
    Value none = {.kind = VAL_NONE, .loc = call->loc};
    for (int i = 0; i < L->depth; i++)
        if (L->stack[i] == b) {
            lerror(L, call->loc, "block '%s' uses itself; blocks cannot be recursive", b->name);
            diag_note(L->d, b->loc, "'%s' is defined here", b->name);
            return none;
        }
    if (L->depth == MAX_BLOCK_DEPTH) {
        lerror(L, call->loc, "blocks nested more than %d deep", MAX_BLOCK_DEPTH);
        return none;
    }
    if (too_big(L, call->loc))
        return none;
    Value vals[MAX_BLOCK_PARAMS];
    const char *names[MAX_BLOCK_PARAMS];
    bool ok = bind_block_args(L, b, call, vals, names);
    int k = block_instance(L, b);  /* after the arguments, as for ops */
    if (!ok)
        return none;
    IrGraph *g = L->g;
    ARENA_PUSH(g->arena, g->insts, g->ninsts, g->capinsts);
    g->insts[g->ninsts] = (IrInst){b->name, call->loc, L->scope->inst};
    Scope inner = {0};
    inner.prefix = arena_printf(L->arena, "%s%s_%d.", L->scope->prefix, b->name, k);
    inner.inst = g->ninsts++;
    Scope *outer = L->scope;
    L->scope = &inner;
    L->stack[L->depth++] = b;
    int i = 0;
    for (const Param *p = b->params; p && i < MAX_BLOCK_PARAMS; p = p->next, i++)
        bind(L, p->name, p->loc, vals[i]);
    for (const Stmt *s = b->body; s; s = s->next)
        lower_assign(L, s);
    Value r = eval(L, b->ret);
    if (r.kind != VAL_NONE && r.kind != VAL_TENSOR) {
        lerror(L, b->ret->loc, "block '%s' must return a tensor, not %s", b->name, value_desc(L, r));
        r = none;
    }
    L->depth--;
    L->scope = outer;
    r.loc = call->loc;
    return r;
}

static Value eval_call(Lower *L, const Expr *e)
{
    int op = ir_op_lookup(e->name);
    if (is_callable_op(op))
        return lower_op(L, (IrOp)op, e);
    const Block *b = find_block(L, e->name);
    if (b)
        return lower_block(L, b, e);
    SrcLoc nloc = {e->loc.off, (uint32_t)strlen(e->name)};
    if (op >= 0 && (ir_ops[op].flags & IRF_LOSS)) {
        lerror(L, nloc, "'%s' is a loss; use it in a 'loss' statement", e->name);
    } else {
        const char *near = quiet(L) ? NULL : nearest_callee(L, e->name);
        if (near)
            lerror(L, nloc, "unknown op '%s'; did you mean '%s'?", e->name, near);
        else
            lerror(L, nloc, "unknown op '%s'", e->name);
    }
    return (Value){.kind = VAL_NONE, .loc = e->loc};
}

/*
 * `x -> relu -> relu -> ...` nests one call per arrow, and blocks nest
 * their bodies' calls inside the caller's: evaluation recurses that deep,
 * so the depth is bounded rather than the stack left to overflow.
 */
static Value eval(Lower *L, const Expr *e)
{
    if (L->expr_depth == MAX_EXPR_DEPTH) {
        if (!L->too_deep)
            lerror(L, e->loc, "expression nested too deeply (more than %d calls, counting those in blocks)",
                   MAX_EXPR_DEPTH);
        L->too_deep = true;
        return (Value){.kind = VAL_NONE, .loc = e->loc};
    }
    L->expr_depth++;
    Value v;
    switch (e->kind) {
    case EX_NAME: v = eval_name(L, e); break;
    case EX_CALL: v = eval_call(L, e); break;
    default: v = const_of(e); break;
    }
    L->expr_depth--;
    return v;
}

/* ---- statements -------------------------------------------------------- */

static bool check_new_name(Lower *L, const char *name, SrcLoc loc)
{
    Binding *b = lookup(L->scope, name);
    if (!b)
        return true;
    lerror(L, loc, "'%s' is already defined; names are assigned once", name);
    diag_note(L->d, b->loc, "'%s' is defined here", name);
    return false;
}

static void lower_assign(Lower *L, const Stmt *s)
{
    Value v = eval(L, s->expr);
    if (v.kind != VAL_TENSOR && v.kind != VAL_NONE) {
        lerror(L, s->expr->loc, "'%s' must be assigned a tensor, not %s", s->name, value_desc(L, v));
        v.kind = VAL_NONE;
    }
    if (!check_new_name(L, s->name, s->nameloc))
        return;
    if (v.kind == VAL_TENSOR && !L->g->nodes[v.node].var)
        L->g->nodes[v.node].var = s->name;
    bind(L, s->name, s->nameloc, v);
}

static void lower_decl(Lower *L, const Stmt *s)
{
    const TypeSpec *t = &s->type;
    bool ok = true;
    for (int i = 0; i < t->ndim; i++)
        if (t->dims[i] < (t->is_class ? 2 : 1) || t->dims[i] > (1 << 30)) {
            if (t->is_class)
                lerror(L, t->loc, "a class label needs at least 2 classes, got %ld", t->dims[i]);
            else
                lerror(L, t->loc, "dimension %d of '%s' must be at least 1, got %ld", i, s->name, t->dims[i]);
            ok = false;
        }
    if (!check_new_name(L, s->name, s->nameloc))
        return;
    if (!ok) {
        bind(L, s->name, s->nameloc, (Value){.kind = VAL_NONE});
        return;
    }
    int id = ir_add_node(L->g, s->kind == ST_INPUT ? IR_INPUT : IR_LABEL, s->nameloc);
    IrNode *n = &L->g->nodes[id];
    n->name = n->var = s->name;
    n->argloc[0] = t->loc;
    n->is_class = t->is_class;
    if (t->is_class) {
        n->a.nclass = (int)t->dims[0];
        n->shape.ndim = 0;
    } else {
        n->shape.ndim = t->ndim;
        for (int i = 0; i < t->ndim; i++)
            n->shape.dim[i] = (int)t->dims[i];
    }
    int other;
    claim_name(L, id, &other);  /* a layer may not take an input's name either */
    bind(L, s->name, s->nameloc, (Value){.kind = VAL_TENSOR, .node = id, .loc = s->nameloc});
}

static void lower_output(Lower *L, const Stmt *s)
{
    IrGraph *g = L->g;
    for (const NameRef *r = s->names; r; r = r->next) {
        Binding *b = lookup(L->scope, r->name);
        if (!b) {
            Expr e = {.kind = EX_NAME, .loc = r->loc, .name = r->name};
            eval_name(L, &e);
            continue;
        }
        if (b->val.kind != VAL_TENSOR)
            continue;
        IrNode *n = &g->nodes[b->val.node];
        if (n->op == IR_INPUT || n->op == IR_LABEL) {
            lerror(L, r->loc, "output '%s' is %s of the net; outputs must be computed", r->name,
                   n->op == IR_INPUT ? "an input" : "a label");
            continue;
        }
        bool dup = false;
        for (int i = 0; i < g->noutputs; i++)
            if (strcmp(g->outputs[i].name, r->name) == 0) {
                lerror(L, r->loc, "'%s' is already an output", r->name);
                diag_note(L->d, g->outputs[i].loc, "first listed here");
                dup = true;
            }
        if (dup)
            continue;
        ARENA_PUSH(g->arena, g->outputs, g->noutputs, g->capoutputs);
        g->outputs[g->noutputs++] = (IrOutput){r->name, b->val.node, r->loc};
    }
}

static bool once(Lower *L, const Stmt *s, const Stmt **seen, const char *what)
{
    if (*seen) {
        lerror(L, s->loc, "a net has at most one '%s' statement", what);
        diag_note(L->d, (*seen)->loc, "the first one is here");
        return false;
    }
    *seen = s;
    return true;
}

/* One term of the loss sum: a loss op over an output and a target. */
static int lower_loss_term(Lower *L, const LossTerm *t)
{
    const Expr *c = t->call;
    int op = ir_op_lookup(c->name);
    if (op < 0 || !(ir_ops[op].flags & IRF_LOSS)) {
        const char *losses[] = {"cross_entropy", "mse", "l1", "bce_with_logits"};
        const char *near = diag_nearest(c->name, losses, 4);
        SrcLoc nloc = {c->loc.off, (uint32_t)strlen(c->name)};
        if (near)
            lerror(L, nloc, "unknown loss '%s'; did you mean '%s'?", c->name, near);
        else
            lerror(L, nloc, "unknown loss '%s' (losses: cross_entropy, mse, l1, bce_with_logits)", c->name);
        return -1;
    }
    if (!(t->weight > 0) || !isfinite(t->weight)) {
        lerror(L, t->loc, "loss weight must be a positive number, got %g", t->weight);
        return -1;
    }
    IrSig sig;
    Value vals[IR_MAXARG];
    SrcLoc locs[IR_MAXARG];
    ir_sig_parse(ir_ops[op].sig, &sig);
    if (!eval_sig_args(L, c, ir_ops[op].name, &sig, false, vals, locs, NULL))
        return -1;
    IrNode *tgt = &L->g->nodes[vals[1].node];
    if (tgt->op != IR_LABEL && tgt->op != IR_INPUT) {
        lerror(L, locs[1], "the target of %s must be a label or an input, not the computed tensor '%s'",
               c->name, tgt->var ? tgt->var : tgt->name);
        return -1;
    }
    int id = ir_add_node(L->g, (IrOp)op, c->loc);
    IrNode *n = &L->g->nodes[id];
    n->name = arena_printf(L->arena, "loss_%s_%d", c->name, ++L->scope->opcount[op]);
    n->nin = 2;
    n->in[0] = vals[0].node;
    n->in[1] = vals[1].node;
    n->argloc[0] = locs[0];
    n->argloc[1] = locs[1];
    n->a.weight = (float)t->weight;
    return id;
}

static void lower_loss(Lower *L, const Stmt *s)
{
    if (!once(L, s, &L->loss_stmt, "loss"))
        return;
    int terms[IR_MAXIN], n = 0;
    bool ok = true;
    for (const LossTerm *t = s->terms; t; t = t->next) {
        if (n == IR_MAXIN) {
            lerror(L, t->loc, "a loss has at most %d terms", IR_MAXIN);
            return;
        }
        int id = lower_loss_term(L, t);
        ok &= id >= 0;
        terms[n++] = id;
    }
    if (!ok)
        return;
    int id = ir_add_node(L->g, IR_LOSS_SUM, s->loc);
    IrNode *sum = &L->g->nodes[id];
    sum->name = "loss";
    sum->nin = n;
    memcpy(sum->in, terms, sizeof(int) * (size_t)n);
    L->g->loss = id;
}

typedef struct OptDef {
    IrOptKind kind;    /* which */
    const char *name;  /* spelling */
    const char *sig;   /* hyper-parameters with PyTorch's defaults */
} OptDef;

static const OptDef OPTIMIZERS[] = {
    {OPT_SGD, "sgd", "lr:F! momentum:F=0 dampening:F=0 nesterov:B=false weight_decay:F=0"},
    {OPT_ADAGRAD, "adagrad", "lr:F=0.01 lr_decay:F=0 weight_decay:F=0 initial_accumulator_value:F=0 eps:F=1e-10"},
    {OPT_RMSPROP, "rmsprop", "lr:F=0.01 alpha:F=0.99 eps:F=1e-8 weight_decay:F=0 momentum:F=0 centered:B=false"},
    {OPT_ADAM, "adam", "lr:F=0.001 beta1:F=0.9 beta2:F=0.999 eps:F=1e-8 weight_decay:F=0 amsgrad:B=false"},
    {OPT_ADAMW, "adamw", "lr:F=0.001 beta1:F=0.9 beta2:F=0.999 eps:F=1e-8 weight_decay:F=0.01 amsgrad:B=false"},
};

static void lower_optimizer(Lower *L, const Stmt *s)
{
    if (!once(L, s, &L->opt_stmt, "optimizer"))
        return;
    const Expr *c = s->expr;
    const OptDef *def = NULL;
    const char *names[5];
    for (int i = 0; i < 5; i++) {
        names[i] = OPTIMIZERS[i].name;
        if (strcmp(c->name, OPTIMIZERS[i].name) == 0)
            def = &OPTIMIZERS[i];
    }
    SrcLoc nloc = {c->loc.off, (uint32_t)strlen(c->name)};
    if (!def) {
        const char *near = diag_nearest(c->name, names, 5);
        if (near)
            lerror(L, nloc, "unknown optimizer '%s'; did you mean '%s'?", c->name, near);
        else
            lerror(L, nloc, "unknown optimizer '%s' (optimizers: sgd, adagrad, rmsprop, adam, adamw)", c->name);
        return;
    }
    IrSig sig;
    Value vals[IR_MAXARG];
    SrcLoc locs[IR_MAXARG];
    ir_sig_parse(def->sig, &sig);
    if (!eval_sig_args(L, c, def->name, &sig, false, vals, locs, NULL))
        return;
    IrOptim *o = &L->g->opt;
    o->kind = def->kind;
    o->name = def->name;
    o->loc = c->loc;
    o->nhp = sig.n;
    for (int i = 0; i < sig.n; i++) {
        o->hpname[i] = arena_strdup(L->arena, sig.p[i].name);
        o->hp[i] = vals[i].num;
    }
    if (def->kind == OPT_SGD && ir_hp(o, "nesterov") != 0 &&
        (ir_hp(o, "momentum") <= 0 || ir_hp(o, "dampening") != 0))
        lerror(L, c->loc, "sgd with nesterov = true needs momentum > 0 and dampening = 0");
}

static void lower_train(Lower *L, const Stmt *s)
{
    if (!once(L, s, &L->train_stmt, "train"))
        return;
    static const char *sig_str = "batch:I=32 epochs:I=1 seed:I=0 shuffle:B=true schedule:Y=constant "
                                 "step_size:I=1 gamma:F=0.1 warmup:I=0 clip_norm:F=0";
    IrSig sig;
    Value vals[IR_MAXARG];
    SrcLoc locs[IR_MAXARG];
    ir_sig_parse(sig_str, &sig);
    Expr call = {.kind = EX_CALL, .loc = s->loc, .name = "train", .args = s->kvs};
    if (!eval_sig_args(L, &call, "train", &sig, false, vals, locs, NULL))
        return;
    IrTrain *t = &L->g->train;
    t->batch = (int)vals[0].num;
    t->epochs = (int)vals[1].num;
    t->seed = (uint64_t)vals[2].num;
    t->shuffle = vals[3].num != 0;
    t->step_size = (int)vals[5].num;
    t->gamma = vals[6].num;
    t->warmup = (int)vals[7].num;
    t->clip_norm = vals[8].num;
    const char *sched = vals[4].str ? vals[4].str : "constant";
    const char *scheds[] = {"constant", "step", "cosine"};
    for (int i = 0; i < 3; i++)
        if (strcmp(sched, scheds[i]) == 0) {
            t->schedule = (IrSchedule)i;
            return;
        }
    const char *near = diag_nearest(sched, scheds, 3);
    lerror(L, locs[4], "unknown schedule '%s'%s%s%s (schedules: constant, step, cosine)", sched,
           near ? "; did you mean '" : "", near ? near : "", near ? "'?" : "");
}

/* ---- nets and files ---------------------------------------------------- */

static void lower_stmt(Lower *L, const Stmt *s)
{
    switch (s->kind) {
    case ST_INPUT:
    case ST_LABEL: lower_decl(L, s); break;
    case ST_ASSIGN: lower_assign(L, s); break;
    case ST_OUTPUT: lower_output(L, s); break;
    case ST_LOSS: break;  /* after all outputs are known */
    case ST_OPTIMIZER: lower_optimizer(L, s); break;
    case ST_TRAIN: lower_train(L, s); break;
    }
}

/* A loss must read outputs of the net, so it is lowered last. */
static void check_loss_outputs(Lower *L)
{
    IrGraph *g = L->g;
    if (g->loss < 0)
        return;
    const IrNode *sum = &g->nodes[g->loss];
    for (int i = 0; i < sum->nin; i++) {
        const IrNode *t = &g->nodes[sum->in[i]];
        const IrNode *pred = &g->nodes[t->in[0]];
        if (!ir_is_output(g, t->in[0])) {
            lerror(L, t->argloc[0], "%s is computed on '%s', which is not an output of the net",
                   ir_ops[t->op].name, pred->var ? pred->var : pred->name);
            if (g->noutputs)
                diag_note(L->d, g->outputs[0].loc, "outputs are listed here");
        }
    }
}

static void set_train_defaults(IrTrain *t)
{
    t->batch = 32;
    t->epochs = 1;
    t->shuffle = true;
    t->schedule = SCHED_CONSTANT;
    t->step_size = 1;
    t->gamma = 0.1;
}

static void check_block(const Block *b, Diag *d);

/* The file's blocks by name (the first of each name); checks each block when d is given. */
static NameMap *index_blocks(const AstFile *f, Arena *a, Diag *d)
{
    NameMap *m = arena_alloc(a, sizeof *m);
    for (const Block *b = f->blocks; b; b = b->next) {
        if (d)
            check_block(b, d);
        const Block *o = map_get(m, b->name);
        if (!o) {
            map_put(a, m, b->name, (void *)b);
        } else if (d) {
            diag_error(d, b->loc, "block '%s' is defined twice", b->name);
            diag_note(d, o->loc, "first defined here");
        }
    }
    return m;
}

IrGraph *lower_run(const AstFile *f, const Net *net, Arena *a, Diag *d)
{
    Lower L = {.arena = a, .d = d, .file = f, .net = net, .blocks = f->block_index};
    L.g = ir_new(a, d->file, net->name, net->loc);
    if (!L.blocks)  /* lower_check_file was not run */
        L.blocks = index_blocks(f, a, NULL);
    set_train_defaults(&L.g->train);
    Scope top = {.prefix = "", .inst = -1};
    L.scope = &top;
    int ninputs = 0;
    for (const Stmt *s = net->stmts; s; s = s->next) {
        lower_stmt(&L, s);
        ninputs += s->kind == ST_INPUT;
    }
    for (const Stmt *s = net->stmts; s; s = s->next)
        if (s->kind == ST_LOSS)
            lower_loss(&L, s);
    check_loss_outputs(&L);
    if (ninputs == 0)
        lerror(&L, net->loc, "net '%s' has no input", net->name);
    bool has_output = false;
    for (const Stmt *s = net->stmts; s; s = s->next)
        has_output |= s->kind == ST_OUTPUT;
    if (!has_output)
        lerror(&L, net->loc, "net '%s' has no 'output' statement", net->name);
    if (L.opt_stmt && !L.loss_stmt)
        lerror(&L, L.opt_stmt->loc, "an optimizer needs a 'loss' statement to minimize");
    return L.g;
}

static void check_block(const Block *b, Diag *d)
{
    if (ir_op_lookup(b->name) >= 0)
        diag_error(d, b->loc, "block '%s' has the name of a built-in op", b->name);
    int n = 0;
    for (const Param *p = b->params; p; p = p->next)
        if (++n == MAX_BLOCK_PARAMS + 1) {
            diag_error(d, p->loc, "block '%s' has more than %d parameters", b->name, MAX_BLOCK_PARAMS);
            return;
        }
    for (const Param *p = b->params; p; p = p->next)
        for (const Param *q = b->params; q != p; q = q->next)
            if (strcmp(p->name, q->name) == 0) {
                diag_error(d, p->loc, "parameter '%s' of block '%s' is declared twice", p->name, b->name);
                diag_note(d, q->loc, "first declared here");
            }
    if (b->params && b->params->dflt)
        diag_error(d, b->params->loc, "the first parameter of block '%s' is its input tensor and takes no default",
                   b->name);
}

void lower_check_file(AstFile *f, Arena *a, Diag *d)
{
    f->block_index = index_blocks(f, a, d);
    NameMap nets = {0};
    for (const Net *n = f->nets; n; n = n->next) {
        const Net *o = map_get(&nets, n->name);
        if (o) {
            diag_error(d, n->loc, "net '%s' is defined twice", n->name);
            diag_note(d, o->loc, "first defined here");
        } else {
            map_put(a, &nets, n->name, (void *)n);
        }
    }
    if (!f->nets && d->nerrors == 0)
        diag_error(d, (SrcLoc){0, 0}, "no net in this file (expected 'net NAME { ... }')");
}
