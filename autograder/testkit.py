"""Numerical checks shared by the public and the hidden tests.

Everything here runs on the trusted side.  Values coming from student code are first turned
into plain float64 NumPy arrays by :func:`to_array` (a forged ``__eq__``, an ndarray subclass or
an object array never reaches a comparison), shapes are asserted before values (broadcasting
hides wrong shapes), and failures say *which* value, *how wrong* and *where* — never the
expected value, so the same messages can be shown for hidden tests.

Conventions (numerics.md §2):
  * relative error ``|a - b| / max(1e-8, |a| + |b|)``, maximum over elements (the handouts'
    ``rel_error``);
  * numerical gradients by centred differences, ``h = 1e-5``, in float64; an analytic
    gradient is compared with them by :func:`assert_close_to_numerical`, where entries below
    ``1e-3`` of the parameter's largest are compared absolutely (finite-difference noise).
"""
from __future__ import annotations

import contextlib
import math
import numbers
from typing import Any, Callable, Iterator

import numpy as np

from .student import StudentError, TrustedFunction

__all__ = [
    "rel_error", "to_array", "to_scalar", "assert_shape", "assert_close",
    "assert_close_to_numerical", "assert_close_to_scale", "assert_scalar_close",
    "assert_unchanged", "numerical_gradient", "numerical_gradient_array",
    "numerical_param_gradients", "assert_param_gradients", "numerical_gradient_of", "raises",
    "trusted_function", "StudentError", "CheckFailed", "GUARD", "CLIP_BUG", "guard_tol",
    "log_guard_tol", "scores_guard_tol", "scores_guard_gradient", "clip_bug_error",
    "softmax_guard_slack",
    "logistic_log_p_true", "logistic_guard_tol", "assert_loss_within_guard",
    "assert_array",
]


class CheckFailed(AssertionError):
    """A check failed; the message is safe to show to students (no expected values)."""


def _describe(value: Any) -> str:
    kind = type(value).__name__
    if kind == "RemoteObject":        # an object the worker kept (sandbox/remote.py): its own type
        kind = str(object.__getattribute__(value, "_type"))
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"a value of type {kind[:60]}"


#: The largest numerical guard that is correct code (ASSIGNMENT.md Grading rules, "Numerical
#: guards"): an epsilon of at most this much inside a log or a denominator, or clipping
#: probabilities from below at this level, keeps every point.
GUARD = 1e-10
#: A guard that changes results materially and must lose points: probabilities clipped from
#: below at 1e-7 cap each cross-entropy term at -log(1e-7) = 16.1.
CLIP_BUG = 1e-7


def guard_tol(base: float) -> float:
    """Relative tolerance for a value normalised by a sum of at least 1 (a softmax after its
    max shift, a sigmoid's ``1 + exp(-x)``): an epsilon of at most :data:`GUARD` in that
    denominator moves it by at most ``GUARD`` relative, i.e. ``GUARD / 2`` in :func:`rel_error`'s
    measure; so the tolerance is at least ``GUARD`` (a margin of 2)."""
    return max(float(base), GUARD)


def softmax_guard_slack(n: int) -> float:
    """Absolute allowance per entry of a mean softmax cross-entropy's gradient over ``n``
    examples, ``(p - onehot) / n``, for an epsilon of at most :data:`GUARD` in the softmax's
    denominator: it moves each probability by at most ``GUARD * p <= GUARD``, so each entry by
    at most ``GUARD / n``; returns twice that (a margin of 2).  Relative tolerances cannot
    accept it where an entry is exactly 0 (a saturated row's ``1 - 1``).  Pass it as ``slack``
    to :func:`assert_close`."""
    return 2.0 * GUARD / max(int(n), 1)


def log_guard_tol(p_true: Any, base: float = 1e-12) -> float:
    """Relative tolerance for a cross-entropy ``-sum(log p)`` (or its mean) over the true-class
    probabilities ``p_true`` that accepts every guard up to :data:`GUARD`.

    ``log(p + eps)`` moves each term by at most ``log1p(GUARD / p)`` (clipping from below at
    ``GUARD`` by less); the loss moves by at most the sum of those, which is
    ``shift / (2 * loss)`` in :func:`rel_error`'s measure.  Returns
    ``max(base, 2 * shift / loss)``: a margin of 4.  Tests meant to catch :data:`CLIP_BUG`
    check that :func:`clip_bug_error` is far above the result."""
    p = np.asarray(p_true, dtype=np.float64).ravel()
    loss = float(np.sum(-np.log(p)))
    shift = float(np.sum(np.log1p(GUARD / p)))
    return max(float(base), 2.0 * shift / max(abs(loss), 1e-300))


