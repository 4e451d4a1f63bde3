"""The document as Markdown (maths as ``$...$``): :func:`render_markdown`.

The function contracts are the docstrings the student template shows
(:func:`autograder.template.api_contracts` on :func:`autograder.template.render_tree`'s text);
points, files, functions, dependencies (``calls``), limits, the saved models' metrics and curves
come from the assignment file; the prose from :mod:`.prose`.
"""
from __future__ import annotations

import re
from pathlib import Path

from .. import config, paths, template
from .citations import anchor_of, slug
from .prose import (CLOSING, GENERATED, HIDDEN, INTRO, SELFTEST, TASK, HandoutError, _Context,
                    _render_prose, prose_dir, prose_file, split_sections)


def _fence(text: str, lang: str = "text") -> str:
    ticks = "````" if "```" in text else "```"
    return f"{ticks}{lang}\n{text.rstrip()}\n{ticks}"


def _heading(level: int, title: str, anchor: str) -> str:
    return f'<a id="{anchor}"></a>\n\n{"#" * level} {title}'


def _fmt_points(x: float) -> str:
    return f"{x:g} point{'s' if x != 1 else ''}"


def _function_anchor(dotted: str) -> str:
    return "fn-" + slug(dotted)


def _contract_md(contract: template.Contract, dotted: str, level: int) -> list[str]:
    module = dotted.rpartition(".")[0]
    signature = (f"class {module}.{contract.signature[len('class '):]}" if contract.kind == "class"
                 else f"{module}.{contract.signature}")
    out = [_heading(level, f"`{signature}`", _function_anchor(dotted))]
    out.append(f"In `src/{dotted.rpartition('.')[0].replace('.', '/')}.py`."
               + ("" if contract.kind != "class" else " A class: its constructor and methods follow."))
    if contract.doc:
        out.append(_fence(contract.doc))
    for todo in contract.todo if contract.kind != "class" else ():
        out.append(f"The template's TODO: *{todo}*")
    for method in contract.methods:
        out.append(f"**`{contract.name}.{method.signature}`**")
        if method.doc:
            out.append(_fence(method.doc))
        for todo in method.todo:
            out.append(f"The template's TODO: *{todo}*")
    return out


def _public_tests(rendered: dict[str, bytes], qid: str) -> list[tuple[str, list[str]]]:
    """(test file, test function names) of the public tests of ``qid`` in the template."""
    out = []
    for name in sorted(rendered):
        if not (name.startswith("tests/") and name.endswith(".py")):
            continue
        text = rendered[name].decode("utf-8")
        if re.search(rf"""pytest\.mark\.question\(\s*["']{qid}["']""", text):
            out.append((name, re.findall(r"(?m)^def (test_\w+)", text)))
    return out


def _model_md(q: config.Question, dataset: str) -> list[str]:
    from ..scoring import spec as spec_mod
    spec = spec_mod.parse(q.model)
    metric = {"accuracy": "accuracy", "macro_f1": "macro-F1"}.get(spec.metric, spec.metric)
    lines = [f"**The saved model.** Besides its tests, {q.id} scores the model you save, on a "
             f"private test split of the `{dataset}` data set that you never see."]
    if spec.interface == "torch":
        lines.append(f"Files looked for, next to `src/`: {', '.join(f'`{f}`' for f in spec.files)} "
                     f"(the first found), loaded into `cnn.Net()`.")
    else:
        lines.append(f"Files: {', '.join(f'`{f}`' for f in spec.files)} next to `src/`, loaded "
                     f"through `src/test.py` (its `load_model` + `predict` when present, else "
                     f"`test_fer_model`), called with their default arguments.")
    try:
        lo, hi = spec.curve_for(dataset)
        curve = (f"the {metric} $m$ gives the fraction $\\min(1, \\max(0, (m - {lo:g}) / "
                 f"({hi:g} - {lo:g})))$ of the model's points: {lo:g} or less gives nothing, "
                 f"{hi:g} or more gives all of them, linear in between")
    except KeyError:
        curve = f"(no points curve for `{dataset}` in this assignment file)"
    lines.append(f"Metric: **{metric}**; points curve on `{dataset}`: {curve}.")
    lines.append(f"The model counts with weight {spec.weight:g} among {q.id}'s tests (each "
                 f"public test weighs 1 unless marked otherwise).")
    limits = [f"at most {spec.max_params:,} parameters" if spec.max_params else "",
              f"a file of at most {spec.max_model_mb:g} MB",
              f"{spec.batch_timeout_s:g} s per batch of {spec.batch_size} images",
              f"{spec.total_timeout_s:g} s for loading and all batches",
              f"{spec.max_memory_mb:g} MB of memory" if spec.max_memory_mb else ""]
    lines.append("Limits: " + ", ".join(x for x in limits if x) + ".")
    if spec.leaderboard:
        lines.append(f"Your score also appears on the class leaderboard as \"{spec.label} "
                     f"{metric}\".")
    lines.append("`python -m autograder selftest` scores the model the same way on the PUBLIC "
                 "validation split, so you can see where on the curve you are.")
    return lines


