"""A test's child forked ahead of its test (the zygote's spare), its end not waited for, the
zygote's reply to the fork read only when needed, and the child's output collected late: each
of these takes work off a test's critical path, and none of them may weaken what a test
starts from.  Each property is checked against a control where one exists (``prefork=False``,
or the other half of the same test).
"""
import errno
import os
import signal
import time
import textwrap
import threading
from pathlib import Path

import pytest

from autograder import paths
from autograder.config import Limits
from autograder.sandbox.client import SandboxFailure, Worker
from autograder.sandbox.remote import RemoteStudent

KIT = paths.kit_root()

PROCS = textwrap.dedent('''
    import os, signal, sys, time

    def me():
        return os.getpid()

    def visible(wait_s):
        """The pids this process can see (its pid namespace under bubblewrap), once a sibling
        is there or ``wait_s`` has passed (the zygote forks its spare just after this child)."""
        give_up = time.monotonic() + wait_s
        while not siblings() and time.monotonic() < give_up:
            time.sleep(0.01)
        return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())

    def siblings():
        """The other children of this process's parent (the zygote)."""
        parent, out = os.getppid(), []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    fields = f.read().rpartition(b")")[2].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                out.append(int(entry))
        return sorted(out)

    def signal_siblings(signum, until_state=None):
        """Send ``signum`` to the spare beside this test; with ``until_state``, return once
        /proc shows each in that state (a stop takes effect when the target next runs)."""
        give_up = time.monotonic() + 4.0            # within the 5 s limit; returns once the spare is there
        while not siblings() and time.monotonic() < give_up:
            time.sleep(0.01)
        found = siblings()
        for pid in found:
            os.kill(pid, signum)
        while until_state and any(state_of(pid) != until_state for pid in found) and time.monotonic() < give_up:
            time.sleep(0.001)
        return found

    def stop_parent():
        """Stop the zygote (same uid) and return its state once the stop took effect."""
        parent = os.getppid()
        os.kill(parent, signal.SIGSTOP)
        give_up = time.monotonic() + 4.0
        while state_of(parent) != "T" and time.monotonic() < give_up:
            time.sleep(0.001)
        return state_of(parent)

    def ptrace_errno(target):
        """ptrace-attach ``target`` (then detach): 0, or the errno of the refusal."""
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.ptrace(16, target, 0, 0) != 0:          # PTRACE_ATTACH
            return ctypes.get_errno()
        os.waitpid(target, 0x40000000)                   # __WALL: its attach stop
        libc.ptrace(17, target, 0, 0)                   # PTRACE_DETACH
        return 0

    def ptrace_neighbours():
        """(own forked process, the zygote, the spare beside this test): each attach's errno."""
        mine = os.fork()
        if mine == 0:
            time.sleep(60)
            os._exit(0)
        give_up = time.monotonic() + 4.0
        while not [p for p in siblings() if p != mine] and time.monotonic() < give_up:
            time.sleep(0.01)
        try:
            spare = [p for p in siblings() if p != mine]
            return (ptrace_errno(mine), ptrace_errno(os.getppid()),
                    [ptrace_errno(p) for p in spare])
        finally:
            os.kill(mine, signal.SIGKILL)
            os.waitpid(mine, 0)

    def start_stray():
        """A process of this test's that would run for an hour."""
        pid = os.fork()
        if pid == 0:
            os.setsid()                 # out of the test's process group: only the sweep ends it
            time.sleep(3600)
            os._exit(0)
        return pid

    def state_of(pid):
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                return f.read().rpartition(b")")[2].split()[0].decode()
        except OSError:
            return "gone"

    def shout(n):
        sys.stdout.write("x" * n)
        sys.stdout.flush()
        return n

    def add(a, b):
        return a + b

    def nap(seconds):
        time.sleep(seconds)
        return seconds
''')


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    root = tmp_path_factory.mktemp("prefork-sub")
    (root / "src").mkdir()
    (root / "src" / "__init__.py").write_text("")
    (root / "src" / "procs.py").write_text(PROCS)
    return root


