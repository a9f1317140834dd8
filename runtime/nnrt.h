/*
 * nnrt.h - the embedded core of the netc runtime.
 *
 * Everything declared here runs without malloc and without file I/O, so it
 * can be linked into firmware next to the C that netc emits:
 *
 *   - error reporting into a caller-owned message buffer (NnrtError);
 *   - a bump allocator over caller-owned memory (NnrtArena);
 *   - a deterministic random generator, bit-identical on every machine
 *     (xoshiro256** seeded by splitmix64) and a stateless counter hash for
 *     dropout masks;
 *   - a strict safetensors parser working on a memory buffer, and the binding
 *     of its tensors to a model's parameter list.
 *
 * Every fallible function returns 0 on success and -1 on error; the error
 * message names the file or tensor and both sides of any mismatch.
 * File loading, gzip and the other data formats live in nnrt_io.h.
 */
#ifndef NNRT_H
#define NNRT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define NNRT_MAX_DIMS 8 /* most dimensions any runtime tensor has */

/* ---- errors --------------------------------------------------------------- */

typedef struct NnrtError {
    char msg[512]; /* NUL-terminated message of the last failure */
} NnrtError;

int nnrt_errorf(NnrtError *e, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
int nnrt_verrorf(NnrtError *e, const char *fmt, va_list ap);
int nnrt_format_shape(char *buf, size_t cap, int ndim, const int64_t *shape);

/* ---- arena ---------------------------------------------------------------- */

typedef struct NnrtArena {
    unsigned char *base; /* caller-owned memory */
    size_t size;         /* its size in bytes */
    size_t used;         /* bytes handed out so far, padding included */
} NnrtArena;

void nnrt_arena_init(NnrtArena *a, void *mem, size_t size);
void *nnrt_arena_alloc(NnrtArena *a, size_t bytes, size_t align);

/* ---- random numbers ------------------------------------------------------- */

typedef struct NnrtRng {
    uint64_t s[4]; /* xoshiro256** state, never all zero */
} NnrtRng;

void nnrt_rng_seed(NnrtRng *r, uint64_t seed);
uint64_t nnrt_rng_u64(NnrtRng *r);
uint32_t nnrt_rng_u32(NnrtRng *r);
float nnrt_rng_uniform(NnrtRng *r);
float nnrt_rng_uniform_range(NnrtRng *r, float lo, float hi);
uint32_t nnrt_rng_below(NnrtRng *r, uint32_t n);
void nnrt_rng_shuffle_u32(NnrtRng *r, uint32_t *a, size_t n);
uint32_t nnrt_hash_u32(uint64_t seed, uint64_t counter);

/* ---- safetensors ---------------------------------------------------------- */

typedef struct NnrtStEntry {
    char name[128];               /* tensor name, NUL-terminated */
    char dtype[8];                /* "F32", "I64", ... as spelled in the file */
    int ndim;                     /* number of dimensions, 0..8 */
    int64_t shape[NNRT_MAX_DIMS]; /* dimensions, outermost first */
    const unsigned char *data;    /* points into the caller's buffer; unaligned */
    size_t nbytes;                /* bytes of data */
} NnrtStEntry;

typedef struct NnrtStMeta {
    char key[64];    /* "__metadata__" key, NUL-terminated */
    char value[256]; /* its string value, NUL-terminated */
} NnrtStMeta;

typedef struct NnrtParamSpec {
    const char *name;             /* tensor name expected in the file */
    int ndim;                     /* expected number of dimensions */
    int64_t shape[NNRT_MAX_DIMS]; /* expected dimensions */
    float *dst;                   /* where the F32 values are copied */
} NnrtParamSpec;

size_t nnrt_st_dtype_size(const char *dtype);
int nnrt_st_parse(const void *buf, size_t len, const char *what,
                  NnrtStEntry *entries, int cap, int *count,
                  NnrtStMeta *meta, int metacap, int *nmeta, NnrtError *err);
int nnrt_st_bind(const NnrtStEntry *e, int n, const char *what,
                 const NnrtParamSpec *specs, int nspecs, NnrtError *err);

#endif /* NNRT_H */
