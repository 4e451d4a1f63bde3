"""Job slots on one host: which parallel job is which, its worker uid and its GPUs.

A job holds a *slot* while it runs: the lowest free number, taken with an exclusive
``flock`` on ``<lock dir>/slot-<n>.lock`` so that jobs in threads, in other batch processes
and in Dask workers on the same host never share one.  The slot gives:

* the worker uid (``AUTOGRADER_WORKER_UID``): ``AUTOGRADER_BATCH_UID_BASE`` (default 61100)
  plus the slot.  Process limits (RLIMIT_NPROC) count per uid across the whole machine, and
  the sandbox sweeps stray processes by uid, so two parallel gradings must never share one;
* the GPUs (:func:`partition_gpus`): ``--gpus N`` split across ``--jobs J`` parallel jobs.

The lock file also says who holds the slot (JSON: pid, host, batch id, and once the job runs
its process group and its folder, :func:`note`); a clean release empties it.  The kernel
drops a ``flock`` when its holder dies, so a lock file that can be taken but still names an
owner was left by a batch that was killed (``kill -9``, a reboot): :func:`clean_stale` stops
what that job left running (its grader's process group, every process of the slot's worker
uid) and removes its folder; :func:`sweep` does it for every free slot of the host (the
``batch`` verb runs it at start and says what it found), and :func:`lease` for the slot it
takes.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Iterator

from ..proctree import descendants

MAX_SLOTS = 256
DEFAULT_UID_BASE = 61100


def lock_dir() -> Path:
    """The host's slot lock folder (``AUTOGRADER_BATCH_SLOT_DIR`` overrides it: tests that
    kill batches on purpose use a folder and worker uids of their own)."""
    override = os.environ.get("AUTOGRADER_BATCH_SLOT_DIR")
    if override:
        Path(override).mkdir(mode=0o700, parents=True, exist_ok=True)
        return Path(override)
    base = Path("/run") if os.geteuid() == 0 and os.path.isdir("/run") else Path(tempfile.gettempdir())
    folder = base / f"dlkit-batch-slots-{os.geteuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


_HELD: dict[int, int] = {}                  # slot -> fd of its lock file, in this process
_HELD_LOCK = threading.Lock()


def _read_owner(fd: int) -> dict[str, Any] | None:
    try:
        data = os.pread(fd, 1 << 16, 0)
    except OSError:
        return None
    if not data.strip():
        return None
    try:
        info = json.loads(data.decode())
    except ValueError:                   # half-written by a holder that died: left behind
        return {"pid": None}
    return info if isinstance(info, dict) else {"pid": None}


def _write_owner(fd: int, info: dict[str, Any] | None) -> None:
    os.ftruncate(fd, 0)
    if info:
        os.pwrite(fd, json.dumps(info).encode(), 0)


@contextlib.contextmanager
def lease(folder: Path | None = None, batch: str = "",
          notes: list[str] | None = None) -> Iterator[int]:
    """Hold the lowest free slot number for the duration of the ``with`` block.  What a
    killed batch left in the slot is cleaned up first (:func:`clean_stale`; its messages are
    appended to ``notes``)."""
    folder = Path(folder) if folder is not None else lock_dir()
    for slot in range(MAX_SLOTS):
        fd = os.open(folder / f"slot-{slot}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            found = clean_stale(slot, _read_owner(fd))
            if notes is not None:
                notes += found
            _write_owner(fd, {"pid": os.getpid(), "host": socket.gethostname(), "batch": batch,
                              "since": time.time()})
            with _HELD_LOCK:
                _HELD[slot] = fd
            yield slot
        finally:
            with _HELD_LOCK:
                _HELD.pop(slot, None)
            try:
                _write_owner(fd, None)      # a clean release leaves nothing to clean up
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        return
    raise RuntimeError(f"all {MAX_SLOTS} job slots of this host are taken ({folder})")


def note(slot: int, **info: Any) -> None:
    """Add to the owner record of ``slot`` (held by this process): the job's process group
    (``pgid``), its folder (``root``), its submission, its container."""
    with _HELD_LOCK:
        fd = _HELD.get(slot)
        if fd is None:
            return
        owner = _read_owner(fd) or {}
        owner.update(info)
        _write_owner(fd, owner)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _is_job_group(pgid: int, root: str) -> bool:
    """True when process ``pgid`` is still the job's grader (``run_autograder`` with the job's
    folder as its ``AUTOGRADER_ROOT``), not an unrelated process that got the number since."""
    try:
        with open(f"/proc/{pgid}/environ", "rb") as f:
            return f"AUTOGRADER_ROOT={root}".encode() in f.read().split(b"\0")
    except OSError:
        return False


def uid_processes(uid: int) -> list[int]:
    """The pids whose real uid is ``uid``, zombies left out: a zombie runs nothing and holds
    nothing, and only its parent (init, for an orphan) can remove it, so waiting for it to go
    could wait out every deadline."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                state = ""
                for line in f:
                    if line.startswith("State:"):
                        state = line.split()[1]
                    elif line.startswith("Uid:"):
                        if int(line.split()[1]) == uid and state not in ("Z", "X"):
                            pids.append(int(entry))
                        break
        except (OSError, ValueError, IndexError):
            continue
    return pids


