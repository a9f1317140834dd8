/*
 * test_lower.c — the lowering pass (compiler/lower.c): AST to graph IR.
 *
 * Layer naming (`<op>_<k>` per op kind in source order, arguments before
 * the call, explicit names counting toward k, `<block>_<k>.` prefixes and
 * nested blocks), parameter names, block hygiene, argument binding
 * (positional, keyword, defaults from ir_ops.def, duplicates, unknown
 * arguments with suggestions), optimizer hyper-parameters and their
 * defaults, train settings, loss terms and weights, and the name errors.
 */
#include "frontend_util.h"

#include <time.h>

/* The layer names of every node but inputs and labels, in graph order, space-separated. */
static char *layer_names(const IrGraph *g)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    const char *sep = "";
    for (int i = 0; i < g->nnodes; i++) {
        if (g->nodes[i].op == IR_INPUT || g->nodes[i].op == IR_LABEL)
            continue;
        fprintf(out, "%s%s", sep, g->nodes[i].name);
        sep = " ";
    }
    fclose(out);
    return buf;
}

#define assert_layers(g, text)                 \
    do {                                       \
        char *t_ = layer_names(g);             \
        assert_string_equal(t_, (text));       \
        free(t_);                              \
    } while (0)

/* Lowers src (which must be clean) and returns the graph after lowering only. */
#define lower_ok(src) lower_ok_at((src), __FILE__, __LINE__)
static Fe *lower_ok_at(const char *src, const char *file, int line)
{
    Fe *f = fe_lower(src);
    if (fe_errors(f) || !f->g) {
        print_error("expected no errors:\n%s\n", fe_diags(f));
        _fail(file, line);
    }
    return f;
}

/* A net with input x : f32[8] and label t : class[4] around body. */
static const char *net8(char *buf, size_t cap, const char *body)
{
    snprintf(buf, cap, "net n {\n    input x : f32[8];\n    label t : class[4];\n%s\n}\n", body);
    return buf;
}

/* ---- layer names ----------------------------------------------------------- */

static void test_op_counters(void **state)
{
    char b[1024];
    Fe *f = lower_ok(net8(b, sizeof b, "y = x -> dense(4) -> relu -> dense(4) -> relu -> sigmoid;\n"
                                       "z = y -> dense(2) -> relu;\noutput z;"));
    assert_layers(f->g, "dense_1 relu_1 dense_2 relu_2 sigmoid_1 dense_3 relu_3");
    fe_free(f);
}

/* Arguments are lowered before the call that uses them. */
static void test_arguments_first(void **state)
{
    char b[1024];
    Fe *f = lower_ok(net8(b, sizeof b, "y = concat(dense(x, 4), dense(x, 4)) -> dense(3);\noutput y;"));
    assert_layers(f->g, "dense_1 dense_2 concat_1 dense_3");
    const IrNode *c = fe_node(f->g, "concat_1");
    assert_int_equal(c->nin, 2);
    assert_int_equal(c->in[0], fe_node_id(f->g, "dense_1"));
    assert_int_equal(c->in[1], fe_node_id(f->g, "dense_2"));
    assert_int_equal(fe_node(f->g, "dense_3")->in[0], fe_node_id(f->g, "concat_1"));
    fe_free(f);
}

/* An explicit name replaces <op>_<k> but still takes its k. */
static void test_explicit_names(void **state)
{
    char b[1024];
    Fe *f = lower_ok(net8(b, sizeof b, "y = x -> dense(4, name = \"fc1\") -> dense(4) -> "
                                       "batchnorm(name = \"bn\") -> dense(2, name = \"head\");\noutput y;"));
    assert_layers(f->g, "fc1 dense_2 bn head");
    assert_string_equal(fe_node(f->g, "head")->var, "y");
    fe_free(f);
}

/* Each variable is recorded on the node it was first bound to. */
static void test_variables(void **state)
{
    char b[1024];
    Fe *f = lower_ok(net8(b, sizeof b, "h = x -> dense(4);\nalias = h;\ny = h -> relu;\noutput y;"));
    assert_string_equal(fe_node(f->g, "dense_1")->var, "h");
    assert_string_equal(fe_node(f->g, "relu_1")->var, "y");
    assert_string_equal(fe_node(f->g, "x")->var, "x");
    assert_int_equal(f->g->noutputs, 1);
    assert_string_equal(f->g->outputs[0].name, "y");
    assert_int_equal(f->g->outputs[0].node, fe_node_id(f->g, "relu_1"));
    fe_free(f);
}

static const char *BLOCKS = "block unit(x, c, k = 3) {\n"
                            "    y = x -> conv2d(c, kernel = k, pad = same) -> batchnorm;\n"
                            "    return y -> relu;\n"
                            "}\n";

