"""Find the submissions of a batch and who made them.

Two layouts of ``SUBMISSIONS_DIR``:

* plain: every folder and every ``.zip`` in it is one submission, named after it (a folder
  and a zip with the same name, as ``python -m autograder examples`` writes them, count once:
  the folder);
* Gradescope's bulk export: ``submission_metadata.yml`` beside one folder per submission
  (``submission_123456/``).  The YAML maps each folder to its submitters::

      submission_123456:
        :submitters:
        - :name: Ada Lovelace
          :sid: '42'
          :email: ada@example.edu
        :created_at: 2026-10-01 12:00:00.000000000 -07:00
        :score: 0.0

  It is read with PyYAML's ``safe_load`` when PyYAML is installed (no object construction),
  else — or when ``safe_load`` fails — with :func:`parse_metadata_text`, a small parser for
  exactly this shape.  Nothing in it is ever executed.

Submissions travel to workers as data: :func:`pack` makes a tar of the submission's files
(zips are opened with the kit's checked extraction, :func:`autograder.grading.intake.safe_extract`;
symbolic links are dropped) and :func:`unpack` writes it back with tarfile's ``data`` filter.
"""
from __future__ import annotations

import dataclasses
import errno
import io
import re
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from ..grading import intake

METADATA = "submission_metadata.yml"
_SKIP = ("__MACOSX", ".DS_Store")


@dataclasses.dataclass(frozen=True)
class Submission:
    id: str                                   # safe as a file name; unique in the batch
    path: Path                                # folder or .zip
    submitters: tuple[dict[str, str], ...] = ()

    @property
    def names(self) -> str:
        return "; ".join(s.get("name", "") for s in self.submitters)


def safe_id(name: str) -> str:
    """A file-name-safe id for ``name`` (letters, digits, ``._-``)."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "submission"
    return cleaned[:120]


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        inner = value[1:-1]
        return inner.replace("''", "'") if value[0] == "'" else inner.replace('\\"', '"')
    return value


def parse_metadata_text(text: str) -> dict[str, dict[str, Any]]:
    """Gradescope's ``submission_metadata.yml`` without a YAML library: the top-level keys,
    each with its ``:submitters:`` list of ``:key: value`` mappings and its other scalar
    fields as strings (nested structures are skipped)."""
    out: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    field_indent = -1                 # indent of the current entry's own fields
    sub_indent = -1                   # indent of ":submitters:" while inside its list
    person: dict[str, str] | None = None
    pair = re.compile(r"^(:?[A-Za-z_]\w*):(?:\s+(.*))?$")
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#") or raw.strip() in ("---", "..."):
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        line = raw.strip()
        if indent == 0:
            key = line[:-1] if line.endswith(":") else line.split(":", 1)[0]
            current = out.setdefault(_unquote(key), {})
            field_indent, sub_indent, person = -1, -1, None
            continue
        if current is None:
            continue
        if sub_indent >= 0:
            if line.startswith("-") and indent >= sub_indent:
                person = {}
                current[":submitters"].append(person)
                line = line[1:].strip()
                if not line:
                    continue
            elif not (indent > sub_indent and person is not None):
                sub_indent, person = -1, None
            if sub_indent >= 0:
                m = pair.match(line)
                if m and person is not None:
                    person[m.group(1)] = _unquote(m.group(2) or "")
                continue
        if field_indent < 0:
            field_indent = indent
        if indent != field_indent:
            continue                  # inside a nested structure we do not need
        m = pair.match(line)
        if not m:
            continue
        key, value = m.group(1), m.group(2)
        if key == ":submitters" and not value:
            sub_indent, person = indent, None
            current[":submitters"] = []
        elif value is not None:
            current[key] = _unquote(value)
    return out


def load_metadata(path: Path) -> dict[str, dict[str, Any]]:
    text = Path(path).read_text("utf-8", errors="replace")
    try:
        import yaml  # PyYAML, when installed: safe_load builds plain data only
        data = yaml.safe_load(text)
        if isinstance(data, dict):
            return {str(k): (v if isinstance(v, dict) else {}) for k, v in data.items()}
    except Exception:  # not installed, or a construct safe_load refuses: the small parser
        pass
    return parse_metadata_text(text)


def _submitters(entry: dict[str, Any]) -> tuple[dict[str, str], ...]:
    people = entry.get(":submitters") or entry.get("submitters") or []
    out = []
    for p in people if isinstance(people, list) else []:
        if isinstance(p, dict):
            out.append({k.lstrip(":"): str(v) for k, v in p.items()
                        if k.lstrip(":") in ("name", "sid", "email") and v is not None})
    return tuple(out)


def discover(folder: Path) -> tuple[list[Submission], list[str]]:
    """The submissions in ``folder`` (sorted by id) and warnings about what was skipped."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder; expected a folder of submissions "
                                f"(folders or .zip files) or Gradescope's export")
    warnings: list[str] = []
    subs: dict[str, Submission] = {}
    meta_path = folder / METADATA
    metadata = load_metadata(meta_path) if meta_path.is_file() else {}
    for key, entry in sorted(metadata.items()):
        path = folder / key
        if not path.exists():
            warnings.append(f"{METADATA}: {key} has no folder; skipped")
            continue
        subs[safe_id(key)] = Submission(safe_id(key), path, _submitters(entry))
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or path.name in _SKIP or path.is_symlink():
            continue
        if path.is_dir():
            sid = safe_id(path.name)
        elif path.is_file() and path.suffix.lower() == ".zip":
            sid = safe_id(path.stem)
        else:
            continue
        if any(s.path == path for s in subs.values()):
            continue
        if sid in subs:
            if subs[sid].path.is_dir() and path.suffix.lower() == ".zip":
                continue                    # examples/: a folder and a zip of it count once
            warnings.append(f"{path.name}: its id {sid!r} is taken by {subs[sid].path.name}; skipped")
            continue
        subs[sid] = Submission(sid, path, ())
    return [subs[k] for k in sorted(subs)], warnings


