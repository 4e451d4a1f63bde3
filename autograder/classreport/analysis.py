"""From a batch's records to the numbers of the class report (no HTML here).

The records are read by :mod:`.records`; the numbers are the data classes of
:mod:`.report_data` (re-exported here, with the readers the tests use).

:func:`analyse` reads the records (``records/<id>.json``: status, wall time, Gradescope's
results document) and returns a :class:`ClassReport`: status counts, score distributions
overall and per question, per-test pass rates with the failure messages grouped by
:func:`.messages.pattern`, "look at this test" flags, per-question time against its budget,
and the saved models (leaderboard metrics, per-class F1 and confusion matrices).

Fields that other parts of the kit add later are read defensively, never required:

* timings: a test's ``extra_data`` (``seconds``, ``wall_s``, or a ``timing``/``timings`` table
  with ``wall_s``/``seconds``/``total_s``), or a record's ``question_seconds`` /
  ``results.extra_data.question_seconds`` table ``{"Q3": 1.2}``;
* the device a model was scored on: ``device`` in the model test's ``extra_data``, in the
  record's ``models`` entries (or their ``info``), or in the record itself;
* per-class metrics: a record's ``models`` list (``[{"question", "metrics": {"per_class_f1",
  "confusion", "accuracy", "macro_f1"}, ...}]``, the shape of ``grade --report-dir``'s
  ``worker.models``) or ``metrics`` in the model test's ``extra_data``.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable

from ..grading import results
from .messages import failure_message, pattern
from .records import _device, _num, _student, kind_of, record_problem, test_seconds
from .report_data import (_QID, STATUS_TEXT, STATUSES, ClassReport, FailureGroup, ModelEntry,
                          ModelStat, QuestionStat, Student, TestStat)

__all__ = ["analyse", "ClassReport", "FailureGroup", "ModelEntry", "ModelStat", "QuestionStat",
           "Student", "TestStat", "STATUSES", "STATUS_TEXT", "test_seconds", "kind_of",
           "record_problem"]

STRONG = 0.8            # a submission is "strong" outside a question at >= 80 % of those points
NEARLY_EVERY = 0.8      # ... and a test "nearly every" strong one fails at >= 80 % of them
MIN_STRONG = 3
SHARP = 0.3             # public vs hidden pass rates this far apart are "sharply" different
MIN_GRADED = 5


def _descriptive_lines(outputs_passed: list[str], outputs_failed: list[str]) -> frozenset[str]:
    """Lines that describe a test rather than a failure: those a passing run prints too, and
    those every failing run prints (the test's own text) when at least two failed."""
    lines = {ln.strip() for out in outputs_passed for ln in out.splitlines() if ln.strip()}
    if len(outputs_failed) >= 2:
        common = set.intersection(*({ln.strip() for ln in o.splitlines() if ln.strip()}
                                    for o in outputs_failed))
        if any(failure_message(o, frozenset(lines | common)) != "(no message)" for o in outputs_failed):
            lines |= common
    return frozenset(lines)


def _groups(failures: list[tuple[str, str]]) -> list[FailureGroup]:
    """(student, message) pairs -> groups by pattern, largest first."""
    by: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for sid, msg in failures:
        by[pattern(msg)].append((sid, msg))
    out = []
    for pat, items in by.items():
        msgs = Counter(m for _, m in items)
        out.append(FailureGroup(pat, msgs.most_common(1)[0][0], sorted({s for s, _ in items}), msgs))
    out.sort(key=lambda g: (-g.count, g.pattern))
    return out


def _number_key(number: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in (number or "").split("."))


def analyse(records: Iterable[dict[str, Any]], assignment: Any = None, title: str = "",
            timeout_s: float | None = None,
            unreadable: Iterable[tuple[str, str]] = ()) -> ClassReport:
    """The report's numbers from ``records``; ``unreadable`` lists (record file, why) of the
    records that could not be read, shown as such.  A record that is not usable
    (:func:`record_problem`) joins them; two records with one id keep the last."""
    skipped = list(unreadable)
    by_id: dict[str, Student] = {}
    for r in records:
        why = record_problem(r)
        if why:
            skipped.append((str(r.get("id", "?")) if isinstance(r, dict) else "?", why))
            continue
        by_id[str(r["id"])] = _student(r)
    students = sorted(by_id.values(), key=lambda s: s.id)
    graded = [s for s in students if s.status == "ok"]
    counts = Counter(s.status for s in students)
    status_counts = {k: counts.get(k, 0) for k in STATUSES}
    status_counts.update({k: v for k, v in counts.items() if k not in status_counts})

    # tests, in the assignment's order, from the graded submissions
    tests: dict[str, TestStat] = {}
    outputs: dict[str, tuple[list[str], list[tuple[str, str, str]]]] = {}
    for s in graded:
        for t in s.tests:
            name = str(t.get("name", ""))
            if results.test_question(t) is None:      # a failure document's single entry
                continue
            m = _QID.match(name)
            st = tests.get(name)
            if st is None:
                out = str(t.get("output") or "")
                desc = next((ln[len("What it checks: "):] for ln in out.splitlines()
                             if ln.startswith("What it checks: ")), "")
                st = tests[name] = TestStat(name, str(t.get("number") or ""), m.group(1) if m else "",
                                            kind_of(name), desc, _num(t.get("max_score")) or 0.0)
                outputs[name] = ([], [])
            if t.get("status") == "passed":
                st.passed.append(s.id)
                outputs[name][0].append(str(t.get("output") or ""))
            else:
                st.failed.append(s.id)
                outputs[name][1].append((s.id, str(t.get("output") or ""), s.full_message(t)))
            sec = test_seconds(t)
            if sec is not None:
                st.seconds.append(sec)
    for name, st in tests.items():
        passed_out, failed = outputs[name]
        desc = _descriptive_lines(passed_out, [o for _, o, _ in failed])
        st.groups = _groups([(sid, failure_message(full) if full else failure_message(o, desc))
                             for sid, o, full in failed])

    # questions
    # the questions the records were graded on (a batch may grade a subset of the assignment)
    seen: list[str] = []
    for s in students:
        for q in s.questions:
            if q not in seen:
                seen.append(q)
    qids = list(seen) if seen or assignment is None else list(assignment.ids)
    titles: dict[str, str] = {q.id: q.title for q in assignment.questions} if assignment is not None else {}
    for s in students:
        for t in s.tests:
            m = _QID.match(str(t.get("name", "")))
            if m and m.group(1) not in titles:
                titles[m.group(1)] = m.group(2)
    qids.sort(key=lambda q: int(q[1:]))
    questions = []
    for q in qids:
        got = [s.questions.get(q, (0.0, 0.0)) for s in graded]
        possible = (next((x.points for x in assignment.questions if x.id == q), 0.0)
                    if assignment is not None else max((p for _, p in got), default=0.0))
        mine = [t for t in tests.values() if t.question == q]
        pub = [t for t in mine if t.kind == "public"]
        hid = [t for t in mine if t.kind == "hidden"]
        rate = (lambda ts: sum(len(t.passed) for t in ts) / sum(t.graded for t in ts)
                if ts and sum(t.graded for t in ts) else None)
        budget = None
        if assignment is not None:
            try:
                budget = float(assignment.question_budget_s(q))
            except Exception:   # a question outside this assignment
                budget = None
        secs = [s.question_seconds[q] for s in graded if q in s.question_seconds]
        questions.append(QuestionStat(q, titles.get(q, ""), float(possible), [p for p, _ in got],
                                      rate(pub), rate(hid), budget, secs))
    bonus = {q.id for q in assignment.questions if q.bonus} if assignment is not None else set()
    possible = sum(q.possible for q in questions if q.id not in bonus)

    _flag(tests, questions, graded)
    ordered = sorted(tests.values(), key=lambda t: (-t.fail_rate, -len(t.failed), t.question and int(t.question[1:]),
                                                     _number_key(t.number), t.name))
    labels = ({q.id: str((q.model or {}).get("label", "model")) for q in assignment.questions if q.model}
              if assignment is not None else {})
    models = _models(graded, tests, labels)
    has_timing = any(q.seconds for q in questions) or any(t.seconds for t in tests.values())
    return ClassReport(title or "Class report", students, status_counts, float(possible), questions,
                       ordered, models, has_timing, timeout_s, skipped)


def _flag(tests: dict[str, TestStat], questions: list[QuestionStat], graded: list[Student]) -> None:
    """The "look at this test" flags."""
    qpossible = {q.id: q.possible for q in questions}
    total_possible = sum(qpossible.values())
    for st in tests.values():
        # nearly every otherwise-strong submission fails it
        rest_possible = total_possible - qpossible.get(st.question, 0.0)
        if rest_possible <= 0:
            continue
        strong = [s for s in graded
                  if (sum(p for q, (p, _) in s.questions.items() if q != st.question) / rest_possible) >= STRONG]
        ids = {s.id for s in strong}
        fails = [sid for sid in st.failed if sid in ids]
        if len(strong) >= MIN_STRONG and len(fails) >= NEARLY_EVERY * len(strong):
            st.flags.append(f"{len(fails)} of the {len(strong)} submissions that score at least "
                            f"{STRONG:.0%} on the other questions fail it: a bad test, or a "
                            f"question that is not explained well?")
    for q in questions:
        if q.public_rate is None or q.hidden_rate is None:
            continue
        n = max((t.graded for t in tests.values() if t.question == q.id), default=0)
        if n < MIN_GRADED:
            continue
        if abs(q.public_rate - q.hidden_rate) >= SHARP:
            q.flags.append(f"public tests pass {q.public_rate:.0%}, hidden tests {q.hidden_rate:.0%}")
        for st in tests.values():
            if st.question == q.id and st.kind == "hidden" and st.graded >= MIN_GRADED \
                    and abs(st.pass_rate - q.public_rate) >= SHARP:
                st.flags.append(f"passes {st.pass_rate:.0%} of the class while {q.id}'s public tests "
                                f"pass {q.public_rate:.0%}: the hidden version of the check "
                                + ("catches what the public ones let through"
                                   if st.pass_rate < q.public_rate else "is easier than the public ones"))


def _matrix(cm: Any) -> list[list[int]] | None:
    """A confusion matrix as a square list of non-negative integer counts, else None."""
    if not isinstance(cm, (list, tuple)) or not cm or not all(isinstance(r, (list, tuple)) and len(r) == len(cm)
                                                            for r in cm):
        return None
    vals = [[_num(c) for c in row] for row in cm]
    if any(v is None or v < 0 or v != int(v) for row in vals for v in row):
        return None
    return [[int(v) for v in row] for row in vals]


def _models(graded: list[Student], tests: dict[str, TestStat], labels: dict[str, str]) -> list[ModelStat]:
    out = []
    model_tests = [st for st in tests.values() if st.kind == "model"]
    for st in model_tests:
        q = st.question
        metric_names: list[str] = []
        entries = []
        for s in graded:
            t = next((t for t in s.tests if t.get("name") == st.name), None)
            if t is None:
                continue
            extra = t.get("extra_data") if isinstance(t.get("extra_data"), dict) else {}
            rec_model = next((m for m in s.models if m.get("question") == q), {})
            metrics_src = rec_model.get("metrics") if isinstance(rec_model.get("metrics"), dict) else (
                extra.get("metrics") if isinstance(extra.get("metrics"), dict) else {})
            names = [n for n in s.leaderboard
                     if (n.startswith(labels[q] + " ") if q in labels else len(model_tests) == 1)]
            for n in names:
                if n not in metric_names:
                    metric_names.append(n)
            mx = _num(t.get("max_score")) or 0.0
            pcf = metrics_src.get("per_class_f1")
            cm = metrics_src.get("confusion")
            entries.append(ModelEntry(
                s.id, {n: s.leaderboard[n] for n in names},
                (_num(t.get("score")) or 0.0) / mx if mx else None,
                _device(extra, rec_model, s.record),
                [float(x) for x in pcf] if isinstance(pcf, (list, tuple)) and all(_num(x) is not None for x in pcf)
                else None,
                _matrix(cm),
                failure_message(str(t.get("output") or ""))))
        if metric_names:
            first = metric_names[0]
            entries.sort(key=lambda e: (first not in e.metrics, -(e.metrics.get(first) or 0.0), e.student))
        out.append(ModelStat(q, st.name, metric_names, entries,
                             scored=sum(1 for e in entries if e.metrics), not_scored=st.groups))
    return out
