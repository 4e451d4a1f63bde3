"""The fixed family of trusted functions a call may need as an argument.

Student functions that take a function (``numerical_gradient(f, x)``) get one of these,
built inside the worker from a name and numeric parameters sent as data: the grader never
sends code, and each function reads only its argument.  The same builders run on the
trusted side, so expected values are computed from identical functions.

Every function maps an ndarray ``x`` (any shape) to a Python float.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np


def _quadratic(A: np.ndarray, b: np.ndarray, c: float) -> Callable[[np.ndarray], float]:
    """f(x) = 0.5 * v.A.v + b.v + c with v = x.ravel()."""
    A = np.asarray(A, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)

    def f(x: np.ndarray) -> float:
        v = np.asarray(x, dtype=np.float64).ravel()
        return float(0.5 * v @ A @ v + b @ v + c)
    return f


def _tanh_sum(w: np.ndarray, a: np.ndarray, c: np.ndarray) -> Callable[[np.ndarray], float]:
    """f(x) = sum(w * tanh(a * x + c)), all elementwise with x's shape."""
    w, a, c = (np.asarray(t, dtype=np.float64) for t in (w, a, c))

    def f(x: np.ndarray) -> float:
        return float(np.sum(w * np.tanh(a * np.asarray(x, dtype=np.float64) + c)))
    return f


def _mlp_loss(X: np.ndarray, V: np.ndarray, Y: np.ndarray) -> Callable[[np.ndarray], float]:
    """f(W) = sum((sigmoid(X @ W) @ V - Y) ** 2): a small network's loss in its first weights."""
    X, V, Y = (np.asarray(t, dtype=np.float64) for t in (X, V, Y))

    def f(W: np.ndarray) -> float:
        h = 1.0 / (1.0 + np.exp(-(X @ np.asarray(W, dtype=np.float64))))
        return float(np.sum((h @ V - Y) ** 2))
    return f


BUILDERS: dict[str, Callable[..., Callable[[np.ndarray], float]]] = {
    "quadratic": _quadratic,
    "tanh_sum": _tanh_sum,
    "mlp_loss": _mlp_loss,
}


def build(name: str, params: dict[str, Any]) -> Callable[[np.ndarray], float]:
    """The trusted function ``name`` with ``params``; unknown names are refused."""
    try:
        builder = BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown trusted function {name!r}; known: {sorted(BUILDERS)}") from None
    return builder(**params)
