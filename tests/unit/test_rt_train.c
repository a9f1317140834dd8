/*
 * test_rt_train.c - the train and eval commands of the standalone binary
 * (runtime/nnrt_train.c, nnrt_cli.c), driven through nnrt_cli_main.
 *
 * The model is a hand-written descriptor: a linear layer y = Wx + b with
 * softmax cross-entropy and SGD with momentum 0.9 (one optimizer state),
 * plus a non-trainable counter parameter that counts samples seen, like
 * batchnorm's running statistics.  It has the generated code's function
 * signatures, so every CLI path runs for real: data in every dtype, label
 * checks, shuffling, the learning-rate schedule, checkpoints, resuming,
 * NaN handling, eval and the confusion matrix.  A regression variant
 * (mse on f32 targets) covers float labels.
 *
 * Each command runs with stdout and stderr redirected to files in a
 * mkdtemp directory; tests assert on the words of the messages.
 */
#define _POSIX_C_SOURCE 200809L
#include "rt_test_util.h"

#include <fcntl.h>
#include <math.h>

#include "nnrt_cli_int.h"
#include "nnrt_threads.h"

/* ---- the fake model ------------------------------------------------------- */

enum { D = 4, K = 3, NP = K * D + K + 1, N = 30 };

typedef struct Fake {
    float p[NP];     /* fc.weight [K, D], fc.bias [K], seen.count [1] */
    float mom[NP];   /* momentum buffers, at the parameter offsets */
    float mom2[NP];  /* a second state, for a fake two-state optimizer */
    int64_t step;    /* optimizer steps */
    uint64_t seed;   /* set_seed */
    int max_batch;   /* from create */
    int train;       /* created with create_train */
    float *logits;   /* max_batch * K scratch */
} Fake;

static int64_t fake_nan_at = -1;    /* train_step returns a NaN loss at this step */
static int fake_calls;              /* train_step calls */
static float fake_first_x[64 * D];  /* inputs of the first train_step call */
static int fake_first_n;            /* its batch */
static float fake_first_lr;         /* its learning rate */
static int fake_max_n;              /* largest batch seen */
static int fake_unaligned;          /* calls whose input was not 64-byte aligned */

static size_t fake_bytes(int max_batch)
{
    return sizeof(Fake) + sizeof(float) * (size_t)max_batch * K;
}

static void *fake_make(void *arena, size_t bytes, int max_batch, int train, NnrtError *err)
{
    if (bytes < fake_bytes(max_batch)) {
        nnrt_errorf(err, "arena of %zu bytes is too small", bytes);
        return NULL;
    }
    Fake *f = arena;
    memset(f, 0, sizeof *f);
    f->max_batch = max_batch;
    f->train = train;
    f->logits = (float *)(f + 1);
    return f;
}

static void *fake_create(void *arena, size_t bytes, int max_batch, NnrtError *err)
{
    return fake_make(arena, bytes, max_batch, 0, err);
}

static void *fake_create_train(void *arena, size_t bytes, int max_batch, NnrtError *err)
{
    return fake_make(arena, bytes, max_batch, 1, err);
}

static float *fake_params(void *m)
{
    return ((Fake *)m)->p;
}

static float *fake_state(void *m, int k)
{
    return k == 0 ? ((Fake *)m)->mom : k == 1 ? ((Fake *)m)->mom2 : NULL;
}

static int64_t *fake_step(void *m)
{
    return &((Fake *)m)->step;
}

static void fake_set_seed(void *m, uint64_t seed)
{
    ((Fake *)m)->seed = seed;
}

static void linear(const Fake *f, int n, const float *x, float *y)
{
    for (int j = 0; j < n; j++)
        for (int k = 0; k < K; k++) {
            float s = f->p[K * D + k];
            for (int i = 0; i < D; i++)
                s += f->p[k * D + i] * x[j * D + i];
            y[j * K + k] = s;
        }
}

/* Counts a call whose input is not on the 64 bytes the command line gives it. */
static void fake_check_alignment(const float *in)
{
    if ((uintptr_t)in % 64 != 0)
        fake_unaligned++;
}

static int fake_forward(void *m, int n, const float *const *in, float *const *out)
{
    Fake *f = m;
    if (n < 1 || n > f->max_batch)
        return -1;
    fake_check_alignment(in[0]);
    linear(f, n, in[0], out[0]);
    return 0;
}

/* Mean softmax cross-entropy; dl gets d(loss)/d(logits). */
static float cross_entropy(const float *z, const int32_t *y, int n, float *dl)
{
    double loss = 0;
    for (int j = 0; j < n; j++) {
        const float *r = z + j * K;
        float mx = r[0], sum = 0;
        for (int k = 1; k < K; k++)
            mx = r[k] > mx ? r[k] : mx;
        for (int k = 0; k < K; k++)
            sum += expf(r[k] - mx);
        loss += logf(sum) + mx - r[y[j]];
        for (int k = 0; k < K; k++)
            dl[j * K + k] = (expf(r[k] - mx) / sum - (k == y[j])) / (float)n;
    }
    return (float)(loss / n);
}

/* Mean squared error over n * K values; dl gets its gradient. */
static float mse(const float *z, const float *y, int n, float *dl)
{
    double loss = 0;
    for (int i = 0; i < n * K; i++) {
        float e = z[i] - y[i];
        loss += (double)e * e;
        dl[i] = 2 * e / (float)(n * K);
    }
    return (float)(loss / (n * K));
}

static float fake_loss(Fake *f, int n, const float *x, const void *lab, int regression, float *dl)
{
    linear(f, n, x, f->logits);
    return regression ? mse(f->logits, lab, n, dl) : cross_entropy(f->logits, lab, n, dl);
}

