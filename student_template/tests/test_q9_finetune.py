"""Public tests for Q9: fine-tuning on frozen features (src/finetune.py, PyTorch).

Only plain data crosses between these tests and your code (the grader runs it in another
process), so the tests call the NumPy wrappers of the given ``src/finetune_tools.py`` (the
grader supplies its own copy of that file): ``extract_features_numpy`` builds the small
deterministic ``"tiny"`` backbone by name, wraps it in a probe that counts what goes through
it, and calls YOUR ``extract_features``; ``train_head_numpy`` calls YOUR ``train_head`` and
returns the head's logits and parameters.

The tiny backbone (see ``make_backbone``) is ``Conv2d(3, 4, 1) - BatchNorm2d(4) - ReLU -
Dropout(0.5) - AdaptiveAvgPool2d(1)`` with documented weights, so its eval-mode features are
recomputed here with NumPy.
"""
import numpy as np
import pytest

from autograder.testkit import (assert_close, assert_close_to_scale, assert_shape,
                                assert_unchanged, to_array)

pytestmark = pytest.mark.question("Q9")

TINY_SEED = 3


def tiny_features(X, seed=TINY_SEED):
    """The tiny backbone's eval-mode features, in float64 NumPy (its documented weights)."""
    rs = np.random.RandomState(seed)
    weight = rs.uniform(-1.0, 1.0, size=(4, 3))
    bias = rs.uniform(-0.5, 0.5, size=4)
    z = np.einsum("fc,nchw->nfhw", weight, X) + bias[None, :, None, None]
    z = (z - 0.25) / np.sqrt(2.0 + 1e-5)          # batch norm with its running statistics
    return np.maximum(z, 0.0).mean(axis=(2, 3))    # ReLU, (no dropout in eval), average pool


def images(n, seed=0, size=5):
    X = np.random.RandomState(seed).randn(n, 3, size, size)
    return X.astype(np.float32).astype(np.float64)   # exactly representable in float32


# ------------------------------------------------------------------------------ extract_features
def test_extract_features_shape_and_values(student):
    X = images(10)
    X_before = X.copy()
    out = student.finetune_tools.extract_features_numpy("tiny", X, batch_size=4, seed=TINY_SEED)
    feats = assert_shape("features", out["features"], (10, 4),
                         "(N, F): one flattened row per image")
    # float32 features: compared to 1e-5 of the largest feature (a feature just above zero
    # carries float32 rounding far above 1e-5 of its own size)
    err = assert_close_to_scale("features", feats, tiny_features(X), 1e-5,
                                "the backbone's output for each image, in eval mode, in order")
    print("features relative error:", err)
    assert_unchanged("X", X_before, X)


def test_extract_features_passes_each_example_once_in_batches(student):
    X = images(10, seed=1)
    out = student.finetune_tools.extract_features_numpy("tiny", X, batch_size=4, seed=TINY_SEED)
    print("forward calls:", out["forward_calls"], "examples seen:", out["examples_seen"])
    assert out["examples_seen"] == 10, \
        "the backbone saw %d examples in total; each of the 10 must go through it exactly once" \
        % out["examples_seen"]
    assert out["max_batch"] <= 4, \
        "a forward call got %d examples; batch_size=4 allows at most 4" % out["max_batch"]
    assert out["forward_calls"] == 3, \
        "10 examples in batches of at most 4 take 3 forward calls, not %d" % out["forward_calls"]


def test_extract_features_uses_eval_mode_and_no_grad(student):
    out = student.finetune_tools.extract_features_numpy("tiny", images(6, seed=2), batch_size=256,
                                                  seed=TINY_SEED)
    assert out["train_mode_calls"] == 0, \
        "the backbone ran in training mode; call backbone.eval() first (batch norm and " \
        "dropout behave differently in training mode)"
    assert out["grad_calls"] == 0, \
        "the backbone ran with gradients enabled; wrap the forward passes in torch.no_grad()"
    assert not out["requires_grad"], "the returned features must not carry gradient history"


