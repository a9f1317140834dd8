/*
 * emit_shard.c — the sharded forward pass and training step: when a net
 * cuts its batch into parts that each run every layer on a thread of
 * their own (emit_infer_shards, emit_train_shards: the policy), the memory
 * each part gets (the arena macros, the statements of create and
 * create_train), the update's sum of the training parts' gradients, and
 * forward and train_step themselves.  emit_api.c and emit_train.c emit
 * the rest of the API and call these.
 */
#include "emit.h"
#include "emit_int.h"
#include "summary.h"

#include <stdlib.h>
#include <string.h>

/*
 * Data-parallel shards of the training step.  train_step cuts the batch
 * into SHARDS fixed parts; each part runs the whole forward and
 * backward pass on its own thread, in memory of its own (workspace, GEMM
 * packing, im2col, gradients), and the parts' gradients are added, in
 * shard order and weighted by their share of the batch, inside the
 * optimizer update.  Kernels within a shard run serially.  A core so keeps
 * its samples in its own caches from the first layer to the last; split
 * kernel by kernel, every layer pulled the other core's lines across (see
 * docs/performance.md).  The number of shards is fixed at compile time, so
 * the sums, and the results, are the same for every thread count.  Nets
 * that couple the samples of a batch in training (batchnorm's batch
 * statistics; dropout's mask stream runs over the whole batch) keep one
 * shard.  So do nets whose parameters outweigh their activations (an
 * MLP): every shard writes a whole gradient and the update reads them all,
 * which costs more than the activations' trips between cores save
 * (fashion_mlp: 10% slower at one thread, no faster at two).  The rule:
 * shard when the training workspace of a `train { batch }` batch is at
 * least SHARD_ACT_RATIO times the trainable parameters.
 * NETC_TRAIN_SHARDS=N at compile time sets the count for any net that can
 * be sharded (1 turns shards off), for comparisons.
 */
enum {
    SHARDS = 2, SHARDS_MAX = 16, SHARD_ACT_RATIO = 4,
    INFER_SHARD_FLOPS = 262144,      /* forward FLOPs of a batch below which inference keeps one shard */
    INFER_SHARD_PARAMS = 1 << 20,    /* parameter floats (4 MiB) up to which inference shards anyway */
};

/*
 * The shard count: the environment variable's if set (clamped to
 * [1, SHARDS_MAX]), else SHARDS when the policy found sharding worth it.
 */
static int shard_rule(const char *env, bool worth)
{
    const char *v = getenv(env);
    if (v && *v) {
        int n = atoi(v);
        return n < 1 ? 1 : n > SHARDS_MAX ? SHARDS_MAX : n;
    }
    return worth ? SHARDS : 1;
}

/* Whether `act` floats of workspace (a `train { batch }` batch's) are at least SHARD_ACT_RATIO times `params`. */
static bool act_outweighs(int64_t act, int64_t params)
{
    return act >= ir_mul_sat(params, SHARD_ACT_RATIO);
}

int emit_train_shards(const IrGraph *g)
{
    if (!emit_can_train(g))
        return 1;
    for (int i = 0; i < g->nforward; i++)
        if (g->nodes[i].op == IR_BATCHNORM || g->nodes[i].op == IR_DROPOUT)
            return 1;
    return shard_rule("NETC_TRAIN_SHARDS",
                      act_outweighs(ir_mul_sat(g->work_floats[PLAN_TRAIN], g->train.batch), g->trainable_floats));
}

/*
 * The forward pass can run in shards too (emit_infer_shards): each part
 * of the batch runs every layer on its own thread and workspace.  Every
 * inference kernel computes a sample from that sample alone, so this
 * changes no result; with one thread, or a batch smaller than the shard
 * count, forward runs the whole batch at once as before.  The training
 * rule decides, on the inference workspace and all the parameters; and
 * since inference writes no gradient, a net whose parameters fit in
 * INFER_SHARD_PARAMS shards too (each core then reads all of them, from
 * the shared L3, instead of its half): the forward passes of 64 samples at
 * 2 threads went from 104 to 79 us (autoencoder), 27 to 19 (regression)
 * and 70–82 to 69 (fashion_mlp; docs/performance.md).  Not below INFER_SHARD_FLOPS per batch, where
 * the dispatch costs more than it spreads (xor: 1.1 -> 1.6 us).
 * NETC_INFER_SHARDS=N at compile time sets the count (1 turns shards off).
 */
