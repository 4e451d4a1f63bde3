"""Per-test timings (autograder/grading/timings.py): every test's wall time split into the
worker's own work, transport, child start-up and the trusted side; recorded in results.json,
report.json and the batch gradebook; printed by ``grade --profile``; compared with the limits
by ``check-config --timings``."""
from __future__ import annotations

import json
import shutil

import pytest

from autograder import cli, config, paths
from autograder.batch import outputs
from autograder.grading import grade as grading
from autograder.grading import timings
from autograder.sandbox.client import _reported_seconds

KIT = paths.kit_root()
ASSIGNMENT = config.load()
SLEEPY = '''

import time as _time
_real_relu_forward = relu_forward
_slept = []


def relu_forward(X):
    if not _slept:                 # once per test: each test imports the module afresh
        _slept.append(_time.sleep(0.4))
    return _real_relu_forward(X)
'''


def _q1_only():
    return config.restrict(ASSIGNMENT, ["Q1"])


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Q1 graded with a relu_forward whose first call in a test sleeps 0.4 s (and is otherwise
    correct)."""
    tmp = tmp_path_factory.mktemp("timings")
    sub = tmp / "sub"
    shutil.copytree(paths.reference_dir(KIT) / "src", sub / "src",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(sub / "src" / "layers.py", "a") as f:
        f.write(SLEEPY)
    out = tmp / "results.json"
    result = grading.grade(sub, assignment=_q1_only(), out=out, report_dir=tmp / "report",
                           fixed_seed=True)
    return result, json.loads(out.read_text()), tmp


def test_each_test_splits_its_wall_time_into_parts_that_add_up(graded):
    result, doc, _ = graded
    assert result.score == pytest.approx(5.0)
    for test in doc["tests"]:
        seconds = test["extra_data"]["seconds"]
        assert set(seconds) == {"wall", "student", "transport", "startup", "trusted"}
        assert all(v >= 0 for v in seconds.values()), seconds
        parts = sum(seconds[k] for k in ("student", "transport", "startup", "trusted"))
        assert parts == pytest.approx(seconds["wall"], abs=5e-4), seconds
        assert test["extra_data"]["question"] == "Q1"
        assert "nodeid" not in test["extra_data"]          # hidden tests' names stay the grader's


def test_time_in_student_code_is_counted_as_the_students(graded):
    """relu_forward sleeps 0.4 s in the worker: a test that calls it has at least 0.4 s of
    student time, which does not show up as the trusted side's."""
    result, _, _ = graded
    relu = [o for o in result.outcomes if o.report and "layers.relu_forward" in o.report.calls]
    assert relu, [o.name for o in result.outcomes]
    for o in relu:
        t = o.timings()
        assert t["student"] >= 0.4, (o.name, t)
        assert t["trusted"] < t["student"], (o.name, t)
    quick = [o for o in result.outcomes if o.report and o.report.calls
             and not any("relu" in c for c in o.report.calls)]
    assert quick and all(o.timings()["student"] < 0.4 for o in quick)


def test_question_and_submission_totals_are_in_results_and_report(graded):
    result, doc, tmp = graded
    t = doc["extra_data"]["timings"]
    q1 = t["questions"]["Q1"]
    assert q1["tests"] == len(doc["tests"])
    assert q1["wall"] == pytest.approx(sum(x["extra_data"]["seconds"]["wall"] for x in doc["tests"]),
                                       abs=0.01)
    assert {"intake", "worker start", "tests", "pytest overhead", "worker stop", "results"} <= set(t["phases"])
    assert t["total"] == pytest.approx(doc["execution_time"], abs=0.01)
    report = json.loads((tmp / "report" / "report.json").read_text())
    assert report["timings"] == t
    assert all("seconds" in x for x in report["tests"])


def test_profile_table_lists_the_slowest_tests_and_adds_up(graded):
    result, doc, _ = graded
    table = timings.profile_table(result.outcomes, doc["extra_data"]["timings"], top=3)
    lines = table.splitlines()
    slowest = max(result.outcomes, key=lambda o: o.duration)
    assert slowest.name in lines[2]
    assert f"the other {len(result.outcomes) - 3} tests" in table
    shown = float(lines[-3].split()[0])
    total = doc["extra_data"]["timings"]["total"]
    assert shown <= total + 1e-3
    assert "accounted for" in lines[-3]


def test_gradebook_has_seconds_per_question(graded):
    _, doc, _ = graded
    header, rows = outputs.gradebook_rows([{"id": "s1", "status": "ok", "results": doc}])
    col = header.index("Q1 s")
    assert rows[0][col] == pytest.approx(doc["extra_data"]["timings"]["questions"]["Q1"]["wall"], abs=1e-3)
    header, rows = outputs.gradebook_rows([{"id": "s1", "status": "ok", "results": {"tests": []}}],
                                          _q1_only())
    assert rows[0][header.index("Q1 s")] == ""     # no timings: left empty, not 0


def test_check_config_timings_flags_tests_over_half_their_limit(graded, tmp_path, capsys):
    _, doc, _ = graded
    limit = ASSIGNMENT.question("Q1").limits.test_timeout_s
    slow = json.loads(json.dumps(doc))
    slow["tests"][0]["extra_data"]["seconds"]["wall"] = 0.8 * limit
    (tmp_path / "records").mkdir()
    (tmp_path / "records" / "a.json").write_text(json.dumps({"id": "a", "results": doc}))
    (tmp_path / "records" / "b.json").write_text(json.dumps({"id": "b", "results": slow}))
    assert cli.main(["check-config", "--timings", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "from 2 grading(s)" in out
    flagged = [line for line in out.splitlines() if "over half its limit" in line]
    assert len(flagged) == 1 and slow["tests"][0]["name"] in flagged[0]
    assert f"{0.8 * limit:8.2f}" in flagged[0]
    assert "1 test(s) used more than 50% of their limit" in out


def test_check_config_timings_without_timings_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "results.json").write_text(json.dumps({"score": 0, "tests": []}))
    assert cli.main(["check-config", "--timings", str(tmp_path)]) == 2
    assert "no test timings in" in capsys.readouterr().err


@pytest.mark.parametrize("reply, expected", [
    ({"seconds": 0.25}, 0.25), ({"seconds": -3}, 0.0), ({"seconds": 99.0}, 1.0),
    ({"seconds": float("nan")}, 1.0), ({"seconds": True}, 1.0), ({"seconds": "0.1"}, 1.0),
    ({}, 1.0), (None, 1.0), (["seconds", 0.1], 1.0)])
def test_the_workers_own_figure_is_trusted_only_within_the_measured_wait(reply, expected):
    assert _reported_seconds(reply, 1.0) == expected


def test_waiting_for_a_zygote_still_starting_is_the_tests_startup_time():
    """A test whose worker is still starting (the torch zygote launched in the background)
    waits for it on its first request: that wait is start-up time, not the trusted side's."""
    import time
    from types import SimpleNamespace
    from autograder.config import Limits
    from autograder.grading.backend import LazySession
    from autograder.sandbox.client import SessionReport

    class _Session:
        def __init__(self):
            self.report, self.dead = SessionReport(), None

        def request(self, *args, **kwargs):
            return {"ok": True}

        def close(self):
            return self.report

    def worker():
        time.sleep(0.2)                              # the zygote's import, what was left of it
        return SimpleNamespace(session=lambda *args: _Session())

    lazy = LazySession(worker, Limits.merged(), "t")
    lazy.request({}, [], "f")
    report = lazy.close()
    assert report.seconds_starting >= 0.2
    assert report.timings()["startup"] >= 0.2
