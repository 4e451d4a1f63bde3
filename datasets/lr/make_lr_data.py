"""Write ``datasets/lr/data.txt``: the small 2-D two-class data set of seed 002's
logistic-regression question (the handout's ``lr`` data, recreated).

Format of ``data.txt``: one example per line, three whitespace-separated numbers

    x1 x2 t

``x1``, ``x2`` are the two input features (floats, printed with 6 decimals) and ``t`` the
target (``0`` or ``1``).  There is NO bias column in the file: the loading script appends a
column of ones (``X = [x1, x2, 1]``, as the handout's data matrix has it, so ``w = (w1, w2,
w0)`` and the separator in slope-intercept space is ``x2 = -w1/w2 * x1 - w0/w2``).

Content: 100 examples of each class drawn from two isotropic Gaussians (standard deviation 1)
whose means lie 1.5 on either side of the line ``x2 = 1.5 * x1 - 4``, around its point
(3, 0.5); the classes overlap a little, so the maximum-likelihood weights are finite.  Fixed
seed: running the script again writes the same file byte for byte.

Usage:  python datasets/lr/make_lr_data.py [OUTPUT]    (default: data.txt next to this script)
"""
import os
import sys

import numpy as np

SEED = 419
N_PER_CLASS = 100


def make_data(seed=SEED, n_per_class=N_PER_CLASS):
    """Return ``(x, t)``: x float64 (2 * n_per_class, 2), t int64 (2 * n_per_class,)."""
    rng = np.random.RandomState(seed)
    normal = np.array([1.5, -1.0]) / np.hypot(1.5, 1.0)  # unit normal of x2 = 1.5 x1 - 4
    centre = np.array([5.0, 3.5])
    mean0 = centre + 3.0 * normal   # below the line: class 0
    mean1 = centre - 3.0 * normal   # above the line: class 1
    x0 = mean0 + 2.0 * rng.randn(n_per_class, 2)
    x1 = mean1 + 2.0 * rng.randn(n_per_class, 2)
    x = np.vstack([x0, x1])
    t = np.concatenate([np.zeros(n_per_class, np.int64), np.ones(n_per_class, np.int64)])
    order = rng.permutation(len(t))
    return x[order], t[order]


def write(path, x, t):
    """Write rows ``x1 x2 t`` to ``path``."""
    with open(path, "w", encoding="ascii") as f:
        for (a, b), label in zip(x, t):
            f.write("%.6f %.6f %d\n" % (a, b, label))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out = argv[0] if argv else os.path.join(os.path.dirname(os.path.abspath(__file__)), "data.txt")
    x, t = make_data()
    write(out, x, t)
    print("wrote %d examples to %s" % (len(t), out))
    return out


if __name__ == "__main__":
    main()
