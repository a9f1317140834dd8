/*
 * test_rt_core.c - errors, shape formatting, the arena and the RNG.
 *
 * The RNG expectations for seed 1 are hard-coded: they were computed once
 * from this implementation (and agree with the published splitmix64 and
 * xoshiro256** reference code), so any change to the generator, which would
 * silently change every training run, fails here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "nnrt.h"

/* ---- errors and shapes ---------------------------------------------------- */

static void test_errorf(void **state)
{
    NnrtError e;
    char big[1000];
    assert_int_equal(nnrt_errorf(NULL, "ignored %d", 1), -1);
    assert_int_equal(nnrt_errorf(&e, "tensor '%s': %d", "w", 7), -1);
    assert_string_equal(e.msg, "tensor 'w': 7");
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(nnrt_errorf(&e, "%s", big), -1);
    assert_int_equal(strlen(e.msg), sizeof e.msg - 1);
}

static void test_format_shape(void **state)
{
    char buf[64];
    const int64_t s[3] = {128, 784, -1};
    assert_int_equal(nnrt_format_shape(buf, sizeof buf, 0, s), 2);
    assert_string_equal(buf, "[]");
    nnrt_format_shape(buf, sizeof buf, 1, s);
    assert_string_equal(buf, "[128]");
    nnrt_format_shape(buf, sizeof buf, 3, s);
    assert_string_equal(buf, "[128, 784, -1]");
    assert_int_equal(nnrt_format_shape(buf, 5, 2, s), 10);
    assert_string_equal(buf, "[128");
    assert_int_equal(nnrt_format_shape(buf, 1, 2, s), 10);
    assert_string_equal(buf, "");
    assert_int_equal(nnrt_format_shape(NULL, 0, 2, s), 10);
}

/* ---- arena ---------------------------------------------------------------- */

static void test_arena(void **state)
{
    _Alignas(64) unsigned char mem[256];
    NnrtArena a;
    nnrt_arena_init(&a, mem, sizeof mem);
    unsigned char *p = nnrt_arena_alloc(&a, 3, 1);
    assert_ptr_equal(p, mem);
    double *d = nnrt_arena_alloc(&a, 8, 8);
    assert_ptr_equal(d, mem + 8);
    float *f = nnrt_arena_alloc(&a, 4, 64);
    assert_ptr_equal(f, mem + 64);
    assert_int_equal(a.used, 68);
    assert_non_null(nnrt_arena_alloc(&a, 0, 0));
    assert_null(nnrt_arena_alloc(&a, 8, 3));
    assert_null(nnrt_arena_alloc(&a, 189, 1));
    assert_int_equal(a.used, 68);
    assert_ptr_equal(nnrt_arena_alloc(&a, 188, 1), mem + 68);
    assert_int_equal(a.used, 256);
    assert_null(nnrt_arena_alloc(&a, 1, 1));
    assert_null(nnrt_arena_alloc(&a, SIZE_MAX, 1));
    nnrt_arena_init(&a, mem + 1, 16);
    assert_ptr_equal(nnrt_arena_alloc(&a, 8, 16), NULL);
    assert_ptr_equal(nnrt_arena_alloc(&a, 8, 8), mem + 8);
    nnrt_arena_init(&a, NULL, 100);
    assert_null(nnrt_arena_alloc(&a, 1, 1));
}

/* ---- random numbers ------------------------------------------------------- */

static void test_rng_known_values(void **state)
{
    static const uint64_t u64[4] = {0xb3f2af6d0fc710c5ull, 0x853b559647364ceaull,
                                    0x92f89756082a4514ull, 0x642e1c7bc266a3a7ull};
    static const uint32_t below10[8] = {7, 5, 5, 3, 6, 1, 0, 3};
    static const uint32_t shuffled[10] = {3, 6, 1, 5, 0, 9, 2, 8, 4, 7};
    NnrtRng r;
    nnrt_rng_seed(&r, 1);
    assert_true(r.s[0] == 0x910a2dec89025cc1ull); /* splitmix64(1), published */
    for (int i = 0; i < 4; i++)
        assert_true(nnrt_rng_u64(&r) == u64[i]);
    nnrt_rng_seed(&r, 1);
    for (int i = 0; i < 4; i++)
        assert_int_equal(nnrt_rng_u32(&r), (uint32_t)(u64[i] >> 32));
    nnrt_rng_seed(&r, 1);
    assert_true(nnrt_rng_uniform(&r) == 0.702921808f);
    assert_true(nnrt_rng_uniform(&r) == 0.520436585f);
    nnrt_rng_seed(&r, 1);
    for (int i = 0; i < 8; i++)
        assert_int_equal(nnrt_rng_below(&r, 10), below10[i]);
    uint32_t a[10];
    for (uint32_t i = 0; i < 10; i++)
        a[i] = i;
    nnrt_rng_seed(&r, 1);
    nnrt_rng_shuffle_u32(&r, a, 10);
    assert_memory_equal(a, shuffled, sizeof a);
    nnrt_rng_seed(&r, 1);
    assert_true(nnrt_rng_uniform_range(&r, -2.0f, 3.0f) == 1.5146091f);
    assert_int_equal(nnrt_hash_u32(1, 0), 0x5e41ab08u);
    assert_int_equal(nnrt_hash_u32(1, 1), 0x23a7f6b5u);
    assert_int_equal(nnrt_hash_u32(42, 1000000), 0x3df5b93cu);
}

