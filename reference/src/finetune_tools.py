"""Given helpers for fine-tuning (seed 002, question Q9; you do not need to change this file).

This file is supplied by the grader: your copy is replaced by the course's, so its backbones,
probe and wrappers are the same for everybody.  Your code lives in ``src/finetune.py``.

  * :func:`make_backbone` -- builds a frozen feature extractor by name.  No pretrained weights
    can be downloaded where the course runs, so ``"resnet18"`` is torchvision's ResNet-18 up to
    its average pool with RANDOM weights from a fixed seed, unless real weights are supplied.
    ``"tiny"`` is a small deterministic backbone for the tests.
  * :class:`ForwardProbe` -- wraps a backbone and counts what goes through it.
  * :func:`extract_features_numpy` and :func:`train_head_numpy` -- NumPy wrappers of YOUR
    ``extract_features`` and ``train_head`` (imported from ``src/finetune.py`` when called).
    The grader runs your code in a separate process and only plain data (NumPy arrays,
    numbers, strings, lists, dicts) crosses between the tests and your code: a
    ``torch.nn.Module`` or a ``Tensor`` cannot.  So the tests call these wrappers: they build
    the backbone from its NAME inside your process, convert NumPy to tensors, call your
    functions, and return NumPy arrays and numbers (features, logits, the head's parameters,
    and what the probe saw: how many examples went through the backbone, in how many calls,
    in which mode, with or without gradients).

``src/finetune_digits.py`` (given) runs the whole pipeline on the digits data set.
"""
import importlib
import os

import numpy as np
import torch
from torch import nn

#: Input channels every backbone here expects (RGB images).
IN_CHANNELS = 3
#: Feature dimension of the "tiny" backbone.
TINY_FEATURES = 4


def _finetune():
    """The student's ``finetune`` module (``src/finetune.py``), imported when first needed, so
    that this module imports even while ``finetune.py`` is incomplete."""
    if __package__:
        return importlib.import_module(".finetune", __package__)
    return importlib.import_module("finetune")


def _tiny_backbone(seed):
    """The "tiny" backbone (see :func:`make_backbone`), weights from ``RandomState(seed)``."""
    rs = np.random.RandomState(seed)
    weight = rs.uniform(-1.0, 1.0, size=(TINY_FEATURES, IN_CHANNELS))
    bias = rs.uniform(-0.5, 0.5, size=TINY_FEATURES)
    conv = nn.Conv2d(IN_CHANNELS, TINY_FEATURES, kernel_size=1)
    bn = nn.BatchNorm2d(TINY_FEATURES)
    with torch.no_grad():
        conv.weight.copy_(torch.as_tensor(weight, dtype=torch.float32).reshape(
            TINY_FEATURES, IN_CHANNELS, 1, 1))
        conv.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        bn.running_mean.fill_(0.25)
        bn.running_var.fill_(2.0)
    return nn.Sequential(conv, bn, nn.ReLU(), nn.Dropout(0.5), nn.AdaptiveAvgPool2d(1))


