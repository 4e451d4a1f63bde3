"""Q4 hidden tests: FullyConnectedNet and the two training scripts (numerics.md §1.4, §4.5
N1-N10, §4.1 A4, §4.3 D8, §6).

Value checks set ``params`` explicitly (ASSIGNMENT.md §Q4 "Initialisation") and compare
with the reference network on the trusted side, in float64; the initialisation is checked by
its properties only (shapes, 1-D zero biases, dtype, zero mean, and a scale that is either
proportional to ``weight_scale`` or one of the Xavier/Glorot scales the Imperial template's
docstring mentions).  With dropout, the expected values use the masks the student's own
``dropout_forward`` draws for the network's seed (ASSIGNMENT.md §Q4 "Initialisation": ``seed`` is passed to every
dropout call), so any valid way of drawing a mask passes.  Seeds are never 0.

The scripts run in the sandbox; only ``solver.model.params`` comes back, and the accuracies are
recomputed here with the reference forward pass on the data set loaded on the trusted side
(ASSIGNMENT.md §Q4 "Scripts").
"""
import contextlib
import os

import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import weight

from autograder import paths, pytest_plugin
from autograder.student import StudentError
from autograder.testkit import (CheckFailed, assert_close, assert_scalar_close, assert_shape,
                                assert_unchanged, check, scores_guard_tol, seed_from, to_array,
                                to_scalar)

pytestmark = pytest.mark.question("Q4")

TOL_LOSS = 1e-10
# against the reference's gradients: an equivalent softmax (S-onehot-0d) reached 1.4e-8 on a
# small entry of 1 run in 660 of the flake audit; every mutant is off by far more
TOL_GRAD = 1e-7
VAL_THRESHOLD = {"digits": 0.90, "cifar10": 0.45}
OVERFIT_EXAMPLES = 50
OVERFIT_EPOCHS = 20


def _dims(rng, layers):
    return [int(h) for h in rng.integers(3, 9, size=layers)]


def _random_params(rng, dims):
    """W_l, b_l for the layer sizes ``dims`` (input, hidden..., classes): scores of both signs,
    non-zero biases (so that biases in the L2 term or a missing bias show)."""
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.normal(scale=1.0 / np.sqrt(dims[l - 1]), size=(dims[l - 1], dims[l]))
        params[f"b{l}"] = rng.normal(scale=0.5, size=dims[l])
    return params


def _case(rng, layers, n=None):
    """A random network and batch: N-d inputs (N, 2, 3, 2) flattened to 12 features."""
    hidden = _dims(rng, layers)
    c = int(rng.integers(3, 7))
    dims = [12] + hidden + [c]
    n = n or int(rng.integers(4, 9))
    X = rng.normal(size=(n, 2, 3, 2))
    y = rng.integers(0, c, size=n)
    return hidden, c, _random_params(rng, dims), X, y


def _model(student, hidden, c, params, **kwargs):
    kwargs.setdefault("dtype", np.float64)
    model = student.fcnet.FullyConnectedNet(hidden, input_dim=12, num_classes=c, **kwargs)
    model.params = {k: v.copy() for k, v in params.items()}
    return model


def _ref_model(ref, hidden, c, params, **kwargs):
    kwargs.setdefault("dtype", np.float64)
    model = ref.fcnet.FullyConnectedNet(hidden, input_dim=12, num_classes=c, **kwargs)
    model.params = {k: v.copy() for k, v in params.items()}
    return model


def _loss_and_grads(model, X, y):
    got = model.loss(X, y)
    check(isinstance(got, (tuple, list)) and len(got) == 2,
          "loss(X, y) must return a tuple (loss, grads) when y is given")
    loss, grads = got
    check(isinstance(grads, dict), "loss(X, y) must return grads as a dict")
    return loss, grads


def _compare_grads(grads, expected, params):
    check(set(grads) == set(params),
          f"grads has keys {sorted(grads)}; expected exactly the keys of params {sorted(params)}")
    worst = 0.0
    for name in sorted(expected):
        worst = max(worst, assert_close(f"grads[{name!r}]", grads[name], expected[name], TOL_GRAD,
                                        f"the shape of params[{name!r}]"))
    return worst


