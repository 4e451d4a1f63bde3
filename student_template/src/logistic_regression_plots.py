"""The logistic-regression plots of seed 002 (given code: you do not need to change it).

Runs YOUR functions of ``src/logistic_regression.py`` on the handout's two-class data and
writes the report's figures as PNG files:

  ``data.png``                   the data and the separator found by gradient descent
  ``separator_path.png``         the separator's path in slope-intercept space, eta = 0.5
                                 (the handout's Figure 2)
  ``nll_gd.png``                 NLL per epoch of gradient descent, eta = 0.5 (Figure 3)
  ``nll_gd_learning_rates.png``  gradient descent, eta = 0.5, 0.3, 0.1, 0.05, 0.01
  ``nll_sgd_learning_rates.png`` stochastic gradient descent, the same rates
  ``nll_gd_vs_sgd.png``          gradient descent (solid) against SGD (dashed), per rate

Usage, from the folder holding ``src/`` (or ``python logistic_regression_plots.py ...`` from
inside ``src/``)::

    python -m src.logistic_regression_plots [OUT_DIR] [--max-iter 500] [--tol 1e-5] [--seed 0]

``OUT_DIR`` defaults to ``./lr_plots``.  The data file is ``datasets/lr/data.txt``, found as
``src/utils/data_utils.py`` finds data sets (``$DLKIT_DATA_DIR`` when set, else the
``datasets/`` folder next to ``src/`` or above it).  Its rows are ``x1 x2 t`` (whitespace
separated, ``t`` in {0, 1}); a column of ones is appended, so ``w = (w1, w2, w0)``, the initial
weights are the handout's ``w = (0.1, 0, 0)`` and the separator ``w @ [x1, x2, 1] = 0`` is the
line ``x2 = m * x1 + b`` with slope ``m = -w1 / w2`` and intercept ``b = -w0 / w2``.

The figures use matplotlib's non-interactive Agg backend: nothing is shown on screen.
"""
import argparse
import os

import numpy as np

try:  # imported as part of the package: `python -m src.logistic_regression_plots`
    from . import logistic_regression as lr
    from .utils.data_utils import _datasets_dir
except ImportError:  # run from inside src/: `python logistic_regression_plots.py`
    import logistic_regression as lr
    from utils.data_utils import _datasets_dir

ETAS = (0.5, 0.3, 0.1, 0.05, 0.01)
W_INIT = np.array([0.1, 0.0, 0.0])


def load_lr_data(path=None):
    """``(X, t)``: X float64 (N, 3) = ``[x1, x2, 1]``, t float64 (N,) in {0, 1}."""
    if path is None:
        path = os.path.join(_datasets_dir(), "lr", "data.txt")
    if not os.path.isfile(path):
        raise FileNotFoundError(
            "%s not found: expected rows 'x1 x2 t'; create it with "
            "`python datasets/lr/make_lr_data.py`" % path)
    data = np.loadtxt(path, dtype=np.float64, ndmin=2)
    if data.shape[1] != 3:
        raise ValueError("%s: expected 3 columns (x1 x2 t), found %d" % (path, data.shape[1]))
    X = np.column_stack([data[:, :2], np.ones(len(data))])
    return X, data[:, 2]