int emit_infer_shards(const IrGraph *g)
{
    SummaryTotals t;
    summary_totals(g, &t);
    bool cached = g->param_floats <= INFER_SHARD_PARAMS && ir_mul_sat(t.fwd_flops, g->train.batch) >= INFER_SHARD_FLOPS;
    return shard_rule("NETC_INFER_SHARDS",
                      cached || act_outweighs(ir_mul_sat(g->work_floats[PLAN_INFER], g->train.batch), g->param_floats));
}

/* Floats of the workspaces of `shards` parts of `batch` samples, `per` floats a sample: ceil(batch / shards) each. */
int64_t emit_work_total(int64_t per, int shards, int64_t batch)
{
    return shards * ((batch + shards - 1) / shards) * per;
}

/* Floats of each extra shard's im2col buffer (as large as any the model has), or 0. */
static int64_t shard_col_floats(const IrGraph *g)
{
    return g->train_col_floats > g->col_floats ? g->train_col_floats : g->col_floats;
}

/*
 * Bytes the training arena holds for the training shards past the first:
 * each one's gradients, GEMM packing (one thread's) and im2col buffer.
 * Their workspaces are in the training workspace (<NET>_TRAIN_WORK_TOTAL).
 */
int64_t emit_shard_bytes(const IrGraph *g)
{
    int64_t col = shard_col_floats(g);
    return (emit_train_shards(g) - 1) *
           (4 * g->trainable_floats + emit_pack_bound(g, true) + (col ? 4 * col + 4 : 0) + 3 * 64);
}

/* The same for the inference shards: each one's GEMM packing and im2col buffer. */
int64_t emit_infer_shard_bytes(const IrGraph *g)
{
    return (emit_infer_shards(g) - 1) * (emit_pack_bound(g, false) + 4 * g->col_floats + 4 + 2 * 64);
}

/* "((size_t)S * (((size_t)(B) + S-1) / S) * PER)": emit_work_total in C. */
static const char *work_total_c(const IrGraph *g, int shards, int64_t per)
{
    if (shards == 1)
        return arena_printf(g->arena, "((size_t)(B) * %lld)", (long long)per);
    return arena_printf(g->arena, "((size_t)%d * (((size_t)(B) + %d) / %d) * %lld)", shards, shards - 1, shards,
                        (long long)per);
}

/* NET_INFER_SHARDS, NET_WORK_TOTAL(B) and NET_INFER_SHARD_BYTES, for NET_ARENA_BYTES(B). */
void emit_infer_shard_macros(FILE *out, const IrGraph *g, const char *U)
{
    int s = emit_infer_shards(g);
    fprintf(out, "#define %s_INFER_SHARDS %d  /* parts of a forward batch, each on a thread of its own */\n", U, s);
    fprintf(out, "#define %s_WORK_TOTAL(B) %s  /* workspace floats%s */\n", U, work_total_c(g, s, g->work_floats[PLAN_INFER]),
            s > 1 ? arena_printf(g->arena, ": ceil(B / %d) samples a shard", s) : "");
    fprintf(out, "#define %s_INFER_SHARD_BYTES ((size_t)%lld)  /* the shards' GEMM packing and im2col past the first */\n",
            U, (long long)emit_infer_shard_bytes(g));
}

