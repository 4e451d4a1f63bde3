"""Conversions and comparisons: student values against trusted expected values.

Values coming from student code are first turned into plain float64 NumPy arrays by
:func:`to_array` (a forged ``__eq__``, an ndarray subclass or an object array never reaches a
comparison), shapes are asserted before values (broadcasting hides wrong shapes), and failures
raise :class:`CheckFailed` saying *which* value, *how wrong* and *where* — never the expected
value, so the same messages can be shown for hidden tests.
"""
from __future__ import annotations

import contextlib
import math
import numbers
from typing import Any, Iterator

import numpy as np

from ..student import StudentError


class CheckFailed(AssertionError):
    """A check failed; the message is safe to show to students (no expected values)."""


def _describe(value: Any) -> str:
    kind = type(value).__name__
    if kind == "RemoteObject":        # an object the worker kept (sandbox/remote.py): its own type
        kind = str(object.__getattribute__(value, "_type"))
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"a value of type {kind[:60]}"


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


def assert_close_to_numerical(name: str, actual: Any, numeric: Any, tol: float,
                              what: str = "") -> float:
    """Assert an analytic gradient ``actual`` matches the centred differences ``numeric``.

    Centred differences at ``h = 1e-5`` carry an absolute error of about ``1e-10`` (the
    rounding of ``f / h``), so on an entry that is tiny next to the others the plain relative
    error of :func:`assert_close` measures that noise: a correct two-layer net's gradient entry
    of ``4e-5`` beside entries of ``2.7`` shows ``2.5e-6``.  Here the denominator of the
    relative error is at least ``NUMERICAL_FLOOR * max|numeric|`` (and ``1e-8``): entries below
    that size are compared absolutely, to ``tol * NUMERICAL_FLOOR * max|numeric|``; the others
    exactly as in :func:`assert_close`.  Exact checks of such entries belong to the comparison
    with the reference's analytic gradient (:func:`assert_close_floored`).
    """
    num = to_array(numeric, f"centred differences of {name}")
    finite = num[np.isfinite(num)]
    big = float(np.max(np.abs(finite))) if finite.size else 0.0
    return _assert_close(name, actual, num, tol, what, max(1e-8, NUMERICAL_FLOOR * big))


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


def assert_close_floored(name: str, actual: Any, expected: Any, tol: float, floor: float,
                         what: str = "the shape of the parameter", slack: Any = None) -> float:
    """Assert ``actual`` matches ``expected`` (trusted) to ``tol``, where entries smaller than
    ``floor`` times the largest ``|expected|`` are compared absolutely.

    For gradients compared with the reference's: rounding noise on an entry that is tiny next to
    the others is not a bug.  The denominator of the relative error is at least
    ``floor * max|expected|`` (``1e-8`` when ``expected`` is all zeros): entries below that size
    are compared to ``tol * floor * max|expected|``, the others as in :func:`assert_close`.
    Shapes first (``what`` says which shape is expected).  ``slack``: an absolute allowance
    per entry, as in :func:`assert_close` (e.g. :func:`softmax_guard_gradient_slack`).
    Returns the relative error.
    """
    expected = np.asarray(expected, dtype=np.float64)
    actual = assert_shape(name, actual, expected.shape, what)
    big = float(np.max(np.abs(expected))) if expected.size else 0.0
    scale = 1.0 if big == 0.0 else 1e-8 / (floor * big)
    if slack is not None:
        slack = np.asarray(slack, dtype=np.float64) * scale
    return assert_close(name, actual * scale, expected * scale, tol, slack=slack)


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
