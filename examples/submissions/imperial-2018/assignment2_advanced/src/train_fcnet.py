import numpy as np

from src.fcnet import FullyConnectedNet
from src.utils.solver import Solver
from src.utils.data_utils import get_CIFAR10_data

"""
TODO: Use a Solver instance to train a TwoLayerNet that achieves at least 50%
accuracy on the validation set.
"""
###########################################################################
#                           BEGIN OF YOUR CODE                            #
###########################################################################
data = get_CIFAR10_data()
model = FullyConnectedNet([100], weight_scale=1e-3, dtype=np.float64)
solver = Solver(model, data, update_rule='sgd', optim_config={'learning_rate': 1e-3},
                lr_decay=0.95, num_epochs=10, batch_size=100, print_every=1000, verbose=False)
solver.train()
##############################################################################
#                             END OF YOUR CODE                               #
##############################################################################
