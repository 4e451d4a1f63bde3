"""Q10 hidden tests: nn.py (numerics.md §1.7, §4.4 S1/S2/S5/S7/S8/S9, §4.8 X1-X11, §6).

Expected values come from the reference (``ref``) on the trusted side or from maths written
here; random shapes and values come from ``case_rng`` (per submission when grading).
``params`` always reaches the student as a ``collections.Counter`` (ASSIGNMENT.md §Q10
"Conventions and accepted alternatives"); caches are accepted as tuples or lists.  Xavier
initialisation is checked by its properties only (shapes, zero biases, the bound, the variance
on a large matrix).
"""
from collections import Counter

import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import weight

from autograder.testkit import (assert_close, assert_close_to_numerical,
                                assert_scalar_close, assert_shape, assert_unchanged, check,
                                clip_bug_error, guard_tol, log_guard_tol, numerical_gradient_array,
                                seed_from, to_array)

pytestmark = pytest.mark.question("Q10")

TOL = 1e-10        # float64 values against the reference
TOL_NUM = 1e-6     # against centred differences of the reference forward pass


# --- initialize_weights (X1, X2, X3) --------------------------------------------------------

@weight(4)
def test_initialize_weights_is_xavier_uniform_on_a_large_random_layer(student, case_rng):
    """initialize_weights: W (in, out) from U(-a, a), a = sqrt(6/(in+out)) (variance and bound); b zeros (out,)."""
    n_in, n_out = int(case_rng.integers(300, 501)), int(case_rng.integers(400, 701))
    student.seed(seed_from(case_rng))
    params = Counter()
    student.nn.initialize_weights(n_in, n_out, params, "layer1")
    check("Wlayer1" in params and "blayer1" in params,
          "initialize_weights must store params['W' + name] and params['b' + name]")
    W = assert_shape("params['Wlayer1']", params["Wlayer1"], (n_in, n_out), "W is (in_size, out_size)")
    b = assert_shape("params['blayer1']", params["blayer1"], (n_out,), "b is 1-D (out_size,)")
    assert_close("params['blayer1']", b, np.zeros(n_out), 0.0, "biases start at zero")
    a = np.sqrt(6.0 / (n_in + n_out))
    check(np.max(np.abs(W)) <= a * (1 + 1e-12),
          "initialize_weights: some |W| exceed sqrt(6/(in_size+out_size)): Xavier initialisation "
          "draws from the UNIFORM distribution U(-a, a)")
    ratio = float(np.var(W)) / (2.0 / (n_in + n_out))
    print("Var[W] / (2/(in+out)):", ratio)
    check(abs(ratio - 1.0) <= 0.03,
          f"initialize_weights: Var[W] is {ratio:.3f} times 2/(in_size+out_size); expected 1 "
          f"within 3% (U(-a, a) with a = sqrt(6/(in_size+out_size)))")
    check(abs(float(np.mean(W))) <= 6 * np.sqrt(2.0 / (n_in + n_out) / W.size),
          "initialize_weights: the mean of W is far from 0")


@weight(1.5)
def test_initialize_weights_shapes_names_and_bound_on_small_layers(student, case_rng):
    """initialize_weights on small layers (default name too): shapes, 1-D zero biases, bound, other keys kept."""
    student.seed(seed_from(case_rng))
    other = np.arange(6.0).reshape(2, 3)
    params = Counter({"Wother": other.copy()})
    sizes = [(int(case_rng.integers(2, 9)), int(case_rng.integers(2, 9))) for _ in range(2)]
    sizes.append((int(case_rng.integers(3, 9)), 1))
    names = ["hidden", "output", ""]
    for (n_in, n_out), name in zip(sizes, names):
        student.nn.initialize_weights(n_in, n_out, params, name)
    for (n_in, n_out), name in zip(sizes, names):
        for key, shape in (("W" + name, (n_in, n_out)), ("b" + name, (n_out,))):
            check(key in params, f"initialize_weights did not store params[{key!r}]")
            assert_shape(f"params[{key!r}]", params[key], shape,
                         "W is (in_size, out_size) and b is 1-D (out_size,)")
        W = to_array(params["W" + name], f"params['W{name}']")
        check(np.max(np.abs(W)) <= np.sqrt(6.0 / (n_in + n_out)) * (1 + 1e-12),
              f"params['W{name}']: some |W| exceed sqrt(6/(in_size+out_size))")
        check(W.size < 2 or np.std(W) > 0, f"params['W{name}'] must be random, not constant")
        assert_close(f"params['b{name}']", params["b" + name], np.zeros(n_out), 0.0,
                     "biases start at zero")
    assert_unchanged("params['Wother'] (another layer)", other, params["Wother"])


