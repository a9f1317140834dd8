/*
 * test_rt_safetensors.c - safetensors parsing, binding, saving and loading.
 *
 * Files are built in memory from a header string and a data size, so each
 * error case is one line of JSON; every failure asserts on the words of the
 * message that name the tensor and both sides of the mismatch. Files on disk
 * live in a mkdtemp directory removed at the end.
 */
#include "rt_test_util.h"

#include <zlib.h>

#include "nnrt_io.h"

/* ---- helpers -------------------------------------------------------------- */

/* The group setup: a fresh temporary directory for the whole run. */
static int setup(void **state)
{
    return tmpdir_make("st");
}

/* Builds length field + header + datalen bytes of data (value i at byte i). */
static unsigned char *build(const char *header, size_t datalen, size_t *len)
{
    size_t h = strlen(header);
    unsigned char *b = malloc(8 + h + datalen + 1);
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)h >> (8 * i));
    memcpy(b + 8, header, h);
    for (size_t i = 0; i < datalen; i++)
        b[8 + h + i] = (unsigned char)i;
    *len = 8 + h + datalen;
    return b;
}

/* Parses a built file expecting failure with each of up to 3 texts. */
static void expect_error(const char *header, size_t datalen, int cap,
                         const char *t1, const char *t2, const char *t3)
{
    NnrtStEntry e[4];
    NnrtStMeta m[2];
    NnrtError err = {{0}};
    int n = -1, nm = -1;
    size_t len;
    unsigned char *b = build(header, datalen, &len);
    assert_int_equal(nnrt_st_parse(b, len, "w.st", e, cap, &n, m, 2, &nm, &err), -1);
    assert_int_equal(n, 0);
    assert_msg(&err, "w.st: ");
    assert_msg(&err, t1);
    if (t2)
        assert_msg(&err, t2);
    if (t3)
        assert_msg(&err, t3);
    free(b);
}

#define GOOD_HEADER                                                           \
    "{\"__metadata__\":{\"format\":\"pt\",\"note\":\"a\\\"b\"},"            \
    "\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"    \
    " \"b\" : { \"shape\" : [ ] , \"dtype\" : \"I64\" ,"                      \
    " \"data_offsets\" : [ 24 , 32 ] } }  "

/* ---- parsing -------------------------------------------------------------- */

