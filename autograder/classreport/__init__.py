"""The instructor's class report of a batch: ``report/index.html`` and one page per submission.

    python -m autograder report BATCH_DIR [--out DIR]

Written by every ``batch`` at the end, and by the ``report`` verb for an existing batch folder
(after a regrade or a resume).  ``analysis`` turns the records into numbers, ``messages``
groups failure messages, ``charts`` draws inline SVG, ``render`` writes the static site
(Jinja2 templates in ``templates/``, the shipped script and stylesheet in ``static/``).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["write_report", "add_parser"]


def __getattr__(name: str) -> Any:
    """``write_report`` imported on first use: the command line registers the ``report`` verb
    for every verb, and ``grade`` must not pay for Jinja2 and the charts (PEP 562)."""
    if name == "write_report":
        from .render import write_report
        return write_report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``report`` verb on ``subparsers``; returns it."""
    p = subparsers.add_parser(
        "report", help="write the class report (static HTML) of a batch folder",
        description="Write BATCH_DIR/report/index.html and one page per submission from the "
                    "records of a batch folder: status counts, score distributions, per-test "
                    "pass rates with grouped failure messages, flagged tests, time, models.")
    p.add_argument("batch_dir", metavar="BATCH_DIR", help="the --out folder of a batch")
    p.add_argument("--out", metavar="DIR", help="where to write the site (default: BATCH_DIR/report)")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    import sys
    import time

    from .. import config
    from .render import write_report
    batch = Path(args.batch_dir)
    if not (batch / "records").is_dir():
        print(f"report: {batch} has no records/ folder; pass the --out folder of a batch "
              f"(python -m autograder batch SUBMISSIONS_DIR --out DIR)", file=sys.stderr)
        return 2
    try:
        assignment = config.load(args.assignment)
    except config.ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    t0 = time.monotonic()
    index = write_report(batch, assignment, out=Path(args.out) if args.out else None)
    print(f"report: {index} ({time.monotonic() - t0:.1f} s)")
    return 0
