"""The class report (autograder/classreport) on synthetic batch folders: the numbers, the
grouped failure messages, the flags, defensive reading of records, timings and devices where
present (and said absent where not), the instructor-only messages, and ``report DIR`` end to
end.  No grading runs here (tests/classreport/test_classreport_browser.py grades real examples)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from autograder import config
from autograder.classreport import analysis, write_report
from autograder.classreport.instructor import from_grader_report, messages_of, read_grader_report
from autograder.classreport.messages import failure_message, pattern

from tests.kits.classreportkit import graded_test, record, synthetic_class, write_batch

KIT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------------------- helpers
class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        for k, v in attrs:
            if k in ("href", "src") and v:
                self.hrefs.append(v)


def broken_links(page: Path) -> list[str]:
    """Relative links of ``page`` whose file does not exist (anchors and data: URLs skipped)."""
    p = _Links()
    p.feed(page.read_text("utf-8"))
    bad = []
    for href in p.hrefs:
        parts = urlsplit(href)
        if parts.scheme or not parts.path:
            continue
        if not (page.parent / unquote(parts.path)).is_file():
            bad.append(href)
    return bad


def _class_with_known_failures() -> list[dict]:
    """10 graded submissions: Q1 hidden test 1 failed by 8 (6 'relative error' messages with
    different numbers and paths, 2 shape messages), everything else passed."""
    recs = []
    for i in range(10):
        if i < 3:
            msg = f"relative error {3.1 + i}e-2 in /tmp/job{i}/src/layers.py"
        elif i < 6:
            msg = f"relative error {4.7 + i}e-1 in /home/u{i}/src/layers.py"
        elif i < 8:
            msg = f"expected shape ({i}, 4), got (4, {i})"
        else:
            msg = ""
        tests = [graded_test("Q1", "public", 1, 1, True),
                 graded_test("Q1", "hidden", 1, 2, not msg, msg),
                 graded_test("Q1", "hidden", 2, 2, True)]
        recs.append(record(f"s{i}", tests))
    return recs


# ---------------------------------------------------------------------------- analysis
def test_pass_rates_sorted_and_failure_messages_grouped():
    rep = analysis.analyse(_class_with_known_failures())
    assert [t.name for t in rep.tests][0] == "Q1 Linear and ReLU layers · hidden test 1 of 2"
    worst = rep.tests[0]
    assert (worst.graded, len(worst.failed), worst.pass_rate) == (10, 8, pytest.approx(0.2))
    assert [(g.pattern, g.count) for g in worst.groups] == [
        ("relative error <n> in <path>", 6), ("expected shape <shape>, got <shape>", 2)]
    assert worst.groups[0].students == ["s0", "s1", "s2", "s3", "s4", "s5"]
    assert len(worst.groups[0].messages) == 6             # six distinct texts, one group
    assert worst.description == "check number 1."          # "What it checks:" kept apart
    assert all(t.fail_rate == 0.0 for t in rep.tests[1:])
    assert rep.status_counts["ok"] == 10 and rep.possible == 3.0


def test_patterns_normalise_numbers_paths_and_shapes_only():
    assert pattern("relative error 3.1e-2") == pattern("relative error 4.7e-1") == "relative error <n>"
    assert pattern("at /tmp/a/b.py line 3") == pattern("at /srv/x.py line 40")
    assert pattern("got torch.Size([2, 3])") == pattern("got torch.Size([5, 1])")
    # negative controls: different words stay different groups
    assert pattern("relative error 0.1") != pattern("absolute error 0.1")
    assert pattern("Q3 returned None") != pattern("Q3 returned NaN")
    assert failure_message("Hidden test 1 of 2 for this question: failed.\nWhat it checks: x\n"
                           "Hint: loss is nan") == "loss is nan"


def _flag_class() -> list[dict]:
    """6 submissions, full marks on Q1; Q3 hidden 1 failed by 5 of them (a bad test: s0, the one that passes it, is not strong elsewhere);
    Q2 hidden 1 failed by 3 (its public tests pass for all: a sharp public/hidden gap);
    Q2 hidden 2 failed by 1 (nothing to see)."""
    recs = []
    for i in range(6):
        tests = [graded_test("Q1", "public", 1, 1, True), graded_test("Q1", "hidden", 1, 1, True),
                 graded_test("Q2", "public", 1, 1, True),
                 graded_test("Q2", "hidden", 1, 2, i >= 3, "wrong mask scale 0.5"),
                 graded_test("Q2", "hidden", 2, 2, i != 0, "wrong mask scale 0.5"),
                 graded_test("Q3", "public", 1, 1, True),
                 graded_test("Q3", "hidden", 1, 2, i == 0, "loss is nan"),
                 graded_test("Q3", "hidden", 2, 2, True)]
        recs.append(record(f"s{i}", tests))
    return recs


def test_look_at_this_test_flags_and_their_controls():
    rep = analysis.analyse(_flag_class())
    by = {t.name.split(" · ", 1)[0] + " " + t.name.rsplit(" · ", 1)[1]: t for t in rep.tests}
    bad = by["Q3 Softmax classifier hidden test 1 of 2"]
    assert any("5 of the 5 submissions that score at least 80% on the other questions fail it" in f
               for f in bad.flags), bad.flags
    gap = by["Q2 Dropout hidden test 1 of 2"]
    assert any("passes 50% of the class while Q2's public tests pass 100%" in f for f in gap.flags), gap.flags
    assert not any("submissions that score" in f for f in gap.flags)     # 3 of 6 is not "nearly every"
    assert by["Q2 Dropout hidden test 2 of 2"].flags == []               # 1 of 6: nothing to see
    assert {t.name for t in rep.flagged} == {bad.name, gap.name}
    # below the minimum class size nothing is flagged (4 < 5 graded, 4 strong but 3 of them fail)
    assert analysis.analyse(_flag_class()[:2]).flagged == []


def test_statuses_counted_with_their_logs(tmp_path):
    recs = _class_with_known_failures()[:4]
    for sid, status, why in (("t1", "timeout", "wall-clock limit 600 s"), ("m1", "oom", "killed at 4 GiB"),
                             ("c1", "crashed", "exit 139"), ("r1", "rejected", "no src/ folder"),
                             ("e1", "error", "engine unreachable")):
        recs.append(record(sid, [{"name": "Autograder failed", "score": 0, "max_score": 0,
                                  "status": "failed", "output": why}], status, reason=why))
    folder = write_batch(tmp_path / "b", recs)
    index = write_report(folder)
    html = index.read_text()
    rep = analysis.analyse(recs)
    assert {k: v for k, v in rep.status_counts.items() if v} == {
        "ok": 4, "timeout": 1, "oom": 1, "crashed": 1, "rejected": 1, "error": 1}
    assert all(t.name not in ("Autograder failed",) for t in rep.tests)  # not a test of the assignment
    for sid in ("t1", "m1", "c1", "r1", "e1"):
        assert f'href="../logs/{sid}.log"' in html
    assert "wall-clock limit 600 s" in html and "killed at 4 GiB" in html
    assert broken_links(index) == []


# ---------------------------------------------------------------------------- defensive reading
def test_missing_corrupt_and_old_format_records_are_read_defensively(tmp_path):
    folder = tmp_path / "b"
    good = _class_with_known_failures()[0]
    old = record("old", [graded_test("Q1", "public", 1, 1, True)])
    for t in old["results"]["tests"]:          # an older record: no status, scores as strings
        del t["status"]
        t["score"], t["max_score"] = "1", "1"
    old.pop("submitters")
    odd = record("odd", [graded_test("Q1", "public", 1, 1, False, "boom")])
    odd["submitters"] = "not a list"
    odd["models"] = [{"question": "Q1", "metrics": {"confusion": [["a", 1], [2, 3]],
                                                    "per_class_f1": ["x"]}}]
    odd["results"]["tests"].append("not a test")
    odd["results"]["leaderboard"] = {"not": "a list"}
    nodoc = record("nodoc", [])
    nodoc["results"] = "garbage"
    write_batch(folder, [good, old, odd, nodoc])
    recs = folder / "records"
    (recs / "broken.json").write_text('{"id": "broken", "status": ')
    (recs / "list.json").write_text("[1, 2]")
    (recs / "nostatus.json").write_text(json.dumps({"id": "nostatus", "results": {}}))
    (recs / "binary.json").write_bytes(b"\xff\xfe\x00")
    evil = record("../evil", [graded_test("Q1", "public", 1, 1, True)])
    (recs / "evil.json").write_text(json.dumps(evil))

    index = write_report(folder)
    html = index.read_text()
    students = sorted(p.name for p in (folder / "report" / "students").iterdir())
    assert students == ["nodoc.html", "odd.html", "old.html", "s0.html"]
    assert not list(tmp_path.rglob("evil.html"))              # students/../evil.html not written
    for name in ("broken.json", "list.json", "nostatus.json", "binary.json", "../evil"):
        assert f"<code>{name}</code>" in html, name
    assert "5 record(s) could not be used" in html
    rep = analysis.analyse([good, old, odd, nodoc])
    old_s = next(s for s in rep.students if s.id == "old")
    assert old_s.tests[0]["status"] == "passed" and old_s.score == 1.0 and old_s.questions == {"Q1": (1.0, 1.0)}
    odd_s = next(s for s in rep.students if s.id == "odd")
    assert odd_s.names == "" and len(odd_s.tests) == 1 and odd_s.leaderboard == {}
    assert next(s for s in rep.students if s.id == "nodoc").tests == []
    assert broken_links(index) == []


def test_report_of_an_empty_or_missing_records_folder(tmp_path):
    (tmp_path / "empty" / "records").mkdir(parents=True)
    index = write_report(tmp_path / "empty")
    assert "0 submission(s)" in index.read_text()


# ---------------------------------------------------------------------------- time and devices
def test_timings_and_device_shown_where_present_and_absent_where_not(tmp_path):
    assignment = config.load(None)
    with_t = write_batch(tmp_path / "timed", synthetic_class(12, seed=1, timings=True, device="cuda:0"))
    html = write_report(with_t, assignment).read_text()
    rep = analysis.analyse(synthetic_class(12, seed=1, timings=True, device="cuda:0"), assignment)
    assert rep.has_timing
    q1 = next(q for q in rep.questions if q.id == "Q1")
    assert q1.seconds and q1.budget_s == float(assignment.question_budget_s("Q1"))
    assert 'id="time-table"' in html and "No timing data" not in html
    assert "Device: cuda:0." in html
    assert sum(len(t.seconds) for t in rep.tests) > 0

    without = write_batch(tmp_path / "plain", synthetic_class(12, seed=1, timings=False, device=None))
    html = write_report(without, assignment).read_text()
    assert "No timing data" in html and 'id="time-table"' not in html
    assert 'Device: <span class="none">not recorded</span>' in html


def test_timing_shapes_of_the_timing_work_and_the_device_fallback():
    rec = record("a", [graded_test("Q1", "public", 1, 1, True,
                                   extra={"nodeid": "x", "question": "Q1", "kind": "public",
                                          "seconds": {"wall": 0.75, "student": 0.5}})])
    assert analysis.test_seconds(rec["results"]["tests"][0]) == 0.75
    rec["results"]["extra_data"] = {"timings": {"total": 9.0, "questions": {"Q1": {"tests": 1, "wall": 3.5}}}}
    assert analysis.analyse([rec]).students[0].question_seconds == {"Q1": 3.5}
    assert analysis.test_seconds({"extra_data": {"seconds": "n/a"}}) is None
    assert analysis.test_seconds({"extra_data": None}) is None
    assert analysis._device({"device": "cpu", "fallback_reason": "no GPU bound"}) == \
        "cpu (not on a GPU: no GPU bound)"
    assert analysis._device({}, {"info": {}}) is None


def test_models_ranked_with_per_class_views(tmp_path):
    recs = synthetic_class(15, seed=3)
    rep = analysis.analyse(recs)
    (m,) = rep.models
    vals = [e.metrics["model accuracy"] for e in m.entries if e.metrics]
    assert vals == sorted(vals, reverse=True) and m.scored == len(vals) > 5
    (top_role, top), (med_role, med) = m.top_and_median()
    assert (top_role, med_role) == ("top", "median") and top.metrics["model accuracy"] == vals[0]
    assert med.metrics["model accuracy"] == vals[len(vals) // 2]
    assert top.confusion and len(top.confusion) == 10 and top.per_class_f1 and top.device == "cuda:0"
    html = write_report(write_batch(tmp_path / "b", recs)).read_text()
    assert html.count("<h4>top model:") == 1 and html.count("<h4>median model:") == 1


# ---------------------------------------------------------------------------- instructor view
def test_grader_messages_keyed_as_results_orders_the_tests(tmp_path):
    # the grader's outcomes in their own order (hidden first); results.json lists public first
    outcomes = [{"question": "Q1", "kind": "hidden", "passed": True, "message": ""},
                {"question": "Q1", "kind": "hidden", "passed": False, "message": "relative error 0.5"},
                {"question": "Q1", "kind": "public", "passed": False, "message": "shape (2, 3) != (3, 2)"}]
    assert messages_of(outcomes) == [
        {"question": "Q1", "kind": "public", "index": 1, "message": "shape (2, 3) != (3, 2)"},
        {"question": "Q1", "kind": "hidden", "index": 2, "message": "relative error 0.5"}]
    tests = [graded_test("Q1", "public", 1, 1, False, "shape (2, 3) != (3, 2)"),
             graded_test("Q1", "hidden", 1, 2, True),
             graded_test("Q1", "hidden", 2, 2, False)]
    tests[2]["output"] += "\nSomething is off (the @hide_errors text)."
    rec = record("a", tests, **from_grader_report({"tests": outcomes, "worker": {
        "models": [{"question": "Q1", "plots": ["/gone/cm.png"], "metrics": {}}]}}))
    assert rec["models"] == [{"question": "Q1", "metrics": {}}]           # plots dropped
    rep = analysis.analyse([rec])
    hidden2 = next(t for t in rep.tests if t.name.endswith("hidden test 2 of 2"))
    assert [g.example for g in hidden2.groups] == ["relative error 0.5"]  # the grader's, not the hint
    write_batch(tmp_path / "b", [rec])
    page = (write_report(tmp_path / "b").parent / "students" / "a.html").read_text()
    assert "the grader's full message:" in page and "relative error 0.5" in page
    assert "Something is off (the @hide_errors text)." in page
    # without the grader's messages the student's text is grouped
    bare = record("a", tests)
    g = next(t for t in analysis.analyse([bare]).tests if t.name.endswith("hidden test 2 of 2")).groups
    assert g[0].example == "Something is off (the @hide_errors text)."


def test_read_grader_report_is_bounded_and_forgiving(tmp_path):
    assert read_grader_report(tmp_path / "missing.json") == {}
    (tmp_path / "bad.json").write_text("{")
    assert read_grader_report(tmp_path / "bad.json") == {}
    (tmp_path / "list.json").write_text("[]")
    assert read_grader_report(tmp_path / "list.json") == {}
    (tmp_path / "ok.json").write_text(json.dumps({"tests": [
        {"question": "Q2", "kind": "hidden", "passed": False, "message": "x" * 5000}]}))
    got = read_grader_report(tmp_path / "ok.json")
    assert got["models"] == [] and len(got["messages"][0]["message"]) == 2000


# ---------------------------------------------------------------------------- the verb
def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AUTOGRADER_", "DLKIT_"))}


def test_report_verb_end_to_end(tmp_path):
    folder = write_batch(tmp_path / "graded", synthetic_class(25, seed=2))
    (folder / "gradebook.csv").write_text("id,total\n")
    (folder / "feedback").mkdir()
    (folder / "feedback" / "s0001.md").write_text("# feedback\n")
    proc = subprocess.run([sys.executable, "-m", "autograder", "report", str(folder)], cwd=KIT,
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    index = folder / "report" / "index.html"
    assert f"report: {index}" in proc.stdout
    pages = sorted((folder / "report" / "students").glob("*.html"))
    assert len(pages) == 25
    assert (folder / "report" / "assets" / "report.js").is_file()
    html = index.read_text()
    assert 'href="../gradebook.csv"' in html
    assert "http://" not in html and "https://" not in html         # no network at view time
    student = (folder / "report" / "students" / "s0001.html")
    assert 'href="../../feedback/s0001.md"' in student.read_text()
    assert broken_links(index) == [] and broken_links(student) == []
    # --out elsewhere: links still resolve
    other = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "autograder", "report", str(folder), "--out", str(other)],
                          cwd=KIT, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert broken_links(other / "index.html") == []
    assert broken_links(other / "students" / "s0001.html") == []
    # not a batch folder: a clear error
    proc = subprocess.run([sys.executable, "-m", "autograder", "report", str(tmp_path / "nothing")],
                          cwd=KIT, env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "has no records/ folder" in proc.stderr