def clean_stale(slot: int, owner: dict[str, Any] | None, wait_s: float = 5.0) -> list[str]:
    """Stop and remove what a dead holder of ``slot`` left (call it holding the slot's lock):
    its job's process group, the processes of the slot's worker uid, the job's folder.
    Returns one message per thing found (empty: the slot was clean)."""
    found: list[str] = []
    uid = worker_uid(slot)
    who = ""
    if owner:
        who = (f" of the batch pid {owner.get('pid')}"
               + (f" (submission {owner['submission']})" if owner.get("submission") else ""))
        pgid, root = owner.get("pgid"), owner.get("root")
        if isinstance(pgid, int) and isinstance(root, str) and pgid > 1 and _is_job_group(pgid, root):
            kill_tree(pgid)
            try:
                os.killpg(pgid, signal.SIGKILL)
                found.append(f"slot {slot}: stopped the leftover grader (process group {pgid}){who}")
            except (ProcessLookupError, PermissionError):
                pass
    deadline = time.monotonic() + wait_s
    strays = uid_processes(uid) if uid > 0 and os.geteuid() == 0 else []
    if strays:
        found.append(f"slot {slot}: killed {len(strays)} stray process(es) of its worker uid {uid}{who}")
        while strays and time.monotonic() < deadline:
            kill_uid(uid)
            time.sleep(0.05)
            strays = uid_processes(uid)
    if owner:
        root = owner.get("root")
        if isinstance(root, str) and os.path.basename(root).startswith("dlkit-batch-") and os.path.isdir(root):
            shutil.rmtree(root, ignore_errors=True)
            found.append(f"slot {slot}: removed the leftover folder {root}{who}")
        if not found:
            found.append(f"slot {slot}: its lock named the batch pid {owner.get('pid')}, which is "
                         f"gone; nothing of it was still running")
    return found


def sweep(folder: Path | None = None) -> list[str]:
    """Clean every slot of this host that no live process holds but a killed batch left
    something in (:func:`clean_stale`); slots in use are not touched.  Returns the messages."""
    folder = Path(folder) if folder is not None else lock_dir()
    found: list[str] = []
    for path in sorted(folder.glob("slot-*.lock"), key=lambda p: p.name):
        try:
            slot = int(path.stem.split("-", 1)[1])
            fd = os.open(path, os.O_RDWR)
        except (ValueError, OSError):
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue                     # in use by a live job
            try:
                owner = _read_owner(fd)
                found += clean_stale(slot, owner)
                _write_owner(fd, None)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    return found


def worker_uid(slot: int) -> int:
    """The dedicated worker uid of ``slot``."""
    return int(os.environ.get("AUTOGRADER_BATCH_UID_BASE", DEFAULT_UID_BASE)) + slot


@contextlib.contextmanager
def own_worker_uid(batch: str) -> Iterator[int | None]:
    """A worker uid for one grading that may run beside others on this host: the uid of a
    slot held for the ``with`` block (:func:`lease`), or None where that is not needed or
    not possible: the caller chose the uid (``AUTOGRADER_WORKER_UID``, as every batch job and
    the grading image do) or cannot switch uids (not root).

    Two gradings must never share a worker uid: where the sandbox has no pid namespace
    (setpriv) a worker sweeps stray processes by uid, so it would kill the other grading's
    test children, and RLIMIT_NPROC counts the processes of a uid across the machine.  A
    slot left by a grading that was killed is cleaned up by the next lease (its uid's
    processes are killed)."""
    if os.environ.get("AUTOGRADER_WORKER_UID") or os.geteuid() != 0:
        yield None
        return
    with lease(batch=batch) as slot:
        yield worker_uid(slot)


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


def kill_tree(pid: int) -> int:
    """SIGKILL ``pid`` and everything below it, sessions and process groups of their own
    included (a sandboxed worker starts one before it drops to the worker uid, so neither
    ``killpg`` nor :func:`kill_uid` reaches it in that moment).  The tree is frozen with
    SIGSTOP first, until no new process appears, so that nothing forks or is re-parented to
    init while it is killed.  Returns how many processes were killed."""
    frozen: set[int] = set()
    for _ in range(20):
        tree = ({pid} | descendants(pid)) - frozen
        if not tree:
            break
        for p in tree:
            try:
                os.kill(p, signal.SIGSTOP)
            except OSError:
                pass
        frozen |= tree
    for p in frozen:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    return len(frozen)


def kill_uid(uid: int) -> int:
    """SIGKILL every process whose real uid is ``uid`` (a slot's dedicated worker uid only);
    returns how many were signalled."""
    if uid <= 0 or os.geteuid() != 0:
        return 0
    count = 0
    for pid in uid_processes(uid):
        try:
            os.kill(pid, signal.SIGKILL)
            count += 1
        except OSError:
            continue
    return count
