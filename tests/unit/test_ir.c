/*
 * test_ir.c — the graph IR (compiler/ir.c, ir_print.c, ir_verify.c).
 *
 * Shapes and element counts, the op table and signatures, parameters,
 * FLOP counts of dense and conv2d (and the other ops' cost model), the
 * verifier on valid graphs and on broken ones, and ir_print's text for a
 * small net, compared exactly.
 */
#include "frontend_util.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static IrShape shp(int ndim, int d0, int d1, int d2)
{
    return ir_shape(ndim, (int[]){d0, d1, d2});
}

/* ---- shapes ------------------------------------------------------------------ */

static void test_numel(void **state)
{
    IrShape s = {0};
    assert_int_equal(ir_numel(&s), 1);  /* a scalar */
    s = shp(1, 7, 0, 0);
    assert_int_equal(ir_numel(&s), 7);
    s = shp(3, 16, 28, 28);
    assert_int_equal(ir_numel(&s), 12544);
    s = ir_shape(8, (int[]){2, 2, 2, 2, 2, 2, 2, 2});
    assert_int_equal(ir_numel(&s), 256);
    s = ir_shape(4, (int[]){1 << 30, 1 << 30, 1 << 30, 1 << 30});  /* saturates, never wraps */
    assert_true(ir_numel(&s) == INT64_MAX);
    s = ir_shape(2, (int[]){1 << 30, 1 << 30});
    assert_true(ir_numel(&s) == (int64_t)1 << 60);
}

static void test_saturating_arithmetic(void **state)
{
    assert_true(ir_mul_sat(6, 7) == 42);
    assert_true(ir_mul_sat(0, INT64_MAX) == 0);
    assert_true(ir_mul_sat(INT64_MAX / 2, 3) == INT64_MAX);
    assert_true(ir_mul_sat((int64_t)1 << 31, (int64_t)1 << 31) == (int64_t)1 << 62);
    assert_true(ir_add_sat(INT64_MAX - 1, 1) == INT64_MAX);
    assert_true(ir_add_sat(INT64_MAX, INT64_MAX) == INT64_MAX);
    assert_true(ir_add_sat(40, 2) == 42);
}

static void test_shape_helpers(void **state)
{
    Arena *a = arena_new();
    IrShape s = shp(3, 16, 28, 28), t = shp(3, 16, 28, 28), u = shp(3, 16, 28, 27), v = shp(2, 16, 28, 0);
    assert_true(ir_shape_eq(&s, &t));
    assert_false(ir_shape_eq(&s, &u));
    assert_false(ir_shape_eq(&s, &v));
    assert_string_equal(ir_shape_str(a, &s), "[16, 28, 28]");
    IrShape scalar = {0};
    assert_string_equal(ir_shape_str(a, &scalar), "[]");
    IrShape unknown = {.ndim = -1};
    assert_string_equal(ir_shape_str(a, &unknown), "[?]");
    IrShape big = ir_shape(8, (int[]){1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30, 1 << 30});
    assert_string_equal(ir_shape_str(a, &big), "[1073741824, 1073741824, 1073741824, 1073741824, "
                                               "1073741824, 1073741824, 1073741824, 1073741824]");
    /* ir_shape copies only ndim dimensions. */
    IrShape w = ir_shape(2, (int[]){4, 5, 6});
    assert_int_equal(w.ndim, 2);
    assert_int_equal(w.dim[2], 0);
    arena_free(a);
}

/* ---- the op table ------------------------------------------------------------- */

static void test_op_table(void **state)
{
    assert_int_equal(ir_op_lookup("dense"), IR_DENSE);
    assert_int_equal(ir_op_lookup("conv2d"), IR_CONV2D);
    assert_int_equal(ir_op_lookup("bce_with_logits"), IR_BCE_WITH_LOGITS);
    assert_int_equal(ir_op_lookup("loss_sum"), IR_LOSS_SUM);
    assert_int_equal(ir_op_lookup("Dense"), -1);
    assert_int_equal(ir_op_lookup(""), -1);
    assert_string_equal(ir_ops[IR_MAXPOOL2D].name, "maxpool2d");
    assert_true(ir_ops[IR_DENSE].flags & IRF_PARAMS);
    assert_true(ir_ops[IR_RELU].flags & IRF_ELEM);
    assert_true(ir_ops[IR_MSE].flags & IRF_LOSS);
    assert_true(ir_ops[IR_INPUT].flags & IRF_INTERNAL);
    assert_false(ir_ops[IR_SOFTMAX].flags & (IRF_PARAMS | IRF_ELEM | IRF_LOSS | IRF_INTERNAL));
    /* Every op's signature parses; ops callable from .net files take their tensor first. */
    for (int i = 0; i < IR_NOPS; i++) {
        IrSig sig;
        ir_sig_parse(ir_ops[i].sig, &sig);
        if (!(ir_ops[i].flags & IRF_INTERNAL)) {
            assert_true(sig.n >= 1);
            assert_int_equal(sig.p[0].type, 'T');
        }
    }
}

