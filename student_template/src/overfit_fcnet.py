"""Q4 sanity check: overfit a FullyConnectedNet on 50 training examples.

Run from the assignment folder with ``python -m src.overfit_fcnet``. ``main()`` trains and
returns the Solver; the network must reach 100 % training accuracy on the 50 examples within
20 epochs, and the parameters the Solver leaves in the model (the best ones on its validation
data) must classify all 50 correctly. Train on the data exactly as get_CIFAR10_data returns it
(the grader re-evaluates ``solver.model.params`` on the same examples).
"""
import numpy as np

from src.fcnet import FullyConnectedNet
from src.utils.solver import Solver
from src.utils.data_utils import get_CIFAR10_data

NUM_TRAIN = 50


def main():
    """Overfit NUM_TRAIN training examples; returns the trained Solver."""
    data = get_CIFAR10_data()
    small_data = {
        "X_train": data["X_train"][:NUM_TRAIN],
        "y_train": data["y_train"][:NUM_TRAIN],
        "X_val": data["X_val"],
        "y_val": data["y_val"],
    }
    solver = None
    # TODO: create a FullyConnectedNet and a Solver on small_data (at most 20 epochs) that reach 100 % training accuracy; tune the learning rate and weight_scale
    raise NotImplementedError('TODO in src/overfit_fcnet.py, main(): create a FullyConnectedNet and a Solver on small_data (at most 20 epochs) that reach 100 % training accuracy; tune the learning rate and weight_scale')
    solver.train()
    return solver


if __name__ == "__main__":
    main()