/* SGD, momentum 0.9, on the trainable parameters (all but seen.count). */
static void fake_update(Fake *f, int n, const float *x, const float *dl, float lr)
{
    float g[NP] = {0};
    for (int j = 0; j < n; j++)
        for (int k = 0; k < K; k++) {
            for (int i = 0; i < D; i++)
                g[k * D + i] += dl[j * K + k] * x[j * D + i];
            g[K * D + k] += dl[j * K + k];
        }
    for (int i = 0; i < K * D + K; i++) {
        f->mom[i] = 0.9f * f->mom[i] + g[i];
        f->p[i] -= lr * f->mom[i];
    }
    f->p[K * D + K] += (float)n;
}

static void fake_record(int n, const float *x, float lr)
{
    if (fake_calls++ == 0) {
        memcpy(fake_first_x, x, sizeof(float) * (size_t)(n * D));
        fake_first_n = n;
        fake_first_lr = lr;
    }
    fake_max_n = n > fake_max_n ? n : fake_max_n;
}

static int train_step_impl(void *m, int n, const float *const *in, const void *const *lab, float lr, float *loss,
                           float *const *out, int regression)
{
    Fake *f = m;
    float dl[64 * K];
    if (!f->train || n < 1 || n > f->max_batch || n > 64)
        return -1;
    fake_check_alignment(in[0]);
    fake_record(n, in[0], lr);
    *loss = fake_loss(f, n, in[0], lab[0], regression, dl);
    if (out[0])
        memcpy(out[0], f->logits, sizeof(float) * (size_t)(n * K));
    fake_update(f, n, in[0], dl, lr);
    if (f->step == fake_nan_at) {
        *loss = NAN;
        f->p[0] = NAN;
    }
    f->step++;
    return 0;
}

static int fake_train_step(void *m, int n, const float *const *in, const void *const *lab, float lr, float *loss,
                           float *const *out)
{
    return train_step_impl(m, n, in, lab, lr, loss, out, 0);
}

static int reg_train_step(void *m, int n, const float *const *in, const void *const *lab, float lr, float *loss,
                          float *const *out)
{
    return train_step_impl(m, n, in, lab, lr, loss, out, 1);
}

static int evaluate_impl(void *m, int n, const float *const *in, const void *const *lab, float *loss,
                         float *const *out, int regression)
{
    Fake *f = m;
    float dl[64 * K];
    if (n < 1 || n > f->max_batch || n > 64)
        return -1;
    fake_check_alignment(in[0]);
    *loss = fake_loss(f, n, in[0], lab[0], regression, dl);
    memcpy(out[0], f->logits, sizeof(float) * (size_t)(n * K));
    return 0;
}

static int fake_evaluate(void *m, int n, const float *const *in, const void *const *lab, float *loss,
                         float *const *out)
{
    return evaluate_impl(m, n, in, lab, loss, out, 0);
}

static int reg_evaluate(void *m, int n, const float *const *in, const void *const *lab, float *loss,
                        float *const *out)
{
    return evaluate_impl(m, n, in, lab, loss, out, 1);
}

static const NnrtTensorDesc fake_inputs[] = {{"x", 1, {D}, D, 0}};
static const NnrtTensorDesc fake_outputs[] = {{"logits", 1, {K}, K, 0}};
static const NnrtTensorDesc fake_labels[] = {{"y", 0, {0}, 1, K}};
static const NnrtTensorDesc reg_labels[] = {{"target", 1, {K}, K, 0}};
static const NnrtParamDesc fake_param_desc[] = {
    {"fc.weight", 2, {K, D}, K * D, 0, NNRT_INIT_UNIFORM, 0.5f, 1},
    {"fc.bias", 1, {K}, K, K * D, NNRT_INIT_UNIFORM, 0.5f, 1},
    {"seen.count", 1, {1}, 1, K * D + K, NNRT_INIT_ZEROS, 0.0f, 0},
};
static const char *const fake_state_names[] = {"momentum_buffer"};

static const NnrtModelDesc fake_desc = {
    .name = "fake",
    .source = "fake.net",
    .netc_version = "test",
    .summary = "fake: a linear layer\n",
    .ninputs = 1,
    .noutputs = 1,
    .nlabels = 1,
    .inputs = fake_inputs,
    .outputs = fake_outputs,
    .labels = fake_labels,
    .nparams = 3,
    .params = fake_param_desc,
    .param_floats = NP,
    .arena_bytes = fake_bytes,
    .create = fake_create,
    .param_block = fake_params,
    .forward = fake_forward,
    .trainable = 1,
    .train = {.batch = 4, .epochs = 2, .seed = 7, .shuffle = 1, .schedule = NNRT_SCHED_CONSTANT, .step_size = 1,
              .gamma = 0.1, .warmup = 0, .clip_norm = 0, .lr = 0.1, .optimizer = "sgd"},
    .acc_output = 0,
    .acc_label = 0,
    .nstate = 1,
    .state_names = fake_state_names,
    .train_arena_bytes = fake_bytes,
    .create_train = fake_create_train,
    .state_block = fake_state,
    .step_counter = fake_step,
    .set_seed = fake_set_seed,
    .train_step = fake_train_step,
    .evaluate = fake_evaluate,
};

/* The regression variant: f32 targets [K], mse, no accuracy. */
static NnrtModelDesc regression_desc(void)
{
    NnrtModelDesc d = fake_desc;
    d.labels = reg_labels;
    d.acc_output = d.acc_label = -1;
    d.train_step = reg_train_step;
    d.evaluate = reg_evaluate;
    return d;
}

/* ---- files and runs ------------------------------------------------------- */

static char out_text[65536], err_text[65536]; /* stdout and stderr of the last run */
static uint8_t data_u8[N * D];  /* the training inputs, 0..255 */
static int64_t labels_i64[N];   /* argmax of the first K features */

