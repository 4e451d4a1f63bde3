"""Where a grading run's time went: per test, per question, per submission.

Every test's wall time is split (:meth:`Outcome.timings`) into ``student`` (the worker's own
work on the test's requests), ``transport``, ``startup`` (forking and ending the test's child)
and ``trusted`` (this side: reference values, comparisons, fixtures).  A run's wall time is
split into phases: ``intake`` (staging the submission), ``worker start`` (the sandboxed
zygote), ``tests`` (the pytest run: the tests' own walls plus pytest's collection and hooks,
reported as ``pytest overhead``), ``models`` (the saved-model stage), ``worker stop`` and
``results`` (building the document).  What none of them covers is reported, not hidden.

These figures go into ``results.json`` (each test's ``extra_data.seconds``, the document's
``extra_data.timings``), ``report.json``, the batch gradebook (seconds per question) and the
terminal (``grade --profile``); ``check-config --timings`` compares them with the limits (:func:`limit_advice`).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from .collector import Outcome

PARTS = ("student", "transport", "startup", "trusted")


def question_totals(outcomes: Iterable[Outcome]) -> dict[str, dict[str, float]]:
    """question id -> summed ``wall`` and parts of its tests, and ``tests`` (how many)."""
    totals: dict[str, dict[str, float]] = {}
    for o in outcomes:
        acc = totals.setdefault(o.question, {"tests": 0, "wall": 0.0, **{p: 0.0 for p in PARTS}})
        acc["tests"] += 1
        for key, value in o.timings().items():
            acc[key] += value
    return {q: {k: (round(v, 4) if k != "tests" else int(v)) for k, v in acc.items()}
            for q, acc in totals.items()}


def run_timings(phases: dict[str, float], outcomes: list[Outcome], total: float) -> dict[str, Any]:
    """The document's ``extra_data.timings``: total seconds, phases, per-question totals."""
    phases = dict(phases)
    tests_wall = sum(o.duration for o in outcomes if o.kind != "model")
    if "tests" in phases:
        phases["pytest overhead"] = max(phases["tests"] - tests_wall, 0.0)
    return {"total": round(total, 4),
            "phases": {k: round(v, 4) for k, v in phases.items()},
            "questions": question_totals(outcomes)}


def profile_table(outcomes: list[Outcome], timings: dict[str, Any], top: int = 15) -> str:
    """The ``grade --profile`` table: the ``top`` slowest tests with where their time went,
    the rest summed in one row, then the run's phases outside the tests; the rows add up to
    the run's total wall time (the last line says by how much they miss it)."""
    rows = sorted(outcomes, key=lambda o: -o.duration)
    head = f"{'seconds':>8} {'student':>8} {'transp.':>8} {'startup':>8} {'trusted':>8}  test"
    lines = [head, "-" * (len(head) + 40)]

    def fmt(t: dict[str, float], label: str) -> str:
        return (f"{t['wall']:8.3f} {t['student']:8.3f} {t['transport']:8.3f} "
                f"{t['startup']:8.3f} {t['trusted']:8.3f}  {label}")

    shown = 0.0
    for o in rows[:top]:
        t = o.timings()
        shown += t["wall"]
        lines.append(fmt(t, f"{o.question} {o.kind} {o.name}"))
    rest = rows[top:]
    if rest:
        acc = {"wall": 0.0, **{p: 0.0 for p in PARTS}}
        for o in rest:
            for key, value in o.timings().items():
                acc[key] += value
        shown += acc["wall"]
        lines.append(fmt(acc, f"the other {len(rest)} tests"))
    phases = timings.get("phases", {})
    for name in ("intake", "worker start", "pytest overhead", "worker stop", "results"):
        if name in phases:
            shown += phases[name]
            lines.append(f"{phases[name]:8.3f} {'':>8} {'':>8} {'':>8} {'':>8}  ({name})")
    if "models" in phases:
        model_wall = sum(o.duration for o in outcomes if o.kind == "model")
        extra = max(phases["models"] - model_wall, 0.0)
        shown += extra
        lines.append(f"{extra:8.3f} {'':>8} {'':>8} {'':>8} {'':>8}  (models: loading the data)")
    total = float(timings.get("total", 0.0))
    lines.append("-" * (len(head) + 40))
    miss = (total - shown) / total if total > 0 else 0.0
    lines.append(f"{shown:8.3f} of {total:.3f} s of wall time accounted for ({miss:+.1%} not)")
    lines.append("")
    lines.append("per question (seconds): " + ", ".join(
        f"{q} {t['wall']:.2f}" for q, t in timings.get("questions", {}).items()))
    return "\n".join(lines)


