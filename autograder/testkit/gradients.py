"""Numerical gradients by centred differences (``h = 1e-5``, float64) and the checks built
on them.

A function or model method from the sandbox is probed next to the student code, in one worker
request (:mod:`autograder.worker.probes`); only raw values come back and the differences are
computed here.  ``f`` for a student's ``numerical_gradient`` comes from the trusted family
(:func:`trusted_function`).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..student import StudentError, TrustedFunction
from .checks import CheckFailed, _describe, assert_close_to_numerical, assert_shape, to_array


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
    from ..sandbox import remote
    from ..worker import probes
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


def _model_params(method: Any, attr: str, caller: str) -> dict[str, np.ndarray]:
    """``{name: float64 copy}`` of the dict ``model.<attr>`` of the model ``method`` is bound
    to (a sandboxed method or a plain bound method).  ``TypeError`` (a bug in the test) if
    ``method`` is not bound; :class:`CheckFailed` if ``model.<attr>`` is not a dict of arrays."""
    owner = getattr(method, "_obj", None) or getattr(method, "__self__", None)
    if owner is None:
        raise TypeError(f"{caller} needs a bound method such as model.loss")
    current = getattr(owner, attr)
    if not isinstance(current, dict):
        raise CheckFailed(f"{attr} must be a dict of arrays, got {_describe(current)}")
    return {str(k): to_array(v, f"{attr}[{k!r}]") for k, v in current.items()}


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
    params = _model_params(method, attr, "numerical_param_gradients")
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
    params = _model_params(method, attr, "assert_param_gradients")
    if not isinstance(grads, dict):
        raise CheckFailed(f"grads must be a dict of arrays, got {_describe(grads)}")
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


def trusted_function(name: str, **params: Any) -> TrustedFunction:
    """A function from the fixed trusted family, built from data (e.g. ``f`` for
    ``numerical_gradient``); callable here and passable into the sandbox by name."""
    return TrustedFunction(name, params)