# --- sigmoid (X4) -----------------------------------------------------------------------------

@weight(1.5)
def test_sigmoid_values_on_random_inputs(student, ref, case_rng):
    """sigmoid on random arrays (2-D and 3-D) of both signs, input unchanged."""
    for shape in ((int(case_rng.integers(2, 7)), int(case_rng.integers(2, 7))), (2, 3, 4)):
        x = case_rng.uniform(-15.0, 15.0, size=shape)
        x_before = x.copy()
        err = assert_close("sigmoid(x)", student.nn.sigmoid(x), ref.nn.sigmoid(x_before.copy()), TOL)
        assert_unchanged("sigmoid's x", x_before, x)
    print("sigmoid relative error:", err)


@weight(2)
def test_sigmoid_of_extreme_inputs_is_exact_and_finite(student, ref, case_rng):
    """sigmoid at |x| up to 1000 (where exp overflows) gives 0 and 1, no NaN, and leaves x unchanged."""
    extremes = np.array([-1000.0, -800.0, -745.5, -710.0, -40.0, 40.0, 710.0, 745.5, 800.0, 1000.0])
    x = np.concatenate([extremes, case_rng.uniform(-5.0, 5.0, size=6)])
    x = x[case_rng.permutation(x.size)].reshape(4, 4)
    x_before = x.copy()
    res = student.nn.sigmoid(x)
    # 1e-9: 0.5*(1 + tanh(x/2)) rounds sigmoid(-40) = 4e-18 to 0, an absolute error of 4e-18
    err = assert_close("sigmoid(x) with |x| up to 1000", res, ref.nn.sigmoid(x_before.copy()), 1e-9,
                       "no NaN: exp(x)/(1+exp(x)) overflows to inf/inf for large x")
    print("sigmoid(extreme) relative error:", err)
    assert_unchanged("sigmoid's x", x_before, x)


# --- forward ----------------------------------------------------------------------------------

def _layer_case(rng):
    n, d_in, d_out = (int(v) for v in rng.integers(2, 7, size=3))
    X = rng.normal(size=(n, d_in))
    W = rng.normal(size=(d_in, d_out)) * 0.8
    b = rng.normal(size=d_out) + 0.3       # non-zero biases
    return X, W, b


@weight(1.5)
@pytest.mark.parametrize("activation", ["sigmoid-default", "relu", "tanh", "linear"])
def test_forward_values_and_cache_on_random_layers(student, ref, case_rng, activation):
    """forward: post_act = activation(X @ W + b), cache (X, pre_act, post_act) stored, inputs unchanged."""
    X, W, b = _layer_case(case_rng)
    name = str(case_rng.choice(["layer1", "hidden", "output"]))
    params = Counter({"W" + name: W.copy(), "b" + name: b.copy()})
    ref_params = {"W" + name: W.copy(), "b" + name: b.copy()}
    X_before = X.copy()
    if activation == "sigmoid-default":
        out = student.nn.forward(X, params, name)
        expected = ref.nn.forward(X.copy(), ref_params, name)
    else:
        out = student.nn.forward(X, params, name, activation=getattr(student.util, activation))
        expected = ref.nn.forward(X.copy(), ref_params, name, activation=getattr(ref.util, activation))
    err = assert_close("forward output", out, expected, TOL, "(N, D_out): activation(X @ W + b)")
    print(f"{activation}: forward relative error:", err)
    assert_unchanged("forward's X", X_before, X)
    assert_unchanged(f"params['W{name}']", W, params["W" + name])
    assert_unchanged(f"params['b{name}']", b, params["b" + name])
    check("cache_" + name in params, f"forward did not store params['cache_{name}']")
    cache = params["cache_" + name]
    check(isinstance(cache, (tuple, list)) and len(cache) == 3,
          f"params['cache_{name}'] must be the tuple (X, pre_act, post_act)")
    e_X, e_pre, e_post = ref_params["cache_" + name]
    assert_close("cache[0] (X)", cache[0], e_X, 0.0)
    assert_close("cache[1] (pre_act)", cache[1], e_pre, TOL, "pre_act = X @ W + b")
    assert_close("cache[2] (post_act)", cache[2], e_post, TOL)


