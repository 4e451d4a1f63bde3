"""Stop signals to a real ``batch --scheduler`` (issue #20): the jobs run on a Dask worker
(a real ``dask scheduler`` and ``dask worker`` on loopback, the process backend), the driver
gets SIGTERM, SIGINT or SIGHUP while one job sleeps inside a test and another has finished.
The driver stops the job on the worker (its grader's process group and the slot's worker
uid, through ``Client.run``), keeps the finished record, prints what it stopped and exits
128 + the signal; no process of the batch is left and the worker stays up, idle, for the
next run, which grades the interrupted submission."""
from __future__ import annotations

import json
import shutil
import signal
import time

import pytest

from .faultkit import Run, sleeping_in, start_dask

pytest.importorskip("distributed", reason="--scheduler needs the kit's 'scale' extra (dask[distributed])")


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)],
                         ids=["TERM", "INT", "HUP"])
def test_a_stop_signal_stops_the_jobs_on_the_dask_workers(tmp_path, q1, sources, sig, code):
    subs = tmp_path / "subs"
    shutil.copytree(sources["sleeps-q1"], subs / "a")
    shutil.copytree(sources["ref"], subs / "b")
    out = tmp_path / "out"
    run = Run(tmp_path)
    cluster = start_dask(run, workers=1, nthreads=2)
    try:
        args = ["--assignment", str(q1), "batch", str(subs), "--out", str(out), "--scheduler",
                cluster.address, "--backend", "process", "--jobs", "2", "--no-progress"]
        proc = run.start(*args)
        try:
            job = run.running_job(submission="a")
            sleeping_in(run, worker_only=True)
            deadline = time.monotonic() + 180
            while not (out / "records" / "b.json").exists():      # b graded, a asleep
                assert time.monotonic() < deadline and proc.poll() is None, "b was not graded"
                time.sleep(0.2)
            t0 = time.monotonic()
            proc.send_signal(sig)
            text, _ = proc.communicate(timeout=60)
            stop_s = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == code, text
        assert (f"stopped by {sig.name}; 1 running job(s) stopped: a (slot {job['slot']}: process group "
                in text and f"on {cluster.address.rsplit(':', 1)[0]}" in text), text
        assert "1 graded in this run are kept" in text, text
        assert stop_s < 15, f"the batch took {stop_s:.1f} s to stop"
        workers = cluster.worker_pids | {p.pid for p in cluster.procs}
        deadline = time.monotonic() + 10
        while True:
            left = [line for line in run.leftovers() if int(line.split()[0]) not in workers]
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert not left, "processes of the stopped batch survive:\n" + "\n".join(left)
        assert all(p.poll() is None for p in cluster.procs), "the Dask cluster must stay up"
        assert json.loads((out / "records" / "b.json").read_text())["status"] == "ok"
        assert not (out / "records" / "a.json").exists(), "an interrupted job must not leave a record"
        assert all(p.read_text() == "" for p in run.slots.glob("slot-*.lock")), "slots must be released"
        assert not list(run.tmpdir.glob("dlkit-batch-*")), "the job's folder must be removed"
        if sig == signal.SIGTERM:        # the next run on the same cluster grades what was stopped
            shutil.rmtree(subs / "a")
            shutil.copytree(sources["ref"], subs / "a")
            t1 = time.monotonic()
            again = run.start(*args)
            text2, _ = again.communicate(timeout=300)
            assert again.returncode == 0, text2
            assert "1 already graded" in text2 and "1 to grade" in text2, text2
            assert json.loads((out / "records" / "a.json").read_text())["status"] == "ok"
            print(f"rerun graded a in {time.monotonic() - t1:.1f} s")
    finally:
        cluster.stop()
    print(f"{sig.name}: exit {proc.returncode}, stopped in {stop_s:.2f} s")
