"""Data loading for the training scripts (given code: you do not need to change it).

``get_CIFAR10_data()`` returns the CONFIGURED data set in CIFAR-10's shapes, so the handout's
scripts run unchanged on machines without CIFAR-10:

* ``cifar10``: the public split ``datasets/cifar10/public/`` made by the instructor's
  ``split`` tool when present (the grader only ever shows that), else the python pickle
  batches in ``datasets/cifar-10-batches-py`` (``datasets/get_cifar10.sh`` downloads them);
* ``digits``: scikit-learn's bundled 8x8 digits (the kit's embedded default), scaled to
  0..255, enlarged 4x to 32x32 (nearest neighbour) and repeated over 3 channels.

Which one: ``$DLKIT_DATASET`` when set (the grader sets it), else ``cifar10`` when its batches
are present, else ``digits``.  Data files are looked up in ``$DLKIT_DATA_DIR`` when set, else in
the ``datasets/`` folder next to ``src/`` (or one level further up).

For digits only the PUBLIC split exists outside the grader (``datasets/digits/public/``:
``train_images.npy``, ``train_labels.npy``, ``val_images.npy``, ``val_labels.npy``); the
private test split is the instructor's.  ``X_test``/``y_test`` are then the validation
examples again, so scripts that read them still run.
"""
import os
import pickle

import numpy as np

CIFAR_DIR = "cifar-10-batches-py"


def datasets_dir():
    """The ``datasets/`` folder: ``$DLKIT_DATA_DIR``, else next to ``src/`` (or one further up)."""
    env = os.environ.get("DLKIT_DATA_DIR")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for up in (2, 3, 4):
        candidate = os.path.join(here, *([os.pardir] * up), "datasets")
        if os.path.isdir(candidate):
            return os.path.normpath(candidate)
    return os.path.join(os.getcwd(), "datasets")


_datasets_dir = datasets_dir   # the name the given scripts import


def configured_dataset():
    """The data set name: $DLKIT_DATASET, else cifar10 when present, else digits."""
    name = os.environ.get("DLKIT_DATASET")
    if name:
        return name
    root = datasets_dir()
    if os.path.isdir(os.path.join(root, "cifar10", "public")) or os.path.isdir(os.path.join(root, CIFAR_DIR)):
        return "cifar10"
    return "digits"


def load_CIFAR_batch(filename):
    """One CIFAR-10 python batch: X (10000, 32, 32, 3) float64, y (10000,) int64."""
    with open(filename, "rb") as f:
        datadict = pickle.load(f, encoding="latin1")
    X = np.asarray(datadict["data"], dtype=np.float64).reshape(-1, 3, 32, 32)
    X = X.transpose(0, 2, 3, 1)
    y = np.asarray(datadict["labels"], dtype=np.int64)
    return X, y


def load_CIFAR10(root):
    """All of CIFAR-10 from ``root``: Xtr (50000, 32, 32, 3), ytr, Xte (10000, 32, 32, 3), yte."""
    xs, ys = [], []
    for b in range(1, 6):
        X, y = load_CIFAR_batch(os.path.join(root, "data_batch_%d" % b))
        xs.append(X)
        ys.append(y)
    Xte, yte = load_CIFAR_batch(os.path.join(root, "test_batch"))
    return np.concatenate(xs), np.concatenate(ys), Xte, yte


def digits_as_cifar(images):
    """8x8 digit images with values 0..16 -> (N, 32, 32, 3) float64 with values 0..255."""
    x = np.asarray(images, dtype=np.float64) * (255.0 / 16.0)
    x = np.kron(x, np.ones((1, 4, 4)))
    return np.repeat(x[..., None], 3, axis=3)


def _load_public_split(root, name):
    """The public split ``root/name/public/{train,val}_{images,labels}.npy`` as a dict."""
    folder = os.path.join(root, name, "public")
    arrays = {}
    for part in ("train", "val"):
        for kind in ("images", "labels"):
            path = os.path.join(folder, "%s_%s.npy" % (part, kind))
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    "%s not found: expected the public %s split (uint8 images, int64 "
                    "labels); create it with `python -m autograder split --dataset %s`"
                    % (path, name, name))
            arrays[part + "_" + kind] = np.load(path, allow_pickle=False)
    return arrays


def _enlarged(x):
    """(N, 8, 8) -> (N, 3, 32, 32): each pixel a 4x4 block, repeated over 3 channels."""
    out = np.empty((len(x), 3, 8, 4, 8, 4), dtype=np.float64)
    out[...] = x[:, None, :, None, :, None]
    return out.reshape(len(x), 3, 32, 32)


