"""Faults of ``batch --backend container`` with real podman (issue #20), on the grading image
of tests/test_container.py (built once per session: tests/conftest.py).  Each batch is a real
process that starts its own podman API service; its containers carry the output folder's
batch id (``dlkit.batch.id``), which is how these tests find them.

* SIGTERM to the batch: its running container is stopped and removed within seconds, the
  finished record is kept, exit 143.
* ``kill -9`` of the batch: its container and podman service run on (positive control); the
  next batch removes them with a message and grades what was unfinished.
* The podman service the batch talks to is killed mid-job: that job is ``error`` ("the
  container engine stopped answering"), its container removed through podman's command
  line; the next run (a new service) grades it.

Q1 only, two submissions ("a" sleeps in Q1's dense layer, "b" is the reference), two jobs."""
from __future__ import annotations

import json
import shutil
import signal
import time
from pathlib import Path

import pytest

from autograder.batch import lock

from containerkit import batch_containers
from .faultkit import Run, sleeping_in

pytestmark = [pytest.mark.podman, pytest.mark.slow]


def _start(tmp_path: Path, q1: Path, sources: dict, image) -> tuple[Run, Path, Path, list[str]]:
    subs = tmp_path / "subs"
    shutil.copytree(sources["sleeps-q1"], subs / "a")
    shutil.copytree(sources["ref"], subs / "b")
    out = tmp_path / "out"
    run = Run(tmp_path)
    args = ["--assignment", str(q1), "batch", str(subs), "--out", str(out), "--backend", "container",
            "--image", image.tag, "--jobs", "2", "--no-progress"]
    return run, subs, out, args


def _wait_b_graded_and_a_asleep(run: Run, out: Path, proc, timeout: float = 240) -> None:
    sleeping_in(run, timeout=timeout)        # a's worker (the slot's uid) asleep in its container
    deadline = time.monotonic() + timeout
    while not (out / "records" / "b.json").exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "b was not graded"
        time.sleep(0.2)


def _no_leftovers(run: Run, batch_id: str, timeout: float = 15) -> tuple[list[str], list[str]]:
    deadline = time.monotonic() + timeout
    while True:
        procs, ctrs = run.leftovers(), batch_containers(batch_id)
        if (not procs and not ctrs) or time.monotonic() > deadline:
            return procs, ctrs
        time.sleep(0.2)


def _stop(proc, batch_id: str | None = None) -> None:
    """Kill ``proc`` if it still runs (a failed test) and remove its containers."""
    if proc.poll() is None:
        proc.kill()
        proc.wait()
        if batch_id:
            from autograder.batch import container
            container.remove_left(None, batch_id)


def test_sigterm_stops_and_removes_the_batch_containers(tmp_path, q1, sources, image):
    run, subs, out, args = _start(tmp_path, q1, sources, image)
    batch_id = lock.batch_id(out)
    proc = run.start(*args)
    try:
        _wait_b_graded_and_a_asleep(run, out, proc)
        running = batch_containers(batch_id)
        assert len(running) == 1 and running[0].split(None, 1)[1].startswith("Up"), running
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        text, _ = proc.communicate(timeout=60)
        stop_s = time.monotonic() - t0
    finally:
        _stop(proc, batch_id)
    assert proc.returncode == 143, text
    cid = running[0].split()[0][:12]
    assert f"stopped by SIGTERM; 1 running job(s) stopped: a (slot " in text and f"container {cid})" in text, text
    procs, ctrs = _no_leftovers(run, batch_id)
    gone_s = time.monotonic() - t0
    assert not ctrs, f"containers of the stopped batch remain: {ctrs}"
    assert not procs, "processes of the stopped batch survive:\n" + "\n".join(procs)
    assert stop_s < 20 and gone_s < 25, (stop_s, gone_s)
    assert json.loads((out / "records" / "b.json").read_text())["status"] == "ok"
    assert not (out / "records" / "a.json").exists(), "an interrupted job must not leave a record"
    assert (out / lock.LOCK_NAME).read_text() == ""
    print(f"container SIGTERM: exit 143 in {stop_s:.2f} s, containers and processes gone in {gone_s:.2f} s")


