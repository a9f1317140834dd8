#!/usr/bin/python3
"""Validate the committed reference cases, independently of torch.

Run:  /usr/bin/python3 tests/reference/check_files.py [CASE...]

Needs only the standard library and numpy.  For every case directory under
tests/reference/cases/ it checks, and reports "N passed, N failed":

 1. Files.  case.json has inputs, outputs and tolerance; each named input
    and output has its .npy (input.npy / expected.npy when there is one,
    input_<name>.npy / expected_<name>.npy when there are several); every
    .npy is little-endian float32, C order, first dim 3, all finite.
 2. weights.safetensors.  u64 LE header length, multiple of 8; the header is
    JSON padded with spaces only; __metadata__ maps strings to strings; each
    tensor is F32 with a list-of-int shape; data_offsets are in order, start
    at 0, touch end to end, match shape * 4 bytes and end exactly at the end
    of the file; every value is finite; names are <layer>.weight|bias|
    running_mean|running_var and a layer with running stats has all four,
    with running_var > 0.
 3. model.net.  A small independent interpreter (the parser and numpy ops
    below, in float64) parses the net, names every op call by the netc rule,
    loads the weights by those names, runs the inputs and compares with the
    expectations under the case tolerance.  It must also use every tensor
    in the weights file and find every one it asks for, so the naming
    contract is checked, not just the numbers.
"""

import glob
import json
import math
import os
import re
import struct
import sys

import numpy as np

ROOT = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(ROOT, "cases")
N = 3
PARAM_KINDS = ("weight", "bias", "running_mean", "running_var")


class CheckError(Exception):
    """A case failed a check; the message says which and why."""


def need(cond, fmt, *args):
    if not cond:
        raise CheckError(fmt % args)


# --------------------------------------------------------------------------
# 1. files
# --------------------------------------------------------------------------

def load_npy(path):
    need(os.path.isfile(path), "missing %s", os.path.basename(path))
    a = np.load(path, allow_pickle=False)
    need(a.dtype == np.dtype("<f4"), "%s: dtype %s, want <f4", path, a.dtype)
    need(a.flags.c_contiguous, "%s: not C order", path)
    need(a.ndim >= 2 and a.shape[0] == N, "%s: shape %s, want [%d, ...]", path, a.shape, N)
    need(np.isfinite(a).all(), "%s: non-finite values", path)
    return a


def npy_files(d, kind, names):
    """name -> array for the inputs or expectations of a case."""
    if len(names) == 1:
        return {names[0]: load_npy(os.path.join(d, kind + ".npy"))}
    return {n: load_npy(os.path.join(d, "%s_%s.npy" % (kind, n))) for n in names}


def load_meta(d):
    with open(os.path.join(d, "case.json")) as f:
        meta = json.load(f)
    for key in ("inputs", "outputs", "tolerance"):
        need(key in meta, "case.json lacks %r", key)
    need(meta["tolerance"] == "1e-4*max(1,|expected|)", "unknown tolerance %r",
         meta["tolerance"])
    return meta


# --------------------------------------------------------------------------
# 2. safetensors
# --------------------------------------------------------------------------

