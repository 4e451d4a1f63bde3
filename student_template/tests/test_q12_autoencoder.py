"""Public tests for Q12: src/autoencoder.py (autoencoder, momentum, PSNR).

The autoencoder calls your ``nn.py`` (``initialize_weights``, ``forward``, ``backwards``,
``sigmoid``): make Q10's tests pass first.  Sizes are arguments, so most tests use a tiny
network (6 inputs, 3 hidden units) with weights set here.  Run with ``pytest -s`` to see the
errors.
"""
from collections import Counter

import numpy as np
import pytest

from autograder import testkit
from autograder.testkit import CheckFailed, assert_close, assert_scalar_close, assert_shape

pytestmark = pytest.mark.question("Q12")

LAYERS = ("layer1", "hidden", "hidden2", "output")


def _check(condition, message):
    """Fail with ``message`` (which never shows expected values) unless ``condition``."""
    if not condition:
        raise CheckFailed(message)


def _tiny_params():
    """A 6 -> 3 -> 3 -> 3 -> 6 autoencoder with fixed weights (no ReLU input near 0)."""
    return Counter({
        "Wlayer1": np.array([[0.1, 0.43, 0.21], [0.09, -0.15, 0.29], [-0.12, 0.78, 0.93],
                             [-0.23, 0.58, 0.06], [0.14, 0.85, -0.86], [-0.83, -0.96, 0.67]]),
        "blayer1": np.array([0.23, 0.26, 0.29]),
        "Whidden": np.array([[0.6, -0.08, 0.56], [-0.76, 0.28, -0.71], [0.89, 0.04, -0.17]]),
        "bhidden": np.array([0.08, 0.23, 0.14]),
        "Whidden2": np.array([[0.14, -0.96, 0.24], [0.22, 0.23, 0.89], [0.36, -0.28, -0.13]]),
        "bhidden2": np.array([0.21, 0.02, 0.2]),
        "Woutput": np.array([[0.34, -0.58, -0.74, -0.37, -0.27, 0.14],
                             [-0.12, 0.98, -0.8, -0.58, -0.68, 0.31],
                             [-0.49, -0.07, -0.51, -0.68, -0.78, 0.31]]),
        "boutput": np.array([0.04, 0.06, 0.11, 0.25, 0.03, 0.25]),
    })


def _trusted_loss(X, p):
    """Total squared error of the autoencoder with parameters ``p`` (trusted maths)."""
    h = X
    for name in LAYERS[:3]:
        h = np.maximum(h @ p["W" + name] + p["b" + name], 0.0)
    out = 1.0 / (1.0 + np.exp(-(h @ p["Woutput"] + p["boutput"])))
    return float(np.sum((X - out) ** 2))


# --- init_autoencoder ----------------------------------------------------------------------

@pytest.mark.parametrize("sizes", [(), (64, 16), (6, 3)], ids=["default-1024-32", "64-16", "6-3"])
def test_init_autoencoder_shapes(student, sizes):
    input_size, hidden_size = sizes or (1024, 32)
    student.seed(0)
    params = Counter()
    if sizes:
        student.autoencoder.init_autoencoder(params, input_size=input_size, hidden_size=hidden_size)
    else:
        student.autoencoder.init_autoencoder(params)
    shapes = {"layer1": (input_size, hidden_size), "hidden": (hidden_size, hidden_size),
              "hidden2": (hidden_size, hidden_size), "output": (hidden_size, input_size)}
    for name, (n_in, n_out) in shapes.items():
        for key, shape in [("W" + name, (n_in, n_out)), ("b" + name, (n_out,))]:
            _check(key in params, f"init_autoencoder did not store params[{key!r}]")
            assert_shape(f"params[{key!r}]", params[key], shape)
        W = testkit.to_array(params["W" + name], f"params['W{name}']")
        _check(np.max(np.abs(W)) <= np.sqrt(6.0 / (n_in + n_out)) * (1 + 1e-12) and np.std(W) > 0,
               f"params['W{name}'] is not a Xavier-uniform draw: use nn.initialize_weights")
        assert_close(f"params['b{name}']", params["b" + name], np.zeros(n_out), 0.0)
        for key in ("m_W" + name, "m_b" + name):  # momentum accumulators are optional here
            if key in params:
                shape = params[key[2:]].shape
                assert_close(f"params[{key!r}]", params[key], np.zeros(shape), 0.0,
                             "momentum accumulators start at zero, shaped like their parameter")


