"""Q13: convolution and max-pooling layers (src/conv_layers.py).

Run with ``pytest -s tests/test_q13_conv_pool.py`` to see the relative errors printed the way
the handout does.  Golden values were computed with the reference solution in float64.
"""
import numpy as np
import pytest

from autograder.testkit import (assert_close, assert_shape, assert_unchanged,
                                numerical_gradient_array)

pytestmark = pytest.mark.question("Q13")


def conv_out_size(size, kernel, stride, pad):
    return 1 + (size + 2 * pad - kernel) // stride


# cs231n's conv_forward_naive check: stride 2, pad 1.
CONV_X = np.linspace(-0.1, 0.5, num=96).reshape(2, 3, 4, 4)
CONV_W = np.linspace(-0.2, 0.3, num=144).reshape(3, 3, 4, 4)
CONV_B = np.linspace(-0.1, 0.2, num=3)
EXPECTED_CONV_OUT = np.array([
    [[[-0.0875980861244019, -0.10987780640412219],
      [-0.18387191755612808, -0.21092160471107838]],
     [[0.21027088700772908, 0.21661096797938903],
      [0.22847626058152373, 0.2300463746779536]],
     [[0.5081398601398601, 0.5430997423629003],
      [0.6408244387191755, 0.6710143540669855]]],
    [[[-0.9805358851674641, -1.0314354066985647],
      [-1.1912889216047113, -1.2469584100110416]],
     [[0.6910835480309163, 0.6688038277511961],
      [0.5948097165991902, 0.5677600294442399]],
     [[2.362702981229297, 2.3690430622009573],
      [2.3809083548030916, 2.3824784688995218]]],
])

# cs231n's max_pool_forward_naive check: 2x2 windows, stride 2.
POOL_X = np.linspace(-0.3, 0.4, num=96).reshape(2, 3, 4, 4)
EXPECTED_POOL_OUT = np.array([
    [[[-0.2631578947368421, -0.24842105263157893],
      [-0.20421052631578945, -0.1894736842105263]],
     [[-0.14526315789473684, -0.13052631578947368],
      [-0.0863157894736842, -0.07157894736842105]],
     [[-0.027368421052631597, -0.012631578947368438],
      [0.03157894736842104, 0.0463157894736842]]],
    [[[0.09052631578947368, 0.10526315789473684],
      [0.14947368421052631, 0.16421052631578947]],
     [[0.2084210526315789, 0.22315789473684206],
      [0.26736842105263153, 0.2821052631578947]],
     [[0.32631578947368417, 0.34105263157894733],
      [0.3852631578947368, 0.4]]],
])


def test_conv_forward_matches_golden_values(student):
    out = student.conv_layers.conv_forward(CONV_X, CONV_W, CONV_B, stride=2, pad=1)
    err = assert_close("conv_forward out", out, EXPECTED_CONV_OUT, 1e-10,
                       "(N, F, H', W') with H' = 1 + (H + 2*pad - HH) // stride")
    print("conv_forward out relative error:", err)


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", [
    ((4, 3, 5, 5), (2, 3, 3, 3), 1, 1),     # the handout's check
    ((2, 2, 7, 6), (3, 2, 3, 2), 2, 0),     # stride 2, no padding, non-square kernel and input
], ids=["stride1-pad1", "stride2-pad0-nonsquare"])
def test_conv_backward_matches_numerical_gradient(student, x_shape, w_shape, stride, pad):
    rs = np.random.RandomState(231)
    x = rs.randn(*x_shape)
    w = rs.randn(*w_shape)
    b = rs.randn(w_shape[0])
    out_shape = (x_shape[0], w_shape[0], conv_out_size(x_shape[2], w_shape[2], stride, pad),
                 conv_out_size(x_shape[3], w_shape[3], stride, pad))
    dout = rs.randn(*out_shape)
    conv_forward = student.conv_layers.conv_forward

    def forward(x_, w_, b_):
        return conv_forward(x_, w_, b_, stride=stride, pad=pad)

    dx_num = numerical_gradient_array(lambda v: forward(v, w, b), x, dout)
    dw_num = numerical_gradient_array(lambda v: forward(x, v, b), w, dout)
    db_num = numerical_gradient_array(lambda v: forward(x, w, v), b, dout)
    dx, dw, db = student.conv_layers.conv_backward(dout.copy(), x, w, b, stride=stride, pad=pad)

    print("dx error:", assert_close("dX", dx, dx_num, 1e-7, "the shape of X"))
    print("dw error:", assert_close("dW", dw, dw_num, 1e-7, "the shape of W"))
    print("db error:", assert_close("db", db, db_num, 1e-7, "the shape of b, (F,)"))


