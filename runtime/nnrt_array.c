/*
 * nnrt_array.c - typed arrays loaded from data files, and their conversion.
 *
 * An NnrtArray keeps the element type of its file, so a 47 MB uint8 MNIST
 * stays 47 MB in memory; training code converts one batch at a time to
 * float with nnrt_array_get_f32 (scaling, e.g. by 1/255, on the way) and
 * reads class labels with nnrt_array_get_label.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* clock_gettime, fsync, mkdir, open_memstream */
#endif
#include "nnrt_io.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Bytes per element. */
size_t nnrt_dtype_size(NnrtDtype t)
{
    switch (t) {
    case NNRT_F64: case NNRT_I64: case NNRT_U64: return 8;
    case NNRT_F32: case NNRT_I32: case NNRT_U32: return 4;
    case NNRT_I16: case NNRT_U16: return 2;
    case NNRT_I8: case NNRT_U8: case NNRT_BOOL: return 1;
    }
    return 0;
}

/* numpy's name of the type ("float32", "uint8", ...). */
const char *nnrt_dtype_name(NnrtDtype t)
{
    switch (t) {
    case NNRT_F32: return "float32";
    case NNRT_F64: return "float64";
    case NNRT_I8: return "int8";
    case NNRT_U8: return "uint8";
    case NNRT_I16: return "int16";
    case NNRT_U16: return "uint16";
    case NNRT_I32: return "int32";
    case NNRT_U32: return "uint32";
    case NNRT_I64: return "int64";
    case NNRT_U64: return "uint64";
    case NNRT_BOOL: return "bool";
    }
    return "?";
}

/*
 * Element count and byte size of a shape; -1 when ndim is outside 0..8, a
 * dimension is negative, or the size does not fit in size_t.
 */
int nnrt_shape_bytes(int ndim, const int64_t *shape, size_t elsize,
                     size_t *count, size_t *bytes)
{
    size_t c = 1;
    int zero = 0, overflow = 0;
    if (ndim < 0 || ndim > NNRT_MAX_DIMS)
        return -1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (uint64_t)shape[i] > SIZE_MAX)
            return -1;
        size_t d = (size_t)shape[i];
        zero |= d == 0;
        overflow |= d != 0 && c > SIZE_MAX / d;
        c = overflow ? c : c * d;
    }
    if (zero)
        c = 0;
    if ((overflow && !zero) || (elsize && c > SIZE_MAX / elsize))
        return -1;
    *count = c;
    *bytes = c * elsize;
    return 0;
}

/* Allocates an array of the given type and shape (contents undefined). */
int nnrt_array_alloc(NnrtArray *a, NnrtDtype t, int ndim, const int64_t *shape,
                     const char *what, NnrtError *err)
{
    char shp[160];
    size_t count, bytes;
    memset(a, 0, sizeof *a);
    if (nnrt_shape_bytes(ndim, shape, nnrt_dtype_size(t), &count, &bytes) < 0) {
        nnrt_format_shape(shp, sizeof shp, ndim < 0 ? 0 : ndim > 8 ? 8 : ndim, shape);
        return nnrt_errorf(err, "%s: invalid or too large shape %s (%d dims)",
                           what, shp, ndim);
    }
    a->data = malloc(bytes ? bytes : 1);
    if (a->data == NULL)
        return nnrt_errorf(err, "%s: out of memory (%zu bytes)", what, bytes);
    a->dtype = t;
    a->ndim = ndim;
    if (ndim > 0)
        memcpy(a->shape, shape, (size_t)ndim * sizeof *shape);
    a->count = count;
    return 0;
}

/* Frees the data and clears the array; safe on a cleared array. */
void nnrt_array_free(NnrtArray *a)
{
    if (a == NULL)
        return;
    free(a->data);
    memset(a, 0, sizeof *a);
}

/*
 * Asks the cache for elements [first, first + n) of a, which a later
 * nnrt_array_get_f32 will read: the trainer names the next batch's samples
 * before it runs a step, and their lines, scattered over the data set,
 * arrive while the step computes instead of stalling the batch's gather.
 */
