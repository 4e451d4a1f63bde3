"""pytest plugin that turns a grading run into per-test outcomes.

Test metadata comes from gradescope-utils' decorators (the product's chosen dependency for
Gradescope metadata), which only set attributes and so work on pytest functions unchanged:
``@weight(w)`` (relative weight inside the question, default 1), ``@number("1.2")``,
``@visibility("after_due_date")``, ``@hide_errors("message")`` and ``@partial_credit(w)``
(the test calls ``set_score(x)`` with ``0 <= x <= w``; pytest passes nothing for the
``set_score=None`` default).  The question comes from ``@pytest.mark.question("Q1")``.

Only the failure's message is kept, never a traceback of test code: hidden tests run with
``--assert=plain`` and use :mod:`autograder.testkit`, whose messages say what was wrong and
where but never an expected value.
"""
from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import pytest

from ..pytest_plugin import question_of
from ..sandbox.client import SandboxFailure, SessionReport
from ..student import StudentError

SESSION_REPORT = pytest.StashKey[SessionReport]()
MESSAGE_CAP = 1500


@dataclasses.dataclass
class Outcome:
    """One test's result, as the grader saw it (instructor-side: messages are not yet cut to
    what a student may read; :func:`.results.build_results` does that)."""

    #: pytest's node id (``hidden_tests/test_q1_linear_relu.py::test_x[2]``), or
    #: ``Qn::saved-model`` for the model stage; never written to results.json
    nodeid: str
    #: the question id (``"Q4"``) of the test's ``@pytest.mark.question``
    question: str
    #: ``"public"``, ``"hidden"`` or ``"model"`` (the saved-model stage)
    kind: str
    #: the test function's name with its parameters (what a public test is called)
    name: str
    #: the test's docstring: what it checks, shown to students
    doc: str
    #: relative weight within its question (``@weight``, default 1); 0: a self-check
    weight: float
    #: Gradescope's test number when the test sets one, else None (numbered in order)
    number: str | None
    #: Gradescope visibility of the test entry
    visibility: str
    #: for ``@hide_errors`` tests, the fixed text shown instead of the failure message
    hide_errors: str | None
    #: whether ``fraction`` between 0 and 1 earns that share of the points
    partial: bool
    passed: bool = False
    #: share of the test's points earned, 0..1
    fraction: float = 0.0
    #: the failure message (located: which function, which entry, which tolerance)
    message: str = ""
    #: why it failed: ``assertion`` | ``student`` (the code raised) | ``sandbox`` (timeout,
    #: memory, crash) | ``error`` (the kit's test broke) | ``skipped``; "" when it passed
    failure_kind: str = ""
    #: what the test printed on the trusted side (public tests show it to the student)
    trusted_output: str = ""
    #: the worker child's report: output, calls made, exit status, timings
    report: SessionReport | None = None
    duration: float = 0.0      # wall seconds of the test: setup + call + teardown
    extra_data: dict[str, Any] | None = None   # results.json's test "extra_data" (model tests: device)
    #: the sandboxed part of the time for an outcome without a session report (the model
    #: stage): ``SessionReport.timings()``
    sandbox_timings: dict[str, float] | None = None

    def timings(self) -> dict[str, float]:
        """Where the test's wall time went, in seconds: ``wall`` = ``student`` (the worker's
        own work on the test's requests: student code and the probes beside it) +
        ``transport`` (sending requests and replies) + ``startup`` (forking and ending the
        test's child) + ``trusted`` (the rest: the test's own code on this side, reference
        values and comparisons, pytest's fixtures)."""
        sandbox = self.sandbox_timings or (self.report.timings() if self.report else {})
        parts = {k: float(sandbox.get(k, 0.0)) for k in ("student", "transport", "startup")}
        wall = max(self.duration, sum(parts.values()))
        out = {"wall": wall, **parts, "trusted": wall - sum(parts.values())}
        return {k: round(v, 4) for k, v in out.items()}


def _first_doc_line(obj: Any) -> str:
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0].strip() if doc else ""


def _uses_partial_credit(fn: Any) -> bool:
    """True for tests decorated with gradescope-utils' ``@partial_credit``."""
    wrapped = getattr(fn, "__wrapped__", None)
    if wrapped is None:
        return False
    try:
        return "set_score" in inspect.signature(wrapped).parameters
    except (TypeError, ValueError):
        return False


def _cap(text: str, cap: int = MESSAGE_CAP) -> str:
    return text if len(text) <= cap else text[:cap] + " [...]"


