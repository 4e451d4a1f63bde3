"""Grading end to end: the reference gets full marks, the template zero, every example loses
points exactly where its bug is (and in questions that call the broken function) and nothing
else; the same through run_autograder; results.json is valid in every case, including a
grader crash, a missing file and a syntax error."""
from __future__ import annotations

import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from autograder import config, examples, paths, refmodels
from autograder.grading import grade as grading
from autograder.grading import results
from autograder.validate import catalogue
from autograder.validate.run import _enclosing_functions, _grade_dir

KIT = paths.kit_root()
ASSIGNMENT = config.load()


def _subset(include: list[str], folder: Path) -> Path:
    return config.write_restricted(KIT / "assignment.toml", include,
                                   folder / f"subset-{'-'.join(include)}.toml")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Every submission graded once, two at a time, each in its own process."""
    work = tmp_path_factory.mktemp("graded")
    jobs = []
    ref = catalogue.materialise(paths.reference_dir(KIT), work / "reference", None)
    refmodels.add_reference_models(ref, ASSIGNMENT.dataset, KIT)
    jobs.append(("reference", ref, KIT / "assignment.toml"))
    jobs.append(("template", paths.template_dir(KIT), KIT / "assignment.toml"))
    for ex in examples.load(KIT):
        folder = ex.materialise(work / ex.name, ASSIGNMENT.dataset, KIT)
        cfg = KIT / "assignment.toml"
        if ex.folder is not None:
            meta = tomllib.loads((ex.folder / "expect.toml").read_text())
            cfg = _subset(meta["include"], work)
        jobs.append((ex.name, folder, cfg))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(_grade_dir, folder, cfg, name, "example", None, 1800)
                   for name, folder, cfg in jobs}
        out = {name: f.result() for name, f in futures.items()}
    for name, g in out.items():
        assert not g.error, f"{name}: {g.error}"
    return out


def test_reference_gets_full_marks(graded):
    g = graded["reference"]
    short = {q: f"{s}/{m}" for q, (s, m) in g.questions.items() if s < m - 1e-9}
    assert not short, f"reference loses points: {short}"
    assert set(g.questions) == set(ASSIGNMENT.ids)


def test_template_gets_zero(graded):
    g = graded["template"]
    assert all(s == 0 for s, _ in g.questions.values()), g.questions


@pytest.mark.parametrize("example", [e for e in examples.load(KIT) if e.variant is not None],
                         ids=lambda e: e.name)
def test_generated_example_loses_points_only_where_its_bug_is(graded, example):
    g = graded[example.name]
    touched = _enclosing_functions(paths.reference_dir(KIT), example.variant)
    callers = {q.id for q in ASSIGNMENT.questions if touched & set(q.calls)}
    lost = {q for q, (s, m) in g.questions.items() if s < m - 1e-9}
    assert example.breaks in lost, f"{example.name} keeps full marks on {example.breaks}"
    assert lost <= {example.breaks} | callers, (
        f"{example.name} loses points in {sorted(lost - {example.breaks} - callers)}, which do not "
        f"call {sorted(touched)}")
    failing = [t for t in g.tests if t["question"] == example.breaks and not t["passed"]]
    assert failing and all(t["message"] for t in failing)


@pytest.mark.parametrize("example", [e for e in examples.load(KIT) if e.folder is not None],
                         ids=lambda e: e.name)
def test_old_style_example_grades_as_expected(graded, example):
    meta = tomllib.loads((example.folder / "expect.toml").read_text())
    g = graded[example.name]
    for q in meta.get("full", []):
        s, m = g.questions[q]
        failing = [(t["name"], t["message"][:200]) for t in g.tests if t["question"] == q and not t["passed"]]
        assert s == m, f"{example.name}: {q} {s}/{m}: {failing}"
    for q in meta.get("zero", {}):
        assert g.questions[q][0] == 0, f"{example.name}: {q} should be 0 ({meta['zero'][q]['why']})"
    for q in meta.get("partial", {}):
        s, m = g.questions[q]
        assert s < m, f"{example.name}: {q} should lose points ({meta['partial'][q]['why']})"
    print(example.name, {q: f"{s:g}/{m:g}" for q, (s, m) in g.questions.items()})


def test_run_autograder_grades_the_reference_in_a_temp_root(tmp_path):
    root = tmp_path / "autograder"
    sub = root / "submission"
    shutil.copytree(paths.reference_dir(KIT) / "src", sub / "src", ignore=shutil.ignore_patterns("__pycache__"))
    refmodels.add_reference_models(sub, ASSIGNMENT.dataset, KIT)
    (root / "results").mkdir(parents=True)
    (root / "results" / "results.json").write_text('{"score": 999}')    # stale: must be replaced
    env = {**os.environ, "AUTOGRADER_ROOT": str(root),
           "AUTOGRADER_ASSIGNMENT": str(_subset(["Q1", "Q3", "Q6", "Q10"], tmp_path))}
    proc = subprocess.run([str(KIT / "run_autograder")], env=env, capture_output=True, text=True, timeout=900)
    doc = json.loads((root / "results" / "results.json").read_text())
    results.validate(doc)
    assert doc["score"] == 5 + 5 + 15 + 15, proc.stdout[-2000:]
    assert {e["name"] for e in doc.get("leaderboard", [])} == {"CNN accuracy", "CNN macro-F1"}


def test_results_are_valid_when_the_grader_cannot_start(tmp_path):
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "AUTOGRADER_PYTHON": "/bin/false"}
    subprocess.run([str(KIT / "run_autograder")], env=env, capture_output=True, timeout=60)
    doc = json.loads((root / "results" / "results.json").read_text())
    results.validate(doc)
    assert doc["tests"][0]["name"] == "Autograder failed" and doc["score"] == 0


def test_results_are_valid_when_the_kit_crashes_mid_grading(tmp_path, monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("simulated kit bug")
    monkeypatch.setattr(grading, "_run_pytest", boom)
    out = tmp_path / "results.json"
    res = grading.grade(paths.reference_dir(KIT), assignment=ASSIGNMENT, out=out)
    doc = json.loads(out.read_text())
    results.validate(doc)
    assert doc["tests"][0]["name"] == "Autograder failed"
    assert "simulated kit bug" in doc["tests"][0]["output"]
    assert res.score == 0


def test_syntax_error_costs_only_the_questions_that_import_the_file(tmp_path):
    sub = tmp_path / "sub"
    shutil.copytree(paths.reference_dir(KIT) / "src", sub / "src", ignore=shutil.ignore_patterns("__pycache__"))
    with open(sub / "src" / "classifiers.py", "a") as f:
        f.write("\ndef broken(:\n    pass\n")
    cfg = config.restrict(ASSIGNMENT, ["Q1", "Q3"])
    out = tmp_path / "results.json"
    res = grading.grade(sub, assignment=cfg, out=out, fixed_seed=True)
    results.validate(json.loads(out.read_text()))
    by_q = {q.id: q.score for q in res.questions}
    assert by_q == {"Q1": 5, "Q3": 0}
    q3 = [t for t in res.doc["tests"] if t["name"].startswith("Q3")][0]
    assert "SyntaxError" in q3["output"] and "classifiers.py" in q3["output"]
