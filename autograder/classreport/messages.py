"""Failure messages of one test across a class: the message a test printed, and its *pattern*
(numbers, paths, shapes, addresses replaced by placeholders) so that "relative error 3.1e-2"
and "relative error 4.7e-1" fall into one group.

:func:`failure_message` takes a test's ``output`` from ``results.json`` (what the student
sees: "Hidden test 4 of 8 ...: failed.", "What it checks: ...", "Hint: ...") and keeps the
lines that say what went wrong; :func:`pattern` normalises one message for grouping.
"""
from __future__ import annotations

import re

# Order matters: paths and shapes before plain numbers.
_PATH = re.compile(r"(?:(?<=\s)|(?<=^)|(?<=['\"(=]))(?:[A-Za-z]:\\|~?/)[^\s'\"),:;]+")
_ADDR = re.compile(r"\b0x[0-9a-fA-F]+\b")
_SHAPE = re.compile(r"\(\s*(?:\d+\s*,\s*)+\d*\s*\)|\btorch\.Size\(\[[\d,\s]*\]\)")
_NUMLIST = re.compile(r"\[\s*\[?\s*[-+]?[\d.eE+-]+(?:\s*[,\s]\s*\[?[-+]?[\d.eE+-]+\]?)+\s*\]?\s*\]")
_NUMBER = re.compile(r"(?<![A-Za-z_\d.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_\d])")
_SPACE = re.compile(r"\s+")

#: lines of a test's output that describe the test, not the failure
_DESCRIPTIVE = (re.compile(r"^(Public|Hidden) test .*: (passed|failed)\.(\s*\(.*\))?$"),
                re.compile(r"^What it checks: "),
                re.compile(r"^Partial credit: "),
                re.compile(r"^Note: this question calls "))
MAX_MESSAGE = 300


def pattern(message: str) -> str:
    """``message`` with paths, addresses, shapes, number lists and numbers replaced by
    ``<path>``, ``<addr>``, ``<shape>``, ``<numbers>``, ``<n>``; whitespace collapsed."""
    text = _PATH.sub("<path>", message)
    text = _ADDR.sub("<addr>", text)
    text = _SHAPE.sub("<shape>", text)
    text = _NUMLIST.sub("<numbers>", text)
    text = _NUMBER.sub("<n>", text)
    return _SPACE.sub(" ", text).strip()


def failure_message(output: str, descriptive: frozenset[str] = frozenset()) -> str:
    """The part of a failed test's ``output`` that says what went wrong: its lines without the
    kit's framing ("Hidden test k of n: failed.", "What it checks: ...") and without the lines
    in ``descriptive`` (those a passing run of the same test prints too: the test's docstring);
    a leading "Hint: " is dropped.  The first meaningful line, at most :data:`MAX_MESSAGE`
    characters; ``"(no message)"`` when nothing is left."""
    for raw in (output or "").splitlines():
        line = raw.strip()
        if not line or line in descriptive or any(p.match(line) for p in _DESCRIPTIVE):
            continue
        if line.startswith("Hint: "):
            line = line[len("Hint: "):]
        return line[:MAX_MESSAGE]
    return "(no message)"
