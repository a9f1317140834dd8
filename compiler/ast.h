/*
 * ast.h — the syntax tree of a .net file, as the parser builds it.
 *
 * Lists are singly linked through `next`, in source order.  A pipe
 * `a -> f(args)` is already rewritten by the parser into the call
 * `f(a, args)` with `piped` set, so later passes see only calls.
 */
#ifndef NETC_AST_H
#define NETC_AST_H

#include "arena.h"
#include "diag.h"

#include <stdbool.h>

typedef enum ExprKind {
    EX_NAME,   /* identifier: a tensor, a block parameter or a symbol (same, cosine) */
    EX_CALL,   /* op, block or loss call */
    EX_NUM,    /* number literal, possibly negated */
    EX_STR,    /* "string" */
    EX_BOOL,   /* true / false */
} ExprKind;

typedef struct Expr Expr;
typedef struct Arg Arg;

struct Arg {
    const char *key;  /* keyword, or NULL for a positional argument */
    SrcLoc keyloc;    /* where the keyword is */
    Expr *val;        /* the argument's value */
    Arg *next;        /* next argument */
};

struct Expr {
    ExprKind kind;     /* which of the forms above */
    SrcLoc loc;        /* whole expression (for calls: callee through ')') */
    const char *name;  /* EX_NAME, EX_CALL callee, EX_STR contents */
    double num;        /* EX_NUM value; EX_BOOL 0 or 1 */
    bool is_int;       /* EX_NUM written without '.' or exponent */
    Arg *args;         /* EX_CALL arguments */
    bool piped;        /* EX_CALL written as `a -> f(...)` */
};

typedef enum StmtKind {
    ST_INPUT,      /* input NAME : f32[...] */
    ST_LABEL,      /* label NAME : f32[...] | class[K] */
    ST_ASSIGN,     /* NAME = expr */
    ST_OUTPUT,     /* output NAME, ... */
    ST_LOSS,       /* loss [w *] call + ... */
    ST_OPTIMIZER,  /* optimizer call */
    ST_TRAIN,      /* train { key = value; ... } */
} StmtKind;

enum { AST_MAXDIM = 8 };

typedef struct TypeSpec {
    bool is_class;         /* class[K] */
    int ndim;              /* dimensions written (1 for class) */
    long dims[AST_MAXDIM]; /* sizes as written */
    SrcLoc loc;            /* the whole type */
} TypeSpec;

typedef struct NameRef NameRef;
struct NameRef {
    const char *name;  /* identifier */
    SrcLoc loc;        /* where it is written */
    NameRef *next;     /* next in the list */
};

typedef struct LossTerm LossTerm;
struct LossTerm {
    double weight;    /* factor before '*', 1 when absent */
    SrcLoc loc;       /* the whole term */
    Expr *call;       /* the loss call */
    LossTerm *next;   /* next term of the sum */
};

typedef struct Stmt Stmt;
struct Stmt {
    StmtKind kind;     /* statement form */
    SrcLoc loc;        /* whole statement */
    const char *name;  /* INPUT/LABEL/ASSIGN target */
    SrcLoc nameloc;    /* where the name is */
    TypeSpec type;     /* INPUT/LABEL */
    Expr *expr;        /* ASSIGN value, OPTIMIZER call */
    NameRef *names;    /* OUTPUT names */
    LossTerm *terms;   /* LOSS terms */
    Arg *kvs;          /* TRAIN settings as keyword args */
    Stmt *next;        /* next statement */
};

typedef struct Param Param;
struct Param {
    const char *name;  /* parameter name */
    SrcLoc loc;        /* where it is declared */
    Expr *dflt;        /* default value, or NULL */
    Param *next;       /* next parameter */
};

typedef struct Block Block;
struct Block {
    const char *name;  /* block name */
    SrcLoc loc;        /* the name in the header */
    Param *params;     /* first is the tensor input */
    Stmt *body;        /* assignments */
    Expr *ret;         /* returned expression */
    Block *next;       /* next block in the file */
};

typedef struct Net Net;
struct Net {
    const char *name;  /* net name */
    SrcLoc loc;        /* the name */
    Stmt *stmts;       /* body */
    Net *next;         /* next net in the file */
};

typedef struct AstFile {
    Block *blocks;      /* every block, in order */
    Net *nets;          /* every net, in order */
    void *block_index;  /* blocks by name: lower.c's table, made by lower_check_file */
} AstFile;

/* Parses src into an AST; syntax errors go to d.  Returns NULL only on fatal errors. */
AstFile *ast_parse(const SrcFile *src, Arena *arena, Diag *d);
void ast_print(FILE *out, const AstFile *f);
const char *ast_stmt_kind_name(StmtKind k);

#endif
