"""Job slots on one host: which parallel job is which, its worker uid and its GPUs.

A job holds a *slot* while it runs: the lowest free number, taken with an exclusive
``flock`` on ``<lock dir>/slot-<n>.lock`` so that jobs in threads, in other batch processes
and in Dask workers on the same host never share one.  The slot gives:

* the worker uid (``AUTOGRADER_WORKER_UID``): ``AUTOGRADER_BATCH_UID_BASE`` (default 61100)
  plus the slot.  Process limits (RLIMIT_NPROC) count per uid across the whole machine, and
  the sandbox sweeps stray processes by uid, so two parallel gradings must never share one;
* the GPUs (:func:`partition_gpus`): ``--gpus N`` split across ``--jobs J`` parallel jobs.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from pathlib import Path
from typing import Iterator

MAX_SLOTS = 256
DEFAULT_UID_BASE = 61100


def lock_dir() -> Path:
    base = Path("/run") if os.geteuid() == 0 and os.path.isdir("/run") else Path(tempfile.gettempdir())
    folder = base / f"dlkit-batch-slots-{os.geteuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


@contextlib.contextmanager
def lease(folder: Path | None = None) -> Iterator[int]:
    """Hold the lowest free slot number for the duration of the ``with`` block."""
    folder = Path(folder) if folder is not None else lock_dir()
    for slot in range(MAX_SLOTS):
        fd = os.open(folder / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield slot
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        return
    raise RuntimeError(f"all {MAX_SLOTS} job slots of this host are taken ({folder})")


def worker_uid(slot: int) -> int:
    """The dedicated worker uid of ``slot``."""
    return int(os.environ.get("AUTOGRADER_BATCH_UID_BASE", DEFAULT_UID_BASE)) + slot


def partition_gpus(n_gpus: int, jobs: int) -> list[list[int]]:
    """GPU ids for each of ``jobs`` parallel slots.

    With at least as many GPUs as jobs, each job gets its own contiguous block (sizes differ by
    at most one; every GPU is used).  With fewer GPUs than jobs, jobs share them round-robin
    (job ``i`` gets GPU ``i % n_gpus``).  No GPUs: every job gets none."""
    if jobs < 1:
        raise ValueError("jobs must be at least 1")
    if n_gpus <= 0:
        return [[] for _ in range(jobs)]
    if jobs >= n_gpus:
        return [[i % n_gpus] for i in range(jobs)]
    size, extra = divmod(n_gpus, jobs)
    out, start = [], 0
    for i in range(jobs):
        n = size + (1 if i < extra else 0)
        out.append(list(range(start, start + n)))
        start += n
    return out


def gpus_for_slot(slot: int, n_gpus: int, jobs: int) -> list[int]:
    """The GPUs of ``slot`` (slots past ``jobs`` wrap around)."""
    return partition_gpus(n_gpus, max(1, jobs))[slot % max(1, jobs)]


def kill_uid(uid: int) -> int:
    """SIGKILL every process whose real uid is ``uid`` (a slot's dedicated worker uid only);
    returns how many were signalled."""
    import signal
    if uid <= 0 or os.geteuid() != 0:
        return 0
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == uid:
                            os.kill(int(entry), signal.SIGKILL)
                            count += 1
                        break
        except (OSError, ValueError):
            continue
    return count