/* Writes an .npy file of the given dtype descr ("<f4", "|u1", ...) and shape. */
static const char *write_npy(const char *name, const char *descr, int ndim, const int64_t *shape, const void *data,
                             size_t bytes)
{
    char dict[256], sh[128] = "";
    for (int i = 0; i < ndim; i++)
        snprintf(sh + strlen(sh), sizeof sh - strlen(sh), "%lld,%s", (long long)shape[i], i + 1 < ndim ? " " : "");
    int len = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, sh);
    while ((10 + len + 1) % 64)
        dict[len++] = ' ';
    dict[len++] = '\n';
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(len & 255),
                             (unsigned char)(len >> 8)};
    const char *path = tmp_path(name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fwrite(pre, 1, 10, f);
    fwrite(dict, 1, (size_t)len, f);
    if (bytes)
        fwrite(data, 1, bytes, f);
    fclose(f);
    return path;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    *len = fread(buf, 1, (size_t)n, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void slurp(const char *path, char *dst, size_t cap)
{
    size_t len = 0;
    char *s = read_all(path, &len);
    snprintf(dst, cap, "%s", s ? s : "");
    free(s);
}

/* Runs `fake ARGS...` with stdout and stderr captured; its exit status. */
static int run_cli(const NnrtModelDesc *d, const char *const *args)
{
    char *argv[64];
    int argc = 0;
    argv[argc++] = "fake";
    for (int i = 0; args[i]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    int fo = open(tmp_path("stdout.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int fe = open(tmp_path("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fo, 1);
    dup2(fe, 2);
    close(fo);
    close(fe);
    int rc = nnrt_cli_main(d, argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    slurp(tmp_path("stdout.txt"), out_text, sizeof out_text);
    slurp(tmp_path("stderr.txt"), err_text, sizeof err_text);
    return rc;
}

#define RUN(d, ...) run_cli((d), (const char *const[]){__VA_ARGS__, NULL})

static void assert_contains(const char *text, const char *word)
{
    if (!strstr(text, word)) {
        print_error("expected \"%s\" in:\n%s\n", word, text);
        fail();
    }
}

static int count_lines_starting(const char *text, const char *prefix)
{
    int n = 0;
    for (const char *s = text; s && *s; s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL)
        n += strncmp(s, prefix, strlen(prefix)) == 0;
    return n;
}

static int same_file(const char *a, const char *b)
{
    size_t la = 0, lb = 0;
    char *x = read_all(a, &la), *y = read_all(b, &lb);
    int same = x && y && la == lb && memcmp(x, y, la) == 0;
    free(x);
    free(y);
    return same;
}

/* Loads a checkpoint's tensors and metadata; the caller frees *buf. */
static void load_ckpt(const char *path, unsigned char **buf, NnrtStEntry *e, int *n, NnrtStMeta *m, int *nm)
{
    NnrtError err;
    size_t len;
    if (nnrt_st_load_file(path, buf, &len, e, 16, n, m, 16, nm, &err) != 0) {
        print_error("%s\n", err.msg);
        fail();
    }
}

static const NnrtStEntry *entry(const NnrtStEntry *e, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(e[i].name, name))
            return &e[i];
    return NULL;
}

static float entry_f32(const NnrtStEntry *e, int i)
{
    float v;
    memcpy(&v, e->data + 4 * i, 4);
    return v;
}

/* ---- fixtures ------------------------------------------------------------- */

/* The data set: x in 0..255 (uint8 and float32 copies), y = argmax of x[0..K). */
static void make_data(void)
{
    NnrtRng r;
    int64_t xs[2] = {N, D}, ys[1] = {N}, ts[2] = {10, D}, yt[1] = {10};
    float xf[N * D], yf[N];
    int32_t y32[N];
    uint8_t y8[N];
    nnrt_rng_seed(&r, 99);
    for (int i = 0; i < N * D; i++)
        xf[i] = data_u8[i] = (uint8_t)nnrt_rng_below(&r, 256);
    for (int j = 0; j < N; j++) {
        int best = 0;
        for (int k = 1; k < K; k++)
            best = data_u8[j * D + k] > data_u8[j * D + best] ? k : best;
        labels_i64[j] = best;
        yf[j] = (float)best;
        y32[j] = best;
        y8[j] = (uint8_t)best;
    }
    write_npy("x_u8.npy", "|u1", 2, xs, data_u8, sizeof data_u8);
    write_npy("x_f32.npy", "<f4", 2, xs, xf, sizeof xf);
    write_npy("y.npy", "<i8", 1, ys, labels_i64, sizeof labels_i64);
    write_npy("y_i32.npy", "<i4", 1, ys, y32, sizeof y32);
    write_npy("y_u8.npy", "|u1", 1, ys, y8, sizeof y8);
    write_npy("y_f32.npy", "<f4", 1, ys, yf, sizeof yf);
    write_npy("xt.npy", "|u1", 2, ts, data_u8, 10 * D);
    write_npy("yt.npy", "<i8", 1, yt, labels_i64, 10 * 8);
}

static int setup(void **state)
{
    if (tmpdir_make("train") < 0)
        return -1;
    make_data();
    return 0;
}

/* Each test starts with the hooks off. */
static int reset_hooks(void **state)
{
    fake_nan_at = -1;
    fake_calls = fake_first_n = fake_max_n = fake_unaligned = 0;
    fake_first_lr = 0;
    return 0;
}

#define SCALE "0.00392156862"

/* ---- tests ---------------------------------------------------------------- */

static void test_lr_schedule(void **state)
{
    NnrtTrainConfig c = fake_desc.train;
    assert_float_equal(nnrt_lr_at(&c, 0.1, 5, 3, 100), 0.1, 1e-12);
    c.schedule = NNRT_SCHED_STEP;
    c.step_size = 2;
    c.gamma = 0.5;
    const double want_step[6] = {1, 1, 0.5, 0.5, 0.25, 0.25};
    for (int e = 0; e < 6; e++)
        assert_float_equal(nnrt_lr_at(&c, 0.1, 6, e, 0), 0.1 * want_step[e], 1e-12);
    c.schedule = NNRT_SCHED_COSINE;
    assert_float_equal(nnrt_lr_at(&c, 0.1, 4, 0, 0), 0.1, 1e-12);
    assert_float_equal(nnrt_lr_at(&c, 0.1, 4, 1, 0), 0.1 * 0.5 * (1 + cos(3.14159265358979323846 / 4)), 1e-12);
    assert_float_equal(nnrt_lr_at(&c, 0.1, 4, 2, 0), 0.05, 1e-12);
    c.schedule = NNRT_SCHED_CONSTANT;
    c.warmup = 4;
    const double want_warm[6] = {0.25, 0.5, 0.75, 1, 1, 1};
    for (int s = 0; s < 6; s++)
        assert_float_equal(nnrt_lr_at(&c, 0.1, 4, 0, s), 0.1 * want_warm[s], 1e-12);
    c.schedule = NNRT_SCHED_STEP; /* both factors multiply */
    assert_float_equal(nnrt_lr_at(&c, 0.1, 6, 2, 1), 0.1 * 0.5 * 0.5, 1e-12);
}

/* The CLI passes the schedule's lr to train_step, and --lr overrides the base. */
static void test_lr_reaches_step(void **state)
{
    NnrtModelDesc d = fake_desc;
    d.train.warmup = 4;
    assert_int_equal(RUN(&d, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y.npy"), "--lr", "0.2",
                         "--epochs", "1", "--quiet"),
                     0);
    assert_float_equal(fake_first_lr, 0.05f, 1e-9);
}

static void test_usage_errors(void **state)
{
    const char *x = tmp_path("x_u8.npy"), *y = tmp_path("y.npy");
    assert_int_equal(RUN(&fake_desc, "--help"), 0);
    assert_contains(out_text, "fake train --data X --labels Y");
    assert_contains(out_text, "fake eval --weights W");
    assert_contains(out_text, "2 epochs, batch 4, sgd lr 0.1, seed 7");
    assert_int_equal(RUN(&fake_desc, "train", "--help"), 0);
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--bogus"), 2);
    assert_contains(err_text, "unknown option '--bogus'");
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--epochs", "0"), 2);
    assert_contains(err_text, "--epochs takes an integer from 1 to");
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--lr", "fast"), 2);
    assert_contains(err_text, "--lr takes a number");
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--batch", "2.5"), 2);
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--seed", "-1"), 2);
    assert_int_equal(RUN(&fake_desc, "train", "--data", x), 2);
    assert_contains(err_text, "needs --labels");
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--test-data", x), 2);
    assert_contains(err_text, "--test-data needs --test-labels");
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--init", "a", "--resume", "b"), 2);
    assert_int_equal(RUN(&fake_desc, "predict", "--input", x, "--output", "o.npy", "--epochs", "3"), 2);
    assert_contains(err_text, "predict does not take --epochs");
    assert_int_equal(RUN(&fake_desc, "eval", "--data", x, "--labels", y), 2);
    assert_contains(err_text, "needs --weights");
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--steps"), 2);
    assert_contains(err_text, "--steps needs a value");
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--save", "/nonexistent/dir/ck.st"), 1);
    assert_contains(err_text, "cannot write the checkpoint /nonexistent/dir/ck.st: directory '/nonexistent/dir/'");
    assert_int_equal(fake_calls, 0);
}

static void test_untrainable_net(void **state)
{
    NnrtModelDesc d = fake_desc;
    d.trainable = 0;
    d.evaluate = NULL;
    assert_int_equal(RUN(&d, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y.npy")), 2);
    assert_contains(err_text, "this net has no loss and optimizer, so it cannot be trained");
    assert_int_equal(RUN(&d, "eval", "--weights", "w", "--data", "x"), 2);
    assert_int_equal(RUN(&d, "--help"), 0);
    assert_contains(out_text, "train and eval need a net with a loss");
}

static void test_label_out_of_range(void **state)
{
    int64_t bad[N], shape[1] = {N};
    memcpy(bad, labels_i64, sizeof bad);
    bad[5] = 3;
    const char *y = write_npy("y_oob.npy", "<i8", 1, shape, bad, sizeof bad);
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", y), 1);
    assert_contains(err_text, y);
    assert_contains(err_text, "label of sample 5 is 3, out of range");
    assert_contains(err_text, "valid labels are [0, 3)");
    bad[5] = -1;
    write_npy("y_neg.npy", "<i8", 1, shape, bad, sizeof bad);
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y_neg.npy")), 1);
    assert_contains(err_text, "label of sample 5 is -1");
    float frac[N] = {0};
    frac[7] = 1.5f;
    write_npy("y_frac.npy", "<f4", 1, shape, frac, sizeof frac);
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y_frac.npy")),
                     1);
    assert_contains(err_text, "index 7 is 1.5, not a whole number");
    /* The test set is checked the same way, before any training. */
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y.npy"),
                         "--test-data", tmp_path("x_u8.npy"), "--test-labels", y),
                     1);
    assert_contains(err_text, "label of sample 5 is 3");
    assert_int_equal(fake_calls, 0);
}

static void test_label_count_and_shape(void **state)
{
    int64_t s29[1] = {N - 1}, s2[2] = {N, 3}, sx[2] = {N, 5};
    float onehot[N * 3] = {0}, wide[N * 5] = {0};
    const char *y29 = write_npy("y29.npy", "<i8", 1, s29, labels_i64, sizeof(int64_t) * (N - 1));
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", y29), 1);
    assert_contains(err_text, "y29.npy holds 29 labels, but");
    assert_contains(err_text, "x_u8.npy holds 30 samples");
    write_npy("y_onehot.npy", "<f4", 2, s2, onehot, sizeof onehot);
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y_onehot.npy")),
                     1);
    assert_contains(err_text, "holds labels of shape [30, 3], but label 'y' takes [N] (N class indices in [0, 3))");
    write_npy("x_wide.npy", "<f4", 2, sx, wide, sizeof wide);
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_wide.npy"), "--labels", tmp_path("y.npy")), 1);
    assert_contains(err_text, "holds data of shape [30, 5], but input 'x' takes [N, 4] (N samples of [4])");
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("missing.npy"), "--labels", tmp_path("y.npy")), 1);
    assert_contains(err_text, "missing.npy");
}