static void test_parse_valid(void **state)
{
    NnrtStEntry e[4];
    NnrtStMeta m[4];
    NnrtError err;
    int n, nm;
    size_t len;
    unsigned char *b = build(GOOD_HEADER, 32, &len);
    assert_int_equal(nnrt_st_parse(b, len, "w.st", e, 4, &n, m, 4, &nm, &err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(e[0].name, "a");
    assert_string_equal(e[0].dtype, "F32");
    assert_int_equal(e[0].ndim, 2);
    assert_int_equal(e[0].shape[0], 2);
    assert_int_equal(e[0].shape[1], 3);
    assert_int_equal(e[0].nbytes, 24);
    assert_ptr_equal(e[0].data, b + len - 32);
    assert_string_equal(e[1].name, "b");
    assert_string_equal(e[1].dtype, "I64");
    assert_int_equal(e[1].ndim, 0);
    assert_ptr_equal(e[1].data, b + len - 8);
    assert_int_equal(nm, 2);
    assert_string_equal(m[0].key, "format");
    assert_string_equal(m[0].value, "pt");
    assert_string_equal(m[1].value, "a\"b");
    assert_int_equal(nnrt_st_parse(b, len, "w.st", e, 4, &n, NULL, 0, NULL, &err), 0);
    free(b);
}

static void test_parse_escapes(void **state)
{
    NnrtStEntry e[2];
    NnrtError err;
    int n;
    size_t len;
    unsigned char *b = build("{\"w\\u00e9\\\"q\\\\\\/\\ud83d\\ude00\\n\":"
                             "{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}",
                             0, &len);
    assert_int_equal(nnrt_st_parse(b, len, "w.st", e, 2, &n, NULL, 0, NULL, &err), 0);
    assert_string_equal(e[0].name, "w\xc3\xa9\"q\\/\xf0\x9f\x98\x80\n");
    free(b);
}

static void test_parse_edge_cases_accepted(void **state)
{
    NnrtStEntry e[2];
    NnrtError err;
    int n;
    size_t len;
    unsigned char *b = build("{}", 0, &len);
    assert_int_equal(nnrt_st_parse(b, len, "w.st", e, 0, &n, NULL, 0, NULL, &err), 0);
    assert_int_equal(n, 0);
    free(b);
    /* Unused bytes between tensors are allowed; only overlaps are errors. */
    b = build("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]},"
              "\"z\":{\"dtype\":\"BF16\",\"shape\":[0,5],\"data_offsets\":[5,5]}}",
              10, &len);
    assert_int_equal(nnrt_st_parse(b, len, "w.st", e, 2, &n, NULL, 0, NULL, &err), 0);
    assert_int_equal(e[0].data[0], 4);
    assert_int_equal(e[1].nbytes, 0);
    free(b);
    /* A name of exactly 127 bytes fits NnrtStEntry.name; 128 does not. */
    char h[300];
    snprintf(h, sizeof h, "{\"%0127d\":{\"dtype\":\"U8\",\"shape\":[],"
             "\"data_offsets\":[0,1]}}", 7);
    b = build(h, 1, &len);
    assert_int_equal(nnrt_st_parse(b, len, "w.st", e, 2, &n, NULL, 0, NULL, &err), 0);
    assert_int_equal(strlen(e[0].name), 127);
    free(b);
    snprintf(h, sizeof h, "{\"%0128d\":{}}", 7);
    b = build(h, 0, &len);
    assert_int_equal(nnrt_st_parse(b, len, "w.st", e, 2, &n, NULL, 0, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "is longer than 127 bytes"));
    free(b);
}

static void test_parse_file_errors(void **state)
{
    NnrtStEntry e[2];
    NnrtError err;
    int n;
    unsigned char b[16] = {200, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
    assert_int_equal(nnrt_st_parse(b, 5, "w.st", e, 2, &n, NULL, 0, NULL, &err), -1);
    assert_msg(&err, "w.st: file is 5 bytes, too short");
    assert_int_equal(nnrt_st_parse(b, 10, "w.st", e, 2, &n, NULL, 0, NULL, &err), -1);
    assert_msg(&err, "w.st: header length 200 exceeds the 2 bytes that follow it");
    b[0] = 0xff, b[7] = 0xff;
    assert_int_equal(nnrt_st_parse(b, 16, "w.st", e, 2, &n, NULL, 0, NULL, &err), -1);
    assert_msg(&err, "exceeds the 8 bytes");
    assert_int_equal(nnrt_st_parse(NULL, 0, NULL, e, 2, &n, NULL, 0, NULL, &err), -1);
    assert_msg(&err, "<memory>: file is 0 bytes");
}

static void test_parse_json_errors(void **state)
{
    expect_error("", 0, 2, "malformed header JSON at byte 8: expected '{', found end of header", 0, 0);
    expect_error("[]", 0, 2, "at byte 8: expected '{', found '['", 0, 0);
    expect_error("{\"a\":{\"dtype\":\"F32\" \"shape\":[1]}}", 4, 2,
                 "malformed header JSON at byte 28: expected ',' or '}', found '\"'", 0, 0);
    expect_error("{} x", 0, 2, "at byte 11: unexpected 'x' after the header object", 0, 0);
    expect_error("{}\x01", 0, 2, "at byte 10: unexpected byte 0x01", 0, 0);
    expect_error("{\"a", 0, 2, "unterminated string", 0, 0);
    expect_error("{\"a\\q\":1}", 0, 2, "bad escape sequence", 0, 0);
    expect_error("{\"a\\u12G4\":1}", 0, 2, "bad hex digit", 0, 0);
    expect_error("{\"a\\udc00\":1}", 0, 2, "lone low surrogate", 0, 0);
    expect_error("{\"a\\ud800x\":1}", 0, 2, "not followed by a low one", 0, 0);
    expect_error("{\"a\\ud800\\u0041\":1}", 0, 2, "followed by \\u0041", 0, 0);
    expect_error("{\"a\\u0000\":1}", 0, 2, "\\u0000 is not allowed", 0, 0);
    expect_error("{\"a\tb\":1}", 0, 2, "control byte 0x09 inside a string", 0, 0);
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]},}", 4, 2,
                 "expected '\"', found '}'", 0, 0);
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2.5],\"data_offsets\":[0,4]}}", 4, 2,
                 "fraction or exponent", 0, 0);
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1e3],\"data_offsets\":[0,4]}}", 4, 2,
                 "fraction or exponent", 0, 0);
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[01],\"data_offsets\":[0,4]}}", 4, 2,
                 "leading zero", 0, 0);
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[99999999999999999999]}}", 4, 2,
                 "does not fit in 64 bits", 0, 0);
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-],\"data_offsets\":[0,4]}}", 4, 2,
                 "expected an integer, found ']'", 0, 0);
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1,],\"data_offsets\":[0,4]}}", 4, 2,
                 "expected an integer, found ']'", 0, 0);
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1 2]}}", 4, 2,
                 "expected ',', found '2'", 0, 0);
    expect_error("{\"a\":{\"dtype\":F32}}", 4, 2, "expected '\"', found 'F'", 0, 0);
    expect_error("{\"a\" {}}", 0, 2, "expected ':', found '{'", 0, 0);
}

