"""The prose of the document: ``reference/questions/qNN_<name>.md`` per question, ``_intro.md``
and ``_closing.md``, each a Jinja template rendered with the assignment and a :class:`_Context`
whose ``ref()`` resolves cross-references for the document at hand (a subset numbers its own
questions).  A rendered file splits into its ``## `` sections (:func:`split_sections`).
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import jinja2

from .. import config, paths
from .citations import anchor_of, slug


PROSE_DIR = "questions"                 # under reference/
INTRO, CLOSING = "_intro.md", "_closing.md"
#: Prose sections placed by the generator; every other section follows the functions.
TASK, HIDDEN, SELFTEST = "Task", "Hidden checks", "Self-test"
#: Sections the generator writes for every question (their anchors exist in every document).
GENERATED = ("Functions you write", "How it is graded", "Depends on", "Checking your work")


class HandoutError(RuntimeError):
    """The document cannot be made (a prose file missing or broken, a bad cross-reference)."""


def prose_dir(kit: Path | None = None) -> Path:
    return paths.reference_dir(kit) / PROSE_DIR


def prose_file(question: config.Question, kit: Path | None = None) -> Path:
    """``reference/questions/qNN_*.md`` of ``question`` (exactly one must exist)."""
    found = sorted(prose_dir(kit).glob(f"q{question.number:02d}_*.md"))
    if len(found) != 1:
        raise HandoutError(f"{prose_dir(kit)}: expected one q{question.number:02d}_<name>.md for "
                           f"{question.id} ({question.title}); found {[p.name for p in found]}")
    return found[0]


def split_sections(text: str, where: str) -> dict[str, str]:
    """``## Title`` sections of a rendered prose file, in order (text before the first: an
    error, so nothing is silently dropped)."""
    parts = re.split(r"(?m)^## +(.+?)\s*$", text)
    if parts[0].strip():
        raise HandoutError(f"{where}: text before the first '## ' section: {parts[0].strip()[:60]!r}")
    sections: dict[str, str] = {}
    for title, body in zip(parts[1::2], parts[2::2]):
        if title in sections:
            raise HandoutError(f"{where}: section {title!r} appears twice")
        sections[title] = body.strip()
    return sections


@dataclasses.dataclass
class _Context:
    kit: Path
    assignment: config.Assignment
    number: dict[str, int]          # question id -> its section number in this document
    general: dict[str, str]         # general section anchor -> title

    def ref(self, target: str, sub: str | None = None) -> str:
        """A markdown link to a question (``Q4``), one of its sections or a general section."""
        if re.fullmatch(r"Q\d+", target):
            if target not in self.number:
                return f"[{target} (not part of this assignment)](#{target.lower()})"
            q = self.assignment.question(target)
            label = f"§{self.number[target]} ({target} {q.title})"
            if sub:
                label = f"§{self.number[target]} ({target}) \"{sub}\""
            return f"[{label}](#{anchor_of(target, sub)})"
        key = slug(target)
        if key not in self.general:
            raise HandoutError(f"ref({target!r}): no general section of that name "
                               f"(known: {', '.join(self.general.values())})")
        return f"[§\"{self.general[key]}\"](#{key})"


def _jinja() -> jinja2.Environment:
    return jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              autoescape=False, trim_blocks=True, lstrip_blocks=True)


def _render_prose(path: Path, ctx: _Context, **values: Any) -> str:
    env = _jinja()
    try:
        return env.from_string(path.read_text("utf-8")).render(
            a=ctx.assignment, ref=ctx.ref, dataset=ctx.assignment.dataset, **values)
    except jinja2.TemplateError as exc:
        raise HandoutError(f"{path}: {type(exc).__name__}: {exc}") from None
