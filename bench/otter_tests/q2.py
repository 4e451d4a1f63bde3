"""Q2 for otter-grader (bench only): inverted dropout, 10 checks of 1 point.

Ports of the kit's reference/tests/test_q2_dropout.py (7 checks: p in 0.3, 0.6, 0.75 and four
more, same inputs and tolerances) and of 3 of hidden_tests/test_q2_dropout.py's checks.
"""
import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "q2"

SEED = 395
N_SIGMA = 6.0


def rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shape {a.shape}, expected {b.shape}"
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))) if a.size else 0.0


def num_grad(f, args, i, dout, index=None, kwargs=None, h=1e-5):
    kwargs = kwargs or {}
    args = [np.array(a, dtype=np.float64, copy=True) if k == i else a for k, a in enumerate(args)]
    x = args[i]
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        j = it.multi_index
        old = x[j]
        x[j] = old + h
        plus = f(*args, **kwargs) if index is None else f(*args, **kwargs)[index]
        x[j] = old - h
        minus = f(*args, **kwargs) if index is None else f(*args, **kwargs)[index]
        x[j] = old
        grad[j] = np.sum((plus - minus) * dout) / (2 * h)
    return grad


def check_train_drops_fraction_p(dropout_forward, p):
    x = np.random.RandomState(231).randn(500, 500) + 10
    x0 = x.copy()
    out, _ = dropout_forward(x, p=p, train=True, seed=SEED)
    assert out.shape == x.shape and np.array_equal(x, x0)
    dropped = out == 0
    assert abs(float(dropped.mean()) - p) <= N_SIGMA * np.sqrt(p * (1 - p) / x.size)
    kept = ~dropped
    assert rel_error(out[kept], x[kept] / (1 - p)) < 1e-12
    assert abs(out.mean() - x.mean()) <= N_SIGMA * np.sqrt(np.mean(x ** 2) * p / (1 - p) / x.size)


@test_case(points=1)
def test_dropout_forward_train_p03(dropout_forward):
    check_train_drops_fraction_p(dropout_forward, 0.3)


@test_case(points=1)
def test_dropout_forward_train_p06(dropout_forward):
    check_train_drops_fraction_p(dropout_forward, 0.6)


@test_case(points=1)
def test_dropout_forward_train_p075(dropout_forward):
    check_train_drops_fraction_p(dropout_forward, 0.75)


@test_case(points=1)
def test_dropout_forward_test_mode_is_identity(dropout_forward, dropout_backward):
    x = np.random.RandomState(231).randn(50, 40) + 10
    x0 = x.copy()
    for p in (0.3, 0.75):
        out, mask = dropout_forward(x, p=p, train=False, seed=SEED)
        assert np.array_equal(out, x)
        if mask is not None:
            assert np.array_equal(mask, np.ones_like(x))
        dout = np.random.RandomState(1).randn(*x.shape)
        assert np.array_equal(dropout_backward(dout.copy(), mask, p=p, train=False), dout)
    assert np.array_equal(x, x0)


@test_case(points=1)
def test_dropout_forward_with_p_zero_keeps_everything(dropout_forward):
    x = np.random.RandomState(231).randn(20, 30) + 10
    out, _ = dropout_forward(x, p=0.0, train=True, seed=SEED)
    assert rel_error(out, x) < 1e-15


@test_case(points=1)
def test_dropout_forward_same_seed_gives_same_output(dropout_forward):
    x = np.random.RandomState(231).randn(30, 30) + 10
    out1, _ = dropout_forward(x, p=0.5, train=True, seed=SEED)
    out2, _ = dropout_forward(x, p=0.5, train=True, seed=SEED)
    assert np.array_equal(out1, out2)


@test_case(points=1)
def test_dropout_backward_uses_the_forward_mask(dropout_forward, dropout_backward):
    rs = np.random.RandomState(SEED)
    x = rs.randn(16, 16) + 8
    dout = rs.randn(*x.shape)
    p = 0.7
    out, mask = dropout_forward(x, p=p, train=True, seed=SEED)
    dx = dropout_backward(dout.copy(), mask, p=p, train=True)
    assert rel_error(dx, dout * out / x) < 1e-12
    dx_num = num_grad(dropout_forward, (x,), 0, dout, index=0,
                      kwargs={"p": p, "train": True, "seed": SEED})
    assert rel_error(dx, dx_num) < 1e-9


@test_case(points=1)
def test_dropout_test_mode_float32(dropout_forward, dropout_backward):
    x = (np.random.default_rng(12).normal(size=(20, 30)) + 5).astype(np.float32)
    out, mask = dropout_forward(x, p=0.4, train=False)
    assert out.dtype == np.float32 and np.array_equal(out, x)
    dout = np.random.default_rng(13).normal(size=x.shape).astype(np.float32)
    assert np.array_equal(dropout_backward(dout.copy(), mask, p=0.4, train=False), dout)


@test_case(points=1)
def test_dropout_backward_routes_dout_through_the_mask_4d(dropout_forward, dropout_backward):
    rng = np.random.default_rng(44)
    x = rng.normal(size=(3, 4, 5, 6)) + 6
    dout = rng.normal(size=x.shape)
    out, mask = dropout_forward(x, p=0.35, train=True, seed=11)
    dx = dropout_backward(dout.copy(), mask, p=0.35, train=True)
    assert dx.shape == x.shape
    assert rel_error(dx, dout * out / x) < 1e-12


@test_case(points=1)
def test_dropout_forward_does_not_modify_its_input(dropout_forward):
    x = np.random.default_rng(55).normal(size=(40, 25)) + 3
    x0 = x.copy()
    dropout_forward(x, p=0.5, train=True, seed=3)
    dropout_forward(x, p=0.5, train=False)
    assert np.array_equal(x, x0)
