"""Saving and loading the NumPy fully-connected model (given code; Q5).

A saved model is two files side by side, and never a pickle:

* ``model.npz`` — the arrays: ``W1, b1, ..., WL, bL`` and ``mean_image`` (the training mean
  that ``predict`` subtracts), written with ``np.savez`` and read with ``allow_pickle=False``;
* ``model.json`` — the hyper-parameters needed to rebuild the network:
  ``{"hidden_dims": [...], "input_dim": D, "num_classes": C, "image_shape": [H, W(, C)]}``.

:func:`load_fc_model` rebuilds ``FullyConnectedNet`` from the JSON and checks every array of
the ``.npz`` against the architecture, naming the first mismatch ("model.npz: 'W2' has shape
(100, 7), but the network in model.json needs (100, 10)").

:func:`read_image_folder` reads a folder of images the way the grader writes them for
``test_fer_model``: every image file, in sorted file-name order, as float32 in [0, 1].
"""
import json
import os

import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".pgm", ".gif", ".tif", ".tiff")


def json_path(npz_path):
    """``model.npz`` -> ``model.json``."""
    return os.path.splitext(str(npz_path))[0] + ".json"


def save_fc_model(model, path, mean_image, image_shape):
    """Write ``model.params`` and ``mean_image`` to ``path`` (.npz) and the hyper-parameters
    to the ``.json`` beside it.  ``image_shape`` is the shape of one input image."""
    hidden = [int(model.params["W%d" % l].shape[1]) for l in range(1, model.num_layers)]
    meta = {
        "hidden_dims": hidden,
        "input_dim": int(model.params["W1"].shape[0]),
        "num_classes": int(model.params["W%d" % model.num_layers].shape[1]),
        "image_shape": [int(s) for s in image_shape],
    }
    arrays = {k: np.asarray(v) for k, v in model.params.items()}
    arrays["mean_image"] = np.asarray(mean_image, dtype=np.float64)
    np.savez(str(path), **arrays)
    with open(json_path(path), "w") as f:
        json.dump(meta, f, indent=2)


def load_fc_model(path, model_class):
    """Rebuild a ``model_class`` (FullyConnectedNet) from ``path`` (.npz) and its ``.json``.

    Raises ValueError naming the file and the first array that is missing, unexpected or of
    the wrong shape.  The returned model has float64 parameters and a ``mean_image``
    attribute.
    """
    meta_file = json_path(path)
    try:
        with open(meta_file) as f:
            meta = json.load(f)
    except FileNotFoundError:
        raise ValueError("%s not found: expected the hyper-parameters saved next to %s"
                         % (meta_file, os.path.basename(str(path)))) from None
    except json.JSONDecodeError as exc:
        raise ValueError("%s is not valid JSON (%s)" % (meta_file, exc)) from None
    for key in ("hidden_dims", "input_dim", "num_classes"):
        if key not in meta:
            raise ValueError("%s: missing %r (expected hidden_dims, input_dim, num_classes)"
                             % (meta_file, key))
    model = model_class(list(meta["hidden_dims"]), input_dim=int(meta["input_dim"]),
                        num_classes=int(meta["num_classes"]), dtype=np.float64)
    name = os.path.basename(str(path))
    try:
        data = np.load(str(path), allow_pickle=False)
    except ValueError as exc:
        raise ValueError("%s could not be read without unpickling (%s); save it with "
                         "save_fc_model" % (name, exc)) from None
    with data:
        stored = {k: data[k] for k in data.files}
    for key, value in model.params.items():
        if key not in stored:
            raise ValueError("%s has no array %r (the network in %s needs it, shape %s)"
                             % (name, key, os.path.basename(meta_file), tuple(value.shape)))
        if stored[key].shape != value.shape:
            raise ValueError("%s: %r has shape %s, but the network in %s needs %s"
                             % (name, key, tuple(stored[key].shape), os.path.basename(meta_file),
                                tuple(value.shape)))
    extra = sorted(set(stored) - set(model.params) - {"mean_image"})
    if extra:
        raise ValueError("%s has array %r that the network in %s does not have"
                         % (name, extra[0], os.path.basename(meta_file)))
    model.params = {k: stored[k].astype(np.float64) for k in model.params}
    model.mean_image = stored.get("mean_image", np.zeros(int(meta["input_dim"])))
    model.image_shape = tuple(meta.get("image_shape", ()))
    return model


def read_image_folder(img_folder):
    """All images in ``img_folder`` in sorted file-name order, as float32 in [0, 1]:
    ``(N, H, W)`` for grey images, ``(N, H, W, 3)`` for colour ones."""
    from PIL import Image
    names = sorted(n for n in os.listdir(img_folder) if n.lower().endswith(IMAGE_SUFFIXES))
    if not names:
        raise ValueError("%s holds no image files (expected %s)" % (img_folder, ", ".join(IMAGE_SUFFIXES)))
    images = []
    for n in names:
        with Image.open(os.path.join(img_folder, n)) as im:
            arr = np.asarray(im)
        if arr.ndim == 3 and arr.shape[2] == 4:
            arr = arr[..., :3]
        images.append(arr.astype(np.float32) / 255.0)
    return np.stack(images)
