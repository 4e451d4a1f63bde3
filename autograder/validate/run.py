"""The ``validate`` verb: prove the tests right before release.

Grades, each in its own ``python -m autograder grade`` process with fixed random cases:

* the reference — must get full marks on every question;
* the generated template — must get zero on every question;
* every mutant of :mod:`.catalogue` — must lose points on its own question, may lose points
  in questions that call the mutated function (``calls`` in assignment.toml), and must keep
  full marks everywhere else;
* every alternative — must get full marks.

Prints and writes (Markdown and CSV) a table: variant, question, points lost, the tests that
caught it, whether the public tests alone catch it, and whether it acts only by raising or by
changing a shape.  Also lists every numerics.md §4 row id as mutant, alternative or "does not
apply".  Exit status 1 when anything is wrong.
"""
from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import csv
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .. import config, paths, refmodels
from ..batch import slots
from . import catalogue

NUMERICS_ROWS = (
    [f"A{i}" for i in range(1, 9)] + [f"R{i}" for i in range(1, 5)] + [f"D{i}" for i in range(1, 10)]
    + [f"S{i}" for i in range(1, 10)] + [f"N{i}" for i in range(1, 11)] + [f"O{i}" for i in range(1, 13)]
    + [f"C{i}" for i in range(1, 8)] + [f"P{i}" for i in range(1, 4)] + [f"X{i}" for i in range(1, 16)]
    + [f"Q{i}" for i in range(1, 8)])
#: Rows the public tests are known to miss (numerics.md §4); hidden tests must kill them.
PUBLIC_MISSES = ("A3", "A4", "A8", "S1", "S2", "N4", "N6", "C3", "C4", "P1", "P3", "X2", "X9")


@dataclasses.dataclass
class Graded:
    label: str
    kind: str                       # reference | template | mutant | alternative
    variant: catalogue.Variant | None
    questions: dict[str, tuple[float, float]]   # id -> (score, max)
    tests: list[dict[str, Any]]
    seconds: float
    error: str = ""


@dataclasses.dataclass
class Verdict:
    """validate's judgement of one graded variant (a mutant must lose points in its own
    question; an alternative must keep every point).

    ``ok``: the variant behaved as it must; ``problem``: why not.  ``lost``: points its own
    question lost; ``caught_by``: the tests of that question that failed (``[public]``
    marked); ``public_kills``: a public test caught it; ``raise_or_shape_only``: every catch
    was an exception or a shape check (a weak kill); ``collateral``: other questions that lost
    points (``"Q5 -2"``)."""

    graded: Graded
    ok: bool
    problem: str
    lost: float = 0.0
    caught_by: list[str] = dataclasses.field(default_factory=list)
    public_kills: bool = False
    raise_or_shape_only: bool = False
    collateral: list[str] = dataclasses.field(default_factory=list)


@contextlib.contextmanager
def _own_worker_uid() -> Any:
    """The environment for one grading that runs beside others: its own worker uid, from a
    job slot of this host (:func:`..batch.slots.own_worker_uid`; a flake audit at two jobs
    sharing one uid lost dozens of tests to 'the sandboxed worker did not start ... killed
    by signal 9').  Unchanged where the caller chose the uid or cannot switch uids."""
    env = dict(os.environ)
    with slots.own_worker_uid(batch="validate") as uid:
        if uid is not None:
            env["AUTOGRADER_WORKER_UID"] = str(uid)
        yield env