static void test_block_prefixes(void **state)
{
    char b[2048];
    snprintf(b, sizeof b, "%snet n {\n    input img : f32[1, 8, 8];\n"
                          "    y = img -> unit(4) -> maxpool2d(2) -> unit(8, k = 1) -> conv2d(2);\n"
                          "    output y;\n}\n", BLOCKS);
    Fe *f = lower_ok(b);
    assert_layers(f->g, "unit_1.conv2d_1 unit_1.batchnorm_1 unit_1.relu_1 maxpool2d_1 "
                        "unit_2.conv2d_1 unit_2.batchnorm_1 unit_2.relu_1 conv2d_1");
    assert_int_equal(f->g->ninsts, 2);
    assert_string_equal(f->g->insts[0].block, "unit");
    assert_int_equal(f->g->insts[0].parent, -1);
    assert_int_equal(fe_node(f->g, "unit_2.conv2d_1")->inst, 1);
    assert_int_equal(fe_node(f->g, "conv2d_1")->inst, -1);
    assert_int_equal(fe_node(f->g, "unit_2.conv2d_1")->a.kernel[0], 1);  /* k = 1 passed in */
    assert_int_equal(fe_node(f->g, "unit_1.conv2d_1")->a.kernel[0], 3);  /* the block's default */
    /* Variables inside a block are the block's own. */
    assert_string_equal(fe_node(f->g, "unit_1.batchnorm_1")->var, "y");
    assert_null(fe_node(f->g, "unit_1.relu_1")->var);
    assert_string_equal(fe_node(f->g, "conv2d_1")->var, "y");
    fe_free(f);
}

/* Blocks in blocks: prefixes nest, and counters restart in each instance. */
static void test_nested_blocks(void **state)
{
    Fe *f = lower_ok("block inner(x, n) { return x -> dense(n); }\n"
                     "block outer(x) { a = x -> inner(4) -> inner(4); return a -> relu; }\n"
                     "net n { input x : f32[4];\n"
                     "    y = x -> outer -> inner(2) -> outer -> dense(4, name = \"fc\");\n"
                     "    output y; }\n");
    assert_layers(f->g, "outer_1.inner_1.dense_1 outer_1.inner_2.dense_1 outer_1.relu_1 "
                        "inner_1.dense_1 "
                        "outer_2.inner_1.dense_1 outer_2.inner_2.dense_1 outer_2.relu_1 fc");
    const IrNode *d = fe_node(f->g, "outer_2.inner_2.dense_1");
    const IrInst *in = &f->g->insts[d->inst];
    assert_string_equal(in->block, "inner");
    assert_string_equal(f->g->insts[in->parent].block, "outer");
    assert_int_equal(f->g->insts[in->parent].parent, -1);
    fe_free(f);
}

static void test_explicit_name_in_block(void **state)
{
    Fe *f = lower_ok("block head(x) { return x -> dense(2, name = \"out\"); }\n"
                     "net n { input x : f32[4]; a = x -> head; b = x -> head; y = add(a, b); output y; }\n");
    assert_layers(f->g, "head_1.out head_2.out add_1");
    fe_free(f);
}

static void test_duplicate_layer_name(void **state)
{
    char b[1024];
    Fe *f = fe_lower(net8(b, sizeof b, "a = x -> dense(4, name = \"fc\");\n"
                                       "c = a -> dense(4, name = \"fc\");\noutput c;"));
    assert_errors(f, 1);
    assert_diag(f, "t.net:5:10: error: layer name 'fc' is used twice");
    assert_diag(f, "t.net:4:10: note: 'fc' is this layer");
    fe_free(f);
    /* An explicit name may not take an automatic one either, nor an input's. */
    f = fe_lower(net8(b, sizeof b, "a = x -> dense(4);\nc = a -> relu(name = \"dense_1\");\n"
                                   "d = c -> relu(name = \"x\");\noutput d;"));
    assert_errors(f, 2);
    assert_diag(f, "layer name 'dense_1' is used twice");
    assert_diag(f, "layer name 'x' is used twice");
    fe_free(f);
}

static void test_bad_layer_names(void **state)
{
    char b[1024];
    Fe *f = fe_lower(net8(b, sizeof b, "a = x -> dense(4, name = \"fc.1\");\nc = x -> dense(4, name = \"\");\n"
                                       "d = x -> dense(4, name = 3);\noutput a;"));
    assert_errors(f, 3);
    assert_diag(f, "layer name \"fc.1\" must be letters, digits and '_'");
    assert_diag(f, "layer name \"\" must be letters, digits and '_'");
    assert_diag(f, "argument 'name' of dense must be a string, not number 3");
    fe_free(f);
}

/* ---- parameters (created by the shape pass, named from the layers) -------- */

static void test_parameter_names(void **state)
{
    char b[2048];
    snprintf(b, sizeof b, "%snet n {\n    input img : f32[1, 8, 8];\n"
                          "    y = img -> unit(4) -> flatten -> dense(3, name = \"fc\") -> layernorm -> dense(2, bias = false);\n"
                          "    output y;\n}\n", BLOCKS);
    Fe *f = fe_ok(b);
    const char *want[] = {"unit_1.conv2d_1.weight", "unit_1.conv2d_1.bias", "unit_1.batchnorm_1.weight",
                          "unit_1.batchnorm_1.bias", "unit_1.batchnorm_1.running_mean",
                          "unit_1.batchnorm_1.running_var", "fc.weight", "fc.bias", "layernorm_1.weight",
                          "layernorm_1.bias", "dense_2.weight"};
    int n = sizeof want / sizeof want[0];
    assert_int_equal(f->g->nparams, n);
    for (int i = 0; i < n; i++)
        assert_string_equal(f->g->params[i].name, want[i]);
    assert_true(fe_param(f->g, "unit_1.batchnorm_1.weight")->trainable);
    assert_false(fe_param(f->g, "unit_1.batchnorm_1.running_var")->trainable);
    assert_int_equal(fe_param(f->g, "unit_1.batchnorm_1.running_mean")->role, IRP_RUNNING_MEAN);
    assert_int_equal(fe_param(f->g, "fc.bias")->role, IRP_BIAS);
    assert_int_equal(fe_param(f->g, "fc.bias")->node, fe_node_id(f->g, "fc"));
    fe_free(f);
}

