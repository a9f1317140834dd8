/*
 * test_rt_csv.c - numeric CSV parsing and loading.
 *
 * Each case is a literal text and either the expected matrix or the words
 * the error message must contain (file name, line, column, both counts).
 */
#include "rt_test_util.h"

#include <zlib.h>

#include "nnrt_io.h"

/* ---- helpers -------------------------------------------------------------- */

/* The group setup: a fresh temporary directory for the whole run. */
static int setup(void **state)
{
    return tmpdir_make("csv");
}

/* Parses text (copied to an exact-size buffer) and checks the matrix. */
static void expect_matrix(const char *text, int64_t rows, int64_t cols,
                          const float *want)
{
    size_t n = strlen(text);
    char *buf = malloc(n ? n : 1);
    memcpy(buf, text, n);
    NnrtArray a;
    NnrtError err;
    if (nnrt_csv_parse(buf, n, "d.csv", &a, &err) < 0)
        fail_msg("%s", err.msg);
    assert_int_equal(a.dtype, NNRT_F32);
    assert_int_equal(a.ndim, 2);
    assert_int_equal(a.shape[0], rows);
    assert_int_equal(a.shape[1], cols);
    assert_memory_equal(a.data, want, (size_t)(rows * cols) * sizeof(float));
    nnrt_array_free(&a);
    free(buf);
}

/* Parses n bytes of text expecting an error containing msg. */
static void expect_error_n(const char *text, size_t n, const char *msg)
{
    char *buf = malloc(n ? n : 1);
    memcpy(buf, text, n);
    NnrtArray a;
    NnrtError err = {{0}};
    assert_int_equal(nnrt_csv_parse(buf, n, "d.csv", &a, &err), -1);
    assert_null(a.data);
    assert_msg(&err, "d.csv: ");
    assert_msg(&err, msg);
    free(buf);
}

static void expect_error(const char *text, const char *msg)
{
    expect_error_n(text, strlen(text), msg);
}

/* ---- parsing -------------------------------------------------------------- */

static void test_plain(void **state)
{
    expect_matrix("1,2,3\n4,5,6\n", 2, 3, (float[]){1, 2, 3, 4, 5, 6});
    expect_matrix("1.5", 1, 1, (float[]){1.5f});
    expect_matrix("-0.25,+3e2,1E-3\n", 1, 3, (float[]){-0.25f, 300, 1e-3f});
    expect_matrix("7\n8\n9", 3, 1, (float[]){7, 8, 9});
}

static void test_header_blank_and_spacing(void **state)
{
    expect_matrix("x,y,label\n1,2,0\n3,4,1\n", 2, 3, (float[]){1, 2, 0, 3, 4, 1});
    expect_matrix("\n\n  \nx1, \"y\"\n\n 1 ,\t2\r\n\r\n3,4\r\n  \n", 2, 2,
                  (float[]){1, 2, 3, 4});
    expect_matrix("\xEF\xBB\xBF" "a,b\n5,6", 1, 2, (float[]){5, 6});
    expect_matrix(",a,b\n0,1,2\n", 1, 3, (float[]){0, 1, 2}); /* pandas index */
    expect_matrix("1e-50,1\n", 1, 2, (float[]){0.0f, 1}); /* underflow is 0 */
}

static void test_errors(void **state)
{
    expect_error("1,2,3\n4,x,6\n", "d.csv: line 2, column 2: bad number 'x'");
    expect_error("a,b\n1,2\nc,d\n", "line 3, column 1: bad number 'c'");
    expect_error("1,2,3\n\n4,5\n", "d.csv: line 3 has 2 columns, expected 3 (as in line 1)");
    expect_error("h\n\n1,2\n3,4,5\n", "line 4 has 3 columns, expected 2 (as in line 3)");
    expect_error("1,,3\n", "line 1, column 2: empty field");
    expect_error("1,2\n3, \n", "line 2, column 2: empty field");
    expect_error("1,2\n3,1e40\n", "line 2, column 2: bad number '1e40'");
    expect_error("1,2\n3,4.5.6\n", "bad number '4.5.6'");
    expect_error_n("1,2\n3,4\0" "5\n", 10, "line 2, column 2: bad number '4'");
    expect_error("", "d.csv: no data rows");
    expect_error("\n \n", "no data rows");
    expect_error("a,b,c\n", "no data rows");
    char longf[200];
    memset(longf, '1', sizeof longf - 1);
    longf[sizeof longf - 1] = '\0';
    char text[300];
    snprintf(text, sizeof text, "1,2\n3,%s\n", longf);
    expect_error(text, "line 2, column 2: bad number '1111111111111111111111111111111111111111...'");
}

/* Every prefix of a valid text either parses or fails with a message. */
static void test_truncated_everywhere(void **state)
{
    const char *text = "a,b\n1.5,2\r\n\n-3,4e1\n";
    size_t n = strlen(text);
    for (size_t k = 0; k <= n; k++) {
        char *cut = malloc(k ? k : 1);
        memcpy(cut, text, k);
        NnrtArray a;
        NnrtError err = {{0}};
        if (nnrt_csv_parse(cut, k, "t.csv", &a, &err) == 0)
            nnrt_array_free(&a);
        else
            assert_true(strncmp(err.msg, "t.csv: ", 7) == 0);
        free(cut);
    }
}

/* ---- files ---------------------------------------------------------------- */

static void test_load_files(void **state)
{
    const char *text = "f1,f2\n0.5,1\n2,3\n";
    NnrtArray a;
    NnrtError err;
    FILE *f = fopen(tmp_path("t.csv"), "wb");
    fputs(text, f);
    fclose(f);
    assert_int_equal(nnrt_csv_load(tmp_path("t.csv"), &a, &err), 0);
    assert_int_equal(a.shape[0], 2);
    assert_true(((float *)a.data)[0] == 0.5f);
    nnrt_array_free(&a);
    gzFile g = gzopen(tmp_path("t.csv.gz"), "wb");
    gzputs(g, text);
    gzclose(g);
    assert_int_equal(nnrt_csv_load(tmp_path("t.csv.gz"), &a, &err), 0);
    assert_int_equal(a.shape[1], 2);
    assert_true(((float *)a.data)[3] == 3.0f);
    nnrt_array_free(&a);
    assert_int_equal(nnrt_csv_load(tmp_path("absent.csv"), &a, &err), -1);
    assert_msg(&err, "absent.csv: cannot open");
    unlink(tmp_path("t.csv"));
    unlink(tmp_path("t.csv.gz"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain),
        cmocka_unit_test(test_header_blank_and_spacing),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_load_files),
    };
    return cmocka_run_group_tests(tests, setup, tmpdir_remove);
}
