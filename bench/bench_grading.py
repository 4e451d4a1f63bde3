"""Grading speed: the sandbox's cost, the worker's start, one submission, the whole assignment.

    .venv/bin/python bench/bench_grading.py [--repeat N] [--pairs N] [--only a b c d e] [--cycles N]

Four figures, all on the reference solution (full marks: every check runs to its end), all
measured in this one run so their ratios hold on any machine:

(a) ``hidden_suite_ratio``: seed 000's hidden tests (Q1-Q5) graded through the sandboxed
    worker (``grade(..., public=False)``, models off) vs the same test files run in-process
    (``pytest`` with the ``student`` fixture importing the code into the test process), both
    with the fixed case seed so they draw the same cases, both timed inside a fresh process
    around the test run only.  Goal <= 1.5x.
(b) ``worker_start_s``: a NumPy-only worker (zygote imports NumPy, never torch) from spawn to
    ready, median of ``--repeat`` starts.  Goal <= 0.5 s.
(c) ``vs_otter``: the kit against otter-grader 7.0.0 in this same run, on comparable checks of
    seed 000's layers and softmax (``linear/relu_forward/backward``, ``dropout_forward/backward``,
    ``softmax``).  otter side: ``bench/otter_tests/`` (30 exception-based checks, 1 point each:
    the kit's 16 public Q1-Q3 checks with their inputs and expected values, and 14 ports of its
    hidden Q1-Q3 checks), ``otter generate`` -> ``autograder.zip``, then
    ``otter run -a autograder.zip submission.py`` on the reference's layers.py + classifiers.py
    as one script, in a bench-only virtualenv (``bench/otter_peer.py``).  Kit side: one
    ``python -m autograder --assignment A grade --fixed-seed --out results.json SUB`` with
    ``include = ["Q1", "Q2", "Q3"]`` (public + hidden: 52 checks now, counted in each run; through the sandbox).  Both
    sides are whole processes timed from spawn to exit, run ALTERNATELY (kit-otter, then
    otter-kit, ... : ABBA) for ``--pairs`` pairs after two untimed warm-ups each.  The kit's
    grade runs 52 checks, not 30, so the figure is NORMALISED per 30 checks
    (``kit_s * 30 / checks``), as this figure always was; the un-normalised ratio (kit's 52 checks
    against otter's 30, which charges the kit for 22 more checks) is reported beside it.
    Wall time only (see ``otter_peer.timed_run`` for why not CPU seconds): on a loaded
    machine the per-pair ratios spread, and the ratio of medians is the figure.
    Before timing, otter must score 30/30 on the reference and fewer on a broken copy
    (``relu_forward`` returns ``abs(X)``, ``softmax`` without the max shift), and the kit
    likewise (full marks on the reference, fewer on the same broken copy); these four runs are
    also the warm-ups.  If a control fails, the bench fails.  Goal: ratio of medians <= 0.3.  If otter
    cannot be installed (no network), (c) records the reason and the other figures still run.
    Only this figure, merged into an existing ``grading.json``::

        .venv/bin/python bench/bench_grading.py --only c [--pairs N]     (make bench-otter)

    The first run creates ``bench/.otter-venv`` (pip from PyPI, a few minutes); later runs
    reuse it.  (Until this figure ran otter in the same run, it divided the kit's in-process
    grading time of Q1-Q5 by otter's 3.37 s taken on another day.)
(e) ``per_test_floor_ms``: the smallest test through the sandbox (a session forked from a NumPy
    worker of the reference, one ``relu_forward`` call on a 4x5 array, the session closed, as
    the grader's LazySession does it), median over ``--cycles`` tests after 10 warm-ups.
    Goal <= 5 ms.  Two figures: ``median`` runs the tests back to back, so the work the
    sandbox does beside a test (forking the next child, ending the last one) comes due at once;
    ``in_grading`` gives each test ``--gap-ms`` of the grader's own work first (4 ms: the
    trusted side and pytest's bookkeeping of an average test of the template's grading,
    measured with ``grade --profile``), busy-waited, and subtracts it: what a test adds to a
    grading's wall time.  Both are of one run, tests alternating between the two.
(d) ``whole_assignment_s``: the whole assignment (Q1-Q14, public + hidden, both saved models
    scored on the private split) for one submission.  Goal <= 25 s on 2 cores.

Writes ``bench/results/grading.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

SEED000 = ["Q1", "Q2", "Q3", "Q4", "Q5"]
OTTER_QUESTIONS = ["Q1", "Q2", "Q3"]   # the kit's questions whose checks bench/otter_tests ports

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


def _per_test_floor(cycles: int, gap_s: float) -> tuple[list[float], list[float]]:
    """Seconds of the smallest test through the sandbox, as the grader runs one: a session on
    a NumPy worker of the reference (a fresh child), one call of ``relu_forward`` on a 4x5
    array with its reply, the session closed (the child ended, strays swept), through
    :class:`~autograder.grading.backend.LazySession` like every graded test.  The worker's
    start is not counted.  Returns (back to back, with ``gap_s`` of the grader's own work
    before each test, subtracted); the two kinds alternate, test by test."""
    import numpy as np

    from autograder.config import Limits
    from autograder.grading.backend import LazySession
    from autograder.grading.budget import TimeBudget
    from autograder.sandbox.client import Worker
    from autograder.sandbox.remote import RemoteStudent
    from autograder import config
    limits = Limits.merged({})
    budget = TimeBudget(config.load())
    w = Worker(ROOT / "reference", limits=limits, hide=[ROOT / "hidden_tests"])
    w.start()
    x = np.ones((4, 5))
    back_to_back: list[float] = []
    with_gap: list[float] = []
    reports = []
    try:
        for i in range(2 * cycles + 10):            # the first 10: warm-up, not counted
            gap = gap_s if i % 2 else 0.0
            t0 = time.perf_counter()
            while time.perf_counter() - t0 < gap:      # the grader's own work between tests
                pass
            lazy = LazySession(w, limits, f"floor-{i}", budget.allowance("Q1", limits.test_timeout_s), "")
            RemoteStudent(lazy).layers.relu_forward(x)  # type: ignore[arg-type]
            reports.append(lazy.close())
            if i >= 10:
                (with_gap if gap else back_to_back).append(time.perf_counter() - t0 - gap)
    finally:
        w.close()
    for report in reports:                          # the output, collected as results are
        report.output
    return back_to_back, with_gap


def _kit_grade(toml: Path, submission: Path, out: Path) -> dict:
    """One ``python -m autograder grade`` as a whole process: wall seconds, checks, passed."""
    from otter_peer import timed_run
    out.unlink(missing_ok=True)
    proc, seconds = timed_run([sys.executable, "-m", "autograder", "--assignment", str(toml),
                                    "grade", "--fixed-seed", "--out", str(out), str(submission)],
                                   cwd=ROOT, timeout=1800)
    if not out.exists():
        raise RuntimeError(f"kit grade failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-2000:]}")
    tests = json.loads(out.read_text())["tests"]
    return {"seconds": seconds, "checks": len(tests),
            "passed": sum(1 for t in tests if t.get("score") == t.get("max_score"))}


def _spread(values: list[float]) -> dict:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3),
            "max": round(max(values), 3), "all": [round(v, 3) for v in values]}


def figure_c(pairs: int, log=print) -> dict:
    """The kit vs otter-grader, alternated in this run (see (c) in the module docstring)."""
    import otter_peer
    otter, how = otter_peer.ensure_otter(log)
    if otter is None:
        log(f"otter-grader unavailable, (c) skipped: {how}")
        return {"status": "skipped: otter-grader could not be installed", "reason": how,
                "goal": "<= 0.3 (ratio of medians, per 30 checks)"}
    with tempfile.TemporaryDirectory(prefix="bench-otter-") as tmp:
        tmp = Path(tmp)
        autograder = otter_peer.build_autograder(otter, tmp / "otter")
        good = otter_peer.write_submission(tmp / "good" / "submission.py")
        bad = otter_peer.write_submission(tmp / "bad" / "submission.py", broken=True)
        toml = tmp / "kit.toml"
        base = (ROOT / "assignment.toml").read_text()
        toml.write_text(base.replace("[assignment]", "[assignment]\ninclude = "
                                     + json.dumps(OTTER_QUESTIONS), 1))
        kit_sub = tmp / "kit-sub"
        shutil.copytree(ROOT / "reference" / "src", kit_sub / "src",
                        ignore=shutil.ignore_patterns("__pycache__"))
        kit_bad = tmp / "kit-bad"
        shutil.copytree(kit_sub, kit_bad)
        for name, good_text, bad_text in otter_peer.BROKEN:
            f = kit_bad / "src" / name
            f.write_text(f.read_text().replace(good_text, bad_text))

        # controls, which are also the untimed warm-ups: otter and the kit really grade
        o_ref = otter_peer.run_otter(otter, autograder, good, tmp / "o-out")
        o_bad = otter_peer.run_otter(otter, autograder, bad, tmp / "o-out")
        k_ref = _kit_grade(toml, kit_sub, tmp / "k.json")
        k_bad = _kit_grade(toml, kit_bad, tmp / "k.json")
        log(f"controls: otter {o_ref['passed']}/{o_ref['possible']} on the reference, "
            f"{o_bad['passed']}/{o_bad['possible']} on the broken copy; kit "
            f"{k_ref['passed']}/{k_ref['checks']} and {k_bad['passed']}/{k_bad['checks']}")
        if not (o_ref["possible"] == otter_peer.OTTER_CHECKS == o_ref["passed"]
                and o_bad["passed"] < o_bad["possible"]
                and k_ref["passed"] == k_ref["checks"] > 0 and k_bad["passed"] < k_bad["checks"]):
            raise RuntimeError(f"a control failed: otter {o_ref} / {o_bad}; kit {k_ref} / {k_bad}")

        kit, peer = [], []
        load_before = os.getloadavg()[0]
        for i in range(pairs):           # ABBA: even pairs kit first, odd pairs otter first
            for side in (("kit", "otter") if i % 2 == 0 else ("otter", "kit")):
                if side == "kit":
                    r = _kit_grade(toml, kit_sub, tmp / "k.json")
                    assert r["passed"] == r["checks"] == k_ref["checks"], r
                    kit.append(r["seconds"])
                else:
                    r = otter_peer.run_otter(otter, autograder, good, tmp / "o-out")
                    assert r["passed"] == otter_peer.OTTER_CHECKS, r
                    peer.append(r["seconds"])
            log(f"pair {i + 1}/{pairs}: kit {kit[-1]:.2f} s ({k_ref['checks']} checks), "
                f"otter {peer[-1]:.2f} s (30 checks), load {os.getloadavg()[0]:.1f}")

    per30 = [k * otter_peer.OTTER_CHECKS / k_ref["checks"] for k in kit]
    med = statistics.median
    return {
        "otter": {"version": otter_peer.otter_version(otter), "venv": how,
                  "checks": otter_peer.OTTER_CHECKS, "seconds": _spread(peer),
                  "control": {"reference": f"{o_ref['passed']}/{o_ref['possible']}",
                              "broken_copy": f"{o_bad['passed']}/{o_bad['possible']}"}},
        "kit": {"questions": OTTER_QUESTIONS, "checks": k_ref["checks"], "seconds": _spread(kit),
                "seconds_per_30_checks": _spread(per30),
                "control": {"reference": f"{k_ref['passed']}/{k_ref['checks']}",
                            "broken_copy": f"{k_bad['passed']}/{k_bad['checks']}"}},
        "pairs": pairs, "order": "ABBA (kit first in odd-numbered pairs)",
        "ratio_of_medians_per_30_checks": round(med(per30) / med(peer), 3),
        "pair_ratios_per_30_checks": [round(k / o, 3) for k, o in zip(per30, peer)],
        "ratio_of_medians_unnormalised": round(med(kit) / med(peer), 3),
        "load_1min_before": round(load_before, 2), "load_1min_after": round(os.getloadavg()[0], 2),
        "goal": "<= 0.3 (ratio of medians, per 30 checks)",
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="repetitions of each timing (median)")
    ap.add_argument("--pairs", type=int, default=5, help="alternated kit/otter pairs of (c) (>= 5)")
    ap.add_argument("--cycles", type=int, default=200, help="tests timed for each figure of (e)")
    ap.add_argument("--gap-ms", type=float, default=4.0,
                    help="the grader's own work before each test of (e)'s in_grading figure")
    ap.add_argument("--only", nargs="+", choices=["a", "b", "c", "d", "e"], default=["a", "b", "c", "d", "e"],
                    help="figures to run; the others keep their values in grading.json")
    args = ap.parse_args()
    if args.pairs < 5:
        ap.error("--pairs must be at least 5")
    med = statistics.median
    out = ROOT / "bench" / "results" / "grading.json"
    result = json.loads(out.read_text()) if out.exists() and set(args.only) != set("abcde") else {}
    result.pop("c_seed000_submission", None)      # the old (c), against a number of another day
    result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                         "load_1min": os.getloadavg()[0], "figures_of_this_run": args.only}

    if "a" in args.only:
        inproc = [_child("inproc", SEED000) for _ in range(args.repeat)]
        worker = [_child("worker-hidden", SEED000) for _ in range(args.repeat)]
        assert all(r["exit"] == 0 for r in inproc), inproc
        ratio = med(r["seconds"] for r in worker) / med(r["seconds"] for r in inproc)
        result["a_hidden_suite"] = {
            "questions": SEED000, "in_process_s": round(med(r["seconds"] for r in inproc), 3),
            "worker_s": round(med(r["seconds"] for r in worker), 3),
            "ratio": round(ratio, 3), "goal": "<= 1.5"}
    if "b" in args.only:
        starts = _worker_start(max(5, args.repeat))
        result["b_worker_start_s"] = {"median": round(med(starts), 3),
                                      "all": [round(t, 3) for t in starts], "goal": "<= 0.15"}
    if "c" in args.only:
        result["c_vs_otter"] = figure_c(args.pairs, log=lambda m: print(m, flush=True))
    if "e" in args.only:
        floor, in_grading = (sorted(v) for v in _per_test_floor(args.cycles, args.gap_ms / 1e3))
        result["e_per_test_floor_ms"] = {
            "median": round(med(floor) * 1e3, 2), "p10": round(floor[len(floor) // 10] * 1e3, 2),
            "p90": round(floor[len(floor) * 9 // 10] * 1e3, 2), "cycles": len(floor),
            "in_grading": {"median": round(med(in_grading) * 1e3, 2),
                           "p10": round(in_grading[len(in_grading) // 10] * 1e3, 2),
                           "p90": round(in_grading[len(in_grading) * 9 // 10] * 1e3, 2),
                           "gap_ms": args.gap_ms},
            "goal": "<= 5"}
    if "d" in args.only:
        whole = _child("grade-models", ["all"])
        result["d_whole_assignment"] = {"seconds": round(whole["seconds"], 3),
                                        "checks": whole["tests"], "score": whole["score"],
                                        "goal": "<= 25"}
    result = {k: result[k] for k in sorted(result, key=lambda k: (k != "machine", k))}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