/* NET_TRAIN_SHARDS, NET_TRAIN_WORK_TOTAL(B), NET_TRAIN_GROW(B) and NET_SHARD_BYTES, for NET_TRAIN_ARENA_BYTES(B). */
void emit_shard_macros(FILE *out, const IrGraph *g, const char *U)
{
    int s = emit_train_shards(g);
    fprintf(out, "#define %s_TRAIN_SHARDS %d  /* parts of a training batch, each on a thread of its own */\n", U, s);
    fprintf(out, "#define %s_TRAIN_WORK_TOTAL(B) %s  /* training workspace floats%s */\n", U,
            work_total_c(g, s, g->work_floats[PLAN_TRAIN]), s > 1 ? arena_printf(g->arena, ": ceil(B / %d) samples a shard", s) : "");
    fprintf(out, "/* Floats create_train grows the workspace by. */\n"
                 "#define %s_TRAIN_GROW(B) \\\n"
                 "    (%s_TRAIN_WORK_TOTAL(B) > %s_WORK_TOTAL(B) ? %s_TRAIN_WORK_TOTAL(B) - %s_WORK_TOTAL(B) : 0)\n",
            U, U, U, U, U);
    fprintf(out, "#define %s_SHARD_BYTES ((size_t)%lld)  /* the shards' gradients, packing and im2col past the first */\n",
            U, (long long)emit_shard_bytes(g));
}

/*
 * The shards' gradients added into the model's (shard 0's), each weighted
 * by its share of the batch, in shard order: <net>_reduce_range over a
 * range of parameters.  The update runs it on its chunk first; with
 * gradient clipping, train_step runs it over all of them before the norm
 * (on one thread, as the clipping itself).
 */
void emit_shard_reduce(Emitter *e, const IrGraph *g, int S)
{
    const char *N = g->name;
    fprintf(e->out, "/* The gradient of the whole batch from the %d shards', for parameters [i0, i1). */\n", S);
    emit_line(e, "static void %s_reduce_range(%s_model *m, const float *part, size_t i0, size_t i1)", N, N);
    emit_line(e, "{");
    emit_line(e, "float *restrict gr = m->grad;");
    emit_line(e, "for (size_t i = i0; i < i1; i++) {");
    emit_line(e, "float sum = part[0] * gr[i];");
    for (int k = 1; k < S; k++)
        emit_line(e, "sum += part[%d] * m->shard[%d].grad[i];", k, k);
    emit_line(e, "gr[i] = sum;");
    emit_line(e, "}");
    emit_line(e, "}");
    emit_blank(e);
}

/* create_train's statement that grows the model's workspace to the training plan's (and the shards'). */
const char *emit_shard_grow(const IrGraph *g)
{
    const char *U = emit_upper(g->arena, g->name);
    return arena_printf(g->arena, "    nnrt_arena_alloc(&a, sizeof(float) * %s_TRAIN_GROW(max_batch), 64);"
                                  "  /* the workspace grows */\n", U);
}

/* create_train's statements that hand each training shard its memory; shard 0 uses the model's own. */
const char *emit_shard_memory(const IrGraph *g)
{
    const char *U = emit_upper(g->arena, g->name);
    int s = emit_train_shards(g);
    if (s == 1)
        return "";
    long long col = (long long)shard_col_floats(g);
    return arena_printf(g->arena,
                        "    m->shard[0].grad = m->grad;\n"
                        "    m->shard[0].pack = m->pack;\n"
                        "    m->shard[0].col = m->col;\n"
                        "    for (int s = 1; s < %d; s++) {\n"
                        "        m->shard[s].grad = nnrt_arena_alloc(&a, sizeof(float) * %s_TRAINABLE_FLOATS, 64);\n"
                        "        m->shard[s].pack = nnrt_arena_alloc(&a, %s_TRAIN_PACK_BYTES, 64);\n"
                        "        m->shard[s].col = %s;\n"
                        "        memset(m->shard[s].grad, 0, sizeof(float) * %s_TRAINABLE_FLOATS);\n"
                        "    }\n"
                        "    for (int s = 0; s < %d; s++)\n"
                        "        m->shard[s].work = m->work + (size_t)s * (((size_t)max_batch + %d) / %d) * %lld;\n",
                        s, U, U, col ? arena_printf(g->arena, "nnrt_arena_alloc(&a, sizeof(float) * %lld + 4, 64)", col) : "NULL",
                        U, s, s - 1, s, (long long)g->work_floats[PLAN_TRAIN]);
}

