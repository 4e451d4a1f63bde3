"""The leak scan of a handout: no hidden test, no line of a reference solution, no private
data file and not the salt, in any file or in the assignment document."""
from __future__ import annotations

import hashlib
import io
import re
from pathlib import Path, PurePosixPath

from .. import config, paths, template
from . import Member, _bytes, _excluded, _template_exclude

#: Stripped solution lines shorter than this are too generic to call a leak ("return out").
MIN_SOLUTION_LINE = 12


# ---------------------------------------------------------------------------- leak check
def _code_and_text_lines(source: str) -> tuple[set[str], set[int]]:
    """(stripped lines that are code, 1-based numbers of lines inside strings or comments)."""
    import tokenize
    text_lines: set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type in (tokenize.STRING, tokenize.COMMENT):
                text_lines.update(range(tok.start[0], tok.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass
    lines = source.splitlines()
    code = {line.strip() for i, line in enumerate(lines, start=1) if i not in text_lines}
    return code, text_lines


def kit_code_lines() -> set[str]:
    """Stripped CODE lines (not docstrings or comments) of the kit package: a solution line
    the kit's own code happens to contain (``x = np.asarray(x)``) gives nothing away."""
    out: set[str] = set()
    for path in paths.PACKAGE_DIR.rglob("*.py"):
        if "__pycache__" not in path.parts:
            out |= _code_and_text_lines(path.read_text("utf-8"))[0]
    return out


def solution_lines(reference: Path, exclude: tuple[str, ...] = template.DEFAULT_EXCLUDE,
                   allowed: set[str] | None = None) -> set[str]:
    """Stripped lines that occur only inside ``# BEGIN SOLUTION`` regions of ``reference``:
    not in any given code or generated template file, not in ``allowed`` (default: the kit's
    own code lines), and long enough to be specific."""
    reference = Path(reference)
    inside: set[str] = set()
    for path in sorted(reference.rglob("*.py")):
        rel = path.relative_to(reference)
        if _excluded(PurePosixPath(rel.as_posix()), exclude):
            continue
        text = path.read_text("utf-8")
        lines = text.splitlines()
        for region in template.find_regions(text, rel.as_posix()):
            inside.update(line.strip() for line in lines[region.begin: region.end - 1])
    public: set[str] = set()
    for data in template.render_tree(reference, exclude).values():
        public.update(line.strip() for line in data.decode("utf-8", "replace").splitlines())
    public |= kit_code_lines() if allowed is None else allowed
    return {line for line in inside - public
            if len(line) >= MIN_SOLUTION_LINE and not line.startswith("#")}


def redact_solution_text(data: bytes, sol: set[str]) -> tuple[bytes, int]:
    """``data`` (a kit source file) with every solution line that sits in a docstring or a
    comment replaced by ``...`` (same indentation); returns (bytes, lines replaced)."""
    source = data.decode("utf-8")
    _, text_lines = _code_and_text_lines(source)
    lines = source.splitlines(keepends=True)
    count = 0
    for i, line in enumerate(lines, start=1):
        if i in text_lines and line.strip() in sol:
            indent = line[: len(line) - len(line.lstrip())]
            lines[i - 1] = f"{indent}...\n"
            count += 1
    return "".join(lines).encode("utf-8"), count


def handout_leaks(tree: dict[str, Member], kit: Path, assignment: config.Assignment) -> list[str]:
    """Secrets found in a handout tree: hidden-test or reference files, reference-only
    solution lines, private data files or label bytes, the grading salt."""
    kit = Path(kit)
    problems: list[str] = []
    secret_hashes: dict[str, str] = {}
    hidden = paths.hidden_tests_dir(kit)
    for path in sorted(hidden.rglob("*")) if hidden.is_dir() else []:
        if path.is_file() and "__pycache__" not in path.parts:
            secret_hashes[hashlib.sha256(path.read_bytes()).hexdigest()] = f"hidden_tests/{path.relative_to(hidden)}"
    private = kit / "datasets" / assignment.dataset / "private"
    label_payloads: list[tuple[str, bytes]] = []
    for path in sorted(private.rglob("*")) if private.is_dir() else []:
        if path.is_file():
            secret_hashes[hashlib.sha256(path.read_bytes()).hexdigest()] = f"private data {path.name}"
            if path.suffix == ".npy" and "label" in path.name:
                import numpy as np
                label_payloads.append((path.name, np.load(path, allow_pickle=False).tobytes()))
    sol = solution_lines(paths.reference_dir(kit), _template_exclude(assignment))
    salt = assignment.salt.encode()
    for name in sorted(tree):
        data = _bytes(tree[name])
        parts = PurePosixPath(name).parts
        if parts[0] in ("hidden_tests", "reference", "mutants") or "private" in parts:
            problems.append(f"{name}: an instructor-only path")
        origin = secret_hashes.get(hashlib.sha256(data).hexdigest())
        if origin:
            problems.append(f"{name}: identical to {origin}")
        for label_name, payload in label_payloads:
            if len(payload) >= 64 and payload in data:
                problems.append(f"{name}: holds the bytes of the private {label_name}")
        if salt in data:
            problems.append(f"{name}: holds the grading salt")
        if name.endswith((".py", ".md", ".txt", ".toml", ".ini", ".json", ".cfg", ".sh")):
            text_lines = {line.strip() for line in data.decode("utf-8", "replace").splitlines()}
            found = sorted(text_lines & sol)
            if found:
                problems.append(f"{name}: holds {len(found)} reference solution line(s), e.g. {found[0]!r}")
        if name in DOCUMENTS:
            problems += document_leaks(name, data.decode("utf-8", "replace"), kit, assignment, sol)
    return problems


#: The assignment document's files in the handout (``autograder.handout`` writes them).
DOCUMENTS = ("ASSIGNMENT.md", "ASSIGNMENT.html")
#: Hidden-test lines shorter than this are too generic to call a leak (``x = case_rng...``).
MIN_HIDDEN_LINE = 40


def hidden_test_lines(kit: Path) -> set[str]:
    """Stripped lines of the hidden tests, long enough to be specific, that no public test
    holds too (imports and comments left out)."""
    public: set[str] = set()
    for path in sorted(paths.reference_dir(kit).joinpath("tests").glob("*.py")):
        public.update(line.strip() for line in path.read_text("utf-8").splitlines())
    out: set[str] = set()
    for path in sorted(paths.hidden_tests_dir(kit).glob("*.py")):
        for line in path.read_text("utf-8").splitlines():
            s = line.strip()
            if len(s) >= MIN_HIDDEN_LINE and s not in public and not s.startswith(("#", "import", "from")):
                out.add(s)
    return out


def _document_text(name: str, text: str) -> str:
    """The document's readable text: for the HTML page, tags removed and entities decoded, so
    a line inside ``<pre>`` or split by markup is found as the student reads it."""
    if name.endswith(".html"):
        import html as html_mod
        text = html_mod.unescape(re.sub(r"<[^>]+>", "", text))
    return text


def document_leaks(name: str, text: str, kit: Path, assignment: config.Assignment,
                   sol: set[str] | None = None) -> list[str]:
    """Secrets in the assignment document ``name`` with contents ``text``: a line of a
    solution region or of a hidden test anywhere in it (not only as a whole line: prose
    wraps code into sentences and tables), a path into the private data, the salt."""
    kit = Path(kit)
    if sol is None:
        sol = solution_lines(paths.reference_dir(kit), _template_exclude(assignment))
    readable = _document_text(name, text)
    flat = " ".join(readable.split())
    # what the template already shows (a docstring quoting ``out = X * mask``) is no leak
    shown = " ".join(" ".join(data.decode("utf-8", "replace").split()) for data in
                     template.render_tree(paths.reference_dir(kit), _template_exclude(assignment)).values())
    problems = []
    for kind, lines in (("reference solution", sol), ("hidden test", hidden_test_lines(kit))):
        found = sorted(line for line in lines
                       if " ".join(line.split()) in flat and " ".join(line.split()) not in shown)
        if found:
            problems.append(f"{name}: holds {len(found)} {kind} line(s), e.g. {found[0]!r}")
    private = re.search(r"\bdatasets/[\w.-]+/private\b|\bhidden_tests/", readable)
    if private:
        problems.append(f"{name}: names an instructor-only path ({private.group(0)!r})")
    if assignment.salt in readable:
        problems.append(f"{name}: holds the grading salt")
    return problems