# ------------------------------------------------------------------------------ initialisation
@weight(1.5)
def test_fcnet_init_params_shapes_zero_biases_and_dtype(student, case_rng):
    """__init__: W1..WL (in, out), 1-D zero biases b1..bL, all of the requested dtype (float32 by default)."""
    hidden = _dims(case_rng, int(case_rng.integers(1, 4)))
    d, c = int(case_rng.integers(5, 20)), int(case_rng.integers(2, 8))
    dims = [d] + hidden + [c]
    student.seed(seed_from(case_rng, nonzero=True))
    for dtype, kwargs in ((np.float64, {"dtype": np.float64}), (np.float32, {})):
        model = student.fcnet.FullyConnectedNet(hidden, input_dim=d, num_classes=c,
                                                weight_scale=5e-2, **kwargs)
        params = model.params
        expected = {f"W{l}" for l in range(1, len(dims))} | {f"b{l}" for l in range(1, len(dims))}
        check(isinstance(params, dict) and set(params) == expected,
              f"params has keys {sorted(params) if isinstance(params, dict) else params!r}; "
              f"expected {sorted(expected)} for {len(hidden)} hidden layer(s)")
        for l in range(1, len(dims)):
            W = assert_shape(f"params['W{l}']", params[f"W{l}"], (dims[l - 1], dims[l]),
                             "(D_{l-1}, D_l)")
            assert_shape(f"params['b{l}']", params[f"b{l}"], (dims[l],), "1-D (D_l,), not (1, D_l)")
            assert_close(f"params['b{l}']", params[f"b{l}"], np.zeros(dims[l]), 0.0,
                         "biases start at zero")
            check(np.std(W) > 0, f"params['W{l}'] must be random, not constant")
            for name in (f"W{l}", f"b{l}"):
                got = getattr(params[name], "dtype", None)
                check(got == dtype, f"params[{name!r}] has dtype {got}; expected "
                                    f"{np.dtype(dtype)} (the dtype argument; float32 by default)")


def _scale_matches(std, candidates, rel=0.15):
    return any(abs(std / s - 1.0) <= rel for s in candidates)


@weight(1.5)
def test_fcnet_init_weights_are_zero_mean_and_scaled_by_weight_scale_or_xavier(student, case_rng):
    """__init__: weights are random with mean 0 and a scale set by weight_scale (or a Xavier scale)."""
    hidden = [int(h) for h in case_rng.integers(40, 81, size=2)]
    d, c = int(case_rng.integers(60, 121)), 10
    dims = [d] + hidden + [c]
    seed = seed_from(case_rng, nonzero=True)
    stds = {}
    for ws in (1e-1, 1e-3):
        student.seed(seed)     # the same draws for both scales
        model = student.fcnet.FullyConnectedNet(hidden, input_dim=d, num_classes=c,
                                                weight_scale=ws, dtype=np.float64)
        params = model.params
        for l in range(1, len(dims)):
            W = assert_shape(f"params['W{l}']", params[f"W{l}"], (dims[l - 1], dims[l]))
            std = float(np.std(W))
            check(std > 0, f"params['W{l}'] (weight_scale={ws}) must be random, not constant")
            check(abs(float(np.mean(W))) <= 6.0 * std / np.sqrt(W.size),
                  f"params['W{l}'] (weight_scale={ws}): the mean of the weights is far from 0 "
                  f"(draw them from a distribution centred on 0, e.g. np.random.randn)")
            stds[(ws, l)] = std
    for l in range(1, len(dims)):
        n_in, n_out = dims[l - 1], dims[l]
        proportional = abs(stds[(1e-1, l)] / stds[(1e-3, l)] / 100.0 - 1.0) <= 0.2
        xavier = [np.sqrt(v) for v in (1.0 / n_in, 2.0 / n_in, 2.0 / (n_in + n_out),
                                       1.0 / (n_in + n_out), 1.0 / (3.0 * n_in))]
        fixed_xavier = all(_scale_matches(stds[(ws, l)], xavier) for ws in (1e-1, 1e-3))
        print(f"W{l}: std {stds[(1e-1, l)]:.4g} (weight_scale 0.1), {stds[(1e-3, l)]:.4g} "
              f"(weight_scale 0.001)")
        check(proportional or fixed_xavier,
              f"params['W{l}']: the standard deviation of the initial weights neither scales "
              f"with weight_scale (W = weight_scale * np.random.randn(in, out)) nor matches a "
              f"Xavier/Glorot scale for (in, out) = ({n_in}, {n_out})")


# ------------------------------------------------------------------------------ values
@weight(1.5)
@pytest.mark.parametrize("layers", [1, 3])
def test_fcnet_test_mode_scores_match_reference(student, ref, case_rng, layers):
    """loss(X) without y returns the (N, C) scores of [linear - relu] x (L-1) - linear (no final relu)."""
    hidden, c, params, X, _ = _case(case_rng, layers)
    X_before = X.copy()
    scores = _model(student, hidden, c, params).loss(X)
    expected = _ref_model(ref, hidden, c, params).loss(X_before.copy())
    e = assert_close("scores", scores, expected, TOL_LOSS,
                     "(N, C) when y is None; the last layer is linear (negative scores stay)")
    assert_unchanged("loss's X", X_before, X)
    print("scores relative error:", e)


