import numpy as np

from src.fcnet import FullyConnectedNet
from src.utils.solver import Solver
from src.utils.data_utils import get_CIFAR10_data

"""
TODO: Overfit the network with 50 samples of CIFAR-10
"""
###########################################################################
#                           BEGIN OF YOUR CODE                            #
###########################################################################
data = get_CIFAR10_data()
small_data = {
    'X_train': data['X_train'][:50],
    'y_train': data['y_train'][:50],
    'X_val': data['X_train'][:50],
    'y_val': data['y_train'][:50],
}
model = FullyConnectedNet([100], weight_scale=1e-3, dtype=np.float64)
solver = Solver(model, small_data, update_rule='sgd', optim_config={'learning_rate': 1e-3},
                lr_decay=1.0, num_epochs=20, batch_size=10, print_every=100, verbose=False)
solver.train()
##############################################################################
#                             END OF YOUR CODE                               #
##############################################################################
