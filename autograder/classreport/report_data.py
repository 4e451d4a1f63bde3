"""The class report's numbers as data: what :func:`.analysis.analyse` returns (a
:class:`ClassReport` of :class:`Student`, :class:`TestStat`, :class:`QuestionStat` and
:class:`ModelStat`) and the submission statuses a batch records."""
from __future__ import annotations

import dataclasses
import re
import statistics
from collections import Counter
from typing import Any


STATUSES = ("ok", "timeout", "oom", "crashed", "rejected", "failed", "error")
STATUS_TEXT = {"ok": "graded", "timeout": "timed out", "oom": "out of memory", "crashed": "crashed",
               "rejected": "rejected", "failed": "grader failed", "error": "could not run"}
_QID = re.compile(r"^(Q\d+)\b\s*(.*?)(?:\s+·\s+|$)")


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
