"""Faults of ``batch --backend container`` with real podman (issue #20), on the grading image
of tests/batch/test_container.py (built once per session: tests/conftest.py).  Each batch is a real
process that starts its own podman API service; its containers carry the output folder's
batch id (``dlkit.batch.id``), which is how these tests find them.

* SIGTERM to the batch: its running container is stopped and removed within seconds, the
  finished record is kept, exit 143.
* The podman service the batch talks to is killed mid-job: that job is ``error`` ("the
  container engine stopped answering"), its container removed through podman's command
  line; the next run (a new service) retries it.
* That retry is cut by ``kill -9`` of the driver: its container and podman service run on
  (positive control); the next batch removes them with a message and grades what was
  unfinished.  (One folder for both faults: it keeps the podman step short.)

Q1 only, two submissions ("a" sleeps in Q1's dense layer, "b" is the reference), two jobs."""
from __future__ import annotations

import json
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from autograder.batch import lock

from tests.kits.containerkit import batch_containers
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
    sleeping_in(run, timeout=timeout, worker_only=True)        # a's worker (the slot's uid) asleep in its container
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
    assert "stopped by SIGTERM; 1 running job(s) stopped: a (slot " in text and f"container {cid})" in text, text
    procs, ctrs = _no_leftovers(run, batch_id)
    gone_s = time.monotonic() - t0
    assert not ctrs, f"containers of the stopped batch remain: {ctrs}"
    assert not procs, "processes of the stopped batch survive:\n" + "\n".join(procs)
    assert stop_s < 20 and gone_s < 25, (stop_s, gone_s)
    assert json.loads((out / "records" / "b.json").read_text())["status"] == "ok"
    assert not (out / "records" / "a.json").exists(), "an interrupted job must not leave a record"
    assert (out / lock.LOCK_NAME).read_text() == ""
    print(f"container SIGTERM: exit 143 in {stop_s:.2f} s, containers and processes gone in {gone_s:.2f} s")


def test_engine_killed_then_driver_killed_then_the_next_batch_recovers(tmp_path, q1, sources, image):
    """One folder, three runs: (1) the podman service the batch talks to is killed while a
    grades: a is 'error', b is kept; (2) the retry of a is cut by ``kill -9`` of the driver:
    its container and a fresh podman service run on; (3) the next batch removes them with a
    message and grades a."""
    run, subs, out, args = _start(tmp_path, q1, sources, image)
    batch_id = lock.batch_id(out)
    # (1) the engine dies under the running job
    proc = run.start(*args)
    try:
        _wait_b_graded_and_a_asleep(run, out, proc)
        service = json.loads((out / lock.LOCK_NAME).read_text())["podman_service_pid"]
        assert b"service" in Path(f"/proc/{service}/cmdline").read_bytes()
        t0 = time.monotonic()
        os.kill(service, signal.SIGKILL)
        text, _ = proc.communicate(timeout=120)
        error_s = time.monotonic() - t0
    finally:
        _stop(proc, batch_id)
    assert proc.returncode == 1, text             # a job ended 'error'
    rec = json.loads((out / "records" / "a.json").read_text())
    assert rec["status"] == "error", rec["reason"]
    assert "container engine stopped answering" in rec["reason"] and "next run grades it again" in rec["reason"]
    assert "removed the container" in text, text  # through podman's command line
    procs, ctrs = _no_leftovers(run, batch_id)
    assert not ctrs and not procs, (ctrs, procs)
    assert json.loads((out / "records" / "b.json").read_text())["status"] == "ok"

    # (2) the next run retries a (b is kept) and is killed with -9 while a sleeps again
    first = run.start(*args)
    try:
        sleeping_in(run, timeout=240, worker_only=True)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    finally:
        _stop(first)
    time.sleep(1)              # positive control: the killed batch's container and service run on
    left = batch_containers(batch_id)
    assert len(left) == 1 and left[0].split(None, 1)[1].startswith("Up"), left
    service = json.loads((out / lock.LOCK_NAME).read_text()).get("podman_service_pid")
    assert isinstance(service, int) and Path(f"/proc/{service}").exists(), service

    # (3) the next batch cleans up and grades a
    shutil.rmtree(subs / "a")
    shutil.copytree(sources["ref"], subs / "a")
    t1 = time.monotonic()
    second = run.start(*args)
    try:
        text, _ = second.communicate(timeout=300)
    finally:
        _stop(second, batch_id)
    recovery_s = time.monotonic() - t1
    assert second.returncode == 0, text
    assert f"left locked by pid {first.pid}" in text, text
    assert f"cleaned up after a killed batch: removed the container {left[0].split()[0][:12]} (a, " in text, text
    assert str(service) in text, text               # its podman service stopped, by pid
    assert "1 already graded" in text and "1 to grade" in text, text
    procs, ctrs = _no_leftovers(run, batch_id)
    assert not ctrs and not procs, (ctrs, procs)
    assert not Path(f"/proc/{service}").exists(), "the killed batch's podman service must be stopped"
    recs = {p.stem: json.loads(p.read_text()) for p in (out / "records").glob("*.json")}
    assert {k: r["status"] for k, r in recs.items()} == {"a": "ok", "b": "ok"}
    assert recs["a"]["results"]["score"] == pytest.approx(5.0)
    print(f"engine killed: 'error' recorded {error_s:.1f} s after the kill; after kill -9 the next "
          f"batch cleaned up and graded a in {recovery_s:.1f} s")
