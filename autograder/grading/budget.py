"""Time budgets of one grading run: each question's and the whole submission's.

A test's own ``test_timeout_s`` stops one hanging test, but a function that hangs is usually
called by every test of its question and of the questions that call it: 22 tests of 180 s
would keep a submission grading for an hour, past Gradescope's autograder timeout, which then
writes no results at all.  So the time tests spend in student code is also counted per
question (``question_timeout_s``, at least one ``test_timeout_s``) and over the whole
submission (``[assignment] tests_timeout_s``).  A test starts with what is left of all three;
once a budget is used up, the remaining tests it covers fail at their first call into student
code with a message that says which budget ran out.  Saved models keep their own
``total_timeout_s``, so ``Assignment.time_bound_s`` bounds a whole grading run.
"""
from __future__ import annotations

import dataclasses

from ..config import Assignment

#: A test is not started with less than this many seconds left: it fails as "not run".
MIN_START_S = 0.5


@dataclasses.dataclass
class Allowance:
    """What one test may spend: ``seconds`` (its ``test_timeout_s`` or less), and when less,
    ``reason``, the budget that limits it (for the timeout message)."""

    seconds: float
    reason: str = ""

    @property
    def exhausted(self) -> bool:
        return self.seconds < MIN_START_S


class TimeBudget:
    """Counts the seconds spent in student code per question and in all."""

    def __init__(self, assignment: Assignment):
        self.assignment = assignment
        self.total_s = float(assignment.tests_timeout_s)
        self.spent: dict[str, float] = {}
        self.spent_total = 0.0
        self.timeouts: dict[str, list[str]] = {}

    def allowance(self, qid: str | None, test_timeout_s: float) -> Allowance:
        """The seconds the next test of ``qid`` may spend in student code."""
        candidates = [(float(test_timeout_s), "")]
        if qid is not None:
            budget = self.assignment.question_budget_s(qid)
            candidates.append((budget - self.spent.get(qid, 0.0),
                               f"question {qid}'s time budget of {budget:g} s for all its tests"))
        candidates.append((self.total_s - self.spent_total,
                           f"the submission's time budget of {self.total_s:g} s for all tests"))
        seconds, reason = min(candidates, key=lambda c: c[0])
        return Allowance(max(0.0, seconds), reason if seconds < test_timeout_s else "")

    def spend(self, qid: str | None, seconds: float, timed_out_in: str | None = None) -> None:
        if qid is not None:
            self.spent[qid] = self.spent.get(qid, 0.0) + seconds
            if timed_out_in:
                self.timeouts.setdefault(qid, []).append(timed_out_in)
        self.spent_total += seconds

    def used_up(self, qid: str | None, allowance: Allowance) -> str:
        """The message of a test that was not run because ``allowance`` is exhausted."""
        hung = self.timeouts.get(qid or "", [])
        cause = (f" (earlier tests timed out in {', '.join(sorted(set(hung))[:3])})" if hung else "")
        return (f"not run: {allowance.reason or 'the time budget'} was used up by earlier "
                f"tests{cause}")