def test_conv_output_size_uses_floor_division(student):
    # 1 + (6 + 2 - 3) // 2 = 3 rows and 1 + (7 + 2 - 2) // 2 = 4 columns: the stride does
    # not divide evenly, which is valid (the last row/column of the padded input is unused).
    rs = np.random.RandomState(0)
    x = rs.randn(2, 3, 6, 7)
    w = rs.randn(4, 3, 3, 2)
    b = rs.randn(4)
    out = student.conv_layers.conv_forward(x, w, b, stride=2, pad=1)
    assert_shape("conv_forward out", out, (2, 4, 3, 4),
                 "H' = 1 + (H + 2*pad - HH) // stride with integer (floor) division")
    pooled = student.conv_layers.max_pool_forward(x, pool_height=2, pool_width=3, stride=2)
    assert_shape("max_pool_forward out", pooled, (2, 3, 3, 3),
                 "H' = 1 + (H - pool_height) // stride with integer (floor) division")


def test_conv_does_not_modify_its_inputs(student):
    rs = np.random.RandomState(1)
    x, w, b = rs.randn(2, 3, 5, 5), rs.randn(4, 3, 3, 3), rs.randn(4)
    x0, w0, b0 = x.copy(), w.copy(), b.copy()
    student.conv_layers.conv_forward(x, w, b, stride=1, pad=2)
    for name, before, after in (("X", x0, x), ("W", w0, w), ("b", b0, b)):
        assert_unchanged(f"conv_forward's {name}", before, after)
    dout = rs.randn(2, 4, 7, 7)
    student.conv_layers.conv_backward(dout, x, w, b, stride=1, pad=2)
    for name, before, after in (("X", x0, x), ("W", w0, w), ("b", b0, b)):
        assert_unchanged(f"conv_backward's {name}", before, after)


def test_max_pool_forward_matches_golden_values(student):
    out = student.conv_layers.max_pool_forward(POOL_X, pool_height=2, pool_width=2, stride=2)
    err = assert_close("max_pool_forward out", out, EXPECTED_POOL_OUT, 1e-10,
                       "(N, C, H', W') with H' = 1 + (H - pool_height) // stride")
    print("max_pool_forward out relative error:", err)


@pytest.mark.parametrize("x_shape, pool, stride", [
    ((3, 2, 8, 8), (2, 2), 2),     # the handout's check
    ((2, 2, 7, 7), (3, 3), 2),     # overlapping windows: their gradients must add up
], ids=["2x2-stride2", "3x3-stride2-overlapping"])
def test_max_pool_backward_matches_numerical_gradient(student, x_shape, pool, stride):
    rs = np.random.RandomState(231)
    x = rs.randn(*x_shape)
    ph, pw = pool
    dout = rs.randn(x_shape[0], x_shape[1], 1 + (x_shape[2] - ph) // stride,
                    1 + (x_shape[3] - pw) // stride)
    pool_forward = student.conv_layers.max_pool_forward
    dx_num = numerical_gradient_array(
        lambda v: pool_forward(v, pool_height=ph, pool_width=pw, stride=stride), x, dout)
    dx = student.conv_layers.max_pool_backward(dout.copy(), x, pool_height=ph, pool_width=pw,
                                               stride=stride)
    print("dx error:", assert_close("dX", dx, dx_num, 1e-8, "the shape of X"))


def test_max_pool_backward_routes_ties_to_the_first_maximum(student):
    # Window [[1, 1], [0, 0]]: the first maximum in row-major order is (0, 0); window
    # [[0, 2], [2, 2]]: it is (0, 1).  The gradient must not be duplicated over ties.
    x = np.array([[[[1.0, 1.0], [0.0, 0.0]],
                   [[0.0, 2.0], [2.0, 2.0]]]])
    dout = np.array([[[[3.0]], [[-1.5]]]])
    expected = np.array([[[[3.0, 0.0], [0.0, 0.0]],
                          [[0.0, -1.5], [0.0, 0.0]]]])
    dx = student.conv_layers.max_pool_backward(dout.copy(), x, pool_height=2, pool_width=2,
                                               stride=2)
    assert_close("dX for tied maxima", dx, expected, 1e-12,
                 "the shape of X; each window's gradient goes to its first maximum only")


def test_max_pool_backward_accumulates_overlapping_windows(student):
    # 2x2 windows with stride 1 over a 3x3 map: the centre is the maximum of all four
    # windows, so it receives the sum of their gradients.
    x = np.array([[[[0.0, 0.1, 0.0], [0.2, 5.0, 0.3], [0.0, 0.4, 0.0]]]])
    dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 10.0
    dx = student.conv_layers.max_pool_backward(dout.copy(), x, pool_height=2, pool_width=2,
                                               stride=1)
    assert_close("dX for overlapping windows", dx, expected, 1e-12,
                 "the shape of X; overlapping windows add up")


def test_max_pool_does_not_modify_its_input(student):
    rs = np.random.RandomState(2)
    x = rs.randn(2, 3, 6, 6)
    x0 = x.copy()
    student.conv_layers.max_pool_forward(x, pool_height=2, pool_width=2, stride=2)
    assert_unchanged("max_pool_forward's X", x0, x)
    student.conv_layers.max_pool_backward(rs.randn(2, 3, 3, 3), x, pool_height=2, pool_width=2,
                                          stride=2)
    assert_unchanged("max_pool_backward's X", x0, x)
