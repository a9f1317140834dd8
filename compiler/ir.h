/*
 * ir.h — the graph IR: tensor ops with static per-sample shapes.
 *
 * A graph is a list of nodes in topological order (every input of node i
 * has an index below i).  Each node computes one tensor; the batch
 * dimension is implicit and never appears in a shape.  Parameters
 * (weights, biases, batchnorm statistics) are named tensors owned by the
 * node that uses them, named by the weights-file contract of
 * docs/language.md (`<layer>.weight`, ...).
 *
 * Passes (compiler/passes.c) transform a graph in place; ir_verify()
 * checks the invariants above between passes.
 */
#ifndef NETC_IR_H
#define NETC_IR_H

#include "arena.h"
#include "diag.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum IrOp {
#define X(id, name, sig, flags) IR_##id,
#include "ir_ops.def"
#undef X
    IR_NOPS
} IrOp;

enum {
    IRF_PARAMS = 1 << 0,    /* owns parameter tensors */
    IRF_ELEM = 1 << 1,      /* elementwise: output shape = input shape */
    IRF_LOSS = 1 << 2,      /* a loss term: scalar output */
    IRF_INTERNAL = 1 << 3,  /* not callable from .net files */
};

enum {
    IR_MAXDIM = 8,    /* dimensions per shape */
    IR_MAXIN = 8,     /* tensor inputs per node (loss_sum: terms) */
    IR_MAXARG = 12,   /* signature arguments per op */
    IR_MAXPARAM = 4,  /* parameter tensors per node */
    IR_MAXCHAIN = 16, /* nodes per elementwise chain (chain.c); its kernel keeps one stack block per node */
    IR_CHAINARGS = 14, /* tensors a chain kernel reads and writes, at most (its inputs, root, stored members) */
};

typedef struct IrShape {
    int ndim;              /* 0 for a scalar, -1 when unknown after an error */
    int dim[IR_MAXDIM];    /* sizes, outermost first */
} IrShape;

typedef struct IrAttrs {
    int units;          /* dense units, conv2d filters */
    int kernel[2];      /* conv/pool window, height x width */
    int stride[2];      /* conv/pool step; 0 = not given (pools: = kernel) */
    int dilation[2];    /* conv2d dilation */
    int pad[4];         /* top, left, bottom, right */
    bool pad_same;      /* conv2d pad = same (resolved into pad[] by shape) */
    int groups;         /* conv2d groups */
    bool bias;          /* dense/conv2d has a bias */
    int axis;           /* concat axis of the per-sample shape */
    float alpha;        /* leaky_relu slope */
    float momentum;     /* batchnorm running-stat momentum */
    float eps;          /* batchnorm/layernorm epsilon */
    float p;            /* dropout probability */
    int nclass;         /* class label: number of classes */
    float weight;       /* loss term factor in the loss sum */
    int of;             /* BWD: the forward node differentiated */
    int wrt;            /* BWD: its input differentiated, or -1 for its parameters */
    int dropout_id;     /* dropout: 1, 2, ... in layer order (mask stream) */
    int epilogue;       /* fusion: activation node applied at the end of this kernel, 0 if none */
    bool fused;         /* fusion: this activation runs in its producer's epilogue */
    int fold;           /* fold: batchnorm node folded into this conv2d/dense for inference, 0 if none */
    bool folded;        /* fold: this batchnorm is computed by its input's kernel in inference */
    int chain;          /* chain: the root whose kernel computes this member (chain.c), 0 if none */
    int chain_len;      /* chain: on a root, the nodes its kernel computes, itself included; 0 if not a root */
} IrAttrs;

typedef enum IrParamRole {
    IRP_WEIGHT,        /* dense/conv weight, norm scale */
    IRP_BIAS,          /* dense/conv bias, norm shift */
    IRP_RUNNING_MEAN,  /* batchnorm running mean (not trained) */
    IRP_RUNNING_VAR,   /* batchnorm running variance (not trained) */
} IrParamRole;

typedef struct IrParam {
    const char *name;   /* weights-file name, e.g. "dense_1.weight" */
    IrShape shape;      /* PyTorch layout */
    IrParamRole role;   /* what it is */
    int node;           /* owning node */
    bool trainable;     /* updated by the optimizer */
    int fan_in;         /* for default initialization */
} IrParam;

/* How a kernel's loop nest is shaped; chosen by schedule.c, read by the emitter. */
typedef struct IrSched {
    int vec;       /* vector width in floats the kernel is written for (1 = scalar) */
    int unroll;    /* independent accumulators in reductions */
    bool gemm;     /* computed by the packed, register-tiled GEMM (nnrt_sgemm) */
    bool direct;   /* conv2d with few taps: direct kernels (emit_conv_direct.c), no im2col */
    int tile[3];   /* its cache blocking: mc rows, nc columns, kc depth */
    int group;     /* conv2d on the GEMM with one group: samples per GEMM (their im2col columns fit in cache) */
    bool filters;  /* conv2d on the GEMM route whose forward and weight gradient are vectorized over
                      filters instead (emit_conv_direct.c, no im2col) */
    bool dx_pixels; /* with filters: its input gradient vectorized over output pixels, per sample
                       (emit_conv_filters_dx); else it stays on the GEMM and col2im */
} IrSched;

