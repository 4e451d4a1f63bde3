"""The sandboxed worker: isolation (each with a positive control run without the sandbox),
per-test failure isolation, and data-only results.

A positive control runs the very same student function in-process: it must succeed (read
the file, reach the listener, see the secret), so a passing isolation test proves the
defence and not a wrong path.
"""
import os
import socket
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest

from autograder import paths
from autograder.config import Limits
from autograder.sandbox import launcher
from autograder.sandbox.client import SandboxFailure, Worker
from autograder.sandbox.remote import RemoteObject, RemoteStudent
from autograder.student import InProcessStudent, StudentError
from autograder.testkit import CheckFailed, assert_close

KIT = paths.kit_root()
SECRET = "dlkit-test-secret-4f1c9a"

ATTACKS = textwrap.dedent('''
    import os, socket, time
    import numpy as np

    def read(path):
        with open(path, "rb") as f:
            return f.read(200)

    def listdir(path):
        return sorted(os.listdir(path))

    def environ_of(pid):
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read()

    def my_environ():
        return dict(os.environ)

    def connect(port):
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"hello")
        s.close()
        return "connected"

    def resolve(name):
        return socket.gethostbyname(name)

    class Liar:
        def __eq__(self, other):
            return True
        __hash__ = object.__hash__
        def __array__(self, *a, **k):
            raise RuntimeError("should never be called on the trusted side")

    def forged():
        return Liar()

    def spin():
        while True:
            pass

    def sleep():
        time.sleep(3600)

    def add(a, b):
        return a + b

    def draw():
        import random
        return np.random.rand(3), random.random()

    def write_results(path):
        with open(path, "w") as f:
            f.write('{"score": 1000}')
        return "written"
''')


@pytest.fixture(scope="module")
def submission(tmp_path_factory):
    root = tmp_path_factory.mktemp("attack-sub")
    (root / "src").mkdir()
    (root / "src" / "__init__.py").write_text("")
    (root / "src" / "attack.py").write_text(ATTACKS)
    return root


@pytest.fixture(scope="module")
def worker(submission):
    limits = Limits.merged({"test_timeout_s": 3, "cpu_s": 10, "memory_mb": 2048})
    hide = [KIT, Path("/autograder")]
    w = Worker(submission, limits=limits, hide=hide)
    w.start()
    yield w
    w.close()


@pytest.fixture
def student(worker):
    session = worker.session()
    yield RemoteStudent(session)
    session.close()


@pytest.fixture(scope="module")
def control(submission):
    """The same student code, imported in-process (no sandbox): the positive control."""
    return InProcessStudent(submission)


def _strategy():
    return launcher.detect()


needs_isolation = pytest.mark.skipif(
    not _strategy().hides_files,
    reason=f"no file-hiding sandbox here ({_strategy().name}): install bubblewrap "
           "(scripts/install-system-deps.sh); the grading container protects files by permissions")


@needs_isolation
@pytest.mark.parametrize("target", [
    KIT / "hidden_tests" / "test_q1_linear_relu.py",
    KIT / "reference" / "src" / "layers.py",
    KIT / "datasets" / "digits" / "private" / "test_labels.npy",
    KIT / "assignment.toml",
])
def test_secret_files_cannot_be_read_by_their_real_paths(student, control, target):
    assert target.is_file()
    assert len(control.attack.read(str(target))) > 0          # positive control: readable
    with pytest.raises(StudentError) as err:
        student.attack.read(str(target))
    assert err.value.type_name in ("FileNotFoundError", "PermissionError")


@needs_isolation
def test_secret_folders_cannot_be_listed(student, control):
    for folder in (KIT / "hidden_tests", KIT / "reference", KIT):
        assert control.attack.listdir(str(folder))                 # positive control
        try:
            seen = student.attack.listdir(str(folder))
        except StudentError:
            continue
        assert not {"hidden_tests", "reference", "test_q1_linear_relu.py", "src"} & set(seen), seen


@needs_isolation
def test_results_path_cannot_be_read_or_written(tmp_path, submission):
    results_dir = tmp_path / "results"
    results_dir.mkdir()
    (results_dir / "results.json").write_text('{"score": 1}')
    w = Worker(submission, limits=Limits.merged({"test_timeout_s": 3}), hide=[KIT, results_dir])
    with w:
        session = w.session()
        st = RemoteStudent(session)
        with pytest.raises(StudentError):
            st.attack.read(str(results_dir / "results.json"))
        try:
            st.attack.write_results(str(results_dir / "results.json"))
        except StudentError:
            pass
        session.close()
    assert (results_dir / "results.json").read_text() == '{"score": 1}'


def test_grader_environment_is_not_visible(student, control):
    # a stand-in for the grader process, started with a secret in its environment (as a
    # Gradescope token would be); /proc/<pid>/environ shows the environment given at exec.
    # Popen returns when exec closes its close-on-exec pipe, which the kernel does before it
    # records where the new environment lies, so /proc/<pid>/environ can still read b'' then:
    # the stand-in says "ready" from its own code, after exec has finished.
    import subprocess
    import sys
    grader = subprocess.Popen([sys.executable, "-c", "import time; print('ready', flush=True); time.sleep(60)"],
                              env={**os.environ, "DLKIT_GRADER_SECRET": SECRET}, stdout=subprocess.PIPE)
    try:
        assert grader.stdout.readline() == b"ready\n"
        assert SECRET.encode() in control.attack.environ_of(grader.pid)   # positive control
        with pytest.raises(StudentError) as err:
            student.attack.environ_of(grader.pid)
        assert err.value.type_name in ("FileNotFoundError", "PermissionError", "ProcessLookupError")
        with pytest.raises(StudentError):
            student.attack.environ_of(os.getpid())
    finally:
        grader.kill()
        grader.wait()
    # the worker's own environment carries none of the grader's variables
    env = student.attack.my_environ()
    assert not any(SECRET in v for v in env.values())
    assert set(env) <= {"PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "PYTHONHASHSEED", "MPLBACKEND",
                        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                        "PYTHONUNBUFFERED", "PWD", "DLKIT_DATASET", "DLKIT_DATA_DIR"}


