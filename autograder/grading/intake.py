"""Accept a submission as students really make it, and stage it in the contract layout.

A submission is a folder or a ``.zip``.  Students zip whatever folder they worked in, and
Gradescope puts uploaded files flat in ``/autograder/submission/``; so each expected file
(``src/layers.py``, ``src/utils/optim.py``, ...) is looked for by its contract path below any
of these *layout roots*: the submission root, ``src/``, ``python/`` (the CMU/GIST layout),
``assignment2_advanced/src/``, and the same inside one extra top-level folder.

Staging writes ``<dest>/src/<file>`` for every file found (plus the rest of the folder the
student worked in, so their own helper modules import), and copies loose model files
(``*.safetensors``, ``*.pt``, ``*.npz``, ``*.json``, ``*.pkl``) to ``<dest>/``, the
submission root ``src/test.py``'s default model path is relative to.

Refused, each with a message naming what was found and what was expected:
  * zip entries that are symlinks, absolute paths or contain ``..`` (zip-slip);
  * archives that would expand past :data:`MAX_TOTAL_BYTES` or hold too many entries —
    checked from the archive's directory before anything is written;
  * two candidates for the same contract path (ambiguous): the file is left out, so only
    the questions that need it lose points.

Handled silently: ``__pycache__``, ``.DS_Store``, ``__MACOSX/``, editor backups, ``.git``,
notebook checkpoints; CRLF line endings and a UTF-8 BOM in ``.py`` files are normalised.
"""
from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

MAX_TOTAL_BYTES = 512 * 2**20
MAX_ENTRIES = 20000
MAX_FILE_BYTES = 256 * 2**20
LAYOUT_PREFIXES = ("", "src", "python", "assignment2_advanced/src")
JUNK = ("__pycache__", "*.pyc", "*.pyo", ".DS_Store", "__MACOSX", "._*", "*~", "*.swp",
        "*.swo", ".#*", "#*#", ".git", ".hg", ".svn", ".ipynb_checkpoints", ".idea", ".vscode",
        "Thumbs.db", ".pytest_cache", "*.egg-info")
MODEL_PATTERNS = ("*.safetensors", "*.pt", "*.pth", "*.npz", "*.json", "*.pkl", "*.pickle", "*.h5",
                  "*.keras", "*.onnx")


class IntakeError(ValueError):
    """The submission as a whole cannot be accepted (bad archive, too large, not found)."""


@dataclasses.dataclass
class Staged:
    """A staged submission."""

    root: Path                                   # holds src/
    found: dict[str, str]                        # contract path -> where it was found
    missing: list[str]                           # contract paths not found
    ambiguous: dict[str, list[str]]              # contract path -> candidates
    notes: list[str]                             # normalisations made, layout used
    digest: str                                  # sha256 of the staged student files
    skipped: list[str] = dataclasses.field(default_factory=list)   # oversized files left out

    def problems(self) -> list[str]:
        out = []
        for path, candidates in self.ambiguous.items():
            out.append(f"{path}: found {len(candidates)} candidates ({', '.join(candidates)}); "
                       f"expected exactly one — remove the extra copies. Questions that need "
                       f"this file were graded without it.")
        for path in self.skipped:
            out.append(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MB, so it was left out; "
                       f"questions that need it were graded without it.")
        for path in self.missing:
            out.append(f"{path}: not found in the submission (looked at the top level, src/, "
                       f"python/, assignment2_advanced/src/ and inside one extra top-level "
                       f"folder). Questions that need this file score 0.")
        return out


def _is_junk(rel: PurePosixPath) -> bool:
    return any(fnmatch.fnmatch(part, pat) for part in rel.parts for pat in JUNK)


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract ``archive`` into ``dest`` after checking every entry; nothing is written when
    any entry is refused."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise IntakeError(f"{archive.name}: not a readable zip archive ({exc}); expected a .zip "
                          f"of your assignment folder") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > MAX_ENTRIES:
            raise IntakeError(f"{archive.name}: {len(infos)} entries; the limit is {MAX_ENTRIES}")
        total = 0
        for info in infos:
            name = info.filename
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise IntakeError(f"{archive.name}: entry {name!r} is a symbolic link; links are "
                                  f"refused — zip the files themselves")
            if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
                raise IntakeError(f"{archive.name}: entry {name!r} has an absolute path; expected "
                                  f"paths relative to the archive")
            if ".." in PurePosixPath(name.replace("\\", "/")).parts:
                raise IntakeError(f"{archive.name}: entry {name!r} contains '..'; entries must stay "
                                  f"inside the archive")
            total += info.file_size
            if info.file_size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES:
                raise IntakeError(
                    f"{archive.name}: expands to more than {MAX_TOTAL_BYTES // 2**20} MB "
                    f"(at entry {name!r}); the limit is {MAX_TOTAL_BYTES // 2**20} MB in all and "
                    f"{MAX_FILE_BYTES // 2**20} MB per file — leave data sets out of the submission")
        dest.mkdir(parents=True, exist_ok=True)
        for info in infos:
            rel = PurePosixPath(info.filename.replace("\\", "/"))
            if info.is_dir() or _is_junk(rel):
                continue
            target = dest.joinpath(*rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)


