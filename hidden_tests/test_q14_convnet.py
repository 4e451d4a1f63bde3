"""Q14 hidden tests: the three-layer ConvNet (numerics.md §4.5 N1-N10 as they apply, §6).

Every value check sets ``params`` explicitly (non-zero biases, scores of both signs, reg > 0,
N > 1), builds the model with ``dtype=np.float64`` and compares with the reference model given
the same parameters on the trusted side; gradients are compared with the reference gradients
and with centred differences of the reference loss.  Shapes come from ``case_rng`` (odd and
non-square inputs, filter sizes 3 and 5, so the conv padding ``(filter_size - 1) // 2`` is 1
or 2).  The default float32 model is checked with float32 tolerances (ASSIGNMENT.md
§"Conventions").  ReLU and max-pooling commute, so pooling before the ReLU is accepted.
"""
import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import partial_credit, weight

from autograder.testkit import (CheckFailed, PartialCredit, assert_close, assert_close_floored,
                                assert_close_to_numerical, assert_scalar_close, assert_shape,
                                assert_unchanged, numerical_gradient, scores_guard_tol,
                                softmax_guard_gradient_slack, softmax_with_denominator_guard)

pytestmark = pytest.mark.question("Q14")

PARAM_NAMES = ("W1", "b1", "W2", "b2", "W3", "b3")
TOL_VALUE = 1e-10
TOL_GRAD = 1e-7        # against the reference gradient
TOL_NUM = 1e-5         # against centred differences of the reference loss


def _config(rng, filter_size):
    """Keyword arguments of a small ConvNet with an odd, possibly non-square input."""
    C = int(rng.integers(1, 4))
    H, W = (int(v) for v in rng.integers(5, 9, size=2))
    return dict(input_dim=(C, H, W), num_filters=int(rng.integers(2, 5)),
                filter_size=filter_size, hidden_dim=int(rng.integers(4, 8)),
                num_classes=int(rng.integers(3, 6)))


def _case(ref, rng, filter_size, reg, n=3):
    """(config, params, X, y): explicit float64 params of the reference's shapes with non-zero
    biases; X, y of N = n examples.  Scores come out with both signs."""
    config = _config(rng, filter_size)
    shapes = {k: np.shape(v) for k, v in ref.convnet.ConvNet(**config).params.items()}
    params = {}
    for name in PARAM_NAMES:
        shape = shapes[name]
        if name.startswith("W"):
            fan_in = int(np.prod(shape[1:])) if name == "W1" else shape[0]
            params[name] = rng.normal(size=shape) * (1.5 / np.sqrt(fan_in))
        else:
            params[name] = rng.normal(size=shape) * 0.5 + 0.2
    X = rng.normal(size=(n, *config["input_dim"]))
    y = rng.integers(0, config["num_classes"], size=n)
    # Shift b3 so that class 0's scores are all negative and class 1's all positive (N6).
    reference = ref.convnet.ConvNet(**config, dtype=np.float64)
    reference.params = {k: v.copy() for k, v in params.items()}
    scores = reference.loss(X)
    params["b3"][0] -= scores[:, 0].max() + 0.5
    params["b3"][1] -= scores[:, 1].min() - 0.5
    config["reg"] = reg
    return config, params, X, y


def _models(student, ref, config, params, dtype=np.float64):
    """(student model, reference model) with the same explicit params."""
    model = student.convnet.ConvNet(**config, dtype=dtype)
    model.params = {k: v.astype(dtype) for k, v in params.items()}
    reference = ref.convnet.ConvNet(**config, dtype=np.float64)
    reference.params = {k: v.astype(dtype).astype(np.float64) for k, v in params.items()}
    return model, reference


def _check_keys(grads):
    """grads must be a dict with exactly the keys of params."""
    keys = sorted(map(str, grads)) if isinstance(grads, dict) else None
    if keys != sorted(PARAM_NAMES):
        raise CheckFailed(f"grads must be a dict with exactly the keys of params "
                          f"{sorted(PARAM_NAMES)}; got "
                          f"{keys if keys is not None else type(grads).__name__}")


def _loss_and_grads(value):
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise CheckFailed("loss(X, y) must return a tuple (loss, grads)")
    loss, grads = value
    _check_keys(grads)
    return loss, grads


@weight(1.5)
@pytest.mark.parametrize("filter_size", [3, 5])
def test_scores_match_reference_with_explicit_params(student, ref, case_rng, filter_size):
    """loss(X) returns the class scores of conv-relu-pool-linear-relu-linear (no ReLU on the scores)."""
    config, params, X, _ = _case(ref, case_rng, filter_size, reg=0.0)
    model, reference = _models(student, ref, config, params)
    expected = reference.loss(X)
    scores = model.loss(X.copy())
    err = assert_close("scores (test mode: loss(X))", scores, expected, TOL_VALUE,
                       "(N, num_classes): the last linear layer's output")
    print(f"scores (filter_size={filter_size}) relative error:", err)


@weight(1.5)
@pytest.mark.parametrize("filter_size", [3, 5])
def test_loss_with_regularisation_and_nonzero_biases(student, ref, case_rng, filter_size):
    """loss(X, y): mean cross-entropy plus 0.5*reg*sum(W**2) over W1, W2, W3 only (not biases)."""
    config, params, X, y = _case(ref, case_rng, filter_size, reg=0.37)
    model, reference = _models(student, ref, config, params)
    expected, _ = reference.loss(X, y)
    loss, _ = _loss_and_grads(model.loss(X.copy(), y.copy()))
    # an epsilon of at most 1e-10 inside the log is accepted (ASSIGNMENT.md "Numerical guards")
    tol = scores_guard_tol(reference.loss(X), y, TOL_VALUE)
    err = assert_scalar_close("loss (reg=0.37)", loss, float(expected), tol)
    print(f"loss (filter_size={filter_size}) relative error:", err)


