"""The grader's handle on a sandboxed worker: start it, open one session per test, enforce
time and size limits, and turn every way a test can die into a clear failure.

:class:`Worker` starts the worker's main process (the zygote, :mod:`autograder.worker.main`)
under the strongest :mod:`.launcher` strategy available, in a fresh folder that holds only a
copy of the worker code and the staged submission.  :meth:`Worker.session` asks it to fork a
child for one test; the child's stdout/stderr go to a pipe that this side drains (keeping
``max_output_kb``).  :class:`~.session.Session` (in :mod:`.session`, re-exported here with
:class:`SandboxFailure`) sends requests and waits for replies against the test's remaining
time budget.  On a timeout, a crash (EOF), an oversized or malformed reply the child
is killed, the failure is raised as a :class:`SandboxFailure` naming what happened and in
which call, and the worker is restarted before the next test.

Import-time hangs: the zygote reports which submission files a child was still importing when
it ended (:mod:`autograder.worker.imports`).  A test that timed out while importing a file
records it on the :class:`Worker` with the seconds the import was given; a later test that
allows the import no more than that (:func:`.imports.refuses_import`) does not wait again: its child
refuses the file at once and the test fails naming the earlier timeout.  One module whose
top-level code hangs thus costs one test's time limit, not every test's that imports it.
"""
from __future__ import annotations

import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, NoReturn

from .. import proctree
from ..config import Limits
from . import devices, launcher
from .session import (SandboxFailure, Session, SessionReport, _describe_death, _OutputDrain,
                      _reported_seconds)

__all__ = ["Worker", "SandboxFailure", "Session", "SessionReport", "WORKER_PACKAGE",
           "WORKER_MODULE", "START_TIMEOUT_S", "_describe_death", "_OutputDrain",
           "_reported_seconds"]

WORKER_PACKAGE = Path(__file__).resolve().parent.parent / "worker"

#: (source path, mtime_ns, size) -> the source's bytecode (a timestamp .pyc), compiled once
#: per grader process
_BYTECODE: dict[tuple[str, int, int], bytes] = {}


