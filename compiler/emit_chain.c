/*
 * emit_chain.c — the kernel of an elementwise chain (compiler/chain.c):
 * a tree of relu, leaky_relu, sigmoid, tanh, gelu, silu, add, mul and
 * (inference) dropout nodes computed by its root's kernel in one pass over
 * memory.
 *
 * The kernel walks the batch's elements in blocks of CHAIN_BLOCK floats.
 * Within a block each node is either
 *   - materialized: a block-sized array, for the root (y), for a member a
 *     backward kernel reads (yK, train_step's variant only), for a
 *     transcendental (computed by the nnrt_vmath array function on the
 *     block, so SLEEF still sees whole vectors) or a leaky_relu, and for
 *     the input of one
 *     (tK, a stack temporary that stays in L1);
 *   - inline: a `const float vK` inside the loop of the node it feeds,
 *     for relu, add and mul feeding such nodes (leaky_relu gets a loop of
 *     its own and a materialized input, see own_block);
 *   - or nothing (dropout, the identity in inference).
 * Each materialized node that is not a transcendental is one plain loop
 * over the block, computing its inline inputs first; the loops vectorize.
 * Every element is computed from its own inputs by the same code wherever
 * it lies in a block (the nnrt_vmath functions promise that too), so a
 * sample's result does not depend on the batch or on the thread count.
 *
 * A chain whose members backward reads has two kernels: the forward pass's,
 * which writes only the root, and train_step's `<kernel>_train`, which
 * also stores those members.  Both get a `_par` twin (emit_par.c).
 */
#include "emit.h"
#include "emit_int.h"

#include <string.h>

enum { CHAIN_BLOCK = 256 };  /* floats per block: one L1-resident temporary is 1 KiB */

/* What a node of the tree is inside a block (see the top of the file). */
typedef enum ValKind { V_PASS, V_INLINE, V_TEMP, V_ROOT, V_STORE } ValKind;

typedef struct Chain {
    const IrGraph *g;
    int root, plan;            /* its root; PLAN_INFER or PLAN_TRAIN (which members are stored) */
    int n;                     /* nodes, ids ascending, root last */
    int node[IR_MAXCHAIN];
    ValKind kind[IR_MAXCHAIN];
    int nx;                    /* distinct outside inputs, in order of first use */
    int x[IR_CHAINARGS];
} Chain;

static int pos_of(const Chain *c, int id)
{
    for (int k = 0; k < c->n; k++)
        if (c->node[k] == id)
            return k;
    return -1;
}

static int x_of(const Chain *c, int id)
{
    for (int k = 0; k < c->nx; k++)
        if (c->x[k] == id)
            return k;
    return -1;
}

/* The tree node reading node id (its consumer), past dropouts; -1 for the root. */
static int consumer(const Chain *c, int id)
{
    for (int k = 0; k < c->n; k++) {
        const IrNode *n = &c->g->nodes[c->node[k]];
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] == id)
                return n->op == IR_DROPOUT ? consumer(c, c->node[k]) : c->node[k];
    }
    return -1;
}

static bool stored(const Chain *c, int id)
{
    return c->plan == PLAN_TRAIN && id != c->root && c->g->nodes[id].place[PLAN_TRAIN].buf == BUF_WORK;
}

/*
 * Whether node id gets a block of its own and its input a materialized
 * block: the transcendentals (an nnrt_vmath call).  leaky_relu is inline
 * with the cheap ops: nnrt_leaky_factor vectorizes.
 */
static bool own_block(const IrGraph *g, int id)
{
    return emit_vmath_fn(g->nodes[id].op);
}

static ValKind kind_of(const Chain *c, int id)
{
    const IrGraph *g = c->g;
    int to = consumer(c, id);
    if (g->nodes[id].op == IR_DROPOUT)
        return V_PASS;
    if (id == c->root)
        return V_ROOT;
    if (stored(c, id))
        return V_STORE;
    if (own_block(g, id) || (to >= 0 && own_block(g, to)))
        return V_TEMP;
    return V_INLINE;
}

static void chain_collect(Chain *c, const IrGraph *g, int root, int plan)
{
    *c = (Chain){.g = g, .root = root, .plan = plan};
    for (int i = 0; i <= root; i++)
        if (g->nodes[i].a.chain == root || i == root)
            c->node[c->n++] = i;
    for (int k = 0; k < c->n; k++) {
        const IrNode *n = &g->nodes[c->node[k]];
        for (int j = 0; j < n->nin; j++)
            if (pos_of(c, n->in[j]) < 0 && x_of(c, n->in[j]) < 0) {
                if (c->nx == IR_CHAINARGS)
                    netc_die("chain %s reads too many tensors", g->nodes[root].name);
                c->x[c->nx++] = n->in[j];
            }
    }
    for (int k = 0; k < c->n; k++)
        c->kind[k] = kind_of(c, c->node[k]);
}

/* Node id with the pass-throughs it is an alias of resolved. */
static int resolved(const Chain *c, int id)
{
    int k;
    while ((k = pos_of(c, id)) >= 0 && c->kind[k] == V_PASS)
        id = c->g->nodes[id].in[0];
    return id;
}