# --- softmax (S1, S2, S5) ---------------------------------------------------------------------

@weight(2)
def test_softmax_values_on_random_rows_far_apart(student, ref, case_rng):
    """softmax of random rows, each shifted by up to +-1000 (stability per row), input unchanged."""
    n, c = int(case_rng.integers(3, 7)), int(case_rng.integers(2, 7))
    x = case_rng.normal(scale=4.0, size=(n, c))
    x += (case_rng.uniform(800.0, 1000.0, size=(n, 1))
          * np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[:, None])
    x_before = x.copy()
    res = student.nn.softmax(x)
    err = assert_close("softmax(x)", res, ref.nn.softmax(x_before.copy()), TOL,
                       "(N, C); shift EACH row by its own maximum")
    print("softmax relative error:", err)
    assert_unchanged("softmax's x", x_before, x)
    sums = assert_shape("softmax(x)", res, (n, c)).sum(axis=1)
    assert_close("row sums of softmax(x)", sums, np.ones(n), guard_tol(1e-12))


@weight(1)
def test_softmax_of_moderate_random_scores(student, ref, case_rng):
    """softmax of ordinary random scores, including a single row."""
    for shape in ((1, int(case_rng.integers(2, 6))), (int(case_rng.integers(4, 9)), 3)):
        x = case_rng.normal(scale=2.0, size=shape)
        assert_close("softmax(x)", student.nn.softmax(x.copy()), ref.nn.softmax(x), TOL)


# --- compute_loss_and_acc (S7, S8, S9) --------------------------------------------------------

def _probs_case(rng, n, c):
    """Random one-hot labels and strictly positive probabilities with some right, some wrong."""
    labels = rng.integers(0, c, size=n)
    scores = rng.normal(size=(n, c))
    correct = rng.random(n) < 0.5
    correct[0], correct[-1] = True, False
    scores[np.arange(n), labels] += np.where(correct, 3.0, -3.0)
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return np.eye(c)[labels], e / e.sum(axis=1, keepdims=True)


@weight(2)
def test_loss_and_accuracy_on_random_cases(student, ref, case_rng):
    """compute_loss_and_acc: summed cross-entropy and the fraction correct, inputs unchanged."""
    n, c = int(case_rng.integers(6, 15)), int(case_rng.integers(3, 6))
    y, probs = _probs_case(case_rng, n, c)
    y_before, probs_before = y.copy(), probs.copy()
    got = student.nn.compute_loss_and_acc(y, probs)
    check(isinstance(got, (tuple, list)) and len(got) == 2,
          "compute_loss_and_acc must return the pair (loss, acc)")
    loss, acc = got
    e_loss, e_acc = ref.nn.compute_loss_and_acc(y_before.copy(), probs_before.copy())
    tol = log_guard_tol(np.sum(y_before * probs_before, axis=1), TOL)   # guards up to 1e-10
    err = assert_scalar_close("loss", loss, e_loss, tol)  # a SUM over examples
    print("loss relative error:", err)
    assert_scalar_close("acc", acc, e_acc, 1e-12)  # a fraction in [0, 1]
    assert_unchanged("y", y_before, y)
    assert_unchanged("probs", probs_before, probs)


@weight(1.5)
@pytest.mark.parametrize("n, c", [(5, 3), (4, 4), (3, 5)], ids=["N>C", "N=C", "N<C"])
def test_accuracy_takes_the_argmax_of_each_example(student, ref, n, c):
    """acc compares each example's (row's) largest probability with its label."""
    rs = np.random.RandomState(100 * n + c)
    labels = np.array([(3 * i + 1) % c for i in range(n)])
    scores = rs.uniform(0.0, 1.0, size=(n, c))
    wrong = [i for i in range(n) if i % 3 == 1]         # about a third are wrong
    for i in range(n):
        target = labels[i] if i not in wrong else (labels[i] + 1) % c
        scores[i, target] += 2.0
    probs = scores / scores.sum(axis=1, keepdims=True)
    y = np.eye(c)[labels]
    _, acc = student.nn.compute_loss_and_acc(y, probs)
    _, e_acc = ref.nn.compute_loss_and_acc(y, probs)
    assert_scalar_close("acc", acc, e_acc, 1e-12)


