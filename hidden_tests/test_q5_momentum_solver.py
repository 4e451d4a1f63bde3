"""Q5 hidden tests: SGD with momentum and the Solver's early stopping (numerics.md §1.5, §1.6,
§4.6 O1-O12, §6; ASSIGNMENT.md §Q5 "Early-stopping rule in detail").

``sgd_momentum`` is checked against the update written out here (``v = momentum*v -
learning_rate*dw``, ``next_w = w + v``) from random non-zero velocities, over several steps and
with the defaults; it may update ``w`` in place (ASSIGNMENT.md §Q5 "Conventions and accepted alternatives").

The Solver (the student's ``solver.py``: it holds the ``patience`` region) trains tiny
FullyConnectedNets (Q5 calls Q4's network) whose parameters are set explicitly, on data sets
whose validation accuracy is flat (learning rate 0), falls (training labels contradict the
validation labels) or rises in steps (a 1-D threshold moving across the validation points).
The early-stopping checks hold for ANY validation history: the test replays the rule of
ASSIGNMENT.md §Q5 "Early-stopping rule in detail" on the history the Solver recorded (the first check sets the first best, only a
strictly higher accuracy improves, training stops once ``patience`` consecutive epoch-end
checks have not improved it) and checks that training stopped exactly there; the accuracy of
the parameters left in the model is recomputed here with the reference network.
"""
import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import weight

from autograder.testkit import (CheckFailed, assert_close, assert_scalar_close, assert_shape,
                                assert_unchanged, check, raises, to_array, to_scalar)

pytestmark = pytest.mark.question("Q5")


# ------------------------------------------------------------------------------ sgd_momentum
def _momentum_step(w, dw, v, lr, mu):
    v = mu * v - lr * dw
    return w + v, v


def _sgd_momentum(student, w, dw, config):
    got = student.utils.optim.sgd_momentum(w, dw, config)
    check(isinstance(got, (tuple, list)) and len(got) == 2,
          "sgd_momentum must return a tuple (next_w, config)")
    next_w, config = got
    check(isinstance(config, dict) and "velocity" in config,
          "sgd_momentum must return (next_w, config) with the new velocity in config['velocity']")
    return next_w, config


@weight(1)
@pytest.mark.parametrize("shape", [(4, 6), (3, 2, 5)])
def test_sgd_momentum_update_from_a_random_velocity(student, case_rng, shape):
    """sgd_momentum from a non-zero velocity with given learning_rate and momentum: next_w and the new velocity."""
    w, dw, v = (case_rng.normal(size=shape) for _ in range(3))
    lr, mu = float(case_rng.uniform(1e-3, 1e-1)), float(case_rng.uniform(0.5, 0.99))
    config = {"learning_rate": lr, "momentum": mu, "velocity": v.copy()}
    next_w, config = _sgd_momentum(student, w.copy(), dw.copy(), config)
    e_w, e_v = _momentum_step(w, dw, v, lr, mu)
    ew = assert_close("next_w", next_w, e_w, 1e-12, "the shape of w: next_w = w + v")
    ev = assert_close("config['velocity']", config["velocity"], e_v, 1e-12,
                      "the shape of w: v = momentum * v - learning_rate * dw")
    assert_scalar_close("config['learning_rate'] after the step", config["learning_rate"], lr, 0.0)
    assert_scalar_close("config['momentum'] after the step", config["momentum"], mu, 0.0)
    print("next_w error:", ew, "- velocity error:", ev)


@weight(0.75)
def test_sgd_momentum_several_steps_with_default_momentum(student, case_rng):
    """Three steps from a config with only a learning rate: default momentum 0.9, zero initial velocity, velocity carried over."""
    shape = (int(case_rng.integers(2, 6)), int(case_rng.integers(2, 6)))
    w = case_rng.normal(size=shape)
    lr = float(case_rng.uniform(1e-2, 1e-1))
    config = {"learning_rate": lr}
    current, e_w, e_v = w.copy(), w.copy(), np.zeros(shape)
    for step in range(1, 4):
        dw = case_rng.normal(size=shape)
        next_w, config = _sgd_momentum(student, current, dw, config)
        current = to_array(next_w, "next_w")
        e_w, e_v = _momentum_step(e_w, dw, e_v, lr, 0.9)
        assert_close(f"next_w after step {step}", next_w, e_w, 1e-12, "the shape of w")
        assert_close(f"config['velocity'] after step {step}", config["velocity"], e_v, 1e-12,
                     "the shape of w")
    assert_scalar_close("config['momentum'] default", config["momentum"], 0.9, 0.0)


