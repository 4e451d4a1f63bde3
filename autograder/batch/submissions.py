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
import stat
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import yaml

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


class MetadataError(ValueError):
    """``submission_metadata.yml`` is not the YAML of a Gradescope export."""


class _MetadataLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading any tagged node (a Ruby object of Gradescope's export, or
    a ``!!python/...`` tag) as the plain mapping, list or string under the tag: no object is
    ever constructed from the file."""


def _untagged(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)


_MetadataLoader.add_multi_constructor("!", _untagged)
_MetadataLoader.add_multi_constructor("tag:yaml.org,2002:python/", _untagged)


def parse_metadata_text(text: str, name: str = METADATA) -> dict[str, dict[str, Any]]:
    """Gradescope's ``submission_metadata.yml``: each submission folder's name with its entry
    (``:submitters:`` a list of ``{:name, :sid, :email}``, other fields as loaded).  Raises
    :class:`MetadataError` naming the line for text that is not such a mapping."""
    try:
        data = yaml.load(text, Loader=_MetadataLoader)  # noqa: S506 - a safe loader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise MetadataError(f"{name}: not valid YAML{where} ({problem}); expected Gradescope's "
                            f"export: one entry per submission folder with its :submitters:") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise MetadataError(f"{name}: holds a {type(data).__name__}; expected Gradescope's export: "
                            f"a mapping from each submission folder's name to its entry")
    return {str(k): (v if isinstance(v, dict) else {}) for k, v in data.items()}


def load_metadata(path: Path) -> dict[str, dict[str, Any]]:
    return parse_metadata_text(Path(path).read_text("utf-8", errors="replace"), str(path))


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
    a zip extracted with the kit's checks.  Raises ``intake.IntakeError`` for a bad zip, or a
    folder holding a file that cannot be read (a FIFO, socket or device; open() or read()
    failing); ``FileNotFoundError`` when the submission is gone."""
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
        try:
            mode = src.lstat().st_mode
            if stat.S_ISDIR(mode):
                target.mkdir(parents=True, exist_ok=True)
            elif stat.S_ISREG(mode):
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, target)
            else:           # reading a FIFO blocks for ever, a device or socket is no file
                raise intake.IntakeError(
                    f"{path.name}/{rel.as_posix()} is a {_special_kind(mode)}, not a regular "
                    f"file, so it cannot be read; expected only regular files and folders in a "
                    f"submission (replace it with the file itself)")
        except FileNotFoundError:
            raise                   # vanished mid-copy: the caller says so
        except OSError as exc:      # open() or read() refused (an I/O error, a bad mount, …)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise               # our own disk, not the submission
            raise intake.IntakeError(
                f"{path.name}/{rel.as_posix()} could not be read ({exc.strerror or exc}); expected "
                f"every file of the submission to be readable") from exc
    return dest


def _special_kind(mode: int) -> str:
    for test, kind in ((stat.S_ISFIFO, "named pipe (FIFO)"), (stat.S_ISSOCK, "socket"),
                       (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device")):
        if test(mode):
            return kind
    return f"special file (mode {stat.filemode(mode)})"


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