/*
 * create's statements: the inference shards' packing and im2col (before
 * the workspace, which create_train grows in place), then the workspace,
 * then each shard's part of it.
 */
const char *emit_infer_shard_memory(const IrGraph *g)
{
    const char *U = emit_upper(g->arena, g->name);
    int s = emit_infer_shards(g);
    const char *work = arena_printf(g->arena, "    m->work = nnrt_arena_alloc(&a, sizeof(float) * %s_WORK_TOTAL(max_batch), 64);\n", U);
    if (s == 1)
        return work;
    return arena_printf(g->arena,
                        "    for (int s = 1; s < %d; s++) {\n"
                        "        m->ishard[s].pack = nnrt_arena_alloc(&a, %s_PACK_BYTES, 64);\n"
                        "        m->ishard[s].col = nnrt_arena_alloc(&a, sizeof(float) * %s_COL_FLOATS + 4, 64);\n"
                        "    }\n"
                        "    m->ishard[0].pack = m->pack;\n"
                        "    m->ishard[0].col = m->col;\n%s"
                        "    for (int s = 0; s < %d; s++)\n"
                        "        m->ishard[s].work = m->work + (size_t)s * (((size_t)max_batch + %d) / %d) * %s_WORK_FLOATS;\n",
                        s, U, U, work, s, s - 1, s, U);
}

/* The inputs (and labels, for training), then the outputs: ", in_x, lab_t, out_y". */
static const char *io_names(const IrGraph *g, bool labels)
{
    const char *s = "";
    for (int k = 0; k < (labels ? 2 : 1); k++)  /* inputs first, as emit_io_params */
        for (int i = 0; i < g->nnodes; i++)
            if (g->nodes[i].op == (k ? IR_LABEL : IR_INPUT))
                s = arena_printf(g->arena, "%s, %s_%s", s, k ? "lab" : "in", g->nodes[i].name);
    for (int i = 0; i < g->noutputs; i++)
        s = arena_printf(g->arena, "%s, out_%s", s, g->outputs[i].name);
    return s;
}

/* The arguments of shard s's call: the job's inputs (labels), outputs, moved to sample n0. */
static const char *shard_args(const IrGraph *g, bool labels)
{
    const char *s = "";
    for (int k = 0; k < (labels ? 2 : 1); k++)  /* inputs first, as emit_io_params */
        for (int i = 0; i < g->nnodes; i++) {
            const IrNode *n = &g->nodes[i];
            if (n->op == (k ? IR_LABEL : IR_INPUT))
                s = arena_printf(g->arena, "%s, j->%s_%s + (size_t)n0 * %lld", s, k ? "lab" : "in", n->name,
                                 (long long)(n->is_class ? 1 : ir_numel(&n->shape)));
        }
    for (int i = 0; i < g->noutputs; i++)
        s = arena_printf(g->arena, "%s, j->out_%s ? j->out_%s + (size_t)n0 * %lld : NULL", s, g->outputs[i].name,
                         g->outputs[i].name, (long long)ir_numel(&g->nodes[g->outputs[i].node].shape));
    return s;
}

/*
 * A part function's opening, "static RET NAME(<net>_model *m,
 * NnrtProfEntry *prof, int batch, inputs (labels), outputs)", then the
 * table of profile entries for shards past the first, and the job struct
 * that carries a call's arguments to the shard tasks (`extra`: members
 * after them).  The body comes between the two; this emits the opening
 * alone, emit_part_close the rest.
 */
static void emit_part_open(Emitter *e, const IrGraph *g, const char *ret, const char *name, bool labels)
{
    fprintf(e->out, "static %s %s_%s(%s_model *m, NnrtProfEntry *prof, int batch", ret, g->name, name, g->name);
    if (labels) {
        emit_io_params(e->out, g);
        emit_out_params(e->out, g);
    } else {
        emit_forward_params(e->out, g);
    }
    fputs(")\n", e->out);
    emit_line(e, "{");
    emit_line(e, "(void)prof;");
    e->prof = "prof";
}