def make_backbone(name="resnet18", seed=0, weights=None):
    """A frozen feature extractor.

    Inputs:
        name: ``"resnet18"`` (or another torchvision ResNet: ``"resnet34"``, ``"resnet50"``,
            ...): the network up to and including its average pool, output ``(N, F, 1, 1)``
            (F = 512 for ResNet-18/34, 2048 for ResNet-50), for inputs ``(N, 3, H, W)`` with
            H, W >= 32 (smaller inputs vanish in its stride-32 downsampling).
            ``"tiny"``: ``Conv2d(3, 4, 1) - BatchNorm2d(4) - ReLU - Dropout(0.5) -
            AdaptiveAvgPool2d(1)``, output ``(N, 4, 1, 1)``, any H, W >= 1.  Its conv weight
            ``(4, 3)`` and bias ``(4,)`` are ``rs.uniform(-1, 1, (4, 3))`` then
            ``rs.uniform(-0.5, 0.5, 4)`` with ``rs = np.random.RandomState(seed)``; the
            batch norm has running mean 0.25, running variance 2.0, eps 1e-5, weight 1,
            bias 0.  In eval mode it is deterministic; in training mode the batch norm uses
            batch statistics and the dropout zeroes features, so features computed in
            training mode differ.
            An ``nn.Module`` is returned unchanged.
        seed: seeds the random initialisation (``torch.manual_seed(seed)`` before building a
            ResNet; the tiny backbone's RandomState).  The global torch RNG state is
            restored afterwards.
        weights: ``None`` for random weights; for a ResNet also a torchvision weights enum
            or its name (e.g. ``"IMAGENET1K_V1"``, needs the weights downloaded or cached),
            or the path of a saved ``state_dict`` of the full torchvision model (``.pth``/
            ``.pt`` loaded with ``weights_only=True``, or ``.safetensors``).

    Returns:
        an ``nn.Module`` in training mode (as built), on the CPU, float32.
    """
    if isinstance(name, nn.Module):
        return name
    if name == "tiny":
        return _tiny_backbone(seed)
    import torchvision

    if not name.startswith("resnet"):
        raise ValueError("make_backbone: unknown backbone %r; expected 'resnet18' (or another "
                         "torchvision ResNet), 'tiny' or an nn.Module" % (name,))
    rng_state = torch.get_rng_state()
    try:
        torch.manual_seed(seed)
        path_weights = isinstance(weights, (str, os.PathLike)) and os.path.isfile(weights)
        if weights is None or path_weights:
            model = torchvision.models.get_model(name, weights=None)
        else:
            model = torchvision.models.get_model(name, weights=weights)
    finally:
        torch.set_rng_state(rng_state)
    if path_weights:
        if str(weights).endswith(".safetensors"):
            from safetensors.torch import load_file
            state = load_file(str(weights))
        else:
            state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    # Everything up to and including the global average pool; drop the classifier `fc`.
    return nn.Sequential(*(module for key, module in model.named_children() if key != "fc"))


class ForwardProbe(nn.Module):
    """Wraps a backbone and records how it is called (used by the tests).

    Attributes: ``calls`` (forward calls), ``examples`` (examples seen, summed over calls),
    ``max_batch`` (largest batch), ``train_mode_calls`` (calls made in training mode),
    ``grad_calls`` (calls made with gradients enabled), ``first_rows`` (for every call, in
    order, the index in the probe's ``rows_of`` input of the call's first example, or -1 when
    the batch does not start with one of its rows; see :func:`extract_features_numpy`).
    """

    def __init__(self, inner, rows_of=None):
        super().__init__()
        self.inner = inner
        self.calls = 0
        self.examples = 0
        self.max_batch = 0
        self.train_mode_calls = 0
        self.grad_calls = 0
        self.first_rows = []
        self._rows_of = rows_of

    def forward(self, x):
        self.calls += 1
        self.examples += int(x.shape[0])
        self.max_batch = max(self.max_batch, int(x.shape[0]))
        self.train_mode_calls += int(self.training)
        self.grad_calls += int(torch.is_grad_enabled())
        self.first_rows.append(self._locate(x))
        return self.inner(x)

    def _locate(self, x):
        """Index of ``x[0]`` among the rows of ``rows_of`` (-1 if none or no rows given)."""
        if self._rows_of is None or x.shape[0] == 0:
            return -1
        with torch.no_grad():
            first = x[0].detach().to(device="cpu", dtype=torch.float32)
            if first.shape != self._rows_of.shape[1:]:
                return -1
            same = (self._rows_of == first).reshape(self._rows_of.shape[0], -1).all(dim=1)
            hits = torch.nonzero(same).flatten()
        return int(hits[0]) if hits.numel() else -1


