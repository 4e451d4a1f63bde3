"""``validate --flakes N``: the flake audit (issue #17, ASSIGNMENT.md "No flakes").

A correct submission must get the same full marks on every salt and under load.  The audit
grades the reference and every accepted alternative (of :mod:`.catalogue`) ``N`` times, each
time with another per-submission seed (``flakes-1`` .. ``flakes-N``: other hidden random
cases, as other salts give), with more gradings at a time than the machine has cores (default:
two per core) and, with ``hog=True``, a busy process per core beside them.  Each grading is its
own ``python -m autograder grade`` process, as in :mod:`.run`.

Reports, per test and per question: test-runs, failures (every one is a flake: the code is
correct), the distinct failure messages, and the slowest run against the question's
``test_timeout_s``; a test whose slowest run uses more than :data:`SLOW_FRACTION` of its limit
is flagged.  A test's time is pytest's wall time for it (setup, call, teardown: trusted side
included), an upper bound of what its limit counts.  Exit status 1 when any test failed or a
grading did not finish.
"""
from __future__ import annotations

import concurrent.futures
import csv
import dataclasses
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

from .. import config, paths, refmodels
from . import catalogue
from .run import _grade_dir, affected_questions

#: A test whose slowest run uses more than this fraction of its time limit is reported.
SLOW_FRACTION = 0.5


@dataclasses.dataclass
class TestStats:
    """What the audit saw of one test (one pytest node id) over all its runs."""

    question: str
    nodeid: str
    limit_s: float
    runs: int = 0
    failures: int = 0
    messages: dict[str, int] = dataclasses.field(default_factory=dict)
    slowest_s: float = 0.0
    slowest_in: str = ""

    @property
    def slow(self) -> bool:
        return self.slowest_s > SLOW_FRACTION * self.limit_s


def _hog(stop: "multiprocessing.synchronize.Event") -> None:  # pragma: no cover - a busy loop
    x = 0
    while not stop.is_set():
        for _ in range(100_000):
            x = (x * 31 + 7) % 1_000_003


def _alternatives(kit: Path, questions: set[str], only: list[str] | None) -> list[catalogue.Variant]:
    variants = [v for v in catalogue.load(kit / "mutants").alternatives if v.question in questions]
    if only:
        variants = [v for v in variants if v.id in only or v.question in only]
    return variants


def audit(assignment_path: Path | None = None, *, n: int, only: list[str] | None = None,
          jobs: int | None = None, hog: bool = False, out_dir: Path | None = None,
          timeout: float = 900.0, alternatives: bool = True) -> int:
    """Grade the reference (and the alternatives) ``n`` times each; see the module docstring.
    ``only``: question ids (the reference is graded on those questions only) and/or
    alternative ids.  Returns the exit status."""
    if n < 1:
        raise ValueError("--flakes needs N >= 1")
    kit = paths.kit_root()
    assignment_path = Path(assignment_path or paths.default_assignment(kit)).resolve()
    assignment = config.load(assignment_path)
    reference = paths.reference_dir(kit)
    jobs = jobs or 2 * (os.cpu_count() or 1)
    questions = [q for q in assignment.ids if not only or q in only] or list(assignment.ids)
    limit = {q.id: float(q.limits.test_timeout_s) for q in assignment.questions}

    work = Path(tempfile.mkdtemp(prefix="dlkit-flakes-"))
    needs_models = any(q.model for q in assignment.questions)

    def prepared(folder: Path) -> Path:
        if needs_models:
            refmodels.add_reference_models(folder, assignment.dataset, kit)
        return folder
    ref_folder = prepared(catalogue.materialise(reference, work / "reference", None))
    subsets: dict[tuple[str, ...], Path] = {}

    def subset_file(include: tuple[str, ...]) -> Path:
        if include == tuple(assignment.ids):
            return assignment_path
        if include not in subsets:
            subsets[include] = config.write_restricted(assignment_path, list(include),
                                            work / f"subset-{len(subsets)}.toml")
        return subsets[include]

    targets: list[tuple[str, Path, catalogue.Variant | None, Path]] = [
        ("reference", ref_folder, None, subset_file(tuple(questions)))]
    for v in (_alternatives(kit, set(questions), only) if alternatives else []):
        folder = prepared(catalogue.materialise(reference, work / v.id, v))
        include = tuple(q for q in affected_questions(assignment, reference, v))
        targets.append((v.id, folder, v, subset_file(include)))
    jobs_list = [(label, folder, v, cfg, f"flakes-{k}")
                 for k in range(1, n + 1) for label, folder, v, cfg in targets]

    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=_hog, args=(stop,), daemon=True)
            for _ in range(os.cpu_count() or 1)] if hog else []
    for h in hogs:
        h.start()
    stats: dict[str, TestStats] = {}
    problems: list[str] = []
    t0 = time.monotonic()
    try:
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(_grade_dir, folder, cfg, label, "alternative" if v else "reference",
                                   v, timeout, seed) for label, folder, v, cfg, seed in jobs_list]
            for fut, (label, _f, _v, _c, seed) in zip(futures, jobs_list):
                g = fut.result()
                if g.error:
                    problems.append(f"{label} {seed}: {g.error[:300]}")
                for t in g.tests:
                    s = stats.setdefault(t["nodeid"], TestStats(t["question"], t["nodeid"],
                                                                limit.get(t["question"], 0.0)))
                    s.runs += 1
                    if not t["passed"]:
                        s.failures += 1
                        msg = t["message"].strip().splitlines()[0][:200] if t["message"].strip() else t["failure_kind"]
                        s.messages[msg] = s.messages.get(msg, 0) + 1
                    seconds = float(t.get("duration", 0.0))
                    if seconds > s.slowest_s:
                        s.slowest_s, s.slowest_in = seconds, f"{label} {seed}"
    finally:
        stop.set()
        for h in hogs:
            h.join(timeout=5)
    elapsed = time.monotonic() - t0
    import shutil
    shutil.rmtree(work, ignore_errors=True)
    return _report(stats, problems, n=n, gradings=len(jobs_list), jobs=jobs, hog=hog,
                   elapsed=elapsed, out_dir=Path(out_dir or kit / "reports" / "flakes"))


