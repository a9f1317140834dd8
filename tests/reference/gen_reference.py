#!/usr/bin/python3
"""Generate the PyTorch reference data that netc's outputs are compared with.

Run:  /usr/bin/python3 tests/reference/gen_reference.py

For every case it writes tests/reference/cases/<case>/ holding

    model.net             the net source (net name = case name)
    weights.safetensors   every parameter, named by the netc naming contract
    input.npy             float32 [N, per-sample shape]   (input_<name>.npy if several)
    expected.npy          float32 [N, output shape]       (expected_<name>.npy if several)
    case.json             {"inputs", "outputs", "tolerance", "description"}

How it works.  A case is a Python function that describes the net through a
tiny builder (class Net).  Every op placed with Net.pipe or Net.call does four
things at once: it is named by the same rule netc uses (<op>_<k>, k counting
per op kind in source order, unless name = "..." is given), it draws its
parameters from the case's seeded RNG, it appends its text to the .net source,
and it is evaluated eagerly by the matching torch.nn module in eval() mode.
So the source, the weights and the expectations cannot drift apart.

Ordering of the naming counter.  Python evaluates call arguments before the
call, and Net.pipe applies its stages left to right: that is exactly netc's
rule ("nested call arguments before the call that uses them, pipes left to
right").  To keep that true, a pipe stage never takes an operand that still
contains an unnamed op (asserted), and a pipe is never used as a call operand.

Everything is float32.  As a guard against the reference itself carrying
rounding noise, each case is re-evaluated in float64 and the float32 result
must agree to 1e-5*max(1,|x|), ten times tighter than the test tolerance.

Determinism: torch.manual_seed(crc32(case name)) per case, one thread, and
files written byte for byte the same way each run (the case directory is
wiped first).
"""

import json
import math
import os
import shutil
import struct
import sys
import warnings
import zlib

import numpy as np
import torch
import torch.nn as nn

N = 3                                   # batch size of every input
TOLERANCE = "1e-4*max(1,|expected|)"    # elementwise, |got - expected| <= this
SELF_CHECK = 1e-5                       # float32 vs float64 agreement required
ROOT = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(ROOT, "cases")


# --------------------------------------------------------------------------
# Parameter and input drawing
# --------------------------------------------------------------------------

def uniform(shape, lo, hi):
    """U(lo, hi) from the global (seeded) torch RNG."""
    return torch.rand(shape, dtype=torch.float32) * (hi - lo) + lo


def he_uniform(shape, fan_in):
    """He-uniform weights: activations keep an O(1) scale through relu nets."""
    a = math.sqrt(6.0 / fan_in)
    return uniform(shape, -a, a)


def draw_input(shape, dist):
    """Per-sample input batch [N, *shape]; dist tweaks the distribution."""
    x = torch.randn((N,) + tuple(shape), dtype=torch.float32)
    scale, shift = dist.get("scale", 1.0), dist.get("shift", 0.0)
    if dist.get("negative"):
        x = -(x.abs() + 0.1)            # all negative: catches pad-with-zero bugs
    return x * scale + shift


# --------------------------------------------------------------------------
# Source text
# --------------------------------------------------------------------------

class Ident(str):
    """An attribute value printed as a bare identifier (pad = same)."""


SAME = Ident("same")


