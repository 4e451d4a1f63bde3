"""What a submission's zygotes preload: the libraries a question's files import, imported once
in the zygote its tests fork from (:mod:`..sandbox.zygotes`) instead of in every test's child."""
from __future__ import annotations

import re
from pathlib import Path

from ..config import Assignment

#: libraries a question's own zygote imports once for all its tests when its code imports them
#: (each test's child would import them afresh otherwise)
PRELOADABLE = ("torch",)


def preload_by_question(assignment: Assignment, code_root: Path) -> dict[str, list[str]]:
    """For each selected question, the :data:`PRELOADABLE` libraries its files under
    ``code_root`` (the reference, or the staged submission when grading a handout) import."""
    patterns = {name: re.compile(rf"^\s*(import|from)\s+{name}\b", re.M) for name in PRELOADABLE}
    found: dict[str, list[str]] = {}
    for q in assignment.questions:
        texts = []
        for rel in q.files:
            try:
                texts.append((code_root / rel).read_text(errors="replace"))
            except OSError:
                continue
        found[q.id] = [name for name, pattern in patterns.items()
                       if any(pattern.search(text) for text in texts)]
    return found


def heavy_questions(preloads: dict[str, list[str]]) -> set[str]:
    """The questions whose zygote preloads something (started in the background while the
    others' tests run): :meth:`~autograder.config.Assignment.run_order` runs them after the
    questions of their rank that preload nothing, so their first test does not wait for it."""
    return {q for q, mods in preloads.items() if mods}


#: What a preloaded library imports lazily on first use, with the pattern of the code that
#: uses it: torch's first optimiser step imports torch._dynamo (sympy, mpmath: ~900 modules,
#: about 1 s quiet and 8 s under load) in every test's child.  Preloaded only where the
#: submission's files of a question preloading the library use that (a template's empty
#: functions would wait for the import for nothing); importing starts no threads.
COMPANIONS = {"torch": (("torch._dynamo",), re.compile(r"\boptim\b"))}


def with_companions(preloads: dict[str, list[str]], assignment: Assignment,
                    submission: Path) -> dict[str, list[str]]:
    """``preloads`` (:func:`preload_by_question`) with each library's :data:`COMPANIONS` added
    to every question preloading it, when the submission's files of one of those questions
    match the companion's pattern (one zygote per library: the same list for all of them)."""
    out = {q: list(mods) for q, mods in preloads.items()}
    files = {q.id: q.files for q in assignment.questions}
    for name, (modules, pattern) in COMPANIONS.items():
        users = [q for q, mods in preloads.items() if name in mods]
        texts = []
        for q in users:
            for rel in files.get(q, []):
                try:
                    texts.append((submission / rel).read_text(errors="replace"))
                except OSError:
                    continue
        if any(pattern.search(text) for text in texts):
            for q in users:
                out[q] += [m for m in modules if m not in out[q]]
    return out
