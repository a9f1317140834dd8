/*
 * test_parser.c — the grammar (grammar/net.y) and the AST it builds.
 *
 * Every statement form; pipes rewritten into calls with the left-hand side
 * as first argument; nested calls, keyword arguments, negative numbers,
 * parentheses; blocks with defaults; loss terms with weights; several nets
 * and blocks in one file; and error recovery: every syntax error in a file
 * is reported once, a missing ';' right after the token before it.
 *
 * Most checks compare ast_print() output, which shows the tree exactly
 * (calls with all their arguments, keywords, weights).
 */
#include "frontend_util.h"

#include <time.h>

/* Parses src, which must be free of syntax errors, and compares its AST. */
static void check_ast(const char *src, const char *want)
{
    Fe *f = fe_load(src);
    if (fe_errors(f) && !strstr(fe_diags(f), "no net"))
        fail_msg("unexpected errors:\n%s", fe_diags(f));
    assert_ast(f, want);
    fe_free(f);
}

/* The AST of the body of a net, as text (without the "net n" line). */
static void check_body(const char *body, const char *want)
{
    char src[2048], full[4096];
    snprintf(src, sizeof src, "net n {\n%s\n}\n", body);
    snprintf(full, sizeof full, "net n\n%s", want);
    check_ast(src, full);
}

static const Stmt *first_stmt(Fe *f, StmtKind k)
{
    for (const Stmt *s = fe_net(f, NULL)->stmts; s; s = s->next)
        if (s->kind == k)
            return s;
    fail_msg("no %s statement", ast_stmt_kind_name(k));
    return NULL;
}

/* ---- statements ----------------------------------------------------------- */

static void test_input_and_label(void **state)
{
    check_body("input img : f32[3, 32, 32];\n"
               "input v : f32[7];\n"
               "label cls : class[10];\n"
               "label reg : f32[2, 1];",
               "  input img : f32[3, 32, 32]\n"
               "  input v : f32[7]\n"
               "  label cls : class[10]\n"
               "  label reg : f32[2, 1]\n");
    Fe *f = fe_load("net n { input a : f32[1, 2, 3, 4, 5, 6, 7, 8]; label c : class[3]; }");
    const Stmt *in = first_stmt(f, ST_INPUT), *lab = first_stmt(f, ST_LABEL);
    assert_int_equal(in->type.ndim, 8);
    assert_false(in->type.is_class);
    for (int i = 0; i < 8; i++)
        assert_int_equal(in->type.dims[i], i + 1);
    assert_true(lab->type.is_class);
    assert_int_equal(lab->type.ndim, 1);
    assert_int_equal(lab->type.dims[0], 3);
    fe_free(f);
}

static void test_too_many_dims(void **state)
{
    Fe *f = fe_load("net n { input a : f32[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]; }");
    assert_errors(f, 2);
    assert_diag(f, "t.net:1:47: error: too many dimensions (at most 8)");
    assert_diag(f, "t.net:1:50: error: too many dimensions (at most 8)");
    assert_int_equal(first_stmt(f, ST_INPUT)->type.ndim, 8);
    fe_free(f);
}

static void test_output(void **state)
{
    check_body("output a;\noutput b, c, d;", "  output a\n  output b, c, d\n");
    Fe *f = fe_load("net n { output a, bb, c; }");
    const NameRef *r = first_stmt(f, ST_OUTPUT)->names;
    assert_string_equal(r->name, "a");
    assert_int_equal(r->loc.off, 15);
    assert_string_equal(r->next->name, "bb");
    assert_int_equal(r->next->loc.off, 18);
    assert_int_equal(r->next->loc.len, 2);
    assert_string_equal(r->next->next->name, "c");
    assert_null(r->next->next->next);
    fe_free(f);
}

static void test_optimizer_and_train(void **state)
{
    check_body("optimizer adam(lr = 1e-3, beta1 = 0.8);\n"
               "train { batch = 64; epochs = 5; seed = 1; schedule = cosine; shuffle = false; name = \"s\"; }\n"
               "train { }",
               "  optimizer adam(lr=0.001, beta1=0.8)\n"
               "  train batch=64, epochs=5, seed=1, schedule=cosine, shuffle=false, name=\"s\"\n"
               "  train \n");
    Fe *f = fe_load("net n { train { batch = 64; warmup = -1; } }");
    const Arg *kv = first_stmt(f, ST_TRAIN)->kvs;
    assert_string_equal(kv->key, "batch");
    assert_int_equal(kv->keyloc.off, 16);
    assert_int_equal(kv->keyloc.len, 5);
    assert_true(kv->val->num == 64);
    assert_string_equal(kv->next->key, "warmup");
    assert_true(kv->next->val->num == -1);
    fe_free(f);
}

