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

Only ``Net`` is graded: loading a saved model and predicting with it is given code in
``src/cnn_tools.py`` (the grader supplies its own copy), so this file may hold ``Net`` alone.
"""
import torch
from torch import nn

#: Input channels and number of classes of the configured data set (digits).
IN_CHANNELS = 1
NUM_CLASSES = 10


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
