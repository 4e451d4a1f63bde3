"""``validate --flakes N``: the flake audit (issue #17, ASSIGNMENT.md "No flakes").

A correct submission must get the same full marks on every salt and under load.  The audit
grades the reference and every accepted alternative (of :mod:`.catalogue`) ``N`` times, each
time with another per-submission seed (``flakes-1`` .. ``flakes-N``: other hidden random
cases, as other salts give), with more gradings at a time than the machine has cores (default:
two per core) and, with ``hog=True``, a busy process per core beside them.  Each grading is its
own ``python -m autograder grade`` process, as in :mod:`.run`.

Reports, per test and per question: test-runs, failures (every one is a flake: the code is
correct; except a zero-point self-check that an accepted alternative fails, which is what the
alternative is allowed to do and is listed apart), the distinct failure messages, and the slowest run against the question's
``test_timeout_s``; a test whose slowest run uses more than :data:`SLOW_FRACTION` of its limit
is flagged.  A test's time is pytest's wall time for it (setup, call, teardown: trusted side
included), an upper bound of what its limit counts.  Exit status 1 when any test failed or a
grading did not finish.
"""
from __future__ import annotations

import concurrent.futures
import csv
import dataclasses
import math
import multiprocessing
import os
import tempfile
import time
from pathlib import Path
from typing import Callable

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
    #: failures of this test in an alternative's grading while it carries no points (weight
    #: 0: a self-check of given code, ASSIGNMENT.md "Given code inside student files"): what
    #: the alternative is allowed to do, so not a flake; the reference must still pass it
    zero_point: int = 0
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
    """The alternatives to grade: those of ``questions``; with ``only``, those it names by id
    (whatever their question: GUARD3-den-1e-10 belongs to Q3 and reaches Q14) or by question."""
    variants = catalogue.load(kit / "mutants").alternatives
    if only:
        return [v for v in variants if v.id in only or v.question in only]
    return [v for v in variants if v.question in questions]


def audit(assignment_path: Path | None = None, *, n: int, only: list[str] | None = None,
          jobs: int | None = None, hog: bool = False, out_dir: Path | None = None,
          timeout: float = 900.0, alternatives: bool = True, min_runs: int | None = None) -> int:
    """Grade the reference (and the alternatives) ``n`` times each; see the module docstring.
    ``only``: question ids (the reference is graded on those questions only) and/or
    alternative ids.  ``min_runs``: after those ``n`` seeds, grade each question's targets
    under more seeds until every question has at least ``min_runs`` test-runs (the reference
    is then graded one question at a time, so a question with few or slow tests does not make
    every other question run as often).  Returns the exit status."""
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

    targets = ([Target("reference", ref_folder, None, (q,), subset_file((q,))) for q in questions]
               if min_runs else
               [Target("reference", ref_folder, None, tuple(questions), subset_file(tuple(questions)))])
    for v in (_alternatives(kit, set(questions), only) if alternatives else []):
        folder = prepared(catalogue.materialise(reference, work / v.id, v))
        include = tuple(q for q in affected_questions(assignment, reference, v))
        targets.append(Target(v.id, folder, v, include, subset_file(include)))

    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=_hog, args=(stop,), daemon=True)
            for _ in range(os.cpu_count() or 1)] if hog else []
    for h in hogs:
        h.start()
    stats: dict[str, TestStats] = {}
    problems: list[str] = []
    gradings = 0
    t0 = time.monotonic()
    try:
        first = [(t, k) for k in range(1, n + 1) for t in targets]
        gradings += _grade_all(first, stats, problems, limit, jobs, timeout, t0)
        seeds = {q: n for q in questions}
        if min_runs:
            seeds = seeds_needed(stats, questions, n, min_runs)
            more = extra_gradings(targets, seeds, n, subset_file)
            gradings += _grade_all(more, stats, problems, limit, jobs, timeout, t0)
    finally:
        stop.set()
        for h in hogs:
            h.join(timeout=5)
    elapsed = time.monotonic() - t0
    import shutil
    shutil.rmtree(work, ignore_errors=True)
    return _report(stats, problems, n=n, gradings=gradings, jobs=jobs, hog=hog,
                   elapsed=elapsed, out_dir=Path(out_dir or kit / "reports" / "flakes"),
                   seeds=seeds if min_runs else None, min_runs=min_runs)


@dataclasses.dataclass(frozen=True)
class Target:
    """One submission folder the audit grades, and the questions it is graded on."""

    label: str
    folder: Path
    variant: catalogue.Variant | None
    include: tuple[str, ...]
    assignment_file: Path


def seeds_needed(stats: dict[str, TestStats], questions: list[str], n: int, min_runs: int) -> dict[str, int]:
    """Seeds each question needs for ``min_runs`` test-runs, from what ``n`` seeds gave (never
    fewer than ``n``).  A question with no test-runs at all keeps ``n``: grading it again would
    not help, and the report shows it."""
    runs = {q: 0 for q in questions}
    for s in stats.values():
        if s.question in runs:
            runs[s.question] += s.runs
    return {q: max(n, math.ceil(min_runs * n / runs[q])) if runs[q] else n for q in questions}


