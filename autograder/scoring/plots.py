"""Instructor report plots: confusion matrix and per-class F1 (PNG, matplotlib Agg)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .metrics import Metrics  # noqa: E402


def save_plots(metrics: Metrics, class_names: Sequence[str], folder: Path, stem: str, title: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    names = list(class_names) or [str(i) for i in range(len(metrics.per_class_f1))]
    cm = np.array(metrics.confusion)
    fig, ax = plt.subplots(figsize=(1.0 + 0.5 * len(names), 0.8 + 0.5 * len(names)))
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"{title}: accuracy {metrics.accuracy:.3f}")
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    confusion_png = folder / f"{stem}_confusion.png"
    fig.savefig(confusion_png, dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.45 * len(names)), 3.2))
    ax.bar(range(len(names)), metrics.per_class_f1, color="tab:blue")
    ax.axhline(metrics.macro_f1, color="tab:red", linestyle="--", label=f"macro-F1 {metrics.macro_f1:.3f}")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("F1")
    ax.set_title(f"{title}: per-class F1")
    ax.legend(loc="lower right")
    fig.tight_layout()
    f1_png = folder / f"{stem}_per_class_f1.png"
    fig.savefig(f1_png, dpi=110)
    plt.close(fig)
    return [confusion_png, f1_png]
