"""Shared set-up of the fault-injection suite: a small assignment (Q1 + Q3) with short limits,
and submissions made from the reference."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.kits.batchkit import patched_submission, reference_submission, subset_toml

#: Q3's softmax sleeps: a grading run is reliably in the middle of a test when it is signalled
SLEEPS = ("src/classifiers.py", "    shifted = logits - np.max(logits, axis=1, keepdims=True)\n",
          "    import time\n    time.sleep(300)\n    shifted = logits - np.max(logits, axis=1, keepdims=True)\n")
#: the same in Q1's dense layer (for batches graded on Q1 alone, the quickest question)
SLEEPS_Q1 = ("src/layers.py", "    out = X.reshape(X.shape[0], -1) @ W + b\n",
             "    import time\n    time.sleep(300)\n    out = X.reshape(X.shape[0], -1) @ W + b\n")


@pytest.fixture(scope="session")
def q1q3(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("faults-config")
    return subset_toml(d / "q1q3.toml", ["Q1", "Q3"],
                       limits={"test_timeout_s": "120", "cpu_s": "200", "memory_mb": "1024"},
                       container={"timeout_s": "300"})


@pytest.fixture(scope="session")
def q1(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("faults-config-q1")
    return subset_toml(d / "q1.toml", ["Q1"],
                       limits={"test_timeout_s": "120", "cpu_s": "200", "memory_mb": "1024"},
                       container={"timeout_s": "300"})


@pytest.fixture(scope="session")
def sources(tmp_path_factory) -> dict[str, Path]:
    """The reference, and submissions whose Q3 or Q1 sleeps (copied per test)."""
    d = tmp_path_factory.mktemp("faults-subs")
    return {"ref": reference_submission(d / "ref", models=False),
            "sleeps": patched_submission(d / "sleeps", *SLEEPS),
            "sleeps-q1": patched_submission(d / "sleeps-q1", *SLEEPS_Q1)}
