"""The sandboxed worker's temp folder (its copy of the submission) is removed underneath it
while a test runs (a temp cleaner, /tmp wiped): the grading goes on, the worker is restarted
with a fresh copy before the next test, and the reference keeps every point."""
from __future__ import annotations

import json
import shutil

from autograder.grading import results
from tests.kits.batchkit import patched_submission

from .faultkit import Run, sleeping_in

#: linear_forward sleeps on the public tests' input (X of shape (10, 4, 2, 5)) only
NAPS = ("src/layers.py", "    out = X.reshape(X.shape[0], -1) @ W + b\n",
        "    if X.shape == (10, 4, 2, 5):\n        import time\n        time.sleep(1.5)\n"
        "    out = X.reshape(X.shape[0], -1) @ W + b\n")


def test_the_worker_folder_removed_mid_test(tmp_path, q1):
    sub = patched_submission(tmp_path / "sub", *NAPS)
    run = Run(tmp_path)
    res = tmp_path / "results.json"
    proc = run.start("--assignment", str(q1), "grade", str(sub), "--out", str(res))
    try:
        sleeping_in(run, worker_only=True)    # in the first test, inside the student's code
        folders = list(run.tmpdir.glob("dlkit-worker-*"))
        assert len(folders) == 1 and (folders[0] / "submission" / "src" / "layers.py").exists()
        shutil.rmtree(folders[0])
        text, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, text
    doc = json.loads(res.read_text())
    results.validate(doc)
    failed = [t["name"] for t in doc["tests"] if t["score"] < t["max_score"]]
    assert len(failed) <= 1, f"more than the interrupted test failed: {failed}\n{text}"
    assert doc["score"] >= 5.0 - max(t["max_score"] for t in doc["tests"]), text
    assert not run.wait_no_leftovers(), run.leftovers()
    print(f"worker folder removed: {len(failed)} test(s) failed ({failed}), score {doc['score']}")
