"""Public tests for Q10: src/nn.py (Xavier, sigmoid, forward, softmax, loss, backwards, batches).

Run with ``pytest -s tests/test_q10_nn.py`` to see the relative errors.  ``params`` is passed
as a ``collections.Counter``, as the handout's scripts create it.
"""
from collections import Counter

import numpy as np
import pytest

from autograder import testkit
from autograder.testkit import CheckFailed, assert_close, assert_scalar_close, assert_shape

pytestmark = pytest.mark.question("Q10")


def _check(condition, message):
    """Fail with ``message`` (which never shows expected values) unless ``condition``."""
    if not condition:
        raise CheckFailed(message)


# --- trusted maths for the expected values ------------------------------------------------

def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# --- initialize_weights --------------------------------------------------------------------

def test_initialize_weights_xavier_uniform_variance_and_bound(student):
    student.seed(231)
    params = Counter()
    student.nn.initialize_weights(400, 600, params, "big")
    W = assert_shape("params['Wbig']", params["Wbig"], (400, 600), "W is (in_size, out_size)")
    b = assert_shape("params['bbig']", params["bbig"], (600,), "b is 1-D (out_size,)")
    assert_close("params['bbig']", b, np.zeros(600), 0.0, "biases start at zero")

    a = np.sqrt(6.0 / (400 + 600))
    _check(np.max(np.abs(W)) <= a * (1 + 1e-12),
           "initialize_weights: some |W| exceed sqrt(6/(in_size+out_size)); Xavier init draws "
           "from the UNIFORM distribution U(-a, a) (a normal distribution has no bound)")
    var = float(np.var(W))
    target = 2.0 / (400 + 600)
    print("W variance / (2/(in+out)):", var / target)
    _check(abs(var / target - 1.0) <= 0.03,
           f"initialize_weights: Var[W] is {var / target:.3f} times 2/(in_size+out_size); "
           f"expected 1 within 3% (U(-a, a) with a = sqrt(6/(in_size+out_size)))")
    _check(abs(float(np.mean(W))) <= 6 * np.sqrt(target / W.size),
           "initialize_weights: the mean of W is far from 0; draw from U(-a, a)")


def test_initialize_weights_shapes_and_names(student):
    student.seed(0)
    params = Counter()
    student.nn.initialize_weights(2, 25, params, "layer1")
    student.nn.initialize_weights(25, 4, params, "output")
    student.nn.initialize_weights(3, 5, params)  # default name ''
    for key, shape in [("Wlayer1", (2, 25)), ("blayer1", (25,)), ("Woutput", (25, 4)),
                       ("boutput", (4,)), ("W", (3, 5)), ("b", (5,))]:
        _check(key in params, f"initialize_weights did not store params[{key!r}]")
        assert_shape(f"params[{key!r}]", params[key], shape)
    assert_close("params['blayer1']", params["blayer1"], np.zeros(25), 0.0)
    W = testkit.to_array(params["Wlayer1"], "params['Wlayer1']")
    _check(np.std(W) > 0, "initialize_weights: W must be random, not constant")


# --- sigmoid -------------------------------------------------------------------------------

def test_sigmoid_is_zero_and_one_at_plus_minus_1000(student):
    res = student.nn.sigmoid(np.array([-1000.0, 1000.0]))
    err = assert_close("sigmoid([-1000, 1000])", res, np.array([0.0, 1.0]), 1e-12,
                       "no NaN: exp(x)/(1+exp(x)) overflows to inf/inf at x = 1000")
    print("sigmoid(+-1000) relative error:", err)


def test_sigmoid_values(student):
    x = np.array([-2.0, -0.5, 0.0, 0.5, 2.0])
    x_before = x.copy()
    expected = np.array([0.11920292202211755, 0.37754066879814546, 0.5,
                         0.6224593312018546, 0.8807970779778823])
    err = assert_close("sigmoid(x)", student.nn.sigmoid(x), expected, 1e-12)
    print("sigmoid relative error:", err)
    testkit.assert_unchanged("x", x_before, x)
    grid = np.linspace(-6.0, 6.0, 24).reshape(4, 6)
    assert_close("sigmoid(x) of a (4, 6) array", student.nn.sigmoid(grid), _sigmoid(grid), 1e-12)