def materialise(path: Path, dest: Path) -> Path:
    """The submission's files at ``dest`` (created): a folder copied without symbolic links,
    a zip extracted with the kit's checks (raises ``intake.IntakeError`` for a bad zip)."""
    path, dest = Path(path), Path(dest)
    if not path.exists():    # moved or deleted since discovery: never graded as an empty folder
        raise FileNotFoundError(errno.ENOENT, "the submission is no longer there", str(path))
    dest.mkdir(parents=True, exist_ok=True)
    if path.is_file():
        intake.safe_extract(path, dest)
        return dest
    for src in sorted(path.rglob("*")):
        rel = src.relative_to(path)
        if src.is_symlink() or any(part in _SKIP for part in rel.parts):
            continue
        target = dest / rel
        if src.is_dir():
            target.mkdir(parents=True, exist_ok=True)
        elif src.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
    return dest


def tar_folder(folder: Path, arc_prefix: str = "") -> bytes:
    """An uncompressed tar of ``folder``'s files (root-owned, 0644 files, 0755 folders)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for src in sorted(Path(folder).rglob("*")):
            if src.is_symlink():
                continue
            name = (arc_prefix + src.relative_to(folder).as_posix())
            info = tarfile.TarInfo(name)
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            if src.is_dir():
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif src.is_file():
                info.mode, info.size = 0o644, src.stat().st_size
                with open(src, "rb") as f:
                    tar.addfile(info, f)
    return buf.getvalue()


def tar_bytes(name: str, data: bytes, mode: int = 0o600) -> bytes:
    """A tar holding one file."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), mode, 0
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def pack(path: Path) -> bytes:
    """The submission as a tar (see :func:`materialise`)."""
    with tempfile.TemporaryDirectory(prefix="dlkit-pack-") as tmp:
        return tar_folder(materialise(path, Path(tmp) / "s"))


def unpack(payload: bytes, dest: Path) -> Path:
    """Write a :func:`pack` tar to ``dest`` (tarfile's ``data`` filter: no links out, no
    absolute paths, no devices)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:") as tar:
        tar.extractall(dest, filter="data")
    return dest
