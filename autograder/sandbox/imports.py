"""The grader's side of import hangs (the worker's side is ``worker/imports.py``).

A child that times out while importing a submission file reports, in the zygote's ``end``
reply, the files it was still importing.  The worker records each such file with the seconds
its import was given (:func:`record_hung_import`); a later test that allows the import no more
time gets a child that refuses the file at once (:func:`refuses_import`), and its failure is
told from this side's own record (:func:`refused_import_message`), never from the sandbox's.
"""
from __future__ import annotations

from typing import Any

#: A file whose import did not finish in ``s`` seconds is refused in later tests that allow it
#: at most ``IMPORT_RETRY_FACTOR * s + IMPORT_RETRY_SLACK_S`` seconds; a test allowing more
#: tries again (a slow but finite import is not refused because a shorter test ran first).
IMPORT_RETRY_FACTOR = 1.1
IMPORT_RETRY_SLACK_S = 0.5
#: The type name the worker reports for a refused import (worker/imports.py: ImportTimedOut).
IMPORT_REFUSED = "ImportTimedOut"
_SLOW_IMPORT_HINT = ("code at the top level of a module runs whenever it is imported: move slow "
                     "work into functions, or under `if __name__ == \"__main__\":`")


def refuses_import(given_s: float, allowed_s: float) -> bool:
    """True when an import that did not finish in ``given_s`` seconds is not worth retrying in
    a test that allows ``allowed_s`` seconds."""
    return allowed_s <= IMPORT_RETRY_FACTOR * given_s + IMPORT_RETRY_SLACK_S


def importing_from(status: dict[str, Any] | None) -> list[tuple[float, str]]:
    """The (monotonic start, relative path) of the submission files a dead child was still
    importing, outermost first, from the zygote's ``end`` reply.  The text comes from the
    sandbox: anything malformed is dropped."""
    text = status.get("importing") if isinstance(status, dict) else None
    if not isinstance(text, str):
        return []
    out = []
    for line in text[:8192].splitlines()[-32:]:
        start, _, rel = line.partition(" ")
        try:
            when = float(start)
        except ValueError:
            continue
        parts = rel.split("/")
        if (not rel or len(rel) > 200 or rel.startswith("/") or ".." in parts
                or not rel.isprintable() or when != when):
            continue
        out.append((when, rel))
    return out


def record_hung_import(status: dict[str, Any] | None, now: float, limit: float, capped: bool,
                       hung_imports: dict[str, float]) -> str:
    """For a child that timed out while importing a submission file: record the file in
    ``hung_imports`` with the seconds its import was given, and return the timeout message's
    tail (``capped``: a grading time budget, not the test's own limit, cut the import short)."""
    importing = importing_from(status)
    if not importing:
        return ""
    began, rel = importing[-1]
    given = now - began
    given = min(given, limit) if given >= 0.0 else limit   # a forged page, a clock that disagrees
    hung_imports[rel] = max(given, hung_imports.get(rel, 0.0))
    if capped:
        return (f" while importing {rel}; later tests that allow the import no more than "
                f"{given:.3g} s fail at once")
    return (f" while importing {rel}: its top-level code did not finish; later tests that "
            f"import it fail at once instead of waiting again ({_SLOW_IMPORT_HINT})")


def refused_import_message(reply: dict[str, Any], where: str, refused: dict[str, float],
                           cap_reason: str, budget_s: float) -> str | None:
    """The failure of a request the child failed by refusing one of ``refused`` (file -> the
    seconds its import was given earlier), or None when the reply is another failure.  The
    file named by the sandbox is used only if it is one this side told the child to refuse."""
    err = reply.get("error") or {}
    if not isinstance(err, dict) or err.get("type") != IMPORT_REFUSED or not refused:
        return None
    rel = str(err.get("message", ""))
    if rel not in refused:
        rel = sorted(refused)[0]
    given = refused[rel]
    hint = f" ({_SLOW_IMPORT_HINT})" if not cap_reason else f" (what is left of {cap_reason})"
    return (f"not run: importing {rel} timed out after {given:.3g} s in an earlier test, "
            f"and this test allows it no longer ({budget_s:.3g} s); {where} needs it{hint}")
