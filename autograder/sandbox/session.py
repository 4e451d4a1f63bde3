"""One test's conversation with its forked worker child: :class:`Session` sends requests and
waits for replies against the test's remaining time budget, drains the child's output
(:class:`_OutputDrain`, keeping ``max_output_kb``), and turns a timeout, a crash (EOF), an
oversized or malformed reply or a refused import into a :class:`SandboxFailure` naming what
happened and in which call.  :class:`SessionReport` is what the grader records of the session.
:class:`.client.Worker` opens the sessions.
"""
from __future__ import annotations

import dataclasses
import os
import selectors
import signal
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from ..config import Limits
from ..worker import protocol
from . import imports

if TYPE_CHECKING:
    from .client import Worker


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
    _output: str = ""
    _output_bytes: int = 0
    #: the drain of a child ended without waiting: its output is collected on first use
    _drain: Any = dataclasses.field(default=None, repr=False, compare=False)

    def _collect(self) -> None:
        drain, self._drain = self._drain, None
        if drain is not None:
            drain.join(timeout=2.0)
            self._output, self._output_bytes = drain.text(), drain.total

    @property
    def output(self) -> str:
        """What the child printed (the first ``max_output_kb``, with a note of the rest)."""
        self._collect()
        return self._output

    @output.setter
    def output(self, value: str) -> None:
        self._drain, self._output = None, value

    @property
    def output_bytes(self) -> int:
        """How many bytes the child printed in all."""
        self._collect()
        return self._output_bytes

    @output_bytes.setter
    def output_bytes(self, value: int) -> None:
        self._collect()
        self._output_bytes = value

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