/*
 * The array holding (resolved) node id's block, and whether the block
 * starts at i0 in it (or at 0: a temporary of one block); NULL for a value
 * computed inline.
 */
static const char *block_of(const Chain *c, int id, bool *at_i0)
{
    Arena *a = c->g->arena;
    int k = pos_of(c, id);
    *at_i0 = true;
    if (k < 0)
        return arena_printf(a, "x%d", x_of(c, id));
    switch (c->kind[k]) {
    case V_INLINE: return NULL;
    case V_TEMP: *at_i0 = false; return arena_printf(a, "t%d", id);
    case V_ROOT: return "y";
    case V_STORE: return arena_printf(a, "y%d", id);
    case V_PASS: break;
    }
    netc_unreachable();
}

/* Node id's value at element i of the block, as a C expression. */
static const char *val(const Chain *c, int id)
{
    bool at_i0;
    id = resolved(c, id);
    const char *b = block_of(c, id, &at_i0);
    if (!b)
        return arena_printf(c->g->arena, "v%d", id);
    return arena_printf(c->g->arena, at_i0 ? "%s[i0 + i]" : "%s[i]", b);
}

/* Node id's block as an array, for an nnrt_vmath call. */
static const char *arr(const Chain *c, int id)
{
    bool at_i0;
    const char *b = block_of(c, resolved(c, id), &at_i0);
    if (!b)
        netc_unreachable();
    return at_i0 ? arena_printf(c->g->arena, "%s + i0", b) : b;
}

/* The elementwise expression computing node id from its inputs' values. */
static const char *expr(const Chain *c, int id)
{
    const IrNode *n = &c->g->nodes[id];
    const char *x = val(c, n->in[0]), *x2 = n->nin > 1 ? val(c, n->in[1]) : NULL;
    char buf[32];
    switch (n->op) {
    case IR_RELU: return arena_printf(c->g->arena, "%s > 0.0f ? %s : 0.0f", x, x);
    case IR_LEAKY_RELU:
        return arena_printf(c->g->arena, "%s * nnrt_leaky_factor(%s, %s)", x, x, emit_float(buf, sizeof buf, n->a.alpha));
    case IR_ADD: return arena_printf(c->g->arena, "%s + %s", x, x2);
    case IR_MUL: return arena_printf(c->g->arena, "%s * %s", x, x2);
    default: netc_die("no inline expression for %s in chain %s", ir_ops[n->op].name, c->g->nodes[c->root].name);
    }
}

/* The inline nodes feeding node id, each once, inputs first. */
static void emit_inline_inputs(Emitter *e, const Chain *c, int id)
{
    const IrNode *n = &c->g->nodes[id];
    for (int j = 0; j < n->nin; j++) {
        int in = n->in[j], k = pos_of(c, in);
        if (k < 0)
            continue;
        if (c->kind[k] == V_PASS) {
            emit_inline_inputs(e, c, in);
            continue;
        }
        if (c->kind[k] != V_INLINE)
            continue;
        emit_inline_inputs(e, c, in);
        emit_line(e, "const float v%d = %s;  /* %s */", in, expr(c, in), c->g->nodes[in].name);
    }
}

/* One materialized node's block: an nnrt_vmath call, or a loop with its inline inputs. */
static void emit_node_block(Emitter *e, const Chain *c, int id)
{
    const IrNode *n = &c->g->nodes[id];
    const char *fn = emit_vmath_fn(n->op);
    const char *dst = c->kind[pos_of(c, id)] == V_TEMP ? arena_printf(c->g->arena, "t%d", id) : arr(c, id);
    if (fn) {
        emit_line(e, "%s(%s, %s, len);  /* %s */", fn, dst, arr(c, n->in[0]), n->name);
        return;
    }
    emit_line(e, "for (size_t i = 0; i < len; i++) {");
    emit_inline_inputs(e, c, id);
    emit_line(e, "%s = %s;  /* %s */", val(c, id), expr(c, id), n->name);
    emit_line(e, "}");
}

/* "sigmoid + tanh + mul": the ops of the chain rooted at root, in order. */
const char *emit_chain_ops(const IrGraph *g, int root)
{
    const char *s = "";
    for (int i = 0; i <= root; i++)
        if (g->nodes[i].a.chain == root || i == root)
            s = arena_printf(g->arena, "%s%s%s", s, *s ? " + " : "", ir_ops[g->nodes[i].op].name);
    return s;
}

/* FLOPs per sample of the whole chain. */
int64_t emit_chain_flops(const IrGraph *g, int root)
{
    int64_t total = 0, f, b;
    for (int i = 0; i <= root; i++)
        if (g->nodes[i].a.chain == root || i == root) {
            ir_flops(g, &g->nodes[i], &f, &b);
            total += f;
        }
    return total;
}

