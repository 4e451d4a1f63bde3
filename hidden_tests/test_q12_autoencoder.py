"""Q12 hidden tests: autoencoder, momentum, PSNR (numerics.md §1.7, §4.8 X14/X15, §4.9 Q1-Q7).

Expected values come from the reference (``ref``) on the trusted side or from maths written
here; random sizes and values come from ``case_rng``.  ``params`` reaches the student as a
``collections.Counter`` (ASSIGNMENT.md §Q12 "Conventions and accepted alternatives").  The initialisation is checked by its
properties only; every value check sets the weights explicitly first.  The backward test builds
the forward caches with the reference so that it grades ``autoencoder_backward`` alone.
"""
from collections import Counter

import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import weight

from autograder import testkit
from autograder.testkit import (assert_close, assert_scalar_close, assert_shape,
                                assert_unchanged, check, seed_from, to_array)

pytestmark = pytest.mark.question("Q12")

LAYERS = ("layer1", "hidden", "hidden2", "output")
TOL = 1e-10


def _copy(value):
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (tuple, list)):
        return type(value)(_copy(v) for v in value)
    return value


def _copy_params(params):
    return Counter({k: _copy(v) for k, v in params.items()})


def _shapes(input_size, hidden_size):
    return {"layer1": (input_size, hidden_size), "hidden": (hidden_size, hidden_size),
            "hidden2": (hidden_size, hidden_size), "output": (hidden_size, input_size)}


def _random_params(rng, input_size, hidden_size):
    """Xavier-scaled weights and non-zero biases of both signs (ReLUs both active and not)."""
    params = Counter()
    for name, (n_in, n_out) in _shapes(input_size, hidden_size).items():
        a = np.sqrt(6.0 / (n_in + n_out))
        params["W" + name] = rng.uniform(-a, a, size=(n_in, n_out)) * 1.5
        params["b" + name] = rng.normal(scale=0.3, size=n_out) + 0.1
    return params


def _trusted_forward(X, p):
    """Pre-activations of the three ReLU layers and the output (trusted maths)."""
    h, zs = X, []
    for name in LAYERS[:3]:
        z = h @ p["W" + name] + p["b" + name]
        zs.append(z)
        h = np.maximum(z, 0.0)
    out = 1.0 / (1.0 + np.exp(-(h @ p["Woutput"] + p["boutput"])))
    return zs, out


def _trusted_loss(X, p):
    return float(np.sum((X - _trusted_forward(X, p)[1]) ** 2))


def _ae_case(rng, n=None):
    """Sizes, params and images whose ReLU inputs stay away from 0 and whose hidden layers have
    both active and inactive units."""
    for _ in range(100):
        input_size, hidden_size = int(rng.integers(8, 15)), int(rng.integers(3, 6))
        params = _random_params(rng, input_size, hidden_size)
        X = rng.uniform(0.0, 1.0, size=(n or int(rng.integers(3, 7)), input_size))
        zs, _ = _trusted_forward(X, params)
        if all(np.min(np.abs(z)) > 1e-2 and np.any(z < 0) and np.any(z > 0) for z in zs):
            return input_size, hidden_size, params, X
    raise RuntimeError("could not draw a well-conditioned case")  # pragma: no cover


# --- init_autoencoder -------------------------------------------------------------------------

