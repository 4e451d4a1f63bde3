"""One submission's grading job, the same whichever backend or machine runs it.

:class:`JobSpec` is plain data (it travels to Dask workers); :func:`run_job` takes a host
slot (:mod:`.slots`), runs the backend and returns a *record*: plain JSON-able data with the
status, exit code, wall time, where it ran (host, pid, slot) and Gradescope's results document.

Statuses: ``ok`` (graded; the document says how well), ``rejected`` (the submission could
not be accepted: a bad zip, too large), ``failed`` (the grader reported its own failure),
``timeout`` (past ``timeout_s``: killed), ``oom`` (killed with exit code 137: out of memory),
``crashed`` (no valid results.json), ``error`` (the job could not run: no image, engine
down; retried on the next run), ``stopped`` (the batch was stopped by a signal while it ran:
never written as a record, so the next run grades it).  Whatever happens, the record holds a valid results document.
"""
from __future__ import annotations

import dataclasses
import json
import os
import itertools
import socket
import threading
import time
import traceback
from typing import Any, Callable

from ..grading import results as gs_results
from . import slots

MAX_RESULTS_BYTES = 32 * 2**20
LOG_TAIL_BYTES = 64 * 1024

DEFAULT_CONTAINER = {"memory_mb": 6144, "pids": 1024, "cpus": 2.0, "timeout_s": 1800.0,
                     "nofile": 1024, "nproc": 4096}


@dataclasses.dataclass
class _Active:
    kill: Callable[[], None]
    label: str                                 # what was stopped, for the batch's message
    run: str                                   # the batch run (JobSpec.run_id)


_ACTIVE: dict[int, _Active] = {}
_ACTIVE_LOCK = threading.Lock()
_TOKENS = itertools.count()
#: batch runs being stopped in this process: their jobs end with status "stopped"
_STOPPING: set[str] = set()


def register_active(kill: Callable[[], None], label: str = "", run: str = "") -> int:
    """Remember how to stop a running job (for an interrupted batch); returns a token.  A job
    registered after its run was told to stop is stopped at once."""
    with _ACTIVE_LOCK:
        token = next(_TOKENS)
        _ACTIVE[token] = _Active(kill, label, run)
        late = bool(run) and run in _STOPPING
    if late:
        try:
            kill()
        except Exception:
            pass
    return token


def unregister_active(token: int) -> None:
    with _ACTIVE_LOCK:
        _ACTIVE.pop(token, None)


def kill_active(run: str | None = None) -> list[str]:
    """Stop every running job of this process (of the batch run ``run`` only, when given; on
    a Dask worker the driver calls this through ``Client.run``), and any of that run that
    starts later.  Their records are not kept: the next run grades them again.  Returns what
    was stopped."""
    with _ACTIVE_LOCK:
        if run is not None:
            _STOPPING.add(run)
        active = [a for a in _ACTIVE.values() if run is None or a.run == run]
    stopped = []
    for a in active:
        try:
            a.kill()
            stopped.append(a.label)
        except Exception:  # already finished
            pass
    return stopped


def stopping(run: str) -> bool:
    with _ACTIVE_LOCK:
        return bool(run) and run in _STOPPING


def container_limits(raw: dict[str, Any]) -> dict[str, Any]:
    """The ``[container]`` table of a parsed assignment file over the defaults."""
    out = dict(DEFAULT_CONTAINER)
    out.update(raw.get("container", {}) or {})
    return out


@dataclasses.dataclass
class JobSpec:
    """One submission's grading job, as data only (it crosses to Dask workers): what to grade,
    where, within which limits.  ``timeout_s`` is the whole job's wall-clock limit in seconds;
    ``limits`` the container's memory/CPU/pids (``[container]`` of assignment.toml)."""

    id: str
    backend: str                               # "container" | "process"
    submitters: list[dict[str, str]]
    payload: bytes                             # the submission's files (submissions.pack)
    limits: dict[str, Any]                     # [container] table
    timeout_s: float
    kit: str = ""                              # process: the kit root (default: this host's)
    python: str = ""                           # process: the interpreter (default: this one)
    assignment_text: str | None = None         # an assignment file other than the kit's/image's
    image: str = ""                            # container: the grading image
    docker_url: str | None = None              # container: the Docker API (None: find one)
    gpus: int = 0                              # GPUs of the host to split across ``jobs``
    jobs: int = 1
    batch_id: str = ""                         # the output folder's batch id (lock.batch_id)
    run_id: str = ""                           # this run of the batch (kill_active's key)


