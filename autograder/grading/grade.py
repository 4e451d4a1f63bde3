"""Grade one submission exactly as Gradescope would (the ``grade`` verb, ``run_autograder``).

Steps: stage the submission (:mod:`.intake`), overlay the given files from ``reference/``,
start the sandboxed worker, run the public and hidden tests of the selected questions
in this (trusted) process with every call into student code going through the worker, weight
the outcomes into per-question points, and write ``results.json``.  Whatever fails — the
submission, the sandbox, a test, the kit itself — a valid ``results.json`` is written.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import shutil
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import pytest

from .. import paths, pytest_plugin, stopsignals, template
from ..config import Assignment, Limits
from ..batch import slots
from ..sandbox import devices
from ..sandbox.client import SandboxFailure, Worker
from ..sandbox.zygotes import Zygotes
from . import intake, results, stopped, timings
from .preloads import heavy_questions, preload_by_question, with_companions
from .results import QuestionScore, build_results
from .backend import SandboxBackend
from .collector import Collector, Outcome


@dataclasses.dataclass
class GradeResult:
    """What :func:`grade` returns (results.json is already written when ``out`` was given)."""

    #: the results.json document (valid against Gradescope's schema)
    doc: dict[str, Any]
    #: every test's outcome, saved-model stage included (instructor-side detail)
    outcomes: list[Outcome]
    #: points per question, in the assignment's order
    questions: list[QuestionScore]
    #: the staged submission (None when intake refused it)
    staged: intake.Staged | None
    #: sandbox facts for the instructor: strategy, probe, starts, model worker, models
    worker: dict[str, Any]
    #: wall seconds of the whole grading
    seconds: float
    #: pytest's log of the run (and a traceback when the kit failed)
    log: str
    #: instructor-only warnings (weaker sandbox, what the worker could see, a stop signal)
    warnings: list[str]
    #: wall seconds of the run's phases (:mod:`.timings`); the document's
    #: ``extra_data.timings`` holds them with the per-question totals
    phases: dict[str, float] = dataclasses.field(default_factory=dict)

    @property
    def score(self) -> float:
        return float(self.doc.get("score", 0.0))


def _max_limits(assignment: Assignment) -> Limits:
    qs = assignment.questions
    base = qs[0].limits if qs else Limits.merged()
    return dataclasses.replace(
        base,
        memory_mb=max(q.limits.memory_mb for q in qs) if qs else base.memory_mb,
        max_processes=max(q.limits.max_processes for q in qs) if qs else base.max_processes,
        max_open_files=max(q.limits.max_open_files for q in qs) if qs else base.max_open_files,
        max_file_mb=max(q.limits.max_file_mb for q in qs) if qs else base.max_file_mb)


def expected_files(assignment: Assignment, reference: Path | None = None) -> list[str]:
    """Contract paths a submission should contain for the selected questions (their
    ``files``); everything else in the folder the student worked in comes along anyway."""
    return sorted({f for q in assignment.questions for f in q.files})


def overlay_given(staged_root: Path, reference: Path) -> list[str]:
    """Copy the reference's given files (no student regions) over the submission's copies."""
    out = []
    for rel in template.given_files(reference):
        if not rel.startswith("src/"):
            continue
        target = staged_root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(reference / rel, target)
        out.append(rel)
    return out


#: pytest plugins a grading never uses, blocked to save their start-up: hypothesis (a dev
#: dependency whose plugin imports hypothesis and trio, ~0.9 s), the unraisable-exception hook
#: (two full gc.collect() passes at the session's end, ~0.3 s), doctest, junitxml, pastebin.
#: Blocking one that is not installed is a no-op.
_NO_PLUGINS = ("-p", "no:hypothesispytest", "-p", "no:unraisableexception", "-p", "no:doctest",
               "-p", "no:junitxml", "-p", "no:pastebin")


class _WorkerReady:
    """A pytest plugin that waits for the zygote launched before pytest started (its start
    then overlaps pytest's own start and the collection) just before the first test runs,
    and begins the heavy zygotes' imports.  A worker that did not start stops the run before
    any test (:attr:`failure`, raised again by the grader as before)."""

    def __init__(self, worker: Zygotes):
        self.worker = worker
        self.failure: SandboxFailure | None = None
        self.waited = 0.0
        self.done = False

    def ready(self) -> None:
        if self.done:
            return
        self.done = True
        began = time.monotonic()
        try:
            self.worker.start()
            self.worker.start_heavy_in_background()     # torch's import overlaps the NumPy tests
        except SandboxFailure as exc:
            self.failure = exc
        finally:
            self.waited = time.monotonic() - began

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool | None:
        self.ready()
        return True if self.failure is not None else None


def _run_pytest(test_paths: list[Path], kit: Path, collector: Collector, workdir: Path,
                backend: SandboxBackend, *more_plugins: Any) -> tuple[int, str]:
    ini = workdir / "pytest-grader.ini"
    ini.write_text("[pytest]\n")
    args = [*(str(p) for p in test_paths),
            "-c", str(ini), "--rootdir", str(kit), "-p", "autograder.pytest_plugin",
            "-p", "no:cacheprovider", "-p", "no:randomly", *_NO_PLUGINS, "--assert=plain",
            "--import-mode=importlib", "-q", "--tb=no", "-o", "timeout=1800",
            "-W", "ignore::DeprecationWarning", "-W", "ignore::RuntimeWarning"]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        code = pytest.main(args, plugins=[collector, pytest_plugin.UseBackend(backend), *more_plugins])
    return int(code), buf.getvalue()




@dataclasses.dataclass(frozen=True)
class Layout:
    """Where a grading run finds its inputs.  :meth:`kit` for the instructor's kit;
    :meth:`handout` for a student's folder (public tests only, no reference)."""

    root: Path
    public_tests: Path | None
    hidden_tests: Path | None
    reference: Path | None
    data_root: Path

    @classmethod
    def kit(cls, kit: Path | None = None) -> "Layout":
        kit = Path(kit or paths.kit_root())
        return cls(kit, paths.public_tests_dir(kit), paths.hidden_tests_dir(kit),
                   paths.reference_dir(kit), kit / "datasets")

    @classmethod
    def handout(cls, folder: Path, kit: Path | None = None) -> "Layout":
        folder = Path(folder).resolve()
        data = folder / "datasets"
        if not data.is_dir():
            data = Path(kit or paths.kit_root()) / "datasets"
        return cls(folder, folder / "tests", None, None, data)


def _score_models(workers: Zygotes | Worker, assignment: Assignment, layout: Layout, private: bool,
                  device: str, report_dir: Path | None) -> tuple[list[Outcome], list[dict[str, Any]], list[Any]]:
    """The saved-model stage: one outcome per question with a ``[model]`` table."""
    from ..scoring import score as scoring
    outcomes, leaderboard, scores = [], [], []
    evalsets: dict[str, Any] = {}
    for q in assignment.questions:
        if not q.model:
            continue
        if assignment.dataset not in evalsets:
            evalsets[assignment.dataset] = scoring.load_eval_set(layout.data_root, assignment.dataset, private)
        worker = workers.for_question(q.id) if isinstance(workers, Zygotes) else workers
        ms = scoring.score_question(worker, q, evalsets[assignment.dataset], device=device,
                                    report_dir=report_dir)
        scores.append(ms)
        leaderboard += ms.leaderboard()
        outcomes.append(Outcome(
            nodeid=f"{q.id}::saved-model", question=q.id, kind="model",
            name=f"saved model on the {ms.split} set", doc="", weight=ms.spec.weight, number=None,
            visibility="visible", hide_errors=None, partial=True, passed=ms.ok and ms.fraction >= 1.0,
            fraction=ms.fraction if ms.ok else 0.0, message=ms.message,
            failure_kind="" if ms.ok else "model", duration=ms.seconds,
            sandbox_timings=ms.sandbox_timings, extra_data=ms.record() if ms.device else None))
    return outcomes, leaderboard, scores


def _model_worker(test_worker: Zygotes, make: Any,
                  device: str) -> tuple[Worker | Zygotes, dict[str, Any]]:
    """The worker that scores saved models, and what it was given (for the report).

    ``--device cpu``: the test worker itself, no device nodes.  Otherwise the NVIDIA nodes of
    :func:`devices.select_gpus` go to a worker of its own (the NumPy questions' worker never
    has them); with none to give, the test worker is used and keeps the reason."""
    if device == "cpu":
        return test_worker, {"strategy": test_worker.strategy.name, "devices": []}
    gpus = devices.select_gpus()
    if not gpus.nodes:
        test_worker.gpus = gpus
        return test_worker, {"strategy": test_worker.strategy.name, "devices": [],
                             "no_devices": devices.reason_text(gpus.reason, gpus.detail)}
    worker = make(gpus)
    try:
        worker.start()
    except SandboxFailure as exc:
        worker.close()
        test_worker.gpus = devices.GpuSelection({}, {}, "not-bound", f"the worker with device "
                                                f"nodes did not start: {exc.message[:300]}")
        return test_worker, {"strategy": test_worker.strategy.name, "devices": [],
                             "no_devices": devices.reason_text("not-bound", exc.message[:300])}
    bound = [f"/dev/{n}" for n in sorted(gpus.nodes)]
    info = {"strategy": worker.strategy.name,
            "devices": bound if worker.strategy.private_dev else
            ["the host's whole /dev (no mount namespace); CUDA_VISIBLE_DEVICES="
             + str(os.environ.get("CUDA_VISIBLE_DEVICES", "(unset)"))]}
    return worker, info


def grade(submission: Path, *, assignment: Assignment, out: Path | None = None,
          layout: Layout | None = None, public: bool = True, hidden: bool = True,
          models: bool | None = None, device: str = "auto", report_dir: Path | None = None,
          fixed_seed: bool = False, seed_material: str | None = None, strategy: str | None = None,
          base_tmp: Path | None = None, extra_hide: list[Path] | None = None) -> GradeResult:
    """Grade ``submission`` (folder or zip); write ``out`` when given.  Never raises for a
    problem with the submission or the sandbox: those become results.

    ``models``: score saved models (default: when grading with hidden tests on the private
    test split; ``selftest`` passes True with ``hidden=False`` for the public validation
    split).  ``report_dir``: the instructor's report (plots, metrics JSON)."""
    t0 = time.monotonic()
    layout = layout or Layout.kit()
    workdir = Path(tempfile.mkdtemp(prefix="dlkit-grade-", dir=base_tmp))
    log, warnings = "", []
    staged: intake.Staged | None = None
    worker_info: dict[str, Any] = {}
    outcomes: list[Outcome] = []
    scores: list[QuestionScore] = []
    model_outcomes: list[Outcome] = []
    leaderboard: list[dict[str, Any]] = []
    model_scores: list[Any] = []
    phases: dict[str, float] = {}
    collector: Collector | None = None
    uid_hold = contextlib.ExitStack()           # this grading's worker uid (slots.own_worker_uid)
    try:
        expected = expected_files(assignment)
        try:
            staged = intake.stage(Path(submission), workdir / "submission", expected, work=workdir)
        except intake.IntakeError as exc:
            doc = results.failure_results(str(exc), time.monotonic() - t0, status=results.REJECTED)
            return _finish(doc, out, outcomes, scores, staged, worker_info, t0, log, warnings)
        if layout.reference is not None:
            overlay_given(staged.root, layout.reference)
        phases["intake"] = time.monotonic() - t0
        public_data = layout.data_root / assignment.dataset / "public"
        private_data = layout.data_root / assignment.dataset / "private"
        hide = [layout.root, private_data, *(extra_hide or [])]
        hide += [p for p in (layout.reference, layout.hidden_tests) if p is not None]
        probes = [p for p in (layout.hidden_tests, layout.reference, private_data,
                              layout.root / "assignment.toml") if p is not None]
        if out is not None:
            results_dir = Path(out).resolve().parent
            hide.append(results_dir)
            # probing a folder that also holds the worker's own folder would list that
            if not Path(tempfile.gettempdir()).resolve().is_relative_to(results_dir):
                probes.append(results_dir)
        if os.environ.get("AUTOGRADER_ROOT"):
            hide.append(Path(os.environ["AUTOGRADER_ROOT"]))
        uid = uid_hold.enter_context(slots.own_worker_uid(batch="grade"))

        def make_worker(gpus: devices.GpuSelection | None = None,
                        preload: list[str] | None = None) -> Worker:
            return Worker(staged.root, limits=_max_limits(assignment), preload=preload,
                          data_dirs=[public_data] if public_data.is_dir() else [],
                          hide=hide, probe_paths=probes, base_tmp=base_tmp, strategy=strategy,
                          env={"DLKIT_DATASET": assignment.dataset,
                               "DLKIT_DATA_DIR": str(layout.data_root)}, gpus=gpus, uid=uid)
        preloads = with_companions(preload_by_question(assignment, layout.reference or staged.root),
                                   assignment, staged.root)
        worker = Zygotes(lambda preload: make_worker(preload=preload), preloads)
        seed = seed_material or ("fixed" if fixed_seed else f"{assignment.salt}:{staged.digest}")
        collector = Collector({q.id for q in assignment.questions},
                              layout.public_tests or workdir, layout.hidden_tests or workdir / "none",
                              run_order=assignment.run_order(later=heavy_questions(preloads)))
        test_paths = [p for p, want in ((layout.public_tests, public), (layout.hidden_tests, hidden))
                      if want and p is not None and p.is_dir()]
        try:
            mark = time.monotonic()
            worker.begin_start()                    # waited for just before the first test
            phases["worker start"] = time.monotonic() - mark
            waiter = _WorkerReady(worker)
            mark = time.monotonic()
            code, log = _run_pytest(test_paths, layout.root, collector, workdir,
                                    SandboxBackend(worker, assignment, seed), waiter)
            waiter.ready()                          # where pytest ended before its test loop
            phases["tests"] = time.monotonic() - mark - waiter.waited
            phases["worker start"] += waiter.waited
            if waiter.failure is not None:
                raise waiter.failure
            worker_info["strategy"] = worker.strategy.name
            worker_info["uid"] = worker.uid if worker.strategy.drops_uid else os.geteuid()
            warnings += worker.strategy.warnings()
            warnings += [f"the sandbox fell back to {worker.strategy.name}: {why}"
                         for why in getattr(worker, "fallbacks", [])]
            worker_info["probe"] = worker.ready.get("probe", {})
            visible = worker_info["probe"].get("visible", [])
            if visible:
                warnings.append("the worker could see: " + ", ".join(visible))
            if stopsignals.received():     # pytest ended its session on the stop signal
                raise KeyboardInterrupt(stopsignals.name(stopsignals.received()))
            if (models if models is not None else hidden) and any(q.model for q in assignment.questions):
                mark = time.monotonic()
                model_worker, worker_info["model_worker"] = _model_worker(worker, make_worker, device)
                try:
                    model_outcomes, leaderboard, model_scores = _score_models(
                        model_worker, assignment, layout, private=hidden, device=device,
                        report_dir=report_dir)
                finally:
                    if model_worker is not worker:
                        model_worker.close()
                phases["models"] = time.monotonic() - mark
        finally:
            worker_info["starts"] = worker.starts
            worker_info["start_seconds"] = worker.start_seconds
            if worker.late_visible:
                warnings.append("the worker could see: " + ", ".join(worker.late_visible))
            mark = time.monotonic()
            worker.close()
            phases["worker stop"] = time.monotonic() - mark
        if collector.collection_errors or collector.unmarked:
            raise RuntimeError("the kit's tests could not be collected:\n" + "\n".join(
                collector.collection_errors + [f"{n}: no @pytest.mark.question" for n in collector.unmarked]))
        if code not in (0, 1, 5):  # 1: some tests failed (normal); 5: none selected
            raise RuntimeError(f"pytest stopped with exit code {code}:\n{log[-4000:]}")
        outcomes = collector.results() + model_outcomes
        worker_info["models"] = [
            {"question": m.question, "ok": m.ok, "fraction": m.fraction, "info": m.info,
             "seconds": round(m.seconds, 3), "inference_seconds": round(m.inference_seconds, 3),
             "peak_memory_mb": m.peak_memory_mb, "plots": m.plots, **m.record(),
             "metrics": dataclasses.asdict(m.metrics) if m.metrics else None} for m in model_scores]
        notes: list[str] = []
        for o in outcomes:
            for note in (o.report.notes if o.report else []):
                if note not in notes:
                    notes.append(note)
        mark = time.monotonic()
        doc, scores = build_results(assignment, outcomes, staged, notes, time.monotonic() - t0, [])
        phases["results"] = time.monotonic() - mark
        if leaderboard:
            doc["leaderboard"] = leaderboard
        result = _finish(doc, out, outcomes, scores, staged, worker_info, t0, log, warnings, phases)
        if report_dir is not None:
            _write_report(Path(report_dir), result)
        return result
    except KeyboardInterrupt:
        if not stopsignals.received():
            raise
        return _finish_stopped(assignment, collector, model_outcomes, staged, out, worker_info,
                               t0, log, warnings, phases)
    except (Exception, SandboxFailure) as exc:  # the kit itself failed: still write results
        reason = f"{type(exc).__name__}: {exc}"
        log += "\n" + traceback.format_exc()
        doc = results.failure_results(reason, time.monotonic() - t0)
        return _finish(doc, out, outcomes, scores, staged, worker_info, t0, log, warnings)
    finally:
        uid_hold.close()                        # after every worker of this grading is closed
        shutil.rmtree(workdir, ignore_errors=True)


def _finish_stopped(assignment: Assignment, collector: Collector | None,
                    model_outcomes: list[Outcome], staged: intake.Staged | None, out: Path | None,
                    worker_info: dict[str, Any], t0: float, log: str,
                    warnings: list[str], phases: dict[str, float]) -> GradeResult:
    """Grading was stopped by a signal (grading/stopped.py): the worker is gone (the
    ``finally`` above closed it); write the tests graded so far, the rest marked not run."""
    if collector is None:                     # stopped before any test started
        doc = results.failure_results(stopped.reason(), time.monotonic() - t0, status=results.STOPPED)
        return _finish(doc, out, [], [], staged, worker_info, t0, log, warnings)
    outcomes = stopped.outcomes(assignment, collector, model_outcomes)
    doc, scores = build_results(assignment, outcomes, staged, [], time.monotonic() - t0, [])
    doc["output"] = stopped.banner(outcomes, time.monotonic() - t0) + "\n\n" + doc["output"]
    results.set_run_status(doc, results.STOPPED)
    warnings = warnings + [f"grading was stopped by {stopsignals.name(stopsignals.received())}"]
    return _finish(doc, out, outcomes, scores, staged, worker_info, t0, log, warnings, phases)


def report_doc(result: GradeResult) -> dict[str, Any]:
    """The instructor's record of a grading, the one serialisation of its outcomes (written
    as ``report.json`` by ``--report-dir`` and ``--report-json``; read by ``validate``, the
    flake audit and the class report): the run's status and score, per-question points,
    sandbox facts, where the time went (:mod:`.timings`) and, per test, its outcome with the
    grader's full message, its weight (0: a self-check that carries no points), its
    seconds and what the student's code printed."""
    doc = result.doc
    status = results.run_status(doc)
    return {
        "score": doc.get("score"), "run_status": status, "ok": status != results.FAILED,
        "failure": doc["tests"][0].get("output", "") if status == results.FAILED and doc.get("tests") else "",
        "seconds": result.seconds,
        "questions": [{"id": q.id, "score": q.score, "max_score": q.max_score} for q in result.questions],
        "worker": result.worker,
        "timings": (doc.get("extra_data") or {}).get("timings"),
        "tests": [{"nodeid": o.nodeid, "question": o.question, "kind": o.kind, "name": o.name,
                   "passed": o.passed, "fraction": o.fraction, "weight": o.weight,
                   "failure_kind": o.failure_kind,
                   "message": o.message, "duration": o.duration, "seconds": o.timings(),
                   "student_output": (o.report.output if o.report else "")[-2000:]}
                  for o in result.outcomes]}


def write_report_json(result: GradeResult, path: Path) -> Path:
    """:func:`report_doc` of ``result`` written atomically to ``path``."""
    import json
    from .. import atomicfile
    return atomicfile.write(path, json.dumps(report_doc(result), indent=1, default=str), mode=0o644)


def _write_report(folder: Path, result: GradeResult) -> None:
    write_report_json(result, Path(folder) / "report.json")


def _finish(doc: dict[str, Any], out: Path | None, outcomes: list[Outcome], scores: list[QuestionScore],
            staged: intake.Staged | None, worker_info: dict[str, Any], t0: float, log: str,
            warnings: list[str], phases: dict[str, float] | None = None) -> GradeResult:
    seconds = time.monotonic() - t0
    doc["execution_time"] = round(seconds, 3)
    if "run" not in (doc.get("extra_data") or {}):
        results.set_run_status(doc, results.GRADED)
    if outcomes:
        doc.setdefault("extra_data", {})["timings"] = timings.run_timings(phases or {}, outcomes, seconds)
    if out is not None:
        results.write_results(doc, Path(out))
    else:
        results.validate(doc)
    return GradeResult(doc=doc, outcomes=outcomes, questions=scores, staged=staged,
                       worker=worker_info, seconds=seconds, log=log, warnings=warnings,
                       phases=dict(phases or {}))
