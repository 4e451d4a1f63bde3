"""The reference solution's trained models (``model.npz`` + ``model.json`` for Q5,
``model.safetensors`` for Q6), trained once per data set by the reference's own scripts and
cached under ``reports/models/<key>/``, where the key hashes the scripts, the code they use
and the public data.  ``validate``, the demo and the kit's tests copy them next to a
reference (or mutant) submission so the saved-model questions can reach full marks.
"""
from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import paths

#: Scripts that train the reference models, with the arguments giving the output folder.
TRAINERS = (("src.train_fer_model", []), ("src.train_cnn", ["--out"]))
#: What the trained models depend on (the cache key): the trainers and the code they run.
SOURCES = ("src/train_fer_model.py", "src/test.py", "src/fcnet.py", "src/layers.py",
           "src/classifiers.py", "src/utils/solver.py", "src/utils/optim.py",
           "src/utils/data_utils.py", "src/utils/model_io.py", "src/train_cnn.py", "src/cnn.py")
FILES = ("model.npz", "model.json", "model.safetensors")


def _key(reference: Path, data_root: Path, dataset: str) -> str:
    h = hashlib.sha256(dataset.encode())
    for rel in SOURCES:
        path = reference / rel
        h.update(rel.encode() + (path.read_bytes() if path.is_file() else b"<missing>"))
    public = data_root / dataset / "public"
    for path in sorted(public.glob("*.npy")) if public.is_dir() else []:
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()[:16]


def reference_models(dataset: str = "digits", kit: Path | None = None, quiet: bool = True) -> Path:
    """Folder with the reference's trained model files for ``dataset`` (trains on a miss)."""
    kit = Path(kit or paths.kit_root())
    reference = paths.reference_dir(kit)
    data_root = kit / "datasets"
    cache = kit / "reports" / "models" / f"{dataset}-{_key(reference, data_root, dataset)}"
    cache.parent.mkdir(parents=True, exist_ok=True)
    with open(cache.parent / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if all((cache / f).is_file() for f in FILES):
            return cache
        work = Path(tempfile.mkdtemp(prefix="dlkit-refmodels-"))
        try:
            shutil.copytree(reference / "src", work / "src",
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            env = {**os.environ, "DLKIT_DATASET": dataset, "DLKIT_DATA_DIR": str(data_root),
                   "MPLBACKEND": "Agg"}
            out = work / "out"
            out.mkdir()
            for module, flag in TRAINERS:
                proc = subprocess.run([sys.executable, "-m", module, *flag, str(out)], cwd=work,
                                      env=env, capture_output=True, text=True)
                if proc.returncode != 0:
                    raise RuntimeError(f"training the reference model with {module} failed:\n"
                                       f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
                if not quiet:
                    print(proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else module)
            tmp = cache.with_name(cache.name + ".tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            for f in FILES:
                shutil.copy2(out / f, tmp / f)
            shutil.rmtree(cache, ignore_errors=True)
            tmp.rename(cache)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return cache


def add_reference_models(submission_root: Path, dataset: str = "digits", kit: Path | None = None) -> None:
    """Copy the reference models next to ``submission_root/src``."""
    folder = reference_models(dataset, kit)
    for f in FILES:
        shutil.copy2(folder / f, Path(submission_root) / f)
