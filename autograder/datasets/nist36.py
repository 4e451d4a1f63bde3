"""NIST36 (CMU 16-720 / GIST handout): 32x32 greyscale letters A-Z and digits 0-9.

Three MATLAB files, read with ``scipy.io.loadmat``:
``nist36_train.mat`` (keys ``train_data``, ``train_labels``), ``nist36_valid.mat``
(``valid_data``, ``valid_labels``) and ``nist36_test.mat`` (``test_data``, ``test_labels``).
``*_data`` is ``(N, 1024)`` floats in [0, 1], one image per row; ``*_labels`` is ``(N, 36)``
one-hot.  Class ``k`` is ``CLASS_NAMES[k]``: ``A``..``Z`` for 0..25, then ``0``..``9`` for
26..35 (the handout's ``string.ascii_uppercase[:26] + digits`` tick labels).

Orientation (decided here): ``images[i] = row.reshape(32, 32)`` in C (row-major) order, with
NO transpose, so ``images.reshape(N, 1024)`` gives back the file's rows exactly and a model
trained on the handout's rows sees the same pixel order.  That array is the TRANSPOSE of the
upright character: the handout displays ``row.reshape(32, 32).T`` (the rows were written in
MATLAB's column-major order), so show ``images[i].T`` to see a letter upright.

Images are ``float64`` ``(N, 32, 32)`` in [0, 1] (``value_max = 1``); labels ``int64``
(the one-hot column index).
"""
from __future__ import annotations

import string
from pathlib import Path

import numpy as np

from .base import Dataset, DatasetError, require_dir, require_file

NAME = "nist36"
IMAGE_SHAPE = (32, 32)
VALUE_MAX = 1.0
CLASS_NAMES = tuple(string.ascii_uppercase) + tuple(string.digits)
#: (file stem, key prefix, part)
FILES = (("train", "train", "train"), ("valid", "valid", "val"), ("test", "test", "test"))


def load_mat(path: Path, prefix: str, part: str) -> Dataset:
    """One ``nist36_<prefix>.mat``: keys ``<prefix>_data`` and ``<prefix>_labels``."""
    require_file(path, f"a MATLAB file with keys {prefix}_data (N, 1024) and "
                       f"{prefix}_labels (N, 36) one-hot; run datasets/get_nist36.sh")
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path))
    except Exception as exc:  # not a .mat, truncated, v7.3/HDF5, ...
        raise DatasetError(f"{path}: not a readable MATLAB .mat file ({type(exc).__name__}: "
                           f"{exc})") from None
    found = sorted(k for k in mat if not k.startswith("__"))
    arrays = {}
    for key in (f"{prefix}_data", f"{prefix}_labels"):
        if key not in mat:
            raise DatasetError(f"{path}: missing key {key!r} (found: {', '.join(found) or 'none'})")
        arrays[key] = np.asarray(mat[key])
    data, onehot = arrays[f"{prefix}_data"], arrays[f"{prefix}_labels"]
    npix = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
    if data.ndim != 2 or data.shape[1] != npix or data.dtype.kind not in "fiub":
        raise DatasetError(f"{path}: {prefix}_data must be a numeric array (N, {npix}); found "
                           f"{data.dtype} {data.shape}")
    data = data.astype(np.float64)
    if data.size and (not np.isfinite(data).all() or data.min() < 0 or data.max() > 1):
        raise DatasetError(f"{path}: {prefix}_data values must lie in [0, 1]; found "
                           f"{np.nanmin(data):g}..{np.nanmax(data):g}")
    k = len(CLASS_NAMES)
    if onehot.ndim != 2 or onehot.shape != (len(data), k) or onehot.dtype.kind not in "fiub":
        raise DatasetError(f"{path}: {prefix}_labels must be one-hot of shape ({len(data)}, {k}) "
                           f"(one row per row of {prefix}_data); found {onehot.dtype} "
                           f"{onehot.shape}")
    binary = (onehot == 0) | (onehot == 1)
    bad = np.flatnonzero(~binary.all(axis=1) | (onehot.sum(axis=1) != 1))
    if bad.size:
        raise DatasetError(f"{path}: {prefix}_labels row {bad[0]} is not one-hot (expected "
                           f"exactly one 1 among {k} columns, the rest 0); {bad.size} such row(s)")
    labels = onehot.argmax(axis=1).astype(np.int64)
    images = np.ascontiguousarray(data.reshape(len(data), *IMAGE_SHAPE))
    return Dataset(NAME, images, labels, CLASS_NAMES, VALUE_MAX, part, str(path))


def load(source: Path | str) -> dict[str, Dataset]:
    """NIST36 from the folder ``source`` holding ``nist36_{train,valid,test}.mat``.

    Returns ``{"train", "val", "test"}`` (``valid`` becomes ``"val"``); all three files must
    be present.  Raises ``DatasetError`` naming the file for a missing or unreadable file, a
    missing key, a wrong shape, values outside [0, 1] or labels that are not one-hot.
    """
    root = require_dir(Path(source), "the NIST36 folder (nist36_train.mat, nist36_valid.mat, "
                                     "nist36_test.mat); run datasets/get_nist36.sh")
    return {part: load_mat(root / f"nist36_{stem}.mat", prefix, part)
            for stem, prefix, part in FILES}
