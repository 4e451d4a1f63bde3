"""A batch folder made from gradings run in this process (e.g. by a test): the same records,
logs, gradebook, feedback and class report as ``batch`` writes, without a ``run_autograder``
process per submission (``make demo`` runs the real ``batch``).

    folder = LocalBatch(kit / "build" / "demo-batch")
    folder.add("softmax-bug", "softmax without the max shift", grade.grade(...))
    index = folder.finish(assignment)
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from ..grading import results
from .instructor import from_grader_report


def record_from_grade(sid: str, description: str, result: Any) -> dict[str, Any]:
    """A batch record (``records/<id>.json``) for a :class:`~autograder.grading.grade.GradeResult`.
    The instructor-only data a batch keeps (:mod:`.instructor`: full failure messages, the
    saved models' per-class F1 and confusion matrix) come along."""
    doc = result.doc
    run = results.run_status(doc)
    status = {results.REJECTED: "rejected", results.FAILED: "failed",
              results.STOPPED: "failed"}.get(run, "ok")
    return {"id": sid, "submitters": [{"name": description}], "backend": "in-process",
            "status": status, "reason": doc["tests"][0].get("output", "")[:500] if status != "ok" else "",
            "exit_code": 0, "timed_out": False, "wall_s": round(result.seconds, 3),
            "finished": time.time(), "results": doc,
            **from_grader_report({"worker": result.worker, "tests": [
                {"question": o.question, "kind": o.kind, "passed": o.passed, "message": o.message}
                for o in result.outcomes]}),
            "log_tail": result.log}


class LocalBatch:
    def __init__(self, folder: Path):
        self.folder = Path(folder)
        for sub in ("records", "logs", "feedback", "report"):
            shutil.rmtree(self.folder / sub, ignore_errors=True)
        (self.folder / "batch.log").unlink(missing_ok=True)
        self.records: list[dict[str, Any]] = []

    def add(self, sid: str, description: str, result: Any) -> None:
        from ..batch.runner import save_record
        rec = record_from_grade(sid, description, result)
        save_record(self.folder, rec)           # pops log_tail into logs/<id>.log
        self.records.append(rec)

    def finish(self, assignment: Any = None) -> Path:
        """gradebook, feedback, summary plot, leaderboard and the class report; returns index.html."""
        from ..batch import outputs
        from .render import write_report
        outputs.write_all(self.folder, self.records, assignment)
        return write_report(self.folder, assignment, records=self.records)
