"""Q5: SGD with momentum (src/utils/optim.py) and early stopping in the Solver
(src/utils/solver.py, the ``patience`` keyword).

sgd_momentum uses the CS231n test inputs (no 'momentum' key: the default 0.9 applies), with
the expected arrays at full precision, and a second step from the returned config. The Solver
tests train a tiny FullyConnectedNet (so they need Q4's network) on four points whose training
labels contradict their validation labels: validation accuracy can only take 5 values, so a
correct early stop is guaranteed to happen, and the checks below hold for any correct
implementation. Run with ``pytest -s`` to see the numbers.
"""
import numpy as np
import pytest

from autograder.testkit import (CheckFailed, assert_close, assert_scalar_close, raises, self_check,
                                to_array, to_scalar)

pytestmark = pytest.mark.question("Q5")

NEXT_W = np.array([
    [0.14060000000000006, 0.2073894736842105, 0.27417894736842097, 0.34096842105263164,
     0.407757894736842],
    [0.47454736842105266, 0.5413368421052631, 0.6081263157894736, 0.6749157894736842,
     0.7417052631578946],
    [0.8084947368421053, 0.8752842105263158, 0.9420736842105263, 1.0088631578947367,
     1.0756526315789472],
    [1.142442105263158, 1.2092315789473682, 1.276021052631579, 1.3428105263157895,
     1.4096000000000002],
])
VELOCITY = np.array([
    [0.5406000000000001, 0.5547578947368421, 0.5689157894736842, 0.5830736842105264,
     0.5972315789473683],
    [0.6113894736842106, 0.6255473684210526, 0.6397052631578948, 0.6538631578947369,
     0.6680210526315788],
    [0.6821789473684211, 0.6963368421052631, 0.7104947368421053, 0.7246526315789474,
     0.7388105263157895],
    [0.7529684210526316, 0.7671263157894737, 0.7812842105263159, 0.795442105263158,
     0.8096000000000001],
])
NEXT_W2 = np.array([
    [0.6277400000000002, 0.7072189473684211, 0.7866978947368419, 0.8661768421052634,
     0.945655789473684],
    [1.0251347368421053, 1.1046136842105263, 1.1840926315789475, 1.2635715789473685,
     1.3430505263157893],
    [1.4225294736842105, 1.5020084210526314, 1.5814873684210526, 1.6609663157894736,
     1.7404452631578944],
    [1.8199242105263158, 1.8994031578947366, 1.978882105263158, 2.0583610526315788, 2.13784],
])
VELOCITY2 = np.array([
    [0.4871400000000001, 0.49982947368421055, 0.512518947368421, 0.5252084210526317,
     0.537897894736842],
    [0.5505873684210527, 0.5632768421052632, 0.5759663157894738, 0.5886557894736844,
     0.6013452631578946],
    [0.6140347368421053, 0.6267242105263158, 0.6394136842105264, 0.6521031578947369,
     0.6647926315789473],
    [0.677482105263158, 0.6901715789473684, 0.702861052631579, 0.7155505263157895,
     0.7282400000000001],
])


def _momentum_inputs():
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    v = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    return w, dw, v


def test_sgd_momentum_matches_expected_update(student):
    w, dw, v = _momentum_inputs()
    config = {"learning_rate": 1e-3, "velocity": v}     # no 'momentum': the default 0.9
    next_w, config = student.utils.optim.sgd_momentum(w, dw, config=config)
    e_w = assert_close("next_w", next_w, NEXT_W, 1e-10, "the shape of w")
    if not isinstance(config, dict) or "velocity" not in config:
        raise CheckFailed("sgd_momentum must return (next_w, config) with the new velocity "
                          "in config['velocity']")
    e_v = assert_close("config['velocity']", config["velocity"], VELOCITY, 1e-10,
                       "the shape of w")
    print("next_w error:", e_w)
    print("velocity error:", e_v)


def test_sgd_momentum_second_step_uses_stored_velocity(student):
    w, dw, v = _momentum_inputs()
    next_w, config = student.utils.optim.sgd_momentum(
        w, dw, config={"learning_rate": 1e-3, "velocity": v})
    next_w2, config2 = student.utils.optim.sgd_momentum(to_array(next_w, "next_w"), dw,
                                                        config=config)
    e_w = assert_close("next_w after a second step", next_w2, NEXT_W2, 1e-10, "the shape of w")
    e_v = assert_close("config['velocity'] after a second step", config2["velocity"],
                       VELOCITY2, 1e-10, "the shape of w")
    print("second step: next_w error:", e_w, "- velocity error:", e_v)


def test_sgd_momentum_defaults_start_from_zero_velocity(student):
    w, dw, _ = _momentum_inputs()
    next_w, config = student.utils.optim.sgd_momentum(w.copy(), dw)
    assert_scalar_close("config['learning_rate'] default", config["learning_rate"], 1e-2, 0.0)
    assert_scalar_close("config['momentum'] default", config["momentum"], 0.9, 0.0)
    # zero initial velocity: v = -learning_rate * dw, next_w = w + v
    assert_close("next_w (default config)", next_w, w - 1e-2 * dw, 1e-12, "the shape of w")
    assert_close("config['velocity'] (default config)", config["velocity"], -1e-2 * dw, 1e-12,
                 "the shape of w")


