/*
 * nnrt_core.c - errors, the arena and the random generator of the runtime.
 *
 * No malloc, no file I/O. The generator is integer-only so a seed gives the
 * same stream on every machine and compiler: splitmix64 expands the seed into
 * the four words of a xoshiro256** state (Blackman and Vigna), floats are
 * made from the top 24 bits of a draw, and bounded integers use Lemire's
 * multiply-and-reject method so that they are unbiased.
 */
#include "nnrt.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- errors --------------------------------------------------------------- */

/* Formats a message into e (if non-NULL); always returns -1. */
int nnrt_verrorf(NnrtError *e, const char *fmt, va_list ap)
{
    if (e)
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    return -1;
}

/* printf-style front end of nnrt_verrorf. */
int nnrt_errorf(NnrtError *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nnrt_verrorf(e, fmt, ap);
    va_end(ap);
    return -1;
}

/*
 * Writes a shape as "[a, b, c]" ("[]" for a scalar) into buf, truncating
 * safely; returns the length the full text has, like snprintf.
 */
int nnrt_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t len = 0;
    char tmp[32];
    if (cap > 0)
        buf[0] = '\0';
    for (int i = -1; i <= ndim; i++) {
        int k;
        if (i < 0)
            k = snprintf(tmp, sizeof tmp, "[");
        else if (i == ndim)
            k = snprintf(tmp, sizeof tmp, "]");
        else
            k = snprintf(tmp, sizeof tmp, "%s%lld", i ? ", " : "",
                         (long long)shape[i]);
        if (cap > 0 && len < cap - 1) {
            size_t room = cap - 1 - len;
            size_t n = (size_t)k < room ? (size_t)k : room;
            memcpy(buf + len, tmp, n);
            buf[len + n] = '\0';
        }
        len += (size_t)k;
    }
    return (int)len;
}

/* ---- arena ---------------------------------------------------------------- */

/* Hands mem (size bytes, caller-owned) to the arena. */
void nnrt_arena_init(NnrtArena *a, void *mem, size_t size)
{
    a->base = (unsigned char *)mem;
    a->size = mem ? size : 0;
    a->used = 0;
}

/*
 * Returns bytes of memory aligned to align (a power of two; 0 means 1), or
 * NULL when the arena cannot hold them or align is not a power of two.
 */
void *nnrt_arena_alloc(NnrtArena *a, size_t bytes, size_t align)
{
    if (align == 0)
        align = 1;
    if ((align & (align - 1)) != 0 || a->base == NULL)
        return NULL;
    uintptr_t here = (uintptr_t)(a->base + a->used);
    size_t pad = (size_t)((align - (here & (align - 1))) & (align - 1));
    size_t left = a->size - a->used;
    if (pad > left || bytes > left - pad)
        return NULL;
    void *p = a->base + a->used + pad;
    a->used += pad + bytes;
    return p;
}

/* ---- random numbers ------------------------------------------------------- */

/* One step of splitmix64: advances *x and returns a well-mixed word. */
static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* Seeds the four state words from splitmix64(seed); never all zero. */
void nnrt_rng_seed(NnrtRng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
    if ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0)
        r->s[0] = 1;
}

/* Next 64-bit output of xoshiro256**. */
uint64_t nnrt_rng_u64(NnrtRng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

/* The high 32 bits of the next draw (the better-mixed half). */
uint32_t nnrt_rng_u32(NnrtRng *r)
{
    return (uint32_t)(nnrt_rng_u64(r) >> 32);
}

/* Uniform in [0, 1): the top 24 bits of a draw, exactly representable. */
float nnrt_rng_uniform(NnrtRng *r)
{
    return (float)(nnrt_rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

/*
 * Uniform in [lo, hi). Each operation is its own statement so no compiler
 * fuses them into an FMA, which would change results between machines;
 * rounding that lands on hi is pulled back below it.
 */
float nnrt_rng_uniform_range(NnrtRng *r, float lo, float hi)
{
    float u = nnrt_rng_uniform(r);
    float width = hi - lo;
    float offset = width * u;
    float v = lo + offset;
    if (hi > lo && v >= hi)
        v = nextafterf(hi, lo);
    return v;
}

/* Unbiased integer in [0, n) (Lemire 2019); 0 when n is 0. */
uint32_t nnrt_rng_below(NnrtRng *r, uint32_t n)
{
    if (n == 0)
        return 0;
    uint64_t m = (uint64_t)nnrt_rng_u32(r) * n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t threshold = (uint32_t)(0u - n) % n;
        while (low < threshold) {
            m = (uint64_t)nnrt_rng_u32(r) * n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

/* Unbiased integer in [0, n) for n beyond 32 bits (rejection sampling). */
static uint64_t rng_below64(NnrtRng *r, uint64_t n)
{
    uint64_t threshold = (0 - n) % n;
    for (;;) {
        uint64_t x = nnrt_rng_u64(r);
        if (x >= threshold)
            return x % n;
    }
}

/* Fisher-Yates shuffle of a[0..n): every permutation equally likely. */
void nnrt_rng_shuffle_u32(NnrtRng *r, uint32_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (uint64_t)i <= UINT32_MAX
                       ? nnrt_rng_below(r, (uint32_t)i)
                       : (size_t)rng_below64(r, (uint64_t)i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/*
 * Stateless hash of (seed, counter) to 32 bits, for dropout masks that must
 * be reproducible element by element in any order: the seed and counter go
 * through separate splitmix64 finalisers so nearby pairs do not collide.
 */
uint32_t nnrt_hash_u32(uint64_t seed, uint64_t counter)
{
    uint64_t k = seed;
    uint64_t key = splitmix64(&k);
    uint64_t x = key ^ (counter * 0xD1B54A32D192ED03ull);
    return (uint32_t)(splitmix64(&x) >> 32);
}
