"""Q14: the three-layer ConvNet (src/convnet.py).

ConvNet calls your conv_layers.py, layers.py and classifiers.py: make their own tests (Q13,
Q1, Q3) pass first.  The initialisation is given code (W1, W2, W3 drawn in that order), so
the golden values below hold for every correct solution.  Run with ``pytest -s`` to see the
losses and relative errors.
"""
import math

import numpy as np
import pytest

from autograder.testkit import (assert_close, assert_scalar_close, assert_shape,
                                numerical_gradient, scores_guard_tol, to_array, to_scalar)

pytestmark = pytest.mark.question("Q14")

PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")

# rs = RandomState(231); X = rs.randn(4, 3, 8, 8); y = rs.randint(5, size=4); then the model's
# initialisation continues the same stream: ConvNet(input_dim=(3, 8, 8), num_filters=3,
# filter_size=3, hidden_dim=10, num_classes=5, weight_scale=0.3, reg=0.05, dtype=np.float64).
EXPECTED_SCORES = np.array([
    [1.6001139190088673, -0.6285596298446817, -0.18118373036708063,
     0.3559821353103747, -0.9178623412317726],
    [0.7409929158299116, -0.8910913996937683, -2.029532066150445,
     0.3703947128959285, -1.0525917428697231],
    [1.7896699935691742, -0.7474291802328841, -1.0462178990396056,
     0.1891615586608751, -0.20977170076848314],
    [1.1690674546212718, -0.3561243528213124, 0.015516103123643297,
     0.3949103569303252, -0.4209975030502425],
])
EXPECTED_LOSS = 3.7940371375258097   # mean cross-entropy 2.37795... + 0.5 * reg * sum(W**2)


def _seeded_model(student, rs, **kwargs):
    """A ConvNet whose initialisation continues ``rs``'s stream on the student side."""
    student.seed(rs.get_state())
    return student.convnet.ConvNet(**kwargs)


def _check_keys(grads):
    """grads must be a dict with exactly the keys of params."""
    keys = sorted(map(str, grads)) if isinstance(grads, dict) else None
    if keys != sorted(PARAM_NAMES):
        raise AssertionError(f"grads should be a dict with exactly the keys of params "
                             f"{sorted(PARAM_NAMES)}; got "
                             f"{keys if keys is not None else type(grads).__name__}")


def _restored(state):
    """A RandomState continuing from ``state``."""
    rs = np.random.RandomState()
    rs.set_state(state)
    return rs


def test_initial_loss_is_about_log_num_classes(student):
    rs = np.random.RandomState(231)
    X = rs.randn(10, 3, 16, 16)
    y = rs.randint(10, size=10)
    model = _seeded_model(student, rs, input_dim=(3, 16, 16), num_filters=8, filter_size=5,
                          hidden_dim=50, weight_scale=1e-3, dtype=np.float64)
    loss, _ = model.loss(X, y)
    loss = to_scalar(loss, "loss")
    print("Initial loss (no regularization):", loss)
    assert_scalar_close("initial loss with weight_scale=1e-3 (expected about log(10))",
                        loss, math.log(10), 1e-5)


def test_regularisation_adds_half_reg_times_sum_of_squared_weights(student):
    rs = np.random.RandomState(231)
    X = rs.randn(10, 3, 16, 16)
    y = rs.randint(10, size=10)
    state = rs.get_state()
    reg = 0.5
    plain = _seeded_model(student, _restored(state), input_dim=(3, 16, 16), num_filters=8,
                          filter_size=5, hidden_dim=50, weight_scale=1e-3, dtype=np.float64)
    regularised = _seeded_model(student, _restored(state), input_dim=(3, 16, 16),
                                num_filters=8, filter_size=5, hidden_dim=50, weight_scale=1e-3,
                                reg=reg, dtype=np.float64)
    params = {k: to_array(v, f"params['{k}']") for k, v in plain.params.items()}
    loss0, grads0 = plain.loss(X, y)
    loss1, grads1 = regularised.loss(X, y)
    _check_keys(grads0)
    _check_keys(grads1)
    loss0, loss1 = to_scalar(loss0, "loss (reg=0)"), to_scalar(loss1, "loss (reg=0.5)")
    print("Initial loss (no regularization):", loss0)
    print("Initial loss (with regularization):", loss1)
    penalty = 0.5 * reg * sum(float(np.sum(params[k] ** 2)) for k in ("W1", "W2", "W3"))
    assert_scalar_close("loss(reg=0.5) - loss(reg=0), the L2 term 0.5*reg*sum(W**2) over "
                        "W1, W2, W3", loss1 - loss0, penalty, 1e-8)
    for name in PARAM_NAMES:
        g0 = assert_shape(f"grads['{name}'] (reg=0)", grads0[name], params[name].shape)
        g1 = assert_shape(f"grads['{name}'] (reg=0.5)", grads1[name], params[name].shape)
        expected = reg * params[name] if name.startswith("W") else np.zeros_like(params[name])
        assert_close(f"grads['{name}'] with reg=0.5 minus grads['{name}'] with reg=0 "
                     f"({'reg * W' if name.startswith('W') else 'biases are not regularised'})",
                     g1 - g0, expected, 1e-8)


def test_scores_and_loss_match_golden_values(student):
    rs = np.random.RandomState(231)
    X = rs.randn(4, 3, 8, 8)
    y = rs.randint(5, size=4)
    model = _seeded_model(student, rs, input_dim=(3, 8, 8), num_filters=3, filter_size=3,
                          hidden_dim=10, num_classes=5, weight_scale=0.3, reg=0.05,
                          dtype=np.float64)
    scores = model.loss(X)
    print("scores relative error:", assert_close(
        "scores (test mode: loss(X) with y=None)", scores, EXPECTED_SCORES, 1e-9,
        "(N, num_classes)"))
    loss, grads = model.loss(X, y)
    # an epsilon of at most 1e-10 inside the log is accepted (ASSIGNMENT.md "Numerical guards")
    print("loss relative error:", assert_scalar_close("loss", loss, EXPECTED_LOSS,
                                                      scores_guard_tol(EXPECTED_SCORES, y, 1e-10)))
    _check_keys(grads)


def test_loss_without_labels_returns_scores(student):
    rs = np.random.RandomState(3)
    X = rs.randn(3, 1, 9, 7)
    model = _seeded_model(student, rs, input_dim=(1, 9, 7), num_filters=2, filter_size=3,
                          hidden_dim=4, num_classes=6, dtype=np.float64)
    scores = model.loss(X)
    assert_shape("scores (loss(X) with y=None)", scores, (3, 6), "(N, num_classes)")


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_gradients_match_numerical_gradients(student, reg):
    rs = np.random.RandomState(231)
    X = rs.randn(3, 2, 6, 6)
    y = rs.randint(4, size=3)
    model = _seeded_model(student, rs, input_dim=(2, 6, 6), num_filters=3, filter_size=3,
                          hidden_dim=6, num_classes=4, weight_scale=0.3, reg=reg,
                          dtype=np.float64)
    params = {k: to_array(v, f"params['{k}']") for k, v in model.params.items()}
    loss, grads = model.loss(X, y)
    print("loss:", to_scalar(loss, "loss"))
    _check_keys(grads)

    def loss_at(_):
        model.params = params        # numerical_gradient perturbs params[name] in place
        return to_scalar(model.loss(X, y)[0], "loss")

    for name in PARAM_NAMES:
        num = numerical_gradient(loss_at, params[name])
        err = assert_close(f"grads['{name}']", grads[name], num, 1e-5,
                           f"the shape of params['{name}']")
        print(f"{name} max relative error: {err:e}")