static void test_parse_tensor_errors(void **state)
{
    expect_error("{\"w\":{\"dtype\":\"F17\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 2,
                 "tensor 'w': unknown dtype \"F17\"", 0, 0);
    expect_error("{\"w\":{\"dtype\":\"F32LONGLONGNAME\",\"shape\":[1]}}", 4, 2,
                 "unknown dtype \"F32LONGLONGNAME\"", 0, 0);
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                 "\"data_offsets\":[0,4]}}", 4, 2,
                 "tensor 'w': shape has 9 dimensions, at most 8", 0, 0);
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[3,-2],\"data_offsets\":[0,4]}}", 4, 2,
                 "tensor 'w': negative dimension -2 in shape [3, -2]", 0, 0);
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                 "\"data_offsets\":[0,4]}}", 4, 2,
                 "tensor 'w': shape [4294967296, 4294967296] is too large", 0, 0);
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[100],\"data_offsets\":[0,400]}}", 24, 2,
                 "tensor 'w': data_offsets [0, 400] run past the end of the 24-byte data block",
                 0, 0);
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 24, 2,
                 "tensor 'w': data_offsets [8, 4] are reversed", 0, 0);
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,4]}}", 24, 2,
                 "tensor 'w': negative data_offsets [-4, 4]", 0, 0);
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,20]}}", 24, 2,
                 "tensor 'w': data_offsets [0, 20] hold 20 bytes, but shape [2, 3] of F32"
                 " needs 24", 0, 0);
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
                 "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 24, 2,
                 "tensors 'a' [0, 16] and 'b' [12, 20] overlap", 0, 0);
    expect_error("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                 "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 4, 1,
                 "more than 1 tensors in file (at tensor 'b')", 0, 0);
    expect_error("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                 "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 4, 2,
                 "tensor 'a' appears twice", 0, 0);
    expect_error("{\"w\":{\"dtype\":\"F32\",\"dtypo\":1}}", 4, 2,
                 "tensor 'w': unknown key \"dtypo\" at byte 28", 0, 0);
    expect_error("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\"}}", 4, 2,
                 "tensor 'w': duplicate key \"dtype\"", 0, 0);
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, 2,
                 "tensor 'w': header has no \"data_offsets\"", 0, 0);
    expect_error("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, 2,
                 "tensor 'w': header has no \"dtype\"", 0, 0);
    expect_error("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8, 2,
                 "tensor 'w': data_offsets has 3 values, expected 2", 0, 0);
    expect_error("{\"w\":5}", 0, 2, "expected '{', found '5'", 0, 0);
}

static void test_parse_name_and_meta_errors(void **state)
{
    char h[512];
    char name[201];
    memset(name, 'n', 200);
    name[200] = '\0';
    snprintf(h, sizeof h, "{\"%s\":{}}", name);
    expect_error(h, 0, 2, "malformed header JSON at byte 9: tensor name \"nnnn", 
                 "is longer than 127 bytes", 0);
    snprintf(h, sizeof h, "{\"__metadata__\":{\"%.70s\":\"v\"}}", name);
    expect_error(h, 0, 2, "__metadata__ key \"nnn", "longer than 63 bytes", 0);
    snprintf(h, sizeof h, "{\"__metadata__\":{\"k\":\"%s%s\"}}", name, name);
    expect_error(h, 0, 2, "__metadata__ value of \"k\" is longer than 255 bytes", 0, 0);
    expect_error("{\"__metadata__\":{\"k\":1}}", 0, 2,
                 "__metadata__ value of \"k\" is not a string", 0, 0);
    expect_error("{\"__metadata__\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"}}", 0, 2,
                 "more than 2 __metadata__ entries", 0, 0);
    expect_error("{\"__metadata__\":{},\"__metadata__\":{}}", 0, 2,
                 "\"__metadata__\" appears twice", 0, 0);
}

