"""Finite-difference probes: a student function's values at ``x ± h`` for every entry of ``x``.

A numerical gradient check of a whole network calls the student's ``loss`` twice per
parameter entry (2 520 calls for the handout's FullyConnectedNet).  Made one call at a time
through the sandbox, each is a round trip; :func:`probe` makes them all next to the student
code (in the worker, or in-process for a student's own ``pytest``) and returns only the raw
values ``f(x + h e_i)`` and ``f(x - h e_i)`` (for an array output, their difference summed
against the upstream gradient ``df``).  The division by ``2h`` and every comparison are made on
the trusted side (:func:`autograder.testkit.numerical_param_gradients`).

Running these loops inside the worker gives student code no new power: the values returned
are values of the student's own function, which the student controls whatever happens; the
trusted side checks the arrays' shapes and dtype before using them.

What is perturbed (``wrt``):

* ``{"arg": i}`` — positional argument ``i`` of ``fn``;
* ``{"kwarg": name}`` — keyword argument ``name``;
* ``{"attr": "params", "keys": [...]}`` — entries of the dict attribute ``params`` of
  ``owner`` (the object whose method ``fn`` is): each evaluation sets ``owner.params`` to a
  fresh dict of float64 copies with one entry perturbed; afterwards ``owner.params`` holds the
  unperturbed float64 copies (as ``model.params = params`` would).

What is measured: ``fn(...)``, then ``[index]`` if ``index`` is given (``loss(X, y)[0]``), then
either a scalar (a float, NumPy scalar or size-1 array) or, with ``df``, an output of ``df``'s
shape whose change is summed against ``df``.  Every evaluation gets its own copy of the perturbed array,
so a function that modifies its input in place cannot corrupt the probe.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable

import numpy as np


class ProbeError(TypeError):
    """The student function's input or output is not what the check needs; says which."""


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of dtype {value.dtype} and shape {value.shape}"
    return f"a value of type {type(value).__name__[:60]}"


def float_array(value: Any, name: str) -> np.ndarray:
    """``value`` as a fresh float64 ndarray (numeric arrays, numbers, nested lists)."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf":
            raise ProbeError(f"{name}: expected a numeric array, got {_describe(value)}")
        return np.array(value, dtype=np.float64, copy=True, subok=False)
    if isinstance(value, (bool, numbers.Real, np.generic)) and not isinstance(value, (str, bytes)):
        return np.array(float(value), dtype=np.float64)
    if isinstance(value, (list, tuple)):
        try:
            return np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise ProbeError(f"{name}: expected a numeric array, got a {type(value).__name__} "
                             f"that is not a regular grid of numbers") from None
    raise ProbeError(f"{name}: expected a numeric array, got {_describe(value)}")


def _output(result: Any, index: int | None, df: np.ndarray | None, what: str) -> Any:
    """The measured output of one call: a float (no ``df``) or a float64 array of ``df``'s shape."""
    if index is not None:
        if not isinstance(result, (tuple, list)) or len(result) <= index:
            raise ProbeError(f"{what} must return a tuple with at least {index + 1} items, got "
                             f"{_describe(result)}")
        result = result[index]
        what = f"{what}[{index}]"
    out = float_array(result, what)
    if df is None:
        if out.size != 1:
            raise ProbeError(f"{what}: expected a scalar (a float, a NumPy scalar or a size-1 "
                             f"array), got an array of shape {out.shape}")
        return float(out.reshape(()))
    if out.shape != df.shape:
        raise ProbeError(f"{what} has shape {out.shape}; expected {df.shape} (the shape of the "
                         f"upstream gradient)")
    return out


def _scan(x: np.ndarray, evaluate: Callable[[np.ndarray], Any], h: float,
          df: np.ndarray | None) -> dict[str, np.ndarray]:
    """Scalar outputs: ``plus`` and ``minus``, the values at x ± h e_i.  Array outputs (with
    ``df``): ``delta``, ``sum((f(x + h e_i) - f(x - h e_i)) * df)`` -- the difference taken
    before the sum, as :func:`autograder.testkit.numerical_gradient_array` does, so no
    precision is lost to cancellation between two large sums."""
    flat = x.reshape(-1)

    def at(j: int, step: float) -> Any:
        trial = x.copy()
        trial.reshape(-1)[j] = flat[j] + step
        return evaluate(trial)

    if df is None:
        plus = np.empty(x.shape, dtype=np.float64)
        minus = np.empty(x.shape, dtype=np.float64)
        for j in range(flat.size):
            plus.reshape(-1)[j] = at(j, h)
            minus.reshape(-1)[j] = at(j, -h)
        return {"plus": plus, "minus": minus}
    delta = np.empty(x.shape, dtype=np.float64)
    for j in range(flat.size):
        pos = at(j, h)
        neg = at(j, -h)
        delta.reshape(-1)[j] = np.sum((pos - neg) * df)
    return {"delta": delta}


