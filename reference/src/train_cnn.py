"""Train ``cnn.Net`` on the public training split and save it (given code).

Run it from the submission root (the folder holding ``src/``)::

    python -m src.train_cnn                    # or: python src/train_cnn.py
    python -m src.train_cnn --epochs 40 --out somewhere/

It trains ``Net`` (from ``src/cnn.py``) on the PUBLIC training split of the configured data
set (scikit-learn digits: ``datasets/digits/public/train_*.npy``, uint8 ``(N, 8, 8)`` images
with values 0..16, scaled here to float32 ``[0, 1]`` and shaped ``(N, 1, 8, 8)``), with
Adam, a one-cycle learning-rate schedule and random +-1 pixel shifts, showing a progress bar.
It then writes to the output folder (default: the submission root):

* ``model.safetensors`` — ``Net``'s ``state_dict``, the file you submit;
* ``cnn_loss.png`` and ``cnn_accuracy.png`` — training loss and train/validation accuracy
  per epoch;

and prints the accuracy on the public VALIDATION split.  The grader scores the saved model on
a private test split you never see.  Everything is seeded: the same code and settings give
the same model on the same machine.  Feel free to change the hyper-parameters below (or
write your own training code): only ``cnn.py`` and the saved model are graded.
"""
import argparse
import os
import sys
import time

import numpy as np
import torch
from torch import nn

if __package__ in (None, ""):   # run as a file (python src/train_cnn.py): import as a package
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from src.cnn import Net
    from src.cnn_tools import MODEL_PATH
    from src.utils.data_utils import _datasets_dir
else:
    from .cnn import Net
    from .cnn_tools import MODEL_PATH
    from .utils.data_utils import _datasets_dir

EPOCHS = 40
BATCH_SIZE = 64
LEARNING_RATE = 3e-3
WEIGHT_DECAY = 5e-4
SEED = 0
THREADS = 1     # PyTorch CPU threads: this small network on 8x8 images gains nothing from more


def load_digits_split(part, root=None):
    """Images ``(N, 1, 8, 8)`` float32 in [0, 1] and labels ``(N,)`` int64 of a digits split.

    ``part`` is ``"train"`` or ``"val"`` (the public splits in ``datasets/digits/public/``).
    """
    folder = os.path.join(root or _datasets_dir(), "digits", "public")
    images = np.load(os.path.join(folder, "%s_images.npy" % part), allow_pickle=False)
    labels = np.load(os.path.join(folder, "%s_labels.npy" % part), allow_pickle=False)
    X = (images.astype(np.float32) / 16.0)[:, None, :, :]
    return X, labels.astype(np.int64)


def random_shift(x, max_shift=1):
    """Shift every image of ``x`` (N, C, H, W) by up to ``max_shift`` pixels (zero fill)."""
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (n,))
    dx = torch.randint(0, 2 * max_shift + 1, (n,))
    rows = (dy[:, None] + torch.arange(h)[None, :])[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w)[None, :])[:, None, None, :]
    idx_n = torch.arange(n)[:, None, None, None]
    idx_c = torch.arange(x.shape[1])[None, :, None, None]
    return padded[idx_n, idx_c, rows, cols]


def accuracy(model, X, y, batch_size=512):
    """Fraction of ``X`` (a float32 tensor) that ``model`` (in eval mode) classifies as ``y``."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            pred = model(X[start:start + batch_size]).argmax(dim=1)
            correct += int((pred == y[start:start + batch_size]).sum())
    return correct / max(len(X), 1)


def save_curves(history, out_dir):
    """Write ``cnn_loss.png`` and ``cnn_accuracy.png`` into ``out_dir``; returns their paths."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = np.arange(1, len(history["loss"]) + 1)
    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, history["loss"], label="training loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_title("Net: training loss")
    ax.legend()
    paths.append(os.path.join(out_dir, "cnn_loss.png"))
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, history["train_acc"], label="train (eval mode, no augmentation)")
    ax.plot(epochs, history["val_acc"], label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title("Net: accuracy")
    ax.legend()
    paths.append(os.path.join(out_dir, "cnn_accuracy.png"))
    fig.savefig(paths[-1], dpi=100, bbox_inches="tight")
    plt.close(fig)
    return paths


def main(out_dir=None, epochs=EPOCHS, seed=SEED, threads=None, progress=True):
    """Train ``Net``, save it and its curves into ``out_dir``; return a summary dict.

    ``out_dir`` defaults to the submission root (``model.safetensors`` lands next to ``src/``).
    ``threads`` sets PyTorch's CPU threads (default ``THREADS``; raise it for a bigger
    network).  Returns ``{"model_path", "plots", "val_accuracy", "history", "seconds"}``.
    """
    from safetensors.torch import save_file
    from tqdm import tqdm

    started = time.time()
    out_dir = out_dir or os.path.dirname(MODEL_PATH)
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(threads or THREADS)
    torch.manual_seed(seed)
    np.random.seed(seed)

    X_train, y_train = (torch.from_numpy(a) for a in load_digits_split("train"))
    X_val, y_val = (torch.from_numpy(a) for a in load_digits_split("val"))

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = (len(X_train) + BATCH_SIZE - 1) // BATCH_SIZE
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=LEARNING_RATE, epochs=epochs, steps_per_epoch=steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    history = {"loss": [], "train_acc": [], "val_acc": []}

    bar = tqdm(range(epochs), desc="training Net", unit="epoch", disable=not progress)
    for _ in bar:
        model.train()
        order = torch.randperm(len(X_train))
        total, count = 0.0, 0
        for start in range(0, len(X_train), BATCH_SIZE):
            idx = order[start:start + BATCH_SIZE]
            xb, yb = random_shift(X_train[idx]), y_train[idx]
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(idx)
            count += len(idx)
        history["loss"].append(total / count)
        history["train_acc"].append(accuracy(model, X_train, y_train))
        history["val_acc"].append(accuracy(model, X_val, y_val))
        bar.set_postfix(loss="%.4f" % history["loss"][-1], val_acc="%.4f" % history["val_acc"][-1])

    model.eval()
    model_path = os.path.join(out_dir, "model.safetensors")
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, model_path)
    plots = save_curves(history, out_dir)
    val_acc = history["val_acc"][-1]
    seconds = time.time() - started
    print("Saved %s (%d epochs, %.1f s)" % (model_path, epochs, seconds))
    print("Validation accuracy: %.4f" % val_acc)
    return {"model_path": model_path, "plots": plots, "val_accuracy": val_acc,
            "history": history, "seconds": seconds}


def _parse_args(argv=None):
    parser = argparse.ArgumentParser(description="Train cnn.Net on the public digits split.")
    parser.add_argument("--out", default=None,
                        help="output folder (default: the submission root, next to src/)")
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--threads", type=int, default=THREADS, help="PyTorch CPU threads")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


if __name__ == "__main__":
    args = _parse_args()
    main(out_dir=args.out, epochs=args.epochs, seed=args.seed, threads=args.threads,
         progress=not args.no_progress)