def _check_folder_size(root: Path) -> list[str]:
    """Oversized files of a folder submission (skipped, each with a message); refuse the whole
    folder when what remains is still too much.  Nothing is copied before this check."""
    total = 0
    count = 0
    oversized = []
    for path in root.rglob("*"):
        if path.is_symlink() or not path.is_file() or _is_junk(PurePosixPath(path.relative_to(root).as_posix())):
            continue
        size = path.stat().st_size
        rel = path.relative_to(root).as_posix()
        if size > MAX_FILE_BYTES:
            oversized.append(rel)
            continue
        count += 1
        total += size
        if total > MAX_TOTAL_BYTES or count > MAX_ENTRIES:
            raise IntakeError(f"the submission holds more than {MAX_TOTAL_BYTES // 2**20} MB or "
                              f"{MAX_ENTRIES} files; leave data sets out of the submission")
    return oversized


def _candidate_roots(root: Path) -> list[Path]:
    tops = [p for p in sorted(root.iterdir()) if p.is_dir() and not _is_junk(PurePosixPath(p.name))]
    bases = [root] + tops
    return [base / prefix if prefix else base for base in bases for prefix in LAYOUT_PREFIXES]


def _normalise_python(data: bytes) -> tuple[bytes, list[str]]:
    notes = []
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        notes.append("UTF-8 byte-order mark removed")
    if b"\r\n" in data:
        data = data.replace(b"\r\n", b"\n")
        notes.append("CRLF line endings converted")
    return data, notes


def stage(submission: Path, dest: Path, expected: list[str], work: Path | None = None) -> Staged:
    """Stage ``submission`` (folder or zip) into ``dest`` (created) in the contract layout.

    ``expected`` lists contract paths such as ``src/layers.py``.
    """
    submission = Path(submission)
    if not submission.exists():
        raise IntakeError(f"{submission}: no such file or folder; expected the submission "
                          f"folder or a .zip of it")
    if submission.is_file():
        if submission.suffix.lower() != ".zip":
            raise IntakeError(f"{submission.name}: expected a folder or a .zip archive")
        unpacked = (work or dest.parent) / (dest.name + "-unzipped")
        safe_extract(submission, unpacked)
        source_root = unpacked
    oversized: list[str] = []
    if submission.is_dir():
        source_root = submission
        oversized = _check_folder_size(submission)
    dest.mkdir(parents=True, exist_ok=True)
    roots = [r for r in _candidate_roots(source_root) if r.is_dir()]

    found: dict[str, str] = {}
    picked: dict[str, Path] = {}
    ambiguous: dict[str, list[str]] = {}
    missing: list[str] = []
    layout_votes: dict[Path, int] = {}
    for contract in expected:
        rel = PurePosixPath(contract).relative_to("src") if contract.startswith("src/") else PurePosixPath(contract)
        candidates = []
        for base in roots:
            path = base.joinpath(*rel.parts)
            if path.is_file() and not path.is_symlink() and path.resolve() not in [c.resolve() for c in candidates]:
                candidates.append(path)
        if not candidates:
            missing.append(contract)
        elif len(candidates) > 1:
            ambiguous[contract] = [c.relative_to(source_root).as_posix() for c in candidates]
        else:
            picked[contract] = candidates[0]
            found[contract] = candidates[0].relative_to(source_root).as_posix()
            base = candidates[0].parents[len(rel.parts) - 1]
            layout_votes[base] = layout_votes.get(base, 0) + 1

    notes: list[str] = []
    src_dest = dest / "src"
    src_dest.mkdir(exist_ok=True)
    main_root = max(layout_votes, key=lambda b: layout_votes[b]) if layout_votes else None
    if main_root is not None:
        where = (main_root.relative_to(source_root).as_posix() + "/" if main_root != source_root
                 else "the top level of the submission")
        notes.append(f"found your code in {where}")
        # the rest of the folder the student worked in: their own helper modules
        for path in sorted(main_root.rglob("*")):
            rel = PurePosixPath(path.relative_to(main_root).as_posix())
            if (path.is_file() and not path.is_symlink() and not _is_junk(rel) and path.suffix == ".py"
                    and path.stat().st_size <= MAX_FILE_BYTES):
                target = src_dest.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target)
    for contract, path in picked.items():
        target = dest.joinpath(*PurePosixPath(contract).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    for contract in ambiguous:
        target = dest.joinpath(*PurePosixPath(contract).parts)
        if target.exists():
            target.unlink()
    # model files and other data next to the code (test.py's default model path is relative
    # to the submission root)
    model_dirs = {source_root}
    if main_root is not None:
        model_dirs |= {main_root, main_root.parent}
    for folder in model_dirs:
        for path in sorted(folder.iterdir()):
            if path.is_file() and not path.is_symlink() and any(fnmatch.fnmatch(path.name, p) for p in MODEL_PATTERNS):
                if path.stat().st_size > MAX_FILE_BYTES:
                    continue
                if not (dest / path.name).exists():
                    shutil.copyfile(path, dest / path.name)
    # normalise Python sources
    changed = set()
    for path in src_dest.rglob("*.py"):
        data, what = _normalise_python(path.read_bytes())
        if what:
            path.write_bytes(data)
            changed.update(what)
    if changed:
        notes.append("; ".join(sorted(changed)) + " in your .py files")
    for package in [src_dest, *[p for p in src_dest.rglob("*") if p.is_dir()]]:
        init = package / "__init__.py"
        if not init.exists():
            init.write_text("")
    digest = hashlib.sha256()
    for path in sorted(p for p in dest.rglob("*") if p.is_file()):
        digest.update(path.relative_to(dest).as_posix().encode() + b"\0" + path.read_bytes())
    return Staged(root=dest, found=found, missing=missing, ambiguous=ambiguous, notes=notes,
                  digest=digest.hexdigest(), skipped=oversized)
