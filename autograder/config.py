"""Load and validate ``assignment.toml``.

Validation has two layers, and every problem found is reported at once:

1. structure, against ``schemas/assignment.schema.json`` (jsonschema): unknown keys, wrong
   types, missing fields — "questions.Q4.points: 'ten' is not of type 'number'";
2. meaning, against the kit: every ``files`` entry exists in ``reference/``, every
   ``functions``/``calls`` entry names a top-level ``def`` or ``class`` of its module there,
   ``include`` names known questions.

:func:`load` returns an :class:`Assignment` whose questions are the selected subset
(``include``) with their limits merged over the defaults.
"""
from __future__ import annotations

import ast
import dataclasses
import copy
import json
import re
import tomllib
from pathlib import Path
from typing import Any, Collection

import jsonschema

from . import paths

SCHEMA_PATH = paths.PACKAGE_DIR / "schemas" / "assignment.schema.json"

DEFAULT_LIMITS: dict[str, float] = {
    "test_timeout_s": 10, "question_timeout_s": 60, "cpu_s": 30, "memory_mb": 2048, "max_processes": 64,
    "max_file_mb": 64, "max_open_files": 256, "max_output_kb": 64, "max_output_mb": 16,
    "max_reply_mb": 256,
}


#: Default ``[assignment] tests_timeout_s``: wall-clock seconds all the tests of one submission
#: may spend in student code together (the reference needs about 45 s for the whole assignment).
DEFAULT_TESTS_TIMEOUT_S = 420.0
#: Seconds allowed, in :meth:`Assignment.time_bound_s`, for intake, worker starts and results.
STARTUP_ALLOWANCE_S = 60.0


class ConfigError(ValueError):
    """``assignment.toml`` is invalid; the message lists every problem found."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """Per-test resource limits of the student worker."""

    test_timeout_s: float
    question_timeout_s: float
    cpu_s: float
    memory_mb: int
    max_processes: int
    max_file_mb: int
    max_open_files: int
    max_output_kb: int
    max_output_mb: int
    max_reply_mb: int

    @classmethod
    def merged(cls, *layers: dict[str, Any]) -> "Limits":
        values = dict(DEFAULT_LIMITS)
        for layer in layers:
            values.update(layer or {})
        return cls(**values)


@dataclasses.dataclass(frozen=True)
class Question:
    """One graded question."""

    id: str
    title: str
    points: float
    files: tuple[str, ...]
    functions: tuple[str, ...]
    calls: tuple[str, ...] = ()
    seed: str = ""
    bonus: bool = False
    limits: Limits = Limits.merged()
    model: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def number(self) -> int:
        return int(self.id[1:])


@dataclasses.dataclass(frozen=True)
class Assignment:
    """A validated assignment: its settings and its selected questions, in number order."""

    name: str
    salt: str
    dataset: str
    show_stdout: bool
    questions: tuple[Question, ...]
    path: Path
    raw: dict[str, Any]
    tests_timeout_s: float = DEFAULT_TESTS_TIMEOUT_S

    def question_budget_s(self, qid: str) -> float:
        """Wall-clock seconds all the tests of question ``qid`` may spend in student code
        together: its ``question_timeout_s``, and never less than one test's ``test_timeout_s``."""
        limits = self.question(qid).limits
        return float(max(limits.question_timeout_s, limits.test_timeout_s))

    def time_bound_s(self) -> float:
        """An upper bound on grading one submission: the tests' budget (each question's budget
        summed, at most ``tests_timeout_s``), every saved model's ``total_timeout_s``, and
        :data:`STARTUP_ALLOWANCE_S` for intake, worker starts and writing results."""
        tests = min(self.tests_timeout_s, sum(self.question_budget_s(q.id) for q in self.questions))
        models = sum(float(q.model.get("total_timeout_s", 120)) for q in self.questions if q.model)
        return tests + models + STARTUP_ALLOWANCE_S

    def dependencies(self) -> dict[str, set[str]]:
        """question id -> the other questions whose functions it calls, directly or through
        them (its ``calls`` matched against their ``functions``)."""
        owner = {fn: q.id for q in self.questions for fn in q.functions}
        direct = {q.id: {owner[c] for c in q.calls if c in owner} - {q.id} for q in self.questions}
        closure: dict[str, set[str]] = {}
        for qid in direct:
            seen: set[str] = set()
            todo = list(direct[qid])
            while todo:
                dep = todo.pop()
                if dep not in seen:
                    seen.add(dep)
                    todo.extend(direct.get(dep, ()))
            closure[qid] = seen - {qid}
        return closure

    def run_order(self, later: Collection[str] = ()) -> list[str]:
        """The order in which the questions' tests run when grading: questions that call no
        other question's functions first, then by how many questions they depend on; among
        equals the questions in ``later`` (those whose tests fork from a zygote that preloads
        a library such as torch, started in the background: it has the others' time to come
        up), then the file's order.  A function that hangs costs its own question's budget
        early and its callers' budgets last, so the questions that do not call it are graded
        before its callers can use up the submission's time budget (``tests_timeout_s``).
        Hidden cases are seeded per test, not by position: the order changes no case."""
        deps = self.dependencies()
        index = {q.id: i for i, q in enumerate(self.questions)}
        return sorted(index, key=lambda qid: (len(deps[qid]), qid in later, index[qid]))

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(f"question {qid!r} is not in {self.path.name} "
                       f"(selected: {', '.join(q.id for q in self.questions)})")

    @property
    def ids(self) -> list[str]:
        return [q.id for q in self.questions]

    def owner_of(self, function: str) -> Question | None:
        """The question whose ``functions`` list ``function``, if selected."""
        for q in self.questions:
            if function in q.functions:
                return q
        return None