/* ---- block hygiene ------------------------------------------------------------ */

/* A block sees its parameters and its own names, never the net's. */
static void test_block_hygiene(void **state)
{
    Fe *f = fe_lower("block b(x) { return add(x, extra); }\n"
                     "net n { input x : f32[4]; input extra : f32[4]; y = x -> b; output y; }\n");
    assert_errors(f, 1);
    assert_diag(f, "t.net:1:28: error: ");
    assert_diag(f, "'extra'");
    assert_diag(f, "t.net:2:58: note: in block 'b' used here");
    fe_free(f);
}

/* Names inside a block do not leak out, and may repeat the net's names. */
static void test_block_names_local(void **state)
{
    Fe *f = lower_ok("block b(x) { y = x -> relu; return y; }\n"
                     "net n { input x : f32[4]; y = x -> b; z = y -> b; output z; }\n");
    assert_layers(f->g, "b_1.relu_1 b_2.relu_1");
    fe_free(f);
    f = fe_lower("block b(x) { inner = x -> relu; return inner; }\n"
                 "net n { input x : f32[4]; y = x -> b; z = inner; output y; }\n");
    assert_errors(f, 1);
    assert_diag(f, "unknown name 'inner'");
    fe_free(f);
}

static void test_block_errors(void **state)
{
    Fe *f = fe_lower("block b(x) { return x -> b; }\nnet n { input x : f32[4]; y = x -> b; output y; }\n");
    assert_errors(f, 1);
    assert_diag(f, "t.net:1:26: error: block 'b' uses itself; blocks cannot be recursive");
    fe_free(f);
    f = fe_lower("block b(x, n) { return x -> dense(n); }\nnet n { input x : f32[4]; y = x -> b; output y; }\n");
    assert_errors(f, 1);
    assert_diag(f, "block 'b' needs argument 'n'");
    assert_diag(f, "t.net:1:12: note: 'n' is declared here");
    fe_free(f);
    f = fe_lower("block b(x, k = 3) { return k; }\nnet n { input x : f32[4]; y = x -> b; output y; }\n");
    assert_errors(f, 1);
    assert_diag(f, "t.net:1:28: error: block 'b' must return a tensor, not number 3");
    fe_free(f);
}

/* File-level checks: duplicates and names of built-in ops. */
static void test_file_checks(void **state)
{
    Fe *f = fe_load("block b(x) { return x; }\nblock b(x) { return x; }\nblock relu(x) { return x; }\n"
                    "block c(x, k, k) { return x; }\nblock d(x = 1) { return x; }\n"
                    "net n { }\nnet n { }\n");
    assert_errors(f, 5);
    assert_diag(f, "t.net:2:7: error: block 'b' is defined twice");
    assert_diag(f, "block 'relu' has the name of a built-in op");
    assert_diag(f, "parameter 'k' of block 'c' is declared twice");
    assert_diag(f, "the first parameter of block 'd' is its input tensor and takes no default");
    assert_diag(f, "t.net:7:5: error: net 'n' is defined twice");
    fe_free(f);
}

/* ---- arguments ------------------------------------------------------------------ */

/* Positional and keyword arguments land in the same attributes. */
static void test_positional_and_keyword(void **state)
{
    Fe *f = lower_ok("net n { input x : f32[2, 8, 8];\n"
                     "  a = conv2d(x, 4, 5, 2, 1, 1, 2, false);\n"
                     "  b = x -> conv2d(bias = false, groups = 2, pad = 1, stride = 2, kernel = 5, filters = 4);\n"
                     "  output a, b; }\n");
    for (int i = 0; i < 2; i++) {
        const IrNode *n = fe_node(f->g, i ? "conv2d_2" : "conv2d_1");
        assert_int_equal(n->a.units, 4);
        assert_int_equal(n->a.kernel[0], 5);
        assert_int_equal(n->a.kernel[1], 5);
        assert_int_equal(n->a.stride[0], 2);
        assert_int_equal(n->a.pad[0], 1);
        assert_int_equal(n->a.pad[3], 1);
        assert_int_equal(n->a.dilation[0], 1);
        assert_int_equal(n->a.groups, 2);
        assert_false(n->a.bias);
        assert_int_equal(n->nin, 1);
        assert_int_equal(n->in[0], fe_node_id(f->g, "x"));
    }
    fe_free(f);
}

/* Omitted arguments take the defaults written in ir_ops.def. */
static void test_defaults(void **state)
{
    Fe *f = lower_ok("net n { input x : f32[2, 8, 8];\n"
                     "  a = x -> conv2d(4);\n  b = x -> maxpool2d(2);\n  c = x -> leaky_relu;\n"
                     "  d = x -> batchnorm;\n  e = x -> layernorm;\n  g = x -> dropout;\n"
                     "  h = concat(x, x);\n  i = x -> flatten -> dense(3);\n"
                     "  output a, b, c, d, e, g, h, i; }\n");
    const IrNode *a = fe_node(f->g, "conv2d_1");
    assert_int_equal(a->a.kernel[0], 3);
    assert_int_equal(a->a.stride[0], 1);
    assert_int_equal(a->a.pad[0], 0);
    assert_false(a->a.pad_same);
    assert_int_equal(a->a.dilation[0], 1);
    assert_int_equal(a->a.groups, 1);
    assert_true(a->a.bias);
    const IrNode *b = fe_node(f->g, "maxpool2d_1");
    assert_int_equal(b->a.kernel[0], 2);
    assert_int_equal(b->a.stride[0], 0);  /* unset until shape: then = kernel */
    assert_int_equal(b->a.pad[0], 0);
    assert_true(fe_node(f->g, "leaky_relu_1")->a.alpha == 0.01f);
    assert_true(fe_node(f->g, "batchnorm_1")->a.momentum == 0.1f);
    assert_true(fe_node(f->g, "batchnorm_1")->a.eps == 1e-5f);
    assert_true(fe_node(f->g, "layernorm_1")->a.eps == 1e-5f);
    assert_true(fe_node(f->g, "dropout_1")->a.p == 0.5f);
    assert_int_equal(fe_node(f->g, "concat_1")->a.axis, 0);
    assert_true(fe_node(f->g, "dense_1")->a.bias);
    assert_int_equal(fe_node(f->g, "dense_1")->a.units, 3);
    fe_free(f);
}

