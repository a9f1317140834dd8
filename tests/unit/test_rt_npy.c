/*
 * test_rt_npy.c - .npy reading and writing, and array conversion.
 *
 * Files are built in memory from a header dict and raw data bytes, the way
 * numpy lays them out; big-endian files are written by hand. Also covers
 * nnrt_array_get_f32 / nnrt_array_get_label, which every loader shares.
 */
#include "rt_test_util.h"

#include <math.h>
#include <zlib.h>

#include "nnrt_io.h"

/* ---- helpers -------------------------------------------------------------- */

/* The group setup: a fresh temporary directory for the whole run. */
static int setup(void **state)
{
    return tmpdir_make("npy");
}

/* Builds a .npy file of format major.0: preamble, dict padded to 64, data. */
static unsigned char *npy_build(int major, const char *dict, const void *data,
                                size_t datalen, size_t *len)
{
    size_t pre = major == 1 ? 10 : 12, d = strlen(dict);
    size_t total = (pre + d + 1 + 63) / 64 * 64;
    unsigned char *b = malloc(total + datalen + 1);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    size_t hl = total - pre;
    for (size_t i = 0; i < pre - 8; i++)
        b[8 + i] = (unsigned char)(hl >> (8 * i));
    memset(b + pre, ' ', hl);
    memcpy(b + pre, dict, d);
    b[total - 1] = '\n';
    if (datalen)
        memcpy(b + total, data, datalen);
    *len = total + datalen;
    return b;
}

/* Parses a version-1 file with this dict and data, expecting an error. */
static void expect_error(const char *dict, size_t datalen, const char *text)
{
    static const unsigned char zeros[64];
    NnrtArray a;
    NnrtError err = {{0}};
    size_t len;
    unsigned char *b = npy_build(1, dict, zeros, datalen, &len);
    assert_int_equal(nnrt_npy_parse(b, len, "x.npy", &a, &err), -1);
    assert_null(a.data);
    assert_msg(&err, "x.npy: ");
    assert_msg(&err, text);
    free(b);
}

#define DICT(descr, shape) \
    "{'descr': '" descr "', 'fortran_order': False, 'shape': " shape ", }"

/* ---- reading -------------------------------------------------------------- */

static void test_parse_f4(void **state)
{
    const float v[6] = {1, 2, 3, 4, 5, -6.5f};
    NnrtArray a;
    NnrtError err;
    size_t len;
    for (int major = 1; major <= 3; major++) {
        unsigned char *b = npy_build(major, DICT("<f4", "(2, 3)"), v, sizeof v, &len);
        assert_int_equal(nnrt_npy_parse(b, len, "x.npy", &a, &err), 0);
        assert_int_equal(a.dtype, NNRT_F32);
        assert_int_equal(a.ndim, 2);
        assert_int_equal(a.shape[0], 2);
        assert_int_equal(a.shape[1], 3);
        assert_int_equal(a.count, 6);
        assert_memory_equal(a.data, v, sizeof v);
        nnrt_array_free(&a);
        free(b);
    }
}

