/*
 * test_diag.c — diagnostics (compiler/diag.c): line and column from byte
 * offsets, the source line with its caret and underline, notes, the limit
 * of 20 errors, loc_span and the "did you mean" helper.
 *
 * Messages are printed into a memstream and compared as exact text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "diag.h"

/* A Diag writing into memory. */
typedef struct Capture {
    SrcFile src;  /* the file messages refer to */
    Diag d;       /* its diagnostics */
    FILE *out;    /* memstream */
    char *buf;    /* its text */
    size_t len;   /* its length */
} Capture;

static Capture *capture(const char *text)
{
    Capture *c = calloc(1, sizeof *c);
    c->src = (SrcFile){"f.net", text, (uint32_t)strlen(text)};
    c->out = open_memstream(&c->buf, &c->len);
    assert_non_null(c->out);
    diag_init(&c->d, &c->src, c->out);
    return c;
}

static const char *text_of(Capture *c)
{
    fflush(c->out);
    return c->buf;
}

static void release(Capture *c)
{
    fclose(c->out);
    free(c->buf);
    free(c);
}

static void check_lc(const SrcFile *f, uint32_t off, int line, int col)
{
    int l, c;
    diag_line_col(f, off, &l, &c);
    assert_int_equal(l, line);
    assert_int_equal(c, col);
}

/* ---- line and column --------------------------------------------------- */

static void test_line_col(void **state)
{
    const char *t = "ab\ncd\n\nx";
    SrcFile f = {"f.net", t, (uint32_t)strlen(t)};
    check_lc(&f, 0, 1, 1);
    check_lc(&f, 1, 1, 2);
    check_lc(&f, 2, 1, 3);  /* the newline itself ends line 1 */
    check_lc(&f, 3, 2, 1);
    check_lc(&f, 4, 2, 2);
    check_lc(&f, 6, 3, 1);  /* an empty line */
    check_lc(&f, 7, 4, 1);
    check_lc(&f, 8, 4, 2);  /* end of file */
    check_lc(&f, 1000, 4, 2);  /* past the end: clamped */
}

/* Columns count bytes: a tab or a UTF-8 sequence is one column per byte. */
static void test_line_col_bytes(void **state)
{
    const char *t = "\tx\n\xc3\xa9y";
    SrcFile f = {"f.net", t, (uint32_t)strlen(t)};
    check_lc(&f, 1, 1, 2);
    check_lc(&f, 5, 2, 3);
}

static void test_loc_span(void **state)
{
    SrcLoc s = loc_span((SrcLoc){10, 3}, (SrcLoc){20, 5});
    assert_int_equal(s.off, 10);
    assert_int_equal(s.len, 15);
    s = loc_span((SrcLoc){20, 5}, (SrcLoc){10, 3});  /* order does not matter */
    assert_int_equal(s.off, 10);
    assert_int_equal(s.len, 15);
    s = loc_span((SrcLoc){4, 10}, (SrcLoc){6, 2});  /* one inside the other */
    assert_int_equal(s.off, 4);
    assert_int_equal(s.len, 10);
    s = loc_span((SrcLoc){7, 0}, (SrcLoc){7, 0});
    assert_int_equal(s.off, 7);
    assert_int_equal(s.len, 0);
}

/* ---- rendering --------------------------------------------------------- */

static void test_caret_underline(void **state)
{
    Capture *c = capture("net n {\n    y = x -> dense(10, bais = true);\n}\n");
    diag_error(&c->d, (SrcLoc){31, 4}, "dense has no argument '%s'", "bais");
    assert_string_equal(text_of(c),
                        "f.net:2:24: error: dense has no argument 'bais'\n"
                        "    2 |     y = x -> dense(10, bais = true);\n"
                        "      |                        ^~~~\n");
    assert_int_equal(c->d.nerrors, 1);
    release(c);
}

