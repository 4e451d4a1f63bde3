"""Citations of the students' document in code and messages, and whether they resolve.

Code and messages students read cite the document as ``ASSIGNMENT.md §Q4``,
``ASSIGNMENT.md §Q4 "Scripts"`` or ``ASSIGNMENT.md §"Conventions"`` (either quote style):
:func:`citations` finds them, :func:`anchor_of` gives the anchor each must resolve to, and
:func:`dangling` lists those a rendered document lacks (``tests/test_handout.py`` fails on any).
"""
from __future__ import annotations

import dataclasses
import re


#: A citation of the document in code or a message: ``ASSIGNMENT.md §Q4 "Scripts"``.
CITATION_RE = re.compile(
    r"ASSIGNMENT\.md(?:\s*§\s*(?:(?P<qid>Q\d+)(?:\s+(?P<q1>['\"])(?P<sub>[^'\"]+)(?P=q1))?"
    r"|(?P<q2>['\"])(?P<general>[^'\"]+)(?P=q2)))?")


def slug(text: str) -> str:
    """The anchor form of a heading: lower case, runs of other characters as one ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def anchor_of(qid: str | None, sub: str | None = None, general: str | None = None) -> str:
    """The anchor a citation resolves to: ``q4``, ``q4-scripts`` or ``conventions``."""
    if qid:
        return qid.lower() + (f"-{slug(sub)}" if sub else "")
    return slug(general or "")


@dataclasses.dataclass(frozen=True)
class Citation:
    text: str
    anchor: str | None      # None: names the file only ("see ASSIGNMENT.md")


def citations(text: str) -> list[Citation]:
    """Every citation of the document in ``text``."""
    out = []
    for m in CITATION_RE.finditer(text):
        if m.group("qid") or m.group("general"):
            out.append(Citation(m.group(0), anchor_of(m.group("qid"), m.group("sub"), m.group("general"))))
        else:
            out.append(Citation(m.group(0), None))
    return out


def _python_strings(source: str) -> list[str]:
    """The values of ``source``'s string expressions as Python builds them: implicit and
    ``+`` concatenations joined, escapes decoded, an f-string's fields as ``{}`` (so a
    citation split across literals, or written ``\\"Scripts\\"``, is read whole)."""
    import ast
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []

    def value(node) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = value(node.left), value(node.right)
            if left is not None or right is not None:
                return (left or "{}") + (right or "{}")
        return None

    return [v for node in ast.walk(tree) if (v := value(node)) is not None and "ASSIGNMENT" in v]


def citations_in(name: str, text: str) -> list[Citation]:
    """Every citation of the document in file ``name`` with contents ``text``: in its text
    (comments, Markdown, TOML) and, for Python, in its strings as the program builds them."""
    found = citations(text)
    if name.endswith(".py"):
        for value in _python_strings(text):
            found += citations(value)
    return list(dict.fromkeys(found))


def dangling(files: dict[str, str], markdown: str) -> list[str]:
    """``file: citation`` for each citation in ``files`` ({name: text}) that names a section
    the document ``markdown`` does not have."""
    have = anchors(markdown)
    return [f"{name}: {c.text!r} (no #{c.anchor})" for name, text in sorted(files.items())
            for c in citations_in(name, text) if c.anchor is not None and c.anchor not in have]


def anchors(markdown: str) -> set[str]:
    """The anchors a rendered document defines (``<a id="...">``)."""
    return set(re.findall(r'<a id="([^"]+)"></a>', markdown))
