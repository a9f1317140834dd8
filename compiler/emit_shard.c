/*
 * emit_shard.c — the sharded training step: when a net's train_step cuts
 * its batch into parts that each run the whole forward and backward pass
 * on a thread of their own (emit_train_shards, the policy), the memory
 * each part gets (the NET_SHARD_BYTES macro, create_train's statements),
 * the update's sum of the parts' gradients, and the step itself.
 * emit_train.c emits the rest of the training API and calls these.
 */
#include "emit.h"
#include "emit_int.h"

#include <stdlib.h>
#include <string.h>

/*
 * Data-parallel shards of the training step.  train_step cuts the batch
 * into TRAIN_SHARDS fixed parts; each part runs the whole forward and
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
enum { TRAIN_SHARDS = 2, TRAIN_SHARDS_MAX = 16, SHARD_ACT_RATIO = 4 };

int emit_train_shards(const IrGraph *g)
{
    if (!emit_can_train(g))
        return 1;
    for (int i = 0; i < g->nforward; i++)
        if (g->nodes[i].op == IR_BATCHNORM || g->nodes[i].op == IR_DROPOUT)
            return 1;
    const char *v = getenv("NETC_TRAIN_SHARDS");
    if (v && *v) {
        int n = atoi(v);
        return n < 1 ? 1 : n > TRAIN_SHARDS_MAX ? TRAIN_SHARDS_MAX : n;
    }
    int64_t act = ir_mul_sat(g->work_floats[PLAN_TRAIN], g->train.batch);
    return act >= ir_mul_sat(g->trainable_floats, SHARD_ACT_RATIO) ? TRAIN_SHARDS : 1;
}

/* Floats of each extra shard's im2col buffer (as large as any the model has), or 0. */
static int64_t shard_col_floats(const IrGraph *g)
{
    return g->train_col_floats > g->col_floats ? g->train_col_floats : g->col_floats;
}

/* The batch-independent part of emit_shard_bytes: each extra shard's gradients, packing, im2col. */
static int64_t shard_fixed_bytes(const IrGraph *g)
{
    int64_t col = shard_col_floats(g);
    return (emit_train_shards(g) - 1) *
           (4 * g->trainable_floats + emit_pack_bound(g, true) + (col ? 4 * col + 4 : 0) + 3 * 64);
}

/*
 * Bytes the training arena holds beyond one thread's unsharded needs, for
 * batches of at most `batch`: the shards' workspaces of ceil(batch / S)
 * samples each (in place of one of batch samples), and each extra shard's
 * gradients, GEMM packing (one thread) and im2col buffer.
 */
int64_t emit_shard_bytes(const IrGraph *g, int64_t batch)
{
    int s = emit_train_shards(g);
    if (s == 1)
        return 0;
    int64_t tw = g->work_floats[PLAN_TRAIN], w = g->work_floats[PLAN_INFER];
    int64_t sharded = s * ((batch + s - 1) / s) * tw, plain = batch * (tw > w ? tw : w);
    return 4 * ((sharded > batch * w ? sharded : batch * w) - plain) + shard_fixed_bytes(g);
}

/* The NET_TRAIN_SHARDS and NET_SHARD_BYTES(B) macros: emit_shard_bytes in C. */
void emit_shard_macros(FILE *out, const IrGraph *g, const char *U)
{
    int s = emit_train_shards(g);
    long long tw = (long long)g->work_floats[PLAN_TRAIN], w = (long long)g->work_floats[PLAN_INFER];
    fprintf(out, "#define %s_TRAIN_SHARDS %d  /* parts of a training batch, each on a thread of its own */\n", U, s);
    if (s == 1) {
        fprintf(out, "#define %s_SHARD_BYTES(B) ((size_t)0)  /* one shard: nothing beyond one thread's memory */\n", U);
        return;
    }
    fprintf(out, "/* The shards' memory beyond one thread's: workspaces of ceil(B / %d) samples, and each extra\n"
                 "   shard's gradients, GEMM packing and im2col buffer. */\n", s);
    fprintf(out, "#define %s_SHARD_WORK(B) ((size_t)%d * (((size_t)(B) + %d) / %d) * %lld)\n", U, s, s - 1, s, tw);
    fprintf(out, "#define %s_SHARD_BYTES(B) \\\n"
                 "    (((%s_SHARD_WORK(B) > (size_t)(B) * %lld ? %s_SHARD_WORK(B) : (size_t)(B) * %lld) - (size_t)(B) * %lld) * 4 + \\\n"
                 "     (size_t)%lld)\n",
            U, U, w, U, w, tw > w ? tw : w, (long long)shard_fixed_bytes(g));
}

/*
 * The shards' gradients added into the model's (shard 0's), each weighted
 * by its share of the batch, in shard order: <net>_reduce_range over a
 * range of parameters (the update runs it on its chunk first), and
 * <net>_reduce over all of them (before gradient clipping).
 */
