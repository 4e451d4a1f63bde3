"""The README's main job: the kit end to end on scikit-learn's bundled digits.

1. trains the reference FullyConnectedNet on digits with the Solver (the data-set layer and
   the reference at work) and prints its validation accuracy;
2. grades the reference, the blank student template and every example submission
   (``examples/submissions/``) exactly as Gradescope would — the ``batch`` verb runs
   ``run_autograder`` for each, one per core at a time: sandboxed worker, public and hidden
   tests, saved models on the private test split — and prints one row per submission with
   the points of every question;
3. writes the students' assignment document (``build/handout/ASSIGNMENT.md`` and
   ``ASSIGNMENT.html``, the ``handout`` verb) and prints where;
4. ends with the class report that batch wrote (``build/demo-batch/report/index.html``) and
   prints its path.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import config, examples, paths, refmodels


def _train_reference(kit: Path) -> None:
    import numpy as np
    sys.path.insert(0, str(paths.reference_dir(kit)))
    try:
        from src.fcnet import FullyConnectedNet
        from src.utils.data_utils import get_CIFAR10_data
        from src.utils.solver import Solver
    finally:
        sys.path.pop(0)
    t0 = time.monotonic()
    data = get_CIFAR10_data()
    np.random.seed(0)
    model = FullyConnectedNet([100], weight_scale=1e-3, dtype=np.float64)
    solver = Solver(model, data, update_rule="sgd_momentum", optim_config={"learning_rate": 1e-3},
                    lr_decay=0.95, num_epochs=8, batch_size=100, patience=3, verbose=False)
    solver.train()
    print(f"1. reference FullyConnectedNet([100]) on digits ({len(data['X_train'])} training images as "
          f"3x32x32): validation accuracy {solver.best_val_acc:.3f} after {solver.epoch} epochs "
          f"({time.monotonic() - t0:.1f} s)\n")


def _submissions(kit: Path, subs_dir: Path, dataset: str) -> list[tuple[str, str]]:
    """Write every demo submission as a folder of ``subs_dir``; returns (name, description)."""
    subs = []
    ref = subs_dir / "reference"
    shutil.copytree(paths.reference_dir(kit) / "src", ref / "src", ignore=shutil.ignore_patterns("__pycache__"))
    refmodels.add_reference_models(ref, dataset, kit)
    subs.append(("reference", "the reference solution with its trained models"))
    shutil.copytree(paths.template_dir(kit), subs_dir / "template",
                    ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    subs.append(("template", "the blank student template"))
    for ex in examples.load(kit):
        ex.materialise(subs_dir / ex.name, dataset, kit)
        subs.append((ex.name, ex.description))
    return subs


def main(args: argparse.Namespace | None = None) -> int:
    from .batch import outputs, runner
    kit = paths.kit_root()
    assignment_path = getattr(args, "assignment", None)
    assignment = config.load(assignment_path)
    _train_reference(kit)
    jobs = max(1, os.cpu_count() or 1)
    print(f"2. grading submissions exactly as Gradescope would ({assignment.name}, "
          f"{len(assignment.questions)} questions, data set {assignment.dataset}): the `batch` "
          f"verb, run_autograder per submission, {jobs} at a time")
    print("   training/caching the reference models ...", flush=True)
    work = Path(tempfile.mkdtemp(prefix="dlkit-demo-"))
    out = kit / "build" / "demo-batch"
    try:
        subs = _submissions(kit, work / "submissions", assignment.dataset)
        summary = runner.run_batch(
            work / "submissions", out, assignment=assignment,
            assignment_text=Path(assignment_path).read_text("utf-8") if assignment_path else None,
            backend="process", n_jobs=jobs, force=True, progress=False,
            log=lambda m: print("   " + m, flush=True) if m.startswith("batch: ") else None)
        ids = [q.id for q in assignment.questions]
        header = f"   {'submission':<32}" + "".join(f"{q:>6}" for q in ids) + f"{'total':>9}{'time':>7}"
        print("\n" + header)
        print("   " + "-" * (len(header) - 3))
        for name, _description in subs:
            rec = runner.load_record(runner.record_path(out, name))
            if rec is None:
                print(f"   {name:<32}(not graded: see {out / 'batch.log'})")
                continue
            points = outputs.question_points(rec["results"])
            cells = "".join(f"{points[q][0]:>6.1f}" if q in points else f"{'-':>6}" for q in ids)
            print(f"   {name:<32}{cells}{float(rec['results'].get('score') or 0):>9.2f}"
                  f"{float(rec.get('wall_s') or 0):>6.0f}s", flush=True)
        print("\n   max" + " " * 29 + "".join(f"{q.points:>6g}" for q in assignment.questions))
        print("\nEach example loses points only where its bug is (and in questions that call the broken "
              "function);\nsee examples/submissions/*.toml for the bugs and `python -m autograder grade "
              "FOLDER` for the feedback.")
        _write_document(kit, assignment)
        index = summary["outputs"].get("report")
        print(f"\n4. the class report of these gradings (open it in a browser): {index}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if summary["status"].keys() <= {"ok"} else 1


def _write_document(kit: Path, assignment: config.Assignment) -> None:
    from . import handout
    written = handout.write(assignment, kit / "build" / "handout", kit)
    print(f"\n3. the students' assignment document: {written[handout.DOCUMENT_HTML]} "
          f"(open it in a browser) and {written[handout.DOCUMENT_MD]}")