/* Where memplan.c put a node's tensor. */
typedef enum IrBuf {
    BUF_NONE,     /* not computed in inference (loss, label, dead code) */
    BUF_INPUT,    /* the caller's input array */
    BUF_OUTPUT,   /* the caller's output array */
    BUF_WORK,     /* the workspace, at `off` floats per sample */
    BUF_ALIAS,    /* same memory as its first input (flatten, dropout in inference) */
    BUF_EFFECT,   /* computes no tensor: parameter gradients, loss values */
    BUF_CHAIN,    /* a chain member computed inside its root's kernel and never stored (chain.c) */
} IrBuf;

/* A tensor's place in one plan: the inference plan or the training plan. */
typedef struct IrPlace {
    IrBuf buf;     /* kind of storage */
    int64_t off;   /* BUF_WORK: offset in floats per sample */
} IrPlace;

enum { PLAN_INFER, PLAN_TRAIN };

typedef struct IrNode {
    IrOp op;                    /* what it computes */
    const char *name;           /* layer name ("conv_bn_relu_1.conv2d_1"), or input/label name */
    const char *var;            /* .net variable first bound to it, or NULL */
    SrcLoc loc;                 /* the call (or declaration) */
    SrcLoc argloc[IR_MAXARG];   /* each signature argument as written (call if defaulted) */
    int inst;                   /* block instantiation it came from, -1 at net level */
    int nin;                    /* tensor inputs */
    int in[IR_MAXIN];           /* input node ids */
    IrShape shape;              /* per-sample output shape */
    IrAttrs a;                  /* resolved attributes */
    int nparam;                 /* parameter tensors */
    int param[IR_MAXPARAM];     /* their ids in IrGraph.params */
    bool is_class;              /* LABEL: integer class index in [0, nclass) */
    IrSched sched;              /* loop-nest shape (schedule pass) */
    IrPlace place[2];           /* where the tensor lives in each plan (memplan pass) */
    int out_index;              /* which output it is, or -1 */
    bool needs_grad;            /* autodiff: depends on a trainable parameter */
    int64_t stat_off;           /* batchnorm in training: batch mean and 1/std, in the stats block */
    int64_t fold_off[2];        /* conv2d/dense with a fold: its folded weight and bias, in the fold block */
} IrNode;

/* One expansion of a block, for "in block X instantiated here" notes. */
typedef struct IrInst {
    const char *block;  /* block name */
    SrcLoc call;        /* the call that expanded it */
    int parent;         /* enclosing instantiation, -1 at net level */
} IrInst;

typedef struct IrOutput {
    const char *name;  /* .net variable name */
    int node;          /* node computing it */
    SrcLoc loc;        /* where it is named in `output` */
} IrOutput;

typedef enum IrOptKind { OPT_NONE, OPT_SGD, OPT_ADAGRAD, OPT_RMSPROP, OPT_ADAM, OPT_ADAMW } IrOptKind;

enum { IR_MAXHP = 8 };

typedef struct IrOptim {
    IrOptKind kind;             /* OPT_NONE when the net has no optimizer */
    const char *name;           /* "adam" */
    SrcLoc loc;                 /* the call */
    int nhp;                    /* hyper-parameters, in signature order */
    const char *hpname[IR_MAXHP];  /* "lr", "beta1", ... */
    double hp[IR_MAXHP];        /* values (bools as 0/1) */
} IrOptim;

typedef enum IrSchedule { SCHED_CONSTANT, SCHED_STEP, SCHED_COSINE } IrSchedule;

typedef struct IrTrain {
    int batch;          /* samples per step */
    int epochs;         /* passes over the data */
    uint64_t seed;      /* RNG seed: init, shuffle, dropout */
    bool shuffle;       /* reshuffle every epoch */
    IrSchedule schedule;  /* learning-rate schedule */
    int step_size;      /* SCHED_STEP: epochs between decays */
    double gamma;       /* SCHED_STEP: decay factor */
    int warmup;         /* linear warmup steps */
    double clip_norm;   /* global gradient-norm clip, 0 = off */
} IrTrain;

typedef enum IrTarget { TARGET_GENERIC, TARGET_AVX2, TARGET_NEON, TARGET_AVX512 } IrTarget;

struct SchedFile;

