"""Q1 hidden tests: linear and ReLU layers (numerics.md §4.1 A1-A8, §4.2 R1-R4, §6).

Expected values come from the reference (``ref``) on the trusted side; random shapes and
values come from ``case_rng`` (per submission when grading).  Every gradient is checked
against both the reference gradient and centred differences of the reference forward pass.
"""
import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import weight

from autograder.testkit import (CheckFailed, assert_array, assert_close, assert_close_to_numerical,
                                assert_shape, assert_unchanged, numerical_gradient_array)

pytestmark = pytest.mark.question("Q1")

TOL_FWD = 1e-9
TOL_GRAD = 1e-7


def _linear_case(rng, ndim):
    n = int(rng.integers(2, 6))
    dims = tuple(int(d) for d in rng.integers(2, 5, size=ndim - 1))   # no axis of 1: order matters
    d, m = int(np.prod(dims)), int(rng.integers(2, 6))
    X = rng.normal(size=(n, *dims))
    W = rng.normal(size=(d, m))
    b = rng.normal(size=m) + 0.5          # non-zero biases (A8)
    return X, W, b


@weight(1)
@pytest.mark.parametrize("ndim", [2, 4])
def test_linear_forward_values_on_random_shapes(student, ref, case_rng, ndim):
    """linear_forward on random N-d inputs with non-zero biases and negative values."""
    X, W, b = _linear_case(case_rng, ndim)
    expected = ref.layers.linear_forward(X, W, b)
    out = student.layers.linear_forward(X.copy(), W.copy(), b.copy())
    assert_close("linear_forward output", out,
                 expected, TOL_FWD, "(N, M): the flattened input times W plus b")


@weight(0.5)
@pytest.mark.parametrize("n", [1, 3])
def test_linear_forward_returns_an_n_by_m_array(student, ref, case_rng, n):
    """linear_forward returns a NumPy array of shape (N, M), also for a single example (N = 1):
    a list, or a (M,) vector at N = 1, breaks the layers that consume it."""
    X, W, b = _linear_case(case_rng, 3)
    X = case_rng.normal(size=(n, *X.shape[1:]))
    out = student.layers.linear_forward(X.copy(), W.copy(), b.copy())
    out = assert_array("linear_forward output", out, (n, W.shape[1]),
                       "(N, M): the flattened input times W plus b")
    assert_close("linear_forward output", out, ref.layers.linear_forward(X, W, b), TOL_FWD)


@weight(0.5)
def test_linear_forward_flattens_row_major(student, ref):
    """linear_forward flattens (N, d1, d2) inputs in row-major order (not order='F')."""
    X = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4) / 7.0 - 1.0
    W = np.linspace(-1.0, 1.0, 12 * 5).reshape(12, 5)
    b = np.linspace(0.5, 1.5, 5)
    assert_close("linear_forward output", student.layers.linear_forward(X, W, b),
                 ref.layers.linear_forward(X, W, b), TOL_FWD)


@weight(0.5)
def test_linear_forward_leaves_inputs_unchanged(student, ref, case_rng):
    """linear_forward returns the right output and does not modify X, W or b."""
    X, W, b = _linear_case(case_rng, 3)
    X0, W0, b0 = X.copy(), W.copy(), b.copy()
    out = student.layers.linear_forward(X, W, b)
    assert_close("linear_forward output", out, ref.layers.linear_forward(X0, W0, b0), TOL_FWD)
    for name, before, after in (("X", X0, X), ("W", W0, W), ("b", b0, b)):
        assert_unchanged(f"linear_forward's {name}", before, after)


@weight(1.5)
@pytest.mark.parametrize("ndim", [2, 3])
def test_linear_backward_matches_reference_and_numerical_gradient(student, ref, case_rng, ndim):
    """linear_backward: dX, dW, db have their parameters' shapes and match the gradient."""
    X, W, b = _linear_case(case_rng, ndim)
    dout = case_rng.normal(size=(X.shape[0], W.shape[1]))
    got = student.layers.linear_backward(dout.copy(), X.copy(), W.copy(), b.copy())
    if not isinstance(got, tuple) or len(got) != 3:
        raise CheckFailed("linear_backward must return a tuple (dX, dW, db)")
    dX, dW, db = got
    eX, eW, eb = ref.layers.linear_backward(dout, X, W, b)
    assert_shape("dX", dX, X.shape, "the shape of X (reshape the gradient back)")
    assert_shape("dW", dW, W.shape, "the shape of W")
    assert_shape("db", db, b.shape, "the shape of b (1-D, not (1, M))")
    f = ref.layers.linear_forward
    numeric = {
        "dX": numerical_gradient_array(lambda x: f(x, W, b), X.copy(), dout),
        "dW": numerical_gradient_array(lambda w: f(X, w, b), W.copy(), dout),
        "db": numerical_gradient_array(lambda v: f(X, W, v), b.copy(), dout),
    }
    for name, value, expected in (("dX", dX, eX), ("dW", dW, eW), ("db", db, eb)):
        assert_close(name, value, expected, TOL_GRAD)
        assert_close_to_numerical(f"{name} (vs centred differences)", value, numeric[name], 1e-6)


