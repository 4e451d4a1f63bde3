"""Q3 for otter-grader (bench only): softmax loss and gradient, 8 checks of 1 point.

Ports of the kit's reference/tests/test_q3_softmax.py (4 checks, same inputs and expected
values) and of 4 of hidden_tests/test_q3_softmax.py's checks, with the expected values
computed here.
"""
import numpy as np
from otter.test_files import test_case

OK_FORMAT = False
name = "q3"

EXPECTED_LOSS = 2.7536201727859835
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


def rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shape {a.shape}, expected {b.shape}"
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b)))) if a.size else 0.0


def expected(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    grad = np.exp(logp)
    grad[rows, y] -= 1.0
    return float(-logp[rows, y].mean()), grad / len(y)


def num_grad_of_loss(softmax, X, y, h=1e-5):
    X = X.astype(np.float64).copy()
    grad = np.zeros_like(X)
    for j in np.ndindex(*X.shape):
        old = X[j]
        X[j] = old + h
        plus = softmax(X, y)[0]
        X[j] = old - h
        minus = softmax(X, y)[0]
        X[j] = old
        grad[j] = (plus - minus) / (2 * h)
    return grad


@test_case(points=1)
def test_softmax_loss_matches_expected_value(softmax):
    rs = np.random.RandomState(395)
    X = rs.randn(3073, 10)
    y = rs.uniform(0, 10, 3073).astype(np.int16)
    X0 = X.copy()
    loss, _ = softmax(X, y)
    assert abs(loss - EXPECTED_LOSS) / EXPECTED_LOSS < 1e-10
    assert np.array_equal(X, X0)


@test_case(points=1)
def test_softmax_gradient_matches_expected_values(softmax):
    rs = np.random.RandomState(395)
    X = rs.randn(5, 10)
    y = rs.uniform(0, 10, 5).astype(np.int16)
    assert rel_error(softmax(X, y)[1], EXPECTED_GRADS) < 1e-9


@test_case(points=1)
def test_softmax_gradient_matches_numerical_gradient(softmax):
    rs = np.random.RandomState(231)
    X = rs.randn(7, 5)
    y = rs.randint(5, size=7)
    assert rel_error(softmax(X, y)[1], num_grad_of_loss(softmax, X, y)) < 1e-7


@test_case(points=1)
def test_softmax_is_stable_for_large_logits(softmax):
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 1000.0]])
    loss, dlogits = softmax(logits, np.array([0, 1]))
    assert abs(loss - np.log(2.0) / 2) < 1e-12
    assert rel_error(dlogits, np.array([[0.0, 0.0, 0.0], [0.0, -0.25, 0.25]])) < 1e-12


@test_case(points=1)
def test_softmax_random_batch_int64_labels(softmax):
    rng = np.random.default_rng(64)
    X = rng.normal(size=(17, 6)) * 3
    y = rng.integers(0, 6, size=17).astype(np.int64)
    loss, grad = softmax(X.copy(), y.copy())
    e_loss, e_grad = expected(X, y)
    assert abs(loss - e_loss) <= 1e-9 * abs(e_loss)
    assert rel_error(grad, e_grad) < 1e-9


@test_case(points=1)
def test_softmax_random_batch_int16_labels(softmax):
    rng = np.random.default_rng(16)
    X = rng.normal(size=(23, 4)) * 3
    y = rng.integers(0, 4, size=23).astype(np.int16)
    loss, grad = softmax(X.copy(), y.copy())
    e_loss, e_grad = expected(X, y.astype(np.int64))
    assert abs(loss - e_loss) <= 1e-9 * abs(e_loss)
    assert rel_error(grad, e_grad) < 1e-9


@test_case(points=1)
def test_softmax_rows_around_plus_and_minus_a_thousand(softmax):
    rng = np.random.default_rng(1000)
    X = rng.normal(size=(6, 5)) + np.array([[1000.0], [-1000.0], [1000.0], [-1000.0], [0.0], [500.0]])
    y = rng.integers(0, 5, size=6)
    loss, grad = softmax(X, y)
    e_loss, e_grad = expected(X, y)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    assert abs(loss - e_loss) <= 1e-9 * abs(e_loss)
    assert rel_error(grad, e_grad) < 1e-9


@test_case(points=1)
def test_softmax_does_not_modify_logits_or_labels(softmax):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(9, 7))
    y = rng.integers(0, 7, size=9)
    X0, y0 = X.copy(), y.copy()
    softmax(X, y)
    assert np.array_equal(X, X0) and np.array_equal(y, y0)