def _check_init(params, input_size, hidden_size):
    for name, (n_in, n_out) in _shapes(input_size, hidden_size).items():
        for key, shape in (("W" + name, (n_in, n_out)), ("b" + name, (n_out,))):
            check(key in params, f"init_autoencoder did not store params[{key!r}]")
            assert_shape(f"params[{key!r}]", params[key], shape)
        W = to_array(params["W" + name], f"params['W{name}']")
        a = np.sqrt(6.0 / (n_in + n_out))
        check(np.max(np.abs(W)) <= a * (1 + 1e-12) and np.std(W) > 0,
              f"params['W{name}'] is not a Xavier-uniform draw (bound sqrt(6/(in+out))): "
              f"use nn.initialize_weights")
        if W.size >= 200:                           # the variance where it is measurable
            ratio = float(np.var(W)) / (a * a / 3.0)
            tol = 6.0 * np.sqrt(0.8 / W.size)       # six standard deviations of the estimate
            check(abs(ratio - 1.0) <= tol,
                  f"params['W{name}']: its variance is {ratio:.3f} times 2/(in+out); "
                  f"initialise every layer with nn.initialize_weights (Xavier uniform)")
        assert_close(f"params['b{name}']", params["b" + name], np.zeros(n_out), 0.0,
                     "biases start at zero")
        for key, shape in (("m_W" + name, (n_in, n_out)), ("m_b" + name, (n_out,))):
            if key in params:                       # optional: zeros shaped like the parameter
                assert_close(f"params[{key!r}]", params[key], np.zeros(shape), 0.0,
                             "momentum accumulators start at zero, shaped like their parameter")


@weight(3)
def test_init_autoencoder_default_sizes_are_xavier(student, case_rng):
    """init_autoencoder() with the default sizes: four Xavier-uniform layers, zero biases."""
    student.seed(seed_from(case_rng))
    params = Counter()
    student.autoencoder.init_autoencoder(params)
    _check_init(params, 1024, 32)


@weight(2)
def test_init_autoencoder_random_sizes(student, case_rng):
    """init_autoencoder with random input and hidden sizes: shapes, bounds, variances, zero biases."""
    input_size, hidden_size = int(case_rng.integers(150, 400)), int(case_rng.integers(15, 40))
    student.seed(seed_from(case_rng))
    params = Counter()
    student.autoencoder.init_autoencoder(params, input_size=input_size, hidden_size=hidden_size)
    _check_init(params, input_size, hidden_size)


# --- autoencoder_forward / autoencoder_loss ---------------------------------------------------

@weight(3)
def test_autoencoder_forward_on_random_weights(student, ref, case_rng):
    """autoencoder_forward: three ReLU layers then a sigmoid layer; caches stored; X unchanged."""
    input_size, hidden_size, params, X = _ae_case(case_rng)
    ref_params = _copy_params(params)
    student_params = _copy_params(params)
    X_before = X.copy()
    out = student.autoencoder.autoencoder_forward(X, student_params)
    expected = ref.autoencoder.autoencoder_forward(X_before.copy(), ref_params)
    err = assert_close("autoencoder_forward output", out, expected, TOL,
                       "(N, input_size): layer1, hidden, hidden2 with ReLU, output with sigmoid")
    print("autoencoder_forward relative error:", err)
    assert_unchanged("X", X_before, X)
    for name in LAYERS:
        check("cache_" + name in student_params,
              f"autoencoder_forward did not store params['cache_{name}'] (use nn.forward)")
        assert_unchanged(f"params['W{name}']", params["W" + name], student_params["W" + name])


@weight(1.5)
def test_autoencoder_forward_of_many_images(student, ref, case_rng):
    """autoencoder_forward on a larger batch (the handout's sizes), values in (0, 1)."""
    params = _random_params(case_rng, 64, 16)
    X = case_rng.uniform(0.0, 1.0, size=(20, 64))
    out = student.autoencoder.autoencoder_forward(X.copy(), _copy_params(params))
    expected = ref.autoencoder.autoencoder_forward(X, _copy_params(params))
    assert_close("autoencoder_forward output", out, expected, TOL)