@weight(2)
@pytest.mark.parametrize("layers, with_reg", [(1, False), (2, True), (3, True)])
def test_fcnet_loss_and_gradients_match_reference(student, ref, case_rng, layers, with_reg):
    """loss(X, y): mean cross-entropy + 0.5*reg*sum(W**2) over weights only, and every gradient."""
    hidden, c, params, X, y = _case(case_rng, layers)
    reg = float(case_rng.uniform(0.3, 2.0)) if with_reg else 0.0
    loss, grads = _loss_and_grads(_model(student, hidden, c, params, reg=reg), X.copy(), y.copy())
    e_loss, e_grads = _ref_model(ref, hidden, c, params, reg=reg).loss(X, y)
    # an epsilon of at most 1e-10 inside the log is accepted (ASSIGNMENT.md "Numerical guards")
    tol = scores_guard_tol(_ref_model(ref, hidden, c, params).loss(X), y, TOL_LOSS)
    el = assert_scalar_close(f"loss (reg={reg:.3f})", loss, e_loss, tol)
    eg = _compare_grads(grads, e_grads, params)
    print(f"{layers} hidden layer(s), reg={reg:.3f}: loss error {el:.2e}, worst gradient error "
          f"{eg:.2e}")


@weight(0.5)
def test_fcnet_loss_does_not_modify_inputs_or_params(student, case_rng):
    """loss(X, y) leaves X, y and model.params unchanged."""
    hidden, c, params, X, y = _case(case_rng, 2)
    model = _model(student, hidden, c, params, reg=0.5)
    X_before, y_before = X.copy(), y.copy()
    _loss_and_grads(model, X, y)
    assert_unchanged("loss's X", X_before, X)
    assert_unchanged("loss's y", y_before, y)
    after = model.params
    for name in sorted(params):
        assert_unchanged(f"params[{name!r}] after loss(X, y)", params[name], after[name])


def _masked_reference(ref, params, X, y, reg, multipliers):
    """Loss and gradients of the reference architecture where hidden layer l's ReLU output is
    multiplied by ``multipliers[l-1]`` (the training-time dropout of the student's own layer);
    also returns the class scores (for the loss tolerance)."""
    L = len(params) // 2
    layers = ref.layers
    caches, h = [], X
    for l in range(1, L):
        pre = layers.linear_forward(h, params[f"W{l}"], params[f"b{l}"])
        out = layers.relu_forward(pre) * multipliers[l - 1]
        caches.append((h, pre))
        h = out
    scores = layers.linear_forward(h, params[f"W{L}"], params[f"b{L}"])
    loss, dscores = ref.classifiers.softmax(scores, y)
    loss += 0.5 * reg * sum(float(np.sum(params[f"W{l}"] ** 2)) for l in range(1, L + 1))
    grads = {}
    dh, grads[f"W{L}"], grads[f"b{L}"] = layers.linear_backward(dscores, h, params[f"W{L}"],
                                                               params[f"b{L}"])
    grads[f"W{L}"] = grads[f"W{L}"] + reg * params[f"W{L}"]
    for l in range(L - 1, 0, -1):
        inp, pre = caches[l - 1]
        dpre = layers.relu_backward(dh * multipliers[l - 1], pre)
        dh, dW, grads[f"b{l}"] = layers.linear_backward(dpre, inp, params[f"W{l}"], params[f"b{l}"])
        grads[f"W{l}"] = dW + reg * params[f"W{l}"]
    return loss, grads, scores


@weight(2)
def test_fcnet_with_dropout_applies_it_after_every_hidden_relu_in_training(student, ref, case_rng):
    """Training with dropout and a seed: dropout follows each hidden ReLU (never the scores); loss and gradients."""
    hidden, c, params, X, y = _case(case_rng, 2, n=int(case_rng.integers(6, 10)))
    p = float(case_rng.uniform(0.2, 0.6))
    seed = seed_from(case_rng, nonzero=True)
    reg = float(case_rng.uniform(0.1, 1.0))
    model = _model(student, hidden, c, params, dropout=p, reg=reg, seed=seed)
    loss, grads = _loss_and_grads(model, X.copy(), y.copy())
    # The multiplier the student's own dropout applies to an (N, H) layer for this seed: the
    # output for an input of ones (pre-scaled mask or 0/1 mask times 1/(1-p) alike).
    multipliers = []
    for h in hidden:
        out, _ = student.layers.dropout_forward(np.ones((X.shape[0], h)), p=p, train=True,
                                                seed=seed)
        multipliers.append(assert_shape("dropout_forward's out", out, (X.shape[0], h)))
    e_loss, e_grads, e_scores = _masked_reference(ref, params, X, y, reg, multipliers)
    # an epsilon of at most 1e-10 inside the log is accepted (ASSIGNMENT.md "Numerical guards")
    assert_scalar_close(f"loss with dropout={p:.2f}", loss, e_loss,
                        scores_guard_tol(e_scores, y, TOL_LOSS))
    eg = _compare_grads(grads, e_grads, params)
    print(f"dropout={p:.2f}, seed={seed}: worst gradient error {eg:.2e}")


