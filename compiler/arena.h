/*
 * arena.h — bump allocation for compiler data.
 *
 * One arena lives for a whole compilation and holds the AST, the IR and
 * every string.  Nothing is freed node by node: arena_free() drops it all.
 */
#ifndef NETC_ARENA_H
#define NETC_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct Arena Arena;

Arena *arena_new(void);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t size);               /* zeroed, 16-aligned */
void *arena_grow(Arena *a, void *old, size_t oldsize, size_t newsize);
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *arena_vprintf(Arena *a, const char *fmt, va_list ap);

/* Internal faults, as opposed to errors in the user's input. */
_Noreturn void netc_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define netc_unreachable() netc_die("%s:%d: unreachable", __FILE__, __LINE__)

/* Growable array stored in an arena: grows *items to hold one more. */
#define ARENA_PUSH(arena, items, count, cap)                                          \
    do {                                                                              \
        if ((count) == (cap)) {                                                       \
            size_t ncap_ = (cap) ? (size_t)(cap) * 2 : 8;                             \
            (items) = arena_grow((arena), (items), sizeof(*(items)) * (size_t)(cap),  \
                                 sizeof(*(items)) * ncap_);                           \
            (cap) = ncap_;                                                            \
        }                                                                             \
    } while (0)

#endif