/* A point location gets a lone caret; line 1 column 1 works. */
static void test_caret_point(void **state)
{
    Capture *c = capture("xy\n");
    diag_error(&c->d, (SrcLoc){0, 0}, "here");
    assert_string_equal(text_of(c),
                        "f.net:1:1: error: here\n"
                        "    1 | xy\n"
                        "      | ^\n");
    release(c);
}

/* An underline stops at the end of its line, even if the span goes on. */
static void test_underline_clipped(void **state)
{
    Capture *c = capture("abc def\nghi\n");
    diag_error(&c->d, (SrcLoc){4, 8}, "long");
    assert_string_equal(text_of(c),
                        "f.net:1:5: error: long\n"
                        "    1 | abc def\n"
                        "      |     ^~~\n");
    release(c);
}

/* Tabs print as single spaces, so the caret stays under its byte. */
static void test_tabs(void **state)
{
    Capture *c = capture("\tx = @;\n");
    diag_error(&c->d, (SrcLoc){5, 1}, "bad");
    assert_string_equal(text_of(c),
                        "f.net:1:6: error: bad\n"
                        "    1 |  x = @;\n"
                        "      |      ^\n");
    release(c);
}

/* At the end of a file without a final newline. */
static void test_end_of_file(void **state)
{
    Capture *c = capture("net n {");
    diag_error(&c->d, (SrcLoc){7, 0}, "unexpected end of file");
    assert_string_equal(text_of(c),
                        "f.net:1:8: error: unexpected end of file\n"
                        "    1 | net n {\n"
                        "      |        ^\n");
    release(c);
}

static void test_empty_file(void **state)
{
    Capture *c = capture("");
    diag_error(&c->d, (SrcLoc){0, 0}, "no net");
    assert_string_equal(text_of(c),
                        "f.net:1:1: error: no net\n"
                        "    1 | \n"
                        "      | ^\n");
    release(c);
}

/* Line numbers are right-aligned in five columns. */
static void test_line_number_width(void **state)
{
    char text[2000];
    size_t n = 0;
    for (int i = 0; i < 123; i++)
        text[n++] = '\n';
    strcpy(text + n, "bad");
    Capture *c = capture(text);
    diag_error(&c->d, (SrcLoc){(uint32_t)n, 3}, "x");
    assert_string_equal(text_of(c),
                        "f.net:124:1: error: x\n"
                        "  124 | bad\n"
                        "      | ^~~\n");
    release(c);
}

static void test_note(void **state)
{
    Capture *c = capture("a = 1;\nb = a;\n");
    diag_error(&c->d, (SrcLoc){7, 1}, "'%s' is already defined", "b");
    diag_note(&c->d, (SrcLoc){0, 1}, "'%s' is defined here", "a");
    assert_string_equal(text_of(c),
                        "f.net:2:1: error: 'b' is already defined\n"
                        "    2 | b = a;\n"
                        "      | ^\n"
                        "f.net:1:1: note: 'a' is defined here\n"
                        "    1 | a = 1;\n"
                        "      | ^\n");
    assert_int_equal(c->d.nerrors, 1);  /* notes are not errors */
    release(c);
}

/* ---- the error limit --------------------------------------------------- */

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Past 20 errors, nothing more is printed (notes included) but all are counted. */
static void test_error_limit(void **state)
{
    Capture *c = capture("x\n");
    assert_int_equal(c->d.max_errors, 20);
    for (int i = 1; i <= 25; i++) {
        diag_error(&c->d, (SrcLoc){0, 1}, "error number %d", i);
        diag_note(&c->d, (SrcLoc){0, 1}, "note number %d", i);
    }
    const char *t = text_of(c);
    assert_int_equal(c->d.nerrors, 25);
    assert_int_equal(count(t, ": error: "), 20);
    assert_int_equal(count(t, ": note: "), 20);
    assert_non_null(strstr(t, "error number 20\n"));
    assert_null(strstr(t, "error number 21"));
    assert_null(strstr(t, "note number 21"));
    assert_int_equal(count(t, "f.net: too many errors (20); stopping here\n"), 1);
    /* The stop line comes after the 20th error's note. */
    assert_true(strstr(t, "too many errors") > strstr(t, "note number 20"));
    release(c);
}

