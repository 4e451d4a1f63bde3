"""First-order update rules used by the Solver (sgd is given; sgd_momentum is Q5).

Each update rule accepts the current weights and the gradient of the loss with respect to
them and produces the next weights. Every rule has the same interface:

    def update(w, dw, config=None):

Inputs:
  - w: A numpy array giving the current weights.
  - dw: A numpy array of the same shape as w giving the gradient of the
    loss with respect to w.
  - config: A dictionary containing hyperparameter values such as learning
    rate, momentum, etc. If the update rule requires caching values over many
    iterations, then config will also hold these cached values.

Returns:
  - next_w: The next point after the update.
  - config: The config dictionary to be passed to the next iteration of the
    update rule.

NOTE: For most update rules, the default learning rate will probably not
perform well; however the default values of the other hyperparameters should
work well for a variety of different problems.

For efficiency, update rules may perform in-place updates, mutating w and
setting next_w equal to w (the given sgd does).

@CS231n (cs231n.stanford.edu), as shipped with Imperial's assignment2_advanced.
"""
import numpy as np


def sgd(w, dw, config=None):
    """
    Performs vanilla stochastic gradient descent, IN PLACE: ``w -= learning_rate * dw``.

    config format:
    - learning_rate: Scalar learning rate (default 1e-2).
    """
    if config is None: config = {}
    config.setdefault('learning_rate', 1e-2)

    w -= config['learning_rate'] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    """
    Performs stochastic gradient descent with momentum.

        v      = momentum * v - learning_rate * dw
        next_w = w + v

    config format:
    - learning_rate: Scalar learning rate (default 1e-2).
    - momentum: Scalar between 0 and 1 giving the momentum value (default 0.9).
      Setting momentum = 0 reduces to sgd.
    - velocity: A numpy array of the same shape as w and dw used to store a
      moving average of the gradients (zeros when absent).

    Returns (next_w, config) with config['velocity'] holding the NEW velocity v.
    w and dw are not modified (next_w is a new array).
    """
    if config is None: config = {}
    config.setdefault('learning_rate', 1e-2)
    config.setdefault('momentum', 0.9)
    v = config.get('velocity', np.zeros_like(w))

    next_w = None
    # TODO: update the velocity v with momentum and the gradient step, then compute next_w from w and v (config['velocity'] = v is stored below)
    raise NotImplementedError("TODO in src/utils/optim.py, sgd_momentum(): update the velocity v with momentum and the gradient step, then compute next_w from w and v (config['velocity'] = v is stored below)")
    config['velocity'] = v

    return next_w, config