def load_safetensors(path):
    """Parse and validate a safetensors file; return name -> float32 array."""
    with open(path, "rb") as f:
        raw = f.read()
    need(len(raw) >= 8, "safetensors shorter than 8 bytes")
    (hlen,) = struct.unpack("<Q", raw[:8])
    need(hlen % 8 == 0 and 8 + hlen <= len(raw), "bad header length %d", hlen)
    text = raw[8:8 + hlen].decode("utf-8")
    need(text.rstrip(" ") == text.rstrip(), "header padded with non-spaces")
    header = json.loads(text)
    meta = header.pop("__metadata__", {})
    need(all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()),
         "__metadata__ must map strings to strings")
    data, out, pos = raw[8 + hlen:], {}, 0
    for name, h in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"]):
        need(set(h) == {"dtype", "shape", "data_offsets"}, "%s: header keys %s", name, sorted(h))
        need(h["dtype"] == "F32", "%s: dtype %s", name, h["dtype"])
        shape, (b, e) = h["shape"], h["data_offsets"]
        need(all(isinstance(s, int) and s >= 0 for s in shape), "%s: shape %s", name, shape)
        need(b == pos and e - b == 4 * math.prod(shape), "%s: offsets [%d,%d]", name, b, e)
        out[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(shape)
        need(np.isfinite(out[name]).all(), "%s: non-finite values", name)
        pos = e
    need(pos == len(data), "data block is %d bytes, tensors cover %d", len(data), pos)
    check_param_names(out)
    return out


def check_param_names(params):
    layers = {}
    for name in params:
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)\.(%s)" % "|".join(PARAM_KINDS), name)
        need(m, "bad parameter name %r", name)
        layers.setdefault(m.group(1), set()).add(m.group(2))
    for layer, kinds in layers.items():
        if "running_var" in kinds or "running_mean" in kinds:
            need(kinds == set(PARAM_KINDS), "%s: batchnorm needs all of %s", layer, PARAM_KINDS)
            need((params[layer + ".running_var"] > 0).all(), "%s: running_var <= 0", layer)


# --------------------------------------------------------------------------
# 3. the .net interpreter: tokenizer, parser, numpy ops
# --------------------------------------------------------------------------

TOKEN = re.compile(r"\s+|#[^\n]*|(->|[{}()\[\],;:=])|([A-Za-z_][A-Za-z0-9_]*)"
                   r"|([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)|(\"[^\"]*\")")


def tokenize(src):
    toks, pos = [], 0
    while pos < len(src):
        m = TOKEN.match(src, pos)
        need(m, "model.net: bad character at offset %d", pos)
        pos = m.end()
        if m.group(1):
            toks.append(("p", m.group(1)))
        elif m.group(2):
            toks.append(("id", m.group(2)))
        elif m.group(3):
            toks.append(("num", float(m.group(3)) if re.search(r"[.eE]", m.group(3))
                         else int(m.group(3))))
        elif m.group(4):
            toks.append(("str", m.group(4)[1:-1]))
    return toks + [("eof", None)]


class Interp:
    """Parses a net and evaluates it while parsing (float64 numpy)."""

    def __init__(self, src, params, inputs):
        self.toks, self.i = tokenize(src), 0
        self.params, self.used = params, set()
        self.inputs, self.env = inputs, {}
        self.counters, self.outputs, self.net_name = {}, [], None

    # -- token helpers ------------------------------------------------------
    def peek(self, k=0):
        return self.toks[self.i + k]

    def take(self, kind=None, val=None):
        t = self.toks[self.i]
        need((kind is None or t[0] == kind) and (val is None or t[1] == val),
             "model.net: expected %s %s, got %s", kind, val, t)
        self.i += 1
        return t[1]

    def at(self, val):
        return self.peek()[1] == val and self.peek()[0] == "p"

    # -- grammar --------------------------------------------------------------
    def net(self):
        """net := 'net' ID '{' stmt* '}'"""
        self.take("id", "net")
        self.net_name = self.take("id")
        self.take("p", "{")
        while not self.at("}"):
            self.stmt()
        self.take("p", "}")
        self.take("eof")

    def stmt(self):
        """stmt := input ID : f32[dims]; | label ...; | output ID; | loss ...; | ID = expr;"""
        word = self.take("id")
        if word == "input":
            name = self.take("id")
            self.take("p", ":")
            self.take("id", "f32")
            shape = self.dims()
            need(list(self.inputs[name].shape[1:]) == shape, "input %s shape mismatch", name)
            self.env[name] = self.inputs[name].astype(np.float64)
        elif word in ("label", "loss"):
            while not self.at(";"):
                self.take()
        elif word == "output":
            self.outputs.append(self.take("id"))
        else:
            self.take("p", "=")
            self.env[word] = self.expr()
        self.take("p", ";")

    def dims(self):
        self.take("p", "[")
        out = [self.take("num")]
        while self.at(","):
            self.take()
            out.append(self.take("num"))
        self.take("p", "]")
        return out

    def expr(self):
        """expr := primary ('->' ID ['(' args ')'])*   (a -> f(args) is f(a, args))"""
        val = self.primary()
        while self.at("->"):
            self.take()
            val = self.call(self.take("id"), [val])
        return val

    def primary(self):
        """primary := ID | ID '(' args ')' | '(' expr ')'"""
        if self.at("("):
            self.take()
            v = self.expr()
            self.take("p", ")")
            return v
        name = self.take("id")
        if self.at("("):
            return self.call(name, [])
        need(name in self.env, "unknown value %s", name)
        return self.env[name]

    def call(self, op, operands):
        """Read optional '(' args ')', then name and apply op: args first."""
        attrs, kw = [], {}
        if self.at("("):
            self.take()
            while not self.at(")"):
                if self.peek()[0] == "id" and self.peek(1) == ("p", "="):
                    key = self.take()
                    self.take()
                    kw[key] = self.value()
                elif self.peek()[0] == "num":
                    attrs.append(self.take())
                else:
                    operands.append(self.expr())
                if not self.at(")"):
                    self.take("p", ",")
            self.take()
        k = self.counters[op] = self.counters.get(op, 0) + 1
        layer = kw.pop("name", None) or "%s_%d" % (op, k)
        need(op in OPS, "unknown op %s", op)
        return OPS[op](Layer(self, layer), *operands, *attrs, **kw)

    def value(self):
        kind, v = self.peek()
        if kind == "id" and v in ("true", "false"):
            self.take()
            return v == "true"
        self.take()
        return v