@weight(1)
def test_loss_with_tiny_true_class_probabilities(student, ref, case_rng):
    """The loss stays right when the true class has a tiny (positive) probability: no clipping.

    Three examples get a true-class probability in [1e-8, 3e-8] (ASSIGNMENT.md "Numerical
    guards"): there an epsilon of at most 1e-10 inside the log moves each term by at most
    log(1.01), within the tolerance (testkit.log_guard_tol), while clipping at 1e-7 moves it by
    at least log(3.3) and fails (the test checks that its inputs keep both apart).
    """
    n, c = 6, 4
    y, probs = _probs_case(case_rng, n, c)
    labels = np.argmax(y, axis=1)
    tiny = case_rng.uniform(1e-8, 3e-8, size=3)
    for i, p in zip((1, 3, 4), tiny):
        probs[i] *= (1.0 - p) / (1.0 - probs[i, labels[i]])
        probs[i, labels[i]] = p
    p_true = np.sum(y * probs, axis=1)
    tol = log_guard_tol(p_true, TOL)
    assert clip_bug_error(p_true) > 10 * tol, "test inputs do not separate guards from clipping"
    loss, _ = student.nn.compute_loss_and_acc(y.copy(), probs.copy())
    e_loss, _ = ref.nn.compute_loss_and_acc(y, probs)
    err = assert_scalar_close("loss", loss, e_loss, tol)
    print("loss relative error:", err, "tolerance:", tol)


# --- backwards (X5-X8) ------------------------------------------------------------------------

_ACT = {"sigmoid": (lambda z: 1.0 / (1.0 + np.exp(-z)), "sigmoid_deriv"),
        "tanh": (np.tanh, "tanh_deriv"),
        "relu": (lambda z: np.maximum(z, 0.0), "relu_deriv"),
        "linear": (lambda z: z, "linear_deriv")}


def _backwards_case(rng, act):
    """A layer whose pre-activations stay away from 0 (ReLU's kink) and whose gradients are
    not tiny (relative comparisons)."""
    fn = _ACT[act][0]
    for _ in range(50):
        X, W, b = _layer_case(rng)
        G = rng.normal(size=(X.shape[0], W.shape[1]))
        pre = X @ W + b
        if np.min(np.abs(pre)) < 1e-2:
            continue
        d = G * {"sigmoid": lambda p: p * (1 - p), "tanh": lambda p: 1 - p ** 2,
                 "relu": lambda p: (p > 0) * 1.0, "linear": np.ones_like}[act](fn(pre))
        grads = (X.T @ d, d.sum(axis=0), d @ W.T)
        if all(np.all((np.abs(g) > 1e-3) | (g == 0)) for g in grads):
            return X, W, b, G, pre, fn(pre)
    raise RuntimeError("could not draw a well-conditioned case")  # pragma: no cover


@weight(2)
@pytest.mark.parametrize("act, cache_kind", [("sigmoid", "tuple"), ("tanh", "list"),
                                             ("relu", "tuple"), ("linear", "list")])
def test_backwards_matches_reference_and_numerical_gradient(student, ref, case_rng, act, cache_kind):
    """backwards: grad_W, grad_b (summed over examples) and grad_X with their variables' shapes."""
    X, W, b, G, pre, post = _backwards_case(case_rng, act)
    name = str(case_rng.choice(["layer1", "hidden", "output"]))
    cache = (X.copy(), pre.copy(), post.copy())
    params = Counter({"W" + name: W.copy(), "b" + name: b.copy(),
                      "cache_" + name: list(cache) if cache_kind == "list" else cache})
    ref_params = {"W" + name: W.copy(), "b" + name: b.copy(), "cache_" + name: cache}
    deriv_name = _ACT[act][1]
    if act == "sigmoid":   # the default activation_deriv
        grad_X = student.nn.backwards(G.copy(), params, name)
        e_X = ref.nn.backwards(G.copy(), ref_params, name)
    else:
        grad_X = student.nn.backwards(G.copy(), params, name,
                                      activation_deriv=getattr(student.util, deriv_name))
        e_X = ref.nn.backwards(G.copy(), ref_params, name,
                               activation_deriv=getattr(ref.util, deriv_name))
    for key in ("grad_W" + name, "grad_b" + name):
        check(key in params, f"backwards did not store params[{key!r}]")
    fn = _ACT[act][0]
    numeric = {
        "grad_W": numerical_gradient_array(lambda w: fn(X @ w + b), W.copy(), G),
        "grad_b": numerical_gradient_array(lambda v: fn(X @ W + v), b.copy(), G),
        "grad_X": numerical_gradient_array(lambda x: fn(x @ W + b), X.copy(), G),
    }
    for label, value, expected, what in (
            ("grad_W", params["grad_W" + name], ref_params["grad_W" + name], "the shape of W"),
            ("grad_b", params["grad_b" + name], ref_params["grad_b" + name], "the shape of b, (D_out,)"),
            ("grad_X", grad_X, e_X, "the shape of X")):
        err = assert_close(label, value, expected, TOL, what)
        assert_close_to_numerical(f"{label} (vs centred differences)", value, numeric[label], TOL_NUM,
                                  what)
        print(f"{act}: {label} relative error:", err)
    assert_unchanged(f"params['W{name}']", W, params["W" + name])
    assert_unchanged(f"params['b{name}']", b, params["b" + name])


