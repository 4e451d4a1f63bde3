"""``python -m autograder split``: the public train/val split and the private test split.

    python -m autograder split --dataset NAME [--source PATH] [--out DIR] [--seed 0]
                               [--val-fraction F] [--test-fraction F] [--pool-official]

Writes, under ``DIR`` (default ``datasets/<NAME>``), images and labels in SEPARATE files::

    public/train_images.npy  public/train_labels.npy     ship to students
    public/val_images.npy    public/val_labels.npy       ship to students (selftest scores here)
    private/test_images.npy  private/test_labels.npy     instructor only (the grader's test set)
    split.json               data set, seed, fractions, method, counts per split and per
                             class, sha256 of every file (instructor side: it describes the
                             private files too)

Images keep the data set's native layout and dtype (``autograder.datasets``), labels are
``int64``; files are written with ``np.save(..., allow_pickle=False)``.

How the examples are chosen (``sklearn.model_selection.train_test_split``, stratified by label,
``random_state=seed`` at both stages):

* No official test split (digits, or ``--pool-official``: all official parts concatenated in
  the order train, val, test): ``rest, test = train_test_split(arange(N),
  test_size=test_fraction, stratify=labels)``, then ``train, val = train_test_split(rest,
  test_size=val_fraction / (1 - test_fraction), stratify=labels[rest])``.  Both fractions are
  of the whole data set (defaults 0.2 and 0.2: digits gives 1077 / 360 / 360).  The checked-in
  ``datasets/digits`` split is exactly this with seed 0.
* An official test split (CIFAR-10 ``test_batch``, FER2013 ``PrivateTest`` or Imperial
  ``Test/``, NIST36 ``nist36_test.mat``) becomes the private test split unchanged, in file
  order; ``--test-fraction`` does not apply.  An official validation part (FER2013
  ``PublicTest``, NIST36 ``nist36_valid.mat``) becomes the public val split unchanged and
  ``--val-fraction`` does not apply; otherwise (CIFAR-10, Imperial FER2013) val is carved from
  the official training part: ``train, val = train_test_split(arange(n_train),
  test_size=val_fraction, stratify=labels)`` (default 0.2 of the training part).
  Passing a fraction that does not apply is an error, not a silent no-op.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from . import atomicfile, paths
from . import datasets as ds
from .datasets import Dataset, DatasetError

DEFAULT_VAL_FRACTION = 0.2
DEFAULT_TEST_FRACTION = 0.2
#: split name -> (subfolder, file prefix)
LAYOUT = {"train": ("public", "train"), "val": ("public", "val"), "test": ("private", "test")}


class SplitError(DatasetError):
    """The requested split cannot be made (bad fractions, too few examples per class)."""


def _fraction(value: float | None, default: float, option: str) -> float:
    f = default if value is None else float(value)
    if not 0.0 < f < 1.0:
        raise SplitError(f"{option} must lie strictly between 0 and 1; found {f:g}")
    return f


def _stratified(index: np.ndarray, labels: np.ndarray, test_size: float, seed: int,
                what: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.model_selection import train_test_split

    try:
        keep, held = train_test_split(index, test_size=test_size, stratify=labels,
                                      random_state=seed)
    except ValueError as exc:
        counts = np.bincount(labels)
        raise SplitError(f"cannot split {what} ({len(index)} examples, smallest class "
                         f"{counts[counts > 0].min()}) with test_size={test_size:g}, "
                         f"stratified: {exc}; use more examples or another fraction") from None
    return np.asarray(keep, dtype=np.int64), np.asarray(held, dtype=np.int64)


def make_split(parts: dict[str, Dataset], seed: int = 0, val_fraction: float | None = None,
               test_fraction: float | None = None,
               pool_official: bool = False) -> tuple[dict[str, Dataset], dict[str, Any]]:
    """Split a data set's official ``parts`` (from :func:`autograder.datasets.load`).

    Returns ``({"train": Dataset, "val": Dataset, "test": Dataset}, method)`` where ``method``
    records, for ``split.json``, the fractions actually used (``None`` where they do not
    apply) and where each split came from.  The rules are in the module docstring.  Raises
    :class:`SplitError` for a fraction outside (0, 1), fractions summing to 1 or more, a
    fraction that does not apply, or a class too small to stratify.  Inputs are not modified.
    """
    if not parts:
        raise SplitError("no data to split")
    name = next(iter(parts.values())).name
    if pool_official or "test" not in parts:
        data = ds.pooled(parts)
        tf = _fraction(test_fraction, DEFAULT_TEST_FRACTION, "--test-fraction")
        vf = _fraction(val_fraction, DEFAULT_VAL_FRACTION, "--val-fraction")
        if vf + tf >= 1.0:
            raise SplitError(f"--val-fraction + --test-fraction must be below 1; found "
                             f"{vf:g} + {tf:g}")
        idx = np.arange(len(data), dtype=np.int64)
        rest, test = _stratified(idx, data.labels, tf, seed, f"{name} into rest/test")
        train, val = _stratified(rest, data.labels[rest], vf / (1.0 - tf), seed,
                                 f"{name} into train/val")
        pooled_from = [p for p in ds.PART_ORDER if p in parts]
        origin = "all examples" if pooled_from == ["all"] else \
            "official parts " + " + ".join(pooled_from) + " pooled"
        method = {
            "val_fraction": vf, "test_fraction": tf,
            "test": f"stratified {tf:g} of {origin}",
            "val": f"stratified {vf:g} of {origin} ({vf / (1.0 - tf):g} of the rest)",
            "train": "the remaining examples",
        }
        return ({"train": data.subset(train, "train"), "val": data.subset(val, "val"),
                 "test": data.subset(test, "test")}, method)

    if test_fraction is not None:
        raise SplitError(f"{name} has an official test split, which becomes the private test "
                         "split; --test-fraction does not apply (use --pool-official to "
                         "re-split everything)")
    test = parts["test"]
    if "val" in parts:
        if val_fraction is not None:
            raise SplitError(f"{name} has an official validation part, which becomes the "
                             "public val split; --val-fraction does not apply (use "
                             "--pool-official to re-split everything)")
        train = ds.concatenate([parts[p] for p in ("all", "train") if p in parts], "train")
        return ({"train": train, "val": parts["val"], "test": test},
                {"val_fraction": None, "test_fraction": None,
                 "test": "official test part, unchanged", "val": "official val part, unchanged",
                 "train": "official train part, unchanged"})
    pool = ds.concatenate([parts[p] for p in ("all", "train") if p in parts], "train")
    vf = _fraction(val_fraction, DEFAULT_VAL_FRACTION, "--val-fraction")
    train, val = _stratified(np.arange(len(pool), dtype=np.int64), pool.labels, vf, seed,
                             f"{name}'s official train part into train/val")
    return ({"train": pool.subset(train, "train"), "val": pool.subset(val, "val"),
             "test": test},
            {"val_fraction": vf, "test_fraction": None,
             "test": "official test part, unchanged",
             "val": f"stratified {vf:g} of the official train part",
             "train": "the rest of the official train part"})


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    atomicfile.write(path, data, mode=0o644)


def _display(path: str | None, root: Path) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _dumps(obj: Any) -> str:
    """JSON with 2-space indents, lists of plain values kept on one line."""
    text = json.dumps(obj, indent=2)

    def compact(m: re.Match) -> str:
        try:
            return json.dumps(json.loads(m.group(0)))
        except ValueError:
            return m.group(0)
    return re.sub(r"\[[^\[\]{}]*\]", compact, text) + "\n"


def write_split(splits: dict[str, Dataset], out: Path | str, manifest: dict[str, Any]) -> dict:
    """Write ``splits`` under ``out`` (layout in the module docstring) and ``split.json``.

    ``manifest`` holds the keys to put first in ``split.json`` (dataset, seed, method, ...);
    this adds the pixel format, class names, counts per split and per class, and each file's
    sha256 and size.  Files are replaced atomically.  Returns the full manifest.
    """
    out = Path(out)
    first = splits["train"]
    manifest = dict(manifest)
    manifest.update({
        "image_shape": list(first.images.shape[1:]), "image_dtype": str(first.images.dtype),
        "value_max": first.value_max, "label_dtype": "int64",
        "class_names": list(first.class_names),
        "counts": {s: len(splits[s]) for s in LAYOUT},
        "class_counts": {s: splits[s].class_counts() for s in LAYOUT},
        "files": {},
    })
    for split, (sub, prefix) in LAYOUT.items():
        for kind, array in (("images", splits[split].images), ("labels", splits[split].labels)):
            rel = f"{sub}/{prefix}_{kind}.npy"
            data = _npy_bytes(array)
            _write_atomic(out / rel, data)
            manifest["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(),
                                      "bytes": len(data), "private": sub == "private"}
    _write_atomic(out / "split.json", _dumps(manifest).encode("utf-8"))
    return manifest


def split_dataset(name: str, source: Path | str | None = None, out: Path | str | None = None,
                  seed: int = 0, val_fraction: float | None = None,
                  test_fraction: float | None = None, pool_official: bool = False) -> dict:
    """Load ``name`` from ``source``, split it (:func:`make_split`), write it under ``out``.

    Defaults: the raw source and ``datasets/<name>`` of :mod:`autograder.datasets`.  Returns
    the manifest written to ``split.json``.  Raises :class:`DatasetError` (bad files) or
    :class:`SplitError` (an impossible split).
    """
    import sklearn

    parts = ds.load(name, source)
    splits, method = make_split(parts, seed, val_fraction, test_fraction, pool_official)
    root = paths.kit_root()
    if source is None:
        default = ds.default_source(name)
        source_text = "sklearn.datasets.load_digits" if default is None else _display(str(default), root)
    else:
        source_text = _display(str(source), root)
    manifest = {
        "dataset": name, "source": source_text, "seed": int(seed),
        "val_fraction": method.pop("val_fraction"), "test_fraction": method.pop("test_fraction"),
        "pool_official": bool(pool_official),
        "official_parts": {p: len(d) for p, d in parts.items()},
        "method": method,
        "software": {"numpy": np.__version__, "scikit-learn": sklearn.__version__},
    }
    target = Path(out) if out is not None else ds.split_dir(name)
    return write_split(splits, target, manifest)


def _assignment_dataset(args: argparse.Namespace) -> str:
    """The ``[assignment] dataset`` of the assignment file (default ``digits``)."""
    path = Path(getattr(args, "assignment", None) or paths.default_assignment())
    try:
        return tomllib.loads(path.read_text("utf-8")).get("assignment", {}).get("dataset",
                                                                                "digits")
    except (OSError, tomllib.TOMLDecodeError):
        return "digits"


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``split`` verb on ``subparsers`` (from ``add_subparsers``); returns it."""
    p = subparsers.add_parser(
        "split", help="make the public train/val split and the private test split",
        description="Split a data set into a PUBLIC train/val split (DIR/public/) and a PRIVATE "
                    "test split (DIR/private/), images and labels in separate .npy files, plus "
                    "DIR/split.json. Where the data set has an official test split it becomes "
                    "the private one; see autograder/split.py for the exact rules.")
    p.add_argument("--dataset", choices=sorted(ds.SPECS), default=None,
                   help="data set (default: the assignment file's [assignment] dataset)")
    p.add_argument("--source", metavar="PATH",
                   help="raw files (default: datasets/cifar-10-batches-py, datasets/fer2013/raw "
                        "(fer2013.csv or Imperial Train/ Test/ labels_public.txt), "
                        "datasets/nist36/raw; digits takes none)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: datasets/<dataset>)")
    p.add_argument("--seed", type=int, default=0, help="random_state of both stratified "
                                                       "splits (default 0)")
    p.add_argument("--val-fraction", type=float, default=None, metavar="F",
                   help=f"validation fraction (default {DEFAULT_VAL_FRACTION}): of all examples "
                        "when the test split is carved too, else of the official train part; "
                        "not allowed where the data set has an official val part")
    p.add_argument("--test-fraction", type=float, default=None, metavar="F",
                   help=f"private test fraction of all examples (default "
                        f"{DEFAULT_TEST_FRACTION}); not allowed where the data set has an "
                        "official test split")
    p.add_argument("--pool-official", action="store_true",
                   help="ignore the official parts: pool them and carve test and val as for "
                        "digits")
    p.set_defaults(func=main)
    return p


def main(args: argparse.Namespace) -> int:
    """Run the verb; 0 on success, 2 with a message on stderr for bad data or options."""
    name = args.dataset or _assignment_dataset(args)
    try:
        manifest = split_dataset(name, args.source, args.out, args.seed, args.val_fraction,
                                 args.test_fraction, args.pool_official)
    except DatasetError as exc:
        print(f"split: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else ds.split_dir(name)
    counts = manifest["counts"]
    print(f"split: {name} (seed {manifest['seed']}) -> {out}")
    for split, (sub, prefix) in LAYOUT.items():
        print(f"  {split:<5} {counts[split]:>7} examples  {sub}/{prefix}_images.npy, "
              f"{sub}/{prefix}_labels.npy  ({manifest['method'][split]})")
    print(f"  {out / 'split.json'}: counts per class and sha256 of every file")
    print("  ship public/ only; private/ and split.json stay with the instructor")
    return 0
