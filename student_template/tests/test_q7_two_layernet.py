"""Public tests for Q7: the two-layer network of seed 001 (src/two_layernet.py).

The toy problem of the handout's ``ex2_FCnet.py``: ``np.random.seed(0)``,
``TwoLayerNet(4, 10, 3, std=1e-1)``, ``np.random.seed(1)``, ``X = 10 * np.random.randn(5, 4)``,
``y = [0, 1, 2, 2, 1]``.  The initialisation is given code, so the goldens below (computed
with the reference solution, full precision) hold for every correct implementation.

Run with ``pytest -s`` to see the relative errors.
"""
import numpy as np
import pytest

from autograder.testkit import (assert_close, assert_scalar_close, assert_shape,
                                assert_unchanged, numerical_gradient, rel_error,
                                scores_guard_gradient, scores_guard_tol, to_array, to_scalar)

pytestmark = pytest.mark.question("Q7")

# The handout's expected scores, at full precision.
TOY_SCORES = np.array([
    [-0.8123374131092695, -1.2765462405665546, -0.7033599477779823],
    [-0.17129677014393294, -1.1880331063857748, -0.473104441510171],
    [-0.5159047523520925, -1.0135431409752373, -0.8504214959143411],
    [-0.1541929118833914, -0.4862963841756697, -0.529019523892004],
    [-0.006187325198913611, -0.12435260970276742, -0.15226949317417682],
])
TOY_LOSS_REG_005 = 1.3037878913298206   # the handout's 1.30378789133 (reg = 0.05)
TOY_LOSS_REG_0 = 1.2658570521180537
# Parameters set explicitly (non-zero biases) and reg = 0.05: biases must not be regularised.
LINSPACE_LOSS = 1.399289243212718

PARAM_SHAPES = {"W1": (4, 10), "b1": (10,), "W2": (10, 3), "b2": (3,)}