/* A vector input takes data of any per-sample shape with as many elements ([N, 2, 2] for [4]). */
static void test_vector_input_flattens(void **state)
{
    int64_t s[3] = {N, 2, 2};
    write_npy("x_square.npy", "|u1", 3, s, data_u8, sizeof data_u8);
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_square.npy"), "--labels", tmp_path("y.npy"),
                         "--save", tmp_path("sq.st"), "--quiet"),
                     0);
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y.npy"),
                         "--save", tmp_path("flat.st"), "--quiet"),
                     0);
    assert_true(same_file(tmp_path("sq.st"), tmp_path("flat.st")));
}

/* Every integer width and whole-number floats give the same labels, so the same weights. */
static void test_label_dtypes(void **state)
{
    const char *ys[4] = {"y.npy", "y_i32.npy", "y_u8.npy", "y_f32.npy"};
    const char *outs[4] = {"w_i64.st", "w_i32.st", "w_u8.st", "w_f32.st"};
    for (int i = 0; i < 4; i++)
        assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path(ys[i]),
                             "--save", tmp_path(outs[i]), "--quiet"),
                         0);
    for (int i = 1; i < 4; i++)
        assert_true(same_file(tmp_path(outs[0]), tmp_path(outs[i])));
}

/* uint8 data stays uint8: each batch is gathered and scaled on its own, same as float32 data. */
static void test_uint8_batches(void **state)
{
    NnrtArray a = {NNRT_U8, 2, {N, D}, N * D, data_u8};
    uint32_t rows[3] = {7, 0, 29};
    float dst[3 * D];
    uint32_t next[2] = {3, 12};
    nnrt_cli_gather(&a, D, rows, 3, next, 2, 0.5f, dst);
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < D; i++)
            assert_true(dst[j * D + i] == data_u8[rows[j] * D + i] * 0.5f);
    /* a batch big enough to be split over 2 threads, the next one's prefetch with it */
    enum { BN = 64, BD = 300 };
    static uint8_t big[BN * BD];
    static float bdst[BN * BD];
    uint32_t brows[BN], bnext[BN];
    for (int i = 0; i < BN * BD; i++)
        big[i] = (uint8_t)(i * 7 + i / BD);
    for (int j = 0; j < BN; j++) {
        brows[j] = (uint32_t)((j * 37) % BN);
        bnext[j] = (uint32_t)((j * 11) % BN);
    }
    NnrtArray ba = {NNRT_U8, 2, {BN, BD}, BN * BD, big};
    assert_int_equal(nnrt_threads_init(2), 2);
    nnrt_cli_gather(&ba, BD, brows, BN, bnext, BN, 0.25f, bdst);
    nnrt_threads_init(1);
    for (int j = 0; j < BN; j++)
        for (int i = 0; i < BD; i++)
            assert_true(bdst[j * BD + i] == big[brows[j] * BD + i] * 0.25f);
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y.npy"),
                         "--scale", SCALE, "--save", tmp_path("u8.st"), "--quiet"),
                     0);
    /* The first batch holds the first rows of the seed's first permutation, scaled. */
    NnrtRng r;
    uint32_t perm[N];
    nnrt_rng_seed(&r, 7);
    for (uint32_t i = 0; i < N; i++)
        perm[i] = i;
    nnrt_rng_shuffle_u32(&r, perm, N);
    assert_int_equal(fake_first_n, 4);
    assert_int_equal(fake_max_n, 4);
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < D; i++)
            assert_true(fake_first_x[j * D + i] == (float)data_u8[perm[j] * D + i] * (float)0.00392156862);
    assert_int_equal(fake_calls, 2 * 8); /* 2 epochs of ceil(30 / 4) steps: the last batch has 2 */
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_f32.npy"), "--labels", tmp_path("y.npy"),
                         "--scale", SCALE, "--save", tmp_path("f32.st"), "--quiet"),
                     0);
    assert_true(same_file(tmp_path("u8.st"), tmp_path("f32.st")));
}