def describe_failure(exc: BaseException) -> tuple[str, str]:
    """(kind, student-safe message) for an exception raised in a test."""
    if isinstance(exc, SandboxFailure):
        return "sandbox", exc.message
    if isinstance(exc, StudentError):
        text = f"{exc.where} raised {exc.type_name}: {exc.message}" if exc.where else str(exc)
        if exc.trace:
            text += "\n" + exc.trace
        return "student", text
    if isinstance(exc, AssertionError):
        text = str(exc).strip()
        return "assertion", text or "a check failed"
    if isinstance(exc, pytest.skip.Exception):
        return "skipped", f"not graded: {exc}"
    return "error", f"{type(exc).__name__}: {exc}"


def _one_line_failure(excinfo: pytest.ExceptionInfo[BaseException]) -> str:
    """A failed test's report for pytest's own use (the grader's message comes from
    :func:`describe_failure`)."""
    try:
        return _cap(f"{excinfo.typename}: {excinfo.value}", 2000)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        return excinfo.typename


class Collector:
    """Collects :class:`Outcome` objects; selects the tests of the graded questions."""

    def __init__(self, questions: set[str], public_dir: Path, hidden_dir: Path,
                 run_order: list[str] | None = None):
        self.questions = questions
        #: question ids in the order their tests run (``Assignment.run_order``); the tests of
        #: one question keep their collection order
        self.run_order = list(run_order or [])
        self.public_dir = Path(public_dir).resolve()
        self.hidden_dir = Path(hidden_dir).resolve()
        self.outcomes: dict[str, Outcome] = {}
        self.order: list[str] = []
        self.unmarked: list[str] = []
        self.collection_errors: list[str] = []
        #: node ids of the tests that ran to the end (teardown reported); a grading run that
        #: was stopped marks the others "not run" (grading/stopped.py)
        self.finished: set[str] = set()

    def _kind(self, item: pytest.Item) -> str:
        path = Path(str(item.path)).resolve()
        try:
            path.relative_to(self.hidden_dir)
            return "hidden"
        except ValueError:
            return "public"

    # ------------------------------------------------------------------ collection
    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session: pytest.Session, config: pytest.Config,
                                      items: list[pytest.Item]) -> None:
        keep, drop = [], []
        for item in items:
            qid = question_of(item)
            if qid is None:
                self.unmarked.append(item.nodeid)
                drop.append(item)
            elif qid in self.questions:
                keep.append(item)
            else:
                drop.append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
        rank = {qid: i for i, qid in enumerate(self.run_order)}
        keep.sort(key=lambda item: rank.get(question_of(item) or "", len(rank)))   # stable
        items[:] = keep
        for item in keep:
            # the grade is built from the exception itself (describe_failure); pytest's own
            # report of a failure (a filtered, formatted traceback: about 1 ms of every failed
            # test) is never shown, so it is replaced by one line
            item.repr_failure = _one_line_failure        # type: ignore[method-assign]
            fn = getattr(item, "function", None)
            self.outcomes[item.nodeid] = Outcome(
                nodeid=item.nodeid, question=question_of(item) or "", kind=self._kind(item),
                name=item.name, doc=_first_doc_line(fn),
                weight=float(getattr(fn, "__weight__", 1.0) or 0.0),
                number=getattr(fn, "__number__", None),
                visibility=getattr(fn, "__visibility__", "visible"),
                hide_errors=getattr(fn, "__hide_errors__", None),
                partial=_uses_partial_credit(fn))
            self.order.append(item.nodeid)

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {_cap(str(report.longrepr), 3000)}")

    # ------------------------------------------------------------------ running
    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        fn = getattr(item, "function", None)
        if fn is not None and hasattr(fn, "__score__"):
            try:
                delattr(fn, "__score__")
            except AttributeError:
                pass

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        outcome = yield
        report: pytest.TestReport = outcome.get_result()
        rec = self.outcomes.get(item.nodeid)
        if rec is None:
            return
        rec.duration += report.duration
        if report.when == "setup" and report.failed and call.excinfo is not None:
            rec.failure_kind, rec.message = describe_failure(call.excinfo.value)
        elif report.when == "setup" and report.skipped and call.excinfo is not None:
            rec.failure_kind, rec.message = describe_failure(call.excinfo.value)
        elif report.when == "call":
            fn = getattr(item, "function", None)
            score = getattr(fn, "__score__", None)
            if report.passed:
                rec.passed = True
                rec.fraction = 1.0
            elif call.excinfo is not None:
                rec.failure_kind, rec.message = describe_failure(call.excinfo.value)
            if score is not None and rec.weight > 0:
                rec.fraction = min(max(float(score) / rec.weight, 0.0), 1.0)
            rec.trusted_output = report.capstdout
        elif report.when == "teardown":
            self.finished.add(item.nodeid)
            rec.report = item.stash.get(SESSION_REPORT, None)
            if report.failed and not rec.message and call.excinfo is not None:
                rec.failure_kind, rec.message = describe_failure(call.excinfo.value)
                rec.passed = False
                rec.fraction = 0.0

    def results(self) -> list[Outcome]:
        return [self.outcomes[n] for n in self.order]
