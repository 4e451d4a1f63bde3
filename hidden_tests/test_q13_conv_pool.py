"""Q13 hidden tests: convolution and max-pooling layers (numerics.md §4.7 C1-C7, P1-P3, §6).

Expected values come from the reference (``ref``) on the trusted side; random values (and one
random geometry per check) come from ``case_rng`` (per submission when grading).  Every
gradient is checked against both the reference gradient and centred differences of the
reference forward pass.  Geometries cover stride 1, 2 and 3 (a stride that does not divide
evenly: valid, floor output size), pad 0, 1 and 2, non-square inputs and kernels; all of them
are valid (ASSIGNMENT.md §Q13 "Conventions and accepted alternatives": a kernel larger than the padded input is not graded).  Max-pool
cases cover overlapping windows (gradients add up) and ties (the first maximum in row-major
order takes the window's whole gradient, ASSIGNMENT.md §Q13 "Conventions and accepted alternatives").
"""
import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import partial_credit, weight

from autograder.testkit import (CheckFailed, PartialCredit, assert_close, assert_close_floored,
                                assert_close_to_numerical, assert_shape, assert_unchanged,
                                numerical_gradient_array, to_array)

pytestmark = pytest.mark.question("Q13")

TOL_FWD = 1e-10
TOL_GRAD = 1e-8        # against the reference gradient
TOL_NUM = 1e-6         # against centred differences of the reference forward pass

# x shape, w shape, stride, pad: all valid, all small (centred differences cost 2 reference
# forward passes per input entry).
CONV_GEOMETRIES = {
    "stride1-pad1": ((2, 3, 5, 5), (3, 3, 3, 3), 1, 1),
    "stride2-pad0-nonsquare": ((2, 2, 7, 6), (3, 2, 3, 2), 2, 0),
    "stride2-pad2-nonsquare": ((2, 2, 5, 6), (2, 2, 2, 3), 2, 2),
    "stride3-floor-size": ((1, 3, 8, 7), (2, 3, 3, 2), 3, 1),   # 7 % 3 != 0 both ways
    "random": None,
}

# x shape, (pool_height, pool_width), stride.
POOL_GEOMETRIES = {
    "2x2-stride2": ((2, 2, 4, 6), (2, 2), 2),
    "3x3-stride2-overlapping": ((2, 2, 7, 7), (3, 3), 2),
    "2x3-stride1-overlapping": ((1, 3, 5, 7), (2, 3), 1),
    "2x2-stride3-floor-size": ((2, 1, 8, 7), (2, 2), 3),      # 6 % 3 == 0, 5 % 3 != 0
    "random": None,
}


def _conv_out_size(size, kernel, stride, pad):
    return 1 + (size + 2 * pad - kernel) // stride


def _random_conv_geometry(rng):
    """A small valid geometry: the kernel never exceeds the padded input."""
    n, c, f = (int(v) for v in rng.integers(1, 4, size=3))
    stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 3))
    h, w = (int(v) for v in rng.integers(3, 9, size=2))
    hh = int(rng.integers(1, min(5, h + 2 * pad) + 1))
    ww = int(rng.integers(1, min(5, w + 2 * pad) + 1))
    return (n, c, h, w), (f, c, hh, ww), stride, pad


def _conv_case(rng, geometry):
    x_shape, w_shape, stride, pad = (_random_conv_geometry(rng) if CONV_GEOMETRIES[geometry] is None
                                     else CONV_GEOMETRIES[geometry])
    X = rng.normal(size=x_shape)
    W = rng.normal(size=w_shape)
    b = rng.normal(size=w_shape[0]) + 0.5          # non-zero biases
    return X, W, b, stride, pad


def _random_pool_geometry(rng):
    n, c = (int(v) for v in rng.integers(1, 4, size=2))
    h, w = (int(v) for v in rng.integers(3, 9, size=2))
    ph, pw = int(rng.integers(1, min(4, h) + 1)), int(rng.integers(1, min(4, w) + 1))
    stride = int(rng.integers(1, 4))
    if ph == pw == 1:
        pw = 2
    return (n, c, h, w), (ph, pw), stride


def _pool_geometry(rng, geometry):
    return _random_pool_geometry(rng) if POOL_GEOMETRIES[geometry] is None else POOL_GEOMETRIES[geometry]