static void test_shuffle_determinism(void **state)
{
    const char *x = tmp_path("x_u8.npy"), *y = tmp_path("y.npy");
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--save", tmp_path("s1.st"), "--quiet"), 0);
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--save", tmp_path("s2.st"), "--quiet"), 0);
    assert_true(same_file(tmp_path("s1.st"), tmp_path("s2.st")));
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--seed", "8", "--save", tmp_path("s3.st"),
                         "--quiet"),
                     0);
    assert_false(same_file(tmp_path("s1.st"), tmp_path("s3.st")));
    reset_hooks(NULL);
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--no-shuffle", "--quiet"), 0);
    for (int j = 0; j < 4; j++)
        for (int i = 0; i < D; i++)
            assert_true(fake_first_x[j * D + i] == (float)data_u8[j * D + i]);
}

static void test_checkpoint_contents(void **state)
{
    unsigned char *buf = NULL;
    NnrtStEntry e[16];
    NnrtStMeta m[16];
    int n = 0, nm = 0;
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y.npy"),
                         "--scale", SCALE, "--save", tmp_path("ck.st"), "--quiet"),
                     0);
    load_ckpt(tmp_path("ck.st"), &buf, e, &n, m, &nm);
    assert_int_equal(n, 5); /* 3 parameters, momentum for the 2 trainable ones */
    assert_non_null(entry(e, n, "fc.weight"));
    assert_non_null(entry(e, n, "fc.bias.momentum_buffer"));
    assert_null(entry(e, n, "seen.count.momentum_buffer"));
    const NnrtStEntry *w = entry(e, n, "fc.weight.momentum_buffer");
    assert_non_null(w);
    assert_int_equal(w->ndim, 2);
    assert_int_equal(w->shape[0], K);
    assert_int_equal(w->shape[1], D);
    assert_true(entry_f32(entry(e, n, "seen.count"), 0) == 2.0f * N);
    assert_string_equal(nnrt_cli_meta(m, nm, "netc_checkpoint"), "1");
    assert_string_equal(nnrt_cli_meta(m, nm, "net"), "fake");
    assert_string_equal(nnrt_cli_meta(m, nm, "optimizer"), "sgd");
    assert_string_equal(nnrt_cli_meta(m, nm, "step"), "16");
    assert_string_equal(nnrt_cli_meta(m, nm, "epoch"), "2");
    assert_string_equal(nnrt_cli_meta(m, nm, "epoch_samples"), "0");
    assert_string_equal(nnrt_cli_meta(m, nm, "seed"), "7");
    /* The generator after two epochs' permutations. */
    NnrtRng r;
    uint32_t perm[N];
    char want[128];
    nnrt_rng_seed(&r, 7);
    for (int ep = 0; ep < 2; ep++) {
        for (uint32_t i = 0; i < N; i++)
            perm[i] = i;
        nnrt_rng_shuffle_u32(&r, perm, N);
    }
    snprintf(want, sizeof want, "%016llx %016llx %016llx %016llx", (unsigned long long)r.s[0],
             (unsigned long long)r.s[1], (unsigned long long)r.s[2], (unsigned long long)r.s[3]);
    assert_string_equal(nnrt_cli_meta(m, nm, "rng"), want);
    free(buf);
}