/* Every strict prefix of a valid file must fail cleanly (ASan checks reads). */
static void test_parse_truncated_everywhere(void **state)
{
    NnrtStEntry e[4];
    NnrtError err;
    int n;
    size_t len;
    unsigned char *b = build(GOOD_HEADER, 32, &len);
    for (size_t k = 0; k < len; k++) {
        unsigned char *cut = malloc(k ? k : 1);
        memcpy(cut, b, k);
        err.msg[0] = '\0';
        assert_int_equal(nnrt_st_parse(cut, k, "w.st", e, 4, &n, NULL, 0, NULL, &err), -1);
        assert_true(strncmp(err.msg, "w.st: ", 6) == 0);
        free(cut);
    }
    free(b);
}

/* Every byte of the header replaced by a few values: no crash, no hang. */
static void test_parse_mutations(void **state)
{
    static const unsigned char subst[] = {0, '"', '\\', '{', '}', '[', ']', ',',
                                          ':', '-', '9', 'u', 0xff};
    NnrtStEntry e[4];
    NnrtError err;
    int n;
    size_t len;
    unsigned char *b = build(GOOD_HEADER, 32, &len);
    for (size_t k = 0; k < len; k++) {
        unsigned char keep = b[k];
        for (size_t s = 0; s < sizeof subst; s++) {
            b[k] = subst[s];
            if (nnrt_st_parse(b, len, "w.st", e, 4, &n, NULL, 0, NULL, &err) < 0)
                assert_true(strncmp(err.msg, "w.st: ", 6) == 0);
        }
        b[k] = keep;
    }
    free(b);
}

/* ---- binding -------------------------------------------------------------- */

#define BIND_HEADER                                                                   \
    "{\"dense_1.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}," \
    "\"dense_1.bias\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[16,24]},"     \
    "\"bn.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],"                       \
    "\"data_offsets\":[24,32]}}"

/* Parses BIND_HEADER with float data 1..6 for the two F32 tensors. */
static unsigned char *bind_file(NnrtStEntry *e, int *n)
{
    NnrtError err;
    size_t len;
    unsigned char *b = build(BIND_HEADER, 32, &len);
    for (int i = 0; i < 6; i++) {
        float v = (float)(i + 1);
        memcpy(b + len - 32 + 4 * i, &v, 4); /* unaligned on purpose */
    }
    assert_int_equal(nnrt_st_parse(b, len, "weights.safetensors", e, 4, n, NULL, 0,
                                   NULL, &err), 0);
    return b;
}

static void test_bind_ok(void **state)
{
    NnrtStEntry e[4];
    NnrtError err;
    int n;
    float w[4] = {0}, bias[2] = {0};
    unsigned char *b = bind_file(e, &n);
    NnrtParamSpec specs[2] = {{"dense_1.bias", 1, {2}, bias},
                              {"dense_1.weight", 2, {2, 2}, w}};
    assert_int_equal(nnrt_st_bind(e, n, "weights.safetensors", specs, 2, &err), 0);
    assert_true(w[0] == 1 && w[3] == 4 && bias[0] == 5 && bias[1] == 6);
    free(b);
}

/* Binds specs expecting failure with text, and checks nothing was copied. */
static void expect_bind_error(NnrtParamSpec *specs, int nspecs, const char *text)
{
    NnrtStEntry e[4];
    NnrtError err;
    int n;
    unsigned char *b = bind_file(e, &n);
    assert_int_equal(nnrt_st_bind(e, n, "weights.safetensors", specs, nspecs, &err), -1);
    assert_msg(&err, text);
    for (int s = 0; s < nspecs; s++)
        assert_true(specs[s].dst[0] == -1.0f);
    free(b);
}

