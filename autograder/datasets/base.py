"""The data-set record every loader returns, its error type, and pixel scaling.

Grader side (trusted): these modules read instructor data (CIFAR-10's pickles included) and
never run beside student code.  Only ``numpy`` is imported at module level; each loader
imports what its format needs (``pickle``, ``scipy.io``, ``PIL``) when called.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Mapping

import numpy as np

#: The official parts a loader may return, in the order they are pooled.
PART_ORDER = ("all", "train", "val", "test")


class DatasetError(ValueError):
    """A data file is missing or not in its expected format.

    The message names the file (and line, key or row where it helps), what was found and what
    was expected, e.g. ``fer2013.csv line 17: expected 2304 pixel values, found 2303``.
    """


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """One part of a data set, images in the format's native layout.

    Attributes:
        name: ``"digits"``, ``"cifar10"``, ``"fer2013"`` or ``"nist36"``.
        images: ``(N, H, W)`` or ``(N, H, W, C)``; dtype and range per data set:
            digits ``uint8`` ``(N, 8, 8)`` with values 0..16 (``value_max = 16``);
            cifar10 ``uint8`` ``(N, 32, 32, 3)`` 0..255; fer2013 ``uint8`` ``(N, 48, 48)``
            0..255; nist36 ``float64`` ``(N, 32, 32)`` in [0, 1] (``value_max = 1``).
        labels: ``int64`` ``(N,)``, values in ``range(len(class_names))``.
        class_names: one name per class, indexed by label.
        value_max: the largest possible pixel value; ``images / value_max`` lies in [0, 1].
        part: which official part this is: ``"all"`` (no official split), ``"train"``,
            ``"val"`` or ``"test"``.
        source: the file(s) or folder read, for messages and ``split.json``.
    """

    name: str
    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    value_max: float
    part: str = "all"
    source: str = ""

    def __post_init__(self) -> None:
        images, labels = self.images, self.labels
        where = f"{self.name} ({self.part}, {self.source or 'no source'})"
        if not isinstance(images, np.ndarray) or images.ndim not in (3, 4):
            raise DatasetError(f"{where}: images must be an array of shape (N, H, W) or "
                               f"(N, H, W, C); found {getattr(images, 'shape', type(images))}")
        if not isinstance(labels, np.ndarray) or labels.dtype != np.int64 or labels.ndim != 1:
            raise DatasetError(f"{where}: labels must be a 1-D int64 array; found "
                               f"{getattr(labels, 'dtype', type(labels))} "
                               f"{getattr(labels, 'shape', '')}")
        if len(images) != len(labels):
            raise DatasetError(f"{where}: {len(images)} images but {len(labels)} labels")
        if labels.size and (labels.min() < 0 or labels.max() >= len(self.class_names)):
            raise DatasetError(f"{where}: labels must lie in 0..{len(self.class_names) - 1}; "
                               f"found {labels.min()}..{labels.max()}")
        if self.part not in PART_ORDER:
            raise DatasetError(f"{where}: unknown part {self.part!r}; expected one of "
                               f"{', '.join(PART_ORDER)}")

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, index: np.ndarray, part: str | None = None) -> "Dataset":
        """The examples at ``index`` (an integer array), in that order, as a new Dataset."""
        index = np.asarray(index, dtype=np.int64)
        return dataclasses.replace(self, images=np.ascontiguousarray(self.images[index]),
                                   labels=np.ascontiguousarray(self.labels[index]),
                                   part=part or self.part)

    def class_counts(self) -> list[int]:
        """Examples per class, indexed by label."""
        return np.bincount(self.labels, minlength=self.num_classes).tolist()

    def to_unit_float(self) -> np.ndarray:
        """The images as float32 in [0, 1], same layout (see :func:`to_unit_float`)."""
        return to_unit_float(self.images, self.value_max)


def concatenate(parts: list[Dataset], part: str = "all") -> Dataset:
    """The examples of ``parts`` one after another (same name, classes and pixel format)."""
    if not parts:
        raise DatasetError("concatenate: no parts given")
    first = parts[0]
    for p in parts[1:]:
        if (p.name, p.class_names, p.images.shape[1:], p.images.dtype) != (
                first.name, first.class_names, first.images.shape[1:], first.images.dtype):
            raise DatasetError(f"concatenate: part {p.part!r} of {p.name} has images "
                               f"{p.images.shape[1:]} {p.images.dtype}; expected "
                               f"{first.images.shape[1:]} {first.images.dtype} like "
                               f"part {first.part!r}")
    return dataclasses.replace(
        first, images=np.concatenate([p.images for p in parts]),
        labels=np.concatenate([p.labels for p in parts]), part=part,
        source="; ".join(dict.fromkeys(p.source for p in parts if p.source)))


def pooled(parts: Mapping[str, Dataset]) -> Dataset:
    """All official parts of a data set concatenated in ``PART_ORDER``."""
    return concatenate([parts[k] for k in PART_ORDER if k in parts])


def to_unit_float(images: np.ndarray, value_max: float) -> np.ndarray:
    """Images scaled to float32 in [0, 1] for model scoring; the layout is unchanged.

    ``images`` is any numeric array whose values lie in ``[0, value_max]`` (uint8 0..255 with
    ``value_max=255``, digits 0..16 with ``value_max=16``, NIST36 floats with
    ``value_max=1``).  Returns ``float32`` ``images / value_max`` (computed in float64, then
    rounded once).  The input is not modified.  Raises ``DatasetError`` for a non-positive
    ``value_max`` or values outside ``[0, value_max]``.
    """
    if not value_max > 0:
        raise DatasetError(f"to_unit_float: value_max must be positive; found {value_max!r}")
    x = np.asarray(images, dtype=np.float64)
    if x.size and (not np.isfinite(x).all() or x.min() < 0 or x.max() > value_max):
        raise DatasetError(f"to_unit_float: pixel values must lie in [0, {value_max:g}]; "
                           f"found {np.nanmin(x):g}..{np.nanmax(x):g}")
    return (x / float(value_max)).astype(np.float32)


def to_nchw(x: np.ndarray) -> np.ndarray:
    """``(N, H, W)`` -> ``(N, 1, H, W)``; ``(N, H, W, C)`` -> ``(N, C, H, W)`` (a copy).

    The layout ``cnn.Net`` receives (ASSIGNMENT.md §Q6 "What the grader does with `Net`"); ``predict`` receives the
    unconverted ``(N, H, W)`` / ``(N, H, W, C)`` array.
    """
    x = np.asarray(x)
    if x.ndim == 3:
        return np.ascontiguousarray(x[:, None, :, :])
    if x.ndim == 4:
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    raise DatasetError(f"to_nchw: expected images of shape (N, H, W) or (N, H, W, C); "
                       f"found {x.shape}")


def require_file(path: Path, what: str) -> Path:
    """``path`` if it is a file, else ``DatasetError`` naming it and ``what`` it should hold."""
    if not path.is_file():
        raise DatasetError(f"{path}: file not found; expected {what}")
    return path


def require_dir(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else ``DatasetError`` naming it and ``what`` it should hold."""
    if not path.is_dir():
        raise DatasetError(f"{path}: folder not found; expected {what}")
    return path
