"""Synthetic batch folders for the class report's tests and benchmark: records in the shape
``batch`` writes (``records/<id>.json``: status, wall time, Gradescope's results document),
built from a few parameters instead of real gradings."""
from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

QUESTIONS = {"Q1": ("Linear and ReLU layers", 5.0), "Q2": ("Dropout", 5.0),
             "Q3": ("Softmax classifier", 5.0)}


def graded_test(q: str, kind: str, k: int, n: int, passed: bool, message: str = "", *,
               max_score: float = 1.0, extra: dict[str, Any] | None = None,
               name: str = "") -> dict[str, Any]:
    """One test of ``results.json`` as the grader names and words it."""
    title = QUESTIONS.get(q, (q, 0.0))[0]
    if kind == "public":
        full = f"{q} {title} · public · {name or f'test_{k}'}"
        out = f"Public test {name or f'test_{k}'}: {'passed' if passed else 'failed'}."
        if not passed and message:
            out += "\n" + message
    elif kind == "model":
        full = f"{q} {title} · saved model"
        out = message
    else:
        full = f"{q} {title} · hidden test {k} of {n}"
        out = (f"Hidden test {k} of {n} for this question: {'passed' if passed else 'failed'}.\n"
               f"What it checks: check number {k}.")
        if not passed and message:
            out += "\nHint: " + message
    t = {"name": full, "number": f"{q[1:]}.{k}", "score": max_score if passed else 0.0,
         "max_score": max_score, "status": "passed" if passed else "failed",
         "visibility": "visible", "output": out}
    if extra is not None:
        t["extra_data"] = extra
    return t


def record(sid: str, tests: list[dict[str, Any]], status: str = "ok", *, reason: str = "",
           wall_s: float = 12.0, **more: Any) -> dict[str, Any]:
    score = sum(t["score"] for t in tests)
    return {"id": sid, "submitters": [{"name": f"Student {sid}", "email": f"{sid}@example.edu"}],
            "status": status, "reason": reason, "exit_code": 0, "timed_out": status == "timeout",
            "wall_s": wall_s, "results": {"score": score, "tests": tests, "output": f"Score: {score}"},
            **more}


def write_batch(folder: Path, records: list[dict[str, Any]], logs: bool = True) -> Path:
    """``folder/records/<id>.json`` (+ ``logs/<id>.log``) for ``records``; returns ``folder``."""
    (folder / "records").mkdir(parents=True, exist_ok=True)
    for rec in records:
        (folder / "records" / f"{rec['id']}.json").write_text(json.dumps(rec))
        if logs:
            (folder / "logs").mkdir(exist_ok=True)
            (folder / "logs" / f"{rec['id']}.log").write_text(f"log of {rec['id']}\n")
    return folder


def synthetic_class(n: int, seed: int = 0, *, timings: bool = True,
                    device: str | None = "cuda:0") -> list[dict[str, Any]]:
    """``n`` records over Q1-Q3 (4 public + 8 hidden tests each, a saved model on Q3) with
    failures drawn from a few message families, a few timeouts/crashes/rejections, per-test
    timings (``extra_data.seconds``) and a scoring device when asked."""
    rng = random.Random(seed)
    families = ["relative error {:.1e} at index ({}, {})", "expected shape ({}, 10), got ({}, 10)",
                "gradient wrong in /tmp/job{}/src/layers.py line {}", "returned None"]
    out = []
    for i in range(n):
        sid = f"s{i:04d}"
        roll = rng.random()
        if roll < 0.03:
            out.append(record(sid, [{"name": "Autograder failed", "score": 0.0, "max_score": 0.0,
                                     "status": "failed", "output": "Grading did not finish (timeout)"}],
                              "timeout", reason="wall-clock limit 600 s", wall_s=600.0))
            continue
        if roll < 0.05:
            out.append(record(sid, [{"name": "Submission could not be accepted", "score": 0.0,
                                     "max_score": 0.0, "status": "failed", "output": "no src/ folder"}],
                              "rejected", reason="no src/ folder", wall_s=1.0))
            continue
        skill = rng.random()
        tests = []
        for q in ("Q1", "Q2", "Q3"):
            for kind, count in (("public", 4), ("hidden", 8)):
                for k in range(1, count + 1):
                    ok = rng.random() < 0.35 + 0.6 * skill
                    msg = "" if ok else rng.choice(families).format(
                        rng.random(), rng.randint(0, 9), rng.randint(0, 9))
                    extra = ({"nodeid": f"{q}::{kind}{k}", "question": q, "kind": kind,
                              "seconds": {"wall": round(rng.uniform(0.05, 2.0), 3)}} if timings else None)
                    tests.append(graded_test(q, kind, k, count, ok, msg, max_score=5.0 / 12, extra=extra))
        acc = round(0.5 + 0.45 * skill, 4)
        mextra = {"device": device} if device else None
        tests.append(graded_test("Q3", "model", 13, 13, acc > 0.8, f"accuracy {acc}", max_score=2.0,
                                extra=mextra))
        cm = [[rng.randint(0, 50) for _ in range(10)] for _ in range(10)]
        models = [{"question": "Q3", "ok": True, "fraction": 1.0,
                   "metrics": {"accuracy": acc, "per_class_f1": [round(rng.random(), 3) for _ in range(10)],
                               "confusion": cm}}]
        rec = record(sid, tests, wall_s=round(rng.uniform(20, 200), 1), models=models)
        rec["results"]["leaderboard"] = [{"name": "model accuracy", "value": acc, "order": "desc"}]
        out.append(rec)
    return out
