"""``ASSIGNMENT.html`` in a real browser (headless Chromium, ``tests/kits/browserkit.py``): it loads
with no console error, every question of the assignment file has its visible heading, the
maths is typeset as MathML (boxes of nonzero size, no raw ``$...$`` left in the text), and the
table of contents' links land on their sections.  A failure keeps the screenshot and the page
in ``build/test-artifacts/``.
"""
from __future__ import annotations

import tomllib

import pytest

from autograder import config, handout

from tests.kits.batchkit import KIT
from tests.kits.browserkit import ARTIFACTS, open_page

RAW = tomllib.loads((KIT / "assignment.toml").read_text("utf-8"))

# Everything the page shows, measured in one script (a WebDriver round trip per element is slow).
MEASURE = """
const box = e => { const r = e.getBoundingClientRect(); return [r.width, r.height]; };
const after = id => { const a = document.getElementById(id);   // <p><a id=..></a></p> or <a id>
  return a && (a.parentElement.tagName === 'P' ? a.parentElement : a).nextElementSibling; };
const heading = id => { let e = after(id); while (e && !/^H[1-6]$/.test(e.tagName)) e = e.nextElementSibling;
  return e ? [e.tagName, e.textContent, ...box(e)] : null; };
const maths = [...document.querySelectorAll('math')];
const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const raw = []; let n;
while ((n = walker.nextNode())) {
  if (n.parentElement.closest('pre, code, math')) continue;
  const m = n.textContent.match(/\\$[^$\\s][^$]*\\\\[a-z]+[^$]*\\$/); if (m) raw.push(m[0]); }
return {
  headings: Object.fromEntries(arguments[0].map(id => [id, heading(id)])),
  maths: maths.length,
  mathDisplay: maths.length ? getComputedStyle(maths[0]).display : null,
  flat: maths.filter(m => { const [w, h] = box(m); return !(w > 0 && h > 0); }).map(m => m.outerHTML.slice(0, 120)),
  // a display formula's box holds the whole formula: no scrollbar, no clipped superscript
  // (more than 4 px: an arrow's label overhangs its box by 1-2 px, unseen)
  clipped: [...document.querySelectorAll('.math.block')].filter(d => d.scrollHeight > d.clientHeight + 4)
    .map(d => d.textContent.slice(0, 60)),
  fractions: [...document.querySelectorAll('mfrac')].map(f => box(f)[1]),
  text: document.body.innerText.length,
  raw,
};
"""


@pytest.fixture(scope="module")
def page_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("handout")
    return handout.write(config.load(KIT / "assignment.toml"), out, KIT)[handout.DOCUMENT_HTML]


def test_the_page_renders_headings_and_maths_in_chromium(page_file):
    ids = [qid.lower() for qid in RAW["questions"]]
    with open_page(page_file, name="handout-ASSIGNMENT") as page:
        seen = page.run_js(MEASURE, ids)
        assert page.console_errors() == []
        for n, qid in enumerate(RAW["questions"], 1):
            tag, text, width, height = seen["headings"][qid.lower()]
            assert tag == "H2" and text.startswith(f"{n}. {qid} · {RAW['questions'][qid]['title']}")
            assert width > 0 and height > 0, f"{qid}'s heading is not visible"
        assert seen["maths"] >= 50
        assert seen["mathDisplay"] in ("math", "inline math", "block math"), seen["mathDisplay"]
        assert seen["clipped"] == [], f"{len(seen['clipped'])} display formulas are clipped"
        assert seen["flat"] == [], f"{len(seen['flat'])} formulas have no size"
        # a typeset fraction stacks numerator over denominator: taller than one line of text
        assert seen["fractions"] and max(seen["fractions"]) > 15
        assert seen["raw"] == [], f"raw LaTeX shown as text: {seen['raw'][:3]}"
        assert seen["text"] > 50_000
        # the table of contents leads to a function's contract: Q2's dropout_forward
        link = page.find('a[href="#fn-layers-dropout-forward"]')
        assert link, "no TOC entry for dropout_forward"
        link[0].click()
        top = page.run_js("const a = document.getElementById('fn-layers-dropout-forward');"
                          "const h = a.parentElement.nextElementSibling;"
                          "return [h.textContent, h.getBoundingClientRect().top];")
        assert top[0].startswith("layers.dropout_forward(") and abs(top[1]) < 200, top
        page.screenshot(ARTIFACTS / "handout-dropout_forward.png")    # kept to look at
        assert page.console_errors() == []
