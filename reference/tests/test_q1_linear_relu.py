"""Q1: linear and ReLU layers (src/layers.py).

The handout's tests (Imperial assignment2_advanced ``test/test_layers.py``) with
full-precision expected values, plus shape checks. Run with ``pytest -s`` to see the relative
errors printed the way the handout does.
"""
import numpy as np
import pytest

from autograder.testkit import assert_close, assert_unchanged, numerical_gradient_of

pytestmark = pytest.mark.question("Q1")

# linear_forward of the handout's linspace inputs, computed at full precision.
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


def _linear_inputs():
    n_x, x_shape, n_out = 10, [4, 2, 5], 3
    d = int(np.prod(x_shape))
    X = np.linspace(-0.2, 0.5, num=n_x * d).reshape([n_x] + x_shape)
    W = np.linspace(-0.4, 0.2, num=d * n_out).reshape(d, n_out)
    b = np.linspace(0.5, 1, num=n_out)
    return X, W, b


def test_linear_forward_matches_expected_output(student):
    X, W, b = _linear_inputs()
    out = student.layers.linear_forward(X, W, b)
    e = assert_close("out", out, LINEAR_OUT, 1e-12,
                     "(N, M): X of shape (10, 4, 2, 5) flattened to (10, 40), times W (40, 3)")
    print("Relative difference", e)


def test_linear_forward_does_not_modify_inputs(student):
    X, W, b = _linear_inputs()
    X0, W0, b0 = X.copy(), W.copy(), b.copy()
    out = student.layers.linear_forward(X, W, b)
    assert_close("out", out, LINEAR_OUT, 1e-12)     # a right answer, and the inputs as they were
    assert_unchanged("X", X0, X)
    assert_unchanged("W", W0, W)
    assert_unchanged("b", b0, b)


def test_linear_backward_matches_numerical_gradient(student):
    rs = np.random.RandomState(395)
    x = rs.randn(10, 2, 3)
    w = rs.randn(6, 5)
    b = rs.randn(5)
    dout = rs.randn(10, 5)

    # centred differences of sum(linear_forward(x, w, b) * dout) in each argument
    forward = student.layers.linear_forward
    dx_num = numerical_gradient_of(forward, (x, w, b), 0, dout)
    dw_num = numerical_gradient_of(forward, (x, w, b), 1, dout)
    db_num = numerical_gradient_of(forward, (x, w, b), 2, dout)

    dx, dw, db = student.layers.linear_backward(dout, x, w, b)

    dx_e = assert_close("dX", dx, dx_num, 5e-10, "the shape of X")
    dw_e = assert_close("dW", dw, dw_num, 5e-10, "the shape of W")
    db_e = assert_close("db", db, db_num, 5e-10, "the shape of b: 1-D, not (1, M)")
    print("dX relative error:", dx_e)
    print("dW relative error:", dw_e)
    print("db relative error:", db_e)


def test_relu_forward_matches_expected_output(student):
    x = np.linspace(-0.7, 0.5, num=20).reshape(5, 4)
    x0 = x.copy()
    out = student.layers.relu_forward(x)
    e = assert_close("out", out, RELU_OUT, 1e-12, "the shape of X")
    assert_unchanged("X", x0, x)
    print("Relative difference:", e)


def test_relu_backward_matches_numerical_gradient(student):
    rs = np.random.RandomState(395)
    x = rs.randn(10, 10)   # no entry is exactly 0, where the subgradient is a convention
    dout = rs.randn(*x.shape)
    dx_num = numerical_gradient_of(student.layers.relu_forward, (x,), 0, dout)
    dx = student.layers.relu_backward(dout, x)
    e = assert_close("dX", dx, dx_num, 1e-10, "the shape of X")
    print("dX relative difference:", e)
