"""Tolerances that accept correct numerical guards and the bug they must still catch
(ASSIGNMENT.md, Grading rules, "Numerical guards")."""
from __future__ import annotations

from typing import Any

import numpy as np

from .checks import rel_error


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


def clip_bug_error(p_true: Any) -> float:
    """:func:`rel_error` between ``-sum(log p)`` and the same loss with ``p`` clipped from below
    at :data:`CLIP_BUG`: what a test at these probabilities sees of that bug."""
    p = np.asarray(p_true, dtype=np.float64).ravel()
    return rel_error(np.sum(-np.log(p)), np.sum(-np.log(np.maximum(p, CLIP_BUG))))
