#!/usr/bin/python3
"""side_by_side_table.py [--markdown] DIR — the table of bench/side_by_side.sh.

Reads DIR/NET-THREADS-ROUND-{netc,torch}[-epoch].json (from `BIN bench
--json`, pytorch_bench.py, and side_by_side.sh's epoch runs), keeps the best
round of each measurement, and prints wall times with ratios PyTorch / netc
(above 1: netc is faster); at 1 thread also the ratio of the medians of the
calling thread's CPU time, which time slices lost to other processes do not
disturb; then each framework's speed-up from 1 to 2 threads (wall time),
and the range of the cross-core round trips netc's multi-thread runs
measured (BIN bench's `cross-core trip`).
"""
import glob
import json
import os
import re
import sys

ROWS = [("train step b64", "train_step_us", 1e-6), ("epoch", "epoch_s", 1.0),
        ("inference b1", "infer_b1_us", 1e-6), ("inference b64", "infer_batch_us", 1e-6)]
RSS = ("epoch peak RSS", "epoch_peak_rss_kib")


def load(dirname):
    """{(net, threads, framework): {key: best value over rounds}}."""
    best = {}
    for path in sorted(glob.glob(os.path.join(dirname, "*.json"))):
        m = re.match(r"(.+)-(\d+)-(\d+)-(netc|torch)(-epoch)?\.json$", os.path.basename(path))
        if not m:
            continue
        with open(path) as f:
            data = json.load(f)
        slot = best.setdefault((m.group(1), int(m.group(2)), m.group(4)), {})
        for key in [r[1] for r in ROWS] + [RSS[1]]:
            for k in (key, key.replace("_us", "_cpu_us")):
                v = data.get(k)
                if isinstance(v, (int, float)) and v > 0 and (k not in slot or v < slot[k]):
                    slot[k] = v
    return best


def round_trips(dirname):
    """The cross-core round trips (ns) BIN bench measured in its multi-thread runs."""
    out = []
    for path in sorted(glob.glob(os.path.join(dirname, "*-netc.json"))):
        with open(path) as f:
            v = json.load(f).get("cross_core_round_trip_ns")
        if isinstance(v, (int, float)) and v > 0:
            out.append(v)
    return out


def fmt_time(seconds):
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return "%.1f us" % (seconds * 1e6)
    if seconds < 1:
        return "%.3f ms" % (seconds * 1e3)
    return "%.2f s" % seconds


def seconds_of(best, net, t, fw, key, scale):
    v = best.get((net, t, fw), {}).get(key)
    return v * scale if v is not None else None


def fmt_mib(kib):
    return "%.1f MiB" % (kib / 1024) if kib else "-"


def ratio(a, b):
    return "%.2fx" % (a / b) if a and b else "-"


def rows(best):
    nets = sorted({k[0] for k in best}, key=lambda n: (n != "fashion_mlp", n))
    threads = sorted({k[1] for k in best})
    out = []
    for net in nets:
        for t in threads:
            for name, key, scale in ROWS:
                n = seconds_of(best, net, t, "netc", key, scale)
                p = seconds_of(best, net, t, "torch", key, scale)
                if n is None and p is None:
                    continue
                cpu = "-"
                if t == 1 and key.endswith("_us"):
                    ckey = key.replace("_us", "_cpu_us")
                    cpu = ratio(seconds_of(best, net, t, "torch", ckey, scale),
                                seconds_of(best, net, t, "netc", ckey, scale))
                out.append((net, str(t), name, fmt_time(n), fmt_time(p), ratio(p, n), cpu))
            n = best.get((net, t, "netc"), {}).get(RSS[1])
            p = best.get((net, t, "torch"), {}).get(RSS[1])
            if n or p:
                out.append((net, str(t), RSS[0], fmt_mib(n), fmt_mib(p), ratio(p, n), "-"))
    return out, nets, threads


def scaling(best, nets, threads):
    out = []
    if 1 not in threads or len(threads) < 2:
        return out
    t2 = threads[-1]
    for net in nets:
        for name, key, scale in ROWS:
            cells = [ratio(seconds_of(best, net, 1, fw, key, scale), seconds_of(best, net, t2, fw, key, scale))
                     for fw in ("netc", "torch")]
            if cells != ["-", "-"]:
                out.append((net, name, "1 -> %d" % t2, cells[0], cells[1]))
    return out


def main():
    markdown = "--markdown" in sys.argv[1:]
    args = [a for a in sys.argv[1:] if a != "--markdown"]
    best = load(args[0] if args else ".")
    table, nets, threads = rows(best)
    head = ("net", "threads", "measurement", "netc", "PyTorch", "PyTorch / netc", "same, CPU time")
    shead = ("net", "measurement", "threads", "netc speed-up", "PyTorch speed-up")
    stable = scaling(best, nets, threads)
    if markdown:
        for h, body in ((head, table), (shead, stable)):
            if not body:
                continue
            print("| " + " | ".join(h) + " |")
            print("|" + "|".join("---" for _ in h) + "|")
            for r in body:
                print("| " + " | ".join(r) + " |")
            print()
        return
    print("\nnetc vs PyTorch (best round; median per step or call, wall time per epoch; ratio above 1: netc faster)")
    print("%-12s %-7s %-15s %12s %12s %15s %15s" % head)
    for r in table:
        print("%-12s %-7s %-15s %12s %12s %15s %15s" % r)
    if stable:
        print("\nthread scaling (time at 1 thread / time at %d)" % threads[-1])
        print("%-12s %-15s %-8s %14s %17s" % shead)
        for r in stable:
            print("%-12s %-15s %-8s %14s %17s" % r)
    trips = round_trips(args[0] if args else ".")
    if trips:
        print("cross-core round trip in netc's multi-thread runs: %.0f-%.0f ns (%d runs; how far apart the cores"
              " were, docs/performance.md)" % (min(trips), max(trips), len(trips)))


if __name__ == "__main__":
    main()
