"""The worker's copy of its package comes with its bytecode, and Python accepts it (no zygote
compiles the worker's modules again)."""
from __future__ import annotations

import shutil
import subprocess
import sys

from autograder.sandbox import client


def test_the_worker_copy_carries_bytecode_that_python_accepts(tmp_path):
    kit = tmp_path / "kit" / client.WORKER_MODULE
    kit.mkdir(parents=True)
    for src in client.WORKER_PACKAGE.glob("*.py"):
        shutil.copy2(src, kit / src.name)
        client._copy_bytecode(src, kit / src.name)
    names = sorted(p.name.split(".")[0] for p in (kit / "__pycache__").iterdir())
    assert names == sorted(p.stem for p in client.WORKER_PACKAGE.glob("*.py"))
    log = subprocess.run(
        [sys.executable, "-s", "-E", "-v", "-c",
         f"import sys; sys.path.insert(0, {str(kit.parent)!r}); "
         f"import {client.WORKER_MODULE}.protocol, {client.WORKER_MODULE}.serve"],
        capture_output=True, text=True, check=True).stderr
    for module in ("protocol", "serve"):
        assert f"__pycache__/{module}.cpython" in log and f"matches {kit / module}.py" in log, log[-3000:]
    # a stale source (edited after the kit copied it) is compiled again, not run from the old bytecode
    (kit / "protocol.py").write_text((kit / "protocol.py").read_text() + "\nSTALE_CHECK = 1\n")
    out = subprocess.run(
        [sys.executable, "-s", "-E", "-c",
         f"import sys; sys.path.insert(0, {str(kit.parent)!r}); "
         f"import {client.WORKER_MODULE}.protocol as p; print(p.STALE_CHECK)"],
        capture_output=True, text=True, check=True).stdout
    assert out.strip() == "1"
