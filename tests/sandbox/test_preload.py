"""The torch questions' zygote imports torch once (grading/preloads.py, sandbox/zygotes.py),
so each of their tests' children starts without paying torch's import; the child's memory limit
still holds for what the test itself allocates; the NumPy questions fork from a plain zygote."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from autograder import config, paths
from autograder.config import Limits
from autograder.grading import preloads
from autograder.sandbox.client import Worker
from autograder.sandbox.remote import RemoteStudent
from autograder.student import StudentError

KIT = paths.kit_root()
ASSIGNMENT = config.load()

PROBE = '''
import sys


def preloaded():
    return "torch" in sys.modules


def allocate(mb):
    import numpy as np
    a = np.ones(int(mb) * 2**20 // 8)
    a[::4096] = 2.0
    return float(a.sum())
'''


def _subset(*ids):
    return config.restrict(ASSIGNMENT, ids)


def test_torch_is_preloaded_exactly_for_the_questions_whose_code_imports_it():
    found = preloads.preload_by_question(ASSIGNMENT, paths.reference_dir(KIT))
    assert sorted(found) == sorted(ASSIGNMENT.ids)
    assert {q for q, mods in found.items() if mods} == {"Q6", "Q9"}
    assert found["Q6"] == found["Q9"] == ["torch"]


def test_torch_dynamo_is_preloaded_only_for_a_submission_whose_torch_code_uses_optim():
    """torch's first optimiser step imports torch._dynamo (~900 modules) in every test's child;
    the zygote imports it once when the submission trains with torch.optim (the reference),
    not for the template, whose empty functions would only wait for it."""
    found = preloads.preload_by_question(ASSIGNMENT, paths.reference_dir(KIT))
    ref = preloads.with_companions(found, ASSIGNMENT, paths.reference_dir(KIT))
    assert ref["Q6"] == ref["Q9"] == ["torch", "torch._dynamo"]       # one zygote for both
    assert found["Q9"] == ["torch"]                                    # not changed in place
    template = preloads.with_companions(found, ASSIGNMENT, KIT / "student_template")
    assert template["Q6"] == template["Q9"] == ["torch"]
    assert {q for q, mods in ref.items() if mods} == {"Q6", "Q9"}


def test_a_submission_whose_files_are_missing_preloads_nothing(tmp_path):
    assert preloads.preload_by_question(_subset("Q6", "Q9"), tmp_path) == {"Q6": [], "Q9": []}


@pytest.fixture(scope="module")
def preloading_worker(tmp_path_factory):
    root = tmp_path_factory.mktemp("preload-sub")
    (root / "src").mkdir()
    (root / "src" / "__init__.py").write_text("")
    (root / "src" / "probe.py").write_text(PROBE)
    # the worker's own limit (the assignment's largest) holds torch; each test gets less
    limits = Limits.merged({"test_timeout_s": 20, "cpu_s": 20, "memory_mb": 6144})
    w = Worker(root, limits=limits, preload=["torch"], hide=[KIT])
    w.start()
    yield w
    w.close()


def _call(worker, name, *args):
    session = worker.session(Limits.merged({"test_timeout_s": 20, "cpu_s": 20, "memory_mb": 512}))
    try:
        return getattr(RemoteStudent(session).probe, name)(*args)
    finally:
        session.close()


def test_the_child_finds_torch_imported_and_its_memory_limit_still_holds(preloading_worker):
    assert _call(preloading_worker, "preloaded") is True
    assert _call(preloading_worker, "allocate", 200) > 0               # inside the test's 512 MB
    with pytest.raises(StudentError) as err:                           # far beyond it, though
        _call(preloading_worker, "allocate", 2048)                     # the worker holds 6 GB
    assert err.value.type_name == "MemoryError"


class _FakeWorker:
    """Records what a Zygotes asks of a worker; ``fail_starts`` starts fail first."""

    def __init__(self, preload, log, fail_starts=0, sweep="pidns"):
        self.preload, self.log, self.fail_starts = preload, log, fail_starts
        self.strategy = SimpleNamespace(name="bwrap-root" if sweep == "pidns" else "setpriv", sweep=sweep)
        self.starts, self.start_seconds, self.ready, self.closed = 0, [], {}, False

    def start(self):
        self.log.append(("start", tuple(self.preload)))
        if self.fail_starts:
            self.fail_starts -= 1
            raise RuntimeError("could not start")
        self.starts += 1
        self.start_seconds.append(0.25)
        self.ready = {"probe": {"visible": ["/secret"] if self.preload else []}}

    def close(self):
        self.closed = True


def test_numpy_questions_fork_from_the_plain_zygote_and_torch_starts_once_on_first_use():
    from autograder.sandbox.zygotes import Zygotes
    log, made = [], []

    def make(preload):
        first_heavy = bool(preload) and not any(w.preload for w in made)
        made.append(_FakeWorker(preload, log, fail_starts=1 if first_heavy else 0))
        return made[-1]

    z = Zygotes(make, {"Q1": [], "Q6": ["torch"], "Q9": ["torch"]})
    z.start()
    assert log == [("start", ())]
    assert z.for_question("Q1") is z.plain and z.for_question(None) is z.plain
    assert log == [("start", ())]                                      # no torch zygote yet
    with pytest.raises(RuntimeError):
        z.for_question("Q6")                                           # its start failed...
    heavy = z.for_question("Q6")                                       # ...the next test retries
    assert heavy.preload == ["torch"] and z.for_question("Q9") is heavy
    assert log == [("start", ()), ("start", ("torch",)), ("start", ("torch",))]
    assert z.starts == 2 and z.start_seconds == [0.25, 0.25]
    assert z.late_visible == ["/secret"]                               # reported by grade
    z.close()
    assert z.plain.closed and heavy.closed


def test_where_the_sandbox_sweeps_by_uid_every_question_forks_from_the_plain_zygote():
    """setpriv (the grading container) ends each test by killing every process of the worker's
    uid: a second zygote of the same uid would be killed by the first one's sweep (seen in the
    container batch: 'the worker stopped answering').  There the torch questions use the plain
    zygote, whose children import torch themselves."""
    from autograder.sandbox.zygotes import Zygotes
    log = []
    z = Zygotes(lambda preload: _FakeWorker(preload, log, sweep="uid"), {"Q1": [], "Q6": ["torch"]})
    z.start()
    assert not z.can_split
    assert z.for_question("Q6") is z.plain and z.for_question("Q1") is z.plain
    assert log == [("start", ())]                                      # no second zygote


def test_without_a_sweep_plain_the_torch_questions_still_get_their_own_zygote():
    """``plain`` (development only) sweeps nothing when a test ends, so a second zygote is as
    safe beside the plain one as under bubblewrap's pid namespace."""
    from autograder.sandbox.zygotes import Zygotes
    log = []
    z = Zygotes(lambda preload: _FakeWorker(preload, log, sweep="none"), {"Q1": [], "Q6": ["torch"]})
    z.start()
    assert z.can_split
    assert z.for_question("Q6") is not z.plain and z.for_question("Q1") is z.plain


