"""The students' assignment document (``python -m autograder handout``, issue #21).

Checked against the sources it is generated from, read here independently of the generator:
every question of ``assignment.toml`` has its numbered section, every function its contract
(the docstring the checked-in student template shows), points and saved-model curves as the
assignment file states them; a subset assignment gets only its questions, renumbered; every
citation of the document in any file of the kit or of the handout resolves to a section, every
internal link to an anchor; the leak scan finds planted secrets in both files; the HTML page
is self-contained with MathML.  The browser test is ``tests/test_handout_browser.py``.
"""
from __future__ import annotations

import ast
import html
import re
import tomllib
from pathlib import Path

import pytest

from autograder import cli, config, handout
from autograder.packaging import leaks, trees

from tests.kits.batchkit import KIT, subset_toml

ASSIGNMENT = config.load(KIT / "assignment.toml")
RAW = tomllib.loads((KIT / "assignment.toml").read_text("utf-8"))
TEMPLATE_SRC = KIT / "student_template" / "src"
#: Where the kit's own citations of the document live (instructor side included: a hidden
#: test's message reaches students, and an instructor follows a docstring's citation too).
KIT_TEXT = ("autograder", "reference", "student_template", "hidden_tests", "mutants", "tests",
            "README.md", "assignment.toml")
SUBSETS = (["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"], ["Q5", "Q13"], ["Q4"])


@pytest.fixture(scope="module")
def full_md() -> str:
    return handout.render_markdown(ASSIGNMENT, KIT)


@pytest.fixture(scope="module")
def full_html(full_md) -> str:
    return handout.render_html(full_md, ASSIGNMENT.name)


@pytest.fixture(scope="module")
def full_tree() -> dict:
    return trees.handout_tree(KIT, ASSIGNMENT)


def _sections(markdown: str) -> dict[str, str]:
    """``## `` sections of the document by the anchor just above their heading."""
    parts = re.split(r'(?m)^<a id="([^"]+)"></a>\n\n## ', markdown)
    return {anchor: body for anchor, body in zip(parts[1::2], parts[2::2])}


def _template_docstrings(dotted: str) -> list[str]:
    """The docstrings a student reads for ``module.attr`` in the checked-in template: the
    function's, or a class's and its documented methods'."""
    module, _, attr = dotted.rpartition(".")
    tree = ast.parse((TEMPLATE_SRC / (module.replace(".", "/") + ".py")).read_text("utf-8"))
    node = next(n for n in tree.body if getattr(n, "name", None) == attr)
    docs = [ast.get_docstring(node)]
    if isinstance(node, ast.ClassDef):
        docs += [ast.get_docstring(m) for m in node.body
                 if isinstance(m, ast.FunctionDef) and not m.name.startswith("_")]
    return [d for d in docs if d]


def _internal_links_broken(markdown: str) -> list[str]:
    have = handout.anchors(markdown)
    return sorted({a for a in re.findall(r"\]\(#([^)]+)\)", markdown) if a not in have})


def _text_files(tree: dict[str, object]) -> dict[str, str]:
    out = {}
    for name, member in tree.items():
        data = member.read_bytes() if isinstance(member, Path) else member
        try:
            out[name] = data.decode("utf-8")
        except UnicodeDecodeError:
            continue                                # .npy data
    return out


# ---------------------------------------------------------------------------- generation
def test_every_question_has_its_numbered_section_points_and_contracts(full_md):
    sections = _sections(full_md)
    assert list(RAW["questions"]) and len(ASSIGNMENT.questions) == len(RAW["questions"]) == 14
    for n, (qid, q) in enumerate(sorted(RAW["questions"].items(), key=lambda kv: int(kv[0][1:])), 1):
        body = sections.get(qid.lower())
        assert body is not None, f"no section for {qid}"
        assert body.startswith(f"{n}. {qid} · {q['title']}\n")
        points = f"{q['points']:g} point{'s' if q['points'] != 1 else ''}"
        assert f"**{points}**" in body and f"{qid} is worth {points}" in body
        for f in q["files"]:
            assert f"`{f}`" in body
        for dotted in q["functions"]:
            assert f'<a id="fn-{handout.slug(dotted)}"></a>' in body, f"{qid}: no entry for {dotted}"
            docs = _template_docstrings(dotted)
            assert docs, f"{dotted} has no docstring in the template"
            for doc in docs:        # verbatim, as the template shows it (blank-line runs as one)
                assert re.sub(r"\n{3,}", "\n\n", doc) in body, f"{qid}: the contract of {dotted} differs from the template's"
        for title in (*handout.GENERATED, handout.TASK):
            assert f'<a id="{handout.anchor_of(qid, title)}"></a>' in body
        assert re.search(rf"python -m pytest tests/test_q{int(qid[1:])}_\w+\.py -s", body)