static void emit_part_close(Emitter *e, const IrGraph *g, const char *job, int S, bool labels, const char *extra)
{
    e->prof = NULL;
    emit_line(e, "}");
    emit_blank(e);
    fprintf(e->out, "#ifdef NNRT_PROFILE\nstatic NnrtProfEntry %s_prof_%s[%d][%d];  /* the shards past the first */\n#endif\n\n",
            g->name, job, S - 1, PROF_COUNT(g));
    emit_line(e, "typedef struct %s_%s_job {", g->name, job);
    emit_line(e, "%s_model *m;", g->name);
    emit_line(e, "int batch;");
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == IR_INPUT)
            emit_line(e, "const float *in_%s;", g->nodes[i].name);
    for (int i = 0; labels && i < g->nnodes; i++)
        if (g->nodes[i].op == IR_LABEL)
            emit_line(e, "const %s *lab_%s;", emit_label_type(&g->nodes[i]), g->nodes[i].name);
    for (int i = 0; i < g->noutputs; i++)
        emit_line(e, "float *out_%s;", g->outputs[i].name);
    if (extra)
        fputs(extra, e->out);
    emit_line(e, "} %s_%s_job;", g->name, job);
    emit_blank(e);
}

/*
 * A shard task's view of the model through shard s's memory (`member`:
 * shard or ishard), `v`, and the profile table its kernels record into,
 * `prof`; n0 and n1 bound its samples.
 */
static void emit_shard_view(Emitter *e, const IrGraph *g, const char *job, int S, const char *member, bool grad)
{
    emit_line(e, "%s_model v = *m;  /* the model, seen through shard s's memory */", g->name);
    emit_line(e, "v.max_batch = (m->max_batch + %d) / %d;", S - 1, S);
    emit_line(e, "v.work = m->%s[s].work;", member);
    if (grad)
        emit_line(e, "v.grad = m->%s[s].grad;", member);
    emit_line(e, "v.pack = m->%s[s].pack;", member);
    emit_line(e, "v.col = m->%s[s].col;", member);
    fprintf(e->out, "#ifdef NNRT_PROFILE\n");
    emit_line(e, "NnrtProfEntry *prof = s == 0 ? %s_prof : %s_prof_%s[s - 1];", g->name, g->name, job);
    fprintf(e->out, "#else\n");
    emit_line(e, "NnrtProfEntry *prof = NULL;");
    fprintf(e->out, "#endif\n");
}

/* A shard task's opening: its signature, the job, the model, its samples [n0, n1). */
static void emit_task_open(Emitter *e, const IrGraph *g, const char *job, int S)
{
    fprintf(e->out, "/* nnrt_parallel_for body: shard s of the batch. */\n");
    emit_line(e, "static void %s_%s_task(void *ctx, int s)", g->name, job);
    emit_line(e, "{");
    emit_line(e, "%s_%s_job *j = ctx;", g->name, job);
    emit_line(e, "const %s_model *m = j->m;", g->name);
    emit_line(e, "const int n0 = (int)((long long)j->batch * s / %d), n1 = (int)((long long)j->batch * (s + 1) / %d);", S, S);
}

/*
 * The sharded train_step (emit_train_shards): <net>_train_shard runs one
 * shard's forward and backward pass on a view of the model whose
 * workspace, gradients, packing and im2col are the shard's; the shards run
 * over the pool; the update adds their gradients.  With NNRT_PROFILE the
 * first shard's kernels are timed (the others record into a table nobody
 * reads), so the profile shows one core's share of the batch.
 */
