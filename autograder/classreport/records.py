"""Reading a batch's records (``records/<id>.json``) defensively: every field may be missing
or of the wrong type, and fields other parts of the kit add later (timings, devices, per-class
metrics) are read where present, never required (see :mod:`.analysis` for where each is
looked for).  :func:`_student` turns one record into a :class:`.report_data.Student`."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Any

from ..batch.outputs import question_points
from .report_data import _QID, Student


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if v == v and abs(v) != float("inf") else None


def _wall(x: Any) -> float | None:
    """Seconds from a number or from a table of them (``wall``, ``wall_s``, ``seconds``, ``total_s``, ``total``)."""
    if isinstance(x, dict):
        for key in ("wall", "wall_s", "seconds", "total_s", "total"):
            if _num(x.get(key)) is not None:
                return _num(x.get(key))
        return None
    return _num(x)


def test_seconds(test: dict[str, Any]) -> float | None:
    """A test's wall time from its ``extra_data`` where the kit records one (``seconds``: a
    number or the timings table ``{"wall", "student", ...}``; ``wall_s``, ``time_s``,
    ``timing``/``timings``); else None."""
    extra = test.get("extra_data")
    if not isinstance(extra, dict):
        return None
    for key in ("seconds", "wall_s", "time_s", "timing", "timings"):
        if key in extra and _wall(extra[key]) is not None:
            return _wall(extra[key])
    return None


def _question_seconds(rec: dict[str, Any], doc: dict[str, Any]) -> dict[str, float]:
    """question id -> seconds: the record's or the results' ``question_seconds`` table, else
    the sum of the question's test times (``doc`` holds cleaned tests: :func:`_clean_test`)."""
    extra = doc.get("extra_data") if isinstance(doc.get("extra_data"), dict) else {}
    timings = extra.get("timings") if isinstance(extra.get("timings"), dict) else {}
    for table in (rec.get("question_seconds"), extra.get("question_seconds"), timings.get("questions")):
        if isinstance(table, dict):
            out = {str(q): _wall(v) for q, v in table.items()}
            out = {q: v for q, v in out.items() if v is not None}
            if out:
                return out
    sums: dict[str, float] = defaultdict(float)
    for t in doc.get("tests", []) or []:
        s = test_seconds(t)
        m = _QID.match(t["name"])
        if s is not None and m:
            sums[m.group(1)] += s
    return dict(sums)


def _device(*sources: Any) -> str | None:
    for src in sources:
        if isinstance(src, dict):
            for key in ("device", "device_name"):
                if isinstance(src.get(key), str) and src[key]:
                    why = src.get("fallback_reason")
                    return src[key] + (f" (not on a GPU: {why})" if isinstance(why, str) and why else "")
            info = src.get("info")
            if isinstance(info, dict) and isinstance(info.get("device"), str) and info["device"]:
                return info["device"]
    return None


def kind_of(name: str) -> str:
    if " · public · " in name:
        return "public"
    if " · hidden test " in name:
        return "hidden"
    if "saved model" in name:
        return "model"
    return "other"


def _clean_test(t: dict[str, Any]) -> dict[str, Any]:
    """A copy of one test of ``results.json`` with the fields the report reads made safe:
    ``name``/``output`` strings, ``score``/``max_score`` numbers or None, and a ``status``
    (an older record without one: passed when it has all its points)."""
    t = dict(t)
    t["name"] = str(t.get("name") or "")
    t["output"] = str(t.get("output") or "")
    t["score"], t["max_score"] = _num(t.get("score")), _num(t.get("max_score"))
    if t.get("status") not in ("passed", "failed"):
        t["status"] = ("passed" if t["max_score"] is not None and (t["score"] or 0.0) >= t["max_score"]
                       else "failed")
    return t


def _student(rec: dict[str, Any]) -> Student:
    doc = rec.get("results") if isinstance(rec.get("results"), dict) else {}
    raw_tests = doc.get("tests") if isinstance(doc.get("tests"), list) else []
    tests = [_clean_test(t) for t in raw_tests if isinstance(t, dict)]
    doc = {**doc, "tests": tests}
    people = [p for p in (rec.get("submitters") if isinstance(rec.get("submitters"), list) else [])
              if isinstance(p, dict)]
    lb = {}
    for e in doc.get("leaderboard") if isinstance(doc.get("leaderboard"), list) else []:
        if isinstance(e, dict) and _num(e.get("value")) is not None:
            lb[str(e.get("name"))] = _num(e.get("value"))
    models = [m for m in (rec.get("models") if isinstance(rec.get("models"), list) else [])
              if isinstance(m, dict)]
    status = str(rec.get("status") or "error")
    return Student(id=str(rec["id"]),
                   names=", ".join(str(p["name"]) for p in people if p.get("name")),
                   emails=", ".join(str(p["email"]) for p in people if p.get("email")),
                   status=status, reason=str(rec.get("reason") or ""),
                   score=_num(doc.get("score")) or 0.0, questions=question_points(doc),
                   wall_s=_num(rec.get("wall_s")),
                   tests=tests,
                   output=str(doc.get("output") or ""), leaderboard=lb, models=models,
                   question_seconds=_question_seconds(rec, doc), record=rec,
                   full_messages=_full_messages(rec, tests))


def record_problem(rec: Any) -> str | None:
    """Why ``rec`` cannot stand for a submission in the report, or None when it can: it must
    be a JSON object with an ``id`` usable as a file name (the student page is
    ``students/<id>.html``)."""
    if not isinstance(rec, dict):
        return "not a JSON object"
    sid = rec.get("id")
    if not isinstance(sid, (str, int)) or isinstance(sid, bool) or str(sid) in ("", ".", ".."):
        return "no usable 'id'"
    if re.search(r"[/\\\x00]", str(sid)):
        return f"id {str(sid)[:80]!r} is not a file name"
    return None


def _full_messages(rec: dict[str, Any], tests: list[dict[str, Any]]) -> dict[str, str]:
    """test name -> the grader's full message, from the record's ``messages`` (keyed by
    question, kind and index within them: :mod:`.instructor`)."""
    keyed = {(str(m.get("question")), str(m.get("kind")), m.get("index")): str(m.get("message"))
             for m in rec.get("messages") or [] if isinstance(m, dict) and m.get("message")}
    if not keyed:
        return {}
    out, seen = {}, Counter()
    for t in tests:
        name = str(t.get("name", ""))
        m = _QID.match(name)
        if not m:
            continue
        kind = kind_of(name)
        seen[(m.group(1), kind)] += 1
        msg = keyed.get((m.group(1), kind, seen[(m.group(1), kind)]))
        if msg:
            out[name] = msg
    return out
