"""One batch at a time per output folder.

``DIR/.batch.lock`` is held with an exclusive ``flock`` for the whole run and says who holds
it (JSON: pid, host, since, the command, the batch id, and the podman service the batch
started, :meth:`OutputLock.note`).  A second ``batch`` on the same folder is refused with
"DIR is being graded by pid N on HOST since TIME".  The kernel drops the ``flock`` when its
holder dies, so a lock file that can be taken but still names an owner is a *stale* lock from
a batch that was killed (``kill -9``, a reboot): it is taken over, and :attr:`OutputLock.stale`
holds the dead owner's record so the new run can clean up after it.

The *batch id* names the output folder (a hash of its real path): containers are labelled with
it (``dlkit.batch.id``), so the next run on the same folder finds the containers a killed run
left behind.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

LOCK_NAME = ".batch.lock"


class LockBusy(RuntimeError):
    pass


def batch_id(out: Path) -> str:
    """The id of the batch graded into ``out`` (stable across runs on the same folder)."""
    return "b" + hashlib.sha256(str(Path(out).resolve()).encode()).hexdigest()[:15]


def _when(ts: Any) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(ts)))
    except (TypeError, ValueError):
        return "an unknown time"


class OutputLock:
    def __init__(self, out: Path):
        self.out = Path(out)
        self.path = self.out / LOCK_NAME
        self.fd: int | None = None
        self.info: dict[str, Any] = {}
        #: the record of a dead batch whose lock this run took over (None: the lock was free)
        self.stale: dict[str, Any] | None = None

    def _read(self) -> dict[str, Any] | None:
        assert self.fd is not None
        data = os.pread(self.fd, 1 << 16, 0)
        if not data.strip():
            return None
        try:
            info = json.loads(data.decode())
        except ValueError:
            return {}
        return info if isinstance(info, dict) else {}

    def _write(self, info: dict[str, Any] | None) -> None:
        assert self.fd is not None
        os.ftruncate(self.fd, 0)
        if info:
            os.pwrite(self.fd, json.dumps(info).encode(), 0)
            os.fsync(self.fd)

    def acquire(self) -> "OutputLock":
        """Take the folder or raise :class:`LockBusy` naming the batch that holds it."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = self._read() or {}
            os.close(self.fd)
            self.fd = None
            raise LockBusy(
                f"{self.out} is being graded by pid {holder.get('pid', '?')} on "
                f"{holder.get('host', 'this host')} since {_when(holder.get('since'))} "
                f"({holder.get('command', 'another batch')}); wait for it to finish, or stop it "
                f"(kill -TERM {holder.get('pid', 'PID')}) and run again to resume") from None
        self.stale = self._read()
        self.info = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time(),
                     "command": " ".join(sys.argv)[:300], "batch_id": batch_id(self.out)}
        self._write(self.info)
        return self

    def describe_stale(self) -> str:
        s = self.stale or {}
        return (f"{self.out} was left locked by pid {s.get('pid', '?')} on {s.get('host', '?')} "
                f"(since {_when(s.get('since'))}), which is no longer running: taken over")

    def note(self, **info: Any) -> None:
        """Add to this run's lock record (e.g. the podman service it started)."""
        self.info.update(info)
        self._write(self.info)

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            self._write(None)
        except OSError:
            pass
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def stop_left_service(stale: dict[str, Any] | None) -> str | None:
    """Stop the podman API service a killed batch had started (recorded in its lock), when
    it still runs; returns a message, or None when there was none."""
    if not stale:
        return None
    pid = stale.get("podman_service_pid")
    if not isinstance(pid, int) or pid <= 1:
        return None
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    if b"system" not in cmdline or b"service" not in cmdline:
        return None                      # not the service any more: the pid was reused
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return None
    folder = stale.get("podman_service_dir")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.1)
    if Path(f"/proc/{pid}").exists():
        os.killpg(pid, signal.SIGKILL)
    if isinstance(folder, str) and Path(folder).name.startswith("dlkit-podman-"):
        import shutil
        shutil.rmtree(folder, ignore_errors=True)
    return f"stopped the podman API service (pid {pid}) the killed batch had started"
