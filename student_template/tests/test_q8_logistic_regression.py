"""Public tests for Q8: softmax probabilities and logistic regression (src/logistic_regression.py).

Conventions (see the module's docstring): ``X`` carries its bias column, targets are 0/1, the
negative log-likelihood (NLL) is the MEAN over examples.  Goldens were computed with the
reference solution (full precision).
"""
import itertools

import numpy as np
import pytest

# softmax tolerances accept an epsilon of at most 1e-10 in the denominator, NLL tolerances one
# inside the log (ASSIGNMENT.md "Numerical guards"; testkit.guard_tol, assert_loss_within_guard)
from autograder.testkit import (assert_close, assert_loss_within_guard, assert_scalar_close,
                                assert_shape, assert_unchanged, guard_tol, logistic_log_p_true,
                                to_array, to_scalar)

pytestmark = pytest.mark.question("Q8")

# A small fixed problem: 8 examples, features (x1, x2, 1), targets 0/1.
X_SMALL = np.array([[0.5, 1.0, 1.0], [-1.5, 0.3, 1.0], [1.2, -0.7, 1.0], [-0.4, -1.1, 1.0],
                    [2.0, 0.8, 1.0], [-0.9, 1.6, 1.0], [0.1, -0.2, 1.0], [1.4, 1.9, 1.0]])
T_SMALL = np.array([1, 0, 1, 0, 1, 0, 0, 1])
W0_SMALL = np.array([0.2, -0.3, 0.1])
ETA = 0.5

NLL_W0 = 0.6556447366394438
# Relative tolerance of NLL values on this problem: an epsilon of at most 1e-10 inside the log
# moves them by at most 2.1e-9 (testkit.logistic_guard_tol over the first 60 gradient-descent
# steps from W0_SMALL); any real bug moves them by more than 1e-3.
NLL_TOL = 1e-8

# NLL of gradient descent's w_k, k = 0..13 (eta = 0.5 from W0_SMALL).
GD_NLL = np.array([
    0.6556447366394438,
    0.5491074279424019,
    0.47748988878066645,
    0.4264680835060001,
    0.38810102495922616,
    0.3579912698760046,
    0.3335783126629875,
    0.31328111987519935,
    0.29606971095922513,
    0.2812418301061579,
    0.26830017328068423,
    0.2568813074676551,
    0.24671254839793633,
    0.23758470441597568,
])
W_4 = np.array([0.8766041626970663, 0.0078042288887836125, 0.02827214900749889])
W_5 = np.array([0.9903197307357772, 0.05299885978405004, -0.0019761822656033483])
W_13 = np.array([1.6077525393270187, 0.2771653159258145, -0.23427999970541807])
W_14 = np.array([1.6643595459369824, 0.29671114534195137, -0.2595626288660164])

SIGMOID_IN = np.array([-1000.0, -5.0, 0.0, 0.5, 5.0, 1000.0])
SIGMOID_OUT = np.array([0.0, 0.006692850924284856, 0.5, 0.6224593312018546,
                        0.9933071490757153, 1.0])


def _is_one_of(name, actual, candidates, tol):
    """Assert ``actual`` matches one of ``candidates`` (shape (D,)) to ``tol``."""
    arr = assert_shape(name, actual, candidates[0].shape)
    errors = [float(np.max(np.abs(arr - c) / np.maximum(1e-8, np.abs(arr) + np.abs(c))))
              for c in candidates]
    assert min(errors) <= tol, "%s: matches no accepted value (smallest max relative error " \
                               "%.3g, tolerance %.0e)" % (name, min(errors), tol)


# ------------------------------------------------------------------------------ sigmoid
def test_sigmoid_values(student):
    out = student.logistic_regression.sigmoid(SIGMOID_IN.copy())
    err = assert_close("sigmoid(a)", out, SIGMOID_OUT, 1e-12)
    print("sigmoid relative error:", err)


def test_sigmoid_is_exact_and_finite_at_plus_minus_1000(student):
    a = np.array([[-1000.0, 1000.0], [1000.0, -1000.0]])
    a_before = a.copy()
    out = assert_shape("sigmoid(a)", student.logistic_regression.sigmoid(a), (2, 2))
    assert np.all(np.isfinite(out)), "sigmoid(+-1000) must be finite (no NaN)"
    assert np.array_equal(out, np.array([[0.0, 1.0], [1.0, 0.0]])), \
        "sigmoid(-1000) must be exactly 0 and sigmoid(1000) exactly 1"
    assert_unchanged("a", a_before, a)


# ------------------------------------------------------------------------------ softmax
def test_softmax_probabilities_values(student):
    a = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 0.0]])
    expected = np.array([[0.09003057317038046, 0.24472847105479764, 0.6652409557748218],
                         [0.12195165230972885, 0.5465493872661796, 0.3314989604240915]])
    p = student.logistic_regression.softmax_probabilities(a)
    err = assert_close("softmax_probabilities(a)", p, expected, guard_tol(1e-12))
    print("softmax relative error:", err)


