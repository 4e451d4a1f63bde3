"""The trust boundary, enforced statically: the code that runs beside student code
(``autograder/worker/``, copied alone into the sandbox) imports nothing of the grader.

A worker module may import the standard library, third-party packages (numpy, torch, ...) and
its sibling worker modules; an import of ``autograder.*`` or a relative import reaching above
``worker/`` would either fail inside the sandbox (the kit is hidden there) or, where it did
not, put grader code beside the student's.
"""
from __future__ import annotations

import ast
from pathlib import Path

from autograder import paths

WORKER = paths.kit_root() / "autograder" / "worker"


def grader_imports(source: str, siblings: set[str]) -> list[str]:
    """Each import in ``source`` that reaches the grader: ``"line N: what"``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names
                      if a.name == "autograder" or a.name.startswith("autograder.")]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level == 0 and (module == "autograder" or module.startswith("autograder.")):
                found.append(f"line {node.lineno}: from {module} import ...")
            elif node.level >= 2:
                found.append(f"line {node.lineno}: from {'.' * node.level}{module} import ...")
            elif node.level == 1:
                names = [module.split(".")[0]] if module else [a.name for a in node.names]
                found += [f"line {node.lineno}: from .{module} import {n} (no worker/{n}.py)"
                          for n in names if n not in siblings]
    return found


def test_no_worker_module_imports_the_grader():
    files = sorted(WORKER.glob("*.py"))
    assert len(files) >= 6, files
    siblings = {p.stem for p in files}
    problems = {p.name: grader_imports(p.read_text(), siblings) for p in files}
    assert {k: v for k, v in problems.items() if v} == {}


def test_the_check_finds_each_way_of_reaching_the_grader():
    siblings = {"protocol", "serve"}
    source = "\n".join([
        "import os, numpy",                         # allowed
        "from . import protocol",                   # allowed: a sibling
        "from .serve import handle_one",            # allowed
        "import autograder.config",                 # 4
        "from autograder.grading import grade",     # 5
        "from .. import testkit",                   # 6
        "from ..sandbox.client import Worker",      # 7
        "from . import student",                    # 8: not a worker module
        "def f():\n    import autograder",          # 10: inside a function too
    ])
    found = grader_imports(source, siblings)
    assert [f.split(":")[0] for f in found] == ["line 4", "line 5", "line 6", "line 7", "line 8",
                                                "line 10"], found
