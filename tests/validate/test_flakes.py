"""Issue #17: the numerical-guard tolerances, validate's survival check on question subsets,
and the flake audit (``validate --flakes N``)."""
from __future__ import annotations

import numpy as np
import pytest

from autograder import config, paths, testkit
from autograder.validate import catalogue, flakes, run

KIT = paths.kit_root()


# --- testkit: tolerances derived from the guard rule ----------------------------------------

@pytest.mark.parametrize("eps", [1e-15, 1e-12, 1e-10])
def test_log_guard_tol_accepts_every_guard_up_to_1e_10(eps):
    rng = np.random.default_rng(17)
    for _ in range(200):
        p = 10.0 ** rng.uniform(-8.5, 0.0, size=int(rng.integers(1, 9)))
        exact, guarded = np.sum(-np.log(p)), np.sum(-np.log(p + eps))
        clipped = np.sum(-np.log(np.maximum(p, eps)))
        tol = testkit.log_guard_tol(p)
        assert testkit.rel_error(exact, guarded) <= tol / 2      # a margin of 2 at least
        assert testkit.rel_error(exact, clipped) <= tol / 2


def test_clipping_at_1e_7_is_far_outside_the_tolerance_at_tiny_probabilities():
    """What the Q3/Q10 tiny-probability tests rely on (their inputs are p in [1e-8, 3e-8])."""
    rng = np.random.default_rng(3)
    for _ in range(200):
        p = np.concatenate([rng.uniform(1e-8, 3e-8, size=2), rng.uniform(0.05, 0.9, size=4)])
        assert testkit.clip_bug_error(p) > 10 * testkit.log_guard_tol(p, 1e-10)


def test_scores_guard_tol_matches_log_guard_tol():
    scores = np.array([[2.0, -1.0, 0.5], [0.0, 30.0, -3.0]])
    y = np.array([0, 0])
    shifted = scores - scores.max(axis=1, keepdims=True)
    p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    assert testkit.scores_guard_tol(scores, y) == pytest.approx(testkit.log_guard_tol(p[[0, 1], y]))


def test_guard_tol_accepts_a_denominator_epsilon():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(6, 4)) * 50
    e = np.exp(x - x.max(axis=1, keepdims=True))
    exact, guarded = e / e.sum(axis=1, keepdims=True), e / (e.sum(axis=1, keepdims=True) + 1e-10)
    assert testkit.rel_error(exact, guarded) <= testkit.guard_tol(1e-12) / 1.99   # margin 2


def test_softmax_with_denominator_guard_moves_dscores_as_the_guard_does():
    """Through the helper, a plain softmax's dscores equal those of a softmax written with
    GUARD in its denominator; the loss is the plain one; the slack is twice the difference."""
    rng = np.random.default_rng(7)
    scores, y = rng.normal(size=(5, 4)) * 20, rng.integers(0, 4, size=5)

    def softmax(s, labels, eps=0.0):
        e = np.exp(s - s.max(axis=1, keepdims=True))
        p = e / (e.sum(axis=1, keepdims=True) + eps)
        d = p.copy()
        d[np.arange(len(labels)), labels] -= 1
        return float(-np.mean(np.log(p[np.arange(len(labels)), labels]))), d / len(labels)
    loss, d = testkit.softmax_with_denominator_guard(softmax)(scores, y)
    exact_loss, exact_d = softmax(scores, y)
    _, guarded_d = softmax(scores, y, testkit.GUARD)
    assert loss == exact_loss
    # the same move, to rounding (entries up to 0.2: ~3e-17) of a move up to 2e-12
    assert np.allclose(d - exact_d, guarded_d - exact_d, rtol=1e-4, atol=1e-16)
    assert np.max(np.abs(d - exact_d)) > 1e-13
    slack = testkit.softmax_guard_gradient_slack({"d": exact_d}, {"d": d})["d"]
    assert np.allclose(slack, 2 * np.abs(guarded_d - exact_d), rtol=1e-4, atol=1e-16)
    testkit.assert_close_floored("d", guarded_d, exact_d, 1e-14, 1e-5, slack=slack)
    with pytest.raises(testkit.CheckFailed):
        testkit.assert_close_floored("d", guarded_d, exact_d, 1e-14, 1e-5)


def test_assert_array_refuses_a_list_that_converts():
    with pytest.raises(testkit.CheckFailed, match="NumPy array"):
        testkit.assert_array("out", [[1.0, 2.0]], (1, 2))
    assert testkit.assert_array("out", np.ones((1, 2)), (1, 2)).shape == (1, 2)