void emit_shard_reduce(Emitter *e, const IrGraph *g, int S)
{
    const char *N = g->name;
    long long total = (long long)g->trainable_floats, chunks = (total + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
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
    if (g->train.clip_norm <= 0)
        return;
    emit_line(e, "typedef struct %s_reduce_args {", N);
    emit_line(e, "%s_model *m;", N);
    emit_line(e, "const float *part;");
    emit_line(e, "} %s_reduce_args;", N);
    emit_blank(e);
    emit_line(e, "static void %s_reduce_chunks(void *ctx, int c0, int c1)", N);
    emit_line(e, "{");
    emit_line(e, "const %s_reduce_args *a = ctx;", N);
    emit_line(e, "const size_t i1 = (size_t)c1 * %d < %lld ? (size_t)c1 * %d : %lld;", UPDATE_CHUNK, total, UPDATE_CHUNK, total);
    emit_line(e, "%s_reduce_range(a->m, a->part, (size_t)c0 * %d, i1);", N, UPDATE_CHUNK);
    emit_line(e, "}");
    emit_blank(e);
    emit_line(e, "static void %s_reduce(%s_model *m, const float *part)", N, N);
    emit_line(e, "{");
    emit_line(e, "%s_reduce_args a = {m, part};", N);
    emit_line(e, "nnrt_parallel_range(%lld, %d, %d, %s_reduce_chunks, &a);", chunks, UPDATE_CHUNK, 32768, N);
    emit_line(e, "}");
    emit_blank(e);
}

/* create_train's statement that grows the model's workspace to the training plan's (and the shards'). */
const char *emit_shard_grow(const IrGraph *g)
{
    long long tw = (long long)g->work_floats[PLAN_TRAIN], w = (long long)g->work_floats[PLAN_INFER];
    int s = emit_train_shards(g);
    if (s == 1)
        return arena_printf(g->arena, "    nnrt_arena_alloc(&a, sizeof(float) * (size_t)max_batch * %lld, 64);"
                                      "  /* the workspace grows */\n", tw > w ? tw - w : 0);
    return arena_printf(g->arena,
                        "    const size_t shard_batch = ((size_t)max_batch + %d) / %d;  /* samples per shard at most */\n"
                        "    const size_t sharded = %d * shard_batch * %lld, plain = (size_t)max_batch * %lld;\n"
                        "    nnrt_arena_alloc(&a, sizeof(float) * (sharded > plain ? sharded - plain : 0), 64);"
                        "  /* the workspace grows to the shards' */\n", s - 1, s, s, tw, w);
}

/* create_train's statements that hand each shard its memory; shard 0 uses the model's own. */
const char *emit_shard_memory(const IrGraph *g)
{
    const char *U = emit_upper(g->arena, g->name);
    int s = emit_train_shards(g);
    if (s == 1)
        return "";
    long long col = (long long)shard_col_floats(g);
    return arena_printf(g->arena,
                        "    for (int s = 0; s < %d; s++) {\n"
                        "        m->shard[s].work = m->work + (size_t)s * shard_batch * %lld;\n"
                        "        m->shard[s].grad = s ? nnrt_arena_alloc(&a, sizeof(float) * %s_TRAINABLE_FLOATS, 64) : m->grad;\n"
                        "        m->shard[s].pack = s ? nnrt_arena_alloc(&a, %s_TRAIN_PACK_BYTES, 64) : m->pack;\n"
                        "        m->shard[s].col = s ? %s : m->col;\n"
                        "        memset(m->shard[s].grad, 0, sizeof(float) * %s_TRAINABLE_FLOATS);\n"
                        "    }\n",
                        s, (long long)g->work_floats[PLAN_TRAIN], U, U,
                        col ? arena_printf(g->arena, "nnrt_arena_alloc(&a, sizeof(float) * %lld + 4, 64)", col) : "NULL", U);
}

/* The members or arguments naming the inputs, labels and outputs: "in_x, lab_t, out_y" with a prefix. */
static const char *io_names(const IrGraph *g, const char *prefix)
{
    const char *s = "";
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == IR_INPUT || g->nodes[i].op == IR_LABEL)
            s = arena_printf(g->arena, "%s, %s%s_%s", s, prefix, g->nodes[i].op == IR_INPUT ? "in" : "lab",
                             g->nodes[i].name);
    for (int i = 0; i < g->noutputs; i++)
        s = arena_printf(g->arena, "%s, %sout_%s", s, prefix, g->outputs[i].name);
    return s;
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
    fprintf(e->out, "static float %s_train_shard(%s_model *m, NnrtProfEntry *prof, int batch", N, N);
    emit_io_params(e->out, g);
    emit_out_params(e->out, g);
    fputs(")\n", e->out);
    emit_line(e, "{");
    emit_line(e, "(void)prof;");
    e->prof = "prof";
    emit_step_body(e, g);
    e->prof = NULL;
    emit_line(e, "return total;");
    emit_line(e, "}");
    emit_blank(e);
    fprintf(e->out, "#ifdef NNRT_PROFILE\nstatic NnrtProfEntry %s_prof_shard[%d][%d];  /* shards past the first */\n#endif\n\n",
            N, S - 1, PROF_COUNT(g));
    emit_line(e, "typedef struct %s_shard_job {", N);
    emit_line(e, "%s_model *m;", N);
    emit_line(e, "int batch;");
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == IR_INPUT)
            emit_line(e, "const float *in_%s;", g->nodes[i].name);
        else if (g->nodes[i].op == IR_LABEL)
            emit_line(e, "const %s *lab_%s;", emit_label_type(&g->nodes[i]), g->nodes[i].name);
    for (int i = 0; i < g->noutputs; i++)
        emit_line(e, "float *out_%s;", g->outputs[i].name);
    emit_line(e, "float loss[%d];  /* each shard's loss */", S);
    emit_line(e, "float part[%d];  /* each shard's share of the batch */", S);
    emit_line(e, "} %s_shard_job;", N);
    emit_blank(e);
    fprintf(e->out, "/* nnrt_parallel_for body: shard s of the batch. */\n");
    emit_line(e, "static void %s_shard_task(void *ctx, int s)", N);
    emit_line(e, "{");
    emit_line(e, "%s_shard_job *j = ctx;", N);
    emit_line(e, "const %s_model *m = j->m;", N);
    emit_line(e, "const int n0 = (int)((long long)j->batch * s / %d), n1 = (int)((long long)j->batch * (s + 1) / %d);", S, S);
    emit_line(e, "j->part[s] = (float)(n1 - n0) / (float)j->batch;");
    emit_line(e, "j->loss[s] = 0.0f;");
    emit_line(e, "if (n0 == n1) {  /* a batch smaller than the shard count */");
    emit_line(e, "memset(m->shard[s].grad, 0, sizeof(float) * %lld);", (long long)g->trainable_floats);
    emit_line(e, "return;");
    emit_line(e, "}");
    emit_line(e, "%s_model v = *m;  /* the model, seen through shard s's memory */", N);
    emit_line(e, "v.max_batch = (m->max_batch + %d) / %d;", S - 1, S);
    emit_line(e, "v.work = m->shard[s].work;");
    emit_line(e, "v.grad = m->shard[s].grad;");
    emit_line(e, "v.pack = m->shard[s].pack;");
    emit_line(e, "v.col = m->shard[s].col;");
    fprintf(e->out, "#ifdef NNRT_PROFILE\n");
    emit_line(e, "NnrtProfEntry *prof = s == 0 ? %s_prof : %s_prof_shard[s - 1];", N, N);
    fprintf(e->out, "#else\n");
    emit_line(e, "NnrtProfEntry *prof = NULL;");
    fprintf(e->out, "#endif\n");
    for (int k = 0; k < e->depth; k++)
        fputs("    ", e->out);
    fprintf(e->out, "j->loss[s] = %s_train_shard(&v, prof, n1 - n0", N);
    for (int i = 0; i < g->nnodes; i++) {
        const IrNode *n = &g->nodes[i];
        if (n->op == IR_INPUT || n->op == IR_LABEL)
            fprintf(e->out, ", j->%s_%s + (size_t)n0 * %lld", n->op == IR_INPUT ? "in" : "lab", n->name,
                    (long long)(n->op == IR_LABEL && n->is_class ? 1 : ir_numel(&n->shape)));
    }
    for (int i = 0; i < g->noutputs; i++)
        fprintf(e->out, ", j->out_%s ? j->out_%s + (size_t)n0 * %lld : NULL", g->outputs[i].name, g->outputs[i].name,
                (long long)ir_numel(&g->nodes[g->outputs[i].node].shape));
    fputs(");\n", e->out);
    emit_line(e, "}");
    emit_blank(e);
    emit_step_head(e, g);
    emit_line(e, "%s_shard_job j = {m, batch%s, {0}, {0}};", N, io_names(g, ""));
    emit_line(e, "nnrt_parallel_for(%d, %s_shard_task, &j);", S, N);
    emit_line(e, "float total = 0.0f;");
    emit_line(e, "for (int s = 0; s < %d; s++)", S);
    emit_line(e, "    total += j.part[s] * j.loss[s];");
    if (g->train.clip_norm > 0) {
        emit_line(e, "%s_reduce(m, j.part);  /* the whole gradient, before its norm is taken */", N);
        emit_line(e, "float *const gr = m->grad;");
        emit_clip(e, g);
        emit_step_tail(e, g, "m, lr, NULL");
    } else {
        emit_step_tail(e, g, "m, lr, j.part");
    }
}
