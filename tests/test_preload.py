"""The worker's zygote imports torch once when the graded questions use it (grade.preload_modules),
so each test's child starts without paying torch's import; the child's memory limit still holds
for what the test itself allocates."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder import config, paths
from autograder.config import Limits
from autograder.grading import grade as grading
from autograder.sandbox.client import Worker
from autograder.sandbox.remote import RemoteStudent
from autograder.student import StudentError

KIT = paths.kit_root()
ASSIGNMENT = config.load()

PROBE = '''
import sys


def preloaded():
    return "torch" in sys.modules


def allocate(mb):
    import numpy as np
    a = np.ones(int(mb) * 2**20 // 8)
    a[::4096] = 2.0
    return float(a.sum())
'''


def _subset(*ids):
    raw = json.loads(json.dumps(ASSIGNMENT.raw))
    raw["assignment"] = {**raw["assignment"], "include": list(ids)}
    return config.parse(raw, ASSIGNMENT.path, paths.reference_dir(KIT))


@pytest.mark.parametrize("ids, expected", [
    (("Q1", "Q3", "Q10"), []),
    (("Q6",), ["torch"]),
    (("Q9",), ["torch"]),
    (("Q1", "Q9"), ["torch"]),
])
def test_torch_is_preloaded_only_where_a_graded_question_imports_it(ids, expected):
    assert grading.preload_modules(_subset(*ids), paths.reference_dir(KIT)) == expected


def test_a_submission_whose_files_are_missing_preloads_nothing(tmp_path):
    assert grading.preload_modules(_subset("Q6", "Q9"), tmp_path) == []


@pytest.fixture(scope="module")
def preloading_worker(tmp_path_factory):
    root = tmp_path_factory.mktemp("preload-sub")
    (root / "src").mkdir()
    (root / "src" / "__init__.py").write_text("")
    (root / "src" / "probe.py").write_text(PROBE)
    # the worker's own limit (the assignment's largest) holds torch; each test gets less
    limits = Limits.merged({"test_timeout_s": 20, "cpu_s": 20, "memory_mb": 6144})
    w = Worker(root, limits=limits, preload=["torch"], hide=[KIT])
    w.start()
    yield w
    w.close()


def _call(worker, name, *args):
    session = worker.session(Limits.merged({"test_timeout_s": 20, "cpu_s": 20, "memory_mb": 512}))
    try:
        return getattr(RemoteStudent(session).probe, name)(*args)
    finally:
        session.close()


def test_the_child_finds_torch_imported_and_its_memory_limit_still_holds(preloading_worker):
    assert _call(preloading_worker, "preloaded") is True
    assert _call(preloading_worker, "allocate", 200) > 0               # inside the test's 512 MB
    with pytest.raises(StudentError) as err:                           # far beyond it, though
        _call(preloading_worker, "allocate", 2048)                     # the worker holds 6 GB
    assert err.value.type_name == "MemoryError"