@weight(0.5)
def test_sgd_momentum_defaults_when_config_is_none(student, case_rng):
    """sgd_momentum(w, dw) without a config: learning_rate 1e-2, momentum 0.9, zero velocity."""
    w, dw = case_rng.normal(size=(3, 4)), case_rng.normal(size=(3, 4))
    got = student.utils.optim.sgd_momentum(w.copy(), dw.copy())
    check(isinstance(got, (tuple, list)) and len(got) == 2,
          "sgd_momentum must return a tuple (next_w, config)")
    next_w, config = got
    assert_close("next_w (config=None)", next_w, w - 1e-2 * dw, 1e-12, "the shape of w")
    check(isinstance(config, dict), "sgd_momentum must return the config dict it used")
    assert_scalar_close("config['learning_rate'] default", config["learning_rate"], 1e-2, 0.0)
    assert_scalar_close("config['momentum'] default", config["momentum"], 0.9, 0.0)


@weight(0.25)
def test_sgd_momentum_does_not_modify_dw(student, case_rng):
    """sgd_momentum leaves dw unchanged (only w may be updated in place)."""
    w, dw, v = (case_rng.normal(size=(4, 3)) for _ in range(3))
    dw_before = dw.copy()
    config = {"learning_rate": 0.05, "momentum": 0.8, "velocity": v}
    _sgd_momentum(student, w, dw, config)
    assert_unchanged("sgd_momentum's dw", dw_before, dw)


# ------------------------------------------------------------------------------ Solver data
# Falling: the validation labels are the opposite of the training labels, and the network
# starts from parameters that classify the validation set perfectly.
X4 = np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, -2.0]])
Y4_VAL = np.array([0, 1, 0, 1])
FALL = {
    "data": {"X_train": X4, "y_train": 1 - Y4_VAL, "X_val": X4, "y_val": Y4_VAL},
    "hidden": [4], "input_dim": 2, "lr": 0.4, "batch_size": 2,
    "params": {"W1": np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]]), "b1": np.zeros(4),
               "W2": np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]),
               "b2": np.zeros(2)},
}
# Rising: 1-D inputs, every label 1; the network starts with score(1) - score(0) = x - 1, and
# training moves that threshold down across the validation points, one or none per epoch.
X_VAL_1D = np.array([0.95, 0.75, 0.45, -0.25, -0.6, -0.9])[:, None]
RISE = {
    "data": {"X_train": np.linspace(-1.0, 1.0, 8)[:, None], "y_train": np.ones(8, dtype=np.int64),
             "X_val": X_VAL_1D, "y_val": np.ones(len(X_VAL_1D), dtype=np.int64)},
    "hidden": [2], "input_dim": 1, "lr": 0.05, "batch_size": 2,
    "params": {"W1": np.array([[1.0, -1.0]]), "b1": np.zeros(2),
               "W2": np.array([[0.0, 1.0], [0.0, -1.0]]), "b2": np.array([1.0, 0.0])},
}


