"""Writers of tiny data files in each raw format, for the kit's tests and offline demos.

Each writer produces files byte-compatible with the real distribution (CIFAR-10 batches are
written with Python 2 ``str`` keys, as the official pickles have them) and returns the arrays
it wrote, so a test can compare a loader's output with what went in.  Images are random but
reproducible (``seed``); labels cycle through the classes so every class is present.
"""
from __future__ import annotations

import io
import pickle
import struct
from pathlib import Path

import numpy as np


class _Py2Str(bytes):
    """A ``bytes`` that pickles as a Python 2 ``str`` (opcodes SHORT_BINSTRING/BINSTRING)."""

    __hash__ = bytes.__hash__


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table is public
    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2str(self, obj: _Py2Str) -> None:
        data = bytes(obj)
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[_Py2Str] = save_py2str


def _py2(obj):
    """Turn the str keys (and str values) of a dict / list into Python 2 strs."""
    if isinstance(obj, str):
        return _Py2Str(obj.encode("latin1"))
    if isinstance(obj, dict):
        return {_py2(k): _py2(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_py2(v) for v in obj]
    return obj


def cifar_pickle_bytes(obj: dict, py2_keys: bool = True) -> bytes:
    """``obj`` pickled with protocol 2; with ``py2_keys`` its strs become Python 2 strs."""
    buf = io.BytesIO()
    if py2_keys:
        _Py2Pickler(buf, protocol=2).dump(_py2(obj))
    else:
        pickle.dump(obj, buf, protocol=2)
    return buf.getvalue()


def write_cifar10(root: Path | str, n_per_batch: int = 10, num_train_batches: int = 5,
                  seed: int = 0, py2_keys: bool = True) -> dict[str, np.ndarray]:
    """``data_batch_1..num_train_batches``, ``test_batch``, ``batches.meta`` under ``root``.

    Returns ``{"train_data", "train_labels", "test_data", "test_labels"}``: the raw uint8
    ``(n, 3072)`` rows and int64 labels as written (train batches concatenated).
    """
    from . import cifar10

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    out: dict[str, list] = {"train_data": [], "train_labels": [], "test_data": [], "test_labels": []}
    names = [f"data_batch_{i}" for i in range(1, num_train_batches + 1)] + ["test_batch"]
    for b, name in enumerate(names):
        data = rng.randint(0, 256, size=(n_per_batch, 3072)).astype(np.uint8)
        labels = [int((b + i) % 10) for i in range(n_per_batch)]
        batch = {"batch_label": f"{name} of 1", "labels": labels, "data": data,
                 "filenames": [f"img_{b}_{i}.png" for i in range(n_per_batch)]}
        (root / name).write_bytes(cifar_pickle_bytes(batch, py2_keys))
        kind = "test" if name == "test_batch" else "train"
        out[f"{kind}_data"].append(data)
        out[f"{kind}_labels"].append(np.asarray(labels, dtype=np.int64))
    meta = {"num_cases_per_batch": n_per_batch, "label_names": list(cifar10.DEFAULT_CLASS_NAMES),
            "num_vis": 3072}
    (root / "batches.meta").write_bytes(cifar_pickle_bytes(meta, py2_keys))
    return {k: np.concatenate(v) for k, v in out.items()}


def fer_pixels_text(image: np.ndarray) -> str:
    """A 48x48 image as fer2013.csv's space-separated pixel field."""
    return " ".join(str(int(v)) for v in np.asarray(image).reshape(-1))


def write_fer2013_csv(path: Path | str, usages: list[str], seed: int = 0) -> dict[str, np.ndarray]:
    """A ``fer2013.csv`` with one row per entry of ``usages`` (Training/PublicTest/PrivateTest).

    Returns ``{"images": uint8 (n, 48, 48), "labels": int64 (n,)}`` in row order.
    """
    rng = np.random.RandomState(seed)
    images = rng.randint(0, 256, size=(len(usages), 48, 48)).astype(np.uint8)
    labels = np.arange(len(usages), dtype=np.int64) % 7
    lines = ["emotion,pixels,Usage"]
    lines += [f"{y},{fer_pixels_text(x)},{u}" for x, y, u in zip(images, labels, usages)]
    Path(path).write_text("\n".join(lines) + "\n")
    return {"images": images, "labels": labels}


def write_fer2013_imperial(root: Path | str, train_labels: list[int], test_labels: list[int],
                           seed: int = 0, suffix: str = ".png") -> dict[str, np.ndarray]:
    """The Imperial layout: ``Train/1.png..``, ``Test/1.png..`` and ``labels_public.txt``.

    ``labels_public.txt`` is ``img,emotion`` then ``Train/1.png,3`` lines (Train first).
    PNG keeps pixels exact; pass ``suffix=".jpg"`` for the handout's JPEGs (lossy).
    Returns ``{"train_images", "train_labels", "test_images", "test_labels"}``.
    """
    from PIL import Image

    root = Path(root)
    rng = np.random.RandomState(seed)
    out = {}
    lines = ["img,emotion"]
    for folder, labels in (("Train", train_labels), ("Test", test_labels)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        images = rng.randint(0, 256, size=(len(labels), 48, 48)).astype(np.uint8)
        for i, (img, y) in enumerate(zip(images, labels), start=1):
            Image.fromarray(img).save(root / folder / f"{i}{suffix}")
            lines.append(f"{folder}/{i}{suffix},{int(y)}")
        out[f"{folder.lower()}_images"] = images
        out[f"{folder.lower()}_labels"] = np.asarray(labels, dtype=np.int64)
    (root / "labels_public.txt").write_text("\n".join(lines) + "\n")
    return out


def write_nist36(root: Path | str, n_per_class: dict[str, int] | None = None,
                 seed: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """``nist36_{train,valid,test}.mat`` under ``root`` via ``scipy.io.savemat``.

    ``n_per_class`` gives examples per class for each file stem (default 1 each).  Data are
    float64 ``(n, 1024)`` in [0, 1], labels one-hot ``(n, 36)``.  Returns
    ``{stem: {"data", "labels"}}`` with ``labels`` as int64 class indices.
    """
    from scipy.io import savemat

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    counts = {"train": 1, "valid": 1, "test": 1, **(n_per_class or {})}
    rng = np.random.RandomState(seed)
    out = {}
    for stem in ("train", "valid", "test"):
        labels = np.tile(np.arange(36, dtype=np.int64), counts[stem])
        data = rng.randint(0, 256, size=(len(labels), 1024)) / 255.0
        onehot = np.eye(36)[labels]
        savemat(str(root / f"nist36_{stem}.mat"),
                {f"{stem}_data": data, f"{stem}_labels": onehot})
        out[stem] = {"data": data, "labels": labels}
    return out
