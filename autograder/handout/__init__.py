"""``python -m autograder handout``: the students' assignment document.

    python -m autograder [--assignment X] handout [--out DIR]

Writes ``DIR/ASSIGNMENT.md`` (renders on GitHub/GitLab: maths as ``$...$``) and
``DIR/ASSIGNMENT.html`` (one self-contained page: maths as MathML, which browsers render
natively, no script, no network), default ``DIR`` = ``build/handout/``.  ``build`` puts both
files into ``handout.zip``.

Every part of the document has one home:

* the function contracts are the docstrings the student template shows
  (:func:`autograder.template.api_contracts` on :func:`autograder.template.render_tree`'s text);
* points, files, functions, dependencies (``calls``), limits, the saved models' metrics and
  curves come from the assignment file (a subset assignment gets only its questions);
* the prose lives next to the reference: ``reference/questions/qNN_<name>.md`` per question
  (found by the question's number), ``_intro.md`` and ``_closing.md``.  Prose files are Jinja
  templates rendered with the question and the assignment (``q``, ``a``, ``model``, ``curve``,
  ``limits``) and :func:`ref`-style cross-references (``{{ ref("Q1") }}``,
  ``{{ ref("Q4", "Scripts") }}``, ``{{ ref("conventions") }}``) resolved at render time, so a
  subset's document numbers its own questions and no reference points at a missing one.

A question's prose file holds ``## `` sections: ``Task`` (first), ``Hidden checks`` (placed in
"How it is graded"), optionally ``Self-test`` (placed in "Checking your work"); any other
section (e.g. ``Conventions and accepted alternatives``, ``Scripts``) follows the generated
"Functions you write".

Citations: code and messages students read cite the document as ``ASSIGNMENT.md §Q4``,
``ASSIGNMENT.md §Q4 "Scripts"`` or ``ASSIGNMENT.md §"Conventions"`` (either quote style);
:func:`citations` finds them and :func:`anchor_of` gives the anchor each must resolve to.

The package: :mod:`.citations` (finding citations and checking that they resolve),
:mod:`.prose` (the prose files and their cross-references), :mod:`.markdown` (building the
document), :mod:`.page` (the HTML page); this module holds the verb and re-exports the names
the rest of the kit uses.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import config, paths, template
from .citations import (CITATION_RE, Citation, anchor_of, anchors, citations, citations_in,
                        dangling, slug)
from .markdown import LEFT_OUT, render_markdown
from .page import render_html
from .prose import (CLOSING, GENERATED, HIDDEN, INTRO, PROSE_DIR, SELFTEST, TASK, HandoutError,
                    _Context, prose_dir, prose_file, split_sections)

__all__ = ["DOCUMENT_MD", "DOCUMENT_HTML", "write", "documents", "main", "render_markdown",
           "render_html", "LEFT_OUT", "HandoutError", "CITATION_RE", "Citation", "anchor_of",
           "anchors", "citations", "citations_in", "dangling", "slug", "PROSE_DIR", "INTRO",
           "CLOSING", "TASK", "HIDDEN", "SELFTEST", "GENERATED", "_Context", "prose_dir",
           "prose_file", "split_sections"]

DOCUMENT_MD = "ASSIGNMENT.md"
DOCUMENT_HTML = "ASSIGNMENT.html"


def write(assignment: config.Assignment, out: Path, kit: Path | None = None) -> dict[str, Path]:
    """Write both files into ``out``; returns {file name: path}."""
    markdown = render_markdown(assignment, kit)
    page = render_html(markdown, assignment.name)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / DOCUMENT_MD).write_text(markdown, "utf-8")
    (out / DOCUMENT_HTML).write_text(page, "utf-8")
    return {DOCUMENT_MD: out / DOCUMENT_MD, DOCUMENT_HTML: out / DOCUMENT_HTML}


def documents(assignment: config.Assignment, kit: Path | None = None) -> dict[str, bytes]:
    """Both files as bytes, for the handout zip."""
    markdown = render_markdown(assignment, kit)
    return {DOCUMENT_MD: markdown.encode("utf-8"),
            DOCUMENT_HTML: render_html(markdown, assignment.name).encode("utf-8")}


def main(args: argparse.Namespace) -> int:
    kit = paths.kit_root()
    out = Path(args.out) if args.out else kit / "build" / "handout"
    try:
        assignment = config.load(args.assignment)
        written = write(assignment, out, kit)
    except (config.ConfigError, HandoutError, template.TemplateError) as exc:
        print(f"handout: {exc}", file=sys.stderr)
        return 2
    for name, path in written.items():
        print(f"{name:<16} {path}  ({path.stat().st_size / 1024:.0f} KB)")
    return 0
