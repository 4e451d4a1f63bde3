"""Public tests for Q11: src/gradcheck.py, the numerical gradient checker.

The functions handed to ``numerical_gradient`` come from the kit's fixed trusted family
(``autograder.testkit.trusted_function``): quadratic forms, sums of tanh, a small network's
loss; their exact gradients are known here.  Run with ``pytest -s`` to see the errors.
"""
import numpy as np
import pytest

from autograder import testkit
from autograder.testkit import assert_close

pytestmark = pytest.mark.question("Q11")


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _quadratic_case(shape):
    rs = np.random.RandomState(231)
    n = int(np.prod(shape))
    A = rs.randn(n, n)  # not symmetric, with off-diagonal terms: entries must be perturbed one at a time
    b = rs.randn(n)
    c = 0.7
    x = rs.randn(*shape)
    grad = (0.5 * (A + A.T) @ x.ravel() + b).reshape(shape)
    return testkit.trusted_function("quadratic", A=A, b=b, c=c), x, grad


@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2)], ids=["1d", "2d", "3d"])
def test_numerical_gradient_of_a_quadratic(student, shape):
    f, x, expected = _quadratic_case(shape)
    x_before = x.copy()
    grad = student.gradcheck.numerical_gradient(f, x)
    err = assert_close("numerical_gradient", grad, expected, 1e-7, "the shape of x")
    print("quadratic: relative error:", err)
    testkit.assert_unchanged("x (after numerical_gradient)", x_before, x, tol=1e-12)


def test_numerical_gradient_of_a_tanh_sum(student):
    rs = np.random.RandomState(1)
    w, a, c = rs.randn(4, 3), rs.randn(4, 3), rs.randn(4, 3)
    x = rs.randn(4, 3)
    x_before = x.copy()
    f = testkit.trusted_function("tanh_sum", w=w, a=a, c=c)
    expected = w * a * (1.0 - np.tanh(a * x + c) ** 2)
    grad = student.gradcheck.numerical_gradient(f, x)
    err = assert_close("numerical_gradient", grad, expected, 1e-7, "the shape of x")
    print("tanh_sum: relative error:", err)
    testkit.assert_unchanged("x (after numerical_gradient)", x_before, x, tol=1e-12)


def test_numerical_gradient_of_a_network_loss(student):
    rs = np.random.RandomState(2)
    X, V, Y = rs.randn(6, 4), rs.randn(3, 2), rs.randn(6, 2)
    W = rs.randn(4, 3)
    W_before = W.copy()
    f = testkit.trusted_function("mlp_loss", X=X, V=V, Y=Y)
    h = _sigmoid(X @ W)  # f(W) = sum((sigmoid(X @ W) @ V - Y)**2)
    expected = X.T @ ((2.0 * (h @ V - Y) @ V.T) * h * (1.0 - h))
    grad = student.gradcheck.numerical_gradient(f, W)
    # round-off: f ~ 20 is known to ~1e-15, divided by 2*eps = 2e-6 -> ~1e-9 absolute, up to
    # ~1e-7 relative on the smallest entries (correct code measures 2e-8 here)
    err = assert_close("numerical_gradient", grad, expected, 1e-6, "the shape of W")
    print("mlp_loss: relative error:", err)
    testkit.assert_unchanged("W (after numerical_gradient)", W_before, W, tol=1e-12)


def test_numerical_gradient_uses_eps_and_central_differences(student):
    # with a large eps the central difference differs visibly from the derivative: the
    # expected values are the central differences themselves, (f(x+eps) - f(x-eps)) / (2 eps)
    rs = np.random.RandomState(3)
    w, a, c = rs.randn(5), 2.0 + rs.rand(5), rs.randn(5)
    x = rs.randn(5)
    eps = 0.1
    f = testkit.trusted_function("tanh_sum", w=w, a=a, c=c)
    expected = w * (np.tanh(a * (x + eps) + c) - np.tanh(a * (x - eps) + c)) / (2 * eps)
    grad = student.gradcheck.numerical_gradient(f, x, eps=eps)
    err = assert_close("numerical_gradient(f, x, eps=0.1)", grad, expected, 1e-10,
                       "the shape of x")
    print("eps=0.1: relative error:", err)
