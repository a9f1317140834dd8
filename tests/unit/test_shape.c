/*
 * test_shape.c — shape inference (compiler/shape.c).
 *
 * Every op's output shape and parameter shapes (PyTorch layouts), the
 * attributes the pass resolves (pad = same, pool strides), and its errors:
 * each checked for its message and for the count, since one mistake must
 * give exactly one message however many layers depend on it.
 */
#include "frontend_util.h"

/* Compiles "net n { input x : TYPE; BODY }" through the shape pass; it must be clean. */
#define shape_ok(type, body) shape_ok_at((type), (body), __FILE__, __LINE__)
static Fe *shape_ok_at(const char *type, const char *body, const char *file, int line)
{
    char b[4096];
    return fe_ok_at(fe_net1(b, sizeof b, type, body), file, line);
}

/* The same net must give exactly one error containing msg. */
#define shape_err(type, body, msg) shape_err_at((type), (body), (msg), __FILE__, __LINE__)
static void shape_err_at(const char *type, const char *body, const char *msg, const char *file, int line)
{
    char b[4096];
    fe_one_error_at(fe_net1(b, sizeof b, type, body), msg, file, line);
}

/* ---- dense ------------------------------------------------------------------ */

static void test_dense(void **state)
{
    Fe *f = shape_ok("f32[784]", "y = x -> dense(256) -> dense(10, bias = false); output y;");
    assert_node_shape(f->g, "dense_1", "[256]");
    assert_node_shape(f->g, "dense_2", "[10]");
    assert_param_shape(f->g, "dense_1.weight", "[256, 784]");
    assert_param_shape(f->g, "dense_1.bias", "[256]");
    assert_param_shape(f->g, "dense_2.weight", "[10, 256]");
    assert_int_equal(f->g->nparams, 3);  /* no dense_2.bias */
    assert_int_equal(fe_param(f->g, "dense_1.weight")->fan_in, 784);
    assert_int_equal(fe_param(f->g, "dense_1.bias")->fan_in, 784);
    fe_free(f);
}

/* On [S, D] dense acts on the last dimension. */
static void test_dense_sequence(void **state)
{
    Fe *f = shape_ok("f32[5, 12]", "y = x -> dense(7); z = x -> dense(3) -> dense(2); output y, z;");
    assert_node_shape(f->g, "dense_1", "[5, 7]");
    assert_param_shape(f->g, "dense_1.weight", "[7, 12]");
    assert_node_shape(f->g, "dense_3", "[5, 2]");
    assert_param_shape(f->g, "dense_3.weight", "[2, 3]");
    fe_free(f);
    f = shape_ok("f32[2, 3, 4, 6]", "y = x -> dense(5); output y;");
    assert_node_shape(f->g, "dense_1", "[2, 3, 4, 5]");
    fe_free(f);
}

/* ---- conv2d ------------------------------------------------------------------- */

static void check_conv(const char *type, const char *call, const char *shape, const char *weight)
{
    char body[256];
    snprintf(body, sizeof body, "y = x -> %s; output y;", call);
    Fe *f = shape_ok(type, body);
    assert_node_shape(f->g, "conv2d_1", shape);
    assert_param_shape(f->g, "conv2d_1.weight", weight);
    fe_free(f);
}

