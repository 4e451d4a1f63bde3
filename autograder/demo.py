"""The README's main job: the kit end to end on scikit-learn's bundled digits.

1. trains the reference FullyConnectedNet on digits with the Solver (the data-set layer and
   the reference at work) and prints its validation accuracy;
2. grades the reference, the blank student template and every example submission
   (``examples/submissions/``) exactly as Gradescope would — sandboxed worker, public and
   hidden tests, saved models on the private test split — and prints one row per submission
   with the points of every question;
3. writes the students' assignment document (``build/handout/ASSIGNMENT.md`` and
   ``ASSIGNMENT.html``, the ``handout`` verb) and prints where;
4. ends with the class report of those gradings (``build/demo-batch/report/index.html``, the
   page every ``batch`` writes) and prints its path.
"""
from __future__ import annotations

import argparse
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


def _submissions(kit: Path, work: Path, dataset: str) -> list[tuple[str, str, Path]]:
    subs = []
    ref = work / "reference"
    shutil.copytree(paths.reference_dir(kit) / "src", ref / "src", ignore=shutil.ignore_patterns("__pycache__"))
    refmodels.add_reference_models(ref, dataset, kit)
    subs.append(("reference", "the reference solution with its trained models", ref))
    subs.append(("template", "the blank student template", paths.template_dir(kit)))
    for ex in examples.load(kit):
        subs.append((ex.name, ex.description, ex.materialise(work / ex.name, dataset, kit)))
    return subs


def main(args: argparse.Namespace | None = None) -> int:
    from .grading import grade
    kit = paths.kit_root()
    assignment = config.load(getattr(args, "assignment", None))
    _train_reference(kit)
    print(f"2. grading submissions exactly as Gradescope would ({assignment.name}, "
          f"{len(assignment.questions)} questions, data set {assignment.dataset})")
    print("   training/caching the reference models ...", flush=True)
    work = Path(tempfile.mkdtemp(prefix="dlkit-demo-"))
    from .classreport.local import LocalBatch
    batch = LocalBatch(kit / "build" / "demo-batch")
    try:
        subs = _submissions(kit, work, assignment.dataset)
        ids = [q.id for q in assignment.questions]
        header = f"   {'submission':<32}" + "".join(f"{q:>6}" for q in ids) + f"{'total':>9}{'time':>7}"
        print(header)
        print("   " + "-" * (len(header) - 3))
        for name, description, folder in subs:
            res = grade.grade(folder, assignment=assignment, fixed_seed=True)
            batch.add(name, description, res)
            by_q = {q.id: q for q in res.questions}
            cells = "".join(f"{by_q[q].score:>6.1f}" if q in by_q else f"{'-':>6}" for q in ids)
            print(f"   {name:<32}{cells}{res.score:>9.2f}{res.seconds:>6.0f}s", flush=True)
        print("\n   max" + " " * 29 + "".join(f"{q.points:>6g}" for q in assignment.questions))
        print("\nEach example loses points only where its bug is (and in questions that call the broken "
              "function);\nsee examples/submissions/*.toml for the bugs and `python -m autograder grade "
              "FOLDER` for the feedback.")
        _write_document(kit, assignment)
        index = batch.finish(assignment)
        print(f"\n4. the class report of these gradings (open it in a browser): {index}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def _write_document(kit: Path, assignment: config.Assignment) -> None:
    from . import handout
    written = handout.write(assignment, kit / "build" / "handout", kit)
    print(f"\n3. the students' assignment document: {written[handout.DOCUMENT_HTML]} "
          f"(open it in a browser) and {written[handout.DOCUMENT_MD]}")
