"""The grading image for real (CI path): build the debootstrap base image, the wheelhouse WITH
torch and the image from Dockerfile WITH torch, then batch-grade the reference and the example
submissions in containers (podman's Docker API) and check their scores, the secrets'
permissions inside the image, that the sandbox probe sees nothing, that the container and
process backends agree, and that a submission exhausting the container's memory costs only
its own tests.

This FAILS (it does not skip) wherever podman is installed.  It skips only where podman truly
cannot run: not installed (scripts/install-system-deps.sh installs it as root on
Debian/Ubuntu), or not root (the base image needs debootstrap as root) — the process-backend
tests in tests/test_batch.py run everywhere.

Measured figures (image ID, size, build time, each container's exit code) are printed and
written to reports/container/.  The image is built once per session (tests/conftest.py's
``image``, tests/kits/containerkit.py; the container faults of tests/faults/ share it), tagged
$AUTOGRADER_TEST_IMAGE (default localhost/dlkit-grader:latest, the tag `make image` builds,
so its layers are reused).
"""
from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from autograder import config, examples
from autograder.batch import container as ctr
from autograder.batch import runner

from tests.kits.batchkit import KIT, patched_submission, reference_submission, subset_toml
from tests.kits.containerkit import PODMAN_CMD, report as _report

#: The questions the examples break (Q3, Q5, Q12, Q13) plus Q1 and the saved-model bonus Q6.
QUESTIONS = ["Q1", "Q3", "Q5", "Q6", "Q12", "Q13"]

pytestmark = [pytest.mark.podman, pytest.mark.slow]


def _podman_run(tag: str, *args: str, user: str | None = None, timeout: int = 120) -> subprocess.CompletedProcess:
    cmd = [*PODMAN_CMD, "run", "--rm", "--network", "none", "--ulimit", "nofile=1024:1024",
           "--ulimit", "nproc=4096:4096"]
    if user:
        cmd += ["--user", user]
    return subprocess.run(cmd + [tag, *args], capture_output=True, text=True, timeout=timeout)


def test_secrets_are_root_only_inside_the_image(image):
    probe = r"""
import json, os
out = {}
for p in ["/autograder/source/hidden_tests", "/autograder/source/reference",
          "/autograder/source/datasets/digits/private", "/autograder/source/assignment.toml",
          "/autograder/source/student_template", "/autograder/results", "/autograder/source",
          "/autograder/source/datasets/digits/public/train_labels.npy"]:
    try:
        if os.path.isdir(p):
            os.listdir(p)
        else:
            open(p, "rb").read(1)
        out[p] = "readable"
    except OSError as e:
        out[p] = type(e).__name__
print(json.dumps({"uid": os.getuid(), "access": out}))
"""
    proc = _podman_run(image.tag, "python", "-c", probe, user="61000:61000")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    assert data["uid"] == 61000
    access = data["access"]
    public = "/autograder/source/datasets/digits/public/train_labels.npy"
    assert access.pop(public) == "readable"
    assert all(v == "PermissionError" for v in access.values()), access
    # the worker user exists and the grader's environment names it
    proc = _podman_run(image.tag, "bash", "-c", "id -u dlkit-worker; echo $AUTOGRADER_WORKER_UID; "
                                                "stat -c '%a %U' /autograder/source/hidden_tests")
    assert proc.stdout.split() == ["61000", "61000", "700", "root"], proc.stdout + proc.stderr


def test_the_sandbox_probe_sees_nothing_and_would_report_a_leak(image, tmp_path):
    """Gradescope's path inside the image (run_autograder as CMD, the batch's capabilities):
    nothing is visible to the worker; a positive control opens hidden_tests/ to everyone and
    the grader must then report it."""
    toml = subset_toml(tmp_path / "q1.toml", ["Q1"], limits={"test_timeout_s": "10"})
    reference_submission(tmp_path / "submission", models=False)
    caps = [a for cap in ctr.CAP_ADD for a in ("--cap-add", cap)]
    base = [*PODMAN_CMD, "run", "--rm", "--network", "none", "--memory", "2g", "--memory-swap", "2g",
            "--pids-limit", "1024", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096",
            "--cap-drop", "ALL", *caps, "--security-opt", "no-new-privileges",
            "-v", f"{tmp_path / 'submission'}:/autograder/submission:ro",
            "-v", f"{toml}:/tmp/assignment.toml:ro", "-e", "AUTOGRADER_ASSIGNMENT=/tmp/assignment.toml",
            image.tag]
    show = "; python -c \"import json; print('SCORE', json.load(open('/autograder/results/results.json'))['score'])\""
    proc = subprocess.run(base + ["bash", "-c", "/autograder/run_autograder" + show],
                          capture_output=True, text=True, timeout=300)
    assert "SCORE 5.0" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "the worker could see" not in proc.stdout + proc.stderr
    proc = subprocess.run(base + ["bash", "-c", "chmod -R a+rX /autograder/source/hidden_tests; "
                                  "/autograder/run_autograder" + show],
                          capture_output=True, text=True, timeout=300)
    assert "the worker could see: /autograder/source/hidden_tests" in proc.stdout + proc.stderr, \
        proc.stdout[-3000:] + proc.stderr[-3000:]


def _expected_loss_ok(qid: str, broken: str | None, assignment: config.Assignment) -> bool:
    """May question ``qid`` lose points when ``broken`` is the example's broken question?"""
    if broken is None:
        return False
    if qid == broken:
        return True
    owner_functions = set(assignment.question(broken).functions) if broken in assignment.ids else set()
    return bool(owner_functions & set(assignment.question(qid).calls))


