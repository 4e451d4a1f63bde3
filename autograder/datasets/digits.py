"""scikit-learn's bundled 8x8 digits: the kit's embedded default (no download).

1797 greyscale images of the digits 0-9, 8x8 pixels, integer values 0..16 (``value_max =
16``), about 180 per class.  There is no official train/test split: the ``split`` verb carves
one.  Note that the data set ships with scikit-learn, so its "private" test split is private
only by convention: a student can recompute it as the complement of the public split.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .base import Dataset, DatasetError

NAME = "digits"
IMAGE_SHAPE = (8, 8)
VALUE_MAX = 16
CLASS_NAMES = tuple(str(d) for d in range(10))


def load(source: Path | str | None = None) -> dict[str, Dataset]:
    """The whole bundled data set as one part ``"all"``.

    ``source`` must be ``None``: the data ship inside scikit-learn
    (``sklearn.datasets.load_digits``).  Returns ``{"all": Dataset}`` with images ``uint8``
    ``(1797, 8, 8)`` (``load_digits().images`` cast exactly: its values are the integers
    0..16) and labels ``int64`` ``(1797,)``.
    """
    if source is not None:
        raise DatasetError(f"digits: takes no --source (found {source}); the data ship with "
                           "scikit-learn (sklearn.datasets.load_digits)")
    from sklearn.datasets import load_digits

    bunch = load_digits()
    raw = np.asarray(bunch.images)
    images = raw.astype(np.uint8)
    if raw.shape[1:] != IMAGE_SHAPE or not np.array_equal(images, raw) or images.max() > VALUE_MAX:
        raise DatasetError(f"sklearn.datasets.load_digits: expected integer images "
                           f"(N, 8, 8) with values 0..16; found {raw.shape} {raw.dtype} "
                           f"with values {raw.min():g}..{raw.max():g}")
    labels = np.asarray(bunch.target).astype(np.int64)
    return {"all": Dataset(NAME, images, labels, CLASS_NAMES, VALUE_MAX, "all",
                           "sklearn.datasets.load_digits")}
