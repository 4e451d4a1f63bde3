"""The process backend: ``run_autograder`` in a subprocess, no container engine.

Each job gets its own ``AUTOGRADER_ROOT`` (a fresh 0700 folder with ``submission/`` and
``results/``), runs the kit's ``run_autograder`` exactly as Gradescope would, with the slot's
own worker uid (``AUTOGRADER_WORKER_UID``) and GPUs (``CUDA_VISIBLE_DEVICES``).  Student code
is isolated by the kit's sandbox (:mod:`autograder.sandbox`), not by a container; the
``[container]`` table only gives the wall-clock limit here.  Past it the grader's process
group and every process of the slot's worker uid are killed.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import paths
from . import jobs, slots, submissions
from .jobs import JobSpec, RunOutcome

LOG_KEEP_BYTES = 256 * 1024


def _kit(spec: JobSpec) -> Path:
    kit = Path(spec.kit) if spec.kit else paths.kit_root()
    if not (kit / "run_autograder").is_file():    # e.g. a Dask worker on another machine
        kit = paths.kit_root()
    return kit


def run(spec: JobSpec, slot: int, gpus: list[int]) -> RunOutcome:
    kit = _kit(spec)
    root = Path(tempfile.mkdtemp(prefix=f"dlkit-batch-{slot}-"))
    uid = slots.worker_uid(slot)
    try:
        os.chmod(root, 0o700)
        submissions.unpack(spec.payload, root / "submission")
        (root / "results").mkdir()
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AUTOGRADER_", "DLKIT_"))}
        env.update(AUTOGRADER_ROOT=str(root), AUTOGRADER_SOURCE=str(kit),
                   AUTOGRADER_PYTHON=spec.python if spec.python and Path(spec.python).exists()
                   else sys.executable,
                   AUTOGRADER_WORKER_UID=str(uid))
        if spec.assignment_text is not None:
            toml = root / "assignment.toml"
            toml.write_text(spec.assignment_text)
            env["AUTOGRADER_ASSIGNMENT"] = str(toml)
        if spec.gpus > 0:
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, gpus))
        env["AUTOGRADER_REPORT_DIR"] = str(root / "results" / "report")   # for the class report
        log_path = root / "run.log"
        timed_out = False
        with open(log_path, "wb") as log:
            proc = subprocess.Popen([str(kit / "run_autograder")], cwd=root, env=env,
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)

            slots.note(slot, pgid=proc.pid, root=str(root), submission=spec.id)

            def kill() -> None:
                slots.kill_tree(proc.pid)
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                slots.kill_uid(uid)
            token = jobs.register_active(
                kill, f"{spec.id} (slot {slot}: process group {proc.pid}, worker uid {uid})",
                spec.run_id)
            try:
                code = proc.wait(timeout=spec.timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                code = proc.wait()
            except BaseException:             # interrupted: leave nothing running
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
                slots.kill_uid(uid)
                raise
            finally:
                jobs.unregister_active(token)
        slots.kill_uid(uid)                   # strays of this slot's worker uid
        if code is not None and code < 0:
            code = 128 - code                 # -9 -> 137, as a shell reports it
        results_path = root / "results" / "results.json"
        raw = results_path.read_bytes() if results_path.is_file() and not timed_out else None
        data = log_path.read_bytes()
        text = data[-LOG_KEEP_BYTES:].decode("utf-8", "replace")
        from ..classreport.instructor import read_grader_report
        info = {"kit": str(kit), **read_grader_report(root / "results" / "report" / "report.json")}
        return RunOutcome(code, timed_out, raw, text, info=info)
    finally:
        shutil.rmtree(root, ignore_errors=True)