static void test_assign_forms(void **state)
{
    check_body("a = x;\n"
               "b = relu(x);\n"
               "c = (x);\n"
               "d = ((x -> relu));\n"
               "e = f();\n"
               "g = add(relu(x), sigmoid(tanh(x)));",
               "  assign a = x\n"
               "  assign b = relu(x)\n"
               "  assign c = x\n"
               "  assign d = relu(x)\n"
               "  assign e = f()\n"
               "  assign g = add(relu(x), sigmoid(tanh(x)))\n");
}

/* Statements keep source order and span from their first token to ';'. */
static void test_statement_locations(void **state)
{
    const char *src = "net n { input x : f32[2]; y = x -> relu; output y; loss mse(y, x); }";
    Fe *f = fe_load(src);
    const Stmt *s = fe_net(f, NULL)->stmts;
    assert_int_equal(s->kind, ST_INPUT);
    assert_int_equal(s->loc.off, 8);
    assert_int_equal(s->loc.len, 17);   /* "input x : f32[2];" */
    s = s->next;
    assert_int_equal(s->kind, ST_ASSIGN);
    assert_int_equal(s->loc.off, 26);
    assert_int_equal(s->loc.len, 14);   /* "y = x -> relu;" */
    s = s->next;
    assert_int_equal(s->kind, ST_OUTPUT);
    s = s->next;
    assert_int_equal(s->kind, ST_LOSS);
    assert_int_equal(s->loc.off, 51);
    assert_int_equal(s->loc.len, 15);   /* "loss mse(y, x);" */
    assert_null(s->next);
    fe_free(f);
}

/* ---- pipes ------------------------------------------------------------------ */

/* `a -> f(x)` is `f(a, x)`; `a -> f` is `f(a)`; chains nest left to right. */
static void test_pipes(void **state)
{
    check_body("p = a -> f(x);\n"
               "q = f(a, x);\n"
               "r = a -> f;\n"
               "s = f(a);\n"
               "t = a -> f -> g(1) -> h(k = 2);\n"
               "u = h(g(f(a), 1), k = 2);\n"
               "v = a -> f();",
               "  assign p = f(a, x)\n"
               "  assign q = f(a, x)\n"
               "  assign r = f(a)\n"
               "  assign s = f(a)\n"
               "  assign t = h(g(f(a), 1), k=2)\n"
               "  assign u = h(g(f(a), 1), k=2)\n"
               "  assign v = f(a)\n");
}

/* The rewritten call is marked piped, and its first argument is positional. */
static void test_pipe_flags(void **state)
{
    const char *src = "net n { p = a -> f(x); q = f(a, x); }";
    Fe *f = fe_load(src);
    const Expr *p = fe_net(f, NULL)->stmts->expr, *q = fe_net(f, NULL)->stmts->next->expr;
    assert_true(p->piped);
    assert_false(q->piped);
    assert_null(p->args->key);
    assert_string_equal(p->args->val->name, "a");
    assert_int_equal(p->args->val->loc.off, 12);
    assert_string_equal(p->args->next->val->name, "x");
    assert_null(p->args->next->next);
    /* The call's location is the call as written, not the whole pipe. */
    assert_int_equal(p->loc.off, 17);
    assert_int_equal(p->loc.len, 4);
    fe_free(f);
}

/* Pipes inside arguments and parentheses. */
static void test_pipes_nested(void **state)
{
    check_body("y = concat(a -> f, b -> g(2), axis = 0) -> h;\n"
               "z = (a -> f) -> g;\n"
               "w = k(a -> f(b -> g));",
               "  assign y = h(concat(f(a), g(b, 2), axis=0))\n"
               "  assign z = g(f(a))\n"
               "  assign w = k(f(a, g(b)))\n");
}

/* The left side of a pipe may be a call; the right side must be a name or a call. */
static void test_pipe_errors(void **state)
{
    Fe *f = fe_load("net n {\n  y = x -> 3;\n  z = x -> (relu);\n}\n");
    assert_errors(f, 2);
    assert_diag(f, "t.net:2:12: error: unexpected integer '3'");
    assert_diag(f, "t.net:3:12: error: unexpected '('");
    fe_free(f);
}

/* ---- arguments and values --------------------------------------------------- */