def _iterations_per_epoch(setup):
    return max(len(setup["data"]["X_train"]) // setup["batch_size"], 1)


def _train(student, setup, seed, update_rule="sgd", **kwargs):
    """Train a student FullyConnectedNet from ``setup['params']`` with the student's Solver."""
    model = student.fcnet.FullyConnectedNet(setup["hidden"], input_dim=setup["input_dim"],
                                            num_classes=2, dtype=np.float64)
    model.params = {k: v.copy() for k, v in setup["params"].items()}
    kwargs.setdefault("optim_config", {"learning_rate": setup["lr"]})
    student.seed(seed)                   # the minibatches (drawn with replacement)
    solver = student.utils.solver.Solver(model, setup["data"], update_rule=update_rule,
                                         batch_size=setup["batch_size"], verbose=False, **kwargs)
    solver.train()
    return solver, model


def _histories(solver):
    """(val_acc_history, number of iterations, epoch) as recorded by the Solver."""
    val = [to_scalar(a, "val_acc_history entry") for a in solver.val_acc_history]
    train = list(solver.train_acc_history)
    iterations = len(solver.loss_history)
    epoch = to_scalar(solver.epoch, "solver.epoch")
    print("val_acc_history:", [round(a, 3) for a in val], "- iterations:", iterations,
          "- epoch:", epoch)
    check(len(train) == len(val),
          f"train_acc_history has {len(train)} entries and val_acc_history {len(val)}; both "
          f"hold one entry per accuracy check")
    return val, iterations, epoch


def _val_accuracy(ref, setup, params):
    """Validation accuracy of ``params`` with the reference network (trusted side)."""
    net = ref.fcnet.FullyConnectedNet(setup["hidden"], input_dim=setup["input_dim"],
                                      num_classes=2, dtype=np.float64)
    net.params = {k: to_array(params[k], f"model.params[{k!r}]") for k in setup["params"]}
    scores = net.loss(setup["data"]["X_val"])
    return float(np.mean(np.argmax(scores, axis=1) == setup["data"]["y_val"]))


def _check_best_restored(ref, setup, solver, model, val):
    """The model ends with the parameters of the best check (a snapshot, not a live view)."""
    params = model.params
    check(isinstance(params, dict) and set(params) == set(setup["params"]),
          "after train() model.params must hold W1, b1, W2, b2")
    acc = _val_accuracy(ref, setup, params)
    print("validation accuracy of the final model:", acc, "- best in history:", max(val))
    check(acc == max(val),
          f"after train() the model's validation accuracy is {acc}, but the best check had "
          f"{max(val)}: the Solver must restore a COPY of the best parameters (an in-place "
          f"update rule such as sgd changes the arrays it was given)")
    best = solver.best_params
    for k in sorted(setup["params"]):
        assert_close(f"model.params[{k!r}] after train()", params[k], best[k], 0.0,
                     "model.params must hold solver.best_params at the end")


def _expected_checks(val, patience, num_epochs):
    """Number of accuracy checks the patience rule allows for this history (ASSIGNMENT.md §Q5 "Early-stopping rule in detail")."""
    best, stale = val[0], 0
    for i, acc in enumerate(val[1:], start=1):
        if acc > best:
            best, stale = acc, 0
        else:
            stale += 1
        if patience is not None and stale >= patience:
            return i + 1
    return num_epochs + 1


def _check_stopping(setup, solver, patience, num_epochs):
    val, iterations, epoch = _histories(solver)
    checks = len(val)
    expected = _expected_checks(val, patience, num_epochs)
    if checks > expected:
        raise CheckFailed(
            f"patience={patience}: val_acc_history {val} reaches {patience} consecutive epoch(s) "
            f"without a strictly higher validation accuracy than the best so far at check "
            f"{expected - 1}, but training went on (the first check, at iteration 0, sets the "
            f"first best; an equal accuracy is not an improvement)")
    if checks < expected:
        raise CheckFailed(
            f"patience={patience}: training stopped after val_acc_history {val}, before "
            f"{patience} consecutive epoch-end checks without improvement (an epoch improves "
            f"when its validation accuracy is strictly higher than the best so far; the counter "
            f"restarts then)")
    check(epoch == checks - 1,
          f"solver.epoch is {epoch:g} after {checks} accuracy checks; expected one check per "
          f"finished epoch after the first check")
    ipe = _iterations_per_epoch(setup)
    check(iterations == (checks - 1) * ipe,
          f"loss_history has {iterations} entries after {checks - 1} epochs of {ipe} "
          f"iterations: training must stop right after the epoch-end check that triggers it")
    return val


# ------------------------------------------------------------------------------ given Solver
@weight(0.75)
@pytest.mark.parametrize("seed", [0, 6])
def test_solver_restores_a_copy_of_the_best_params_with_in_place_sgd(student, ref, seed):
    """Without patience: all epochs run and the model ends with a snapshot of the best parameters (in-place sgd)."""
    num_epochs = 6
    solver, model = _train(student, FALL, seed, num_epochs=num_epochs)
    val, iterations, _ = _histories(solver)
    check(len(val) == num_epochs + 1,
          f"{len(val)} accuracy checks in {num_epochs} epochs; expected one at the first "
          f"iteration and one at the end of every epoch")
    _check_best_restored(ref, FALL, solver, model, val)


@weight(0.5)
@pytest.mark.parametrize("update_rule", ["sgd", "sgd_momentum"])
def test_solver_decays_each_parameters_learning_rate_once_per_epoch(student, case_rng, update_rule):
    """lr_decay multiplies every parameter's own learning rate once per epoch (configs are per parameter)."""
    num_epochs = int(case_rng.integers(2, 5))
    decay = float(case_rng.uniform(0.3, 0.9))
    lr = RISE["lr"]
    solver, _ = _train(student, RISE, int(case_rng.integers(1, 2**31 - 1)), update_rule,
                       num_epochs=num_epochs, lr_decay=decay)
    configs = solver.optim_configs
    check(isinstance(configs, dict) and set(configs) == set(RISE["params"]),
          f"solver.optim_configs must hold one config per parameter ({sorted(RISE['params'])})")
    for k in sorted(configs):
        assert_scalar_close(f"optim_configs[{k!r}]['learning_rate'] after {num_epochs} epochs",
                            configs[k]["learning_rate"], lr * decay ** num_epochs, 1e-12)
        if update_rule == "sgd_momentum":
            assert_shape(f"optim_configs[{k!r}]['velocity']", configs[k]["velocity"],
                         RISE["params"][k].shape, f"the shape of params[{k!r}]")


@weight(0.5)
@pytest.mark.parametrize("batch_size", [2, 3])
def test_solver_histories_have_one_entry_per_iteration_and_per_check(student, case_rng, batch_size):
    """Without patience: loss_history per iteration; accuracy checks at the first iteration and every epoch end."""
    num_epochs = int(case_rng.integers(2, 6))
    setup = dict(RISE, batch_size=batch_size)
    solver, _ = _train(student, setup, int(case_rng.integers(1, 2**31 - 1)), num_epochs=num_epochs)
    val, iterations, epoch = _histories(solver)
    ipe = _iterations_per_epoch(setup)
    check(iterations == num_epochs * ipe,
          f"loss_history has {iterations} entries; expected one per iteration "
          f"({num_epochs} epochs of {len(setup['data']['X_train'])} // {batch_size} iterations)")
    check(len(val) == num_epochs + 1,
          f"{len(val)} accuracy checks in {num_epochs} epochs; expected one at the first "
          f"iteration and one at the end of every epoch")
    check(epoch == num_epochs, f"solver.epoch is {epoch:g} after {num_epochs} epochs")


@weight(0)
def test_solver_rejects_unknown_arguments_update_rules_and_patience(student):
    """Solver raises ValueError for an unknown keyword, an unknown update rule and patience < 1.

    No points: these checks are given code (ASSIGNMENT.md "Given code inside student files"); a
    Solver written from scratch with the ``patience`` rule may leave them out."""
    model = student.fcnet.FullyConnectedNet([4], input_dim=2, num_classes=2, dtype=np.float64)
    data = FALL["data"]
    for kwargs in ({"learning_rate": 0.1}, {"update_rule": "sgd_nesterov"}, {"patience": -1}):
        with raises("ValueError"):
            student.utils.solver.Solver(model, data, verbose=False, **kwargs)


# ------------------------------------------------------------------------------ patience
@weight(0.75)
@pytest.mark.parametrize("patience", [1, 2, 4])
def test_solver_patience_stops_exactly_patience_epochs_into_a_flat_accuracy(student, ref, case_rng,
                                                                             patience):
    """Learning rate 0 (flat validation accuracy): training stops after exactly `patience` epochs."""
    num_epochs = patience + 4
    solver, model = _train(student, RISE, int(case_rng.integers(1, 2**31 - 1)),
                           num_epochs=num_epochs, patience=patience,
                           optim_config={"learning_rate": 0.0})
    val = _check_stopping(RISE, solver, patience, num_epochs)
    check(len(val) == patience + 1,
          f"patience={patience}: {len(val)} accuracy checks on a flat validation accuracy; "
          f"equal accuracies never improve, so training stops {patience} epoch(s) after the "
          f"first check")
    params = model.params
    for k in sorted(RISE["params"]):
        assert_unchanged(f"model.params[{k!r}] (learning rate 0)", RISE["params"][k], params[k])


@weight(1)
@pytest.mark.parametrize("patience, seed", [(2, 0), (2, 7), (3, 1), (3, 4)])
def test_solver_patience_on_a_rising_validation_accuracy(student, ref, patience, seed):
    """Rising accuracy with plateaus: the counter restarts at each improvement; stop `patience` epochs after the last."""
    num_epochs = 14
    solver, model = _train(student, RISE, seed, num_epochs=num_epochs, patience=patience)
    val = _check_stopping(RISE, solver, patience, num_epochs)
    _check_best_restored(ref, RISE, solver, model, val)


@weight(1)
@pytest.mark.parametrize("patience, seed", [(1, 3), (2, 5), (2, 0), (3, 10)])
def test_solver_patience_on_a_falling_validation_accuracy_restores_the_best(student, ref, patience,
                                                                           seed):
    """Falling accuracy: training stops `patience` epochs after the best check and the best parameters are restored."""
    num_epochs = 12
    solver, model = _train(student, FALL, seed, num_epochs=num_epochs, patience=patience)
    val = _check_stopping(FALL, solver, patience, num_epochs)
    _check_best_restored(ref, FALL, solver, model, val)


@weight(0.5)
def test_solver_patience_longer_than_the_run_trains_every_epoch(student, ref, case_rng):
    """A patience longer than the run never stops it: every epoch runs and the best parameters are restored."""
    num_epochs = 5
    solver, model = _train(student, FALL, int(case_rng.integers(1, 2**31 - 1)),
                           num_epochs=num_epochs, patience=num_epochs + 1)
    val = _check_stopping(FALL, solver, num_epochs + 1, num_epochs)
    check(len(val) == num_epochs + 1,
          f"patience={num_epochs + 1} is longer than the {num_epochs} epochs: all of them "
          f"must run")
    _check_best_restored(ref, FALL, solver, model, val)
