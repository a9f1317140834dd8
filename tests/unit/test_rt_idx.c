/*
 * test_rt_idx.c - IDX (MNIST) files, raw and gzip, plus nnrt_gunzip,
 * nnrt_read_file and nnrt_now.
 *
 * IDX buffers are built by hand in big-endian order; gzip streams are made
 * in memory with zlib's deflate (windowBits 31 selects the gzip wrapper).
 */
#include "rt_test_util.h"

#include <zlib.h>

#include "nnrt_io.h"

/* ---- helpers -------------------------------------------------------------- */

/* The group setup: a fresh temporary directory for the whole run. */
static int setup(void **state)
{
    return tmpdir_make("idx");
}

/* Builds an IDX buffer: magic, big-endian dims, then datalen data bytes. */
static unsigned char *idx_build(int type, int ndim, const uint32_t *dims,
                                const void *data, size_t datalen, size_t *len)
{
    size_t h = 4 + 4 * (size_t)ndim;
    unsigned char *b = malloc(h + datalen + 1);
    b[0] = b[1] = 0;
    b[2] = (unsigned char)type;
    b[3] = (unsigned char)ndim;
    for (int i = 0; i < ndim; i++)
        for (int k = 0; k < 4; k++)
            b[4 + 4 * i + k] = (unsigned char)(dims[i] >> (24 - 8 * k));
    if (datalen)
        memcpy(b + h, data, datalen);
    *len = h + datalen;
    return b;
}