/* Training E epochs straight equals stopping (at an epoch end, inside an epoch, often) and resuming. */
static void test_resume_bit_identical(void **state)
{
    const char *x = tmp_path("x_u8.npy"), *y = tmp_path("y.npy");
    NnrtModelDesc d = fake_desc;
    d.train.schedule = NNRT_SCHED_COSINE; /* the lr depends on epoch and --epochs */
    d.train.warmup = 5;
    assert_int_equal(RUN(&d, "train", "--data", x, "--labels", y, "--scale", SCALE, "--epochs", "4", "--save",
                         tmp_path("straight.st"), "--quiet"),
                     0);
    assert_int_equal(count_lines_starting(out_text, "epoch "), 4);
    /* Half, at an epoch boundary (2 epochs x 8 steps), then the rest. */
    assert_int_equal(RUN(&d, "train", "--data", x, "--labels", y, "--scale", SCALE, "--epochs", "4", "--steps",
                         "16", "--save", tmp_path("half.st"), "--quiet"),
                     0);
    assert_int_equal(count_lines_starting(out_text, "epoch "), 2);
    assert_false(same_file(tmp_path("straight.st"), tmp_path("half.st")));
    assert_int_equal(RUN(&d, "train", "--data", x, "--labels", y, "--scale", SCALE, "--epochs", "4", "--resume",
                         tmp_path("half.st"), "--save", tmp_path("half.st"), "--quiet"),
                     0);
    assert_contains(out_text, "epoch 3/4");
    assert_true(same_file(tmp_path("straight.st"), tmp_path("half.st")));
    /* Stopping every 3 steps, inside epochs, and resuming each time. */
    assert_int_equal(RUN(&d, "train", "--data", x, "--labels", y, "--scale", SCALE, "--epochs", "4", "--steps", "3",
                         "--save", tmp_path("chunks.st"), "--quiet"),
                     0);
    for (int i = 0; i < 12; i++)
        assert_int_equal(RUN(&d, "train", "--data", x, "--labels", y, "--scale", SCALE, "--epochs", "4", "--steps",
                             "3", "--resume", tmp_path("chunks.st"), "--save", tmp_path("chunks.st"), "--quiet"),
                         0);
    assert_contains(err_text, "already holds 4 epochs");
    assert_true(same_file(tmp_path("straight.st"), tmp_path("chunks.st")));
}

/* The mid-epoch checkpoint records where the epoch stopped. */
static void test_steps_limit(void **state)
{
    unsigned char *buf = NULL;
    NnrtStEntry e[16];
    NnrtStMeta m[16];
    int n = 0, nm = 0;
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y.npy"),
                         "--steps", "3", "--save", tmp_path("steps.st")),
                     0);
    assert_int_equal(fake_calls, 3);
    assert_contains(err_text, "stopped after 3 steps (--steps), 12 samples into epoch 1");
    assert_contains(out_text, "(stopped at sample 12 of 30)");
    load_ckpt(tmp_path("steps.st"), &buf, e, &n, m, &nm);
    assert_string_equal(nnrt_cli_meta(m, nm, "step"), "3");
    assert_string_equal(nnrt_cli_meta(m, nm, "epoch"), "0");
    assert_string_equal(nnrt_cli_meta(m, nm, "epoch_samples"), "12");
    free(buf);
}