def fmt_value(v):
    """Format an attribute value as .net source."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, Ident):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, float):
        return repr(v)
    return str(v)


# --------------------------------------------------------------------------
# Ops: each builder makes the torch callable for one op call and registers
# its parameters.  shapes are the per-sample shapes of the operands.
# --------------------------------------------------------------------------

def op_dense(net, name, shapes, units, bias=True):
    d = shapes[0][-1]
    m = nn.Linear(d, units, bias=bias)
    net.set_params(name, m, weight=he_uniform((units, d), d),
                   bias=uniform((units,), -0.5, 0.5) if bias else None)
    return m


def op_conv2d(net, name, shapes, filters, kernel=3, stride=1, pad=0,
              dilation=1, groups=1, bias=True):
    c = shapes[0][0]
    assert len(shapes[0]) == 3 and c % groups == 0 and filters % groups == 0
    assert pad != SAME or stride == 1, "pad = same only with stride 1"
    padding = "same" if pad == SAME else pad
    m = nn.Conv2d(c, filters, kernel, stride=stride, padding=padding,
                  dilation=dilation, groups=groups, bias=bias)
    fan_in = (c // groups) * kernel * kernel
    net.set_params(name, m,
                   weight=he_uniform((filters, c // groups, kernel, kernel), fan_in),
                   bias=uniform((filters,), -0.5, 0.5) if bias else None)
    return m


def op_maxpool2d(net, name, shapes, kernel, stride=None, pad=0):
    return nn.MaxPool2d(kernel, stride=stride or kernel, padding=pad)


def op_avgpool2d(net, name, shapes, kernel, stride=None, pad=0):
    return nn.AvgPool2d(kernel, stride=stride or kernel, padding=pad,
                        ceil_mode=False, count_include_pad=True)


def op_batchnorm(net, name, shapes, momentum=0.1, eps=1e-5, _var=(0.5, 2.0)):
    c = shapes[0][0]
    cls = {1: nn.BatchNorm1d, 2: nn.BatchNorm1d, 3: nn.BatchNorm2d}[len(shapes[0])]
    m = cls(c, eps=eps, momentum=momentum)
    net.set_params(name, m, weight=uniform((c,), 0.5, 1.5),
                   bias=uniform((c,), -0.5, 0.5),
                   running_mean=uniform((c,), -0.5, 0.5),
                   running_var=uniform((c,), *_var))
    return m


def op_layernorm(net, name, shapes, eps=1e-5):
    d = shapes[0][-1]
    m = nn.LayerNorm(d, eps=eps)
    net.set_params(name, m, weight=uniform((d,), 0.5, 1.5),
                   bias=uniform((d,), -0.5, 0.5))
    return m


def op_concat(net, name, shapes, axis=0):
    return lambda a, b: torch.cat([a, b], dim=axis + 1)


OPS = {
    "dense": op_dense,
    "conv2d": op_conv2d,
    "maxpool2d": op_maxpool2d,
    "avgpool2d": op_avgpool2d,
    "global_avgpool": lambda net, name, shapes: (lambda x: x.mean(dim=(2, 3))),
    "flatten": lambda net, name, shapes: (lambda x: torch.flatten(x, 1)),
    "relu": lambda net, name, shapes: nn.ReLU(),
    "leaky_relu": lambda net, name, shapes, alpha=0.01: nn.LeakyReLU(alpha),
    "sigmoid": lambda net, name, shapes: nn.Sigmoid(),
    "tanh": lambda net, name, shapes: nn.Tanh(),
    "gelu": lambda net, name, shapes: nn.GELU(approximate="none"),
    "silu": lambda net, name, shapes: nn.SiLU(),
    "softmax": lambda net, name, shapes: (lambda x: torch.softmax(x, dim=-1)),
    "log_softmax": lambda net, name, shapes: (lambda x: torch.log_softmax(x, dim=-1)),
    "batchnorm": op_batchnorm,
    "layernorm": op_layernorm,
    "dropout": lambda net, name, shapes, p=0.5: nn.Dropout(p),
    "add": lambda net, name, shapes: (lambda a, b: a + b),
    "mul": lambda net, name, shapes: (lambda a, b: a * b),
    "concat": op_concat,
}


class Op:
    """An op call not yet placed: kind, attribute args, attribute kwargs.

    Keyword arguments starting with '_' are generator-only knobs (never
    printed), e.g. batchnorm's _var range for running_var."""

    def __init__(self, kind, args, kw):
        assert kind in OPS, kind
        self.kind, self.args, self.kw = kind, args, kw

    def text(self, operands):
        """Source text of the call with the given operand texts first."""
        parts = list(operands) + [fmt_value(a) for a in self.args]
        parts += ["%s = %s" % (k, fmt_value(v))
                  for k, v in self.kw.items() if not k.startswith("_")]
        return "%s(%s)" % (self.kind, ", ".join(parts)) if parts else self.kind


class _OpFactory:
    """L.conv2d(4, kernel = 3) -> Op('conv2d', (4,), {'kernel': 3})."""

    def __getattr__(self, kind):
        return lambda *args, **kw: Op(kind, args, kw)


L = _OpFactory()


# --------------------------------------------------------------------------
# Expressions and the net builder
# --------------------------------------------------------------------------

class Expr:
    """A value in the net: its source text and how torch computes it.

    fn(memo) computes the batch tensor from a memo dict that holds the
    inputs under their names; results are memoized by id.  value is the
    float32 result computed eagerly at build time."""

    def __init__(self, text, fn, memo, is_pipe=False, is_var=False):
        self.text, self.fn = text, fn
        self.is_pipe, self.is_var = is_pipe, is_var
        self.value = self.eval(memo)

    def eval(self, memo):
        if id(self) not in memo:
            memo[id(self)] = self.fn(memo)
        return memo[id(self)]

    @property
    def shape(self):
        """Per-sample shape."""
        return tuple(self.value.shape[1:])


def applier(fn, operands):
    """Expr.fn for an op callable applied to operand Exprs."""
    return lambda memo: fn(*[e.eval(memo) for e in operands])


