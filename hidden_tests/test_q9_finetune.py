"""Q9 hidden tests: fine-tuning on frozen features (seed 002, src/finetune.py, PyTorch).

The student's ``extract_features`` and ``train_head`` are called through the NumPy wrappers of
the given ``src/finetune_tools.py`` (the grader's copy), which report what a probe around the
backbone saw (examples, calls, batch starts, training mode, gradient mode) and the trained
head's layers, logits and mode.  Features of the tiny backbone are recomputed here in NumPy
from its documented weights.  A head may be trained with any optimiser that fits
well-separated features (ASSIGNMENT.md §Q9 "Conventions and accepted alternatives" / the docstring), so the head tests check properties:
architecture, fit, reproducibility for a seed, dependence on the seed, the learning rate and
the weight decay -- never one optimiser's exact weights.
"""
import numpy as np
import pytest
from gradescope_utils.autograder_utils.decorators import weight

from autograder.testkit import (CheckFailed, assert_close, assert_close_to_scale, assert_shape,
                                assert_unchanged, to_array)

pytestmark = pytest.mark.question("Q9")


# ------------------------------------------------------------------------------ helpers
def tiny_features(X, seed):
    """The tiny backbone's eval-mode features, float64 NumPy, from its documented weights."""
    rs = np.random.RandomState(seed)
    weight_ = rs.uniform(-1.0, 1.0, size=(4, 3))
    bias = rs.uniform(-0.5, 0.5, size=4)
    z = np.einsum("fc,nchw->nfhw", weight_, X) + bias[None, :, None, None]
    z = (z - 0.25) / np.sqrt(2.0 + 1e-5)
    return np.maximum(z, 0.0).mean(axis=(2, 3))


def _images(rng, n, h, w):
    X = rng.normal(size=(n, 3, h, w)) + 0.3
    return X.astype(np.float32).astype(np.float64)     # exactly representable in float32


def _extract(student, X, batch_size, seed):
    out = student.finetune_tools.extract_features_numpy("tiny", X, batch_size=batch_size,
                                                        seed=seed)
    if not isinstance(out, dict):
        raise CheckFailed("extract_features_numpy did not return its dict")
    return out


def _clusters(rng, n_per_class, num_classes, dim, separation=3.0):
    """Gaussian clusters (unit variance) around centres at least 1.5 * separation apart."""
    for _ in range(1000):
        centres = separation * rng.normal(size=(num_classes, dim))
        gaps = np.linalg.norm(centres[:, None] - centres[None], axis=2)
        if np.min(gaps + np.eye(num_classes) * 1e9) >= 1.5 * separation:
            break
    y = np.repeat(np.arange(num_classes), n_per_class)
    X = centres[y] + rng.normal(size=(num_classes * n_per_class, dim))
    order = rng.permutation(len(y))
    return X[order].astype(np.float32).astype(np.float64), y[order]


def _cross_entropy(logits, y):
    logits = to_array(logits, "logits")
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean())


def _sum_sq_weights(out):
    return float(sum(np.sum(to_array(layer["weight"], "Linear weight") ** 2)
                     for layer in out["linears"]))


# ------------------------------------------------------------------------------ extract_features
@weight(3)
def test_extract_features_values_on_random_inputs(student, case_rng):
    """extract_features returns the (N, F) eval-mode features of the images, in order."""
    for case in ("partial_last_batch", "one_batch"):
        n = int(case_rng.integers(5, 12))
        h, w = (int(v) for v in case_rng.integers(2, 6, size=2))
        batch_size = (int(case_rng.choice([b for b in range(2, n) if n % b]))
                      if case == "partial_last_batch" else n + 3)
        seed = int(case_rng.integers(0, 1000))
        X = _images(case_rng, n, h, w)
        X0 = X.copy()
        out = _extract(student, X, batch_size, seed)
        # float32 features against float64 NumPy: compared to 1e-5 of the largest feature
        # (a correct backbone run reaches 2.6e-7 over 4000 random cases; the plain relative
        # error of a feature just above zero reached 2.2e-4 and failed 16 cases in 2000)
        assert_close_to_scale("features", out["features"], tiny_features(X0, seed), 1e-5,
                              "(N, F): one flattened row of backbone features per image, in order")
        assert_unchanged("X", X0, X)
        if out["input_modified"]:
            raise CheckFailed("extract_features modified the input tensor X; it must not")