# --- autoencoder_forward / autoencoder_loss ------------------------------------------------

def test_autoencoder_forward_values(student):
    params = _tiny_params()
    X = np.linspace(0.0, 1.0, 12).reshape(2, 6)
    X_before = X.copy()
    out = student.autoencoder.autoencoder_forward(X, params)
    expected = np.array(
        [[0.46672728108033235, 0.45879574774165255, 0.396714917635923, 0.4356286044563962,
          0.3764776692783099, 0.6160615314001442],
         [0.4433097764774251, 0.44654449668514706, 0.3589199909770967, 0.39218033376256184,
          0.33152747018553125, 0.6348159674033881]])
    err = assert_close("autoencoder_forward output", out, expected, 1e-12,
                       "(N, input_size): three ReLU layers, then a sigmoid layer")
    print("autoencoder_forward relative error:", err)
    testkit.assert_unchanged("X", X_before, X)


def test_autoencoder_forward_after_init_is_in_unit_interval(student):
    student.seed(1)
    params = Counter()
    student.autoencoder.init_autoencoder(params, input_size=64, hidden_size=16)
    X = np.random.RandomState(5).rand(5, 64)
    out = assert_shape("autoencoder_forward output", student.autoencoder.autoencoder_forward(X, params),
                       (5, 64))
    _check(np.all(np.isfinite(out)) and np.all(out > 0) and np.all(out < 1),
           "autoencoder_forward: the output layer is a sigmoid, so every value is in (0, 1)")


def test_autoencoder_loss_is_total_squared_error(student):
    X = np.linspace(0.0, 1.0, 12).reshape(2, 6)
    out = np.linspace(0.9, 0.05, 12).reshape(2, 6)
    loss = student.autoencoder.autoencoder_loss(X, out)
    err = assert_scalar_close("autoencoder_loss", loss, 4.052272727272727, 1e-12)  # a SUM, not a mean
    print("autoencoder_loss relative error:", err)


# --- autoencoder_backward ------------------------------------------------------------------

def test_autoencoder_backward_matches_numerical_gradient(student):
    params = _tiny_params()
    X = np.random.RandomState(7).rand(4, 6)
    ref = {k: v.copy() for k, v in params.items()}
    # the check is only valid away from ReLU's kink: this data keeps every input |z| > 1e-3
    h = X
    for name in LAYERS[:3]:
        z = h @ ref["W" + name] + ref["b" + name]
        _check(np.min(np.abs(z)) > 1e-3, "test data: a ReLU input is too close to 0")
        h = np.maximum(z, 0.0)

    out = student.autoencoder.autoencoder_forward(X, params)
    student.autoencoder.autoencoder_backward(X, out, params)
    for name in LAYERS:
        for kind in ("W", "b"):
            key = "grad_" + kind + name
            _check(key in params, f"autoencoder_backward did not store params[{key!r}]")
            num = testkit.numerical_gradient(lambda _: _trusted_loss(X, ref), ref[kind + name])
            err = assert_close(key, params[key], num, 1e-7, f"the shape of {kind}{name}")
            print(f"{key} relative error:", err)


# --- momentum_update -----------------------------------------------------------------------

def _momentum_case():
    return Counter({
        "Wlayer1": np.linspace(-0.5, 0.5, 6).reshape(2, 3),
        "blayer1": np.array([0.1, -0.2, 0.3]),
        "grad_Wlayer1": np.array([[1.0, -0.5, 0.3], [-1.5, 0.8, 0.45]]),
        "grad_blayer1": np.array([0.5, 0.25, -2.0]),
    })


