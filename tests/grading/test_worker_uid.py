"""Two gradings on one host never share a worker uid.

Where the sandbox has no pid namespace (setpriv) a worker sweeps stray processes by uid, and
RLIMIT_NPROC counts a uid's processes across the machine, so a bare ``grade`` run as root
beside another one (or beside a batch) takes a job slot's uid for its run
(``batch.slots.own_worker_uid``), as batch jobs and ``validate`` do.
"""
from __future__ import annotations

import os

import pytest

from autograder import config, paths
from autograder.batch import slots
from autograder.grading import grade
from autograder.sandbox import launcher

UID_BASE = 64300


@pytest.fixture
def own_slots(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOGRADER_BATCH_SLOT_DIR", str(tmp_path / "slots"))
    monkeypatch.setenv("AUTOGRADER_BATCH_UID_BASE", str(UID_BASE))
    monkeypatch.delenv("AUTOGRADER_WORKER_UID", raising=False)


def test_the_uid_comes_from_a_slot_only_where_nobody_chose_one_and_root_can_switch(own_slots, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with slots.own_worker_uid("a") as first, slots.own_worker_uid("b") as second:
        assert (first, second) == (UID_BASE, UID_BASE + 1)
    with slots.own_worker_uid("c") as again:            # released: the lowest slot again
        assert again == UID_BASE
    monkeypatch.setenv("AUTOGRADER_WORKER_UID", "4242")   # the caller's choice stands
    with slots.own_worker_uid("d") as chosen:
        assert chosen is None
    monkeypatch.delenv("AUTOGRADER_WORKER_UID")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)      # not root: the uid cannot change
    with slots.own_worker_uid("e") as user:
        assert user is None


def _full_marks(result) -> bool:
    return bool(result.questions) and all(q.score == q.max_score for q in result.questions)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the worker under another uid")
def test_a_bare_grading_beside_another_runs_its_workers_under_a_uid_of_its_own(own_slots, monkeypatch):
    assignment = config.restrict(config.load(), ["Q1"])
    reference = paths.kit_root() / "reference"
    with slots.lease(batch="another grading") as other:
        result = grade.grade(reference, assignment=assignment, fixed_seed=True, models=False)
    if not launcher.STRATEGIES[result.worker["strategy"]].drops_uid:
        pytest.skip(f"the sandbox here ({result.worker['strategy']}) keeps the grader's uid")
    assert other == 0
    assert result.worker["uid"] == UID_BASE + 1            # slot 0 was the other grading's
    assert _full_marks(result)
    with slots.lease() as a, slots.lease() as b:          # the grading released its slot
        assert (a, b) == (0, 1)
    # control: a uid chosen by the caller (a batch job, the grading image) is used as it is
    monkeypatch.setenv("AUTOGRADER_WORKER_UID", str(UID_BASE + 10))
    result = grade.grade(reference, assignment=assignment, fixed_seed=True, models=False)
    assert result.worker["uid"] == UID_BASE + 10 and _full_marks(result)