def _schema_errors(data: dict[str, Any]) -> list[str]:
    schema = json.loads(SCHEMA_PATH.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path))):
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        problems.append(f"{where}: {err.message}")
    return problems


def _top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def _function_problem(reference: Path, dotted: str, where: str,
                      names: dict[Path, set[str]] | None = None) -> str | None:
    """Why ``dotted`` (``module.attr``) is not a top-level def, class or assignment of the
    reference's ``src/module.py`` (None when it is); ``names`` caches each file's names."""
    module, _, attr = dotted.rpartition(".")
    module_file = reference / "src" / (module.replace(".", "/") + ".py")
    if not module_file.is_file():
        return f"{where}: {dotted!r}: no module src/{module.replace('.', '/')}.py in reference/"
    if names is None:
        names = {}
    if module_file not in names:
        names[module_file] = _top_level_names(module_file)
    if attr not in names[module_file]:
        return (f"{where}: {dotted!r}: src/{module.replace('.', '/')}.py in reference/ has no "
                f"top-level def or class {attr!r}")
    return None


def _semantic_errors(data: dict[str, Any], reference: Path | None) -> list[str]:
    problems = []
    questions = data["questions"]
    for qid in data["assignment"].get("include", []):
        if qid not in questions:
            problems.append(f"assignment.include: {qid!r} is not a question of this file "
                            f"(known: {', '.join(questions)})")
    if reference is None or not reference.is_dir():
        return problems
    missing_modules: set[str] = set()
    names: dict[Path, set[str]] = {}        # each module file parsed once
    for qid, q in questions.items():
        for i, rel in enumerate(q["files"]):
            if not (reference / rel).is_file():
                problems.append(f"questions.{qid}.files.{i}: {rel!r} does not exist in reference/")
        for key in ("functions", "calls"):
            for i, dotted in enumerate(q.get(key, [])):
                module = dotted.rpartition(".")[0]
                if module in missing_modules:
                    continue
                problem = _function_problem(reference, dotted, f"questions.{qid}.{key}.{i}", names)
                if problem and "no module" in problem:
                    missing_modules.add(module)
                if problem:
                    problems.append(problem)
    return problems


