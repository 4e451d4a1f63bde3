"""Your best convolutional network in PyTorch (the trained-model question; seeds 000 Q6 / 004 Q8.8).

Write the architecture of ``Net`` (its layers in ``__init__`` and the computation in
``forward``), train it with ``python -m src.train_cnn`` (given: it saves ``model.safetensors``
next to ``src/``), and submit ``src/cnn.py`` together with ``model.safetensors``.

How it is graded: the grader builds ``Net()`` with NO arguments, loads your saved
``state_dict`` into it (``model.safetensors``, or ``model.pt`` loaded with
``torch.load(..., weights_only=True)``), puts it in ``eval()`` mode and, without gradients,
feeds it the PRIVATE test images as a float32 tensor ``(N, C, H, W)`` with values in
``[0, 1]``.  ``forward`` must return ``(N, num_classes)`` class scores (logits; a softmax is
not needed).  Accuracy, macro-F1 and the confusion matrix are computed from the arg-max.

So ``Net`` must do its own input normalisation (inside ``forward``) and must not depend on
anything but its own parameters and buffers.  The configured data set is scikit-learn's digits:
``(N, 1, 8, 8)`` images, 10 classes.  (For CIFAR-10 it would be ``(N, 3, 32, 32)``.)
"""
import os

import numpy as np
import torch
from torch import nn

#: Input channels and number of classes of the configured data set (digits).
IN_CHANNELS = 1
NUM_CLASSES = 10

#: Where ``train_cnn.py`` saves the model and where the grader looks for it: the submission
#: root (the folder holding ``src/``).
MODEL_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                          "model.safetensors")


class Net(nn.Module):
    """A convolutional classifier for ``(N, IN_CHANNELS, H, W)`` float32 images in ``[0, 1]``.

    ``Net()`` takes no arguments.  ``forward(x)`` returns ``(N, NUM_CLASSES)`` logits and
    normalises its input itself.  Anything that behaves differently in training and in
    evaluation (dropout, batch norm) must be correct in ``eval()`` mode, which is how it is
    graded.
    """

    def __init__(self):
        super().__init__()
        # TODO: define the layers of your network (convolutions, pooling, linear layers, ...)
        raise NotImplementedError('TODO in src/cnn.py, __init__(): define the layers of your network (convolutions, pooling, linear layers, ...)')

    def forward(self, x):
        """x: float32 ``(N, IN_CHANNELS, H, W)`` in [0, 1] -> logits ``(N, NUM_CLASSES)``."""
        # TODO: normalise x and compute the class scores
        raise NotImplementedError('TODO in src/cnn.py, forward(): normalise x and compute the class scores')


def load_model(path=MODEL_PATH):
    """A ``Net()`` with the weights saved at ``path``, in eval mode (given code).

    ``path`` ending in ``.safetensors`` is read with ``safetensors.torch.load_file``; anything
    else with ``torch.load(path, weights_only=True)`` (a ``state_dict``).
    """
    model = Net()
    if str(path).endswith(".safetensors"):
        from safetensors.torch import load_file
        state = load_file(str(path))
    else:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.eval()
    return model


def predict_numpy(X, path=None, seed=0, batch_size=512):
    """Class scores of ``Net`` for NumPy images, as NumPy (given code; the tests use it).

    Inputs:
      X: ``(N, IN_CHANNELS, H, W)`` array with values in [0, 1] (converted to float32;
        not modified).
      path: None for a freshly initialised ``Net()`` (built after ``torch.manual_seed(seed)``,
        so repeated calls give the same network), or the path of a saved ``state_dict``
        (see :func:`load_model`).

    Returns:
      scores: float32 ``(N, NUM_CLASSES)`` array: ``Net.forward`` in eval mode, without
      gradients, in batches of ``batch_size``.
    """
    if path is None:
        torch.manual_seed(seed)
        model = Net()
        model.eval()
    else:
        model = load_model(path)
    x = torch.from_numpy(np.array(X, dtype=np.float32, copy=True))
    outs = []
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            outs.append(model(x[start:start + batch_size]).float())
    scores = torch.cat(outs) if outs else torch.zeros((0, NUM_CLASSES))
    return scores.numpy()
