"""When two scorings of the same saved model on the same images agree (a GPU vs the CPU).

The rule (:func:`compare`), applied on the trusted side to what each run's report folder keeps
(``<Qn>_model_predictions.npz``: the predicted class and the top-2 score margin per image):

* the runs agree when their accuracy and macro-F1 are equal; else
* they agree when the images they classify differently are at most one per 10 000 images
  evaluated (rounded up: at least one) AND on each of those images the two highest scores
  tie within :data:`TIE_TOLERANCE` (1e-6) in at least one of the runs — a difference of the
  last bits of float32 arithmetic, which order of summation alone can flip;
* anything else is a real disagreement: the GPU scored the model differently.

Scoring runs with TF32 and reduced-precision matmuls off (``worker.models.scoring_numerics``),
so on a correct setup the predictions are normally identical.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from . import metrics as metrics_mod

TIE_TOLERANCE = 1e-6
IMAGES_PER_ALLOWED_DIFFERENCE = 10_000


def allowed_differences(n_images: int) -> int:
    """Differently classified images tolerated for ``n_images`` (one per 10 000, rounded up)."""
    return math.ceil(n_images / IMAGES_PER_ALLOWED_DIFFERENCE) if n_images > 0 else 0


@dataclasses.dataclass(frozen=True)
class Agreement:
    ok: bool
    reason: str
    n_images: int
    differing: int            # images classified differently
    ties: int                 # of those, how many tie within the tolerance
    allowed: int
    metrics_a: dict[str, float]
    metrics_b: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def compare(labels: np.ndarray, num_classes: int, preds_a: np.ndarray, margins_a: np.ndarray,
            preds_b: np.ndarray, margins_b: np.ndarray, tol: float = TIE_TOLERANCE) -> Agreement:
    """Apply the rule to runs ``a`` and ``b`` (predictions and top-2 margins per image; a NaN
    margin, e.g. labels from test_fer_model, never counts as a tie)."""
    labels = np.asarray(labels)
    preds_a, preds_b = np.asarray(preds_a), np.asarray(preds_b)
    margins_a = np.asarray(margins_a, dtype=np.float64)
    margins_b = np.asarray(margins_b, dtype=np.float64)
    n = int(labels.size)
    for name, arr in (("predictions a", preds_a), ("predictions b", preds_b),
                      ("margins a", margins_a), ("margins b", margins_b)):
        if arr.shape != labels.shape:
            raise ValueError(f"{name} has shape {arr.shape}; expected {labels.shape}, one per image")
    ma = metrics_mod.compute(labels, preds_a, num_classes)
    mb = metrics_mod.compute(labels, preds_b, num_classes)
    summary_a = {"accuracy": ma.accuracy, "macro_f1": ma.macro_f1}
    summary_b = {"accuracy": mb.accuracy, "macro_f1": mb.macro_f1}
    diff = np.flatnonzero(preds_a != preds_b)
    tie = np.zeros(diff.size, dtype=bool)
    if diff.size:
        with np.errstate(invalid="ignore"):
            tie = (margins_a[diff] <= tol) | (margins_b[diff] <= tol)
    allowed = allowed_differences(n)
    common = dict(n_images=n, differing=int(diff.size), ties=int(tie.sum()), allowed=allowed,
                  metrics_a=summary_a, metrics_b=summary_b)
    if summary_a == summary_b:
        why = ("identical predictions" if not diff.size else
               f"accuracy and macro-F1 equal ({diff.size} image(s) classified differently "
               f"cancel out)")
        return Agreement(True, why, **common)
    if diff.size > allowed:
        return Agreement(False, f"{diff.size} images classified differently; at most {allowed} "
                                f"per {n} images may differ", **common)
    if not tie.all():
        first = int(diff[~tie][0])
        return Agreement(False, f"image {first} is classified differently ({int(preds_a[first])} "
                                f"vs {int(preds_b[first])}) while its top-2 scores do not tie "
                                f"(margins {margins_a[first]:.3g} and {margins_b[first]:.3g} > "
                                f"{tol:g})", **common)
    return Agreement(True, f"{diff.size} image(s) classified differently, each a tie of the top-2 "
                           f"scores within {tol:g} (at most {allowed} allowed)", **common)
