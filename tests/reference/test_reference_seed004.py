"""Kit tests of the seed-004 reference: conv / max-pool layers against naive loops, the
ConvNet end to end, and the PyTorch CNN's training script against the PRIVATE digits test
split.

The reference's ``src`` package is loaded under a private name, so these tests never clash
with another ``src`` (a template or a submission) imported elsewhere in the same session.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from types import ModuleType

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.kits.naive_conv import (conv_backward_naive, conv_forward_naive, max_pool_backward_naive,
                                   max_pool_forward_naive)
from tests.kits.referencekit import reference_module

from autograder import paths

_ALIAS = "_dlkit_reference_src_seed004"


def _reference(module: str) -> ModuleType:
    """``reference/src/<module>.py`` under this file's private package name."""
    return reference_module(module, _ALIAS)


@pytest.fixture(scope="module")
def cl() -> ModuleType:
    return _reference("conv_layers")


def rel_error(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


# ---------------------------------------------------------------- convolution
CONV_CASES = [
    # x shape,        w shape,       stride, pad
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 1),
    ((2, 3, 7, 7), (3, 3, 3, 3), 2, 0),      # stride 2, no padding
    ((2, 2, 6, 9), (3, 2, 3, 2), 2, 2),      # pad 2, non-square input and kernel
    ((1, 3, 8, 6), (2, 3, 5, 3), 3, 1),      # stride 3 that does not divide evenly
    ((3, 1, 4, 4), (2, 1, 1, 1), 1, 0),      # 1x1 kernel
    ((2, 2, 3, 4), (2, 2, 5, 6), 1, 1),      # kernel exactly the padded input's size
    ((2, 4, 6, 5), (5, 4, 2, 4), 2, 1),      # even, non-square kernel
]


@pytest.mark.parametrize("x_shape, w_shape, stride, pad", CONV_CASES)
def test_reference_conv_matches_naive_loops(cl, x_shape, w_shape, stride, pad):
    rng = np.random.default_rng(sum(x_shape) * 31 + sum(w_shape) + stride * 7 + pad)
    x, w, b = (rng.standard_normal(s) for s in (x_shape, w_shape, (w_shape[0],)))
    x0, w0, b0 = x.copy(), w.copy(), b.copy()
    out = cl.conv_forward(x, w, b, stride=stride, pad=pad)
    expected = conv_forward_naive(x, w, b, stride, pad)
    assert out.shape == expected.shape
    assert rel_error(out, expected) < 1e-11
    dout = rng.standard_normal(out.shape)
    grads = cl.conv_backward(dout.copy(), x, w, b, stride=stride, pad=pad)
    expected_grads = conv_backward_naive(dout, x, w, b, stride, pad)
    for name, got, exp in zip(("dX", "dW", "db"), grads, expected_grads):
        assert got.shape == exp.shape, name
        assert rel_error(got, exp) < 1e-11, name
    for before, after in ((x0, x), (w0, w), (b0, b)):
        np.testing.assert_array_equal(before, after)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_reference_conv_matches_naive_loops_on_random_geometry(cl, data):
    N = data.draw(st.integers(1, 2))
    C = data.draw(st.integers(1, 3))
    F = data.draw(st.integers(1, 3))
    H = data.draw(st.integers(1, 7))
    W = data.draw(st.integers(1, 7))
    pad = data.draw(st.integers(0, 2))
    HH = data.draw(st.integers(1, H + 2 * pad))
    WW = data.draw(st.integers(1, W + 2 * pad))
    stride = data.draw(st.integers(1, 3))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C, HH, WW))
    b = rng.standard_normal(F)
    out = cl.conv_forward(x, w, b, stride=stride, pad=pad)
    assert rel_error(out, conv_forward_naive(x, w, b, stride, pad)) < 1e-11
    dout = rng.standard_normal(out.shape)
    for got, exp in zip(cl.conv_backward(dout.copy(), x, w, b, stride=stride, pad=pad),
                        conv_backward_naive(dout, x, w, b, stride, pad)):
        assert rel_error(got, exp) < 1e-11