def _grade_dir(folder: Path, assignment_path: Path, label: str, kind: str,
               variant: catalogue.Variant | None, timeout: float, seed: str | None = None) -> Graded:
    with tempfile.TemporaryDirectory(prefix="dlkit-validate-") as tmp:
        out = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "autograder", "--assignment", str(assignment_path), "grade",
               str(folder), "--report-json", str(out)]
        cmd += ["--seed", seed] if seed else ["--fixed-seed"]
        t0 = time.monotonic()
        try:
            with _own_worker_uid() as env:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return Graded(label, kind, variant, {}, [], time.monotonic() - t0, f"grading timed out after {timeout:g} s")
        seconds = time.monotonic() - t0
        if not out.is_file():
            return Graded(label, kind, variant, {}, [], seconds,
                          f"grade exited {proc.returncode} without outcomes: {proc.stderr[-2000:]}")
        data = json.loads(out.read_text())
    questions = {q["id"]: (q["score"], q["max_score"]) for q in data["questions"]}
    err = "" if data.get("ok", True) else data.get("failure", "grading failed")
    return Graded(label, kind, variant, questions, data["tests"], seconds, err)


def _enclosing_functions(reference: Path, variant: catalogue.Variant) -> set[str]:
    """``module.name`` of the top-level defs/classes the variant's edits touch."""
    out = set()
    for edit in variant.edits:
        path = reference / edit.file
        text = path.read_text("utf-8")
        start = text.find(edit.find)
        if start < 0:
            continue
        line = text[:start].count("\n") + 1
        module = edit.file[len("src/"):-3].replace("/", ".")
        for node in ast.parse(text).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                if node.lineno <= line <= (node.end_lineno or node.lineno):
                    out.add(f"{module}.{node.name}")
    return out


def _module_of(rel: str) -> str:
    """``src/utils/optim.py`` -> ``utils.optim``."""
    return rel[len("src/"):-3].replace("/", ".")


def import_graph(reference: Path) -> dict[str, set[str]]:
    """module -> modules of ``reference/src`` it imports directly (relative, ``src.``-absolute
    and sibling imports as the handouts write them)."""
    src = reference / "src"
    modules = {_module_of(p.relative_to(reference).as_posix()) for p in src.rglob("*.py")
               if "__pycache__" not in p.parts}
    graph: dict[str, set[str]] = {}
    for mod in modules:
        path = src / (mod.replace(".", "/") + ".py")
        package = mod.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".") if package else []
                    parent = parent[: len(parent) - (node.level - 1)] if node.level > 1 else parent
                    base = ".".join([*parent, base] if base else parent)
                names = [base] + [f"{base}.{a.name}" if base else a.name for a in node.names]
            for name in names:
                name = name[len("src."):] if name.startswith("src.") else name
                if name in modules:
                    found.add(name)
                elif name.rpartition(".")[0] in modules:
                    found.add(name.rpartition(".")[0])
        graph[mod] = found - {mod}
    return graph


def affected_questions(assignment: config.Assignment, reference: Path, variant: catalogue.Variant) -> list[str]:
    """Questions whose code can see the variant's change: those whose files (or the modules of
    their functions and calls) import, directly or not, a file the variant edits.  Every other
    question runs byte-identical code with the same fixed seed, so it scores as the reference."""
    graph = import_graph(reference)

    def closure(mods: set[str]) -> set[str]:
        seen, todo = set(), list(mods)
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo.extend(graph.get(m, ()))
        return seen
    changed = {_module_of(e.file) for e in variant.edits}
    out = []
    for q in assignment.questions:
        roots = {_module_of(f) for f in q.files} | {fn.rpartition(".")[0] for fn in (*q.functions, *q.calls)}
        if q.id == variant.question or closure(roots) & changed:
            out.append(q.id)
    return out