# --- forward -------------------------------------------------------------------------------

def _forward_case():
    X = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    W = np.linspace(-0.5, 0.7, 12).reshape(4, 3)
    b = np.linspace(-0.3, 0.2, 3)
    return X, W, b


PRE_ACT = np.array([[0.023966942148760273, -0.043388429752065964, -0.11074380165289244],
                    [-0.0024793388429752428, 0.24752066115702476, 0.49752066115702476],
                    [-0.02892561983471076, 0.5384297520661157, 1.105785123966942]])
POST_ACT = np.array([[0.5059914487421082, 0.48915459393214306, 0.4723423104064486],
                     [0.49938016560677256, 0.5615661573180437, 0.6218765007105795],
                     [0.49276909920371764, 0.6314470625010186, 0.7513424934914678]])


def test_forward_values_and_cache(student):
    X, W, b = _forward_case()
    X_before = X.copy()
    params = Counter({"Wlayer1": W, "blayer1": b})
    post_act = student.nn.forward(X, params, "layer1")
    err = assert_close("forward output", post_act, POST_ACT, 1e-12,
                       "(N, D_out): sigmoid(X @ W + b)")
    print("forward output relative error:", err)
    testkit.assert_unchanged("X", X_before, X)

    _check("cache_layer1" in params, "forward did not store params['cache_layer1']")
    cache = params["cache_layer1"]
    _check(isinstance(cache, (tuple, list)) and len(cache) == 3,
           "params['cache_layer1'] must be the tuple (X, pre_act, post_act)")
    assert_close("cache[0] (X)", cache[0], X_before, 0.0)
    assert_close("cache[1] (pre_act)", cache[1], PRE_ACT, 1e-12, "pre_act = X @ W + b")
    assert_close("cache[2] (post_act)", cache[2], POST_ACT, 1e-12)


def test_forward_uses_the_given_activation(student):
    X, W, b = _forward_case()
    params = Counter({"Wout": W, "bout": b})
    out = student.nn.forward(X, params, "out", activation=student.util.linear)
    assert_close("forward output with activation=linear", out, PRE_ACT, 1e-12)
    out = student.nn.forward(X, params, "out", activation=student.util.tanh)
    assert_close("forward output with activation=tanh", out, np.tanh(PRE_ACT), 1e-12)


# --- softmax -------------------------------------------------------------------------------

def test_softmax_values(student):
    x = np.array([[1.0, -2.0, 0.5, 3.0], [0.0, 0.0, -1.0, 2.5], [-3.0, 4.0, 1.0, 0.25]])
    x_before = x.copy()
    expected = np.array(
        [[0.11055375036173921, 0.005504147127583673, 0.06705423914061147, 0.8168878633700657],
         [0.06872675857728457, 0.06872675857728457, 0.025283161538936075, 0.8372633213064948],
         [0.000848880834555298, 0.9309108707277622, 0.04634732316531085, 0.02189292527237166]])
    res = student.nn.softmax(x)
    # tolerance: an epsilon of at most 1e-10 in the denominator is accepted (testkit.guard_tol)
    err = assert_close("softmax(x)", res, expected, testkit.guard_tol(1e-12))
    print("softmax relative error:", err)
    testkit.assert_unchanged("x", x_before, x)
    sums = assert_shape("softmax(x)", res, (3, 4)).sum(axis=1)
    assert_close("row sums of softmax(x)", sums, np.ones(3), testkit.guard_tol(1e-12))


@pytest.mark.parametrize("logits", [
    [[1000.0, 0.0, -1000.0], [0.0, 1000.0, 1000.0]],      # huge logits
    [[1000.0, 999.0, 998.0], [-1000.0, -999.0, -998.0]],  # rows far apart: shift each row by its own max
], ids=["huge", "rows-far-apart"])
def test_softmax_is_stable(student, logits):
    x = np.array(logits)
    res = student.nn.softmax(x)
    err = assert_close("softmax(x)", res, _softmax(x), testkit.guard_tol(1e-12),
                       "finite values: shift each row by its own maximum before exp")
    print("softmax (large logits) relative error:", err)