LIMITS = Limits.merged({"test_timeout_s": 5, "cpu_s": 10, "memory_mb": 2048})


def _worker(submission, prefork=True):
    w = Worker(submission, limits=LIMITS, hide=[KIT], prefork=prefork)
    w.start()
    return w


def _call(worker, fn, *args):
    session = worker.session()
    try:
        return getattr(RemoteStudent(session).procs, fn)(*args)
    finally:
        session.close()


@pytest.mark.parametrize("prefork", [True, False])
def test_the_next_tests_child_exists_while_a_test_runs_only_with_prefork(submission, prefork):
    w = _worker(submission, prefork)
    try:
        session = w.session()
        # with prefork the spare appears within milliseconds; the wait only bounds a loaded
        # machine's delay.  Without it nothing appears, so the control waits only 1 s.
        seen = RemoteStudent(session).procs.visible(4.0 if prefork else 1.0)
        session.close()
        later = w.session()
        pid = RemoteStudent(later).procs.me()
        later.close()
    finally:
        w.close()
    assert (pid in seen) is prefork


def test_a_spare_killed_by_the_test_beside_it_costs_the_next_test_nothing(submission):
    w = _worker(submission)
    try:
        killed = _call(w, "signal_siblings", int(signal.SIGKILL))
        assert killed, "the test saw no spare beside it"
        assert _call(w, "add", 2, 3) == 5
        assert _call(w, "me") not in killed
        assert _call(w, "add", 4, 5) == 9
    finally:
        w.close()


def test_a_spare_stopped_by_the_test_beside_it_is_continued_and_takes_the_next_test(submission):
    w = _worker(submission)
    try:
        stopped = _call(w, "signal_siblings", int(signal.SIGSTOP), "T")
        assert stopped
        # without the zygote's SIGCONT the stopped spare would be passed over (control: the
        # test's child would be a fresh fork, not the spare) or, where /proc still said
        # "sleeping", never acknowledge and the test would time out
        assert _call(w, "me") in stopped
        assert _call(w, "add", 2, 3) == 5
        # a stop the spare has not taken yet when the next test starts (the racy case):
        # every next test still runs at once
        for i in range(10):
            assert _call(w, "signal_siblings", int(signal.SIGSTOP))
            assert _call(w, "add", i, 1) == i + 1
    finally:
        w.close()


def test_a_zygote_stopped_by_a_test_is_restarted_at_the_next_test_without_waiting_out_a_timeout(submission):
    w = _worker(submission)
    try:
        starts = w.starts
        assert _call(w, "stop_parent") == "T"
        began = time.monotonic()
        assert _call(w, "add", 2, 3) == 5
        waited = time.monotonic() - began
        assert w.starts == starts + 1                      # a new zygote took the next test
        # without the check the grader would wait out the end's 20 s reply timeout first
        assert waited < 10, waited
        assert _call(w, "add", 4, 5) == 9
    finally:
        w.close()


def test_the_zygote_and_the_spare_cannot_be_ptraced_by_a_test(submission):
    """Same uid, but not dumpable (PR_SET_DUMPABLE 0): no ptrace, no /proc/PID/mem."""
    w = _worker(submission)
    try:
        own, zygote, spare = _call(w, "ptrace_neighbours")
        if own != 0:
            pytest.skip(f"ptrace is refused here altogether (errno {own}: Yama or seccomp)")
        assert zygote == errno.EPERM
        assert spare and all(e == errno.EPERM for e in spare), spare
        assert _call(w, "add", 2, 3) == 5                  # the worker goes on as before
    finally:
        w.close()