def judge(g: Graded, assignment: config.Assignment, reference: Path) -> Verdict:
    if g.error:
        return Verdict(g, False, g.error)
    lost = {q: mx - sc for q, (sc, mx) in g.questions.items()}
    if g.kind in ("reference", "alternative"):
        bad = [f"{q} {sc:g}/{mx:g}" for q, (sc, mx) in g.questions.items() if sc < mx - 1e-9]
        if g.kind == "reference" and g.questions.keys() != set(assignment.ids):
            bad.append("not every question was graded")
        failing = [t["nodeid"] + ": " + t["message"][:200] for t in g.tests if not t["passed"]]
        return Verdict(g, not bad, ("not full marks: " + ", ".join(bad) + "\n  " + "\n  ".join(failing[:5])) if bad else "")
    if g.kind == "template":
        bad = [f"{q} {sc:g}/{mx:g}" for q, (sc, mx) in g.questions.items() if sc > 1e-9]
        return Verdict(g, not bad, ("template scores points: " + ", ".join(bad)) if bad else "")
    v = g.variant
    assert v is not None
    own = v.question
    touched = _enclosing_functions(reference, v)
    allowed = {own}
    for q in assignment.questions:
        if touched & set(q.calls) or touched & set(q.functions):
            allowed.add(q.id)
    own_tests = [t for t in g.tests if t["question"] == own and not t["passed"]]
    verdict = Verdict(g, True, "", lost=lost.get(own, 0.0),
                      caught_by=[t["name"] + (" [public]" if t["kind"] == "public" else "") for t in own_tests],
                      public_kills=any(t["kind"] == "public" for t in own_tests))
    verdict.raise_or_shape_only = bool(own_tests) and all(
        t["failure_kind"] in ("student", "sandbox") or "has shape" in t["message"] for t in own_tests)
    verdict.collateral = [f"{q} -{lost[q]:g}" for q in lost if q != own and lost[q] > 1e-9]
    if own not in g.questions:
        verdict.ok, verdict.problem = False, f"question {own} is not graded by this assignment"
        return verdict
    if g.questions.keys() != set(assignment.ids):   # a note only: survival is still judged
        verdict.collateral.append("graded: " + " ".join(sorted(g.questions, key=lambda q: int(q[1:]))))
    if lost.get(own, 0.0) <= 1e-9:
        verdict.ok, verdict.problem = False, "SURVIVED: its question kept full marks"
    else:
        outside = [q for q in lost if q not in allowed and lost[q] > 1e-9]
        if outside:
            verdict.ok = False
            verdict.problem = ("costs points in questions that do not call the mutated code: "
                               + ", ".join(f"{q} -{lost[q]:g}" for q in outside))
    return verdict


def _table(verdicts: list[Verdict], cat: catalogue.Catalogue) -> tuple[list[str], list[list[str]]]:
    header = ["variant", "kind", "question", "description", "points lost", "caught by",
              "public tests kill it", "raise/shape only", "other questions", "ok"]
    rows = []
    for v in verdicts:
        g = v.graded
        desc = g.variant.description if g.variant else ""
        rows.append([g.label, g.kind, g.variant.question if g.variant else "all", desc,
                     f"{v.lost:g}" if g.kind == "mutant" else "",
                     "; ".join(v.caught_by[:3]) + (f" (+{len(v.caught_by) - 3})" if len(v.caught_by) > 3 else ""),
                     ("yes" if v.public_kills else "no") if g.kind == "mutant" else "",
                     ("yes" if v.raise_or_shape_only else "no") if g.kind == "mutant" else "",
                     ", ".join(v.collateral), "ok" if v.ok else "FAIL: " + v.problem.splitlines()[0]])
    return header, rows


def _coverage(cat: catalogue.Catalogue) -> list[tuple[str, str, str]]:
    """Every numerics.md §4 row id with how the catalogue covers it."""
    out = []
    for row in NUMERICS_ROWS:
        mut = [m for m in cat.mutants if m.id == row or m.id.startswith(row + "-")]
        alt = [a for a in cat.alternatives if a.id == row or a.id.startswith(row + "-")]
        na = [n for n in cat.not_applicable if n.id == row]
        if mut:
            out.append((row, "mutant", ", ".join(m.id for m in mut)))
        elif alt:
            out.append((row, "alternative", "; ".join(f"{a.id}: {a.allowed_by}" for a in alt)))
        elif na:
            out.append((row, "does not apply", na[0].reason))
        else:
            out.append((row, "MISSING", "not in the catalogue"))
    return out


