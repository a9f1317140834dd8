/*
 * ir.c — building graphs, the op table, shape helpers, FLOP counts.
 */
#include "ir.h"

#include <stdio.h>
#include <string.h>

const IrOpInfo ir_ops[IR_NOPS] = {
#define X(id, name, sig, flags) [IR_##id] = {name, sig, flags},
#include "ir_ops.def"
#undef X
};

IrGraph *ir_new(Arena *a, const SrcFile *src, const char *name, SrcLoc loc)
{
    IrGraph *g = arena_alloc(a, sizeof(IrGraph));
    g->arena = a;
    g->src = src;
    g->name = name;
    g->loc = loc;
    g->loss = -1;
    return g;
}

/* Appends a node with no inputs; the caller fills the rest. */
int ir_add_node(IrGraph *g, IrOp op, SrcLoc loc)
{
    ARENA_PUSH(g->arena, g->nodes, g->nnodes, g->capnodes);
    IrNode *n = &g->nodes[g->nnodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->loc = loc;
    n->inst = -1;
    for (int i = 0; i < IR_MAXARG; i++)
        n->argloc[i] = loc;
    return g->nnodes++;
}

/* Adds parameter `<layer>.<suffix>` to node. */
int ir_add_param(IrGraph *g, int node, const char *suffix, IrParamRole role, IrShape shape)
{
    IrNode *n = &g->nodes[node];
    if (n->nparam == IR_MAXPARAM)
        netc_die("node %s has too many parameters", n->name);
    ARENA_PUSH(g->arena, g->params, g->nparams, g->capparams);
    IrParam *p = &g->params[g->nparams];
    p->name = arena_printf(g->arena, "%s.%s", n->name, suffix);
    p->shape = shape;
    p->role = role;
    p->node = node;
    p->trainable = role == IRP_WEIGHT || role == IRP_BIAS;
    n->param[n->nparam++] = g->nparams;
    return g->nparams++;
}

int ir_op_lookup(const char *name)
{
    for (int i = 0; i < IR_NOPS; i++)
        if (strcmp(ir_ops[i].name, name) == 0)
            return i;
    return -1;
}

int64_t ir_numel(const IrShape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->ndim; i++)
        n = ir_mul_sat(n, s->dim[i]);
    return n;
}

/* a * b, saturating at INT64_MAX, for sizes and costs (never negative). */
int64_t ir_mul_sat(int64_t a, int64_t b)
{
    if (a <= 0 || b <= 0)
        return 0;
    return a > INT64_MAX / b ? INT64_MAX : a * b;
}

/* a + b, saturating at INT64_MAX, for a, b >= 0. */
int64_t ir_add_sat(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

IrShape ir_shape(int ndim, const int *dims)
{
    IrShape s = {0};
    s.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        s.dim[i] = dims[i];
    return s;
}

bool ir_shape_eq(const IrShape *a, const IrShape *b)
{
    if (a->ndim != b->ndim)
        return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->dim[i] != b->dim[i])
            return false;
    return true;
}

