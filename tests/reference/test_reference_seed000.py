"""Kit tests of the seed-000 reference (Imperial assignment2_advanced, Q1-Q5).

They prove the numbers the public tests and the handout rely on: the golden losses, the two
training scripts on digits (overfit: 100 % training accuracy on 50 examples within 20 epochs;
train: at least 90 % validation accuracy), and the Solver's early stopping (``patience``).

The reference is imported in-process as the package ``src`` with ``reference/`` first on
``sys.path`` -- the way a submission is imported -- because its scripts use absolute
``from src... import`` lines as the handout's do. A module fixture swaps any other ``src``
out of ``sys.modules`` for the duration and puts it back afterwards.
"""
from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import time
from types import SimpleNamespace

import numpy as np
import pytest

from autograder import paths

REFERENCE = paths.reference_dir()


def _is_src(name: str) -> bool:
    return name == "src" or name.startswith("src.")


@pytest.fixture(scope="module")
def ref():
    """The reference's seed-000 modules, imported as ``src.*`` from reference/ on digits."""
    saved = {k: sys.modules.pop(k) for k in [k for k in sys.modules if _is_src(k)]}
    old_env = os.environ.get("DLKIT_DATASET")
    os.environ["DLKIT_DATASET"] = "digits"
    sys.path.insert(0, str(REFERENCE))
    try:
        mods = SimpleNamespace(
            layers=importlib.import_module("src.layers"),
            classifiers=importlib.import_module("src.classifiers"),
            fcnet=importlib.import_module("src.fcnet"),
            optim=importlib.import_module("src.utils.optim"),
            solver=importlib.import_module("src.utils.solver"),
            data_utils=importlib.import_module("src.utils.data_utils"),
            overfit=importlib.import_module("src.overfit_fcnet"),
            train=importlib.import_module("src.train_fcnet"),
        )
        assert os.path.dirname(mods.fcnet.__file__) == str(REFERENCE / "src")
        yield mods
    finally:
        sys.path.remove(str(REFERENCE))
        for k in [k for k in sys.modules if _is_src(k)]:
            del sys.modules[k]
        sys.modules.update(saved)
        if old_env is None:
            os.environ.pop("DLKIT_DATASET", None)
        else:
            os.environ["DLKIT_DATASET"] = old_env


@pytest.fixture(scope="module")
def digits(ref):
    return ref.data_utils.get_CIFAR10_data()


@pytest.mark.parametrize("kwargs", [{}, {"num_training": 50}, {"subtract_mean": False},
                                    {"num_training": 500, "num_validation": 100, "num_test": 30}])
def test_digits_data_equals_enlarging_first_then_centring(ref, kwargs):
    """get_CIFAR10_data centres the 8x8 digits and enlarges them last; that must give exactly
    the numbers of the documented order (digits_as_cifar, mean image, transpose)."""
    du = ref.data_utils
    raw = du._load_public_split(du.datasets_dir(), "digits")
    n_tr = kwargs.get("num_training", 49000)
    n_val = kwargs.get("num_validation", 1000)
    X_train = du.digits_as_cifar(raw["train_images"])[:n_tr]
    X_val = du.digits_as_cifar(raw["val_images"])[:n_val]
    X_test = X_val[:kwargs.get("num_test", 1000)].copy()
    if kwargs.get("subtract_mean", True):
        mean = np.mean(X_train, axis=0)
        X_train, X_val, X_test = X_train - mean, X_val - mean, X_test - mean
    got = du.get_CIFAR10_data(**kwargs)
    for name, want in (("X_train", X_train), ("X_val", X_val), ("X_test", X_test)):
        want = want.transpose(0, 3, 1, 2)
        assert got[name].dtype == np.float64 and got[name].flags["C_CONTIGUOUS"]
        np.testing.assert_array_equal(got[name], want, err_msg=name)
    np.testing.assert_array_equal(got["y_train"], raw["train_labels"][:n_tr].astype(np.int64))


def _accuracy(model, X, y) -> float:
    return float(np.mean(np.argmax(model.loss(X), axis=1) == y))


