"""``python -m autograder batch``: discovery (folders, zips, Gradescope's export), the
gradebook of a known batch, resuming an interrupted batch, a hanging submission that does not
stop the others, container-backend bookkeeping against a stand-in engine, GPU partitioning,
and the Dask scale-out through a real scheduler and two workers on loopback.

Everything here uses the process backend (no container engine needed) and small assignment
subsets with short limits; tests/batch/test_container.py grades in real containers.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests

from autograder import config
from autograder.batch import container, jobs, outputs, runner, slots, submissions
from autograder.grading import results

from tests.kits.batchkit import KIT, patched_submission, reference_submission, subset_toml, template_submission

PY = sys.executable
METADATA = """submission_1001:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1001'
    :email: ada@example.edu
  :created_at: 2026-10-01 12:00:00.000000000 -07:00
  :score: 0.0
submission_1002:
  :submitters:
  - :name: "Grace Hopper"
    :sid: '1002'
    :email: grace@example.edu
  - :name: Alan Turing
    :sid: '1003'
    :email: alan@example.edu
  :created_at: 2026-10-02 12:00:00.000000000 -07:00
submission_1004:
  :submitters:
  - :name: Blank Template
    :sid: '1004'
    :email: blank@example.edu
"""
SOFTMAX_BUG = ("src/classifiers.py", "    shifted = logits - np.max(logits, axis=1, keepdims=True)\n",
               "    shifted = logits\n")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AUTOGRADER_", "DLKIT_"))}


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def q1q3(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("batch-config")
    return subset_toml(d / "q1q3.toml", ["Q1", "Q3"],
                       limits={"test_timeout_s": "5", "cpu_s": "10", "memory_mb": "1024"},
                       container={"timeout_s": "300"})


@pytest.fixture(scope="module")
def export(tmp_path_factory) -> Path:
    """Gradescope's export: metadata + one folder per submission (a group of two included)."""
    d = tmp_path_factory.mktemp("export") / "assignment_export"
    d.mkdir()
    (d / "submission_metadata.yml").write_text(METADATA)
    reference_submission(d / "submission_1001", models=False)
    patched_submission(d / "submission_1002", *SOFTMAX_BUG)
    template_submission(d / "submission_1004")
    return d


# ---------------------------------------------------------------------------- pure units
def test_partition_gpus_splits_and_shares():
    assert slots.partition_gpus(0, 3) == [[], [], []]
    assert slots.partition_gpus(4, 2) == [[0, 1], [2, 3]]
    assert slots.partition_gpus(5, 2) == [[0, 1, 2], [3, 4]]
    assert slots.partition_gpus(8, 3) == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert slots.partition_gpus(2, 2) == [[0], [1]]
    assert slots.partition_gpus(2, 5) == [[0], [1], [0], [1], [0]]
    assert slots.partition_gpus(1, 1) == [[0]]
    for n in range(1, 9):
        for j in range(1, 9):
            parts = slots.partition_gpus(n, j)
            assert len(parts) == j and all(parts)
            used = sorted(g for p in parts for g in p)
            assert set(used) == set(range(n))                     # every GPU is used
            if j <= n:
                assert used == list(range(n))                     # and none twice
    assert slots.gpus_for_slot(3, 4, 2) == [2, 3]                 # slots wrap around
    with pytest.raises(ValueError):
        slots.partition_gpus(2, 0)


def test_gpu_request_and_visible_devices_per_container():
    spec = jobs.JobSpec(id="s1", backend="container", submitters=[], payload=b"",
                        limits=jobs.container_limits({}), timeout_s=10, image="img", gpus=4, jobs=2)
    env: dict[str, str] = {}
    kw = container.create_kwargs(spec, slots.gpus_for_slot(1, 4, 2), env)
    assert env["CUDA_VISIBLE_DEVICES"] == "2,3"
    (req,) = kw["device_requests"]
    assert req["DeviceIDs"] == ["0", "1", "2", "3"] and req["Capabilities"] == [["gpu"]]
    assert kw["network_mode"] == "none" and kw["mem_limit"] == kw["memswap_limit"] == "6144m"
    assert kw["cap_drop"] == ["ALL"] and "no-new-privileges" in kw["security_opt"]
    assert {u["Name"] for u in kw["ulimits"]} == {"nofile", "nproc"}
    spec.gpus = 0
    env = {}
    assert "device_requests" not in container.create_kwargs(spec, [], env) and not env


