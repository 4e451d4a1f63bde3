"""Q2: inverted dropout (src/layers.py).

Dropout is random, so these tests check statistics (the drop rate, the scaling of kept
entries, the mean), test-mode identity and that dropout_backward agrees with the mask its own
dropout_forward returned -- never one random draw's exact mask, so any correct way of drawing
the mask passes. ``p`` is the DROP probability. Run with ``pytest -s`` to see the numbers.
"""
import numpy as np
import pytest

from autograder.testkit import (CheckFailed, assert_close, assert_shape, assert_unchanged,
                                numerical_gradient_of, to_array)

pytestmark = pytest.mark.question("Q2")

SEED = 395          # any non-zero seed: the handout's `if seed:` ignored seed=0
N_SIGMA = 6.0       # statistical tolerances are 6 binomial standard deviations


@pytest.mark.parametrize("p", [0.3, 0.6, 0.75])
def test_dropout_forward_train_drops_fraction_p_and_rescales(student, p):
    x = np.random.RandomState(231).randn(500, 500) + 10   # no entry is 0
    x0 = x.copy()
    out, _ = student.layers.dropout_forward(x, p=p, train=True, seed=SEED)
    out = assert_shape("out", out, x.shape, "the shape of X")
    assert_unchanged("X", x0, x)

    n = x.size
    dropped = out == 0
    frac = float(dropped.mean())
    tol_frac = N_SIGMA * np.sqrt(p * (1 - p) / n)
    print("p =", p)
    print("Mean of input:", x.mean())
    print("Mean of train-time output:", out.mean())
    print("Fraction of train-time output set to zero:", frac)
    if abs(frac - p) > tol_frac:
        raise CheckFailed(f"dropout_forward(p={p}, train=True) set a fraction {frac:.4f} of the "
                          f"entries to 0; expected about p={p} (p is the DROP probability; "
                          f"tolerance {tol_frac:.4f})")
    kept = ~dropped
    e = assert_close(f"kept entries of out (p={p})", out[kept], x[kept] / (1 - p), 1e-12,
                     "kept entries must be X / (1 - p) (inverted dropout)")
    print("Relative error of kept entries vs X / (1 - p):", e)

    tol_mean = N_SIGMA * np.sqrt(np.mean(x ** 2) * p / (1 - p) / n)
    if abs(out.mean() - x.mean()) > tol_mean:
        raise CheckFailed(f"dropout_forward(p={p}, train=True): the mean of out differs from the "
                          f"mean of X by {abs(out.mean() - x.mean()):.4f} (tolerance "
                          f"{tol_mean:.4f}); inverted dropout keeps E[out] = X")


def test_dropout_forward_test_mode_is_identity(student):
    x = np.random.RandomState(231).randn(50, 40) + 10
    x0 = x.copy()
    for p in (0.3, 0.75):
        out, mask = student.layers.dropout_forward(x, p=p, train=False, seed=SEED)
        e = assert_close(f"out in test mode (p={p})", out, x, 0.0,
                         "test mode returns X unchanged, without scaling")
        print("Relative difference test:", e)
        if mask is not None:
            assert_close("mask in test mode", mask, np.ones_like(x), 0.0,
                         "test mode: mask is None (or all ones)")
        dout = np.random.RandomState(1).randn(*x.shape)
        dx = student.layers.dropout_backward(dout.copy(), mask, p=p, train=False)
        assert_close(f"dX in test mode (p={p})", dx, dout, 0.0, "test mode: dX equals dout")
    assert_unchanged("X", x0, x)


def test_dropout_forward_with_p_zero_keeps_everything(student):
    x = np.random.RandomState(231).randn(20, 30) + 10
    out, _ = student.layers.dropout_forward(x, p=0.0, train=True, seed=SEED)
    assert_close("out (p=0, train=True)", out, x, 1e-15, "p=0 drops nothing")


def test_dropout_forward_same_seed_gives_same_output(student):
    x = np.random.RandomState(231).randn(30, 30) + 10
    out1, _ = student.layers.dropout_forward(x, p=0.5, train=True, seed=SEED)
    out2, _ = student.layers.dropout_forward(x, p=0.5, train=True, seed=SEED)
    assert_close("out of a second call with the same seed", out2, to_array(out1, "out"), 0.0,
                 "the same seed must give the same mask")


def test_dropout_backward_uses_the_forward_mask(student):
    rs = np.random.RandomState(SEED)
    x = rs.randn(16, 16) + 8       # no entry is 0
    dout = rs.randn(*x.shape)
    p = 0.7
    out, mask = student.layers.dropout_forward(x, p=p, train=True, seed=SEED)
    out = assert_shape("out", out, x.shape, "the shape of X")
    dx = student.layers.dropout_backward(dout.copy(), mask, p=p, train=True)  # backward may overwrite dout

    # out = X * m elementwise, so dX = dout * m = dout * out / X
    e_mask = assert_close("dX", dx, dout * out / x, 1e-12,
                          "dout times the mask (with its 1/(1-p) scaling) of the forward pass")
    dx_num = numerical_gradient_of(student.layers.dropout_forward, (x,), 0, dout, index=0,
                                   kwargs={"p": p, "train": True, "seed": SEED})
    e_train = assert_close("dX vs numerical gradient", dx, dx_num, 1e-9,
                           "the shape of X")
    print("dx train relative error (vs dout * mask):", e_mask)
    print("dx train relative error:", e_train)