static void test_signatures(void **state)
{
    IrSig s;
    ir_sig_parse("x:T units:I! bias:B=true", &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.p[0].name, "x");
    assert_int_equal(s.p[0].type, 'T');
    assert_false(s.p[0].required);
    assert_null(s.p[0].dflt);
    assert_string_equal(s.p[1].name, "units");
    assert_int_equal(s.p[1].type, 'I');
    assert_true(s.p[1].required);
    assert_null(s.p[1].dflt);
    assert_string_equal(s.p[2].name, "bias");
    assert_int_equal(s.p[2].type, 'B');
    assert_string_equal(s.p[2].dflt, "true");
    assert_int_equal(ir_sig_find(&s, "bias"), 2);
    assert_int_equal(ir_sig_find(&s, "units"), 1);
    assert_int_equal(ir_sig_find(&s, "name"), -1);
    ir_sig_parse(ir_ops[IR_CONV2D].sig, &s);
    assert_int_equal(s.n, 8);
    assert_string_equal(s.p[4].name, "pad");
    assert_int_equal(s.p[4].type, 'P');
    assert_string_equal(s.p[4].dflt, "0");
    ir_sig_parse(ir_ops[IR_MAXPOOL2D].sig, &s);
    assert_string_equal(s.p[2].name, "stride");
    assert_null(s.p[2].dflt);  /* unset: the kernel */
    assert_false(s.p[2].required);
    ir_sig_parse("", &s);
    assert_int_equal(s.n, 0);
}

static void test_names(void **state)
{
    assert_string_equal(ir_opt_name(OPT_NONE), "none");
    assert_string_equal(ir_opt_name(OPT_ADAMW), "adamw");
    assert_string_equal(ir_schedule_name(SCHED_CONSTANT), "constant");
    assert_string_equal(ir_schedule_name(SCHED_COSINE), "cosine");
    IrOptim o = {.kind = OPT_SGD, .name = "sgd", .nhp = 2, .hpname = {"lr", "momentum"}, .hp = {0.1, 0.9}};
    assert_true(ir_hp(&o, "lr") == 0.1);
    assert_true(ir_hp(&o, "momentum") == 0.9);
}

/* ---- building graphs by hand ------------------------------------------------------ */

/* x : f32[4, 6] -> dense(5) -> relu, built without the front end. */
static IrGraph *hand_graph(Arena *a, const SrcFile *src)
{
    IrGraph *g = ir_new(a, src, "hand", (SrcLoc){0, 0});
    int x = ir_add_node(g, IR_INPUT, (SrcLoc){0, 1});
    g->nodes[x].name = "x";
    g->nodes[x].shape = shp(2, 4, 6, 0);
    int d = ir_add_node(g, IR_DENSE, (SrcLoc){2, 3});
    IrNode *n = &g->nodes[d];
    n->name = "dense_1";
    n->nin = 1;
    n->in[0] = x;
    n->a.units = 5;
    n->a.bias = true;
    n->shape = shp(2, 4, 5, 0);
    ir_add_param(g, d, "weight", IRP_WEIGHT, shp(2, 5, 6, 0));
    ir_add_param(g, d, "bias", IRP_BIAS, shp(1, 5, 0, 0));
    int r = ir_add_node(g, IR_RELU, (SrcLoc){4, 1});
    g->nodes[r].name = "relu_1";
    g->nodes[r].nin = 1;
    g->nodes[r].in[0] = d;
    g->nodes[r].shape = g->nodes[d].shape;
    ARENA_PUSH(a, g->outputs, g->noutputs, g->capoutputs);
    g->outputs[g->noutputs++] = (IrOutput){"y", r, (SrcLoc){4, 1}};
    return g;
}