class Net:
    """Builder for one case: source lines, parameters, torch evaluation."""

    def __init__(self, name, description):
        assert all(ch.isalnum() or ch == "_" for ch in name) and name.islower()
        self.name, self.description = name, description
        self.decls, self.lines, self.tail = [], [], []    # tail: output, loss
        self.inputs, self.outputs = {}, {}      # name -> tensor / Expr
        self.params = {}                        # full name -> float32 tensor
        self.modules = nn.ModuleList()          # for the float64 re-run
        self.counters = {}                      # op kind -> last k used
        self.memo = {}                          # float32 evaluation memo

    # -- declarations -------------------------------------------------------
    def input(self, name, shape, **dist):
        self.inputs[name] = draw_input(shape, dist)
        self.memo[name] = self.inputs[name]
        self.decls.append("input  %s : f32[%s];" % (name, ", ".join(map(str, shape))))
        return Expr(name, lambda memo: memo[name], self.memo, is_var=True)

    def label(self, name, decl):
        self.decls.append("label  %s : %s;" % (name, decl))

    def let(self, name, expr):
        self.lines.append("%s = %s;" % (name, expr.text))
        return Expr(name, expr.eval, self.memo, is_var=True)

    def output(self, var):
        assert var.is_var
        self.outputs[var.text] = var
        self.tail.append("output %s;" % var.text)

    def loss(self, text):
        self.tail.append("loss %s;" % text)

    # -- op placement -------------------------------------------------------
    def place(self, op, operands):
        """Name op, build its torch callable, return (layer name, callable)."""
        kw = dict(op.kw)
        k = self.counters.get(op.kind, 0) + 1
        self.counters[op.kind] = k
        layer = kw.pop("name", None) or "%s_%d" % (op.kind, k)
        fn = OPS[op.kind](self, layer, [e.shape for e in operands], *op.args, **kw)
        if isinstance(fn, nn.Module):
            fn.eval()
            self.modules.append(fn)
        return layer, fn

    def call(self, op, *operands):
        """f(a, b, attrs): operands are evaluated (and named) first."""
        assert not any(e.is_pipe for e in operands), "no pipe as call operand"
        _, fn = self.place(op, operands)
        text = op.text([e.text for e in operands])
        return Expr(text, applier(fn, operands), self.memo)

    def pipe(self, src, *stages):
        """src -> stage -> stage ...; a stage is an Op or (Op, extra Var...)."""
        cur, text = src, src.text
        for st in stages:
            op, extra = (st[0], st[1:]) if isinstance(st, tuple) else (st, ())
            assert all(e.is_var for e in extra), "pipe extras must be plain vars"
            operands = (cur,) + tuple(extra)
            _, fn = self.place(op, operands)
            text = "%s -> %s" % (text, op.text([e.text for e in extra]))
            cur = Expr(text, applier(fn, operands), self.memo, is_pipe=True)
        return cur

    def set_params(self, layer, module, **tensors):
        """Copy the drawn tensors into module and record them by full name."""
        with torch.no_grad():
            for pname, t in tensors.items():
                if t is None:
                    continue
                getattr(module, pname).copy_(t)
                self.params["%s.%s" % (layer, pname)] = t.clone()

    # -- results ------------------------------------------------------------
    def source(self):
        body = ["    " + s for s in self.decls + self.lines + self.tail]
        head = ["# netc reference case %s: %s" % (self.name, self.description),
                "# generated by tests/reference/gen_reference.py; do not edit by hand"]
        return "\n".join(head + ["net %s {" % self.name] + body + ["}"]) + "\n"

    def check_float64(self):
        """Re-run in float64; the float32 expectations must agree closely."""
        self.modules.double()
        memo = {k: v.double() for k, v in self.inputs.items()}
        for name, e in self.outputs.items():
            hi, lo = e.eval(memo), e.value.double()
            bound = SELF_CHECK * torch.clamp(hi.abs(), min=1.0)
            worst = ((hi - lo).abs() - bound).max().item()
            if worst > 0:
                raise SystemExit("%s/%s: float32 reference off float64 by %g over bound"
                                 % (self.name, name, worst))


# --------------------------------------------------------------------------
# File writers
# --------------------------------------------------------------------------

