"""Q2 hidden tests: inverted dropout (numerics.md §1.2, §4.3 D1-D9, §6).

Dropout is random, so nothing here depends on one RNG call's exact mask (ASSIGNMENT.md §Q2 "Conventions and accepted alternatives": any
valid way of drawing it passes: ``binomial``, ``rand() > p``, ``uniform() >= p``,
``rand() < 1 - p``).  The checks are statistical (drop rate, per-row and per-column drop rates
for independence, tolerances of several binomial standard deviations) or exact consequences
of ``out = X * m`` (kept entries are ``X / (1 - p)``), and ``dropout_backward`` always gets the
mask the same student's ``dropout_forward`` returned (a pre-scaled mask and a 0/1 mask that
backward rescales are both valid).  Seeds are never 0 (the Imperial template's ``if seed:``
ignores it) and the dtype of ``out`` is not graded (a float64 mask upcasts float32 inputs in
the handout's own canonical solution).
"""
import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import weight

from autograder.testkit import (assert_close, assert_shape, assert_unchanged, check,
                                seed_from, to_array)

pytestmark = pytest.mark.question("Q2")

N_SIGMA = 6.0      # statistical tolerances, in binomial standard deviations


def _drop_prob(rng):
    """A drop probability away from 0.5 (where keep and drop probabilities coincide)."""
    return float(rng.choice([rng.uniform(0.1, 0.4), rng.uniform(0.6, 0.85)]))


def _forward(student, X, p, train=True, seed=None):
    got = student.layers.dropout_forward(X, p=p, train=train, seed=seed)
    check(isinstance(got, (tuple, list)) and len(got) == 2,
          "dropout_forward must return a tuple (out, mask)")
    return got


def _rate_check(name, frac, p, n):
    tol = N_SIGMA * np.sqrt(p * (1 - p) / n)
    check(abs(frac - p) <= tol,
          f"dropout_forward(p={p:.3f}, train=True): {name} {frac:.4f} of the entries set to 0; "
          f"expected about p (p is the DROP probability; tolerance {tol:.4f})")


@weight(2)
@pytest.mark.parametrize("case", ["2d", "4d", "high-p"])
def test_dropout_forward_drops_each_entry_independently_with_probability_p(student, case_rng, case):
    """Training: each entry is dropped independently with probability p (overall, per row, per column)."""
    p = 0.9 if case == "high-p" else _drop_prob(case_rng)
    shape = (400, 60) if case != "4d" else (80, 2, 5, 4)
    X = case_rng.uniform(0.5, 2.0, size=shape) * case_rng.choice([-1.0, 1.0], size=shape)
    out, _ = _forward(student, X, p, seed=seed_from(case_rng, nonzero=True))
    out = assert_shape("out", out, X.shape, "the shape of X")
    dropped = out == 0          # no entry of X is 0
    _rate_check("a fraction", float(dropped.mean()), p, dropped.size)
    flat = dropped.reshape(shape[0], -1)
    n_rows, n_cols = flat.shape
    col_tol = (N_SIGMA + 1) * np.sqrt(p * (1 - p) / n_rows)
    row_tol = (N_SIGMA + 1) * np.sqrt(p * (1 - p) / n_cols)
    worst_col = float(np.max(np.abs(flat.mean(axis=0) - p)))
    worst_row = float(np.max(np.abs(flat.mean(axis=1) - p)))
    print(f"p={p:.3f}: dropped {dropped.mean():.4f}; worst column {worst_col:.3f}, "
          f"worst row {worst_row:.3f}")
    check(worst_col <= col_tol,
          f"dropout_forward(p={p:.3f}): the fraction of dropped entries of some feature across "
          f"the batch differs from p by {worst_col:.3f} (tolerance {col_tol:.3f}): every entry "
          f"(not every feature or every example) must be dropped independently")
    check(worst_row <= row_tol,
          f"dropout_forward(p={p:.3f}): the fraction of dropped entries of some example is far "
          f"from p: every entry (not every example) must be dropped independently")


@weight(2)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dropout_forward_scales_kept_entries_by_one_over_keep_probability(student, case_rng, dtype):
    """Training: kept entries are X / (1 - p) (inverted dropout), so the mean of X is preserved."""
    p = _drop_prob(case_rng)
    X = (case_rng.normal(size=(250, 40)) + 3.0).astype(dtype)
    X[X == 0] = 1.0
    X_before = X.copy()
    out, _ = _forward(student, X, p, seed=seed_from(case_rng, nonzero=True))
    out = assert_shape("out", out, X.shape, "the shape of X")
    assert_unchanged("dropout_forward's X", X_before, X)
    kept = out != 0
    check(kept.any(), f"dropout_forward(p={p:.3f}) dropped every entry")
    expected = X.astype(np.float64)[kept] / (1 - p)
    tol = 1e-12 if dtype == "float64" else 1e-6
    e = assert_close(f"kept entries of out (p={p:.3f})", out[kept], expected, tol,
                     "kept entries are X / (1 - p): scale at training time, not at test time")
    print("kept entries relative error:", e)
    x64 = X.astype(np.float64)
    tol_mean = N_SIGMA * np.sqrt(np.mean(x64 ** 2) * p / (1 - p) / X.size)
    check(abs(out.mean() - x64.mean()) <= tol_mean,
          f"dropout_forward(p={p:.3f}): the mean of out differs from the mean of X by "
          f"{abs(out.mean() - x64.mean()):.4f} (tolerance {tol_mean:.4f}); inverted dropout "
          f"keeps E[out] = X")


