"""Fixtures shared across tests/ (the podman-marked tests' grading image: built once per session)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def image():
    """The grading image (tests/kits/containerkit.py): built, or brought up to date, once per
    session; skips where podman cannot run."""
    from tests.kits.containerkit import build_image
    return build_image()
