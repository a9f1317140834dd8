/*
 * test_lexer.c — the lexer (grammar/net.l), seen through the AST it feeds.
 *
 * Every token kind, token locations as byte offsets (checked on the AST
 * nodes that carry them), comments and whitespace, number forms and their
 * values, malformed numbers, unterminated strings, bytes that are not part
 * of the language (NUL and non-ASCII included), and that lexing goes on
 * after an error so every mistake in a file is reported.
 */
#include "frontend_util.h"

/* ---- helpers ------------------------------------------------------------ */

/* Byte offset of the first occurrence of needle in src (which must have it). */
static uint32_t off_of(const char *src, const char *needle)
{
    const char *p = strstr(src, needle);
    if (!p)
        fail_msg("'%s' not in the source", needle);
    return (uint32_t)(p - src);
}

#define assert_loc(loc, o, l)                  \
    do {                                       \
        assert_int_equal((loc).off, (o));      \
        assert_int_equal((loc).len, (l));      \
    } while (0)

/* Statement i (from 0) of the first net. */
static const Stmt *stmt_at(Fe *f, int i)
{
    const Stmt *s = fe_net(f, NULL)->stmts;
    for (; s && i > 0; i--)
        s = s->next;
    assert_non_null(s);
    return s;
}

/* Argument i (from 0) of a call. */
static const Arg *arg_at(const Expr *call, int i)
{
    assert_int_equal(call->kind, EX_CALL);
    const Arg *a = call->args;
    for (; a && i > 0; i--)
        a = a->next;
    assert_non_null(a);
    return a;
}

/* ---- token kinds -------------------------------------------------------- */

/* Every keyword and punctuation token, in a file that parses cleanly. */
static void test_every_token(void **state)
{
    Fe *f = fe_load("block b(x, k = 2, on = true, off = false, s = \"str\", m = -1.5) {\n"
                    "    y = x -> dense(k);\n"
                    "    return y;\n"
                    "}\n"
                    "net n {\n"
                    "    input x : f32[2, 3];\n"
                    "    label c : class[4];\n"
                    "    label t : f32[3];\n"
                    "    y = (x -> b) -> mul(x);\n"
                    "    output y;\n"
                    "    loss 0.5 * mse(y, t) + l1(y, t);\n"
                    "    optimizer sgd(lr = 0.1);\n"
                    "    train { batch = 8; }\n"
                    "}\n");
    assert_int_equal(f->load_rc, 0);
    assert_errors(f, 0);
    assert_ast(f, "block b(x, k=2, on=true, off=false, s=\"str\", m=-1.5)\n"
                  "  assign y = dense(x, k)\n"
                  "  return y\n"
                  "net n\n"
                  "  input x : f32[2, 3]\n"
                  "  label c : class[4]\n"
                  "  label t : f32[3]\n"
                  "  assign y = mul(b(x), x)\n"
                  "  output y\n"
                  "  loss 0.5 * mse(y, t) + 1 * l1(y, t)\n"
                  "  optimizer sgd(lr=0.1)\n"
                  "  train batch=8\n");
    fe_free(f);
}

/* Keywords are whole words: longer identifiers that start with one are names. */
static void test_keyword_prefixes(void **state)
{
    Fe *f = fe_load("net n { input netx : f32[1]; inputs = netx; f32x = inputs; true_ = f32x;"
                    " classy = true_; output classy; }");
    assert_errors(f, 0);
    assert_ast(f, "net n\n"
                  "  input netx : f32[1]\n"
                  "  assign inputs = netx\n"
                  "  assign f32x = inputs\n"
                  "  assign true_ = f32x\n"
                  "  assign classy = true_\n"
                  "  output classy\n");
    fe_free(f);
}

/* A keyword where a name belongs is a syntax error, not a name. */
static void test_keyword_not_a_name(void **state)
{
    Fe *f = fe_load("net n { input output : f32[1]; }");
    assert_errors(f, 1);
    assert_diag(f, "t.net:1:15: error:");
    assert_diag(f, "'output'");
    fe_free(f);
}

