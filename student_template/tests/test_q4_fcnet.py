"""Q4: FullyConnectedNet (src/fcnet.py) and the scripts overfit_fcnet.py / train_fcnet.py.

The handout's sanity checks (``test/test_fcnet.py``: initial losses of a small network for
reg = 0 and 3.14 and gradient checks, relative errors "around 1e-6 or less"), with the initial
losses pinned at full precision, plus the two training scripts. The initial-loss values assume
the documented initialisation: ``W_l = weight_scale * np.random.randn(in, out)`` for
l = 1, 2, 3 in this order, zero biases. Run with ``pytest -s`` to see the numbers.
"""
import time

import numpy as np
import pytest

from autograder.student import StudentError
from autograder.testkit import (CheckFailed, assert_close, assert_param_gradients,
                                assert_scalar_close, assert_shape, log_guard_tol, self_check,
                                to_array,
                                to_scalar)

pytestmark = pytest.mark.question("Q4")

N, D, H1, H2, C = 2, 15, 20, 30, 10
INITIAL_LOSS = {0.0: 2.3004790897684924, 3.14: 7.052114776533016}
# The handout: "relative errors should be around 1e-6 or less". Most are; a few tiny weight
# gradients (~1e-6 in size) reach ~2e-5 from the rounding of centred differences (CS231n:
# "fine ... to see an error for W2 on the order of e-5 ... when reg = 0.0"), so the check
# allows 1e-4 -- a wrong gradient is off by far more.
GRAD_TOL = 1e-4
VAL_THRESHOLD = {"digits": 0.90, "cifar10": 0.45}


def _handout_model(student, reg, **kwargs):
    """The handout's data and model: seed 231 draws X, y, then the weights continue the
    stream (for reg=3.14 after the reg=0 model's weights, as the handout's loop does)."""
    rs = np.random.RandomState(231)
    X = rs.randn(N, D)
    y = rs.randint(C, size=(N,))
    if reg != 0.0:  # skip the draws of the first model (reg = 0) of the handout's loop
        rs.randn(D, H1), rs.randn(H1, H2), rs.randn(H2, C)
    student.seed(rs.get_state())
    model = student.fcnet.FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg,
                                            weight_scale=5e-2, dtype=np.float64, **kwargs)
    return model, X, y


def _check_grads(model, X, y, tol):
    """grads of model.loss(X, y) against centred differences of its loss (float64, h = 1e-5):
    first along a few random directions per parameter, then, for any parameter that does not
    clearly pass those, entry by entry (which decides; testkit.assert_param_gradients)."""
    loss, grads = model.loss(X, y)
    params = model.params
    if set(grads) != set(params):
        raise CheckFailed(f"grads has keys {sorted(grads)}; expected the keys of params "
                          f"{sorted(params)}")
    errors = assert_param_gradients(model.loss, (X, y), grads, tol, index=0)
    for name, e in sorted(errors.items()):
        print("%s relative error: %.2e" % (name, e))
    return loss


def test_fcnet_params_have_documented_keys_shapes_and_dtypes(student):
    model = student.fcnet.FullyConnectedNet([H1, H2], input_dim=D, num_classes=C,
                                            weight_scale=5e-2, dtype=np.float64)
    params = model.params
    expected = {"W1": (D, H1), "b1": (H1,), "W2": (H1, H2), "b2": (H2,), "W3": (H2, C),
                "b3": (C,)}
    if set(params) != set(expected):
        raise CheckFailed(f"params has keys {sorted(params)}; expected {sorted(expected)}")
    for name, shape in expected.items():
        value = params[name]
        assert_shape(f"params[{name!r}]", value, shape)
        if getattr(value, "dtype", None) != np.float64:
            raise CheckFailed(f"params[{name!r}] has dtype {getattr(value, 'dtype', None)}; "
                              f"expected float64 (the dtype argument)")
        if name.startswith("b"):
            assert_close(f"params[{name!r}]", value, np.zeros(shape), 0.0, "biases start at 0")
    default = student.fcnet.FullyConnectedNet([H1], input_dim=D, num_classes=C).params
    if getattr(default["W1"], "dtype", None) != np.float32:
        raise CheckFailed("with the default dtype, params['W1'] should be float32")


@self_check("the golden depends on weight_scale * randn initialisation; ASSIGNMENT.md "
            "§Q4 \"Initialisation\" also allows Xavier, so it carries no points when grading")
@pytest.mark.parametrize("reg", [0.0, 3.14])
def test_fcnet_initial_loss_matches_expected_value(student, reg):
    model, X, y = _handout_model(student, reg)
    loss, _ = model.loss(X, y)
    print("Running check with reg =", reg)
    print("Initial loss:", to_scalar(loss, "loss"))
    # small initial weights give every class a probability near 1/C = 0.1; an epsilon of at most
    # 1e-10 inside the log is accepted (ASSIGNMENT.md "Numerical guards"), bounded here for
    # true-class probabilities of at least 0.05
    assert_scalar_close(f"initial loss (reg={reg})", loss, INITIAL_LOSS[reg],
                        log_guard_tol(np.full(N, 0.05), 1e-10))