@weight(0.5)
def test_linear_backward_leaves_inputs_unchanged(student, ref, case_rng):
    """linear_backward returns the right dX and does not modify X, W or b."""
    X, W, b = _linear_case(case_rng, 2)
    dout = case_rng.normal(size=(X.shape[0], W.shape[1]))
    X0, W0, b0 = X.copy(), W.copy(), b.copy()
    expected = ref.layers.linear_backward(dout.copy(), X0, W0, b0)
    got = student.layers.linear_backward(dout, X, W, b)
    if not isinstance(got, tuple) or len(got) != 3:
        raise CheckFailed("linear_backward must return a tuple (dX, dW, db)")
    assert_close("dX", got[0], expected[0], TOL_GRAD)
    for name, before, after in (("X", X0, X), ("W", W0, W), ("b", b0, b)):
        assert_unchanged(f"linear_backward's {name}", before, after)


def _relu_input(rng, shape=(4, 5)):
    X = rng.normal(size=shape)
    X.flat[:: 3] *= -1.0
    return X


@weight(1)
def test_relu_forward_values_and_shape(student, ref, case_rng):
    """relu_forward on random values of both signs (and 3-D input)."""
    for shape in ((4, 5), (2, 3, 4)):
        X = _relu_input(case_rng, shape)
        assert_close("relu_forward output", student.layers.relu_forward(X.copy()),
                     ref.layers.relu_forward(X), 0.0)


@weight(0.5)
def test_relu_forward_leaves_input_unchanged(student, ref, case_rng):
    """relu_forward returns the right new array and leaves X as it was."""
    X = _relu_input(case_rng)
    X0 = X.copy()
    out = student.layers.relu_forward(X)
    assert_close("relu_forward output", out, ref.layers.relu_forward(X0), 0.0)
    assert_unchanged("relu_forward's X", X0, X)


@weight(1)
def test_relu_backward_matches_gradient_away_from_zero(student, ref, case_rng):
    """relu_backward masks dout by the sign of X (inputs away from 0)."""
    X = _relu_input(case_rng, (6, 7))
    X[np.abs(X) < 1e-3] = 0.5
    dout = case_rng.normal(size=X.shape)
    dX = student.layers.relu_backward(dout.copy(), X.copy())
    assert_close("dX", dX, ref.layers.relu_backward(dout, X), 0.0, "the shape of X")
    numeric = numerical_gradient_array(ref.layers.relu_forward, X.copy(), dout)
    assert_close_to_numerical("dX (vs centred differences)", dX, numeric, 1e-7)


@weight(0.5)
def test_relu_backward_accepts_any_subgradient_at_zero(student, case_rng):
    """relu_backward at exactly X == 0 gives a subgradient in [0, 1] times dout."""
    X = np.array([[0.0, 1.0, -1.0], [0.0, 0.0, 2.0]])
    dout = np.array([[2.0, 3.0, 4.0], [-5.0, 6.0, 7.0]])
    dX = assert_shape("dX", student.layers.relu_backward(dout.copy(), X.copy()), X.shape)
    away = X != 0
    assert_close("dX away from 0", dX[away], (dout * (X > 0))[away], 0.0)
    ratio = dX[~away] / dout[~away]
    if not np.all((ratio >= 0.0) & (ratio <= 1.0)):
        raise CheckFailed("dX at X == 0 must be a subgradient: between 0 and dout (any value in "
                          "[0, 1] times dout)")


@weight(0.5)
def test_relu_backward_leaves_inputs_unchanged(student, ref, case_rng):
    """relu_backward returns the right dX and does not modify X (backward may overwrite dout:
    that is allowed)."""
    X = _relu_input(case_rng)
    X0 = X.copy()
    dout = case_rng.normal(size=X.shape)
    expected = ref.layers.relu_backward(dout.copy(), X0)
    assert_close("dX", student.layers.relu_backward(dout, X), expected, 0.0)
    assert_unchanged("relu_backward's X", X0, X)


@weight(0.5)
def test_linear_and_relu_keep_float32(student, case_rng):
    """float32 inputs give float32-accurate results (values compared to float32 tolerance)."""
    X, W, b = (a.astype(np.float32) for a in _linear_case(case_rng, 2))
    expected = X.astype(np.float64).reshape(X.shape[0], -1) @ W.astype(np.float64) + b
    out = assert_shape("linear_forward output (float32 input)",
                       student.layers.linear_forward(X, W, b), expected.shape)
    # float32 rounding is relative to the size of the terms, not of their (possibly tiny) sum:
    # compare with the largest output
    err = float(np.max(np.abs(out - expected)) / np.max(np.abs(expected)))
    print("linear_forward (float32) error relative to the largest output:", err)
    if not err <= 1e-5:
        raise CheckFailed(f"linear_forward output (float32 input): max error {err:.3g} relative "
                          f"to the largest output (tolerance 1e-05)")
    Xr = _relu_input(case_rng).astype(np.float32)
    assert_close("relu_forward output (float32 input)", student.layers.relu_forward(Xr),
                 np.maximum(Xr.astype(np.float64), 0.0), 0.0)
