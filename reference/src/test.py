"""Load and test your saved FER2013 / configured-data-set model (Q5).

The grader scores your best fully-connected model on a PRIVATE test set.  It uses, in this
order of preference:

1. ``load_model()`` and ``predict(model, X)``: scores for every class, which give accuracy,
   macro-F1 and the confusion matrix;
2. the handout's ``test_fer_model(img_folder)``: predicted labels only.

Either way it calls them with their DEFAULT arguments, so ``MODEL_PATH`` must name the model you
submit (next to ``src/``).  ``X`` holds raw images scaled to [0, 1] — float32 ``(N, H, W)`` for
grey data sets (digits, FER2013), ``(N, H, W, C)`` for colour ones — exactly like
``get_native_data()["X_val"]`` in ``src/utils/data_utils.py``: apply the same preprocessing your
training used (``train_fer_model.py`` saves the training mean next to the weights).
"""
import os

import numpy as np

from .fcnet import FullyConnectedNet
from .utils import model_io

#: The model ``train_fer_model.py`` saves: ``model.npz`` (+ ``model.json``) in the submission
#: root (the folder holding ``src/``).
MODEL_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "model.npz")


def load_model(path=MODEL_PATH):
    """Your trained model, loaded from ``path`` (``model_io.load_fc_model`` reads the
    ``.npz`` + ``.json`` pair and checks every array against the architecture)."""
    # BEGIN SOLUTION: rebuild your FullyConnectedNet from the saved files
    return model_io.load_fc_model(path, FullyConnectedNet)
    # END SOLUTION


def predict(model, X):
    """Class scores ``(N, C)`` for images ``X`` (float32 in [0, 1], ``(N, H, W)`` or
    ``(N, H, W, C)``), with the preprocessing used in training.  X is not modified."""
    # BEGIN SOLUTION: flatten each image, subtract the training mean, return the network's scores
    flat = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    return model.loss(flat - model.mean_image.reshape(1, -1))
    # END SOLUTION


def test_fer_model(img_folder, model=MODEL_PATH):
    """The handout's interface: predicted labels ``(N,)`` for every image file in
    ``img_folder`` (sorted by file name), using the model saved at ``model``."""
    # BEGIN SOLUTION: read the images (model_io.read_image_folder), load the model, predict
    images = model_io.read_image_folder(img_folder)
    scores = predict(load_model(model), images)
    return np.argmax(scores, axis=1)
    # END SOLUTION