static void test_build_graph(void **state)
{
    Arena *a = arena_new();
    SrcFile src = {"h.net", "abcdef", 6};
    IrGraph *g = hand_graph(a, &src);
    assert_int_equal(g->nnodes, 3);
    assert_int_equal(g->loss, -1);
    assert_int_equal(g->nodes[1].inst, -1);
    assert_int_equal(g->nodes[1].argloc[5].off, 2);  /* argument locations default to the node's */
    assert_int_equal(g->nparams, 2);
    assert_string_equal(g->params[0].name, "dense_1.weight");
    assert_string_equal(g->params[1].name, "dense_1.bias");
    assert_true(g->params[0].trainable);
    assert_int_equal(g->params[1].node, 1);
    assert_int_equal(g->nodes[1].nparam, 2);
    assert_int_equal(g->nodes[1].param[1], 1);
    int rm = ir_add_param(g, 1, "running_mean", IRP_RUNNING_MEAN, shp(1, 5, 0, 0));
    assert_false(g->params[rm].trainable);
    ir_verify(g, "test");  /* returns: the graph is valid */
    /* Many nodes: the arrays grow. */
    for (int i = 0; i < 1000; i++) {
        int id = ir_add_node(g, IR_RELU, (SrcLoc){0, 0});
        g->nodes[id].name = "r";
        g->nodes[id].nin = 1;
        g->nodes[id].in[0] = id - 1;
        g->nodes[id].shape = shp(1, 3, 0, 0);
    }
    assert_int_equal(g->nnodes, 1003);
    assert_int_equal(g->nodes[1002].in[0], 1001);
    ir_verify(g, "test");
    arena_free(a);
}

/* ---- FLOPs ------------------------------------------------------------------------ */

static void flops_of(const IrGraph *g, const char *node, int64_t fwd, int64_t bwd)
{
    int64_t f, b;
    ir_flops(g, fe_node(g, node), &f, &b);
    if (f != fwd || b != bwd)
        fail_msg("%s: flops %lld/%lld, expected %lld/%lld", node, (long long)f, (long long)b, (long long)fwd,
                 (long long)bwd);
}

/*
 * A multiply-add is 2.  Backward computes the weight gradient, and the input
 * gradient only when the input needs one (needs_grad, set by autodiff; set
 * by hand here, since these graphs stop after the shape pass).
 */
static void test_flops_dense(void **state)
{
    Fe *f = fe_ok("net n { input x : f32[784]; y = x -> dense(256) -> dense(10, bias = false); output y; }");
    flops_of(f->g, "dense_1", 2 * 256 * 784 + 256, 2 * 256 * 784 + 256);        /* 401,664 forward */
    flops_of(f->g, "dense_2", 2 * 10 * 256, 2 * 10 * 256);
    f->g->nodes[fe_node_id(f->g, "dense_1")].needs_grad = true;
    flops_of(f->g, "dense_2", 2 * 10 * 256, 2 * (2 * 10 * 256));                 /* and dx */
    fe_free(f);
    /* On [S, D]: every row. */
    f = fe_ok("net n { input x : f32[5, 12]; y = x -> dense(7); output y; }");
    flops_of(f->g, "dense_1", 2 * 5 * 7 * 12 + 5 * 7, 2 * 5 * 7 * 12 + 5 * 7);
    fe_free(f);
    /* Hand-built graph: input is a graph input. */
    Arena *a = arena_new();
    SrcFile src = {"h.net", "abcdef", 6};
    IrGraph *g = hand_graph(a, &src);
    int64_t fw, bw;
    ir_flops(g, &g->nodes[1], &fw, &bw);
    assert_int_equal(fw, 2 * 20 * 6 + 20);
    assert_int_equal(bw, 2 * 20 * 6 + 20);
    ir_flops(g, &g->nodes[0], &fw, &bw);  /* an input costs nothing */
    assert_int_equal(fw, 0);
    assert_int_equal(bw, 0);
    arena_free(a);
}

static void test_flops_conv(void **state)
{
    Fe *f = fe_ok("net n { input x : f32[1, 28, 28];\n"
                  "  y = x -> conv2d(6, kernel = 5, pad = 2) -> conv2d(4, kernel = 3, groups = 2, bias = false);\n"
                  "  output y; }");
    int64_t out1 = 6 * 28 * 28, out2 = 4 * 26 * 26;
    flops_of(f->g, "conv2d_1", 2 * out1 * 1 * 25 + out1, 2 * out1 * 25 + out1);   /* 239,904 */
    flops_of(f->g, "conv2d_2", 2 * out2 * 3 * 9, 2 * out2 * 3 * 9);               /* 3 input channels per group */
    f->g->nodes[fe_node_id(f->g, "conv2d_1")].needs_grad = true;
    flops_of(f->g, "conv2d_2", 2 * out2 * 3 * 9, 2 * (2 * out2 * 3 * 9));         /* and dx */
    fe_free(f);
}