def extract_features_numpy(backbone_name, X, batch_size=256, seed=0, weights=None):
    """NumPy in, NumPy out: YOUR ``extract_features`` on a backbone built by name.

    Builds ``make_backbone(backbone_name, seed, weights)``, leaves it in training mode (as
    built), wraps it in a :class:`ForwardProbe`, calls
    ``extract_features(probe, torch.as_tensor(X, dtype=torch.float32), batch_size)``.

    Returns:
        dict: ``features`` float64 array (N, F); ``examples_seen``, ``forward_calls``,
        ``max_batch``, ``train_mode_calls``, ``grad_calls`` (ints, from the probe);
        ``first_rows`` (list of ints: for each forward call, the index in ``X`` of the
        batch's first example); ``training_after`` (bool, the backbone's mode after the
        call); ``requires_grad`` (bool, whether the returned tensor carries gradient
        history); ``input_modified`` (bool, whether the input tensor changed).
    """
    inputs = torch.as_tensor(np.asarray(X), dtype=torch.float32)
    before = inputs.clone()
    probe = ForwardProbe(make_backbone(backbone_name, seed=seed, weights=weights), rows_of=before)
    probe.train()
    features = _finetune().extract_features(probe, inputs, batch_size=batch_size)
    features = torch.as_tensor(features)
    return {
        "features": features.detach().cpu().to(torch.float64).numpy(),
        "examples_seen": probe.examples,
        "forward_calls": probe.calls,
        "max_batch": probe.max_batch,
        "train_mode_calls": probe.train_mode_calls,
        "grad_calls": probe.grad_calls,
        "first_rows": list(probe.first_rows),
        "training_after": bool(probe.training),
        "requires_grad": bool(features.requires_grad),
        "input_modified": not torch.equal(before, inputs),
    }


def train_head_numpy(features, y, num_classes, hidden=32, epochs=20, lr=1e-2,
                     weight_decay=0.0, seed=0, eval_features=None):
    """NumPy in, NumPy out: YOUR ``train_head``, then the head's logits.

    Inputs as ``train_head`` (NumPy arrays); ``eval_features`` (M, F) are the features to
    compute logits for (default: the training features).

    Returns:
        dict: ``logits`` float64 (M, num_classes), the trained head in eval mode on
        ``eval_features`` (no gradients); ``linears`` a list, for every ``nn.Linear`` of the
        head in module order, of ``{"weight": (out, in) array, "bias": (out,) array or
        None}``; ``num_parameters`` (int, trainable scalars); ``training`` (bool, the head's
        mode as returned); ``module_types`` (list of str: the class names of the head's
        modules in order, the head itself first); ``input_modified`` (bool, whether the
        features or labels tensor changed).
    """
    feats = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    labels = torch.as_tensor(np.asarray(y), dtype=torch.int64)
    feats_before, labels_before = feats.clone(), labels.clone()
    head = _finetune().train_head(feats, labels, num_classes, hidden=hidden, epochs=epochs,
                                  lr=lr, weight_decay=weight_decay, seed=seed)
    was_training = head.training
    head.eval()
    evaluate = feats_before if eval_features is None else torch.as_tensor(
        np.asarray(eval_features), dtype=torch.float32)
    with torch.no_grad():
        logits = head(evaluate)
    linears = [{"weight": m.weight.detach().to(torch.float64).numpy(),
                "bias": None if m.bias is None else m.bias.detach().to(torch.float64).numpy()}
               for m in head.modules() if isinstance(m, nn.Linear)]
    return {
        "logits": logits.detach().to(torch.float64).numpy(),
        "linears": linears,
        "num_parameters": int(sum(p.numel() for p in head.parameters() if p.requires_grad)),
        "training": bool(was_training),
        "module_types": [type(m).__name__ for m in head.modules()],
        "input_modified": not (torch.equal(feats_before, feats)
                               and torch.equal(labels_before, labels)),
    }
