"""Points in results.json: each question's tests' ``max_score`` add up exactly to its points
(Gradescope adds them), and a full-marks submission scores exactly the points."""
import pytest

from autograder import config, paths
from autograder.grading import results
from autograder.grading.collector import Outcome

KIT = paths.kit_root()


@pytest.mark.parametrize("points, weights", [
    (10, [1] * 7), (5, [1] * 3), (15, [1, 2, 3, 0, 1]), (10, [1] * 6 + [16]), (9.99, [1] * 11),
    (1, [1] * 1000), (10, [0.1, 0.2, 0.7]), (0, [1, 1]),
])
def test_apportion_adds_up_exactly_in_millionths(points, weights):
    shares = results.apportion(points, weights)
    assert len(shares) == len(weights)
    units = [round(s * results.POINT_UNITS) for s in shares]
    assert all(abs(s * results.POINT_UNITS - u) < 1e-6 for s, u in zip(shares, units))
    assert sum(units) == round(points * results.POINT_UNITS)
    total = sum(weights)
    for s, w in zip(shares, weights):          # within one millionth of the exact share
        assert abs(s - points * w / total) <= 1.0 / results.POINT_UNITS + 1e-12
        if w == 0:
            assert s == 0
    # control: the plain proportional rounding this replaces does not add up for 7 tests of 10
    if (points, weights) == (10, [1] * 7):
        assert round(sum(round(points / 7, 6) for _ in weights), 6) == 9.999997


def test_apportion_of_no_weight_is_zero():
    assert results.apportion(10, []) == []
    assert results.apportion(10, [0, 0]) == [0.0, 0.0]


def _outcome(qid, i, passed=True, partial=False, fraction=1.0, weight=1.0):
    return Outcome(nodeid=f"t{i}", question=qid, kind="hidden", name=f"t{i}", doc="", weight=weight,
                   number=None, visibility="visible", hide_errors=None, partial=partial,
                   passed=passed, fraction=fraction if passed or partial else 0.0)


def test_build_results_question_maxima_and_full_marks_are_exact():
    assignment = config.load(KIT / "assignment.toml")
    q = assignment.questions[0]
    outcomes = [_outcome(q.id, i) for i in range(7)]
    doc, scores = results.build_results(assignment, outcomes, None, [], 1.0, [])
    results.validate(doc)
    mine = [t for t in doc["tests"] if t["name"].startswith(q.id + " ")]
    assert len(mine) == 7
    assert round(sum(t["max_score"] for t in mine) * results.POINT_UNITS) == q.points * results.POINT_UNITS
    assert round(sum(t["score"] for t in mine) * results.POINT_UNITS) == q.points * results.POINT_UNITS
    assert scores[0].score == q.points
    # partial credit and failures: the question's score is the sum of what its tests show
    outcomes = [_outcome(q.id, 0, passed=False, partial=True, fraction=0.5)] + \
               [_outcome(q.id, i, passed=i % 2 == 0) for i in range(1, 7)]
    doc, scores = results.build_results(assignment, outcomes, None, [], 1.0, [])
    mine = [t for t in doc["tests"] if t["name"].startswith(q.id + " ")]
    assert scores[0].score == round(sum(t["score"] for t in mine), 6)
    assert 0 < scores[0].score < q.points


def test_the_results_schema_is_a_valid_schema_and_validate_reports_the_best_error():
    """``results.validate`` builds its validator once and does not check the schema on every
    grading, so the schema's own validity is checked here."""
    import jsonschema
    jsonschema.Draft202012Validator.check_schema(results.schema())
    good = {"score": 1.0, "tests": [{"name": "t", "score": 1.0, "max_score": 1.0, "output": "",
                                     "visibility": "visible"}]}
    results.validate(good)
    with pytest.raises(jsonschema.ValidationError) as bad:
        results.validate({"score": "ten", "tests": []})
    with pytest.raises(jsonschema.ValidationError) as expected:
        jsonschema.validate({"score": "ten", "tests": []}, results.schema(),
                            cls=jsonschema.Draft202012Validator)
    assert bad.value.message == expected.value.message