/* pad = same is a word; the symbol is recorded, padding is resolved by shape. */
static void test_pad_same(void **state)
{
    Fe *f = lower_ok("net n { input x : f32[2, 8, 8]; a = x -> conv2d(4, pad = same); output a; }");
    assert_true(fe_node(f->g, "conv2d_1")->a.pad_same);
    fe_free(f);
}

/* Argument locations: as written, or the call when defaulted. */
static void test_argument_locations(void **state)
{
    const char *src = "net n { input x : f32[2, 8, 8]; a = x -> conv2d(4, stride = 2); output a; }";
    Fe *f = lower_ok(src);
    const IrNode *n = fe_node(f->g, "conv2d_1");
    uint32_t call = (uint32_t)(strstr(src, "conv2d") - src);
    assert_int_equal(n->loc.off, call);
    assert_int_equal(n->argloc[0].off, (uint32_t)(strstr(src, "x ->") - src));  /* x: the piped input */
    assert_int_equal(n->argloc[1].off, (uint32_t)(strstr(src, "4,") - src));    /* filters */
    assert_int_equal(n->argloc[2].off, call);                                     /* kernel: defaulted */
    assert_int_equal(n->argloc[3].off, (uint32_t)(strstr(src, "2)") - src));    /* stride */
    fe_free(f);
}

static void test_argument_errors(void **state)
{
    char b[1024];
    assert_one_error(net8(b, sizeof b, "y = x -> dense(4, bais = true);\noutput y;"),
                     "t.net:4:19: error: dense has no argument 'bais'; did you mean 'bias'?");
    assert_one_error(net8(b, sizeof b, "y = x -> dense(4, colour = 1);\noutput y;"),
                     "dense has no argument 'colour'\n");
    assert_one_error(net8(b, sizeof b, "y = x -> dense(4, units = 3);\noutput y;"),
                     "t.net:4:19: error: argument 'units' of dense is given twice");
    assert_one_error(net8(b, sizeof b, "y = x -> dense();\noutput y;"), "t.net:4:10: error: dense needs argument 'units'");
    assert_one_error(net8(b, sizeof b, "y = x -> dense(4, true, 5);\noutput y;"), "too many arguments to dense");
    assert_one_error(net8(b, sizeof b, "y = x -> dense(units = 4, true);\noutput y;"),
                     "positional argument after a keyword argument in dense");
    assert_one_error(net8(b, sizeof b, "y = x -> dense(4.5);\noutput y;"),
                     "argument 'units' of dense must be an integer, not number 4.5");
    assert_one_error(net8(b, sizeof b, "y = x -> leaky_relu(alpha = true);\noutput y;"),
                     "argument 'alpha' of leaky_relu must be a number, not true");
    assert_one_error(net8(b, sizeof b, "y = x -> dense(4, bias = 1);\noutput y;"),
                     "argument 'bias' of dense must be true or false, not number 1");
    assert_one_error(net8(b, sizeof b, "y = x -> dense(x);\noutput y;"),
                     "argument 'units' of dense must be an integer, not tensor 'x'");
    assert_one_error(net8(b, sizeof b, "y = add(x, 2);\noutput y;"), "argument 'b' of add must be a tensor, not number 2");
    assert_one_error(net8(b, sizeof b, "y = x -> conv2d(4, pad = valid);\noutput y;"), "'valid'");
}

/* A tensor operand has no default: leaving it out is an error, not a silent input. */
static void test_missing_tensor_operand(void **state)
{
    char b[1024];
    assert_one_error(net8(b, sizeof b, "y = add(x);\noutput y;"), "add needs argument 'b'");
    assert_one_error(net8(b, sizeof b, "y = relu();\noutput y;"), "relu needs argument 'x'");
}

static void test_range_errors(void **state)
{
    char b[1024];
    assert_one_error(net8(b, sizeof b, "y = x -> dense(0);\noutput y;"),
                     "argument 'units' of dense must be at least 1, got 0");
    assert_one_error(net8(b, sizeof b, "y = x -> dense(2000000000);\noutput y;"),
                     "argument 'units' of dense must be at most 1e+09, got 2e+09");
    assert_one_error(net8(b, sizeof b, "y = x -> dropout(1);\noutput y;"),
                     "argument 'p' of dropout must be in [0, 1), got 1");
    assert_one_error(net8(b, sizeof b, "y = x -> batchnorm(eps = 0);\noutput y;"),
                     "argument 'eps' of batchnorm must be in (0, 1], got 0");
    assert_one_error(net8(b, sizeof b, "y = x -> batchnorm(momentum = 1.5);\noutput y;"),
                     "argument 'momentum' of batchnorm must be in [0, 1], got 1.5");
    assert_one_error(net8(b, sizeof b, "y = concat(x, x, axis = 9);\noutput y;"),
                     "argument 'axis' of concat must be in [-8, 7], got 9");
    assert_one_error(net8(b, sizeof b, "y = concat(x, x, axis = 3000000000);\noutput y;"),
                     "argument 'axis' of concat must be in [-8, 7], got 3e+09");
}