def _report(stats: dict[str, TestStats], problems: list[str], *, n: int, gradings: int, jobs: int,
            hog: bool, elapsed: float, out_dir: Path) -> int:
    by_q: dict[str, list[TestStats]] = {}
    for s in stats.values():
        by_q.setdefault(s.question, []).append(s)
    order = sorted(by_q, key=lambda q: int(q[1:]) if q[1:].isdigit() else 10**6)
    lines = ["# flake audit", "",
             f"- {gradings} gradings ({n} seeds x reference and alternatives), {jobs} at a time on "
             f"{os.cpu_count()} cores{', with a CPU hog per core' if hog else ''}, in {elapsed:.0f} s",
             f"- test-runs: {sum(s.runs for s in stats.values())}, failures: "
             f"{sum(s.failures for s in stats.values())}, gradings that did not finish: {len(problems)}",
             "", "| question | test-runs | failures | worst time / limit |", "|---|---|---|---|"]
    for q in order:
        runs = sum(s.runs for s in by_q[q])
        fails = sum(s.failures for s in by_q[q])
        worst = max(by_q[q], key=lambda s: s.slowest_s / s.limit_s if s.limit_s else 0.0)
        lines.append(f"| {q} | {runs} | {fails} | {worst.slowest_s:.2f} s / {worst.limit_s:g} s "
                     f"({worst.nodeid.split('::')[-1]}) |")
    flagged = [s for s in stats.values() if s.failures or s.slow]
    if flagged:
        lines += ["", "## tests that failed or used more than "
                  f"{SLOW_FRACTION:.0%} of their time limit", "",
                  "| test | runs | failures | slowest / limit | messages |", "|---|---|---|---|---|"]
        for s in sorted(flagged, key=lambda s: s.nodeid):
            msgs = "; ".join(f"{m} (x{c})" for m, c in list(s.messages.items())[:3])
            lines.append(f"| {s.nodeid} | {s.runs} | {s.failures} | {s.slowest_s:.2f} s / "
                         f"{s.limit_s:g} s ({s.slowest_in}) | {msgs} |")
    if problems:
        lines += ["", "## gradings that did not finish", ""] + [f"- {p}" for p in problems]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "flakes.md").write_text("\n".join(lines) + "\n", "utf-8")
    with (out_dir / "flakes.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["question", "test", "runs", "failures", "slowest_s", "limit_s", "slowest_in",
                    "messages"])
        for s in sorted(stats.values(), key=lambda s: s.nodeid):
            w.writerow([s.question, s.nodeid, s.runs, s.failures, f"{s.slowest_s:.3f}",
                        f"{s.limit_s:g}", s.slowest_in, " | ".join(s.messages)])
    print("\n".join(lines))
    print(f"reports: {out_dir / 'flakes.md'}, {out_dir / 'flakes.csv'}")
    failed = any(s.failures for s in stats.values()) or problems or not stats
    return 1 if failed else 0