# --- compute_loss_and_acc ------------------------------------------------------------------

# Loss tolerances accept an epsilon of at most 1e-10 inside the log (ASSIGNMENT.md "Numerical
# guards"): testkit.log_guard_tol derives them from the true-class probabilities.

def test_loss_of_uniform_probabilities_is_summed_cross_entropy(student):
    y = np.eye(4)[[0, 1, 2, 3, 1]]
    probs = np.full((5, 4), 0.25)
    loss, _ = student.nn.compute_loss_and_acc(y, probs)
    tol = testkit.log_guard_tol(np.full(5, 0.25))
    err = assert_scalar_close("loss", loss, 6.931471805599453, tol)  # 5 * ln(4): a SUM over examples
    print("loss relative error:", err)


def test_loss_and_accuracy_values(student):
    y = np.eye(4)[[0, 1, 2, 3, 1]]
    probs = np.array([[0.7, 0.1, 0.1, 0.1],     # correct
                      [0.2, 0.5, 0.2, 0.1],     # correct
                      [0.25, 0.25, 0.4, 0.1],   # correct
                      [0.6, 0.2, 0.1, 0.1],     # wrong
                      [0.1, 0.3, 0.2, 0.4]])    # wrong
    y_before, probs_before = y.copy(), probs.copy()
    loss, acc = student.nn.compute_loss_and_acc(y, probs)
    err = assert_scalar_close("loss", loss, 5.472670753692814,
                              testkit.log_guard_tol([0.7, 0.5, 0.4, 0.1, 0.3]))
    print("loss relative error:", err)
    assert_scalar_close("acc", acc, 0.6, 1e-12)  # a fraction in [0, 1], not a count or a percentage
    testkit.assert_unchanged("y", y_before, y)
    testkit.assert_unchanged("probs", probs_before, probs)


# --- backwards -----------------------------------------------------------------------------

def _numeric_layer_grads(X, W, b, G, act):
    """Numerical gradients of sum(act(X @ W + b) * G) with respect to W, b and X."""
    X, W, b = X.copy(), W.copy(), b.copy()

    def loss():
        return float(np.sum(act(X @ W + b) * G))
    return (testkit.numerical_gradient(lambda _: loss(), W),
            testkit.numerical_gradient(lambda _: loss(), b),
            testkit.numerical_gradient(lambda _: loss(), X))


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "linear"])
def test_backwards_matches_numerical_gradient(student, activation):
    rs = np.random.RandomState(231)
    X = rs.randn(4, 5)
    W = rs.randn(5, 3)
    b = rs.randn(3)
    G = rs.randn(4, 3)  # upstream gradient: the loss is sum(post_act * G)
    act = {"sigmoid": _sigmoid, "tanh": np.tanh, "linear": lambda z: z}[activation]
    pre_act = X @ W + b
    post_act = act(pre_act)
    # the cache is built here, so this test depends on backwards only
    params = Counter({"Wlayer": W.copy(), "blayer": b.copy(),
                      "cache_layer": (X.copy(), pre_act, post_act)})
    if activation == "sigmoid":  # the default activation_deriv is sigmoid_deriv
        grad_X = student.nn.backwards(G.copy(), params, "layer")      # backward may overwrite delta
    else:
        deriv = {"tanh": student.util.tanh_deriv, "linear": student.util.linear_deriv}[activation]
        grad_X = student.nn.backwards(G.copy(), params, "layer", activation_deriv=deriv)
    num_W, num_b, num_X = _numeric_layer_grads(X, W, b, G, act)
    _check("grad_Wlayer" in params and "grad_blayer" in params,
           "backwards did not store params['grad_W' + name] and params['grad_b' + name]")
    e_W = assert_close("grad_W", params["grad_Wlayer"], num_W, 1e-7, "the shape of W")
    e_b = assert_close("grad_b", params["grad_blayer"], num_b, 1e-7, "the shape of b, (D_out,)")
    e_X = assert_close("grad_X", grad_X, num_X, 1e-7, "the shape of X")
    print(f"{activation}: grad_W relative error:", e_W)
    print(f"{activation}: grad_b relative error:", e_b)
    print(f"{activation}: grad_X relative error:", e_X)