def _copy_bytecode(src: Path, dest: Path) -> None:
    """Give the worker's copy ``dest`` of ``src`` its compiled bytecode, so no zygote compiles
    the worker's modules again (13 ms of CPU of every worker start, measured).  The .pyc records the source's
    mtime and size, which ``copy2`` kept, so the worker's interpreter (the grader's own) accepts
    it and fixes its file names up to the copy; if anything is off it compiles the source, as
    before.  Compiled once per grader process, in a temporary folder (the kit may be
    read-only)."""
    import importlib.util
    import py_compile
    st = src.stat()
    key = (str(src), st.st_mtime_ns, st.st_size)
    code = _BYTECODE.get(key)
    if code is None:
        with tempfile.TemporaryDirectory(prefix="dlkit-pyc-") as tmp:
            try:
                cfile = py_compile.compile(str(src), cfile=str(Path(tmp) / "m.pyc"), doraise=True,
                                           invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
            except (py_compile.PyCompileError, OSError):
                return
            code = _BYTECODE[key] = Path(cfile).read_bytes()
    target = Path(importlib.util.cache_from_source(str(dest)))
    target.parent.mkdir(exist_ok=True)
    target.write_bytes(code)
WORKER_MODULE = "dlkit_worker"


class PendingReply:
    """The zygote's reply to a command sent without waiting for it (:meth:`Worker._await`)."""

    __slots__ = ("value", "done", "error")

    def __init__(self) -> None:
        self.value: dict[str, Any] = {}
        self.done = False
        #: why the reply will never come (the control channel failed, the worker restarted)
        self.error: str | None = None
START_TIMEOUT_S = 60.0
#: while it waits for a reply, the grader looks this often whether the zygote was stopped
#: (SIGSTOP from a test's code, which runs under the zygote's uid): a stopped zygote is
#: restarted at once instead of after the command's whole timeout
STOPPED_CHECK_S = 0.25
#: how long closing a worker waits for its zygote to end the tests' children and exit on its
#: own (milliseconds, normally) before the launcher's process group is killed
EXIT_WAIT_S = 2.0


class Worker:
    """A sandboxed worker for one submission; restarts itself after a failed test."""

    def __init__(self, submission: Path, *, limits: Limits, data_dirs: list[Path] | None = None,
                 hide: list[Path] | None = None, env: dict[str, str] | None = None,
                 preload: list[str] | None = None, probe_paths: list[Path] | None = None,
                 base_tmp: Path | None = None, strategy: str | None = None,
                 gpus: devices.GpuSelection | None = None, prefork: bool = True,
                 uid: int | None = None):
        self.source_submission = Path(submission)
        self.limits = limits
        self.data_dirs = [Path(p) for p in (data_dirs or [])]
        self.hide = [Path(p) for p in (hide or [])]
        self.extra_env = dict(env or {})
        self.preload = list(preload or [])
        self.probe_paths = [str(p) for p in (probe_paths or [])]
        self.base_tmp = base_tmp
        #: GPU device nodes for this worker (the model-scoring worker only; None: no device
        #: nodes at all, the NumPy questions' workers)
        self.gpus = gpus
        #: whether the zygote forks each test's child ahead of its test (``worker.main.Spare``)
        self.prefork = prefork
        self._candidates = launcher.candidates(strategy)
        #: The isolation strategy: provisional (the strongest candidate) until :meth:`start`
        #: has brought a worker up with it.
        self.strategy = self._candidates[0]
        #: the uid the worker runs as where the strategy drops it (``uid``, else
        #: :func:`.launcher.worker_uid`)
        self.uid = uid if uid is not None else launcher.worker_uid()
        self.proc: subprocess.Popen[bytes] | None = None
        self.ctrl: socket.socket | None = None
        self.workdir: Path | None = None
        self.ready: dict[str, Any] = {}
        self.needs_restart = False
        #: submission files whose import timed out, with the seconds it was given (kept across
        #: restarts: it is the submission's, not the process's)
        self.hung_imports: dict[str, float] = {}
        self.starts = 0
        #: why stronger strategies did not come up at this worker's first start (one message
        #: each), when a weaker one did: the grader warns with them
        self.fallbacks: list[str] = []
        self.start_seconds: list[float] = []
        #: Called with every byte string given to the worker (its files, its configuration,
        #: every command and request): lets tests prove what never crosses (e.g. labels).
        self.wire_tap: Any = None
        self._lock = threading.Lock()
        #: the commands whose replies were not read yet, oldest first (a test's ``end`` and
        #: ``fork`` are sent without waiting, see :meth:`_end` and :meth:`_fork`)
        self._replies: collections.deque[PendingReply] = collections.deque()
        #: the zygote's pid on this side (found below the launcher when first needed)
        self._zygote_pid: int | None = None
        #: when :meth:`begin_start` launched a zygote that :meth:`start` has not waited for: the
        #: monotonic time of its launch
        self._launched_at: float | None = None

    # ------------------------------------------------------------------ lifecycle
    def _prepare_workdir(self) -> Path:
        workdir = Path(tempfile.mkdtemp(prefix="dlkit-worker-", dir=self.base_tmp))
        kit = workdir / "kit" / WORKER_MODULE
        kit.mkdir(parents=True)
        for src in WORKER_PACKAGE.glob("*.py"):
            shutil.copy2(src, kit / src.name)
            _copy_bytecode(src, kit / src.name)
        shutil.copytree(self.source_submission, workdir / "submission", symlinks=False)
        (workdir / "tmp").mkdir()
        if self.wire_tap is not None:
            for path in sorted(p for p in workdir.rglob("*") if p.is_file()):
                self.wire_tap(path.read_bytes())
        if os.geteuid() == 0 and self.strategy.drops_uid:
            try:
                for path in [workdir, *workdir.rglob("*")]:
                    os.lchown(path, self.uid, self.uid)
                os.chmod(workdir, 0o700)
            except PermissionError:
                # no CAP_CHOWN (the grading container keeps only SETUID/SETGID): hand the folder
                # over by mode; it holds only the worker code and the submission's own files
                for path in [workdir, *workdir.rglob("*")]:
                    os.chmod(path, 0o777 if path.is_dir() else 0o666)
        return workdir

    def start(self) -> None:
        """Start the zygote with the strongest candidate strategy that comes up; the first
        successful start confirms it for the process (:func:`launcher.confirm`)."""
        t0 = time.monotonic()
        failures = []
        launched, self._launched_at = self._launched_at, None
        for strategy in self._candidates:
            self.strategy = strategy
            try:
                if launched is not None and strategy is self._candidates[0]:
                    t0 = launched                       # begin_start launched it
                    self._await_ready(strategy)
                else:
                    self._start_with(strategy)
            except SandboxFailure as exc:
                failures.append(exc.message)
                if self.workdir is not None:
                    shutil.rmtree(self.workdir, ignore_errors=True)
                    self.workdir = None
                continue
            launcher.confirm(strategy)
            if len(self._candidates) > 1:
                self.fallbacks = failures
            self._candidates = [strategy]
            self.starts += 1
            self.needs_restart = False
            self.start_seconds.append(time.monotonic() - t0)
            return
        raise SandboxFailure("worker", failures[-1] if len(failures) == 1 else
                             "no sandbox strategy could start the worker:\n" + "\n".join(failures))

    def begin_start(self) -> None:
        """Launch the zygote with the first candidate strategy and send its configuration
        without waiting for it to be ready, so that a slow preload (torch) overlaps the
        caller's work; :meth:`start` then waits for it (trying the other candidates if it
        failed).  Launching from the calling thread keeps bubblewrap's --die-with-parent
        (PR_SET_PDEATHSIG, which follows the thread that started it) tied to that thread."""
        launched = time.monotonic()
        self.strategy = self._candidates[0]
        try:
            self._launch(self.strategy)
        except SandboxFailure:
            if self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)
                self.workdir = None
            return                                      # start() tries every candidate
        self._launched_at = launched

    def _start_with(self, strategy: launcher.Strategy) -> None:
        self._launch(strategy)
        self._await_ready(strategy)

    def _launch(self, strategy: launcher.Strategy) -> None:
        self.workdir = self._prepare_workdir()
        submission = self.workdir / "submission"
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(self.workdir / "tmp"),
            "TMPDIR": str(self.workdir / "tmp"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8",
            "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1",
        }
        env.update(self.extra_env)
        nodes: dict[str, Path] = {}
        if self.gpus is not None and self.gpus.nodes:
            if strategy.private_dev:
                nodes = dict(self.gpus.nodes)
                for key, value in self.gpus.env.items():
                    if value is None:
                        env.pop(key, None)
                    else:
                        env[key] = value
            else:
                # the host's /dev is visible: only CUDA_VISIBLE_DEVICES narrows the GPUs
                env["CUDA_DEVICE_ORDER"] = "PCI_BUS_ID"
                if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
                    env["CUDA_VISIBLE_DEVICES"] = os.environ["CUDA_VISIBLE_DEVICES"]
        spec = launcher.LaunchSpec(
            workdir=self.workdir, hide=self.hide, ro_binds=self.data_dirs, env=env,
            memory_mb=self.limits.memory_mb, max_processes=self.limits.max_processes,
            max_file_mb=self.limits.max_file_mb, max_open_files=self.limits.max_open_files,
            uid=self.uid, gid=self.uid, devices=nodes)
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        boot = (f"import sys; sys.path.insert(0, {str(self.workdir / 'kit')!r}); "
                f"from {WORKER_MODULE}.main import main; main({child.fileno()})")
        argv = launcher.command(strategy, spec, [sys.executable, "-s", "-E", "-c", boot])
        try:
            self._zygote_pid = None
            self.proc = subprocess.Popen(argv, env=env, cwd=self.workdir,
                                         pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                         preexec_fn=launcher.preexec(spec),
                                         start_new_session=True)
        except (OSError, subprocess.SubprocessError) as exc:
            # the strategy's launcher is not installed here (e.g. no bwrap in the image) or
            # cannot be executed: this strategy does not come up, the next one is tried
            child.close()
            parent.close()
            raise SandboxFailure("worker", f"the sandboxed worker did not start "
                                           f"({strategy.name}): {argv[0]}: {exc}") from None
        child.close()
        self.ctrl = parent
        self._replies.clear()
        config = {"submission": str(submission), "package": "src",
                  "sys_path": [str(submission), str(submission / "src")],
                  "sweep": strategy.sweep, "preload": self.preload,
                  "probe": self.probe_paths, "env": {}, "prefork": self.prefork}
        parent.settimeout(START_TIMEOUT_S)
        if self.wire_tap is not None:
            self.wire_tap(json.dumps(config).encode())
            self.wire_tap(json.dumps(env).encode())
        try:
            parent.send(json.dumps(config).encode())
        except OSError:
            pass                                        # _await_ready reports it

    def _await_ready(self, strategy: launcher.Strategy) -> None:
        """Wait for the launched zygote's ready message and check it."""
        parent = self.ctrl
        assert parent is not None
        parent.settimeout(START_TIMEOUT_S)
        silent = ""                                     # why a silent worker did not start
        try:
            data = parent.recv(1 << 20)
        except socket.timeout:
            data, silent = b"", f"no answer within {START_TIMEOUT_S:g} s"
        except OSError as exc:
            data, silent = b"", f"its control socket failed: {exc}"
        ready: dict[str, Any] = {}
        if data:
            try:
                ready = json.loads(data.decode())
            except (UnicodeDecodeError, json.JSONDecodeError):
                ready = {}
        if not isinstance(ready, dict):
            ready = {}
        probe = ready.get("probe")
        uid = probe.get("uid") if isinstance(probe, dict) else None
        if not ready.get("ready") or (strategy.drops_uid and uid != self.uid):
            code = self.proc.poll()
            # the control socket first: a zygote that the grader may not signal (a container's
            # root keeps no CAP_KILL) exits on its own when it closes, so that its output ends
            # at once instead of after _kill_proc's 10 s
            parent.close()
            self.ctrl = None
            err = self._kill_proc()
            if code is not None:
                silent = (f"it was killed by signal {-code} before answering" if code < 0
                          else f"it exited with status {code} before answering")
            why = (f"it runs as uid {uid}, not the worker uid {self.uid}" if ready.get("ready")
                   else err[-2000:].strip() or silent or "it closed its control socket "
                                                          "without answering")
            raise SandboxFailure("worker", f"the sandboxed worker did not start "
                                           f"({strategy.name}): {why}")
        self.ready = ready

    def gpu_problem(self) -> tuple[str, str] | None:
        """Why this worker cannot use a GPU, seen from this side, as (fallback code, detail)
        (:data:`.devices.REASONS`); None when its GPU nodes are there for its uid.  Call after
        :meth:`start` (the strategy decides the uid)."""
        if self.gpus is None:
            return "not-bound", "this worker is not given device nodes"
        if not self.gpus.nodes:
            return self.gpus.reason or "no-device-nodes", self.gpus.detail
        uid = self.uid if self.strategy.drops_uid else os.geteuid()
        gid = self.uid if self.strategy.drops_uid else os.getegid()
        blocked = devices.inaccessible(self.gpus.nodes, uid, gid)
        if blocked:
            return "not-accessible", f"uid {uid}: " + ", ".join(blocked)
        return None

    def _kill_proc(self) -> str:
        err = ""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                _, err_bytes = self.proc.communicate(timeout=10)
                err = (err_bytes or b"").decode("utf-8", "replace")
            except (subprocess.TimeoutExpired, ValueError, OSError):
                pass
            self.proc = None
        return err

    def close(self) -> None:
        for pending in self._replies:           # their sessions fail as the worker's failure
            pending.done, pending.error = True, "the worker was restarted"
        self._replies.clear()
        if self.ctrl is not None:
            try:
                self.ctrl.settimeout(2)
                self.ctrl.send(b'{"op": "exit"}')
                self._await_exit(EXIT_WAIT_S)
            except OSError:
                pass
            self.ctrl.close()
            self.ctrl = None
        self._kill_proc()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

    def _await_exit(self, seconds: float) -> None:
        """Let the zygote run the commands sent before ``exit`` (a test's ``end`` not waited
        for) and its own exit, which kills the tests' children still running, until it
        closes its end of the control socket; at most ``seconds`` (then it is killed)."""
        assert self.ctrl is not None
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            self.ctrl.settimeout(left)
            if not self.ctrl.recv(1 << 16):     # replies nobody waits for are dropped
                return

    def workdir_lost(self) -> bool:
        """True when the worker's folder (its copy of the submission) was removed underneath
        it (a temp cleaner, a full /tmp wiped): every later test would fail to import the
        student's files, so the worker is restarted with a fresh copy before the next test."""
        return self.workdir is not None and not (self.workdir / "submission").is_dir()

    def restart(self) -> None:
        self.close()
        self.start()

    def __enter__(self) -> "Worker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ zygote commands
    def _command(self, doc: dict[str, Any], fds: list[int] | None = None, timeout: float = 30.0) -> dict[str, Any]:
        with self._lock:
            return self._command_locked(doc, fds, timeout)

    def _command_locked(self, doc: dict[str, Any], fds: list[int] | None, timeout: float,
                        answer: bool = True) -> Any:
        """Send one command; with ``answer`` wait for its reply (the replies of the commands
        sent before it without waiting are read first, in order) and return it, else return
        the :class:`PendingReply` that :meth:`_await` reads."""
        if self.ctrl is None:
            raise SandboxFailure("worker", "the worker is not running")
        self.ctrl.settimeout(timeout)
        if self.wire_tap is not None:
            self.wire_tap(json.dumps(doc).encode())
        try:
            if fds:
                socket.send_fds(self.ctrl, [json.dumps(doc).encode()], fds)
            else:
                self.ctrl.send(json.dumps(doc).encode())
        except (socket.timeout, OSError) as exc:
            self._lost(f"the worker stopped answering ({exc})")
        pending = PendingReply()
        self._replies.append(pending)
        if answer:
            self._read_until(pending)
            return pending.value
        return pending

    def _read_until(self, pending: "PendingReply") -> None:
        """Read the zygote's replies, in the order of their commands, up to ``pending``'s
        (lock held)."""
        while not pending.done:
            try:
                data = self._recv_reply()
            except (socket.timeout, OSError) as exc:
                self._lost(f"the worker stopped answering ({exc})")
            if not data:
                self._lost("the worker exited unexpectedly")
            try:
                value = json.loads(data.decode())
            except (UnicodeDecodeError, json.JSONDecodeError):
                self._lost("the worker sent a malformed reply")
            first = self._replies.popleft()
            first.value, first.done = value if isinstance(value, dict) else {}, True

    def _recv_reply(self) -> bytes:
        """One reply from the zygote within the control socket's timeout (b"" at EOF).  The
        wait looks every :data:`STOPPED_CHECK_S` whether the zygote is stopped or traced (by
        the code of a test, same uid): such a zygote is lost at once."""
        if self.ctrl is None:
            return b""
        total = self.ctrl.gettimeout()
        deadline = None if total is None else time.monotonic() + total
        try:
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise socket.timeout("timed out")
                self.ctrl.settimeout(STOPPED_CHECK_S if left is None else min(left, STOPPED_CHECK_S))
                try:
                    return self.ctrl.recv(1 << 16)
                except socket.timeout:
                    if self._zygote_stopped():
                        self._lost("the worker was stopped by the code of a test (SIGSTOP or a "
                                   "tracer); it was restarted")
        finally:
            if self.ctrl is not None:
                self.ctrl.settimeout(total)

    def _zygote_stopped(self) -> bool:
        """Whether the zygote is stopped or traced.  Found below the launcher's process (a
        bubblewrap launcher is a process of its own; setpriv execs the zygote) as the
        shallowest process running this Python."""
        if self.proc is None:
            return False
        if self._zygote_pid is None:
            self._zygote_pid = proctree.first_below(self.proc.pid, os.fsencode(sys.executable) + b"\0")
        return self._zygote_pid is not None and proctree.state(self._zygote_pid) in ("T", "t")

    def _lost(self, message: str) -> NoReturn:
        """The control channel failed: every reply still expected is lost (their sessions
        fail as the worker's failure), and the worker restarts before the next test."""
        self.needs_restart = True
        for pending in self._replies:
            pending.done, pending.error = True, message
        self._replies.clear()
        raise SandboxFailure("worker", message)

    def _await(self, pending: "PendingReply", timeout: float = 30.0) -> dict[str, Any]:
        """The reply of a command sent without waiting (reads it now if need be)."""
        with self._lock:
            if not pending.done and self.ctrl is not None:
                self.ctrl.settimeout(timeout)
                self._read_until(pending)
        if pending.error is not None or not pending.done:
            raise SandboxFailure("worker", pending.error or "the worker is not running")
        return pending.value

    def _settle(self) -> None:
        """Read the replies of the commands sent without waiting (a zygote that died since
        then is marked for a restart, so the next test does not fail for it)."""
        with self._lock:
            if self.ctrl is None or not self._replies:
                return
            self.ctrl.settimeout(20.0)
            try:
                self._read_until(self._replies[-1])
            except SandboxFailure:
                pass                            # needs_restart is set

    def _fork(self, sock_fd: int, out_fd: int, limits: Limits,
              blocked_imports: list[str] | None = None, wait: bool = True) -> Any:
        """Ask the zygote to start a test's child on these fds: its pid, or without ``wait``
        the :class:`PendingReply` whose value holds it (or the zygote's error)."""
        self._settle()
        if self.needs_restart or self.ctrl is None or self.workdir_lost():
            self.restart()
        cmd: dict[str, Any] = {"op": "fork", "cpu_s": limits.cpu_s, "memory_mb": limits.memory_mb}
        if blocked_imports:
            cmd["blocked_imports"] = list(blocked_imports)
        with self._lock:
            reply = self._command_locked(cmd, [sock_fd, out_fd], 30.0, answer=wait)
        if not wait:
            return reply
        if "pid" not in reply:
            raise SandboxFailure("worker", f"the worker could not start a test: {reply}")
        return int(reply["pid"])

    def _end(self, pid: int | None, reap: bool = True, wait: bool = True) -> dict[str, Any] | None:
        """Kill the test child ``pid`` (and its process group); ``reap`` also collects its
        exit status (``reap=False`` only signals it, for use from another thread).  Without
        ``wait`` the command is only sent (returns None): its reply is read, and dropped,
        before the next command's; a zygote that died meanwhile is restarted by
        :meth:`_fork` before the next test."""
        if pid is None:
            return None
        try:
            with self._lock:
                doc: dict[str, Any] = {"op": "end" if reap else "kill", "pid": pid}
                if reap and not wait:
                    doc["wait"] = False             # nobody reads its exit status
                reply = self._command_locked(doc, None, 20.0, answer=wait)
            return reply if wait else None
        except SandboxFailure:
            return None

    def session(self, limits: Limits | None = None, label: str = "", cap_s: float | None = None,
                cap_reason: str = "") -> Session:
        """A forked child for one test; ``cap_s`` (with its ``cap_reason``) lowers the test's
        time limit to what is left of a grading time budget."""
        return Session(self, limits or self.limits, label, cap_s, cap_reason)