def scores_guard_tol(scores: Any, y: Any, base: float = 1e-12) -> float:
    """:func:`log_guard_tol` for a softmax cross-entropy over class ``scores`` (N, C) and
    integer labels ``y`` (N,): the true-class probabilities are computed here, stably, on the
    trusted side.  For a network's loss (scores from the reference model in test mode); a
    regularisation term only makes the loss larger, so the tolerance stays conservative."""
    s = np.asarray(scores, dtype=np.float64)
    s = s - s.max(axis=1, keepdims=True)
    log_p = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
    labels = np.asarray(y).astype(np.int64).ravel()
    return log_guard_tol(np.exp(log_p[np.arange(len(labels)), labels]), base)


def scores_guard_gradient(scores_of: Callable[[dict[str, np.ndarray]], Any],
                          params: dict[str, Any], y: Any, h: float = 1e-5) -> dict[str, np.ndarray]:
    """What the largest accepted guard can do to a softmax cross-entropy's GRADIENT, per entry.

    ``scores_of(params)`` computes the class scores (N, C) on the trusted side; ``y`` holds the
    labels.  The guard ``log(p + GUARD)`` moves the mean loss by
    ``-mean(log1p(GUARD / p_true))``; a student who guards the loss but differentiates the
    unguarded formula (the usual habit) therefore sees the centred differences of their own loss
    differ from their analytic gradient by the gradient of that shift: about
    ``GUARD / p_true`` times each example's gradient, so ``4e-10`` on an entry of ``1e-3`` of
    the handout's two-layer net (a relative ``2e-8``, above its check of ``1e-8``).  Returns,
    for each parameter, twice the absolute value of that gradient (a margin of 2), computed by
    centred differences of the shift itself (a smooth function of about ``1e-10``: the
    differences are exact to ~1e-20); pass it as ``slack`` to :func:`assert_close`.
    """
    labels = np.asarray(y).astype(np.int64).ravel()

    def shift(p: dict[str, np.ndarray]) -> float:
        s = np.asarray(scores_of(p), dtype=np.float64)
        s = s - s.max(axis=1, keepdims=True)
        log_p = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        p_true = np.exp(log_p[np.arange(len(labels)), labels])
        return float(-np.mean(np.log1p(GUARD / p_true)))

    base = {k: np.array(to_array(v, k), dtype=np.float64) for k, v in params.items()}
    out = {}
    for name in base:
        def f(value: np.ndarray, name: str = name) -> float:
            return shift({**base, name: value})
        out[name] = 2.0 * np.abs(numerical_gradient(f, base[name].copy(), h))
    return out


def logistic_log_p_true(a: Any, t: Any) -> np.ndarray:
    """``log p(t | a)`` of logistic regression, stably: ``log sigmoid(a)`` where ``t == 1`` and
    ``log(1 - sigmoid(a)) = log sigmoid(-a)`` where ``t == 0`` (finite for any ``a``)."""
    a = np.asarray(a, dtype=np.float64).ravel()
    sign = np.where(np.asarray(t).ravel() == 1, 1.0, -1.0)
    return -np.logaddexp(0.0, -sign * a)


def logistic_guard_tol(a: Any, t: Any, base: float = 1e-12) -> float:
    """:func:`log_guard_tol` for logistic regression's NLL at activations ``a = X @ w`` and
    targets ``t`` in {0, 1}: for inputs where no ``p(t | a)`` underflows (|a| below ~700)."""
    return log_guard_tol(np.exp(logistic_log_p_true(a, t)), base)