def _distinct_values(rng, shape):
    """Values of both signs, pairwise at least 4/size apart: no ties, and no window's maximum
    changes under a 1e-5 perturbation (centred differences stay exact)."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) + 0.5) * (4.0 / n) - 2.0


def _check_gradient(name, value, expected, numeric, shape, what):
    """Shape, then the reference gradient, then centred differences; returns the error."""
    assert_shape(name, value, shape, what)
    err = assert_close_floored(name, value, expected, TOL_GRAD, 1e-6)
    assert_close_to_numerical(f"{name} (vs centred differences)", value, numeric, TOL_NUM)
    return err


# ---------------------------------------------------------------- convolution
@weight(1)
@pytest.mark.parametrize("geometry", list(CONV_GEOMETRIES))
def test_conv_forward_values_on_strides_pads_and_nonsquare_shapes(student, ref, case_rng, geometry):
    """conv_forward: cross-correlation with symmetric zero padding, floor output size."""
    X, W, b, stride, pad = _conv_case(case_rng, geometry)
    expected = ref.conv_layers.conv_forward(X, W, b, stride=stride, pad=pad)
    out = student.conv_layers.conv_forward(X.copy(), W.copy(), b.copy(), stride=stride, pad=pad)
    err = assert_close("conv_forward out", out, expected, TOL_FWD,
                       "(N, F, H', W') with H' = 1 + (H + 2*pad - HH) // stride (floor)")
    print(f"conv_forward ({geometry}) relative error:", err)


@weight(1)
def test_conv_forward_is_cross_correlation_without_kernel_flip(student):
    """conv_forward is a cross-correlation (no kernel flip), checked on an impulse input."""
    X = np.zeros((1, 1, 5, 5))
    X[0, 0, 2, 2] = 1.0                        # an impulse at the centre
    W = np.arange(1.0, 10.0).reshape(1, 1, 3, 3)
    b = np.array([0.25])
    out = student.conv_layers.conv_forward(X, W, b, stride=1, pad=1)
    # Cross-correlation: out[i, j] = sum W[a, k] X[i - 1 + a, j - 1 + k]; the impulse at (2, 2)
    # is seen by output (i, j) through W[3 - i, 3 - j]: the kernel appears flipped around the
    # impulse, exactly as in every deep-learning library.
    expected = np.full((1, 1, 5, 5), 0.25)
    expected[0, 0, 1:4, 1:4] += W[0, 0, ::-1, ::-1]
    assert_close("conv_forward out for an impulse input", out, expected, 1e-12,
                 "(1, 1, 5, 5) with stride 1 and pad 1")


@partial_credit(1.5)
@pytest.mark.parametrize("geometry", list(CONV_GEOMETRIES))
def test_conv_backward_matches_reference_and_numerical_gradient(student, ref, case_rng, geometry,
                                                                set_score=None):
    """conv_backward: dX, dW, db have their parameters' shapes and match the gradient."""
    X, W, b, stride, pad = _conv_case(case_rng, geometry)
    f = ref.conv_layers.conv_forward
    out_shape = f(X, W, b, stride=stride, pad=pad).shape
    dout = case_rng.normal(size=out_shape)
    got = student.conv_layers.conv_backward(dout.copy(), X.copy(), W.copy(), b.copy(),
                                            stride=stride, pad=pad)
    credit = PartialCredit(set_score)
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise CheckFailed("conv_backward must return a tuple (dX, dW, db)")
    expected = ref.conv_layers.conv_backward(dout, X, W, b, stride=stride, pad=pad)
    numeric = (
        numerical_gradient_array(lambda v: f(v, W, b, stride=stride, pad=pad), X.copy(), dout),
        numerical_gradient_array(lambda v: f(X, v, b, stride=stride, pad=pad), W.copy(), dout),
        numerical_gradient_array(lambda v: f(X, W, v, stride=stride, pad=pad), b.copy(), dout),
    )
    checks = (("dX", X.shape, "the shape of X (crop the padding; pad may be 0)", 0.6),
              ("dW", W.shape, "the shape of W", 0.6),
              ("db", b.shape, "the shape of b, (F,)", 0.3))
    for (name, shape, what, share), value, exp, num in zip(checks, got, expected, numeric):
        with credit.part(share):
            err = _check_gradient(name, value, exp, num, shape, what)
            print(f"conv_backward ({geometry}) {name} relative error:", err)
    credit.finish()


