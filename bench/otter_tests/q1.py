"""Q1 for otter-grader (bench only): linear and ReLU layers, 12 checks of 1 point.

Ports of the kit's reference/tests/test_q1_linear_relu.py (5 checks, same inputs and expected
values) and of 7 of hidden_tests/test_q1_linear_relu.py's checks, with the expected values
computed here (otter has no trusted reference side).  Exception-based otter format: a check
passes when its function returns without raising.
"""
import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "q1"

LINEAR_OUT = np.array([
    [1.3380362671384343, 1.5545997346306941, 1.7711632021229542],
    [1.0431814831195636, 1.2738979802447292, 1.5046144773698953],
    [0.7483266991006929, 0.9931962258587647, 1.2380657526168364],
    [0.4534719150818225, 0.7124944714727999, 0.9715170278637774],
    [0.15861713106295194, 0.4317927170868351, 0.7049683031107183],
    [-0.1362376529559186, 0.1510909627008704, 0.43841957835765943],
    [-0.43109243697478916, -0.12961079168509437, 0.1718708536046003],
    [-0.7259472209936595, -0.41031254607105905, -0.0946778711484586],
    [-1.0208020050125302, -0.6910143004570239, -0.36122659590151773],
    [-1.3156567890314006, -0.9717160548429886, -0.6277753206545766],
])
RELU_OUT = np.array([
    [0.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.0],
    [0.0, 0.0, 0.0, 0.0],
    [0.05789473684210533, 0.12105263157894741, 0.1842105263157896, 0.24736842105263168],
    [0.31052631578947376, 0.37368421052631584, 0.4368421052631579, 0.5],
])


def rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shape {a.shape}, expected {b.shape}"
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))) if a.size else 0.0


def num_grad(f, args, i, dout, index=None, h=1e-5):
    """Centred differences of sum(f(*args)[index] * dout) with respect to args[i]."""
    args = [np.array(a, dtype=np.float64, copy=True) if k == i else a for k, a in enumerate(args)]
    x = args[i]
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        j = it.multi_index
        old = x[j]
        x[j] = old + h
        plus = f(*args) if index is None else f(*args)[index]
        x[j] = old - h
        minus = f(*args) if index is None else f(*args)[index]
        x[j] = old
        grad[j] = np.sum((plus - minus) * dout) / (2 * h)
    return grad


def linear_inputs():
    n_x, x_shape, n_out = 10, [4, 2, 5], 3
    d = int(np.prod(x_shape))
    X = np.linspace(-0.2, 0.5, num=n_x * d).reshape([n_x] + x_shape)
    W = np.linspace(-0.4, 0.2, num=d * n_out).reshape(d, n_out)
    b = np.linspace(0.5, 1, num=n_out)
    return X, W, b


def linear_case(rng, ndim):
    n = int(rng.integers(2, 6))
    dims = tuple(int(d) for d in rng.integers(2, 5, size=ndim - 1))
    d, m = int(np.prod(dims)), int(rng.integers(2, 6))
    return rng.normal(size=(n, *dims)), rng.normal(size=(d, m)), rng.normal(size=m) + 0.5


@test_case(points=1)
def test_linear_forward_matches_expected_output(linear_forward):
    X, W, b = linear_inputs()
    assert rel_error(linear_forward(X, W, b), LINEAR_OUT) < 1e-12


@test_case(points=1)
def test_linear_forward_does_not_modify_inputs(linear_forward):
    X, W, b = linear_inputs()
    X0, W0, b0 = X.copy(), W.copy(), b.copy()
    assert rel_error(linear_forward(X, W, b), LINEAR_OUT) < 1e-12
    assert np.array_equal(X, X0) and np.array_equal(W, W0) and np.array_equal(b, b0)


@test_case(points=1)
def test_linear_backward_matches_numerical_gradient(linear_forward, linear_backward):
    rs = np.random.RandomState(395)
    x, w, b, dout = rs.randn(10, 2, 3), rs.randn(6, 5), rs.randn(5), rs.randn(10, 5)
    dx, dw, db = linear_backward(dout, x, w, b)
    assert rel_error(dx, num_grad(linear_forward, (x, w, b), 0, dout)) < 5e-10
    assert rel_error(dw, num_grad(linear_forward, (x, w, b), 1, dout)) < 5e-10
    assert rel_error(db, num_grad(linear_forward, (x, w, b), 2, dout)) < 5e-10


