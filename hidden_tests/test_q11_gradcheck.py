"""Q11 hidden tests: gradcheck.numerical_gradient (numerics.md §1.7, §4.8 X12).

``f`` always comes from the kit's trusted family (``autograder.testkit.trusted_function``),
built inside the worker from coefficients drawn here (ASSIGNMENT.md §Q11 "How it is graded").
Expected values are the exact gradients (quadratic forms: centred differences are exact up to
rounding) or the trusted side's own centred differences with the same ``eps``.  ``x`` must come
back equal to within 1e-12 relative (ASSIGNMENT.md §Q11 "Conventions and accepted alternatives"); every ``x`` here
keeps |x| >= 1e-3 so that the accepted ``+eps, -2eps, +eps`` ulp drift stays far below that.
"""
import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import weight

from autograder import testkit
from autograder.testkit import (assert_close, assert_unchanged, check)

pytestmark = pytest.mark.question("Q11")


def _away_from_zero(rng, shape, low=0.05, high=1.5):
    """Random values of both signs with magnitudes in [low, high]."""
    return rng.uniform(low, high, size=shape) * rng.choice([-1.0, 1.0], size=shape)


def _quadratic_case(rng, shape):
    """f(x) = 0.5 v.A.v + b.v + c with a non-symmetric A with strong coupling and a large
    diagonal, and a gradient whose entries have magnitudes in [0.5, 2]."""
    n = int(np.prod(shape))
    A = rng.normal(size=(n, n))
    A[np.diag_indices(n)] = rng.uniform(2.0, 3.0, size=n) * rng.choice([-1.0, 1.0], size=n)
    x = _away_from_zero(rng, shape)
    target = _away_from_zero(rng, n, 0.5, 2.0)
    b = target - 0.5 * (A + A.T) @ x.ravel()
    c = float(rng.normal())
    return testkit.trusted_function("quadratic", A=A, b=b, c=c), x, target.reshape(shape)


@weight(2)
@pytest.mark.parametrize("ndim", [1, 2, 3])
def test_numerical_gradient_of_random_quadratics(student, case_rng, ndim):
    """numerical_gradient of a quadratic form (any shape of x): values, x's shape, x restored."""
    shape = tuple(int(d) for d in case_rng.integers(2, 5 if ndim < 3 else 4, size=ndim))
    f, x, expected = _quadratic_case(case_rng, shape)
    x_before = x.copy()
    grad = student.gradcheck.numerical_gradient(f, x)
    err = assert_close("numerical_gradient", grad, expected, 1e-7, "the shape of x")
    print("quadratic: relative error:", err)
    assert_unchanged("x (after numerical_gradient)", x_before, x, tol=1e-12)


@weight(2)
def test_numerical_gradient_perturbs_one_entry_at_a_time(student, case_rng):
    """numerical_gradient perturbs each scalar of x on its own (a coupled function of a 2-D x)."""
    shape = (3, 4)
    n = 12
    A = np.zeros((n, n))
    for i in range(n):       # each entry coupled to its neighbours in both directions
        A[i, (i + 1) % n] = case_rng.uniform(1.0, 2.0)
        A[i, (i + 4) % n] = -case_rng.uniform(1.0, 2.0)
    x = _away_from_zero(case_rng, shape)
    target = _away_from_zero(case_rng, n, 0.5, 2.0)
    b = target - 0.5 * (A + A.T) @ x.ravel()
    f = testkit.trusted_function("quadratic", A=A, b=b, c=0.0)
    expected = target.reshape(shape)
    grad = student.gradcheck.numerical_gradient(f, x.copy())
    check(np.ndim(grad) > 0 and np.size(grad) == n,
          "numerical_gradient must return one value per scalar of x (an array shaped like x)")
    assert_close("numerical_gradient", grad, expected, 1e-6, "the shape of x")


