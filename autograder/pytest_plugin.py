"""pytest plugin shared by the public tests (students' ``pytest``) and the grader.

Fixtures:
  ``student``  the submission's code (see :mod:`autograder.student`).  Under a plain
               ``pytest`` it is imported in-process from the folder holding ``src/``
               (``$DLKIT_SUBMISSION`` or pytest's rootdir).  When the grader runs the tests
               it passes :class:`UseBackend` (a sandboxed backend) among ``pytest.main``'s
               plugins, and every test gets a fresh isolated worker process instead; the
               backend lives in that pytest session's ``config.stash``, nowhere else.
  ``case_rng`` a ``numpy.random.Generator`` for a test's random cases: fixed seeds under a
               plain ``pytest`` and in ``validate``; seeded by a hash of the submission's
               files, the assignment's salt and the test's id when grading (ASSIGNMENT.md
               §"Reading your results": each submission sees its own cases; a regrade the same ones).

Marker:
  ``@pytest.mark.question("Q4")`` (usually as a module's ``pytestmark``) ties tests to a
  question of ``assignment.toml``.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Iterator, Protocol

import numpy as np
import pytest

from .student import InProcessStudent


class Backend(Protocol):
    """What the grader installs: opens a student session per test."""

    def session(self, item: pytest.Item) -> Any: ...  # a context manager yielding the student

    def seed_material(self) -> str: ...


BACKEND_KEY = pytest.StashKey[Backend]()


class UseBackend:
    """A plugin object for ``pytest.main(args, plugins=[UseBackend(backend)])``: that session's
    ``student`` fixture goes through ``backend`` and ``case_rng`` takes its seed material."""

    def __init__(self, backend: Backend):
        self.backend = backend

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[BACKEND_KEY] = self.backend


def backend_of(config: pytest.Config) -> Backend | None:
    """The backend of this pytest session, or None (a plain ``pytest``: in-process)."""
    return config.stash.get(BACKEND_KEY, None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "question(id): the assignment.toml question a test grades")


def question_of(item: pytest.Item) -> str | None:
    """The question id a test item is marked with, or None."""
    marker = item.get_closest_marker("question")
    return str(marker.args[0]) if marker and marker.args else None


def _submission_root(config: pytest.Config) -> Path:
    env = os.environ.get("DLKIT_SUBMISSION")
    return Path(env) if env else Path(config.rootpath)


@pytest.fixture
def student(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The submission's code: ``student.<module>.<function>(...)``."""
    backend = backend_of(request.config)
    if backend is None:
        yield InProcessStudent(_submission_root(request.config))
        return
    with backend.session(request.node) as session:
        yield session


@pytest.fixture
def case_rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """Random cases: per-submission when grading, fixed otherwise (see module docstring)."""
    backend = backend_of(request.config)
    material = backend.seed_material() if backend is not None else "fixed"
    digest = hashlib.sha256(f"{material}\0{request.node.nodeid}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))
