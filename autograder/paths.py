"""Where the kit's folders are.

The kit root is the folder holding ``assignment.toml``, ``reference/``, ``hidden_tests/`` and
``student_template/``: ``$AUTOGRADER_KIT_ROOT`` when set, else the folder above this package
(a checkout or an editable install), else the current directory.  In the grading image it is
``/autograder/source``.
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def kit_root() -> Path:
    """The kit root (see module docstring)."""
    env = os.environ.get("AUTOGRADER_KIT_ROOT")
    if env:
        return Path(env).resolve()
    candidate = PACKAGE_DIR.parent
    if (candidate / "assignment.toml").is_file():
        return candidate
    return Path.cwd().resolve()


def reference_dir(root: Path | None = None) -> Path:
    return (root or kit_root()) / "reference"


def template_dir(root: Path | None = None) -> Path:
    return (root or kit_root()) / "student_template"


def public_tests_dir(root: Path | None = None) -> Path:
    return template_dir(root) / "tests"


def hidden_tests_dir(root: Path | None = None) -> Path:
    return (root or kit_root()) / "hidden_tests"


def default_assignment(root: Path | None = None) -> Path:
    return (root or kit_root()) / "assignment.toml"
