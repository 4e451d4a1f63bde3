"""The mutant catalogue: single-bug variants and equivalent alternatives of the reference.

One TOML file per area in ``mutants/`` (e.g. ``mutants/q01_linear_relu.toml``)::

    [[mutant]]
    id = "A3"                          # numerics.md §4 row, or an own id (e.g. "TL2")
    question = "Q1"
    description = "db keeps a singleton axis: shape (1, M) instead of (M,)"
    file = "src/layers.py"
    find = "db = dout.sum(axis=0)"     # must occur EXACTLY once in the reference file
    replace = "db = dout.sum(axis=0, keepdims=True)"
    # optional: more edits of the same variant
    # [[mutant.edit]]  file = ... find = ... replace = ...

    [[alternative]]                    # valid code that must keep full marks
    id = "D7-binomial"
    question = "Q2"
    description = "mask drawn with np.random.binomial instead of rand() > p"
    allowed_by = 'ASSIGNMENT.md §Q2 "Conventions and accepted alternatives"'
    file = ...; find = ...; replace = ...

    [[not_applicable]]                 # numerics.md §4 rows this assignment does not grade
    id = "O6"
    reason = "Adam is not part of the assignment"

A patch that no longer applies (its ``find`` text is missing or ambiguous) is an error, never a
skip: :class:`CatalogueError` names the variant, the file and what was found.
"""
from __future__ import annotations

import dataclasses
import shutil
import tomllib
from pathlib import Path
from typing import Any


class CatalogueError(ValueError):
    """A malformed catalogue entry or a patch that does not apply."""


@dataclasses.dataclass(frozen=True)
class Edit:
    file: str
    find: str
    replace: str


@dataclasses.dataclass(frozen=True)
class Variant:
    kind: str                  # "mutant" | "alternative"
    id: str
    question: str
    description: str
    edits: tuple[Edit, ...]
    allowed_by: str = ""
    source: str = ""

    def apply(self, root: Path) -> None:
        """Apply the edits to the copy of the reference at ``root`` (in place)."""
        for edit in self.edits:
            path = root / edit.file
            if not path.is_file():
                raise CatalogueError(f"{self.kind} {self.id} ({self.source}): {edit.file} does not exist")
            text = path.read_text("utf-8")
            count = text.count(edit.find)
            if count != 1:
                raise CatalogueError(
                    f"{self.kind} {self.id} ({self.source}): the text to replace occurs {count} times "
                    f"in {edit.file}; expected exactly once — the reference changed, update the patch:\n"
                    f"{edit.find}")
            path.write_text(text.replace(edit.find, edit.replace), "utf-8")


@dataclasses.dataclass(frozen=True)
class NotApplicable:
    id: str
    reason: str
    source: str


@dataclasses.dataclass
class Catalogue:
    mutants: list[Variant]
    alternatives: list[Variant]
    not_applicable: list[NotApplicable]

    def by_id(self, ident: str) -> Variant:
        for v in self.mutants + self.alternatives:
            if v.id == ident:
                return v
        raise KeyError(ident)


_REQUIRED = ("id", "question", "description")


def _edits(entry: dict[str, Any], where: str) -> tuple[Edit, ...]:
    edits = []
    if "find" in entry or "file" in entry:
        edits.append(entry)
    edits.extend(entry.get("edit", []))
    if not edits:
        raise CatalogueError(f"{where}: no edit (expected file/find/replace or [[...edit]] tables)")
    out = []
    for e in edits:
        missing = [k for k in ("file", "find", "replace") if k not in e]
        if missing:
            raise CatalogueError(f"{where}: edit lacks {', '.join(missing)}")
        if not e["find"]:
            raise CatalogueError(f"{where}: empty 'find' text")
        out.append(Edit(e["file"], e["find"], e["replace"]))
    return tuple(out)


def load(folder: Path) -> Catalogue:
    """Read every ``*.toml`` in ``folder``; ids must be unique across files."""
    mutants, alternatives, na = [], [], []
    seen: dict[str, str] = {}
    for path in sorted(Path(folder).glob("*.toml")):
        try:
            data = tomllib.loads(path.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CatalogueError(f"{path.name}: not valid TOML: {exc}") from None
        unknown = set(data) - {"mutant", "alternative", "not_applicable"}
        if unknown:
            raise CatalogueError(f"{path.name}: unknown tables {sorted(unknown)}")
        for kind, bucket in (("mutant", mutants), ("alternative", alternatives)):
            for i, entry in enumerate(data.get(kind, [])):
                where = f"{path.name}: {kind} #{i + 1} ({entry.get('id', '?')})"
                missing = [k for k in _REQUIRED if k not in entry]
                if missing:
                    raise CatalogueError(f"{where}: missing {', '.join(missing)}")
                if kind == "alternative" and not entry.get("allowed_by"):
                    raise CatalogueError(f"{where}: an alternative must quote what allows it (allowed_by)")
                if entry["id"] in seen:
                    raise CatalogueError(f"{where}: id {entry['id']!r} already used in {seen[entry['id']]}")
                seen[entry["id"]] = path.name
                bucket.append(Variant(kind, entry["id"], entry["question"], entry["description"],
                                      _edits(entry, where), entry.get("allowed_by", ""), path.name))
        for entry in data.get("not_applicable", []):
            if "id" not in entry or "reason" not in entry:
                raise CatalogueError(f"{path.name}: not_applicable entries need id and reason")
            na.append(NotApplicable(entry["id"], entry["reason"], path.name))
    return Catalogue(mutants, alternatives, na)


def materialise(reference: Path, dest: Path, variant: Variant | None) -> Path:
    """Copy ``reference/src`` to ``dest/src`` and apply ``variant`` (None: plain copy)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(Path(reference) / "src", dest / "src",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if variant is not None:
        variant.apply(dest)
    return dest
