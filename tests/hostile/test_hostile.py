"""Hostile submissions graded through Gradescope's path (``run_autograder`` with
``AUTOGRADER_ROOT`` in a temp dir).  Cases: ``cases.py``.

For every case: the attacked question scores zero and each of its tests says what happened;
the questions the attack does not touch keep full marks; the grader does not crash; no marker
file appears outside the worker's temp dir; results.json validates against the schema; no
planted secret reaches it; no worker process survives; and grading the whole submission ends
within the case's bound.  Each case has a positive control (the same attack without the
sandbox succeeds).

CI runs the corpus against a small assignment subset (Q1 and Q3, plus Q6 for the model
attacks; 1 s per test).  The full run grades every case against the whole assignment
(``make hostile-full``; 70 min on 2 cores, each of the four hang cases ~465 s because a hang in
``layers.linear_forward`` uses up the 420 s test budget through Q1, Q4, Q5 and Q14, which run
last; the other questions keep full marks):

    DLKIT_HOSTILE_FULL=1 .venv/bin/pytest tests/hostile
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autograder import config, paths, refmodels
from autograder.grading import results
from autograder.sandbox import launcher

from .cases import CASES, CONTROL_SECONDS, ROUTE_Q1, Case

KIT = paths.kit_root()
FULL = os.environ.get("DLKIT_HOSTILE_FULL") == "1"
SECRET = "gs-token-4d1e6b0c9f2a-hostile"
HIDDEN_MARK = "TOL_GRAD = 1e-7"                                   # a line of a hidden test
REFERENCE_MARK = "out = X.reshape(X.shape[0], -1) @ W + b"         # a line of the reference
STRATEGY = launcher.detect()
#: The message of a test left unrun because earlier ones used up a time budget (grading/budget.py).
BUDGET_USED_UP = (r"not run: (question \w+'s|the submission's) time budget of [\d.]+ s for all "
                  r"(its )?tests was used up by earlier tests")
#: A test that waited out its limit on a hanging import, and one refused it at once (client.py).
IMPORT_WAITED = r"timed out after [\d.]+ s in \S+ \(.*\) while importing src/layers\.py"
IMPORT_REFUSED = r"not run: importing src/layers\.py timed out after [\d.]+ s in an earlier test"
#: Host paths attacks try to write (outside any folder of the test): must not exist afterwards.
HOST_MARKERS = (Path("/tmp/dlkit-thread-marker"), Path("/tmp/dlkit-import-marker"), KIT / "IMPORT_MARKER")

pytestmark = pytest.mark.skipif(
    not STRATEGY.hides_files,
    reason=f"the hostile corpus needs the file-hiding sandbox (bubblewrap); this machine has "
           f"{STRATEGY.name}: run scripts/install-system-deps.sh")


def _subset_toml(include: list[str], path: Path) -> Path:
    """The kit's assignment restricted to ``include`` with 1 s per test (CI subset)."""
    text = (KIT / "assignment.toml").read_text()
    text = re.sub(r"^# include = .*$", f"include = {json.dumps(include)}", text, count=1, flags=re.M)
    overrides = {"test_timeout_s": "1", "cpu_s": "4", "memory_mb": "1024", "max_reply_mb": "64"}
    head, sep, rest = text.partition("\n[limits]")
    block, sep2, tail = rest.partition("\n[questions.")
    for key, value in overrides.items():
        block = re.sub(rf"^{key} = \S+", f"{key} = {value}", block, flags=re.M)
    path.write_text(head + sep + block + sep2 + tail)
    config.load(path)                                   # validates
    return path


@pytest.fixture(scope="module")
def assignments(tmp_path_factory):
    if FULL:
        return {"plain": KIT / "assignment.toml", "model": KIT / "assignment.toml"}
    d = tmp_path_factory.mktemp("hostile-config")
    return {"plain": _subset_toml(["Q1", "Q3"], d / "plain.toml"),
            "model": _subset_toml(["Q1", "Q3", "Q6"], d / "model.toml")}


@pytest.fixture(scope="module")
def models():
    return refmodels.reference_models("digits", KIT)


class Listener:
    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(2)
            try:
                self.received.append(conn.recv(64))
            except OSError:
                pass
            conn.close()


@pytest.fixture(scope="module")
def listener():
    lst = Listener()
    yield lst
    lst.sock.close()


def _fill(text: str, **values) -> str:
    return text.format(**values)