def slope_intercept(w):
    """The separator ``w @ [x1, x2, 1] = 0`` as ``(slope, intercept)`` (inf/nan when w2 = 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -w[0] / w[1], -w[2] / w[1]


def separator_path(X, t, eta, max_iter, tol):
    """The weights after each gradient-descent step, from single steps of the student's
    ``gradient_descent`` (so only its public contract is used); stops like it would."""
    ws = [W_INIT.copy()]
    history = []
    w = W_INIT.copy()
    for _ in range(max_iter):
        w_next, h = lr.gradient_descent(X, t, w, eta, max_iter=1, tol=tol)
        w_next = np.asarray(w_next, dtype=np.float64)
        history.append(float(h[0]))
        if np.array_equal(w_next, w):
            break
        ws.append(w_next)
        w = w_next
        if len(history) > 1 and abs(history[-1] - history[-2]) < tol:
            break
    return np.array(ws)


def _figure(plt, title, xlabel, ylabel):
    fig, ax = plt.subplots(figsize=(8.5, 6))
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return fig, ax


def _save(fig, out_dir, name, written):
    path = os.path.join(out_dir, name)
    fig.savefig(path, dpi=80, bbox_inches="tight")
    written[name] = path


def make_plots(out_dir, max_iter=500, tol=1e-5, seed=0, data_path=None):
    """Write every figure into ``out_dir`` (created if needed); returns ``{name: path}``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out_dir, exist_ok=True)
    X, t = load_lr_data(data_path)
    written = {}

    gd = {eta: lr.gradient_descent(X, t, W_INIT, eta, max_iter=max_iter, tol=tol) for eta in ETAS}
    sgd = {eta: lr.stochastic_gradient_descent(X, t, W_INIT, eta, max_iter=max_iter, tol=tol,
                                               seed=seed) for eta in ETAS}
    for eta in ETAS:
        print("eta %-5g  gradient descent: %3d epochs, final NLL %.4f   "
              "SGD: %3d epochs, final NLL %.4f"
              % (eta, len(gd[eta][1]), gd[eta][1][-1], len(sgd[eta][1]), sgd[eta][1][-1]))

    # The data and the final gradient-descent separator (eta = 0.5).
    fig, ax = _figure(plt, "Data and separator (gradient descent, eta = 0.5)", "x1", "x2")
    ax.plot(X[t == 0, 0], X[t == 0, 1], "b.", label="t = 0")
    ax.plot(X[t == 1, 0], X[t == 1, 1], "g.", label="t = 1")
    m, b = slope_intercept(np.asarray(gd[0.5][0], dtype=np.float64))
    if np.isfinite(m) and np.isfinite(b):
        xs = np.array([X[:, 0].min(), X[:, 0].max()])
        ax.plot(xs, m * xs + b, "r-", label="separator")
        ax.set_ylim(X[:, 1].min() - 1, X[:, 1].max() + 1)
    ax.legend()
    _save(fig, out_dir, "data.png", written)
    plt.close(fig)

    # Figure 2: the separator's path in slope-intercept space.
    path = separator_path(X, t, 0.5, max_iter, tol)
    mb = np.array([slope_intercept(w) for w in path])
    mb = mb[np.all(np.isfinite(mb), axis=1)]
    fig, ax = _figure(plt, "Separator in slope-intercept space", "slope", "intercept")
    if len(mb):
        ax.plot(mb[:, 0], mb[:, 1], "ko-", markersize=3, linewidth=0.8)
    ax.axis([-5, 5, -10, 0])
    _save(fig, out_dir, "separator_path.png", written)
    plt.close(fig)

    # Figure 3: NLL over epochs for eta = 0.5.
    fig, ax = _figure(plt, "Training logistic regression", "Epoch", "Negative log likelihood")
    ax.plot(gd[0.5][1])
    _save(fig, out_dir, "nll_gd.png", written)
    plt.close(fig)

    fig, ax = _figure(plt, "Gradient descent: learning rates", "Epoch", "Negative log likelihood")
    for eta in ETAS:
        ax.plot(gd[eta][1], label="eta = %g" % eta)
    ax.legend()
    _save(fig, out_dir, "nll_gd_learning_rates.png", written)
    plt.close(fig)

    fig, ax = _figure(plt, "Stochastic gradient descent: learning rates", "Epoch",
                      "Negative log likelihood")
    for eta in ETAS:
        ax.plot(sgd[eta][1], label="eta = %g" % eta)
    ax.legend()
    _save(fig, out_dir, "nll_sgd_learning_rates.png", written)
    plt.close(fig)

    fig, ax = _figure(plt, "Gradient descent (solid) vs SGD (dashed)", "Epoch (log scale)",
                      "Negative log likelihood")
    for i, eta in enumerate(ETAS):
        colour = "C%d" % i
        ax.plot(np.arange(1, len(gd[eta][1]) + 1), gd[eta][1], "-", color=colour,
                label="GD, eta = %g" % eta)
        ax.plot(np.arange(1, len(sgd[eta][1]) + 1), sgd[eta][1], "--", color=colour,
                label="SGD, eta = %g" % eta)
    ax.set_xscale("log")
    ax.legend(ncol=2, fontsize="small")
    _save(fig, out_dir, "nll_gd_vs_sgd.png", written)
    plt.close(fig)

    for name in written:
        print("wrote", written[name])
    return written


def main(argv=None):
    """Command line entry point; returns ``{figure name: path}`` of the PNGs written."""
    parser = argparse.ArgumentParser(description="Seed 002 logistic-regression plots.")
    parser.add_argument("out_dir", nargs="?", default="lr_plots",
                        help="folder for the PNG files (default: ./lr_plots)")
    parser.add_argument("--max-iter", type=int, default=500, help="epochs at most (500)")
    parser.add_argument("--tol", type=float, default=1e-5,
                        help="stop when the NLL changes by less than this (1e-5)")
    parser.add_argument("--seed", type=int, default=0, help="SGD seed (0)")
    parser.add_argument("--data", default=None, help="data file (default: datasets/lr/data.txt)")
    args = parser.parse_args(argv)
    return make_plots(args.out_dir, max_iter=args.max_iter, tol=args.tol, seed=args.seed,
                      data_path=args.data)


if __name__ == "__main__":
    main()