def _digits_data(root, num_training, num_validation, num_test, subtract_mean):
    """get_CIFAR10_data for digits.  The same numbers as enlarging first (digits_as_cifar),
    then subtracting the mean image and transposing, computed at 8x8 and enlarged last: every
    pixel of a 4x4 block and every channel averages the same values, so it is 48x less work."""
    arrays = _load_public_split(root, "digits")
    X_train = np.asarray(arrays["train_images"], dtype=np.float64)[:num_training] * (255.0 / 16.0)
    X_val = np.asarray(arrays["val_images"], dtype=np.float64)[:num_validation] * (255.0 / 16.0)
    y_train = arrays["train_labels"].astype(np.int64)[:num_training]
    y_val = arrays["val_labels"].astype(np.int64)[:num_validation]
    X_test, y_test = X_val[:num_test].copy(), y_val[:num_test].copy()
    if subtract_mean:
        mean_image = np.mean(X_train, axis=0)
        X_train, X_val, X_test = X_train - mean_image, X_val - mean_image, X_test - mean_image
    return {"X_train": _enlarged(X_train), "y_train": y_train,
            "X_val": _enlarged(X_val), "y_val": y_val,
            "X_test": _enlarged(X_test), "y_test": y_test}


def get_CIFAR10_data(num_training=49000, num_validation=1000, num_test=1000,
                     subtract_mean=True):
    """The configured data set, preprocessed as CS231n does.

    Returns a dict with ``X_train``, ``y_train``, ``X_val``, ``y_val``, ``X_test``, ``y_test``;
    images are float64 ``(N, 3, 32, 32)`` with the training mean image subtracted when
    ``subtract_mean``; labels are int64.  Counts larger than what the data set has are
    clipped to what it has.
    """
    root = datasets_dir()
    name = configured_dataset()
    if name == "cifar10" and os.path.isdir(os.path.join(root, "cifar10", "public")):
        arrays = _load_public_split(root, "cifar10")
        X_train = arrays["train_images"].astype(np.float64)[:num_training]
        y_train = arrays["train_labels"].astype(np.int64)[:num_training]
        X_val = arrays["val_images"].astype(np.float64)[:num_validation]
        y_val = arrays["val_labels"].astype(np.int64)[:num_validation]
        X_test, y_test = X_val[:num_test].copy(), y_val[:num_test].copy()
    elif name == "cifar10":
        X_all, y_all, X_test, y_test = load_CIFAR10(os.path.join(root, CIFAR_DIR))
        n_val = min(num_validation, len(X_all) // 10)
        n_train = min(num_training, len(X_all) - n_val)
        X_train, y_train = X_all[:n_train], y_all[:n_train]
        X_val, y_val = X_all[n_train:n_train + n_val], y_all[n_train:n_train + n_val]
        X_test, y_test = X_test[:num_test], y_test[:num_test]
    elif name == "digits":
        return _digits_data(root, num_training, num_validation, num_test, subtract_mean)
    else:
        raise ValueError("get_CIFAR10_data: data set %r has no CIFAR-shaped form; expected "
                         "'cifar10' or 'digits' (set DLKIT_DATASET)" % name)

    if subtract_mean:
        mean_image = np.mean(X_train, axis=0)
        X_train = X_train - mean_image
        X_val = X_val - mean_image
        X_test = X_test - mean_image

    return {
        "X_train": X_train.transpose(0, 3, 1, 2).copy(), "y_train": y_train,
        "X_val": X_val.transpose(0, 3, 1, 2).copy(), "y_val": y_val,
        "X_test": X_test.transpose(0, 3, 1, 2).copy(), "y_test": y_test,
    }


#: Largest pixel value of each data set's stored images (the public split's .npy files).
VALUE_MAX = {"digits": 16.0, "cifar10": 255.0, "fer2013": 255.0, "nist36": 1.0}


def get_native_data(dataset=None):
    """The configured data set's PUBLIC split in its own layout, scaled to [0, 1].

    Returns a dict with ``X_train``, ``y_train``, ``X_val``, ``y_val``: images float32
    ``(N, H, W)`` for grey data sets (digits 8x8, FER2013 48x48, NIST36 32x32) or
    ``(N, H, W, C)`` for colour ones (CIFAR-10), values in [0, 1]; labels int64.  This is the
    layout and scaling the grader uses when it scores a saved model (``src/test.py``'s
    ``predict`` receives images exactly like ``X_val``).
    """
    name = dataset or configured_dataset()
    arrays = _load_public_split(datasets_dir(), name)
    scale = VALUE_MAX.get(name, 255.0)
    return {
        "X_train": (arrays["train_images"].astype(np.float32) / scale),
        "y_train": arrays["train_labels"].astype(np.int64),
        "X_val": (arrays["val_images"].astype(np.float32) / scale),
        "y_val": arrays["val_labels"].astype(np.int64),
    }
