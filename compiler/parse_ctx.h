/*
 * parse_ctx.h — state shared by the lexer (grammar/net.l) and the parser
 * (grammar/net.y).  Nothing else includes it.
 */
#ifndef NETC_PARSE_CTX_H
#define NETC_PARSE_CTX_H

#include "arena.h"
#include "ast.h"
#include "diag.h"

typedef struct ListTail {
    void *head;  /* first node of a list being built (NULL: a free slot) */
    void *tail;  /* a node of it at or near its end */
} ListTail;

typedef struct ParseCtx {
    void *scanner;        /* flex reentrant scanner */
    Arena *arena;         /* where nodes and strings go */
    Diag *diag;           /* error sink */
    const SrcFile *src;   /* the text being parsed */
    uint32_t pos;         /* byte offset of the next token */
    uint32_t tok_end;     /* end of the last token returned */
    uint32_t prev_end;    /* end of the token before it */
    AstFile *file;        /* result */
    Block *last_block;    /* tail of file->blocks */
    Net *last_net;        /* tail of file->nets */
    ListTail *tails;      /* lists' tails by head (hash table), so appending is O(1) */
    uint32_t ntails;      /* entries in tails */
    uint32_t captails;    /* its slots: a power of two, or 0 */
} ParseCtx;

typedef struct NumLit {
    double value;  /* numeric value */
    int is_int;    /* written as an integer */
} NumLit;

#endif
