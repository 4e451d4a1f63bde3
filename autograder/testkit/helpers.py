"""Helpers for writing test functions: marks, plain checks, seeds and partial credit."""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator

import numpy as np

from .checks import CheckFailed


def self_check(reason: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a public test as a self-check for students that carries no points when grading
    (weight 0, gradescope-utils' ``__weight__`` attribute), e.g. a golden that depends on one of
    several initialisations ASSIGNMENT.md §Q4 "Initialisation" allows.  It still runs and its result is shown."""
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__weight__ = 0            # type: ignore[attr-defined]
        fn.__self_check__ = reason   # type: ignore[attr-defined]
        return fn
    return mark


def check(condition: Any, message: str) -> None:
    """Fail with ``message`` unless ``condition``: raises :class:`CheckFailed`.  The message is
    shown to students, so it must never contain an expected value."""
    if not condition:
        raise CheckFailed(message)


def seed_from(rng: np.random.Generator, nonzero: bool = False) -> int:
    """A seed to hand to student code, drawn from the test's generator ``rng`` (``case_rng``):
    an int in ``[0, 2**31 - 1)``, or in ``[1, 2**31 - 1)`` with ``nonzero`` (the handouts'
    ``if seed:`` ignores a seed of 0)."""
    return int(rng.integers(1 if nonzero else 0, 2**31 - 1))


class PartialCredit:
    """Partial credit over independent parts of one test (gradescope-utils' ``@partial_credit``).

    ``set_score`` is the function the decorator passes to the test; the score starts at 0 here
    (so a test that fails before its parts gets nothing).  Each ``with credit.part(share):``
    block adds ``share`` to the score if it finishes, and keeps the message of the
    :class:`CheckFailed` it raises otherwise (any other exception propagates, and the test keeps
    the score last set).  :meth:`finish` sets the score and raises one
    :class:`CheckFailed` joining the kept messages with ``"; "``, if any part failed.
    """

    def __init__(self, set_score: Callable[[float], None]) -> None:
        self._set_score = set_score
        self.score = 0.0
        self.failures: list[str] = []
        set_score(0.0)

    @contextlib.contextmanager
    def part(self, share: float) -> Iterator[None]:
        """One part worth ``share`` points: see the class docstring."""
        try:
            yield
        except CheckFailed as exc:
            self.failures.append(str(exc))
            return
        self.score += share

    def finish(self) -> float:
        """Set the score reached; raise :class:`CheckFailed` if a part failed.  Returns the score."""
        self._set_score(self.score)
        if self.failures:
            raise CheckFailed("; ".join(self.failures))
        return self.score
