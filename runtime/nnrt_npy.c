/*
 * nnrt_npy.c - numpy .npy files: strict reading, float32 writing.
 *
 * Layout: "\x93NUMPY", major, minor, header length (u16 LE for version 1.0,
 * u32 LE for 2.0 and 3.0), then a Python dict literal such as
 *
 *     {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 784), }
 *
 * padded with spaces and a newline, then the raw array data. The dict is
 * parsed by a small scanner that accepts exactly those three keys with a
 * string, a boolean and a tuple of integers; anything else is an error
 * naming the byte. Supported descrs are b1, i1, u1, i2, u2, i4, u4, i8, u8,
 * f4, f8 with byte order '<', '>' or (for one-byte types) '|'; big-endian
 * data is swapped to host order. fortran_order True is refused rather than
 * silently transposed.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* clock_gettime, fsync, mkdir, open_memstream */
#endif
#include "nnrt_io.h"
#include "nnrt_bytes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reading position in the header dict. */
typedef struct NpyCur {
    const unsigned char *s; /* header text */
    size_t n;               /* its length */
    size_t pos;             /* next byte to read */
    size_t base;            /* file offset of s[0], for messages */
    const char *what;       /* file name for messages */
    NnrtError *err;         /* where failures are reported */
} NpyCur;

/* What the header dict says. */
typedef struct NpyHeader {
    NnrtDtype dtype;              /* element type */
    int swap;                     /* data byte order differs from the host */
    int has_descr;                /* 'descr' seen */
    int has_fortran;              /* 'fortran_order' seen */
    int has_shape;                /* 'shape' seen */
    int fortran;                  /* value of 'fortran_order' */
    int ndim;                     /* number of dimensions */
    int64_t shape[NNRT_MAX_DIMS]; /* dimensions */
} NpyHeader;

/* The descr type codes we load. */
static const struct {
    const char *code; /* kind and size, as after the byte-order mark */
    NnrtDtype dtype;  /* our type */
} npy_types[] = {
    {"f4", NNRT_F32}, {"f8", NNRT_F64}, {"i1", NNRT_I8},  {"u1", NNRT_U8},
    {"i2", NNRT_I16}, {"u2", NNRT_U16}, {"i4", NNRT_I32}, {"u4", NNRT_U32},
    {"i8", NNRT_I64}, {"u8", NNRT_U64}, {"b1", NNRT_BOOL},
};

/* ---- header dict ---------------------------------------------------------- */