static void test_keyword_args(void **state)
{
    const char *src = "net n { y = conv2d(x, 16, kernel = 3, pad = same, bias = false, name = \"c\"); }";
    Fe *f = fe_load(src);
    assert_errors(f, 0);
    const Arg *a = fe_net(f, NULL)->stmts->expr->args;
    assert_null(a->key);
    assert_null(a->next->key);
    a = a->next->next;
    assert_string_equal(a->key, "kernel");
    assert_int_equal(a->keyloc.off, 26);
    assert_int_equal(a->keyloc.len, 6);
    assert_int_equal(a->val->kind, EX_NUM);
    a = a->next;
    assert_string_equal(a->key, "pad");
    assert_int_equal(a->val->kind, EX_NAME);
    assert_string_equal(a->val->name, "same");
    a = a->next;
    assert_int_equal(a->val->kind, EX_BOOL);
    assert_true(a->val->num == 0);
    a = a->next;
    assert_int_equal(a->val->kind, EX_STR);
    assert_string_equal(a->val->name, "c");
    assert_null(a->next);
    fe_free(f);
}

/* Keyword values may be any expression; positional and keyword arguments may mix. */
static void test_keyword_expr_values(void **state)
{
    check_body("y = f(k = x -> relu, 2, m = g(x));", "  assign y = f(k=relu(x), 2, m=g(x))\n");
}

static void test_negative_numbers(void **state)
{
    check_body("y = f(-1, -2.5, k = -3e-2, -0);", "  assign y = f(-1, -2.5, k=-0.03, -0)\n");
    Fe *f = fe_load("net n { y = f(-1, 2); }");
    const Expr *m1 = fe_net(f, NULL)->stmts->expr->args->val;
    assert_int_equal(m1->kind, EX_NUM);
    assert_true(m1->is_int);
    assert_true(m1->num == -1);
    fe_free(f);
    /* '-' applies to numbers only. */
    f = fe_load("net n { y = f(-x); }");
    assert_errors(f, 1);
    assert_diag(f, "t.net:1:16: error: unexpected identifier 'x'");
    fe_free(f);
}

static void test_literal_kinds(void **state)
{
    Fe *f = fe_load("net n { y = f(1, 2.0, true, false, \"s\", w); }");
    const Arg *a = fe_net(f, NULL)->stmts->expr->args;
    ExprKind kinds[] = {EX_NUM, EX_NUM, EX_BOOL, EX_BOOL, EX_STR, EX_NAME};
    bool ints[] = {true, false, false, false, false, false};
    for (int i = 0; i < 6; i++, a = a->next) {
        assert_int_equal(a->val->kind, kinds[i]);
        assert_int_equal(a->val->is_int, ints[i]);
    }
    assert_null(a);
    fe_free(f);
}

/* ---- blocks ------------------------------------------------------------------ */

static void test_block_with_defaults(void **state)
{
    check_ast("block conv_bn_relu(x, channels, stride = 1, pad = same, eps = -1e-5, on = true, tag = \"t\") {\n"
              "    y = x -> conv2d(channels, stride = stride, pad = pad) -> batchnorm(eps = eps);\n"
              "    z = y -> relu;\n"
              "    return z -> dropout(0.1);\n"
              "}\n",
              "block conv_bn_relu(x, channels, stride=1, pad=same, eps=-1e-05, on=true, tag=\"t\")\n"
              "  assign y = batchnorm(conv2d(x, channels, stride=stride, pad=pad), eps=eps)\n"
              "  assign z = relu(y)\n"
              "  return dropout(z, 0.1)\n");
    Fe *f = fe_load("block b(x, k = 3) { return x; } net n { }");
    const Block *b = f->c.ast->blocks;
    assert_string_equal(b->name, "b");
    assert_int_equal(b->loc.off, 6);
    assert_int_equal(b->loc.len, 1);
    assert_string_equal(b->params->name, "x");
    assert_null(b->params->dflt);
    assert_string_equal(b->params->next->name, "k");
    assert_int_equal(b->params->next->loc.off, 11);
    assert_true(b->params->next->dflt->num == 3);
    assert_null(b->body);
    assert_string_equal(b->ret->name, "x");
    fe_free(f);
}

/* Blocks and nets may come in any order, several of each. */
static void test_several_nets_and_blocks(void **state)
{
    check_ast("net a { }\nblock b1(x) { return x; }\nnet b { output y; }\nblock b2(x, n) { y = x; return y; }\n",
              "block b1(x)\n"
              "  return x\n"
              "block b2(x, n)\n"
              "  assign y = x\n"
              "  return y\n"
              "net a\n"
              "net b\n"
              "  output y\n");
}

