"""Which zygote the tests fork from: the kit's split against one torch zygote and against none.

    .venv/bin/python bench/bench_zygotes.py [--pairs N] [--subject reference|student_template]

Three ways to run the same grading (fixed case seed, saved models off), alternated in ABBA
order so a change in the machine's load hits every mode alike:

* ``split`` (what the kit does): NumPy questions fork from a NumPy-only zygote, the questions
  whose code imports torch from a zygote that imported torch once;
* ``single``: every test forks from one zygote that imported torch;
* ``none``: no preload; each torch test's child imports torch itself.

Also ``fork_ms``: one fork-and-exit of a process that has imported torch against one that has
only NumPy (median of 60), the cost that rules out ``single``.

Writes ``bench/results/zygotes.json``: each run's wall seconds, score and per-question seconds,
the median per mode and the ratios ``single/split`` and ``none/split``.  A mode that loses
points (a test that ran past its limit under load) is visible in the scores.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_FORK = r'''
import os, sys, time
if sys.argv[1] == "torch":
    import torch
import numpy
def one():
    t = time.perf_counter(); pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return time.perf_counter() - t
ts = sorted(one() for _ in range(60))
print(ts[30] * 1e3)
'''


def fork_ms(kind: str) -> float:
    out = subprocess.run([sys.executable, "-c", _FORK, kind], capture_output=True, text=True,
                         check=True).stdout
    return float(out.split()[-1])


def grade_once(subject: Path, mode: str) -> dict:
    from autograder import config
    from autograder.grading import grade as grading
    assignment = config.load()
    real = grading.preload_by_question
    modes = {"split": real,
             "single": lambda a, root: {q: ["torch"] for q in a.ids},
             "none": lambda a, root: {q: [] for q in a.ids}}
    grading.preload_by_question = modes[mode]
    try:
        t0 = time.monotonic()
        result = grading.grade(subject, assignment=assignment, fixed_seed=True, models=False)
        seconds = time.monotonic() - t0
    finally:
        grading.preload_by_question = real
    per_q = result.doc["extra_data"]["timings"]["questions"]
    return {"mode": mode, "seconds": round(seconds, 2), "score": result.score,
            "questions": {q: round(v["wall"], 2) for q, v in per_q.items()}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=2, help="ABBA rounds (each runs every mode twice)")
    ap.add_argument("--subject", default="reference", help="submission folder under the kit")
    args = ap.parse_args()
    forks = {kind: [] for kind in ("numpy", "torch")}
    for kind in ("numpy", "torch", "torch", "numpy"):
        forks[kind].append(fork_ms(kind))
    order = ["split", "single", "none"]
    runs = []
    for _ in range(args.pairs):
        for mode in order + order[::-1]:
            runs.append(grade_once(ROOT / args.subject, mode))
            print(json.dumps(runs[-1]), flush=True)
    med = {m: statistics.median(r["seconds"] for r in runs if r["mode"] == m) for m in order}
    result = {
        "machine": {"cpus": os.cpu_count(), "load_1min": os.getloadavg()[0]},
        "subject": args.subject,
        "fork_ms": {k: [round(v, 2) for v in vs] for k, vs in forks.items()},
        "median_seconds": med,
        "ratio_single_over_split": round(med["single"] / med["split"], 3),
        "ratio_none_over_split": round(med["none"] / med["split"], 3),
        "runs": runs,
    }
    out = ROOT / "bench" / "results" / "zygotes.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