def extra_gradings(targets: list[Target], seeds: dict[str, int], n: int,
                   subset_file: "Callable[[tuple[str, ...]], Path]") -> list[tuple[Target, int]]:
    """(target, seed k) for every seed past ``n`` that one of the target's questions needs
    (:func:`seeds_needed`).  Seed k grades a target only on its questions that still need
    seed k: an alternative of Q3 (26 seeds) that Q4, Q5 and Q14 also see (4 or 5 seeds) is
    graded on Q3 alone after those."""
    out = []
    for t in targets:
        for k in range(n + 1, max(seeds.get(q, n) for q in t.include) + 1):
            include = tuple(q for q in t.include if seeds.get(q, n) >= k)
            out.append((t if include == t.include else
                        dataclasses.replace(t, include=include, assignment_file=subset_file(include)), k))
    return out


def _grade_all(jobs_list: list[tuple[Target, int]], stats: dict[str, TestStats], problems: list[str],
               limit: dict[str, float], jobs: int, timeout: float, t0: float) -> int:
    """Grade each (target, seed k) with seed ``flakes-k``; fold the outcomes into ``stats``."""
    if not jobs_list:
        return 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_grade_dir, t.folder, t.assignment_file, t.label,
                               "alternative" if t.variant else "reference", t.variant, timeout,
                               f"flakes-{k}") for t, k in jobs_list]
        for done, (fut, (t, k)) in enumerate(zip(futures, jobs_list), 1):
            g = fut.result()
            if g.error:
                problems.append(f"{t.label} flakes-{k}: {g.error[:300]}")
            for r in g.tests:
                s = stats.setdefault(r["nodeid"], TestStats(r["question"], r["nodeid"],
                                                            limit.get(r["question"], 0.0)))
                s.runs += 1
                if not r["passed"] and t.variant is not None and not r.get("weight", 1.0):
                    # a self-check of given code (or of one accepted choice, e.g. the golden of
                    # one initialisation) that an accepted alternative fails by design
                    s.zero_point += 1
                elif not r["passed"]:
                    s.failures += 1
                    msg = r["message"].strip().splitlines()[0][:200] if r["message"].strip() else r["failure_kind"]
                    s.messages[msg] = s.messages.get(msg, 0) + 1
                    print(f"flakes: FAILED {r['nodeid']} ({t.label} flakes-{k}): {msg}", flush=True)
                seconds = float(r.get("duration", 0.0))
                if seconds > s.slowest_s:
                    s.slowest_s, s.slowest_in = seconds, f"{t.label} flakes-{k}"
            if done % 25 == 0 or done == len(jobs_list):
                print(f"flakes: {done}/{len(jobs_list)} gradings, "
                      f"{sum(s.failures for s in stats.values())} failures, "
                      f"{time.monotonic() - t0:.0f} s", flush=True)
    return len(jobs_list)


def _report(stats: dict[str, TestStats], problems: list[str], *, n: int, gradings: int, jobs: int,
            hog: bool, elapsed: float, out_dir: Path, seeds: dict[str, int] | None = None,
            min_runs: int | None = None) -> int:
    by_q: dict[str, list[TestStats]] = {}
    for s in stats.values():
        by_q.setdefault(s.question, []).append(s)
    order = sorted(by_q, key=lambda q: int(q[1:]) if q[1:].isdigit() else 10**6)
    what = (f"at least {min_runs} test-runs per question: seeds per question "
            + ", ".join(f"{q} {seeds[q]}" for q in order if q in seeds)
            if min_runs and seeds else f"{n} seeds x reference and alternatives")
    lines = ["# flake audit", "",
             f"- {gradings} gradings ({what}), {jobs} at a time on "
             f"{os.cpu_count()} cores{', with a CPU hog per core' if hog else ''}, in {elapsed:.0f} s",
             f"- test-runs: {sum(s.runs for s in stats.values())}, failures: "
             f"{sum(s.failures for s in stats.values())}, gradings that did not finish: {len(problems)}",
             "", "| question | test-runs | failures | worst time / limit |", "|---|---|---|---|"]
    # only the audited questions: an alternative named by id also runs its other questions once
    short = [q for q in order if min_runs and q in (seeds or {})
             and sum(s.runs for s in by_q[q]) < min_runs]
    if short:
        lines.insert(4, f"- fewer than {min_runs} test-runs: {', '.join(short)}")
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
    allowed = [s for s in stats.values() if s.zero_point]
    if allowed:
        lines += ["", "## zero-point checks that accepted alternatives fail by design (not flakes)", "",
                  "| test | runs | failed by alternatives |", "|---|---|---|"]
        lines += [f"| {s.nodeid} | {s.runs} | {s.zero_point} |" for s in sorted(allowed, key=lambda s: s.nodeid)]
    if problems:
        lines += ["", "## gradings that did not finish", ""] + [f"- {p}" for p in problems]
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "flakes.md").write_text("\n".join(lines) + "\n", "utf-8")
    with (out_dir / "flakes.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["question", "test", "runs", "failures", "zero_point_by_alternatives",
                    "slowest_s", "limit_s", "slowest_in", "messages"])
        for s in sorted(stats.values(), key=lambda s: s.nodeid):
            w.writerow([s.question, s.nodeid, s.runs, s.failures, s.zero_point, f"{s.slowest_s:.3f}",
                        f"{s.limit_s:g}", s.slowest_in, " | ".join(s.messages)])
    print("\n".join(lines))
    print(f"reports: {out_dir / 'flakes.md'}, {out_dir / 'flakes.csv'}")
    failed = any(s.failures for s in stats.values()) or problems or not stats or short
    return 1 if failed else 0
