"""Metrics of a classifier, computed on the trusted side from predictions and the labels
(which only the grader holds), and the metric -> points curve."""
from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Metrics:
    accuracy: float
    macro_f1: float
    per_class_f1: tuple[float, ...]
    confusion: tuple[tuple[int, ...], ...]
    n: int
    correct: int

    def get(self, name: str) -> float:
        if name not in ("accuracy", "macro_f1"):
            raise KeyError(f"unknown metric {name!r}; expected accuracy or macro_f1")
        return float(getattr(self, name))


def compute(labels: np.ndarray, preds: np.ndarray, num_classes: int) -> Metrics:
    """All metrics for integer ``preds`` against ``labels`` (both (N,))."""
    # imported here: scikit-learn takes about a second to import, and a grading in which no
    # saved model loads (the template, a submission without one) never needs it
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
    classes = list(range(num_classes))
    labels = np.asarray(labels, dtype=np.int64)
    preds = np.asarray(preds, dtype=np.int64)
    per_class = f1_score(labels, preds, labels=classes, average=None, zero_division=0)
    return Metrics(
        accuracy=float(accuracy_score(labels, preds)),
        macro_f1=float(f1_score(labels, preds, labels=classes, average="macro", zero_division=0)),
        per_class_f1=tuple(float(x) for x in per_class),
        confusion=tuple(tuple(int(c) for c in row) for row in confusion_matrix(labels, preds, labels=classes)),
        n=int(labels.size), correct=int(np.sum(labels == preds)))


def points_fraction(value: float, baseline: float, target: float) -> float:
    """Linear from ``baseline`` (0) to ``target`` (1), clipped to [0, 1]."""
    if target <= baseline:
        return 1.0 if value >= target else 0.0
    return float(min(1.0, max(0.0, (value - baseline) / (target - baseline))))
