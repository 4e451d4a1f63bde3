"""Helpers of the fault-injection suite: a batch or a grading run started as a real process
with its own slot folder, worker uids and temp folder (so that killing it on purpose cannot
touch another batch of the host), and a process scan that finds everything it left running."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

PY = sys.executable
N_UIDS = 8


@dataclass
class Run:
    """Where one batch (or grading) run lives; ``env`` is what its processes inherit."""
    tmp: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex)
    uid_base: int = field(default_factory=lambda: 63000 + (os.getpid() % 500) * N_UIDS)

    def __post_init__(self) -> None:
        self.slots = self.tmp / "slots"
        self.tmpdir = self.tmp / "tmp"
        self.tmpdir.mkdir(parents=True, exist_ok=True)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AUTOGRADER_", "DLKIT_"))}
        env.update(AUTOGRADER_BATCH_SLOT_DIR=str(self.slots), AUTOGRADER_BATCH_UID_BASE=str(self.uid_base),
                   TMPDIR=str(self.tmpdir), FAULTKIT_TAG=self.tag, PYTHONUNBUFFERED="1")
        return env

    def start(self, *args: str) -> subprocess.Popen:
        """``python -m autograder ARGS`` as a real process (its output in ``.text`` once read)."""
        return subprocess.Popen([PY, "-m", "autograder", *args], env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    def running_job(self, timeout: float = 120, submission: str | None = None) -> dict:
        """Wait for a slot whose job (of ``submission``, when given) has started its grader
        (the slot's owner names a process group); returns that owner record."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for lock in self.slots.glob("slot-*.lock"):
                try:
                    owner = json.loads(lock.read_text() or "{}")
                except ValueError:
                    continue
                if owner.get("pgid") and submission in (None, owner.get("submission")):
                    return {**owner, "slot": int(lock.stem.split("-")[1])}
            time.sleep(0.05)
        raise AssertionError(f"no job started within {timeout} s")

    def leftovers(self) -> list[str]:
        """Every live process of this run: it inherited the run's tag, runs as one of its
        worker uids, or names its temp folder.  ``pid uid cmdline`` each."""
        found = []
        marker = f"FAULTKIT_TAG={self.tag}".encode()
        for pid in filter(str.isdigit, os.listdir("/proc")):
            if int(pid) == os.getpid():
                continue
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                if "\nState:\tZ" in status:
                    continue                        # a zombie holds nothing; its parent reaps it
                uid = int(status.split("\nUid:\t", 1)[1].split()[0])
                environ = Path(f"/proc/{pid}/environ").read_bytes()
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            if (marker in environ.split(b"\0") or self.uid_base <= uid < self.uid_base + N_UIDS
                    or str(self.tmpdir) in cmd):
                found.append(f"{pid} uid={uid} {cmd[:160]}")
        return found

    def wait_no_leftovers(self, timeout: float = 10) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            left = self.leftovers()
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.1)


CLOCK_NANOSLEEP = {"x86_64": 230, "aarch64": 115}.get(os.uname().machine)


def sleeping_in(run: Run, timeout: float = 120, worker_only: bool = False) -> int:
    """Wait for a process of ``run`` asleep in ``clock_nanosleep`` (a submission's
    ``time.sleep``, read from /proc/PID/syscall); returns its pid.  ``worker_only``: a sandboxed
    worker's process only (one of the run's worker uids, or a worker's command line where the
    sandbox could not drop the uid): the batch driver's and the grader's own waits (a
    ``time.sleep``, ``Popen.wait`` with a timeout) do not count."""
    if CLOCK_NANOSLEEP is None:
        import pytest
        pytest.skip(f"clock_nanosleep's number is not known on {os.uname().machine}")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in run.leftovers():
            pid, uid = line.split()[0], int(line.split()[1][4:])
            if worker_only and not (run.uid_base <= uid < run.uid_base + N_UIDS or "/dlkit-worker-" in line):
                continue
            try:
                nr = Path(f"/proc/{pid}/syscall").read_text().split()[0]
            except (OSError, IndexError):
                continue
            if nr == str(CLOCK_NANOSLEEP):
                return int(pid)
        time.sleep(0.1)
    raise AssertionError(f"no process of the run slept within {timeout} s: {run.leftovers()}")


@dataclass
class DaskCluster:
    """A Dask scheduler and workers started for one test, inside ``run``'s environment (its
    slot folder, worker uids and temp folder reach the jobs the workers run)."""
    address: str
    procs: list
    worker_pids: set

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def start_dask(run: Run, workers: int = 1, nthreads: int = 2) -> DaskCluster:
    """``dask scheduler`` on a free loopback port and ``workers`` workers without a nanny."""
    import socket
    dask = Path(PY).parent / "dask"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    log = open(run.tmp / "dask.log", "w")
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=log, stderr=subprocess.STDOUT, cwd=run.tmp,
                              env=run.env)]
    cluster = DaskCluster(address, procs, set())
    try:
        from distributed import Client
        for i in range(workers):
            procs.append(subprocess.Popen(
                [str(dask), "worker", address, "--nthreads", str(nthreads), "--no-nanny",
                 "--no-dashboard", "--name", f"w{i}"], stdout=log, stderr=subprocess.STDOUT,
                cwd=run.tmp, env=run.env))
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=90)
            cluster.worker_pids = set(client.run(os.getpid).values())
    except BaseException:
        cluster.stop()
        raise
    return cluster