def _question_md(ctx: _Context, q: config.Question, rendered: dict[str, bytes]) -> str:
    n = ctx.number[q.id]
    prose_path = prose_file(q, ctx.kit)
    model = q.model or {}
    curve = None
    if model:
        from ..scoring import spec as spec_mod
        try:
            curve = spec_mod.parse(model).curve_for(ctx.assignment.dataset)
        except KeyError:
            curve = None
    sections = split_sections(_render_prose(prose_path, ctx, q=q, model=model, curve=curve,
                                            limits=q.limits), str(prose_path))
    if TASK not in sections or HIDDEN not in sections:
        raise HandoutError(f"{prose_path}: needs a '## {TASK}' and a '## {HIDDEN}' section "
                           f"(has: {', '.join(sections)})")
    clash = set(sections) & set(GENERATED)
    if clash:
        raise HandoutError(f"{prose_path}: sections {sorted(clash)} are generated; rename them")
    deps = ctx.assignment.dependencies()
    out = [_heading(2, f"{n}. {q.id} · {q.title}", q.id.lower())]
    facts = [f"**{_fmt_points(q.points)}**" + (" (bonus)" if q.bonus else ""),
             "files: " + ", ".join(f"`{f}`" for f in q.files)]
    if deps[q.id]:
        facts.append("builds on " + ", ".join(ctx.ref(d) for d in sorted(deps[q.id], key=lambda d: ctx.number[d])))
    out.append(" · ".join(facts))
    out.append(_heading(3, TASK, anchor_of(q.id, TASK)))
    out.append(sections[TASK])

    out.append(_heading(3, "Functions you write", anchor_of(q.id, "Functions you write")))
    out.append("The contract of each function as its docstring in the template states it "
               "(shapes, conventions, what may not be modified). The tests check exactly this.")
    by_module: dict[str, list[str]] = {}
    for dotted in q.functions:
        module, _, attr = dotted.rpartition(".")
        by_module.setdefault(module, []).append(attr)
    for module, attrs in by_module.items():
        rel = f"src/{module.replace('.', '/')}.py"
        if rel not in rendered:
            raise HandoutError(f"{q.id}: {rel} is not in the generated template")
        for contract in template.api_contracts(rendered[rel].decode("utf-8"), rel, attrs):
            out.extend(_contract_md(contract, f"{module}.{contract.name}", 4))

    for title, body in sections.items():
        if title not in (TASK, HIDDEN, SELFTEST):
            out.append(_heading(3, title, anchor_of(q.id, title)))
            out.append(body)

    out.append(_heading(3, "How it is graded", anchor_of(q.id, "How it is graded")))
    lim = q.limits
    out.append(f"{q.id} is worth {_fmt_points(q.points)}" + (", as a bonus on top of the total" if q.bonus else "")
               + ". The points are shared among its public tests, its hidden tests"
               + (" and the saved model" if model else "")
               + f" in proportion to their weights. Each test may spend {lim.test_timeout_s:g} s "
               f"in your code, and all of {q.id}'s tests together "
               f"{ctx.assignment.question_budget_s(q.id):g} s "
               f"(see {ctx.ref('time limits')}).")
    tests = _public_tests(rendered, q.id)
    if tests:
        listing = []
        for name, fns in tests:
            listing.append(f"* `{name}`: " + ", ".join(f"`{f}`" for f in fns))
        out.append("**Public tests** (you have them; the grader runs the same ones):\n\n" + "\n".join(listing))
    out.append(f"**Hidden tests.** {sections[HIDDEN]}")
    if model:
        out.append("\n\n".join(_model_md(q, ctx.assignment.dataset)))

    out.append(_heading(3, "Depends on", anchor_of(q.id, "Depends on")))
    owners = {fn: qq.id for qq in ctx.assignment.questions for fn in qq.functions}
    called = [c for c in q.calls if owners.get(c) != q.id]
    if called:
        rows = []
        for c in called:
            owner = owners.get(c)
            rows.append(f"* `{c}`: " + (ctx.ref(owner) if owner else
                                        "not graded in this assignment, but it must work"))
        out.append(f"{q.id}'s code calls these functions of yours; a bug in one of them can "
                   f"cost points here as well as in its own question, and the feedback then "
                   f"names the function that failed its own tests:\n\n" + "\n".join(rows))
    else:
        out.append(f"{q.id} calls no function of another question: its points depend on "
                   f"{', '.join(f'`{f}`' for f in q.files)} alone.")
    users = [other.id for other in ctx.assignment.questions
             if other.id != q.id and q.id in deps[other.id]]
    if users:
        out.append("Used by " + ", ".join(ctx.ref(u) for u in users) + ": get this question "
                   "right first.")

    out.append(_heading(3, "Checking your work", anchor_of(q.id, "Checking your work")))
    cmds = [f"python -m pytest {name} -s" for name, _ in tests] or ["python -m pytest"]
    out.append(_fence("\n".join(cmds + ["python -m autograder selftest"]), "sh"))
    out.append("`-s` shows the numbers the tests print (relative errors, rates). `selftest` runs "
               "the public tests through the grader's sandbox and prints your points per "
               "question" + (", and scores your saved model on the public validation split" if model else "")
               + ".")
    if SELFTEST in sections:
        out.append(sections[SELFTEST])
    return "\n\n".join(out)