@partial_credit(2)
@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_gradients_match_reference_and_numerical_gradients(student, ref, case_rng, reg, monkeypatch,
                                                           set_score=None):
    """loss(X, y): grads has exactly the keys of params, each of its shape, matching the gradient."""
    config, params, X, y = _case(ref, case_rng, int(case_rng.choice([3, 5])), reg=reg)
    model, reference = _models(student, ref, config, params)
    credit = PartialCredit(set_score)
    _, grads = _loss_and_grads(model.loss(X.copy(), y.copy()))
    _, expected = reference.loss(X, y)
    # an epsilon of at most 1e-10 in the softmax's denominator is accepted (ASSIGNMENT.md
    # "Numerical guards"): what it moves, computed exactly through the reference network
    # (the flake audit saw 4.5e-7 against 1e-7 on one entry of grads['W2'])
    classifiers = ref.attr("convnet.classifiers")
    with monkeypatch.context() as patch:
        patch.setattr(classifiers, "softmax", softmax_with_denominator_guard(classifiers.softmax))
        _, guarded = reference.loss(X, y)
    slack = softmax_guard_gradient_slack(expected, guarded)
    ref_params = reference.params      # the very arrays centred differences perturb

    def loss_at(_):
        return float(reference.loss(X, y)[0])

    for name in PARAM_NAMES:
        with credit.part(2.0 / len(PARAM_NAMES)):
            value = assert_shape(f"grads['{name}']", grads[name], params[name].shape,
                                 f"the shape of params['{name}']")
            # entries below 1e-5 of the largest are compared absolutely: summation order alone
            # left 1.6e-7 on an entry just above 1e-6 of it (1 run in 450 of the flake audit)
            err = assert_close_floored(f"grads['{name}']", value, expected[name], TOL_GRAD, 1e-5,
                                       slack=slack[name])
            numeric = numerical_gradient(loss_at, ref_params[name])
            assert_close_to_numerical(f"grads['{name}'] (vs centred differences)", value,
                                      numeric, TOL_NUM)
            print(f"{name} max relative error: {err:e}")
    credit.finish()


@weight(1)
def test_test_mode_returns_the_same_scores_on_every_call(student, ref, case_rng):
    """loss(X) and loss(X, None) return the same (N, C) scores on every call."""
    config, params, X, _ = _case(ref, case_rng, 3, reg=0.2, n=4)
    model, reference = _models(student, ref, config, params)
    expected = reference.loss(X)
    first = model.loss(X.copy())
    second = model.loss(X.copy(), None)
    for name, value in (("scores from loss(X)", first), ("scores from loss(X, None)", second)):
        assert_close(name, value, expected, TOL_VALUE, "(N, num_classes)")


@weight(0.5)
def test_loss_leaves_inputs_and_params_unchanged(student, ref, case_rng):
    """loss(X, y) modifies neither X, y nor the parameters."""
    config, params, X, y = _case(ref, case_rng, 5, reg=0.1)
    model, _ = _models(student, ref, config, params)
    X0, y0 = X.copy(), y.copy()
    model.loss(X, y)
    assert_unchanged("loss's X", X0, X)
    assert_unchanged("loss's y", y0.astype(np.float64), y)
    after = model.params
    for name in PARAM_NAMES:
        assert_unchanged(f"params['{name}'] after loss", params[name], after[name])


@partial_credit(1.5)
def test_default_float32_model_matches_to_float32_tolerance(student, ref, case_rng, set_score=None):
    """The default float32 model: float32 params, and scores, loss and grads to float32 accuracy."""
    config, params, X, y = _case(ref, case_rng, 3, reg=0.25)
    set_score(0.0)
    init = student.convnet.ConvNet(**config)
    init_params = init.params
    for name in PARAM_NAMES:
        value = init_params[name]
        if not isinstance(value, np.ndarray) or value.dtype != np.float32:
            raise CheckFailed(f"params['{name}'] of ConvNet() (default dtype) should be float32, "
                              f"got {getattr(value, 'dtype', type(value).__name__)}")
    model, reference = _models(student, ref, config, params, dtype=np.float32)
    X32 = X.astype(np.float32)
    assert_close_floored("scores (float32 model)", model.loss(X32.copy()),
                          reference.loss(X32.astype(np.float64)), 1e-4, 1e-3)
    set_score(0.5)
    loss, grads = _loss_and_grads(model.loss(X32.copy(), y.copy()))
    expected_loss, expected = reference.loss(X32.astype(np.float64), y)
    # float32 accuracy, and what an epsilon of at most 1e-10 inside the log moves (the flake
    # audit saw 3.9e-5 for a guarded softmax on a true-class probability of the order 1e-6)
    tol = scores_guard_tol(reference.loss(X32.astype(np.float64)), y, 1e-5)
    assert_scalar_close("loss (float32 model)", loss, float(expected_loss), tol)
    set_score(1.0)
    for name in PARAM_NAMES:
        assert_close_floored(f"grads['{name}'] (float32 model)", grads[name], expected[name],
                              1e-3, 1e-3)
    set_score(1.5)