def load_gradings(path: Path) -> list[dict[str, tuple[str, float]]]:
    """Measured test times from a ``report.json`` or ``results.json``, or every such file and
    batch record (``records/*.json``) under a folder: one dict per grading, test id ->
    (question id, wall seconds).  Files without timings are skipped; none at all is a
    ``ValueError`` naming what was looked for."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"{path} does not exist")
    if path.is_dir():
        files = sorted({*path.glob("records/*.json"), *path.glob("**/report.json"),
                        *path.glob("**/results.json")})
    else:
        files = [path]
    gradings = []
    for file in files:
        try:
            doc = json.loads(file.read_text())
        except (OSError, ValueError):
            continue
        found = {name: (qid, wall) for name, qid, wall in _tests_with_times(doc)}
        if found:
            gradings.append(found)
    if not gradings:
        raise ValueError(f"no test timings in {path} (a report.json or results.json written by "
                         f"this kit's grade, or a batch folder's records/)")
    return gradings


def _tests_with_times(doc: Any) -> list[tuple[str, str, float]]:
    """(test id, question, wall seconds) of the tests of a report, results or batch record."""
    if not isinstance(doc, dict):
        return []
    if isinstance(doc.get("results"), dict):          # a batch record
        doc = doc["results"]
    out = []
    for test in doc.get("tests", []) or []:
        if not isinstance(test, dict):
            continue
        extra = test.get("extra_data") if isinstance(test.get("extra_data"), dict) else test
        seconds = extra.get("seconds")
        wall = seconds.get("wall") if isinstance(seconds, dict) else None
        name = extra.get("nodeid") or test.get("name")
        if isinstance(wall, (int, float)) and not isinstance(wall, bool) and isinstance(name, str):
            out.append((name, str(extra.get("question", "")), float(wall)))
    return out


#: a test whose worst measured time uses more than this share of its limit is flagged
TIGHT = 0.5


def limit_advice(assignment: Any, path: Path) -> str:
    """Each test's worst measured time against its limit, and each question's worst total
    against its budget, from the timings under ``path`` (see :func:`load_gradings`)."""
    gradings = load_gradings(path)
    worst: dict[str, tuple[str, float]] = {}
    q_worst: dict[str, float] = {}
    for grading in gradings:
        per_q: dict[str, float] = {}
        for name, (qid, wall) in grading.items():
            if name not in worst or wall > worst[name][1]:
                worst[name] = (qid, wall)
            per_q[qid] = per_q.get(qid, 0.0) + wall
        for qid, total in per_q.items():
            q_worst[qid] = max(q_worst.get(qid, 0.0), total)
    known = set(assignment.ids)
    lines = [f"Measured times from {len(gradings)} grading(s) under {path}:",
             f"{'worst s':>8} {'limit s':>8} {'used':>6} {'margin s':>9}  test"]
    flagged = 0
    for name, (qid, wall) in sorted(worst.items(), key=lambda kv: -kv[1][1]):
        if qid not in known:
            continue
        if name.endswith("::saved-model"):
            lines.append(f"{wall:8.2f} {'':>8} {'':>6} {'':>9}  {name} (the [model] table's limits)")
            continue
        limit = float(assignment.question(qid).limits.test_timeout_s)
        used = wall / limit if limit > 0 else float("inf")
        flag = "  <- over half its limit" if used > TIGHT else ""
        flagged += used > TIGHT
        lines.append(f"{wall:8.2f} {limit:8g} {used:6.0%} {limit - wall:9.2f}  {name}{flag}")
    lines += ["", "Per question, the worst grading's total against the question's budget:"]
    for qid in assignment.ids:
        if qid in q_worst:
            budget = assignment.question_budget_s(qid)
            lines.append(f"  {qid:>4} {q_worst[qid]:8.2f} s of {budget:g} s "
                         f"({q_worst[qid] / budget:.0%}; margin {budget - q_worst[qid]:.2f} s)")
    lines.append("")
    lines.append(f"{flagged} test(s) used more than {TIGHT:.0%} of their limit"
                 + (": raise their question's test_timeout_s, or make them cheaper." if flagged else "."))
    return "\n".join(lines)
