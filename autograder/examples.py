"""Example submissions (``examples/submissions/``), ready to grade.

* ``<name>.toml`` — generated from the reference by a small patch (``description``,
  ``breaks`` = the question whose code is wrong, ``[[edit]]`` search/replace tables on
  ``reference/src``); the reference's saved models are added next to ``src/``.
* ``<name>/`` — a literal submission folder (old layouts, exactly as students hand them in),
  with an optional ``expect.toml`` describing its expected grade.

``python -m autograder examples --out DIR`` writes every example as a folder (and a .zip of
each generated one, the way Gradescope users upload).
"""
from __future__ import annotations

import dataclasses
import shutil
import tomllib
import zipfile
from pathlib import Path

from . import paths, refmodels
from .validate import catalogue


@dataclasses.dataclass(frozen=True)
class Example:
    name: str
    description: str
    breaks: str | None
    variant: catalogue.Variant | None      # generated examples
    folder: Path | None                    # literal examples

    def materialise(self, dest: Path, dataset: str = "digits", kit: Path | None = None) -> Path:
        """Write this example as a submission folder at ``dest``."""
        kit = Path(kit or paths.kit_root())
        if self.folder is not None:
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(self.folder, dest, ignore=shutil.ignore_patterns("expect.toml", "__pycache__"))
            return dest
        catalogue.materialise(paths.reference_dir(kit), dest, self.variant)
        refmodels.add_reference_models(dest, dataset, kit)
        return dest


def load(kit: Path | None = None) -> list[Example]:
    kit = Path(kit or paths.kit_root())
    folder = kit / "examples" / "submissions"
    out: list[Example] = []
    for path in sorted(folder.glob("*.toml")):
        data = tomllib.loads(path.read_text("utf-8"))
        edits = tuple(catalogue.Edit(e["file"], e["find"], e["replace"]) for e in data.get("edit", []))
        if not edits:
            raise catalogue.CatalogueError(f"{path.name}: an example needs at least one [[edit]]")
        variant = catalogue.Variant("example", path.stem, data["breaks"], data["description"], edits,
                                    source=path.name)
        out.append(Example(path.stem, data["description"], data["breaks"], variant, None))
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        expect = sub / "expect.toml"
        meta = tomllib.loads(expect.read_text("utf-8")) if expect.is_file() else {}
        out.append(Example(sub.name, meta.get("description", sub.name), meta.get("breaks"), None, sub))
    return out


def write_all(dest: Path, kit: Path | None = None, zips: bool = True) -> list[Path]:
    """Materialise every example under ``dest`` (and a .zip of each); returns the folders."""
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for ex in load(kit):
        folder = ex.materialise(dest / ex.name, kit=kit)
        written.append(folder)
        if zips and ex.variant is not None:
            with zipfile.ZipFile(dest / f"{ex.name}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
                for p in sorted(folder.rglob("*")):
                    if p.is_file() and "__pycache__" not in p.parts:
                        zf.write(p, Path(ex.name) / p.relative_to(folder))
    return written