def test_reference_conv_keeps_float32(cl):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = np.zeros(4, np.float32)
    out = cl.conv_forward(x, w, b, stride=1, pad=1)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in cl.conv_backward(np.ones_like(out), x, w, b, 1, 1))
    assert cl.max_pool_forward(out).dtype == np.float32
    assert cl.max_pool_backward(np.ones((2, 4, 3, 3), np.float32), out).dtype == np.float32


@pytest.mark.parametrize("call", [
    lambda cl: cl.conv_forward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 6, 2)), np.zeros(1), 1, 1),
    lambda cl: cl.conv_forward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 6)), np.zeros(1), 1, 1),
    lambda cl: cl.conv_forward(np.zeros((1, 2, 3, 3)), np.zeros((1, 3, 2, 2)), np.zeros(1)),
    lambda cl: cl.conv_backward(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 2, 2)),
                                np.zeros((1, 1, 5, 5)), np.zeros(1), 1, 1),
    lambda cl: cl.max_pool_forward(np.zeros((1, 1, 3, 3)), 4, 2, 1),
    lambda cl: cl.max_pool_backward(np.zeros((1, 1, 1, 1)), np.zeros((1, 1, 3, 3)), 2, 4, 1),
], ids=["kernel-too-tall", "kernel-too-wide", "channel-mismatch", "backward-too-big",
        "pool-too-tall", "pool-too-wide"])
def test_reference_rejects_impossible_geometry(cl, call):
    with pytest.raises(ValueError):
        call(cl)


# ---------------------------------------------------------------- max-pool
POOL_CASES = [
    # x shape,        (ph, pw), stride
    ((2, 3, 8, 8), (2, 2), 2),
    ((2, 2, 7, 7), (3, 3), 2),      # overlapping windows
    ((1, 2, 6, 5), (2, 3), 1),      # overlapping, non-square
    ((2, 1, 9, 7), (2, 2), 3),      # gaps between windows, uneven
    ((1, 1, 4, 4), (4, 4), 1),      # one window
    ((2, 2, 5, 5), (1, 1), 1),      # identity
]


@pytest.mark.parametrize("x_shape, pool, stride", POOL_CASES)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_reference_max_pool_matches_naive_loops(cl, x_shape, pool, stride, ties):
    rng = np.random.default_rng(sum(x_shape) + 10 * stride + pool[0] + int(ties))
    x = (rng.integers(0, 2, x_shape).astype(np.float64) if ties
         else rng.standard_normal(x_shape))
    x0 = x.copy()
    ph, pw = pool
    out = cl.max_pool_forward(x, pool_height=ph, pool_width=pw, stride=stride)
    expected = max_pool_forward_naive(x, ph, pw, stride)
    assert out.shape == expected.shape
    assert rel_error(out, expected) == 0.0
    dout = rng.standard_normal(out.shape)
    dx = cl.max_pool_backward(dout.copy(), x, pool_height=ph, pool_width=pw, stride=stride)
    assert rel_error(dx, max_pool_backward_naive(dout, x, ph, pw, stride)) < 1e-14
    # every window routes its gradient to exactly one position
    assert abs(dx.sum() - dout.sum()) <= 1e-12 * max(1.0, np.abs(dout).sum())
    np.testing.assert_array_equal(x, x0)


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_reference_max_pool_matches_naive_loops_on_random_geometry(cl, data):
    H = data.draw(st.integers(1, 8))
    W = data.draw(st.integers(1, 8))
    ph = data.draw(st.integers(1, H))
    pw = data.draw(st.integers(1, W))
    stride = data.draw(st.integers(1, 3))
    levels = data.draw(st.integers(2, 5))     # few distinct values: many ties
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31)))
    x = rng.integers(0, levels, (2, 2, H, W)).astype(np.float64)
    out = cl.max_pool_forward(x, ph, pw, stride)
    assert rel_error(out, max_pool_forward_naive(x, ph, pw, stride)) == 0.0
    dout = rng.standard_normal(out.shape)
    assert rel_error(cl.max_pool_backward(dout, x, ph, pw, stride),
                     max_pool_backward_naive(dout, x, ph, pw, stride)) < 1e-14