def toy_problem(student):
    """The handout's toy net and data: (net, X, y, rs) with rs the RNG after drawing X."""
    student.seed(0)
    net = student.two_layernet.TwoLayerNet(4, 10, 3, std=1e-1)
    rs = np.random.RandomState(1)
    X = 10 * rs.randn(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    return net, X, y, rs


def linspace_params():
    """Fixed parameters with non-zero biases (no pre-activation within 0.01 of zero)."""
    return {
        "W1": np.linspace(-0.5, 0.5, num=40).reshape(10, 4).T.copy(),
        "b1": np.linspace(-0.4, 0.5, num=10),
        "W2": 0.5 * np.sin(np.arange(30.0)).reshape(10, 3),
        "b2": np.linspace(-0.2, 0.3, num=3),
    }


def _scores(params, X):
    """The net's class scores, recomputed here from the parameters (for the tolerances)."""
    p = {k: to_array(v, k) for k, v in params.items()}
    return np.maximum(0.0, X @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]


def _loss_tol(params, X, y, base):
    """The loss tolerance for this net: an epsilon of at most 1e-10 inside the log is accepted
    (ASSIGNMENT.md "Numerical guards")."""
    return scores_guard_tol(_scores(params, X), y, base)


def test_toy_scores_match_handout(student):
    net, X, _, _ = toy_problem(student)
    X_before = X.copy()
    scores = net.loss(X)
    err = assert_close("scores", scores, TOY_SCORES, 1e-10)
    print("scores relative error:", err)
    assert_unchanged("X", X_before, X)


def test_toy_loss_matches_handout(student):
    net, X, y, _ = toy_problem(student)
    loss, _ = net.loss(X, y, reg=0.05)
    err = assert_scalar_close("loss (reg=0.05)", loss, TOY_LOSS_REG_005,
                              scores_guard_tol(TOY_SCORES, y, 1e-10))
    print("loss:", to_scalar(loss, "loss"), "relative error:", err)


def test_toy_loss_without_regularisation(student):
    net, X, y, _ = toy_problem(student)
    loss, _ = net.loss(X, y, reg=0.0)
    assert_scalar_close("loss (reg=0)", loss, TOY_LOSS_REG_0, scores_guard_tol(TOY_SCORES, y, 1e-10))


def test_loss_regularises_weights_only(student):
    """reg * (sum W1**2 + sum W2**2), no 0.5, biases not regularised."""
    net, X, y, _ = toy_problem(student)
    net.params = linspace_params()
    loss, _ = net.loss(X, y, reg=0.05)
    assert_scalar_close("loss (params set, non-zero biases, reg=0.05)", loss, LINSPACE_LOSS,
                        _loss_tol(linspace_params(), X, y, 1e-10))


def test_gradients_have_parameter_shapes(student):
    net, X, y, _ = toy_problem(student)
    _, grads = net.loss(X, y, reg=0.05)
    assert set(grads) == set(PARAM_SHAPES), "grads must have exactly the keys of params"
    for name, shape in PARAM_SHAPES.items():
        assert_shape("grads['%s']" % name, grads[name], shape, "the shape of params['%s']" % name)


@pytest.mark.parametrize("use_linspace, tol", [(False, 1e-8), (True, 1e-7)],
                         ids=["toy_init", "nonzero_biases"])
def test_gradients_match_numerical_gradient(student, use_linspace, tol):
    """The handout's check: max relative error below 1e-8 for every parameter (reg = 0.05)
    on the toy net; 1e-7 with the fixed parameters (a few gradient entries are small there,
    so the finite differences themselves are less accurate).

    An epsilon of at most 1e-10 inside the log is correct code, but it is part of the loss the
    centred differences see and not of the usual analytic gradient: each entry is allowed what
    that epsilon can change (``scores_guard_gradient``, about 4e-10 here) before the relative
    error is taken."""
    net, X, y, _ = toy_problem(student)
    if use_linspace:
        net.params = linspace_params()
    params = {k: to_array(v, k) for k, v in net.params.items()}
    reg = 0.05
    _, grads = net.loss(X, y, reg=reg)
    slack = scores_guard_gradient(lambda p: _scores(p, X), params, y)
    for name in ("W1", "b1", "W2", "b2"):
        def f(value, name=name):
            trial = dict(params)
            trial[name] = value
            net.params = trial
            return to_scalar(net.loss(X, y, reg=reg)[0], "loss")

        numeric = numerical_gradient(f, params[name].copy())
        analytic = assert_shape("grads['%s']" % name, grads[name], PARAM_SHAPES[name])
        err = rel_error(numeric, analytic)
        print("%s max relative error: %e" % (name, err))
        assert_close("grads['%s']" % name, analytic, numeric, tol, slack=slack[name])
    net.params = params


def test_toy_training_reaches_low_loss(student):
    """The handout's Q3a: learning_rate=1e-1, reg=5e-6, 100 iterations -> final loss < 0.02."""
    net, X, y, rs = toy_problem(student)
    student.seed(rs.get_state())   # the handout's training continues the global RNG stream
    stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100, verbose=False)
    assert set(stats) >= {"loss_history", "train_acc_history", "val_acc_history"}, \
        "train() must return a dict with loss_history, train_acc_history, val_acc_history"
    history = to_array(stats["loss_history"], "loss_history")
    assert history.shape == (100,), "loss_history must hold one loss per iteration (100)"
    print("final training loss:", history[-1])
    assert np.all(np.isfinite(history)), "loss_history contains NaN or infinity"
    assert history[-1] < 0.02, "final training loss %.4f is not below 0.02" % history[-1]
    # N = 5 < batch_size: every iteration is an epoch boundary.
    val_acc = to_array(stats["val_acc_history"], "val_acc_history")
    assert val_acc.shape == (100,), "val_acc_history must have one entry per epoch (here 100)"
    assert np.all((val_acc >= 0) & (val_acc <= 1)), "accuracies must be fractions in [0, 1]"


def test_predict_returns_argmax_labels(student):
    net, X, _, _ = toy_problem(student)
    X_before = X.copy()
    pred = assert_shape("predict(X)", net.predict(X), (5,))
    assert np.array_equal(pred, np.argmax(TOY_SCORES, axis=1)), \
        "predict(X) must be the index of each row's highest score"
    assert_unchanged("X", X_before, X)