@weight(2)
def test_autoencoder_loss_on_random_images(student, ref, case_rng):
    """autoencoder_loss is the TOTAL squared error over examples and pixels; inputs unchanged."""
    for shape in ((int(case_rng.integers(2, 9)), int(case_rng.integers(5, 30))), (1, 16)):
        X = case_rng.uniform(0.0, 1.0, size=shape)
        out = case_rng.uniform(0.0, 1.0, size=shape)
        X_before, out_before = X.copy(), out.copy()
        loss = student.autoencoder.autoencoder_loss(X, out)
        err = assert_scalar_close("autoencoder_loss", loss,
                                  ref.autoencoder.autoencoder_loss(X_before, out_before), 1e-12)
        assert_unchanged("X", X_before, X)
        assert_unchanged("out", out_before, out)
    print("autoencoder_loss relative error:", err)


# --- autoencoder_backward ---------------------------------------------------------------------

def _check_grads(params, ref_params, X, p_trusted):
    for name in LAYERS:
        for kind in ("W", "b"):
            key = "grad_" + kind + name
            check(key in params, f"autoencoder_backward did not store params[{key!r}]")
            value = assert_shape(key, params[key], np.shape(p_trusted[kind + name]),
                                 f"the shape of {kind}{name}")
            err = assert_close(key, value, ref_params[key], 1e-9)
            print(f"{key} relative error:", err)
            num = testkit.numerical_gradient(lambda _: _trusted_loss(X, p_trusted),
                                             p_trusted[kind + name])
            big = np.abs(num) > 1e-4       # tiny entries are pinned by the reference above
            assert_close(f"{key} (vs centred differences)", value[big], num[big], 1e-6)


@weight(4)
def test_autoencoder_backward_matches_reference_and_numerical_gradient(student, ref, case_rng):
    """autoencoder_backward stores all eight grad_W*/grad_b* of the total squared error."""
    _, _, params, X = _ae_case(case_rng)
    ref_params = _copy_params(params)
    out = ref.autoencoder.autoencoder_forward(X.copy(), ref_params)   # the caches, trusted
    student_params = _copy_params(ref_params)
    X_before, out_before = X.copy(), np.array(out, copy=True)
    ref.autoencoder.autoencoder_backward(X.copy(), np.array(out, copy=True), ref_params)
    student.autoencoder.autoencoder_backward(X, out, student_params)
    _check_grads(student_params, ref_params, X_before, {k: params[k].copy() for k in params})
    assert_unchanged("X", X_before, X)
    assert_unchanged("out", out_before, out)


@weight(2)
def test_autoencoder_forward_then_backward(student, ref, case_rng):
    """autoencoder_forward followed by autoencoder_backward on the same params (caches agree)."""
    _, _, params, X = _ae_case(case_rng)
    student_params = _copy_params(params)
    ref_params = _copy_params(params)
    out = student.autoencoder.autoencoder_forward(X.copy(), student_params)
    student.autoencoder.autoencoder_backward(X.copy(), out, student_params)
    e_out = ref.autoencoder.autoencoder_forward(X.copy(), ref_params)
    ref.autoencoder.autoencoder_backward(X.copy(), e_out, ref_params)
    for name in LAYERS:
        for kind in ("W", "b"):
            key = "grad_" + kind + name
            check(key in student_params, f"autoencoder_backward did not store params[{key!r}]")
            assert_close(key, student_params[key], ref_params[key], 1e-9,
                         f"the shape of {kind}{name}")


# --- momentum_update (X15) --------------------------------------------------------------------

def _momentum_params(rng, with_m=True):
    """Two or three layers of random shapes with gradients, caches and (optionally) non-zero
    momentum accumulators, as after a forward/backward pass."""
    params = Counter()
    names = ["layer1", "hidden", "output"][: int(rng.integers(2, 4))]
    for name in names:
        n_in, n_out = (int(v) for v in rng.integers(2, 6, size=2))
        for kind, shape in (("W", (n_in, n_out)), ("b", (n_out,))):
            params[kind + name] = rng.normal(size=shape)
            params["grad_" + kind + name] = rng.normal(size=shape)
            if with_m:
                params["m_" + kind + name] = rng.normal(scale=0.5, size=shape)
        X = rng.normal(size=(3, n_in))
        params["cache_" + name] = (X, X @ params["W" + name], np.maximum(X @ params["W" + name], 0))
    return params