/* The cost model of the other ops, per output (or input) element. */
static void test_flops_other_ops(void **state)
{
    Fe *f = fe_ok("net n { input x : f32[2, 6, 6]; label t : class[8];\n"
                  "  p = x -> maxpool2d(2); g = x -> global_avgpool; s = x -> sigmoid; b = x -> batchnorm;\n"
                  "  r = x -> relu; l = x -> flatten -> dense(8) -> layernorm; o = l -> softmax; m = mul(x, x);\n"
                  "  output p, g, s, b, r, l, o, m; loss cross_entropy(l, t); }");
    flops_of(f->g, "maxpool2d_1", 2 * 3 * 3 * 4, 2 * 3 * 3 * 4);
    flops_of(f->g, "global_avgpool_1", 72, 72);
    flops_of(f->g, "sigmoid_1", 4 * 72, 3 * 72);
    flops_of(f->g, "batchnorm_1", 2 * 72, 6 * 72);
    flops_of(f->g, "relu_1", 72, 72);
    flops_of(f->g, "flatten_1", 0, 0);
    flops_of(f->g, "layernorm_1", 5 * 8, 8 * 8);
    flops_of(f->g, "softmax_1", 3 * 8, 4 * 8);
    flops_of(f->g, "mul_1", 72, 2 * 72);
    flops_of(f->g, "loss_cross_entropy_1", 3 * 8, 2 * 8);
    fe_free(f);
}

/* A pool window far larger than its input: the count saturates instead of wrapping. */
static void test_flops_saturate(void **state)
{
    Fe *f = fe_ok("net n { input x : f32[1024, 1, 1]; y = x -> maxpool2d(1000000, pad = 500000); output y; }");
    flops_of(f->g, "maxpool2d_1", 1024 * (int64_t)1000000 * 1000000, 1024 * (int64_t)1000000 * 1000000);
    fe_free(f);
    f = fe_ok("net n { input x : f32[1073741824, 1, 1]; y = x -> maxpool2d(1000000, pad = 500000); output y; }");
    flops_of(f->g, "maxpool2d_1", INT64_MAX, INT64_MAX);
    fe_free(f);
}

/* ---- the verifier ------------------------------------------------------------------ */

/* Runs ir_verify on a broken graph in a child process: it must abort. */
static void expect_verify_dies(IrGraph *g)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(3);
        ir_verify(g, "test");
        _exit(0);  /* it returned: the test fails */
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGABRT);
}

static void test_verify_rejects(void **state)
{
    Arena *a = arena_new();
    SrcFile src = {"h.net", "abcdef", 6};
    IrGraph *g = hand_graph(a, &src);
    g->nodes[1].in[0] = 2;  /* reads a later node: not topological */
    expect_verify_dies(g);
    g->nodes[1].in[0] = 0;
    g->params[1].name = "dense_1.weight";  /* two parameters with one name */
    expect_verify_dies(g);
    g->params[1].name = "dense_1.bias";
    g->nodes[2].shape.dim[0] = 0;  /* an empty dimension */
    expect_verify_dies(g);
    g->nodes[2].shape.dim[0] = 4;
    g->loss = 2;  /* the loss must be a loss_sum */
    expect_verify_dies(g);
    g->loss = -1;
    ir_verify(g, "test");  /* repaired */
    arena_free(a);
}

/* Every graph the front end accepts passes the verifier (passes_run runs it too). */
static void test_verify_front_end_graphs(void **state)
{
    Fe *f = fe_ok("block res(x, c) { y = x -> conv2d(c, pad = same) -> batchnorm -> relu; return add(y, x); }\n"
                  "net n { input img : f32[4, 8, 8]; label t : class[3];\n"
                  "  y = img -> res(4) -> res(4) -> global_avgpool -> dense(3, name = \"fc\"); output y;\n"
                  "  loss cross_entropy(y, t); optimizer adam(); train { batch = 2; } }\n");
    ir_verify(f->g, "test");
    assert_int_equal(f->g->ninsts, 2);
    assert_int_equal(f->g->nparams, 2 * 6 + 2);
    fe_free(f);
}

/* ---- printing ---------------------------------------------------------------------- */

static char *print_text(const IrGraph *g)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    ir_print(out, g);
    fclose(out);
    return buf;
}

