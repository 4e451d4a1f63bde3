"""Q6: the PyTorch CNN (src/cnn.py) — interface checks.

The trained model itself is scored by the grader on a private test split (accuracy, macro-F1,
confusion matrix); ``python -m autograder selftest`` scores your saved ``model.safetensors`` on
the public validation split.  These tests only check that ``Net()`` builds without arguments
and maps ``(N, 1, 8, 8)`` float32 images in [0, 1] to ``(N, 10)`` scores in eval mode.

They go through ``cnn_tools.predict_numpy`` (given code in ``src/cnn_tools.py``; the grader
supplies its own copy), which builds your ``Net()`` after ``torch.manual_seed(seed)``, runs it in
eval mode without gradients and returns NumPy scores: they need nothing from ``cnn.py`` but
``Net``.
"""
import numpy as np
import pytest

from autograder.testkit import assert_close, assert_shape

pytestmark = pytest.mark.question("Q6")

NUM_CLASSES = 10
IMAGE_SHAPE = (1, 8, 8)   # the configured data set: scikit-learn's digits


def _images(n, seed=0):
    rs = np.random.RandomState(seed)
    return rs.rand(n, *IMAGE_SHAPE).astype(np.float32)


def test_net_builds_without_arguments_and_returns_one_score_per_class(student):
    X = _images(6)
    scores = student.cnn_tools.predict_numpy(X)
    arr = assert_shape("Net()(x) scores", scores, (6, NUM_CLASSES),
                       "(N, num_classes) for x of shape (N, 1, 8, 8)")
    if not np.isfinite(arr).all():
        raise AssertionError("Net()(x) returned NaN or infinite scores for images in [0, 1]")


def test_net_handles_a_single_image(student):
    scores = student.cnn_tools.predict_numpy(_images(1, seed=1))
    assert_shape("Net()(x) scores for one image", scores, (1, NUM_CLASSES), "(1, num_classes)")


def test_net_scores_do_not_depend_on_the_rest_of_the_batch_in_eval_mode(student):
    # In eval mode (how the model is graded) batch norm uses its running statistics and
    # dropout is off, so an image's scores must not change with the batch it is in.
    X = _images(8, seed=2)
    together = assert_shape("Net()(x) scores", student.cnn_tools.predict_numpy(X, seed=0),
                            (8, NUM_CLASSES), "(N, num_classes)")
    alone = assert_shape("Net()(x) scores", student.cnn_tools.predict_numpy(X[:3], seed=0),
                         (3, NUM_CLASSES), "(N, num_classes)")
    # float32 kernels may round differently for different batch sizes: compare with an
    # ABSOLUTE tolerance of about 1e-4 of the scores' scale (shifting both by the same
    # constant turns the relative check into an absolute one).
    shift = 1.0 + float(np.max(np.abs(together)))
    assert_close("scores of the first 3 images predicted on their own vs within the batch",
                 alone + shift, together[:3] + shift, 5e-5, "(3, num_classes)")