@dataclasses.dataclass
class RunOutcome:
    """What a backend reports back."""

    exit_code: int | None
    timed_out: bool
    results: bytes | None                      # the raw results.json, never unpickled
    log: str
    error: str | None = None                   # the job could not run at all
    info: dict[str, Any] = dataclasses.field(default_factory=dict)


def _failed_doc(reason: str, seconds: float) -> dict[str, Any]:
    doc = gs_results.failure_results(reason, seconds)
    return doc


def parse_results(raw: bytes | None) -> tuple[dict[str, Any] | None, str]:
    """(document, problem): ``results.json`` read as JSON and checked against the schema."""
    if raw is None:
        return None, "no results.json was written"
    if len(raw) > MAX_RESULTS_BYTES:
        return None, f"results.json is larger than {MAX_RESULTS_BYTES // 2**20} MB"
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"results.json is not valid JSON ({exc})"
    try:
        gs_results.validate(doc)
    except Exception as exc:  # jsonschema.ValidationError
        return None, f"results.json does not match Gradescope's schema ({getattr(exc, 'message', exc)})"
    return doc, ""


def classify(outcome: RunOutcome, doc: dict[str, Any] | None, problem: str,
             timeout_s: float) -> tuple[str, str]:
    """(status, reason) of a finished job."""
    if outcome.error:
        return "error", outcome.error
    if outcome.timed_out:
        return "timeout", f"grading took longer than {timeout_s:g} s and was stopped"
    if outcome.exit_code in (137, -9):
        return "oom", ("killed (exit code 137): out of memory (the container's memory limit) "
                       "or killed from outside")
    if doc is None:
        return "crashed", f"the grader exited with code {outcome.exit_code}: {problem}"
    run = gs_results.run_status(doc)
    first = doc["tests"][0] if doc.get("tests") and isinstance(doc["tests"][0], dict) else {}
    if run == gs_results.REJECTED:
        return "rejected", doc.get("output", "")[:500]
    if run == gs_results.FAILED:
        text = doc.get("output", "") + first.get("output", "")
        if "exit status 137" in text:
            return "oom", "the grader was killed (exit status 137): out of memory"
        return "failed", first.get("output", "")[:500]
    if run == gs_results.STOPPED:
        return "failed", "grading was stopped by a signal before it finished"
    return "ok", ""


def run_job(spec: JobSpec) -> dict[str, Any]:
    """Grade one submission; never raises (a failure becomes the record's status)."""
    t0 = time.monotonic()
    record: dict[str, Any] = {
        "id": spec.id, "submitters": spec.submitters, "backend": spec.backend,
        "host": socket.gethostname(), "pid": os.getpid(), "started": time.time()}
    if stopping(spec.run_id):          # the batch was stopped before this job began
        return {**record, "status": "stopped", "reason": "the batch was stopped before it ran",
                "exit_code": None, "timed_out": False, "wall_s": 0.0,
                "results": _failed_doc("Grading did not run: the batch was stopped", 0.0)}
    try:
        cleaned: list[str] = []
        with slots.lease(batch=spec.batch_id, notes=cleaned) as slot:
            gpus = slots.gpus_for_slot(slot, spec.gpus, spec.jobs) if spec.gpus > 0 else []
            record.update(slot=slot, worker_uid=slots.worker_uid(slot), gpus=gpus)
            if cleaned:                  # what a killed batch had left in this slot
                record["cleaned"] = cleaned
            if spec.backend == "container":
                from . import container
                outcome = container.run(spec, slot, gpus)
            elif spec.backend == "process":
                from . import process
                outcome = process.run(spec, slot, gpus)
            else:
                raise ValueError(f"unknown backend {spec.backend!r}")
    except Exception as exc:  # the job itself broke: an infrastructure error
        outcome = RunOutcome(None, False, None, traceback.format_exc(),
                             error=f"{type(exc).__name__}: {exc}")
    wall = time.monotonic() - t0
    doc, problem = parse_results(outcome.results)
    status, reason = classify(outcome, doc, problem, spec.timeout_s)
    if stopping(spec.run_id):
        status, reason = "stopped", "the batch was stopped while this submission was graded"
    if status in ("timeout", "oom", "crashed", "error", "stopped") or doc is None:
        doc = _failed_doc(f"Grading did not finish ({status}): {reason}", wall)
    record.update(status=status, reason=reason, exit_code=outcome.exit_code,
                  timed_out=outcome.timed_out, wall_s=round(wall, 3), finished=time.time(),
                  log_tail=outcome.log[-LOG_TAIL_BYTES:], results=doc, **outcome.info)
    return record
