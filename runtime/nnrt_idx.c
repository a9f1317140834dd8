/*
 * nnrt_idx.c - IDX files, the format of MNIST and its family.
 *
 * Layout: 0x00 0x00 <type> <ndim>, then ndim big-endian u32 dimensions,
 * then the big-endian data. Types: 0x08 u8, 0x09 i8, 0x0B i16, 0x0C i32,
 * 0x0D f32, 0x0E f64. The files are usually distributed gzip-compressed
 * (train-images-idx3-ubyte.gz); nnrt_idx_parse inflates such a buffer
 * itself, and nnrt_idx_load reads either form. The data size must match the
 * dimensions exactly: a short file says how many bytes were expected and
 * how many found.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L  /* clock_gettime, fsync, mkdir, open_memstream */
#endif
#include "nnrt_io.h"
#include "nnrt_bytes.h"

#include <stdlib.h>
#include <string.h>

/* IDX type codes. */
static const struct {
    unsigned char code; /* third byte of the magic */
    NnrtDtype dtype;    /* our element type */
} idx_types[] = {
    {0x08, NNRT_U8},  {0x09, NNRT_I8},  {0x0B, NNRT_I16},
    {0x0C, NNRT_I32}, {0x0D, NNRT_F32}, {0x0E, NNRT_F64},
};

/* Looks up a type code; -1 if unknown. */
static int idx_dtype(unsigned char code, NnrtDtype *t)
{
    for (size_t i = 0; i < sizeof idx_types / sizeof idx_types[0]; i++)
        if (idx_types[i].code == code) {
            *t = idx_types[i].dtype;
            return 0;
        }
    return -1;
}

/* Checks the 4-byte magic and reads the dimensions that follow it. */
static int idx_header(const unsigned char *b, size_t len, const char *what,
                      NnrtDtype *t, int *ndim, int64_t *shape, NnrtError *err)
{
    if (len < 4)
        return nnrt_errorf(err, "%s: file is %zu bytes, too short for the IDX"
                           " magic", what, len);
    if (b[0] != 0 || b[1] != 0)
        return nnrt_errorf(err, "%s: bad magic %02x %02x %02x %02x: an IDX file"
                           " starts with 00 00 <type> <ndim>", what, b[0], b[1],
                           b[2], b[3]);
    if (idx_dtype(b[2], t) < 0)
        return nnrt_errorf(err, "%s: unknown IDX data type 0x%02x (expected 08,"
                           " 09, 0B, 0C, 0D or 0E)", what, b[2]);
    *ndim = b[3];
    if (*ndim < 1 || *ndim > NNRT_MAX_DIMS)
        return nnrt_errorf(err, "%s: %d dimensions; 1 to %d are supported", what,
                           *ndim, NNRT_MAX_DIMS);
    if (len < 4 + 4 * (size_t)*ndim)
        return nnrt_errorf(err, "%s: truncated: %d dimensions need %zu header"
                           " bytes, the file has %zu", what, *ndim,
                           4 + 4 * (size_t)*ndim, len);
    for (int i = 0; i < *ndim; i++)
        shape[i] = (int64_t)nnrt_rd_be(b + 4 + 4 * i, 4);
    return 0;
}

/*
 * Checks that an uncompressed IDX buffer holds exactly its shape's data, and
 * describes the array in *desc (data left NULL).
 */
static int idx_check_size(const unsigned char *b, size_t len, const char *what, NnrtArray *desc, NnrtError *err)
{
    NnrtDtype t = NNRT_U8;
    int ndim = 0;
    int64_t shape[NNRT_MAX_DIMS];
    char shp[160];
    size_t count, need;
    if (idx_header(b, len, what, &t, &ndim, shape, err) < 0)
        return -1;
    size_t avail = len - (4 + 4 * (size_t)ndim);
    nnrt_format_shape(shp, sizeof shp, ndim, shape);
    if (nnrt_shape_bytes(ndim, shape, nnrt_dtype_size(t), &count, &need) < 0)
        return nnrt_errorf(err, "%s: shape %s is too large", what, shp);
    if (avail != need)
        return nnrt_errorf(err, "%s: %s: shape %s of %s needs %zu data bytes,"
                           " found %zu", what, avail < need ? "truncated" :
                           "trailing bytes", shp, nnrt_dtype_name(t), need, avail);
    memset(desc, 0, sizeof *desc);
    desc->dtype = t;
    desc->ndim = ndim;
    memcpy(desc->shape, shape, sizeof(int64_t) * (size_t)ndim);
    desc->count = count;
    return 0;
}

/* Parses an uncompressed IDX buffer. */
static int idx_parse_raw(const unsigned char *b, size_t len, const char *what,
                         NnrtArray *out, NnrtError *err)
{
    NnrtArray desc;
    if (idx_check_size(b, len, what, &desc, err) < 0)
        return -1;
    size_t size = nnrt_dtype_size(desc.dtype), start = 4 + 4 * (size_t)desc.ndim;
    if (nnrt_array_alloc(out, desc.dtype, desc.ndim, desc.shape, what, err) < 0)
        return -1;
    if (desc.count > 0)
        memcpy(out->data, b + start, desc.count * size);
    if (nnrt_host_is_le())
        nnrt_bswap_inplace(out->data, desc.count, size);
    return 0;
}

/*
 * Parses an IDX file held in memory, raw or gzip-compressed, into a new
 * array (free it with nnrt_array_free).
 */
int nnrt_idx_parse(const void *buf, size_t len, const char *what,
                   NnrtArray *out, NnrtError *err)
{
    const unsigned char *b = (const unsigned char *)buf;
    memset(out, 0, sizeof *out);
    what = what ? what : "<memory>";
    if (b == NULL)
        len = 0;
    if (len < 2 || b[0] != 0x1f || b[1] != 0x8b)
        return idx_parse_raw(b, len, what, out, err);
    unsigned char *raw;
    size_t rawlen;
    if (nnrt_gunzip(b, len, what, &raw, &rawlen, err) < 0)
        return -1;
    int rc = idx_parse_raw(raw, rawlen, what, out, err);
    free(raw);
    return rc;
}

/* Reads and parses an IDX file, raw or gzip-compressed. */
/*
 * Loads an IDX file.  The array takes over the file's buffer: the data is
 * moved to its front and the header dropped, so a data set is never held
 * twice (60,000 Fashion-MNIST images stay one 47 MB block).
 */
int nnrt_idx_load(const char *path, NnrtArray *out, NnrtError *err)
{
    unsigned char *buf;
    size_t len;
    NnrtArray probe;
    memset(out, 0, sizeof *out);
    if (nnrt_read_file(path, &buf, &len, err) < 0)
        return -1;
    if (idx_check_size(buf, len, path, &probe, err) < 0) {
        free(buf);
        return -1;
    }
    size_t start = 4 + 4 * (size_t)probe.ndim, need = len - start;
    memmove(buf, buf + start, need);
    unsigned char *shrunk = realloc(buf, need ? need : 1);
    *out = probe;
    out->data = shrunk ? shrunk : buf;
    if (nnrt_host_is_le())
        nnrt_bswap_inplace(out->data, out->count, nnrt_dtype_size(probe.dtype));
    return 0;
}
