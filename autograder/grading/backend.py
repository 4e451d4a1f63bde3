"""The sandboxed backend of the ``student`` fixture while grading.

Each test gets its own forked worker child, created lazily on the test's first call into
student code and ended at the test's teardown, with what is left of the grading time budgets
(:mod:`.budget`); the child's report (output, calls made,
failure) is stashed on the test item for :mod:`.collector`.
"""
from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Iterator

import pytest

from ..config import Assignment, Limits
from ..pytest_plugin import question_of
from ..sandbox.client import SandboxFailure, Session, SessionReport, Worker
from ..sandbox.remote import RemoteStudent
from ..sandbox.zygotes import Zygotes
from .budget import Allowance, TimeBudget
from .collector import SESSION_REPORT


class LazySession:
    """A :class:`Session` that forks its child only when first used, with what is left of the
    grading time budgets; with nothing left, its first request fails as "not run"."""

    def __init__(self, worker: Worker | Callable[[], Worker], limits: Limits, label: str,
                 allowance: Allowance | None = None, used_up: str = ""):
        #: the worker, or a callable giving it (started on the first request: a failure to
        #: start fails this test's request like any sandbox failure)
        self.worker = worker
        self.limits = limits
        self.label = label
        self.allowance = allowance or Allowance(float(limits.test_timeout_s))
        self.used_up = used_up
        self.refused = False
        self._session: Session | None = None
        #: seconds the first request waited for its worker (a zygote starting): start-up time
        self.waited_s = 0.0

    def request(self, doc: dict[str, Any], blobs: list[bytes], where: str,
                timeout: float | None = None) -> Any:
        if self._session is None:
            if self.allowance.exhausted:
                self.refused = True
                raise SandboxFailure("budget", self.used_up)
            began = time.monotonic()
            try:
                # a zygote still starting (sandbox/zygotes.py) is waited for here
                worker = self.worker if isinstance(self.worker, Worker) else self.worker()
            finally:
                self.waited_s = time.monotonic() - began
            self._session = worker.session(self.limits, self.label, self.allowance.seconds,
                                           self.allowance.reason)
            self._session.report.seconds_starting += self.waited_s
        return self._session.request(doc, blobs, where, timeout)

    @property
    def timed_out_in(self) -> str | None:
        """The function a timeout stopped this test in, if one did."""
        dead = self._session.dead if self._session is not None else None
        if dead is None or dead.kind != "timeout":
            return None
        return self._session.report.calls[-1] if self._session.report.calls else None

    def close(self) -> SessionReport:
        if self._session is None:
            report = SessionReport(seconds_starting=self.waited_s)
            if self.refused:
                report.failure = self.used_up
            return report
        return self._session.close()


class SandboxBackend:
    """Installed into :mod:`autograder.pytest_plugin` by the grader."""

    def __init__(self, worker: Worker | Zygotes, assignment: Assignment, seed_material: str,
                 budget: TimeBudget | None = None):
        self.worker = worker
        self.assignment = assignment
        self._seed = seed_material
        self.budget = budget or TimeBudget(assignment)

    def seed_material(self) -> str:
        return self._seed

    @contextlib.contextmanager
    def session(self, item: pytest.Item) -> Iterator[RemoteStudent]:
        qid = question_of(item)
        limits = self.assignment.question(qid).limits if qid else self.worker.limits
        allowance = self.budget.allowance(qid, limits.test_timeout_s)
        zygotes = self.worker
        worker = ((lambda: zygotes.for_question(qid)) if isinstance(zygotes, Zygotes) else zygotes)
        lazy = LazySession(worker, limits, item.nodeid, allowance,
                           self.budget.used_up(qid, allowance) if allowance.exhausted else "")
        try:
            yield RemoteStudent(lazy)  # type: ignore[arg-type]
        finally:
            hung = lazy.timed_out_in
            report = lazy.close()
            self.budget.spend(qid, report.seconds_in_student_code, hung)
            item.stash[SESSION_REPORT] = report
