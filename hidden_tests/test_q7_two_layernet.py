"""Q7 hidden tests: the two-layer network of seed 001 (numerics.md §4.4 S1-S6, §4.5 N1-N6, A8).

The net's convention (the handout's eq. 13): mean softmax cross-entropy plus
``reg * (sum(W1**2) + sum(W2**2))`` (no 0.5, biases not regularised), gradient ``2*reg*W``.

Every value check sets ``params`` explicitly (non-zero biases, negative scores, reg > 0, N > 1)
and compares with the reference (``ref``) on the trusted side; gradients are also checked
against centred differences of the REFERENCE loss.  The training tests are independent of how
a minibatch is drawn: the trajectory test trains on identical examples (every minibatch gives
the same gradient), and the sampling test uses ``learning_rate=0`` and examples whose losses
encode which examples each minibatch held.
"""
import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import weight

from autograder.testkit import (CheckFailed, assert_close, assert_close_to_numerical,
                                assert_scalar_close, assert_shape, assert_unchanged, clip_bug_error,
                                GUARD, numerical_gradient, scores_guard_tol, to_array, to_scalar)

pytestmark = pytest.mark.question("Q7")

TOL_VALUE = 1e-10
TOL_GRAD = 1e-8
TOL_NUMERIC = 1e-6
KEYS = ("W1", "b1", "W2", "b2")


# ------------------------------------------------------------------------------ helpers
def _params(rng, D, H, C):
    return {
        "W1": 0.5 * rng.normal(size=(D, H)),
        "b1": 0.5 * rng.normal(size=H),
        "W2": rng.normal(size=(H, C)),
        "b2": 0.5 * rng.normal(size=C) - 0.5,       # non-zero, mostly negative (A8, N6)
    }


def _case(rng, N=None, D=None, H=None, C=None):
    """Random (params, X, y): no pre-activation within 1e-2 of the ReLU kink, some negative
    scores, every hidden unit active for some example and inactive for another (N > 1)."""
    N = N or int(rng.integers(4, 8))
    D = D or int(rng.integers(3, 6))
    H = H or int(rng.integers(4, 8))
    C = C or int(rng.integers(3, 5))
    for _ in range(1000):
        params = _params(rng, D, H, C)
        X = 1.5 * rng.normal(size=(N, D))
        z2 = X @ params["W1"] + params["b1"]
        scores = np.maximum(z2, 0) @ params["W2"] + params["b2"]
        mixed = N == 1 or ((z2 > 0).any(axis=0).all() and (z2 < 0).any(axis=0).all())
        if np.min(np.abs(z2)) > 1e-2 and (scores < 0).any() and mixed:
            y = rng.integers(0, C, size=N)
            return params, X, y
    raise RuntimeError("no valid random case")  # pragma: no cover


def _net(student, params):
    """A student TwoLayerNet whose params are set to ``params``."""
    D, H = params["W1"].shape
    C = params["W2"].shape[1]
    student.seed(0)
    net = student.two_layernet.TwoLayerNet(D, H, C, std=1e-1)
    net.params = {k: v.copy() for k, v in params.items()}
    return net


def _ref_net(ref, params):
    D, H = params["W1"].shape
    C = params["W2"].shape[1]
    net = ref.two_layernet.TwoLayerNet(D, H, C, std=1e-1)
    net.params = {k: v.copy() for k, v in params.items()}
    return net


def _loss_and_grads(result):
    if not isinstance(result, tuple) or len(result) != 2:
        raise CheckFailed("loss(X, y, reg) must return a tuple (loss, grads)")
    loss, grads = result
    if not isinstance(grads, dict) or set(grads) != set(KEYS):
        raise CheckFailed("grads must be a dict with exactly the keys of params "
                          "(W1, b1, W2, b2)")
    return loss, grads


# ------------------------------------------------------------------------------ forward
@weight(2)
def test_scores_match_reference_with_nonzero_biases(student, ref, case_rng):
    """loss(X) returns the (N, C) scores of linear - ReLU - linear with non-zero biases."""
    params, X, _ = _case(case_rng)
    X0 = X.copy()
    scores = _net(student, params).loss(X)
    expected = _ref_net(ref, params).loss(X0)
    assert_close("scores", scores, expected, TOL_VALUE,
                 "(N, C): one row of class scores per example, no softmax, no final ReLU")
    assert_unchanged("X", X0, X)


