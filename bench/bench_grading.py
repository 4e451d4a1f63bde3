"""Grading speed: the sandbox's cost, the worker's start, one submission, the whole assignment.

    .venv/bin/python bench/bench_grading.py [--repeat N]

Four figures, all on the reference solution (full marks: every check runs to its end), all
measured in this one run so their ratios hold on any machine:

(a) ``hidden_suite_ratio``: seed 000's hidden tests (Q1-Q5) graded through the sandboxed
    worker (``grade(..., public=False)``, models off) vs the same test files run in-process
    (``pytest`` with the ``student`` fixture importing the code into the test process), both
    with the fixed case seed so they draw the same cases, both timed inside a fresh process
    around the test run only.  Goal <= 1.5x.
(b) ``worker_start_s``: a NumPy-only worker (zygote imports NumPy, never torch) from spawn to
    ready, median of ``--repeat`` starts.  Goal <= 0.5 s.
(c) ``seed000_submission_s``: one whole grading of the seed-000 code questions (Q1-Q5 public
    and hidden tests, intake, worker start, results; saved-model scoring reported apart), vs
    otter-grader's 3.37 s median for 30 comparable checks on this machine (peers.md).  Goal
    <= 1.1 s per 30 checks (the figure is normalised by the number of checks run).
(d) ``whole_assignment_s``: the whole assignment (Q1-Q14, public + hidden, both saved models
    scored on the private split) for one submission.  Goal <= 60 s on 2 cores.

Writes ``bench/results/grading.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED000 = ["Q1", "Q2", "Q3", "Q4", "Q5"]
OTTER_MEDIAN_S = 3.37          # peers.md: otter-grader, 30 comparable checks, this machine
OTTER_CHECKS = 30

_CHILD = r'''
import json, os, sys, time, tempfile
from pathlib import Path
sys.path.insert(0, {root!r})
mode, questions = sys.argv[1], sys.argv[2].split(",")
from autograder import config, paths, refmodels
from autograder.grading import grade as grading
kit = paths.kit_root()
toml = Path(tempfile.mkdtemp()) / "a.toml"
base = (kit / "assignment.toml").read_text()
toml.write_text(base.replace("[assignment]", "[assignment]\ninclude = " + json.dumps(questions), 1)
               if questions != ["all"] else base)
assignment = config.load(toml)
sub = Path(tempfile.mkdtemp()) / "submission"
import shutil
shutil.copytree(paths.reference_dir(kit) / "src", sub / "src",
                ignore=shutil.ignore_patterns("__pycache__"))
if mode in ("grade-models",):
    refmodels.add_reference_models(sub, assignment.dataset, kit)
if mode == "inproc":
    import pytest
    files = [str(p) for p in sorted((kit / "hidden_tests").glob("test_q*.py"))
             if any(p.name.startswith(f"test_q{{q[1:]}}_") for q in questions)]
    os.environ["DLKIT_SUBMISSION"] = str(sub)
    ini = Path(tempfile.mkdtemp()) / "p.ini"; ini.write_text("[pytest]\n")
    t0 = time.perf_counter()
    code = pytest.main([*files, "-c", str(ini), "--rootdir", str(kit), "-p", "autograder.pytest_plugin",
                        "-p", "no:cacheprovider", "--import-mode=importlib", "-q", "--tb=no",
                        "-W", "ignore::DeprecationWarning", "-W", "ignore::RuntimeWarning"])
    seconds = time.perf_counter() - t0
    print("BENCH", json.dumps({{"seconds": seconds, "exit": int(code)}}))
else:
    t0 = time.perf_counter()
    result = grading.grade(sub, assignment=assignment, public=(mode != "worker-hidden"),
                           hidden=True, models=(mode == "grade-models"), fixed_seed=True)
    seconds = time.perf_counter() - t0
    tests = result.doc["tests"]
    print("BENCH", json.dumps({{"seconds": seconds, "score": result.doc["score"],
                               "tests": len(tests),
                               "max": sum(t.get("max_score", 0) for t in tests)}}))
'''


def _child(mode: str, questions: list[str]) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHILD.format(root=str(ROOT)), mode, ",".join(questions)],
                          capture_output=True, text=True, cwd=ROOT, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH "):
            return json.loads(line[6:])
    raise RuntimeError(f"{mode} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


def _worker_start(repeat: int) -> list[float]:
    from autograder.config import Limits
    from autograder.sandbox.client import Worker
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        sub = Path(tmp) / "sub"
        (sub / "src").mkdir(parents=True)
        (sub / "src" / "__init__.py").write_text("")
        for _ in range(repeat):
            w = Worker(sub, limits=Limits.merged({}), hide=[ROOT])
            t0 = time.perf_counter()
            w.start()
            times.append(time.perf_counter() - t0)
            w.close()
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="repetitions of each timing (median)")
    args = ap.parse_args()
    med = statistics.median

    inproc = [_child("inproc", SEED000) for _ in range(args.repeat)]
    worker = [_child("worker-hidden", SEED000) for _ in range(args.repeat)]
    assert all(r["exit"] == 0 for r in inproc), inproc
    ratio = med(r["seconds"] for r in worker) / med(r["seconds"] for r in inproc)

    starts = _worker_start(max(5, args.repeat))

    seed000 = [_child("grade", SEED000) for _ in range(args.repeat)]
    s000 = med(r["seconds"] for r in seed000)
    checks = seed000[0]["tests"]
    per30 = s000 * OTTER_CHECKS / checks
    seed000_models = _child("grade-models", SEED000)

    whole = _child("grade-models", ["all"])
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_1min": os.getloadavg()[0]},
        "a_hidden_suite": {"questions": SEED000, "in_process_s": round(med(r["seconds"] for r in inproc), 3),
                           "worker_s": round(med(r["seconds"] for r in worker), 3),
                           "ratio": round(ratio, 3), "goal": "<= 1.5"},
        "b_worker_start_s": {"median": round(med(starts), 3), "all": [round(t, 3) for t in starts],
                             "goal": "<= 0.5"},
        "c_seed000_submission": {"seconds": round(s000, 3), "checks": checks,
                                 "seconds_per_30_checks": round(per30, 3),
                                 "otter_median_30_checks_s": OTTER_MEDIAN_S,
                                 "with_model_scoring_s": round(seed000_models["seconds"], 3),
                                 "score": seed000[0]["score"], "max": seed000[0]["max"],
                                 "goal": "<= 1.1 s per 30 checks"},
        "d_whole_assignment": {"seconds": round(whole["seconds"], 3), "checks": whole["tests"],
                               "score": whole["score"], "goal": "<= 60"},
    }
    out = ROOT / "bench" / "results" / "grading.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
