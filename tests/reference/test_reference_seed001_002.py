"""Kit tests of the seed-001/002 reference: the two-layer net's toy goldens and training, the
logistic-regression data file and plots script, the split of the fine-tuning code into the
student's ``finetune.py`` and the given ``finetune_tools.py``, and the fine-tuning script.

The reference's ``src`` package is loaded under a private name, so these tests never clash
with another ``src`` (a template or a submission) imported elsewhere in the same session.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.kits.referencekit import reference_module

from autograder import paths, template

_ALIAS = "_dlkit_reference_src_seed001_002"

# The handout's value (printed to 11 decimals) and the reference's full-precision value.
HANDOUT_TOY_LOSS = 1.30378789133
TOY_LOSS = 1.3037878913298206


def _reference(module: str) -> ModuleType:
    """``reference/src/<module>.py`` under this file's private package name."""
    return reference_module(module, _ALIAS)


def _toy_net(tln: ModuleType):
    """The handout's toy net and data, drawn exactly as ex2_FCnet.py does."""
    np.random.seed(0)
    net = tln.TwoLayerNet(4, 10, 3, std=1e-1)
    np.random.seed(1)
    X = 10 * np.random.randn(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    return net, X, y


def test_reference_toy_loss_matches_handout():
    tln = _reference("two_layernet")
    net, X, y = _toy_net(tln)
    loss, grads = net.loss(X, y, reg=0.05)
    print(f"toy loss {loss!r} (handout {HANDOUT_TOY_LOSS})")
    assert abs(loss - HANDOUT_TOY_LOSS) < 1e-10
    assert loss == pytest.approx(TOY_LOSS, rel=1e-14)
    assert {k: v.shape for k, v in grads.items()} == {k: v.shape for k, v in net.params.items()}


def test_reference_toy_training_reaches_handout_loss():
    tln = _reference("two_layernet")
    finals = []
    for seed in range(5):  # the handout's stream, then other minibatch draws
        net, X, y = _toy_net(tln)
        if seed:
            np.random.seed(100 + seed)
        stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100)
        assert len(stats["loss_history"]) == 100
        assert len(stats["train_acc_history"]) == len(stats["val_acc_history"]) == 100
        finals.append(stats["loss_history"][-1])
        assert np.array_equal(net.predict(X), y)
    print("toy training final losses:", ["%.5f" % f for f in finals])
    assert max(finals) < 0.02


def test_lr_data_file_is_reproducible(tmp_path):
    folder = paths.kit_root() / "datasets" / "lr"
    spec = importlib.util.spec_from_file_location("_dlkit_make_lr_data", folder / "make_lr_data.py")
    make = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make)
    out = make.main([str(tmp_path / "data.txt")])
    assert Path(out).read_bytes() == (folder / "data.txt").read_bytes()
    data = np.loadtxt(folder / "data.txt")
    assert data.shape == (200, 3)
    assert set(np.unique(data[:, 2])) == {0.0, 1.0}


def test_lr_plots_script_writes_pngs(tmp_path):
    plots = _reference("logistic_regression_plots")
    start = time.perf_counter()
    written = plots.main([str(tmp_path / "plots")])
    seconds = time.perf_counter() - start
    print(f"logistic_regression_plots.main(): {len(written)} figures in {seconds:.2f} s")
    expected = {"data.png", "separator_path.png", "nll_gd.png", "nll_gd_learning_rates.png",
                "nll_sgd_learning_rates.png", "nll_gd_vs_sgd.png"}
    assert set(written) == expected
    for name in expected:
        path = tmp_path / "plots" / name
        assert path.is_file() and os.path.getsize(path) > 1000
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert seconds < 60.0


def test_reference_gradient_descent_on_lr_data_improves_nll():
    lr = _reference("logistic_regression")
    plots = _reference("logistic_regression_plots")
    X, t = plots.load_lr_data()
    w, history = lr.gradient_descent(X, t, plots.W_INIT, 0.5, max_iter=500, tol=1e-5)
    accuracy = np.mean((X @ w > 0) == (t == 1))
    print(f"GD eta=0.5: {len(history)} epochs, NLL {history[0]:.4f} -> {history[-1]:.4f}, "
          f"training accuracy {accuracy:.3f}")
    assert history[-1] < 0.25 * history[0]
    assert accuracy > 0.9


def test_finetune_helpers_are_given_code_outside_the_student_file():
    """The backbones, the probe and the NumPy wrappers the tests rely on live in the given
    ``finetune_tools.py`` (no solution regions: the grader supplies its own copy), not in the
    student's ``finetune.py``."""
    pytest.importorskip("torch")
    given = template.given_files(paths.reference_dir())
    assert "src/finetune_tools.py" in given
    assert "src/finetune.py" not in given
    student_module = _reference("finetune")
    for name in ("make_backbone", "ForwardProbe", "extract_features_numpy", "train_head_numpy"):
        assert not hasattr(student_module, name), name
    tools = _reference("finetune_tools")
    X = np.random.RandomState(0).randn(5, 3, 2, 2)
    out = tools.extract_features_numpy("tiny", X, batch_size=2, seed=0)
    assert out["features"].shape == (5, 4)
    assert (out["examples_seen"], out["forward_calls"], out["first_rows"]) == (5, 3, [0, 2, 4])
    assert out["train_mode_calls"] == out["grad_calls"] == 0
    assert not out["input_modified"] and not out["requires_grad"]


@pytest.mark.slow
def test_finetune_digits_beats_chance_quickly():
    pytest.importorskip("torchvision")
    ft_digits = _reference("finetune_digits")
    start = time.perf_counter()
    result = ft_digits.run()
    seconds = time.perf_counter() - start
    print(f"finetune_digits.run(): validation accuracy {result['val_accuracy']:.3f} "
          f"(train {result['train_accuracy']:.3f}); features {result['feature_seconds']:.1f} s, "
          f"head {result['head_seconds']:.1f} s, total {seconds:.1f} s")
    # Measured (random-weight ResNet-18, 32x32, seed 0, 2 CPU cores): validation 0.950, 8-17 s.
    # Chance is 0.1.
    assert result["val_accuracy"] >= 0.8
    assert result["num_train"] == 1077 and result["num_val"] == 360
    assert result["feature_dim"] == 512
    assert seconds < 120.0