typedef struct IrGraph {
    Arena *arena;          /* owns everything below */
    const SrcFile *src;    /* source file */
    const char *name;      /* net name */
    SrcLoc loc;            /* net name in the source */
    IrNode *nodes;         /* topological order */
    int nnodes, capnodes;
    IrParam *params;       /* every parameter tensor, in creation order */
    int nparams, capparams;
    IrInst *insts;         /* block instantiations */
    int ninsts, capinsts;
    IrOutput *outputs;     /* `output` names */
    int noutputs, capoutputs;
    int loss;              /* LOSS_SUM node, or -1 */
    IrOptim opt;           /* optimizer, kind OPT_NONE if absent */
    IrTrain train;         /* training settings with defaults filled */
    IrTarget target;       /* instruction set the code is scheduled for */
    bool no_fuse;          /* --no-fuse: the fusion pass leaves the graph alone */
    const struct SchedFile *routes;  /* --schedule: routes forced per conv2d (schedule.h), or NULL */
    int nforward;          /* autodiff: nodes before this index are the forward pass */
    int64_t work_floats[2];   /* memplan: workspace floats per sample, with reuse, per plan */
    int64_t work_floats_noreuse[2];  /* the same without reuse, for comparison */
    int64_t param_floats;  /* memplan: all parameters, each 16-float aligned */
    int64_t trainable_floats;  /* memplan: the trainable ones, which come first */
    int64_t *param_off;    /* memplan: offset of each parameter in floats */
    int64_t stat_floats;   /* memplan: batchnorm batch statistics saved for backward */
    int64_t col_floats;    /* memplan: im2col buffer of the forward's GEMM convolutions, for any batch */
    int64_t train_col_floats; /* memplan: the same for train_step (the backward's too), >= col_floats */
    int64_t fold_floats;   /* memplan: folded weights and biases of every fold (inference only) */
} IrGraph;

/* ir.c */
typedef struct IrOpInfo {
    const char *name;  /* spelling */
    const char *sig;   /* signature string, see ir_ops.def */
    unsigned flags;    /* IRF_* */
} IrOpInfo;

extern const IrOpInfo ir_ops[IR_NOPS];

IrGraph *ir_new(Arena *a, const SrcFile *src, const char *name, SrcLoc loc);
int ir_add_node(IrGraph *g, IrOp op, SrcLoc loc);
int ir_add_param(IrGraph *g, int node, const char *suffix, IrParamRole role, IrShape shape);
int ir_op_lookup(const char *name);          /* IR_*, or -1 */
int64_t ir_numel(const IrShape *s);          /* elements, 1 for a scalar; saturates at INT64_MAX */
int64_t ir_mul_sat(int64_t a, int64_t b);    /* a * b, saturating at INT64_MAX (0 if either <= 0) */
int64_t ir_add_sat(int64_t a, int64_t b);    /* a + b, saturating at INT64_MAX (a, b >= 0) */
IrShape ir_shape(int ndim, const int *dims);
bool ir_shape_eq(const IrShape *a, const IrShape *b);
char *ir_shape_str(Arena *a, const IrShape *s);   /* "[16, 28, 28]" */
const char *ir_opt_name(IrOptKind k);
const char *ir_schedule_name(IrSchedule s);
double ir_hp(const IrOptim *o, const char *name);  /* hyper-parameter by name */
int ir_opt_states(const IrOptim *o, const char **names);  /* state tensors per parameter: "exp_avg", ... */
void ir_flops(const IrGraph *g, const IrNode *n, int64_t *fwd, int64_t *bwd);
int64_t ir_bwd_flops(const IrGraph *g, const IrNode *bwd);

/* A parsed op signature (see ir_ops.def). */
typedef struct IrSigParam {
    const char *name;  /* argument name */
    char type;         /* T I F B S P */
    bool required;     /* marked '!' */
    const char *dflt;  /* default as written, or NULL */
} IrSigParam;

typedef struct IrSig {
    int n;                     /* arguments */
    IrSigParam p[IR_MAXARG];   /* in positional order */
    char buf[256];             /* storage for the strings */
} IrSig;

void ir_sig_parse(const char *spec, IrSig *out);
int ir_sig_find(const IrSig *s, const char *name);   /* index or -1 */
void ir_note_inst(Diag *d, const IrGraph *g, int inst);  /* "in block X instantiated here" */

/* Marks nodes that inference needs (reached backwards from the outputs). */
void ir_live_for_inference(const IrGraph *g, bool *live);
bool ir_is_output(const IrGraph *g, int id);  /* a net output? */
/* The node whose memory an aliasing node (BUF_ALIAS) shares: its first input, or the producer of a fused add. */
int ir_alias_of(const IrGraph *g, int id);

/* ir_print.c */
void ir_print(FILE *out, const IrGraph *g);

/* ir_verify.c: internal consistency; dies on a broken invariant. */
void ir_verify(const IrGraph *g, const char *after_pass);

#endif
