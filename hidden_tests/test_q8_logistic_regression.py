"""Q8 hidden tests: softmax probabilities and logistic regression by GD and SGD (seed 002;
numerics.md §4.4 S1/S2/S5 for the softmax, own rows for logistic regression).

Expected values come from the reference (``ref``) on the trusted side.  Contract points the
tests leave open (ASSIGNMENT.md §Q8 "Conventions and accepted alternatives"): gradient descent's final ``w`` with or without the last
update; SGD's history recorded at the start (reference) or the end of each epoch, and any
source of random permutations.  The SGD tests therefore recover, from the weights after
1, 2, ... epochs (same seed), WHICH order each epoch used, and check that it was a
permutation of the examples, a fresh one per epoch.
"""
import itertools

import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import weight

# softmax tolerances accept an epsilon of at most 1e-10 in the denominator, NLL tolerances one
# inside the log (ASSIGNMENT.md "Numerical guards"; testkit.guard_tol, logistic_guard_tol)
from autograder.testkit import (CheckFailed, assert_close, assert_loss_within_guard,
                                assert_scalar_close, assert_shape, assert_unchanged, clip_bug_error,
                                guard_tol, logistic_guard_tol, logistic_log_p_true, to_array,
                                to_scalar)

pytestmark = pytest.mark.question("Q8")


def _problem(rng, N=None, D=3, scale=1.0):
    """A random logistic-regression problem: X (N, D) with a bias column, t in {0, 1}, w0."""
    N = N or int(rng.integers(8, 16))
    X = np.hstack([scale * rng.normal(size=(N, D - 1)), np.ones((N, 1))])
    w_true = rng.normal(size=D)
    t = (X @ w_true + 0.7 * rng.normal(size=N) > 0).astype(np.int64)
    if t.min() == t.max():
        t[0] = 1 - t[0]
    w0 = 0.3 * rng.normal(size=D)
    return X, t, w0


def _nll_tol(ws, X, t, base=1e-10):
    """Relative tolerance of the NLLs of weights ``ws``: at least ``base``, and at least what an
    epsilon of 1e-10 inside the log can change (ASSIGNMENT.md "Numerical guards")."""
    return max([base] + [logistic_guard_tol(X @ np.asarray(w, dtype=np.float64), t, base)
                         for w in ws])


def _gd_weights(ref, X, t, w0, eta, steps):
    """The reference's w_0 .. w_{steps-1} (the weights whose NLLs gradient descent records)."""
    ws = [np.asarray(w0, dtype=np.float64)]
    for _ in range(steps - 1):
        ws.append(ref.logistic_regression.gradient_descent(X, t, ws[-1].copy(), eta, max_iter=1,
                                                           tol=0.0)[0])
    return ws


def _gd_result(result, name="gradient_descent"):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise CheckFailed("%s must return a tuple (w, nll_history)" % name)
    w, history = result
    return w, to_array(history, "nll_history").reshape(-1)


# ------------------------------------------------------------------------------ sigmoid
@weight(2)
@pytest.mark.parametrize("ndim", [1, 3])
def test_sigmoid_matches_reference_on_random_arrays(student, ref, case_rng, ndim):
    """sigmoid is elementwise, keeps the input's shape, and is accurate for large |a|."""
    shape = tuple(int(s) for s in case_rng.integers(2, 5, size=ndim)) if ndim > 1 else (
        int(case_rng.integers(5, 9)),)
    a = 6.0 * case_rng.normal(size=shape)
    flat = a.reshape(-1)
    flat[:4] = [-745.0, 40.0, -40.0, 710.0]
    a0 = a.copy()
    out = student.logistic_regression.sigmoid(a)
    assert_close("sigmoid(a)", out, ref.logistic_regression.sigmoid(a0), 1e-12,
                 "the shape of a")
    assert_unchanged("a", a0, a)


@weight(0.5)
def test_sigmoid_of_a_number(student, ref, case_rng):
    """sigmoid accepts a plain number."""
    x = float(case_rng.normal())
    out = to_scalar(student.logistic_regression.sigmoid(x), "sigmoid(number)")
    assert_scalar_close("sigmoid(number)", out, float(ref.logistic_regression.sigmoid(x)), 1e-12)