static void test_conv2d(void **state)
{
    check_conv("f32[1, 28, 28]", "conv2d(16)", "[16, 26, 26]", "[16, 1, 3, 3]");
    check_conv("f32[1, 28, 28]", "conv2d(6, kernel = 5, pad = 2)", "[6, 28, 28]", "[6, 1, 5, 5]");
    check_conv("f32[3, 32, 32]", "conv2d(8, kernel = 3, stride = 2)", "[8, 15, 15]", "[8, 3, 3, 3]");
    check_conv("f32[3, 32, 32]", "conv2d(8, kernel = 3, stride = 2, pad = 1)", "[8, 16, 16]", "[8, 3, 3, 3]");
    check_conv("f32[3, 9, 9]", "conv2d(4, kernel = 3, dilation = 2)", "[4, 5, 5]", "[4, 3, 3, 3]");
    check_conv("f32[3, 9, 9]", "conv2d(4, kernel = 3, dilation = 2, pad = 2)", "[4, 9, 9]", "[4, 3, 3, 3]");
    check_conv("f32[4, 10, 10]", "conv2d(8, groups = 2)", "[8, 8, 8]", "[8, 2, 3, 3]");
    check_conv("f32[6, 10, 10]", "conv2d(6, groups = 6, pad = 1)", "[6, 10, 10]", "[6, 1, 3, 3]");  /* depthwise */
    check_conv("f32[2, 7, 5]", "conv2d(3, kernel = 1, stride = 3)", "[3, 3, 2]", "[3, 2, 1, 1]");
    check_conv("f32[1, 4, 4]", "conv2d(2, kernel = 4)", "[2, 1, 1]", "[2, 1, 4, 4]");  /* kernel = input */
}

static void test_conv2d_bias_and_fan_in(void **state)
{
    Fe *f = shape_ok("f32[4, 8, 8]", "y = x -> conv2d(6, kernel = 3, groups = 2); z = x -> conv2d(2, bias = false);"
                                     " output y, z;");
    assert_param_shape(f->g, "conv2d_1.bias", "[6]");
    assert_int_equal(fe_param(f->g, "conv2d_1.weight")->fan_in, 2 * 3 * 3);
    assert_int_equal(fe_param(f->g, "conv2d_1.bias")->fan_in, 2 * 3 * 3);
    assert_int_equal(fe_node(f->g, "conv2d_2")->nparam, 1);
    fe_free(f);
}