/* Parses dict+data and checks the dtype and the values as floats. */
static void check_values(const char *dict, const void *data, size_t datalen,
                         NnrtDtype t, const float *want, size_t n)
{
    NnrtArray a;
    NnrtError err;
    size_t len;
    float got[8];
    unsigned char *b = npy_build(1, dict, data, datalen, &len);
    if (nnrt_npy_parse(b, len, "x.npy", &a, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(a.dtype, t);
    assert_int_equal(a.count, n);
    nnrt_array_get_f32(&a, 0, n, 1.0f, got);
    assert_memory_equal(got, want, n * sizeof *want);
    nnrt_array_free(&a);
    free(b);
}

static void test_parse_dtypes(void **state)
{
    const double f8[2] = {0.5, -1e30};
    const float f8f[2] = {0.5f, -1e30f};
    check_values(DICT("<f8", "(2,)"), f8, sizeof f8, NNRT_F64, f8f, 2);
    const uint8_t u1[3] = {0, 128, 255};
    check_values(DICT("|u1", "(3,)"), u1, 3, NNRT_U8, (float[]){0, 128, 255}, 3);
    check_values(DICT("<u1", "(1, 3)"), u1, 3, NNRT_U8, (float[]){0, 128, 255}, 3);
    const int8_t i1[2] = {-128, 127};
    check_values(DICT("|i1", "(2,)"), i1, 2, NNRT_I8, (float[]){-128, 127}, 2);
    const int16_t i2[2] = {-300, 300};
    check_values(DICT("<i2", "(2,)"), i2, 4, NNRT_I16, (float[]){-300, 300}, 2);
    const uint16_t u2[1] = {65535};
    check_values(DICT("<u2", "(1,)"), u2, 2, NNRT_U16, (float[]){65535}, 1);
    const int32_t i4[2] = {-70000, 7};
    check_values(DICT("<i4", "(2,)"), i4, 8, NNRT_I32, (float[]){-70000, 7}, 2);
    const uint32_t u4[1] = {4000000000u};
    check_values(DICT("<u4", "()"), u4, 4, NNRT_U32, (float[]){4e9f}, 1);
    const int64_t i8[2] = {-5, 1LL << 40};
    check_values(DICT("<i8", "(2,)"), i8, 16, NNRT_I64, (float[]){-5, 1099511627776.0f}, 2);
    const uint64_t u8[1] = {3};
    check_values(DICT("<u8", "(1,)"), u8, 8, NNRT_U64, (float[]){3}, 1);
    const uint8_t b1[3] = {0, 1, 7};
    check_values(DICT("|b1", "(3,)"), b1, 3, NNRT_BOOL, (float[]){0, 1, 1}, 3);
}

static void test_parse_big_endian(void **state)
{
    const unsigned char f4[8] = {0x3f, 0x80, 0, 0, 0xc0, 0x20, 0, 0};
    check_values(DICT(">f4", "(2,)"), f4, 8, NNRT_F32, (float[]){1.0f, -2.5f}, 2);
    const unsigned char f8[8] = {0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18};
    check_values(DICT(">f8", "(1,)"), f8, 8, NNRT_F64, (float[]){3.14159265f}, 1);
    const unsigned char i2[4] = {0xff, 0xfe, 0x01, 0x00};
    check_values(DICT(">i2", "(2,)"), i2, 4, NNRT_I16, (float[]){-2, 256}, 2);
    const unsigned char i8[8] = {0, 0, 0, 0, 0, 0, 0x01, 0x02};
    check_values(DICT(">i8", "(1,)"), i8, 8, NNRT_I64, (float[]){258}, 1);
    const unsigned char u4[4] = {0, 0, 1, 0};
    check_values(DICT(">u4", "(1,)"), u4, 4, NNRT_U32, (float[]){256}, 1);
}

static void test_parse_header_variants(void **state)
{
    const float v[2] = {1, 2};
    check_values("{\"shape\":(2,),\"fortran_order\":False,\"descr\":\"<f4\"}", v, 8,
                 NNRT_F32, v, 2);
    check_values("{'descr':'<f4','fortran_order':False,'shape':(1,2)}", v, 8, NNRT_F32, v, 2);
    check_values("{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", v, 8,
                 NNRT_F32, v, 2);
    check_values(DICT("<f4", "(0, 5)"), v, 0, NNRT_F32, v, 0);
}

static void test_parse_errors(void **state)
{
    expect_error("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", 8,
                 "fortran_order: True is not supported");
    expect_error("{'descr': '<f4', 'shape': (2,), }", 8, "header has no 'fortran_order' key");
    expect_error("{'fortran_order': False, 'shape': (2,), }", 8, "header has no 'descr' key");
    expect_error(DICT("<f2", "(2,)"), 4, "bad .npy header at byte 20: unsupported descr '<f2'");
    expect_error(DICT("|f4", "(2,)"), 8, "unsupported descr '|f4'");
    expect_error(DICT("=f4", "(2,)"), 8, "unsupported descr '=f4'");
    expect_error(DICT("f4", "(2,)"), 8, "unsupported descr 'f4'");
    expect_error(DICT("<f4", "(2)"), 8, "a 1-D shape is written (n,)");
    expect_error(DICT("<f4", "(-2,)"), 8, "expected a non-negative integer");
    expect_error(DICT("<f4", "(1,1,1,1,1,1,1,1,1)"), 4, "more than 8 dimensions");
    expect_error(DICT("<f4", "(99999999999999999999,)"), 4, "does not fit in 64 bits");
    expect_error(DICT("<f4", "(2 3)"), 24, "expected ',' or ')' in the shape");
    expect_error(DICT("<f4", "[2, 3]"), 24, "expected '('");
    expect_error(DICT("<f4", "(4294967296, 4294967296, 4294967296)"), 24, "is too large");
    expect_error(DICT("<f4", "(2, 3)"), 20,
                 "x.npy: shape [2, 3] of float32 needs 24 data bytes, found 20");
    expect_error(DICT("<f4", "(2, 3)"), 28, "needs 24 data bytes, found 28");
    expect_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8,
                 "unknown key 'x'");
    expect_error("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False}", 8,
                 "duplicate key 'descr'");
    expect_error("{'descr': '<f4', 'fortran_order': Nope, 'shape': (2,)}", 8,
                 "expected True or False");
    expect_error("{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", 8,
                 "expected ',' or '}'");
    expect_error("{'descr': '<f\\4', 'fortran_order': False, 'shape': (2,)}", 8,
                 "unsupported character 0x5c");
    expect_error("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", 8,
                 "unexpected text after the dict");
    expect_error("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", 8,
                 "expected a quoted string");
    expect_error("{'descr: '<f4'", 8, "expected ':'");
    expect_error("'descr'", 8, "expected '{'");
}

static void test_parse_preamble_errors(void **state)
{
    const float v[2] = {1, 2};
    NnrtArray a;
    NnrtError err;
    size_t len;
    unsigned char *b = npy_build(1, DICT("<f4", "(2,)"), v, 8, &len);
    b[6] = 4;
    assert_int_equal(nnrt_npy_parse(b, len, "x.npy", &a, &err), -1);
    assert_msg(&err, "x.npy: unsupported .npy format version 4.0");
    b[6] = 1;
    b[1] = 'n';
    assert_int_equal(nnrt_npy_parse(b, len, "x.npy", &a, &err), -1);
    assert_msg(&err, "x.npy: not a .npy file (no \\x93NUMPY magic)");
    b[1] = 'N';
    b[8] = 0xff, b[9] = 0xff;
    assert_int_equal(nnrt_npy_parse(b, len, "x.npy", &a, &err), -1);
    assert_msg(&err, "x.npy: header of 65535 bytes runs past the end of the");
    assert_int_equal(nnrt_npy_parse(b, 4, "x.npy", &a, &err), -1);
    assert_msg(&err, "not a .npy file (too short)");
    assert_int_equal(nnrt_npy_parse(NULL, 0, NULL, &a, &err), -1);
    assert_msg(&err, "<memory>: not a .npy file");
    free(b);
}

/* Every strict prefix of valid files must fail without reading past it. */
static void test_parse_truncated_everywhere(void **state)
{
    const int16_t v[3] = {1, 2, 3};
    NnrtArray a;
    NnrtError err;
    for (int major = 1; major <= 3; major++) {
        size_t len;
        unsigned char *b = npy_build(major, DICT(">i2", "(3,)"), v, sizeof v, &len);
        for (size_t k = 0; k < len; k++) {
            unsigned char *cut = malloc(k ? k : 1);
            memcpy(cut, b, k);
            assert_int_equal(nnrt_npy_parse(cut, k, "t.npy", &a, &err), -1);
            assert_true(strncmp(err.msg, "t.npy: ", 7) == 0);
            assert_null(a.data);
            free(cut);
        }
        free(b);
    }
}

/* Each header byte replaced by a few values: no crash, no leak. */
static void test_parse_mutations(void **state)
{
    static const unsigned char subst[] = {0, '\'', '"', '(', ')', ',', ':', '{', '}',
                                          '9', '>', 'T', 0xff};
    const float v[2] = {1, 2};
    NnrtArray a;
    NnrtError err;
    size_t len;
    unsigned char *b = npy_build(2, DICT("<f4", "(2,)"), v, 8, &len);
    for (size_t k = 0; k < len - 8; k++) {
        unsigned char keep = b[k];
        for (size_t s = 0; s < sizeof subst; s++) {
            b[k] = subst[s];
            if (nnrt_npy_parse(b, len, "m.npy", &a, &err) == 0)
                nnrt_array_free(&a);
        }
        b[k] = keep;
    }
    free(b);
}

/* ---- files ---------------------------------------------------------------- */

static void test_save_load_roundtrip(void **state)
{
    static const int64_t shapes[4][3] = {{0}, {5}, {2, 3}, {2, 1, 2}};
    static const int ndims[4] = {0, 1, 2, 3};
    const float v[6] = {1.25f, -2, 3e-20f, 4, 5, 6};
    NnrtArray a;
    NnrtError err;
    const char *path = tmp_path("r.npy");
    for (int i = 0; i < 4; i++) {
        assert_int_equal(nnrt_npy_save_f32(path, ndims[i], shapes[i], v, &err), 0);
        assert_int_equal(nnrt_npy_load(path, &a, &err), 0);
        assert_int_equal(a.dtype, NNRT_F32);
        assert_int_equal(a.ndim, ndims[i]);
        assert_memory_equal(a.shape, shapes[i], (size_t)ndims[i] * sizeof(int64_t));
        assert_memory_equal(a.data, v, a.count * sizeof(float));
        nnrt_array_free(&a);
    }
    unsigned char *raw;
    size_t len;
    assert_int_equal(nnrt_read_file(path, &raw, &len, &err), 0);
    assert_memory_equal(raw, "\x93NUMPY\x01\x00\x76\x00", 10);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 2), }";
    assert_memory_equal(raw + 10, dict, strlen(dict));
    assert_int_equal(raw[127], '\n');
    assert_int_equal(len, 128 + 16);
    free(raw);
    unlink(path);
}

