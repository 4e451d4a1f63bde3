"""testkit.assert_close_to_numerical: analytic gradients against centred differences.

Centred differences carry an absolute error of about 1e-10, so the plain relative error of
``assert_close`` fails correct gradients on entries that are tiny next to the others: the
hidden Q7 gradient test failed the reference two-layer net on 20 of 600 random cases (one in
15 submissions lost 3 points of Q7 for a correct net, depending on the per-submission seed).
"""
from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from autograder import paths
from autograder.testkit import (NUMERICAL_FLOOR, CheckFailed, assert_close,
                                assert_close_to_numerical, numerical_gradient, rel_error)

KIT = paths.kit_root()


def test_tiny_entries_are_compared_absolutely_the_others_relatively():
    numeric = np.array([[2.7, -1.0], [4.0e-5, 1e-9]])
    noisy = numeric + np.array([[1e-9, 0.0], [2e-10, 1e-11]])      # finite-difference noise
    assert rel_error(noisy, numeric) > 1e-6                          # plain relative error fails
    with pytest.raises(CheckFailed):
        assert_close("g", noisy, numeric, 1e-6)
    assert assert_close_to_numerical("g", noisy, numeric, 1e-6) < 1e-6
    # a tiny entry that is wrong by more than tol * floor * max|numeric| still fails, located
    wrong_small = numeric.copy()
    wrong_small[1, 1] = 10 * 1e-6 * NUMERICAL_FLOOR * 2.7
    with pytest.raises(CheckFailed, match=r"g: max relative error .* at index \(1, 1\)"):
        assert_close_to_numerical("g", wrong_small, numeric, 1e-6)
    # a large entry is held to the relative tolerance
    wrong_big = numeric.copy()
    wrong_big[0, 1] *= 1 + 1e-5
    with pytest.raises(CheckFailed, match=r"at index \(0, 1\)"):
        assert_close_to_numerical("g", wrong_big, numeric, 1e-6)


def test_shapes_and_non_finite_values_come_first():
    numeric = np.ones((3, 2))
    with pytest.raises(CheckFailed, match=r"g has shape \(2, 3\)"):
        assert_close_to_numerical("g", np.ones((2, 3)), numeric, 1e-6)
    bad = numeric.copy()
    bad[2, 0] = np.nan
    with pytest.raises(CheckFailed, match=r"nan .* at index \(2, 0\)"):
        assert_close_to_numerical("g", bad, numeric, 1e-6)
    assert assert_close_to_numerical("g", np.zeros((0, 2)), np.zeros((0, 2)), 1e-6) == 0.0
    assert assert_close_to_numerical("g", np.zeros(4), np.zeros(4), 1e-6) == 0.0


def _load(name: str, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reference_two_layer_net_passes_the_hidden_numerical_check_on_every_case(monkeypatch):
    """The hidden Q7 gradient test's random cases (its own ``_case``), 150 seeds x 2 values of
    reg: the reference's gradients pass against centred differences; the plain relative error
    fails some of the same cases (so the cases do contain the tiny entries)."""
    monkeypatch.syspath_prepend(str(KIT / "reference"))
    for name in [m for m in sys.modules if m == "src" or m.startswith("src.")]:
        monkeypatch.delitem(sys.modules, name)
    two_layernet = _load("dlkit_ref_two_layernet", KIT / "reference" / "src" / "two_layernet.py")
    hidden = _load("dlkit_hidden_q7", KIT / "hidden_tests" / "test_q7_two_layernet.py")
    plain_failures = 0
    for seed in range(150):
        rng = np.random.default_rng(seed)
        for reg in (0.0, 0.7):
            params, X, y = hidden._case(rng)
            D, H = params["W1"].shape
            net = two_layernet.TwoLayerNet(D, H, params["W2"].shape[1], std=1e-1)
            net.params = {k: v.copy() for k, v in params.items()}
            _, grads = net.loss(X, y, reg=reg)
            for key in hidden.KEYS:
                def f(v, key=key):
                    net.params = {**params, key: v}
                    return net.loss(X, y, reg=reg)[0]

                numeric = numerical_gradient(f, params[key].copy())
                assert_close_to_numerical(f"seed {seed} reg {reg} grads[{key!r}]", grads[key],
                                          numeric, hidden.TOL_NUMERIC)
                plain_failures += rel_error(grads[key], numeric) > hidden.TOL_NUMERIC
    assert plain_failures > 0
