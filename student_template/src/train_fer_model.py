"""Train your best fully-connected model for the private-test-set question (Q5) and save it.

Run it from the submission root::

    python -m src.train_fer_model

It trains a ``FullyConnectedNet`` with ``sgd_momentum`` and the Solver's early stopping
(``patience``) on the configured data set's PUBLIC split in its native layout
(``get_native_data()``: images in [0, 1], flattened, training mean subtracted), prints the
validation accuracy and writes ``model.npz`` + ``model.json`` (``utils/model_io.py``) next to
``src/``, where ``src/test.py`` loads them.  Submit both files.
"""
import os
import sys

import numpy as np

if __package__ in (None, ""):   # run as a file: import as a package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from src.fcnet import FullyConnectedNet
    from src.test import MODEL_PATH
    from src.utils import model_io
    from src.utils.data_utils import get_native_data
    from src.utils.solver import Solver
else:
    from .fcnet import FullyConnectedNet
    from .test import MODEL_PATH
    from .utils import model_io
    from .utils.data_utils import get_native_data
    from .utils.solver import Solver


def main(out=None):
    """Train, report, save; returns the Solver (its model holds the best parameters)."""
    data = get_native_data()
    image_shape = data["X_train"].shape[1:]
    X_train = data["X_train"].reshape(len(data["X_train"]), -1).astype(np.float64)
    X_val = data["X_val"].reshape(len(data["X_val"]), -1).astype(np.float64)
    mean_image = X_train.mean(axis=0)
    prepared = {"X_train": X_train - mean_image, "y_train": data["y_train"],
                "X_val": X_val - mean_image, "y_val": data["y_val"]}
    num_classes = int(max(data["y_train"].max(), data["y_val"].max())) + 1
    np.random.seed(0)
    solver = None
    # TODO: choose an architecture and hyper-parameters; train with sgd_momentum and early stopping
    raise NotImplementedError('TODO in src/train_fer_model.py, main(): choose an architecture and hyper-parameters; train with sgd_momentum and early stopping')
    print("validation accuracy: %.4f" % solver.best_val_acc)
    if out:
        os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "model.npz") if out else MODEL_PATH
    model_io.save_fc_model(solver.model, path, mean_image, image_shape)
    print("saved %s and %s" % (path, model_io.json_path(path)))
    return solver


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else None)