def test_kill_9_then_the_next_batch_removes_the_left_containers(tmp_path, q1, sources, image):
    run, subs, out, args = _start(tmp_path, q1, sources, image)
    batch_id = lock.batch_id(out)
    first = run.start(*args)
    try:
        _wait_b_graded_and_a_asleep(run, out, first)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    finally:
        _stop(first)
    # positive control: the killed batch's container and podman service run on
    time.sleep(1)
    left = batch_containers(batch_id)
    assert len(left) == 1 and left[0].split(None, 1)[1].startswith("Up"), left
    service = json.loads((out / lock.LOCK_NAME).read_text()).get("podman_service_pid")
    assert isinstance(service, int) and Path(f"/proc/{service}").exists(), service
    shutil.rmtree(subs / "a")
    shutil.copytree(sources["ref"], subs / "a")      # the rerun grades a in full
    t0 = time.monotonic()
    second = run.start(*args)
    try:
        text, _ = second.communicate(timeout=300)
    finally:
        _stop(second, batch_id)
    recovery_s = time.monotonic() - t0
    assert second.returncode == 0, text
    assert f"left locked by pid {first.pid}" in text, text
    assert f"cleaned up after a killed batch: removed the container {left[0].split()[0][:12]} (a, " in text, text
    assert "podman" in text and str(service) in text, text
    assert "1 already graded" in text and "1 to grade" in text, text
    procs, ctrs = _no_leftovers(run, batch_id)
    assert not ctrs and not procs, (ctrs, procs)
    assert not Path(f"/proc/{service}").exists(), "the killed batch's podman service must be stopped"
    recs = {p.stem: json.loads(p.read_text()) for p in (out / "records").glob("*.json")}
    assert {k: r["status"] for k, r in recs.items()} == {"a": "ok", "b": "ok"}
    assert recs["a"]["results"]["score"] == pytest.approx(5.0)
    print(f"container kill -9: cleaned up and regraded in {recovery_s:.1f} s")


def test_the_podman_service_killed_mid_batch_is_an_error_retried_next_run(tmp_path, q1, sources, image):
    run, subs, out, args = _start(tmp_path, q1, sources, image)
    batch_id = lock.batch_id(out)
    proc = run.start(*args)
    try:
        _wait_b_graded_and_a_asleep(run, out, proc)
        service = json.loads((out / lock.LOCK_NAME).read_text())["podman_service_pid"]
        assert b"service" in Path(f"/proc/{service}/cmdline").read_bytes()
        t0 = time.monotonic()
        import os
        os.kill(service, signal.SIGKILL)             # the engine dies under the running job
        text, _ = proc.communicate(timeout=120)
        error_s = time.monotonic() - t0
    finally:
        _stop(proc, batch_id)
    assert proc.returncode == 1, text             # a job ended 'error'
    rec = json.loads((out / "records" / "a.json").read_text())
    assert rec["status"] == "error", rec["reason"]
    assert "container engine stopped answering" in rec["reason"] and "next run grades it again" in rec["reason"]
    assert "removed the container" in text, text
    procs, ctrs = _no_leftovers(run, batch_id)
    assert not ctrs and not procs, (ctrs, procs)
    assert json.loads((out / "records" / "b.json").read_text())["status"] == "ok"
    shutil.rmtree(subs / "a")
    shutil.copytree(sources["ref"], subs / "a")
    t1 = time.monotonic()
    again = run.start(*args)                        # a new podman service: a is graded again
    try:
        text2, _ = again.communicate(timeout=300)
    finally:
        _stop(again, batch_id)
    retry_s = time.monotonic() - t1
    assert again.returncode == 0, text2
    assert "1 already graded" in text2 and "1 to grade" in text2, text2
    assert json.loads((out / "records" / "a.json").read_text())["status"] == "ok"
    procs, ctrs = _no_leftovers(run, batch_id)
    assert not ctrs and not procs, (ctrs, procs)
    print(f"engine killed: 'error' recorded {error_s:.1f} s after the kill; regraded next run in {retry_s:.1f} s")
