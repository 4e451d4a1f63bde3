"""The grading image's build context (``Dockerfile``): the grading inputs, the wheelhouse's
wheels and a freshly built wheel of this project."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .. import config, paths
from . import BuildError
from .trees import _pyproject, grading_tree, write_tree

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