static void test_error_limit_custom(void **state)
{
    Capture *c = capture("x\n");
    c->d.max_errors = 2;
    for (int i = 0; i < 3; i++)
        diag_error(&c->d, (SrcLoc){0, 1}, "e");
    const char *t = text_of(c);
    assert_int_equal(count(t, ": error: "), 2);
    assert_non_null(strstr(t, "too many errors (2)"));
    release(c);
}

/* ---- did you mean ------------------------------------------------------ */

static const char *const OPS[] = {"dense", "conv2d", "maxpool2d", "avgpool2d", "relu", "leaky_relu",
                                  "batchnorm", "layernorm", "softmax", "log_softmax", "add", "mul"};
enum { NOPS = sizeof OPS / sizeof OPS[0] };

static void test_nearest(void **state)
{
    assert_string_equal(diag_nearest("desne", OPS, NOPS), "dense");     /* transposition: 2 edits */
    assert_string_equal(diag_nearest("dens", OPS, NOPS), "dense");      /* deletion */
    assert_string_equal(diag_nearest("maxpool", OPS, NOPS), "maxpool2d");  /* 2 insertions */
    assert_string_equal(diag_nearest("batchnrom", OPS, NOPS), "batchnorm");
    assert_string_equal(diag_nearest("Relu", OPS, NOPS), "relu");       /* case counts as an edit */
    assert_string_equal(diag_nearest("ad", OPS, NOPS), "add");
}

/* The closest wins; ties go to the first candidate. */
static void test_nearest_best(void **state)
{
    const char *c[] = {"abcx", "abcd", "abce"};
    assert_string_equal(diag_nearest("abcd_", c, 3), "abcd");
    assert_string_equal(diag_nearest("abcz", c, 3), "abcx");
}

/* Nothing close: NULL.  About a third of the word may differ, at most 3 edits. */
static void test_nearest_none(void **state)
{
    assert_null(diag_nearest("xyz", OPS, NOPS));
    assert_null(diag_nearest("transformer", OPS, NOPS));
    assert_null(diag_nearest("dense", NULL, 0));
    assert_null(diag_nearest("dense", OPS, NOPS));  /* the word itself is no suggestion */
    const char *c[] = {"abcdefghijkl"};
    assert_string_equal(diag_nearest("abcdefghiXYZ", c, 1), "abcdefghijkl");  /* 3 edits, 12 letters */
    assert_null(diag_nearest("abcdefWXYZkl", c, 1));                          /* 4 edits: too many */
    const char *d[] = {"ab"};
    assert_string_equal(diag_nearest("ax", d, 1), "ab");   /* 2 letters: 1 edit allowed */
    assert_null(diag_nearest("xy", d, 1));
}

/* Words of 64 bytes or more are never matched (the distance is bounded). */
static void test_nearest_long(void **state)
{
    char a[80], b[80];
    memset(a, 'a', 70);
    a[70] = '\0';
    memcpy(b, a, sizeof a);
    b[0] = 'b';
    const char *c[] = {b};
    assert_null(diag_nearest(a, c, 1));
    a[63] = b[63] = '\0';  /* 63 bytes: still compared */
    assert_string_equal(diag_nearest(a, c, 1), b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_col),
        cmocka_unit_test(test_line_col_bytes),
        cmocka_unit_test(test_loc_span),
        cmocka_unit_test(test_caret_underline),
        cmocka_unit_test(test_caret_point),
        cmocka_unit_test(test_underline_clipped),
        cmocka_unit_test(test_tabs),
        cmocka_unit_test(test_end_of_file),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_line_number_width),
        cmocka_unit_test(test_note),
        cmocka_unit_test(test_error_limit),
        cmocka_unit_test(test_error_limit_custom),
        cmocka_unit_test(test_nearest),
        cmocka_unit_test(test_nearest_best),
        cmocka_unit_test(test_nearest_none),
        cmocka_unit_test(test_nearest_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
