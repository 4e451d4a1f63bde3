"""Kit tests of the seed-003 reference (nn.py family): PSNR against scikit-image, the
numerical gradient checker against analytic gradients, and the autoencoder training script.

The reference's ``src`` package is loaded under a private name, so these tests never clash
with another ``src`` (a template or a submission) imported elsewhere in the same session.
"""
from __future__ import annotations

import time
from types import ModuleType

import numpy as np
import pytest

from tests.kits.referencekit import reference_module

from autograder.worker import trusted_functions

_ALIAS = "_dlkit_reference_src_seed003"


def _reference(module: str) -> ModuleType:
    """``reference/src/<module>.py`` under this file's private package name."""
    return reference_module(module, _ALIAS)


@pytest.fixture(scope="module")
def ae() -> ModuleType:
    return _reference("autoencoder")


@pytest.fixture(scope="module")
def gradcheck() -> ModuleType:
    return _reference("gradcheck")


@pytest.mark.parametrize("shape", [(64,), (8, 8), (32, 32), (3, 16, 16)])
def test_reference_psnr_matches_skimage(ae, shape):
    metrics = pytest.importorskip("skimage.metrics")
    rs = np.random.RandomState(sum(shape))
    for noise in (0.3, 0.05, 1e-3):
        x = rs.rand(*shape)
        x_hat = np.clip(x + noise * rs.randn(*shape), 0.0, 1.0)
        expected = metrics.peak_signal_noise_ratio(x, x_hat, data_range=1)
        assert ae.psnr(x, x_hat) == pytest.approx(expected, rel=1e-12)
        assert ae.psnr(255 * x, 255 * x_hat, max_val=255.0) == pytest.approx(
            metrics.peak_signal_noise_ratio(255 * x, 255 * x_hat, data_range=255), rel=1e-12)


def test_reference_mean_psnr_is_mean_of_skimage_psnrs(ae):
    metrics = pytest.importorskip("skimage.metrics")
    rs = np.random.RandomState(0)
    X = rs.rand(10, 64)
    X_hat = np.clip(X + rs.rand(10, 1) * 0.2 * rs.randn(10, 64), 0.0, 1.0)  # different MSEs
    per_image = [metrics.peak_signal_noise_ratio(X[i], X_hat[i], data_range=1) for i in range(10)]
    assert ae.mean_psnr(X, X_hat) == pytest.approx(np.mean(per_image), rel=1e-12)
    pooled = metrics.peak_signal_noise_ratio(X, X_hat, data_range=1)
    assert abs(ae.mean_psnr(X, X_hat) - pooled) > 0.1  # the test data tells the two apart
    assert ae.mean_psnr(X.reshape(10, 8, 8), X_hat.reshape(10, 8, 8)) == pytest.approx(
        np.mean(per_image), rel=1e-12)


def test_reference_psnr_edge_cases(ae):
    x = np.random.RandomState(1).rand(4, 4)
    assert ae.psnr(x, x.copy()) == float("inf")
    assert ae.mean_psnr(np.stack([x, x]), np.stack([x, x + 0.1])) == float("inf")
    assert ae.psnr(np.zeros(4), np.full(4, 0.1)) == pytest.approx(20.0, rel=1e-12)
    assert ae.psnr(np.zeros(4), np.full(4, 0.01)) == pytest.approx(40.0, rel=1e-12)


def _analytic_cases():
    rs = np.random.RandomState(5)
    A, b = rs.randn(12, 12), rs.randn(12)
    x = rs.randn(3, 4)
    yield ("quadratic", dict(A=A, b=b, c=-1.5), x,
           (0.5 * (A + A.T) @ x.ravel() + b).reshape(3, 4), 1e-7)
    w, a, c = rs.randn(2, 3, 2), rs.randn(2, 3, 2), rs.randn(2, 3, 2)
    x = rs.randn(2, 3, 2)
    yield "tanh_sum", dict(w=w, a=a, c=c), x, w * a * (1 - np.tanh(a * x + c) ** 2), 1e-7
    X, V, Y = rs.randn(5, 4), rs.randn(3, 2), rs.randn(5, 2)
    W = rs.randn(4, 3)
    h = 1 / (1 + np.exp(-(X @ W)))
    yield ("mlp_loss", dict(X=X, V=V, Y=Y), W,
           X.T @ ((2 * (h @ V - Y) @ V.T) * h * (1 - h)), 1e-6)


@pytest.mark.parametrize("case", list(_analytic_cases()), ids=lambda c: c[0])
def test_reference_numerical_gradient_matches_analytic(gradcheck, case):
    name, params, x, expected, tol = case
    f = trusted_functions.build(name, params)
    before = x.copy()
    grad = gradcheck.numerical_gradient(f, x)
    assert grad.shape == x.shape and grad.dtype == np.float64
    err = np.max(np.abs(grad - expected) / np.maximum(1e-8, np.abs(grad) + np.abs(expected)))
    print(f"{name}: reference numerical_gradient relative error {err:.2e}")
    assert err < tol
    assert np.array_equal(x, before)  # restored exactly, not just to 1e-12


def test_train_autoencoder_main_reports_psnr():
    train = _reference("train_autoencoder")
    start = time.perf_counter()
    result = train.main(verbose=False)
    seconds = time.perf_counter() - start
    print(f"train_autoencoder.main(): validation mean PSNR {result['val_psnr']:.4f} dB "
          f"in {seconds:.2f} s; final loss per image {result['loss_history'][-1]:.4f}")
    assert len(result["loss_history"]) == 100
    assert result["loss_history"][-1] < 0.2 * result["loss_history"][0]
    # reference: 21.45 dB (seed 0); the mean training image as reconstruction gives 11.4 dB
    assert 20.0 < result["val_psnr"] < 30.0
    assert result["params"]["Wlayer1"].shape == (64, 32)
    assert seconds < 20.0
