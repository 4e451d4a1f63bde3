"""Gradescope ``results.json``: build it, validate it, and always write one.

:func:`build_results` turns a grading's outcomes (:class:`.collector.Outcome`, one per test)
into the document and the per-question scores: the points of each test
(:func:`apportion`), what a student reads for it, and the summary.  :func:`write_results` validates against ``schemas/gradescope_results.schema.json`` before
writing, and writes atomically (temp file + rename) so a reader never sees half a file.
:func:`failure_results` is the document written when grading itself cannot finish: a visible
"Autograder failed" test with score 0 and the reason — never a missing file.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jsonschema

from .. import atomicfile, paths

if TYPE_CHECKING:            # types only: this module is imported where pytest is not
    from ..config import Assignment
    from .collector import Outcome
    from .intake import Staged

SCHEMA_PATH = paths.PACKAGE_DIR / "schemas" / "gradescope_results.schema.json"
_SCHEMA: dict[str, Any] | None = None


def schema() -> dict[str, Any]:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = json.loads(SCHEMA_PATH.read_text())
    return _SCHEMA


_VALIDATOR: Any = None


def validate(doc: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` is a valid results document (the
    most relevant error, as ``jsonschema.validate`` picks it).  The validator is built once
    per process; the schema itself is checked against its metaschema by the tests, not on
    every grading (``jsonschema.validate`` did that each time: most of its 0.1 s)."""
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = jsonschema.Draft202012Validator(schema())
    error = jsonschema.exceptions.best_match(_VALIDATOR.iter_errors(doc))
    if error is not None:
        raise error


def _clean_number(x: Any) -> float:
    x = float(x)
    return round(x, 6) if math.isfinite(x) else 0.0


#: Points are written to results.json in millionths (6 decimals).
POINT_UNITS = 10 ** 6


def apportion(points: float, weights: list[float]) -> list[float]:
    """Split ``points`` over tests in proportion to ``weights``, in millionths of a point that
    add up exactly to ``points``: Gradescope adds the tests' ``max_score``, so 10 points over
    7 tests must read 10, not 7 x 1.428571 = 9.999997.  The largest remainders get the spare
    millionths (ties: the earlier test).  All weights zero gives zeros."""
    total_weight = float(sum(weights))
    if total_weight <= 0:
        return [0.0] * len(weights)
    units = round(points * POINT_UNITS)
    exact = [units * w / total_weight for w in weights]
    shares = [math.floor(e) for e in exact]
    spare = units - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - shares[i]), i))
    for i in order[:spare]:
        shares[i] += 1
    return [s / POINT_UNITS for s in shares]


#: How a grading run ended, carried in results.json as ``extra_data.run.status`` (and read with
#: :func:`run_status`): every test ran (``graded``); the submission was refused at intake
#: (``rejected``); the kit itself failed (``failed``); a stop signal ended it (``stopped``).
GRADED, REJECTED, FAILED, STOPPED = "graded", "rejected", "failed", "stopped"
RUN_STATUSES = (GRADED, REJECTED, FAILED, STOPPED)
#: the single test of a failure document, by status, in documents written before the status
#: was recorded (batch records kept across versions are read with these)
_LEGACY_RUN_TESTS = {"Autograder failed": FAILED, "Submission could not be accepted": REJECTED}
_QID = re.compile(r"^(Q\d+)\b")


def set_run_status(doc: dict[str, Any], status: str) -> dict[str, Any]:
    """Record how the run ended in ``doc`` (see :data:`RUN_STATUSES`); returns ``doc``."""
    if status not in RUN_STATUSES:
        raise ValueError(f"unknown run status {status!r}; expected one of {RUN_STATUSES}")
    extra = doc.setdefault("extra_data", {})
    extra["run"] = {**(extra.get("run") or {}), "status": status}
    return doc


def run_status(doc: dict[str, Any]) -> str:
    """How the run that wrote ``doc`` ended: its ``extra_data.run.status``; a document written
    before that field existed is read from its first test's name."""
    run = (doc.get("extra_data") or {}).get("run") if isinstance(doc, dict) else None
    if isinstance(run, dict) and run.get("status") in RUN_STATUSES:
        return str(run["status"])
    tests = doc.get("tests") if isinstance(doc, dict) else None
    first = tests[0] if isinstance(tests, list) and tests and isinstance(tests[0], dict) else {}
    return _LEGACY_RUN_TESTS.get(str(first.get("name", "")), GRADED)