/* Reports a header syntax error at the current byte of the file. */
static int npy_fail(NpyCur *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static int npy_fail(NpyCur *c, const char *fmt, ...)
{
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return nnrt_errorf(c->err, "%s: bad .npy header at byte %zu: %s", c->what,
                       c->base + c->pos, detail);
}

/* Skips whitespace and returns the next byte (not consumed), or -1. */
static int npy_peek(NpyCur *c)
{
    while (c->pos < c->n && (c->s[c->pos] == ' ' || c->s[c->pos] == '\t' ||
                             c->s[c->pos] == '\n' || c->s[c->pos] == '\r'))
        c->pos++;
    return c->pos < c->n ? c->s[c->pos] : -1;
}

/* Consumes ch after optional whitespace, or fails. */
static int npy_expect(NpyCur *c, char ch)
{
    int got = npy_peek(c);
    if (got != (unsigned char)ch)
        return npy_fail(c, got < 0 ? "expected '%c', found end of header"
                                   : "expected '%c'", ch);
    c->pos++;
    return 0;
}

/* Reads a quoted Python string without escapes into buf (cap bytes). */
static int npy_string(NpyCur *c, char *buf, size_t cap)
{
    int q = npy_peek(c);
    size_t len = 0;
    if (q != '\'' && q != '"')
        return npy_fail(c, "expected a quoted string");
    for (c->pos++; c->pos < c->n && c->s[c->pos] != q; c->pos++) {
        unsigned char ch = c->s[c->pos];
        if (ch == '\\' || ch < 0x20 || ch >= 0x7f)
            return npy_fail(c, "unsupported character 0x%02x in a string", ch);
        if (len + 1 >= cap)
            return npy_fail(c, "string too long");
        buf[len++] = (char)ch;
    }
    if (c->pos >= c->n)
        return npy_fail(c, "unterminated string");
    c->pos++;
    buf[len] = '\0';
    return 0;
}

/* Reads the Python literal True or False. */
static int npy_bool(NpyCur *c, int *v)
{
    npy_peek(c);
    if (c->n - c->pos >= 4 && memcmp(c->s + c->pos, "True", 4) == 0) {
        c->pos += 4;
        *v = 1;
        return 0;
    }
    if (c->n - c->pos >= 5 && memcmp(c->s + c->pos, "False", 5) == 0) {
        c->pos += 5;
        *v = 0;
        return 0;
    }
    return npy_fail(c, "expected True or False");
}

/* Reads a non-negative Python integer (an 'L' suffix from Python 2 allowed). */
static int npy_int(NpyCur *c, int64_t *v)
{
    size_t start;
    *v = 0;
    npy_peek(c);
    for (start = c->pos; c->pos < c->n && c->s[c->pos] >= '0' && c->s[c->pos] <= '9';
         c->pos++) {
        int d = c->s[c->pos] - '0';
        if (*v > (INT64_MAX - d) / 10)
            return npy_fail(c, "dimension does not fit in 64 bits");
        *v = *v * 10 + d;
    }
    if (c->pos == start)
        return npy_fail(c, "expected a non-negative integer");
    if (c->pos < c->n && c->s[c->pos] == 'L')
        c->pos++;
    return 0;
}

/* Reads the shape tuple: (), (n,) or (a, b, ...) with optional trailing comma. */
static int npy_shape(NpyCur *c, NpyHeader *h)
{
    int comma = 0;
    h->ndim = 0;
    if (npy_expect(c, '(') < 0)
        return -1;
    while (npy_peek(c) != ')') {
        if (h->ndim == NNRT_MAX_DIMS)
            return npy_fail(c, "more than %d dimensions", NNRT_MAX_DIMS);
        if (npy_int(c, &h->shape[h->ndim++]) < 0)
            return -1;
        comma = npy_peek(c) == ',';
        if (comma)
            c->pos++;
        else if (npy_peek(c) != ')')
            return npy_fail(c, "expected ',' or ')' in the shape");
    }
    if (h->ndim == 1 && !comma)
        return npy_fail(c, "(n) is not a tuple; a 1-D shape is written (n,)");
    c->pos++;
    return 0;
}

/* Maps a descr string such as '<f4' to a dtype and a swap flag. */
static int npy_descr(NpyCur *c, NpyHeader *h)
{
    char d[16];
    size_t at = (npy_peek(c), c->pos);
    if (npy_string(c, d, sizeof d) < 0)
        return -1;
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; i++) {
        if (d[0] == '\0' || strcmp(d + 1, npy_types[i].code) != 0)
            continue;
        h->dtype = npy_types[i].dtype;
        int one = nnrt_dtype_size(h->dtype) == 1;
        if (d[0] == '<' || d[0] == '>' || (d[0] == '|' && one)) {
            h->swap = !one && (d[0] == '>') == nnrt_host_is_le();
            return 0;
        }
    }
    c->pos = at;
    return npy_fail(c, "unsupported descr '%s' (supported: b1 i1 u1 i2 u2 i4 u4"
                    " i8 u8 f4 f8 with byte order '<' or '>', '|' for one byte)", d);
}

