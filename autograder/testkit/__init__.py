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

The package re-exports every name of its modules, so ``from autograder import testkit`` and
``from autograder.testkit import assert_close`` are the way to use it:

* :mod:`.checks` — conversions (:func:`to_array`, :func:`to_scalar`) and comparisons
  (:func:`assert_close` and its variants, :func:`assert_unchanged`, :func:`raises`);
* :mod:`.guards` — tolerances that accept numerical guards up to :data:`GUARD`;
* :mod:`.gradients` — centred differences, in this process or next to the student code;
* :mod:`.helpers` — for writing tests: :func:`check`, :func:`seed_from`,
  :class:`PartialCredit`, :func:`self_check`.
"""
from .checks import (NUMERICAL_FLOOR, CheckFailed, StudentError, assert_array, assert_close,
                     assert_close_floored, assert_close_to_numerical, assert_close_to_scale,
                     assert_scalar_close, assert_shape, assert_unchanged, raises, rel_error,
                     to_array, to_scalar)
from .gradients import (DIRECTIONAL_MARGIN, assert_param_gradients, numerical_gradient,
                        numerical_gradient_array, numerical_gradient_of,
                        numerical_param_gradients, trusted_function)
from .guards import (CLIP_BUG, GUARD, assert_loss_within_guard, clip_bug_error, guard_tol,
                     log_guard_tol, logistic_guard_tol, logistic_log_p_true,
                     scores_guard_gradient, scores_guard_tol, softmax_guard_gradient_slack,
                     softmax_guard_slack, softmax_with_denominator_guard)
from .helpers import PartialCredit, check, seed_from, self_check

__all__ = [
    "rel_error", "to_array", "to_scalar", "assert_shape", "assert_close",
    "assert_close_to_numerical", "assert_close_to_scale", "assert_close_floored",
    "assert_scalar_close", "assert_unchanged", "numerical_gradient", "numerical_gradient_array",
    "numerical_param_gradients", "assert_param_gradients", "numerical_gradient_of", "raises",
    "trusted_function", "StudentError", "CheckFailed", "GUARD", "CLIP_BUG", "guard_tol",
    "log_guard_tol", "scores_guard_tol", "clip_bug_error", "assert_array", "NUMERICAL_FLOOR",
    "DIRECTIONAL_MARGIN", "check", "seed_from", "PartialCredit", "self_check",
    "softmax_guard_slack", "scores_guard_gradient", "logistic_log_p_true", "logistic_guard_tol",
    "assert_loss_within_guard", "softmax_with_denominator_guard", "softmax_guard_gradient_slack",
]