# ---------------------------------------------------------------------------------- goldens
def test_reference_reproduces_handout_goldens(ref):
    rs = np.random.RandomState(395)
    X = rs.randn(3073, 10)
    y = rs.uniform(0, 10, 3073).astype(np.int16)
    loss, _ = ref.classifiers.softmax(X, y)
    print("softmax loss", repr(loss))
    assert loss == pytest.approx(2.7536201727859835, rel=1e-14)

    rs = np.random.RandomState(231)
    X = rs.randn(2, 15)
    y = rs.randint(10, size=(2,))
    np.random.set_state(rs.get_state())
    losses = []
    for reg in (0.0, 3.14):   # the second model continues the stream, as the handout's loop
        model = ref.fcnet.FullyConnectedNet([20, 30], input_dim=15, num_classes=10, reg=reg,
                                            weight_scale=5e-2, dtype=np.float64)
        losses.append(model.loss(X, y)[0])
    print("FullyConnectedNet initial losses", [repr(v) for v in losses])
    assert losses[0] == pytest.approx(2.3004790897684924, rel=1e-14)
    assert losses[1] == pytest.approx(7.052114776533016, rel=1e-14)

    w = np.linspace(-0.4, 0.6, num=20).reshape(4, 5)
    dw = np.linspace(-0.6, 0.4, num=20).reshape(4, 5)
    v = np.linspace(0.6, 0.9, num=20).reshape(4, 5)
    next_w, config = ref.optim.sgd_momentum(w, dw, {"learning_rate": 1e-3, "velocity": v})
    assert next_w[0, 0] == pytest.approx(0.1406, rel=1e-12)
    assert config["velocity"][0, 0] == pytest.approx(0.5406, rel=1e-12)
    assert config["momentum"] == 0.9


# ---------------------------------------------------------------------------------- scripts
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_overfit_fcnet_reaches_full_training_accuracy(ref, seed):
    np.random.seed(seed)
    t0 = time.perf_counter()
    solver = ref.overfit.main()
    seconds = time.perf_counter() - t0
    history = list(solver.train_acc_history)
    # 5 iterations per epoch: check 0 is iteration 0, check k is the end of epoch k
    assert solver.X_train.shape[0] // solver.batch_size > 1
    epoch = next(i for i, a in enumerate(history) if a == 1.0)
    final = _accuracy(solver.model, solver.X_train, solver.y_train)
    print(f"overfit seed {seed}: 100 % training accuracy at epoch {epoch}, returned model "
          f"{final:.3f} on the {len(solver.X_train)} examples, {seconds:.2f} s")
    assert len(solver.X_train) == 50
    assert solver.num_epochs <= 20 and epoch <= 20
    assert final == 1.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_reference_train_fcnet_reaches_90_percent_validation_accuracy(ref, digits, seed):
    np.random.seed(seed)
    t0 = time.perf_counter()
    solver = ref.train.main()
    seconds = time.perf_counter() - t0
    acc = _accuracy(solver.model, digits["X_val"], digits["y_val"])
    print(f"train_fcnet seed {seed}: validation accuracy {acc:.4f} "
          f"({len(digits['y_val'])} digits), {solver.epoch} epochs, {seconds:.2f} s")
    assert acc >= 0.90
    assert seconds < 120   # about 1 s on 2 cores; generous for a loaded machine


@pytest.mark.parametrize("script", ["overfit_fcnet", "train_fcnet"])
def test_reference_scripts_run_as_modules(script):
    env = dict(os.environ, DLKIT_DATASET="digits", OMP_NUM_THREADS="2")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", f"src.{script}"], cwd=REFERENCE, env=env,
                          capture_output=True, text=True, timeout=300)
    seconds = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = [line for line in proc.stdout.splitlines() if line.startswith("(Epoch")][-1]
    print(f"python -m src.{script}: {last} ({seconds:.2f} s)")
    if script == "train_fcnet":
        m = re.search(r"validation accuracy of the returned model: ([0-9.]+)", proc.stdout)
        assert m and float(m.group(1)) >= 0.90


# ---------------------------------------------------------------------------- early stopping
def _subset(digits, n_train=300, n_val=200):
    return {"X_train": digits["X_train"][:n_train], "y_train": digits["y_train"][:n_train],
            "X_val": digits["X_val"][:n_val], "y_val": digits["y_val"][:n_val]}