@pytest.mark.parametrize("reg", [0.0, 3.14])
def test_fcnet_gradients_match_numerical_gradients(student, reg):
    model, X, y = _handout_model(student, reg)
    print("Running check with reg =", reg)
    _check_grads(model, X, y, GRAD_TOL)


def test_fcnet_with_dropout_gradients_match_numerical_gradients(student):
    # A seed makes every dropout call draw the same mask, so the loss is deterministic.
    model, X, y = _handout_model(student, 0.7, dropout=0.25, seed=123)
    print("Running check with dropout = 0.25, reg = 0.7")
    _check_grads(model, X, y, GRAD_TOL)


def test_fcnet_test_mode_returns_deterministic_scores_without_dropout(student):
    rs = np.random.RandomState(0)
    X = rs.randn(6, 3, 2, 2)      # an N-d input is flattened to (N, 12)
    plain = student.fcnet.FullyConnectedNet([9, 7], input_dim=12, num_classes=4,
                                            weight_scale=0.5, dtype=np.float64)
    params = plain.params
    with_dropout = student.fcnet.FullyConnectedNet([9, 7], input_dim=12, num_classes=4,
                                                   dropout=0.5, dtype=np.float64)
    with_dropout.params = params
    scores = assert_shape("scores", plain.loss(X), (6, 4), "(N, C) when y is None")
    first = with_dropout.loss(X)
    second = with_dropout.loss(X)
    assert_close("scores of a network with dropout (test mode)", first, scores, 1e-12,
                 "(N, C); test mode turns dropout off")
    assert_close("scores of a second call in test mode", second, to_array(first, "scores"),
                 0.0, "(N, C); test mode is deterministic")


def _accuracy(model, X, y, batch=500):
    preds = []
    for start in range(0, len(X), batch):
        scores = to_array(model.loss(X[start:start + batch]), "scores")
        preds.append(np.argmax(scores, axis=1))
    return float(np.mean(np.concatenate(preds) == y))


def _trained_solver(student, script):
    """The Solver a training script leaves: ``main()``'s return value, or for an old script
    without ``main()`` its module-level ``solver`` (importing it runs it; ASSIGNMENT.md
    §Q4 "Scripts")."""
    try:
        return getattr(student, script).main()
    except (AttributeError, StudentError) as exc:
        if "main" not in str(exc):           # the script has no main() (either backend's message)
            raise
    return student.attr(f"{script}.solver")


def test_overfit_fcnet_reaches_full_training_accuracy_within_20_epochs(student):
    student.seed(0)
    t0 = time.time()
    solver = _trained_solver(student, "overfit_fcnet")
    seconds = time.time() - t0
    X_train = to_array(solver.X_train, "solver.X_train")
    y_train = to_array(solver.y_train, "solver.y_train").astype(np.int64)
    history = [to_scalar(a, "train_acc_history entry") for a in solver.train_acc_history]
    print("training examples:", len(X_train), "- seconds:", round(seconds, 2))
    print("train_acc_history:", [round(a, 3) for a in history])
    if len(X_train) != 50:
        raise CheckFailed(f"the Solver trained on {len(X_train)} examples; the overfitting "
                          f"check uses 50 training examples")
    reached = [i for i, a in enumerate(history) if a >= 1.0]
    if not reached or reached[0] > 20:
        raise CheckFailed("training accuracy never reached 100 % within 20 epochs "
                          f"(best {max(history, default=0.0):.3f}); tune the learning rate "
                          f"and weight_scale")
    acc = _accuracy(solver.model, X_train, y_train)
    print("training accuracy of the returned model:", acc)
    if acc < 1.0:
        raise CheckFailed(f"the parameters left in solver.model classify {acc:.3f} of the 50 "
                          f"training examples correctly; expected 1.0 (the Solver restores the "
                          f"parameters with the best validation accuracy: make sure those "
                          f"overfit the 50 examples too)")


def test_train_fcnet_reaches_validation_accuracy(student):
    name = student.utils.data_utils.configured_dataset()
    if name not in VAL_THRESHOLD:
        pytest.skip(f"no validation threshold for data set {name!r}")
    data = student.utils.data_utils.get_CIFAR10_data()
    X_val = to_array(data["X_val"], "X_val")
    y_val = to_array(data["y_val"], "y_val").astype(np.int64)
    student.seed(0)
    t0 = time.time()
    solver = _trained_solver(student, "train_fcnet")
    seconds = time.time() - t0
    acc = _accuracy(solver.model, X_val, y_val)
    print("data set:", name, "- validation accuracy: %.4f" % acc,
          "- seconds:", round(seconds, 2))
    if acc < VAL_THRESHOLD[name]:
        raise CheckFailed(f"the network train_fcnet.main() returns reaches {acc:.3f} validation "
                          f"accuracy on {name}; at least {VAL_THRESHOLD[name]} is required")