def _worker_processes(uid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/status") as f:
                    line = next(l for l in f if l.startswith("Uid:"))
                if int(line.split()[1]) == uid:
                    out.append(int(entry))
            except (OSError, StopIteration):
                pass
    return out


def _survivors(uid: int, within_s: float = 10.0) -> list[int]:
    """Processes of ``uid`` still there after up to ``within_s`` (empty as soon as none are).

    A killed process can take a moment to leave /proc on a loaded machine; one that survives
    the grading (a sleeper, a daemon thread's process) is still there after the wait."""
    deadline = time.monotonic() + within_s
    while (left := _worker_processes(uid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _build(case: Case, sub: Path, values: dict, models: Path) -> None:
    shutil.copytree(paths.reference_dir(KIT) / "src", sub / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for f in refmodels.FILES:
        shutil.copy2(models / f, sub / f)
    if case.attack:
        with open(sub / "src" / "layers.py", "a") as f:
            f.write("\n\n# ---- attack ----\n" + _fill(case.attack, **values) + (ROUTE_Q1 if case.route_q1 else ""))
    for rel, text in case.files:
        (sub / rel).parent.mkdir(parents=True, exist_ok=True)
        (sub / rel).write_text(text)
    if case.model == "pickle":
        import torch

        class Payload:
            def __reduce__(self):
                return (open, (values["marker"] + "/payload-ran", "w"))
        (sub / "model.safetensors").unlink()
        torch.save({"features.0.weight": Payload()}, sub / "model.pt")
    elif case.model == "lying_header":
        header = b'{"features.0.weight":{"dtype":"F32","shape":[32,1,3,3],"data_offsets":[0,53687091200]}}'
        (sub / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * 64)
    elif case.model == "huge":
        with open(sub / "model.safetensors", "wb") as f:      # a sparse 5 GB file
            f.truncate(5 * 2**30)


def _run_control(case: Case, sub: Path, values: dict) -> None:
    prelude = (f"import sys, os\nsys.path.insert(0, {str(sub)!r})\nSUB = {str(sub)!r}\n"
               f"MARKER = {values['marker']!r}\nSECRET = {SECRET!r}\nKIT = {str(KIT)!r}\nROOT = {values['root']!r}\n")
    env = {**os.environ, "GRADESCOPE_TOKEN": SECRET}
    code = prelude + case.control
    if case.control_hangs:
        with pytest.raises(subprocess.TimeoutExpired):
            subprocess.run([sys.executable, "-c", code], timeout=CONTROL_SECONDS, capture_output=True, env=env)
        return
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                          cwd=str(sub))
    assert "CONTROL-OK" in proc.stdout, (f"positive control of {case.name} failed: the attack does not "
                                         f"work even without the sandbox:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")


def _question_scores(doc: dict) -> dict[str, tuple[float, float, list[dict]]]:
    out: dict[str, tuple[float, float, list[dict]]] = {}
    for t in doc["tests"]:
        qid = t["name"].split(" ", 1)[0]
        score, mx, tests = out.get(qid, (0.0, 0.0, []))
        out[qid] = (score + t["score"], mx + t["max_score"], tests + [t])
    return out


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_submission(case: Case, tmp_path, assignments, models, listener):
    root = tmp_path / "gradescope"
    (root / "submission").mkdir(parents=True)
    marker = tmp_path / "markers"
    marker.mkdir()
    values = {"kit": str(KIT), "root": str(root), "marker": str(marker), "port": listener.port}
    _build(case, root / "submission", values, models)

    if case.control:
        _run_control(case, root / "submission", values)
        time.sleep(0.2)
        for p in [*marker.iterdir(), *HOST_MARKERS]:   # the unsandboxed control's own traces
            if p.exists():
                p.unlink()
    if case.name == "network_connect_and_dns":
        assert listener.received, "positive control did not reach the listener"
        listener.received.clear()

    cfg = assignments["model" if case.model else "plain"]
    uid = 61000 + CASES.index(case)          # a uid of its own: its processes are countable
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_ASSIGNMENT": str(cfg),
           "GRADESCOPE_TOKEN": SECRET, "AUTOGRADER_WORKER_UID": str(uid)}
    assert _survivors(uid) == []
    t0 = time.monotonic()
    proc = subprocess.run([str(KIT / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=case.max_seconds * (6 if FULL else 1) + 120)
    elapsed = time.monotonic() - t0
    out = root / "results" / "results.json"
    assert out.is_file(), proc.stderr[-3000:]
    text = out.read_text()
    doc = json.loads(text)
    results.validate(doc)

    # the grader did not crash, and results.json is the grader's own
    assert not any(t["name"] == "Autograder failed" for t in doc["tests"]), doc["tests"][0]["output"]
    assert doc["score"] != 1000
    scores = _question_scores(doc)
    selected = config.load(cfg)
    zero = set(case.zero)
    dependents = set()
    if FULL and case.route_q1:
        dependents = {q.id for q in selected.questions if any(c.startswith("layers.") for c in q.calls)}
    if FULL and case.poisons_module:
        dependents |= {q.id for q in selected.questions if "src/layers.py" in q.files} - zero
    full = set(case.full) if not FULL else {q.id for q in selected.questions} - zero - dependents
    for qid in zero:
        score, _mx, tests = scores[qid]
        assert score == 0, f"{qid} scored {score} under attack {case.name}"
        for t in tests:     # each says what happened: the attack's effect, or that the tests
            # before it used up a time budget on it (hangs against the whole assignment)
            assert (re.search(case.expect, t["output"], re.S)
                    or re.search(BUDGET_USED_UP, t["output"], re.S)), (t["name"], t["output"][-600:])
        assert any(re.search(case.expect, t["output"], re.S) for t in tests), \
            f"no test of {qid} names the effect of {case.name}"
        if case.hangs_at_import:     # each test waited on the import, or was refused it at once
            for t in tests:
                assert (re.search(IMPORT_WAITED, t["output"]) or re.search(IMPORT_REFUSED, t["output"])
                        or re.search(BUDGET_USED_UP, t["output"], re.S)), (t["name"], t["output"][-600:])
    if case.hangs_at_import:
        # a test waits on the hanging import only if it allows it more time than every earlier
        # wait did: at most one wait per distinct time limit (one in the CI subset)
        waited = [t["name"] for t in doc["tests"] if re.search(IMPORT_WAITED, t["output"])]
        limits = {q.limits.test_timeout_s for q in selected.questions}
        limits |= {float(q.model.get("total_timeout_s", 120)) for q in selected.questions if q.model}
        assert 1 <= len(waited) <= (len(limits) if FULL else 1), waited
        assert any(re.search(IMPORT_REFUSED, t["output"]) for t in doc["tests"])
    for qid in full:
        if qid in scores:
            _score, _mx, tests = scores[qid]
            if case.model:       # the attacked saved-model test is checked below
                tests = [t for t in tests if "saved model" not in t["name"]]
            failing = [(t["name"], t["output"][-300:]) for t in tests
                       if t["score"] < t["max_score"] - 1e-6]
            assert not failing, f"{qid} lost points under attack {case.name}: {failing}"
    if case.model:
        model_tests = [t for t in doc["tests"] if "saved model" in t["name"] and t["name"].startswith("Q6")]
        assert model_tests and model_tests[0]["score"] == 0
        assert re.search(case.expect, model_tests[0]["output"], re.S), model_tests[0]["output"]

    # nothing escaped the worker's temp dir
    assert list(marker.iterdir()) == [], f"markers outside the sandbox: {list(marker.iterdir())}"
    for host_marker in HOST_MARKERS:
        assert not host_marker.exists(), f"{host_marker} was written outside the sandbox"
    if case.name == "network_connect_and_dns":
        assert listener.received == []
    if case.secrets_absent:
        labels_hex = (KIT / "datasets" / "digits" / "private" / "test_labels.npy").read_bytes().hex()[:200]
        for secret in (SECRET, HIDDEN_MARK, REFERENCE_MARK, labels_hex, "test_q1_linear_relu.py"):
            assert secret not in text, f"secret leaked into results.json: {secret[:40]}"
    # no worker process survives the grading run
    leftover = _survivors(uid)
    assert not leftover, f"worker processes left behind: {sorted(leftover)}"
    assert elapsed < case.max_seconds * (6 if FULL else 1), f"grading took {elapsed:.1f} s"
    print(f"{case.name}: graded in {elapsed:.1f} s; " +
          ", ".join(f"{q} {s:g}/{m:g}" for q, (s, m, _) in sorted(scores.items())))
    if case.hangs_at_import:
        print(f"  waited on the import: {len(waited)} test(s): " + "; ".join(waited) +
              f"; refused at once: {sum(bool(re.search(IMPORT_REFUSED, t['output'])) for t in doc['tests'])}")