/* gzip-compresses a buffer in memory. */
static unsigned char *gzip_mem(const void *in, size_t n, size_t *outlen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    assert_int_equal(deflateInit2(&z, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, (uLong)n) + 32;
    unsigned char *out = malloc(cap);
    z.next_in = (unsigned char *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *outlen = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* The MNIST-like sample: 2 images of 2x3 uint8 pixels. */
static const unsigned char pixels[12] = {0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255};
static const uint32_t pixel_dims[3] = {2, 2, 3};

static void check_pixels(const NnrtArray *a)
{
    assert_int_equal(a->dtype, NNRT_U8);
    assert_int_equal(a->ndim, 3);
    assert_int_equal(a->shape[0], 2);
    assert_int_equal(a->shape[1], 2);
    assert_int_equal(a->shape[2], 3);
    assert_int_equal(a->count, 12);
    assert_memory_equal(a->data, pixels, 12);
}

/* Parses a buffer expecting an error containing text. */
static void expect_error(const void *b, size_t len, const char *text)
{
    NnrtArray a;
    NnrtError err = {{0}};
    assert_int_equal(nnrt_idx_parse(b, len, "t-idx", &a, &err), -1);
    assert_null(a.data);
    assert_msg(&err, "t-idx: ");
    assert_msg(&err, text);
}

/* ---- parsing -------------------------------------------------------------- */

static void test_parse_u8(void **state)
{
    NnrtArray a;
    NnrtError err;
    size_t len;
    unsigned char *b = idx_build(0x08, 3, pixel_dims, pixels, 12, &len);
    assert_int_equal(nnrt_idx_parse(b, len, "t-idx", &a, &err), 0);
    check_pixels(&a);
    nnrt_array_free(&a);
    free(b);
}

/* Parses one-dimensional data of a type and compares it as floats. */
static void check_type(int type, NnrtDtype t, const void *be, size_t n,
                       size_t elsize, const float *want)
{
    NnrtArray a;
    NnrtError err;
    size_t len;
    float got[4];
    uint32_t dim = (uint32_t)n;
    unsigned char *b = idx_build(type, 1, &dim, be, n * elsize, &len);
    if (nnrt_idx_parse(b, len, "t-idx", &a, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(a.dtype, t);
    nnrt_array_get_f32(&a, 0, n, 1.0f, got);
    assert_memory_equal(got, want, n * sizeof *want);
    nnrt_array_free(&a);
    free(b);
}

static void test_parse_types(void **state)
{
    const unsigned char i8[2] = {0x80, 0x7f};
    check_type(0x09, NNRT_I8, i8, 2, 1, (float[]){-128, 127});
    const unsigned char i16[4] = {0xff, 0xfe, 0x01, 0x02};
    check_type(0x0B, NNRT_I16, i16, 2, 2, (float[]){-2, 258});
    const unsigned char i32[8] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x00, 0x00};
    check_type(0x0C, NNRT_I32, i32, 2, 4, (float[]){-1, 65536});
    const unsigned char f32[8] = {0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0};
    check_type(0x0D, NNRT_F32, f32, 2, 4, (float[]){1.0f, -2.5f});
    const unsigned char f64[8] = {0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18};
    check_type(0x0E, NNRT_F64, f64, 1, 8, (float[]){3.14159265f});
}

static void test_parse_gzip_memory(void **state)
{
    NnrtArray a;
    NnrtError err;
    size_t len, zlen;
    unsigned char *b = idx_build(0x08, 3, pixel_dims, pixels, 12, &len);
    unsigned char *z = gzip_mem(b, len, &zlen);
    assert_int_equal(nnrt_idx_parse(z, zlen, "t-idx.gz", &a, &err), 0);
    check_pixels(&a);
    nnrt_array_free(&a);
    free(z);
    free(b);
}

static void test_parse_errors(void **state)
{
    const uint32_t dims[2] = {2, 3};
    const unsigned char data[8] = {0};
    size_t len;
    unsigned char *b = idx_build(0x08, 2, dims, data, 6, &len);
    expect_error(b, 3, "file is 3 bytes, too short for the IDX magic");
    expect_error(b, 9, "truncated: 2 dimensions need 12 header bytes, the file has 9");
    expect_error(b, len - 1,
                 "truncated: shape [2, 3] of uint8 needs 6 data bytes, found 5");
    free(b);
    b = idx_build(0x08, 2, dims, data, 8, &len);
    expect_error(b, len, "trailing bytes: shape [2, 3] of uint8 needs 6 data bytes, found 8");
    b[1] = 0x08;
    expect_error(b, len, "bad magic 00 08 08 02: an IDX file starts with 00 00");
    b[1] = 0;
    b[2] = 0x0A;
    expect_error(b, len, "unknown IDX data type 0x0a");
    b[2] = 0x08;
    b[3] = 0;
    expect_error(b, len, "0 dimensions; 1 to 8 are supported");
    b[3] = 9;
    expect_error(b, len, "9 dimensions; 1 to 8 are supported");
    free(b);
    const uint32_t big[3] = {0xffffffffu, 0xffffffffu, 0xffffffffu};
    b = idx_build(0x0E, 3, big, data, 8, &len);
    expect_error(b, len, "shape [4294967295, 4294967295, 4294967295] is too large");
    free(b);
    const uint32_t wide[2] = {0xffffffffu, 16};
    b = idx_build(0x0C, 2, wide, data, 8, &len);
    expect_error(b, len, "truncated: shape [4294967295, 16] of int32 needs 274877906880"
                         " data bytes, found 8");
    free(b);
}

/* Every strict prefix of the raw and of the gzip file must fail cleanly. */
static void test_parse_truncated_everywhere(void **state)
{
    NnrtArray a;
    NnrtError err;
    size_t len, zlen;
    unsigned char *b = idx_build(0x08, 3, pixel_dims, pixels, 12, &len);
    unsigned char *z = gzip_mem(b, len, &zlen);
    for (int gz = 0; gz < 2; gz++) {
        const unsigned char *src = gz ? z : b;
        for (size_t k = 0; k < (gz ? zlen : len); k++) {
            unsigned char *cut = malloc(k ? k : 1);
            memcpy(cut, src, k);
            assert_int_equal(nnrt_idx_parse(cut, k, "t-idx", &a, &err), -1);
            assert_true(strncmp(err.msg, "t-idx: ", 7) == 0);
            free(cut);
        }
    }
    free(z);
    free(b);
}

/* ---- files and gzip ------------------------------------------------------- */

static void test_load_raw_and_gzip(void **state)
{
    NnrtArray a;
    NnrtError err;
    size_t len, zlen;
    unsigned char *b = idx_build(0x08, 3, pixel_dims, pixels, 12, &len);
    unsigned char *z = gzip_mem(b, len, &zlen);
    write_file(tmp_path("img-idx3-ubyte"), b, len);
    write_file(tmp_path("img-idx3-ubyte.gz"), z, zlen);
    assert_int_equal(nnrt_idx_load(tmp_path("img-idx3-ubyte"), &a, &err), 0);
    check_pixels(&a);
    nnrt_array_free(&a);
    assert_int_equal(nnrt_idx_load(tmp_path("img-idx3-ubyte.gz"), &a, &err), 0);
    check_pixels(&a);
    nnrt_array_free(&a);
    write_file(tmp_path("cut.gz"), z, zlen - 5);
    assert_int_equal(nnrt_idx_load(tmp_path("cut.gz"), &a, &err), -1);
    assert_msg(&err, "cut.gz: gzip stream is truncated");
    assert_int_equal(nnrt_idx_load(tmp_path("nope"), &a, &err), -1);
    assert_msg(&err, "nope: cannot open: No such file or directory");
    assert_int_equal(nnrt_idx_load(tmpdir, &a, &err), -1);
    assert_msg(&err, ": read error: Is a directory");
    unlink(tmp_path("img-idx3-ubyte"));
    unlink(tmp_path("img-idx3-ubyte.gz"));
    unlink(tmp_path("cut.gz"));
    free(z);
    free(b);
}

static void test_gunzip(void **state)
{
    NnrtError err;
    unsigned char *out;
    size_t outlen, zlen, z2len;
    static unsigned char big[300000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7 / 13);
    unsigned char *z = gzip_mem(big, sizeof big, &zlen);
    assert_int_equal(nnrt_gunzip(z, zlen, "m", &out, &outlen, &err), 0);
    assert_int_equal(outlen, sizeof big);
    assert_memory_equal(out, big, sizeof big);
    assert_int_equal(out[outlen], 0);
    free(out);
    /* two concatenated members, as `cat a.gz b.gz` makes */
    unsigned char *z2 = gzip_mem("hello ", 6, &z2len);
    unsigned char *cat = malloc(z2len * 2);
    memcpy(cat, z2, z2len);
    memcpy(cat + z2len, z2, z2len);
    assert_int_equal(nnrt_gunzip(cat, 2 * z2len, "m", &out, &outlen, &err), 0);
    assert_int_equal(outlen, 12);
    assert_memory_equal(out, "hello hello ", 12);
    free(out);
    cat[z2len] = 'X';
    assert_int_equal(nnrt_gunzip(cat, 2 * z2len, "m", &out, &outlen, &err), -1);
    assert_msg(&err, "m: 26 unexpected bytes after the end of the gzip stream");
    assert_null(out);
    assert_int_equal(nnrt_gunzip(z, zlen / 2, "m", &out, &outlen, &err), -1);
    assert_msg(&err, "m: gzip stream is truncated");
    z[zlen / 2] ^= 0x55;
    assert_int_equal(nnrt_gunzip(z, zlen, "m", &out, &outlen, &err), -1);
    assert_msg(&err, "m: corrupt gzip data near input byte");
    z[zlen / 2] ^= 0x55;
    z[zlen - 6] ^= 1; /* CRC */
    assert_int_equal(nnrt_gunzip(z, zlen, "m", &out, &outlen, &err), -1);
    assert_msg(&err, "incorrect data check");
    assert_int_equal(nnrt_gunzip(z, 0, "m", &out, &outlen, &err), -1);
    assert_msg(&err, "truncated");
    free(cat);
    free(z2);
    free(z);
}

static void test_now(void **state)
{
    double t0 = nnrt_now(), t1 = nnrt_now();
    assert_true(t0 > 0 && t1 >= t0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u8),
        cmocka_unit_test(test_parse_types),
        cmocka_unit_test(test_parse_gzip_memory),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_truncated_everywhere),
        cmocka_unit_test(test_load_raw_and_gzip),
        cmocka_unit_test(test_gunzip),
        cmocka_unit_test(test_now),
    };
    return cmocka_run_group_tests(tests, setup, tmpdir_remove);
}