@weight(2)
@pytest.mark.parametrize("reg", [0.0, 0.37])
def test_loss_matches_reference(student, ref, case_rng, reg):
    """The loss is the mean cross-entropy plus reg * (sum W1**2 + sum W2**2) (weights only)."""
    params, X, y = _case(case_rng)
    loss, _ = _loss_and_grads(_net(student, params).loss(X, y, reg=reg))
    expected, _ = _ref_net(ref, params).loss(X, y, reg=reg)
    # an epsilon of at most 1e-10 inside the log is accepted (ASSIGNMENT.md "Numerical guards")
    tol = scores_guard_tol(_ref_net(ref, params).loss(X), y, TOL_VALUE)
    assert_scalar_close("loss (reg=%g)" % reg, loss, expected, tol)


@weight(1)
def test_regularisation_term_scales_with_reg(student, ref, case_rng):
    """The loss grows by exactly reg * (sum W1**2 + sum W2**2) when reg is raised from 0."""
    params, X, y = _case(case_rng)
    net = _net(student, params)
    reg = float(case_rng.uniform(0.2, 2.0))
    base = to_scalar(_loss_and_grads(net.loss(X, y, reg=0.0))[0], "loss (reg=0)")
    with_reg = to_scalar(_loss_and_grads(net.loss(X, y, reg=reg))[0], "loss (reg>0)")
    penalty = reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    assert_scalar_close("loss(reg) - loss(0)", with_reg - base, penalty, 1e-9)


# ------------------------------------------------------------------------------ gradients
@weight(1)
def test_loss_exact_at_a_tiny_true_class_probability(student, ref, case_rng):
    """The loss stays exact when one example's true class has probability 1e-8..3e-8.

    ASSIGNMENT.md "Numerical guards": an epsilon of at most 1e-10 inside the log moves that
    example's term by at most log(1.01), within the tolerance derived here; clipping the
    probabilities at 1e-7 caps it at 16.1 (from about 17.7), which fails.  The output layer is
    scaled until example 0's least likely class reaches that probability (the scores scale with
    W2 and b2); the other examples' labels are their most likely classes.  The test asserts that
    its inputs keep the two apart."""
    params, X, _ = _case(case_rng)
    base = _ref_net(ref, params).loss(X)
    target = case_rng.uniform(1e-8, 3e-8)

    def least_probability(alpha):
        s = alpha * base[0]
        return float(np.exp(np.min(s) - np.max(s)) / np.sum(np.exp(s - np.max(s))))

    lo, hi = 0.0, 1.0
    while least_probability(hi) > target:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if least_probability(mid) > target else (lo, mid)
    params = dict(params, W2=hi * params["W2"], b2=hi * params["b2"])
    scores = _ref_net(ref, params).loss(X)
    y = np.argmax(scores, axis=1)
    y[0] = int(np.argmin(scores[0]))
    tol = scores_guard_tol(scores, y, TOL_VALUE)
    shifted = scores - scores.max(axis=1, keepdims=True)
    p_true = np.exp(shifted[np.arange(len(y)), y]) / np.exp(shifted).sum(axis=1)
    assert clip_bug_error(p_true) > 10 * tol, "test inputs do not separate guards from clipping"
    loss, _ = _loss_and_grads(_net(student, params).loss(X.copy(), y, reg=0.0))
    assert_scalar_close("loss (one example at a true-class probability of about 2e-8)", loss,
                        _ref_net(ref, params).loss(X, y, reg=0.0)[0], tol)


@weight(3)
@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_gradients_match_reference_and_numerical_gradient(student, ref, case_rng, reg):
    """Every gradient has its parameter's shape and matches the regularised loss's gradient."""
    params, X, y = _case(case_rng)
    X0 = X.copy()
    _, grads = _loss_and_grads(_net(student, params).loss(X, y, reg=reg))
    ref_net = _ref_net(ref, params)
    _, expected = ref_net.loss(X0, y, reg=reg)
    for name in KEYS:
        value = assert_shape("grads['%s']" % name, grads[name], params[name].shape,
                             "the shape of params['%s']" % name)

        def f(v, name=name):
            trial = dict(params)
            trial[name] = v
            ref_net.params = trial
            return ref_net.loss(X0, y, reg=reg)[0]

        numeric = numerical_gradient(f, params[name].copy())
        assert_close("grads['%s']" % name, value, expected[name], TOL_GRAD)
        assert_close_to_numerical("grads['%s'] (vs centred differences)" % name, value, numeric,
                                  TOL_NUMERIC)
    assert_unchanged("X", X0, X)