/* ---- names ---------------------------------------------------------------------- */

static void test_name_errors(void **state)
{
    char b[1024];
    assert_one_error(net8(b, sizeof b, "h = x -> relu;\ny = hh -> relu;\noutput y;"),
                     "t.net:5:5: error: unknown name 'hh'; did you mean 'h'?");
    assert_one_error(net8(b, sizeof b, "y = zzz -> relu;\noutput y;"), "unknown name 'zzz'\n");
    Fe *f = fe_lower(net8(b, sizeof b, "y = later -> relu;\nlater = x;\noutput y;"));
    assert_errors(f, 1);
    assert_diag(f, "t.net:4:5: error: 'later' is used before it is defined");
    assert_diag(f, "t.net:5:1: note: 'later' is defined here");
    fe_free(f);
    f = fe_lower(net8(b, sizeof b, "y = x -> relu;\ny = x -> tanh;\noutput y;"));
    assert_errors(f, 1);
    assert_diag(f, "t.net:5:1: error: 'y' is already defined; names are assigned once");
    assert_diag(f, "t.net:4:1: note: 'y' is defined here");
    fe_free(f);
    assert_one_error(net8(b, sizeof b, "y = x -> dens(3);\noutput y;"), "unknown op 'dens'; did you mean 'dense'?");
    assert_one_error(net8(b, sizeof b, "y = x -> frobnicate;\noutput y;"), "unknown op 'frobnicate'\n");
    assert_one_error(net8(b, sizeof b, "y = same;\noutput y;"), "'y' must be assigned a tensor, not 'same'");
}

/* ---- net structure ----------------------------------------------------------------- */

static void test_net_structure_errors(void **state)
{
    Fe *f = fe_lower("net n { }");
    assert_errors(f, 2);
    assert_diag(f, "t.net:1:5: error: net 'n' has no input");
    assert_diag(f, "t.net:1:5: error: net 'n' has no 'output' statement");
    fe_free(f);
    assert_one_error("net n { input x : f32[2]; output x; }", "output 'x' is an input of the net; outputs must be computed");
    assert_one_error("net n { input x : f32[2]; y = x -> relu; output y, y; }", "'y' is already an output");
    assert_one_error("net n { input x : f32[0]; y = x -> relu; output y; }", "dimension 0 of 'x' must be at least 1, got 0");
    assert_one_error("net n { input x : f32[2]; label t : class[1]; y = x -> relu; output y; }",
                     "a class label needs at least 2 classes, got 1");
}

/* ---- losses ---------------------------------------------------------------------------- */

static void test_loss_terms(void **state)
{
    Fe *f = lower_ok("net n { input x : f32[4]; label t : class[3]; label r : f32[3];\n"
                     "  y = x -> dense(3); z = x -> dense(3);\n  output y, z;\n"
                     "  loss cross_entropy(y, t) + 0.5 * mse(z, r) + 2 * l1(z, r); }");
    const IrGraph *g = f->g;
    assert_true(g->loss >= 0);
    const IrNode *sum = &g->nodes[g->loss];
    assert_int_equal(sum->op, IR_LOSS_SUM);
    assert_string_equal(sum->name, "loss");
    assert_int_equal(sum->nin, 3);
    const IrNode *ce = &g->nodes[sum->in[0]], *mse = &g->nodes[sum->in[1]], *l1 = &g->nodes[sum->in[2]];
    assert_int_equal(ce->op, IR_CROSS_ENTROPY);
    assert_string_equal(ce->name, "loss_cross_entropy_1");
    assert_true(ce->a.weight == 1.0f);
    assert_int_equal(ce->in[0], fe_node_id(g, "dense_1"));
    assert_int_equal(ce->in[1], fe_node_id(g, "t"));
    assert_int_equal(mse->op, IR_MSE);
    assert_true(mse->a.weight == 0.5f);
    assert_int_equal(mse->in[0], fe_node_id(g, "dense_2"));
    assert_int_equal(l1->op, IR_L1);
    assert_true(l1->a.weight == 2.0f);
    assert_int_equal(sum->in[2], g->nnodes - 2);  /* terms come after every layer, then the sum */
    assert_int_equal(g->loss, g->nnodes - 1);
    fe_free(f);
}

static void test_loss_errors(void **state)
{
    const char *pre = "net n { input x : f32[4]; label t : f32[4]; label c : class[4];\n"
                      "  y = x -> dense(4); h = x -> relu; output y;\n";
    char b[1024];
#define LOSS(stmt) (snprintf(b, sizeof b, "%s  %s\n}\n", pre, stmt), b)
    assert_one_error(LOSS("loss mes(y, t);"), "t.net:3:8: error: unknown loss 'mes'; did you mean 'mse'?");
    assert_one_error(LOSS("loss hinge(y, t);"), "unknown loss 'hinge' (losses: cross_entropy, mse, l1, bce_with_logits)");
    assert_one_error(LOSS("loss mse(h, t);"), "mse is computed on 'h', which is not an output of the net");
    assert_one_error(LOSS("loss mse(y, h);"), "the target of mse must be a label or an input, not the computed tensor 'h'");
    assert_one_error(LOSS("loss mse(y);"), "mse needs argument 'target'");
    assert_one_error(LOSS("loss 0 * mse(y, t);"), "loss weight must be a positive number, got 0");
    assert_one_error(LOSS("loss mse(y, t); loss l1(y, t);"), "a net has at most one 'loss' statement");
    assert_one_error(LOSS("z = mse(y, t);"), "'mse' is a loss; use it in a 'loss' statement");
#undef LOSS
}