@weight(2)
def test_backwards_through_a_random_softmax_classifier(student, ref, case_rng):
    """The handout's flow: sigmoid hidden layer, softmax output (linear_deriv), summed loss."""
    n, d, h, c = 7, int(case_rng.integers(3, 6)), int(case_rng.integers(3, 6)), 3
    X = case_rng.normal(size=(n, d))
    W1, b1 = case_rng.normal(size=(d, h)), case_rng.normal(size=h)
    W2, b2 = case_rng.normal(size=(h, c)), case_rng.normal(size=c)
    y = np.eye(c)[case_rng.integers(0, c, size=n)]
    z1 = X @ W1 + b1
    h1 = 1.0 / (1.0 + np.exp(-z1))
    z2 = h1 @ W2 + b2
    probs = ref.nn.softmax(z2)
    base = {"Wlayer1": W1, "blayer1": b1, "Woutput": W2, "boutput": b2,
            "cache_layer1": (X, z1, h1), "cache_output": (h1, z2, probs)}
    params = Counter({k: (tuple(a.copy() for a in v) if isinstance(v, tuple) else v.copy())
                      for k, v in base.items()})
    ref_params = dict(base)
    delta = probs - y
    delta_h = student.nn.backwards(delta.copy(), params, "output", student.util.linear_deriv)
    # a backward function may overwrite its dout (ASSIGNMENT.md §"Conventions"): hand over a copy
    student.nn.backwards(to_array(delta_h, "grad_X of the output layer"), params, "layer1",
                         student.util.sigmoid_deriv)
    e_h = ref.nn.backwards(delta.copy(), ref_params, "output", ref.util.linear_deriv)
    ref.nn.backwards(e_h, ref_params, "layer1", ref.nn.sigmoid_deriv)
    assert_close("grad_X of the output layer", delta_h, e_h, TOL, "(N, hidden)")
    for key in ("grad_Wlayer1", "grad_blayer1", "grad_Woutput", "grad_boutput"):
        check(key in params, f"backwards did not store params[{key!r}]")
        assert_close(key, params[key], ref_params[key], TOL)


# --- get_random_batches (X9-X11) --------------------------------------------------------------

