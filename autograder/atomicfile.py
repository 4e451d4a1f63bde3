"""Writing a file so that a reader sees the old content or the new, never a part: the data goes
to a temporary file in the same folder, which then replaces the target in one rename.  A crash,
a full disk or a stop signal part-way leaves the target as it was and no temporary file behind.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def replacing(path: Path | str, mode: int | None = None) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to: on a clean exit it replaces ``path``
    (created with its folder if need be; permissions ``mode``, else the temporary file's
    owner-only 0600); on an exception it is removed and ``path`` is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write(path: Path | str, data: bytes | str, mode: int | None = None) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; returns ``path``."""
    with replacing(path, mode) as tmp:
        tmp.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)