@weight(1.5)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_dropout_test_mode_is_the_identity_forward_and_backward(student, case_rng, dtype):
    """Test mode (train=False): out equals X and dX equals dout, with or without a seed."""
    X = case_rng.normal(size=(int(case_rng.integers(3, 9)), 4, 3)).astype(dtype)
    X_before = X.copy()
    for p, seed in ((_drop_prob(case_rng), None), (_drop_prob(case_rng), seed_from(case_rng, nonzero=True))):
        out, mask = _forward(student, X, p, train=False, seed=seed)
        assert_close(f"out in test mode (p={p:.3f})", out, X_before, 0.0,
                     "test mode returns X unchanged: no dropping, no scaling")
        if mask is not None:
            assert_close("mask in test mode", mask, np.ones(X.shape), 0.0,
                         "test mode: mask is None (or all ones)")
        dout = case_rng.normal(size=X.shape).astype(dtype)
        dX = student.layers.dropout_backward(dout.copy(), mask, p=p, train=False)
        assert_close(f"dX in test mode (p={p:.3f})", dX, dout, 0.0, "test mode: dX equals dout")
    assert_unchanged("dropout_forward's X", X_before, X)


@weight(1.5)
@pytest.mark.parametrize("ndim", [2, 4])
def test_dropout_backward_routes_dout_through_the_forward_mask(student, case_rng, ndim):
    """Training: dropout_backward(dout, mask) with the mask of dropout_forward gives dout * d(out)/dX."""
    p = _drop_prob(case_rng)
    shape = (40, 30) if ndim == 2 else (8, 3, 5, 6)
    X = case_rng.uniform(0.5, 2.0, size=shape) * case_rng.choice([-1.0, 1.0], size=shape)
    dout = case_rng.normal(size=shape)
    out, mask = _forward(student, X, p, seed=seed_from(case_rng, nonzero=True))
    out = assert_shape("out", out, X.shape, "the shape of X")
    check(0 < np.count_nonzero(out) < out.size,
          f"dropout_forward(p={p:.3f}) dropped none or all of {out.size} entries")
    dX = student.layers.dropout_backward(dout.copy(), mask, p=p, train=True)
    # out = X * m elementwise, so d(out)/dX = m = out / X and dX = dout * out / X
    e = assert_close("dX", dX, dout * out / X, 1e-12,
                     "the shape of X: dout times the mask (with its 1/(1-p) scaling) that "
                     "dropout_forward used")
    print("dX relative error (vs dout * mask):", e)


@weight(1)
def test_dropout_same_nonzero_seed_gives_same_mask_and_no_seed_does_not_repeat(student, case_rng):
    """A non-zero seed makes dropout_forward deterministic; without a seed successive calls differ."""
    p = _drop_prob(case_rng)
    X = case_rng.uniform(0.5, 2.0, size=(30, 40))
    seed = seed_from(case_rng, nonzero=True)
    out1, _ = _forward(student, X, p, seed=seed)
    out1 = assert_shape("out", out1, X.shape, "the shape of X")
    student.seed(seed_from(case_rng, nonzero=True))          # moves the global RNG between the two calls
    out2, _ = _forward(student, X, p, seed=seed)
    assert_close("out of a second call with the same seed", out2, out1, 0.0,
                 "the same seed must give the same mask (the seed is given code: keep it)")
    student.seed(seed_from(case_rng, nonzero=True))
    a, _ = _forward(student, X, p)
    b, _ = _forward(student, X, p)
    a = assert_shape("out", a, X.shape)
    b = assert_shape("out", b, X.shape)
    check(np.any((a == 0) != (b == 0)),
          "two calls without a seed dropped exactly the same entries: draw a fresh mask "
          "from np.random at every call")


@weight(1)
def test_dropout_with_p_zero_keeps_every_entry(student, case_rng):
    """Training with p = 0: nothing is dropped or scaled, and dX equals dout."""
    X = case_rng.normal(size=(20, 15)) + 5.0
    out, mask = _forward(student, X, 0.0, seed=seed_from(case_rng, nonzero=True))
    assert_close("out (p=0, train=True)", out, X, 1e-15, "p=0 drops nothing")
    dout = case_rng.normal(size=X.shape)
    dX = student.layers.dropout_backward(dout.copy(), mask, p=0.0, train=True)
    assert_close("dX (p=0, train=True)", dX, dout, 1e-15, "p=0: dX equals dout")


@weight(1)
def test_dropout_forward_does_not_modify_its_input(student, case_rng):
    """dropout_forward leaves X unchanged in training and test mode (it returns a new array)."""
    X = case_rng.normal(size=(12, 10))
    X_before = X.copy()
    for train in (True, False):
        out, _ = _forward(student, X, _drop_prob(case_rng), train=train, seed=seed_from(case_rng, nonzero=True))
        assert_unchanged(f"dropout_forward's X (train={train})", X_before, X)
        to_array(out, "out")