class _OutputDrain:
    """One test's stdout/stderr pipe, read by the process's :class:`_Drains` thread: keeps the
    first ``keep`` bytes, counts the rest, and calls ``on_flood`` once (in a thread of its own)
    when more than ``limit`` bytes were printed.  :meth:`join` waits for the end of the output
    (the pipe closed by every process that held it)."""

    def __init__(self, fd: int, keep: int, limit: int, on_flood: Any):
        self.fd = fd
        self.keep = keep
        self.limit = limit
        self.on_flood = on_flood
        self.flooded = False
        self.chunks: list[bytes] = []
        self.kept = 0
        self.total = 0
        self._done = threading.Event()

    def start(self) -> None:
        _drains().add(self)

    def feed(self, data: bytes) -> None:
        self.total += len(data)
        if self.total > self.limit and not self.flooded:
            self.flooded = True
            threading.Thread(target=self.on_flood, daemon=True).start()
        if self.kept < self.keep:
            part = data[: self.keep - self.kept]
            self.chunks.append(part)
            self.kept += len(part)

    def finish(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass
        self._done.set()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def is_alive(self) -> bool:
        return not self._done.is_set()

    def text(self) -> str:
        out = b"".join(self.chunks).decode("utf-8", errors="replace")
        if self.total > self.kept:
            out += f"\n[... {self.total - self.kept} more bytes of output not kept]"
        return out


class _Drains(threading.Thread):
    """The one thread of this process that reads every test's output pipe (a selector over
    them), instead of a thread per test: starting a thread cost a test about half a
    millisecond on this kit's 2-core machine, 0.2 s of a template's grading."""

    def __init__(self) -> None:
        super().__init__(daemon=True, name="dlkit-output-drains")
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._new: list[_OutputDrain] = []

    def add(self, drain: _OutputDrain) -> None:
        with self._lock:
            self._new.append(drain)
        try:
            os.write(self._wake_w, b"+")
        except BlockingIOError:
            pass                                # a wake-up is pending already

    def run(self) -> None:
        while True:
            for key, _ in self._selector.select():
                drain = key.data
                if drain is None:
                    self._register_new()
                    continue
                try:
                    data = os.read(key.fd, 1 << 16)
                except OSError:
                    data = b""
                if data:
                    drain.feed(data)
                else:
                    self._selector.unregister(key.fd)
                    drain.finish()

    def _register_new(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        with self._lock:
            new, self._new = self._new, []
        for drain in new:
            try:
                self._selector.register(drain.fd, selectors.EVENT_READ, drain)
            except (OSError, ValueError):
                drain.finish()


_DRAINS: tuple[int, _Drains] | None = None
_DRAINS_LOCK = threading.Lock()


def _drains() -> _Drains:
    """This process's drain thread, started on first use (again in a forked process)."""
    global _DRAINS
    with _DRAINS_LOCK:
        if _DRAINS is None or _DRAINS[0] != os.getpid() or not _DRAINS[1].is_alive():
            thread = _Drains()
            thread.start()
            _DRAINS = (os.getpid(), thread)
        return _DRAINS[1]


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
        #: the child's pid once known (:meth:`_child_pid`); ``_ticket``: the zygote's reply to
        #: the fork command, read when the pid is first needed
        self._pid: int | None = None
        self._ended = False
        self._pid_lock = threading.Lock()       # the drain thread may ask for it too (_flood)
        began = time.monotonic()
        try:
            # the command is only sent: the first request goes out at once and waits in the
            # child's socket, so the zygote's reply is read when the pid is first needed (to
            # end or stop the child), not on every test's critical path
            self._ticket: Any = worker._fork(child_sock.fileno(), write_fd, limits,
                                             sorted(self.refused_imports), wait=False)
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            child_sock.close()
            os.close(write_fd)
            self.report.seconds_starting += time.monotonic() - began
        self.drain = _OutputDrain(read_fd, limits.max_output_kb * 1024, limits.max_output_mb * 2**20,
                                  self._flood)
        self.drain.start()

    def _child_pid(self) -> int | None:
        """The test child's pid (None once it was ended), reading the zygote's reply to the
        fork command if that was not read yet.  A fork that failed (the zygote's error, or a
        zygote that died) fails the test as the worker's failure."""
        with self._pid_lock:
            return self._child_pid_locked()

    def _child_pid_locked(self) -> int | None:
        if self._ended:
            return None
        if self._pid is None:
            try:
                reply = self.worker._await(self._ticket)
                if "pid" not in reply:
                    raise SandboxFailure("worker", f"the worker could not start a test: {reply}")
            except SandboxFailure as failure:
                self._ended = True
                self.dead = self.dead or failure
                self.report.failure = self.report.failure or failure.message
                raise
            self._pid = int(reply["pid"])
        return self._pid

    def _take_pid(self) -> int | None:
        """The pid for ending the child (None when it was ended already); after this call
        the session has no child."""
        with self._pid_lock:
            try:
                return self._child_pid_locked()
            finally:
                self._ended = True

    @property
    def pid(self) -> int | None:
        """The test child's pid, None once ended (reads the fork's reply if need be)."""
        return self._child_pid()

    def _flood(self) -> None:
        """Called from the drain thread: stop a child that prints without end."""
        try:
            pid = self._child_pid()
        except BaseException:  # noqa: BLE001 - no child to stop
            return
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
            status = self.worker._end(self._take_pid())
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
            status = self.worker._end(self._take_pid())     # a failed fork raises here
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
            try:
                self.worker._end(self._take_pid())
            except SandboxFailure:
                pass                            # no child: the fork had failed
        else:
            self.report.exit_status = status
        self.worker.needs_restart = True
        raise failure

    def close(self, wait: bool = False) -> SessionReport:
        """End the child (if still running) and collect its output.

        By default the zygote's ``end`` (the kill of the child's process group, the sweep of
        strays) is only sent: :class:`~.client.Worker` reads its reply before its next
        command, and the zygote runs commands in order, so the next test's child still starts
        after the sweep.  The child's output is collected when the report's ``output`` is
        first read (every op's output is in the pipe before its reply).  With ``wait`` (model
        scoring, which reports the peak memory) the end is waited for, its exit status
        recorded and the output collected now."""
        began = time.monotonic()
        try:
            pid = self._take_pid()
        except SandboxFailure:
            pid = None                          # the fork had failed: no child to end
        if pid is not None:
            status = self.worker._end(pid, wait=wait)
            if wait and self.report.exit_status is None:
                self.report.exit_status = status
        self.report.seconds_starting += time.monotonic() - began
        try:
            self.sock.close()
        except OSError:
            pass
        self.report._drain = self.drain
        if wait:
            self.report._collect()
        return self.report
