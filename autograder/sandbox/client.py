"""The grader's handle on a sandboxed worker: start it, open one session per test, enforce
time and size limits, and turn every way a test can die into a clear failure.

:class:`Worker` starts the worker's main process (the zygote, :mod:`autograder.worker.main`)
under the strongest :mod:`.launcher` strategy available, in a fresh folder that holds only a
copy of the worker code and the staged submission.  :meth:`Worker.session` asks it to fork a
child for one test; the child's stdout/stderr go to a pipe that this side drains (keeping
``max_output_kb``).  :class:`Session` sends requests and waits for replies against the test's
remaining time budget.  On a timeout, a crash (EOF), an oversized or malformed reply the child
is killed, the failure is raised as a :class:`SandboxFailure` naming what happened and in
which call, and the worker is restarted before the next test.

Import-time hangs: the zygote reports which submission files a child was still importing when
it ended (:mod:`autograder.worker.imports`).  A test that timed out while importing a file
records it on the :class:`Worker` with the seconds the import was given; a later test that
allows the import no more than that (:func:`refuses_import`) does not wait again: its child
refuses the file at once and the test fails naming the earlier timeout.  One module whose
top-level code hangs thus costs one test's time limit, not every test's that imports it.
"""
from __future__ import annotations

import dataclasses
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
from typing import Any

from ..config import Limits
from ..worker import protocol
from . import devices, imports, launcher

WORKER_PACKAGE = Path(__file__).resolve().parent.parent / "worker"
WORKER_MODULE = "dlkit_worker"
START_TIMEOUT_S = 60.0
class SandboxFailure(BaseException):
    """A test's student code timed out, crashed, ran out of a limit or broke the protocol.

    A ``BaseException`` so that ``except Exception`` in test code cannot swallow it: the test
    fails with :attr:`message`.
    """

    def __init__(self, kind: str, message: str):
        #: what went wrong: ``timeout`` (a time limit or what was left of a budget), ``limit``
        #: (CPU time, memory, output or file size), ``crash`` (a signal or an exit), ``protocol``
        #: (a malformed or oversized reply), ``import`` (a file whose import timed out in an
        #: earlier test), ``budget`` (not run: a grading time budget was used up), ``worker``
        #: (the sandboxed worker could not start or vanished: the grading machine's problem)
        self.kind = kind
        self.message = message
        super().__init__(message)


@dataclasses.dataclass
class SessionReport:
    """What one test's child left behind."""

    output: str = ""
    output_bytes: int = 0
    failure: str | None = None
    exit_status: dict[str, Any] | None = None
    calls: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    #: wall seconds this side waited on the child's requests (what the time budgets charge):
    #: the child's own work plus transport
    seconds_in_student_code: float = 0.0
    #: of those, the seconds the child reported spending on the requests (student code and the
    #: probes beside it); clamped to each request's measured wait
    seconds_computing: float = 0.0
    #: wall seconds forking the test's child (a zygote restart included) and ending it
    seconds_starting: float = 0.0

    def timings(self) -> dict[str, float]:
        """``student``, ``transport`` and ``startup`` seconds of this test's sandboxed part."""
        return {"student": self.seconds_computing,
                "transport": max(self.seconds_in_student_code - self.seconds_computing, 0.0),
                "startup": self.seconds_starting}


def _reported_seconds(reply: Any, waited: float) -> float:
    """The child's own figure for one request (its reply's ``seconds``), trusted only within
    ``[0, waited]``; without a reply (a timeout, a crash) the whole wait counts as the child's."""
    if not isinstance(reply, dict):
        return waited
    value = reply.get("seconds")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return waited
    return min(max(float(value), 0.0), waited)


