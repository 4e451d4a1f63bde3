"""Gradescope ``results.json``: build it, validate it, and always write one.

:func:`write_results` validates against ``schemas/gradescope_results.schema.json`` before
writing, and writes atomically (temp file + rename) so a reader never sees half a file.
:func:`failure_results` is the document written when grading itself cannot finish: a visible
"Autograder failed" test with score 0 and the reason — never a missing file.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema

from .. import atomicfile, paths

SCHEMA_PATH = paths.PACKAGE_DIR / "schemas" / "gradescope_results.schema.json"
_SCHEMA: dict[str, Any] | None = None


def schema() -> dict[str, Any]:
    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = json.loads(SCHEMA_PATH.read_text())
    return _SCHEMA


def validate(doc: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``doc`` is a valid results document."""
    jsonschema.validate(doc, schema(), cls=jsonschema.Draft202012Validator)


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
    """A valid results document for a grading run that could not finish (``status``: ``failed``,
    the kit's problem, or ``rejected``, the submission's; see :data:`RUN_STATUSES`)."""
    return {
        "extra_data": {"run": {"status": status}},
        "score": 0.0,
        "execution_time": _clean_number(max(execution_time, 0.0)),
        "output": ("Autograder failed: the submission could not be graded.\n" + reason.strip()
                   + "\nYour instructor has been notified through the autograder log; "
                   "resubmitting the same files will give the same result."),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": [{"name": "Autograder failed", "score": 0.0, "max_score": 0.0, "status": "failed",
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