class Layer:
    """Parameter access for one named layer."""

    def __init__(self, interp, name):
        self.interp, self.name = interp, name

    def __call__(self, pname, optional=False):
        full = "%s.%s" % (self.name, pname)
        if full not in self.interp.params:
            need(optional, "weights lack %s", full)
            return None
        self.interp.used.add(full)
        return self.interp.params[full].astype(np.float64)


def conv_pads(pad, k, d):
    """(before, after) padding; 'same' puts the odd extra element after."""
    if pad == "same":
        total = d * (k - 1)
        return total // 2, total - total // 2
    return pad, pad


def windows(x, k, s, d, ho, wo):
    """Yield (i, j, view [N, C, ho, wo]) for each kernel tap of a padded x."""
    for i in range(k):
        for j in range(k):
            yield i, j, x[:, :, i * d: i * d + s * (ho - 1) + 1: s,
                          j * d: j * d + s * (wo - 1) + 1: s]


def pad_hw(x, lo, hi, fill):
    return np.pad(x, ((0, 0), (0, 0), (lo, hi), (lo, hi)), constant_values=fill)


def out_size(n, k, s, d):
    return (n - d * (k - 1) - 1) // s + 1


def op_conv2d(p, x, filters, kernel=3, stride=1, pad=0, dilation=1, groups=1, bias=True):
    lo, hi = conv_pads(pad, kernel, dilation)
    xp = pad_hw(x, lo, hi, 0.0)
    n, c = x.shape[:2]
    ho, wo = (out_size(v, kernel, stride, dilation) for v in xp.shape[2:])
    w = p("weight")
    need(w.shape == (filters, c // groups, kernel, kernel), "%s.weight shape", p.name)
    wg = w.reshape(groups, filters // groups, c // groups, kernel, kernel)
    y = np.zeros((n, groups, filters // groups, ho, wo))
    for i, j, v in windows(xp, kernel, stride, dilation, ho, wo):
        y += np.einsum("ngchw,gfc->ngfhw", v.reshape(n, groups, c // groups, ho, wo),
                       wg[:, :, :, i, j])
    y = y.reshape(n, filters, ho, wo)
    return y + p("bias")[None, :, None, None] if bias else y


def op_pool(x, kernel, stride, pad, fill, reduce):
    stride = stride or kernel
    xp = pad_hw(x, pad, pad, fill)
    ho, wo = (out_size(v, kernel, stride, 1) for v in xp.shape[2:])
    return reduce([v for _, _, v in windows(xp, kernel, stride, 1, ho, wo)])


def op_dense(p, x, units, bias=True):
    w = p("weight")
    need(w.shape == (units, x.shape[-1]), "%s.weight shape", p.name)
    return x @ w.T + (p("bias") if bias else 0.0)


def op_batchnorm(p, x, momentum=0.1, eps=1e-5):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    mean, var = p("running_mean").reshape(shape), p("running_var").reshape(shape)
    return (x - mean) / np.sqrt(var + eps) * p("weight").reshape(shape) + p("bias").reshape(shape)


def op_layernorm(p, x, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * p("weight") + p("bias")


def log_softmax(x):
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


ERF = np.vectorize(math.erf)

OPS = {
    "dense": op_dense,
    "conv2d": op_conv2d,
    "maxpool2d": lambda p, x, kernel, stride=None, pad=0:
        op_pool(x, kernel, stride, pad, -np.inf, lambda vs: np.max(vs, axis=0)),
    "avgpool2d": lambda p, x, kernel, stride=None, pad=0:
        op_pool(x, kernel, stride, pad, 0.0, lambda vs: np.sum(vs, axis=0) / kernel ** 2),
    "global_avgpool": lambda p, x: x.mean(axis=(2, 3)),
    "flatten": lambda p, x: x.reshape(x.shape[0], -1),
    "relu": lambda p, x: np.maximum(x, 0.0),
    "leaky_relu": lambda p, x, alpha=0.01: np.where(x >= 0, x, alpha * x),
    "sigmoid": lambda p, x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": lambda p, x: np.tanh(x),
    "gelu": lambda p, x: 0.5 * x * (1.0 + ERF(x / math.sqrt(2.0))),
    "silu": lambda p, x: x / (1.0 + np.exp(-x)),
    "softmax": lambda p, x: np.exp(log_softmax(x)),
    "log_softmax": lambda p, x: log_softmax(x),
    "batchnorm": op_batchnorm,
    "layernorm": op_layernorm,
    "dropout": lambda p, x, prob=0.5: x,
    "add": lambda p, a, b: a + b,
    "mul": lambda p, a, b: a * b,
    "concat": lambda p, a, b, axis=0: np.concatenate([a, b], axis=axis + 1),
}


def run_net(d, meta, params, inputs, expected):
    with open(os.path.join(d, "model.net")) as f:
        src = f.read()
    it = Interp(src, params, inputs)
    it.net()
    case = os.path.basename(d)
    need(it.net_name == case, "net name %s != case %s", it.net_name, case)
    need(it.outputs == meta["outputs"], "outputs %s != case.json %s", it.outputs, meta["outputs"])
    need(it.used == set(params), "unused weights: %s", sorted(set(params) - it.used))
    for name in it.outputs:
        got, want = it.env[name], expected[name].astype(np.float64)
        need(got.shape == want.shape, "%s: shape %s, want %s", name, got.shape, want.shape)
        err = np.abs(got - want) - 1e-4 * np.maximum(1.0, np.abs(want))
        need(err.max() <= 0, "%s: off by %g beyond the tolerance", name, err.max())


# --------------------------------------------------------------------------

def check_case(d):
    meta = load_meta(d)
    inputs = npy_files(d, "input", meta["inputs"])
    expected = npy_files(d, "expected", meta["outputs"])
    params = load_safetensors(os.path.join(d, "weights.safetensors"))
    run_net(d, meta, params, inputs, expected)


def main(argv):
    dirs = sorted(glob.glob(os.path.join(CASES_DIR, "*")))
    if argv:
        dirs = [os.path.join(CASES_DIR, a) for a in argv]
    passed = failed = 0
    for d in dirs:
        try:
            check_case(d)
            passed += 1
        except (CheckError, OSError, ValueError, KeyError) as e:
            failed += 1
            print("FAIL %s: %s" % (os.path.basename(d), e))
    size = sum(os.path.getsize(f) for f in glob.glob(os.path.join(CASES_DIR, "*", "*")))
    print("reference cases: %d files, %.2f MiB" % (
        len(glob.glob(os.path.join(CASES_DIR, "*", "*"))), size / 2 ** 20))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not dirs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