class _OutputDrain(threading.Thread):
    """Reads a test's stdout/stderr pipe: keeps the first ``keep`` bytes, counts the rest, and
    calls ``on_flood`` once when more than ``limit`` bytes were printed."""

    def __init__(self, fd: int, keep: int, limit: int, on_flood: Any):
        super().__init__(daemon=True)
        self.fd = fd
        self.keep = keep
        self.limit = limit
        self.on_flood = on_flood
        self.flooded = False
        self.chunks: list[bytes] = []
        self.kept = 0
        self.total = 0

    def run(self) -> None:
        try:
            while True:
                data = os.read(self.fd, 1 << 16)
                if not data:
                    break
                self.total += len(data)
                if self.total > self.limit and not self.flooded:
                    self.flooded = True
                    self.on_flood()
                if self.kept < self.keep:
                    part = data[: self.keep - self.kept]
                    self.chunks.append(part)
                    self.kept += len(part)
        except OSError:
            pass
        finally:
            try:
                os.close(self.fd)
            except OSError:
                pass

    def text(self) -> str:
        out = b"".join(self.chunks).decode("utf-8", errors="replace")
        if self.total > self.kept:
            out += f"\n[... {self.total - self.kept} more bytes of output not kept]"
        return out


def _describe_death(status: dict[str, Any] | None, limits: Limits, where: str) -> tuple[str, str]:
    """(kind, message) for a child that died during a call."""
    if not status:
        return "crash", f"the worker process died during {where}"
    sig = status.get("signal")
    cpu = status.get("cpu_s") or 0.0
    if sig == signal.SIGKILL and cpu >= 0.95 * limits.cpu_s:
        return "limit", (f"exceeded the CPU-time limit of {limits.cpu_s:g} s in {where} "
                         f"(an infinite loop, or far too slow)")
    if sig == signal.SIGKILL:
        return "limit", (f"was killed (SIGKILL) during {where}: most likely it ran out of memory "
                         f"(limit {limits.memory_mb} MB)")
    if sig == signal.SIGXFSZ:
        return "limit", f"tried to write a file larger than {limits.max_file_mb} MB in {where}"
    if sig is not None:
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return "crash", f"crashed with {name} during {where}"
    code = status.get("exit")
    return "crash", (f"the worker process exited with code {code} during {where} — student code "
                     f"must not call os._exit() or exit the interpreter")