# ------------------------------------------------------------------------------ softmax
@weight(2)
def test_softmax_matches_reference_with_rows_far_apart(student, ref, case_rng):
    """softmax_probabilities: row-wise, stable when rows are hundreds apart from each other."""
    N, K = int(case_rng.integers(5, 8)), int(case_rng.integers(2, 5))
    a = 2.0 * case_rng.normal(size=(N, K)) + case_rng.uniform(-1000.0, 1000.0, size=(N, 1))
    a[0] += 1500.0                                # one row far above all the others
    a0 = a.copy()
    p = student.logistic_regression.softmax_probabilities(a)
    assert_close("softmax_probabilities(a)", p, ref.logistic_regression.softmax_probabilities(a0),
                 guard_tol(1e-12), "(N, K): one row of class probabilities per example")
    assert_unchanged("a", a0, a)


@weight(1.5)
def test_softmax_normalises_each_row_of_a_square_input(student, ref, case_rng):
    """softmax_probabilities normalises over classes (each row), also when N == K."""
    K = int(case_rng.integers(3, 6))
    a = 3.0 * case_rng.normal(size=(K, K))
    p = assert_shape("softmax_probabilities(a)",
                     student.logistic_regression.softmax_probabilities(a.copy()), (K, K))
    assert_close("row sums of softmax_probabilities(a)", p.sum(axis=1), np.ones(K), guard_tol(1e-12))
    assert_close("softmax_probabilities(a)", p,
                 ref.logistic_regression.softmax_probabilities(a), guard_tol(1e-12))


# ------------------------------------------------------------------------------ NLL
@weight(2)
def test_negative_log_likelihood_matches_reference(student, ref, case_rng):
    """negative_log_likelihood is the MEAN NLL over examples (random problems)."""
    X, t, w = _problem(case_rng, D=int(case_rng.integers(2, 5)))
    X0, t0, w0 = X.copy(), t.copy(), w.copy()
    nll = student.logistic_regression.negative_log_likelihood(w, X, t)
    assert_scalar_close("negative_log_likelihood", nll,
                        ref.logistic_regression.negative_log_likelihood(w0, X0, t0),
                        logistic_guard_tol(X0 @ w0, t0, 1e-12))
    for name, before, after in (("w", w0, w), ("X", X0, X), ("t", t0, t)):
        assert_unchanged(name, before, after)


@weight(2)
@pytest.mark.parametrize("magnitude", [40.0, 800.0])
def test_negative_log_likelihood_finite_when_sigmoid_saturates(student, ref, case_rng,
                                                               magnitude):
    """negative_log_likelihood stays finite when sigmoid(a) rounds to 0 or 1, and lies between
    what the largest accepted guard gives (an epsilon of 1e-10 inside the log, or clipping at
    1e-10: each such term about 23.0) and the exact value (each about |a|); clipping at 1e-7
    (16.1) is below that range."""
    N = 6
    sign = np.array([1.0, -1.0, 1.0, -1.0, 1.0, -1.0])
    X = np.column_stack([sign * magnitude * case_rng.uniform(1.0, 1.5, size=N),
                         0.5 * case_rng.normal(size=N)])
    w = np.array([1.0, 0.3])
    t = np.array([1, 0, 0, 1, 1, 1])              # right, right, wrong, wrong, right, wrong
    nll = student.logistic_regression.negative_log_likelihood(w.copy(), X.copy(), t.copy())
    assert_loss_within_guard("negative_log_likelihood (|a| about %g)" % magnitude, nll,
                             logistic_log_p_true(X @ w, t))


@weight(1)
def test_negative_log_likelihood_exact_at_tiny_probabilities(student, ref, case_rng):
    """At p(t | a) of 1e-8..3e-8 for two examples the NLL is exact: an epsilon of at most 1e-10
    inside the log moves such a term by at most log(1.01), within the tolerance derived here;
    clipping the probabilities at 1e-7 caps it (by at least log 3.3), which fails.  The test
    asserts that its inputs keep the two apart."""
    X, t, w = _problem(case_rng, D=2)
    w[0] = 1.0
    a = X @ w
    for n in case_rng.choice(len(t), size=2, replace=False):
        p = case_rng.uniform(1e-8, 3e-8)
        target = np.log((1.0 - p) / p) * (1.0 if t[n] == 0 else -1.0)   # p(t_n | a_n) == p
        X[n, 0] += (target - a[n]) / w[0]
    log_p = logistic_log_p_true(X @ w, t)
    tol = logistic_guard_tol(X @ w, t, 1e-12)
    assert clip_bug_error(np.exp(log_p)) > 10 * tol, "test inputs do not separate guards from clipping"
    nll = student.logistic_regression.negative_log_likelihood(w.copy(), X.copy(), t.copy())
    assert_scalar_close("negative_log_likelihood (two examples at p about 2e-8)", nll,
                        ref.logistic_regression.negative_log_likelihood(w, X, t), tol)


