"""Instructor-only data of one grading, kept in its batch record for the class report.

``grade --report-dir DIR`` writes ``DIR/report.json`` (trusted side: the grader wrote it, never
the student's code): every test's full failure message (a hidden test's ``@hide_errors`` text
is what the student sees; the real message is here) and the saved models' metrics (per-class
F1, confusion matrix).  :func:`from_grader_report` keeps what the class report needs, bounded
in size, as two record fields:

``models``      ``[{"question", "ok", "fraction", "info", "metrics": {...}, ...}]``
``messages``    ``[{"question", "kind", "index", "message"}]`` for the failed tests, where
                ``index`` counts the tests of that kind within the question (1-based) in the
                order ``results.json`` lists them, so ``Q3 ... hidden test 4 of 8`` is
                ``("Q3", "hidden", 4)``.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

MAX_REPORT_BYTES = 32 * 2**20
MAX_MESSAGE_CHARS = 2000
KIND_ORDER = {"public": 0, "hidden": 1}


def messages_of(tests: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Failed tests' messages keyed as ``results.json`` orders them: per question, public
    tests first, then hidden, then the rest (the order of ``results.build_results``)."""
    by_q: dict[str, list[dict[str, Any]]] = {}
    for t in tests:
        if isinstance(t, dict):
            by_q.setdefault(str(t.get("question", "")), []).append(t)
    out = []
    for q, mine in by_q.items():
        mine = sorted(mine, key=lambda t: KIND_ORDER.get(str(t.get("kind")), 2))
        seen: Counter = Counter()
        for t in mine:
            kind = str(t.get("kind", ""))
            seen[kind] += 1
            if not t.get("passed") and t.get("message"):
                out.append({"question": q, "kind": kind, "index": seen[kind],
                            "message": str(t["message"])[:MAX_MESSAGE_CHARS]})
    return out


def from_grader_report(data: Any) -> dict[str, Any]:
    """The record fields (``models``, ``messages``) from a parsed ``report.json``."""
    if not isinstance(data, dict):
        return {}
    worker = data.get("worker") if isinstance(data.get("worker"), dict) else {}
    # copies without "plots" (paths inside a grading folder that is gone)
    models = [{k: v for k, v in m.items() if k != "plots"}
              for m in worker.get("models") or [] if isinstance(m, dict)]
    return {"models": models, "messages": messages_of(data.get("tests") or [])}


def read_grader_report(path: Path) -> dict[str, Any]:
    """:func:`from_grader_report` of the file at ``path``; ``{}`` when it is missing, too large
    or not JSON (the class report then shows what ``results.json`` holds)."""
    try:
        path = Path(path)
        if path.stat().st_size > MAX_REPORT_BYTES:
            return {}
        return from_grader_report(json.loads(path.read_text("utf-8")))
    except (OSError, ValueError):
        return {}