static void test_bind_errors(void **state)
{
    float w[4] = {-1}, bias[2] = {-1}, x[1] = {-1};
    NnrtParamSpec ok_w = {"dense_1.weight", 2, {2, 2}, w};
    NnrtParamSpec ok_b = {"dense_1.bias", 1, {2}, bias};
    NnrtParamSpec specs[3] = {ok_w, {"dense_1.weights", 2, {2, 2}, x}, ok_b};
    expect_bind_error(specs, 3, "weights.safetensors: missing tensor 'dense_1.weights'"
                                " (nearest name in the file: 'dense_1.weight')");
    specs[1] = (NnrtParamSpec){"dens_1.bias", 1, {2}, x};
    expect_bind_error(specs, 3, "nearest name in the file: 'dense_1.bias'");
    NnrtParamSpec only_w[1] = {ok_w};
    expect_bind_error(only_w, 1, "weights.safetensors: unexpected tensor 'dense_1.bias'"
                                 " in file");
    NnrtParamSpec shape[2] = {{"dense_1.weight", 2, {4, 1}, w}, ok_b};
    expect_bind_error(shape, 2, "weights.safetensors: tensor 'dense_1.weight': shape"
                                " [2, 2] in file, expected [4, 1]");
    NnrtParamSpec rank[2] = {ok_w, {"dense_1.bias", 2, {1, 2}, bias}};
    expect_bind_error(rank, 2, "tensor 'dense_1.bias': shape [2] in file, expected [1, 2]");
    NnrtParamSpec dtype[3] = {ok_w, ok_b, {"bn.num_batches_tracked", 0, {0}, x}};
    expect_bind_error(dtype, 3, "tensor 'bn.num_batches_tracked': dtype I64 in file,"
                                " expected F32");
}

static void test_bind_message_example(void **state)
{
    NnrtStEntry e[1];
    NnrtError err;
    int n;
    size_t len;
    float dst[1];
    unsigned char *b = build("{\"dense_1.weight\":{\"dtype\":\"F32\",\"shape\":[128,784],"
                             "\"data_offsets\":[0,401408]}}", 401408, &len);
    assert_int_equal(nnrt_st_parse(b, len, "weights.safetensors", e, 1, &n, NULL, 0,
                                   NULL, &err), 0);
    NnrtParamSpec s = {"dense_1.weight", 2, {256, 784}, dst};
    assert_int_equal(nnrt_st_bind(e, n, "weights.safetensors", &s, 1, &err), -1);
    assert_string_equal(err.msg, "weights.safetensors: tensor 'dense_1.weight': shape"
                                 " [128, 784] in file, expected [256, 784]");
    assert_int_equal(nnrt_st_bind(e, 0, "w.st", &s, 1, &err), -1);
    assert_string_equal(err.msg, "w.st: missing tensor 'dense_1.weight' (the file holds"
                                 " no tensors)");
    free(b);
}

/* ---- files ---------------------------------------------------------------- */

static void test_save_load_roundtrip(void **state)
{
    const int64_t s_w[2] = {3, 2}, s_b[1] = {3}, s_s[1] = {0};
    const float w[6] = {1.5f, -2, 3, 4, 5, 6e-9f}, bias[3] = {7, 8, 9}, sc = 0.25f;
    NnrtStOut t[3] = {{"layer.w", 2, s_w, w}, {"layer.b", 1, s_b, bias},
                      {"scale", 0, s_s, &sc}};
    NnrtStMeta meta[2] = {{"epoch", "12"}, {"note", "quote \" and\nnewline"}};
    NnrtStEntry e[4];
    NnrtStMeta m[4];
    NnrtError err;
    unsigned char *buf;
    size_t len;
    int n, nm;
    const char *path = tmp_path("model.safetensors");
    assert_int_equal(nnrt_st_save(path, t, 3, meta, 2, &err), 0);
    assert_int_equal(nnrt_st_save(path, t, 3, meta, 2, &err), 0); /* overwrite */
    assert_int_equal(tmpdir_count(), 1);                         /* no .tmp left */
    assert_int_equal(nnrt_st_load_file(path, &buf, &len, e, 4, &n, m, 4, &nm, &err), 0);
    assert_int_equal(buf[0] % 8, 0);
    assert_int_equal(n, 3);
    assert_int_equal(nm, 2);
    assert_string_equal(m[1].value, "quote \" and\nnewline");
    float w2[6], b2[3], sc2;
    NnrtParamSpec specs[3] = {{"scale", 0, {0}, &sc2}, {"layer.w", 2, {3, 2}, w2},
                              {"layer.b", 1, {3}, b2}};
    assert_int_equal(nnrt_st_bind(e, n, path, specs, 3, &err), 0);
    assert_memory_equal(w, w2, sizeof w);
    assert_memory_equal(bias, b2, sizeof bias);
    assert_true(sc2 == 0.25f);
    free(buf);
    unlink(path);
}

