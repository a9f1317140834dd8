/*
 * arena.c — the compiler's bump allocator.
 *
 * Chunks are chained; a request larger than the chunk size gets a chunk of
 * its own.  Memory is zeroed so that structs start in a known state.
 */
#include "arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK = 64 * 1024, ALIGN = 16 };

typedef struct Chunk Chunk;
struct Chunk {
    Chunk *next;  /* previously filled chunk */
    size_t size;  /* usable bytes in data[] */
    size_t used;  /* bytes handed out */
    _Alignas(16) unsigned char data[];
};

struct Arena {
    Chunk *head;  /* chunk being filled */
};

_Noreturn void netc_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("netc: internal error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

static Chunk *chunk_new(size_t size, Chunk *next)
{
    Chunk *c = malloc(sizeof(Chunk) + size);
    if (!c)
        netc_die("out of memory (%zu bytes)", size);
    c->next = next;
    c->size = size;
    c->used = 0;
    return c;
}

Arena *arena_new(void)
{
    Arena *a = calloc(1, sizeof(Arena));
    if (!a)
        netc_die("out of memory");
    a->head = chunk_new(CHUNK, NULL);
    return a;
}

void arena_free(Arena *a)
{
    if (!a)
        return;
    for (Chunk *c = a->head, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void *arena_alloc(Arena *a, size_t size)
{
    size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (size == 0)
        size = ALIGN;
    if (a->head->used + size > a->head->size) {
        if (size > CHUNK / 4) {
            /* Big block: own chunk, linked behind the current one. */
            Chunk *big = chunk_new(size, a->head->next);
            a->head->next = big;
            big->used = size;
            memset(big->data, 0, size);
            return big->data;
        }
        a->head = chunk_new(CHUNK, a->head);
    }
    void *p = a->head->data + a->head->used;
    a->head->used += size;
    memset(p, 0, size);
    return p;
}

void *arena_grow(Arena *a, void *old, size_t oldsize, size_t newsize)
{
    void *p = arena_alloc(a, newsize);
    if (old && oldsize)
        memcpy(p, old, oldsize < newsize ? oldsize : newsize);
    return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(Arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(Arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        netc_die("bad format '%s'", fmt);
    char *p = arena_alloc(a, (size_t)n + 1);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}