@weight(2)
def test_loss_and_gradients_are_stable_for_huge_scores(student, ref):
    """Scores of about +-1000, in rows far apart from each other: loss and gradients finite."""
    params = {"W1": np.eye(3), "b1": np.zeros(3), "W2": np.eye(3),
              "b2": np.array([0.5, -0.25, 0.0])}
    X = np.array([[1000.0, 999.0, 1001.0],
                  [1.0, 2.0, 0.5],
                  [-1000.0, -999.0, -998.0],
                  [500.0, 1.5, 499.0]])
    y = np.array([0, 1, 2, 2])
    reg = 0.1
    loss, grads = _loss_and_grads(_net(student, params).loss(X, y, reg=reg))
    e_loss, e_grads = _ref_net(ref, params).loss(X, y, reg=reg)
    # an epsilon of at most 1e-10 inside the log is accepted (ASSIGNMENT.md "Numerical guards")
    assert_scalar_close("loss (scores of about 1000)", loss, e_loss,
                        scores_guard_tol(_ref_net(ref, params).loss(X), y, TOL_VALUE))
    for name in KEYS:
        assert_close("grads['%s'] (scores of about 1000)" % name, grads[name], e_grads[name],
                     TOL_GRAD)


# ------------------------------------------------------------------------------ predict
@weight(1)
@pytest.mark.parametrize("square", [True, False], ids=["N_equals_C", "N_differs"])
def test_predict_is_argmax_of_each_row(student, ref, case_rng, square):
    """predict(X) is, for each example (row), the class with the highest score."""
    for _ in range(1000):
        N = 4 if square else int(case_rng.integers(5, 9))
        params, X, _ = _case(case_rng, N=N, C=4)
        scores = _ref_net(ref, params).loss(X)
        top2 = np.sort(scores, axis=1)[:, -2:]
        if (np.min(top2[:, 1] - top2[:, 0]) > 1e-6
                and not np.array_equal(np.argmax(scores, axis=0), np.argmax(scores, axis=1))):
            break
    X0 = X.copy()
    pred = _net(student, params).predict(X)
    assert_close("predict(X)", pred, np.argmax(scores, axis=1), 0.0,
                 "(N,): one predicted label per example")
    assert_unchanged("X", X0, X)


# ------------------------------------------------------------------------------ train
def _train_both(student, ref, params, X, y, X_val, y_val, **kw):
    net = _net(student, params)
    stats = net.train(X, y, X_val, y_val, **kw)
    ref_net = _ref_net(ref, params)
    np.random.seed(0)
    expected = ref_net.train(X, y, X_val, y_val, **kw)
    return net, stats, ref_net, expected


def _history(stats, key, length):
    if not isinstance(stats, dict) or key not in stats:
        raise CheckFailed("train() must return a dict with loss_history, train_acc_history "
                          "and val_acc_history")
    arr = to_array(stats[key], key)
    if arr.shape != (length,):
        raise CheckFailed("%s has %d entries; expected %d (loss: one per iteration; "
                          "accuracies: one per epoch boundary, iteration 0 included)"
                          % (key, arr.size, length))
    return arr


@weight(3)
@pytest.mark.parametrize("batch_size, num_iters", [(4, 7), (3, 5)])
def test_train_follows_sgd_with_learning_rate_decay_per_epoch(student, ref, case_rng,
                                                              batch_size, num_iters):
    """train(): SGD steps on the regularised loss, learning rate decayed once per epoch."""
    params, X1, y1 = _case(case_rng, N=1, D=5, H=6, C=3)
    N = 12 if batch_size == 4 else 9       # identical examples: every minibatch is the same
    X = np.repeat(X1, N, axis=0)
    y = np.repeat(y1, N)
    X_val = 1.5 * case_rng.normal(size=(6, 5))
    y_val = case_rng.integers(0, 3, size=6)
    kw = dict(learning_rate=0.3, learning_rate_decay=0.5, reg=0.02, num_iters=num_iters,
              batch_size=batch_size, verbose=False)
    net, stats, ref_net, expected = _train_both(student, ref, params, X, y, X_val, y_val, **kw)
    epochs = len(expected["val_acc_history"])
    loss_history = _history(stats, "loss_history", num_iters)
    # An epsilon of at most 1e-10 inside the log moves a loss L by at most log1p(1e-10 * e**L)
    # (the true-class probability is at least e**-L); 1e-7 otherwise (the flake audit saw
    # 9e-8 at iteration 0 for a correct implementation; a mutant is off by far more).
    e_hist = np.asarray(expected["loss_history"], dtype=np.float64)
    tol = max(1e-7, float(np.max(2.0 * np.log1p(GUARD * np.exp(e_hist)) / e_hist)))
    assert_close("loss_history", loss_history, e_hist, tol,
                 "the minibatch loss (with reg) of each iteration, before its update")
    got = net.params
    for name in KEYS:
        assert_close("params['%s'] after training" % name, got[name], ref_net.params[name], 1e-9)
    assert_close("val_acc_history", _history(stats, "val_acc_history", epochs),
                 expected["val_acc_history"], 1e-12)
    assert_close("train_acc_history", _history(stats, "train_acc_history", epochs),
                 expected["train_acc_history"], 1e-12)