char *ir_shape_str(Arena *a, const IrShape *s)
{
    char buf[16 * IR_MAXDIM + 4];
    size_t n = 0;
    if (s->ndim < 0)
        return "[?]";
    buf[n++] = '[';
    for (int i = 0; i < s->ndim; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%d", i ? ", " : "", s->dim[i]);
    snprintf(buf + n, sizeof buf - n, "]");
    return arena_strdup(a, buf);
}

const char *ir_opt_name(IrOptKind k)
{
    static const char *names[] = {"none", "sgd", "adagrad", "rmsprop", "adam", "adamw"};
    return names[k];
}

const char *ir_schedule_name(IrSchedule s)
{
    static const char *names[] = {"constant", "step", "cosine"};
    return names[s];
}

double ir_hp(const IrOptim *o, const char *name)
{
    for (int i = 0; i < o->nhp; i++)
        if (strcmp(o->hpname[i], name) == 0)
            return o->hp[i];
    netc_die("optimizer %s has no hyper-parameter '%s'", o->name, name);
}

/* Relative cost of an elementwise op per element: forward, backward. */
static void elem_cost(IrOp op, int *f, int *b)
{
    switch (op) {
    case IR_SIGMOID: *f = 4; *b = 3; break;
    case IR_TANH: *f = 4; *b = 3; break;
    case IR_GELU: *f = 8; *b = 10; break;
    case IR_SILU: *f = 5; *b = 6; break;
    case IR_MUL: *f = 1; *b = 2; break;
    default: *f = 1; *b = 1; break;
    }
}

/*
 * Floating-point operations per sample for one node, forward and backward
 * (a multiply-add counts 2).  Backward leaves out the input gradient of a
 * layer whose input needs none (autodiff's needs_grad: it depends on no
 * trainable parameter, like the net's inputs).
 */
void ir_flops(const IrGraph *g, const IrNode *n, int64_t *fwd, int64_t *bwd)
{
    int64_t out = ir_numel(&n->shape);
    int64_t in = n->nin ? ir_numel(&g->nodes[n->in[0]].shape) : 0;
    bool need_dx = n->nin && g->nodes[n->in[0]].needs_grad;  /* set by autodiff */
    int64_t mm, f = 0, b = 0;
    int ef, eb;
    switch (n->op) {
    case IR_DENSE: {
        int64_t d = g->nodes[n->in[0]].shape.dim[g->nodes[n->in[0]].shape.ndim - 1];
        mm = ir_mul_sat(ir_mul_sat(2, out), d);
        f = ir_add_sat(mm, n->a.bias ? out : 0);
        b = ir_add_sat(ir_mul_sat(mm, need_dx ? 2 : 1), n->a.bias ? out : 0);
        break;
    }
    case IR_CONV2D: {
        int cin = g->nodes[n->in[0]].shape.dim[0] / (n->a.groups ? n->a.groups : 1);
        mm = ir_mul_sat(ir_mul_sat(ir_mul_sat(2, out), cin), (int64_t)n->a.kernel[0] * n->a.kernel[1]);
        f = ir_add_sat(mm, n->a.bias ? out : 0);
        b = ir_add_sat(ir_mul_sat(mm, need_dx ? 2 : 1), n->a.bias ? out : 0);
        break;
    }
    case IR_MAXPOOL2D:
    case IR_AVGPOOL2D:
        f = ir_mul_sat(out, (int64_t)n->a.kernel[0] * n->a.kernel[1]);  /* a window may exceed the input */
        b = f;
        break;
    case IR_GLOBAL_AVGPOOL: f = b = in; break;
    case IR_SOFTMAX:
    case IR_LOG_SOFTMAX: f = 3 * out; b = 4 * out; break;
    case IR_BATCHNORM: f = 2 * out; b = 6 * out; break;
    case IR_LAYERNORM: f = 5 * out; b = 8 * out; break;
    case IR_DROPOUT: f = out; b = out; break;
    case IR_CROSS_ENTROPY: f = 3 * in; b = 2 * in; break;
    case IR_MSE:
    case IR_L1: f = 3 * in; b = 2 * in; break;
    case IR_BCE_WITH_LOGITS: f = 6 * in; b = 3 * in; break;
    case IR_RELU: case IR_LEAKY_RELU: case IR_SIGMOID: case IR_TANH:
    case IR_GELU: case IR_SILU: case IR_ADD: case IR_MUL:
        elem_cost(n->op, &ef, &eb);
        f = ef * out;
        b = eb * out;
        break;
    default: break;
    }
    *fwd = f;
    *bwd = b;
}

/* FLOPs per sample of one backward node: a GEMM for dense/conv, else the op's backward. */
int64_t ir_bwd_flops(const IrGraph *g, const IrNode *b)
{
    const IrNode *f = &g->nodes[b->a.of];
    int64_t fwd, bwd;
    ir_flops(g, f, &fwd, &bwd);
    if (f->op == IR_DENSE || f->op == IR_CONV2D)
        return fwd - (f->a.bias ? ir_numel(&f->shape) : 0);
    return bwd;
}

/* Splits "x:T units:I! bias:B=true" into an IrSig; a malformed spec is a bug. */
void ir_sig_parse(const char *spec, IrSig *out)
{
    memset(out, 0, sizeof *out);
    if (strlen(spec) >= sizeof out->buf)
        netc_die("signature too long: %s", spec);
    strcpy(out->buf, spec);
    for (char *tok = strtok(out->buf, " "); tok; tok = strtok(NULL, " ")) {
        if (out->n == IR_MAXARG)
            netc_die("signature has too many arguments: %s", spec);
        IrSigParam *p = &out->p[out->n++];
        char *colon = strchr(tok, ':');
        if (!colon)
            netc_die("bad signature entry '%s'", tok);
        *colon = '\0';
        p->name = tok;
        p->type = colon[1];
        char *rest = colon + 2;
        if (*rest == '!') {
            p->required = true;
            rest++;
        }
        if (*rest == '=')
            p->dflt = rest + 1;
        else if (*rest)
            netc_die("bad signature entry '%s'", tok);
    }
}

int ir_sig_find(const IrSig *s, const char *name)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->p[i].name, name) == 0)
            return i;
    return -1;
}

void ir_note_inst(Diag *d, const IrGraph *g, int inst)
{
    for (; inst >= 0; inst = g->insts[inst].parent)
        diag_note(d, g->insts[inst].call, "in block '%s' used here", g->insts[inst].block);
}

void ir_live_for_inference(const IrGraph *g, bool *live)
{
    for (int i = 0; i < g->nnodes; i++)
        live[i] = false;
    for (int i = 0; i < g->noutputs; i++)
        live[g->outputs[i].node] = true;
    for (int i = g->nnodes - 1; i >= 0; i--)
        if (live[i])
            for (int j = 0; j < g->nodes[i].nin; j++)
                live[g->nodes[i].in[j]] = true;
}

/* Optimizer state tensors per parameter, by torch.optim's names. */
int ir_opt_states(const IrOptim *o, const char **names)
{
    int n = 0;
    switch (o->kind) {
    case OPT_SGD:
        if (ir_hp(o, "momentum") != 0)
            names[n++] = "momentum_buffer";
        break;
    case OPT_ADAGRAD: names[n++] = "sum"; break;
    case OPT_RMSPROP:
        names[n++] = "square_avg";
        if (ir_hp(o, "momentum") != 0)
            names[n++] = "momentum_buffer";
        if (ir_hp(o, "centered") != 0)
            names[n++] = "grad_avg";
        break;
    case OPT_ADAM:
    case OPT_ADAMW:
        names[n++] = "exp_avg";
        names[n++] = "exp_avg_sq";
        if (ir_hp(o, "amsgrad") != 0)
            names[n++] = "max_exp_avg_sq";
        break;
    case OPT_NONE: break;
    }
    return n;
}

int ir_alias_of(const IrGraph *g, int id)
{
    const IrNode *n = &g->nodes[id];
    if (n->op == IR_ADD && n->a.fused)  /* computed in the epilogue of one of its inputs */
        return g->nodes[n->in[0]].a.epilogue == id ? n->in[0] : n->in[1];
    return n->in[0];
}

bool ir_is_output(const IrGraph *g, int id)
{
    for (int i = 0; i < g->noutputs; i++)
        if (g->outputs[i].node == id)
            return true;
    return false;
}
