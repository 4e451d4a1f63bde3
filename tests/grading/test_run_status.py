"""How a grading run ended is data (results.json's ``extra_data.run.status``), read in one place
(grading/results.run_status) by the command line, batch and the class report; documents written
before the field existed are still read from their first test's name."""
from __future__ import annotations

import copy
import json

import pytest

from autograder.batch import jobs
from autograder.grading import results


def _legacy(doc):
    old = copy.deepcopy(doc)
    old.pop("extra_data", None)
    return old


@pytest.mark.parametrize("status, batch_status", [
    (results.FAILED, "failed"), (results.REJECTED, "rejected"), (results.STOPPED, "failed")])
def test_a_failure_document_carries_its_status_and_batch_reads_it(status, batch_status):
    doc = results.failure_results("the reason", 1.0, status=status)
    results.validate(doc)
    assert results.run_status(doc) == status
    outcome = jobs.RunOutcome(exit_code=0, timed_out=False, results=json.dumps(doc).encode(), log="")
    assert jobs.classify(outcome, doc, "", 60)[0] == batch_status


def test_documents_written_before_the_field_are_read_from_their_first_test():
    failed = _legacy(results.failure_results("x"))
    rejected = _legacy(results.failure_results("x", status=results.REJECTED))
    rejected["tests"][0]["name"] = "Submission could not be accepted"    # what grade wrote then
    assert results.run_status(failed) == results.FAILED
    assert results.run_status(rejected) == results.REJECTED
    assert results.run_status({"score": 3, "tests": [{"name": "Q1 Linear · public test 1"}]}) == results.GRADED


def test_a_renamed_first_test_no_longer_changes_the_status():
    doc = results.failure_results("x", status=results.REJECTED)
    doc["tests"][0]["name"] = "Autograder failed"          # the name says one thing, the data another
    assert results.run_status(doc) == results.REJECTED
    with pytest.raises(ValueError, match="unknown run status"):
        results.set_run_status(doc, "fine")


def test_a_test_question_comes_from_its_data_before_its_name():
    assert results.test_question({"name": "Q3 Softmax", "extra_data": {"question": "Q12"}}) == "Q12"
    assert results.test_question({"name": "Q3 Softmax · hidden test 2 of 9"}) == "Q3"
    assert results.test_question({"name": "Autograder failed"}) is None


def test_a_worker_that_cannot_start_fails_the_grading_before_any_test(tmp_path, monkeypatch):
    """The zygote is launched before pytest starts and waited for just before the first test
    (its start overlaps pytest's own start and the collection): one that does not come up
    still fails the grading as the kit's failure, with valid results and no test run."""
    from autograder import config, paths
    from autograder.grading import grade
    from autograder.grading.collector import Collector
    from autograder.sandbox import launcher
    monkeypatch.setattr(launcher, "command", lambda strategy, spec, argv: ["/bin/false"])
    monkeypatch.setattr(launcher, "_confirmed", {})
    ran = []
    real = Collector.pytest_runtest_setup
    monkeypatch.setattr(Collector, "pytest_runtest_setup", lambda self, item: (ran.append(item), real(self, item)))
    assignment = config.restrict(config.load(), ["Q1"])
    out = tmp_path / "results.json"
    result = grade.grade(paths.kit_root() / "reference", assignment=assignment, out=out,
                         fixed_seed=True, strategy="plain")
    doc = json.loads(out.read_text())
    results.validate(doc)
    assert results.run_status(doc) == results.FAILED
    assert "did not start (plain)" in json.dumps(doc)
    assert ran == [] and result is not None
