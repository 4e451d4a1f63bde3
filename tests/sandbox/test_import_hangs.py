"""A module whose top-level code hangs costs one test's time limit, not every test's.

Every test's child imports the submission afresh, so without the worker's import watch
(autograder/worker/imports.py) each test importing such a module waits out its own limit and
the submission's time budget runs out before unrelated questions are graded.  Each check here
has its control: the same sessions with the refusal switched off wait again.
"""
import time

import pytest

from autograder import paths
from autograder.config import Limits
from autograder.sandbox import imports
from autograder.sandbox.client import SandboxFailure, Worker
from autograder.sandbox.imports import importing_from, refuses_import
from autograder.sandbox.remote import RemoteStudent
from autograder.student import StudentError

KIT = paths.kit_root()
LIMIT_S = 2

FILES = {
    "__init__.py": "",
    "hangs.py": "import time\ntime.sleep(3600)\n\ndef f():\n    return 1\n",
    "uses_hangs.py": "from . import hangs\n\ndef g():\n    return 2\n",
    "lazy.py": "def h():\n    from . import hangs\n    return hangs.f()\n",
    "catcher.py": ("try:\n    from . import hangs\nexcept Exception:\n    hangs = None\n\n"
                   "def m():\n    return 4\n"),
    "slow.py": "import time\ntime.sleep(1.2)\n\ndef k():\n    return 3\n",
    "fine.py": "def add(a, b):\n    return a + b\n",
    "crashes.py": "import os\nos._exit(3)\n",
    "raises.py": "raise ValueError('bad module')\n",
}


@pytest.fixture
def worker(tmp_path):
    (tmp_path / "src").mkdir()
    for name, text in FILES.items():
        (tmp_path / "src" / name).write_text(text)
    w = Worker(tmp_path, limits=Limits.merged({"test_timeout_s": LIMIT_S, "cpu_s": 30}), hide=[KIT])
    w.start()
    yield w
    w.close()


def _call(worker, path, seconds=None):
    """Call ``path`` in a fresh session; (value or exception, seconds it took)."""
    limits = worker.limits if seconds is None else Limits.merged({"test_timeout_s": seconds, "cpu_s": 30})
    session = worker.session(limits)
    t0 = time.monotonic()
    try:
        module, _, fn = path.rpartition(".")
        return getattr(getattr(RemoteStudent(session), module), fn)(), time.monotonic() - t0
    except (SandboxFailure, StudentError) as exc:
        return exc, time.monotonic() - t0
    finally:
        session.close()


def test_a_hanging_import_costs_one_timeout_then_its_importers_fail_at_once(worker):
    first, took = _call(worker, "hangs.f")
    assert isinstance(first, SandboxFailure) and took >= LIMIT_S - 0.1
    assert f"timed out after {LIMIT_S} s in hangs.f" in first.message
    assert "while importing src/hangs.py" in first.message
    assert "top level" in first.message
    # the seconds the import itself got: the limit less the child's start (longer under load)
    given = worker.hung_imports["src/hangs.py"]
    assert LIMIT_S - 1.0 <= given <= LIMIT_S

    # the same file again, imported directly, through another module, lazily inside a
    # function, and under a try/except Exception: each fails without waiting
    for path in ("hangs.f", "uses_hangs.g", "lazy.h", "catcher.m"):
        exc, took = _call(worker, path)
        assert isinstance(exc, SandboxFailure), (path, exc)
        assert took < LIMIT_S / 2, (path, took)     # the control waits the whole limit
        assert exc.kind == "import"
        assert exc.message.startswith(f"not run: importing src/hangs.py timed out after "
                                      f"{given:.3g} s in an earlier test")
        assert path in exc.message
    # a refused import does not take the worker down: other modules still work
    session = worker.session()
    assert RemoteStudent(session).fine.add(2, 3) == 5
    session.close()


def test_control_without_the_refusal_every_importer_waits_again(worker, monkeypatch):
    monkeypatch.setattr(imports, "refuses_import", lambda given, allowed: False)
    _call(worker, "hangs.f")
    exc, took = _call(worker, "uses_hangs.g")
    assert isinstance(exc, SandboxFailure) and took >= LIMIT_S - 0.1
    assert "timed out" in exc.message and "while importing src/hangs.py" in exc.message


def test_a_test_allowing_the_import_more_time_tries_again(worker):
    _call(worker, "hangs.f")
    longer = 3.0
    assert not refuses_import(worker.hung_imports["src/hangs.py"], longer)
    exc, took = _call(worker, "uses_hangs.g", seconds=longer)
    assert isinstance(exc, SandboxFailure) and took >= longer - 0.1
    assert "while importing src/hangs.py" in exc.message
    assert worker.hung_imports["src/hangs.py"] >= longer - 0.3
    exc, took = _call(worker, "hangs.f", seconds=longer)     # now refused at that length too
    assert isinstance(exc, SandboxFailure) and took < longer / 2


def test_a_slow_but_finite_import_is_not_refused_to_a_test_that_gives_it_time(worker):
    exc, _ = _call(worker, "slow.k", seconds=0.6)             # too short for its 1.2 s import
    assert isinstance(exc, SandboxFailure) and "while importing src/slow.py" in exc.message
    value, took = _call(worker, "slow.k", seconds=LIMIT_S)    # long enough: tried, and passes
    assert value == 3 and took >= 1.1
    value, _ = _call(worker, "slow.k")
    assert value == 3


def test_crashes_and_errors_at_import_are_named_and_never_refused(worker):
    exc, _ = _call(worker, "crashes.x")
    assert isinstance(exc, SandboxFailure)
    assert "exited with code 3" in exc.message and "while importing src/crashes.py" in exc.message
    exc, _ = _call(worker, "raises.x")
    assert isinstance(exc, StudentError) and exc.type_name == "ValueError"
    assert worker.hung_imports == {}


def test_the_import_report_from_the_sandbox_is_parsed_defensively():
    good = {"importing": "12.5 src/__init__.py\n13.0 src/layers.py"}
    assert importing_from(good) == [(12.5, "src/__init__.py"), (13.0, "src/layers.py")]
    forged = {"importing": "1 ../../etc/passwd\n2 /abs/path.py\nnan src/x.py\nx src/y.py\n"
                           "3 src/\x1b[31mred.py\n4 " + "a" * 300 + "\n5 src/ok.py"}
    assert importing_from(forged) == [(5.0, "src/ok.py")]
    for status in (None, {}, {"importing": 7}, {"importing": ["x"]}):
        assert importing_from(status) == []
    assert refuses_import(10.0, 10.0) and refuses_import(9.9, 10.0)
    assert not refuses_import(10.0, 180.0) and not refuses_import(1.0, 2.0)


def test_an_import_cut_short_by_a_grading_budget_is_not_blamed_on_the_module(worker):
    session = worker.session(cap_s=0.6, cap_reason="the submission's time budget of 420 s for all tests")
    with pytest.raises(SandboxFailure) as err:
        RemoteStudent(session).slow.k()
    session.close()
    assert "what was left of the submission's time budget" in err.value.message
    assert "while importing src/slow.py" in err.value.message and "top level" not in err.value.message
    value, _ = _call(worker, "slow.k")          # the test's own limit is long enough
    assert value == 3
