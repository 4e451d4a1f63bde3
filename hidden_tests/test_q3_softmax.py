"""Q3 hidden tests: the softmax classifier's loss and gradient (numerics.md §4.4 S1-S6, S8, §6).

Expected values come from the reference (``ref``) on the trusted side or from maths written
here; random shapes and values come from ``case_rng``.  The loss may come back as a float, a
NumPy scalar or a 0-d / size-1 array.  Large logits are placed so that the correct class never
underflows (ASSIGNMENT.md §Q3 "Conventions and accepted alternatives": the handout's max shift then takes log(0), and log-sum-exp is not
required).
"""
import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import weight

from autograder.testkit import (CheckFailed, assert_close, assert_close_to_numerical,
                                assert_scalar_close, assert_shape, assert_unchanged, clip_bug_error,
                                GUARD, guard_tol, log_guard_tol, numerical_gradient,
                                numerical_gradient_of, softmax_guard_slack, to_scalar)

pytestmark = pytest.mark.question("Q3")

TOL_LOSS = 1e-10   # at least; loss tolerances accept guards up to 1e-10 (log_tol)
TOL_GRAD = 1e-9    # >= testkit.GUARD: probabilities normalised by (sum + 1e-10) pass


def _p_true(logits, y):
    """The true-class probabilities (float64, trusted side)."""
    logits = np.asarray(logits, dtype=np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return np.exp(log_probs[np.arange(len(y)), np.asarray(y, dtype=np.int64)])


def log_tol(logits, y, base=TOL_LOSS):
    """The loss tolerance for these logits: an epsilon of at most 1e-10 inside the log keeps
    every point (ASSIGNMENT.md "Numerical guards"; testkit.log_guard_tol)."""
    return log_guard_tol(_p_true(logits, y), base)


def _softmax(student, logits, y):
    got = student.classifiers.softmax(logits, y)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailed("softmax must return a tuple (loss, dlogits)")
    return got


def _case(rng, n, c, scale=3.0):
    logits = rng.normal(scale=scale, size=(n, c)) - 1.0     # negative and positive scores
    y = rng.integers(0, c, size=n)
    return logits, y


@weight(2)
@pytest.mark.parametrize("label_dtype", ["int64", "int16"])
def test_softmax_loss_and_gradient_on_random_batches(student, ref, case_rng, label_dtype):
    """softmax on random (N, C) logits: the mean loss and dlogits, with labels of any integer dtype."""
    n, c = int(case_rng.integers(4, 12)), int(case_rng.integers(3, 9))
    logits, y = _case(case_rng, n, c)
    y = y.astype(label_dtype)
    loss, dlogits = _softmax(student, logits.copy(), y.copy())
    e_loss, e_grad = ref.classifiers.softmax(logits, y)
    el = assert_scalar_close("loss", loss, e_loss, log_tol(logits, y))
    eg = assert_close("dlogits", dlogits, e_grad, TOL_GRAD, "(N, C): the shape of logits",
                      slack=softmax_guard_slack(n))
    print("loss relative error:", el, "- dlogits relative error:", eg)


@weight(1)
def test_softmax_of_a_single_example_and_of_many_classes(student, ref, case_rng):
    """softmax for N = 1 and for a batch with many classes (averaging over N, normalising over C)."""
    for n, c in ((1, int(case_rng.integers(3, 7))), (int(case_rng.integers(2, 5)), 40)):
        logits, y = _case(case_rng, n, c)
        loss, dlogits = _softmax(student, logits.copy(), y.copy())
        e_loss, e_grad = ref.classifiers.softmax(logits, y)
        assert_scalar_close(f"loss (N={n}, C={c})", loss, e_loss, log_tol(logits, y))
        assert_close(f"dlogits (N={n}, C={c})", dlogits, e_grad, TOL_GRAD,
                     "(N, C): the shape of logits", slack=softmax_guard_slack(n))


@weight(1.5)
def test_softmax_is_stable_for_rows_around_plus_and_minus_a_thousand(student, ref, case_rng):
    """Rows shifted by several hundred (up or down) give finite, exact results: shift each row by its own max."""
    n, c = int(case_rng.integers(4, 9)), int(case_rng.integers(3, 7))
    logits, y = _case(case_rng, n, c, scale=4.0)
    offsets = case_rng.uniform(500.0, 1000.0, size=n) * np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    logits += offsets[:, None]
    loss, dlogits = _softmax(student, logits.copy(), y.copy())
    e_loss, e_grad = ref.classifiers.softmax(logits, y)
    assert_scalar_close("loss for rows around +-1000", loss, e_loss, log_tol(logits, y))
    assert_close("dlogits for rows around +-1000", dlogits, e_grad, TOL_GRAD,
                 "(N, C), finite: subtract each ROW's maximum before exponentiating",
                 slack=softmax_guard_slack(n))


@weight(1.5)
def test_softmax_handout_stability_cases_have_exact_values(student):
    """Huge logits within a row, and rows far apart, give the exact loss and gradient."""
    logits = np.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 1000.0]])
    loss, dlogits = _softmax(student, logits, np.array([0, 1]))
    assert_scalar_close("loss for logits [[1000, 0, -1000], [0, 1000, 1000]]", loss,
                        np.log(2.0) / 2, log_tol(logits, [0, 1], 1e-12))
    assert_close("dlogits for logits [[1000, 0, -1000], [0, 1000, 1000]]", dlogits,
                 np.array([[0.0, 0.0, 0.0], [0.0, -0.25, 0.25]]), guard_tol(1e-12), "(N, C)",
                 slack=softmax_guard_slack(2))
    logits = np.array([[1000.0, 999.0], [-1000.0, -999.0]])
    loss, dlogits = _softmax(student, logits, np.array([0, 1]))
    q = 1.0 / (1.0 + np.e)                     # probability of the other class in each row
    assert_scalar_close("loss for rows [[1000, 999], [-1000, -999]]", loss, np.log1p(np.exp(-1.0)),
                        log_tol(logits, [0, 1], 1e-12))
    assert_close("dlogits for rows [[1000, 999], [-1000, -999]]", dlogits,
                 np.array([[-q, q], [q, -q]]) / 2, guard_tol(1e-12),
                 "(N, C); shift each row by its OWN maximum, not the global one",
                 slack=softmax_guard_slack(2))


