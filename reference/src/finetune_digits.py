"""Fine-tuning on frozen features, on the digits data set (given code: you do not need to
change it).

The pipeline of the handout's question 5, made efficient as its last suggestion asks: the
frozen backbone's output is computed ONCE per image with YOUR ``extract_features`` and cached;
YOUR ``train_head`` then trains the small head on the cached features only.

Data: the native 8x8 digits of ``datasets/digits/public/`` (``{train,val}_images.npy`` uint8
(N, 8, 8) with values 0..16, ``{train,val}_labels.npy`` int64), found as
``src/utils/data_utils.py`` finds data sets.  Preprocessing: scale to [0, 1], enlarge to
``--size`` x ``--size`` pixels (bilinear), repeat over 3 channels, normalise with ImageNet's
channel means and standard deviations (what pretrained torchvision weights expect).  The
cached features are standardised with the TRAINING features' per-dimension mean and standard
deviation before the head sees them (random-weight ResNet features are badly scaled).

No pretrained weights can be downloaded where the course runs: by default the backbone is
ResNet-18 with random weights from a fixed seed (``make_backbone`` of the given
``src/finetune_tools.py``).  Pass ``--weights`` with a torchvision weights name (e.g.
``IMAGENET1K_V1``, when cached) or the path of a saved ``state_dict`` to use real ones.

Usage, from the folder holding ``src/`` (or ``python finetune_digits.py ...`` from inside
``src/``)::

    python -m src.finetune_digits [--backbone resnet18] [--size 32] [--epochs 20] ...

Prints the validation accuracy and the time of each stage; ``main()`` returns them.
"""
import argparse
import os
import time

import numpy as np
import torch

try:  # imported as part of the package: `python -m src.finetune_digits`
    from .finetune import extract_features, train_head
    from .finetune_tools import make_backbone
    from .utils.data_utils import _datasets_dir
except ImportError:  # run from inside src/: `python finetune_digits.py`
    from finetune import extract_features, train_head
    from finetune_tools import make_backbone
    from utils.data_utils import _datasets_dir

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
NUM_CLASSES = 10


def load_digits_public(root=None):
    """``(X_train, y_train, X_val, y_val)``: uint8 images (N, 8, 8), int64 labels."""
    folder = os.path.join(root or _datasets_dir(), "digits", "public")
    arrays = []
    for name in ("train_images", "train_labels", "val_images", "val_labels"):
        path = os.path.join(folder, name + ".npy")
        if not os.path.isfile(path):
            raise FileNotFoundError(
                "%s not found: expected the public digits split (uint8 images (N, 8, 8), "
                "int64 labels); create it with `python -m autograder split --dataset digits`"
                % path)
        arrays.append(np.load(path, allow_pickle=False))
    return arrays[0], arrays[1].astype(np.int64), arrays[2], arrays[3].astype(np.int64)


def preprocess(images, size=32):
    """uint8 (N, 8, 8) digits (0..16) -> float32 Tensor (N, 3, size, size), ImageNet-normalised."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32) / 16.0).unsqueeze(1)
    x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear",
                                        align_corners=False)
    x = x.repeat(1, 3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def accuracy(head, features, labels):
    """Fraction of ``features`` whose argmax logit equals ``labels``."""
    with torch.no_grad():
        pred = head(features).argmax(dim=1)
    return float((pred == torch.as_tensor(labels)).float().mean())


def run(backbone="resnet18", weights=None, size=32, batch_size=256, hidden=32, epochs=20,
        lr=1e-2, weight_decay=0.0, seed=0, device="cpu", data_root=None):
    """The whole pipeline; returns a dict of accuracies (fractions) and seconds."""
    t0 = time.perf_counter()
    Xtr, ytr, Xval, yval = load_digits_public(data_root)
    Xtr, Xval = preprocess(Xtr, size), preprocess(Xval, size)
    net = make_backbone(backbone, seed=seed, weights=weights)
    t1 = time.perf_counter()

    # The backbone sees every image exactly once: features are computed here and cached.
    ftr = extract_features(net, Xtr, batch_size=batch_size, device=device)
    fval = extract_features(net, Xval, batch_size=batch_size, device=device)
    t2 = time.perf_counter()

    mean = ftr.mean(dim=0, keepdim=True)
    std = ftr.std(dim=0, keepdim=True).clamp_min(1e-6)
    ftr, fval = (ftr - mean) / std, (fval - mean) / std
    head = train_head(ftr, torch.as_tensor(ytr), NUM_CLASSES, hidden=hidden, epochs=epochs,
                      lr=lr, weight_decay=weight_decay, seed=seed)
    head.eval()
    t3 = time.perf_counter()

    result = {
        "train_accuracy": accuracy(head, ftr, ytr),
        "val_accuracy": accuracy(head, fval, yval),
        "num_train": int(len(ytr)),
        "num_val": int(len(yval)),
        "feature_dim": int(ftr.shape[1]),
        "setup_seconds": t1 - t0,
        "feature_seconds": t2 - t1,
        "head_seconds": t3 - t2,
        "total_seconds": t3 - t0,
    }
    return result


def main(argv=None):
    """Command line entry point; prints and returns the dict of :func:`run`."""
    parser = argparse.ArgumentParser(description="Frozen-backbone fine-tuning on digits.")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--weights", default=None,
                        help="torchvision weights name or state_dict path (default: random)")
    parser.add_argument("--size", type=int, default=32, help="input size in pixels (32)")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lr", type=float, default=1e-2)
    parser.add_argument("--weight-decay", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)
    result = run(backbone=args.backbone, weights=args.weights, size=args.size,
                 batch_size=args.batch_size, hidden=args.hidden, epochs=args.epochs,
                 lr=args.lr, weight_decay=args.weight_decay, seed=args.seed,
                 device=args.device)
    print("backbone %s (%s weights), %dx%d inputs, %d features"
          % (args.backbone, args.weights or "random", args.size, args.size,
             result["feature_dim"]))
    print("features: %.1f s for %d + %d images; head: %.1f s"
          % (result["feature_seconds"], result["num_train"], result["num_val"],
             result["head_seconds"]))
    print("train accuracy %.3f, validation accuracy %.3f (total %.1f s)"
          % (result["train_accuracy"], result["val_accuracy"], result["total_seconds"]))
    return result


if __name__ == "__main__":
    main()