def test_softmax_rows_sum_to_one(student, case_rng):
    a = case_rng.normal(scale=3.0, size=(6, 4))
    a_before = a.copy()
    p = student.logistic_regression.softmax_probabilities(a)
    p = assert_shape("softmax_probabilities(a)", p, (6, 4))
    assert np.all(p >= 0), "probabilities must be non-negative"
    assert_close("row sums of softmax_probabilities(a)", p.sum(axis=1), np.ones(6), guard_tol(1e-12))
    assert_unchanged("a", a_before, a)


def test_softmax_is_stable_at_huge_activations(student):
    """Activations of +-1000, rows far apart from each other: shift each ROW by its max."""
    a = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 1000.0],
                  [1000.0, 999.0, 1000.0], [-1000.0, -999.0, -1000.0]])
    expected = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5],
                         [0.4223187982515182, 0.15536240349696362, 0.4223187982515182],
                         [0.21194155761708544, 0.5761168847658291, 0.21194155761708544]])
    p = student.logistic_regression.softmax_probabilities(a)
    assert_close("softmax_probabilities(huge a)", p, expected, guard_tol(1e-12))


# ------------------------------------------------------------------------------ NLL
def test_negative_log_likelihood_golden(student):
    X, t, w = X_SMALL.copy(), T_SMALL.copy(), W0_SMALL.copy()
    nll = student.logistic_regression.negative_log_likelihood(w, X, t)
    err = assert_scalar_close("negative_log_likelihood", nll, NLL_W0, NLL_TOL)
    print("NLL relative error:", err)
    assert_unchanged("w", W0_SMALL, w)
    assert_unchanged("X", X_SMALL, X)
    assert_unchanged("t", T_SMALL, t)


def test_negative_log_likelihood_is_a_mean(student):
    """Repeating every example leaves the mean NLL unchanged."""
    X = np.vstack([X_SMALL, X_SMALL])
    t = np.concatenate([T_SMALL, T_SMALL])
    nll = student.logistic_regression.negative_log_likelihood(W0_SMALL.copy(), X, t)
    assert_scalar_close("negative_log_likelihood (examples repeated)", nll, NLL_W0, NLL_TOL)


def test_negative_log_likelihood_is_stable_when_sigmoid_saturates(student):
    """sigmoid(+-800) rounds to exactly 1 or 0: the NLL must stay finite (log-sigmoid forms, or a
    guard of at most 1e-10 inside the log; the exact value of two examples wrong by 800 is 800,
    with the largest accepted guard 23.03; clipping at 1e-7 gives 16.1 and fails)."""
    X = np.array([[800.0], [-800.0]])
    w = np.array([1.0])
    for t, what in ((np.array([0, 1]), "both examples wrong by 800"),
                    (np.array([1, 0]), "both examples right by 800")):
        nll = student.logistic_regression.negative_log_likelihood(w.copy(), X.copy(), t)
        assert_loss_within_guard("negative_log_likelihood (%s)" % what, nll,
                                 logistic_log_p_true(X @ w, t))


# ------------------------------------------------------------------------------ gradient descent
def test_gradient_descent_records_nll_before_each_update(student):
    """tol = 0 never stops early: 5 steps record the NLL of w_0 .. w_4."""
    w0 = W0_SMALL.copy()
    w, history = student.logistic_regression.gradient_descent(
        X_SMALL.copy(), T_SMALL.copy(), w0, ETA, max_iter=5, tol=0.0)
    history = to_array(history, "nll_history")
    assert history.shape == (5,), \
        "nll_history must hold one NLL per step: expected 5 entries, got %d" % history.size
    err = assert_close("nll_history", history, GD_NLL[:5], NLL_TOL)
    print("nll_history relative error:", err)
    _is_one_of("w (after 5 steps)", w, [W_5, W_4], 1e-10)
    assert_unchanged("w0", W0_SMALL, w0)


def test_gradient_descent_stops_when_change_below_tol(student):
    """With tol = 1e-2 the NLL change first drops below tol between steps 12 and 13."""
    w0 = W0_SMALL.copy()
    w, history = student.logistic_regression.gradient_descent(
        X_SMALL.copy(), T_SMALL.copy(), w0, ETA, max_iter=500, tol=1e-2)
    history = to_array(history, "nll_history")
    assert history.shape == (14,), \
        "expected 14 recorded steps (the NLL changes by less than tol = 1e-2 between the " \
        "13th and 14th), got %d" % history.size
    assert_close("nll_history", history, GD_NLL, NLL_TOL)
    _is_one_of("w (final)", w, [W_14, W_13], 1e-10)
    assert_unchanged("w0", W0_SMALL, w0)