static void test_save_dict_1d(void **state)
{
    const int64_t shape[1] = {3};
    const float v[3] = {1, 2, 3};
    NnrtError err;
    unsigned char *raw;
    size_t len;
    assert_int_equal(nnrt_npy_save_f32(tmp_path("d.npy"), 1, shape, v, &err), 0);
    assert_int_equal(nnrt_read_file(tmp_path("d.npy"), &raw, &len, &err), 0);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }";
    assert_memory_equal(raw + 10, dict, strlen(dict));
    free(raw);
    unlink(tmp_path("d.npy"));
    const int64_t bad[1] = {-1};
    assert_int_equal(nnrt_npy_save_f32(tmp_path("d.npy"), 1, bad, v, &err), -1);
    assert_msg(&err, "d.npy: invalid shape");
}

static void test_load_gzip_and_missing(void **state)
{
    const uint8_t v[4] = {9, 8, 7, 6};
    NnrtArray a;
    NnrtError err;
    size_t len;
    unsigned char *b = npy_build(1, DICT("|u1", "(2, 2)"), v, 4, &len);
    gzFile g = gzopen(tmp_path("z.npy.gz"), "wb");
    gzwrite(g, b, (unsigned)len);
    gzclose(g);
    assert_int_equal(nnrt_npy_load(tmp_path("z.npy.gz"), &a, &err), 0);
    assert_int_equal(a.dtype, NNRT_U8);
    assert_memory_equal(a.data, v, 4);
    nnrt_array_free(&a);
    nnrt_array_free(&a);
    free(b);
    unlink(tmp_path("z.npy.gz"));
    assert_int_equal(nnrt_npy_load(tmp_path("none.npy"), &a, &err), -1);
    assert_msg(&err, "none.npy: cannot open: No such file or directory");
}