def write_safetensors(path, tensors, metadata):
    """safetensors: u64 LE header size, JSON header (space padded to 8), data."""
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = t.detach().contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = metadata
    js = json.dumps(header, separators=(",", ":")).encode()
    js += b" " * (-len(js) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


def write_npy(path, t):
    np.save(path, np.ascontiguousarray(t.detach().numpy().astype("<f4")),
            allow_pickle=False)


def write_case(net):
    d = os.path.join(CASES_DIR, net.name)
    os.makedirs(d)
    with open(os.path.join(d, "model.net"), "w") as f:
        f.write(net.source())
    write_safetensors(os.path.join(d, "weights.safetensors"), net.params,
                      {"format": "pt", "netc_case": net.name})
    for kind, items in (("input", net.inputs), ("expected", net.outputs)):
        for name, v in items.items():
            fname = kind + (".npy" if len(items) == 1 else "_%s.npy" % name)
            write_npy(os.path.join(d, fname), v if kind == "input" else v.value)
    meta = {"description": net.description,
            "inputs": list(net.inputs), "outputs": list(net.outputs),
            "tolerance": TOLERANCE}
    with open(os.path.join(d, "case.json"), "w") as f:
        f.write(json.dumps(meta, indent=2) + "\n")


# --------------------------------------------------------------------------
# The cases.  Each is registered with @case(description); the function name
# minus the "case_" prefix is the case (and net) name.
# --------------------------------------------------------------------------

CASES = []


def case(description):
    def reg(fn):
        CASES.append((fn.__name__[len("case_"):], description, fn))
        return fn
    return reg


def single(net, shape, *stages, **dist):
    """The common shape of a one-op case: x -> stages; output y."""
    x = net.input("x", shape, **dist)
    net.output(net.let("y", net.pipe(x, *stages)))


# -- dense ------------------------------------------------------------------
@case("dense on a 1-D input")
def case_dense_1d(net):
    single(net, [12], L.dense(5))


@case("dense without bias")
def case_dense_nobias(net):
    single(net, [12], L.dense(5, bias=False))


@case("dense on the last dim of a [S, D] input")
def case_dense_2d(net):
    single(net, [4, 6], L.dense(5))


@case("dense without bias on a [S, D] input")
def case_dense_2d_nobias(net):
    single(net, [4, 6], L.dense(3, bias=False))


# -- conv2d -----------------------------------------------------------------
@case("conv2d 1x1")
def case_conv2d_k1(net):
    single(net, [3, 8, 8], L.conv2d(4, kernel=1))


@case("conv2d 1x1 stride 2")
def case_conv2d_k1_s2(net):
    single(net, [3, 8, 8], L.conv2d(4, kernel=1, stride=2))


@case("conv2d 3x3, default kernel and pad 0")
def case_conv2d_k3(net):
    single(net, [3, 8, 8], L.conv2d(4))


@case("conv2d 3x3 pad 1")
def case_conv2d_k3_p1(net):
    single(net, [3, 8, 8], L.conv2d(4, kernel=3, stride=1, pad=1))


@case("conv2d 3x3 stride 2 pad 0 (output size floors)")
def case_conv2d_k3_s2(net):
    single(net, [3, 8, 8], L.conv2d(4, kernel=3, stride=2))


@case("conv2d 3x3 stride 2 pad 1")
def case_conv2d_k3_s2_p1(net):
    single(net, [3, 8, 8], L.conv2d(4, kernel=3, stride=2, pad=1))


@case("conv2d 5x5 pad 0")
def case_conv2d_k5(net):
    single(net, [3, 8, 8], L.conv2d(4, kernel=5))


@case("conv2d 5x5 pad 2")
def case_conv2d_k5_p2(net):
    single(net, [3, 8, 8], L.conv2d(4, kernel=5, pad=2))


@case("conv2d 5x5 stride 2 pad 2")
def case_conv2d_k5_s2_p2(net):
    single(net, [3, 9, 9], L.conv2d(4, kernel=5, stride=2, pad=2))


@case("conv2d 3x3 pad same")
def case_conv2d_k3_same(net):
    single(net, [3, 8, 8], L.conv2d(4, kernel=3, pad=SAME))


@case("conv2d 5x5 pad same")
def case_conv2d_k5_same(net):
    single(net, [3, 8, 8], L.conv2d(4, kernel=5, pad=SAME))


@case("conv2d 4x4 pad same: odd total padding 3 = 1 before + 2 after")
def case_conv2d_k4_same(net):
    single(net, [3, 7, 6], L.conv2d(4, kernel=4, pad=SAME))


@case("conv2d 2x2 pad same: total 1 = 0 before + 1 after")
def case_conv2d_k2_same(net):
    single(net, [2, 5, 6], L.conv2d(3, kernel=2, pad=SAME))


@case("conv2d 3x3 dilation 2 pad 0")
def case_conv2d_k3_d2(net):
    single(net, [3, 9, 9], L.conv2d(4, kernel=3, dilation=2))


@case("conv2d 3x3 dilation 2 pad 2")
def case_conv2d_k3_d2_p2(net):
    single(net, [3, 8, 8], L.conv2d(4, kernel=3, pad=2, dilation=2))


@case("conv2d 3x3 dilation 2 pad same (total 4)")
def case_conv2d_k3_d2_same(net):
    single(net, [3, 8, 7], L.conv2d(4, kernel=3, pad=SAME, dilation=2))


@case("conv2d groups 2: 4 -> 6 channels")
def case_conv2d_groups2(net):
    single(net, [4, 8, 8], L.conv2d(6, kernel=3, pad=1, groups=2))


@case("depthwise conv2d: groups = C = filters")
def case_conv2d_depthwise(net):
    single(net, [4, 8, 8], L.conv2d(4, kernel=3, pad=1, groups=4))


@case("depthwise conv2d with multiplier 2: groups = C = 4, 8 filters, stride 2")
def case_conv2d_depthwise_x2(net):
    single(net, [4, 8, 8], L.conv2d(8, kernel=3, stride=2, pad=1, groups=4))


@case("conv2d without bias")
def case_conv2d_nobias(net):
    single(net, [3, 8, 8], L.conv2d(4, kernel=3, pad=1, bias=False))


@case("conv2d on a non-square [3, 9, 7] input")
def case_conv2d_nonsquare(net):
    single(net, [3, 9, 7], L.conv2d(4, kernel=3))


@case("conv2d stride 2 pad 1 on a non-square [3, 9, 7] input")
def case_conv2d_nonsquare_s2_p1(net):
    single(net, [3, 9, 7], L.conv2d(5, kernel=3, stride=2, pad=1))


@case("conv2d 5x5 pad same on a non-square input, no bias")
def case_conv2d_nonsquare_k5_same(net):
    single(net, [2, 6, 9], L.conv2d(3, kernel=5, pad=SAME, bias=False))


# -- pooling ----------------------------------------------------------------
@case("maxpool2d 2, default stride = kernel")
def case_maxpool2d_k2(net):
    single(net, [3, 8, 8], L.maxpool2d(2))


@case("maxpool2d 2 on a non-square [2, 9, 7] input (last row/col dropped)")
def case_maxpool2d_k2_nonsquare(net):
    single(net, [2, 9, 7], L.maxpool2d(2))


@case("maxpool2d 3 stride 1")
def case_maxpool2d_k3_s1(net):
    single(net, [3, 8, 8], L.maxpool2d(3, stride=1))


@case("maxpool2d 3 stride 2 (output size floors)")
def case_maxpool2d_k3_s2(net):
    single(net, [3, 8, 8], L.maxpool2d(3, stride=2))


@case("maxpool2d 3 stride 2 pad 1")
def case_maxpool2d_k3_s2_p1(net):
    single(net, [3, 8, 8], L.maxpool2d(3, stride=2, pad=1))


@case("maxpool2d 3 stride 2 pad 1 on all-negative input: padding is -inf, not 0")
def case_maxpool2d_k3_s2_p1_neg(net):
    single(net, [2, 7, 6], L.maxpool2d(3, stride=2, pad=1), negative=True)


@case("maxpool2d 2 stride 1 pad 1 on all-negative input")
def case_maxpool2d_k2_s1_p1(net):
    single(net, [2, 5, 6], L.maxpool2d(2, stride=1, pad=1), negative=True)


@case("avgpool2d 2, default stride = kernel")
def case_avgpool2d_k2(net):
    single(net, [3, 8, 8], L.avgpool2d(2))


@case("avgpool2d 2 on a non-square [2, 9, 7] input")
def case_avgpool2d_k2_nonsquare(net):
    single(net, [2, 9, 7], L.avgpool2d(2))


@case("avgpool2d 3 stride 1")
def case_avgpool2d_k3_s1(net):
    single(net, [3, 8, 8], L.avgpool2d(3, stride=1))


@case("avgpool2d 3 stride 2")
def case_avgpool2d_k3_s2(net):
    single(net, [3, 8, 8], L.avgpool2d(3, stride=2))


@case("avgpool2d 3 stride 2 pad 1: padded zeros count in the divisor (always 9)")
def case_avgpool2d_k3_s2_p1(net):
    single(net, [3, 8, 8], L.avgpool2d(3, stride=2, pad=1), shift=2.0)


@case("avgpool2d 2 stride 1 pad 1: divisor always 4")
def case_avgpool2d_k2_s1_p1(net):
    single(net, [2, 5, 6], L.avgpool2d(2, stride=1, pad=1), shift=2.0)


@case("global_avgpool: [C, H, W] -> [C], mean over H, W")
def case_global_avgpool_3d(net):
    single(net, [4, 5, 6], L.global_avgpool(), scale=2.0, shift=1.0)


@case("flatten: [C, H, W] -> [C*H*W], row-major")
def case_flatten_3d(net):
    single(net, [3, 4, 5], L.flatten())


@case("flatten then dense: the flatten order reaches the weights")
def case_flatten_dense(net):
    single(net, [2, 3, 4], L.flatten(), L.dense(5))


# -- activations ------------------------------------------------------------
@case("relu")
def case_act_relu(net):
    single(net, [2, 3, 5], L.relu(), scale=3.0)


@case("leaky_relu with the default alpha 0.01")
def case_act_leaky_relu(net):
    single(net, [2, 3, 5], L.leaky_relu(), scale=3.0)


@case("leaky_relu alpha 0.2")
def case_act_leaky_relu_a02(net):
    single(net, [2, 3, 5], L.leaky_relu(alpha=0.2), scale=3.0)


@case("sigmoid, inputs up to about +-20")
def case_act_sigmoid(net):
    single(net, [2, 3, 5], L.sigmoid(), scale=6.0)


@case("tanh, inputs up to about +-20")
def case_act_tanh(net):
    single(net, [2, 3, 5], L.tanh(), scale=6.0)


@case("gelu, exact erf form")
def case_act_gelu(net):
    single(net, [2, 3, 5], L.gelu(), scale=3.0)


@case("silu (x * sigmoid(x))")
def case_act_silu(net):
    single(net, [2, 3, 5], L.silu(), scale=6.0)


@case("softmax on a 1-D input")
def case_softmax_1d(net):
    single(net, [10], L.softmax(), scale=3.0)


@case("softmax on the last dim of a [S, D] input")
def case_softmax_2d(net):
    single(net, [4, 7], L.softmax(), scale=3.0)


@case("softmax on inputs near 100: needs the max subtracted before exp")
def case_softmax_large(net):
    single(net, [4, 7], L.softmax(), scale=3.0, shift=100.0)


@case("log_softmax on a 1-D input")
def case_log_softmax_1d(net):
    single(net, [10], L.log_softmax(), scale=3.0)


@case("log_softmax on the last dim of a [S, D] input")
def case_log_softmax_2d(net):
    single(net, [4, 7], L.log_softmax(), scale=3.0)


@case("log_softmax on inputs near 100 (stable form)")
def case_log_softmax_large(net):
    single(net, [10], L.log_softmax(), scale=3.0, shift=100.0)


# -- normalization, dropout -------------------------------------------------
@case("batchnorm over the features of [D] (BatchNorm1d), inference")
def case_batchnorm_1d(net):
    single(net, [8], L.batchnorm())


@case("batchnorm over the channels of [C, H, W] (BatchNorm2d), inference")
def case_batchnorm_2d(net):
    single(net, [4, 5, 5], L.batchnorm())


@case("batchnorm 1-D, eps 1e-3 and momentum 0.2, small running_var so eps matters")
def case_batchnorm_1d_eps(net):
    single(net, [8], L.batchnorm(momentum=0.2, eps=1e-3, _var=(0.002, 0.02)))


@case("batchnorm 2-D, eps 1e-3, small running_var so eps matters")
def case_batchnorm_2d_eps(net):
    single(net, [4, 5, 5], L.batchnorm(eps=1e-3, _var=(0.002, 0.02)))


# -- batchnorm folded into the layer before it (compiler/fold.c) ------------
# Every batchnorm here has non-trivial gamma, beta and running statistics
# (op_batchnorm), so a wrong fold changes the result.
@case("conv2d with bias -> batchnorm -> maxpool: folded into the conv (bias folded too)")
def case_fold_conv_bn(net):
    single(net, [3, 8, 8], L.conv2d(6, kernel=3, pad=1), L.batchnorm(), L.maxpool2d(2))


@case("conv2d without bias -> batchnorm -> relu: folded, relu in the conv's epilogue")
def case_fold_conv_nobias_bn_relu(net):
    single(net, [3, 8, 8], L.conv2d(6, kernel=3, stride=2, pad=1, bias=False),
           L.batchnorm(), L.relu())


@case("depthwise conv2d (groups = channels) -> batchnorm, eps 1e-3 -> relu: folded per filter")
def case_fold_depthwise_bn_relu(net):
    single(net, [4, 7, 7], L.conv2d(4, kernel=3, pad=1, groups=4, bias=False),
           L.batchnorm(eps=1e-3, _var=(0.002, 0.02)), L.relu())


@case("dense -> batchnorm over its units (BatchNorm1d) -> relu: folded into the dense")
def case_fold_dense_bn_relu(net):
    single(net, [12], L.dense(8), L.batchnorm(), L.relu())


@case("dense without bias -> batchnorm -> dense: folded into the first dense")
def case_fold_dense_nobias_bn(net):
    single(net, [12], L.dense(8, bias=False), L.batchnorm(), L.dense(5))


@case("conv2d -> batchnorm that is the net's output: not folded (outputs are written by their own kernel)")
def case_nofold_bn_is_output(net):
    single(net, [3, 6, 6], L.conv2d(4, kernel=3, pad=1), L.batchnorm())


@case("dense on [S, D] -> batchnorm over S: not folded (channels are not the units)")
def case_nofold_dense_2d_bn(net):
    single(net, [4, 6], L.dense(5), L.batchnorm())


@case("conv2d read by batchnorm and by add: not folded (the conv output is needed)")
def case_nofold_conv_read_twice(net):
    x = net.input("x", [4, 6, 6])
    h = net.let("h", net.pipe(x, L.conv2d(4, kernel=3, pad=1)))
    b = net.let("b", net.pipe(h, L.batchnorm()))
    net.output(net.let("y", net.pipe(net.call(L.add(), b, h), L.relu())))


@case("conv2d output is a net output and feeds batchnorm -> relu: not folded")
def case_nofold_conv_is_output(net):
    x = net.input("x", [3, 6, 6])
    h = net.let("h", net.pipe(x, L.conv2d(4, kernel=3, pad=1)))
    net.output(h)
    net.output(net.let("y", net.pipe(h, L.batchnorm(), L.relu())))


@case("layernorm over a 1-D input, with weight and bias")
def case_layernorm_1d(net):
    single(net, [16], L.layernorm(), scale=2.0, shift=3.0)


@case("layernorm over the last dim of a [S, D] input")
def case_layernorm_2d(net):
    single(net, [4, 8], L.layernorm(), scale=2.0, shift=3.0)


@case("layernorm eps 1e-3 on a low-variance input so eps matters")
def case_layernorm_eps(net):
    single(net, [16], L.layernorm(eps=1e-3), scale=0.05, shift=1.0)


@case("dropout is the identity in inference")
def case_dropout_identity(net):
    single(net, [10], L.dropout(0.5))


# -- elementwise and concat -------------------------------------------------
@case("add of two inputs")
def case_add_two_inputs(net):
    a = net.input("a", [3, 4, 4])
    b = net.input("b", [3, 4, 4])
    net.output(net.let("y", net.call(L.add(), a, b)))


@case("mul of two inputs")
def case_mul_two_inputs(net):
    a = net.input("a", [3, 4, 4])
    b = net.input("b", [3, 4, 4])
    net.output(net.let("y", net.call(L.mul(), a, b)))


@case("activations fused into mul: a gated unit, mul(a, b) -> tanh, then mul with a -> sigmoid")
def case_mul_act(net):
    a = net.input("a", [3, 4, 4])
    b = net.input("b", [3, 4, 4])
    g = net.let("g", net.pipe(net.call(L.mul(), a, b), L.tanh()))
    net.output(net.let("y", net.pipe(net.call(L.mul(), g, a), L.sigmoid())))


@case("residual adds fused into the dense producing one side: add(dense(h), h) -> relu, "
      "add(r, dense(r)) -> sigmoid, a plain add(dense(s), x), and one on [4, 6] rows")
def case_residual_dense(net):
    x = net.input("x", [24])
    z = net.input("z", [4, 6])
    h = net.let("h", net.pipe(x, L.dense(24), L.relu()))
    d1 = net.let("d1", net.pipe(h, L.dense(24)))
    r = net.let("r", net.pipe(net.call(L.add(), d1, h), L.relu()))
    d2 = net.let("d2", net.pipe(r, L.dense(24)))
    s = net.let("s", net.pipe(net.call(L.add(), r, d2), L.sigmoid()))
    d3 = net.let("d3", net.pipe(s, L.dense(24)))
    net.output(net.let("y", net.call(L.add(), d3, x)))
    d4 = net.let("d4", net.pipe(z, L.dense(6)))
    net.output(net.let("w", net.pipe(net.call(L.add(), z, d4), L.tanh())))


@case("residual adds fused into the conv2d or batchnorm producing one side: plain loop, direct "
      "(1x1), grouped, conv -> batchnorm (folded) -> add -> relu, and an unfolded batchnorm")
def case_residual_conv(net):
    x = net.input("x", [4, 8, 8])
    a = net.let("a", net.pipe(x, L.conv2d(4, kernel=3, pad=1)))
    r1 = net.let("r1", net.pipe(net.call(L.add(), a, x), L.relu()))
    b = net.let("b", net.pipe(r1, L.conv2d(4, kernel=1)))
    r2 = net.let("r2", net.pipe(net.call(L.add(), r1, b), L.sigmoid()))
    c = net.let("c", net.pipe(r2, L.conv2d(4, kernel=3, pad=1, groups=2)))
    r3 = net.let("r3", net.pipe(net.call(L.add(), c, r2), L.tanh()))
    d = net.let("d", net.pipe(r3, L.conv2d(4, kernel=3, pad=1, bias=False), L.batchnorm()))
    r4 = net.let("r4", net.pipe(net.call(L.add(), d, r3), L.relu()))
    p = net.let("p", net.pipe(r4, L.avgpool2d(2)))
    e = net.let("e", net.pipe(r4, L.maxpool2d(2), L.batchnorm()))
    net.output(net.let("y", net.pipe(net.call(L.add(), p, e), L.relu())))


# -- elementwise chains (compiler/chain.c) -----------------------------------
@case("chain: a gated unit mul(sigmoid(a), tanh(b)) in one kernel")
def case_chain_gated(net):
    a = net.input("a", [3, 4, 4], scale=3.0)
    b = net.input("b", [3, 4, 4], scale=3.0)
    sa = net.let("sa", net.pipe(a, L.sigmoid()))
    tb = net.let("tb", net.pipe(b, L.tanh()))
    net.output(net.let("y", net.call(L.mul(), sa, tb)))


@case("chain: add(mul(a, b), c) -> relu, an add epilogue grown into a chain")
def case_chain_add_mul_relu(net):
    a = net.input("a", [2, 3, 5])
    b = net.input("b", [2, 3, 5])
    c = net.input("c", [2, 3, 5])
    net.output(net.let("y", net.pipe(net.call(L.add(), net.call(L.mul(), a, b), c), L.relu())))


@case("chain: activation after activation, tanh -> sigmoid -> relu -> leaky_relu 0.2")
def case_chain_act_act(net):
    single(net, [2, 3, 5], L.tanh(), L.sigmoid(), L.relu(), L.leaky_relu(alpha=0.2), scale=3.0)


@case("chain: gelu, silu and leaky_relu, the input read twice: mul(x -> gelu -> silu, x -> leaky_relu) -> tanh")
def case_chain_gelu_silu(net):
    x = net.input("x", [4, 6], scale=2.0)
    g = net.let("g", net.pipe(x, L.gelu(), L.silu()))
    h = net.let("h", net.pipe(x, L.leaky_relu()))
    net.output(net.let("y", net.pipe(net.call(L.mul(), g, h), L.tanh())))


@case("chain: an intermediate that is also an output stays out of the chain (t), the rest chains")
def case_chain_output_intermediate(net):
    a = net.input("a", [3, 5], scale=2.0)
    b = net.input("b", [3, 5])
    t = net.let("t", net.pipe(a, L.tanh()))
    net.output(t)
    net.output(net.let("y", net.pipe(t, L.sigmoid(), (L.mul(), b), L.silu())))


@case("chain after a dense epilogue, through dropout: dense -> relu (epilogue) -> tanh -> dropout -> silu")
def case_chain_dense_dropout(net):
    single(net, [6], L.dense(8), L.relu(), L.tanh(), L.dropout(0.25), L.silu(), L.dense(3))


@case("chain: 18 activations in a row, longer than one chain kernel holds (16 ops)")
def case_chain_long(net):
    acts = [L.tanh(), L.sigmoid(), L.gelu(), L.silu(), L.leaky_relu(alpha=0.2), L.relu()] * 3
    single(net, [2, 8], *acts, scale=3.0)


@case("add of a value with a function of itself, and pipe form x -> add(h)")
def case_add_self(net):
    x = net.input("x", [2, 3, 4])
    h = net.let("h", net.pipe(x, L.relu()))
    y = net.let("y", net.call(L.add(), h, x))
    net.output(net.let("z", net.pipe(y, (L.mul(), h))))


@case("concat of [2,4,5] and [3,4,5] on axis 0 (channels)")
def case_concat_axis0(net):
    a = net.input("a", [2, 4, 5])
    b = net.input("b", [3, 4, 5])
    net.output(net.let("y", net.call(L.concat(axis=0), a, b)))


@case("concat of [2,3,5] and [2,4,5] on axis 1")
def case_concat_axis1(net):
    a = net.input("a", [2, 3, 5])
    b = net.input("b", [2, 4, 5])
    net.output(net.let("y", net.call(L.concat(axis=1), a, b)))


@case("concat of [2,4,3] and [2,4,2] on axis 2")
def case_concat_axis2(net):
    a = net.input("a", [2, 4, 3])
    b = net.input("b", [2, 4, 2])
    net.output(net.let("y", net.call(L.concat(axis=2), a, b)))


@case("concat of two 1-D inputs with the default axis 0")
def case_concat_1d(net):
    a = net.input("a", [4])
    b = net.input("b", [6])
    net.output(net.let("y", net.call(L.concat(), a, b)))


# -- naming and multiple outputs ---------------------------------------------
@case("naming order: call arguments are named before the call, left to right "
      "(dense_1, dense_2 inside concat, then dense_3)")
def case_naming_nested(net):
    x = net.input("x", [6])
    s = net.call(L.concat(), net.call(L.dense(4), x), net.call(L.dense(4), x))
    h = net.let("h", net.pipe(s, L.relu()))
    net.output(net.let("y", net.pipe(h, L.dense(3))))


@case("explicit layer names with name = \"...\"")
def case_naming_explicit(net):
    x = net.input("x", [3, 6, 6])
    h = net.let("h", net.pipe(x, L.conv2d(4, kernel=3, pad=1, name="stem"),
                              L.batchnorm(name="stem_bn"), L.relu()))
    net.output(net.let("y", net.pipe(h, L.global_avgpool(), L.dense(5, name="head"))))


@case("two outputs from one trunk")
def case_multi_output(net):
    x = net.input("x", [10])
    h = net.let("h", net.pipe(x, L.dense(6)))
    net.output(net.let("p", net.pipe(h, L.softmax())))
    net.output(net.let("lp", net.pipe(h, L.log_softmax())))


# -- whole nets ---------------------------------------------------------------
@case("MLP 784-256-128-10 on MNIST-shaped input, explicit layer names")
def case_mlp_mnist(net):
    x = net.input("x", [1, 28, 28])
    net.label("t", "class[10]")
    h = net.let("h", net.pipe(x, L.flatten(), L.dense(256, name="fc1"), L.relu(),
                              L.dense(128, name="fc2"), L.relu()))
    net.output(net.let("logits", net.pipe(h, L.dense(10, name="fc3"))))
    net.loss("cross_entropy(logits, t)")


@case("LeNet-5 on 28x28")
def case_lenet5(net):
    x = net.input("x", [1, 28, 28])
    net.label("t", "class[10]")
    c1 = net.let("c1", net.pipe(x, L.conv2d(6, kernel=5, pad=2), L.relu(), L.maxpool2d(2)))
    c2 = net.let("c2", net.pipe(c1, L.conv2d(16, kernel=5), L.relu(), L.maxpool2d(2)))
    f = net.let("f", net.pipe(c2, L.flatten(), L.dense(120), L.relu(),
                              L.dense(84), L.relu()))
    net.output(net.let("logits", net.pipe(f, L.dense(10))))
    net.loss("cross_entropy(logits, t)")


@case("small CNN: conv(no bias) -> batchnorm -> relu blocks, pooling, dropout")
def case_small_cnn(net):
    x = net.input("x", [3, 16, 16])
    net.label("t", "class[10]")
    b1 = net.let("b1", net.pipe(x, L.conv2d(8, kernel=3, pad=1, bias=False),
                                L.batchnorm(), L.relu(), L.maxpool2d(2)))
    b2 = net.let("b2", net.pipe(b1, L.conv2d(16, kernel=3, pad=1, bias=False),
                                L.batchnorm(), L.relu(), L.avgpool2d(2)))
    b3 = net.let("b3", net.pipe(b2, L.conv2d(16, kernel=3, stride=2, pad=1, bias=False),
                                L.batchnorm(), L.relu()))
    net.output(net.let("logits", net.pipe(b3, L.flatten(), L.dropout(0.25), L.dense(10))))
    net.loss("cross_entropy(logits, t)")


@case("small residual net: stem, conv->bn->relu->conv->bn + skip, relu, head")
def case_small_resnet(net):
    x = net.input("x", [3, 10, 10])
    net.label("t", "class[5]")
    s = net.let("s", net.pipe(x, L.conv2d(8, kernel=3, pad=SAME, bias=False),
                              L.batchnorm(), L.relu()))
    r = net.let("r", net.pipe(s, L.conv2d(8, kernel=3, pad=1, bias=False),
                              L.batchnorm(), L.relu(),
                              L.conv2d(8, kernel=3, pad=1, bias=False), L.batchnorm()))
    y = net.let("y", net.pipe(net.call(L.add(), r, s), L.relu()))
    net.output(net.let("logits", net.pipe(y, L.global_avgpool(), L.dense(5))))
    net.loss("cross_entropy(logits, t)")


@case("regression MLP 8-32-16-1 with tanh")
def case_regression_mlp(net):
    x = net.input("x", [8])
    h = net.let("h", net.pipe(x, L.dense(32), L.tanh(), L.dense(16), L.tanh()))
    net.output(net.let("y", net.pipe(h, L.dense(1))))


@case("autoencoder 32-16-4-16-32 with a sigmoid output")
def case_autoencoder(net):
    x = net.input("x", [32])
    code = net.let("code", net.pipe(x, L.dense(16), L.relu(), L.dense(4)))
    net.output(net.let("recon", net.pipe(code, L.dense(16), L.relu(),
                                         L.dense(32), L.sigmoid())))


# --------------------------------------------------------------------------

def main():
    torch.set_num_threads(1)
    # Conv2d(padding='same') with an even kernel warns that it pads a copy.
    warnings.filterwarnings("ignore", message="Using padding='same'")
    torch.use_deterministic_algorithms(True)
    if os.path.isdir(CASES_DIR):
        shutil.rmtree(CASES_DIR)
    os.makedirs(CASES_DIR)
    names = [n for n, _, _ in CASES]
    assert len(names) == len(set(names)), "duplicate case name"
    for name, description, fn in CASES:
        torch.manual_seed(zlib.crc32(name.encode()))
        net = Net(name, description)
        with torch.no_grad():
            fn(net)
            write_case(net)
            net.check_float64()
    print("wrote %d cases to %s (torch %s)" % (len(CASES), CASES_DIR, torch.__version__))


if __name__ == "__main__":
    sys.exit(main())