/* ---- optimizers ------------------------------------------------------------------------- */

/* The optimizer of a net with a loss, lowered. */
static Fe *with_optimizer(const char *opt)
{
    char b[1024];
    snprintf(b, sizeof b, "net n { input x : f32[4]; label t : f32[2]; y = x -> dense(2); output y;\n"
                          "  loss mse(y, t);\n  optimizer %s; }\n", opt);
    return fe_lower(b);
}

static void check_hps(const IrOptim *o, const char *names, const double *vals)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", names);
    int i = 0;
    for (char *t = strtok(buf, " "); t; t = strtok(NULL, " "), i++) {
        assert_true(i < o->nhp);
        assert_string_equal(o->hpname[i], t);
        if (o->hp[i] != vals[i])
            fail_msg("%s = %.17g, expected %.17g", t, o->hp[i], vals[i]);
    }
    assert_int_equal(i, o->nhp);
}

static void test_optimizer_defaults(void **state)
{
    Fe *f = with_optimizer("adam()");
    assert_errors(f, 0);
    assert_int_equal(f->g->opt.kind, OPT_ADAM);
    assert_string_equal(f->g->opt.name, "adam");
    check_hps(&f->g->opt, "lr beta1 beta2 eps weight_decay amsgrad", (double[]){0.001, 0.9, 0.999, 1e-8, 0, 0});
    fe_free(f);
    f = with_optimizer("adamw(lr = 2e-3)");
    check_hps(&f->g->opt, "lr beta1 beta2 eps weight_decay amsgrad", (double[]){2e-3, 0.9, 0.999, 1e-8, 0.01, 0});
    fe_free(f);
    f = with_optimizer("sgd(0.1)");
    assert_int_equal(f->g->opt.kind, OPT_SGD);
    check_hps(&f->g->opt, "lr momentum dampening nesterov weight_decay", (double[]){0.1, 0, 0, 0, 0});
    fe_free(f);
    f = with_optimizer("rmsprop(centered = true, momentum = 0.9)");
    assert_int_equal(f->g->opt.kind, OPT_RMSPROP);
    check_hps(&f->g->opt, "lr alpha eps weight_decay momentum centered", (double[]){0.01, 0.99, 1e-8, 0, 0.9, 1});
    fe_free(f);
    f = with_optimizer("adagrad(lr_decay = 0.5)");
    assert_int_equal(f->g->opt.kind, OPT_ADAGRAD);
    check_hps(&f->g->opt, "lr lr_decay weight_decay initial_accumulator_value eps",
              (double[]){0.01, 0.5, 0, 0, 1e-10});
    assert_true(ir_hp(&f->g->opt, "eps") == 1e-10);
    fe_free(f);
}

static void test_optimizer_errors(void **state)
{
    struct {
        const char *opt, *msg;
    } cases[] = {
        {"adma()", "unknown optimizer 'adma'; did you mean 'adam'?"},
        {"lbfgs()", "unknown optimizer 'lbfgs' (optimizers: sgd, adagrad, rmsprop, adam, adamw)"},
        {"sgd()", "sgd needs argument 'lr'"},
        {"sgd(0.1, nesterov = true)", "sgd with nesterov = true needs momentum > 0 and dampening = 0"},
        {"adam(lr = -1)", "argument 'lr' of adam must be at least 0, got -1"},
        {"adam(beta1 = 1)", "argument 'beta1' of adam must be in [0, 1), got 1"},
        {"adam(betas = 0.9)", "adam has no argument 'betas'; did you mean 'beta1'?"},
        {"sgd(0.1, momentum = 2)", NULL},  /* sgd momentum is not a fraction */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Fe *f = with_optimizer(cases[i].opt);
        if (cases[i].msg) {
            assert_errors(f, 1);
            assert_diag(f, cases[i].msg);
        } else {
            assert_errors(f, 0);
        }
        fe_free(f);
    }
    Fe *f = fe_lower("net n { input x : f32[4]; y = x -> relu; output y; optimizer adam(); }");
    assert_errors(f, 1);
    assert_diag(f, "an optimizer needs a 'loss' statement to minimize");
    fe_free(f);
    f = fe_lower("net n { input x : f32[4]; y = x -> relu; output y; }");
    assert_int_equal(f->g->opt.kind, OPT_NONE);
    assert_int_equal(f->g->loss, -1);
    fe_free(f);
}

/* ---- train settings --------------------------------------------------------------------- */

static Fe *with_train(const char *kvs)
{
    char b[1024];
    snprintf(b, sizeof b, "net n { input x : f32[4]; y = x -> relu; output y; train { %s } }", kvs);
    return fe_lower(b);
}