/* pad = same keeps H and W; an even kernel pads one more at the bottom and right. */
static void test_conv2d_same(void **state)
{
    struct {
        const char *call;
        int pad[4];  /* top, left, bottom, right */
    } cases[] = {
        {"conv2d(4, kernel = 3, pad = same)", {1, 1, 1, 1}},
        {"conv2d(4, kernel = 5, pad = same)", {2, 2, 2, 2}},
        {"conv2d(4, kernel = 2, pad = same)", {0, 0, 1, 1}},
        {"conv2d(4, kernel = 4, pad = same)", {1, 1, 2, 2}},
        {"conv2d(4, kernel = 1, pad = same)", {0, 0, 0, 0}},
        {"conv2d(4, kernel = 3, dilation = 2, pad = same)", {2, 2, 2, 2}},
        {"conv2d(4, kernel = 2, dilation = 3, pad = same)", {1, 1, 2, 2}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char body[256];
        snprintf(body, sizeof body, "y = x -> %s; output y;", cases[i].call);
        Fe *f = shape_ok("f32[3, 11, 7]", body);
        const IrNode *n = fe_node(f->g, "conv2d_1");
        assert_node_shape(f->g, "conv2d_1", "[4, 11, 7]");
        assert_true(n->a.pad_same);
        for (int j = 0; j < 4; j++)
            assert_int_equal(n->a.pad[j], cases[i].pad[j]);
        fe_free(f);
    }
}

/* ---- pools ------------------------------------------------------------------ */

static void check_pool(const char *type, const char *call, const char *node, const char *shape, int stride)
{
    char body[256];
    snprintf(body, sizeof body, "y = x -> %s; output y;", call);
    Fe *f = shape_ok(type, body);
    assert_node_shape(f->g, node, shape);
    assert_int_equal(fe_node(f->g, node)->a.stride[0], stride);
    assert_int_equal(fe_node(f->g, node)->a.stride[1], stride);
    assert_int_equal(fe_node(f->g, node)->nparam, 0);
    fe_free(f);
}

static void test_pools(void **state)
{
    check_pool("f32[6, 28, 28]", "maxpool2d(2)", "maxpool2d_1", "[6, 14, 14]", 2);  /* stride = kernel */
    check_pool("f32[6, 28, 28]", "avgpool2d(2)", "avgpool2d_1", "[6, 14, 14]", 2);
    check_pool("f32[6, 7, 7]", "maxpool2d(2)", "maxpool2d_1", "[6, 3, 3]", 2);    /* floor */
    check_pool("f32[6, 7, 7]", "maxpool2d(3, stride = 2)", "maxpool2d_1", "[6, 3, 3]", 2);
    check_pool("f32[6, 7, 7]", "maxpool2d(3, stride = 2, pad = 1)", "maxpool2d_1", "[6, 4, 4]", 2);
    check_pool("f32[6, 8, 8]", "avgpool2d(3, stride = 1)", "avgpool2d_1", "[6, 6, 6]", 1);
    check_pool("f32[2, 5, 9]", "avgpool2d(kernel = 3)", "avgpool2d_1", "[2, 1, 3]", 3);
    check_pool("f32[1, 1, 1]", "maxpool2d(3, pad = 1)", "maxpool2d_1", "[1, 1, 1]", 3);  /* window over padding */
}

static void test_global_avgpool_and_flatten(void **state)
{
    Fe *f = shape_ok("f32[32, 7, 5]", "g = x -> global_avgpool; h = x -> flatten; output g, h;");
    assert_node_shape(f->g, "global_avgpool_1", "[32]");
    assert_node_shape(f->g, "flatten_1", "[1120]");
    fe_free(f);
    f = shape_ok("f32[12]", "h = x -> flatten; output h;");
    assert_node_shape(f->g, "flatten_1", "[12]");
    fe_free(f);
    f = shape_ok("f32[2, 3]", "h = x -> flatten; output h;");
    assert_node_shape(f->g, "flatten_1", "[6]");
    fe_free(f);
}

/* ---- normalization ----------------------------------------------------------- */

static void check_norm(const char *type, const char *op, const char *params)
{
    char body[256], name[64];
    snprintf(body, sizeof body, "y = x -> %s; output y;", op);
    Fe *f = shape_ok(type, body);
    snprintf(name, sizeof name, "%s_1", op);
    assert_shape(f->g, &fe_node(f->g, name)->shape, type + 3);  /* same as the input: "[...]" */
    const IrNode *n = fe_node(f->g, name);
    bool bn = strcmp(op, "batchnorm") == 0;
    assert_int_equal(n->nparam, bn ? 4 : 2);
    for (int i = 0; i < n->nparam; i++)
        assert_shape(f->g, &f->g->params[n->param[i]].shape, params);
    fe_free(f);
}

/* batchnorm normalizes channels (the first dimension); layernorm the last. */
static void test_norms(void **state)
{
    check_norm("f32[16]", "batchnorm", "[16]");
    check_norm("f32[8, 20]", "batchnorm", "[8]");
    check_norm("f32[6, 5, 5]", "batchnorm", "[6]");
    check_norm("f32[16]", "layernorm", "[16]");
    check_norm("f32[10, 32]", "layernorm", "[32]");
    check_norm("f32[3, 4, 7]", "layernorm", "[7]");
}

/* ---- elementwise, softmax, binary, concat -------------------------------------- */

static void test_elementwise(void **state)
{
    const char *ops[] = {"relu", "leaky_relu", "sigmoid", "tanh", "gelu", "silu", "softmax", "log_softmax",
                         "dropout"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        char body[128], name[64];
        snprintf(body, sizeof body, "y = x -> %s; output y;", ops[i]);
        snprintf(name, sizeof name, "%s_1", ops[i]);
        Fe *f = shape_ok("f32[3, 5, 2]", body);
        assert_node_shape(f->g, name, "[3, 5, 2]");
        fe_free(f);
    }
    Fe *f = shape_ok("f32[4, 2]", "a = add(x, x); m = mul(a, x); output m;");
    assert_node_shape(f->g, "add_1", "[4, 2]");
    assert_node_shape(f->g, "mul_1", "[4, 2]");
    fe_free(f);
}

static void check_concat(const char *types, const char *axis, const char *shape, int resolved)
{
    char b[512];
    snprintf(b, sizeof b, "net n { %s y = concat(a, b%s); output y; }", types, axis);
    Fe *f = fe_ok(b);
    assert_node_shape(f->g, "concat_1", shape);
    assert_int_equal(fe_node(f->g, "concat_1")->a.axis, resolved);
    fe_free(f);
}

static void test_concat(void **state)
{
    const char *ab = "input a : f32[2, 3, 4]; input b : f32[5, 3, 4];";
    check_concat(ab, "", "[7, 3, 4]", 0);
    check_concat(ab, ", axis = 0", "[7, 3, 4]", 0);
    check_concat(ab, ", axis = -3", "[7, 3, 4]", 0);
    const char *cd = "input a : f32[2, 3, 4]; input b : f32[2, 3, 6];";
    check_concat(cd, ", axis = 2", "[2, 3, 10]", 2);
    check_concat(cd, ", axis = -1", "[2, 3, 10]", 2);   /* negative: from the end */
    check_concat("input a : f32[2, 1, 4]; input b : f32[2, 5, 4];", ", axis = -2", "[2, 6, 4]", 1);
    check_concat("input a : f32[3]; input b : f32[4];", "", "[7]", 0);
}

/* ---- losses ------------------------------------------------------------------- */

static void test_loss_shapes(void **state)
{
    Fe *f = fe_ok("net n { input x : f32[4]; label c : class[3]; label r : f32[3];\n"
                  "  y = x -> dense(3); output y;\n"
                  "  loss cross_entropy(y, c) + mse(y, r) + l1(y, r) + bce_with_logits(y, r); }");
    const IrGraph *g = f->g;
    assert_int_equal(g->nodes[g->loss].shape.ndim, 0);
    for (int i = 0; i < g->nodes[g->loss].nin; i++)
        assert_shape(g, &g->nodes[g->nodes[g->loss].in[i]].shape, "[]");
    assert_shape(g, &fe_node(g, "c")->shape, "[]");  /* a class label holds one integer */
    assert_int_equal(fe_node(g, "c")->a.nclass, 3);
    assert_true(fe_node(g, "c")->is_class);
    fe_free(f);
}

/* ---- errors: rank -------------------------------------------------------------- */

static void test_rank_errors(void **state)
{
    shape_err("f32[8]", "y = x -> conv2d(4); output y;",
              "t.net:3:5: error: conv2d needs a [C, H, W] input, but 'x' is [8]");
    shape_err("f32[2, 8]", "y = x -> maxpool2d(2); output y;", "maxpool2d needs a [C, H, W] input, but 'x' is [2, 8]");
    shape_err("f32[2, 8, 8, 8]", "y = x -> avgpool2d(2); output y;", "avgpool2d needs a [C, H, W] input");
    shape_err("f32[8]", "y = x -> global_avgpool; output y;", "global_avgpool needs a [C, H, W] input");
    shape_err("f32[1, 2, 3, 4]", "y = x -> batchnorm; output y;",
              "batchnorm needs a [C], [C, L] or [C, H, W] input, but 'x' is [1, 2, 3, 4]");
}

/* The rank error names the variable and notes where its shape came from. */
static void test_rank_error_notes(void **state)
{
    Fe *f = fe_compile("net n {\n    input x : f32[8];\n    h = x -> dense(4);\n    y = h -> conv2d(2);\n    output y;\n}\n");
    assert_errors(f, 1);
    assert_diag(f, "t.net:4:9: error: conv2d needs a [C, H, W] input, but 'h' is [4]\n");
    assert_diag(f, "t.net:3:14: note: 'h' is [4], computed by dense_1 here\n");
    fe_free(f);
    f = fe_compile("net n {\n    input x : f32[8];\n    y = x -> conv2d(2);\n    output y;\n}\n");
    assert_diag(f, "t.net:2:15: note: 'x' is declared [8] here\n");
    fe_free(f);
}

/* ---- errors: conv2d and pools --------------------------------------------------- */

static void test_conv_errors(void **state)
{
    shape_err("f32[3, 8, 8]", "y = x -> conv2d(4, groups = 2); output y;",
              "conv2d with groups = 2 needs input channels (3) and filters (4) divisible by 2");
    shape_err("f32[4, 8, 8]", "y = x -> conv2d(3, groups = 2); output y;",
              "needs input channels (4) and filters (3) divisible by 2");
    shape_err("f32[1, 4, 4]", "y = x -> conv2d(2, kernel = 5); output y;",
              "conv2d kernel 5x5 is larger than its padded input 4x4");
    shape_err("f32[1, 4, 4]", "y = x -> conv2d(2, kernel = 3, dilation = 2); output y;",
              "conv2d kernel 5x5 (dilated) is larger than its padded input 4x4");
    shape_err("f32[1, 4, 4]", "y = x -> conv2d(2, kernel = 7, pad = 1); output y;",
              "conv2d kernel 7x7 is larger than its padded input 6x6");
    shape_err("f32[1, 8, 8]", "y = x -> conv2d(2, stride = 2, pad = same); output y;",
              "pad = same needs stride 1, got stride 2");
    shape_err("f32[1, 8, 8]", "y = x -> conv2d(1, kernel = 32768, dilation = 100000, pad = same); output y;",
              "conv2d kernel 32768 with dilation 100000 spans 3276700001 pixels; the limit is 2^30");
}

/* The message points at the argument at fault. */
static void test_conv_error_locations(void **state)
{
    Fe *f = fe_compile("net n {\n  input x : f32[3, 8, 8];\n  y = x -> conv2d(4, groups = 2, kernel = 9);\n  output y;\n}\n");
    assert_errors(f, 1);
    assert_diag(f, "t.net:3:31: error: conv2d with groups = 2");  /* at the groups value */
    fe_free(f);
    f = fe_compile("net n {\n  input x : f32[3, 8, 8];\n  y = x -> conv2d(4, kernel = 9);\n  output y;\n}\n");
    assert_diag(f, "t.net:3:31: error: conv2d kernel 9x9");  /* at the kernel value */
    fe_free(f);
}

static void test_pool_errors(void **state)
{
    shape_err("f32[1, 8, 8]", "y = x -> maxpool2d(2, pad = 2); output y;", "maxpool2d pad 2 is more than half its kernel 2");
    shape_err("f32[1, 3, 3]", "y = x -> avgpool2d(4); output y;", "avgpool2d kernel 4x4 is larger than its padded input 3x3");
    shape_err("f32[1, 2, 8]", "y = x -> maxpool2d(5, pad = 1); output y;",
              "maxpool2d kernel 5x5 is larger than its padded input 4x10");
}

/* ---- errors: operands ----------------------------------------------------------- */

static void test_binary_errors(void **state)
{
    Fe *f = fe_compile("net n {\n  input x : f32[4];\n  input z : f32[5];\n  y = add(x, z);\n  output y;\n}\n");
    assert_errors(f, 1);
    assert_diag(f, "t.net:4:7: error: add needs operands of one shape, got [4] and [5]\n");
    assert_diag(f, "note: 'x' is declared [4] here");
    assert_diag(f, "note: 'z' is declared [5] here");
    fe_free(f);
    shape_err("f32[4]", "h = x -> dense(3); y = mul(x, h); output y;", "mul needs operands of one shape, got [4] and [3]");
}

static void test_concat_errors(void **state)
{
    const char *pre = "net n { input a : f32[2, 3]; input b : f32[2, 4]; input c : f32[2]; ";
    char b[512];
    snprintf(b, sizeof b, "%s y = concat(a, c); output y; }", pre);
    assert_one_error(b, "concat needs operands with the same number of dimensions, got [2, 3] and [2]");
    snprintf(b, sizeof b, "%s y = concat(a, b, axis = 2); output y; }", pre);
    assert_one_error(b, "concat axis 2 is out of range for 2-dimensional operands (use 0..1)");
    snprintf(b, sizeof b, "%s y = concat(a, b, axis = -3); output y; }", pre);
    assert_one_error(b, "concat axis -3 is out of range for 2-dimensional operands");
    snprintf(b, sizeof b, "%s y = concat(a, b); output y; }", pre);
    assert_one_error(b, "concat along axis 0 needs the other dimensions equal, got [2, 3] and [2, 4]");
    snprintf(b, sizeof b, "%s y = concat(a, b, axis = -1); output y; }", pre);
    Fe *f = fe_ok(b);  /* along the last axis they fit */
    assert_node_shape(f->g, "concat_1", "[2, 7]");
    fe_free(f);
}

static void test_loss_errors(void **state)
{
    const char *pre = "net n { input x : f32[4]; label c : class[3]; label r : f32[3]; label r2 : f32[2];\n"
                      "  y = x -> dense(3); z = x -> dense(5); output y, z;\n";
    char b[1024];
    snprintf(b, sizeof b, "%s  loss cross_entropy(y, r); }", pre);
    assert_one_error(b, "cross_entropy needs a class label, but 'r' is [3]");
    snprintf(b, sizeof b, "%s  loss cross_entropy(z, c); }", pre);
    assert_one_error(b, "cross_entropy needs logits [3] for class[3] labels, but 'z' is [5]");
    snprintf(b, sizeof b, "%s  loss mse(y, c); }", pre);
    assert_one_error(b, "mse compares two f32 tensors, but 'c' is a class label");
    snprintf(b, sizeof b, "%s  loss l1(y, r2); }", pre);
    assert_one_error(b, "l1 needs prediction and target of one shape, got [3] and [2]");
    snprintf(b, sizeof b, "%s  loss bce_with_logits(z, r); }", pre);
    assert_one_error(b, "bce_with_logits needs prediction and target of one shape, got [5] and [3]");
}

/* ---- errors: sizes --------------------------------------------------------------- */

static void test_size_errors(void **state)
{
    shape_err("f32[1073741824, 2]", "y = x -> relu; output y;",
              "t.net:2:11: error: 'x' would have 2147483648 elements per sample; the limit is 2^30");
    shape_err("f32[65536, 65536]", "y = x -> relu; output y;", "would have 4294967296 elements per sample");
    shape_err("f32[1073741824, 1073741824, 1073741824, 1073741824]", "y = x -> relu; output y;",
              "'x' would have more than 2^63 elements per sample; the limit is 2^30");
    shape_err("f32[65536]", "y = x -> dense(65536); output y;",
              "'dense_1.weight' would have 4294967296 elements; the limit is 2^30");
    shape_err("f32[1024, 4]", "y = concat(x, x) -> dense(1000000); output y;",
              "'y' would have 2048000000 elements per sample; the limit is 2^30");
    shape_err("f32[64, 128, 128]", "y = x -> conv2d(100000, kernel = 1); output y;",
              "'y' would have 1638400000 elements per sample");
    /* Found by fuzzing: the concatenated dimension itself overflowed an int. */
    shape_err("f32[1073741824]", "y = concat(x, x); output y;",
              "t.net:3:5: error: 'y' would have 2147483648 elements per sample; the limit is 2^30");
    shape_err("f32[2, 536870912]", "y = concat(x, x, axis = 1); output y;",
              "'y' would have 2147483648 elements per sample");
}

/* ---- one mistake, one message -------------------------------------------------------- */

/* Layers after a shape error are skipped silently. */
static void test_no_cascade(void **state)
{
    shape_err("f32[8]", "h = x -> conv2d(4) -> relu -> maxpool2d(2) -> flatten -> dense(3);\n"
                        "g = add(h, h); y = concat(g, h) -> softmax; output y;",
              "conv2d needs a [C, H, W] input");
    char b[1024];
    snprintf(b, sizeof b, "net n { input x : f32[8]; label t : f32[3];\n"
                          "  y = x -> conv2d(4) -> dense(3); output y; loss mse(y, t); }");
    assert_one_error(b, "conv2d needs a [C, H, W] input");  /* nor the loss */
}

/* Independent mistakes are each reported. */
static void test_several_shape_errors(void **state)
{
    Fe *f = fe_compile("net n {\n  input x : f32[8];\n  a = x -> conv2d(4);\n  b = x -> maxpool2d(2);\n"
                       "  c = add(x, x -> dense(3));\n  output a, b, c;\n}\n");
    assert_errors(f, 3);
    assert_diag(f, "t.net:3:7: error: conv2d needs");    /* at the input */
    assert_diag(f, "t.net:4:7: error: maxpool2d needs");
    assert_diag(f, "t.net:5:7: error: add needs operands of one shape");
    fe_free(f);
}

/* Shape errors inside a block name the block instance. */
static void test_errors_in_blocks(void **state)
{
    Fe *f = fe_compile("block b(x) { return x -> conv2d(2); }\n"
                       "net n { input x : f32[8]; y = x -> b; output y; }\n");
    assert_errors(f, 1);
    assert_diag(f, "t.net:1:21: error: conv2d needs a [C, H, W] input, but 'x' is [8]");
    assert_diag(f, "t.net:2:36: note: in block 'b' used here");
    fe_free(f);
}

/* A whole net, as in docs: every shape and the parameter count. */
static void test_lenet(void **state)
{
    Fe *f = fe_ok("net lenet {\n"
                  "  input img : f32[1, 28, 28];\n  label t : class[10];\n"
                  "  y = img -> conv2d(6, kernel = 5, pad = 2) -> relu -> avgpool2d(2)\n"
                  "          -> conv2d(16, kernel = 5) -> relu -> avgpool2d(2) -> flatten\n"
                  "          -> dense(120) -> relu -> dense(84) -> relu -> dense(10);\n"
                  "  output y;\n  loss cross_entropy(y, t);\n}\n");
    const IrGraph *g = f->g;
    assert_node_shape(g, "conv2d_1", "[6, 28, 28]");
    assert_node_shape(g, "avgpool2d_1", "[6, 14, 14]");
    assert_node_shape(g, "conv2d_2", "[16, 10, 10]");
    assert_node_shape(g, "avgpool2d_2", "[16, 5, 5]");
    assert_node_shape(g, "flatten_1", "[400]");
    assert_node_shape(g, "dense_3", "[10]");
    int64_t total = 0;
    for (int i = 0; i < g->nparams; i++)
        total += ir_numel(&g->params[i].shape);
    assert_int_equal(total, 61706);  /* LeNet-5's well-known count */
    fe_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense),
        cmocka_unit_test(test_dense_sequence),
        cmocka_unit_test(test_conv2d),
        cmocka_unit_test(test_conv2d_bias_and_fan_in),
        cmocka_unit_test(test_conv2d_same),
        cmocka_unit_test(test_pools),
        cmocka_unit_test(test_global_avgpool_and_flatten),
        cmocka_unit_test(test_norms),
        cmocka_unit_test(test_elementwise),
        cmocka_unit_test(test_concat),
        cmocka_unit_test(test_loss_shapes),
        cmocka_unit_test(test_rank_errors),
        cmocka_unit_test(test_rank_error_notes),
        cmocka_unit_test(test_conv_errors),
        cmocka_unit_test(test_conv_error_locations),
        cmocka_unit_test(test_pool_errors),
        cmocka_unit_test(test_binary_errors),
        cmocka_unit_test(test_concat_errors),
        cmocka_unit_test(test_loss_errors),
        cmocka_unit_test(test_size_errors),
        cmocka_unit_test(test_no_cascade),
        cmocka_unit_test(test_several_shape_errors),
        cmocka_unit_test(test_errors_in_blocks),
        cmocka_unit_test(test_lenet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
