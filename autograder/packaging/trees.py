"""The file trees of a release and the texts generated for them: Gradescope's
``autograder.zip`` (and the image's ``source/``), the students' ``handout.zip``, ``setup.sh``,
the handout README and ``requirements.txt`` (templates in ``autograder/build_assets/``), and
deterministic zips."""
from __future__ import annotations

import os
import re
import shutil
import sys
import tomllib
import zipfile
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from .. import atomicfile, config, paths, template
from . import JUNK, BuildError, Member, _bytes, _excluded, _template_exclude
from .leaks import redact_solution_text, solution_lines

#: Modules of the package that only make sense beside the instructor's kit (they read
#: reference/, mutants/ or examples/); left out of the handout, nothing imports them there.
INSTRUCTOR_ONLY = ("validate", "examples.py", "demo.py", "refmodels.py", "handout",
                   "handout_assets")
#: Extra datasets/ folders (no public/private split) copied when smaller than this.
SUPPORT_DATA_MAX_BYTES = 10 * 2**20
HANDOUT_SALT = "handout-copy-not-the-grading-salt"


# ---------------------------------------------------------------------------- file trees
def _add_folder(tree: dict[str, Member], folder: Path, arcroot: str,
                exclude: tuple[str, ...] = JUNK) -> None:
    for path in sorted(folder.rglob("*")):
        rel = PurePosixPath(path.relative_to(folder).as_posix())
        if path.is_file() and not path.is_symlink() and not _excluded(rel, exclude):
            tree[f"{arcroot}/{rel}" if arcroot else str(rel)] = path


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
    from .. import handout
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
    from .. import handout
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