static void test_train_defaults(void **state)
{
    Fe *f = fe_lower("net n { input x : f32[4]; y = x -> relu; output y; }");
    const IrTrain *t = &f->g->train;
    assert_int_equal(t->batch, 32);
    assert_int_equal(t->epochs, 1);
    assert_int_equal(t->seed, 0);
    assert_true(t->shuffle);
    assert_int_equal(t->schedule, SCHED_CONSTANT);
    assert_int_equal(t->step_size, 1);
    assert_true(t->gamma == 0.1);
    assert_int_equal(t->warmup, 0);
    assert_true(t->clip_norm == 0);
    fe_free(f);
    f = with_train("");  /* an empty train block: the same */
    assert_int_equal(f->g->train.batch, 32);
    assert_true(f->g->train.gamma == 0.1);
    fe_free(f);
}

static void test_train_keys(void **state)
{
    Fe *f = with_train("batch = 64; epochs = 5; seed = 123456789; shuffle = false; schedule = step;"
                       " step_size = 3; gamma = 0.5; warmup = 100; clip_norm = 1.5;");
    assert_errors(f, 0);
    const IrTrain *t = &f->g->train;
    assert_int_equal(t->batch, 64);
    assert_int_equal(t->epochs, 5);
    assert_int_equal(t->seed, 123456789);
    assert_false(t->shuffle);
    assert_int_equal(t->schedule, SCHED_STEP);
    assert_int_equal(t->step_size, 3);
    assert_true(t->gamma == 0.5);
    assert_int_equal(t->warmup, 100);
    assert_true(t->clip_norm == 1.5);
    fe_free(f);
    f = with_train("schedule = cosine;");
    assert_int_equal(f->g->train.schedule, SCHED_COSINE);
    fe_free(f);
}