/* Identifiers: letters, digits, underscores, not starting with a digit. */
static void test_identifiers(void **state)
{
    const char *src = "net _N9 { input a_b_1 : f32[1]; _ = a_b_1; output _; }";
    Fe *f = fe_load(src);
    assert_errors(f, 0);
    assert_string_equal(fe_net(f, NULL)->name, "_N9");
    assert_string_equal(stmt_at(f, 0)->name, "a_b_1");
    assert_string_equal(stmt_at(f, 1)->name, "_");
    fe_free(f);
}

/* '->' is one token even without spaces; '-' before a number negates it. */
static void test_arrow_and_minus(void **state)
{
    const char *src = "net n { input x : f32[1]; y = x->relu->leaky_relu(alpha=-0.5); output y; }";
    Fe *f = fe_load(src);
    assert_errors(f, 0);
    const Expr *e = stmt_at(f, 1)->expr;
    assert_string_equal(e->name, "leaky_relu");
    const Expr *alpha = arg_at(e, 1)->val;
    assert_int_equal(alpha->kind, EX_NUM);
    assert_true(alpha->num == -0.5);
    assert_loc(alpha->loc, off_of(src, "-0.5"), 4);
    assert_loc(e->args->val->loc, off_of(src, "relu->"), 4);  /* the inner pipe `x->relu` */
    fe_free(f);
}

/* ---- locations ---------------------------------------------------------- */

/* Names, types, calls, keywords, numbers and strings carry byte spans. */
static void test_locations(void **state)
{
    const char *src = "# header\n"
                      "net fashion {\n"
                      "    input image : f32[1, 28, 28];\n"
                      "    label target : class[10];\n"
                      "    h = image -> conv2d(16, kernel = 3, name = \"c1\") -> relu;\n"
                      "    output h;\n"
                      "}\n";
    Fe *f = fe_load(src);
    assert_errors(f, 0);
    const Net *net = fe_net(f, NULL);
    assert_loc(net->loc, off_of(src, "fashion"), 7);

    const Stmt *in = stmt_at(f, 0);
    assert_loc(in->nameloc, off_of(src, "image"), 5);
    assert_loc(in->type.loc, off_of(src, "f32[1, 28, 28]"), 14);
    assert_loc(in->loc, off_of(src, "input"), (uint32_t)strlen("input image : f32[1, 28, 28];"));

    const Stmt *lab = stmt_at(f, 1);
    assert_loc(lab->type.loc, off_of(src, "class[10]"), 9);

    const Stmt *h = stmt_at(f, 2);
    assert_loc(h->nameloc, off_of(src, "h ="), 1);
    const Expr *relu = h->expr;                 /* `... -> relu` */
    assert_loc(relu->loc, off_of(src, "relu"), 4);
    const Expr *conv = relu->args->val;         /* `image -> conv2d(...)` */
    uint32_t conv_off = off_of(src, "conv2d");
    assert_loc(conv->loc, conv_off, (uint32_t)strlen("conv2d(16, kernel = 3, name = \"c1\")"));
    const Arg *x = arg_at(conv, 0), *n16 = arg_at(conv, 1), *kern = arg_at(conv, 2), *name = arg_at(conv, 3);
    assert_loc(x->val->loc, off_of(src, "image ->"), 5);
    assert_loc(n16->val->loc, off_of(src, "16"), 2);
    assert_loc(kern->keyloc, off_of(src, "kernel"), 6);
    assert_loc(kern->val->loc, off_of(src, "3,"), 1);
    assert_loc(name->val->loc, off_of(src, "\"c1\""), 4);  /* quotes included */
    assert_string_equal(name->val->name, "c1");           /* but not in the value */

    const Stmt *out = stmt_at(f, 3);
    assert_loc(out->names->loc, off_of(src, "h;"), 1);
    fe_free(f);
}