def test_slot_leases_are_exclusive(tmp_path):
    with slots.lease(tmp_path) as a, slots.lease(tmp_path) as b:
        assert a != b
        assert slots.worker_uid(a) != slots.worker_uid(b)
    with slots.lease(tmp_path) as c:
        assert c == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs processes under another uid")
def test_a_slots_processes_leave_out_zombies_which_no_wait_can_remove():
    uid = 64777
    pids = []
    for sleeps in (True, False):               # one alive, one exited and never reaped (a zombie)
        pid = os.fork()
        if pid == 0:
            os.setuid(uid)
            if sleeps:
                time.sleep(60)
            os._exit(0)
        pids.append(pid)
    alive, zombie = pids
    try:
        deadline = time.monotonic() + 10
        while Path(f"/proc/{zombie}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        while alive not in slots.uid_processes(uid):     # control: the live one is found
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert zombie not in slots.uid_processes(uid)
        assert slots.kill_uid(uid) >= 1
        os.waitpid(alive, 0)
        pids.remove(alive)
        # only the zombie is left: the uid counts as clean (a wait for it would never end)
        assert Path(f"/proc/{zombie}").exists() and slots.uid_processes(uid) == []
    finally:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)


def test_gradescope_metadata_is_read_with_pyyaml_and_never_builds_objects(tmp_path):
    parsed = submissions.parse_metadata_text(METADATA)
    people = [p for e in parsed.values() for p in submissions._submitters(e)]
    assert [p["name"] for p in people] == ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Blank Template"]
    assert people[0] == {"name": "Ada Lovelace", "sid": "1001", "email": "ada@example.edu"}
    # a tag that would build an object (or run a command) is read as the plain data under it
    marker = tmp_path / "ran"
    tricky = METADATA.replace("  :score: 0.0", f"  :score: !!python/object/apply:os.system ['touch {marker}']")
    assert tricky != METADATA
    (tmp_path / "submission_metadata.yml").write_text(tricky)
    loaded = submissions.load_metadata(tmp_path / "submission_metadata.yml")
    assert submissions._submitters(loaded["submission_1001"])[0]["email"] == "ada@example.edu"
    assert loaded["submission_1001"][":score"] == [f"touch {marker}"] and not marker.exists()
    ruby = METADATA.replace("  :score: 0.0", "  :created_at: !ruby/object:ActiveSupport::TimeWithZone\n    utc: 2026-12-01")
    assert ":created_at" in submissions.parse_metadata_text(ruby)["submission_1001"]


@pytest.mark.parametrize("text, expected", [
    ("submission_1:\n  :submitters: [\n", r"not valid YAML at line \d+, column \d+"),
    ("- a\n- b\n", "holds a list; expected Gradescope's export"),
])
def test_metadata_that_is_not_an_export_is_a_clear_error(tmp_path, text, expected):
    with pytest.raises(submissions.MetadataError, match=expected):
        submissions.parse_metadata_text(text)
    (tmp_path / "submission_metadata.yml").write_text(text)
    (tmp_path / "alice").mkdir()
    with pytest.raises(submissions.MetadataError, match="submission_metadata.yml"):
        submissions.discover(tmp_path)


