#!/usr/bin/python3
"""Generate the PyTorch reference data that netc's training step is compared with.

Run:  /usr/bin/python3 tests/reference/gen_train_reference.py

For every case it writes tests/reference/train/<case>/ holding

    model.net               the net, with its loss, optimizer and train { } block
    init.safetensors        every parameter before training (incl. batchnorm
                            running_mean / running_var), by netc's names
    data.npy                float32 [steps*B, per-sample shape]
    labels.npy              int64 [steps*B] class indices, or float32
                            [steps*B, label shape]; absent if the net has no label
    expected_losses.npy     float32 [steps]: the loss of each step's forward pass
    expected.safetensors    every parameter after `steps` steps, same names
    case.json               {"description", "batch", "steps", "seed", "tolerance"}

Step s uses samples [s*B, (s+1)*B) in order; all steps are in epoch 0.

How it works.  Unlike gen_reference.py, which builds the source text and the
torch modules together, here the .net text comes first: the example nets are
copied from examples/ verbatim, and the other cases are written out as text
below.  A small parser (blocks included) reads that text and lowers it to a
list of torch callables, naming every layer by netc's rule while it goes
(<op>_<k> per op kind in source order, call arguments before the call, pipes
left to right, named calls still use up a k, <block>_<k>. prefixes).  The op
constructors and the parameter draws (He-uniform weights etc.) are
gen_reference.py's own, imported, so both reference sets share one
definition of every op.  Then torch trains it: torch.optim with foreach=False,
nn.BatchNorm in train mode, losses as means, gradient clipping with
clip_grad_norm_, the learning rate set per step by netc's schedule and
warmup formula, and dropout replaced by netc's counter-hash mask (below).

Guard against noise in the reference itself: every case is trained again in
float64 from the same start, and each float32 loss and parameter must agree
with it to SELF_CHECK * max(1, |x|), a tenth of the test budget.  It is also
trained in float64 from PERTURBED_RUNS starts with every value scaled by
1 + U(-PERTURB, PERTURB), standing in for another implementation's rounding;
those must agree to ROBUST_CHECK.  This rejects a case whose result hinges on
rounding: a relu input or maxpool window within rounding of its kink (the
gradient jumps), or an adam gradient within rounding of eps.

Determinism: torch.manual_seed(crc32(case name)) per case, one thread,
deterministic algorithms, the train/ tree is deleted before it is rewritten.
"""

import json
import math
import os
import re
import shutil
import sys
import warnings
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import gen_reference as gr

STEPS = 3
TOLERANCE = 1e-4        # |got - expected| <= TOLERANCE * max(1, |expected|)
SELF_CHECK = 1e-5       # float32 vs float64 agreement required of the reference
ROBUST_CHECK = 3e-5     # agreement required with the perturbed float64 runs
PERTURB = 1e-6          # relative noise on the start of the perturbed float64 runs
PERTURBED_RUNS = 3
ROOT = os.path.dirname(os.path.abspath(__file__))
TRAIN_DIR = os.path.join(ROOT, "train")
EXAMPLES_DIR = os.path.join(ROOT, "..", "..", "examples")


# --------------------------------------------------------------------------
# netc's dropout mask: nnrt_hash_u32 of runtime/nnrt_core.c, in exact uint64
# --------------------------------------------------------------------------

MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15         # splitmix64 increment; also the step stride
MIX1, MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB   # MIX1 is also the layer stride
COUNTER_MUL = 0xD1B54A32D192ED03


def splitmix64(x):
    """One splitmix64 step on the Python int state x: (new state, output)."""
    x = (x + GOLDEN) & MASK64
    z = x
    z = ((z ^ (z >> 30)) * MIX1) & MASK64
    z = ((z ^ (z >> 27)) * MIX2) & MASK64
    return x, z ^ (z >> 31)


def hash_u32(seed, counters):
    """nnrt_hash_u32(seed, c) for every c of a uint64 array (wrapping math)."""
    _, key = splitmix64(seed)
    u64 = np.uint64
    x = u64(key) ^ (counters * u64(COUNTER_MUL))
    z = x + u64(GOLDEN)
    z = (z ^ (z >> u64(30))) * u64(MIX1)
    z = (z ^ (z >> u64(27))) * u64(MIX2)
    return ((z ^ (z >> u64(31))) >> u64(32)).astype(np.uint32)


# (seed, counter, nnrt_hash_u32) printed by a C program linked with
# runtime/nnrt_core.c; checked at start-up.
HASH_KNOWN = [(0, 0, 2802244911), (1, 1000003, 4288340927), (7, 2000006, 1568578195),
              (MASK64, 3000009, 1580263757), (18142534358093389284, 4000012, 50463747),
              (123456789012345, 0, 2179152345)]


def dropout_key(seed, step, j):
    """Key of the j-th dropout layer (from 1) at global step s (from 0)."""
    return (seed + step * GOLDEN + j * MIX1) & MASK64