static void test_print(void **state)
{
    Fe *f = fe_ok("net tiny {\n"
                  "    input x : f32[1, 4, 4];\n"
                  "    label t : class[3];\n"
                  "    h = x -> conv2d(2, kernel = 3, pad = same, bias = false) -> batchnorm -> relu -> maxpool2d(2);\n"
                  "    y = h -> flatten -> dropout(0.25) -> dense(3, name = \"fc\");\n"
                  "    output y;\n"
                  "    loss cross_entropy(y, t);\n"
                  "    optimizer sgd(lr = 0.1, momentum = 0.9);\n"
                  "    train { batch = 4; epochs = 2; schedule = cosine; }\n"
                  "}\n");
    char *text = print_text(f->g);
    assert_string_equal(text,
        "net tiny {\n"
        "  %0 = input x : [1, 4, 4]    # 2:11\n"
        "  %1 = label t : class[3]    # 3:11\n"
        "  %2 = conv2d \"conv2d_1\" (%0) : [2, 4, 4]  filters=2 kernel=3x3 stride=1x1 pad=1,1,1,1(same) dilation=1x1 "
        "groups=1 bias=false    # 4:14\n"
        "        param conv2d_1.weight [2, 1, 3, 3]\n"
        "  %3 = batchnorm \"batchnorm_1\" (%2) : [2, 4, 4]  momentum=0.1 eps=1e-05    # 4:65\n"
        "        param batchnorm_1.weight [2]\n"
        "        param batchnorm_1.bias [2]\n"
        "        param batchnorm_1.running_mean [2] (not trained)\n"
        "        param batchnorm_1.running_var [2] (not trained)\n"
        "  %4 = relu \"relu_1\" (%3) : [2, 4, 4]    # 4:78\n"
        "  %5 = maxpool2d \"maxpool2d_1\" (%4) : [2, 2, 2]  kernel=2x2 stride=2x2 pad=0    # h, 4:86\n"
        "  %6 = flatten \"flatten_1\" (%5) : [8]    # 5:14\n"
        "  %7 = dropout \"dropout_1\" (%6) : [8]  p=0.25    # 5:25\n"
        "  %8 = dense \"fc\" (%7) : [3]  units=3 bias=true    # y, 5:42\n"
        "        param fc.weight [3, 8]\n"
        "        param fc.bias [3]\n"
        "  %9 = cross_entropy \"loss_cross_entropy_1\" (%8, %1) : []  weight=1    # 7:10\n"
        "  %10 = loss_sum \"loss\" (%9) : []    # 7:5\n"
        "  output y = %8\n"
        "  loss = %10\n"
        "  optimizer sgd lr=0.1 momentum=0.9 dampening=0 nesterov=0 weight_decay=0\n"
        "  train batch=4 epochs=2 seed=0 shuffle=true schedule=cosine step_size=1 gamma=0.1 warmup=0 clip_norm=0\n"
        "}\n");
    free(text);
    fe_free(f);
}

/* After lowering only, shapes are not known yet (printed empty), and there are no parameters. */
static void test_print_after_lower(void **state)
{
    Fe *f = fe_load("net n {\n  input x : f32[3];\n  y = x -> dense(2) -> leaky_relu(alpha = 0.2);\n  output y;\n}\n");
    fe_run(f, NULL, "lower");
    assert_non_null(f->g);
    char *text = print_text(f->g);
    assert_string_equal(text,
        "net n {\n"
        "  %0 = input x : [3]    # 2:9\n"
        "  %1 = dense \"dense_1\" (%0) : []  units=2 bias=true    # 3:12\n"
        "  %2 = leaky_relu \"leaky_relu_1\" (%1) : []  alpha=0.2    # y, 3:24\n"
        "  output y = %2\n"
        "  train batch=32 epochs=1 seed=0 shuffle=true schedule=constant step_size=1 gamma=0.1 warmup=0 clip_norm=0\n"
        "}\n");
    free(text);
    fe_free(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_numel),
        cmocka_unit_test(test_saturating_arithmetic),
        cmocka_unit_test(test_shape_helpers),
        cmocka_unit_test(test_op_table),
        cmocka_unit_test(test_signatures),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_build_graph),
        cmocka_unit_test(test_flops_dense),
        cmocka_unit_test(test_flops_conv),
        cmocka_unit_test(test_flops_other_ops),
        cmocka_unit_test(test_flops_saturate),
        cmocka_unit_test(test_verify_rejects),
        cmocka_unit_test(test_verify_front_end_graphs),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_print_after_lower),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