def _toc(ctx: _Context, general_before: list[str], general_after: list[str]) -> str:
    lines = []
    for key in general_before:
        lines.append(f"* [{ctx.general[key]}](#{key})")
    for q in ctx.assignment.questions:
        short = [fn.rpartition(".")[2] for fn in q.functions]
        fns = ", ".join(f"[`{s if short.count(s) == 1 else fn}`](#{_function_anchor(fn)})"
                        for fn, s in zip(q.functions, short))
        lines.append(f"* [{ctx.number[q.id]}. {q.id} · {q.title}](#{q.id.lower()}): {fns}")
    for key in general_after:
        lines.append(f"* [{ctx.general[key]}](#{key})")
    return "\n".join(lines)


def render_markdown(assignment: config.Assignment, kit: Path | None = None) -> str:
    """The whole document as Markdown (maths as ``$...$``)."""
    kit = Path(kit) if kit is not None else paths.kit_root()
    reference = paths.reference_dir(kit)
    exclude = template.DEFAULT_EXCLUDE + tuple(assignment.raw.get("template", {}).get("exclude", []))
    rendered = template.render_tree(reference, exclude)
    number = {q.id: i for i, q in enumerate(assignment.questions, start=1)}
    intro_path, closing_path = prose_dir(kit) / INTRO, prose_dir(kit) / CLOSING
    for path in (intro_path, closing_path):
        if not path.is_file():
            raise HandoutError(f"{path}: missing (the document's introduction and closing prose)")
    # General sections: the ## titles of the intro and closing files (read before rendering
    # so the question prose can refer to them).
    titles = [t for path in (intro_path, closing_path)
              for t in re.findall(r"(?m)^## +(.+?)\s*$", path.read_text("utf-8"))]
    ctx = _Context(kit, assignment, number, {slug(t): t for t in titles})
    graded = [q for q in assignment.questions if not q.bonus]
    values = dict(
        total=sum(q.points for q in graded), bonus=sum(q.points for q in assignment.questions if q.bonus),
        questions=assignment.questions, number=number, fmt_points=_fmt_points,
        time_bound=assignment.time_bound_s(), budget=assignment.question_budget_s,
        models=[q for q in assignment.questions if q.model],
        public_tests={q.id: [name for name, _ in _public_tests(rendered, q.id)]
                      for q in assignment.questions},
        given=[f for f in template.given_files(reference, exclude) if f.startswith("src/")])
    intro = split_sections(_render_prose(intro_path, ctx, **values), str(intro_path))
    closing = split_sections(_render_prose(closing_path, ctx, **values), str(closing_path))
    left_out = _left_out_md(ctx)
    after = [slug(t) for t in closing] + ([slug(LEFT_OUT)] if left_out else [])
    parts = [f"# {assignment.name}", _toc(ctx, [slug(t) for t in intro], after)]
    for title, body in intro.items():
        parts += [_heading(2, title, slug(title)), body]
    for q in assignment.questions:
        parts.append(_question_md(ctx, q, rendered))
    for title, body in closing.items():
        parts += [_heading(2, title, slug(title)), body]
    if left_out:
        parts.append(left_out)
    text = "\n\n".join(p.strip("\n") for p in parts) + "\n"
    return re.sub(r"\n{3,}", "\n\n", text)