class HashDropout(nn.Module):
    """Dropout whose mask is netc's: element i of the flattened batch tensor
    is kept iff nnrt_hash_u32(key, i) >= floor(p * 2^32); kept elements are
    multiplied by float32(1 / (1 - p)).  Identity in eval mode."""

    def __init__(self, p, j, seed):
        super().__init__()
        self.p, self.j, self.seed = p, j, seed
        self.step = 0                       # set by the training loop
        self.threshold = math.floor(p * 2.0 ** 32)
        self.scale = float(np.float32(1.0 / (1.0 - p)))

    def mask(self, shape):
        """The 0/1 keep mask of a batch tensor of this shape, as numpy bool."""
        i = np.arange(int(np.prod(shape)), dtype=np.uint64)
        u = hash_u32(dropout_key(self.seed, self.step, self.j), i)
        return (u.astype(np.int64) >= self.threshold).reshape(shape)

    def forward(self, x):
        if not self.training:
            return x
        m = torch.from_numpy(self.mask(tuple(x.shape))).to(x.dtype) * self.scale
        return x * m


# --------------------------------------------------------------------------
# The .net parser: tokens, then a tuple AST
#   expr  ('name', id) | ('call', id, [(key or None, arg)]) | ('pipe', expr, [stage])
#   arg   an expr, or ('value', python value)
# --------------------------------------------------------------------------

