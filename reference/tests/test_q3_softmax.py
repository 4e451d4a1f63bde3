"""Q3: softmax loss and gradient (src/classifiers.py).

The handout's tests (Imperial ``test/test_classifiers.py``) with full-precision expected
values, a numerical gradient check and a numerical-stability check. Run with ``pytest -s``
to see the relative errors.
"""
import numpy as np
import pytest

from autograder.testkit import (assert_close, assert_scalar_close, assert_unchanged, guard_tol,
                                log_guard_tol, numerical_gradient_of, softmax_guard_slack)

pytestmark = pytest.mark.question("Q3")

# Loss tolerances accept an epsilon of at most 1e-10 inside the log or a denominator
# (ASSIGNMENT.md "Numerical guards"): log_guard_tol derives them from the true-class
# probabilities, guard_tol covers probabilities normalised by (sum + epsilon).


def _true_class_probabilities(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    return probs[np.arange(len(y)), y]

EXPECTED_LOSS = 2.7536201727859835   # the handout's value (seed 395, 3073 x 10)

EXPECTED_GRADS = np.array([
    [0.0032281645309601495, 0.011884121951697081, 0.0018575722127111508,
     0.04150573375939912, -0.19303544358055658, 0.0026012599585945426,
     0.08516417409100055, 0.02764607819419545, 0.009126910080366256, 0.010021428801632272],
    [-0.19497482604253158, 0.0053137542202725775, 0.04302848676483127,
     0.035118280193913436, 0.0030351723487958867, 0.041905639677077576,
     0.0038522958159902454, 0.01478626719642905, 0.024270558779667505, 0.023664371045554022],
    [-0.18935208976159243, 0.00978671982727684, 0.00897248573022374,
     0.02791175492663244, 0.044894957924545856, 0.006767738653563804,
     0.017122200139195014, 0.005399305340430991, 0.02941980487180078, 0.039077122347922974],
    [0.029252885053049044, -0.19129922589769127, 0.005217687520263644,
     0.0013234305540502744, 0.013171782215497366, 0.03008874521148735,
     0.0024585625377339286, 0.0011373753525760785, 0.01814663386163866, 0.09050212359139495],
    [0.01018762093847519, 0.02323679603181723, 0.004942395400339422,
     0.01980615920854397, 0.014671615718756081, 0.004638971553960327,
     0.034735823320529394, 0.007072998467418841, 0.038977008678228064, -0.1582693893180685],
])


def test_softmax_loss_matches_expected_value(student):
    rs = np.random.RandomState(395)
    X = rs.randn(3073, 10)
    y = rs.uniform(0, 10, 3073).astype(np.int16)
    X0 = X.copy()
    loss, _ = student.classifiers.softmax(X, y)
    e = assert_scalar_close("loss", loss, EXPECTED_LOSS,
                            log_guard_tol(_true_class_probabilities(X0, y), 1e-10))
    assert_unchanged("logits", X0, X)
    print("Relative error", e)


def test_softmax_gradient_matches_expected_values(student):
    rs = np.random.RandomState(395)
    X = rs.randn(5, 10)
    y = rs.uniform(0, 10, 5).astype(np.int16)
    _, grads = student.classifiers.softmax(X, y)
    e = assert_close("dlogits", grads, EXPECTED_GRADS, 1e-9, "the shape of logits (N, C)",
                     slack=softmax_guard_slack(5))
    print("Relative error", e)


def test_softmax_gradient_matches_numerical_gradient(student):
    rs = np.random.RandomState(231)
    X = rs.randn(7, 5)
    y = rs.randint(5, size=7)
    _, dX = student.classifiers.softmax(X, y)
    dX_num = numerical_gradient_of(student.classifiers.softmax, (X, y), 0, index=0)
    e = assert_close("dlogits", dX, dX_num, 1e-7, "the shape of logits (N, C)")
    print("dlogits relative error:", e)


def test_softmax_is_stable_for_large_logits(student):
    # Each row is shifted by its own maximum, so huge logits neither overflow nor underflow
    # the correct class here: loss = (0 + log 2) / 2.
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 1000.0]])
    y = np.array([0, 1])
    loss, dlogits = student.classifiers.softmax(logits, y)
    e = assert_scalar_close("loss for logits of +-1000", loss, np.log(2.0) / 2,
                            log_guard_tol([1.0, 0.5]))
    assert_close("dlogits for logits of +-1000", dlogits,
                 np.array([[0.0, 0.0, 0.0], [0.0, -0.25, 0.25]]), guard_tol(1e-12),
                 "the shape of logits (N, C)", slack=softmax_guard_slack(2))
    print("Relative error (large logits):", e)