def _check_batches(batches, x_before, y_before, n, batch_size, index_of):
    """The contract of get_random_batches on inputs whose examples are told apart by
    ``index_of(batch_x, batch_y)`` (their indices in x and y): ceil(n / batch_size) pairs,
    full batches then the rest, each (batch_x, batch_y) rows of x and y of the same examples,
    every example exactly once.  Returns the examples' indices in the order they came."""
    n_batches = -(-n // batch_size)
    check(isinstance(batches, (list, tuple)) and len(batches) == n_batches,
          f"get_random_batches({n} examples, batch_size={batch_size}) must return {n_batches} "
          f"batches: full batches, then one smaller batch with the rest")
    seen = []
    for k, pair in enumerate(batches):
        check(isinstance(pair, (list, tuple)) and len(pair) == 2,
              f"batch {k} must be a pair (batch_x, batch_y)")
        size = batch_size if k < n_batches - 1 else n - batch_size * (n_batches - 1)
        bx = assert_shape(f"batch {k} x", pair[0], (size, *x_before.shape[1:]))
        by = assert_shape(f"batch {k} y", pair[1], (size, *y_before.shape[1:]))
        idx = index_of(bx, by)
        check(np.all((idx >= 0) & (idx < n)), f"batch {k} holds examples that are not in x and y")
        assert_close(f"batch {k} x (paired with its y)", bx, x_before[idx], 0.0,
                     "rows of x, unchanged, each paired with its own label")
        assert_close(f"batch {k} y (paired with its x)", by, y_before[idx], 0.0,
                     "rows of y, unchanged, each paired with its own x")
        seen.extend(int(i) for i in idx)
    counts = np.bincount(np.array(seen, dtype=np.int64), minlength=n)
    check(np.all(counts == 1),
          f"get_random_batches: every example must appear in exactly one batch "
          f"({int(np.sum(counts == 0))} missing, {int(np.sum(counts > 1))} repeated)")
    return seen


def _label_index(bx, by):
    """Inputs with y = eye(N): an example's index is its label's."""
    return np.argmax(by, axis=1)


@weight(2)
@pytest.mark.parametrize("divides", [True, False], ids=["divides", "remainder"])
def test_get_random_batches_on_random_sizes(student, case_rng, divides):
    """get_random_batches: every example once, pairs kept, last batch smaller; x, y unchanged."""
    batch_size = int(case_rng.integers(3, 8))
    n = batch_size * int(case_rng.integers(3, 7)) + (0 if divides else int(case_rng.integers(1, batch_size)))
    x = case_rng.normal(size=(n, 6))             # the handout's x: (N, D)
    x[:, 0] = np.arange(n)                       # every example distinct
    y = np.eye(n)                                # y[i] is the one-hot of i
    x_before, y_before = x.copy(), y.copy()
    student.seed(seed_from(case_rng))
    batches = student.nn.get_random_batches(x, y, batch_size)
    seen = _check_batches(batches, x_before, y_before, n, batch_size, _label_index)
    check(seen != list(range(n)), "get_random_batches: the examples must be shuffled")
    assert_unchanged("x", x_before, x)
    assert_unchanged("y", y_before, y)


@weight(1)
def test_get_random_batches_with_repeated_one_hot_labels(student, case_rng):
    """get_random_batches with the handout's y: one-hot (N, C), C < N, so labels repeat; each
    x stays paired with its own row of y and every example appears once."""
    n, batch_size = int(case_rng.integers(11, 30)), int(case_rng.integers(2, 6))
    c = int(case_rng.integers(2, 5))
    x = np.stack([np.arange(n) * 1.5, case_rng.normal(size=n)], axis=1)
    y = np.eye(c)[case_rng.integers(0, c, size=n)]
    x_before, y_before = x.copy(), y.copy()
    student.seed(seed_from(case_rng))
    batches = student.nn.get_random_batches(x, y, batch_size)
    _check_batches(batches, x_before, y_before, n, batch_size,
                   lambda bx, by: np.rint(bx[:, 0] / 1.5).astype(np.int64))  # x[:, 0] = 1.5 * index
    assert_unchanged("x", x_before, x)
    assert_unchanged("y", y_before, y)


@weight(1)
@pytest.mark.parametrize("n, batch_size", [(9, 1), (6, 10)], ids=["batch-1", "batch-larger-than-N"])
def test_get_random_batches_edge_batch_sizes(student, n, batch_size):
    """get_random_batches with batch_size 1 (N batches) and batch_size > N (one batch of N)."""
    x = np.arange(n, dtype=np.float64)[:, None] * np.array([[1.0, -2.0]])
    y = np.eye(n)
    student.seed(5)
    batches = student.nn.get_random_batches(x, y, batch_size)
    _check_batches(batches, x.copy(), y.copy(), n, batch_size, _label_index)


@weight(1.5)
def test_get_random_batches_shuffles_examples_across_batches(student, case_rng):
    """get_random_batches mixes examples across batches and draws a new order for a new seed."""
    n, batch_size = 60, 6
    x = np.arange(n, dtype=np.float64)[:, None]
    y = np.eye(n)
    orders = []
    for _ in range(2):
        student.seed(seed_from(case_rng))
        batches = student.nn.get_random_batches(x, y, batch_size)
        seen = _check_batches(batches, x.copy(), y.copy(), n, batch_size, _label_index)
        orders.append(seen)
        blocks = [sorted(seen[k:k + batch_size]) for k in range(0, n, batch_size)]
        check(not all(bl == list(range(bl[0], bl[0] + batch_size)) for bl in blocks),
              "get_random_batches: each batch is a block of consecutive examples; shuffle the "
              "EXAMPLES (one permutation), not only the order of the batches")
    check(orders[0] != orders[1],
          "get_random_batches: two different seeds gave the same order; draw the permutation "
          "from np.random (do not re-seed it with a fixed value)")
