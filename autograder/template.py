"""Generate ``student_template/`` from ``reference/`` (the ``template`` verb).

The reference solution is the single source of truth.  Student-written code in it sits
between two marker lines::

    # BEGIN SOLUTION: return twice the input
    y = x + x
    # END SOLUTION

The generator replaces each such region (markers included) with a stub at the marker's
indentation::

    # TODO: return twice the input
    raise NotImplementedError("TODO in src/m.py, f(): return twice the input")

and copies every other byte unchanged.  The text after ``BEGIN SOLUTION:`` is the TODO; without
it the TODO says to implement the enclosing function as its docstring describes.

Rules (each violation is a :class:`TemplateError` naming the file and line):
  * markers pair up: no ``END`` without ``BEGIN``, no ``BEGIN`` inside a region, no region left
    open at the end of the file;
  * a region's ``END`` has the same indentation as its ``BEGIN``;
  * markers appear only in ``.py`` files.

Files whose name matches an exclude pattern (trained models, caches, the reference's own
scripts folder) are not copied.  Files without markers are "given" code: the template ships
them complete and the grader supplies the reference's copy (see :func:`given_files`).
"""
from __future__ import annotations

import dataclasses
import fnmatch
import re
import shutil
from pathlib import Path

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"

#: Never copied into the template: build artefacts and things only the instructor has.
DEFAULT_EXCLUDE = (
    "__pycache__", "*.pyc", ".pytest_cache", "*.egg-info", ".hypothesis",
    "*.safetensors", "*.pt", "*.pth", "*.pkl", "model_*.npz", "model.npz", "model.json",
    "reports", "runs",
    "questions",    # reference/questions/: the assignment document's prose (``handout`` verb)
)

_DEF_RE = re.compile(r"^(?P<indent>[ \t]*)(?:async[ \t]+)?(?:def|class)[ \t]+(?P<name>\w+)")


class TemplateError(ValueError):
    """A marker problem in a reference file; the message names the file and line."""


@dataclasses.dataclass(frozen=True)
class Region:
    """One solution region: 1-based line numbers of its markers, its TODO and function."""

    begin: int
    end: int
    indent: str
    todo: str
    function: str


def _marker(line: str) -> tuple[str, str] | None:
    """Return ``("begin"|"end", rest)`` when ``line`` is a marker line, else None."""
    stripped = line.strip()
    if stripped.startswith(BEGIN):
        return "begin", stripped[len(BEGIN):]
    if stripped.startswith(END):
        return "end", stripped[len(END):]
    return None


def _enclosing_function(lines: list[str], index: int, indent: str) -> str:
    """Name of the innermost ``def``/``class`` above ``lines[index]`` that encloses it."""
    for line in reversed(lines[:index]):
        m = _DEF_RE.match(line)
        if m and len(m.group("indent").expandtabs()) < len(indent.expandtabs()):
            return m.group("name")
    return "<module>"


def find_regions(text: str, name: str) -> list[Region]:
    """All solution regions of ``text`` (the contents of file ``name``), validated."""
    lines = text.splitlines(keepends=True)
    regions: list[Region] = []
    open_at: int | None = None
    open_indent = ""
    open_todo = ""
    for i, line in enumerate(lines):
        kind_rest = _marker(line)
        if kind_rest is None:
            continue
        kind, rest = kind_rest
        lineno = i + 1
        indent = line[: len(line) - len(line.lstrip())]
        if kind == "begin":
            if open_at is not None:
                raise TemplateError(
                    f"{name}:{lineno}: '{BEGIN}' inside the region opened at line {open_at}; "
                    f"regions cannot nest: close it with '{END}' first")
            rest = rest.strip()
            if rest and not rest.startswith(":"):
                raise TemplateError(
                    f"{name}:{lineno}: expected '{BEGIN}' or '{BEGIN}: <what to implement>', "
                    f"found {line.strip()!r}")
            open_at, open_indent, open_todo = lineno, indent, rest[1:].strip()
        else:
            if open_at is None:
                raise TemplateError(f"{name}:{lineno}: '{END}' without a matching '{BEGIN}'")
            if rest.strip():
                raise TemplateError(f"{name}:{lineno}: unexpected text after '{END}': {rest.strip()!r}")
            if indent != open_indent:
                raise TemplateError(
                    f"{name}:{lineno}: '{END}' is indented {len(indent)} columns but its "
                    f"'{BEGIN}' at line {open_at} is indented {len(open_indent)}; align them")
            function = _enclosing_function(lines, open_at - 1, open_indent)
            todo = open_todo or (
                f"implement {function}() as its docstring describes" if function != "<module>"
                else "implement this part as the comments above describe")
            regions.append(Region(open_at, lineno, open_indent, todo, function))
            open_at = None
    if open_at is not None:
        raise TemplateError(f"{name}:{open_at}: '{BEGIN}' is never closed by '{END}'")
    return regions