# --- validate: a mutant graded on a subset of questions is still judged ----------------------

def test_a_surviving_mutant_is_reported_when_only_some_questions_are_graded():
    """Positive control of the judge() fix: before it, a mutant graded on the questions that
    import its file (the default) and losing 0 points was reported ok."""
    assignment = config.load()
    variant = catalogue.load(KIT / "mutants").by_id("TYPE1-list-n1")
    questions = {"Q1": (5.0, 5.0), "Q2": (5.0, 5.0)}          # a subset: Q1 kept full marks
    survived = run.judge(run.Graded("TYPE1-list-n1", "mutant", variant, questions, [], 1.0),
                         assignment, paths.reference_dir(KIT))
    assert not survived.ok and "SURVIVED" in survived.problem
    killed = run.judge(run.Graded("TYPE1-list-n1", "mutant", variant,
                                  {"Q1": (4.5, 5.0), "Q2": (5.0, 5.0)}, [], 1.0),
                       assignment, paths.reference_dir(KIT))
    assert killed.ok, killed.problem


# --- the flake audit's report ------------------------------------------------------------------

def test_flake_report_counts_failures_and_flags_slow_tests(tmp_path):
    stats = {
        "a::ok": flakes.TestStats("Q1", "a::ok", 10.0, runs=40, slowest_s=1.0),
        "a::flaky": flakes.TestStats("Q1", "a::flaky", 10.0, runs=40, failures=1,
                                     messages={"loss: relative error 2e-10": 1}, slowest_s=0.5),
        "b::slow": flakes.TestStats("Q9", "b::slow", 10.0, runs=40, slowest_s=6.0,
                                    slowest_in="reference flakes-3"),
    }
    status = flakes._report(stats, [], n=40, gradings=40, jobs=4, hog=False, elapsed=1.0,
                            out_dir=tmp_path)
    text = (tmp_path / "flakes.md").read_text()
    assert status == 1
    assert "| Q1 | 80 | 1 |" in text and "| Q9 | 40 | 0 | 6.00 s / 10 s" in text
    assert "a::flaky" in text and "loss: relative error 2e-10 (x1)" in text
    assert "b::slow" in text and "a::ok |" not in text.split("## tests that failed")[1]
    ok = {"a::ok": stats["a::ok"]}
    assert flakes._report(ok, [], n=1, gradings=1, jobs=1, hog=False, elapsed=1.0,
                          out_dir=tmp_path) == 0
    assert flakes._report(ok, ["reference flakes-1: timed out"], n=1, gradings=1, jobs=1,
                          hog=False, elapsed=1.0, out_dir=tmp_path) == 1


@pytest.mark.slow
def test_flake_audit_ci_slice(tmp_path):
    """A real, small audit: the reference on Q1 under 2 seeds, two gradings per core."""
    status = flakes.audit(n=2, only=["Q1"], alternatives=False, out_dir=tmp_path)
    text = (tmp_path / "flakes.md").read_text()
    assert status == 0, text
    assert "| Q1 |" in text and "failures: 0" in text