def test_saved_model_metric_curve_and_limits_come_from_the_assignment_file(full_md):
    sections = _sections(full_md)
    dataset = RAW["assignment"]["dataset"]
    models = {qid: q["model"] for qid, q in RAW["questions"].items() if "model" in q}
    assert set(models) == {"Q5", "Q6"}
    for qid, model in models.items():
        lo, hi = model["curve"][dataset]
        body = sections[qid.lower()]
        assert f"Metric: **{model['metric']}**; points curve on `{dataset}`" in body
        assert f"(m - {lo:g}) / ({hi:g} - {lo:g})" in body
        assert f"{model['batch_timeout_s']:g} s per batch" in body
        assert f"{model['max_params']:,} parameters" in body
        assert f"weight {model['weight']:g}" in body
    for qid in set(RAW["questions"]) - set(models):
        assert "Metric:" not in sections[qid.lower()]


def test_intro_toc_and_closing_and_every_internal_link_resolves(full_md):
    sections = _sections(full_md)
    for anchor in ("about-this-assignment", "files-and-data", "conventions", "submitting",
                   "time-limits", "reading-your-results", "fair-grading"):
        assert anchor in sections, anchor
    toc = full_md.split("\n\n", 2)[1]
    assert toc.count("\n* ") >= 14 + 6
    assert _internal_links_broken(full_md) == []
    assert _internal_links_broken(full_md + "\nsee [there](#q4-no-such-section)\n") == \
        ["q4-no-such-section"]                      # positive control
    assert handout.LEFT_OUT not in full_md         # nothing is left out of the full assignment


@pytest.mark.parametrize("include", SUBSETS, ids="+".join)
def test_a_subset_gets_only_its_questions_renumbered(include, tmp_path):
    subset = config.load(subset_toml(tmp_path / "subset.toml", include))
    md = handout.render_markdown(subset, KIT)
    headings = re.findall(r"(?m)^## (\d+)\. (Q\d+) · ", md)
    assert headings == [(str(n), qid) for n, qid in enumerate(include, 1)]
    for qid in RAW["questions"]:
        if qid not in include:
            assert not re.search(rf"(?m)^## \d+\. {qid} · ", md)
            assert not any(f'<a id="fn-{handout.slug(fn)}">' in md for fn in RAW["questions"][qid]["functions"]
                           if all(fn not in RAW["questions"][i]["functions"] for i in include))
            assert f'<a id="{qid.lower()}"></a>' in md.split(f"## {handout.LEFT_OUT}")[1]
    # cross-references carry this document's numbers: "§2 (Q13 ...)" in the Q5+Q13 subset
    for n, qid in enumerate(include, 1):
        for label in re.findall(rf"\[§(\d+) \({qid}[ )]", md):
            assert label == str(n), f"{qid} referred to as §{label}, numbered {n} here"
    assert _internal_links_broken(md) == []


def test_questions_deleted_from_a_copy_of_the_file_are_left_out_too(tmp_path):
    text = (KIT / "assignment.toml").read_text("utf-8")
    (tmp_path / "short.toml").write_text(text[: text.index("[questions.Q7]")])
    short = config.load(tmp_path / "short.toml")
    assert [q.id for q in short.questions] == ["Q1", "Q2", "Q3", "Q4", "Q5", "Q6"]
    tree = trees.handout_tree(KIT, short)          # raises BuildError on a dangling citation
    md = tree[handout.DOCUMENT_MD].decode("utf-8")
    left = md.split(f"## {handout.LEFT_OUT}")[1]
    for n in range(7, 15):
        assert f'<a id="q{n}"></a>' in left
    assert '<a id="q13-conventions-and-accepted-alternatives"></a>' in left


def test_a_reference_to_a_left_out_question_says_so(tmp_path):
    md = handout.render_markdown(config.load(subset_toml(tmp_path / "q4.toml", ["Q4"])), KIT)
    assert "Q7 (not part of this assignment)](#q7)" in md    # the Q4 prose compares with Q7


