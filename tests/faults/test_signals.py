"""Stop signals to real ``batch`` and ``grade`` processes (issue #20): SIGTERM, SIGINT and
SIGHUP stop every running job within seconds and leave no process behind; the exit status is
128 + the signal; finished work is kept; ``grade`` still writes a valid results.json with the
tests graded so far.  A second batch on the same folder is refused while the first runs."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder.batch import lock
from autograder.grading import results
from autograder.grading.stopped import NOT_RUN
from tests.kits.batchkit import KIT

from .faultkit import Run, sleeping_in


def _subs(tmp_path: Path, sources: dict[str, Path], names: dict[str, str]) -> Path:
    subs = tmp_path / "subs"
    for name, kind in names.items():
        shutil.copytree(sources[kind], subs / name)
    return subs


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)],
                         ids=["TERM", "INT", "HUP"])
def test_a_stop_signal_stops_the_batch_and_every_job(tmp_path, q1, sources, sig, code):
    subs = _subs(tmp_path, sources, {"a": "sleeps-q1", "b": "ref"})
    out = tmp_path / "out"
    run = Run(tmp_path)
    args = ["--assignment", str(q1), "batch", str(subs), "--out", str(out), "--backend", "process",
            "--jobs", "1", "--no-progress"]
    proc = run.start(*args)
    try:
        job = run.running_job()
        assert job["submission"] == "a"
        sleeping_in(run, worker_only=True)    # deep in a.Q1: grader, run_autograder and worker up
        assert len(run.leftovers()) >= 3, run.leftovers()
        if sig == signal.SIGTERM:            # a second batch on the same folder is refused
            second = run.start(*args)
            text2, _ = second.communicate(timeout=120)
            assert second.returncode == 2, text2
            assert f"{out} is being graded by pid {proc.pid} on " in text2, text2
        t0 = time.monotonic()
        proc.send_signal(sig)
        text, _ = proc.communicate(timeout=60)
        stop_s = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == code, text
    assert f"stopped by {sig.name}; 1 running job(s) stopped: a (slot {job['slot']}: process group " in text, text
    assert stop_s < 15, f"the batch took {stop_s:.1f} s to stop"
    left = run.wait_no_leftovers()
    assert not left, "processes of the stopped batch survive:\n" + "\n".join(left)
    assert not (out / "records" / "a.json").exists(), "an interrupted job must not leave a record"
    assert not list(run.tmpdir.glob("dlkit-batch-*")), "the job's folder must be removed"
    assert (out / lock.LOCK_NAME).read_text() == "", "the lock must be released"
    assert all(p.read_text() == "" for p in run.slots.glob("slot-*.lock")), "slots must be released"
    print(f"{sig.name}: exit {proc.returncode}, stopped in {stop_s:.2f} s")


@pytest.mark.parametrize("entry", ["grade", "run_autograder"])
def test_sigterm_to_grade_writes_the_tests_graded_so_far(tmp_path, q1q3, sources, entry):
    """``grade`` directly (exit 143), and Gradescope's ``run_autograder``, which passes the
    signal on to its grader and exits 0 once results.json is written."""
    run = Run(tmp_path)
    if entry == "grade":
        res = tmp_path / "results.json"
        proc = run.start("--assignment", str(q1q3), "grade", str(sources["sleeps"]), "--out", str(res))
    else:
        root = tmp_path / "autograder"
        shutil.copytree(sources["sleeps"], root / "submission")
        res = root / "results" / "results.json"
        proc = subprocess.Popen([str(KIT / "run_autograder")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env={**run.env, "AUTOGRADER_ROOT": str(root),
                                                "AUTOGRADER_ASSIGNMENT": str(q1q3),
                                                "AUTOGRADER_PYTHON": sys.executable})
    try:
        # Q1 is graded, Q3's first test sleeps: a worker's process (the grader's own waits,
        # e.g. for a sandbox strategy that did not come up, do not count)
        sleeping_in(run, worker_only=True)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        text, _ = proc.communicate(timeout=60)
        stop_s = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == (143 if entry == "grade" else 0), text
    assert "stopped by SIGTERM" in text
    assert stop_s < 15, f"grade took {stop_s:.1f} s to stop"
    left = run.wait_no_leftovers()
    assert not left, "processes of the stopped grading survive:\n" + "\n".join(left)
    doc = json.loads(res.read_text())
    results.validate(doc)
    q1 = [t for t in doc["tests"] if t["name"].startswith("Q1")]
    q3 = [t for t in doc["tests"] if t["name"].startswith("Q3")]
    assert q1 and q3, [t["name"] for t in doc["tests"]]
    assert all(t["score"] == t["max_score"] for t in q1), ("Q1 was graded in full before the signal",
                                                            [t.get("output", "")[-300:] for t in q1])
    assert all(t["score"] == 0 and NOT_RUN in t.get("output", "") for t in q3), q3
    assert doc["score"] == pytest.approx(sum(t["score"] for t in q1)) and doc["score"] > 0
    assert "Grading was stopped after" in doc["output"] and "SIGTERM" in doc["output"]
    print(f"{entry}: exit {proc.returncode} in {stop_s:.2f} s, {len(q1)} Q1 tests kept, {len(q3)} Q3 tests not run")
