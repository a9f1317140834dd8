/*
 * test_arena.c — the compiler's bump allocator (compiler/arena.c).
 *
 * Alignment, zeroing, blocks larger than a chunk, arena_grow, the string
 * helpers, and the ARENA_PUSH growable array.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"

enum { CHUNK_SIZE = 64 * 1024 };  /* arena.c's chunk size */

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return false;
    return true;
}

/* Every allocation is 16-aligned, whatever sizes came before it. */
static void test_alignment(void **state)
{
    Arena *a = arena_new();
    for (size_t size = 0; size < 100; size++) {
        void *p = arena_alloc(a, size);
        assert_int_equal((uintptr_t)p % 16, 0);
    }
    char *s = arena_strdup(a, "abc");  /* odd sizes from the string helpers too */
    void *p = arena_alloc(a, 8);
    assert_int_equal((uintptr_t)s % 16, 0);
    assert_int_equal((uintptr_t)p % 16, 0);
    arena_free(a);
}

/* Consecutive allocations do not overlap: writing one leaves the next intact. */
static void test_no_overlap(void **state)
{
    Arena *a = arena_new();
    unsigned char *p[200];
    for (int i = 0; i < 200; i++) {
        size_t n = (size_t)(i % 37) + 1;
        p[i] = arena_alloc(a, n);
        memset(p[i], i + 1, n);
    }
    for (int i = 0; i < 200; i++) {
        size_t n = (size_t)(i % 37) + 1;
        for (size_t j = 0; j < n; j++)
            assert_int_equal(p[i][j], (unsigned char)(i + 1));
    }
    arena_free(a);
}

/* Memory comes zeroed, in the first chunk and in chunks added later. */
static void test_zeroed(void **state)
{
    Arena *a = arena_new();
    size_t total = 0;
    while (total < 4 * CHUNK_SIZE) {
        unsigned char *p = arena_alloc(a, 1000);
        assert_true(all_zero(p, 1000));
        memset(p, 0xab, 1000);  /* dirty it: later blocks must not see this */
        total += 1000;
    }
    arena_free(a);
}

/* A request larger than a quarter chunk gets a block of its own. */
static void test_big_block(void **state)
{
    Arena *a = arena_new();
    unsigned char *small1 = arena_alloc(a, 32);
    memset(small1, 1, 32);
    size_t big = 3 * (size_t)CHUNK_SIZE + 5;
    unsigned char *p = arena_alloc(a, big);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    assert_true(all_zero(p, big));
    memset(p, 0xcd, big);
    /* Small allocations go on in the current chunk, untouched by the big one. */
    unsigned char *small2 = arena_alloc(a, 32);
    assert_true(all_zero(small2, 32));
    assert_true(small2 + 32 <= p || small2 >= p + big);
    assert_int_equal(small2 - small1, 32);  /* right after small1: same chunk */
    for (int i = 0; i < 32; i++)
        assert_int_equal(small1[i], 1);
    /* A block just above a quarter chunk when the current chunk is nearly full. */
    arena_alloc(a, CHUNK_SIZE - 200);
    unsigned char *q = arena_alloc(a, CHUNK_SIZE / 4 + 16);
    assert_true(all_zero(q, CHUNK_SIZE / 4 + 16));
    arena_free(a);
}

static void test_grow(void **state)
{
    Arena *a = arena_new();
    int *v = arena_alloc(a, 4 * sizeof(int));
    for (int i = 0; i < 4; i++)
        v[i] = i * 10;
    int *w = arena_grow(a, v, 4 * sizeof(int), 8 * sizeof(int));
    assert_ptr_not_equal(v, w);
    for (int i = 0; i < 4; i++)
        assert_int_equal(w[i], i * 10);
    for (int i = 4; i < 8; i++)
        assert_int_equal(w[i], 0);  /* the new part is zeroed */
    int *x = arena_grow(a, NULL, 0, 2 * sizeof(int));  /* from nothing */
    assert_int_equal(x[0], 0);
    assert_int_equal(x[1], 0);
    int *y = arena_grow(a, w, 8 * sizeof(int), 2 * sizeof(int));  /* shrinking copies what fits */
    assert_int_equal(y[0], 0);
    assert_int_equal(y[1], 10);
    arena_free(a);
}

static void test_strings(void **state)
{
    Arena *a = arena_new();
    char *s = arena_strdup(a, "dense_1");
    assert_string_equal(s, "dense_1");
    char *t = arena_strndup(a, "conv2d(16)", 6);
    assert_string_equal(t, "conv2d");
    char *e = arena_strndup(a, "", 0);
    assert_string_equal(e, "");
    char *f = arena_printf(a, "%s_%d.%s", "block", 3, "weight");
    assert_string_equal(f, "block_3.weight");
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *g = arena_printf(a, "<%s>", big);
    assert_int_equal(strlen(g), sizeof big + 1);
    assert_int_equal(g[0], '<');
    assert_int_equal(g[sizeof big], '>');
    arena_free(a);
}

/* ARENA_PUSH doubles the capacity from 8 and keeps the contents. */
static void test_push(void **state)
{
    Arena *a = arena_new();
    int *items = NULL, n = 0, cap = 0;
    int caps[1000];
    for (int i = 0; i < 1000; i++) {
        ARENA_PUSH(a, items, n, cap);
        items[n++] = i * 3;
        caps[i] = cap;
    }
    assert_int_equal(n, 1000);
    assert_int_equal(caps[0], 8);
    assert_int_equal(caps[7], 8);
    assert_int_equal(caps[8], 16);
    assert_int_equal(caps[16], 32);
    assert_int_equal(caps[999], 1024);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(items[i], i * 3);
    arena_free(a);
}

/* Structs pushed with ARENA_PUSH: the macro sizes by the element type. */
static void test_push_structs(void **state)
{
    typedef struct Pair {
        double x;  /* first */
        char tag;  /* second */
    } Pair;
    Arena *a = arena_new();
    Pair *items = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 100; i++) {
        ARENA_PUSH(a, items, n, cap);
        items[n++] = (Pair){i * 0.5, (char)('a' + i % 26)};
    }
    assert_int_equal(cap, 128);
    for (int i = 0; i < 100; i++) {
        assert_true(items[i].x == i * 0.5);
        assert_int_equal(items[i].tag, 'a' + i % 26);
    }
    arena_free(a);
}

static void test_free_null(void **state)
{
    arena_free(NULL);  /* allowed, does nothing */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alignment),
        cmocka_unit_test(test_no_overlap),
        cmocka_unit_test(test_zeroed),
        cmocka_unit_test(test_big_block),
        cmocka_unit_test(test_grow),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_push),
        cmocka_unit_test(test_push_structs),
        cmocka_unit_test(test_free_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