def _stop_index(history, patience):
    """Index of the check at which the rule stops (None: it never fires)."""
    best, stale = history[0], 0
    for i, acc in enumerate(history[1:], start=1):
        if acc > best:
            best, stale = acc, 0
        else:
            stale += 1
        if stale >= patience:
            return i
    return None


@pytest.mark.parametrize("patience", [1, 3])
def test_reference_solver_stops_on_a_flat_validation_accuracy(ref, digits, patience):
    """learning_rate 0: the parameters never change, so the validation accuracy is the same at
    every check and training must stop exactly `patience` epochs after the first check."""
    data = _subset(digits)
    np.random.seed(0)
    model = ref.fcnet.FullyConnectedNet([20], weight_scale=1e-3)
    start = {k: v.copy() for k, v in model.params.items()}
    solver = ref.solver.Solver(model, data, update_rule="sgd",
                               optim_config={"learning_rate": 0.0}, batch_size=50,
                               num_epochs=20, patience=patience, verbose=False)
    solver.train()
    ipe = len(data["X_train"]) // 50
    print(f"flat, patience={patience}: val_acc_history "
          f"{[float(a) for a in solver.val_acc_history]}, "
          f"epoch {solver.epoch}, {len(solver.loss_history)} iterations")
    assert len(set(solver.val_acc_history)) == 1
    assert len(solver.val_acc_history) == len(solver.train_acc_history) == patience + 1
    assert solver.epoch == patience
    assert len(solver.loss_history) == patience * ipe
    for k, v in start.items():
        np.testing.assert_array_equal(model.params[k], v)


def test_reference_solver_early_stop_restores_best_params_on_digits(ref, digits):
    data = _subset(digits)
    np.random.seed(3)
    model = ref.fcnet.FullyConnectedNet([50], weight_scale=1e-3)
    num_epochs, patience, batch = 60, 2, 50
    t0 = time.perf_counter()
    solver = ref.solver.Solver(model, data, update_rule="sgd",   # in place: best_params must copy
                               optim_config={"learning_rate": 1e-3}, batch_size=batch,
                               num_epochs=num_epochs, patience=patience, verbose=False)
    solver.train()
    seconds = time.perf_counter() - t0
    hist = [float(a) for a in solver.val_acc_history]
    checks = len(hist)
    final = _accuracy(model, data["X_val"], data["y_val"])
    print(f"digits, patience={patience}: stopped after epoch {solver.epoch} of {num_epochs} "
          f"({checks} checks, {seconds:.2f} s); best val {max(hist):.3f}, last {hist[-1]:.3f}, "
          f"returned model {final:.3f}")
    assert checks < num_epochs + 1                    # it stopped early
    assert _stop_index(hist, patience) == checks - 1  # exactly where the rule fires
    assert len(solver.train_acc_history) == checks
    assert solver.epoch == checks - 1
    assert len(solver.loss_history) == (checks - 1) * (len(data["X_train"]) // batch)
    assert final == max(hist) == solver.best_val_acc
    for k in model.params:
        np.testing.assert_array_equal(model.params[k], solver.best_params[k])


def test_reference_solver_without_patience_trains_all_epochs(ref, digits):
    data = _subset(digits)
    np.random.seed(3)
    model = ref.fcnet.FullyConnectedNet([50], weight_scale=1e-3)
    solver = ref.solver.Solver(model, data, update_rule="sgd_momentum",
                               optim_config={"learning_rate": 1e-4}, batch_size=50,
                               num_epochs=6, verbose=False)
    solver.train()
    hist = list(solver.val_acc_history)
    print("patience=None: val_acc_history", [round(float(a), 3) for a in hist])
    assert solver.patience is None
    assert len(hist) == len(solver.train_acc_history) == 7
    assert solver.epoch == 6 and len(solver.loss_history) == 6 * 6
    assert _accuracy(model, data["X_val"], data["y_val"]) == max(hist)


@pytest.mark.parametrize("kwargs", [{"patience": 0}, {"patience": -1}, {"patience": 1.5},
                                    {"patience": True}, {"patiense": 2},
                                    {"update_rule": "adam_nope"}])
def test_reference_solver_rejects_bad_arguments(ref, digits, kwargs):
    model = ref.fcnet.FullyConnectedNet([5])
    with pytest.raises(ValueError):
        ref.solver.Solver(model, _subset(digits, 10, 10), verbose=False, **kwargs)
