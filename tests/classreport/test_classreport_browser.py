"""The class report in a real browser (headless Chromium, tests/kits/browserkit.py): a batch of
real gradings of Q3 (the reference, two copies of the softmax-without-max-shift example and
the blank template, graded in this process into a LocalBatch), its ``index.html`` and a
student page open without console errors, the per-test table has one row per test, the known
broken example's failure group has the right count, links resolve, and sorting and filtering
work by clicking.  A failure keeps a screenshot in build/test-artifacts/."""
from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from autograder import config, examples
from tests.kits.batchkit import KIT, reference_submission, subset_toml, template_submission
from tests.kits.browserkit import browser_unavailable, open_page

SOFTMAX = "softmax-without-max-shift"
STABLE = "Q3 Softmax classifier · public · test_softmax_is_stable_for_large_logits"
STABLE_MESSAGE = "loss for logits of +-1000 is inf; expected a finite number"


@pytest.fixture(scope="module")
def q3_batch(tmp_path_factory) -> Path:
    """A batch folder of real Q3 gradings with its class report; returns index.html."""
    if browser_unavailable():
        pytest.skip(browser_unavailable())
    from autograder.classreport.local import LocalBatch
    from autograder.grading import grade
    d = tmp_path_factory.mktemp("q3-report")
    assignment = config.load(subset_toml(d / "q3.toml", ["Q3"]))
    example = next(e for e in examples.load(KIT) if e.name == SOFTMAX)
    subs = [("reference", reference_submission(d / "ref", models=False)),
            ("softmax-a", example.materialise(d / "sa", "digits", KIT)),
            ("softmax-b", example.materialise(d / "sb", "digits", KIT)),
            ("template", template_submission(d / "tpl"))]
    batch = LocalBatch(d / "batch")
    for sid, folder in subs:
        batch.add(sid, sid, grade.grade(folder, assignment=assignment, fixed_seed=True))
    return batch.finish(assignment)


def _visible_rows(page, table_id: str) -> list:
    return [r for r in page.find(f"#{table_id} tbody tr") if r.is_displayed()]


def _click(page, element) -> None:
    """Click ``element`` after scrolling it to the middle of the window (clear of the sticky nav)."""
    page.run_js("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def _assert_links_resolve(page) -> None:
    hrefs = page.run_js("return Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
    assert hrefs
    for href in hrefs:
        parts = urlsplit(href)
        if parts.scheme == "file":
            assert Path(unquote(parts.path)).is_file(), f"broken link {href}"
        else:
            assert parts.scheme == "", f"a link leaves the machine: {href}"


def test_index_in_a_browser(q3_batch):
    with open_page(q3_batch, name="classreport-index") as page:
        assert page.console_errors() == []
        rows = page.find("#tests-table tbody tr")
        import json
        ref_tests = json.loads((q3_batch.parents[1] / "records" / "reference.json").read_text())["results"]["tests"]
        assert len(rows) == len(ref_tests) > 5                       # one row per test of Q3
        assert {r.get_attribute("data-test") for r in rows} == {t["name"] for t in ref_tests}
        # the known broken example's failure group, with its count (two copies of it)
        stable = next(r for r in rows if r.get_attribute("data-test") == STABLE)
        groups = {g.find_element("css selector", ".gmsg").text: int(g.find_element("css selector", ".gcount").text)
                  for g in stable.find_elements("css selector", "details.group")}
        assert groups.get(STABLE_MESSAGE) == 2, groups
        # the most failed test comes first: every submission but the reference fails it
        first = rows[0]
        assert first.find_elements("css selector", "td")[5].text == "3"
        _assert_links_resolve(page)

        # sorting by clicking a header: by name, then by fail rate (the default is highest first)
        heads = page.find("#tests-table thead th")
        _click(page, heads[1])
        names = [r.get_attribute("data-test") for r in page.find("#tests-table tbody tr")]
        assert names == sorted(names, key=str.lower) and names != [r.get_attribute("data-test") for r in rows]
        assert heads[1].get_attribute("aria-sort") == "ascending"
        _click(page, heads[6])
        rates = [float(r.find_elements("css selector", "td")[6].get_attribute("data-sort"))
                 for r in page.find("#tests-table tbody tr")]
        assert rates == sorted(rates, reverse=True) and rates[0] > rates[-1]
        _click(page, heads[6])
        rates = [float(r.find_elements("css selector", "td")[6].get_attribute("data-sort"))
                 for r in page.find("#tests-table tbody tr")]
        assert rates == sorted(rates)

        # filtering: the kind select, the search box, the status links of the overview
        from selenium.webdriver.support.ui import Select
        Select(page.find('select.filter[data-attr="kind"]')[0]).select_by_value("public")
        shown = _visible_rows(page, "tests-table")
        assert shown and all(r.get_attribute("data-kind") == "public" for r in shown)
        assert len(shown) < len(rows)
        count = page.find('[data-count-for="tests"]')[0].text
        assert count == f"{len(shown)} of {len(rows)} rows"
        Select(page.find('select.filter[data-attr="kind"]')[0]).select_by_value("")
        box = page.find('input[type="search"].filter[data-table="tests"]')[0]
        box.send_keys("stable_for_large")
        shown = _visible_rows(page, "tests-table")
        assert [r.get_attribute("data-test") for r in shown] == [STABLE]
        assert page.find('a[data-set-filter="students"][data-value="status:ok"]')[0].text == "4"
        _click(page, page.find('a[data-set-filter="students"][data-value="status:timeout"]')[0])
        assert _visible_rows(page, "students-table") == []
        _click(page, page.find('a[data-set-filter="students"][data-value="status:ok"]')[0])
        assert len(_visible_rows(page, "students-table")) == 4
        assert page.console_errors() == []


def test_student_page_in_a_browser(q3_batch):
    student = q3_batch.parent / "students" / "softmax-a.html"
    with open_page(student, name="classreport-student") as page:
        assert page.console_errors() == []
        text = page.find("body")[0].text
        assert "What the student sees" in text and "Instructor only" in text
        assert STABLE_MESSAGE in text
        # a hidden test: what the student sees (its hint) beside the grader's full message
        assert re.search(r"Hidden test \d+ of \d+ for this question: failed\.", text), text[:3000]
        assert "the grader's full message:" in text
        _assert_links_resolve(page)
        heads = page.find("#shown thead th")
        _click(page, heads[3])                             # sort the student's tests by status
        statuses = [r.find_elements("css selector", "td")[3].text for r in page.find("#shown tbody tr")]
        assert statuses == sorted(statuses) and "failed" in statuses and "passed" in statuses
        assert page.console_errors() == []