class _SlowWorker(_FakeWorker):
    """A fake whose start takes ``delay`` seconds from its launch (``begin_start``), like a
    zygote importing torch."""

    def __init__(self, preload, log, delay=0.0, **kw):
        super().__init__(preload, log, **kw)
        self.delay, self.launched = delay, None

    def begin_start(self):
        import time
        self.log.append(("launch", tuple(self.preload)))
        self.launched = time.monotonic()

    def start(self):
        import time
        began = self.launched if self.launched is not None else time.monotonic()
        self.launched = None
        time.sleep(max(0.0, began + (self.delay if self.preload else 0.0) - time.monotonic()))
        super().start()


def test_the_torch_zygote_starts_in_the_background_and_its_first_test_waits_only_for_the_rest():
    import time
    from autograder.sandbox.zygotes import Zygotes
    log = []
    z = Zygotes(lambda preload: _SlowWorker(preload, log, delay=0.5), {"Q1": [], "Q6": ["torch"], "Q9": ["torch"]})
    z.start()
    began = time.monotonic()
    assert z.start_heavy_in_background() == 1                      # one zygote for Q6 and Q9
    assert time.monotonic() - began < 0.2                          # did not wait for it
    assert z.for_question("Q1") is z.plain
    time.sleep(0.3)                                                # the NumPy questions' time
    began = time.monotonic()
    heavy = z.for_question("Q6")
    assert 0.05 < time.monotonic() - began < 0.45                  # only what was left
    assert heavy.preload == ["torch"] and z.for_question("Q9") is heavy
    assert log == [("start", ()), ("launch", ("torch",)), ("start", ("torch",))]
    assert z.late_visible == ["/secret"]
    z.close()
    assert heavy.closed


def test_a_failed_background_start_is_retried_on_first_use_and_an_unused_one_is_closed():
    from autograder.sandbox.zygotes import Zygotes
    log, made = [], []

    def make(preload):
        made.append(_SlowWorker(preload, log, fail_starts=1 if preload and len(made) == 1 else 0))
        return made[-1]

    z = Zygotes(make, {"Q1": [], "Q6": ["torch"]})
    z.start()
    z.start_heavy_in_background()
    heavy = z.for_question("Q6")                                   # the retry, in the foreground
    assert heavy is made[2] and made[1].closed and heavy.starts == 1
    z.close()
    # nothing begun where the sweep is by uid; an unused background start is closed
    z = Zygotes(lambda preload: _SlowWorker(preload, log, sweep="uid"), {"Q6": ["torch"]})
    z.start()
    assert z.start_heavy_in_background() == 0
    made.clear()
    z = Zygotes(make, {"Q6": ["torch"]})
    z.start()
    z.start_heavy_in_background()
    z.close()
    assert all(w.closed for w in made)


@pytest.mark.parametrize("strategy", ["bwrap-user", "plain"])
def test_a_zygote_started_in_the_background_outlives_its_start(tmp_path, strategy):
    """A zygote launched in the background is alive and serves tests when first used, long
    after its start is over.  (A first design started it from a thread: bubblewrap's
    --die-with-parent is PR_SET_PDEATHSIG, which fires when the *thread* that started the
    sandbox exits, so the zygote died and the first torch test failed with 'the worker exited
    unexpectedly'.)"""
    import time
    from autograder.sandbox.zygotes import Zygotes
    root = tmp_path / "sub"
    (root / "src").mkdir(parents=True)
    (root / "src" / "__init__.py").write_text("")
    (root / "src" / "probe.py").write_text(PROBE.replace('"torch"', '"json"'))
    limits = Limits.merged({"test_timeout_s": 20, "cpu_s": 20, "memory_mb": 2048})
    z = Zygotes(lambda preload: Worker(root, limits=limits, preload=preload, hide=[KIT],
                                       strategy=strategy), {"Q1": [], "Q6": ["json"]})
    try:
        z.start()
    except Exception as exc:                         # noqa: BLE001 - not available here
        pytest.skip(f"{strategy} does not start here: {exc}")
    try:
        assert z.start_heavy_in_background() == 1
        time.sleep(1.5)                              # its start is over by now
        heavy = z.for_question("Q6")
        assert heavy is not z.plain
        for _ in range(2):
            assert _call(heavy, "preloaded") is True     # json: preloaded, the zygote alive
    finally:
        z.close()