# ---------------------------------------------------------------- ConvNet
def test_reference_convnet_default_dtype_and_shapes():
    convnet = _reference("convnet")
    np.random.seed(0)
    model = convnet.ConvNet()
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {"W1": (32, 3, 7, 7), "b1": (32,), "W2": (32 * 16 * 16, 100),
                      "b2": (100,), "W3": (100, 10), "b3": (10,)}
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert all(not model.params[b].any() for b in ("b1", "b2", "b3"))
    assert abs(model.params["W2"].std() - 1e-3) < 1e-4
    scores = model.loss(np.random.randn(2, 3, 32, 32))
    assert scores.shape == (2, 10) and scores.dtype == np.float32


def test_reference_convnet_overfits_fifty_digits():
    convnet = _reference("convnet")
    root = paths.kit_root() / "datasets" / "digits" / "public"
    X = np.load(root / "train_images.npy")[:50].astype(np.float64)[:, None] / 16.0
    y = np.load(root / "train_labels.npy")[:50]
    X -= X.mean(axis=0)
    np.random.seed(0)
    model = convnet.ConvNet(input_dim=(1, 8, 8), num_filters=8, filter_size=3, hidden_dim=50,
                            weight_scale=1e-1, dtype=np.float64)
    velocity = {k: np.zeros_like(v) for k, v in model.params.items()}
    first = None
    for _ in range(80):
        loss, grads = model.loss(X, y)
        first = loss if first is None else first
        for k in model.params:
            velocity[k] = 0.9 * velocity[k] - 0.05 * grads[k]
            model.params[k] = model.params[k] + velocity[k]
    accuracy = float((model.loss(X).argmax(axis=1) == y).mean())
    print(f"ConvNet on 50 digits: loss {first:.3f} -> {loss:.4f}, training accuracy {accuracy}")
    assert accuracy == 1.0


# ---------------------------------------------------------------- the PyTorch CNN (Q6)
def test_cnn_training_script_reaches_97_percent_on_the_private_test_split(tmp_path):
    """Runs ``python -m src.train_cnn`` as a student would (public split only), then scores
    the saved model on the private test split.  Measured (2-core CPU, 1 torch thread):
    about 99% test accuracy in about 10-15 s."""
    pytest.importorskip("torch")
    from safetensors.torch import load_file

    reference = paths.reference_dir()
    started = time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "src.train_cnn", "--out", str(tmp_path), "--no-progress"],
        cwd=reference, capture_output=True, text=True, timeout=600,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    seconds = time.time() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Validation accuracy:" in proc.stdout
    for name in ("model.safetensors", "cnn_loss.png", "cnn_accuracy.png"):
        assert (tmp_path / name).is_file(), name
    for name in ("cnn_loss.png", "cnn_accuracy.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    cnn = _reference("cnn")
    model = cnn.Net()                       # the grader's way: Net(), load_state_dict, eval
    model.load_state_dict(load_file(str(tmp_path / "model.safetensors")))
    model.eval()
    private = paths.kit_root() / "datasets" / "digits" / "private"
    X = (np.load(private / "test_images.npy").astype(np.float32) / 16.0)[:, None]
    y = np.load(private / "test_labels.npy")
    import torch
    with torch.no_grad():
        pred = model(torch.from_numpy(X)).argmax(dim=1).numpy()
    accuracy = float((pred == y).mean())
    scores = _reference("cnn_tools").predict_numpy(X, path=str(tmp_path / "model.safetensors"))
    assert (scores.argmax(axis=1) == pred).all()
    print(f"\nCNN: {proc.stdout.strip().splitlines()[-1]}; private test accuracy "
          f"{accuracy:.4f} ({int((pred != y).sum())}/{len(y)} wrong); wall time {seconds:.1f} s")
    assert accuracy >= 0.97