@test_case(points=1)
def test_relu_forward_matches_expected_output(relu_forward):
    x = np.linspace(-0.7, 0.5, num=20).reshape(5, 4)
    x0 = x.copy()
    assert rel_error(relu_forward(x), RELU_OUT) < 1e-12
    assert np.array_equal(x, x0)


@test_case(points=1)
def test_relu_backward_matches_numerical_gradient(relu_forward, relu_backward):
    rs = np.random.RandomState(395)
    x = rs.randn(10, 10)
    dout = rs.randn(*x.shape)
    assert rel_error(relu_backward(dout, x), num_grad(relu_forward, (x,), 0, dout)) < 1e-10


@test_case(points=1)
def test_linear_forward_values_on_random_2d(linear_forward):
    X, W, b = linear_case(np.random.default_rng(2), 2)
    assert rel_error(linear_forward(X.copy(), W.copy(), b.copy()), X.reshape(len(X), -1) @ W + b) < 1e-9


@test_case(points=1)
def test_linear_forward_values_on_random_4d(linear_forward):
    X, W, b = linear_case(np.random.default_rng(4), 4)
    assert rel_error(linear_forward(X.copy(), W.copy(), b.copy()), X.reshape(len(X), -1) @ W + b) < 1e-9


@test_case(points=1)
def test_linear_forward_flattens_row_major(linear_forward):
    X = np.arange(2 * 3 * 4, dtype=np.float64).reshape(2, 3, 4) / 7.0 - 1.0
    W = np.linspace(-1.0, 1.0, 12 * 5).reshape(12, 5)
    b = np.linspace(0.5, 1.5, 5)
    assert rel_error(linear_forward(X, W, b), X.reshape(2, 12) @ W + b) < 1e-9


@test_case(points=1)
def test_linear_backward_random_2d(linear_forward, linear_backward):
    rng = np.random.default_rng(22)
    X, W, b = linear_case(rng, 2)
    dout = rng.normal(size=(X.shape[0], W.shape[1]))
    dX, dW, db = linear_backward(dout, X, W, b)
    assert rel_error(dX, (dout @ W.T).reshape(X.shape)) < 1e-7
    assert rel_error(dW, X.reshape(len(X), -1).T @ dout) < 1e-7
    assert rel_error(db, dout.sum(axis=0)) < 1e-7
    assert rel_error(dX, num_grad(linear_forward, (X, W, b), 0, dout)) < 1e-7


@test_case(points=1)
def test_linear_backward_random_3d(linear_forward, linear_backward):
    rng = np.random.default_rng(33)
    X, W, b = linear_case(rng, 3)
    dout = rng.normal(size=(X.shape[0], W.shape[1]))
    dX, dW, db = linear_backward(dout, X, W, b)
    assert rel_error(dX, (dout @ W.T).reshape(X.shape)) < 1e-7
    assert rel_error(dW, X.reshape(len(X), -1).T @ dout) < 1e-7
    assert rel_error(db, dout.sum(axis=0)) < 1e-7
    assert rel_error(dW, num_grad(linear_forward, (X, W, b), 1, dout)) < 1e-7


@test_case(points=1)
def test_relu_backward_accepts_any_subgradient_at_zero(relu_backward):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 7))
    x[::2, ::3] = 0.0
    dout = rng.normal(size=x.shape)
    dx = np.asarray(relu_backward(dout, x))
    assert dx.shape == x.shape
    assert np.allclose(dx[x > 0], dout[x > 0], rtol=0, atol=1e-12)
    assert np.allclose(dx[x < 0], 0.0, rtol=0, atol=1e-12)
    zero = x == 0
    t = dx[zero] / dout[zero]
    assert np.all((t >= -1e-12) & (t <= 1 + 1e-12))


@test_case(points=1)
def test_linear_and_relu_keep_float32(linear_forward, relu_forward):
    rng = np.random.default_rng(32)
    X = rng.normal(size=(4, 3, 2)).astype(np.float32)
    W = rng.normal(size=(6, 5)).astype(np.float32)
    b = rng.normal(size=5).astype(np.float32)
    out = linear_forward(X, W, b)
    assert out.dtype == np.float32 and out.shape == (4, 5)
    assert relu_forward(out).dtype == np.float32