# ------------------------------------------------------------------------------ gradient descent
@weight(3)
def test_gradient_descent_matches_reference_steps(student, ref, case_rng):
    """gradient_descent: full-batch steps on the mean NLL, the NLL recorded before each step."""
    X, t, w0 = _problem(case_rng)
    eta = float(case_rng.uniform(0.2, 1.5))
    steps = int(case_rng.integers(3, 9))
    w0_before = w0.copy()
    w, history = _gd_result(student.logistic_regression.gradient_descent(
        X.copy(), t.copy(), w0, eta, max_iter=steps, tol=0.0))
    e_w, e_hist = ref.logistic_regression.gradient_descent(X, t, w0_before, eta,
                                                           max_iter=steps, tol=0.0)
    if history.shape != (steps,):
        raise CheckFailed("nll_history has %d entries after max_iter=%d steps with tol=0; "
                          "expected one per step" % (history.size, steps))
    assert_close("nll_history", history, e_hist,
                 _nll_tol(_gd_weights(ref, X, t, w0_before, eta, steps), X, t))
    assert_close("w (after max_iter steps)", w, e_w, 1e-10)
    assert_unchanged("w0", w0_before, w0)


def _stop_tol(diffs, k):
    """A tolerance that stops the rule 'first k >= 1 with |e_k - e_{k-1}| < tol' exactly at k
    (``diffs[j] = |e_{j+1} - e_j|``), far from every change; None if the changes do not allow."""
    above = np.min(diffs[:k - 1]) if k > 1 else np.inf
    below = diffs[k - 1]
    if not above > 1.05 * below:
        return None
    return float(np.sqrt(above * below)) if np.isfinite(above) else 3.0 * below


@weight(2)
@pytest.mark.parametrize("stop_at", ["first", "later"])
def test_gradient_descent_stops_at_first_small_change(student, ref, case_rng, stop_at):
    """gradient_descent stops after the first step whose NLL changed by less than tol."""
    for _ in range(200):
        X, t, w0 = _problem(case_rng)
        eta = float(case_rng.uniform(0.1, 1.0))
        _, full = ref.logistic_regression.gradient_descent(X, t, w0, eta, max_iter=60, tol=0.0)
        diffs = np.abs(np.diff(full))
        k = 1 if stop_at == "first" else int(case_rng.integers(3, 12))
        tol = _stop_tol(diffs, k)
        if tol is not None:
            break
    else:  # pragma: no cover
        raise RuntimeError("no stopping case")
    w, history = _gd_result(student.logistic_regression.gradient_descent(
        X.copy(), t.copy(), w0.copy(), eta, max_iter=60, tol=tol))
    if history.shape != (k + 1,):
        raise CheckFailed("nll_history has %d entries; the NLL change first drops below tol "
                          "after step %d, so %d entries are expected (every recorded NLL, the "
                          "last one included)" % (history.size, k, k + 1))
    assert_close("nll_history", history, full[:k + 1],
                 _nll_tol(_gd_weights(ref, X, t, w0, eta, k + 1), X, t))
    with_update, _ = ref.logistic_regression.gradient_descent(X, t, w0, eta, max_iter=k + 1,
                                                              tol=0.0)
    without, _ = ref.logistic_regression.gradient_descent(X, t, w0, eta, max_iter=k, tol=0.0)
    arr = assert_shape("w (final)", w, w0.shape)
    if min(np.max(np.abs(arr - c) / np.maximum(1e-8, np.abs(arr) + np.abs(c)))
           for c in (with_update, without)) > 1e-10:
        raise CheckFailed("w (final) is not the weights of the last recorded step (with or "
                          "without its update)")