/* Reads one 'key': value item of the dict. */
static int npy_item(NpyCur *c, NpyHeader *h)
{
    char key[32];
    size_t at = (npy_peek(c), c->pos);
    if (npy_string(c, key, sizeof key) < 0 || npy_expect(c, ':') < 0)
        return -1;
    int *seen = strcmp(key, "descr") == 0           ? &h->has_descr
                : strcmp(key, "fortran_order") == 0 ? &h->has_fortran
                : strcmp(key, "shape") == 0         ? &h->has_shape
                                                    : NULL;
    if (seen == NULL || *seen) {
        c->pos = at;
        return npy_fail(c, "%s key '%s'", seen ? "duplicate" : "unknown", key);
    }
    *seen = 1;
    if (seen == &h->has_descr)
        return npy_descr(c, h);
    if (seen == &h->has_fortran)
        return npy_bool(c, &h->fortran);
    return npy_shape(c, h);
}

/* Parses the whole dict and checks that only whitespace follows it. */
static int npy_dict(NpyCur *c, NpyHeader *h)
{
    if (npy_expect(c, '{') < 0)
        return -1;
    while (npy_peek(c) != '}') {
        if (npy_item(c, h) < 0)
            return -1;
        if (npy_peek(c) == ',')
            c->pos++;
        else if (npy_peek(c) != '}')
            return npy_fail(c, "expected ',' or '}'");
    }
    c->pos++;
    if (npy_peek(c) >= 0)
        return npy_fail(c, "unexpected text after the dict");
    const char *missing = !h->has_descr     ? "descr"
                          : !h->has_fortran ? "fortran_order"
                          : !h->has_shape   ? "shape" : NULL;
    if (missing)
        return nnrt_errorf(c->err, "%s: .npy header has no '%s' key", c->what,
                           missing);
    if (h->fortran)
        return nnrt_errorf(c->err, "%s: fortran_order: True is not supported;"
                           " save a C-ordered array (np.ascontiguousarray)",
                           c->what);
    return 0;
}

/* ---- the file ------------------------------------------------------------- */