def test_question(test: dict[str, Any]) -> str | None:
    """The question id of a results.json test entry: its ``extra_data.question``, or (documents
    written before that field) the ``Qn`` its name starts with; None for neither."""
    extra = test.get("extra_data") if isinstance(test, dict) else None
    if isinstance(extra, dict) and isinstance(extra.get("question"), str):
        return extra["question"]
    m = _QID.match(str(test.get("name", ""))) if isinstance(test, dict) else None
    return m.group(1) if m else None


def failure_results(reason: str, execution_time: float = 0.0, status: str = FAILED) -> dict[str, Any]:
    """A valid results document for a grading run that could not finish (``status``: ``failed``
    or ``stopped``, the kit's side, or ``rejected``: the submission was refused at intake and
    ``reason`` says what was wrong with it and what was expected; see :data:`RUN_STATUSES`)."""
    if status == REJECTED:
        output, name = f"The submission could not be accepted: {reason.strip()}", "Submission could not be accepted"
    else:
        output = ("Autograder failed: the submission could not be graded.\n" + reason.strip()
                  + "\nYour instructor has been notified through the autograder log; "
                  "resubmitting the same files will give the same result.")
        name = "Autograder failed"
    return {
        "extra_data": {"run": {"status": status}},
        "score": 0.0,
        "execution_time": _clean_number(max(execution_time, 0.0)),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [{"name": name, "score": 0.0, "max_score": 0.0, "status": "failed",
                   "output": reason.strip()[:5000], "visibility": "visible"}],
    }


