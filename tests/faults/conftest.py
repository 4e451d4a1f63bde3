"""Shared set-up of the fault-injection suite: a small assignment (Q1 + Q3) with short limits,
and submissions made from the reference."""
from __future__ import annotations

from pathlib import Path

import pytest

from batchkit import patched_submission, reference_submission, subset_toml

#: Q3's softmax sleeps: a grading run is reliably in the middle of a test when it is signalled
SLEEPS = ("src/classifiers.py", "    shifted = logits - np.max(logits, axis=1, keepdims=True)\n",
          "    import time\n    time.sleep(300)\n    shifted = logits - np.max(logits, axis=1, keepdims=True)\n")


@pytest.fixture(scope="session")
def q1q3(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("faults-config")
    return subset_toml(d / "q1q3.toml", ["Q1", "Q3"],
                       limits={"test_timeout_s": "120", "cpu_s": "200", "memory_mb": "1024"},
                       container={"timeout_s": "300"})


@pytest.fixture(scope="session")
def sources(tmp_path_factory) -> dict[str, Path]:
    """One reference submission and one whose Q3 sleeps (copied per test)."""
    d = tmp_path_factory.mktemp("faults-subs")
    return {"ref": reference_submission(d / "ref", models=False),
            "sleeps": patched_submission(d / "sleeps", *SLEEPS)}
