"""A submission holding a file that cannot be read (issue #20).  As root, ``chmod 000``
stops nothing, so the unreadable file here is a named pipe (FIFO) where ``src/layers.py``
should be — what a copy from a shared folder, an unpacked tarball or a student's own
``mkfifo`` leaves; opening it would block for ever.  The batch rejects that row with a
message naming the file, what it is and what was expected; the other submission is graded;
every record holds a valid results document; no process is left."""
from __future__ import annotations

import json
import os
import shutil
import time

from autograder.grading import results

from .faultkit import Run


def test_a_submission_with_an_unreadable_file_is_rejected_the_rest_graded(tmp_path, q1, sources):
    subs = tmp_path / "subs"
    shutil.copytree(sources["ref"], subs / "a")
    shutil.copytree(sources["ref"], subs / "pipe")
    (subs / "pipe" / "src" / "layers.py").unlink()
    os.mkfifo(subs / "pipe" / "src" / "layers.py")
    out = tmp_path / "out"
    run = Run(tmp_path)
    t0 = time.monotonic()
    proc = run.start("--assignment", str(q1), "batch", str(subs), "--out", str(out), "--backend", "process",
                     "--jobs", "2", "--no-progress")
    try:
        text, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    seconds = time.monotonic() - t0
    assert proc.returncode == 0, text
    recs = {p.stem: json.loads(p.read_text()) for p in (out / "records").glob("*.json")}
    assert recs["a"]["status"] == "ok" and recs["a"]["results"]["score"] == 5.0, text
    rej = recs["pipe"]
    assert rej["status"] == "rejected", rej
    assert ("pipe/src/layers.py is a named pipe (FIFO), not a regular file, so it cannot be read; "
            "expected only regular files and folders" in rej["reason"]), rej["reason"]
    for rec in recs.values():
        results.validate(rec["results"])
    assert results.run_status(rej["results"]) == results.REJECTED
    assert "named pipe (FIFO)" in rej["results"]["output"]
    gradebook = (out / "gradebook.csv").read_text()
    assert "pipe" in gradebook and "rejected" in gradebook, gradebook
    assert not run.wait_no_leftovers(), run.leftovers()
    print(f"unreadable file: rejected, the rest graded, in {seconds:.1f} s")