def stub_lines(region: Region, name: str, newline: str = "\n") -> list[str]:
    """The two lines that replace ``region`` in the student template."""
    where = f"{name}, {region.function}()" if region.function != "<module>" else name
    message = f"TODO in {where}: {region.todo}"
    return [f"{region.indent}# TODO: {region.todo}{newline}",
            f"{region.indent}raise NotImplementedError({message!r}){newline}"]


def strip_solutions(text: str, name: str) -> str:
    """``text`` with every solution region replaced by its stub; other bytes unchanged."""
    regions = find_regions(text, name)
    if not regions:
        return text
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    cursor = 0
    for region in regions:
        out.extend(lines[cursor: region.begin - 1])
        marker_line = lines[region.begin - 1]
        newline = "\r\n" if marker_line.endswith("\r\n") else "\n"
        out.extend(stub_lines(region, name, newline))
        cursor = region.end
    out.extend(lines[cursor:])
    return "".join(out)


def _excluded(rel: Path, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in patterns)


def render_tree(reference: Path, exclude: tuple[str, ...] = DEFAULT_EXCLUDE) -> dict[str, bytes]:
    """The template as ``{relative posix path: bytes}``, computed from ``reference``."""
    reference = Path(reference)
    if not reference.is_dir():
        raise TemplateError(f"{reference}: reference folder not found")
    files: dict[str, bytes] = {}
    for path in sorted(reference.rglob("*")):
        rel = path.relative_to(reference)
        if path.is_dir() or _excluded(rel, exclude):
            continue
        data = path.read_bytes()
        name = rel.as_posix()
        if path.suffix == ".py":
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TemplateError(f"{name}: not UTF-8 ({exc})") from None
            data = strip_solutions(text, name).encode("utf-8")
        elif BEGIN.encode() in data:
            raise TemplateError(f"{name}: solution markers are only allowed in .py files")
        files[name] = data
    return files


def given_files(reference: Path, exclude: tuple[str, ...] = DEFAULT_EXCLUDE) -> list[str]:
    """Relative paths of reference ``.py`` files without solution regions ("given" code)."""
    given = []
    for path in sorted(Path(reference).rglob("*.py")):
        rel = path.relative_to(reference)
        if not _excluded(rel, exclude) and not find_regions(path.read_text("utf-8"), rel.as_posix()):
            given.append(rel.as_posix())
    return given


def _existing_tree(root: Path, exclude: tuple[str, ...]) -> dict[str, bytes]:
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*"))
            if p.is_file() and not _excluded(p.relative_to(root), exclude)}


def diff_tree(expected: dict[str, bytes], actual: dict[str, bytes]) -> list[str]:
    """Human-readable differences between two trees (empty when identical)."""
    problems = []
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            problems.append(f"missing in template: {name}")
        elif name not in expected:
            problems.append(f"not generated from reference (stale or hand-added): {name}")
        elif expected[name] != actual[name]:
            problems.append(f"differs from what reference/ generates: {name}")
    return problems


