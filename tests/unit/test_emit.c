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

/* Runs body on an emitter writing into memory; returns its text (caller frees). */
static char *emitted(void (*body)(Emitter *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    Emitter e = {f, 0, NULL};
    body(&e);
    assert_int_equal(e.depth, 0);
    fclose(f);
    return buf;
}

static void nested(Emitter *e)
{
    emit_line(e, "for (int i = 0; i < 4; i++) {");
    emit_line(e, "if (x[i] > 0) {");
    emit_line(e, "y[i] = x[i];");
    emit_line(e, "}");
    emit_line(e, "}");
}

static void test_braces_indent(void **state)
{
    (void)state;
    char *s = emitted(nested);
    assert_string_equal(s, "for (int i = 0; i < 4; i++) {\n"
                           "    if (x[i] > 0) {\n"
                           "        y[i] = x[i];\n"
                           "    }\n"
                           "}\n");
    free(s);
}

static void commented(Emitter *e)
{
    emit_line(e, "for (int c = 0; c < 3; c++) {  /* window position (%d, %d) */", 0, 1);
    emit_line(e, "row[c] = 0.0f;  /* a comment with { inside */");
    emit_line(e, "{ /* a block */ }");
    emit_line(e, "}");
    emit_line(e, "x = 1;  /* not a block: { */");
}

static void test_brace_before_comment(void **state)
{
    (void)state;
    char *s = emitted(commented);
    assert_string_equal(s, "for (int c = 0; c < 3; c++) {  /* window position (0, 1) */\n"
                           "    row[c] = 0.0f;  /* a comment with { inside */\n"
                           "    { /* a block */ }\n"
                           "}\n"
                           "x = 1;  /* not a block: { */\n");
    free(s);
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