@weight(3)
def test_momentum_update_from_random_state(student, ref, case_rng):
    """momentum_update: m = momentum*m - lr*grad, then W += m, for every W*/b* entry; nothing else changes."""
    params = _momentum_params(case_rng)
    lr, momentum = float(case_rng.uniform(0.01, 0.5)), float(case_rng.uniform(0.3, 0.8))
    student_params, ref_params = _copy_params(params), _copy_params(params)
    student.autoencoder.momentum_update(student_params, lr, momentum=momentum)
    ref.autoencoder.momentum_update(ref_params, lr, momentum=momentum)
    for key in sorted(ref_params):
        if key.startswith(("W", "b", "m_")):
            check(key in student_params, f"momentum_update did not store params[{key!r}]")
            err = assert_close(f"params[{key!r}]", student_params[key], ref_params[key], TOL,
                               "m = momentum*m - learning_rate*grad, then W = W + m")
            print(f"{key} relative error:", err)
        elif key.startswith("grad_"):
            assert_unchanged(f"params[{key!r}]", params[key], student_params[key])
        else:   # caches
            cache = student_params.get(key)
            check(isinstance(cache, (tuple, list)) and len(cache) == 3,
                  f"momentum_update changed params[{key!r}]: only W*/b* and m_* entries change")
            for i in range(3):
                assert_unchanged(f"params[{key!r}][{i}]", params[key][i], cache[i])


@weight(2)
def test_momentum_update_two_steps_from_empty_accumulators(student, ref, case_rng):
    """momentum_update twice from no m_ entries (they start at zero), default momentum 0.9."""
    params = _momentum_params(case_rng, with_m=False)
    lr = float(case_rng.uniform(0.01, 0.5))
    student_params, ref_params = _copy_params(params), _copy_params(params)
    for step in range(2):
        student.autoencoder.momentum_update(student_params, lr)
        ref.autoencoder.momentum_update(ref_params, lr)
        for key in ref_params:                   # new gradients for the second step
            if key.startswith("grad_") and step == 0:
                g = case_rng.normal(size=np.shape(ref_params[key]))
                ref_params[key], student_params[key] = g, g.copy()
    for key in sorted(ref_params):
        if key.startswith(("W", "b", "m_")):
            check(key in student_params, f"momentum_update did not store params[{key!r}]")
            assert_close(f"params[{key!r}]", student_params[key], ref_params[key], TOL,
                         "m = momentum*m - learning_rate*grad, then W = W + m")


# --- psnr / mean_psnr (Q1-Q7) -----------------------------------------------------------------

def _noisy(rng, shape, max_val, noise):
    x = rng.uniform(0.1, 0.9, size=shape) * max_val
    return x, x + rng.normal(scale=noise * max_val, size=shape)


@weight(2)
@pytest.mark.parametrize("max_val", [1.0, 255.0, 2.0])
def test_psnr_on_random_images(student, ref, case_rng, max_val):
    """psnr of random images and noise levels (max_val honoured; default 1.0); inputs unchanged."""
    shape = ((int(case_rng.integers(4, 12)), int(case_rng.integers(4, 12)))
             if max_val != 2.0 else (int(case_rng.integers(20, 60)),))
    x, x_hat = _noisy(case_rng, shape, max_val, float(case_rng.uniform(0.01, 0.2)))
    x_before, x_hat_before = x.copy(), x_hat.copy()
    if max_val == 1.0:
        value = student.autoencoder.psnr(x, x_hat)
    else:
        value = student.autoencoder.psnr(x, x_hat, max_val=max_val)
    expected = ref.autoencoder.psnr(x_before, x_hat_before, max_val=max_val)
    err = assert_scalar_close("psnr", value, expected, TOL)
    print("psnr relative error:", err)
    assert_unchanged("x", x_before, x)
    assert_unchanged("x_hat", x_hat_before, x_hat)