def test_extract_features_batch_size_does_not_change_features(student):
    X = images(9, seed=4, size=3)
    one = student.finetune_tools.extract_features_numpy("tiny", X, batch_size=1, seed=TINY_SEED)
    all_ = student.finetune_tools.extract_features_numpy("tiny", X, batch_size=256, seed=TINY_SEED)
    assert_close("features (batch_size=1)", one["features"], to_array(all_["features"], "features"),
                 1e-6)
    assert one["forward_calls"] == 9, "batch_size=1 must give one forward call per example"


# ------------------------------------------------------------------------------ train_head
def clusters(seed=5, n=30, num_classes=3, dim=8):
    rs = np.random.RandomState(seed)
    centres = rs.randn(num_classes, dim)
    y = np.repeat(np.arange(num_classes), n)
    X = centres[y] + rs.randn(num_classes * n, dim)
    return X.astype(np.float32).astype(np.float64), y


def cross_entropy(logits, y):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean())


def test_train_head_architecture(student):
    feats, y = clusters()
    out = student.finetune_tools.train_head_numpy(feats, y, 3, hidden=16, epochs=2, lr=1e-2, seed=0)
    linears = out["linears"]
    assert len(linears) == 2, "the head must have exactly two nn.Linear layers, found %d" \
        % len(linears)
    w1 = assert_shape("first Linear weight", linears[0]["weight"], (16, 8), "(hidden, F)")
    w2 = assert_shape("second Linear weight", linears[1]["weight"], (3, 16),
                      "(num_classes, hidden)")
    assert linears[0]["bias"] is not None and linears[1]["bias"] is not None, \
        "both Linear layers must have a bias"
    b1 = assert_shape("first Linear bias", linears[0]["bias"], (16,))
    b2 = assert_shape("second Linear bias", linears[1]["bias"], (3,))
    assert out["num_parameters"] == 16 * 8 + 16 + 3 * 16 + 3, \
        "the head must have exactly the parameters of its two Linear layers"
    # The logits must be Linear - ReLU - Linear of the features.
    # (float32 arithmetic: compare relative to the logits' overall scale, not entry by entry)
    expected = np.maximum(feats @ w1.T + b1, 0.0) @ w2.T + b2
    logits = assert_shape("head logits", out["logits"], expected.shape, "(N, num_classes)")
    err = np.max(np.abs(logits - expected)) / max(1.0, np.max(np.abs(expected)))
    assert err <= 1e-5, "head logits are not Linear(F, hidden) - ReLU - Linear(hidden, " \
                        "num_classes) of the features (scaled error %.3g)" % err


def test_train_head_fits_separable_features(student):
    feats, y = clusters()
    feats_before = feats.copy()
    untrained = student.finetune_tools.train_head_numpy(feats, y, 3, epochs=0, lr=5e-2, seed=0)
    trained = student.finetune_tools.train_head_numpy(feats, y, 3, epochs=100, lr=5e-2, seed=0)
    logits = assert_shape("logits", trained["logits"], (90, 3), "(N, num_classes)")
    accuracy = float(np.mean(np.argmax(logits, axis=1) == y))
    ce0 = cross_entropy(to_array(untrained["logits"], "logits (epochs=0)"), y)
    ce = cross_entropy(logits, y)
    print("training accuracy %.3f, cross-entropy %.4f (untrained %.4f)" % (accuracy, ce, ce0))
    assert accuracy >= 0.9, "training accuracy %.3f on well-separated clusters; expected >= 0.9" \
        % accuracy
    assert ce < 0.5 * ce0, \
        "training must lower the cross-entropy clearly (%.3f -> %.3f)" % (ce0, ce)
    assert_unchanged("features", feats_before, feats)


def test_train_head_is_deterministic_given_seed(student):
    feats, y = clusters(seed=6)
    a = student.finetune_tools.train_head_numpy(feats, y, 3, epochs=3, seed=11)
    b = student.finetune_tools.train_head_numpy(feats, y, 3, epochs=3, seed=11)
    assert_close("logits (second run, same seed)", b["logits"], to_array(a["logits"], "logits"),
                 0.0)