def test_backwards_through_a_softmax_classifier(student):
    """The handout's two-layer flow: sigmoid hidden layer, softmax output, summed loss."""
    rs = np.random.RandomState(0)
    X = rs.randn(6, 4)
    W1, b1 = rs.randn(4, 5), rs.randn(5)
    W2, b2 = rs.randn(5, 3), rs.randn(3)
    y = np.eye(3)[[0, 2, 1, 1, 0, 2]]

    def total_loss(W1, b1, W2, b2):
        probs = _softmax(_sigmoid(X @ W1 + b1) @ W2 + b2)
        return float(-np.sum(y * np.log(probs)))

    z1 = X @ W1 + b1
    h1 = _sigmoid(z1)
    z2 = h1 @ W2 + b2
    probs = _softmax(z2)
    params = Counter({"Wlayer1": W1.copy(), "blayer1": b1.copy(),
                      "Woutput": W2.copy(), "boutput": b2.copy(),
                      "cache_layer1": (X.copy(), z1, h1), "cache_output": (h1.copy(), z2, probs)})
    delta = probs - y  # gradient of the summed cross-entropy with respect to the scores z2
    delta_h = student.nn.backwards(delta, params, "output", student.util.linear_deriv)
    student.nn.backwards(delta_h, params, "layer1", student.util.sigmoid_deriv)

    w = [W1.copy(), b1.copy(), W2.copy(), b2.copy()]
    for i, key in enumerate(["grad_Wlayer1", "grad_blayer1", "grad_Woutput", "grad_boutput"]):
        num = testkit.numerical_gradient(lambda _: total_loss(*w), w[i])
        err = assert_close(key, params[key], num, 1e-7)
        print(f"{key} relative error:", err)


# --- get_random_batches --------------------------------------------------------------------

@pytest.mark.parametrize("n, batch_size", [(23, 5), (20, 5), (7, 7)])
def test_get_random_batches_covers_every_example_once(student, n, batch_size):
    x = np.stack([np.arange(n), -np.arange(n), 0.5 * np.arange(n)], axis=1).astype(np.float64)
    y = np.eye(n)  # y[i] is the one-hot of i: pairs can be traced
    x_before, y_before = x.copy(), y.copy()
    student.seed(231)
    batches = student.nn.get_random_batches(x, y, batch_size)
    n_batches = -(-n // batch_size)
    _check(len(batches) == n_batches,
           f"get_random_batches({n} examples, batch_size={batch_size}) returned {len(batches)} "
           f"batches; expected {n_batches}: full batches, then one smaller batch with the rest")
    seen = []
    for k, pair in enumerate(batches):
        _check(len(pair) == 2, f"batch {k} must be a pair (batch_x, batch_y)")
        size = batch_size if k < n_batches - 1 else n - batch_size * (n_batches - 1)
        bx = assert_shape(f"batch {k} x", pair[0], (size, 3))
        by = assert_shape(f"batch {k} y", pair[1], (size, n))
        idx = np.argmax(by, axis=1)
        assert_close(f"batch {k} x (paired with its y)", bx, x_before[idx], 0.0,
                     "each x must stay paired with its own label")
        seen.extend(int(i) for i in idx)
    counts = np.bincount(np.array(seen, dtype=np.int64), minlength=n)
    _check(np.all(counts == 1),
           "get_random_batches: every example must appear in exactly one batch "
           f"({int(np.sum(counts == 0))} missing, {int(np.sum(counts > 1))} repeated)")
    if n >= 20:  # an identity permutation of 20 examples has probability 1/20!
        _check(seen != list(range(n)), "get_random_batches: the examples must be shuffled")
    testkit.assert_unchanged("x", x_before, x)
    testkit.assert_unchanged("y", y_before, y)