def test_examples_grade_in_containers_with_the_expected_scores(image, tmp_path):
    toml = subset_toml(tmp_path / "subset.toml", QUESTIONS)
    assignment = config.load(toml)
    subs = tmp_path / "subs"
    reference_submission(subs / "reference")                     # with its saved models
    generated = [ex for ex in examples.load() if ex.variant is not None]   # the *.toml ones
    written = [ex.materialise(subs / ex.name) for ex in generated]
    broken = {ex.name: ex.breaks for ex in generated}
    assert len(written) >= 4 and all((f / "model.safetensors").is_file() and (f / "model.npz").is_file()
                                     for f in written)
    out = tmp_path / "out"
    t0 = time.monotonic()
    summary = runner.run_batch(subs, out, assignment=assignment, assignment_text=toml.read_text(),
                               backend="container", n_jobs=2, image=image.tag, docker_url=image.url,
                               progress=False, log=print)
    elapsed = time.monotonic() - t0
    recs = {p.stem: json.loads(p.read_text()) for p in (out / "records").glob("*.json")}
    _report("examples-batch.json", {
        "image_id": image.id, "seconds": round(elapsed, 1), "jobs": 2,
        "containers": {k: {"container": r.get("container"), "exit_code": r.get("container_exit_code"),
                           "status": r["status"], "score": r["results"]["score"], "wall_s": r["wall_s"]}
                       for k, r in sorted(recs.items())}})
    assert set(recs) == {"reference", *broken}
    assert summary["backend"] == "container"
    for name, rec in recs.items():
        assert rec["status"] == "ok", (name, rec["reason"], rec.get("log_tail"))
        assert rec["container_exit_code"] == 0 and rec["image_id"] == image.id
        log = (out / "logs" / f"{name}.log").read_text()
        assert "the worker could see" not in log, log[-3000:]      # the sandbox probe: nothing
        assert "Autograder failed" not in log
    possible = {q.id: q.points for q in assignment.questions}
    from autograder.batch.outputs import question_points
    for name, rec in sorted(recs.items()):
        points = question_points(rec["results"])
        assert set(points) == set(QUESTIONS), (name, points)
        for qid, (got, maximum) in points.items():
            assert maximum == pytest.approx(possible[qid])
            if _expected_loss_ok(qid, broken.get(name), assignment):
                continue
            assert got == pytest.approx(possible[qid]), f"{name} lost points on {qid}: {got}/{maximum}"
        if broken.get(name):
            got, maximum = points[broken[name]]
            assert got < maximum - 1e-6, f"{name} should lose points on {broken[name]}"
        # the saved models were scored inside the container: leaderboard entries
        names = {e["name"] for e in rec["results"].get("leaderboard", [])}
        assert {"FC net accuracy", "CNN accuracy"} <= names, name
    rows = (out / "gradebook.csv").read_text().splitlines()
    assert len(rows) == 1 + len(recs) and "CNN accuracy" in rows[0]
    leftovers = subprocess.run([*PODMAN_CMD, "ps", "-a", "--filter", "label=dlkit.batch=1", "-q"],
                               capture_output=True, text=True).stdout.split()
    assert not leftovers, f"containers left behind: {leftovers}"


def test_backends_agree_and_memory_exhaustion_costs_only_its_tests(image, tmp_path):
    toml = subset_toml(tmp_path / "q1q3.toml", ["Q1", "Q3"],
                       limits={"test_timeout_s": "20", "cpu_s": "20", "memory_mb": "4096"},
                       container={"memory_mb": "1536", "timeout_s": "600"})
    assignment = config.load(toml)
    subs = tmp_path / "subs"
    reference_submission(subs / "ref", models=False)
    patched_submission(subs / "softmax", "src/classifiers.py",
                       "    shifted = logits - np.max(logits, axis=1, keepdims=True)\n",
                       "    shifted = logits\n")
    outs = {}
    for backend in ("container", "process"):
        outs[backend] = tmp_path / f"out-{backend}"
        summary = runner.run_batch(subs, outs[backend], assignment=assignment,
                                   assignment_text=toml.read_text(), backend=backend, n_jobs=2,
                                   image=image.tag, docker_url=image.url, progress=False, log=print)
        assert summary["status"] == {"ok": 2}, summary
    cut = lambda path: [line.split(",")[:9] for line in path.read_text().splitlines()]  # noqa: E731
    assert cut(outs["container"] / "gradebook.csv") == cut(outs["process"] / "gradebook.csv")
    # a submission that fills the container's memory (under its own address-space limit):
    # the kernel kills its worker, those tests fail, the grader and the batch go on
    hog = tmp_path / "hog"
    patched_submission(hog / "hog", "src/layers.py", "    out = np.maximum(X, 0)\n",
                       "    hog = np.ones(300_000_000)\n    out = np.maximum(X, 0)\n")
    shutil.copytree(subs / "ref", hog / "ref")
    out = tmp_path / "out-hog"
    summary = runner.run_batch(hog, out, assignment=assignment, assignment_text=toml.read_text(),
                               backend="container", n_jobs=2, image=image.tag,
                               docker_url=image.url, progress=False, log=print)
    recs = {p.stem: json.loads(p.read_text()) for p in (out / "records").glob("*.json")}
    _report("oom-batch.json", {k: {"status": r["status"], "exit_code": r.get("container_exit_code"),
                                   "score": r["results"]["score"]} for k, r in recs.items()})
    assert recs["ref"]["status"] == "ok" and recs["ref"]["results"]["score"] == pytest.approx(10.0)
    assert recs["hog"]["status"] == "ok" and recs["hog"]["container_exit_code"] == 0
    assert 0 < recs["hog"]["results"]["score"] < 10.0
    text = json.dumps(recs["hog"]["results"])
    assert "out of memory" in text or "MemoryError" in text, text[:3000]
    assert not (KIT / "oom").exists(), "the engine left a file in the kit's folder"