@weight(2)
def test_train_draws_random_minibatches_of_batch_size(student):
    """train() draws random minibatches of batch_size from all examples, labels kept."""
    B, N, c, eps = 3, 4, 0.1, 0.1
    # Example i's loss is c + eps * (B+1)**i, so a minibatch's mean loss reveals how many times
    # it holds each example (the base-(B+1) digits of (loss - c) * B / eps).
    targets = c + eps * (B + 1.0) ** np.arange(N)
    y = np.array([0, 1, 1, 0])
    X = np.zeros((N, 2))
    gap = np.log(np.expm1(targets))          # score(other) - score(label) giving each loss
    for i in range(N):
        if gap[i] > 0:
            X[i, 1 - y[i]] = gap[i]
        else:
            X[i, y[i]] = -gap[i]
    params = {"W1": np.eye(2), "b1": np.zeros(2), "W2": np.eye(2), "b2": np.zeros(2)}
    runs = []
    for seed in (11, 12):
        net = _net(student, params)
        student.seed(seed)
        stats = net.train(X, y, X, y, learning_rate=0.0, learning_rate_decay=1.0, reg=0.0,
                          num_iters=40, batch_size=B)
        losses = _history(stats, "loss_history", 40)
        m = (losses - c) * B / eps
        if not np.all(np.abs(m - np.round(m)) < 1e-5):
            raise CheckFailed("with learning_rate=0 the minibatch losses are not means of "
                              "batch_size examples of the training set, each with its own "
                              "label")
        m = np.round(m).astype(np.int64)
        counts = np.stack([(m // (B + 1) ** i) % (B + 1) for i in range(N)], axis=1)
        if not np.all(counts.sum(axis=1) == B) or np.any(m >= (B + 1) ** N):
            raise CheckFailed("with learning_rate=0 the minibatch losses are not means of "
                              "exactly batch_size examples")
        runs.append(counts)
    total = runs[0].sum(axis=0) + runs[1].sum(axis=0)
    if np.any(total == 0):
        raise CheckFailed("some training examples are never drawn into a minibatch: draw "
                          "from all N examples")
    if len({tuple(row) for row in runs[0]}) == 1:
        raise CheckFailed("every minibatch holds the same examples: draw them at random")
    if np.array_equal(runs[0], runs[1]):
        raise CheckFailed("the minibatches do not depend on NumPy's random state: draw them "
                          "at random (np.random)")


@weight(1)
def test_train_returns_histories_of_documented_lengths(student, case_rng):
    """train() returns one loss per iteration and one accuracy (a fraction) per epoch."""
    params, X, y = _case(case_rng, N=10, D=4, H=5, C=3)
    X_val, y_val = X[:6].copy(), y[:6].copy()
    net = _net(student, params)
    before = [a.copy() for a in (X, y, X_val, y_val)]
    stats = net.train(X, y, X_val, y_val, learning_rate=1e-2, reg=1e-3, num_iters=9,
                      batch_size=3)
    _history(stats, "loss_history", 9)
    for key in ("train_acc_history", "val_acc_history"):
        acc = _history(stats, key, 3)       # 10 // 3 = 3 iterations per epoch: 0, 3, 6
        if not np.all((acc >= 0) & (acc <= 1)):
            raise CheckFailed("%s must hold fractions in [0, 1]" % key)
    for name, b, a in zip(("X", "y", "X_val", "y_val"), before, (X, y, X_val, y_val)):
        assert_unchanged(name, b, a)
