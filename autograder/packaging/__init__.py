"""Building a release of the assignment (``python -m autograder build``, :mod:`autograder.build`).

:mod:`.trees`   what goes into Gradescope's ``autograder.zip``, the students' ``handout.zip`` and
                the image's ``source/``, the scripts generated for them, and writing zips;
:mod:`.leaks`   the scan that refuses a handout holding a hidden test, a line of a reference
                solution, a private data file or the salt;
:mod:`.image`   the grading image's build context (wheels and the kit's own wheel).
"""
from __future__ import annotations

import fnmatch
from pathlib import Path, PurePosixPath
from typing import Union

from .. import config, template

#: Source of one archive member: a file on disk or bytes.
Member = Union[Path, bytes]

#: Never packed anywhere.
JUNK = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".hypothesis", "*.egg-info", ".DS_Store")


class BuildError(RuntimeError):
    """The build cannot be made (missing inputs, or the handout would leak a secret)."""


def _excluded(rel: PurePosixPath, patterns: tuple[str, ...] = JUNK) -> bool:
    """Whether any part of ``rel`` matches one of ``patterns`` (fnmatch)."""
    return any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in patterns)


def _template_exclude(assignment: config.Assignment) -> tuple[str, ...]:
    """What the template leaves out for ``assignment`` (its ``[template] exclude`` too)."""
    extra = assignment.raw.get("template", {}).get("exclude", [])
    return template.DEFAULT_EXCLUDE + tuple(extra)


def _bytes(member: Member) -> bytes:
    """The content of an archive member."""
    return member if isinstance(member, bytes) else Path(member).read_bytes()