class Session:
    """One forked child serving one test."""

    def __init__(self, worker: "Worker", limits: Limits, label: str, cap_s: float | None = None,
                 cap_reason: str = ""):
        self.worker = worker
        self.limits = limits
        self.label = label
        self.report = SessionReport()
        self.budget = float(limits.test_timeout_s)
        # a grading time budget (grading/budget.py) may leave this test less than its own limit
        self.cap_reason = cap_reason if cap_s is not None and cap_s < self.budget else ""
        if self.cap_reason:
            self.budget = float(cap_s)
        self.initial_budget = self.budget
        self.dead: SandboxFailure | None = None
        #: files whose import timed out in an earlier test for at least as long as this test
        #: allows: its child refuses them (path -> seconds that import was given)
        self.refused_imports = {rel: given for rel, given in worker.hung_imports.items()
                                if imports.refuses_import(given, self.budget)}
        self.sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        read_fd, write_fd = os.pipe()
        began = time.monotonic()
        try:
            self.pid = worker._fork(child_sock.fileno(), write_fd, limits, sorted(self.refused_imports))
        finally:
            child_sock.close()
            os.close(write_fd)
            self.report.seconds_starting += time.monotonic() - began
        self.drain = _OutputDrain(read_fd, limits.max_output_kb * 1024, limits.max_output_mb * 2**20,
                                  self._flood)
        self.drain.start()

    def _flood(self) -> None:
        """Called from the drain thread: stop a child that prints without end."""
        pid = self.pid
        if pid is not None:
            self.worker._end(pid, reap=False)

    def request(self, doc: dict[str, Any], blobs: list[bytes], where: str,
                timeout: float | None = None) -> tuple[dict[str, Any], list[bytes]]:
        """Send one request and wait for its reply within the test's remaining budget (and
        within ``timeout`` seconds for this call, when given)."""
        if self.dead is not None:
            raise SandboxFailure(self.dead.kind, f"not run: an earlier call of this test failed "
                                                 f"({self.dead.message})")
        self.report.calls.append(where)
        start = time.monotonic()
        limit = max(self.budget, 0.0) if timeout is None else min(max(self.budget, 0.0), timeout)
        per_call = timeout is not None and timeout < self.budget
        deadline = start + limit

        def check() -> None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise socket.timeout()
            self.sock.settimeout(remaining)

        reply: dict[str, Any] | None = None
        try:
            check()
            parts = protocol.frame_parts(doc, blobs)
            if self.worker.wire_tap is not None:
                self.worker.wire_tap(b"".join(parts))
            protocol.send_parts(self.sock, parts)
            reply, reply_blobs = protocol.recv_frame(self.sock, self.limits.max_reply_mb * 2**20, check)
        except socket.timeout:
            now = time.monotonic()
            status = self.worker._end(self.pid)
            self.pid = None
            if per_call:
                message = f"timed out after {timeout:g} s in {where} (the per-call limit)"
            elif self.cap_reason:
                message = (f"timed out after {self.initial_budget:.3g} s in {where} (what was left "
                           f"of {self.cap_reason})")
            else:
                message = (f"timed out after {self.limits.test_timeout_s:g} s in {where} (the "
                           f"per-test time limit)")
            capped = bool(self.cap_reason) and not per_call
            self._die("timeout", message + self._hung_import(status, now, limit, capped), status)
        except (EOFError, ConnectionError, BrokenPipeError):
            status = self.worker._end(self.pid)
            self.pid = None
            if self.drain.flooded:
                self._die("limit", f"printed more than {self.limits.max_output_mb} MB during {where}; "
                                   f"the limit is {self.limits.max_output_mb} MB of output per test", status)
            kind, message = _describe_death(status, self.limits, where)
            importing = imports.importing_from(status)
            if importing:
                message += f" while importing {importing[-1][1]}"
            self._die(kind, message, status)
        except protocol.ProtocolError as exc:
            self._die("protocol", f"{where}: {exc}")
        finally:
            elapsed = time.monotonic() - start
            self.budget -= elapsed
            self.report.seconds_in_student_code += elapsed
            self.report.seconds_computing += _reported_seconds(reply, elapsed)
        for note in reply.get("notes", []):
            if note not in self.report.notes:
                self.report.notes.append(note)
        if not reply.get("ok") and self.refused_imports:
            self._check_refused_import(reply, where)
        return reply, reply_blobs

    def _hung_import(self, status: dict[str, Any] | None, now: float, limit: float,
                     capped: bool) -> str:
        return imports.record_hung_import(status, now, limit, capped, self.worker.hung_imports)

    def _check_refused_import(self, reply: dict[str, Any], where: str) -> None:
        """A request failed because the child refused a file this side told it to refuse:
        the test fails with the earlier timeout, told from the grader's own record."""
        message = imports.refused_import_message(reply, where, self.refused_imports,
                                                 self.cap_reason, self.initial_budget)
        if message is None:
            return
        failure = SandboxFailure("import", message)
        self.dead = failure
        self.report.failure = failure.message
        raise failure

    def _die(self, kind: str, message: str, status: dict[str, Any] | None = None) -> None:
        failure = SandboxFailure(kind, message)
        self.dead = failure
        self.report.failure = message
        if status is None:
            self.worker._end(self.pid)
            self.pid = None
        else:
            self.report.exit_status = status
        self.worker.needs_restart = True
        raise failure

    def close(self) -> SessionReport:
        """End the child (if still running) and collect its output."""
        if self.pid is not None:
            began = time.monotonic()
            status = self.worker._end(self.pid)
            self.report.seconds_starting += time.monotonic() - began
            self.pid = None
            if self.report.exit_status is None:
                self.report.exit_status = status
        try:
            self.sock.close()
        except OSError:
            pass
        self.drain.join(timeout=2.0)
        self.report.output = self.drain.text()
        self.report.output_bytes = self.drain.total
        return self.report


