"""A grading run stopped by a signal (Gradescope ends an autograder with SIGTERM at its time
limit; an instructor presses Ctrl-C): the student still gets the tests graded so far.

:func:`outcomes` keeps every test that ran to the end as it was graded and marks the rest —
the test that was running when the signal came, the tests after it and the saved models not
yet scored — failed with :data:`NOT_RUN`; :func:`banner` is the line put at the top of the
results' output.  ``grade.grade`` builds the document from these exactly as it builds a full
one, so the file is valid, its points add up, and nothing graded is lost.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from .. import stopsignals
from .collector import Collector, Outcome

NOT_RUN = "not run: grading was stopped"


def _not_run(o: Outcome, why: str) -> Outcome:
    return dataclasses.replace(o, passed=False, fraction=0.0, message=why,
                               failure_kind="stopped", report=o.report)


def reason() -> str:
    signum = stopsignals.received()
    return f"{NOT_RUN} ({stopsignals.name(signum)}, e.g. the autograder's time limit)"


def outcomes(assignment: Any, collector: Collector | None,
             model_outcomes: list[Outcome]) -> list[Outcome]:
    """Every test of the run: the finished ones as graded, the others marked not run."""
    why = reason()
    out: list[Outcome] = []
    if collector is not None:
        for o in collector.results():
            out.append(o if o.nodeid in collector.finished else _not_run(o, why))
    from ..scoring.spec import parse as parse_model
    scored = {o.question for o in model_outcomes}
    out += model_outcomes
    for q in assignment.questions:
        if q.model and q.id not in scored:
            out.append(Outcome(nodeid=f"{q.id}::saved-model", question=q.id, kind="model",
                               name="saved model", doc="", weight=parse_model(q.model).weight, number=None,
                               visibility="visible", hide_errors=None, partial=True,
                               passed=False, fraction=0.0, message=why, failure_kind="stopped"))
    return out


def banner(all_outcomes: list[Outcome], seconds: float) -> str:
    ran = sum(o.failure_kind != "stopped" for o in all_outcomes)
    return (f"Grading was stopped after {seconds:.0f} s ({stopsignals.name(stopsignals.received())}, "
            f"e.g. the autograder's time limit): {ran} of {len(all_outcomes)} tests were graded and "
            f"are shown below; the others are marked \"{NOT_RUN}\" and score 0.")