@weight(1)
def test_fcnet_with_dropout_test_mode_is_deterministic_and_unscaled(student, ref, case_rng):
    """loss(X) of a network with dropout: dropout is off at test time (scores as without dropout, twice the same)."""
    hidden, c, params, X, _ = _case(case_rng, 2)
    p = float(case_rng.uniform(0.3, 0.7))
    model = _model(student, hidden, c, params, dropout=p)
    first = model.loss(X)
    second = model.loss(X)
    expected = _ref_model(ref, hidden, c, params).loss(X)
    assert_close("scores of a network with dropout (test mode)", first, expected, TOL_LOSS,
                 "(N, C); test mode turns dropout off and does not scale")
    assert_close("scores of a second call in test mode", second, to_array(first, "scores"), 0.0,
                 "(N, C); test mode is deterministic")


@weight(0.5)
def test_fcnet_default_float32_network_gives_float32_accurate_results(student, ref, case_rng):
    """With the default dtype (float32) the scores and the loss are accurate to float32 precision."""
    hidden, c, params, X, y = _case(case_rng, 2)
    params32 = {k: v.astype(np.float32) for k, v in params.items()}
    model = student.fcnet.FullyConnectedNet(hidden, input_dim=12, num_classes=c, reg=0.3)
    model.params = params32
    scores = assert_shape("scores (float32 network)", model.loss(X), (X.shape[0], c), "(N, C)")
    loss, _ = _loss_and_grads(model, X, y)
    ref_params = {k: v.astype(np.float64) for k, v in params32.items()}
    expected_scores = _ref_model(ref, hidden, c, ref_params).loss(X)
    e_loss, _ = _ref_model(ref, hidden, c, ref_params, reg=0.3).loss(X, y)
    err = float(np.max(np.abs(scores - expected_scores)) / np.max(np.abs(expected_scores)))
    check(err <= 1e-5, f"scores (float32 network): max error {err:.3g} relative to the largest "
                       f"score (tolerance 1e-05)")
    assert_scalar_close("loss (float32 network)", loss, e_loss, 1e-5)


# ------------------------------------------------------------------------------ scripts
def _dataset_name(config):
    """The assignment's data set (the grader's configuration; digits otherwise)."""
    assignment = getattr(pytest_plugin.backend_of(config), "assignment", None)
    return getattr(assignment, "dataset", None) or os.environ.get("DLKIT_DATASET") or "digits"


@contextlib.contextmanager
def _data_env(name):
    keys = ("DLKIT_DATASET", "DLKIT_DATA_DIR")
    old = {k: os.environ.get(k) for k in keys}
    os.environ["DLKIT_DATASET"] = name
    os.environ["DLKIT_DATA_DIR"] = str(paths.kit_root() / "datasets")
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


_DATA_CACHE = {}


def _trusted_data(ref, name, **kwargs):
    """get_CIFAR10_data(**kwargs) of the configured data set, loaded here (trusted side)."""
    key = (name, tuple(sorted(kwargs.items())))
    if key not in _DATA_CACHE:
        with _data_env(name):
            _DATA_CACHE[key] = ref.utils.data_utils.get_CIFAR10_data(**kwargs)
    return _DATA_CACHE[key]