# ---------------------------------------------------------------------------- citations
def _kit_files() -> dict[str, str]:
    files = {}
    for top in KIT_TEXT:
        path = KIT / top
        for p in ([path] if path.is_file() else sorted(path.rglob("*"))):
            if (p.is_file() and p.suffix in (".py", ".md", ".toml", ".j2", ".txt")
                    and "__pycache__" not in p.parts and p != Path(__file__)):
                files[p.relative_to(KIT).as_posix()] = p.read_text("utf-8")
    return files


def test_every_citation_in_the_kit_resolves_in_the_full_document(full_md):
    files = _kit_files()
    cited = [(n, c) for n, t in files.items() for c in handout.citations_in(n, t) if c.anchor]
    # the kit does cite sections: student template, public test, worker, grader, hidden tests
    names = {n for n, _ in cited}
    for must in ("student_template/src/conv_layers.py", "student_template/tests/test_q4_fcnet.py",
                 "autograder/worker/serve.py", "autograder/grading/results.py"):
        assert must in names, f"{must} cites no section any more: update this test"
    assert len(cited) >= 30
    assert handout.dangling(files, full_md) == []


def test_a_dangling_citation_is_caught_even_split_across_python_literals(full_md):
    # built at run time so the kit scan above does not read these
    doc = "ASSIGNMENT" + ".md"
    planted = {
        "a.md": f'see {doc} §Q4 "No such section" and {doc} §Q99',
        "b.py": f'raise ValueError("expected it as {doc} "\n    "§Q4 \\"Scriptz\\" says")\n',
        "c.py": f'msg = "see {doc} " + \'§"Conventionz"\'\n',
        "d.py": f'ok = "{doc} §Q4 \\"Scripts\\" and {doc} §\\"Conventions\\""\n',
    }
    found = "\n".join(handout.dangling(planted, full_md))
    assert "a.md" in found and "#q4-no-such-section" in found and "#q99" in found
    assert "b.py" in found and "#q4-scriptz" in found
    assert "c.py" in found and "#conventionz" in found
    assert "d.py" not in found


@pytest.mark.parametrize("include", [None, SUBSETS[1]], ids=lambda i: "full" if i is None else "+".join(i))
def test_no_file_of_the_handout_cites_a_section_or_file_it_lacks(include, tmp_path, full_tree):
    assignment = (ASSIGNMENT if include is None
                  else config.load(subset_toml(tmp_path / "subset.toml", include)))
    tree = full_tree if include is None else trees.handout_tree(KIT, assignment)
    files = _text_files(tree)
    md = files[handout.DOCUMENT_MD]
    assert handout.DOCUMENT_HTML in tree
    assert handout.dangling(files, md) == []
    # ... and the build checks the same (it refuses a handout that cites a missing section)
    planted = dict(tree, **{"src/notes.py": b'"""See ' + b"ASSIGNMENT" + b'.md \xc2\xa7Q4 \'Nope\'."""\n'})
    assert trees.dangling_citations(tree) == []
    assert [p.split(":")[0] for p in trees.dangling_citations(planted)] == ["src/notes.py"]
    # the code files the document, the README, the template and the public tests name are
    # in the handout (the kit's package, which quotes examples, is not checked)
    assert _missing_files(files, tree) == []
    assert len(set(re.findall(r"`((?:src|tests)/[\w/]+\.py)`", md))) >= 10
    assert all(f in tree for q in assignment.questions for f in q.files)
    # the handout README points at the document
    assert f"[{handout.DOCUMENT_MD}]({handout.DOCUMENT_MD})" in files["README.md"]


def _missing_files(files: dict[str, str], tree) -> list[str]:
    student_facing = {n: t for n, t in files.items()
                      if n in (handout.DOCUMENT_MD, "README.md") or n.startswith(("src/", "tests/"))}
    return sorted({f"{n}: {m}" for n, t in student_facing.items()
                   for m in re.findall(r"(?<![\w./-])((?:src|tests)/[\w/]+\.py)\b", t)
                   if m not in tree})


def test_a_missing_file_is_caught():
    tree = {"src/a.py": b"", "ASSIGNMENT.md": b""}
    files = {"ASSIGNMENT.md": "see `src/a.py` and `tests/test_q99_x.py`", "src/a.py": "# src/b.py"}
    assert _missing_files(files, tree) == ["ASSIGNMENT.md: tests/test_q99_x.py", "src/a.py: src/b.py"]