def assert_loss_within_guard(name: str, actual: Any, log_p_true: Any, tol: float = 1e-12) -> float:
    """Assert a mean cross-entropy ``-mean(log p)`` where some ``p`` are beyond any guard.

    ``log_p_true`` holds the log-probabilities of the true classes (computed stably on the
    trusted side; they may be -800).  The exact loss is the largest value a correct
    implementation returns; every accepted guard (``log(p + eps)`` with ``eps <= GUARD``, or
    clipping ``p`` from below at ``GUARD`` or less) only lowers terms, and the lowest is
    ``-mean(log(p + GUARD))``.  So the value must lie in ``[lowest, exact]`` (widened by ``tol``
    relative): ``NaN``/infinity (``log(0)``) fails, and so does :data:`CLIP_BUG`, which caps a
    term at ``16.1`` where the lowest accepted value is ``23.0``.  Returns the value."""
    lp = np.asarray(log_p_true, dtype=np.float64).ravel()
    exact = float(-np.mean(lp))
    lowest = float(-np.mean(np.logaddexp(lp, np.log(GUARD))))
    value = to_scalar(actual, name)
    if not math.isfinite(value):
        raise CheckFailed(f"{name} is {value!r}; expected a finite number (compute the log of a "
                          f"probability that rounds to 0 in a stable form)")
    margin = tol * max(1.0, abs(exact), abs(lowest))
    if value > exact + margin:
        raise CheckFailed(f"{name}: {value!r} is larger than the exact loss")
    if value < lowest - margin:
        raise CheckFailed(f"{name}: {value!r} is smaller than the exact loss by more than a "
                          f"guard of {GUARD:g} inside the log can explain")
    return value


def clip_bug_error(p_true: Any) -> float:
    """:func:`rel_error` between ``-sum(log p)`` and the same loss with ``p`` clipped from below
    at :data:`CLIP_BUG`: what a test at these probabilities sees of that bug."""
    p = np.asarray(p_true, dtype=np.float64).ravel()
    return rel_error(np.sum(-np.log(p)), np.sum(-np.log(np.maximum(p, CLIP_BUG))))