/* Whether train_step stores members of the chain, so has a kernel of its own. */
static bool stores_members(const IrGraph *g, int root)
{
    for (int i = 0; i < root; i++)
        if (g->nodes[i].a.chain == root && g->nodes[i].place[PLAN_TRAIN].buf == BUF_WORK)
            return true;
    return false;
}

const char *emit_chain_kernel_name(const IrGraph *g, int id, int plan)
{
    const char *base = emit_kernel_name(g, id);
    if (g->nodes[id].a.chain_len && plan == PLAN_TRAIN && stores_members(g, id))
        return arena_printf(g->arena, "%s_train", base);
    return base;
}

bool emit_chain_train_kernel(const IrGraph *g, int root)
{
    return g->nodes[root].a.chain_len && emit_is_train_call(g, root) &&
           (stores_members(g, root) || !emit_is_infer_call(g, root));
}

void emit_chain_args(const IrGraph *g, int root, int plan, KArgs *a)
{
    Chain c;
    chain_collect(&c, g, root, plan);
    long long numel = (long long)ir_numel(&g->nodes[root].shape);
    a->n = 0;
    a->ret = "void";
    for (int k = 0; k < c.nx; k++)
        emit_add_arg(a, "const float *restrict", arena_printf(g->arena, "x%d", k), emit_tensor_ptr(g, plan, c.x[k]), numel);
    emit_add_arg(a, "float *restrict", "y", emit_tensor_ptr(g, plan, root), numel);
    for (int k = 0; k < c.n; k++)
        if (c.kind[k] == V_STORE)
            emit_add_arg(a, "float *restrict", arena_printf(g->arena, "y%d", c.node[k]),
                         emit_tensor_ptr(g, plan, c.node[k]), numel);
}

/* The comment above the kernel: every node of the tree as an equation, the stores, FLOPs and location. */
static void chain_comment(Emitter *e, const Chain *c)
{
    const IrGraph *g = c->g;
    const IrNode *r = &g->nodes[c->root];
    int line, col;
    diag_line_col(g->src, r->loc.off, &line, &col);
    emit_line(e, "/*");
    emit_line(e, " * %s: chain of %d elementwise ops (%s) in one loop, %s per sample,", r->name, c->n,
              emit_chain_ops(g, c->root), ir_shape_str(g->arena, &r->shape));
    emit_line(e, " *   in blocks of %d floats%s", CHAIN_BLOCK, c->plan == PLAN_TRAIN ? "; train_step's variant" : "");
    for (int k = 0; k < c->nx; k++)
        emit_line(e, " *   x%d = %s", k, g->nodes[c->x[k]].name);
    for (int k = 0; k < c->n; k++) {
        const IrNode *n = &g->nodes[c->node[k]];
        char args[256] = "";
        for (int j = 0; j < n->nin; j++) {
            int in = n->in[j];
            const char *s = pos_of(c, in) >= 0 ? g->nodes[in].name : arena_printf(g->arena, "x%d", x_of(c, in));
            snprintf(args + strlen(args), sizeof args - strlen(args), "%s%s", j ? ", " : "", s);
        }
        const char *where = c->kind[k] == V_ROOT ? " -> y" : c->kind[k] == V_STORE ?
                            arena_printf(g->arena, " -> y%d (backward reads it)", c->node[k]) : "";
        char alpha[32] = "";
        if (n->op == IR_LEAKY_RELU)
            snprintf(alpha, sizeof alpha, ", alpha %g", n->a.alpha);
        emit_line(e, " *   %s = %s(%s%s)%s", n->name, ir_ops[n->op].name, args, alpha, where);
    }
    emit_line(e, " *   %lld FLOPs per sample; %s:%d:%d", (long long)emit_chain_flops(g, c->root), g->src->path, line, col);
    emit_line(e, " */");
}

void emit_chain_kernel(Emitter *e, const IrGraph *g, int root, int plan)
{
    Chain c;
    chain_collect(&c, g, root, plan);
    KArgs args;
    emit_chain_args(g, root, plan, &args);
    const char *name = emit_chain_kernel_name(g, root, plan);
    chain_comment(e, &c);
    emit_args_signature(e, "void", name, &args);
    emit_line(e, "const size_t count = (size_t)batch * %lld;", (long long)ir_numel(&g->nodes[root].shape));
    for (int k = 0; k < c.n; k++)
        if (c.kind[k] == V_TEMP)
            emit_line(e, "float t%d[%d];  /* %s, one block */", c.node[k], CHAIN_BLOCK, g->nodes[c.node[k]].name);
    emit_line(e, "for (size_t i0 = 0; i0 < count; i0 += %d) {", CHAIN_BLOCK);
    emit_line(e, "const size_t len = count - i0 < %d ? count - i0 : %d;", CHAIN_BLOCK, CHAIN_BLOCK);
    for (int k = 0; k < c.n; k++)
        if (c.kind[k] != V_PASS && c.kind[k] != V_INLINE)
            emit_node_block(e, &c, c.node[k]);
    emit_line(e, "}");
    emit_line(e, "}");
    emit_blank(e);
    if (emit_par_split(g, root, false))
        emit_par_wrapper(e, g, root, name, &args);
}