def _run_script(student, script, seed):
    """Run ``src/<script>.py`` in the sandbox: ``main()`` when it exists, else the module's
    top-level code (old scripts), and return (params, solver or None)."""
    student.seed(seed)
    try:
        student.attr(f"{script}.main")       # imports the module (old scripts train here)
        has_main = True
    except StudentError as exc:
        if exc.type_name != "AttributeError" or "'main'" not in exc.message:
            raise                            # the script itself failed while importing
        has_main = False
    if has_main:
        solver = getattr(student, script).main()
        check(solver is not None,
              f"{script}.main() must return the trained Solver (it returned None)")
        holders = [solver]
    else:
        found = {}
        for name in ("solver", "model"):
            try:
                found[name] = student.attr(f"{script}.{name}")
            except StudentError:
                pass
        check(found, f"src/{script}.py has no main() returning the trained Solver (nor a "
                     f"module-level `solver` or `model`)")
        solver = found.get("solver")
        holders = list(found.values())
    for holder in holders:
        for path in (("model", "params"), ("params",)):
            obj = holder
            try:
                for attr in path:
                    obj = getattr(obj, attr)
            except (StudentError, AttributeError):
                continue
            if isinstance(obj, dict):
                return obj, solver
    raise CheckFailed(f"could not find the trained parameters of src/{script}.py: main() must "
                      f"return the Solver, whose model.params holds W1, b1, ..., WL, bL")


def _accuracy(params, X, y):
    """Accuracy of the network [linear - relu] x (L-1) - linear with ``params`` (trusted side)."""
    L = sum(1 for k in params if k.startswith("W"))
    names = [f"{k}{l}" for l in range(1, L + 1) for k in "Wb"]
    check(L >= 1 and all(k in params for k in names),
          f"the trained model's params have keys {sorted(params)}; expected W1, b1, ..., WL, bL")
    arrays = {k: to_array(params[k], f"params[{k!r}]") for k in names}
    h = X.reshape(X.shape[0], -1)
    for l in range(1, L + 1):
        W, b = arrays[f"W{l}"], arrays[f"b{l}"]
        check(W.ndim == 2 and W.shape[0] == h.shape[1] and b.shape[-1:] == W.shape[1:],
              f"params['W{l}'] has shape {W.shape} and params['b{l}'] {b.shape}: they do not "
              f"fit an input with {h.shape[1]} features")
        h = h @ W + b.reshape(-1)
        if l < L:
            h = np.maximum(h, 0.0)
    return float(np.mean(np.argmax(h, axis=1) == y))


@weight(2)
def test_overfit_fcnet_script_fits_its_50_training_examples(student, ref, case_rng, request):
    """overfit_fcnet: the returned network classifies its 50 training examples 100 % correctly (20 epochs at most)."""
    name = _dataset_name(request.config)
    if name not in VAL_THRESHOLD:
        pytest.skip(f"the scripts are graded on digits or cifar10, not {name!r}")
    params, solver = _run_script(student, "overfit_fcnet", seed_from(case_rng, nonzero=True))
    if solver is not None:
        try:
            epochs = to_scalar(solver.epoch, "solver.epoch")
        except (StudentError, AttributeError):
            epochs = None
        check(epochs is None or epochs <= OVERFIT_EPOCHS,
              f"overfit_fcnet trained for {epochs:g} epochs; the handout asks for 100 % training "
              f"accuracy within {OVERFIT_EPOCHS} epochs")
    # The first 50 training examples of get_CIFAR10_data, with the mean image of the whole
    # training split subtracted (get_CIFAR10_data()) or of those 50 (num_training=50).
    accs = []
    for kwargs in ({}, {"num_training": OVERFIT_EXAMPLES}):
        data = _trusted_data(ref, name, **kwargs)
        accs.append(_accuracy(params, data["X_train"][:OVERFIT_EXAMPLES],
                              data["y_train"][:OVERFIT_EXAMPLES]))
    print("training accuracy of the returned network on the first 50 examples:", accs)
    check(max(accs) >= 1.0,
          f"the network overfit_fcnet returns classifies {max(accs):.2f} of the first "
          f"{OVERFIT_EXAMPLES} training examples of get_CIFAR10_data() correctly; expected 1.0 "
          f"(the Solver restores the parameters with the best validation accuracy: those must "
          f"overfit the 50 examples too)")


@weight(2)
def test_train_fcnet_script_reaches_the_validation_accuracy(student, ref, case_rng, request):
    """train_fcnet: the returned network reaches the required validation accuracy (digits: 90 %)."""
    name = _dataset_name(request.config)
    if name not in VAL_THRESHOLD:
        pytest.skip(f"the scripts are graded on digits or cifar10, not {name!r}")
    params, _ = _run_script(student, "train_fcnet", seed_from(case_rng, nonzero=True))
    data = _trusted_data(ref, name)
    acc = _accuracy(params, data["X_val"], data["y_val"])
    print(f"data set {name}: validation accuracy of the returned network {acc:.4f}")
    check(acc >= VAL_THRESHOLD[name],
          f"the network train_fcnet returns reaches {acc:.3f} validation accuracy on {name}; at "
          f"least {VAL_THRESHOLD[name]} is required")