# ------------------------------------------------------------------------------ early stopping
# Four points; the validation labels are the opposite of the training labels, and the network
# starts from parameters that classify the validation set perfectly, so training lowers the
# validation accuracy and the best parameters are early ones.
X4 = np.array([[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, -2.0]])
Y_VAL = np.array([0, 1, 0, 1])
START_PARAMS = {
    "W1": np.array([[1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, -1.0]]), "b1": np.zeros(4),
    "W2": np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]), "b2": np.zeros(2),
}
BATCH_SIZE = 2                    # 2 iterations per epoch: check 0 is not an epoch end


def _train(student, patience, num_epochs, seed):
    model = student.fcnet.FullyConnectedNet([4], input_dim=2, num_classes=2, dtype=np.float64)
    model.params = {k: v.copy() for k, v in START_PARAMS.items()}
    data = {"X_train": X4, "y_train": 1 - Y_VAL, "X_val": X4, "y_val": Y_VAL}
    student.seed(seed)              # the minibatches
    solver = student.utils.solver.Solver(model, data, update_rule="sgd",
                                         optim_config={"learning_rate": 0.4},
                                         batch_size=BATCH_SIZE, num_epochs=num_epochs,
                                         patience=patience, verbose=False)
    solver.train()
    return solver, model


def _histories(solver):
    val = [to_scalar(a, "val_acc_history entry") for a in solver.val_acc_history]
    train = [to_scalar(a, "train_acc_history entry") for a in solver.train_acc_history]
    losses = solver.loss_history
    print("val_acc_history:", val, "- iterations:", len(losses), "- epoch:", solver.epoch)
    if len(train) != len(val):
        raise CheckFailed(f"train_acc_history has {len(train)} entries and val_acc_history "
                          f"{len(val)}; both hold one entry per accuracy check")
    return val, len(losses)


def _check_best_params_restored(solver, model, val):
    preds = np.argmax(to_array(model.loss(X4), "scores"), axis=1)
    acc = float(np.mean(preds == Y_VAL))
    print("validation accuracy of the final model:", acc, "- best in history:", max(val))
    if acc != max(val):
        raise CheckFailed(f"after train() the model's validation accuracy is {acc}, but the best "
                          f"check had {max(val)}: the best parameters must be restored")
    best = solver.best_params
    params = model.params
    for k in START_PARAMS:
        assert_close(f"model.params[{k!r}] after train()", params[k], best[k], 0.0,
                     "model.params must hold solver.best_params at the end")


# (patience, seed of the minibatches): the seeds give histories that improve after the first
# check, repeat the best value, and fall below it -- the cases an off-by-one or a non-strict
# comparison gets wrong (the checks below hold for any history, whatever the seed gives).
@pytest.mark.parametrize("patience, seed", [(1, 3), (2, 0), (2, 54)])
def test_solver_stops_after_patience_epochs_without_improvement(student, patience, seed):
    num_epochs = 12
    solver, model = _train(student, patience, num_epochs, seed)
    val, iterations = _histories(solver)
    checks = len(val)
    # Accuracy on 4 points takes at most 5 values, so at most 4 checks after the first can
    # improve: with num_epochs >= 5 * patience the rule must have stopped training early.
    if checks >= num_epochs + 1:
        raise CheckFailed(f"patience={patience}: training ran all {num_epochs} epochs "
                          f"({checks} accuracy checks) although the validation accuracy "
                          f"{val} stopped improving")
    best, stale = val[0], 0
    for i, acc in enumerate(val[1:], start=1):
        if acc > best:
            best, stale = acc, 0
        else:
            stale += 1
        if stale >= patience and i != checks - 1:
            raise CheckFailed(f"patience={patience}: val_acc_history {val} has {patience} "
                              f"epoch(s) without improvement ending at check {i}, but training "
                              f"went on")
    if stale < patience:
        raise CheckFailed(f"patience={patience}: training stopped after val_acc_history {val}, "
                          f"before {patience} consecutive epochs without a strictly higher "
                          f"validation accuracy (the first check sets the first best)")
    if to_scalar(solver.epoch, "solver.epoch") != checks - 1:
        raise CheckFailed(f"solver.epoch is {solver.epoch} after {checks} accuracy checks; "
                          f"expected {checks - 1} (one check per finished epoch after the first)")
    if iterations != (checks - 1) * (len(X4) // BATCH_SIZE):
        raise CheckFailed(f"loss_history has {iterations} entries; training should stop right "
                          f"after the check of epoch {checks - 1}")
    _check_best_params_restored(solver, model, val)


def test_solver_without_patience_trains_all_epochs(student):
    num_epochs = 4
    solver, model = _train(student, None, num_epochs, 0)
    val, iterations = _histories(solver)
    if len(val) != num_epochs + 1 or iterations != num_epochs * (len(X4) // BATCH_SIZE):
        raise CheckFailed(f"with patience=None the Solver must train all {num_epochs} epochs: "
                          f"got {len(val)} accuracy checks (expected {num_epochs + 1}) and "
                          f"{iterations} iterations")
    _check_best_params_restored(solver, model, val)


@self_check("the Solver's argument checks are given code, not the part Q5 asks for; a Solver "
            "written from scratch may leave them out")
def test_solver_rejects_invalid_patience(student):
    """Self-check (no points): the given argument checks refuse patience=0."""
    model = student.fcnet.FullyConnectedNet([4], input_dim=2, num_classes=2, dtype=np.float64)
    data = {"X_train": X4, "y_train": 1 - Y_VAL, "X_val": X4, "y_val": Y_VAL}
    with raises("ValueError"):
        student.utils.solver.Solver(model, data, patience=0, verbose=False)
