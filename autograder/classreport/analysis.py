"""From a batch's records to the numbers of the class report (no HTML here).

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

import dataclasses
import re
import statistics
from collections import Counter, defaultdict
from typing import Any, Iterable

from ..batch.outputs import question_points
from ..grading import results
from .messages import failure_message, pattern

STATUSES = ("ok", "timeout", "oom", "crashed", "rejected", "failed", "error")
STATUS_TEXT = {"ok": "graded", "timeout": "timed out", "oom": "out of memory", "crashed": "crashed",
               "rejected": "rejected", "failed": "grader failed", "error": "could not run"}
_QID = re.compile(r"^(Q\d+)\b\s*(.*?)(?:\s+·\s+|$)")
STRONG = 0.8            # a submission is "strong" outside a question at >= 80 % of those points
NEARLY_EVERY = 0.8      # ... and a test "nearly every" strong one fails at >= 80 % of them
MIN_STRONG = 3
SHARP = 0.3             # public vs hidden pass rates this far apart are "sharply" different
MIN_GRADED = 5


# ---------------------------------------------------------------------------- data
@dataclasses.dataclass
class FailureGroup:
    pattern: str
    example: str                          # the most common message of the group, as printed
    students: list[str]                   # submission ids, sorted
    messages: Counter                     # message -> count

    @property
    def count(self) -> int:
        return len(self.students)


@dataclasses.dataclass
class TestStat:
    name: str
    number: str
    question: str
    kind: str                             # public | hidden | model | other
    description: str                      # "What it checks: ..." of a hidden test
    max_score: float
    passed: list[str] = dataclasses.field(default_factory=list)
    failed: list[str] = dataclasses.field(default_factory=list)
    groups: list[FailureGroup] = dataclasses.field(default_factory=list)
    flags: list[str] = dataclasses.field(default_factory=list)
    seconds: list[float] = dataclasses.field(default_factory=list)

    @property
    def graded(self) -> int:
        return len(self.passed) + len(self.failed)

    @property
    def pass_rate(self) -> float:
        return len(self.passed) / self.graded if self.graded else 0.0

    @property
    def fail_rate(self) -> float:
        return 1.0 - self.pass_rate if self.graded else 0.0


@dataclasses.dataclass
class QuestionStat:
    id: str
    title: str
    possible: float
    scores: list[float]                   # graded submissions only
    public_rate: float | None
    hidden_rate: float | None
    budget_s: float | None
    seconds: list[float]                  # per graded submission with timing data
    flags: list[str] = dataclasses.field(default_factory=list)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores) if self.scores else 0.0

    @property
    def full_marks(self) -> int:
        return sum(1 for s in self.scores if s >= self.possible - 1e-6)


@dataclasses.dataclass
class ModelEntry:
    student: str
    metrics: dict[str, float]             # leaderboard metric name -> value
    fraction: float | None                # the model test's share of its points
    device: str | None
    per_class_f1: list[float] | None
    confusion: list[list[int]] | None
    message: str


@dataclasses.dataclass
class ModelStat:
    question: str
    test: str                             # the model test's name
    metric_names: list[str]
    entries: list[ModelEntry]             # ranked by the first metric (best first)
    scored: int                           # submissions whose model was scored
    not_scored: list[FailureGroup]        # why the others were not (the model test's groups)

    def top_and_median(self) -> list[tuple[str, ModelEntry]]:
        """The best model and the median one (by the first metric), where there are two."""
        ranked = [e for e in self.entries if e.metrics]
        picks = [("top", ranked[0])] if ranked else []
        if len(ranked) >= 2:
            picks.append(("median", ranked[len(ranked) // 2]))
        return picks


@dataclasses.dataclass
class Student:
    id: str
    names: str
    emails: str
    status: str
    reason: str
    score: float
    questions: dict[str, tuple[float, float]]
    wall_s: float | None
    tests: list[dict[str, Any]]
    output: str
    leaderboard: dict[str, float]
    models: list[dict[str, Any]]
    question_seconds: dict[str, float]
    record: dict[str, Any]
    full_messages: dict[str, str]         # test name -> the grader's full failure message

    def full_message(self, test: dict[str, Any]) -> str:
        """The instructor's view of a failed test: the grader's message where the record has
        it (:mod:`.instructor`), else the test's output as the student sees it."""
        return self.full_messages.get(str(test.get("name", "")), "")


@dataclasses.dataclass
class ClassReport:
    title: str
    students: list[Student]
    status_counts: dict[str, int]
    possible: float
    questions: list[QuestionStat]
    tests: list[TestStat]                 # sorted by failure rate, highest first
    models: list[ModelStat]
    has_timing: bool
    timeout_s: float | None
    unreadable: list[tuple[str, str]] = dataclasses.field(default_factory=list)   # (record, why)

    @property
    def graded(self) -> list[Student]:
        return [s for s in self.students if s.status == "ok"]

    @property
    def flagged(self) -> list[TestStat]:
        return [t for t in self.tests if t.flags]


# ---------------------------------------------------------------------------- reading
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


# ---------------------------------------------------------------------------- analysis
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