/* A NaN loss stops at once, exit 1, and leaves the last epoch's checkpoint alone. */
static void test_nan_keeps_checkpoint(void **state)
{
    const char *x = tmp_path("x_u8.npy"), *y = tmp_path("y.npy");
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--epochs", "1", "--save",
                         tmp_path("one.st"), "--quiet"),
                     0);
    fake_nan_at = 10; /* the 11th step: epoch 2, batch 3 */
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--epochs", "3", "--save",
                         tmp_path("nan.st"), "--quiet"),
                     1);
    assert_contains(err_text, "the loss is NaN at step 11 (epoch 2 of 3, batch 3 of 8)");
    assert_contains(err_text, "nan.st was not overwritten; it holds the last good state: epoch 1, step 8");
    assert_int_equal(count_lines_starting(out_text, "epoch "), 1);
    assert_true(same_file(tmp_path("one.st"), tmp_path("nan.st")));
    fake_nan_at = 2;
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--save", tmp_path("nan0.st")), 1);
    assert_contains(err_text, "nan0.st was not written (no epoch finished)");
    assert_int_equal(access(tmp_path("nan0.st"), F_OK), -1);
    /* Resumed into a new file: that file holds nothing yet; saving in place keeps the resumed state. */
    fake_nan_at = 9;
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--epochs", "3", "--resume",
                         tmp_path("one.st"), "--save", tmp_path("nan1.st")),
                     1);
    assert_contains(err_text, "nan1.st was not written (no epoch finished)");
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--epochs", "3", "--resume",
                         tmp_path("one.st"), "--save", tmp_path("one.st")),
                     1);
    assert_contains(err_text, "one.st was not overwritten; it holds the last good state: epoch 1, step 8");
}

/* Progress lines on stderr when not a terminal; one epoch line each on stdout, test metrics included. */
static void test_epoch_lines(void **state)
{
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y.npy"),
                         "--test-data", tmp_path("xt.npy"), "--test-labels", tmp_path("yt.npy"), "--scale", SCALE,
                         "--epochs", "3"),
                     0);
    assert_int_equal(count_lines_starting(out_text, "epoch "), 3);
    assert_contains(out_text, "epoch 1/3  loss ");
    assert_contains(out_text, "  acc ");
    assert_contains(out_text, "  test loss ");
    assert_contains(out_text, "  test acc ");
    assert_contains(out_text, " samples/s  elapsed ");
    assert_null(strchr(out_text, '\r'));
    assert_null(strchr(err_text, '\r'));
    assert_contains(err_text, "fake: training on 30 samples (test: 10), 3 epochs of 8 steps, batch 4, sgd lr 0.1");
    assert_contains(err_text, "epoch 2/3  step 4/8  loss ");
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y.npy"),
                         "--quiet"),
                     0);
    assert_string_equal(err_text, "");
    assert_int_equal(count_lines_starting(out_text, "epoch "), 2);
}

/* predict, eval and --init take a checkpoint as weights (its optimizer state skipped). */
static void test_checkpoint_as_weights(void **state)
{
    const char *x = tmp_path("x_u8.npy"), *y = tmp_path("y.npy"), *ck = tmp_path("w.st");
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--scale", SCALE, "--epochs", "5",
                         "--save", ck, "--quiet"),
                     0);
    assert_int_equal(RUN(&fake_desc, "predict", "--weights", ck, "--input", x, "--scale", SCALE, "--output",
                         tmp_path("pred.npy"), "--print", "1"),
                     0);
    assert_contains(out_text, "sample 0: class");
    assert_int_equal(RUN(&fake_desc, "eval", "--weights", ck, "--data", x, "--labels", y, "--scale", SCALE), 0);
    assert_contains(out_text, "loss ");
    assert_contains(out_text, "accuracy ");
    assert_contains(out_text, "/30)  30 samples in");
    char first[256] = "";
    size_t len = (size_t)(strstr(out_text, "  30 samples") - out_text);
    assert_true(len < sizeof first);
    memcpy(first, out_text, len);
    assert_int_equal(RUN(&fake_desc, "eval", "--weights", ck, "--data", x, "--labels", y, "--scale", SCALE,
                         "--batch", "7", "--confusion"),
                     0);
    assert_contains(out_text, first); /* the batch size does not change the result */
    assert_contains(out_text, "confusion matrix (rows: true class, columns: predicted class)\ntrue\\pred");
    assert_contains(out_text, "  recall\n");
    assert_int_equal(count_lines_starting(out_text, "        0 "), 1);
    assert_int_equal(count_lines_starting(out_text, "        2 "), 1);
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--init", ck, "--epochs", "1", "--quiet"),
                     0);
    /* A weights file is not a checkpoint. */
    float p[NP] = {0};
    int64_t ws[2] = {K, D}, bs[1] = {K}, cs[1] = {1};
    NnrtStOut t[3] = {{"fc.weight", 2, ws, p}, {"fc.bias", 1, bs, p}, {"seen.count", 1, cs, p}};
    NnrtError err;
    assert_int_equal(nnrt_st_save(tmp_path("plain.st"), t, 3, NULL, 0, &err), 0);
    assert_int_equal(RUN(&fake_desc, "eval", "--weights", tmp_path("plain.st"), "--data", x, "--labels", y), 0);
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--resume", tmp_path("plain.st")), 1);
    assert_contains(err_text, "plain.st is a weights file, not a netc checkpoint");
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--resume", ck, "--seed", "3"), 2);
    assert_contains(err_text, "--seed 3 differs from the seed 7");
}

/* A checkpoint of another net or optimizer is refused with the reason. */
static void test_foreign_checkpoint(void **state)
{
    const char *x = tmp_path("x_u8.npy"), *y = tmp_path("y.npy");
    NnrtModelDesc other = fake_desc;
    other.name = "other";
    assert_int_equal(RUN(&other, "train", "--data", x, "--labels", y, "--steps", "2", "--save", tmp_path("o.st")), 0);
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--resume", tmp_path("o.st")), 1);
    assert_contains(err_text, "o.st is a checkpoint of net 'other', not 'fake'");
    NnrtModelDesc adam = fake_desc;
    static const char *const adam_states[] = {"exp_avg", "exp_avg_sq"};
    adam.train.optimizer = "adam";
    adam.nstate = 2;
    adam.state_names = adam_states;
    assert_int_equal(RUN(&fake_desc, "train", "--data", x, "--labels", y, "--steps", "2", "--save",
                         tmp_path("sgd.st")),
                     0);
    assert_int_equal(RUN(&adam, "train", "--data", x, "--labels", y, "--resume", tmp_path("sgd.st")), 1);
    assert_contains(err_text, "was trained with sgd, but this net uses adam; start from its weights with --init");
    /* As weights, another optimizer's checkpoint is fine. */
    assert_int_equal(RUN(&adam, "eval", "--weights", tmp_path("sgd.st"), "--data", x, "--labels", y), 0);
}