@weight(1.5)
@pytest.mark.parametrize("mse, max_val, expected", [
    (0.01, 1.0, 20.0),
    (1e-4, 1.0, 40.0),
    (0.25, 1.0, 6.020599913279624),
    (4.0, 255.0, 42.11020369539948),
], ids=["20dB", "40dB", "mse-0.25", "max-255"])
def test_psnr_goldens_on_3d_images(student, case_rng, mse, max_val, expected):
    """psnr golden values (10 log10(max_val**2 / MSE)) on (H, W, C) images with random content."""
    shape = (6, 4, 3)
    x = case_rng.uniform(0.3, 0.7, size=shape) * max_val
    sign = np.where(np.indices(shape).sum(axis=0) % 2 == 0, 1.0, -1.0)
    x_hat = x + np.sqrt(mse) * sign                   # MSE exactly `mse` (up to rounding)
    value = student.autoencoder.psnr(x, x_hat, max_val=max_val)
    assert_scalar_close("psnr", value, expected, 1e-9)


@weight(1)
def test_psnr_of_identical_random_images_is_inf(student, case_rng):
    """psnr(x, x) is inf (MSE 0), for any shape."""
    x = case_rng.uniform(0.0, 1.0, size=(int(case_rng.integers(2, 6)), 7, 3))
    assert_scalar_close("psnr(x, x)", student.autoencoder.psnr(x, x.copy()), float("inf"), 0.0)


@weight(2.5)
@pytest.mark.parametrize("layout", ["unrolled", "2d", "3d"])
def test_mean_psnr_is_the_mean_of_per_image_psnrs_on_random_images(student, ref, case_rng, layout):
    """mean_psnr averages the per-image PSNRs of N images with different noise levels; inputs unchanged."""
    n = int(case_rng.integers(3, 7))
    shape = {"unrolled": (n, 36), "2d": (n, 6, 5), "3d": (n, 4, 5, 3)}[layout]
    X = case_rng.uniform(0.1, 0.9, size=shape)
    noise = 10.0 ** case_rng.uniform(-2.5, -0.7, size=n)
    X_hat = X + case_rng.normal(size=shape) * noise.reshape((n,) + (1,) * (len(shape) - 1))
    X_before, X_hat_before = X.copy(), X_hat.copy()
    value = student.autoencoder.mean_psnr(X, X_hat)
    expected = ref.autoencoder.mean_psnr(X_before, X_hat_before)
    err = assert_scalar_close("mean_psnr", value, expected, TOL)
    print("mean_psnr relative error:", err)
    assert_unchanged("X", X_before, X)
    assert_unchanged("X_hat", X_hat_before, X_hat)


@weight(1)
def test_mean_psnr_honours_max_val(student, ref, case_rng):
    """mean_psnr with max_val=255 on 8-bit-range images."""
    X = case_rng.uniform(20.0, 230.0, size=(4, 8, 8))
    X_hat = X + case_rng.normal(scale=6.0, size=X.shape)
    value = student.autoencoder.mean_psnr(X, X_hat, max_val=255.0)
    assert_scalar_close("mean_psnr", value, ref.autoencoder.mean_psnr(X, X_hat, max_val=255.0), TOL)


@weight(1)
def test_mean_psnr_with_an_exact_reconstruction_is_inf(student, case_rng):
    """mean_psnr is inf when one image is reconstructed exactly (its PSNR is inf)."""
    X = case_rng.uniform(0.0, 1.0, size=(4, 16))
    X_hat = X + case_rng.normal(scale=0.05, size=X.shape)
    k = int(case_rng.integers(0, 4))
    X_hat[k] = X[k]
    assert_scalar_close("mean_psnr", student.autoencoder.mean_psnr(X, X_hat), float("inf"), 0.0)