def generate(reference: Path, template: Path, check: bool = False,
             exclude: tuple[str, ...] = DEFAULT_EXCLUDE) -> list[str]:
    """Write (or with ``check`` only compare) ``template`` from ``reference``.

    Returns the list of differences found before writing; with ``check`` nothing is written.
    Writing mirrors the tree exactly: files no longer generated are removed.
    """
    expected = render_tree(reference, exclude)
    actual = _existing_tree(Path(template), exclude)
    problems = diff_tree(expected, actual)
    if check or not problems:
        return problems
    template = Path(template)
    for name in actual:
        if name not in expected:
            (template / name).unlink()
    for name, data in expected.items():
        target = template / name
        if actual.get(name) != data:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            shutil.copymode(Path(reference) / name, target)
    for directory in sorted((p for p in template.rglob("*") if p.is_dir()), reverse=True):
        if not any(directory.iterdir()) and not _excluded(directory.relative_to(template), exclude):
            directory.rmdir()
    return problems


# ---------------------------------------------------------------------------- what students read
@dataclasses.dataclass(frozen=True)
class Contract:
    """What the template shows of one function, class or method: its signature line and its
    docstring (the contract the tests rely on), plus, for a class, the contracts of its
    ``__init__``, its public methods and every method holding a solution region."""

    name: str
    kind: str                   # "function" | "class" | "method"
    signature: str              # ``name(args)`` as written in the source
    doc: str                    # the docstring, dedented; "" when there is none
    todo: tuple[str, ...] = ()  # the TODO lines the template shows in its body
    methods: tuple["Contract", ...] = ()


def _signature(node, source: str) -> str:
    import ast
    if isinstance(node, ast.ClassDef):
        bases = ", ".join(ast.get_source_segment(source, b) or "" for b in node.bases)
        return f"class {node.name}({bases})" if bases else f"class {node.name}"
    # the parameter list as written (ast.unparse would rewrite defaults such as ``1e-2``)
    header = "\n".join(source.splitlines()[node.lineno - 1: node.body[0].lineno - 1])
    start = header.index("(", header.index(node.name))
    depth = 0
    for end in range(start, len(header)):
        depth += {"(": 1, ")": -1}.get(header[end], 0)
        if depth == 0:
            break
    return f"{node.name}({' '.join(header[start + 1:end].split())})"


def api_contracts(text: str, name: str, attrs: list[str] | tuple[str, ...]) -> list[Contract]:
    """The contracts of the top-level functions/classes ``attrs`` of ``text``, the TEMPLATE's
    text of file ``name`` (as :func:`render_tree` writes it): exactly what a student reads.
    Raises :class:`TemplateError` for a name that is not a top-level def or class there."""
    import ast
    tree = ast.parse(text, filename=name)
    stubs: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for line in (ast.get_source_segment(text, node) or "").splitlines():
                if line.strip().startswith("# TODO:"):
                    stubs.setdefault(id(node), []).append(line.strip()[len("# TODO:"):].strip())

    def contract(node, kind: str) -> Contract:
        todo = tuple(stubs.get(id(node), ()))
        methods: tuple[Contract, ...] = ()
        if isinstance(node, ast.ClassDef):
            methods = tuple(
                contract(m, "method") for m in node.body
                if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))
                and (m.name == "__init__" or not m.name.startswith("_") or stubs.get(id(m))))
            todo = tuple(t for m in methods for t in m.todo)
        return Contract(node.name, kind, _signature(node, text), ast.get_docstring(node) or "",
                        todo, methods)

    top = {node.name: node for node in tree.body
           if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    out = []
    for attr in attrs:
        if attr not in top:
            raise TemplateError(f"{name}: no top-level def or class {attr!r}")
        node = top[attr]
        out.append(contract(node, "class" if isinstance(node, ast.ClassDef) else "function"))
    return out
