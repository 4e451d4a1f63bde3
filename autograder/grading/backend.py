"""The sandboxed backend of the ``student`` fixture while grading.

Each test gets its own forked worker child, created lazily on the test's first call into
student code and ended at the test's teardown; the child's report (output, calls made,
failure) is stashed on the test item for :mod:`.collector`.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator

import pytest

from ..config import Assignment, Limits
from ..pytest_plugin import question_of
from ..sandbox.client import Session, SessionReport, Worker
from ..sandbox.remote import RemoteStudent
from .collector import SESSION_REPORT


class LazySession:
    """A :class:`Session` that forks its child only when first used."""

    def __init__(self, worker: Worker, limits: Limits, label: str):
        self.worker = worker
        self.limits = limits
        self.label = label
        self._session: Session | None = None

    def request(self, doc: dict[str, Any], blobs: list[bytes], where: str,
                timeout: float | None = None) -> Any:
        if self._session is None:
            self._session = self.worker.session(self.limits, self.label)
        return self._session.request(doc, blobs, where, timeout)

    def close(self) -> SessionReport:
        if self._session is None:
            return SessionReport()
        return self._session.close()


class SandboxBackend:
    """Installed into :mod:`autograder.pytest_plugin` by the grader."""

    def __init__(self, worker: Worker, assignment: Assignment, seed_material: str):
        self.worker = worker
        self.assignment = assignment
        self._seed = seed_material

    def seed_material(self) -> str:
        return self._seed

    @contextlib.contextmanager
    def session(self, item: pytest.Item) -> Iterator[RemoteStudent]:
        qid = question_of(item)
        limits = self.assignment.question(qid).limits if qid else self.worker.limits
        lazy = LazySession(self.worker, limits, item.nodeid)
        try:
            yield RemoteStudent(lazy)  # type: ignore[arg-type]
        finally:
            item.stash[SESSION_REPORT] = lazy.close()