static void test_save_errors(void **state)
{
    const int64_t s1[1] = {1}, bad[1] = {-1};
    const float v = 1;
    NnrtError err;
    NnrtStOut dup[2] = {{"x", 1, s1, &v}, {"x", 1, s1, &v}};
    assert_int_equal(nnrt_st_save(tmp_path("a.st"), dup, 2, NULL, 0, &err), -1);
    assert_msg(&err, "tensor 'x' given twice");
    NnrtStOut empty[1] = {{"", 1, s1, &v}};
    assert_int_equal(nnrt_st_save(tmp_path("a.st"), empty, 1, NULL, 0, &err), -1);
    assert_msg(&err, "name must be 1 to 127 bytes");
    NnrtStOut neg[1] = {{"n", 1, bad, &v}};
    assert_int_equal(nnrt_st_save(tmp_path("a.st"), neg, 1, NULL, 0, &err), -1);
    assert_msg(&err, "tensor 'n': invalid shape");
    NnrtStOut ok[1] = {{"x", 1, s1, &v}};
    assert_int_equal(nnrt_st_save("/nonexistent-dir/x/a.st", ok, 1, NULL, 0, &err), -1);
    assert_msg(&err, "/nonexistent-dir/x/a.st: cannot create '/nonexistent-dir/x/a.st.tmp.");
    assert_int_equal(tmpdir_count(), 0);
}

static void test_load_file_errors(void **state)
{
    NnrtStEntry e[2];
    NnrtError err;
    unsigned char *buf = (unsigned char *)"sentinel";
    size_t len;
    int n;
    assert_int_equal(nnrt_st_load_file(tmp_path("missing.st"), &buf, &len, e, 2, &n,
                                       NULL, 0, NULL, &err), -1);
    assert_msg(&err, "missing.st: cannot open: No such file or directory");
    assert_null(buf);
    FILE *f = fopen(tmp_path("junk.st"), "wb");
    fwrite("\x05\0\0\0\0\0\0\0{\"a\"", 1, 12, f);
    fclose(f);
    assert_int_equal(nnrt_st_load_file(tmp_path("junk.st"), &buf, &len, e, 2, &n,
                                       NULL, 0, NULL, &err), -1);
    assert_msg(&err, "junk.st: header length 5 exceeds the 4 bytes");
    assert_null(buf);
    unlink(tmp_path("junk.st"));
}

static void test_load_gzip(void **state)
{
    NnrtStEntry e[4];
    NnrtError err;
    unsigned char *buf, *raw = NULL;
    size_t len, rawlen;
    int n;
    raw = build(GOOD_HEADER, 32, &rawlen);
    gzFile g = gzopen(tmp_path("w.st.gz"), "wb");
    gzwrite(g, raw, (unsigned)rawlen);
    gzclose(g);
    assert_int_equal(nnrt_st_load_file(tmp_path("w.st.gz"), &buf, &len, e, 4, &n,
                                       NULL, 0, NULL, &err), 0);
    assert_int_equal(len, rawlen);
    assert_memory_equal(buf, raw, rawlen);
    assert_int_equal(n, 2);
    free(buf);
    free(raw);
    unlink(tmp_path("w.st.gz"));
}

static void test_write_atomic(void **state)
{
    const void *parts[3] = {"ab", "", "cde"};
    size_t lens[3] = {2, 0, 3};
    NnrtError err;
    unsigned char *buf;
    size_t len;
    assert_int_equal(nnrt_write_file_atomic(tmp_path("f"), parts, lens, 3, &err), 0);
    assert_int_equal(nnrt_read_file(tmp_path("f"), &buf, &len, &err), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "abcde", 6);
    free(buf);
    assert_int_equal(tmpdir_count(), 1);
    unlink(tmp_path("f"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_escapes),
        cmocka_unit_test(test_parse_edge_cases_accepted),
        cmocka_unit_test(test_parse_file_errors),
        cmocka_unit_test(test_parse_json_errors),
        cmocka_unit_test(test_parse_tensor_errors),
        cmocka_unit_test(test_parse_name_and_meta_errors),
        cmocka_unit_test(test_parse_truncated_everywhere),
        cmocka_unit_test(test_parse_mutations),
        cmocka_unit_test(test_bind_ok),
        cmocka_unit_test(test_bind_errors),
        cmocka_unit_test(test_bind_message_example),
        cmocka_unit_test(test_save_load_roundtrip),
        cmocka_unit_test(test_save_errors),
        cmocka_unit_test(test_load_file_errors),
        cmocka_unit_test(test_load_gzip),
        cmocka_unit_test(test_write_atomic),
    };
    return cmocka_run_group_tests(tests, setup, tmpdir_remove);
}
