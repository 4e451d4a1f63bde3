"""CIFAR-10 from its python pickle batches (``cifar-10-batches-py``).

The folder holds ``data_batch_1`` .. ``data_batch_5`` (10000 images each), ``test_batch``
(10000) and ``batches.meta``.  Each batch is a pickled dict with ``b'data'`` (uint8
``(n, 3072)``: 1024 red, then 1024 green, then 1024 blue values of a 32x32 image, row-major)
and ``b'labels'`` (n ints in 0..9); ``batches.meta`` holds ``b'label_names'``.  Keys may be
bytes (the official Python 2 pickles) or str (a batch re-saved under Python 3).

The pickles are read with :mod:`pickle`, which can run code: they are TRUSTED instructor data
(fetched by ``datasets/get_cifar10.sh``, checksum verified), never a submission's files.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np

from .base import Dataset, DatasetError, require_dir, require_file

NAME = "cifar10"
FOLDER = "cifar-10-batches-py"
IMAGE_SHAPE = (32, 32, 3)
VALUE_MAX = 255
NUM_TRAIN_BATCHES = 5
DEFAULT_CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer",
                       "dog", "frog", "horse", "ship", "truck")


def _key(k: Any) -> Any:
    return k.decode("latin1") if isinstance(k, bytes) else k


def read_pickle(path: Path) -> dict[str, Any]:
    """One CIFAR pickle as a dict with str keys; ``DatasetError`` if unreadable."""
    require_file(path, "a CIFAR-10 python pickle batch (from cifar-10-python.tar.gz)")
    try:
        with open(path, "rb") as f:
            obj = pickle.load(f, encoding="bytes")
    except Exception as exc:  # truncated or not a pickle: EOFError, UnpicklingError, ...
        raise DatasetError(f"{path}: not a readable CIFAR-10 pickle (truncated or corrupt: "
                           f"{type(exc).__name__}: {exc})") from None
    if not isinstance(obj, dict):
        raise DatasetError(f"{path}: not a CIFAR-10 batch (expected a pickled dict; found "
                           f"{type(obj).__name__})")
    return {_key(k): v for k, v in obj.items()}


def load_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One batch: images ``uint8`` ``(n, 32, 32, 3)`` and labels ``int64`` ``(n,)``."""
    d = read_pickle(path)
    for key in ("data", "labels"):
        if key not in d:
            raise DatasetError(f"{path}: not a CIFAR-10 batch (no {key!r} key; found keys "
                               f"{sorted(map(str, d))})")
    data = d["data"]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 \
            or data.shape[1] != 3072:
        raise DatasetError(f"{path}: 'data' must be a uint8 array of shape (n, 3072); found "
                           f"{getattr(data, 'dtype', type(data).__name__)} "
                           f"{getattr(data, 'shape', '')}")
    try:
        labels = np.asarray(d["labels"])
    except Exception:
        labels = np.asarray([], dtype=object)
    if labels.ndim != 1 or labels.dtype.kind not in "iu" or len(labels) != len(data):
        raise DatasetError(f"{path}: 'labels' must be {len(data)} integers (one per row of "
                           f"'data'); found {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DatasetError(f"{path}: labels must lie in 0..9; found "
                           f"{labels.min()}..{labels.max()}")
    images = np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    return images, labels.astype(np.int64)


def load_class_names(path: Path) -> tuple[str, ...]:
    """The ten names in ``batches.meta`` (``label_names``)."""
    meta = read_pickle(path)
    names = meta.get("label_names")
    if names is None:
        raise DatasetError(f"{path}: not a CIFAR-10 batches.meta (no 'label_names' key; "
                           f"found keys {sorted(map(str, meta))})")
    names = tuple(_key(n) for n in names)
    if len(names) != 10 or not all(isinstance(n, str) for n in names):
        raise DatasetError(f"{path}: 'label_names' must be 10 strings; found {names!r}")
    return names


def load(source: Path | str, num_train_batches: int = NUM_TRAIN_BATCHES) -> dict[str, Dataset]:
    """CIFAR-10 from the folder ``source`` (usually ``datasets/cifar-10-batches-py``).

    Reads ``data_batch_1`` .. ``data_batch_<num_train_batches>``, ``test_batch`` and
    ``batches.meta``; every one must be present.  Returns ``{"train": Dataset, "test":
    Dataset}`` (the official parts, in file order) with images ``uint8`` ``(n, 32, 32, 3)``
    (HWC, RGB) and labels ``int64``.
    """
    root = require_dir(Path(source), f"the CIFAR-10 batches folder ({FOLDER}: data_batch_1..5, "
                                     "test_batch, batches.meta); run datasets/get_cifar10.sh")
    class_names = load_class_names(root / "batches.meta")
    train_files = [root / f"data_batch_{i}" for i in range(1, num_train_batches + 1)]
    batches = [load_batch(p) for p in train_files]
    x_test, y_test = load_batch(root / "test_batch")
    train = Dataset(NAME, np.concatenate([b[0] for b in batches]),
                    np.concatenate([b[1] for b in batches]), class_names, VALUE_MAX, "train",
                    f"{root}/data_batch_1..{num_train_batches}")
    test = Dataset(NAME, x_test, y_test, class_names, VALUE_MAX, "test", str(root / "test_batch"))
    return {"train": train, "test": test}