@pytest.mark.skipif(not _strategy().isolates_network, reason=f"no network namespace here ({_strategy().name})")
def test_network_listener_on_loopback_is_unreachable(student, control):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    port = server.getsockname()[1]
    got = []

    def accept():
        server.settimeout(5)
        try:
            conn, _ = server.accept()
            got.append(conn.recv(16))
            conn.close()
        except OSError:
            pass
    t = threading.Thread(target=accept)
    t.start()
    assert control.attack.connect(port) == "connected"                # positive control
    t.join()
    assert got == [b"hello"]
    got.clear()
    t = threading.Thread(target=accept)
    t.start()
    with pytest.raises(StudentError) as err:
        student.attack.connect(port)
    t.join()
    server.close()
    assert got == []
    assert err.value.type_name in ("ConnectionRefusedError", "OSError", "TimeoutError")


@pytest.mark.skipif(not _strategy().isolates_network, reason=f"no network namespace here ({_strategy().name})")
def test_dns_lookup_fails(student):
    with pytest.raises(StudentError):
        student.attack.resolve("pypi.org")


def test_forged_eq_object_cannot_pass_a_comparison(student, control):
    liar = control.attack.forged()
    assert liar == np.array([1.0, 2.0])                       # it fools == in-process
    value = student.attack.forged()
    assert isinstance(value, RemoteObject)                     # kept in the worker: a handle
    with pytest.raises(CheckFailed, match="expected a numeric array"):
        assert_close("output", value, np.array([1.0, 2.0]), 1e-8)


def test_infinite_loop_fails_only_its_own_session(worker):
    session = worker.session()
    st = RemoteStudent(session)
    with pytest.raises(SandboxFailure, match=r"timed out after 3 s in attack.spin"):
        st.attack.spin()
    with pytest.raises(SandboxFailure, match="an earlier call of this test failed"):
        st.attack.add(1, 2)
    session.close()
    session = worker.session()                                 # the next test is served again
    assert RemoteStudent(session).attack.add(1, 2) == 3
    session.close()


def test_sleeping_forever_times_out(worker):
    session = worker.session()
    with pytest.raises(SandboxFailure, match="timed out"):
        RemoteStudent(session).attack.sleep()
    session.close()


def test_each_test_gets_a_fresh_process(worker):
    pids = set()
    for _ in range(3):
        session = worker.session()
        RemoteStudent(session).attack.add(1, 1)
        pids.add(session.pid)
        session.close()
    assert len(pids) == 3


def test_each_test_draws_fresh_random_numbers_unless_it_seeds(worker):
    """The zygote imports numpy.random once; each child reseeds it (and ``random``) from fresh
    entropy, so unseeded tests do not all see the zygote's stream, while seeding stays exact."""
    draws = []
    for _ in range(2):
        session = worker.session()
        try:
            draws.append(RemoteStudent(session).attack.draw())
        finally:
            session.close()
    assert not np.array_equal(draws[0][0], draws[1][0]) and draws[0][1] != draws[1][1]
    seeded = []
    for _ in range(2):
        session = worker.session()
        try:
            st = RemoteStudent(session)
            st.seed(7)
            seeded.append(st.attack.draw())
        finally:
            session.close()
    assert np.array_equal(seeded[0][0], seeded[1][0]) and seeded[0][1] == seeded[1][1]
    assert np.array_equal(seeded[0][0], np.random.RandomState(7).rand(3))


def test_a_strategy_whose_worker_does_not_come_up_gives_way_to_the_next(submission, monkeypatch):
    """Worker.start tries the candidate strategies strongest first and keeps the first whose
    worker comes up (with the worker uid where the strategy drops it); the process then
    sticks to it.  A forced strategy that cannot start fails with a message naming it."""
    broken = launcher.Strategy("broken", "none", False, False, False)
    missing = launcher.Strategy("missing", "none", False, False, False)   # e.g. no bwrap
    plain = launcher.STRATEGIES["plain"]
    real_command = launcher.command
    monkeypatch.setattr(launcher, "command", lambda strategy, spec, argv: (
        ["/bin/false"] if strategy is broken else
        ["/nonexistent/bwrap", "--unshare-net", *argv] if strategy is missing else
        real_command(strategy, spec, argv)))
    monkeypatch.setattr(launcher, "_confirmed", {})
    monkeypatch.setattr(launcher, "candidates", lambda prefer=None: (
        [broken] if prefer == "broken" else [missing] if prefer == "missing"
        else [missing, broken, plain]))
    limits = Limits.merged({"test_timeout_s": 3})
    w = Worker(submission, limits=limits, hide=[KIT])
    try:
        w.start()
        assert w.strategy is plain and w.starts == 1
        assert launcher._confirmed and list(launcher._confirmed.values()) == [plain]
        session = w.session()
        assert RemoteStudent(session).attack.add(2, 3) == 5
        session.close()
        w.restart()                          # restarts use the confirmed strategy only
        assert w.strategy is plain and w.starts == 2
    finally:
        w.close()
    for name in ("broken", "missing"):
        forced = Worker(submission, limits=limits, hide=[KIT], strategy=name)
        with pytest.raises(SandboxFailure, match=rf"did not start \({name}\)"):
            forced.start()
        forced.close()
        assert forced.workdir is None or not forced.workdir.exists()