def _along(x: np.ndarray, evaluate: Callable[[np.ndarray], Any], h: float,
           directions: np.ndarray, df: np.ndarray | None) -> dict[str, np.ndarray]:
    """Like :func:`_scan` along the rows of ``directions`` (shape ``(K, *x.shape)``) instead of
    the unit vectors: ``plus``/``minus`` (or ``delta``) of shape ``(K,)`` at ``x ± h v_k``."""
    if directions.ndim != x.ndim + 1 or directions.shape[1:] != x.shape:
        raise ProbeError(f"directions of shape {directions.shape} do not fit an input of shape "
                         f"{x.shape}")
    if df is None:
        plus = np.array([evaluate(x + h * v) for v in directions], dtype=np.float64)
        minus = np.array([evaluate(x - h * v) for v in directions], dtype=np.float64)
        return {"plus": plus, "minus": minus}
    return {"delta": np.array([np.sum((evaluate(x + h * v) - evaluate(x - h * v)) * df)
                               for v in directions], dtype=np.float64)}


def probe(fn: Callable[..., Any], args: list[Any], kwargs: dict[str, Any], wrt: dict[str, Any],
          h: float = 1e-5, index: int | None = None, df: Any = None, owner: Any = None,
          what: str = "the function") -> dict[str, dict[str, np.ndarray]]:
    """``{key: {"plus": f(x + h e_i), "minus": f(x - h e_i)}}`` (arrays of ``x``'s shape) for
    a scalar output, ``{key: {"delta": sum((f(x + h e_i) - f(x - h e_i)) * df)}}`` with ``df``.

    ``key`` is the entry of ``owner.params`` for ``{"attr": ...}`` and ``"x"`` otherwise.  With
    ``wrt["directions"]`` (``{key: array (K, *shape)}``, attr targets only) the values are taken
    along those K directions instead of every unit vector: arrays of shape ``(K,)``.
    Raises :class:`ProbeError` (naming ``what``) for outputs the check cannot use.
    """
    h = float(h)
    df_arr = None if df is None else float_array(df, "the upstream gradient")
    args = list(args)
    kwargs = dict(kwargs)

    def measure(result: Any) -> Any:
        return _output(result, index, df_arr, what)

    if "attr" in wrt:
        attr = str(wrt["attr"])
        current = getattr(owner, attr)
        if not isinstance(current, dict):
            raise ProbeError(f"{attr} must be a dict of arrays, got {_describe(current)}")
        base = {k: float_array(v, f"{attr}[{k!r}]") for k, v in current.items()}
        keys = [str(k) for k in (wrt.get("keys") or sorted(base))]
        missing = [k for k in keys if k not in base]
        if missing:
            raise ProbeError(f"{attr} has no entries {missing}; it holds {sorted(base)}")
        directions = wrt.get("directions")
        if directions is not None and not isinstance(directions, dict):
            raise ProbeError("directions must map entries of params to arrays")
        out: dict[str, dict[str, np.ndarray]] = {}
        try:
            for key in keys:
                def evaluate(value: np.ndarray, key: str = key) -> Any:
                    trial = {k: (value if k == key else v.copy()) for k, v in base.items()}
                    setattr(owner, attr, trial)
                    return measure(fn(*args, **kwargs))
                if directions is None:
                    out[key] = _scan(base[key], evaluate, h, df_arr)
                else:
                    out[key] = _along(base[key], evaluate, h,
                                      float_array(directions.get(key), f"directions[{key!r}]"), df_arr)
        finally:
            setattr(owner, attr, {k: v.copy() for k, v in base.items()})
        return out

    if "arg" in wrt:
        i = int(wrt["arg"])
        if not 0 <= i < len(args):
            raise ProbeError(f"no positional argument {i} to perturb")
        x = float_array(args[i], f"argument {i}")

        def evaluate(value: np.ndarray) -> Any:
            trial = list(args)
            trial[i] = value
            return measure(fn(*trial, **kwargs))
    elif "kwarg" in wrt:
        name = str(wrt["kwarg"])
        if name not in kwargs:
            raise ProbeError(f"no keyword argument {name!r} to perturb")
        x = float_array(kwargs[name], f"argument {name!r}")

        def evaluate(value: np.ndarray) -> Any:
            return measure(fn(*args, **{**kwargs, name: value}))
    else:
        raise ProbeError(f"unknown probe target {sorted(wrt)}; expected arg, kwarg or attr")
    return {"x": _scan(x, evaluate, h, df_arr)}
