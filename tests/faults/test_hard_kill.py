"""``kill -9`` of a batch driver (or a reboot) leaves its grader running and its lock and slot
files naming a dead owner (the positive control shows the orphans are really there); the next
batch on the folder cleans all of it up with a message and grades what was unfinished.  The
same rerun meets two more faults: a truncated record (detected, kept aside, regraded) and a
submission that vanishes while the batch runs (that row rejected, the rest graded)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import time

from autograder.batch import lock

from .faultkit import Run, sleeping_in


def test_kill_9_then_the_next_batch_cleans_up_and_regrades(tmp_path, q1, sources):
    subs = tmp_path / "subs"
    for name, kind in (("0-sleeps", "sleeps-q1"), ("a", "ref"), ("c", "ref")):   # in this order
        shutil.copytree(sources[kind], subs / name)
    out = tmp_path / "out"
    run = Run(tmp_path)
    args = ["--assignment", str(q1), "batch", str(subs), "--out", str(out), "--backend", "process",
            "--jobs", "1", "--no-progress"]
    first = run.start(*args)
    job = run.running_job()
    sleeping_in(run, worker_only=True)
    first.send_signal(signal.SIGKILL)
    first.communicate(timeout=30)
    # positive control: without clean-up the killed batch's grader and worker run on
    time.sleep(1)
    orphans = run.leftovers()
    assert len(orphans) >= 3, orphans
    assert json.loads((out / lock.LOCK_NAME).read_text())["pid"] == first.pid
    assert json.loads((run.slots / f"slot-{job['slot']}.lock").read_text())["pgid"] == job["pgid"]

    # a record left truncated (a crash mid-write on a filesystem without atomic rename)
    (out / "records").mkdir(exist_ok=True)
    (out / "records" / "a.json").write_text('{"id": "a", "status": "ok", "results": {"score": 5')
    (subs / "0-sleeps").rename(tmp_path / "0-sleeps-moved")   # the instructor moves it aside
    t0 = time.monotonic()
    second = run.start(*args)
    try:
        run.running_job(submission="a")     # "c" vanishes while the batch runs
        shutil.rmtree(subs / "c")
        text, _ = second.communicate(timeout=300)
    finally:
        if second.poll() is None:
            second.kill()
            second.wait()
    recovery_s = time.monotonic() - t0
    assert second.returncode == 0, text
    assert f"left locked by pid {first.pid}" in text, text
    assert f"stopped the leftover grader (process group {job['pgid']}) of the batch pid {first.pid}" in text, text
    assert "removed the leftover folder" in text, text
    assert "records/a.json is damaged: not valid JSON" in text and "a is graded again" in text, text
    assert not run.leftovers(), run.leftovers()
    recs = {p.stem: json.loads(p.read_text()) for p in (out / "records").glob("*.json")}
    assert recs["a"]["status"] == "ok" and recs["a"]["results"]["score"] == 5.0, text
    assert "c" in recs, text
    assert recs["c"]["status"] == "rejected" and "vanished after the batch started" in recs["c"]["reason"]
    assert list((out / "records").glob("a.json.damaged-*")), "the damaged record is kept aside"
    assert not list(run.tmpdir.glob("dlkit-batch-*")), "the killed job's folder must be removed"
    assert "0-sleeps" not in recs
    print(f"kill -9: {len(orphans)} orphans found, cleaned up and regraded in {recovery_s:.1f} s")