def test_a_worker_closed_during_a_call_leaves_no_test_child_running(submission):
    """A stop signal closes the worker while a test's call still runs: the test's end is sent
    and not waited for, then the worker is closed.  The zygote runs that end and, at its exit,
    kills the children still running, before the grader kills its process group, which the
    children (each in a session of its own) are not in.  Plain: no pid namespace ends them."""
    w = Worker(submission, limits=LIMITS, hide=[KIT], strategy="plain")
    w.start()
    session = w.session()
    st = RemoteStudent(session)
    pid = session.pid

    def call():
        try:
            st.procs.nap(30)
        except BaseException:  # noqa: BLE001 - the session is closed under it
            pass

    caller = threading.Thread(target=call, daemon=True)
    caller.start()
    try:
        deadline = time.monotonic() + 20
        while _syscall(pid) != CLOCK_NANOSLEEP:              # inside the student's sleep
            assert time.monotonic() < deadline, "the call never reached its sleep"
            time.sleep(0.005)
    finally:
        session.close()
        w.close()
    caller.join(10)
    deadline = time.monotonic() + 5
    while _state(pid) not in ("", "Z") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _state(pid) in ("", "Z"), f"the test's child {pid} still runs after the worker was closed"


def _syscall(pid):
    try:
        return int(Path(f"/proc/{pid}/syscall").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _state(pid):
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


CLOCK_NANOSLEEP = {"x86_64": 230, "aarch64": 115}.get(os.uname().machine)


def test_a_stray_process_is_killed_before_the_next_test_although_the_end_is_not_waited_for(submission):
    w = _worker(submission)
    try:
        session = w.session()
        st = RemoteStudent(session)
        stray = st.procs.start_stray()
        assert st.procs.state_of(stray) in ("S", "R")        # control: it runs during its test
        session.close()                                      # the end is only sent
        assert w._replies, "the end was waited for"
        assert _call(w, "state_of", stray) in ("gone", "Z", "X")
    finally:
        w.close()


def test_a_child_ended_without_waiting_leaves_all_its_output(submission):
    """100 kB is more than a pipe holds: the drain reads while the call runs, and the rest
    is collected when the report's output is first read."""
    w = _worker(submission)
    try:
        session = w.session()
        assert RemoteStudent(session).procs.shout(100_000) == 100_000
        report = session.close()
        assert report.exit_status is None                   # not waited for
        assert report.output_bytes == 100_000 and report.output.startswith("x" * 1000)
        waited = w.session()
        assert RemoteStudent(waited).procs.add(1, 1) == 2
        report = waited.close(wait=True)
        assert report.exit_status and report.exit_status.get("signal") is not None
    finally:
        w.close()


def test_a_worker_that_died_between_tests_costs_at_most_one_test(submission):
    """Killed after a test whose end was only sent: the next test finds it dead while reading
    that end's reply (and restarts it first), or it fails for the worker (the worker's
    failure, or its child dying with a zygote that no longer answers), as a test did before
    ends were sent without waiting; the test after it is served."""
    w = _worker(submission)
    try:
        assert _call(w, "add", 1, 2) == 3
        os.killpg(w.proc.pid, signal.SIGKILL)
        w.proc.wait()
        try:
            assert _call(w, "add", 2, 2) == 4
        except SandboxFailure as failure:
            assert failure.kind == "worker" or "worker process died" in failure.message, failure.message
        assert _call(w, "add", 3, 3) == 6
        assert w.starts == 2
    finally:
        w.close()


def test_a_fork_whose_reply_never_comes_fails_its_test_as_the_workers_failure(submission):
    w = _worker(submission)
    try:
        session = w.session()                               # the fork command is only sent
        os.killpg(w.proc.pid, signal.SIGKILL)
        w.proc.wait()
        with pytest.raises(SandboxFailure) as failure:
            RemoteStudent(session).procs.add(1, 2)
        assert failure.value.kind in ("worker", "crash")
        session.close()
        assert _call(w, "add", 2, 2) == 4                   # the next test: a restarted worker
    finally:
        w.close()