/* Offsets count bytes: tabs, CR LF and non-ASCII bytes in comments all count. */
static void test_locations_bytes(void **state)
{
    const char *src = "# caf\xc3\xa9 \xe2\x86\x92 comment\r\n"
                      "net n {\r\n"
                      "\tinput x : f32[4];\r\n"
                      "\ty = x -> relu;\toutput y;\r\n"
                      "}\r\n";
    Fe *f = fe_load(src);
    assert_errors(f, 0);
    assert_loc(stmt_at(f, 0)->nameloc, off_of(src, "x :"), 1);
    assert_loc(stmt_at(f, 1)->expr->loc, off_of(src, "relu"), 4);
    assert_loc(stmt_at(f, 2)->names->loc, off_of(src, "y;\r"), 1);
    fe_free(f);
}

/* ---- comments and whitespace ------------------------------------------- */

static void test_comments(void **state)
{
    const char *src = "# leading comment with keywords: net block input ; } {\n"
                      "net n {  # after a brace\n"
                      "    input x : f32[2];  # (\n"
                      "    y = x # between tokens\n"
                      "        -> dense(3, name = \"a#b\");  # '#' inside a string is not a comment\n"
                      "    output y;\n"
                      "}\n"
                      "# trailing comment without newline";
    Fe *f = fe_load(src);
    assert_errors(f, 0);
    assert_ast(f, "net n\n"
                  "  input x : f32[2]\n"
                  "  assign y = dense(x, 3, name=\"a#b\")\n"
                  "  output y\n");
    fe_free(f);
}

/* A file of only comments and blank space has no net (a lowering error, not a lexical one). */
static void test_only_comments(void **state)
{
    Fe *f = fe_load("# one\n\n   # two\t\r\n#");
    assert_errors(f, 1);
    assert_diag(f, "no net in this file");
    assert_null(f->c.ast->nets);
    fe_free(f);
}

/* ---- numbers ------------------------------------------------------------ */

/* The hyper-parameters of one optimizer call, in order. */
static const Expr *opt_arg(Fe *f, int i)
{
    const Stmt *s = fe_net(f, NULL)->stmts;
    while (s && s->kind != ST_OPTIMIZER)
        s = s->next;
    assert_non_null(s);
    return arg_at(s->expr, i)->val;
}

static void check_num(const Expr *e, double value, bool is_int)
{
    assert_int_equal(e->kind, EX_NUM);
    if (e->num != value)
        fail_msg("number is %.17g, expected %.17g", e->num, value);
    assert_int_equal(e->is_int, is_int);
}

static void test_numbers(void **state)
{
    Fe *f = fe_load("net n { input x : f32[1]; optimizer f("
                    "0, 42, 007, 1.5, 2., .25, 1e3, 2E+2, 5e-1, 1.5e2, .5e1, 123456789012345, 0.1); }");
    assert_errors(f, 0);
    check_num(opt_arg(f, 0), 0, true);
    check_num(opt_arg(f, 1), 42, true);
    check_num(opt_arg(f, 2), 7, true);
    check_num(opt_arg(f, 3), 1.5, false);
    check_num(opt_arg(f, 4), 2, false);        /* "2." is a float */
    check_num(opt_arg(f, 5), 0.25, false);
    check_num(opt_arg(f, 6), 1000, false);     /* an exponent makes a float */
    check_num(opt_arg(f, 7), 200, false);
    check_num(opt_arg(f, 8), 0.5, false);
    check_num(opt_arg(f, 9), 150, false);
    check_num(opt_arg(f, 10), 5, false);
    check_num(opt_arg(f, 11), 123456789012345.0, true);  /* 15 digits: the most an integer may have */
    check_num(opt_arg(f, 12), 0.1, false);
    fe_free(f);
}

/* Negative numbers are '-' and a number; the location covers both. */
static void test_negative_numbers(void **state)
{
    const char *src = "net n { input x : f32[1]; optimizer f(-3, - 2.5, -1e-2); }";
    Fe *f = fe_load(src);
    assert_errors(f, 0);
    check_num(opt_arg(f, 0), -3, true);
    check_num(opt_arg(f, 1), -2.5, false);
    check_num(opt_arg(f, 2), -0.01, false);
    assert_loc(opt_arg(f, 0)->loc, off_of(src, "-3"), 2);
    assert_loc(opt_arg(f, 1)->loc, off_of(src, "- 2.5"), 5);
    fe_free(f);
}