class Worker:
    """A sandboxed worker for one submission; restarts itself after a failed test."""

    def __init__(self, submission: Path, *, limits: Limits, data_dirs: list[Path] | None = None,
                 hide: list[Path] | None = None, env: dict[str, str] | None = None,
                 preload: list[str] | None = None, probe_paths: list[Path] | None = None,
                 base_tmp: Path | None = None, strategy: str | None = None,
                 gpus: devices.GpuSelection | None = None):
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
        self._candidates = launcher.candidates(strategy)
        #: The isolation strategy: provisional (the strongest candidate) until :meth:`start`
        #: has brought a worker up with it.
        self.strategy = self._candidates[0]
        self.uid = launcher.worker_uid()
        self.proc: subprocess.Popen[bytes] | None = None
        self.ctrl: socket.socket | None = None
        self.workdir: Path | None = None
        self.ready: dict[str, Any] = {}
        self.needs_restart = False
        #: submission files whose import timed out, with the seconds it was given (kept across
        #: restarts: it is the submission's, not the process's)
        self.hung_imports: dict[str, float] = {}
        self.starts = 0
        self.start_seconds: list[float] = []
        #: Called with every byte string given to the worker (its files, its configuration,
        #: every command and request): lets tests prove what never crosses (e.g. labels).
        self.wire_tap: Any = None
        self._lock = threading.Lock()
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
        config = {"submission": str(submission), "package": "src",
                  "sys_path": [str(submission), str(submission / "src")],
                  "sweep": strategy.sweep, "preload": self.preload,
                  "probe": self.probe_paths, "env": {}}
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
        try:
            data = parent.recv(1 << 20)
        except (socket.timeout, OSError):
            data = b""
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
            err = self._kill_proc()
            parent.close()
            self.ctrl = None
            why = (f"it runs as uid {uid}, not the worker uid {self.uid}" if ready.get("ready")
                   else err[-2000:])
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
        if self.ctrl is not None:
            try:
                self.ctrl.settimeout(2)
                self.ctrl.send(b'{"op": "exit"}')
            except OSError:
                pass
            self.ctrl.close()
            self.ctrl = None
        self._kill_proc()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None

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

    def _command_locked(self, doc: dict[str, Any], fds: list[int] | None, timeout: float) -> dict[str, Any]:
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
            data = self.ctrl.recv(1 << 16)
        except (socket.timeout, OSError) as exc:
            self.needs_restart = True
            raise SandboxFailure("worker", f"the worker stopped answering ({exc})") from None
        if not data:
            self.needs_restart = True
            raise SandboxFailure("worker", "the worker exited unexpectedly")
        return json.loads(data.decode())

    def _fork(self, sock_fd: int, out_fd: int, limits: Limits,
              blocked_imports: list[str] | None = None) -> int:
        if self.needs_restart or self.ctrl is None or self.workdir_lost():
            self.restart()
        cmd: dict[str, Any] = {"op": "fork", "cpu_s": limits.cpu_s, "memory_mb": limits.memory_mb}
        if blocked_imports:
            cmd["blocked_imports"] = list(blocked_imports)
        reply = self._command(cmd, [sock_fd, out_fd])
        if "pid" not in reply:
            raise SandboxFailure("worker", f"the worker could not start a test: {reply}")
        return int(reply["pid"])

    def _end(self, pid: int | None, reap: bool = True) -> dict[str, Any] | None:
        """Kill the test child ``pid`` (and its process group); ``reap`` also collects its
        exit status (``reap=False`` only signals it, for use from another thread)."""
        if pid is None:
            return None
        try:
            return self._command({"op": "end" if reap else "kill", "pid": pid}, timeout=20.0)
        except SandboxFailure:
            return None

    def session(self, limits: Limits | None = None, label: str = "", cap_s: float | None = None,
                cap_reason: str = "") -> Session:
        """A forked child for one test; ``cap_s`` (with its ``cap_reason``) lowers the test's
        time limit to what is left of a grading time budget."""
        return Session(self, limits or self.limits, label, cap_s, cap_reason)