def test_momentum_update_one_step_from_nonzero_momentum(student):
    params = _momentum_case()
    params["m_Wlayer1"] = np.array([[0.2, -0.1, 0.05], [0.3, -0.25, 0.12]])
    params["m_blayer1"] = np.array([-0.05, 0.15, 0.02])
    grads_before = params["grad_Wlayer1"].copy(), params["grad_blayer1"].copy()
    student.autoencoder.momentum_update(params, 0.1)  # default momentum 0.9
    golden = {
        "m_Wlayer1": [[0.08000000000000002, -0.04000000000000001, 0.015000000000000006],
                      [0.42000000000000004, -0.30500000000000005, 0.063]],
        "m_blayer1": [-0.095, 0.11000000000000001, 0.21800000000000003],
        "Wlayer1": [[-0.42, -0.33999999999999997, -0.08499999999999996],
                    [0.5200000000000001, -0.0050000000000000044, 0.563]],
        "blayer1": [0.0050000000000000044, -0.09, 0.518],
    }
    for key, value in golden.items():
        err = assert_close(f"params[{key!r}]", params[key], np.array(value), 1e-12,
                           "m = momentum*m - learning_rate*grad, then W = W + m")
        print(f"{key} relative error:", err)
    testkit.assert_unchanged("params['grad_Wlayer1']", grads_before[0], params["grad_Wlayer1"])
    testkit.assert_unchanged("params['grad_blayer1']", grads_before[1], params["grad_blayer1"])


def test_momentum_update_two_steps_from_zero_momentum(student):
    params = _momentum_case()  # no m_ entries yet: they count as zeros
    student.autoencoder.momentum_update(params, 0.1, momentum=0.5)
    student.autoencoder.momentum_update(params, 0.1, momentum=0.5)
    golden = {
        "m_Wlayer1": [[-0.15000000000000002, 0.07500000000000001, -0.045],
                      [0.22500000000000003, -0.12000000000000002, -0.0675]],
        "m_blayer1": [-0.07500000000000001, -0.037500000000000006, 0.30000000000000004],
        "Wlayer1": [[-0.75, -0.175, -0.175], [0.47500000000000014, 0.1, 0.3875]],
        "blayer1": [-0.02500000000000001, -0.2625, 0.8],
    }
    for key, value in golden.items():
        err = assert_close(f"params[{key!r}]", params[key], np.array(value), 1e-12,
                           "m = momentum*m - learning_rate*grad, then W = W + m")
        print(f"{key} relative error:", err)


# --- psnr / mean_psnr ----------------------------------------------------------------------

def _pair(diff, shape=(8, 8), base=0.5):
    """An image of ``base`` and a copy off by +-``diff`` everywhere: MSE = diff**2."""
    x = np.full(shape, base)
    sign = np.where(np.indices(shape).sum(axis=0) % 2 == 0, 1.0, -1.0)
    return x, x + diff * sign


@pytest.mark.parametrize("diff, max_val, expected", [
    (0.1, 1.0, 20.0),      # MSE 0.01
    (0.01, 1.0, 40.0),     # MSE 1e-4
    (2.55, 255.0, 40.0),   # 8-bit range: max_val is honoured
], ids=["mse-1e-2", "mse-1e-4", "max-255"])
def test_psnr_goldens(student, diff, max_val, expected):
    base = 128.0 if max_val == 255.0 else 0.5
    x, x_hat = _pair(diff, base=base)
    x_before = x.copy()
    value = student.autoencoder.psnr(x, x_hat, max_val=max_val) if max_val != 1.0 \
        else student.autoencoder.psnr(x, x_hat)
    err = assert_scalar_close("psnr", value, expected, 1e-12)
    print("psnr relative error:", err)
    testkit.assert_unchanged("x", x_before, x)


def test_psnr_of_identical_images_is_inf(student):
    x = np.random.RandomState(0).rand(8, 8)
    assert_scalar_close("psnr(x, x)", student.autoencoder.psnr(x, x.copy()), float("inf"), 0.0)


@pytest.mark.parametrize("shape", [(64,), (8, 8)], ids=["unrolled", "2d"])
def test_mean_psnr_is_the_mean_of_per_image_psnrs(student, shape):
    # PSNRs 20 and 40 dB: their mean is 30 dB; the PSNR of the pooled MSE would be ~22.97 dB
    x0, h0 = _pair(0.1, shape)
    x1, h1 = _pair(0.01, shape)
    X, X_hat = np.stack([x0, x1]), np.stack([h0, h1])
    value = student.autoencoder.mean_psnr(X, X_hat)
    err = assert_scalar_close("mean_psnr", value, 30.0, 1e-12)
    print("mean_psnr relative error:", err)