def write_results(doc: dict[str, Any], path: Path) -> Path:
    """Validate ``doc`` and write it atomically to ``path``.

    If ``doc`` does not validate (a bug in the kit), a failure document naming the problem is
    written instead and the original error is re-raised after writing.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    error: Exception | None = None
    try:
        validate(doc)
    except jsonschema.ValidationError as exc:
        error = exc
        doc = failure_results(f"internal error: results did not validate: {exc.message}")
    with atomicfile.replacing(path, mode=0o644) as tmp:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, allow_nan=False)
            f.write("\n")
    if error is not None:
        raise error
    return path


# ---------------------------------------------------------------------------- building it
@dataclasses.dataclass
class QuestionScore:
    """One question's points in a grading: ``score`` of ``max_score`` (its ``points`` in
    assignment.toml; a bonus question's points are not in the total possible), and how many
    of its public and hidden tests passed."""

    id: str
    title: str
    score: float
    max_score: float
    bonus: bool
    public_passed: int = 0
    public_total: int = 0
    hidden_passed: int = 0
    hidden_total: int = 0



def _called(function: str, calls: list[str]) -> bool:
    short = function.rsplit(".", 1)[-1]
    return any(c == function or c.split(".")[0] == short for c in calls)


def _failed_functions(assignment: Assignment, outcomes: list[Outcome]) -> dict[str, str]:
    """function -> owning question id, for functions that failed one of their own tests."""
    failed: dict[str, str] = {}
    for q in assignment.questions:
        for o in outcomes:
            if o.question != q.id or o.passed:
                continue
            calls = o.report.calls if o.report else []
            for fn in q.functions:
                if _called(fn, calls):
                    failed[fn] = q.id
    return failed


def _test_output(o: Outcome, index: int, total: int, show_stdout: bool, dependency: str) -> str:
    lines = []
    if o.kind == "model":
        return o.message + (("\n" + dependency) if dependency and o.fraction < 1.0 else "")
    if o.kind == "hidden":
        lines.append(f"Hidden test {index} of {total} for this question: "
                     f"{'passed' if o.passed else 'failed'}.")
        if o.doc:
            lines.append(f"What it checks: {o.doc}")
    else:
        lines.append(f"Public test {o.name}: {'passed' if o.passed else 'failed'}."
                     + (" (A self-check: it carries no points.)" if o.weight == 0 else ""))
        if o.doc:
            lines.append(o.doc)
    if not o.passed or o.fraction < 1.0:
        if o.hide_errors:
            lines.append(o.hide_errors)
        elif o.message:
            lines.append(("Hint: " if o.kind == "hidden" else "") + o.message)
        if o.partial and 0.0 < o.fraction < 1.0:
            lines.append(f"Partial credit: {o.fraction:.0%} of this test's points.")
        if dependency:
            lines.append(dependency)
    if o.kind == "public" and o.trusted_output.strip():
        lines.append(o.trusted_output.strip()[-3000:])
    if show_stdout and o.report and o.report.output.strip():
        lines.append("Your code printed:\n" + o.report.output.strip()[-4000:])
    return "\n".join(lines)


def build_results(assignment: Assignment, outcomes: list[Outcome], staged: Staged | None,
                  notes: list[str], seconds: float, extra_problems: list[str]) -> tuple[dict[str, Any], list[QuestionScore]]:
    """The Gradescope document and the per-question scores."""
    failed_fns = _failed_functions(assignment, outcomes)
    tests: list[dict[str, Any]] = []
    scores: list[QuestionScore] = []
    for q in assignment.questions:
        mine = [o for o in outcomes if o.question == q.id]
        mine.sort(key=lambda o: {"public": 0, "hidden": 1}.get(o.kind, 2))
        qs = QuestionScore(q.id, q.title, 0.0, q.points, q.bonus)
        hidden = [o for o in mine if o.kind == "hidden"]
        broken_deps = [f"{fn} ({failed_fns[fn]})" for fn in q.calls if fn in failed_fns]
        dependency = ("Note: this question calls " + ", ".join(broken_deps) + ", which failed "
                      "its own tests; the failures here may come from there — fix that first."
                      ) if broken_deps else ""
        if not mine:
            tests.append({"name": f"{q.id} {q.title}", "number": str(q.number), "score": 0.0,
                          "max_score": float(q.points), "status": "failed", "visibility": "visible",
                          "output": "No tests were found for this question (an error in the "
                                    "assignment's configuration); it was not graded."})
        max_scores = apportion(q.points, [o.weight for o in mine])
        for i, (o, max_score) in enumerate(zip(mine, max_scores), start=1):
            score = round(max_score * (o.fraction if (o.passed or o.partial) else 0.0), 6)
            qs.score += score
            if o.kind == "public":
                qs.public_total += 1
                qs.public_passed += o.passed
                name = f"{q.id} {q.title} · public · {o.name}"
            elif o.kind == "model":
                name = f"{q.id} {q.title} · {o.name}"
            else:
                qs.hidden_total += 1
                qs.hidden_passed += o.passed
                k = hidden.index(o) + 1
                name = f"{q.id} {q.title} · hidden test {k} of {len(hidden)}"
            index = hidden.index(o) + 1 if o.kind == "hidden" else i
            tests.append({
                "name": name + (" (bonus)" if q.bonus else ""),
                "number": o.number or f"{q.number}.{i}",
                "score": round(score, 6), "max_score": round(max_score, 6),
                "status": "passed" if o.passed else "failed",
                "visibility": o.visibility if o.visibility in ("visible", "hidden", "after_due_date", "after_published") else "visible",
                "output": _test_output(o, index, len(hidden), assignment.show_stdout,
                                       dependency if not o.passed else ""),
                # no nodeid: a hidden test's file and function name are the instructor's
                # (report.json has them); students may read all of results.json
                "extra_data": {"question": q.id, "kind": o.kind, "seconds": o.timings(),
                               **(o.extra_data or {})},
            })
        qs.score = round(qs.score, 6)
        scores.append(qs)

    total = sum(s.score for s in scores)
    possible = sum(s.max_score for s in scores if not s.bonus)
    bonus = sum(s.max_score for s in scores if s.bonus)
    pub_p = sum(s.public_passed for s in scores)
    pub_t = sum(s.public_total for s in scores)
    hid_t = sum(s.hidden_total for s in scores)
    hid_p = sum(s.hidden_passed for s in scores)
    lines = [f"Score: {total:.2f} / {possible:g}" + (f" (+ up to {bonus:g} bonus)" if bonus else ""),
             ("Public tests passed." if pub_p == pub_t else f"Public tests: {pub_p}/{pub_t} passed.")
             + f" {hid_t} hidden tests graded ({hid_p} passed).", ""]
    for s in scores:
        lines.append(f"{s.id:>4} {s.score:6.2f}/{s.max_score:<5g} {s.title}"
                     f"{' (bonus)' if s.bonus else ''} — public {s.public_passed}/{s.public_total}, "
                     f"hidden {s.hidden_passed}/{s.hidden_total}")
    if staged is not None and staged.notes:
        lines += ["", "Submission: " + "; ".join(staged.notes) + "."]
    problems = (staged.problems() if staged else []) + extra_problems
    if problems:
        lines += ["", "Problems with the submission:"] + [f"  - {p}" for p in problems]
    if notes:
        lines += ["", "Your code uses NumPy names removed since NumPy 1.20: " + ", ".join(notes)
                  + ". The grader restored them so your code runs (ASSIGNMENT.md "
                  "§\"Old NumPy code\"); update them, a current NumPy does not have them."]
    doc = {"score": round(total, 6), "execution_time": round(seconds, 3), "output": "\n".join(lines),
           "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}
    return doc, scores