@weight(1)
def test_softmax_gradient_matches_centred_differences_of_the_loss(student, ref, case_rng):
    """dlogits is the gradient of the returned mean loss (checked against centred differences)."""
    logits, y = _case(case_rng, int(case_rng.integers(3, 7)), int(case_rng.integers(3, 6)))
    _, dlogits = _softmax(student, logits.copy(), y.copy())
    numeric = numerical_gradient(lambda x: ref.classifiers.softmax(x, y)[0], logits.copy())
    grad = assert_shape("dlogits", dlogits, logits.shape, "(N, C): the shape of logits")
    # error relative to the largest entry: centred differences are not accurate to 1e-7
    # relative on entries far smaller than the others
    err = float(np.max(np.abs(grad - numeric)) / np.max(np.abs(numeric)))
    print("dlogits error (vs centred differences, relative to the largest entry):", err)
    if not err <= 1e-7:
        raise CheckFailed(f"dlogits (vs centred differences): max error {err:.3g} relative to the "
                          f"largest entry (tolerance 1e-07)")


@weight(1)
def test_softmax_does_not_modify_logits_or_labels(student, case_rng):
    """softmax leaves logits and y unchanged (shift a copy, not the input)."""
    logits, y = _case(case_rng, int(case_rng.integers(3, 8)), int(case_rng.integers(3, 6)))
    logits_before, y_before = logits.copy(), y.copy()
    _softmax(student, logits, y)
    assert_unchanged("softmax's logits", logits_before, logits)
    assert_unchanged("softmax's y", y_before, y)


@weight(0.5)
def test_softmax_accepts_float32_logits(student, ref, case_rng):
    """float32 logits give the loss and gradient to float32 accuracy."""
    logits, y = _case(case_rng, int(case_rng.integers(4, 9)), 5, scale=2.0)
    logits32 = logits.astype(np.float32)
    loss, dlogits = _softmax(student, logits32.copy(), y)
    e_loss, e_grad = ref.classifiers.softmax(logits32.astype(np.float64), y)
    assert_scalar_close("loss (float32 logits)", loss, e_loss, 1e-5)
    grad = assert_shape("dlogits (float32 logits)", dlogits, logits.shape, "(N, C)")
    err = float(np.max(np.abs(grad - e_grad)) / np.max(np.abs(e_grad)))
    if not err <= 1e-5:
        raise CheckFailed(f"dlogits (float32 logits): max error {err:.3g} relative to the largest "
                          f"entry (tolerance 1e-05)")
    to_scalar(loss, "loss")


@weight(1.5)
def test_softmax_loss_and_gradient_agree_at_tiny_true_class_probabilities(student, ref, case_rng):
    """At a true-class probability of 1e-8..3e-8 the loss is exact (no clipping) and dlogits is
    the gradient of the returned loss.

    ASSIGNMENT.md "Numerical guards": an epsilon of at most 1e-10 inside the log moves such a
    term by at most log(1.01) and its derivative by at most 1 %, within the tolerances derived
    here; clipping the probabilities at 1e-7 caps the term (the loss falls by at least log 3.3
    per example) and flattens it (its centred difference in the true logit is 0 while dlogits
    says -1/N), which both checks catch.  The test asserts that its inputs keep the two apart.
    """
    n, c = int(case_rng.integers(4, 8)), int(case_rng.integers(3, 7))
    logits, y = _case(case_rng, n, c, scale=1.0)
    tiny_rows = case_rng.choice(n, size=2, replace=False)
    for i in tiny_rows:
        p = case_rng.uniform(1e-8, 3e-8)
        others = np.delete(logits[i], y[i])
        top = np.max(others)
        lse = top + np.log(np.sum(np.exp(others - top)))
        logits[i, y[i]] = lse + np.log(p / (1.0 - p))   # softmax(logits[i])[y[i]] == p
    p_true = _p_true(logits, y)
    tol = log_tol(logits, y)
    assert clip_bug_error(p_true) > 10 * tol, "test inputs do not separate guards from clipping"
    loss, dlogits = _softmax(student, logits.copy(), y.copy())
    e_loss, _ = ref.classifiers.softmax(logits, y)
    err = assert_scalar_close("loss at tiny true-class probabilities", loss, e_loss, tol)
    print("loss relative error:", err, "tolerance:", tol)
    # loss-gradient consistency: the student's own loss differentiated numerically
    numeric = numerical_gradient_of(student.classifiers.softmax, (logits.copy(), y.copy()), 0,
                                    index=0)
    grad_tol = max(1e-6, 4 * GUARD / float(np.min(p_true)))   # a 1e-10 guard: <= 1 % here
    assert_close_to_numerical("dlogits (against centred differences of your loss)", dlogits,
                              numeric, grad_tol, "(N, C): the shape of logits")
