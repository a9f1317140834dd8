/*
 * test_emit.c — the emitter's line writer (compiler/emit.c): indentation
 * follows the braces a line opens and closes, also when the opening brace
 * is followed by a comment; float literals.
 *
 * Lines are written into a memstream and compared as exact text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "emit.h"

/* Emits the NULL-terminated lines through emit_line and checks the text it wrote, and that every block closed. */
static void expect_emitted(const char *const *lines, const char *expected)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    Emitter e = {f, 0, NULL, NULL};
    for (int i = 0; lines[i]; i++)
        emit_line(&e, "%s", lines[i]);
    assert_int_equal(e.depth, 0);
    fclose(f);
    assert_string_equal(buf, expected);
    free(buf);
}

static void test_braces_indent(void **state)
{
    (void)state;
    static const char *const lines[] = {"for (int i = 0; i < 4; i++) {", "if (x[i] > 0) {", "y[i] = x[i];", "}", "}", NULL};
    expect_emitted(lines, "for (int i = 0; i < 4; i++) {\n"
                          "    if (x[i] > 0) {\n"
                          "        y[i] = x[i];\n"
                          "    }\n"
                          "}\n");
}

static void test_brace_before_comment(void **state)
{
    (void)state;
    static const char *const lines[] = {"for (int c = 0; c < 3; c++) {  /* window position (0, 1) */",
                                        "row[c] = 0.0f;  /* a comment with { inside */", "{ /* a block */ }", "}",
                                        "x = 1;  /* not a block: { */", NULL};
    expect_emitted(lines, "for (int c = 0; c < 3; c++) {  /* window position (0, 1) */\n"
                          "    row[c] = 0.0f;  /* a comment with { inside */\n"
                          "    { /* a block */ }\n"
                          "}\n"
                          "x = 1;  /* not a block: { */\n");
}

static void test_float_literals(void **state)
{
    (void)state;
    char buf[32];
    assert_string_equal(emit_float(buf, sizeof buf, 1.0), "1.0f");
    assert_string_equal(emit_float(buf, sizeof buf, 0.001), "0.001f");
    assert_string_equal(emit_float(buf, sizeof buf, 1e-8), "1e-08f");
    assert_string_equal(emit_float(buf, sizeof buf, -2.5), "-2.5f");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_braces_indent),
        cmocka_unit_test(test_brace_before_comment),
        cmocka_unit_test(test_float_literals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