void emit_shard_step(Emitter *e, const IrGraph *g)
{
    const char *N = g->name;
    int S = emit_train_shards(g);
    fprintf(e->out, "/* One shard's forward and backward pass, on its own memory; returns its loss. */\n");
    emit_part_open(e, g, "float", "train_shard", true);
    emit_step_body(e, g);
    emit_line(e, "return total;");
    emit_part_close(e, g, "shard", S, true,
                    arena_printf(g->arena, "    float loss[%d];  /* each shard's loss */\n"
                                           "    float part[%d];  /* each shard's share of the batch */\n", S, S));
    emit_task_open(e, g, "shard", S);
    emit_line(e, "j->part[s] = (float)(n1 - n0) / (float)j->batch;");
    emit_line(e, "j->loss[s] = 0.0f;");
    emit_line(e, "if (n0 == n1) {  /* a batch smaller than the shard count */");
    emit_line(e, "memset(m->shard[s].grad, 0, sizeof(float) * %lld);", (long long)g->trainable_floats);
    emit_line(e, "return;");
    emit_line(e, "}");
    emit_shard_view(e, g, "shard", S, "shard", true);
    emit_line(e, "j->loss[s] = %s_train_shard(&v, prof, n1 - n0%s);", N, shard_args(g, true));
    emit_line(e, "}");
    emit_blank(e);
    emit_step_head(e, g);
    emit_line(e, "%s_shard_job j = {m, batch%s, {0}, {0}};", N, io_names(g, true));
    emit_line(e, "nnrt_parallel_for(%d, %s_shard_task, &j);", S, N);
    emit_line(e, "float total = 0.0f;");
    emit_line(e, "for (int s = 0; s < %d; s++)", S);
    emit_line(e, "    total += j.part[s] * j.loss[s];");
    if (g->train.clip_norm > 0) {
        emit_line(e, "%s_reduce_range(m, j.part, 0, %lld);  /* the whole gradient, before its norm is taken */", N,
                  (long long)g->trainable_floats);
        emit_line(e, "float *const gr = m->grad;");
        emit_clip(e, g);
        emit_step_tail(e, g, "m, lr, NULL");
    } else {
        emit_step_tail(e, g, "m, lr, j.part");
    }
}

/*
 * The sharded forward pass (emit_infer_shards): <net>_forward_part runs
 * the forward kernels on m's memory; forward runs it on the whole batch
 * with one thread or a batch smaller than the shard count, else once per
 * shard over the pool, each on a view of the model with the shard's
 * workspace, packing and im2col.  Samples do not interact in inference,
 * so both give the same bits.  With NNRT_PROFILE a sharded call times the
 * first shard's kernels.
 */
void emit_shard_forward(Emitter *e, const IrGraph *g)
{
    const char *N = g->name;
    int S = emit_infer_shards(g);
    fprintf(e->out, "/* The forward pass over batch samples on m's memory: the whole batch, or one shard's part. */\n");
    emit_part_open(e, g, "void", "forward_part", false);
    emit_forward_body(e, g);
    emit_part_close(e, g, "forward", S, false, NULL);
    emit_task_open(e, g, "forward", S);
    emit_shard_view(e, g, "forward", S, "ishard", false);
    emit_line(e, "%s_forward_part(&v, prof, n1 - n0%s);", N, shard_args(g, false));
    emit_line(e, "}");
    emit_blank(e);
    emit_forward_head(e, g);
    emit_line(e, "if (nnrt_threads_count() == 1 || batch < %d) {  /* the whole batch at once: the same bits */", S);
    fprintf(e->out, "#ifdef NNRT_PROFILE\n");
    emit_line(e, "%s_forward_part(m, %s_prof, batch%s);", N, N, io_names(g, false));
    fprintf(e->out, "#else\n");
    emit_line(e, "%s_forward_part(m, NULL, batch%s);", N, io_names(g, false));
    fprintf(e->out, "#endif\n");
    emit_line(e, "return 0;");
    emit_line(e, "}");
    emit_line(e, "%s_forward_job j = {m, batch%s};", N, io_names(g, false));
    emit_line(e, "nnrt_parallel_for(%d, %s_forward_task, &j);", S, N);
    emit_line(e, "return 0;");
    emit_line(e, "}");
    emit_blank(e);
}
