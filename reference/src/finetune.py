"""Fine-tuning on frozen features: a backbone's features feed a small trained head (seed 002,
question Q9, PyTorch).

The handout's ``imagenet_finetune.py`` recomputes the frozen ResNet's output for every example
in every epoch.  Here the backbone runs ONCE per example (:func:`extract_features`), the
features are cached, and only the head is trained on them (:func:`train_head`).

You write:
  * :func:`extract_features` -- the backbone's features of every example;
  * :func:`train_head` -- a ``Linear(F, hidden) - ReLU - Linear(hidden, num_classes)`` head
    trained on cached features.

Given (in ``src/finetune_tools.py``, supplied by the grader; do not change it):
``make_backbone`` builds a backbone by name (``"resnet18"`` with random weights unless real
ones are supplied; ``"tiny"``, a small deterministic backbone for the tests), and the NumPy
wrappers ``extract_features_numpy`` and ``train_head_numpy`` through which the tests call
your two functions (only plain data crosses between the tests and your code).
``src/finetune_digits.py`` (given) runs the whole pipeline on the digits data set.
"""
import torch
from torch import nn


def extract_features(backbone, X, batch_size=256, device="cpu"):
    """The frozen backbone's features of every example, computed once.

    Inputs:
        backbone: an ``nn.Module`` mapping a float32 batch ``(B, C, H, W)`` to ``(B, ...)``
            (e.g. ``(B, F, 1, 1)`` after an average pool).
        X: float32 Tensor ``(N, C, H, W)`` of preprocessed images (a NumPy array is
            converted with ``torch.as_tensor``).  Not modified.
        batch_size: examples per forward call (the last batch may be smaller).
        device: where the backbone runs (``"cpu"`` or ``"cuda"``); it is moved there.

    Contract (the tests check each point):
      * the backbone runs in EVAL mode (``backbone.eval()``: batch norm uses its running
        statistics, dropout is off) and without building a graph (``torch.no_grad()``);
      * every example goes through the backbone exactly once, in batches of at most
        ``batch_size`` consecutive examples, in order;
      * each example's output is flattened (row-major) to F numbers.
    The reference restores the backbone's previous training/eval mode afterwards (tests do
    not check that).

    Returns:
        float32 Tensor ``(N, F)`` on the CPU, row n being the features of ``X[n]``, with no
        gradient history.
    """
    X = torch.as_tensor(X)
    # BEGIN SOLUTION: run the backbone in eval mode without gradients over consecutive batches; return the flattened features (N, F) on the CPU
    was_training = backbone.training
    backbone.eval()
    backbone.to(device)
    chunks = []
    try:
        with torch.no_grad():
            for start in range(0, X.shape[0], batch_size):
                batch = X[start:start + batch_size].to(device=device, dtype=torch.float32)
                chunks.append(torch.flatten(backbone(batch), start_dim=1).cpu())
    finally:
        backbone.train(was_training)
    if chunks:
        features = torch.cat(chunks)
    else:
        features = torch.zeros((0, 0), dtype=torch.float32)
    # END SOLUTION
    return features


def train_head(features, y, num_classes, hidden=32, epochs=20, lr=1e-2, weight_decay=0.0,
               seed=0):
    """Train a small classifier head on cached features.

    Inputs:
        features: float32 Tensor ``(N, F)`` (a NumPy array is converted).  Not modified.
        y: int64 Tensor ``(N,)`` of labels in ``[0, num_classes)`` (NumPy accepted).
        num_classes: C.
        hidden: units of the hidden layer.
        epochs: passes over the data.
        lr: the learning rate; weight_decay: L2 regularisation of the optimiser (the
            handout's suggested "L2 regularization ... in the small networks we added").
        seed: the given first lines seed torch's global RNG with it, so everything random
            here (initialisation, shuffling) must come from torch's global RNG (or a
            generator seeded from ``seed``): the same call twice gives the same head.

    The head is ``Linear(F, hidden) - ReLU - Linear(hidden, num_classes)`` (exactly these two
    ``nn.Linear`` layers, PyTorch's default initialisation), trained to minimise the mean
    cross-entropy of its logits.  The reference uses Adam (``lr``, ``weight_decay``) on
    minibatches of 64 examples, shuffled every epoch (``torch.randperm``), for ``epochs``
    epochs; any optimiser that fits well-separated features in the given epochs is fine
    (plain full-batch gradient descent needs more epochs or a larger ``lr``).

    Returns:
        the trained head, an ``nn.Module`` in eval mode, mapping ``(B, F)`` float32 features
        to ``(B, num_classes)`` logits.
    """
    torch.manual_seed(seed)
    features = torch.as_tensor(features, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.int64)
    # BEGIN SOLUTION: build the Linear-ReLU-Linear head and train it with a cross-entropy loss for the given epochs
    head = nn.Sequential(nn.Linear(features.shape[1], hidden), nn.ReLU(),
                         nn.Linear(hidden, num_classes))
    optimizer = torch.optim.Adam(head.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.CrossEntropyLoss()
    n = features.shape[0]
    batch = 64
    head.train()
    for _ in range(epochs):
        order = torch.randperm(n)
        for start in range(0, n, batch):
            idx = order[start:start + batch]
            optimizer.zero_grad()
            loss = loss_fn(head(features[idx]), y[idx])
            loss.backward()
            optimizer.step()
    head.eval()
    # END SOLUTION
    return head