TOKEN_RE = re.compile(r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<num>(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)
  | (?P<id>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<str>"[^"\n]*")
  | (?P<op>->|[(){}\[\],;:=*+-])
""", re.VERBOSE)


def tokenize(src):
    """List of (kind, text) with kinds num, id, str, op; ends with ('eof', '')."""
    toks, pos = [], 0
    while pos < len(src):
        m = TOKEN_RE.match(src, pos)
        if not m:
            raise SyntaxError("bad character %r at offset %d" % (src[pos], pos))
        pos = m.end()
        if m.lastgroup != "ws":
            toks.append((m.lastgroup, m.group()))
    return toks + [("eof", "")]


def number(text):
    return float(text) if any(c in text for c in ".eE") else int(text)


class Parser:
    """Recursive descent over the grammar of issue 2."""

    def __init__(self, src):
        self.toks, self.i = tokenize(src), 0
        self.blocks, self.nets = {}, {}

    def peek(self, k=0):
        return self.toks[self.i + k]

    def take(self, text=None):
        kind, t = self.toks[self.i]
        if text is not None and t != text:
            raise SyntaxError("expected %r, got %r" % (text, t))
        self.i += 1
        return t

    def at(self, text):
        return self.peek()[1] == text and self.peek()[0] in ("op", "id")

    def file(self):
        while self.peek()[0] != "eof":
            kw = self.take()
            if kw == "block":
                self.block()
            elif kw == "net":
                self.net()
            else:
                raise SyntaxError("expected block or net, got %r" % kw)
        return self

    def block(self):
        name = self.take()
        self.take("(")
        params = [(self.take(), None)]
        while self.at(","):
            self.take(",")
            p = self.take()
            params.append((p, self.value() if self.at("=") and self.take("=") else None))
        self.take(")")
        self.take("{")
        body = []
        while not self.at("return"):
            body.append(self.assign())
        self.take("return")
        ret = self.expr()
        self.take(";")
        self.take("}")
        self.blocks[name] = (params, body, ret)

    def net(self):
        name = self.take()
        self.take("{")
        stmts = []
        while not self.at("}"):
            stmts.append(self.stmt())
        self.take("}")
        self.nets[name] = stmts

    def stmt(self):
        kw = self.peek()[1]
        if kw in ("input", "label") and self.peek(1)[0] == "id":
            self.take()
            name = self.take()
            self.take(":")
            ty = self.take()
            self.take("[")
            dims = [int(self.take())]
            while self.at(","):
                self.take(",")
                dims.append(int(self.take()))
            self.take("]")
            self.take(";")
            return (kw, name, ty, dims)
        if kw == "output" and self.peek(1)[0] == "id":
            self.take()
            names = [self.take()]
            while self.at(","):
                self.take(",")
                names.append(self.take())
            self.take(";")
            return ("output", names)
        if kw == "loss" and self.peek(1)[1] != "=":
            self.take()
            terms = [self.lterm()]
            while self.at("+"):
                self.take("+")
                terms.append(self.lterm())
            self.take(";")
            return ("loss", terms)
        if kw == "optimizer" and self.peek(1)[1] != "=":
            self.take()
            call = self.primary()
            self.take(";")
            return ("optimizer", call)
        if kw == "train" and self.peek(1)[1] == "{":
            self.take()
            self.take("{")
            kvs = {}
            while not self.at("}"):
                k = self.take()
                self.take("=")
                kvs[k] = self.value()
                self.take(";")
            self.take("}")
            return ("train", kvs)
        return ("assign",) + self.assign()

    def assign(self):
        name = self.take()
        self.take("=")
        e = self.expr()
        self.take(";")
        return (name, e)

    def lterm(self):
        w = 1.0
        if self.peek()[0] == "num":
            w = float(self.take())
            self.take("*")
        return (w, self.primary())

    def expr(self):
        e = self.primary()
        stages = []
        while self.at("->"):
            self.take("->")
            name = self.take()
            stages.append(self.call_rest(name) if self.at("(") else ("name", name))
        return ("pipe", e, stages) if stages else e

    def primary(self):
        if self.at("("):
            self.take("(")
            e = self.expr()
            self.take(")")
            return e
        name = self.take()
        return self.call_rest(name) if self.at("(") else ("name", name)

    def call_rest(self, name):
        self.take("(")
        args = []
        while not self.at(")"):
            key = None
            if self.peek()[0] == "id" and self.peek(1)[1] == "=":
                key = self.take()
                self.take("=")
            args.append((key, self.arg()))
            if not self.at(")"):
                self.take(",")
        self.take(")")
        return ("call", name, args)

    def arg(self):
        kind, t = self.peek()
        if kind in ("num", "str") or t in ("-", "true", "false"):
            return self.value()
        return self.expr()

    def value(self):
        kind, t = self.peek()
        if t == "-":
            self.take()
            return ("value", -number(self.take()))
        self.take()
        if kind == "num":
            return ("value", number(t))
        if kind == "str":
            return ("value", t[1:-1])
        if t in ("true", "false"):
            return ("value", t == "true")
        return ("value", gr.Ident(t))


# --------------------------------------------------------------------------
# Lowering: the AST becomes a Graph of torch callables with netc's names
# --------------------------------------------------------------------------

class T:
    """A tensor value during lowering: the index of its graph node."""

    def __init__(self, node):
        self.node = node


class Scope:
    """Names visible in a net or block instance, the per-kind counters and
    the layer-name prefix (\"residual_2.\")."""

    def __init__(self, prefix, env):
        self.prefix, self.env, self.counters = prefix, dict(env), {}

    def count(self, kind):
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return self.counters[kind]


class Graph:
    """One net lowered: nodes evaluated in order, parameters, loss, settings."""

    def __init__(self, name, parsed, seed):
        self.name, self.blocks, self.seed = name, parsed.blocks, seed
        self.reg = gr.Net(name, "")             # parameter registry: reg.params
        self.nodes, self.probes = [], []        # (fn, operand ids); probe values
        self.modules = nn.ModuleList()
        self.layers = {}                        # layer name -> nn.Module
        self.dropouts = []
        self.inputs, self.labels, self.outputs = {}, {}, []   # name -> T; names
        self.label_specs = {}                   # label name -> ("class"|"f32", dims)
        self.loss_terms, self.opt, self.train = [], None, {}
        self.vars = {}
        self.lower_net(parsed.nets[name])

    # -- nodes -----------------------------------------------------------
    def add(self, fn, operands):
        """Append a node and evaluate it on the probe batch (shapes)."""
        self.nodes.append((fn, [t.node for t in operands]))
        with torch.no_grad():
            self.probes.append(fn(*[self.probes[t.node] for t in operands]))
        return T(len(self.nodes) - 1)

    def leaf(self, probe):
        self.nodes.append((None, []))
        self.probes.append(probe)
        return T(len(self.nodes) - 1)

    def shape(self, t):
        return tuple(self.probes[t.node].shape[1:])

    # -- statements ------------------------------------------------------
    def lower_net(self, stmts):
        scope = Scope("", {})
        for st in stmts:
            kind = st[0]
            if kind == "input":
                _, name, _, dims = st
                scope.env[name] = self.inputs[name] = self.leaf(torch.zeros([2] + dims))
            elif kind == "label":
                _, name, ty, dims = st
                probe = (torch.zeros(2, dtype=torch.int64) if ty == "class"
                         else torch.zeros([2] + dims))
                scope.env[name] = self.labels[name] = self.leaf(probe)
                self.label_specs[name] = (ty, dims)
            elif kind == "assign":
                scope.env[st[1]] = self.eval(st[2], scope)
            elif kind == "output":
                self.outputs += st[1]
            elif kind == "loss":
                self.loss_terms = [(w, c[1], [self.eval(a, scope) for _, a in c[2]])
                                   for w, c in st[1]]
            elif kind == "optimizer":
                self.opt = (st[1][1], [(k, self.eval(a, scope)) for k, a in st[1][2]])
            elif kind == "train":
                self.train = {k: v[1] for k, v in st[1].items()}
        self.vars = scope.env

    # -- expressions -----------------------------------------------------
    def eval(self, e, scope):
        kind = e[0]
        if kind == "value":
            return e[1]
        if kind == "name":
            if e[1] in scope.env:
                return scope.env[e[1]]
            return gr.Ident(e[1])                       # a symbol: same, cosine
        if kind == "call":
            return self.call(e[1], e[2], scope, None)
        cur = self.eval(e[1], scope)
        for st in e[2]:
            cur = self.call(st[1], st[2] if st[0] == "call" else [], scope, cur)
        return cur

    def call(self, name, args, scope, piped):
        """An op or block call; its arguments are lowered (named) first."""
        pos = [] if piped is None else [piped]
        kw = {}
        for key, a in args:
            v = self.eval(a, scope)
            if key is None:
                pos.append(v)
            else:
                kw[key] = v
        if name in self.blocks:
            return self.block(name, pos, kw, scope)
        return self.op(name, pos, kw, scope)

    def op(self, kind, pos, kw, scope):
        k = scope.count(kind)
        n = 0
        while n < len(pos) and isinstance(pos[n], T):
            n += 1
        operands, attrs = pos[:n], pos[n:]
        layer = scope.prefix + (kw.pop("name", None) or "%s_%d" % (kind, k))
        shapes = [self.shape(t) for t in operands]
        if kind == "dropout":
            fn = HashDropout(*attrs, **kw, j=len(self.dropouts) + 1, seed=self.seed)
            self.dropouts.append(fn)
        else:
            fn = gr.OPS[kind](self.reg, layer, shapes, *attrs, **kw)
        if isinstance(fn, nn.Module):
            fn.eval()                   # probing only; trained in train mode
            self.modules.append(fn)
            self.layers[layer] = fn
        return self.add(fn, operands)

    def block(self, name, pos, kw, scope):
        params, body, ret = self.blocks[name]
        k = scope.count(name)
        env = {}
        for i, (p, dflt) in enumerate(params):
            env[p] = pos[i] if i < len(pos) else kw[p] if p in kw else dflt[1]
        inner = Scope("%s%s_%d." % (scope.prefix, name, k), env)
        for var, e in body:
            inner.env[var] = self.eval(e, inner)
        return self.eval(ret, inner)

    # -- running ---------------------------------------------------------
    def forward(self, feed):
        """Node values for a feed {node id: tensor} of inputs and labels."""
        vals = []
        for i, (fn, ops) in enumerate(self.nodes):
            vals.append(feed[i] if fn is None else fn(*[vals[j] for j in ops]))
        return vals

    def param_tensor(self, full):
        layer, pname = full.rsplit(".", 1)
        return getattr(self.layers[layer], pname)


LOSSES = {
    "cross_entropy": F.cross_entropy,
    "mse": F.mse_loss,
    "l1": F.l1_loss,
    "bce_with_logits": F.binary_cross_entropy_with_logits,
}


# --------------------------------------------------------------------------
# Optimizers and the learning-rate schedule
# --------------------------------------------------------------------------

# Hyper-parameters in netc's order, with PyTorch's defaults (None: required).
OPT_SIGS = {
    "sgd": [("lr", None), ("momentum", 0.0), ("dampening", 0.0), ("nesterov", False),
            ("weight_decay", 0.0)],
    "adagrad": [("lr", 0.01), ("lr_decay", 0.0), ("weight_decay", 0.0),
                ("initial_accumulator_value", 0.0), ("eps", 1e-10)],
    "rmsprop": [("lr", 0.01), ("alpha", 0.99), ("eps", 1e-8), ("weight_decay", 0.0),
                ("momentum", 0.0), ("centered", False)],
    "adam": [("lr", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-8),
             ("weight_decay", 0.0), ("amsgrad", False)],
    "adamw": [("lr", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("eps", 1e-8),
              ("weight_decay", 1e-2), ("amsgrad", False)],
}

OPT_CLASSES = {"sgd": torch.optim.SGD, "adagrad": torch.optim.Adagrad,
               "rmsprop": torch.optim.RMSprop, "adam": torch.optim.Adam,
               "adamw": torch.optim.AdamW}


def opt_hparams(opt):
    """netc's optimizer call -> (kind, {name: value}) with defaults filled in."""
    kind, args = opt
    sig = OPT_SIGS[kind]
    hp = dict(sig)
    for i, (key, v) in enumerate(args):
        hp[key if key is not None else sig[i][0]] = v
    assert set(hp) == set(dict(sig)) and hp["lr"] is not None, opt
    return kind, hp


def make_optimizer(kind, hp, params):
    kw = {k: v if isinstance(v, bool) else float(v) for k, v in hp.items()}
    if kind in ("adam", "adamw"):
        kw["betas"] = (kw.pop("beta1"), kw.pop("beta2"))
    return OPT_CLASSES[kind](params, foreach=False, **kw)


def lr_factor(train, step, epoch):
    """f_sched(epoch) * f_warm(step): netc's schedule and linear warmup."""
    sched = str(train.get("schedule", "constant"))
    if sched == "step":
        f = train.get("gamma", 0.1) ** (epoch // train.get("step_size", 1))
    elif sched == "cosine":
        f = 0.5 * (1.0 + math.cos(math.pi * epoch / train.get("epochs", 1)))
    else:
        f = 1.0
    warmup = train.get("warmup", 0)
    if warmup > 0:
        f *= min(1.0, (step + 1) / warmup)
    return f


# --------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------

def batch_feed(g, data, labels, step, batch, dtype):
    """Node feed for step s: samples [s*B, (s+1)*B)."""
    sl = slice(step * batch, (step + 1) * batch)
    (inp,) = g.inputs.values()
    feed = {inp.node: data[sl].to(dtype)}
    for lab in g.labels.values():
        y = labels[sl]
        feed[lab.node] = y if y.dtype == torch.int64 else y.to(dtype)
    return feed


def compute_loss(g, vals):
    total = None
    for w, fn, (a, b) in g.loss_terms:
        term = LOSSES[fn](vals[a.node], vals[b.node])
        term = term if w == 1.0 else w * term
        total = term if total is None else total + term
    return total


def train(g, init, data, labels, batch, dtype):
    """Load init, run STEPS training steps in dtype; (losses, params)."""
    g.modules.to(dtype)
    with torch.no_grad():
        for full, t in init.items():
            g.param_tensor(full).copy_(t)
    for m in g.modules:
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.num_batches_tracked.zero_()
    g.modules.train()
    trainable = [g.param_tensor(f) for f in init if f.rsplit(".", 1)[1] in ("weight", "bias")]
    kind, hp = opt_hparams(g.opt)
    opt = make_optimizer(kind, hp, trainable)
    clip = float(g.train.get("clip_norm", 0))
    losses = []
    for s in range(STEPS):
        for d in g.dropouts:
            d.step = s
        opt.zero_grad(set_to_none=True)
        loss = compute_loss(g, g.forward(batch_feed(g, data, labels, s, batch, dtype)))
        loss.backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(trainable, clip)
        for group in opt.param_groups:
            group["lr"] = hp["lr"] * lr_factor(g.train, s, 0)
        opt.step()
        losses.append(loss.item())
    params = {f: g.param_tensor(f).detach().clone() for f in init}
    return torch.tensor(losses, dtype=dtype), params


# --------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------

CASES = []


def case(name, description, source, batch=None, data="normal", target="normal"):
    """Register a case.  source: .net text (net name = case name) or
    ('example', file stem).  data: per-sample input distribution, normal or
    uniform ([0,1), for images) or bits; target: f32 label distribution,
    normal, uniform or xor (label = xor of the two input bits)."""
    CASES.append(dict(name=name, description=description, source=source,
                      batch=batch, data=data, target=target))


def header(name, description):
    return ("# netc training reference case %s: %s\n"
            "# generated by tests/reference/gen_train_reference.py; do not edit by hand\n"
            % (name, description))


# -- (1) the example nets, verbatim, with their own optimizer and settings ----
# (stem, batch or None for the file's own, input distribution, f32 target)
EXAMPLES = [
    ("xor", None, "bits", "xor"),
    ("fashion_mlp", 8, "uniform", None),
    ("lenet5", 8, "uniform", None),
    ("fashion_cnn", 8, "uniform", None),
    ("resnet_mini", 8, "uniform", None),
    ("regression", None, "normal", "normal"),
    ("autoencoder", 8, "uniform", None),
]
for _stem, _batch, _data, _target in EXAMPLES:
    case("example_" + _stem, "examples/%s.net verbatim" % _stem, ("example", _stem),
         batch=_batch, data=_data, target=_target)

# resnet_mini itself moves its weights by less than the tolerance in 3 steps
# (warmup = 200), and at 28x28 with B = 8 about one relu input per step lies
# within float32 rounding of zero, so with a visible learning rate the result
# would hinge on rounding (the float64 runs reject it).
# This is the same structure (a block used three times, named layers,
# adamw, warmup, step schedule) small enough to train visibly.
RESNET_SMALL = """block residual(x, channels) {{
    y = x -> conv2d(channels, kernel = 3, pad = same, bias = false) -> batchnorm -> relu
          -> conv2d(channels, kernel = 3, pad = same, bias = false) -> batchnorm;
    return add(y, x) -> relu;
}}

net {name} {{
    input image : f32[1, 8, 8];
    label target : class[5];
    stem   = image -> conv2d(4, kernel = 3, pad = 1, bias = false, name = "stem")
                   -> batchnorm(name = "stem_bn") -> relu;              # [4, 8, 8]
    stage1 = stem -> residual(4) -> residual(4) -> maxpool2d(2);        # [4, 4, 4]
    wide   = stage1 -> conv2d(8, kernel = 1, bias = false, name = "widen");
    stage2 = wide -> residual(8);                                       # [8, 4, 4]
    logits = stage2 -> global_avgpool -> dense(5, name = "fc");
    output logits;
    loss      cross_entropy(logits, target);
    optimizer adamw(lr = 0.01, weight_decay = 0.05);
    train {{ batch = 4; epochs = 10; seed = 1; schedule = step; step_size = 4; gamma = 0.5;
            warmup = 2; }}
}}
"""


# -- (2) every optimizer and option on a small MLP and a conv+batchnorm net ---
MLP = """net {name} {{
    input  x : f32[12];
    label  t : class[5];
    logits = x -> dense(16) -> relu -> dense(5);
    output logits;
    loss      cross_entropy(logits, t);
    optimizer {opt};
    train {{ batch = 8; epochs = 1; seed = 1; shuffle = false; }}
}}
"""

CONV_BN = """net {name} {{
    input  x : f32[3, 8, 8];
    label  t : class[4];
    h = x -> conv2d(6, kernel = 3, pad = 1, bias = false) -> batchnorm -> relu
          -> maxpool2d(2)
          -> conv2d(8, kernel = 3, pad = 1, bias = false)
          -> batchnorm(momentum = 0.3, eps = 0.001) -> relu;
    logits = h -> flatten -> dense(4);
    output logits;
    loss      cross_entropy(logits, t);
    optimizer {opt};
    train {{ batch = 6; epochs = 1; seed = 1; shuffle = false; }}
}}
"""

OPTIMIZER_CASES = [
    ("sgd", "sgd(lr = 0.1)"),
    ("sgd_momentum", "sgd(lr = 0.1, momentum = 0.9, dampening = 0.3)"),
    ("sgd_nesterov", "sgd(lr = 0.1, momentum = 0.8, nesterov = true, weight_decay = 0.05)"),
    ("adagrad", "adagrad(lr = 0.05, lr_decay = 0.2, weight_decay = 0.05, "
                "initial_accumulator_value = 0.1, eps = 1e-6)"),
    ("adagrad_default", "adagrad()"),
    ("rmsprop", "rmsprop(lr = 0.001)"),
    ("rmsprop_momentum", "rmsprop(lr = 0.001, alpha = 0.9, momentum = 0.8, eps = 1e-6)"),
    ("rmsprop_centered", "rmsprop(lr = 0.001, centered = true, momentum = 0.5, "
                         "weight_decay = 0.05)"),
    ("adam", "adam(lr = 0.01)"),
    ("adam_amsgrad", "adam(lr = 0.01, beta1 = 0.8, beta2 = 0.95, eps = 1e-6, "
                     "amsgrad = true, weight_decay = 0.05)"),
    ("adamw", "adamw(lr = 0.01, beta1 = 0.85, weight_decay = 0.1, amsgrad = true)"),
    ("adamw_default", "adamw()"),
]


def add_text_case(name, description, template, batch=None, data="normal",
                  target="normal", **fmt):
    src = header(name, description) + template.format(name=name, **fmt)
    case(name, description, src, batch=batch, data=data, target=target)


for _n, _opt in OPTIMIZER_CASES:
    add_text_case("mlp_" + _n, "MLP 12-16-5, optimizer " + _opt, MLP, opt=_opt)
for _n in ("sgd_momentum", "rmsprop_centered", "adamw"):
    add_text_case("convbn_" + _n, "conv+batchnorm net, optimizer " + dict(OPTIMIZER_CASES)[_n],
                  CONV_BN, opt=dict(OPTIMIZER_CASES)[_n])


add_text_case("resnet_small", "resnet_mini's structure at 8x8: blocks, named layers, adamw, "
              "warmup 2, step schedule", RESNET_SMALL, data="uniform")


# -- (3) losses -------------------------------------------------------------
REG_MLP = """net {name} {{
    input  x : f32[12];
    label  y : f32[5];
    pred = x -> dense(16) -> tanh -> dense(5);
    output pred;
    loss      {loss}(pred, y);
    optimizer sgd(lr = 0.1, momentum = 0.9);
    train {{ batch = 8; epochs = 1; seed = 1; shuffle = false; }}
}}
"""

TWO_HEADS = """net {name} {{
    input  x : f32[12];
    label  t : class[5];
    h      = x -> dense(16) -> relu;
    logits = h -> dense(5);
    recon  = h -> dense(12);
    output logits, recon;
    loss      0.7 * cross_entropy(logits, t) + l1(recon, x) + 0.25 * mse(recon, x);
    optimizer adam(lr = 0.01);
    train {{ batch = 8; epochs = 1; seed = 1; shuffle = false; }}
}}
"""

add_text_case("loss_mse", "mse on f32 targets", REG_MLP, loss="mse")
add_text_case("loss_l1", "l1 on f32 targets", REG_MLP, loss="l1")
add_text_case("loss_bce_with_logits", "bce_with_logits on targets in [0, 1)", REG_MLP,
              loss="bce_with_logits", target="uniform")
add_text_case("loss_weighted_sum", "weighted sum of cross_entropy, l1 and mse over two "
              "outputs; the reconstruction target is the input itself", TWO_HEADS)


# -- (4) gradient clipping, warmup, schedules at epoch 0 ----------------------
SGD_MLP = """net {name} {{
    input  x : f32[12];
    label  t : class[5];
    logits = x -> dense(16) -> relu -> dense(5);
    output logits;
    loss      cross_entropy(logits, t);
    optimizer {opt};
    train {{ batch = 8; epochs = 4; seed = 1; shuffle = false; {train} }}
}}
"""

add_text_case("clip_norm", "clip_norm 0.2 (below the gradient norm of every step), sgd "
              "momentum and weight_decay: the clip scales the loss gradient only",
              SGD_MLP, opt="sgd(lr = 0.2, momentum = 0.9, weight_decay = 0.01)",
              train="clip_norm = 0.2;")
add_text_case("clip_norm_adam", "clip_norm 0.3 with adam: the clip scales the moments",
              SGD_MLP, opt="adam(lr = 0.01)", train="clip_norm = 0.3;")
add_text_case("clip_norm_loose", "clip_norm 100, never reached: no change", SGD_MLP,
              opt="sgd(lr = 0.1)", train="clip_norm = 100;")
add_text_case("warmup", "warmup 2: lr factors 1/2, 1, 1", SGD_MLP,
              opt="sgd(lr = 0.2, momentum = 0.9)", train="warmup = 2;")
add_text_case("warmup_cosine", "warmup 5 (factors 1/5, 2/5, 3/5) with a cosine schedule "
              "(factor 1 in epoch 0); adamw's decoupled decay uses the warmed-up lr",
              SGD_MLP, opt="adamw(lr = 0.02, weight_decay = 0.5)",
              train="warmup = 5; schedule = cosine;")
add_text_case("warmup_step_clip", "warmup 4, step schedule, clip_norm 0.5 together", SGD_MLP,
              opt="rmsprop(lr = 0.002, momentum = 0.5)",
              train="warmup = 4; schedule = step; step_size = 1; gamma = 0.5; clip_norm = 0.5;")


# -- (5) every remaining op in training mode ----------------------------------
OPS_CONV = """net {name} {{
    input  x : f32[4, 12, 12];
    label  t : class[6];
    a = x -> conv2d(8, kernel = 3, stride = 2, pad = 1, groups = 2) -> leaky_relu;  # [8, 6, 6]
    b = x -> conv2d(8, kernel = 3, dilation = 2, pad = 2) -> tanh -> avgpool2d(2);   # [8, 6, 6]
    c = concat(a, b) -> conv2d(12, kernel = 1, bias = false) -> batchnorm -> silu;  # [12, 6, 6]
    g = c -> conv2d(12, kernel = 3, pad = same, groups = 12) -> sigmoid;            # depthwise gate
    m = mul(c, g) -> maxpool2d(3, stride = 2, pad = 1);                             # [12, 3, 3]
    p = m -> avgpool2d(2, stride = 1, pad = 1) -> global_avgpool;                   # [12]
    q = m -> flatten -> dense(12, bias = false);                                    # [12]
    logits = add(p, q) -> batchnorm(momentum = 0.2) -> leaky_relu(alpha = 0.2) -> dense(6);
    output logits;
    loss      cross_entropy(logits, t);
    optimizer adam(lr = 0.01);
    train {{ batch = 6; epochs = 1; seed = 1; shuffle = false; }}
}}
"""

OPS_VEC = """net {name} {{
    input  x : f32[4, 10];
    label  t : class[5];
    h = x -> dense(16) -> layernorm -> gelu;                       # [4, 16]
    a = h -> dense(16) -> softmax;                                 # [4, 16]
    b = h -> dense(16, bias = false) -> log_softmax;               # [4, 16]
    c = mul(a, h) -> dropout(0.2);                                 # [4, 16]
    d = concat(c, b, axis = 1) -> layernorm(eps = 0.001) -> tanh;  # [4, 32]
    logits = d -> dense(8) -> silu -> flatten -> dropout(0.5) -> dense(5);
    output logits;
    loss      cross_entropy(logits, t);
    optimizer sgd(lr = 0.1, momentum = 0.9);
    train {{ batch = 8; epochs = 1; seed = {seed}; shuffle = false; }}
}}
"""

CHAINS = """net {name} {{
    input  x : f32[12];
    label  t : class[5];
    a = x -> dense(16);
    b = x -> dense(16);
    g = mul(mul(a, a -> sigmoid) -> tanh, b -> leaky_relu(alpha = 0.2));  # a gated unit
    h = add(mul(g, b), a) -> relu -> silu -> gelu;                        # add(mul) -> relu, act -> act
    logits = h -> dense(5);
    output logits;
    loss      cross_entropy(logits, t);
    optimizer adam(lr = 0.01);
    train {{ batch = 8; epochs = 1; seed = 1; shuffle = false; }}
}}
"""

add_text_case("ops_conv", "grouped, dilated, strided, depthwise and 1x1 conv, concat, mul, "
              "avgpool with padding, maxpool, global_avgpool, batchnorm 2-D and 1-D, silu, "
              "sigmoid, tanh, leaky_relu", OPS_CONV)
RESIDUAL_MLP = """net {name} {{
    input  x : f32[12];
    label  t : class[5];
    h = x -> dense(16) -> relu;
    r = add(h -> dense(16), h) -> relu;
    s = add(r, r -> dense(16)) -> tanh;
    logits = add(s -> dense(16), h) -> dense(5);
    output logits;
    loss      cross_entropy(logits, t);
    optimizer adam(lr = 0.01);
    train {{ batch = 8; epochs = 1; seed = 1; shuffle = false; }}
}}
"""

add_text_case("residual_mlp", "residual adds fused into the dense producing one side, "
              "with relu or tanh after the add, dense on either side", RESIDUAL_MLP)


add_text_case("ops_vec", "dense on [S, D], layernorm, gelu, softmax, log_softmax, mul, concat "
              "on axis 1, two dropouts (j = 1 on [4, 16], j = 2 on [32]), tanh, silu",
              OPS_VEC, seed=12345)

add_text_case("chains", "elementwise chains (compiler/chain.c) in training: one tree of sigmoid, "
              "mul, tanh, leaky_relu, add, relu, silu and gelu, whose members backward reads "
              "are stored by the chain kernel", CHAINS)

# --------------------------------------------------------------------------
# Data, writing, checking
# --------------------------------------------------------------------------

def case_source(c):
    """The .net text: the case's own, or ('example', stem) read verbatim."""
    if isinstance(c["source"], tuple):
        with open(os.path.join(EXAMPLES_DIR, c["source"][1] + ".net")) as f:
            return f.read()
    return c["source"]


def draw_data(g, c, n):
    """(data float32 [n, ...], labels or None) drawn from the seeded RNG."""
    (inp,) = g.inputs.values()
    shape = (n,) + g.shape(inp)
    if c["data"] == "uniform":
        data = torch.rand(shape)
    elif c["data"] == "bits":
        data = torch.randint(0, 2, shape).float()
    else:
        data = torch.randn(shape)
    if not g.labels:
        return data, None
    assert len(g.labels) == 1, "one label per case"
    ty, dims = next(iter(g.label_specs.values()))
    if ty == "class":
        return data, torch.randint(0, dims[0], (n,), dtype=torch.int64)
    if c["target"] == "xor":
        return data, (data[:, :1] != data[:, 1:2]).float()
    if c["target"] == "uniform":
        return data, torch.rand((n,) + tuple(dims))
    return data, torch.randn((n,) + tuple(dims))


def within(hi, lo, rel):
    """Worst excess of |lo - hi| over rel * max(1, |hi|) (<= 0 means inside)."""
    return ((lo.double() - hi).abs() - rel * hi.abs().clamp(min=1.0)).max().item()


def perturbed(init, name, k):
    """init in float64, each value scaled by (1 + PERTURB*u), u ~ U(-1, 1)
    from its own generator (k = 0: unperturbed); the case RNG is untouched."""
    if k == 0:
        return {n: v.double() for n, v in init.items()}
    gen = torch.Generator().manual_seed(zlib.crc32(name.encode()) + k)
    return {n: v.double() * (1 + PERTURB * (2 * torch.rand(v.shape, generator=gen,
                                                            dtype=torch.float64) - 1))
            for n, v in init.items()}


def check_float64(c, g, init, data, labels, batch, losses, params):
    """Retrain in float64, exactly and from PERTURBED_RUNS slightly perturbed
    starts.  The float32 results must agree with the exact run to SELF_CHECK
    and with the perturbed runs to ROBUST_CHECK (times max(1, |x|)).  The
    perturbed runs stand in for another implementation's rounding: they
    catch a relu input or maxpool window so close to its kink, or an adam
    gradient so close to eps, that rounding decides the result.  Returns
    the largest difference to the exact and to the perturbed runs."""
    worst = [0.0, 0.0]
    for k in range(1 + PERTURBED_RUNS):
        lo64, p64 = train(g, perturbed(init, c["name"], k), data.double(), labels,
                          batch, torch.float64)
        rel = SELF_CHECK if k == 0 else ROBUST_CHECK
        diffs = [("loss", lo64, losses)] + [(n, p64[n], params[n]) for n in params]
        bad = [(n, w) for n, hi, lo in diffs for w in [within(hi, lo, rel)] if w > 0]
        if bad:
            raise SystemExit("%s: float32 reference off float64 run %d by more than "
                             "%g*max(1,|x|): %s" % (c["name"], k, rel, bad[:5]))
        worst[k > 0] = max([worst[k > 0]] + [within(hi, lo, 0) for _, hi, lo in diffs])
    return worst


def write_npy(path, a):
    np.save(path, np.ascontiguousarray(a), allow_pickle=False)


def write_case(c, src, g, batch, seed, init, data, labels, losses, params):
    d = os.path.join(TRAIN_DIR, c["name"])
    os.makedirs(d)
    with open(os.path.join(d, "model.net"), "w") as f:
        f.write(src)
    meta = {"format": "pt", "netc_case": c["name"]}
    gr.write_safetensors(os.path.join(d, "init.safetensors"), init, meta)
    gr.write_safetensors(os.path.join(d, "expected.safetensors"), params, meta)
    write_npy(os.path.join(d, "data.npy"), data.numpy().astype("<f4"))
    if labels is not None:
        dt = "<i8" if labels.dtype == torch.int64 else "<f4"
        write_npy(os.path.join(d, "labels.npy"), labels.numpy().astype(dt))
    write_npy(os.path.join(d, "expected_losses.npy"), losses.numpy().astype("<f4"))
    info = {"description": c["description"], "batch": batch, "steps": STEPS,
            "seed": seed, "tolerance": TOLERANCE}
    with open(os.path.join(d, "case.json"), "w") as f:
        f.write(json.dumps(info, indent=2) + "\n")


def net_name(src):
    return re.search(r"^\s*net\s+(\w+)", src, re.M).group(1)


def build(c):
    """Parse and lower a case: (source, graph, batch, seed); seeds torch."""
    torch.manual_seed(zlib.crc32(c["name"].encode()))
    src = case_source(c)
    parsed = Parser(src).file()
    name = net_name(src)
    train_kv = {k: v[1] for st in parsed.nets[name] if st[0] == "train"
                for k, v in st[1].items()}
    seed = int(train_kv.get("seed", 0))
    g = Graph(name, parsed, seed)
    return src, g, c["batch"] or int(train_kv.get("batch", 32)), seed


def run_case(c):
    """Build, draw, train in float32 and float64, write.  Returns a summary."""
    src, g, batch, seed = build(c)
    init = dict(g.reg.params)
    data, labels = draw_data(g, c, STEPS * batch)
    losses, params = train(g, init, data, labels, batch, torch.float32)
    exact, robust = check_float64(c, g, init, data, labels, batch, losses, params)
    write_case(c, src, g, batch, seed, init, data, labels, losses, params)
    moved = sum(int(((params[k] - init[k]).abs() > TOLERANCE * init[k].abs().clamp(min=1)).sum())
                for k in params)
    total = sum(t.numel() for t in params.values())
    return ("%-24s B=%-3d losses %s  f64 %.1e perturbed %.1e  moved %d/%d"
            % (c["name"], batch, " ".join("%.5f" % x for x in losses.tolist()),
               exact, robust, moved, total))


def self_test():
    for seed, ctr, want in HASH_KNOWN:
        got = int(hash_u32(seed, np.array([ctr], dtype=np.uint64))[0])
        assert got == want, "hash_u32(%d, %d) = %d, C says %d" % (seed, ctr, got, want)


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    warnings.filterwarnings("ignore", message="Using padding='same'")
    self_test()
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case name"
    stems = sorted(f[:-4] for f in os.listdir(EXAMPLES_DIR) if f.endswith(".net"))
    missing = [s for s in stems if "example_" + s not in names]
    assert not missing, "examples without a case (add them to EXAMPLES): %s" % missing
    if os.path.isdir(TRAIN_DIR):
        shutil.rmtree(TRAIN_DIR)
    os.makedirs(TRAIN_DIR)
    for c in CASES:
        print(run_case(c))
    size = sum(os.path.getsize(os.path.join(dp, f))
               for dp, _, fs in os.walk(TRAIN_DIR) for f in fs)
    print("wrote %d cases to %s, %.2f MiB (torch %s)"
          % (len(CASES), TRAIN_DIR, size / 2 ** 20, torch.__version__))


if __name__ == "__main__":
    sys.exit(main())
