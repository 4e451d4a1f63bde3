"""Tolerances that accept correct numerical guards and the bug they must still catch
(ASSIGNMENT.md, Grading rules, "Numerical guards")."""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from .checks import CheckFailed, rel_error, to_array, to_scalar
from .gradients import numerical_gradient


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


def softmax_with_denominator_guard(softmax: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """The trusted softmax loss ``softmax(scores, y) -> (loss, dscores)`` (mean cross-entropy,
    ``dscores = (p - onehot) / N``) as if :data:`GUARD` were added to its denominator: the same
    loss, and ``dscores`` moved exactly as ``p = e / (S + GUARD)`` moves them (``S`` the row's sum
    of ``exp`` after the max shift: ``p`` shrinks by ``p * GUARD / (S + GUARD)``).  A gradient is
    linear in ``dscores``, so a reference network's gradient computed through this minus the
    plain one is what the largest accepted denominator guard changes in it, entry by entry
    (:func:`softmax_guard_gradient_slack`).  A guard inside the log moves no analytic gradient."""
    def guarded(scores: Any, y: Any) -> Any:
        loss, dscores = softmax(scores, y)
        s = np.asarray(scores, dtype=np.float64)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        total = e.sum(axis=1, keepdims=True)
        shift = (e / total) * (GUARD / (total + GUARD)) / s.shape[0]
        return loss, np.asarray(dscores, dtype=np.float64) - shift
    return guarded


def softmax_guard_gradient_slack(plain: dict[str, Any], guarded: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per parameter, the absolute allowance for a gradient compared with the reference's
    ``plain`` one: twice what the largest accepted denominator guard moves each entry
    (``guarded``: the same gradient through :func:`softmax_with_denominator_guard`), a margin
    of 2.  Pass each as ``slack`` to :func:`assert_close_floored`."""
    return {k: 2.0 * np.abs(np.asarray(guarded[k], dtype=np.float64) - np.asarray(plain[k], dtype=np.float64))
            for k in plain}


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