/* Checks magic and version; finds the header text. */
static int npy_preamble(const unsigned char *b, size_t len, const char *what,
                        NpyCur *c, NnrtError *err)
{
    if (len < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return nnrt_errorf(err, "%s: not a .npy file (%s)", what,
                           len < 10 ? "too short" : "no \\x93NUMPY magic");
    int major = b[6], minor = b[7];
    if (major < 1 || major > 3 || minor != 0)
        return nnrt_errorf(err, "%s: unsupported .npy format version %d.%d"
                           " (1.0, 2.0 and 3.0 are)", what, major, minor);
    size_t lenbytes = major == 1 ? 2 : 4;
    if (len < 8 + lenbytes)
        return nnrt_errorf(err, "%s: file ends inside the header length", what);
    size_t hlen = (size_t)nnrt_rd_le(b + 8, (int)lenbytes);
    size_t start = 8 + lenbytes;
    if (hlen > len - start)
        return nnrt_errorf(err, "%s: header of %zu bytes runs past the end of"
                           " the %zu-byte file", what, hlen, len);
    *c = (NpyCur){b + start, hlen, 0, start, what, err};
    return 0;
}

/* Copies the data into a new array in host order. */
static int npy_data(const NpyHeader *h, const unsigned char *data, size_t avail,
                    const char *what, NnrtArray *out, NnrtError *err)
{
    char shp[160];
    size_t count, need;
    nnrt_format_shape(shp, sizeof shp, h->ndim, h->shape);
    if (nnrt_shape_bytes(h->ndim, h->shape, nnrt_dtype_size(h->dtype), &count,
                         &need) < 0)
        return nnrt_errorf(err, "%s: shape %s is too large", what, shp);
    if (avail != need)
        return nnrt_errorf(err, "%s: shape %s of %s needs %zu data bytes, found"
                           " %zu", what, shp, nnrt_dtype_name(h->dtype), need,
                           avail);
    if (nnrt_array_alloc(out, h->dtype, h->ndim, h->shape, what, err) < 0)
        return -1;
    if (need > 0)
        memcpy(out->data, data, need);
    if (h->swap)
        nnrt_bswap_inplace(out->data, count, nnrt_dtype_size(h->dtype));
    for (size_t i = 0; h->dtype == NNRT_BOOL && i < count; i++)
        ((unsigned char *)out->data)[i] = ((unsigned char *)out->data)[i] != 0;
    return 0;
}

/* Parses a .npy file held in memory into a new array (free it with
 * nnrt_array_free). what names the file in messages. */
int nnrt_npy_parse(const void *buf, size_t len, const char *what,
                   NnrtArray *out, NnrtError *err)
{
    const unsigned char *b = (const unsigned char *)buf;
    NpyHeader h;
    NpyCur c;
    memset(out, 0, sizeof *out);
    memset(&h, 0, sizeof h);
    memset(&c, 0, sizeof c);
    what = what ? what : "<memory>";
    if (b == NULL)
        len = 0;
    if (npy_preamble(b, len, what, &c, err) < 0 || npy_dict(&c, &h) < 0)
        return -1;
    size_t start = c.base + c.n;
    return npy_data(&h, b + start, len - start, what, out, err);
}

/* Reads and parses a .npy file (gzip-compressed allowed). */
int nnrt_npy_load(const char *path, NnrtArray *out, NnrtError *err)
{
    unsigned char *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    if (nnrt_read_file(path, &buf, &len, err) < 0)
        return -1;
    int rc = nnrt_npy_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

/* ---- writing -------------------------------------------------------------- */

/*
 * Builds preamble + dict for a float32 array into a malloc'd buffer, padded
 * with spaces and a final newline so the data starts at a multiple of 64.
 * With at most 8 dimensions the dict is a few hundred bytes, so version 1.0
 * (16-bit header length) always suffices; readers accept 2.0 and 3.0 too.
 */
static unsigned char *npy_make_header(int ndim, const int64_t *shape, size_t *len)
{
    char dict[400];
    int k = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order':"
                     " False, 'shape': (");
    for (int i = 0; i < ndim; i++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, "%s%lld", i ? ", " : "",
                      (long long)shape[i]);
    k += snprintf(dict + k, sizeof dict - (size_t)k, "%s), }",
                  ndim == 1 ? "," : "");
    size_t pre = 10, total = (pre + (size_t)k + 1 + 63) / 64 * 64;
    unsigned char *h = malloc(total);
    if (h == NULL)
        return NULL;
    memcpy(h, "\x93NUMPY\x01\x00", 8);
    nnrt_wr_le(h + 8, total - pre, 2);
    memset(h + pre, ' ', total - pre);
    memcpy(h + pre, dict, (size_t)k);
    h[total - 1] = '\n';
    *len = total;
    return h;
}

/* Saves a float32 C-ordered array as a .npy file (version 1.0), atomically. */
int nnrt_npy_save_f32(const char *path, int ndim, const int64_t *shape,
                      const float *data, NnrtError *err)
{
    size_t count, bytes, hlen;
    if (nnrt_shape_bytes(ndim, shape, 4, &count, &bytes) < 0)
        return nnrt_errorf(err, "%s: invalid shape (%d dimensions)", path, ndim);
    unsigned char *h = npy_make_header(ndim, shape, &hlen);
    float *swapped = NULL;
    if (h && !nnrt_host_is_le() && bytes > 0 && (swapped = malloc(bytes)) != NULL) {
        memcpy(swapped, data, bytes);
        nnrt_bswap_inplace(swapped, count, 4);
    }
    int rc = -1;
    if (h == NULL || (!nnrt_host_is_le() && bytes > 0 && swapped == NULL)) {
        nnrt_errorf(err, "%s: out of memory", path);
    } else {
        const void *parts[2] = {h, swapped ? (const void *)swapped : (const void *)data};
        size_t lens[2] = {hlen, bytes};
        rc = nnrt_write_file_atomic(path, parts, lens, 2, err);
    }
    free(h);
    free(swapped);
    return rc;
}
