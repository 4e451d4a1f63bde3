"""otter-grader 7.0.0 as the peer of figure (c) of ``bench_grading.py``: its virtualenv, the
assignment, the submissions and one timed ``otter run``.

Bench only: nothing of the kit imports this module, and otter is never a dependency of the kit.

- The virtualenv ``bench/.otter-venv`` (git-ignored) is made once with the interpreter the kit's
  ``.venv`` was made from, and ``pip install 'otter-grader[grading]==7.0.0'`` from PyPI; a stamp
  file marks it complete, so later runs reuse it.  Without network the install fails and
  :func:`ensure_otter` returns the reason instead of a path.
- The assignment is ``bench/otter_tests/`` (30 exception-based checks of 1 point each, ports
  of the kit's Q1-Q3 checks), packed by ``otter generate`` into ``autograder.zip``.
- The submission is ONE ``.py`` file, as otter grades a script: the reference's
  ``src/layers.py`` and ``src/classifiers.py`` one after the other.  The broken copy (the
  control that shows otter really grades) returns ``abs(X)`` from ``relu_forward`` and
  drops the row-maximum shift of ``softmax``.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / "bench" / ".otter-venv"
TESTS = ROOT / "bench" / "otter_tests"
OTTER_SPEC = "otter-grader[grading]==7.0.0"
OTTER_CHECKS = 30
_STAMP = VENV / ".installed-otter-grader-7.0.0"

# (file, text in the reference, its broken replacement): each must occur exactly once
BROKEN = [
    ("layers.py", "out = np.maximum(X, 0)", "out = np.abs(X)"),
    ("classifiers.py", "shifted = logits - np.max(logits, axis=1, keepdims=True)",
     "shifted = logits"),
]


def timed_run(cmd: list[str], **kwargs) -> tuple[subprocess.CompletedProcess, float]:
    """``subprocess.run`` timed as a whole process, from spawn to exit: (result, wall seconds).

    Wall time only: CPU seconds from ``getrusage(RUSAGE_CHILDREN)`` would count otter's kernel
    but not the kit's sandboxed worker (checked with a CPU-bound loop in the submission: a 3 s
    loop added 3.5 s of CPU to ``otter run``; a 1 s loop at every import added 35 s of wall
    time to the kit's grade but no CPU beyond run-to-run noise), since the processes inside
    the worker's bwrap are killed, never waited for by the grade process.  So CPU seconds
    would be no fair second measure."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, **kwargs)
    return proc, time.perf_counter() - t0


def otter_bin() -> Path:
    return VENV / "bin" / "otter"


def ensure_otter(log=print) -> tuple[Path | None, str]:
    """The ``otter`` executable of the bench virtualenv, made on first use; (None, reason) when
    it cannot be installed (no network, no PyPI).  Takes minutes the first time."""
    if _STAMP.exists() and otter_bin().exists():
        return otter_bin(), "cached"
    base = getattr(sys, "_base_executable", sys.executable) or sys.executable
    shutil.rmtree(VENV, ignore_errors=True)
    log(f"otter: creating {VENV} and installing {OTTER_SPEC} (once)")
    steps = [[base, "-m", "venv", str(VENV)],
             [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet",
              "--disable-pip-version-check", OTTER_SPEC]]
    for cmd in steps:
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"{' '.join(cmd[:4])}: {exc}"
        if proc.returncode:
            tail = [ln for ln in (proc.stderr + proc.stdout).splitlines()
                    if ln.strip() and "is ignored: it is neither a file nor a directory" not in ln]
            return None, (f"`{' '.join(cmd[2:])}` exited {proc.returncode}: "
                          + " | ".join(tail[-4:]))
    if not otter_bin().exists():
        return None, f"pip installed {OTTER_SPEC} but {otter_bin()} is missing"
    _STAMP.write_text(OTTER_SPEC + "\n")
    return otter_bin(), "installed"


def otter_version(otter: Path) -> str:
    proc = subprocess.run([str(otter.parent / "python"), "-c",
                           "import otter; print(otter.__version__)"],
                          capture_output=True, text=True, timeout=120)
    return proc.stdout.strip() or f"unknown ({proc.stderr.strip()[-200:]})"


def build_autograder(otter: Path, workdir: Path) -> Path:
    """``otter generate`` on ``bench/otter_tests`` in ``workdir``; returns autograder.zip."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copytree(TESTS, workdir / "tests", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (workdir / "otter_config.json").write_text("{}\n")
    zip_path = workdir / "autograder.zip"
    proc = subprocess.run([str(otter), "generate", "-t", "tests", "-o", zip_path.name,
                           "-c", "otter_config.json", "--no-requirements", "--no-environment"],
                          cwd=workdir, capture_output=True, text=True, timeout=600)
    if proc.returncode or not zip_path.exists():
        raise RuntimeError(f"otter generate failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-2000:]}")
    return zip_path


def write_submission(path: Path, broken: bool = False) -> Path:
    """The reference's layers.py + classifiers.py as one script (the broken copy on request)."""
    src = ROOT / "reference" / "src"
    texts = {name: (src / name).read_text() for name in ("layers.py", "classifiers.py")}
    if broken:
        for name, good, bad in BROKEN:
            assert texts[name].count(good) == 1, f"{name}: {good!r} not found once"
            texts[name] = texts[name].replace(good, bad)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(texts["layers.py"] + "\n\n" + texts["classifiers.py"])
    return path


def run_otter(otter: Path, autograder: Path, submission: Path, outdir: Path) -> dict:
    """One ``otter run`` as a whole process: wall seconds, checks passed (1 point each) and
    possible, per question."""
    shutil.rmtree(outdir, ignore_errors=True)
    outdir.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc, seconds = timed_run([str(otter), "run", "--no-logo", "-a", str(autograder),
                                    "-o", str(outdir), str(submission)],
                                   timeout=900, env=env, cwd=submission.parent)
    results = outdir / "results.json"
    if proc.returncode or not results.exists():
        raise RuntimeError(f"otter run failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-2000:]}")
    tests = [t for t in json.loads(results.read_text())["tests"]
             if t.get("max_score") is not None]          # drops the "Public Tests" summary
    return {"seconds": seconds,
            "passed": round(sum(t["score"] for t in tests)),
            "possible": round(sum(t["max_score"] for t in tests)),
            "questions": {t["name"]: [t["score"], t["max_score"]] for t in tests}}