static void test_rng_seeds_differ(void **state)
{
    NnrtRng a, b, z;
    nnrt_rng_seed(&a, 1);
    nnrt_rng_seed(&b, 2);
    nnrt_rng_seed(&z, 0);
    assert_true(nnrt_rng_u64(&a) != nnrt_rng_u64(&b));
    assert_true((z.s[0] | z.s[1] | z.s[2] | z.s[3]) != 0);
    assert_true(nnrt_rng_u64(&z) != nnrt_rng_u64(&z));
}

static void test_rng_uniform_bounds(void **state)
{
    NnrtRng r;
    double sum = 0;
    nnrt_rng_seed(&r, 7);
    for (int i = 0; i < 100000; i++) {
        float u = nnrt_rng_uniform(&r);
        assert_true(u >= 0.0f && u < 1.0f);
        sum += u;
        float v = nnrt_rng_uniform_range(&r, 1.0f, 1.0000001f);
        assert_true(v >= 1.0f && v < 1.0000001f);
        float w = nnrt_rng_uniform_range(&r, -0.5f, 0.25f);
        assert_true(w >= -0.5f && w < 0.25f);
    }
    assert_true(sum / 100000 > 0.49 && sum / 100000 < 0.51);
    assert_true(nnrt_rng_uniform_range(&r, 2.0f, 2.0f) == 2.0f);
}

static void test_rng_below(void **state)
{
    NnrtRng r;
    int bins[6] = {0};
    nnrt_rng_seed(&r, 3);
    assert_int_equal(nnrt_rng_below(&r, 0), 0);
    assert_int_equal(nnrt_rng_below(&r, 1), 0);
    for (int i = 0; i < 60000; i++)
        bins[nnrt_rng_below(&r, 6)]++;
    for (int i = 0; i < 6; i++)
        assert_true(bins[i] > 9500 && bins[i] < 10500);
    for (int i = 0; i < 1000; i++) {
        assert_true(nnrt_rng_below(&r, 0x80000001u) < 0x80000001u);
        assert_true(nnrt_rng_below(&r, UINT32_MAX) < UINT32_MAX);
    }
}

static void test_rng_shuffle(void **state)
{
    enum { N = 1000 };
    static uint32_t a[N], b[N];
    int seen[N] = {0};
    NnrtRng r1, r2;
    for (uint32_t i = 0; i < N; i++)
        a[i] = b[i] = i;
    nnrt_rng_seed(&r1, 99);
    nnrt_rng_seed(&r2, 99);
    nnrt_rng_shuffle_u32(&r1, a, N);
    nnrt_rng_shuffle_u32(&r2, b, N);
    assert_memory_equal(a, b, sizeof a);
    int fixed = 0;
    for (uint32_t i = 0; i < N; i++) {
        seen[a[i]]++;
        fixed += a[i] == i;
    }
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], 1);
    assert_true(fixed < 10);
    nnrt_rng_shuffle_u32(&r1, a, 0);
    nnrt_rng_shuffle_u32(&r1, a, 1);
}

static void test_hash(void **state)
{
    int ones = 0;
    assert_int_equal(nnrt_hash_u32(5, 9), nnrt_hash_u32(5, 9));
    assert_true(nnrt_hash_u32(5, 9) != nnrt_hash_u32(5, 10));
    assert_true(nnrt_hash_u32(5, 9) != nnrt_hash_u32(6, 9));
    assert_true(nnrt_hash_u32(0, 1) != nnrt_hash_u32(1, 0));
    for (uint64_t c = 0; c < 10000; c++)
        ones += __builtin_popcount(nnrt_hash_u32(12345, c));
    assert_true(ones > 155000 && ones < 165000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errorf),
        cmocka_unit_test(test_format_shape),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_rng_known_values),
        cmocka_unit_test(test_rng_seeds_differ),
        cmocka_unit_test(test_rng_uniform_bounds),
        cmocka_unit_test(test_rng_below),
        cmocka_unit_test(test_rng_shuffle),
        cmocka_unit_test(test_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
