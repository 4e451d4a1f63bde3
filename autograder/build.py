"""``python -m autograder build``: the Gradescope upload, the student handout, the image context.

    python -m autograder build [--out DIR] [--context DIR] [--no-torch] [--wheelhouse DIR]

Writes, under ``DIR`` (default ``build/``):

``autograder.zip``  Gradescope's upload.  Gradescope unpacks it into ``/autograder/source``,
                    runs ``setup.sh`` there once (pip and apt on its Ubuntu image), then runs
                    ``run_autograder`` per submission.  Holds the kit (``autograder/`` +
                    ``pyproject.toml``), ``assignment.toml``, ``hidden_tests/``, ``reference/``,
                    the public tests (``student_template/tests`` + ``pytest.ini``) and
                    ``datasets/<name>/public`` + ``private`` (the private labels).
``handout.zip``     for students: the template's ``src/``, ``tests/`` and ``pytest.ini``, the
                    public data split, a README, ``requirements.txt``, the PUBLIC part of the
                    kit (the ``autograder`` package: it holds no test, solution or label) and
                    ``assignment.toml`` with the salt replaced, so ``python -m autograder
                    selftest`` works in the unzipped folder.  Before writing it, the build
                    scans it (:func:`handout_leaks`) and refuses to write a handout holding a
                    hidden test, a line of a reference solution, or a private data file.

``--context DIR`` also writes the grading image's build context (see ``Dockerfile``):
``DIR/source/`` (the grading inputs, without the kit package: the image installs it as a
wheel), ``DIR/wheels/{base,torch}/`` hard-linked from the wheelhouse
(``scripts/build-wheelhouse.sh``, default ``build/wheelhouse``) and ``DIR/wheels/kit/`` with a
freshly built wheel of this project.

Which questions, data set and salt: ``--assignment`` (default the kit's ``assignment.toml``);
the selected questions' public tests only go into the handout.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any, Union

from . import atomicfile, config, paths, template

#: Source of one archive member: a file on disk or bytes.
Member = Union[Path, bytes]

#: Modules of the package that only make sense beside the instructor's kit (they read
#: reference/, mutants/ or examples/); left out of the handout, nothing imports them there.
INSTRUCTOR_ONLY = ("validate", "examples.py", "demo.py", "refmodels.py", "handout.py",
                   "handout_assets")
#: Never packed anywhere.
JUNK = ("__pycache__", "*.pyc", "*.pyo", ".pytest_cache", ".hypothesis", "*.egg-info", ".DS_Store")
#: Extra datasets/ folders (no public/private split) copied when smaller than this.
SUPPORT_DATA_MAX_BYTES = 10 * 2**20
HANDOUT_SALT = "handout-copy-not-the-grading-salt"
#: Stripped solution lines shorter than this are too generic to call a leak ("return out").
MIN_SOLUTION_LINE = 12


class BuildError(RuntimeError):
    """The build cannot be made (missing inputs, or the handout would leak a secret)."""


# ---------------------------------------------------------------------------- file trees
def _excluded(rel: PurePosixPath, patterns: tuple[str, ...] = JUNK) -> bool:
    import fnmatch
    return any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in patterns)


def _add_folder(tree: dict[str, Member], folder: Path, arcroot: str,
                exclude: tuple[str, ...] = JUNK) -> None:
    for path in sorted(folder.rglob("*")):
        rel = PurePosixPath(path.relative_to(folder).as_posix())
        if path.is_file() and not path.is_symlink() and not _excluded(rel, exclude):
            tree[f"{arcroot}/{rel}" if arcroot else str(rel)] = path


def _template_exclude(assignment: config.Assignment) -> tuple[str, ...]:
    extra = assignment.raw.get("template", {}).get("exclude", [])
    return template.DEFAULT_EXCLUDE + tuple(extra)


def _question_of_test(text: str) -> set[str]:
    return set(re.findall(r"""pytest\.mark\.question\(\s*["'](Q\d+)["']""", text))


def _selected_tests(files: dict[str, bytes], assignment: config.Assignment) -> dict[str, bytes]:
    """Public test files of the selected questions (files without a question mark are kept)."""
    wanted = set(assignment.ids)
    out = {}
    for name, data in files.items():
        marks = _question_of_test(data.decode("utf-8", "replace")) if name.endswith(".py") else set()
        if not marks or marks & wanted:
            out[name] = data
    return out


def _datasets(kit: Path, assignment: config.Assignment, private: bool) -> dict[str, Member]:
    """The assignment's data split (public, and private when asked) plus small support
    folders of ``datasets/`` that are not a split (e.g. ``datasets/lr``)."""
    root = kit / "datasets"
    tree: dict[str, Member] = {}
    split = root / assignment.dataset
    public = split / "public"
    if not public.is_dir():
        raise BuildError(f"{public}: the public split of {assignment.dataset!r} is missing; "
                         f"run `python -m autograder split --dataset {assignment.dataset}`")
    _add_folder(tree, public, f"datasets/{assignment.dataset}/public")
    if private:
        priv = split / "private"
        if not priv.is_dir():
            raise BuildError(f"{priv}: the private split of {assignment.dataset!r} is missing")
        _add_folder(tree, priv, f"datasets/{assignment.dataset}/private")
        if (split / "split.json").is_file():
            tree[f"datasets/{assignment.dataset}/split.json"] = split / "split.json"
    for folder in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if folder.name == assignment.dataset or (folder / "public").is_dir() or (folder / "private").is_dir():
            continue
        files = [p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()]
        if files and sum(p.stat().st_size for p in files) <= SUPPORT_DATA_MAX_BYTES:
            _add_folder(tree, folder, f"datasets/{folder.name}")
    return tree


def _kit_package(public_only: bool) -> dict[str, Member]:
    tree: dict[str, Member] = {}
    pkg = paths.PACKAGE_DIR
    for path in sorted(pkg.rglob("*")):
        rel = PurePosixPath(path.relative_to(pkg).as_posix())
        if not path.is_file() or _excluded(rel):
            continue
        if path.suffix not in (".py", ".json", ".typed"):
            continue
        if public_only and rel.parts[0] in INSTRUCTOR_ONLY:
            continue
        tree[f"autograder/{rel}"] = path
    return tree


def grading_tree(kit: Path, assignment: config.Assignment, with_kit: bool = True) -> dict[str, Member]:
    """What Gradescope's ``/autograder/source`` (and the image's) holds."""
    kit = Path(kit)
    reference = paths.reference_dir(kit)
    hidden = paths.hidden_tests_dir(kit)
    for folder in (reference, hidden):
        if not folder.is_dir():
            raise BuildError(f"{folder}: not found; build from the instructor's kit")
    tree: dict[str, Member] = {"assignment.toml": assignment.path.read_bytes(),
                               "run_autograder": kit / "run_autograder"}
    _add_folder(tree, reference, "reference", JUNK + template.DEFAULT_EXCLUDE)
    _add_folder(tree, hidden, "hidden_tests")
    rendered = template.render_tree(reference, _template_exclude(assignment))
    for name, data in rendered.items():
        if name.startswith("tests/") or name == "pytest.ini":
            tree[f"student_template/{name}"] = data
    tree.update(_datasets(kit, assignment, private=True))
    if with_kit:
        tree.update(_kit_package(public_only=False))
        tree["pyproject.toml"] = kit / "pyproject.toml"
        tree["README.md"] = (kit / "README.md") if (kit / "README.md").is_file() else b"# dl-autograder-kit\n"
        tree["setup.sh"] = setup_sh(assignment).encode()
    tree["lock_secrets.sh"] = lock_secrets_sh()
    return tree


def handout_assignment_text(assignment: config.Assignment) -> str:
    """The assignment file with the salt replaced (the hidden cases stay unpredictable)."""
    text = assignment.path.read_text("utf-8")
    new, count = re.subn(r'(?m)^(\s*salt\s*=\s*)(["\']).*?\2',
                         lambda m: f'{m.group(1)}"{HANDOUT_SALT}"', text)
    if count != 1 or assignment.salt in new:
        raise BuildError(f"{assignment.path}: could not replace the salt for the handout "
                         f"(expected one `salt = \"...\"` line)")
    return new


def handout_tree(kit: Path, assignment: config.Assignment) -> dict[str, Member]:
    """What students get."""
    reference = paths.reference_dir(Path(kit))
    rendered = template.render_tree(reference, _template_exclude(assignment))
    src = {n: d for n, d in rendered.items() if n.startswith("src/")}
    tests = _selected_tests({n: d for n, d in rendered.items() if n.startswith("tests/")}, assignment)
    tree: dict[str, Member] = {**src, **tests}
    if "pytest.ini" in rendered:
        tree["pytest.ini"] = rendered["pytest.ini"]
    tree.update(_datasets(Path(kit), assignment, private=False))
    sol = solution_lines(reference, _template_exclude(assignment))
    for name, member in _kit_package(public_only=True).items():
        if name.endswith(".py"):
            data, count = redact_solution_text(_bytes(member), sol)
            if count:
                print(f"build: warning: {name} quotes {count} line(s) of a reference solution in "
                      f"a docstring or comment; redacted in the handout (fix the source)",
                      file=sys.stderr)
                member = data
        tree[name] = member
    tree["assignment.toml"] = handout_assignment_text(assignment).encode()
    tree["requirements.txt"] = requirements_txt(Path(kit), assignment).encode()
    tree["README.md"] = handout_readme(assignment).encode()
    from . import handout
    try:
        tree.update(handout.documents(assignment, Path(kit)))
    except handout.HandoutError as exc:
        raise BuildError(f"the assignment document: {exc}") from None
    dangling = dangling_citations(tree)
    if dangling:
        raise BuildError("the handout cites sections its ASSIGNMENT.md does not have (fix the "
                         "citation or the prose in reference/questions/):\n  " + "\n  ".join(dangling))
    return tree


def dangling_citations(tree: dict[str, Member]) -> list[str]:
    """``file: citation`` for each citation of the document (``ASSIGNMENT.md §Q4 "Scripts"``)
    in a text file of the handout ``tree`` that names a section its ASSIGNMENT.md lacks."""
    from . import handout
    files = {}
    for name, member in tree.items():
        if name.endswith((".py", ".md", ".toml", ".txt", ".ini", ".sh")):
            files[name] = _bytes(member).decode("utf-8", "replace")
    return handout.dangling(files, files.get(handout.DOCUMENT_MD, ""))


# ---------------------------------------------------------------------------- generated texts
def _pyproject(kit: Path) -> dict[str, Any]:
    return tomllib.loads((kit / "pyproject.toml").read_text("utf-8"))["project"]


def _needs_torch(assignment: config.Assignment) -> bool:
    """Whether a selected question scores a torch model or its reference files import torch."""
    reference = paths.reference_dir(paths.kit_root())
    for q in assignment.questions:
        if q.model.get("interface") == "torch":
            return True
        for rel in q.files:
            path = reference / rel
            if path.is_file() and re.search(r"^\s*(import|from)\s+torch", path.read_text("utf-8"), re.M):
                return True
    return False


def requirements_txt(kit: Path, assignment: config.Assignment) -> str:
    project = _pyproject(kit)
    base = [r for r in project["dependencies"] if not r.startswith("docker")]
    lines = ["# python -m pip install -r requirements.txt", *base]
    torch = project.get("optional-dependencies", {}).get("torch", [])
    if torch:
        lines.append("# the PyTorch questions" + ("" if _needs_torch(assignment) else " (not in this assignment)"))
        lines += (torch if _needs_torch(assignment) else [f"# {r}" for r in torch])
    return "\n".join(lines) + "\n"


def _render(asset: str, **values: Any) -> str:
    """``autograder/build_assets/<asset>`` (a Jinja2 template, package data) rendered."""
    import jinja2
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             autoescape=False)
    env.filters["backticked"] = lambda text: f"`{text}`"
    source = (resources.files("autograder") / "build_assets" / asset).read_text("utf-8")
    return env.from_string(source).render(**values)


def lock_secrets_sh() -> bytes:
    """The root-only permissions of the grading files (``build_assets/lock_secrets.sh``): run by
    Gradescope's ``setup.sh`` and by the grading image's Dockerfile."""
    return (resources.files("autograder") / "build_assets" / "lock_secrets.sh").read_bytes()


def setup_sh(assignment: config.Assignment) -> str:
    """Gradescope's ``setup.sh``: runs once, as root, in /autograder/source on its Ubuntu image
    (``build_assets/setup.sh.j2``)."""
    return _render("setup.sh.j2", torch=_needs_torch(assignment))


def handout_readme(assignment: config.Assignment) -> str:
    """The handout's README.md (``build_assets/handout_README.md.j2``)."""
    return _render("handout_README.md.j2", assignment=assignment,
                   models=[q for q in assignment.questions if q.model])


# ---------------------------------------------------------------------------- zips
def _bytes(member: Member) -> bytes:
    return member if isinstance(member, bytes) else Path(member).read_bytes()


def _is_executable(name: str, member: Member) -> bool:
    if name in ("run_autograder", "setup.sh", "lock_secrets.sh"):
        return True
    return isinstance(member, Path) and os.access(member, os.X_OK) and member.suffix in (".sh", "")


def write_zip(tree: dict[str, Member], path: Path) -> Path:
    """A deterministic zip of ``tree`` (sorted, fixed timestamps), written atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomicfile.replacing(path) as tmp:
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(tree):
                info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = ((0o100755 if _is_executable(name, tree[name]) else 0o100644) << 16)
                zf.writestr(info, _bytes(tree[name]))
    return path


def write_tree(tree: dict[str, Member], dest: Path) -> Path:
    """Write ``tree`` as files under ``dest`` (replaced)."""
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    for name, member in tree.items():
        target = dest.joinpath(*PurePosixPath(name).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(_bytes(member))
        if _is_executable(name, member):
            target.chmod(0o755)
    return dest


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


# ---------------------------------------------------------------------------- image context
def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def build_kit_wheel(kit: Path, dest: Path) -> Path:
    """``pip wheel . --no-deps`` from a clean copy of the kit (no build/ droppings)."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="dlkit-wheel-") as tmp:
        work = Path(tmp) / "kit"
        work.mkdir()
        shutil.copy2(kit / "pyproject.toml", work / "pyproject.toml")
        readme = kit / "README.md"
        (work / "README.md").write_bytes(readme.read_bytes() if readme.is_file() else b"# kit\n")
        shutil.copytree(paths.PACKAGE_DIR, work / "autograder",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        # fixed timestamps: the same code gives the same wheel, so the image's layer is reused
        env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800"}
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                               "--disable-pip-version-check", "-w", str(dest), str(work)],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise BuildError(f"pip wheel of the kit failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    wheels = sorted(dest.glob("*.whl"))
    if not wheels:
        raise BuildError("pip wheel of the kit produced no wheel")
    return wheels[0]


def image_context(kit: Path, assignment: config.Assignment, dest: Path, wheelhouse: Path,
                  with_torch: bool = True) -> Path:
    """The build context of ``Dockerfile`` at ``dest`` (replaced)."""
    kit, dest, wheelhouse = Path(kit), Path(dest), Path(wheelhouse)
    sets = ["base"] + (["torch"] if with_torch else [])
    for name in sets:
        if not list((wheelhouse / name).glob("*.whl")):
            raise BuildError(f"{wheelhouse / name}: no wheels; run scripts/build-wheelhouse.sh"
                             + ("" if with_torch else " --no-torch"))
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    write_tree(grading_tree(kit, assignment, with_kit=False), dest / "source")
    for name in sets:
        for whl in sorted((wheelhouse / name).glob("*.whl")):
            _link_or_copy(whl, dest / "wheels" / name / whl.name)
    (dest / "wheels" / "torch").mkdir(parents=True, exist_ok=True)   # --find-links needs it
    project = _pyproject(kit)
    (dest / "wheels" / "requirements-base.txt").write_text("\n".join(project["dependencies"]) + "\n")
    (dest / "wheels" / "requirements-torch.txt").write_text(
        "\n".join(project.get("optional-dependencies", {}).get("torch", [])) + "\n")
    build_kit_wheel(kit, dest / "wheels" / "kit")
    # The dependency layer's cache key: the wheels (not the kit's, which has its own layer)
    # and the requirement lists.
    manifest = sorted(f"{p.relative_to(dest / 'wheels').as_posix()} {p.stat().st_size}"
                      for name in ("base", "torch") for p in (dest / "wheels" / name).glob("*.whl"))
    for req in ("requirements-base.txt", "requirements-torch.txt"):
        manifest.append(f"{req} {hashlib.sha256((dest / 'wheels' / req).read_bytes()).hexdigest()}")
    (dest / "wheels" / "MANIFEST").write_text("\n".join(manifest) + "\n")
    shutil.copy2(kit / "Dockerfile", dest / "Dockerfile")
    return dest


# ---------------------------------------------------------------------------- the verb
def build(kit: Path, assignment: config.Assignment, out: Path, context: Path | None = None,
          wheelhouse: Path | None = None, with_torch: bool = True) -> dict[str, Path]:
    kit, out = Path(kit), Path(out)
    written: dict[str, Path] = {}
    written["autograder.zip"] = write_zip(grading_tree(kit, assignment), out / "autograder.zip")
    handout = handout_tree(kit, assignment)
    leaks = handout_leaks(handout, kit, assignment)
    if leaks:
        raise BuildError("the handout would leak secrets; not written:\n  " + "\n  ".join(leaks))
    written["handout.zip"] = write_zip(handout, out / "handout.zip")
    if context is not None:
        written["context"] = image_context(kit, assignment, context,
                                           wheelhouse or kit / "build" / "wheelhouse", with_torch)
    return written


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``build`` verb on ``subparsers``; returns it."""
    p = subparsers.add_parser(
        "build", help="write autograder.zip (Gradescope) and handout.zip (students)",
        description="Write autograder.zip (Gradescope's upload: setup.sh, run_autograder, the "
                    "kit, hidden tests, reference, private labels) and handout.zip (the "
                    "template, public tests and data, the public kit; checked for leaks), and "
                    "optionally the grading image's build context.")
    p.add_argument("--out", metavar="DIR", help="output folder (default: build/ in the kit)")
    p.add_argument("--context", metavar="DIR",
                   help="also write the image build context here (for Dockerfile)")
    p.add_argument("--wheelhouse", metavar="DIR",
                   help="wheels made by scripts/build-wheelhouse.sh (default build/wheelhouse)")
    p.add_argument("--no-torch", action="store_true",
                   help="image context without torch (a numpy-only assignment)")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    kit = paths.kit_root()
    try:
        assignment = config.load(args.assignment)
        written = build(kit, assignment, Path(args.out) if args.out else kit / "build",
                        Path(args.context) if args.context else None,
                        Path(args.wheelhouse) if args.wheelhouse else None,
                        with_torch=not args.no_torch)
    except (config.ConfigError, BuildError, template.TemplateError) as exc:
        print(f"build: {exc}", file=sys.stderr)
        return 2
    for name, path in written.items():
        size = (path.stat().st_size if path.is_file() else
                sum(p.stat().st_size for p in path.rglob("*") if p.is_file()))
        print(f"{name:<15} {path}  ({size / 2**20:.1f} MB)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignment")
    sub = parser.add_subparsers()
    add_parser(sub)
    a = parser.parse_args(["build", *sys.argv[1:]])
    raise SystemExit(a.func(a))
