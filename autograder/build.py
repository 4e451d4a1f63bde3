"""``python -m autograder build``: the Gradescope upload, the student handout, the image context.

    python -m autograder build [--out DIR] [--context DIR] [--no-torch] [--wheelhouse DIR]

Writes, under ``DIR`` (default ``build/``):

``autograder.zip``  Gradescope's upload.  Gradescope unpacks it into ``/autograder/source``,
                    runs ``setup.sh`` there once (pip and apt on its Ubuntu image), then runs
                    ``run_autograder`` per submission.  Holds the kit (``autograder/`` +
                    ``pyproject.toml``), ``assignment.toml``, ``hidden_tests/``, ``reference/``,
                    the public tests (``student_template/tests`` + ``pytest.ini``) and
                    ``datasets/<name>/public`` + ``private`` (the private labels).
``handout.zip``     for students: the template's ``src/``, ``tests/`` and ``pytest.ini``, the
                    public data split, a README, ``requirements.txt``, the PUBLIC part of the
                    kit (the ``autograder`` package: it holds no test, solution or label) and
                    ``assignment.toml`` with the salt replaced, so ``python -m autograder
                    selftest`` works in the unzipped folder.  Before writing it, the build
                    scans it (:func:`handout_leaks`) and refuses to write a handout holding a
                    hidden test, a line of a reference solution, or a private data file.

``--context DIR`` also writes the grading image's build context (see ``Dockerfile``):
``DIR/source/`` (the grading inputs, without the kit package: the image installs it as a
wheel), ``DIR/wheels/{base,torch}/`` hard-linked from the wheelhouse
(``scripts/build-wheelhouse.sh``, default ``build/wheelhouse``) and ``DIR/wheels/kit/`` with a
freshly built wheel of this project.

Which questions, data set and salt: ``--assignment`` (default the kit's ``assignment.toml``);
the selected questions' public tests only go into the handout.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from . import config, paths, template
from .packaging import BuildError
from .packaging.image import image_context
from .packaging.leaks import handout_leaks
from .packaging.trees import grading_tree, handout_tree, write_zip


# ---------------------------------------------------------------------------- the verb
def build(kit: Path, assignment: config.Assignment, out: Path, context: Path | None = None,
          wheelhouse: Path | None = None, with_torch: bool = True) -> dict[str, Path]:
    kit, out = Path(kit), Path(out)
    written: dict[str, Path] = {}
    written["autograder.zip"] = write_zip(grading_tree(kit, assignment), out / "autograder.zip")
    handout = handout_tree(kit, assignment)
    leaks = handout_leaks(handout, kit, assignment)
    if leaks:
        raise BuildError("the handout would leak secrets; not written:\n  " + "\n  ".join(leaks))
    written["handout.zip"] = write_zip(handout, out / "handout.zip")
    if context is not None:
        written["context"] = image_context(kit, assignment, context,
                                           wheelhouse or kit / "build" / "wheelhouse", with_torch)
    return written


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``build`` verb on ``subparsers``; returns it."""
    p = subparsers.add_parser(
        "build", help="write autograder.zip (Gradescope) and handout.zip (students)",
        description="Write autograder.zip (Gradescope's upload: setup.sh, run_autograder, the "
                    "kit, hidden tests, reference, private labels) and handout.zip (the "
                    "template, public tests and data, the public kit; checked for leaks), and "
                    "optionally the grading image's build context.")
    p.add_argument("--out", metavar="DIR", help="output folder (default: build/ in the kit)")
    p.add_argument("--context", metavar="DIR",
                   help="also write the image build context here (for Dockerfile)")
    p.add_argument("--wheelhouse", metavar="DIR",
                   help="wheels made by scripts/build-wheelhouse.sh (default build/wheelhouse)")
    p.add_argument("--no-torch", action="store_true",
                   help="image context without torch (a numpy-only assignment)")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    kit = paths.kit_root()
    try:
        assignment = config.load(args.assignment)
        written = build(kit, assignment, Path(args.out) if args.out else kit / "build",
                        Path(args.context) if args.context else None,
                        Path(args.wheelhouse) if args.wheelhouse else None,
                        with_torch=not args.no_torch)
    except (config.ConfigError, BuildError, template.TemplateError) as exc:
        print(f"build: {exc}", file=sys.stderr)
        return 2
    for name, path in written.items():
        size = (path.stat().st_size if path.is_file() else
                sum(p.stat().st_size for p in path.rglob("*") if p.is_file()))
        print(f"{name:<15} {path}  ({size / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignment")
    sub = parser.add_subparsers()
    add_parser(sub)
    a = parser.parse_args(["build", *sys.argv[1:]])
    raise SystemExit(a.func(a))