@weight(1)
def test_conv_backward_with_pad_0_returns_dx_of_input_shape(student, ref, case_rng):
    """conv_backward with pad=0 returns dX with X's shape (no crop of an unpadded input)."""
    X = case_rng.normal(size=(2, 2, 6, 5))
    W = case_rng.normal(size=(3, 2, 3, 2))
    b = case_rng.normal(size=3)
    dout = case_rng.normal(size=(2, 3, 4, 4))
    got = student.conv_layers.conv_backward(dout.copy(), X.copy(), W.copy(), b.copy(),
                                            stride=1, pad=0)
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        raise CheckFailed("conv_backward must return a tuple (dX, dW, db)")
    eX = ref.conv_layers.conv_backward(dout, X, W, b, stride=1, pad=0)[0]
    assert_shape("dX (pad=0)", got[0], X.shape, "the shape of X: with pad=0 there is nothing to crop")
    assert_close_floored("dX (pad=0)", got[0], eX, TOL_GRAD, 1e-6)


@weight(0.75)
@pytest.mark.parametrize("pad", [0, 2])
def test_conv_forward_and_backward_leave_inputs_unchanged(student, case_rng, pad):
    """conv_forward and conv_backward do not modify X, W or b (with and without padding)."""
    X = case_rng.normal(size=(2, 2, 5, 6))
    W = case_rng.normal(size=(3, 2, 3, 2))
    b = case_rng.normal(size=3)
    X0, W0, b0 = X.copy(), W.copy(), b.copy()
    student.conv_layers.conv_forward(X, W, b, stride=2, pad=pad)
    for name, before, after in (("X", X0, X), ("W", W0, W), ("b", b0, b)):
        assert_unchanged(f"conv_forward's {name}", before, after)
    dout = case_rng.normal(size=(2, 3, _conv_out_size(5, 3, 2, pad), _conv_out_size(6, 2, 2, pad)))
    student.conv_layers.conv_backward(dout, X, W, b, stride=2, pad=pad)
    for name, before, after in (("X", X0, X), ("W", W0, W), ("b", b0, b)):
        assert_unchanged(f"conv_backward's {name}", before, after)


# ---------------------------------------------------------------- max pooling
@weight(0.5)
@pytest.mark.parametrize("geometry", list(POOL_GEOMETRIES))
def test_max_pool_forward_values_on_overlapping_and_nonsquare_windows(student, ref, case_rng,
                                                                      geometry):
    """max_pool_forward: window maxima, floor output size, overlapping and non-square windows."""
    x_shape, (ph, pw), stride = _pool_geometry(case_rng, geometry)
    X = case_rng.normal(size=x_shape)
    expected = ref.conv_layers.max_pool_forward(X, pool_height=ph, pool_width=pw, stride=stride)
    out = student.conv_layers.max_pool_forward(X.copy(), pool_height=ph, pool_width=pw,
                                               stride=stride)
    assert_close("max_pool_forward out", out, expected, 1e-12,
                 "(N, C, H', W') with H' = 1 + (H - pool_height) // stride (floor)")


@weight(1)
@pytest.mark.parametrize("geometry", list(POOL_GEOMETRIES))
def test_max_pool_backward_matches_reference_and_numerical_gradient(student, ref, case_rng,
                                                                    geometry):
    """max_pool_backward: dX has X's shape, overlapping windows add up, matches the gradient."""
    x_shape, (ph, pw), stride = _pool_geometry(case_rng, geometry)
    X = _distinct_values(case_rng, x_shape)
    f = ref.conv_layers.max_pool_forward
    dout = case_rng.normal(size=f(X, pool_height=ph, pool_width=pw, stride=stride).shape)
    dX = student.conv_layers.max_pool_backward(dout.copy(), X.copy(), pool_height=ph,
                                               pool_width=pw, stride=stride)
    expected = ref.conv_layers.max_pool_backward(dout, X, pool_height=ph, pool_width=pw,
                                                 stride=stride)
    numeric = numerical_gradient_array(
        lambda v: f(v, pool_height=ph, pool_width=pw, stride=stride), X.copy(), dout)
    err = _check_gradient("dX", dX, expected, numeric, X.shape, "the shape of X")
    print(f"max_pool_backward ({geometry}) dX relative error:", err)