@weight(3)
def test_extract_features_runs_each_example_once_in_consecutive_batches(student, case_rng):
    """Each example goes through the backbone once, in consecutive batches of <= batch_size."""
    for batch_size in (1, 3, 5):
        n = int(case_rng.integers(7, 12))
        X = _images(case_rng, n, 3, 2)
        out = _extract(student, X, batch_size, 1)
        if out["examples_seen"] != n:
            raise CheckFailed("the backbone saw %d examples for N = %d; each example must go "
                              "through it exactly once" % (out["examples_seen"], n))
        if out["max_batch"] > batch_size:
            raise CheckFailed("a forward call got %d examples; batch_size=%d allows at most %d"
                              % (out["max_batch"], batch_size, batch_size))
        expected_calls = -(-n // batch_size)
        if out["forward_calls"] != expected_calls:
            raise CheckFailed("%d examples in batches of %d take %d forward calls, not %d"
                              % (n, batch_size, expected_calls, out["forward_calls"]))
        starts = [int(s) for s in out["first_rows"]]
        if starts != list(range(0, n, batch_size)):
            raise CheckFailed("the batches are not consecutive runs of the examples in order "
                              "(X[0:B], X[B:2B], ...)")


@weight(2)
def test_extract_features_uses_eval_mode_without_gradients(student, case_rng):
    """The backbone runs in eval mode, with gradients disabled; features carry no history."""
    X = _images(case_rng, 6, 3, 3)
    out = _extract(student, X, 4, 2)
    if out["train_mode_calls"] != 0:
        raise CheckFailed("%d forward call(s) ran the backbone in training mode; call "
                          "backbone.eval() first" % out["train_mode_calls"])
    if out["grad_calls"] != 0:
        raise CheckFailed("%d forward call(s) ran with gradients enabled; wrap them in "
                          "torch.no_grad()" % out["grad_calls"])
    if out["requires_grad"]:
        raise CheckFailed("the returned features carry gradient history")


# ------------------------------------------------------------------------------ train_head
@weight(2)
def test_train_head_is_linear_relu_linear_of_random_sizes(student, case_rng):
    """train_head returns Linear(F, hidden) - ReLU - Linear(hidden, C), in eval mode."""
    dim, hidden, num_classes = (int(case_rng.integers(3, 8)), int(case_rng.integers(5, 20)),
                                int(case_rng.integers(2, 6)))
    feats, y = _clusters(case_rng, 6, num_classes, dim)
    out = student.finetune_tools.train_head_numpy(feats, y, num_classes, hidden=hidden,
                                                  epochs=2, lr=1e-2, seed=3)
    linears = out["linears"]
    if len(linears) != 2:
        raise CheckFailed("the head must have exactly two nn.Linear layers, found %d"
                          % len(linears))
    if linears[0]["bias"] is None or linears[1]["bias"] is None:
        raise CheckFailed("both Linear layers must have a bias")
    w1 = assert_shape("first Linear weight", linears[0]["weight"], (hidden, dim), "(hidden, F)")
    b1 = assert_shape("first Linear bias", linears[0]["bias"], (hidden,))
    w2 = assert_shape("second Linear weight", linears[1]["weight"], (num_classes, hidden),
                      "(num_classes, hidden)")
    b2 = assert_shape("second Linear bias", linears[1]["bias"], (num_classes,))
    if out["num_parameters"] != w1.size + b1.size + w2.size + b2.size:
        raise CheckFailed("the head must have exactly the parameters of its two Linear layers")
    pre = feats @ w1.T + b1
    expected = np.maximum(pre, 0.0) @ w2.T + b2
    logits = assert_shape("head logits", out["logits"], expected.shape, "(N, num_classes)")
    err = np.max(np.abs(logits - expected)) / max(1.0, np.max(np.abs(expected)))
    if not err <= 1e-5:
        raise CheckFailed("head logits are not Linear(F, hidden) - ReLU - Linear(hidden, "
                          "num_classes) of the features (scaled error %.3g)" % err)
    if out["training"]:
        raise CheckFailed("train_head must return the head in eval mode (head.eval())")


@weight(2)
def test_train_head_fits_random_separable_clusters(student, case_rng):
    """train_head fits well-separated random clusters and leaves its inputs unchanged."""
    num_classes, dim = int(case_rng.integers(3, 6)), int(case_rng.integers(4, 10))
    feats, y = _clusters(case_rng, 20, num_classes, dim)
    f0, y0 = feats.copy(), y.copy()
    out = student.finetune_tools.train_head_numpy(feats, y, num_classes, hidden=24, epochs=100,
                                                  lr=5e-2, seed=int(case_rng.integers(0, 100)))
    logits = assert_shape("logits", out["logits"], (len(y), num_classes), "(N, num_classes)")
    accuracy = float(np.mean(np.argmax(logits, axis=1) == y))
    ce = _cross_entropy(logits, y)
    print("training accuracy %.3f, cross-entropy %.4f" % (accuracy, ce))
    if not accuracy >= 0.9:
        raise CheckFailed("training accuracy %.3f on well-separated clusters; expected >= 0.9"
                          % accuracy)
    if not ce < 0.3:
        raise CheckFailed("mean cross-entropy %.3f after training on well-separated clusters; "
                          "expected < 0.3" % ce)
    assert_unchanged("features", f0, feats)
    assert_unchanged("y", y0, y)
    if out["input_modified"]:
        raise CheckFailed("train_head modified its features or labels tensor; it must not")


@weight(1.5)
def test_train_head_is_reproducible_and_depends_on_seed(student, case_rng):
    """The same seed gives the same head; another seed gives another head."""
    feats, y = _clusters(case_rng, 10, 3, 5)
    seed = int(case_rng.integers(0, 1000))
    kw = dict(hidden=16, epochs=3, lr=1e-2)
    a = student.finetune_tools.train_head_numpy(feats, y, 3, seed=seed, **kw)
    b = student.finetune_tools.train_head_numpy(feats, y, 3, seed=seed, **kw)
    c = student.finetune_tools.train_head_numpy(feats, y, 3, seed=seed + 1, **kw)
    la = to_array(a["logits"], "logits")
    assert_close("logits (second run, same seed)", b["logits"], la, 0.0)
    lc = assert_shape("logits (another seed)", c["logits"], la.shape)
    if np.max(np.abs(lc - la)) < 1e-6:
        raise CheckFailed("two different seeds gave the same head: everything random in "
                          "train_head must come from torch's RNG seeded with `seed`")


@weight(2)
def test_train_head_applies_weight_decay(student, case_rng):
    """weight_decay regularises the head: a large weight_decay gives much smaller weights."""
    feats, y = _clusters(case_rng, 15, 3, 6, separation=2.0)
    kw = dict(hidden=16, epochs=40, lr=5e-2, seed=4)
    plain = student.finetune_tools.train_head_numpy(feats, y, 3, weight_decay=0.0, **kw)
    decayed = student.finetune_tools.train_head_numpy(feats, y, 3, weight_decay=0.5, **kw)
    s0, s1 = _sum_sq_weights(plain), _sum_sq_weights(decayed)
    print("sum of squared weights: weight_decay=0: %.4f, weight_decay=0.5: %.4f" % (s0, s1))
    if not s1 < 0.5 * s0:
        raise CheckFailed("weight_decay=0.5 left the head's weights about as large as "
                          "weight_decay=0 (sum of squares %.3g vs %.3g): pass weight_decay "
                          "to the optimiser" % (s1, s0))


@weight(1.5)
def test_train_head_uses_the_learning_rate(student, case_rng):
    """lr sets the step size: a tiny lr barely lowers the loss, a large one fits."""
    feats, y = _clusters(case_rng, 15, 3, 6)
    kw = dict(hidden=16, epochs=30, seed=6)
    tiny = student.finetune_tools.train_head_numpy(feats, y, 3, lr=1e-7, **kw)
    large = student.finetune_tools.train_head_numpy(feats, y, 3, lr=5e-2, **kw)
    ce_tiny, ce_large = _cross_entropy(tiny["logits"], y), _cross_entropy(large["logits"], y)
    print("cross-entropy: lr=1e-7: %.4f, lr=5e-2: %.4f" % (ce_tiny, ce_large))
    if not ce_large < 0.5 * ce_tiny:
        raise CheckFailed("lr=1e-7 and lr=5e-2 trained about equally well (cross-entropy "
                          "%.3g vs %.3g): pass lr to the optimiser" % (ce_tiny, ce_large))
