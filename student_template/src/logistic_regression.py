"""Softmax probabilities and logistic regression by gradient descent (seed 002, question Q8).

Conventions used by every function here:
  * ``X`` is a float array (N, D) that already carries its bias column (the handout's data
    matrix has a column of ones at the end), so the model has no separate bias: the
    activation of example n is ``a_n = X[n] @ w`` with ``w`` of shape (D,).
  * Targets ``t`` are an array (N,) of 0s and 1s; ``p(t_n = 1 | x_n) = sigmoid(a_n)``.
  * The negative log-likelihood (the handout's "error", Bishop eq. 4.90) is the MEAN over
    the N examples:  ``E(w) = -(1/N) sum_n [t_n log y_n + (1 - t_n) log(1 - y_n)]`` with
    ``y_n = sigmoid(a_n)``; its gradient (eq. 4.91) is ``(1/N) sum_n (y_n - t_n) x_n``.
  * No function modifies its array inputs (``w0`` included).
"""
import numpy as np


def sigmoid(a):
    """Logistic sigmoid ``1 / (1 + exp(-a))``, elementwise and numerically stable.

    Input:
        a: float array of any shape (or a number).  Not modified.

    Returns:
        float array of ``a``'s shape with values in [0, 1].  Stable for any finite input:
        ``sigmoid(1000.0) == 1.0`` and ``sigmoid(-1000.0) == 0.0`` exactly, no NaN and no
        overflow (evaluate ``exp`` only of non-positive numbers).
    """
    a = np.asarray(a, dtype=np.float64)
    # TODO: compute the sigmoid without ever exponentiating a large positive number
    raise NotImplementedError('TODO in src/logistic_regression.py, sigmoid(): compute the sigmoid without ever exponentiating a large positive number')
    return out


def softmax_probabilities(a):
    """Row-wise softmax: class probabilities from activations (the handout's eq. 1).

    Input:
        a: float array (N, K), ``a[n, k]`` is the activation of class k for example n.
           Not modified.

    Returns:
        float array (N, K): ``p[n, k] = exp(a[n, k]) / sum_j exp(a[n, j])``; every row sums
        to 1.  Numerically stable: subtract each ROW's maximum before exponentiating, so
        activations of +-1000 (even in rows far apart from each other) give finite results.
    """
    # TODO: compute the row-wise softmax, stable for huge activations
    raise NotImplementedError('TODO in src/logistic_regression.py, softmax_probabilities(): compute the row-wise softmax, stable for huge activations')
    return p


def negative_log_likelihood(w, X, t):
    """Mean negative log-likelihood of logistic regression (see the module docstring).

    Inputs:
        w: float array (D,), the weights (bias weight included).
        X: float array (N, D) with its bias column.
        t: array (N,) of targets in {0, 1}.
        None of them is modified.

    Returns:
        float: ``-(1/N) sum_n [t_n log sigmoid(a_n) + (1 - t_n) log(1 - sigmoid(a_n))]`` with
        ``a = X @ w``.  Numerically stable: it is finite even when ``sigmoid(a_n)`` rounds to
        exactly 0 or 1 (use ``log sigmoid(a) = -log(1 + exp(-a))`` in a stable form, e.g.
        ``np.logaddexp``), never ``log(sigmoid(a))``.
    """
    # TODO: compute the mean negative log-likelihood with stable log-sigmoid forms
    raise NotImplementedError('TODO in src/logistic_regression.py, negative_log_likelihood(): compute the mean negative log-likelihood with stable log-sigmoid forms')
    return nll


def gradient_descent(X, t, w0, eta, max_iter=500, tol=1e-2):
    """Full-batch gradient descent on the mean negative log-likelihood.

    Inputs:
        X: float array (N, D) with its bias column; t: array (N,) of targets in {0, 1}.
        w0: float array (D,), the initial weights.  NOT modified (work on a copy).
        eta: the step size.
        max_iter: the largest number of steps.
        tol: the stopping tolerance on the change of the NLL.

    Each step k = 0, 1, ...: compute ``e_k = negative_log_likelihood(w, X, t)`` of the CURRENT
    ``w`` and append it to the history, then update ``w <- w - eta * grad E(w)`` (the mean
    gradient, see the module docstring).  Stop after step k > 0 when
    ``|e_k - e_{k-1}| < tol``, or after ``max_iter`` steps.  (The handout's script makes the
    update before testing the stopping rule; tests accept a final ``w`` with or without that
    last update.)

    Returns:
        ``(w, nll_history)``: ``w`` float array (D,), the final weights; ``nll_history`` a list
        of floats, one per step (at most ``max_iter``), ``nll_history[0]`` being the NLL of
        ``w0``.
    """
    X = np.asarray(X, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    w = np.array(w0, dtype=np.float64, copy=True)
    nll_history = []
    # TODO: run the gradient descent loop, recording the NLL of the current w before each update
    raise NotImplementedError('TODO in src/logistic_regression.py, gradient_descent(): run the gradient descent loop, recording the NLL of the current w before each update')
    return w, nll_history


def stochastic_gradient_descent(X, t, w0, eta, max_iter=500, tol=1e-2, seed=None):
    """Stochastic gradient descent: one example per update, ``max_iter`` counts EPOCHS.

    Inputs:
        X, t, w0, eta, tol: as :func:`gradient_descent` (``w0`` is not modified).
        max_iter: the largest number of epochs.
        seed: when not None, NumPy's global RNG is seeded with it first (given code).

    Each epoch k = 0, 1, ...: compute ``e_k = negative_log_likelihood(w, X, t)`` of the
    current ``w`` on ALL the data and append it to the history; then visit the N examples in
    the order of a fresh random permutation (``np.random.permutation(N)``, a new one every
    epoch) and for each example n update ``w <- w - eta * (sigmoid(X[n] @ w) - t[n]) * X[n]``
    (the gradient of that example's own NLL term).  Stop after epoch k > 0 when
    ``|e_k - e_{k-1}| < tol``, or after ``max_iter`` epochs.  (Tests also accept a history
    recorded at the END of each epoch instead of its start, and a final ``w`` with or without
    the epoch after the last recorded NLL.)

    Returns:
        ``(w, nll_history)``: the final weights (D,) and a list of floats, one per epoch.
    """
    if seed is not None:
        np.random.seed(seed)
    X = np.asarray(X, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    w = np.array(w0, dtype=np.float64, copy=True)
    nll_history = []
    # TODO: run SGD epochs: record the NLL, then one update per example in a fresh random order
    raise NotImplementedError('TODO in src/logistic_regression.py, stochastic_gradient_descent(): run SGD epochs: record the NLL, then one update per example in a fresh random order')
    return w, nll_history