/* An exponent needs digits: one error for the token, and lexing goes on. */
static void test_malformed_exponent(void **state)
{
    const char *src = "net n { input x : f32[1]; optimizer f(1e, 2e+, 3E-); }";
    Fe *f = fe_load(src);
    assert_errors(f, 3);
    assert_diag(f, "t.net:1:39: error: malformed number '1e': exponent has no digits\n");
    assert_diag(f, "malformed number '2e+': exponent has no digits");
    assert_diag(f, "malformed number '3E-': exponent has no digits");
    assert_diag(f, "      |                                       ^~\n");
    fe_free(f);
}

/* Digits run into letters: one token, one error. */
static void test_malformed_number(void **state)
{
    Fe *f = fe_load("net n { input x : f32[1]; y = x -> dense(12ab); z = x -> dense(3x_1); output y; }");
    assert_errors(f, 2);
    assert_diag(f, "t.net:1:42: error: malformed number '12ab'\n");
    assert_diag(f, "malformed number '3x_1'");
    fe_free(f);
}

/* Two numbers written together ("3.5.5") are two tokens: a syntax error, once. */
static void test_number_after_number(void **state)
{
    Fe *f = fe_load("net n { input x : f32[1]; optimizer f(3.5.5); }");
    assert_errors(f, 1);
    assert_diag(f, "unexpected number '.5'");
    fe_free(f);
}

static void test_integer_too_large(void **state)
{
    Fe *f = fe_load("net n { input x : f32[1234567890123456]; }");
    assert_errors(f, 1);
    assert_diag(f, "t.net:1:23: error: integer '1234567890123456' is too large\n");
    assert_diag(f, "^~~~~~~~~~~~~~~~\n");
    fe_free(f);
}

static void test_float_out_of_range(void **state)
{
    Fe *f = fe_load("net n { input x : f32[1]; optimizer f(lr = 1e400, eps = 1.0e308); }");
    assert_errors(f, 1);
    assert_diag(f, "number '1e400' is out of range");
    assert_no_diag(f, "'1.0e308' is out of range");
    fe_free(f);
}

/* ---- strings ------------------------------------------------------------ */

static void test_strings(void **state)
{
    const char *src = "net n { input x : f32[1]; y = x -> dense(1, name = \"\"); output y; }";
    Fe *f = fe_load(src);
    assert_errors(f, 0);
    const Expr *s = arg_at(stmt_at(f, 1)->expr, 2)->val;
    assert_int_equal(s->kind, EX_STR);
    assert_string_equal(s->name, "");
    assert_loc(s->loc, off_of(src, "\"\""), 2);
    fe_free(f);
}

/* A string ends at the end of its line: one error, and the next lines still count. */
static void test_unterminated_string(void **state)
{
    const char *src = "net n {\n"
                      "    input x : f32[1];\n"
                      "    y = x -> dense(1, name = \"fc1);\n"
                      "    z = x -> relu;\n"
                      "    w = x -> @;\n"
                      "    output z;\n"
                      "}\n";
    Fe *f = fe_load(src);
    assert_errors(f, 2);
    assert_diag(f, "t.net:3:30: error: unterminated string\n"
                   "    3 |     y = x -> dense(1, name = \"fc1);\n"
                   "      |                              ^~~~~~\n");
    assert_diag(f, "t.net:5:14: error: unexpected character '@'");
    fe_free(f);
}

static void test_unterminated_string_at_eof(void **state)
{
    Fe *f = fe_load("net n { input x : f32[1]; y = x -> dense(1, name = \"abc");
    assert_int_equal(fe_errors(f) >= 1, true);
    assert_diag(f, "t.net:1:52: error: unterminated string\n");
    fe_free(f);
}

/* ---- bytes outside the language ----------------------------------------- */