def rel_error(x: Any, y: Any) -> float:
    """Maximum relative error between ``x`` and ``y`` (the handouts' formula), in float64."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.size == 0 and y.size == 0:
        return 0.0
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def to_array(value: Any, name: str, dtype: Any = np.float64) -> np.ndarray:
    """``value`` as a fresh plain ndarray of ``dtype``; anything non-numeric is a failure.

    Accepts numeric ndarrays (of any numeric dtype), numbers and nested lists of numbers.
    Refuses object arrays, strings, ``None`` and anything else with a message naming ``name``.
    """
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise CheckFailed(f"{name}: expected a numeric array, got {_describe(value)}")
        return np.array(value, dtype=dtype, copy=True, subok=False)
    if isinstance(value, (bool, numbers.Real, np.generic)) and not isinstance(value, (str, bytes)):
        return np.array(float(value), dtype=dtype)
    if isinstance(value, (list, tuple)):
        try:
            arr = np.array(value, dtype=dtype)
        except (TypeError, ValueError):
            raise CheckFailed(f"{name}: expected a numeric array, got a {type(value).__name__} "
                              f"that is not a regular grid of numbers") from None
        return arr
    raise CheckFailed(f"{name}: expected a numeric array, got {_describe(value)}")


def to_scalar(value: Any, name: str) -> float:
    """A loss or accuracy as a Python float: a float, NumPy scalar, 0-d or size-1 array."""
    arr = to_array(value, name)
    if arr.size != 1:
        raise CheckFailed(f"{name}: expected a scalar (a float, a NumPy scalar or a size-1 "
                          f"array), got an array of shape {arr.shape}")
    return float(arr.reshape(()))


def assert_array(name: str, actual: Any, shape: tuple[int, ...], what: str = "") -> np.ndarray:
    """Assert ``actual`` IS a NumPy array (not a list, tuple or scalar that converts to one) of
    ``shape``, then convert it like :func:`assert_shape`.  For contracts that promise an array
    (``linear_forward``'s ``(N, M)`` output, also at ``N = 1``)."""
    if not isinstance(actual, np.ndarray):
        raise CheckFailed(f"{name}: expected a NumPy array of shape {tuple(shape)}, got "
                          f"{_describe(actual)}")
    return assert_shape(name, actual, shape, what)


def assert_shape(name: str, actual: Any, shape: tuple[int, ...], what: str = "") -> np.ndarray:
    """Convert ``actual`` and assert its shape is ``shape``; returns the float64 array."""
    arr = to_array(actual, name)
    if arr.shape != tuple(shape):
        suffix = f" — {what}" if what else ""
        raise CheckFailed(f"{name} has shape {arr.shape}; expected {tuple(shape)}{suffix}")
    return arr


def _located(err: np.ndarray) -> str:
    idx = np.unravel_index(int(np.nanargmax(err)), err.shape) if err.ndim else ()
    return f"at index {tuple(int(i) for i in idx)}" if err.ndim else ""


def assert_close(name: str, actual: Any, expected: Any, tol: float, what: str = "",
                 slack: Any = None) -> float:
    """Assert ``actual`` matches ``expected`` (trusted) to relative error ``tol``.

    Shapes first, then non-finite values, then the maximum relative error and its index.
    ``slack`` (an array of ``expected``'s shape, or a number) is an absolute allowance per
    entry that is taken off each difference first: what a difference the contract accepts can
    leave (e.g. :func:`scores_guard_gradient`).  Returns the relative error (for printing the
    way the handouts do).
    """
    return _assert_close(name, actual, expected, tol, what, 1e-8, slack)


#: :func:`assert_close_to_numerical` compares an entry smaller than this fraction of the
#: parameter's largest centred-difference entry absolutely (at ``tol`` times that size).
NUMERICAL_FLOOR = 1e-3


def assert_close_to_numerical(name: str, actual: Any, numeric: Any, tol: float, what: str = "",
                              floor: float = NUMERICAL_FLOOR) -> float:
    """Assert an analytic gradient ``actual`` matches the centred differences ``numeric``.

    Centred differences at ``h = 1e-5`` carry an absolute error of about ``1e-10`` (the
    rounding of ``f / h``), so on an entry that is tiny next to the others the plain relative
    error of :func:`assert_close` measures that noise: a correct two-layer net's gradient entry
    of ``4e-5`` beside entries of ``2.7`` shows ``2.5e-6``.  Here the denominator of the
    relative error is at least ``floor * max|numeric|`` (and ``1e-8``): entries below that size
    are compared absolutely, to ``tol * floor * max|numeric|``; the others exactly as in
    :func:`assert_close`.  Exact checks of such entries belong to the comparison with the
    reference's analytic gradient.
    """
    num = to_array(numeric, f"centred differences of {name}")
    finite = num[np.isfinite(num)]
    big = float(np.max(np.abs(finite))) if finite.size else 0.0
    return _assert_close(name, actual, num, tol, what, max(1e-8, floor * big))


def assert_close_to_scale(name: str, actual: Any, expected: Any, tol: float,
                          what: str = "") -> float:
    """Assert ``actual`` matches ``expected`` to ``tol`` relative to the LARGEST ``|expected|``.

    For float32 results (a PyTorch model's outputs): rounding leaves an absolute error of a few
    float32 ulps of the operands, so an entry that is tiny next to the others (a ReLU feature
    just above zero) shows a large plain relative error although it is right.  Here the
    denominator of the relative error is at least ``max|expected|``: every entry is compared
    absolutely, to ``tol * max|expected|``.  Shapes and non-finite values first, as in
    :func:`assert_close`.
    """
    exp = to_array(expected, f"expected {name}")
    finite = exp[np.isfinite(exp)]
    scale = float(np.max(np.abs(finite))) if finite.size else 0.0
    return _assert_close(name, actual, exp, tol, what, max(1e-8, scale))


def _assert_close(name: str, actual: Any, expected: Any, tol: float, what: str,
                  denominator_floor: float, slack: Any = None) -> float:
    exp = to_array(expected, f"expected {name}")
    act = assert_shape(name, actual, exp.shape, what or "the shape the contract specifies")
    bad = ~np.isfinite(act) & np.isfinite(exp)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise CheckFailed(f"{name} contains {float(act[idx])!r} (NaN or infinity) at index {idx} "
                          f"where a finite value is expected")
    if act.size == 0:
        return 0.0
    both_inf = np.isinf(exp) & (act == exp)
    diff = np.abs(act - exp)
    if slack is not None:
        diff = np.maximum(0.0, diff - np.broadcast_to(np.asarray(slack, dtype=np.float64), diff.shape))
    err = np.where(both_inf, 0.0, diff / np.maximum(denominator_floor, np.abs(act) + np.abs(exp)))
    err = np.where(np.isnan(err), np.inf, err)
    worst = float(np.max(err))
    if not worst <= tol:
        raise CheckFailed(f"{name}: max relative error {worst:.3g} {_located(err)} "
                          f"(tolerance {tol:.0e})".replace("  ", " "))
    return worst


def assert_scalar_close(name: str, actual: Any, expected: float, tol: float) -> float:
    """Like :func:`assert_close` for a scalar (loss, accuracy, PSNR)."""
    value = to_scalar(actual, name)
    if math.isinf(expected) and value == expected:
        return 0.0
    if not math.isfinite(value):
        raise CheckFailed(f"{name} is {value!r}; expected a finite number")
    err = abs(value - expected) / max(1e-8, abs(value) + abs(expected))
    if not err <= tol:
        raise CheckFailed(f"{name}: relative error {err:.3g} (tolerance {tol:.0e})")
    return err


def assert_unchanged(name: str, before: np.ndarray, after: Any, tol: float = 0.0) -> None:
    """Assert an input array was not modified by a call (``after`` is its post-call state)."""
    after_arr = to_array(after, name)
    if after_arr.shape != before.shape:
        raise CheckFailed(f"{name} changed shape from {before.shape} to {after_arr.shape}; "
                          f"the function must not modify its input")
    diff = np.abs(after_arr - before) > tol * np.maximum(1e-300, np.abs(before))
    diff &= ~(np.isnan(after_arr) & np.isnan(before))
    if diff.any():
        idx = tuple(int(i) for i in np.argwhere(diff)[0])
        raise CheckFailed(f"{name} was modified in place (first change at index {idx}); "
                          f"the function must not modify its input — work on a copy")


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Centred-difference gradient of scalar ``f`` at ``x`` (float64); ``x`` is restored."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        fp = float(f(x))
        x[ix] = old - h
        fm = float(f(x))
        x[ix] = old
        grad[ix] = (fp - fm) / (2 * h)
        it.iternext()
    return grad


def numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                             df: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Centred-difference gradient of ``sum(f(x) * df)`` w.r.t. ``x``; ``x`` is restored.

    ``f``'s output is converted on the trusted side (:func:`to_array`) and must have ``df``'s
    shape; otherwise :class:`CheckFailed` says what came back."""
    grad = np.zeros_like(x, dtype=np.float64)
    df = np.asarray(df, dtype=np.float64)

    def value() -> np.ndarray:
        out = to_array(f(x), "the function's output")
        if out.shape != df.shape:
            raise CheckFailed(f"the function's output has shape {out.shape}; expected {df.shape} "
                              f"(the shape of the upstream gradient)")
        return out                  # to_array already returned a fresh copy

    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = value()
        x[ix] = old - h
        neg = value()
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def _probe(target: Any, args: tuple[Any, ...], kwargs: dict[str, Any], wrt: dict[str, Any],
           h: float, index: int | None, df: Any, what: str) -> dict[str, Any]:
    """Raw probe values of ``target`` (:mod:`autograder.worker.probes`): made in the worker in
    one request for sandboxed targets, in this process for a student's own ``pytest``."""
    from .sandbox import remote
    from .worker import probes
    try:
        if isinstance(target, remote._RemoteMethod):
            obj = target._obj
            return obj._call.probe(obj._where(target._name), args, kwargs, wrt, h, index, df,
                                   handle=obj._hid, attr=target._name)
        if isinstance(target, remote.RemoteObject):
            return target._call.probe(target._where(), args, kwargs, wrt, h, index, df,
                                      handle=target._hid)
        if isinstance(target, remote.RemotePath):
            return target._call.probe(target._path, args, kwargs, wrt, h, index, df,
                                      path=target._path)
        return probes.probe(target, list(args), dict(kwargs), wrt, h=h, index=index, df=df,
                            owner=getattr(target, "__self__", None), what=what)
    except probes.ProbeError as exc:
        raise CheckFailed(str(exc)) from None
    except StudentError as exc:
        if exc.type_name == "ProbeError":
            raise CheckFailed(exc.message) from None
        raise


def _centred(values: Any, key: str, shape: tuple[int, ...], h: float, name: str) -> np.ndarray:
    """The centred difference from a probe's reply (:func:`autograder.worker.probes.probe`):
    ``(plus - minus) / 2h`` or ``delta / 2h``, the arrays' shapes checked first."""
    entry = values.get(key) if isinstance(values, dict) else None
    if not isinstance(entry, dict) or not ({"plus", "minus"} <= set(entry) or "delta" in entry):
        raise CheckFailed(f"the numerical gradient of {name} could not be computed "
                          f"(no values came back)")
    if "delta" in entry:
        return assert_shape(f"the change of the output for {name}", entry["delta"], shape) / (2 * h)
    plus = assert_shape(f"f(x + h) for {name}", entry["plus"], shape)
    minus = assert_shape(f"f(x - h) for {name}", entry["minus"], shape)
    return (plus - minus) / (2 * h)


def numerical_param_gradients(method: Any, *args: Any, index: int | None = None,
                              attr: str = "params", keys: list[str] | None = None,
                              h: float = 1e-5, **kwargs: Any) -> dict[str, np.ndarray]:
    """Centred-difference gradient of ``method(*args, **kwargs)[index]`` (a scalar, e.g.
    ``model.loss(X, y)[0]``) w.r.t. every entry of the dict ``model.<attr>`` (float64).

    ``method`` is a bound method of the model (``model.loss``).  Each evaluation sets
    ``model.params`` to float64 copies with one entry moved by ±h; afterwards ``model.params``
    holds the unperturbed float64 copies.  Through the sandbox the evaluations run in the worker
    in one request; only the raw values come back, and the differences are computed here.
    """
    owner = getattr(method, "_obj", None) or getattr(method, "__self__", None)
    if owner is None:
        raise TypeError("numerical_param_gradients needs a bound method such as model.loss")
    current = getattr(owner, attr)
    if not isinstance(current, dict):
        raise CheckFailed(f"{attr} must be a dict of arrays, got {_describe(current)}")
    params = {str(k): to_array(v, f"{attr}[{k!r}]") for k, v in current.items()}
    names = sorted(params) if keys is None else list(keys)
    values = _probe(method, args, kwargs, {"attr": attr, "keys": names}, h, index, None,
                    f"{getattr(method, '__name__', 'the method')}")
    return {k: _centred(values, k, params[k].shape, h, f"{attr}[{k!r}]") for k in names}


#: A parameter passes the directional stage of :func:`assert_param_gradients` when every
#: directional relative error is below this fraction of the tolerance; otherwise the full check
#: of its every entry decides.
DIRECTIONAL_MARGIN = 0.1


def assert_param_gradients(method: Any, args: tuple[Any, ...], grads: Any, tol: float, *,
                           index: int | None = None, attr: str = "params", h: float = 1e-5,
                           directions: int = 3, seed: int = 0,
                           kwargs: dict[str, Any] | None = None) -> dict[str, float]:
    """Check the analytic gradients ``grads`` (a dict) of ``method(*args, **kwargs)[index]``
    (``model.loss(X, y)[0]``) against centred differences, for every entry of ``model.<attr>``.

    Two stages, so that a correct gradient costs a few evaluations instead of two per entry:

    1. each parameter ``p`` along ``directions`` random unit directions ``v`` (fixed by
       ``seed``): ``(f(p + h v) - f(p - h v)) / 2h`` against ``<grads[p], v>``, in one request;
       every entry of ``p`` takes part in every direction, so a wrong entry shows up;
    2. a parameter that does not pass stage 1 with a clear margin (relative error below
       ``DIRECTIONAL_MARGIN * tol`` in every direction) is checked entry by entry with
       :func:`numerical_param_gradients`, and that check alone decides:
       :func:`assert_close_to_numerical` with the maximum relative error and its index.

    Shapes come first (``grads[p]`` must have ``params[p]``'s shape).  Returns
    ``{p: relative error}`` (directional for parameters that passed stage 1).
    """
    kwargs = dict(kwargs or {})
    owner = getattr(method, "_obj", None) or getattr(method, "__self__", None)
    if owner is None:
        raise TypeError("assert_param_gradients needs a bound method such as model.loss")
    current = getattr(owner, attr)
    if not isinstance(current, dict):
        raise CheckFailed(f"{attr} must be a dict of arrays, got {_describe(current)}")
    if not isinstance(grads, dict):
        raise CheckFailed(f"grads must be a dict of arrays, got {_describe(grads)}")
    params = {str(k): to_array(v, f"{attr}[{k!r}]") for k, v in current.items()}
    names = sorted(params)
    analytic = {}
    for name in names:
        if name not in grads:
            raise CheckFailed(f"grads has no entry {name!r}; expected one gradient per entry of "
                              f"{attr} ({sorted(params)})")
        analytic[name] = assert_shape(f"grads[{name!r}]", grads[name], params[name].shape,
                                      f"the shape of {attr}[{name!r}]")
    rng = np.random.default_rng(seed)
    dirs = {}
    for name in names:
        v = rng.standard_normal((directions, *params[name].shape))
        norms = np.sqrt(np.sum(v.reshape(directions, -1) ** 2, axis=1))
        dirs[name] = v / np.maximum(norms, 1e-300).reshape((directions,) + (1,) * params[name].ndim)
    values = _probe(method, args, kwargs, {"attr": attr, "keys": names, "directions": dirs}, h,
                    index, None, f"{getattr(method, '__name__', 'the method')}")
    errors: dict[str, float] = {}
    for name in names:
        numeric = _centred(values, name, (directions,), h, f"{attr}[{name!r}] along directions")
        expected = np.tensordot(dirs[name], analytic[name], axes=analytic[name].ndim)
        err = np.abs(numeric - expected) / np.maximum(1e-8, np.abs(numeric) + np.abs(expected))
        worst = float(np.max(err)) if err.size else 0.0
        if np.isfinite(worst) and worst <= DIRECTIONAL_MARGIN * tol:
            errors[name] = worst
            continue
        full = numerical_param_gradients(method, *args, index=index, attr=attr, keys=[name], h=h,
                                         **kwargs)[name]
        errors[name] = assert_close_to_numerical(f"grads[{name!r}]", analytic[name], full, tol,
                                                 f"the shape of {attr}[{name!r}]")
    return errors


def numerical_gradient_of(fn: Any, args: tuple[Any, ...], wrt: int | str, df: Any = None, *,
                          index: int | None = None, h: float = 1e-5,
                          kwargs: dict[str, Any] | None = None) -> np.ndarray:
    """Centred-difference gradient of ``fn(*args, **kwargs)`` w.r.t. argument ``wrt`` (a
    position or a keyword name), float64: of the scalar output (``[index]`` first if given)
    or, with ``df``, of ``sum(output * df)``.  Like :func:`numerical_gradient_array` with the
    evaluations made next to the student code in one request (see
    :func:`numerical_param_gradients`)."""
    kwargs = dict(kwargs or {})
    x = args[wrt] if isinstance(wrt, int) else kwargs[wrt]
    shape = to_array(x, "the input").shape
    spec = {"arg": wrt} if isinstance(wrt, int) else {"kwarg": wrt}
    df_arr = None if df is None else to_array(df, "the upstream gradient")
    values = _probe(fn, tuple(args), kwargs, spec, h, index, df_arr,
                    getattr(fn, "__name__", "the function"))
    return _centred(values, "x", shape, h, f"argument {wrt!r}")


@contextlib.contextmanager
def raises(type_name: str) -> Iterator[None]:
    """Expect student code to raise an exception named ``type_name`` (e.g. ``"ValueError"``).

    Works in both modes: in-process the real exception is raised; through the sandbox it
    arrives as a :class:`StudentError` carrying the type's name.
    """
    try:
        yield
    except StudentError as exc:
        if exc.type_name != type_name and type_name not in exc.type_mro:
            raise CheckFailed(f"expected {type_name}, but the code raised {exc.type_name}: "
                              f"{exc.message}") from None
        return
    except Exception as exc:  # in-process mode: the real exception
        if not any(cls.__name__ == type_name for cls in type(exc).__mro__):
            raise CheckFailed(f"expected {type_name}, but the code raised "
                              f"{type(exc).__name__}: {exc}") from None
        return
    raise CheckFailed(f"expected {type_name} to be raised, but the call returned normally")


def trusted_function(name: str, **params: Any) -> TrustedFunction:
    """A function from the fixed trusted family, built from data (e.g. ``f`` for
    ``numerical_gradient``); callable here and passable into the sandbox by name."""
    return TrustedFunction(name, params)


def self_check(reason: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a public test as a self-check for students that carries no points when grading
    (weight 0, gradescope-utils' ``__weight__`` attribute), e.g. a golden that depends on one of
    several initialisations ASSIGNMENT.md §Q4 "Initialisation" allows.  It still runs and its result is shown."""
    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__weight__ = 0            # type: ignore[attr-defined]
        fn.__self_check__ = reason   # type: ignore[attr-defined]
        return fn
    return mark