/* f32 targets: the label's per-sample shape is checked, there is no accuracy. */
static void test_regression_labels(void **state)
{
    NnrtModelDesc d = regression_desc();
    float t[N * K], t4[N * (K + 1)];
    int64_t s[2] = {N, K}, s4[2] = {N, K + 1};
    for (int i = 0; i < N * K; i++)
        t[i] = (float)(i % 7) / 7.0f;
    memset(t4, 0, sizeof t4);
    write_npy("t.npy", "<f4", 2, s, t, sizeof t);
    write_npy("t4.npy", "<f4", 2, s4, t4, sizeof t4);
    assert_int_equal(RUN(&d, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("t4.npy"), "--scale",
                         SCALE),
                     1);
    assert_contains(err_text, "holds data of shape [30, 4], but label 'target' takes [N, 3] (N samples of [3])");
    assert_int_equal(RUN(&d, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("t.npy"), "--scale",
                         SCALE, "--save", tmp_path("reg.st"), "--quiet"),
                     0);
    assert_null(strstr(out_text, "acc"));
    assert_int_equal(RUN(&d, "eval", "--weights", tmp_path("reg.st"), "--data", tmp_path("x_u8.npy"), "--labels",
                         tmp_path("t.npy"), "--scale", SCALE),
                     0);
    assert_null(strstr(out_text, "accuracy"));
    assert_int_equal(RUN(&d, "eval", "--weights", tmp_path("reg.st"), "--data", tmp_path("x_u8.npy"), "--labels",
                         tmp_path("t.npy"), "--confusion"),
                     2);
    t[4] = NAN;
    write_npy("tnan.npy", "<f4", 2, s, t, sizeof t);
    assert_int_equal(RUN(&d, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("tnan.npy")), 1);
    assert_contains(err_text, "label 'target' of sample 1 is nan");
}

/*
 * train, eval and predict hand the net 64-byte-aligned inputs (the batch-1
 * GEMV is 0.4 us slower on malloc's 16 bytes), whatever the batch's size.
 */
static void test_batches_aligned(void **state)
{
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y.npy"),
                         "--scale", SCALE, "--epochs", "1", "--batch", "3", "--save", tmp_path("al.st"), "--quiet"),
                     0);
    assert_int_equal(RUN(&fake_desc, "eval", "--weights", tmp_path("al.st"), "--data", tmp_path("x_u8.npy"),
                         "--labels", tmp_path("y.npy"), "--scale", SCALE, "--batch", "5"),
                     0);
    assert_int_equal(RUN(&fake_desc, "predict", "--weights", tmp_path("al.st"), "--input", tmp_path("x_u8.npy"),
                         "--scale", SCALE, "--batch", "7", "--output", tmp_path("al.npy")),
                     0);
    assert_true(fake_calls > 0);
    assert_int_equal(fake_unaligned, 0);
}

/* Training learns: the fake model separates the classes after a few epochs. */
static void test_training_learns(void **state)
{
    assert_int_equal(RUN(&fake_desc, "train", "--data", tmp_path("x_u8.npy"), "--labels", tmp_path("y.npy"),
                         "--scale", SCALE, "--epochs", "60", "--lr", "0.5", "--save", tmp_path("learn.st"),
                         "--quiet"),
                     0);
    assert_int_equal(RUN(&fake_desc, "eval", "--weights", tmp_path("learn.st"), "--data", tmp_path("x_u8.npy"),
                         "--labels", tmp_path("y.npy"), "--scale", SCALE),
                     0);
    double acc = atof(strstr(out_text, "accuracy ") + 9);
    assert_true(acc >= 80.0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_lr_schedule, reset_hooks),
        cmocka_unit_test_setup(test_lr_reaches_step, reset_hooks),
        cmocka_unit_test_setup(test_usage_errors, reset_hooks),
        cmocka_unit_test_setup(test_untrainable_net, reset_hooks),
        cmocka_unit_test_setup(test_label_out_of_range, reset_hooks),
        cmocka_unit_test_setup(test_label_count_and_shape, reset_hooks),
        cmocka_unit_test_setup(test_vector_input_flattens, reset_hooks),
        cmocka_unit_test_setup(test_label_dtypes, reset_hooks),
        cmocka_unit_test_setup(test_uint8_batches, reset_hooks),
        cmocka_unit_test_setup(test_shuffle_determinism, reset_hooks),
        cmocka_unit_test_setup(test_checkpoint_contents, reset_hooks),
        cmocka_unit_test_setup(test_resume_bit_identical, reset_hooks),
        cmocka_unit_test_setup(test_steps_limit, reset_hooks),
        cmocka_unit_test_setup(test_nan_keeps_checkpoint, reset_hooks),
        cmocka_unit_test_setup(test_epoch_lines, reset_hooks),
        cmocka_unit_test_setup(test_checkpoint_as_weights, reset_hooks),
        cmocka_unit_test_setup(test_batches_aligned, reset_hooks),
        cmocka_unit_test_setup(test_foreign_checkpoint, reset_hooks),
        cmocka_unit_test_setup(test_regression_labels, reset_hooks),
        cmocka_unit_test_setup(test_training_learns, reset_hooks),
    };
    return cmocka_run_group_tests(tests, setup, tmpdir_remove);
}
