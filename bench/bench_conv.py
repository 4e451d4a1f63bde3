"""Benchmark: the reference's vectorised conv / max-pool layers against naive loops.

    .venv/bin/python bench/bench_conv.py [--repeats 10] [--out bench/results/conv.json]

Shapes are the cs231n handout's fast-layers check (numerics.md §3): conv on x (100, 3, 31, 31),
w (25, 3, 3, 3), stride 2, pad 1; max-pool on x (100, 3, 32, 32) with 2x2 windows, stride 2,
and with overlapping 3x3 windows, stride 2.  The naive versions loop over (n, f, i, j) (conv) or
(n, c, i, j) (pool) with NumPy inside the loop body, as a typical first student solution does.

Each naive function runs once (seconds per call); each reference function runs ``--repeats``
times and its best time is kept.  Results agree to ~1e-11 relative or the script exits 1.
The goal is a speed-up of at least 50x for the conv forward, backward and both together.
Results are printed and written as JSON (default ``bench/results/conv.json``).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.kits.naive_conv import (conv_backward_naive, conv_forward_naive,  # noqa: E402
                                   max_pool_backward_naive, max_pool_forward_naive)

GOAL = 50.0
TOL = 1e-9


def _load_reference_conv_layers():
    """``reference/src/conv_layers.py`` as a stand-alone module (it imports only NumPy)."""
    path = ROOT / "reference" / "src" / "conv_layers.py"
    spec = importlib.util.spec_from_file_location("_bench_reference_conv_layers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- timing helpers
def _time_once(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def _time_best(fn, *args, repeats):
    best, result = float("inf"), None
    for _ in range(repeats):
        seconds, result = _time_once(fn, *args)
        best = min(best, seconds)
    return best, result


def _rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return float("inf")
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def bench_conv(ref, repeats):
    rs = np.random.RandomState(231)
    x = rs.randn(100, 3, 31, 31)
    w = rs.randn(25, 3, 3, 3)
    b = rs.randn(25)
    stride, pad = 2, 1
    t_fwd_naive, out_naive = _time_once(conv_forward_naive, x, w, b, stride, pad)
    t_fwd_ref, out_ref = _time_best(ref.conv_forward, x, w, b, stride, pad, repeats=repeats)
    dout = rs.randn(*out_naive.shape)
    t_bwd_naive, grads_naive = _time_once(conv_backward_naive, dout, x, w, b, stride, pad)
    t_bwd_ref, grads_ref = _time_best(ref.conv_backward, dout, x, w, b, stride, pad,
                                      repeats=repeats)
    errors = {"out": _rel_error(out_ref, out_naive)}
    errors.update({name: _rel_error(r, n) for name, r, n in
                   zip(("dX", "dW", "db"), grads_ref, grads_naive)})
    return {
        "shapes": {"x": list(x.shape), "w": list(w.shape), "stride": stride, "pad": pad},
        "naive_s": {"forward": t_fwd_naive, "backward": t_bwd_naive,
                    "combined": t_fwd_naive + t_bwd_naive},
        "reference_s": {"forward": t_fwd_ref, "backward": t_bwd_ref,
                        "combined": t_fwd_ref + t_bwd_ref},
        "speedup": {"forward": t_fwd_naive / t_fwd_ref, "backward": t_bwd_naive / t_bwd_ref,
                    "combined": (t_fwd_naive + t_bwd_naive) / (t_fwd_ref + t_bwd_ref)},
        "max_rel_error": errors,
    }


def bench_pool(ref, repeats, pool, stride):
    rs = np.random.RandomState(231)
    x = rs.randn(100, 3, 32, 32)
    ph, pw = pool
    t_fwd_naive, out_naive = _time_once(max_pool_forward_naive, x, ph, pw, stride)
    t_fwd_ref, out_ref = _time_best(ref.max_pool_forward, x, ph, pw, stride, repeats=repeats)
    dout = rs.randn(*out_naive.shape)
    t_bwd_naive, dx_naive = _time_once(max_pool_backward_naive, dout, x, ph, pw, stride)
    t_bwd_ref, dx_ref = _time_best(ref.max_pool_backward, dout, x, ph, pw, stride,
                                   repeats=repeats)
    return {
        "shapes": {"x": list(x.shape), "pool": [ph, pw], "stride": stride},
        "naive_s": {"forward": t_fwd_naive, "backward": t_bwd_naive},
        "reference_s": {"forward": t_fwd_ref, "backward": t_bwd_ref},
        "speedup": {"forward": t_fwd_naive / t_fwd_ref, "backward": t_bwd_naive / t_bwd_ref,
                    "combined": (t_fwd_naive + t_bwd_naive) / (t_fwd_ref + t_bwd_ref)},
        "max_rel_error": {"out": _rel_error(out_ref, out_naive),
                          "dX": _rel_error(dx_ref, dx_naive)},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10,
                        help="runs of each reference function (the best is kept)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "conv.json"))
    args = parser.parse_args(argv)

    ref = _load_reference_conv_layers()
    results = {
        "command": "python bench/bench_conv.py" + (f" --repeats {args.repeats}"
                                                   if args.repeats != 10 else ""),
        "machine": {"python": platform.python_version(), "numpy": np.__version__,
                    "cpus": os.cpu_count(), "platform": platform.platform(),
                    "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None},
        "goal_speedup": GOAL,
        "conv": bench_conv(ref, args.repeats),
        "max_pool_2x2_stride2": bench_pool(ref, args.repeats, (2, 2), 2),
        "max_pool_3x3_stride2": bench_pool(ref, args.repeats, (3, 3), 2),
    }

    conv = results["conv"]
    print("conv x(100,3,31,31) w(25,3,3,3) stride 2 pad 1")
    for part in ("forward", "backward", "combined"):
        print(f"  {part:<9} naive {conv['naive_s'][part]:8.3f} s   reference "
              f"{conv['reference_s'][part] * 1e3:8.2f} ms   speed-up {conv['speedup'][part]:7.1f}x")
    print("  max relative error vs naive: "
          + ", ".join(f"{k} {v:.1e}" for k, v in conv["max_rel_error"].items()))
    for key in ("max_pool_2x2_stride2", "max_pool_3x3_stride2"):
        pool = results[key]
        print(f"{key} x(100,3,32,32)")
        for part in ("forward", "backward"):
            print(f"  {part:<9} naive {pool['naive_s'][part]:8.3f} s   reference "
                  f"{pool['reference_s'][part] * 1e3:8.2f} ms   speed-up "
                  f"{pool['speedup'][part]:7.1f}x")
        print("  max relative error vs naive: "
              + ", ".join(f"{k} {v:.1e}" for k, v in pool["max_rel_error"].items()))

    errors = [v for key in ("conv", "max_pool_2x2_stride2", "max_pool_3x3_stride2")
              for v in results[key]["max_rel_error"].values()]
    agree = all(e <= TOL for e in errors)
    fast = all(conv["speedup"][p] >= GOAL for p in ("forward", "backward", "combined"))
    results["agree"] = agree
    results["meets_goal"] = fast
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"results written to {out}")
    print(f"agreement (max rel error <= {TOL:g}): {'yes' if agree else 'NO'}; "
          f"conv speed-up goal {GOAL:g}x: {'met' if fast else 'NOT met'}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
