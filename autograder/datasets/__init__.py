"""The kit's data-set layer (grader side): loaders for each format and the stored splits.

Data sets (``assignment.toml`` ``[assignment] dataset``): native images, default raw source,
official parts:

- ``digits``: uint8 ``(N, 8, 8)``, 0..16; bundled with scikit-learn; one part ``all``.
- ``cifar10``: uint8 ``(N, 32, 32, 3)``, 0..255; ``datasets/cifar-10-batches-py``; parts
  ``train``, ``test``.
- ``fer2013``: uint8 ``(N, 48, 48)``, 0..255; ``datasets/fer2013/raw``; parts ``train``,
  ``val``, ``test`` (Kaggle CSV) or ``train``, ``test`` (Imperial folders).
- ``nist36``: float64 ``(N, 32, 32)``, [0, 1]; ``datasets/nist36/raw``; parts ``train``,
  ``val``, ``test``.

* :func:`load` reads a raw source and returns its official parts (``{"train": Dataset, ...}``).
* ``python -m autograder split`` (:mod:`autograder.split`) turns them into the kit's public
  train/val split and private test split under ``datasets/<name>/``; :func:`load_split` reads
  those back.
* :func:`to_unit_float` scales any of them to float32 in [0, 1] for model scoring;
  :func:`to_nchw` gives ``cnn.Net``'s layout.

Every missing or malformed file raises :class:`DatasetError` (a ``ValueError``) naming the file
and what was expected.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import numpy as np

from .. import paths
from . import cifar10, digits, fer2013, nist36
from .base import (PART_ORDER, Dataset, DatasetError, concatenate, pooled, to_nchw,
                   to_unit_float)
from .imagefiles import read_grey, save_image_folder

__all__ = ["Dataset", "DatasetError", "DatasetSpec", "SPECS", "PART_ORDER", "concatenate",
           "datasets_dir", "default_source", "get_spec", "load", "load_split", "pooled",
           "read_grey", "save_image_folder", "split_dir", "to_nchw", "to_unit_float"]


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """What the kit knows about one data set.

    ``source`` is the default raw location relative to the kit's ``datasets/`` folder
    (``None``: bundled); ``fetch`` the script that downloads it.
    """

    name: str
    image_shape: tuple[int, ...]
    dtype: str
    value_max: float
    class_names: tuple[str, ...]
    loader: Callable[..., dict[str, Dataset]]
    source: str | None
    fetch: str | None


SPECS: dict[str, DatasetSpec] = {
    "digits": DatasetSpec("digits", digits.IMAGE_SHAPE, "uint8", digits.VALUE_MAX,
                          digits.CLASS_NAMES, digits.load, None, None),
    "cifar10": DatasetSpec("cifar10", cifar10.IMAGE_SHAPE, "uint8", cifar10.VALUE_MAX,
                           cifar10.DEFAULT_CLASS_NAMES, cifar10.load, cifar10.FOLDER,
                           "datasets/get_cifar10.sh"),
    "fer2013": DatasetSpec("fer2013", fer2013.IMAGE_SHAPE, "uint8", fer2013.VALUE_MAX,
                           fer2013.CLASS_NAMES, fer2013.load, "fer2013/raw",
                           "datasets/get_fer2013.sh"),
    "nist36": DatasetSpec("nist36", nist36.IMAGE_SHAPE, "float64", nist36.VALUE_MAX,
                          nist36.CLASS_NAMES, nist36.load, "nist36/raw",
                          "datasets/get_nist36.sh"),
}


def get_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` of ``name``; ``DatasetError`` listing the known names."""
    try:
        return SPECS[name]
    except KeyError:
        raise DatasetError(f"unknown data set {name!r}; expected one of "
                           f"{', '.join(SPECS)}") from None


def datasets_dir(root: Path | None = None) -> Path:
    """The kit's ``datasets/`` folder."""
    return (root or paths.kit_root()) / "datasets"


def default_source(name: str, root: Path | None = None) -> Path | None:
    """Where ``name``'s raw files live by default (``None`` for the bundled digits)."""
    spec = get_spec(name)
    return None if spec.source is None else datasets_dir(root) / spec.source


def split_dir(name: str, root: Path | None = None) -> Path:
    """Where ``split`` writes ``name``'s split by default: ``datasets/<name>``."""
    get_spec(name)
    return datasets_dir(root) / name


def load(name: str, source: Path | str | None = None) -> dict[str, Dataset]:
    """The official parts of data set ``name`` read from ``source`` (default: its raw folder).

    Returns a dict with some of ``"all"``, ``"train"``, ``"val"``, ``"test"`` (see the module
    table).  Raises :class:`DatasetError` for an unknown name or bad files.
    """
    spec = get_spec(name)
    if source is None and spec.source is not None:
        source = default_source(name)
        if not Path(source).exists():
            raise DatasetError(f"{source}: not found; expected the raw {name} files there "
                               f"(run {spec.fetch}) or pass --source")
    return spec.loader(source) if source is not None else spec.loader()


def load_split(name: str, part: str, directory: Path | str | None = None) -> Dataset:
    """One part of a split written by ``python -m autograder split``.

    ``part`` is ``"train"`` or ``"val"`` (``<dir>/public/``) or ``"test"`` (``<dir>/private/``,
    the instructor's only); ``directory`` defaults to ``datasets/<name>``.  Class names and
    ``value_max`` come from ``<dir>/split.json`` when present, else from :data:`SPECS`.
    Checks the stored dtype and image shape against :data:`SPECS`.  Files are read with
    ``allow_pickle=False``.
    """
    spec = get_spec(name)
    folder = Path(directory) if directory is not None else split_dir(name)
    sub = {"train": "public", "val": "public", "test": "private"}.get(part)
    if sub is None:
        raise DatasetError(f"load_split: unknown part {part!r}; expected train, val or test")
    class_names, value_max = spec.class_names, spec.value_max
    manifest = folder / "split.json"
    if manifest.is_file():
        try:
            meta = json.loads(manifest.read_text("utf-8"))
        except ValueError as exc:
            raise DatasetError(f"{manifest}: not valid JSON ({exc})") from None
        if meta.get("dataset") != name:
            raise DatasetError(f"{manifest}: describes data set {meta.get('dataset')!r}; "
                               f"expected {name!r}")
        class_names = tuple(meta.get("class_names", class_names))
        value_max = meta.get("value_max", value_max)
    arrays = {}
    for kind in ("images", "labels"):
        path = folder / sub / f"{part}_{kind}.npy"
        if not path.is_file():
            raise DatasetError(f"{path}: file not found; expected the {part} {kind} of the "
                               f"{name} split (python -m autograder split --dataset {name})")
        try:
            arrays[kind] = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise DatasetError(f"{path}: not a readable .npy array ({exc})") from None
    images, labels = arrays["images"], arrays["labels"]
    if images.dtype != np.dtype(spec.dtype) or images.shape[1:] != spec.image_shape:
        raise DatasetError(f"{folder / sub / f'{part}_images.npy'}: expected {spec.dtype} "
                           f"images (N, {', '.join(map(str, spec.image_shape))}); found "
                           f"{images.dtype} {images.shape}")
    if labels.dtype != np.int64 or labels.ndim != 1:
        raise DatasetError(f"{folder / sub / f'{part}_labels.npy'}: expected int64 labels "
                           f"(N,); found {labels.dtype} {labels.shape}")
    return Dataset(name, images, labels, class_names, value_max, part, str(folder / sub))
