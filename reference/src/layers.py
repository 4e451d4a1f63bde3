"""Layers of a fully-connected network: forward and backward passes (Q1 and Q2).

Imperial assignment2_advanced API: there are no caches; every backward function takes the
inputs of its forward function again.

Conventions used by every function here:
- Arrays are NumPy arrays with examples along axis 0.
- No function modifies its array inputs; each returns new arrays.
- Every gradient has exactly the shape of the value it is the gradient of
  (``dX.shape == X.shape``, ``dW.shape == W.shape``, ``db.shape == b.shape``).
"""
import numpy as np


def linear_forward(X, W, b):
    """Forward pass of a linear (fully-connected) layer: ``out = X_flat @ W + b``.

    Args:
    - X: float array of shape (N, d_1, ..., d_K), the incoming data. It is flattened to
      (N, D) with D = d_1 * ... * d_K in row-major (C) order, i.e. ``X.reshape(N, D)``.
    - W: float array of shape (D, M), the weights.
    - b: float array of shape (M,), the biases (1-D).

    Returns:
    - out: float array of shape (N, M).

    The inputs are not modified.
    """
    out = None
    # BEGIN SOLUTION: flatten X to (N, D) in row-major order, then apply the linear map with W and b
    out = X.reshape(X.shape[0], -1) @ W + b
    # END SOLUTION
    return out


def linear_backward(dout, X, W, b):
    """Backward pass of a linear layer.

    Args:
    - dout: float array of shape (N, M), the upstream derivative dL/dout.
    - X: float array of shape (N, d_1, ..., d_K), the input given to linear_forward.
    - W: float array of shape (D, M), the weights.
    - b: float array of shape (M,), the biases.

    Returns (as a tuple):
    - dX: float array of shape (N, d_1, ..., d_K) -- the SAME shape as X.
    - dW: float array of shape (D, M).
    - db: float array of shape (M,) -- 1-D, like b (not (1, M)).

    The gradients are of the loss whose derivative w.r.t. ``out`` is ``dout`` (no averaging
    over N here: dout already carries it). The inputs are not modified.
    """
    dX, dW, db = None, None, None
    # BEGIN SOLUTION: compute dX (reshaped back to X's shape), dW and db (summed over the examples)
    X2 = X.reshape(X.shape[0], -1)
    dX = (dout @ W.T).reshape(X.shape)
    dW = X2.T @ dout
    db = dout.sum(axis=0)
    # END SOLUTION
    return dX, dW, db


def relu_forward(X):
    """Forward pass of the rectified linear unit: ``out = max(0, X)`` elementwise.

    Args:
    - X: float array of any shape.

    Returns:
    - out: float array of the same shape (and dtype) as X.

    X is not modified (do not zero its entries in place: work on a new array).
    """
    out = None
    # BEGIN SOLUTION: return max(0, X) elementwise in a NEW array
    out = np.maximum(X, 0)
    # END SOLUTION
    return out


def relu_backward(dout, X):
    """Backward pass of the ReLU.

    Args:
    - dout: float array of any shape, the upstream derivative.
    - X: float array of the same shape, the input given to relu_forward.

    Returns:
    - dX: float array of the same shape: dout where X > 0, 0 where X < 0.

    At exactly X == 0 the reference uses the subgradient 0 (mask ``X > 0``); tests accept
    any value in [0, 1] * dout there. The inputs are not modified.
    """
    dX = None
    # BEGIN SOLUTION: pass dout through where X is positive, 0 elsewhere
    dX = dout * (X > 0)
    # END SOLUTION
    return dX


def dropout_forward(X, p=0.5, train=True, seed=None):
    """Forward pass of INVERTED dropout.

    Args:
    - X: float array of any shape.
    - p: the DROP probability, 0 <= p < 1: each entry is dropped (set to 0) with probability
      p and kept with probability q = 1 - p, independently of all other entries.
    - train: True for training mode, False for test mode.
    - seed: when not None, NumPy's global RNG is seeded with it first (given code below), so
      calls with the same seed produce the same mask (used for gradient checking).

    Returns (as a tuple):
    - out: array of X's shape. Training: ``out = X * mask``, i.e. kept entries are scaled by
      1 / (1 - p) so that E[out] = X, dropped entries are 0. Test: ``out`` equals X (the
      reference returns a copy) -- no scaling at test time.
    - mask: training: the array (X's shape) that X was multiplied by; the reference stores it
      PRE-SCALED: each entry is 0 or 1 / (1 - p). (A 0/1 mask that dropout_backward rescales
      by 1 / (1 - p) is equally valid: tests always give dropout_backward the mask that the
      same dropout_forward returned.) Test mode: the reference returns None (an array of ones
      is accepted too).

    X is not modified.
    """
    out = None
    mask = None
    if seed is not None:
        np.random.seed(seed)
    # BEGIN SOLUTION: training: draw a mask keeping each entry with probability 1 - p, scale the kept entries by 1 / (1 - p); test: out is X unchanged
    if train:
        keep = np.random.rand(*X.shape) >= p
        mask = keep.astype(X.dtype) / (1 - p)
        out = X * mask
    else:
        out = X.copy()
    # END SOLUTION
    return out, mask


def dropout_backward(dout, mask, p=0.5, train=True):
    """Backward pass of inverted dropout.

    Args:
    - dout: float array of any shape, the upstream derivative.
    - mask: the mask dropout_forward returned for this input (see dropout_forward).
    - p: the DROP probability used in the forward pass.
    - train: True for training mode, False for test mode.

    Returns:
    - dX: array of dout's shape. Training: ``dout * mask`` (0 where the entry was dropped,
      dout / (1 - p) where it was kept). Test: dX equals dout (the reference returns a copy).

    The inputs are not modified.
    """
    dX = None
    # BEGIN SOLUTION: training: route dout through the mask the forward pass used (with its scaling); test: dX is dout
    if train:
        dX = dout * mask
    else:
        dX = dout.copy()
    # END SOLUTION
    return dX
