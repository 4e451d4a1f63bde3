"""A numerical gradient checker (CMU 16-720 / GIST handout, question 1.5)."""
import numpy as np


def numerical_gradient(f, x, eps=1e-6):
    """Gradient of a scalar function by central differences, one scalar of ``x`` at a time.

    Inputs:
    - f: function taking an array shaped like ``x`` and returning a float (e.g. a loss as a
      function of one weight matrix).  ``f`` may be called with ``x`` itself.
    - x: float64 array of any shape, the point at which to differentiate.
    - eps: float, the offset.

    Returns ``grad``, a float64 array shaped like ``x`` with
    ``grad[i] = (f(x + eps*e_i) - f(x - eps*e_i)) / (2*eps)``, where ``e_i`` is the unit array
    of the i-th scalar entry: EACH entry is perturbed ON ITS OWN (never all entries at once),
    the others keeping their values.

    ``x`` may be changed temporarily while ``f`` is evaluated, but on return it holds exactly
    its original values: save each entry's old value and write it back (rather than adding
    and subtracting ``eps``, which can drift by a rounding error).
    """
    grad = np.zeros(x.shape, dtype=np.float64)
    # TODO: for each scalar entry of x, evaluate f at x +- eps in that entry only, restore the entry, and store the central difference
    raise NotImplementedError('TODO in src/gradcheck.py, numerical_gradient(): for each scalar entry of x, evaluate f at x +- eps in that entry only, restore the entry, and store the central difference')
    return grad