static void test_train_errors(void **state)
{
    struct {
        const char *kvs, *msg;
    } cases[] = {
        {"batchsize = 3;", "unknown train key 'batchsize'"},
        {"epoch = 3;", "unknown train key 'epoch'; did you mean 'epochs'?"},
        {"batch = 0;", "must be at least 1, got 0"},
        {"batch = 2.5;", "must be an integer"},
        {"shuffle = 1;", "must be true or false"},
        {"schedule = cosin;", "unknown schedule 'cosin'; did you mean 'cosine'? (schedules: constant, step, cosine)"},
        {"schedule = linear;", "unknown schedule 'linear' (schedules: constant, step, cosine)"},
        {"batch = 8; batch = 16;", "is given twice"},
        {"gamma = 0;", "must be greater than 0, got 0"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Fe *f = with_train(cases[i].kvs);
        assert_errors(f, 1);
        assert_diag(f, cases[i].msg);
        fe_free(f);
    }
    Fe *f = fe_lower("net n { input x : f32[4]; y = x -> relu; output y; train { } train { } }");
    assert_errors(f, 1);
    assert_diag(f, "a net has at most one 'train' statement");
    assert_diag(f, "note: the first one is here");
    fe_free(f);
}

/* ---- limits ----------------------------------------------------------------------------- */

/* Blocks that double at each level stop at a limit with one message, instead of running forever. */
static void test_expansion_limit(void **state)
{
    char src[4096];
    size_t n = (size_t)snprintf(src, sizeof src, "block b0(x) { return x -> relu; }\n");
    for (int i = 1; i <= 20; i++)
        n += (size_t)snprintf(src + n, sizeof src - n, "block b%d(x) { y = x -> b%d; return y -> b%d; }\n", i,
                              i - 1, i - 1);
    snprintf(src + n, sizeof src - n, "net n { input x : f32[2]; y = x -> b20; output y; }\n");
    Fe *f = fe_lower(src);
    assert_errors(f, 1);
    assert_diag(f, "net 'n' expands to more than 65536 layers or block instances");
    fe_free(f);
    /* 2^10 = 1024 instances of b0 are fine. */
    n = (size_t)snprintf(src, sizeof src, "block b0(x) { return x -> relu; }\n");
    for (int i = 1; i <= 10; i++)
        n += (size_t)snprintf(src + n, sizeof src - n, "block b%d(x) { y = x -> b%d; return y -> b%d; }\n", i,
                              i - 1, i - 1);
    snprintf(src + n, sizeof src - n, "net n { input x : f32[2]; y = x -> b10; output y; }\n");
    f = lower_ok(src);
    assert_int_equal(f->g->nnodes, 1 + 1024);
    assert_string_equal(f->g->nodes[1024].name, "b10_1.b9_2.b8_2.b7_2.b6_2.b5_2.b4_2.b3_2.b2_2.b1_2.b0_2.relu_1");
    fe_free(f);
}

static void test_block_param_limit(void **state)
{
    char src[4096];
    size_t n = (size_t)snprintf(src, sizeof src, "block b(x");
    for (int i = 0; i < 65; i++)
        n += (size_t)snprintf(src + n, sizeof src - n, ", p%d = 1", i);
    snprintf(src + n, sizeof src - n, ") { return x; }\nnet n { input x : f32[2]; y = x -> b -> relu; output y; }\n");
    Fe *f = fe_load(src);
    assert_errors(f, 1);
    assert_diag(f, "block 'b' has more than 64 parameters");
    fe_free(f);
}

/* A pipe chain nests one call per arrow: evaluation depth is bounded, blocks included. */
static void test_expression_depth_limit(void **state)
{
    enum { LONG = 1500, SHORT = 900 };
    char *src = malloc(LONG * 10 + 200);
    size_t n = (size_t)sprintf(src, "net n { input x : f32[1]; y = x");
    for (int i = 0; i < LONG; i++)
        n += (size_t)sprintf(src + n, " -> relu");
    strcpy(src + n, "; output y; }");
    Fe *f = fe_lower(src);
    assert_errors(f, 1);
    assert_diag(f, "error: expression nested too deeply (more than 1000 calls, counting those in blocks)");
    fe_free(f);
    n = (size_t)sprintf(src, "net n { input x : f32[1]; y = x");
    for (int i = 0; i < SHORT; i++)
        n += (size_t)sprintf(src + n, " -> relu");
    strcpy(src + n, "; output y; }");
    f = lower_ok(src);
    assert_int_equal(f->g->nnodes, SHORT + 1);
    assert_string_equal(f->g->nodes[SHORT].name, "relu_900");
    fe_free(f);
    /* 600 calls deep in a block used 600 calls deep: 1200 in all. */
    n = (size_t)sprintf(src, "block b(x) { return x");
    for (int i = 0; i < 600; i++)
        n += (size_t)sprintf(src + n, " -> relu");
    n += (size_t)sprintf(src + n, "; }\nnet n { input x : f32[1]; y = x -> b");
    for (int i = 0; i < 599; i++)
        n += (size_t)sprintf(src + n, " -> relu");
    strcpy(src + n, "; output y; }");
    f = fe_lower(src);
    assert_errors(f, 1);
    assert_diag(f, "expression nested too deeply");
    fe_free(f);
    free(src);
}

/* Lowering is linear in the number of names and layers (hash tables, not lists). */
static void test_many_names(void **state)
{
    enum { N = 60000 };
    char *src = malloc((size_t)N * 48 + 200);
    size_t n = (size_t)sprintf(src, "net n {\n    input a0 : f32[2];\n");
    for (int i = 1; i <= N; i++)
        n += (size_t)sprintf(src + n, "    a%d = a%d -> relu(name = \"r%d\");\n", i, i - 1, i);
    sprintf(src + n, "    output a%d;\n}\n", N);
    clock_t t0 = clock();
    Fe *f = lower_ok(src);
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    assert_int_equal(f->g->nnodes, N + 1);
    assert_string_equal(f->g->nodes[N].name, "r60000");
    assert_string_equal(f->g->nodes[N].var, "a60000");
    if (secs > 10)  /* quadratic lookups take minutes here */
        fail_msg("lowering %d layers took %.1f s", N, secs);
    free(src);
    fe_free(f);
}

/* Each later definition of a name is reported once, against the first. */
static void test_duplicates_many(void **state)
{
    Fe *f = fe_load("block b(x) { return x; }\nblock b(x) { return x; }\nblock b(x) { return x; }\n"
                    "net n { }\nnet n { }\nnet n { }\n");
    assert_errors(f, 4);
    assert_diag(f, "t.net:3:7: error: block 'b' is defined twice\n");
    assert_diag(f, "t.net:6:5: error: net 'n' is defined twice\n");
    fe_free(f);
}

/* The lowered graph passes the verifier, and lowering is deterministic. */
static void test_verifier_and_determinism(void **state)
{
    char b[2048];
    snprintf(b, sizeof b, "%snet n { input img : f32[1, 8, 8]; label t : class[2];\n"
                          "  y = img -> unit(4) -> global_avgpool -> dense(2); output y;\n"
                          "  loss cross_entropy(y, t); optimizer sgd(0.1); }\n", BLOCKS);
    Fe *f1 = lower_ok(b), *f2 = lower_ok(b);
    ir_verify(f1->g, "test");
    assert_int_equal(f1->g->nnodes, f2->g->nnodes);
    for (int i = 0; i < f1->g->nnodes; i++) {
        assert_string_equal(f1->g->nodes[i].name, f2->g->nodes[i].name);
        assert_int_equal(f1->g->nodes[i].op, f2->g->nodes[i].op);
    }
    fe_free(f1);
    fe_free(f2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_op_counters),
        cmocka_unit_test(test_arguments_first),
        cmocka_unit_test(test_explicit_names),
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_block_prefixes),
        cmocka_unit_test(test_nested_blocks),
        cmocka_unit_test(test_explicit_name_in_block),
        cmocka_unit_test(test_duplicate_layer_name),
        cmocka_unit_test(test_bad_layer_names),
        cmocka_unit_test(test_parameter_names),
        cmocka_unit_test(test_block_hygiene),
        cmocka_unit_test(test_block_names_local),
        cmocka_unit_test(test_block_errors),
        cmocka_unit_test(test_file_checks),
        cmocka_unit_test(test_positional_and_keyword),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_pad_same),
        cmocka_unit_test(test_argument_locations),
        cmocka_unit_test(test_argument_errors),
        cmocka_unit_test(test_missing_tensor_operand),
        cmocka_unit_test(test_range_errors),
        cmocka_unit_test(test_name_errors),
        cmocka_unit_test(test_net_structure_errors),
        cmocka_unit_test(test_loss_terms),
        cmocka_unit_test(test_loss_errors),
        cmocka_unit_test(test_optimizer_defaults),
        cmocka_unit_test(test_optimizer_errors),
        cmocka_unit_test(test_train_defaults),
        cmocka_unit_test(test_train_keys),
        cmocka_unit_test(test_train_errors),
        cmocka_unit_test(test_expansion_limit),
        cmocka_unit_test(test_block_param_limit),
        cmocka_unit_test(test_expression_depth_limit),
        cmocka_unit_test(test_many_names),
        cmocka_unit_test(test_duplicates_many),
        cmocka_unit_test(test_verifier_and_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
