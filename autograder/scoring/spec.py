"""The ``[questions.Qn.model]`` table of assignment.toml.

Keys (defaults in brackets)::

    interface = "torch" | "test.py"      # cnn.Net + state_dict, or src/test.py
    label = "CNN"                        # prefix of the leaderboard columns ["model"]
    weight = 10                          # weight among the question's tests (public tests weigh 1)
    files = ["model.safetensors", ...]   # candidate model files next to src/ [by interface]
    metric = "accuracy" | "macro_f1"     # what the points curve reads ["accuracy"]
    batch_size = 256                     # images per request [256]
    max_params = 5000000                 # parameter count limit [none]
    max_model_mb = 200                   # model file size limit [512]
    batch_timeout_s = 30                 # time for one batch [30]
    total_timeout_s = 120                # time for loading + all batches [120]
    max_memory_mb = 4096                 # peak resident memory of the scoring process [none]
    memory_mb = 8192                     # address-space limit of the scoring process [question's]
    leaderboard = true                   # add columns to Gradescope's leaderboard [false]
    [questions.Qn.model.curve]           # per data set: metric giving 0 points, full points
    digits = [0.5, 0.97]
"""
from __future__ import annotations

import dataclasses
from typing import Any

DEFAULT_FILES = {"torch": ["model.safetensors", "model.pt", "model.pth"],
                 "test.py": ["model.npz", "model.json"]}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    interface: str
    label: str
    weight: float
    files: tuple[str, ...]
    metric: str
    batch_size: int
    max_params: int | None
    max_model_mb: float
    batch_timeout_s: float
    total_timeout_s: float
    max_memory_mb: float | None
    memory_mb: int | None
    leaderboard: bool
    curve: dict[str, tuple[float, float]]

    def curve_for(self, dataset: str) -> tuple[float, float]:
        if dataset not in self.curve:
            raise KeyError(f"no points curve for data set {dataset!r} (known: {sorted(self.curve)}); "
                           f"add it to the question's [model.curve] table")
        return self.curve[dataset]


def parse(table: dict[str, Any]) -> ModelSpec:
    interface = table.get("interface", "torch")
    curve = {k: (float(v[0]), float(v[1])) for k, v in table.get("curve", {}).items()}
    return ModelSpec(
        interface=interface, label=str(table.get("label", "model")),
        weight=float(table.get("weight", 10)),
        files=tuple(table.get("files", DEFAULT_FILES.get(interface, []))),
        metric=table.get("metric", "accuracy"), batch_size=int(table.get("batch_size", 256)),
        max_params=table.get("max_params"), max_model_mb=float(table.get("max_model_mb", 512)),
        batch_timeout_s=float(table.get("batch_timeout_s", 30)),
        total_timeout_s=float(table.get("total_timeout_s", 120)),
        max_memory_mb=table.get("max_memory_mb"), memory_mb=table.get("memory_mb"),
        leaderboard=bool(table.get("leaderboard", False)), curve=curve)