static void test_bad_characters(void **state)
{
    const char *bad = "@$`!?%&|~^<>.\\'";
    for (const char *c = bad; *c; c++) {
        char src[128], want[64];
        snprintf(src, sizeof src, "net n {\n  input x : f32[1];\n  y = x %c;\n  output y;\n}\n", *c);
        Fe *f = fe_load(src);
        if (*c == '.') {
            /* a lone '.' is not a number: the same message */
            snprintf(want, sizeof want, "t.net:3:9: error: unexpected character '.'");
        } else {
            snprintf(want, sizeof want, "t.net:3:9: error: unexpected character '%c'", *c);
        }
        assert_errors(f, 1);
        assert_diag(f, want);
        fe_free(f);
    }
}

static void test_control_bytes(void **state)
{
    const unsigned char bytes[] = {0x01, 0x07, 0x1b, 0x7f};
    for (size_t i = 0; i < sizeof bytes; i++) {
        char src[128], want[64];
        snprintf(src, sizeof src, "net n { input x : f32[1]; y = x %c; output y; }", bytes[i]);
        Fe *f = fe_load(src);
        snprintf(want, sizeof want, "t.net:1:33: error: unexpected byte 0x%02x\n", bytes[i]);
        assert_errors(f, 1);
        assert_diag(f, want);
        fe_free(f);
    }
}

/* A NUL byte in the middle of the file is an error like any other, not its end. */
static void test_nul_byte(void **state)
{
    const char src[] = "net n { input x : f32[1]; y = x \0; output y; }\nnet m { input x : f32[1]; }";
    Fe *f = fe_load_bytes(src, sizeof src - 1);
    assert_diag(f, "t.net:1:33: error: unexpected byte 0x00\n");
    assert_errors(f, 1);
    assert_non_null(fe_net(f, "m"));  /* the text after the NUL was read */
    fe_free(f);
}

/* Non-ASCII text outside comments and strings: one error per run of such bytes. */
static void test_non_ascii(void **state)
{
    Fe *f = fe_load("net n { input x : f32[1]; y = x \xc3\xa9; output y; }");
    assert_errors(f, 1);
    assert_diag(f, "t.net:1:33: error: unexpected");
    fe_free(f);
    f = fe_load("net n { input x : f32[1]; y = x \xff; output y; }");  /* not even UTF-8 */
    assert_errors(f, 1);
    assert_diag(f, "t.net:1:33: error: unexpected");
    fe_free(f);
}

/* Lexical errors do not stop the lexer: every one in the file is reported. */
static void test_errors_continue(void **state)
{
    const char *src = "net n {\n"
                      "    input x : f32[1];\n"
                      "    a = x -> dense(1e);\n"
                      "    b = x @ relu;\n"
                      "    c = x -> dense(9z);\n"
                      "    d = x -> relu;\n"
                      "    output d;\n"
                      "}\n";
    Fe *f = fe_load(src);
    assert_errors(f, 3);
    assert_diag(f, "t.net:3:20: error: malformed number '1e'");
    assert_diag(f, "t.net:4:11: error: unexpected character '@'");
    assert_diag(f, "t.net:5:20: error: malformed number '9z'");
    /* The statements after the errors were parsed. */
    const Stmt *s = fe_net(f, NULL)->stmts;
    int n = 0;
    bool saw_d = false;
    for (; s; s = s->next, n++)
        saw_d |= s->name && strcmp(s->name, "d") == 0;
    assert_true(saw_d);
    fe_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_token),
        cmocka_unit_test(test_keyword_prefixes),
        cmocka_unit_test(test_keyword_not_a_name),
        cmocka_unit_test(test_identifiers),
        cmocka_unit_test(test_arrow_and_minus),
        cmocka_unit_test(test_locations),
        cmocka_unit_test(test_locations_bytes),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_only_comments),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_negative_numbers),
        cmocka_unit_test(test_malformed_exponent),
        cmocka_unit_test(test_malformed_number),
        cmocka_unit_test(test_number_after_number),
        cmocka_unit_test(test_integer_too_large),
        cmocka_unit_test(test_float_out_of_range),
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_unterminated_string),
        cmocka_unit_test(test_unterminated_string_at_eof),
        cmocka_unit_test(test_bad_characters),
        cmocka_unit_test(test_control_bytes),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_non_ascii),
        cmocka_unit_test(test_errors_continue),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
