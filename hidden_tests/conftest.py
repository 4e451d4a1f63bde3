"""Fixtures of the hidden tests.  These run only in the trusted grader process.

``ref``      the reference solution, imported in-process (trusted code): expected values are
             computed from it, never stored where a student could see them.
``student``  (from autograder.pytest_plugin) the submission, through the sandbox.
``case_rng`` (from autograder.pytest_plugin) random cases seeded per submission.
"""
from pathlib import Path

import pytest

from autograder.student import InProcessStudent

REFERENCE = Path(__file__).resolve().parent.parent / "reference"


@pytest.fixture(scope="session")
def ref() -> InProcessStudent:
    """The reference solution (``ref.layers.linear_forward(...)``), in-process."""
    return InProcessStudent(REFERENCE)
