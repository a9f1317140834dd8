/*
 * shape.c — the shape pass.
 *
 * Requires: a lowered graph (lower.c); input and label nodes carry their
 * declared shapes.
 * Guarantees: every node has its per-sample output shape; attributes are
 * resolved (pad[4] for `same`, pool stride = kernel when not given);
 * parameters exist with PyTorch's layouts.  A node whose shape cannot be
 * known (an error here or upstream) gets ndim -1 and its users are skipped
 * silently, so one mistake gives one message.
 */
#include "shape.h"

#include <stdarg.h>
#include <string.h>

typedef struct ShapeCtx {
    IrGraph *g;  /* graph being shaped */
    Diag *d;     /* error sink */
} ShapeCtx;

static const char *sstr(ShapeCtx *c, const IrShape *s)
{
    return ir_shape_str(c->g->arena, s);
}

/* What a node is called in messages: its variable, else its layer name. */
static const char *label_of(const IrNode *n)
{
    return n->var ? n->var : n->name;
}

static void serror(ShapeCtx *c, const IrNode *n, SrcLoc loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void serror(ShapeCtx *c, const IrNode *n, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = arena_vprintf(c->g->arena, fmt, ap);
    va_end(ap);
    diag_error(c->d, loc, "%s", msg);
    ir_note_inst(c->d, c->g, n->inst);
}

/* "note: 'x' is [16, 14, 14], computed by conv2d_1 here" (or "conv2d_1 computes ..." for an unnamed value) */
static void note_origin(ShapeCtx *c, int id)
{
    const IrNode *n = &c->g->nodes[id];
    if (n->op == IR_INPUT || n->op == IR_LABEL)
        diag_note(c->d, n->argloc[0], "'%s' is declared %s here", n->name,
                  n->is_class ? arena_printf(c->g->arena, "class[%d]", n->a.nclass) : sstr(c, &n->shape));
    else if (n->var)
        diag_note(c->d, n->loc, "'%s' is %s, computed by %s here", n->var, sstr(c, &n->shape), n->name);
    else
        diag_note(c->d, n->loc, "%s computes %s here", n->name, sstr(c, &n->shape));
}

static bool need_rank(ShapeCtx *c, IrNode *n, int lo, int hi, const char *what)
{
    const IrNode *x = &c->g->nodes[n->in[0]];
    if (x->shape.ndim >= lo && x->shape.ndim <= hi)
        return true;
    serror(c, n, n->argloc[0], "%s needs %s, but '%s' is %s", ir_ops[n->op].name, what,
           label_of(x), sstr(c, &x->shape));
    note_origin(c, n->in[0]);
    return false;
}

static void add_param(IrGraph *g, int node, const char *suffix, IrParamRole role, int ndim, const int *dims, int fan_in)
{
    int p = ir_add_param(g, node, suffix, role, ir_shape(ndim, dims));
    g->params[p].fan_in = fan_in;
}

/* A parameter tensor is limited to 2^30 elements, like an activation. */
static bool param_fits(ShapeCtx *c, const IrNode *n, const char *suffix, int ndim, const int *dims)
{
    IrShape s = ir_shape(ndim, dims);
    if (ir_numel(&s) <= (1 << 30))
        return true;
    serror(c, n, n->loc, "'%s.%s' would have %lld elements; the limit is 2^30", n->name, suffix,
           (long long)ir_numel(&s));
    return false;
}

static bool shape_dense(ShapeCtx *c, int id)
{
    IrNode *n = &c->g->nodes[id];
    if (!need_rank(c, n, 1, IR_MAXDIM, "an input with at least one dimension"))
        return false;
    IrShape x = c->g->nodes[n->in[0]].shape;
    int d = x.dim[x.ndim - 1];
    n->shape = x;
    n->shape.dim[x.ndim - 1] = n->a.units;
    if (!param_fits(c, n, "weight", 2, (int[]){n->a.units, d}))
        return false;
    add_param(c->g, id, "weight", IRP_WEIGHT, 2, (int[]){n->a.units, d}, d);
    if (n->a.bias)
        add_param(c->g, id, "bias", IRP_BIAS, 1, &n->a.units, d);
    return true;
}

/* Output size of a window op along one axis, or < 1 if the window does not fit. */
static int window_out(int in, int pad_lo, int pad_hi, int k, int dilation, int stride)
{
    int64_t span = (int64_t)dilation * (k - 1) + 1;  /* up to 10^12 */
    int64_t room = (int64_t)in + pad_lo + pad_hi - span;
    return room < 0 ? 0 : (int)(room / stride + 1);
}

static bool shape_conv(ShapeCtx *c, int id)
{
    IrNode *n = &c->g->nodes[id];
    IrAttrs *a = &n->a;
    if (!need_rank(c, n, 3, 3, "a [C, H, W] input"))
        return false;
    IrShape x = c->g->nodes[n->in[0]].shape;
    /* argloc: 0 x, 1 filters, 2 kernel, 3 stride, 4 pad, 5 dilation, 6 groups */
    if (x.dim[0] % a->groups || a->units % a->groups) {
        serror(c, n, n->argloc[6], "conv2d with groups = %d needs input channels (%d) and filters (%d) divisible by %d",
               a->groups, x.dim[0], a->units, a->groups);
        note_origin(c, n->in[0]);
        return false;
    }
    if (a->pad_same) {
        if (a->stride[0] != 1) {
            serror(c, n, n->argloc[3], "pad = same needs stride 1, got stride %d", a->stride[0]);
            return false;
        }
        int64_t total = (int64_t)a->dilation[0] * (a->kernel[0] - 1);
        if (total >= (1 << 30)) {
            serror(c, n, n->argloc[5], "conv2d kernel %d with dilation %d spans %lld pixels; the limit is 2^30",
                   a->kernel[0], a->dilation[0], (long long)total + 1);
            return false;
        }
        a->pad[0] = a->pad[1] = (int)(total / 2);
        a->pad[2] = a->pad[3] = (int)(total - total / 2);
    }
    int ho = window_out(x.dim[1], a->pad[0], a->pad[2], a->kernel[0], a->dilation[0], a->stride[0]);
    int wo = window_out(x.dim[2], a->pad[1], a->pad[3], a->kernel[1], a->dilation[1], a->stride[1]);
    if (ho < 1 || wo < 1) {
        long long span = (long long)a->dilation[0] * (a->kernel[0] - 1) + 1;
        serror(c, n, n->argloc[2], "conv2d kernel %lldx%lld%s is larger than its padded input %dx%d",
               span, span, a->dilation[0] > 1 ? " (dilated)" : "", x.dim[1] + a->pad[0] + a->pad[2],
               x.dim[2] + a->pad[1] + a->pad[3]);
        note_origin(c, n->in[0]);
        return false;
    }
    n->shape = ir_shape(3, (int[]){a->units, ho, wo});
    int cin = x.dim[0] / a->groups, k = a->kernel[0];
    if (!param_fits(c, n, "weight", 4, (int[]){a->units, cin, k, k}))
        return false;  /* so cin * k * k fits an int */
    add_param(c->g, id, "weight", IRP_WEIGHT, 4, (int[]){a->units, cin, k, k}, cin * k * k);
    if (a->bias)
        add_param(c->g, id, "bias", IRP_BIAS, 1, &a->units, cin * k * k);
    return true;
}

static bool shape_pool(ShapeCtx *c, int id)
{
    IrNode *n = &c->g->nodes[id];
    IrAttrs *a = &n->a;
    if (!need_rank(c, n, 3, 3, "a [C, H, W] input"))
        return false;
    IrShape x = c->g->nodes[n->in[0]].shape;
    a->dilation[0] = a->dilation[1] = 1;
    if (a->stride[0] == 0)
        a->stride[0] = a->stride[1] = a->kernel[0];
    /* argloc: 0 x, 1 kernel, 2 stride, 3 pad */
    if (a->pad[0] * 2 > a->kernel[0]) {
        serror(c, n, n->argloc[3], "%s pad %d is more than half its kernel %d", ir_ops[n->op].name, a->pad[0],
               a->kernel[0]);
        return false;
    }
    int ho = window_out(x.dim[1], a->pad[0], a->pad[2], a->kernel[0], 1, a->stride[0]);
    int wo = window_out(x.dim[2], a->pad[1], a->pad[3], a->kernel[1], 1, a->stride[1]);
    if (ho < 1 || wo < 1) {
        serror(c, n, n->argloc[1], "%s kernel %dx%d is larger than its padded input %dx%d", ir_ops[n->op].name,
               a->kernel[0], a->kernel[1], x.dim[1] + 2 * a->pad[0], x.dim[2] + 2 * a->pad[1]);
        note_origin(c, n->in[0]);
        return false;
    }
    n->shape = ir_shape(3, (int[]){x.dim[0], ho, wo});
    return true;
}

static bool shape_norm(ShapeCtx *c, int id)
{
    IrNode *n = &c->g->nodes[id];
    bool bn = n->op == IR_BATCHNORM;
    if (!need_rank(c, n, 1, bn ? 3 : IR_MAXDIM, bn ? "a [C], [C, L] or [C, H, W] input" : "an input with at least one dimension"))
        return false;
    n->shape = c->g->nodes[n->in[0]].shape;
    int ch = bn ? n->shape.dim[0] : n->shape.dim[n->shape.ndim - 1];
    add_param(c->g, id, "weight", IRP_WEIGHT, 1, &ch, ch);
    add_param(c->g, id, "bias", IRP_BIAS, 1, &ch, ch);
    if (bn) {
        add_param(c->g, id, "running_mean", IRP_RUNNING_MEAN, 1, &ch, ch);
        add_param(c->g, id, "running_var", IRP_RUNNING_VAR, 1, &ch, ch);
    }
    return true;
}

/* add, mul: both operands of one shape. */
static bool shape_binary(ShapeCtx *c, int id)
{
    IrNode *n = &c->g->nodes[id];
    const IrShape *a = &c->g->nodes[n->in[0]].shape, *b = &c->g->nodes[n->in[1]].shape;
    if (!ir_shape_eq(a, b)) {
        serror(c, n, n->loc, "%s needs operands of one shape, got %s and %s", ir_ops[n->op].name, sstr(c, a), sstr(c, b));
        note_origin(c, n->in[0]);
        note_origin(c, n->in[1]);
        return false;
    }
    n->shape = *a;
    return true;
}

static bool shape_concat(ShapeCtx *c, int id)
{
    IrNode *n = &c->g->nodes[id];
    IrShape a = c->g->nodes[n->in[0]].shape, b = c->g->nodes[n->in[1]].shape;
    int ax = n->a.axis;
    if (a.ndim != b.ndim) {
        serror(c, n, n->loc, "concat needs operands with the same number of dimensions, got %s and %s",
               sstr(c, &a), sstr(c, &b));
        note_origin(c, n->in[0]);
        note_origin(c, n->in[1]);
        return false;
    }
    if (ax < -a.ndim || ax >= a.ndim || a.ndim == 0) {
        serror(c, n, n->argloc[2], "concat axis %d is out of range for %d-dimensional operands (use 0..%d)",
               ax, a.ndim, a.ndim - 1);
        return false;
    }
    if (ax < 0)
        ax += a.ndim;
    n->a.axis = ax;
    for (int i = 0; i < a.ndim; i++)
        if (i != ax && a.dim[i] != b.dim[i]) {
            serror(c, n, n->loc, "concat along axis %d needs the other dimensions equal, got %s and %s", ax,
                   sstr(c, &a), sstr(c, &b));
            note_origin(c, n->in[0]);
            note_origin(c, n->in[1]);
            return false;
        }
    if ((int64_t)a.dim[ax] + b.dim[ax] > (1 << 30)) {  /* the sum must fit an int */
        serror(c, n, n->loc, "'%s' would have %lld elements per sample; the limit is 2^30", label_of(n),
               (long long)(ir_numel(&a) + ir_numel(&b)));
        return false;
    }
    n->shape = a;
    n->shape.dim[ax] += b.dim[ax];
    return true;
}

static bool shape_loss(ShapeCtx *c, int id)
{
    IrNode *n = &c->g->nodes[id];
    const IrNode *p = &c->g->nodes[n->in[0]], *t = &c->g->nodes[n->in[1]];
    const char *op = ir_ops[n->op].name;
    n->shape.ndim = 0;
    if (n->op == IR_CROSS_ENTROPY) {
        if (!t->is_class) {
            serror(c, n, n->argloc[1], "cross_entropy needs a class label, but '%s' is %s", t->name, sstr(c, &t->shape));
            note_origin(c, n->in[1]);
            return false;
        }
        if (p->shape.ndim != 1 || p->shape.dim[0] != t->a.nclass) {
            serror(c, n, n->argloc[0], "cross_entropy needs logits [%d] for class[%d] labels, but '%s' is %s",
                   t->a.nclass, t->a.nclass, label_of(p), sstr(c, &p->shape));
            note_origin(c, n->in[0]);
            note_origin(c, n->in[1]);
            return false;
        }
        return true;
    }
    if (t->is_class) {
        serror(c, n, n->argloc[1], "%s compares two f32 tensors, but '%s' is a class label", op, t->name);
        note_origin(c, n->in[1]);
        return false;
    }
    if (!ir_shape_eq(&p->shape, &t->shape)) {
        serror(c, n, n->loc, "%s needs prediction and target of one shape, got %s and %s", op,
               sstr(c, &p->shape), sstr(c, &t->shape));
        note_origin(c, n->in[0]);
        note_origin(c, n->in[1]);
        return false;
    }
    return true;
}

/* Infers one node; false on an error (already reported). */
static bool shape_node(ShapeCtx *c, int id)
{
    IrNode *n = &c->g->nodes[id];
    switch (n->op) {
    case IR_INPUT:
    case IR_LABEL: return true;
    case IR_DENSE: return shape_dense(c, id);
    case IR_CONV2D: return shape_conv(c, id);
    case IR_MAXPOOL2D:
    case IR_AVGPOOL2D: return shape_pool(c, id);
    case IR_GLOBAL_AVGPOOL:
        if (!need_rank(c, n, 3, 3, "a [C, H, W] input"))
            return false;
        n->shape = ir_shape(1, c->g->nodes[n->in[0]].shape.dim);
        return true;
    case IR_FLATTEN:
        n->shape = ir_shape(1, (int[]){(int)ir_numel(&c->g->nodes[n->in[0]].shape)});
        return true;
    case IR_SOFTMAX:
    case IR_LOG_SOFTMAX:
        if (!need_rank(c, n, 1, IR_MAXDIM, "an input with at least one dimension"))
            return false;
        n->shape = c->g->nodes[n->in[0]].shape;
        return true;
    case IR_BATCHNORM:
    case IR_LAYERNORM: return shape_norm(c, id);
    case IR_ADD:
    case IR_MUL: return shape_binary(c, id);
    case IR_CONCAT: return shape_concat(c, id);
    case IR_CROSS_ENTROPY:
    case IR_MSE:
    case IR_L1:
    case IR_BCE_WITH_LOGITS: return shape_loss(c, id);
    case IR_LOSS_SUM: n->shape.ndim = 0; return true;
    default:  /* elementwise unary ops, dropout */
        n->shape = c->g->nodes[n->in[0]].shape;
        return true;
    }
}

void shape_run(IrGraph *g, Diag *d)
{
    ShapeCtx c = {g, d};
    for (int i = 0; i < g->nnodes; i++) {
        IrNode *n = &g->nodes[i];
        bool known = true;
        for (int j = 0; j < n->nin; j++)
            known &= g->nodes[n->in[j]].shape.ndim >= 0;
        if (!known || !shape_node(&c, i)) {
            n->shape.ndim = -1;
            continue;
        }
        int64_t numel = ir_numel(&n->shape);
        if (numel == INT64_MAX) {  /* saturated */
            serror(&c, n, n->loc, "'%s' would have more than 2^63 elements per sample; the limit is 2^30",
                   label_of(n));
            n->shape.ndim = -1;
        } else if (numel > (1 << 30)) {
            serror(&c, n, n->loc, "'%s' would have %lld elements per sample; the limit is 2^30",
                   label_of(n), (long long)numel);
            n->shape.ndim = -1;
        }
    }
}
