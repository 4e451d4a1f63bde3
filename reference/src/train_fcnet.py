"""Q4: train a two-layer FullyConnectedNet with the Solver on the configured data set.

Run from the assignment folder with ``python -m src.train_fcnet``. ``main()`` trains and
returns the Solver; the parameters it leaves in the model must reach the validation accuracy
the assignment asks for (on digits, the kit's default data set: at least 90 %; on CIFAR-10
the handout asked for at least 45 %). Train on the data exactly as get_CIFAR10_data returns it
(the grader re-evaluates ``solver.model.params`` on the validation split).
"""
import numpy as np

from src.fcnet import FullyConnectedNet
from src.utils.solver import Solver
from src.utils.data_utils import get_CIFAR10_data


def main():
    """Train a two-layer network; returns the trained Solver."""
    data = get_CIFAR10_data()
    solver = None
    # BEGIN SOLUTION: create a two-layer FullyConnectedNet and a Solver on data (choose the update rule, learning rate, decay, epochs and batch size) that reach the required validation accuracy
    model = FullyConnectedNet([100], weight_scale=1e-3)
    solver = Solver(model, data,
                    update_rule="sgd",
                    optim_config={"learning_rate": 2e-3},
                    lr_decay=0.95,
                    num_epochs=5, batch_size=100,
                    print_every=50, verbose=True)
    # END SOLUTION
    solver.train()
    val_acc = solver.check_accuracy(data["X_val"], data["y_val"])
    print("validation accuracy of the returned model: %.4f" % val_acc)
    return solver


if __name__ == "__main__":
    main()