# ------------------------------------------------------------------------------ SGD
def _sgd_epoch(w, X, t, eta, order):
    w = w.copy()
    for n in order:
        w = w - eta * (1.0 / (1.0 + np.exp(-(X[n] @ w))) - t[n]) * X[n]
    return w


def _which_order(w_prev, w_next, X, t, eta):
    """The permutation of the examples that one SGD epoch turned w_prev into w_next, or None."""
    best, best_err = None, np.inf
    for order in itertools.permutations(range(X.shape[0])):
        c = _sgd_epoch(w_prev, X, t, eta, order)
        err = np.max(np.abs(w_next - c) / np.maximum(1e-8, np.abs(w_next) + np.abs(c)))
        if err < best_err:
            best, best_err = order, err
    return best if best_err <= 1e-9 else None


@weight(4)
def test_sgd_uses_a_fresh_permutation_every_epoch(student, ref, case_rng):
    """SGD: one update per example in a fresh random permutation each epoch, one NLL per epoch."""
    X, t, w0 = _problem(case_rng, N=3)
    eta = float(case_rng.uniform(0.3, 1.0))
    seed = int(case_rng.integers(1, 10000))
    epochs = 8
    w0_before = w0.copy()
    ws = [w0_before]
    history = None
    for k in range(1, epochs + 1):
        w, history = _gd_result(student.logistic_regression.stochastic_gradient_descent(
            X.copy(), t.copy(), w0, eta, max_iter=k, tol=0.0, seed=seed),
            "stochastic_gradient_descent")
        ws.append(assert_shape("w after %d epoch(s)" % k, w, w0.shape))
        assert_unchanged("w0", w0_before, w0)
    if history.shape != (epochs,):
        raise CheckFailed("nll_history has %d entries after max_iter=%d epochs with tol=0; "
                          "expected one NLL per epoch" % (history.size, epochs))
    orders = []
    for k in range(1, epochs + 1):
        order = _which_order(ws[k - 1], ws[k], X, t, eta)
        if order is None:
            raise CheckFailed("epoch %d (seed fixed, max_iter=%d vs %d) is not one update "
                              "w <- w - eta * (sigmoid(x_n @ w) - t_n) * x_n per example in "
                              "the order of a permutation of the examples" % (k, k - 1, k))
        orders.append(order)
    if len(set(orders)) == 1:
        raise CheckFailed("every epoch visits the examples in the same order: draw a fresh "
                          "random permutation for every epoch")
    nll = ref.logistic_regression.negative_log_likelihood
    start = np.array([nll(w, X, t) for w in ws[:-1]])
    end = np.array([nll(w, X, t) for w in ws[1:]])
    rtol = _nll_tol(ws, X, t)
    if not (np.allclose(history, start, rtol=rtol, atol=0)
            or np.allclose(history, end, rtol=rtol, atol=0)):
        raise CheckFailed("nll_history must hold the NLL on all the data of the weights at the "
                          "start of each epoch (or at its end)")


@weight(2)
def test_sgd_stops_at_first_small_change(student, ref, case_rng):
    """SGD stops after the first epoch whose NLL changed by less than tol, not earlier."""
    X, t, w0 = _problem(case_rng, N=int(case_rng.integers(10, 20)))
    eta = 0.05
    _, full = ref.logistic_regression.stochastic_gradient_descent(X, t, w0, eta, max_iter=40,
                                                                  tol=0.0, seed=5)
    diffs = np.abs(np.diff(full))
    # A tol at which the reference stops a few epochs in (not after the first one).
    tol = next((tol for tol in (_stop_tol(diffs, k) for k in range(3, 12)) if tol is not None),
               float(np.sqrt(diffs[0] * np.median(diffs))))
    w, history = _gd_result(student.logistic_regression.stochastic_gradient_descent(
        X.copy(), t.copy(), w0.copy(), eta, max_iter=40, tol=tol, seed=5),
        "stochastic_gradient_descent")
    L = history.size
    changes = np.abs(np.diff(history))
    if L < 2 or np.any(changes[:-1] < tol):
        raise CheckFailed("SGD went on after an epoch whose NLL changed by less than tol "
                          "(or stopped before recording two epochs)")
    if L < 40 and not changes[-1] < tol:
        raise CheckFailed("SGD stopped although the last NLL change was not below tol")
    assert_shape("w (final)", w, w0.shape)
