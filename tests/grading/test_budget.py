"""Grading time budgets (autograder/grading/budget.py): a function that hangs fails its tests
one timeout at a time only until its question's budget, or the submission's, is used up; the
remaining tests fail unrun with a message naming the budget, and grading ends in bounded time.
"""
from __future__ import annotations

import json
import shutil
import time

import pytest

from autograder import config, paths
from autograder.grading import grade as grading
from autograder.grading import results
from autograder.grading.budget import MIN_START_S, TimeBudget
from autograder.grading.preloads import heavy_questions, preload_by_question

KIT = paths.kit_root()
ASSIGNMENT = config.load()
HANG = '''
def linear_forward(X, W, b):
    while True:
        pass
'''


def _assignment(limits: dict, tests_timeout_s: float | None = None, include=("Q1", "Q3")):
    raw = ASSIGNMENT.raw
    settings = {**raw["assignment"], "include": list(include)}
    if tests_timeout_s is not None:
        settings["tests_timeout_s"] = tests_timeout_s
    return config.parse({**raw, "assignment": settings, "limits": {**raw.get("limits", {}), **limits}},
                        ASSIGNMENT.path, paths.reference_dir(KIT))


def _hanging_submission(tmp_path):
    sub = tmp_path / "sub"
    shutil.copytree(paths.reference_dir(KIT) / "src", sub / "src",
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(sub / "src" / "layers.py", "a") as f:
        f.write(HANG)
    return sub


def _q_tests(doc, qid):
    return [t for t in doc["tests"] if t["name"].startswith(qid + " ")]


def test_allowance_is_the_least_of_the_test_question_and_submission_budgets():
    cfg = _assignment({"test_timeout_s": 4, "question_timeout_s": 10}, tests_timeout_s=12)
    budget = TimeBudget(cfg)
    first = budget.allowance("Q1", 4)
    assert (first.seconds, first.reason) == (4, "")               # the test's own limit
    budget.spend("Q1", 8, "layers.linear_forward")
    left = budget.allowance("Q1", 4)
    assert left.seconds == pytest.approx(2) and "question Q1's time budget of 10 s" in left.reason
    assert budget.allowance("Q3", 4).seconds == 4                # another question is not charged
    budget.spend("Q3", 3.8)
    total = budget.allowance("Q3", 4)
    assert total.seconds == pytest.approx(0.2) and total.exhausted
    assert "the submission's time budget of 12 s" in budget.used_up("Q3", total)
    budget.spend("Q1", 2)
    assert "timed out in layers.linear_forward" in budget.used_up("Q1", budget.allowance("Q1", 4))
    # a question's budget is never below one test's limit
    assert _assignment({"test_timeout_s": 30, "question_timeout_s": 5}).question_budget_s("Q1") == 30
    assert MIN_START_S > 0


def test_a_hang_costs_its_question_budget_then_the_rest_fail_unrun(tmp_path):
    cfg = _assignment({"test_timeout_s": 1, "question_timeout_s": 2.5})
    out = tmp_path / "results.json"
    t0 = time.monotonic()
    res = grading.grade(_hanging_submission(tmp_path), assignment=cfg, out=out, fixed_seed=True)
    seconds = time.monotonic() - t0
    results.validate(json.loads(out.read_text()))
    scores = {q.id: q.score for q in res.questions}
    assert scores["Q3"] == 5                                      # untouched question: full marks
    q1 = _q_tests(res.doc, "Q1")
    timed_out = [t for t in q1 if "timed out after" in t["output"]]
    unrun = [t for t in q1 if "not run: question Q1's time budget of 2.5 s" in t["output"]]
    assert 2 <= len(timed_out) <= 4, [t["output"] for t in q1]
    assert any("timed out in layers.linear_forward" in t["output"] for t in unrun)
    # tests that never call linear_forward (relu) still pass while budget is left; every
    # test that calls it fails
    assert all(t["score"] == 0 for t in timed_out + unrun)
    assert len(unrun) >= len(q1) // 3
    assert seconds < 60, seconds          # without the budget: ~30 tests x 1 s on Q1 alone


def test_the_submission_budget_stops_grading_of_every_question(tmp_path):
    cfg = _assignment({"test_timeout_s": 1, "question_timeout_s": 100}, tests_timeout_s=2.2)
    res = grading.grade(_hanging_submission(tmp_path), assignment=cfg, out=tmp_path / "r.json",
                        fixed_seed=True)
    results.validate(json.loads((tmp_path / "r.json").read_text()))
    outputs = [t["output"] for t in res.doc["tests"]]
    assert any("what was left of the submission's time budget of 2.2 s" in o for o in outputs) or \
        sum("timed out after 1 s" in o for o in outputs) >= 2
    q3 = _q_tests(res.doc, "Q3")
    assert q3 and all("not run: the submission's time budget of 2.2 s" in t["output"] for t in q3)
    assert {q.id: q.score for q in res.questions}["Q3"] == 0


def test_check_config_prints_the_time_bound(capsys):
    from autograder import cli
    assert cli.main(["check-config"]) == 0
    text = capsys.readouterr().out
    bound = ASSIGNMENT.time_bound_s()
    assert f"takes at most {bound:g} s" in text
    assert bound <= ASSIGNMENT.tests_timeout_s + 600


def _dependents_assignment(tests_timeout_s: float):
    """Q1 (owns linear_forward), Q4 (calls it; before Q7 in the file) and Q7 (calls nothing),
    with short limits.  Q4's own budget is larger than the submission's, so a Q4 that hangs
    always stops on the submission's budget: what is left after it is below the start minimum
    however fast the machine runs the tests that pass."""
    raw = json.loads(json.dumps(ASSIGNMENT.raw))
    raw["assignment"] = {**raw["assignment"], "include": ["Q1", "Q4", "Q7"],
                         "tests_timeout_s": tests_timeout_s}
    raw["limits"] = {**raw.get("limits", {}), "test_timeout_s": 1, "question_timeout_s": 2}
    raw["questions"]["Q4"]["limits"] = {**raw["questions"]["Q4"].get("limits", {}),
                                        "test_timeout_s": 8, "question_timeout_s": 30}
    raw["questions"]["Q7"]["limits"] = {**raw["questions"]["Q7"].get("limits", {}),
                                        "test_timeout_s": 30, "question_timeout_s": 60}
    return config.parse(raw, ASSIGNMENT.path, paths.reference_dir(KIT))


def test_run_order_puts_questions_that_call_others_last():
    deps = ASSIGNMENT.dependencies()
    assert deps["Q3"] == set() and deps["Q12"] == {"Q10"}
    assert {"Q1", "Q3", "Q13"} <= deps["Q14"] and "Q14" not in deps["Q14"]
    assert {"Q1", "Q2", "Q3", "Q5"} <= deps["Q4"] and "Q4" in deps["Q5"]     # Q4 <-> Q5: a cycle
    order = ASSIGNMENT.run_order()
    assert sorted(order) == sorted(ASSIGNMENT.ids)
    leaves = [q for q in order if not deps[q]]
    assert order[:len(leaves)] == leaves                                     # file order kept
    assert leaves == [q for q in ASSIGNMENT.ids if not deps[q]]
    for a, b in zip(order, order[1:]):
        assert len(deps[a]) <= len(deps[b])
    assert order.index("Q12") < order.index("Q14") < order.index("Q4") < order.index("Q5")


def test_questions_that_preload_torch_run_after_the_others_of_their_rank():
    """Q6 and Q9 fork from the torch zygote, which starts in the background: they run after
    the NumPy questions that call no other question, never before a question of a lower rank."""
    deps = ASSIGNMENT.dependencies()
    heavy = heavy_questions(preload_by_question(ASSIGNMENT, paths.reference_dir(KIT)))
    assert heavy == {"Q6", "Q9"}
    order = ASSIGNMENT.run_order(later=heavy)
    assert sorted(order) == sorted(ASSIGNMENT.ids)
    leaves = [q for q in order if not deps[q]]
    assert leaves == [q for q in ASSIGNMENT.ids if not deps[q] and q not in heavy] + ["Q6", "Q9"]
    for a, b in zip(order, order[1:]):
        assert len(deps[a]) <= len(deps[b])
    assert ASSIGNMENT.run_order(later=()) == ASSIGNMENT.run_order()


def test_a_hanging_function_uses_up_the_budget_only_after_unrelated_questions_ran(tmp_path, monkeypatch):
    """linear_forward hangs: Q1 spends its 2 s, then Q4 (which calls it) times out test after
    test until the submission's 11 s are gone.  Q7 comes after Q4 in the file but calls
    nothing: it runs before Q4 and keeps full marks.  Control: in the file's order Q4 uses up
    the budget first and Q7 loses, on any machine."""
    cfg = _dependents_assignment(tests_timeout_s=11)
    assert cfg.run_order() == ["Q1", "Q7", "Q4"]
    sub = _hanging_submission(tmp_path)
    res = grading.grade(sub, assignment=cfg, out=tmp_path / "r.json", fixed_seed=True)
    results.validate(json.loads((tmp_path / "r.json").read_text()))
    scores = {q.id: q.score for q in res.questions}
    assert scores["Q7"] == 15, [t["output"][-200:] for t in _q_tests(res.doc, "Q7") if t["score"] < t["max_score"]]
    assert scores["Q1"] < 5 and scores["Q4"] < 10
    # the control: the file's order
    monkeypatch.setattr(config.Assignment, "run_order", lambda self, later=(): [q.id for q in self.questions])
    res = grading.grade(sub, assignment=cfg, out=tmp_path / "r2.json", fixed_seed=True)
    control = {q.id: q.score for q in res.questions}
    assert control["Q7"] < 15
    assert any("not run: the submission's time budget of 11 s" in t["output"] for t in _q_tests(res.doc, "Q7"))