@weight(2)
@pytest.mark.parametrize("family", ["tanh_sum", "mlp_loss"])
def test_numerical_gradient_uses_eps_and_central_differences(student, case_rng, family):
    """numerical_gradient(f, x, eps) with a large eps returns (f(x+eps e_i) - f(x-eps e_i)) / (2 eps)."""
    eps = float(case_rng.uniform(0.05, 0.3))
    if family == "tanh_sum":
        shape = (int(case_rng.integers(2, 5)), int(case_rng.integers(2, 5)))
        x = _away_from_zero(case_rng, shape)
        f = testkit.trusted_function("tanh_sum", w=_away_from_zero(case_rng, shape, 0.5, 1.5),
                                     a=case_rng.uniform(1.5, 3.0, size=shape),
                                     c=case_rng.uniform(-1.0, 1.0, size=shape))
    else:
        X, V, Y = case_rng.normal(size=(5, 3)), case_rng.normal(size=(4, 2)), case_rng.normal(size=(5, 2))
        x = _away_from_zero(case_rng, (3, 4))
        f = testkit.trusted_function("mlp_loss", X=X, V=V, Y=Y)
    x_before = x.copy()
    expected = testkit.numerical_gradient(f, x.copy(), h=eps)   # the trusted central differences
    grad = student.gradcheck.numerical_gradient(f, x, eps=eps)
    err = assert_close(f"numerical_gradient(f, x, eps={eps:.3g})", grad, expected, 1e-7,
                       "the shape of x")
    print(f"{family} eps={eps:.3g}: relative error:", err)
    assert_unchanged("x (after numerical_gradient)", x_before, x, tol=1e-12)


def _mlp_case(rng):
    """mlp_loss coefficients whose gradient in W has no tiny entry (relative comparison)."""
    for _ in range(100):
        X, V, Y = rng.normal(size=(6, 4)), rng.normal(size=(3, 2)), rng.normal(size=(6, 2))
        W = _away_from_zero(rng, (4, 3))
        h = 1.0 / (1.0 + np.exp(-(X @ W)))
        grad = X.T @ ((2.0 * (h @ V - Y) @ V.T) * h * (1.0 - h))
        if np.min(np.abs(grad)) > 1e-2:
            return X, V, Y, W, grad
    raise RuntimeError("could not draw a well-conditioned case")  # pragma: no cover


@weight(2)
def test_numerical_gradient_of_a_random_network_loss(student, case_rng):
    """numerical_gradient of a small network's loss with the default eps, W restored."""
    X, V, Y, W, expected = _mlp_case(case_rng)
    W_before = W.copy()
    f = testkit.trusted_function("mlp_loss", X=X, V=V, Y=Y)
    grad = student.gradcheck.numerical_gradient(f, W)
    err = assert_close("numerical_gradient", grad, expected, 1e-6, "the shape of W")
    print("mlp_loss: relative error:", err)
    assert_unchanged("W (after numerical_gradient)", W_before, W, tol=1e-12)


@weight(2)
def test_numerical_gradient_restores_x_across_magnitudes(student, case_rng):
    """x comes back with its original values (within 1e-12 relative) for entries from 1e-3 to 1e3."""
    shape = (4, 5)
    x = 10.0 ** case_rng.uniform(-3.0, 3.0, size=shape) * case_rng.choice([-1.0, 1.0], size=shape)
    x_before = x.copy()
    f = testkit.trusted_function("tanh_sum", w=_away_from_zero(case_rng, shape, 0.5, 1.5),
                                 a=np.full(shape, 1e-3), c=case_rng.uniform(-1.0, 1.0, size=shape))
    grad = student.gradcheck.numerical_gradient(f, x)
    assert_unchanged("x (after numerical_gradient)", x_before, x, tol=1e-12)
    # values are checked loosely here (round-off of f at |x| ~ 1e3): the other tests pin them
    expected = testkit.numerical_gradient(f, x_before.copy(), h=1e-6)
    assert_close("numerical_gradient", grad, expected, 1e-3, "the shape of x")