# ---------------------------------------------------------------------------- leaks
def test_the_document_leaks_nothing_and_a_planted_secret_is_found(full_md, full_html, full_tree):
    sol_lines = leaks.solution_lines(KIT / "reference")
    assert leaks.document_leaks(handout.DOCUMENT_HTML, full_html, KIT, ASSIGNMENT, sol_lines) == []
    sol = sorted(sol_lines, key=len)[-1]
    hidden = sorted(leaks.hidden_test_lines(KIT), key=len)[-1]
    # planted as a student would read it: wrapped into prose, and in the page HTML-escaped
    # and split by markup
    words = sol.split()
    md = full_md + f"\n\nFor example {' '.join(words[:3])}\n{' '.join(words[3:])} works.\n"
    md += f"\n\nThe grader checks `{hidden}`.\nData: datasets/digits/private/x.npy\n"
    md += f"salt {ASSIGNMENT.salt}\n"
    page = full_html.replace("</body>", f"<p><code>{html.escape(words[0])}</code> "
                                        f"<em>{html.escape(' '.join(words[1:]))}</em></p>"
                                        f"<pre>{html.escape(hidden)}</pre></body>")
    problems = "\n".join(leaks.document_leaks(handout.DOCUMENT_MD, md, KIT, ASSIGNMENT, sol_lines))
    assert "1 reference solution line" in problems and "1 hidden test line" in problems
    assert "instructor-only path" in problems and "grading salt" in problems
    problems = "\n".join(leaks.document_leaks(handout.DOCUMENT_HTML, page, KIT, ASSIGNMENT, sol_lines))
    assert "1 reference solution line" in problems and "1 hidden test line" in problems
    # the build's own scan reads the document too: of the whole handout, only the planted
    # lines are reported (so the real ASSIGNMENT.md, and everything else, is clean)
    tree = dict(full_tree, **{handout.DOCUMENT_MD: md.encode("utf-8")})
    problems = leaks.handout_leaks(tree, KIT, ASSIGNMENT)
    assert problems and all(p.startswith("ASSIGNMENT.md: ") for p in problems), problems
    assert any(p.startswith("ASSIGNMENT.md: holds 1 hidden test line") for p in problems)


# ---------------------------------------------------------------------------- HTML
def test_the_page_is_self_contained_with_mathml(full_md, full_html):
    page = full_html
    assert "<script" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"url\(", page)
    # no attribute loads or links anything outside the page (MathML's xmlns is a name, not a load)
    for attr, value in re.findall(r'\b(src|href|action|data)="([^"]*)"', page):
        assert value.startswith("#"), f'{attr}="{value}" leaves the page'
    assert re.search(r'<style>[^<]*\S[^<]*</style>', page)      # the stylesheet is inline
    maths = re.findall(r"<math[ >].*?</math>", page, re.S)
    assert len(maths) >= 50 and all('xmlns="http://www.w3.org/1998/Math/MathML"' in m for m in maths[:5])
    assert any("<mfrac>" in m for m in maths) and any("<msub>" in m for m in maths)
    # the same number of formulas as the Markdown has, none left as raw $...$
    readable = re.sub(r"<(pre|code)>.*?</\1>", "", page, flags=re.S)
    readable = re.sub(r"<math[ >].*?</math>", "", readable, flags=re.S)
    assert not re.search(r"\$[^$\s][^$\n]*\\[a-z]+[^$\n]*\$", readable), "raw LaTeX left in the page"
    for qid in RAW["questions"]:
        assert f'<a id="{qid.lower()}"></a>' in page


def test_the_verb_writes_both_files(tmp_path, capsys):
    assert cli.main(["handout", "--out", str(tmp_path)]) == 0
    assert "ASSIGNMENT.html" in capsys.readouterr().out
    md = (tmp_path / handout.DOCUMENT_MD).read_text("utf-8")
    assert md == handout.render_markdown(ASSIGNMENT, KIT)
    assert (tmp_path / handout.DOCUMENT_HTML).read_text("utf-8").startswith("<!DOCTYPE html>")


def test_a_bad_prose_file_or_reference_is_a_clear_error():
    with pytest.raises(handout.HandoutError, match=r"ref\('no such part'\): no general section"):
        ctx = handout._Context(KIT, ASSIGNMENT, {"Q1": 1}, {"conventions": "Conventions"})
        ctx.ref("no such part")
    with pytest.raises(handout.HandoutError, match="text before the first '## ' section"):
        handout.split_sections("stray\n## Task\nx\n", "q99.md")
    with pytest.raises(handout.HandoutError, match="appears twice"):
        handout.split_sections("## Task\nx\n## Task\ny\n", "q99.md")
