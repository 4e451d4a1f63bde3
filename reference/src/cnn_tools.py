"""Given helpers for the CNN question (seed 000 Q6 / seed 004; you do not need to change this file).

This file is supplied by the grader: your copy is replaced by the course's, so the tests of
``Net`` run the same helper code for everybody and depend only on what the contract asks of
``src/cnn.py`` -- a class ``Net`` that ``Net()`` builds without arguments.  Everything else
``cnn.py`` may hold (constants, helpers) is yours to keep, change or drop.

  * :func:`load_model` -- a ``Net()`` with saved weights, in eval mode (how the grader scores
    your model);
  * :func:`predict_numpy` -- ``Net``'s class scores for NumPy images, as NumPy; the public tests
    call it (only plain data crosses between the tests and your code, which the grader runs in
    another process).
"""
import importlib
import os

import numpy as np
import torch

#: Where ``train_cnn.py`` saves the model and where the grader looks for it: the submission
#: root (the folder holding ``src/``).
MODEL_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "model.safetensors")


def _net_class():
    """``Net`` from the student's ``src/cnn.py``, imported when first needed."""
    if __package__:
        return importlib.import_module(".cnn", __package__).Net
    return importlib.import_module("cnn").Net


def load_model(path=MODEL_PATH):
    """A ``Net()`` with the weights saved at ``path``, in eval mode.

    ``path`` ending in ``.safetensors`` is read with ``safetensors.torch.load_file``; anything
    else with ``torch.load(path, weights_only=True)`` (a ``state_dict``).
    """
    model = _net_class()()
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file
        state = load_file(str(path))
    else:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    return model


def predict_numpy(X, path=None, seed=0, batch_size=512):
    """Class scores of ``Net`` for NumPy images, as NumPy.

    Inputs:
      X: ``(N, C, H, W)`` array with values in [0, 1] (converted to float32; not modified).
      path: None for a freshly initialised ``Net()`` (built after ``torch.manual_seed(seed)``,
        so repeated calls give the same network), or the path of a saved ``state_dict``
        (see :func:`load_model`).

    Returns:
      scores: float32 ``(N, num_classes)`` array: ``Net.forward`` in eval mode, without
      gradients, in batches of ``batch_size``.
    """
    if path is None:
        torch.manual_seed(seed)
        model = _net_class()()
        model.eval()
    else:
        model = load_model(path)
    x = torch.from_numpy(np.array(X, dtype=np.float32, copy=True))
    outs = []
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            outs.append(model(x[start:start + batch_size]).float())
    if not outs:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.cat(outs).numpy()
