#!/usr/bin/python3
"""pytorch_bench.py — the PyTorch side of bench/side_by_side.sh.

    /usr/bin/python3 bench/pytorch_bench.py --net fashion_mlp|lenet5|resnet_mini [--threads N]
        [--batch 64] [--steps K] [--epoch DATA_DIR] [--json FILE]

Builds the same net as examples/<net>.net (same layers and sizes, PyTorch's
own layouts, the same optimizer and learning rate) and measures what
`BIN bench` measures, the same way:

  * inference latency at batch 1 and batch B: eval mode under
    torch.inference_mode(), the median of up to 2000 calls (at least 11, at
    most 0.5 s) after a warm-up;  (each also as this thread's CPU time)
  * the training step at batch B: zero_grad, forward, loss, backward and
    optimizer step on one batch of random inputs U[0, 1) with random valid
    labels, the median of K steps after min(10, max(1, K/5)) warm-up steps;
  * with --epoch DIR, one epoch over Fashion-MNIST's 60000 training images,
    preloaded as float tensors scaled by 1/255, shuffled, batch B with the
    last partial batch, in a plain Python loop: the loop's wall time, and the
    process's peak RSS.

Thread settings are the caller's (see side_by_side.sh): this script calls
torch.set_num_threads(N) and reports what OpenBLAS and OpenMP run with.
Prints one JSON object (and writes it to --json FILE).
"""
import argparse
import ctypes
import gzip
import json
import os
import resource
import statistics
import time

import numpy as np
import torch
from torch import nn

INFER_MAX_RUNS = 2000
MIN_RUNS = 11
INFER_SECONDS = 0.5
WARM_SECONDS = 0.05


def fashion_mlp():
    """examples/fashion_mlp.net: 784-256-128-10, relu, Adam lr 1e-3."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                          nn.Linear(128, 10))
    return model, torch.optim.Adam(model.parameters(), lr=1e-3)


def lenet5():
    """examples/lenet5.net: LeNet-5 with pad 2, max pooling, SGD lr 0.01 momentum 0.9."""
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
    return model, torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)


class _Residual(nn.Module):
    """resnet_mini.net's block: conv-bn-relu-conv-bn, plus the input, relu."""

    def __init__(self, ch):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(ch, ch, 3, padding=1, bias=False), nn.BatchNorm2d(ch), nn.ReLU(),
                                  nn.Conv2d(ch, ch, 3, padding=1, bias=False), nn.BatchNorm2d(ch))

    def forward(self, x):
        return torch.relu(self.body(x) + x)


def resnet_mini():
    """examples/resnet_mini.net: stem, two 16-channel and two 32-channel residual blocks, AdamW."""
    model = nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
        _Residual(16), _Residual(16), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 1, bias=False), _Residual(32), _Residual(32),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))
    return model, torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)


NETS = {"fashion_mlp": fashion_mlp, "lenet5": lenet5, "resnet_mini": resnet_mini}


def time_runs(fn, warm, min_runs, max_runs, budget):
    """Runs fn `warm` times (and WARM_SECONDS), then times single calls.

    Returns {median, mean, cpu, runs}: wall seconds per call, and the median
    of this thread's CPU time per call (all the work with one thread)."""
    t0 = time.perf_counter()
    i = 0
    while i < warm or time.perf_counter() - t0 < WARM_SECONDS:
        fn()
        i += 1
    times, cpu = [], []
    start = time.perf_counter()
    while len(times) < max_runs and (len(times) < min_runs or time.perf_counter() - start < budget):
        ca = time.thread_time()
        a = time.perf_counter()
        fn()
        b = time.perf_counter()
        cpu.append(time.thread_time() - ca)
        times.append(b - a)
    return {"median": statistics.median(times), "mean": statistics.fmean(times), "cpu": statistics.median(cpu),
            "runs": len(times)}


def timing(key, t):
    """The JSON fields of one measurement, named as `BIN bench --json` names them."""
    return {key + "_us": t["median"] * 1e6, key + "_mean_us": t["mean"] * 1e6, key + "_cpu_us": t["cpu"] * 1e6,
            key + "_runs": t["runs"]}


def bench_infer(model, batch):
    model.eval()
    x1 = torch.rand(1, 1, 28, 28)
    xb = torch.rand(batch, 1, 28, 28)
    out = {}
    with torch.inference_mode():
        for key, x in (("infer_b1", x1), ("infer_batch", xb)):
            out.update(timing(key, time_runs(lambda: model(x), 10, MIN_RUNS, INFER_MAX_RUNS, INFER_SECONDS)))
    model.train()
    return out


def bench_train(model, opt, batch, steps):
    x = torch.rand(batch, 1, 28, 28)
    y = torch.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    warm = min(10, max(1, steps // 5))
    return timing("train_step", time_runs(step, warm, steps, steps, 0.0))


def read_idx(path):
    """An IDX file (gzip) as a numpy array."""
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def bench_epoch(model, opt, batch, data_dir):
    """One shuffled epoch over preloaded tensors; the loop's wall time and its mean loss."""
    images = read_idx(os.path.join(data_dir, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"))
    x_all = torch.from_numpy(images.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28)
    y_all = torch.from_numpy(labels.astype(np.int64))
    loss_fn = nn.CrossEntropyLoss()
    n = x_all.shape[0]
    total = 0.0
    t0 = time.perf_counter()
    perm = torch.randperm(n)
    for i in range(0, n, batch):
        idx = perm[i:i + batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x_all[idx]), y_all[idx])
        loss.backward()
        opt.step()
        total += loss.item() * idx.shape[0]
    return {"epoch_s": time.perf_counter() - t0, "epoch_loss": total / n, "epoch_samples": n,
            "epoch_peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


def openblas_info():
    """OpenBLAS's core and thread count in this process, read from the loaded library."""
    path = None
    with open("/proc/self/maps") as f:
        for line in f:
            if "libopenblas" in line:
                path = line.split()[-1]
                break
    if not path:
        return {"blas": "not OpenBLAS"}
    lib = ctypes.CDLL(path)
    lib.openblas_get_corename.restype = ctypes.c_char_p
    lib.openblas_get_config.restype = ctypes.c_char_p
    return {"blas": os.path.basename(path), "openblas_core": lib.openblas_get_corename().decode(),
            "openblas_threads": lib.openblas_get_num_threads(),
            "openblas_config": lib.openblas_get_config().decode().strip()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", choices=sorted(NETS), required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--epoch", metavar="DATA_DIR", help="also time one epoch over Fashion-MNIST in DATA_DIR")
    ap.add_argument("--no-step", action="store_true", help="skip the step and latency measurements")
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args()

    torch.manual_seed(1)
    torch.set_num_threads(args.threads)
    result = {"net": args.net, "framework": "pytorch", "torch": torch.__version__, "batch": args.batch,
              "threads": torch.get_num_threads(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
              "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
              "openblas_coretype_env": os.environ.get("OPENBLAS_CORETYPE")}
    result.update(openblas_info())
    if not args.no_step:
        model, opt = NETS[args.net]()
        result.update(bench_infer(model, args.batch))
        result.update(bench_train(model, opt, args.batch, args.steps))
    if args.epoch:
        model, opt = NETS[args.net]()
        result.update(bench_epoch(model, opt, args.batch, args.epoch))
    text = json.dumps(result, indent=1)
    if args.json:
        with open(args.json, "w") as f:
            f.write(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
