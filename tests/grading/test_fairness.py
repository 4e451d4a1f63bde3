"""The fairness policy (ASSIGNMENT.md §"Fair grading", §"Conventions" and each question's
"Conventions and accepted alternatives"): for each rule, a
correct submission written the allowed-but-different way grades to full marks, under the fixed
CI seed and under per-submission seeds.  Plus old NumPy: np.float and
np.reshape(..., newshape=...) grade to full marks with the notice."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from autograder import config, paths
from autograder.grading import grade as grading

KIT = paths.kit_root()
ASSIGNMENT = config.load()

# rule -> (questions graded, {file: [(find, replace), ...]})
RULES = {
    "relu subgradient 1 at exactly 0 (dX = dout * (X >= 0))": (["Q1"], {
        "src/layers.py": [("    dX = dout * (X > 0)\n", "    dX = dout * (X >= 0)\n")]}),
    "relu subgradient 0.5 at exactly 0": (["Q1"], {
        "src/layers.py": [("    dX = dout * (X > 0)\n", "    dX = dout * ((X > 0) + 0.5 * (X == 0))\n")]}),
    "dropout 0/1 mask, backward rescales by 1/(1-p)": (["Q2"], {
        "src/layers.py": [("        mask = keep.astype(X.dtype) / (1 - p)\n        out = X * mask\n",
                           "        mask = keep.astype(X.dtype)\n        out = X * mask / (1 - p)\n"),
                          ("        dX = dout * mask\n", "        dX = dout * mask / (1 - p)\n")]}),
    "dropout mask from np.random.binomial": (["Q2"], {
        "src/layers.py": [("        keep = np.random.rand(*X.shape) >= p\n",
                           "        keep = np.random.binomial(1, 1 - p, size=X.shape).astype(bool)\n")]}),
    "the Imperial handout's `if seed:` (seed=0 ignored)": (["Q2", "Q4"], {
        "src/layers.py": [("    if seed is not None:\n        np.random.seed(seed)\n",
                           "    if seed:\n        np.random.seed(seed)\n")]}),
    "softmax with a plain max shift: log(0) where the correct class underflows": (["Q3"], {
        "src/classifiers.py": [("    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))\n",
                                "    probs = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)\n"
                                "    with np.errstate(divide='ignore'):\n"
                                "        log_probs = np.log(probs)\n")]}),
    "backward functions overwrite dout in place": (["Q1", "Q2"], {
        "src/layers.py": [("    dX = dout * (X > 0)\n", "    dout[X <= 0] = 0\n    dX = dout\n"),
                          ("        dX = dout * mask\n", "        dout *= mask\n        dX = dout\n")]}),
    "compute_loss_and_acc with a plain log (NaN on exact zeros)": (["Q10"], {
        "src/nn.py": [("    p_true = np.sum(y * probs, axis=1)\n    loss = float(-np.sum(np.log(p_true)))\n",
                       "    loss = float(-np.sum(y * np.log(probs)))\n")]}),
    "conv_forward that does not validate geometry": (["Q13"], {
        "src/conv_layers.py": [("    N, C, H, Wd, F, HH, WW = _conv_geometry(X, W, stride, pad)\n"
                                "    # BEGIN SOLUTION: pad X into a new array",
                                "    N, C, H, Wd = X.shape\n    F, _, HH, WW = W.shape\n"
                                "    # BEGIN SOLUTION: pad X into a new array")]}),
    "old NumPy: np.float and np.reshape(..., newshape=...)": (["Q1"], {
        "src/layers.py": [("    out = X.reshape(X.shape[0], -1) @ W + b\n",
                           "    out = np.reshape(X, newshape=(X.shape[0], -1)).astype(np.float) @ W + b\n")]}),
}


def _submission(root: Path, edits: dict[str, list[tuple[str, str]]]) -> Path:
    shutil.copytree(paths.reference_dir(KIT) / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    for rel, pairs in edits.items():
        path = root / rel
        text = path.read_text()
        for find, replace in pairs:
            assert text.count(find) == 1, f"{rel}: the reference changed; update this rule's patch: {find!r}"
            text = text.replace(find, replace)
        path.write_text(text)
    return root


@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("seed", ["fixed", "per-submission"])
def test_allowed_variant_grades_to_full_marks(rule, seed, tmp_path):
    questions, edits = RULES[rule]
    sub = _submission(tmp_path / "sub", edits)
    cfg = config.parse({**ASSIGNMENT.raw, "assignment": {**ASSIGNMENT.raw["assignment"], "include": questions}},
                       ASSIGNMENT.path, paths.reference_dir(KIT))
    res = grading.grade(sub, assignment=cfg, fixed_seed=(seed == "fixed"))
    lost = [(o.question, o.kind, o.name, o.message[:300]) for o in res.outcomes if not o.passed]
    assert not lost, f"{rule}: a valid implementation loses points: {lost}"
    assert res.score == sum(q.points for q in cfg.questions)
    if rule.startswith("old NumPy"):
        assert "np.float (write float)" in res.doc["output"]
        assert "np.reshape(..., newshape=...)" in res.doc["output"]