/* A block holds assignments only, and ends with its return. */
static void test_block_errors(void **state)
{
    Fe *f = fe_load("block b(x) { y = x; }\nblock c(x) { input z : f32[1]; return x; }\nnet n { }\n");
    assert_errors(f, 2);
    assert_diag(f, "t.net:1:");
    assert_diag(f, "t.net:2:14: error: 'input'");
    /* b is dropped; c recovers at the ';' after its bad statement and is kept. */
    assert_string_equal(f->c.ast->blocks->name, "c");
    assert_null(f->c.ast->blocks->body);
    assert_null(f->c.ast->blocks->next);
    assert_non_null(fe_net(f, "n"));
    fe_free(f);
}

/* ---- losses ----------------------------------------------------------------- */

static void test_loss_terms(void **state)
{
    check_body("loss cross_entropy(logits, target);",
               "  loss 1 * cross_entropy(logits, target)\n");
    check_body("loss 0.5 * mse(a, t) + l1(a, t) + 2 * bce_with_logits(b, u);",
               "  loss 0.5 * mse(a, t) + 1 * l1(a, t) + 2 * bce_with_logits(b, u)\n");
    const char *src = "net n { loss 0.25 * mse(a, t) + 3 * l1(p -> f, t); }";
    Fe *f = fe_load(src);
    const LossTerm *t = first_stmt(f, ST_LOSS)->terms;
    assert_true(t->weight == 0.25);
    assert_int_equal(t->loc.off, 13);
    assert_int_equal(t->loc.len, 16);   /* "0.25 * mse(a, t)" */
    assert_string_equal(t->call->name, "mse");
    t = t->next;
    assert_true(t->weight == 3);
    assert_string_equal(t->call->args->val->name, "f");  /* pipes work inside loss terms */
    assert_null(t->next);
    fe_free(f);
}

/* A weight is a plain number before '*'; a loss is a call. */
static void test_loss_errors(void **state)
{
    Fe *f = fe_load("net n {\n  loss -1 * mse(a, t);\n  loss w * mse(a, t);\n  loss mse;\n}\n");
    assert_errors(f, 3);
    assert_diag(f, "t.net:2:8: error: unexpected '-'");
    assert_diag(f, "t.net:3:10: error: unexpected '*'");
    assert_diag(f, "t.net:4:11: error: unexpected ';'");
    fe_free(f);
}

/* ---- error recovery ------------------------------------------------------------ */

/* A missing ';' is reported right after the token before it, on its line. */
static void test_missing_semicolon(void **state)
{
    Fe *f = fe_load("net n {\n    input x : f32[3]\n    y = x -> relu;\n    output y;\n}\n");
    assert_errors(f, 1);
    assert_diag(f, "t.net:2:21: error: expected ';' before identifier 'y'\n"
                   "    2 |     input x : f32[3]\n"
                   "      |                     ^\n");
    fe_free(f);
}

/* Before a '}' too. */
static void test_missing_semicolon_before_brace(void **state)
{
    Fe *f = fe_load("net n {\n    input x : f32[3];\n    output x\n}\n");
    assert_errors(f, 1);
    assert_diag(f, "t.net:3:13: error: expected ';' before '}'");
    fe_free(f);
}

/* Every syntax error in the file is reported, each once; good statements survive. */
static void test_several_errors(void **state)
{
    const char *src = "net n {\n"
                      "    input x : f32[3];\n"           /* 2 ok */
                      "    a = x -> dense(4;\n"           /* 3 ')' missing */
                      "    b = x -> relu;\n"              /* 4 ok */
                      "    c = = x;\n"                    /* 5 */
                      "    d = x -> relu;\n"              /* 6 ok */
                      "    train { batch 8; epochs = 2; }\n"  /* 7 '=' missing */
                      "    output b, d;\n"                /* 8 ok */
                      "}\n"
                      "net { }\n"                         /* 10 name missing */
                      "net m { input y : f32[1]; }\n";    /* 11 ok */
    Fe *f = fe_load(src);
    assert_errors(f, 4);
    assert_diag(f, "t.net:3:21: error: unexpected ';'");
    assert_diag(f, "t.net:5:9: error: unexpected '='");
    assert_diag(f, "t.net:7:19: error: unexpected integer '8', expected '='");
    assert_diag(f, "t.net:10:5: error: unexpected '{', expected identifier");
    assert_ast(f, "net n\n"
                  "  input x : f32[3]\n"
                  "  assign b = relu(x)\n"
                  "  assign d = relu(x)\n"
                  "  train epochs=2\n"
                  "  output b, d\n"
                  "net m\n"
                  "  input y : f32[1]\n");
    fe_free(f);
}

