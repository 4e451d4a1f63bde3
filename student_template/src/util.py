"""Activation functions and their derivatives for ``nn.py`` (given code: do not change it).

As the CMU 16-720 / GIST handout's ``util.py``, with one fix: the ReLU derivative casts to the
builtin ``float`` (``np.float`` was removed from NumPy in 1.24), and one addition: a copy of
``nn.py``'s given ``sigmoid_deriv``, so that the tests need nothing from ``nn.py`` but the
functions you write.

Every function works elementwise on an array of any shape and returns a new float array of the
same shape; inputs are not modified.  Each ``*_deriv`` function takes the layer's
POST-activation (the value the activation returned), which is what ``nn.backwards`` passes it:

    linear_deriv(post_act)  = 1
    sigmoid_deriv(post_act) = post_act * (1 - post_act)   (the same as nn.py's given one: the
                                                          tests use this copy)
    tanh_deriv(post_act)   = 1 - post_act**2
    relu_deriv(post_act)   = 1 where post_act > 0, else 0 (the gradient at exactly 0 is 0)
"""
import numpy as np


def linear(x):
    """Identity activation: returns ``x`` unchanged (same object)."""
    return x


def linear_deriv(post_act):
    """Derivative of the identity: an array of ones shaped like ``post_act``."""
    return np.ones_like(post_act)


def tanh(x):
    """Hyperbolic tangent, elementwise."""
    return np.tanh(x)


def tanh_deriv(post_act):
    """Derivative of tanh as a function of its output ``post_act = tanh(x)``: ``1 - post_act**2``."""
    return 1.0 - post_act ** 2


def sigmoid_deriv(post_act):
    """Derivative of the sigmoid as a function of its output: ``post_act * (1 - post_act)``."""
    return post_act * (1.0 - post_act)


def relu(x):
    """ReLU, elementwise: ``max(x, 0)``."""
    return np.maximum(x, 0)


def relu_deriv(x):
    """Derivative of ReLU: 1.0 where ``x > 0``, else 0.0 (0 at exactly 0).

    ``x`` may be the pre- or the post-activation: both are positive at the same places.
    """
    return (x > 0).astype(float)
