"""Helpers shared by the build, batch and container tests: small assignment subsets and
submissions made from the reference."""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from autograder import config, paths, refmodels
from autograder.validate import catalogue

KIT = paths.kit_root()


def subset_toml(path: Path, include: list[str], *, limits: dict[str, str] | None = None,
                container: dict[str, str] | None = None, text: str | None = None) -> Path:
    """The kit's assignment restricted to ``include``, with ``[limits]`` and ``[container]``
    values overridden (validated before it is returned)."""
    with tempfile.TemporaryDirectory() as tmp:
        source = KIT / "assignment.toml"
        if text is not None:
            source = Path(tmp) / "assignment.toml"
            source.write_text(text)
        text = config.write_restricted(source, include, path, reference=paths.reference_dir(KIT)).read_text()
    for table, values in (("limits", limits or {}), ("container", container or {})):
        head, sep, rest = text.partition(f"\n[{table}]")
        if not sep:
            raise AssertionError(f"assignment.toml has no [{table}] table")
        block, sep2, tail = rest.partition("\n[")
        for key, value in values.items():
            block, n = re.subn(rf"^{key} = \S+", f"{key} = {value}", block, flags=re.M)
            if n == 0:
                block = block.rstrip("\n") + f"\n{key} = {value}\n"
        text = head + sep + block + sep2 + tail
    path.write_text(text)
    config.load(path)
    return path


def reference_submission(dest: Path, models: bool = True) -> Path:
    """The reference solution as a submission (with its trained models when asked)."""
    catalogue.materialise(paths.reference_dir(KIT), dest, None)
    if models:
        refmodels.add_reference_models(dest, "digits", KIT)
    return dest


def patched_submission(dest: Path, file: str, find: str, replace: str) -> Path:
    """The reference with one search/replace edit (no models)."""
    reference_submission(dest, models=False)
    target = dest / file
    text = target.read_text()
    assert find in text, f"{find!r} not in {file}"
    target.write_text(text.replace(find, replace, 1))
    return dest


def template_submission(dest: Path) -> Path:
    shutil.copytree(paths.template_dir(KIT) / "src", dest / "src",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return dest