/* Errors on consecutive lines are each reported (recovery re-arms at ';'). */
static void test_consecutive_errors(void **state)
{
    Fe *f = fe_load("net n {\n  a = ;\n  b = ;\n  c = ;\n  d = x;\n}\n");
    assert_errors(f, 3);
    assert_diag(f, "t.net:2:7: error:");
    assert_diag(f, "t.net:3:7: error:");
    assert_diag(f, "t.net:4:7: error:");
    assert_ast(f, "net n\n  assign d = x\n");
    fe_free(f);
}

static void test_unexpected_eof(void **state)
{
    Fe *f = fe_load("net n { input x : f32[1];");
    assert_errors(f, 1);
    assert_diag(f, "t.net:1:25: error: unexpected end of file");
    fe_free(f);
}

/* Text outside any net or block. */
static void test_stray_top_level(void **state)
{
    Fe *f = fe_load("y = x;\nnet n { input x : f32[1]; }\n");
    assert_int_equal(fe_errors(f) >= 1, true);
    assert_diag(f, "t.net:1:1: error: unexpected identifier 'y'");
    fe_free(f);
}

/* Nesting past the parser's stack limit is an error, not a crash. */
static void test_nesting_limit(void **state)
{
    enum { DEPTH = 12000 };
    char *src = malloc(2 * DEPTH + 200);
    size_t n = (size_t)sprintf(src, "net n { input x : f32[1]; y = ");
    for (int i = 0; i < DEPTH; i++)
        src[n++] = '(';
    src[n++] = 'x';
    for (int i = 0; i < DEPTH; i++)
        src[n++] = ')';
    strcpy(src + n, "; output y; }");
    Fe *f = fe_load(src);
    assert_errors(f, 1);
    assert_diag(f, "error: parentheses and calls nested too deeply (the limit is 10000 levels of grammar)");
    free(src);
    fe_free(f);
}

/* Long files parse in linear time: lists are appended to at their remembered tails. */
static void test_long_file(void **state)
{
    enum { N = 100000 };
    char *src = malloc((size_t)N * 40 + 100);
    size_t n = (size_t)sprintf(src, "net n {\n    input x : f32[1];\n");
    for (int i = 0; i < N; i++)
        n += (size_t)sprintf(src + n, "    a%d = f(x, k = %d, g(x, x));\n", i, i);
    strcpy(src + n, "    output a0;\n}\n");
    clock_t t0 = clock();
    Fe *f = fe_load(src);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_errors(f, 0);
    int count = 0;
    const Stmt *last = NULL;
    for (const Stmt *s = fe_net(f, NULL)->stmts; s; s = s->next, count++)
        last = s;
    assert_int_equal(count, N + 2);
    assert_int_equal(last->kind, ST_OUTPUT);
    if (secs > 10)  /* a quadratic append takes minutes here */
        fail_msg("parsing %d statements took %.1f s", N, secs);
    free(src);
    fe_free(f);
}

static void test_empty_input(void **state)
{
    Fe *f = fe_load("");
    assert_errors(f, 1);
    assert_diag(f, "t.net:1:1: error: no net in this file");
    assert_null(f->c.ast->nets);
    assert_null(f->c.ast->blocks);
    fe_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_and_label),
        cmocka_unit_test(test_too_many_dims),
        cmocka_unit_test(test_output),
        cmocka_unit_test(test_optimizer_and_train),
        cmocka_unit_test(test_assign_forms),
        cmocka_unit_test(test_statement_locations),
        cmocka_unit_test(test_pipes),
        cmocka_unit_test(test_pipe_flags),
        cmocka_unit_test(test_pipes_nested),
        cmocka_unit_test(test_pipe_errors),
        cmocka_unit_test(test_keyword_args),
        cmocka_unit_test(test_keyword_expr_values),
        cmocka_unit_test(test_negative_numbers),
        cmocka_unit_test(test_literal_kinds),
        cmocka_unit_test(test_block_with_defaults),
        cmocka_unit_test(test_several_nets_and_blocks),
        cmocka_unit_test(test_block_errors),
        cmocka_unit_test(test_loss_terms),
        cmocka_unit_test(test_loss_errors),
        cmocka_unit_test(test_missing_semicolon),
        cmocka_unit_test(test_missing_semicolon_before_brace),
        cmocka_unit_test(test_several_errors),
        cmocka_unit_test(test_consecutive_errors),
        cmocka_unit_test(test_unexpected_eof),
        cmocka_unit_test(test_stray_top_level),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_long_file),
        cmocka_unit_test(test_empty_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