@weight(1)
@pytest.mark.parametrize("pool, stride", [((2, 2), 2), ((3, 3), 2), ((2, 2), 1)],
                         ids=["2x2-stride2", "3x3-stride2", "2x2-stride1"])
def test_max_pool_backward_routes_ties_to_the_first_maximum(student, ref, case_rng, pool, stride):
    """max_pool_backward with tied maxima: each window's gradient goes to its first maximum only."""
    ph, pw = pool
    X = case_rng.integers(0, 3, size=(2, 2, 7, 7)).astype(np.float64)   # many ties
    f = ref.conv_layers.max_pool_forward
    dout = case_rng.normal(size=f(X, pool_height=ph, pool_width=pw, stride=stride).shape)
    dX = student.conv_layers.max_pool_backward(dout.copy(), X.copy(), pool_height=ph,
                                               pool_width=pw, stride=stride)
    expected = ref.conv_layers.max_pool_backward(dout, X, pool_height=ph, pool_width=pw,
                                                 stride=stride)
    dX = assert_shape("dX with tied maxima", dX, X.shape, "the shape of X")
    assert_close("sum of dX with tied maxima (each window's gradient is passed on once)",
                 dX.sum(), expected.sum(), 1e-10)
    assert_close("dX with tied maxima", dX, expected, 1e-12,
                 "the shape of X; each window's gradient goes to its first maximum only")


@weight(1)
def test_max_pool_backward_tied_windows_sharing_their_first_maximum_add_up(student):
    """max_pool_backward: a position that is the first maximum of several windows gets their sum."""
    # 2x2 windows with stride 1 over a 3x3 map: every window's maxima are the 5s, and (1, 1)
    # is the first of them in row-major order in all four windows.
    X = np.array([[[[0.0, 0.0, 0.0], [0.0, 5.0, 5.0], [0.0, 5.0, 5.0]]]])
    dout = np.array([[[[1.0, -2.0], [3.0, 0.5]]]])
    expected = np.zeros((1, 1, 3, 3))
    expected[0, 0, 1, 1] = 1.0 - 2.0 + 3.0 + 0.5
    dX = student.conv_layers.max_pool_backward(dout.copy(), X.copy(), pool_height=2,
                                               pool_width=2, stride=1)
    assert_close("dX for tied, overlapping windows", dX, expected, 1e-12,
                 "the shape of X; first maximum per window, overlapping windows add up")


@weight(0.5)
def test_max_pool_forward_and_backward_leave_input_unchanged(student, case_rng):
    """max_pool_forward and max_pool_backward do not modify X (overlapping windows)."""
    X = case_rng.normal(size=(2, 2, 7, 6))
    X0 = X.copy()
    student.conv_layers.max_pool_forward(X, pool_height=3, pool_width=2, stride=2)
    assert_unchanged("max_pool_forward's X", X0, X)
    student.conv_layers.max_pool_backward(case_rng.normal(size=(2, 2, 3, 3)), X, pool_height=3,
                                          pool_width=2, stride=2)
    assert_unchanged("max_pool_backward's X", X0, X)


@weight(0.5)
def test_conv_and_max_pool_accept_float32_inputs(student, ref, case_rng):
    """float32 inputs give float32-accurate results (values compared to float32 tolerance)."""
    X, W, b, stride, pad = _conv_case(case_rng, "stride2-pad2-nonsquare")
    X32, W32, b32 = (a.astype(np.float32) for a in (X, W, b))
    out = to_array(student.conv_layers.conv_forward(X32, W32, b32, stride=stride, pad=pad),
                   "conv_forward out (float32 input)")
    expected = ref.conv_layers.conv_forward(*(a.astype(np.float64) for a in (X32, W32, b32)),
                                            stride=stride, pad=pad)
    assert_close_floored("conv_forward out (float32 input)", out, expected, 1e-4, 1e-3)
    pooled = student.conv_layers.max_pool_forward(X32, pool_height=2, pool_width=2, stride=2)
    expected = ref.conv_layers.max_pool_forward(X32.astype(np.float64), pool_height=2,
                                                pool_width=2, stride=2)
    assert_close("max_pool_forward out (float32 input)", pooled, expected, 1e-7)