/* ---- array conversion ----------------------------------------------------- */

static void test_get_f32(void **state)
{
    uint8_t px[4] = {0, 51, 255, 102};
    NnrtArray a = {NNRT_U8, 1, {4}, 4, px};
    float out[6];
    nnrt_array_get_f32(&a, 1, 5, 1.0f / 255, out);
    assert_true(out[0] == 51.0f / 255 * 1.0f || out[0] == 51.0f * (1.0f / 255));
    assert_true(out[1] == 255.0f * (1.0f / 255));
    assert_true(out[3] == 0 && out[4] == 0);
    nnrt_array_get_f32(&a, 10, 2, 1.0f, out);
    assert_true(out[0] == 0 && out[1] == 0);
    NnrtArray freed;
    memset(&freed, 0, sizeof freed);
    out[0] = 1;
    nnrt_array_get_f32(&freed, 3, 1, 1.0f, out);
    assert_true(out[0] == 0);
    assert_int_equal(nnrt_dtype_size(NNRT_F64), 8);
    assert_int_equal(nnrt_dtype_size(NNRT_BOOL), 1);
    assert_string_equal(nnrt_dtype_name(NNRT_U16), "uint16");
    assert_string_equal(nnrt_dtype_name(NNRT_BOOL), "bool");
}