#: The closing section of a subset's document: the questions of the assignment file it leaves out.
LEFT_OUT = "Questions not in this assignment"


def _left_out_md(ctx: _Context) -> str:
    """For a subset assignment: one paragraph per question the kit has (a question of the
    assignment file, or a prose file ``qNN_*.md`` for questions deleted from a copy of it) that
    this assignment leaves out, with the anchors a citation of that question or of any of its
    sections (generated or prose) resolves to, so the template's files and the kit's messages
    that cite it (``ASSIGNMENT.md §Q13 "Conventions and accepted alternatives"``) never
    dangle.  ``""`` when nothing is left out."""
    raw = ctx.assignment.raw.get("questions", {})
    prose = {f"Q{int(m.group(1))}": path for path in sorted(prose_dir(ctx.kit).glob("q*_*.md"))
             if (m := re.fullmatch(r"q(\d+)_.+\.md", path.name))}
    left = sorted((qid for qid in {*raw, *prose} if qid not in ctx.number), key=lambda q: int(q[1:]))
    if not left:
        return ""
    ctx.general[slug(LEFT_OUT)] = LEFT_OUT
    out = [_heading(2, LEFT_OUT, slug(LEFT_OUT)),
           "The full course has these questions too; this assignment does not grade them. Their "
           "files are in the handout as they are, and a comment or message that cites one of "
           "them leads here: you need not complete them."]
    for qid in left:
        titles = (re.findall(r"(?m)^## +(.+?)\s*$", prose[qid].read_text("utf-8"))
                  if qid in prose else [])
        ids = [qid.lower()] + [anchor_of(qid, t) for t in (*titles, *GENERATED)]
        if qid in raw:
            files = ", ".join(f"`{f}`" for f in raw[qid].get("files", ()))
            what = f"**{qid} · {raw[qid]['title']}** (files: {files})"
        else:
            what = f"**{qid}**"
        out.append("".join(f'<a id="{a}"></a>' for a in dict.fromkeys(ids))
                   + f"\n\n{what}: not graded here.")
    return "\n\n".join(out)