def parse(data: dict[str, Any], path: Path, reference: Path | None) -> Assignment:
    """Validate already-parsed TOML ``data`` and build the :class:`Assignment`."""
    problems = _schema_errors(data)
    if not problems:
        problems = _semantic_errors(data, reference)
    if problems:
        raise ConfigError(f"{path}: invalid assignment file:\n  " + "\n  ".join(problems))
    settings = data["assignment"]
    default_limits = data.get("limits", {})
    include = settings.get("include")
    questions = []
    for qid, q in sorted(data["questions"].items(), key=lambda kv: int(kv[0][1:])):
        if include is not None and qid not in include:
            continue
        questions.append(Question(
            id=qid, title=q["title"], points=float(q["points"]), files=tuple(q["files"]),
            functions=tuple(q["functions"]), calls=tuple(q.get("calls", ())),
            seed=q.get("seed", ""), bonus=bool(q.get("bonus", False)),
            limits=Limits.merged(default_limits, q.get("limits", {})),
            model=dict(q.get("model", {}))))
    return Assignment(name=settings["name"], salt=settings["salt"],
                      dataset=settings.get("dataset", "digits"),
                      show_stdout=bool(settings.get("show_stdout", False)),
                      questions=tuple(questions), path=Path(path), raw=data,
                      tests_timeout_s=float(settings.get("tests_timeout_s", DEFAULT_TESTS_TIMEOUT_S)))


def load(path: Path | str | None = None, reference: Path | None = None) -> Assignment:
    """Read, validate and return the assignment at ``path`` (default: the kit's)."""
    path = Path(path) if path is not None else paths.default_assignment()
    if not path.is_file():
        raise ConfigError(f"{path}: assignment file not found; expected a TOML file like the "
                          f"kit's assignment.toml")
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse(data, path, reference or _reference_beside(path))


def _reference_beside(path: Path) -> Path:
    reference = paths.reference_dir(Path(path).resolve().parent)
    return reference if reference.is_dir() else paths.reference_dir()


def restrict(assignment: Assignment, include: list[str] | tuple[str, ...],
             reference: Path | None = None) -> Assignment:
    """``assignment`` with only the questions ``include`` (as its ``[assignment] include``
    would select them), validated like a file: an unknown id raises :class:`ConfigError`."""
    data = copy.deepcopy(assignment.raw)
    data["assignment"]["include"] = list(include)
    return parse(data, assignment.path, reference or _reference_beside(assignment.path))


_INCLUDE_LINE = re.compile(r"(?m)^(#\s*)?include\s*=.*$")


def write_restricted(path: Path | str, include: list[str] | tuple[str, ...], dest: Path | str,
                     reference: Path | None = None) -> Path:
    """Write the assignment file ``path`` to ``dest`` with ``[assignment] include`` set to
    ``include`` and every other line (comments too) kept; ``dest`` is validated (an unknown id
    raises :class:`ConfigError`).  For commands that take an assignment file."""
    text = Path(path).read_text("utf-8")
    line = f"include = {json.dumps(list(include))}"
    head, sep, rest = text.partition("[assignment]\n")
    if not sep:
        raise ConfigError(f"{path}: no [assignment] table; expected a file like the kit's "
                          f"assignment.toml")
    table_end = re.search(r"(?m)^\[", rest)
    table, after = (rest[:table_end.start()], rest[table_end.start():]) if table_end else (rest, "")
    if _INCLUDE_LINE.search(table):
        table = _INCLUDE_LINE.sub(lambda m: line + "  # was: " + m.group(0).lstrip("# "), table, count=1)
    else:
        table = line + "\n" + table
    Path(dest).write_text(head + sep + table + after, "utf-8")
    load(dest, reference=reference or _reference_beside(Path(path)))
    return Path(dest)