static void test_get_label(void **state)
{
    int64_t v;
    NnrtError err;
    int16_t i2[2] = {-3, 9};
    NnrtArray a = {NNRT_I16, 1, {2}, 2, i2};
    assert_int_equal(nnrt_array_get_label(&a, 1, &v, &err), 0);
    assert_int_equal(v, 9);
    assert_int_equal(nnrt_array_get_label(&a, 2, &v, &err), -1);
    assert_msg(&err, "label index 2 is out of range (the array has 2 elements)");
    float f4[3] = {3.0f, 3.5f, NAN};
    NnrtArray b = {NNRT_F32, 1, {3}, 3, f4};
    assert_int_equal(nnrt_array_get_label(&b, 0, &v, &err), 0);
    assert_int_equal(v, 3);
    assert_int_equal(nnrt_array_get_label(&b, 1, &v, &err), -1);
    assert_msg(&err, "label at index 1 is 3.5, not a whole number");
    assert_int_equal(nnrt_array_get_label(&b, 2, &v, &err), -1);
    double f8[1] = {1e30};
    NnrtArray c = {NNRT_F64, 1, {1}, 1, f8};
    assert_int_equal(nnrt_array_get_label(&c, 0, &v, &err), -1);
    uint64_t u8[2] = {7, UINT64_MAX};
    NnrtArray d = {NNRT_U64, 1, {2}, 2, u8};
    assert_int_equal(nnrt_array_get_label(&d, 0, &v, &err), 0);
    assert_int_equal(v, 7);
    assert_int_equal(nnrt_array_get_label(&d, 1, &v, &err), -1);
    assert_msg(&err, "label at index 1 is 18446744073709551615, too large");
    uint8_t b1[1] = {1};
    NnrtArray e = {NNRT_BOOL, 1, {1}, 1, b1};
    assert_int_equal(nnrt_array_get_label(&e, 0, &v, &err), 0);
    assert_int_equal(v, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_f4),
        cmocka_unit_test(test_parse_dtypes),
        cmocka_unit_test(test_parse_big_endian),
        cmocka_unit_test(test_parse_header_variants),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_parse_preamble_errors),
        cmocka_unit_test(test_parse_truncated_everywhere),
        cmocka_unit_test(test_parse_mutations),
        cmocka_unit_test(test_save_load_roundtrip),
        cmocka_unit_test(test_save_dict_1d),
        cmocka_unit_test(test_load_gzip_and_missing),
        cmocka_unit_test(test_get_f32),
        cmocka_unit_test(test_get_label),
    };
    return cmocka_run_group_tests(tests, setup, tmpdir_remove);
}