def test_gradient_descent_decreases_nll_with_small_step(student):
    w, history = student.logistic_regression.gradient_descent(
        X_SMALL.copy(), T_SMALL.copy(), W0_SMALL.copy(), 0.1, max_iter=50, tol=0.0)
    history = to_array(history, "nll_history")
    assert history.shape == (50,), "expected 50 entries in nll_history with tol=0, max_iter=50"
    assert np.all(np.diff(history) < 0), "the NLL must decrease at every step for eta = 0.1"
    final = to_scalar(student.logistic_regression.negative_log_likelihood(
        to_array(w, "w"), X_SMALL, T_SMALL), "NLL of the final w")
    assert final < history[0], "the final w must have a lower NLL than w0"


# ------------------------------------------------------------------------------ SGD
def _sgd_epoch(w, X, t, eta, order):
    """One epoch of single-example updates in the given order (the docstring's rule)."""
    w = w.copy()
    for n in order:
        y = 1.0 / (1.0 + np.exp(-(X[n] @ w)))
        w = w - eta * (y - t[n]) * X[n]
    return w


@pytest.mark.parametrize("epochs", [1, 2])
def test_sgd_visits_each_example_once_per_epoch(student, epochs):
    """After `epochs` epochs, w must equal single-example updates over SOME permutation
    of the examples in each epoch (all orders are tried here, N = 3)."""
    X, t = X_SMALL[:3], T_SMALL[:3]
    w0 = W0_SMALL.copy()
    w, history = student.logistic_regression.stochastic_gradient_descent(
        X.copy(), t.copy(), w0, ETA, max_iter=epochs, tol=0.0, seed=1)
    history = to_array(history, "nll_history")
    assert history.shape == (epochs,), \
        "nll_history must hold one NLL per epoch: expected %d entries, got %d" \
        % (epochs, history.size)
    perms = list(itertools.permutations(range(3)))
    candidates = []
    for orders in itertools.product(perms, repeat=epochs):
        wc = W0_SMALL.copy()
        for order in orders:
            wc = _sgd_epoch(wc, X, t, ETA, order)
        candidates.append(wc)
    _is_one_of("w after %d epoch(s) of SGD" % epochs, w, candidates, 1e-10)
    assert_unchanged("w0", W0_SMALL, w0)
    if epochs == 1:
        # The history records the NLL at the start (the reference) or the end of the epoch.
        nll = student.logistic_regression.negative_log_likelihood
        start = to_scalar(nll(W0_SMALL.copy(), X, t), "NLL of w0")
        end = to_scalar(nll(to_array(w, "w"), X, t), "NLL of the final w")
        assert (abs(history[0] - start) <= 1e-10 * abs(start)
                or abs(history[0] - end) <= 1e-10 * abs(end)), \
            "nll_history[0] must be the NLL of w0 (or of w after the first epoch)"


def test_sgd_is_reproducible_with_a_seed(student):
    args = (X_SMALL.copy(), T_SMALL.copy(), W0_SMALL.copy(), 0.2)
    w1, h1 = student.logistic_regression.stochastic_gradient_descent(*args, max_iter=5, tol=0.0,
                                                                      seed=3)
    w2, h2 = student.logistic_regression.stochastic_gradient_descent(*args, max_iter=5, tol=0.0,
                                                                      seed=3)
    assert_close("w (second run, same seed)", w2, to_array(w1, "w"), 0.0)
    assert_close("nll_history (second run, same seed)", h2, to_array(h1, "nll_history"), 0.0)


def test_sgd_stops_when_change_below_tol(student):
    """With a huge tol the NLL change after the first epoch is already below it: 2 epochs."""
    w, history = student.logistic_regression.stochastic_gradient_descent(
        X_SMALL.copy(), T_SMALL.copy(), W0_SMALL.copy(), 0.1, max_iter=50, tol=10.0, seed=0)
    history = to_array(history, "nll_history")
    assert history.shape == (2,), \
        "with tol=10 SGD must stop after the second recorded epoch (2 entries), got %d" \
        % history.size


def test_sgd_decreases_nll(student):
    w0 = W0_SMALL.copy()
    w, history = student.logistic_regression.stochastic_gradient_descent(
        X_SMALL.copy(), T_SMALL.copy(), w0, 0.1, max_iter=30, tol=0.0, seed=0)
    history = to_array(history, "nll_history")
    assert history.shape == (30,), "expected 30 entries in nll_history with tol=0, max_iter=30"
    final = to_scalar(student.logistic_regression.negative_log_likelihood(
        to_array(w, "w"), X_SMALL, T_SMALL), "NLL of the final w")
    print("SGD NLL: start %.4f, end %.4f" % (NLL_W0, final))
    assert final < 0.8 * NLL_W0, "30 epochs of SGD (eta=0.1) must lower the NLL clearly"
    assert_unchanged("w0", W0_SMALL, w0)