def test_discovery_of_folders_zips_and_exports(tmp_path, export):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "alice").mkdir()
    (plain / "alice" / "layers.py").write_text("x = 1\n")
    with zipfile.ZipFile(plain / "bob smith.zip", "w") as zf:
        zf.writestr("src/layers.py", "x = 2\n")
    with zipfile.ZipFile(plain / "alice.zip", "w") as zf:     # the zip of a folder: counted once
        zf.writestr("layers.py", "x = 1\n")
    (plain / "notes.txt").write_text("not a submission")
    found, warnings = submissions.discover(plain)
    assert [s.id for s in found] == ["alice", "bob_smith"]
    assert found[1].path.suffix == ".zip"
    found, warnings = submissions.discover(export)
    assert [s.id for s in found] == ["submission_1001", "submission_1002", "submission_1004"]
    assert [p["email"] for p in found[1].submitters] == ["grace@example.edu", "alan@example.edu"]
    # a zip is unpacked with the kit's checks; the payload round-trips
    payload = submissions.pack(plain / "bob smith.zip")
    out = submissions.unpack(payload, tmp_path / "unpacked")
    assert (out / "src" / "layers.py").read_text() == "x = 2\n"


def test_outputs_from_records_with_leaderboard_metrics(tmp_path):
    def rec(sid, score, acc, status="ok", people=()):
        doc = {"score": score, "output": "", "tests": [
            {"name": "Q1 Linear · public · t", "score": min(score, 5.0), "max_score": 5.0, "status": "passed"},
            {"name": "Q5 Momentum · saved model on the private test set", "score": max(score - 5, 0),
             "max_score": 10.0, "status": "passed", "output": "model ok"},
            {"name": "Q5 Momentum · hidden test 1 of 1", "score": 0.0, "max_score": 0.0,
             "status": "failed", "output": "secret detail", "visibility": "hidden"}],
            "leaderboard": [{"name": "FC net accuracy", "value": acc, "order": "desc"},
                            {"name": "FC net macro-F1", "value": acc - 0.01, "order": "desc"}]}
        return {"id": sid, "status": status, "submitters": list(people), "results": doc,
                "wall_s": 1.5, "exit_code": 0, "backend": "process"}
    records = [rec("a", 15.0, 0.91, people=[{"name": "Ann", "email": "ann@x"}]),
               rec("b", 7.5, 0.97, people=[{"name": "Bo", "email": "bo@x"}, {"name": "Cy", "email": "cy@x"}])]
    written = outputs.write_all(tmp_path, records)
    rows = _read_csv(written["gradebook"])
    assert [(r["submission"], r["name"]) for r in rows] == [("a", "Ann"), ("b", "Bo"), ("b", "Cy")]
    assert rows[0]["Q1"] == "5.0" and rows[0]["Q5"] == "10.0" and rows[0]["total"] == "15.0"
    assert rows[1]["FC net accuracy"] == "0.97" and rows[1]["FC net macro-F1"] == "0.96"
    board = _read_csv(written["leaderboard"])
    assert [(r["rank"], r["submission"]) for r in board] == [("1", "b"), ("2", "a")]
    md = (tmp_path / "feedback" / "a.md").read_text()
    assert "Ann" in md and "15.00" in md and "model ok" in md and "secret detail" not in md
    assert (tmp_path / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------- container bookkeeping, no engine
class _FakeContainer:
    def __init__(self, behaviour):
        self.behaviour = behaviour
        self.id = "f" * 64
        self.calls: list[str] = []
        self.removed = False

    def put_archive(self, path, data):
        self.calls.append(f"put_archive {path}")
        return True

    def start(self):
        self.calls.append("start")
        if self.behaviour == "start-fails":
            import docker
            raise docker.errors.APIError("error setting rlimit type 7: operation not permitted")

    def wait(self, timeout=None):
        self.calls.append(f"wait {timeout}")
        if self.behaviour == "hang" and "kill" not in self.calls:
            raise requests.exceptions.ConnectionError("read timed out")
        return {"StatusCode": 137 if self.behaviour in ("oom", "hang") else 0}

    def kill(self):
        self.calls.append("kill")

    def logs(self, stdout=True, stderr=True):
        return b"grader output\n"

    def get_archive(self, path):
        import docker
        if self.behaviour != "ok":
            raise docker.errors.NotFound("no results")
        doc = results.set_run_status(results.failure_results("x"), results.GRADED)
        doc["tests"][0]["name"] = "Q1 fine"
        data = submissions.tar_bytes("results.json", json.dumps(doc).encode(), 0o644)
        return iter([data]), {}

    def remove(self, force=False):
        self.removed = True


class _FakeClient:
    def __init__(self, behaviour):
        self.container = _FakeContainer(behaviour)
        self.created: dict = {}
        self.images = SimpleNamespace(get=lambda name: SimpleNamespace(id="sha256:" + "a" * 64))
        self.containers = SimpleNamespace(create=self._create)

    def _create(self, **kwargs):
        self.created = kwargs
        return self.container


@pytest.mark.parametrize("behaviour, status", [("ok", "ok"), ("oom", "oom"), ("hang", "timeout"),
                                               ("start-fails", "error")])
def test_container_backend_statuses_without_an_engine(behaviour, status):
    spec = jobs.JobSpec(id="s", backend="container", submitters=[], payload=submissions.tar_bytes("a", b"1"),
                        limits=jobs.container_limits({}), timeout_s=7, image="img")
    client = _FakeClient(behaviour)
    outcome = container.run(spec, 0, [], client=client)
    doc, problem = jobs.parse_results(outcome.results)
    got, reason = jobs.classify(outcome, doc, problem, 7)
    assert got == status, reason
    assert client.container.removed, "the container must be removed whatever happened"
    assert client.container.calls[0] == "put_archive /autograder/submission"
    assert client.created["network_mode"] == "none"
    if behaviour == "hang":
        assert "kill" in client.container.calls and "wait 7" in client.container.calls
    if behaviour in ("ok", "oom"):
        assert outcome.info["container_exit_code"] == (0 if behaviour == "ok" else 137)


def test_results_are_read_as_json_only():
    doc, problem = jobs.parse_results(b"\x80\x04\x95 pickle bytes")
    assert doc is None and "not valid JSON" in problem
    doc, problem = jobs.parse_results(json.dumps({"score": "lots"}).encode())
    assert doc is None and "schema" in problem


# ---------------------------------------------------------------------------- real batches (process backend)
def test_gradebook_of_a_known_batch(tmp_path, export, q1q3):
    out = tmp_path / "graded"
    assignment = config.load(q1q3)
    summary = runner.run_batch(export, out, assignment=assignment, assignment_text=q1q3.read_text(),
                               backend="process", n_jobs=2, progress=False, log=lambda m: None)
    assert summary["status"] == {"ok": 3}
    rows = _read_csv(out / "gradebook.csv")
    by_name = {r["name"]: r for r in rows}
    assert list(by_name) == ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Blank Template"]
    ada, grace, alan, blank = (by_name[n] for n in by_name)
    assert (ada["email"], ada["sid"], ada["submission"]) == ("ada@example.edu", "1001", "submission_1001")
    assert float(ada["Q1"]) == 5.0 and float(ada["Q3"]) == 5.0 and float(ada["total"]) == 10.0
    assert float(grace["Q1"]) == 5.0 and 0.0 < float(grace["Q3"]) < 5.0      # softmax without the max shift
    assert grace["total"] == alan["total"] and alan["submission"] == "submission_1002"
    assert float(blank["total"]) == 0.0
    assert all(r["status"] == "ok" and r["possible"] == "10.0" and float(r["wall_s"]) > 0 for r in rows)
    # per-student feedback, the plot, the leaderboard (no model question here: header only)
    fb = (out / "feedback" / "submission_1002.md").read_text()
    assert "Grace Hopper" in fb and "Alan Turing" in fb and "Q3 Softmax classifier" in fb
    assert (out / "summary.png").read_bytes()[:4] == b"\x89PNG"
    assert _read_csv(out / "leaderboard.csv") == []
    recs = [json.loads(p.read_text()) for p in sorted((out / "records").glob("*.json"))]
    for rec in recs:
        results.validate(rec["results"])
        assert rec["exit_code"] == 0 and rec["pid"] == os.getpid()
    assert len({r["worker_uid"] for r in recs}) >= 1
    log = (out / "batch.log").read_text()
    assert log.count("status=ok exit=0") == 3
    # the class report (#22): written by the batch, with the grader's full failure messages
    # (grade --report-dir through run_autograder) kept in the records
    assert sorted(p.name for p in (out / "report" / "students").glob("*.html")) == [
        "submission_1001.html", "submission_1002.html", "submission_1004.html"]
    assert "Q3 Softmax classifier" in (out / "report" / "index.html").read_text()
    by_id = {r["id"]: r for r in recs}
    assert by_id["submission_1001"]["messages"] == []
    assert any(m["question"] == "Q3" and "finite" in m["message"] for m in by_id["submission_1002"]["messages"])


def _run_cli(args: list[str], **kw) -> subprocess.Popen:
    return subprocess.Popen([PY, "-m", "autograder", *args], cwd=KIT, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def test_interrupted_batch_resumes_where_it_stopped(tmp_path, q1q3):
    subs = tmp_path / "subs"
    for name in ("a-ref", "b-ref", "c-softmax"):
        if "softmax" in name:
            patched_submission(subs / name, *SOFTMAX_BUG)
        else:
            reference_submission(subs / name, models=False)
    out = tmp_path / "out"
    args = ["--assignment", str(q1q3), "batch", str(subs), "--out", str(out), "--backend", "process",
            "--jobs", "1", "--no-progress"]
    proc = _run_cli(args)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and not list((out / "records").glob("*.json")):
        time.sleep(0.2)
    first = sorted((out / "records").glob("*.json"))
    assert first, "no submission was graded within 300 s"
    proc.send_signal(signal.SIGINT)
    text, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, text
    assert "interrupted" in text
    done = {p.name: p.read_bytes() for p in (out / "records").glob("*.json")}
    assert 1 <= len(done) < 3, text
    # resume: only the rest is graded; what was done is untouched
    proc = _run_cli(args)
    text, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, text
    assert f"{len(done)} already graded (resuming" in text
    after = {p.name: p.read_bytes() for p in (out / "records").glob("*.json")}
    assert len(after) == 3
    assert all(after[n] == data for n, data in done.items())
    rows = _read_csv(out / "gradebook.csv")
    assert [r["submission"] for r in rows] == ["a-ref", "b-ref", "c-softmax"]
    assert [float(r["total"]) for r in rows][:2] == [10.0, 10.0]
    # --force regrades everything
    proc = _run_cli(args + ["--force"])
    text, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0 and "0 already graded" in text, text
    assert all(p.read_bytes() != after[p.name] for p in (out / "records").glob("*.json"))


def test_a_hanging_submission_and_a_bad_zip_do_not_stop_the_batch(tmp_path):
    toml = subset_toml(tmp_path / "q1.toml", ["Q1"],
                       limits={"test_timeout_s": "120", "cpu_s": "200", "memory_mb": "1024"},
                       container={"timeout_s": "45"})
    subs = tmp_path / "subs"
    reference_submission(subs / "good", models=False)
    patched_submission(subs / "hangs", "src/layers.py", "    out = X.reshape(X.shape[0], -1) @ W + b\n",
                       "    while True:\n        pass\n")
    patched_submission(subs / "hogs-memory", "src/layers.py",
                       "    out = X.reshape(X.shape[0], -1) @ W + b\n",
                       "    hog = bytearray(3 * 2**30)\n    out = X.reshape(X.shape[0], -1) @ W + b\n")
    (subs / "broken.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    out = tmp_path / "out"
    t0 = time.monotonic()
    summary = runner.run_batch(subs, out, assignment=config.load(toml), assignment_text=toml.read_text(),
                               backend="process", n_jobs=2, progress=False, log=lambda m: None)
    elapsed = time.monotonic() - t0
    recs = {p.stem: json.loads(p.read_text()) for p in (out / "records").glob("*.json")}
    assert recs["hangs"]["status"] == "timeout" and recs["hangs"]["timed_out"]
    assert recs["hangs"]["results"]["score"] == 0.0
    assert "longer than 45 s" in recs["hangs"]["results"]["output"]
    assert recs["broken"]["status"] == "rejected"
    assert recs["good"]["status"] == "ok" and recs["good"]["results"]["score"] == pytest.approx(5.0)
    # the memory hog fails the tests that allocate (MemoryError under the worker's limit)
    assert recs["hogs-memory"]["status"] == "ok"
    assert recs["hogs-memory"]["results"]["score"] < 5.0
    assert elapsed < 400
    rows = {r["submission"]: r for r in _read_csv(out / "gradebook.csv")}
    assert rows["hangs"]["status"] == "timeout" and rows["broken"]["status"] == "rejected"
    # nothing of the hanging job survives (its slot uid's processes are killed)
    uid = recs["hangs"]["worker_uid"]
    if os.geteuid() == 0:
        def of_uid():
            alive = []
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                except OSError:
                    continue
                if f"\nUid:\t{uid}\t" in status:
                    alive.append(pid)
            return alive
        deadline = time.monotonic() + 10      # a killed process may take a moment to leave /proc
        while (alive := of_uid()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive, f"processes of the timed-out job's uid {uid} survive: {alive}"
    assert summary["status"]["ok"] == 2


# ---------------------------------------------------------------------------- Dask
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def dask_cluster(tmp_path):
    pytest.importorskip("distributed")
    dask = Path(PY).parent / "dask"
    assert dask.exists(), "dask's command line is not installed beside this Python"
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = [open(tmp_path / f"{n}.log", "w") for n in ("scheduler", "w1", "w2")]
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=logs[0], stderr=subprocess.STDOUT, cwd=tmp_path)]
    try:
        from distributed import Client
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the dask scheduler did not start"
                time.sleep(0.3)
        for i in (1, 2):
            procs.append(subprocess.Popen(
                [str(dask), "worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
                 "--name", f"w{i}"], stdout=logs[i], stderr=subprocess.STDOUT, cwd=tmp_path))
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
            pids = set(client.run(os.getpid).values())
        yield SimpleNamespace(address=address, worker_pids=pids, procs=procs)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in logs:
            f.close()


def test_dask_scheduler_and_two_workers_grade_a_batch(tmp_path, dask_cluster):
    toml = subset_toml(tmp_path / "q1.toml", ["Q1"], limits={"test_timeout_s": "5", "cpu_s": "10"})
    subs = tmp_path / "subs"
    for i in range(4):
        reference_submission(subs / f"ref{i}", models=False)
    assert dask_cluster.worker_pids == {p.pid for p in dask_cluster.procs[1:]}
    out = tmp_path / "out"
    summary = runner.run_batch(subs, out, assignment=config.load(toml), assignment_text=toml.read_text(),
                               backend="auto", n_jobs=2, scheduler=dask_cluster.address,
                               progress=False, log=lambda m: None)
    assert summary["status"] == {"ok": 4} and summary["backend"] == "process"
    recs = [json.loads(p.read_text()) for p in sorted((out / "records").glob("*.json"))]
    pids = {r["pid"] for r in recs}
    assert pids <= dask_cluster.worker_pids, f"jobs ran in {pids}, workers are {dask_cluster.worker_pids}"
    assert os.getpid() not in pids
    assert all(r["results"]["score"] == pytest.approx(5.0) for r in recs)
    rows = _read_csv(out / "gradebook.csv")
    assert [r["submission"] for r in rows] == ["ref0", "ref1", "ref2", "ref3"]


def test_batch_on_an_export_with_broken_metadata_exits_2_naming_the_line(tmp_path, capsys):
    from autograder import cli
    subs = tmp_path / "export"
    (subs / "submission_1").mkdir(parents=True)
    (subs / "submission_metadata.yml").write_text("submission_1:\n  :submitters: [\n")
    assert cli.main(["batch", str(subs), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "submission_metadata.yml: not valid YAML at line" in err and "expected Gradescope's export" in err


def test_scheduler_without_dask_installed_names_the_extra(tmp_path, capsys, monkeypatch):
    from autograder import cli
    monkeypatch.setitem(sys.modules, "distributed", None)       # import fails as if absent
    subs = tmp_path / "subs"
    (subs / "alice" / "src").mkdir(parents=True)
    (subs / "alice" / "src" / "layers.py").write_text("x = 1\n")
    assert cli.main(["batch", str(subs), "--out", str(tmp_path / "out"),
                     "--scheduler", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err
    assert "--scheduler needs Dask's distributed package" in err and "[scale]" in err