def _write_reports(out_dir: Path, header: list[str], rows: list[list[str]],
                   coverage: list[tuple[str, str, str]], summary: list[str]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "validate.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    md = ["# validate", "", *summary, "", "| " + " | ".join(header) + " |",
          "|" + "---|" * len(header)]
    md += ["| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in r) + " |" for r in rows]
    md += ["", "## numerics.md §4 coverage", "", "| row | covered as | by / reason |", "|---|---|---|"]
    md += [f"| {r} | {k} | {d.replace('|', '/')} |" for r, k, d in coverage]
    (out_dir / "validate.md").write_text("\n".join(md) + "\n")


def run(assignment_path: Path | None = None, *, only: list[str] | None = None, jobs: int = 2,
        out_dir: Path | None = None, skip_template: bool = False, skip_reference: bool = False,
        timeout: float = 900.0, progress: bool = True, subset: int | None = None, seeds: int = 3,
        strict: bool = False) -> int:
    kit = paths.kit_root()
    assignment_path = Path(assignment_path or paths.default_assignment(kit)).resolve()
    assignment = config.load(assignment_path)
    reference = paths.reference_dir(kit)
    cat = catalogue.load(kit / "mutants")
    variants = cat.mutants + cat.alternatives
    selected_q = set(assignment.ids)
    variants = [v for v in variants if v.question in selected_q]
    if only:
        variants = [v for v in variants if v.id in only or v.question in only]
    if subset is not None:
        # deterministic subset: every question's first mutant and alternative, then by id order
        variants = _subset(variants, subset)
    work = Path(tempfile.mkdtemp(prefix="dlkit-validate-"))
    needs_models = any(q.model for q in assignment.questions)
    if needs_models:
        print(f"validate: reference models for {assignment.dataset}: "
              f"{refmodels.reference_models(assignment.dataset, kit)}", file=sys.stderr)

    def prepared(folder: Path) -> Path:
        if needs_models:
            refmodels.add_reference_models(folder, assignment.dataset, kit)
        return folder
    jobs_list: list[tuple[str, str, Path, catalogue.Variant | None, str | None, Path]] = []
    if not skip_reference:
        ref_folder = prepared(catalogue.materialise(reference, work / "reference", None))
        jobs_list.append(("reference", "reference", ref_folder, None, None, assignment_path))
        # the hidden tests' random cases differ per submission: the reference must get full
        # marks whatever they are, not just with the fixed CI seed
        for k in range(seeds):
            jobs_list.append((f"reference@seed{k + 1}", "reference", ref_folder, None,
                              f"validate-seed-{k + 1}", assignment_path))
    if not skip_template:
        jobs_list.append(("template", "template", paths.template_dir(kit), None, None, assignment_path))
    subsets: dict[tuple[str, ...], Path] = {}
    for v in variants:
        folder = prepared(catalogue.materialise(reference, work / v.id, v))  # raises if a patch fails
        include = tuple(assignment.ids if strict else affected_questions(assignment, reference, v))
        if include not in subsets:
            subsets[include] = config.write_restricted(assignment_path, list(include),
                                                       work / f"subset-{len(subsets)}.toml")
        jobs_list.append((v.id, v.kind, folder, v, None, subsets[include]))
    t0 = time.monotonic()
    verdicts: list[Verdict] = []
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(jobs_list), desc="validate", unit="variant", file=sys.stderr)
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(_grade_dir, folder, cfg, label, kind, v, timeout, seed): label
                   for label, kind, folder, v, seed, cfg in jobs_list}
        for fut in concurrent.futures.as_completed(futures):
            verdicts.append(judge(fut.result(), assignment, reference))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    order = {label: i for i, (label, *_rest) in enumerate(jobs_list)}
    verdicts.sort(key=lambda v: order[v.graded.label])
    elapsed = time.monotonic() - t0
    header, rows = _table(verdicts, cat)
    mutants = [v for v in verdicts if v.graded.kind == "mutant"]
    killed = sum(1 for v in mutants if v.ok)
    alts = [v for v in verdicts if v.graded.kind == "alternative"]
    raise_only = sum(1 for v in mutants if v.raise_or_shape_only)
    per_q: dict[str, int] = {}
    for v in mutants:
        per_q[v.graded.variant.question] = per_q.get(v.graded.variant.question, 0) + 1
    coverage = _coverage(cat)
    must_hidden = [v for v in mutants if v.graded.label.split("-")[0] in PUBLIC_MISSES]
    summary = [
        f"- mutants: {killed}/{len(mutants)} killed correctly; alternatives: "
        f"{sum(v.ok for v in alts)}/{len(alts)} full marks",
        f"- mutants acting only by raising or changing a shape: {raise_only}/{len(mutants)}"
        f" ({(raise_only / len(mutants) * 100) if mutants else 0:.0f} %, limit 10 %)",
        f"- mutants per question: " + ", ".join(f"{q} {n}" for q, n in sorted(per_q.items(), key=lambda kv: int(kv[0][1:]))),
        f"- rows the public tests miss, killed by hidden tests: "
        + ", ".join(f"{v.graded.label}{'' if v.ok else ' (FAIL)'}{' (public kills it too)' if v.public_kills else ''}" for v in must_hidden),
        f"- graded {len(jobs_list)} variants in {elapsed:.0f} s with {jobs} parallel jobs",
    ]
    missing_rows = [r for r, k, _ in coverage if k == "MISSING"]
    if missing_rows and not only and subset is None:
        summary.append(f"- numerics.md §4 rows not covered: {', '.join(missing_rows)}")
    out_dir = Path(out_dir or kit / "reports" / "validate")
    _write_reports(out_dir, header, rows, coverage, summary)
    widths = [10, 11, 4, 50, 6]
    print(f"{'variant':<{widths[0]}} {'kind':<{widths[1]}} {'Q':<{widths[2]}} {'lost':>{widths[4]}}  result / caught by")
    for v, r in zip(verdicts, rows):
        caught = r[5] if v.ok else r[9]
        print(f"{r[0]:<{widths[0]}} {r[1]:<{widths[1]}} {r[2]:<{widths[2]}} {r[4]:>{widths[4]}}  "
              f"{'ok ' if v.ok else 'FAIL '}{caught[:110]}")
    print()
    print("\n".join(summary))
    print(f"reports: {out_dir / 'validate.md'}, {out_dir / 'validate.csv'}")
    failed = [v for v in verdicts if not v.ok]
    for v in failed:
        print(f"FAIL {v.graded.label}: {v.problem}", file=sys.stderr)
    too_many_raise = mutants and raise_only > 0.10 * len(mutants) and not only and subset is None
    if too_many_raise:
        print("FAIL: more than 10 % of mutants act only by raising or changing a shape", file=sys.stderr)
    if missing_rows and not only and subset is None:
        print(f"FAIL: numerics.md rows missing from the catalogue: {', '.join(missing_rows)}", file=sys.stderr)
    import shutil
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed or too_many_raise or (missing_rows and not only and subset is None) else 0


def _subset(variants: list[catalogue.Variant], n: int) -> list[catalogue.Variant]:
    """A deterministic subset of ``n`` variants: round-robin over questions in catalogue order,
    alternatives first within each question."""
    by_q: dict[str, list[catalogue.Variant]] = {}
    for v in sorted(variants, key=lambda v: (v.kind != "alternative",)):
        by_q.setdefault(v.question, []).append(v)
    out: list[catalogue.Variant] = []
    queues = [by_q[q] for q in sorted(by_q, key=lambda q: int(q[1:]))]
    while len(out) < n and any(queues):
        for queue in queues:
            if queue and len(out) < n:
                out.append(queue.pop(0))
    return out


def env_jobs() -> int:
    return int(os.environ.get("DLKIT_VALIDATE_JOBS", os.cpu_count() or 2))