void nnrt_array_prefetch(const NnrtArray *a, size_t first, size_t n)
{
    if (a->data == NULL || first >= a->count)
        return;
    n = n < a->count - first ? n : a->count - first;
    size_t es = nnrt_dtype_size(a->dtype);
    const char *p = (const char *)a->data + first * es, *end = p + n * es;
    for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < end; p += 64)
        __builtin_prefetch(p, 0, 3);
}

/* Converts n elements of type T starting at first to scaled floats. */
#define NNRT_GET_F32(T)                                  \
    do {                                                 \
        const T *src_ = (const T *)a->data + first;      \
        for (size_t i_ = 0; i_ < m; i_++)                \
            dst[i_] = (float)src_[i_] * scale;           \
    } while (0)

/*
 * Writes elements [first, first + n) of any array to dst as float times
 * scale. Elements past the end of the array come out as 0.
 */
void nnrt_array_get_f32(const NnrtArray *a, size_t first, size_t n,
                        float scale, float *dst)
{
    size_t m = first < a->count ? a->count - first : 0;
    m = m < n ? m : n;
    for (size_t i = m; i < n; i++)
        dst[i] = 0.0f;
    if (m == 0)
        return; /* a->data may be NULL: no arithmetic on it */
    switch (a->dtype) {
    case NNRT_F32: NNRT_GET_F32(float); break;
    case NNRT_F64: NNRT_GET_F32(double); break;
    case NNRT_I8: NNRT_GET_F32(int8_t); break;
    case NNRT_U8: NNRT_GET_F32(uint8_t); break;
    case NNRT_BOOL: NNRT_GET_F32(uint8_t); break;
    case NNRT_I16: NNRT_GET_F32(int16_t); break;
    case NNRT_U16: NNRT_GET_F32(uint16_t); break;
    case NNRT_I32: NNRT_GET_F32(int32_t); break;
    case NNRT_U32: NNRT_GET_F32(uint32_t); break;
    case NNRT_I64: NNRT_GET_F32(int64_t); break;
    case NNRT_U64: NNRT_GET_F32(uint64_t); break;
    }
}

#undef NNRT_GET_F32

/* Reads a float label, which must be a whole number that fits int64_t. */
static int array_float_label(double v, size_t i, int64_t *out, NnrtError *err)
{
    if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0) ||
        floor(v) != v)
        return nnrt_errorf(err, "label at index %zu is %g, not a whole number",
                           i, v);
    *out = (int64_t)v;
    return 0;
}

/*
 * Reads element i as an integer class label. Integer and bool arrays always
 * work (uint64 values above INT64_MAX excepted); float arrays only where
 * the value is a whole number.
 */
int nnrt_array_get_label(const NnrtArray *a, size_t i, int64_t *out,
                         NnrtError *err)
{
    if (i >= a->count)
        return nnrt_errorf(err, "label index %zu is out of range (the array"
                           " has %zu elements)", i, a->count);
    switch (a->dtype) {
    case NNRT_F32: return array_float_label(((const float *)a->data)[i], i, out, err);
    case NNRT_F64: return array_float_label(((const double *)a->data)[i], i, out, err);
    case NNRT_I8: *out = ((const int8_t *)a->data)[i]; return 0;
    case NNRT_U8: *out = ((const uint8_t *)a->data)[i]; return 0;
    case NNRT_BOOL: *out = ((const uint8_t *)a->data)[i]; return 0;
    case NNRT_I16: *out = ((const int16_t *)a->data)[i]; return 0;
    case NNRT_U16: *out = ((const uint16_t *)a->data)[i]; return 0;
    case NNRT_I32: *out = ((const int32_t *)a->data)[i]; return 0;
    case NNRT_U32: *out = ((const uint32_t *)a->data)[i]; return 0;
    case NNRT_I64: *out = ((const int64_t *)a->data)[i]; return 0;
    case NNRT_U64:
        if (((const uint64_t *)a->data)[i] > (uint64_t)INT64_MAX)
            return nnrt_errorf(err, "label at index %zu is %llu, too large", i,
                               (unsigned long long)((const uint64_t *)a->data)[i]);
        *out = (int64_t)((const uint64_t *)a->data)[i];
        return 0;
    }
    return nnrt_errorf(err, "label at index %zu: unknown dtype", i);
}