def test_seeds_needed_reaches_min_runs_per_question():
    """Q1 gave 120 test-runs in 2 seeds (60 a seed): 2000 needs 34 seeds; Q6 gave 8 (4 a seed):
    500; a question with no runs keeps n; never fewer than n."""
    stats = {"a": flakes.TestStats("Q1", "a", 10.0, runs=100), "b": flakes.TestStats("Q1", "b", 10.0, runs=20),
             "c": flakes.TestStats("Q6", "c", 60.0, runs=8), "d": flakes.TestStats("Q10", "d", 10.0, runs=9000)}
    seeds = flakes.seeds_needed(stats, ["Q1", "Q6", "Q10", "Q11"], 2, 2000)
    assert seeds == {"Q1": 34, "Q6": 500, "Q10": 2, "Q11": 2}
    assert all(seeds[q] * runs // 2 >= 2000 for q, runs in (("Q1", 120), ("Q6", 8)))


def test_flake_report_fails_a_question_short_of_min_runs(tmp_path):
    stats = {"a::ok": flakes.TestStats("Q1", "a::ok", 10.0, runs=2000),
             "b::ok": flakes.TestStats("Q2", "b::ok", 10.0, runs=1999)}
    status = flakes._report(stats, [], n=1, gradings=10, jobs=4, hog=False, elapsed=1.0,
                            out_dir=tmp_path, seeds={"Q1": 5, "Q2": 7}, min_runs=2000)
    text = (tmp_path / "flakes.md").read_text()
    assert status == 1
    assert "fewer than 2000 test-runs: Q2" in text and "seeds per question Q1 5, Q2 7" in text
    del stats["b::ok"]
    assert flakes._report(stats, [], n=1, gradings=5, jobs=4, hog=False, elapsed=1.0,
                          out_dir=tmp_path, seeds={"Q1": 5}, min_runs=2000) == 0
    # a question outside the audit (an alternative named by id ran it once) is not held to R
    stats["c::once"] = flakes.TestStats("Q3", "c::once", 10.0, runs=13)
    assert flakes._report(stats, [], n=1, gradings=6, jobs=4, hog=False, elapsed=1.0,
                          out_dir=tmp_path, seeds={"Q1": 5}, min_runs=2000) == 0


def test_zero_point_checks_failed_by_alternatives_are_listed_not_counted(tmp_path, monkeypatch):
    """An alternative that fails a weight-0 self-check (e.g. Xavier initialisation against the
    golden of weight_scale * randn) is accepted by design; the same failure of the reference, or
    of a test with points, is a flake."""
    variant = catalogue.load(KIT / "mutants").by_id("N8")
    tests = [{"nodeid": "t::golden", "question": "Q4", "passed": False, "weight": 0.0,
              "message": "initial loss: relative error 0.016", "failure_kind": "assertion", "duration": 0.1},
             {"nodeid": "t::scored", "question": "Q4", "passed": True, "weight": 1.0,
              "message": "", "failure_kind": "", "duration": 0.1}]
    monkeypatch.setattr(flakes, "_grade_dir", lambda *a, **k: run.Graded("x", "x", None, {}, tests, 1.0))
    stats, problems = {}, []
    alt = flakes.Target("N8", tmp_path, variant, ("Q4",), tmp_path / "a.toml")
    ref = flakes.Target("reference", tmp_path, None, ("Q4",), tmp_path / "a.toml")
    flakes._grade_all([(alt, 1)], stats, problems, {"Q4": 10.0}, 1, 60.0, 0.0)
    assert stats["t::golden"].failures == 0 and stats["t::golden"].zero_point == 1
    assert flakes._report(stats, problems, n=1, gradings=1, jobs=1, hog=False, elapsed=1.0,
                          out_dir=tmp_path) == 0
    assert "by design" in (tmp_path / "flakes.md").read_text()
    flakes._grade_all([(ref, 1)], stats, problems, {"Q4": 10.0}, 1, 60.0, 0.0)
    assert stats["t::golden"].failures == 1
    assert flakes._report(stats, problems, n=1, gradings=2, jobs=1, hog=False, elapsed=1.0,
                          out_dir=tmp_path) == 1


def test_extra_seeds_grade_a_target_only_on_the_questions_that_need_them(tmp_path):
    """An alternative seen by Q3 (26 seeds) and Q4 (4): seeds 2-4 grade both, 5-26 Q3 alone;
    the reference on Q4 alone stops at 4; nothing past what a question needs."""
    files = {}

    def subset_file(include):
        return files.setdefault(include, tmp_path / f"{'-'.join(include)}.toml")
    alt = flakes.Target("GUARD3", tmp_path, None, ("Q3", "Q4"), tmp_path / "a.toml")
    ref4 = flakes.Target("reference", tmp_path, None, ("Q4",), tmp_path / "r.toml")
    plan = flakes.extra_gradings([alt, ref4], {"Q3": 26, "Q4": 4}, 1, subset_file)
    alt_plan = [(t.include, k) for t, k in plan if t.label == "GUARD3"]
    assert alt_plan == [(("Q3", "Q4"), k) for k in (2, 3, 4)] + [(("Q3",), k) for k in range(5, 27)]
    assert all(t.assignment_file == tmp_path / "Q3.toml" for t, k in plan if t.include == ("Q3",))
    assert [k for t, k in plan if t.label == "reference"] == [2, 3, 4]
    assert flakes.extra_gradings([alt], {"Q3": 1, "Q4": 1}, 1, subset_file) == []


def test_only_names_alternatives_of_other_questions_by_id():
    """`--only Q14 GUARD3-den-1e-10`: Q14's own alternatives and GUARD3-den-1e-10 (a Q3
    alternative that Q14's network calls), not the other Q3 alternatives."""
    picked = {v.id for v in flakes._alternatives(KIT, {"Q14"}, ["Q14", "GUARD3-den-1e-10"])}
    own = {v.id for v in catalogue.load(KIT / "mutants").alternatives if v.question == "Q14"}
    assert picked == own | {"GUARD3-den-1e-10"}
    assert {v.id for v in flakes._alternatives(KIT, {"Q14"}, None)} == own
