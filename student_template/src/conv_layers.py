"""Convolution and max-pooling layers (seed 004; Imperial style: backward takes the forward inputs).

Layout: images are ``(N, C, H, W)`` (examples, channels, height, width); filters are
``(F, C, HH, WW)``.  Conventions the tests rely on (ASSIGNMENT.md §Q13 "Conventions and
accepted alternatives"):

* convolution is CROSS-CORRELATION (the kernel is not flipped), as in every deep-learning
  library: ``out[n, f, i, j] = b[f] + sum_{c, a, k} W[f, c, a, k] * Xpad[n, c, i*stride + a,
  j*stride + k]`` where ``Xpad`` is ``X`` zero-padded by ``pad`` on all four sides;
* output sizes are integers with floor division: ``H' = 1 + (H + 2*pad - HH) // stride`` (a
  stride that does not divide evenly is valid: the last rows/columns are simply not reached);
  max-pool: ``H' = 1 + (H - pool_height) // stride`` (no padding);
* max-pool windows may overlap (``stride < pool size``); in backward, the gradients of
  overlapping windows ADD UP, and each window routes its gradient to the FIRST maximum of the
  window in row-major order (what ``np.argmax`` over the flattened window returns), so a tie
  never receives the gradient twice;
* no function modifies its array inputs (pad into a new array: ``np.pad`` returns a copy);
* every gradient has exactly its parameter's shape.

All four functions must be vectorised: the tests and ``convnet.py`` call them on batches,
and a 6-loop implementation is far too slow for training.  Useful tools:
``np.lib.stride_tricks.sliding_window_view`` (a view of every window without copying),
reshaping windows into a matrix ("im2col") so that the convolution becomes one matrix
product, and ``np.argmax`` along the flattened window axis.
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _conv_geometry(X, W, stride, pad):
    """Shapes of a convolution, validated (given code).

    Returns ``(N, C, H, Wd, F, HH, WW)``; raises ``ValueError`` for a channel mismatch, a
    stride below 1, a negative pad, or a kernel larger than the padded input.
    """
    if X.ndim != 4 or W.ndim != 4:
        raise ValueError("conv: X must be (N, C, H, W) and W (F, C, HH, WW); got X of shape "
                         "%s and W of shape %s" % (X.shape, W.shape))
    N, C, H, Wd = X.shape
    F, C_w, HH, WW = W.shape
    if C_w != C:
        raise ValueError("conv: X has %d channels but W expects %d" % (C, C_w))
    if int(stride) != stride or stride < 1 or int(pad) != pad or pad < 0:
        raise ValueError("conv: stride must be an integer >= 1 and pad an integer >= 0; "
                         "got stride=%r, pad=%r" % (stride, pad))
    if HH > H + 2 * pad or WW > Wd + 2 * pad:
        raise ValueError("conv: the %dx%d kernel is larger than the padded %dx%d input"
                         % (HH, WW, H + 2 * pad, Wd + 2 * pad))
    return N, C, H, Wd, F, HH, WW


def _pool_geometry(X, pool_height, pool_width, stride):
    """Shapes of a max-pool, validated (given code): returns ``(N, C, H, Wd)``."""
    if X.ndim != 4:
        raise ValueError("max_pool: X must be (N, C, H, W); got shape %s" % (X.shape,))
    N, C, H, Wd = X.shape
    if int(stride) != stride or stride < 1 or pool_height < 1 or pool_width < 1:
        raise ValueError("max_pool: pool sizes and stride must be integers >= 1")
    if pool_height > H or pool_width > Wd:
        raise ValueError("max_pool: the %dx%d pool is larger than the %dx%d input"
                         % (pool_height, pool_width, H, Wd))
    return N, C, H, Wd


def conv_forward(X, W, b, stride=1, pad=0):
    """Forward pass of a convolutional layer (cross-correlation, zero padding).

    Inputs:
      X: (N, C, H, W) input images.
      W: (F, C, HH, WW) filters.
      b: (F,) biases, one per filter.
      stride: int >= 1, the step between neighbouring receptive fields (both directions).
      pad: int >= 0, zeros added symmetrically on all four sides of each image.

    Returns:
      out: (N, F, H', W') with ``H' = 1 + (H + 2*pad - HH) // stride`` and
      ``W' = 1 + (W + 2*pad - WW) // stride`` (integers; floor division), where
      ``out[n, f, i, j] = b[f] + sum(W[f] * Xpad[n, :, i*stride:i*stride+HH,
      j*stride:j*stride+WW])`` — no kernel flip.  dtype: the result type of X, W and b.

    X, W and b are not modified.  Raises ValueError when the kernel is larger than the padded
    input (given code; tests do not grade it).  Must be vectorised (e.g. im2col + one
    matrix product), not a loop over output positions.
    """
    N, C, H, Wd, F, HH, WW = _conv_geometry(X, W, stride, pad)
    # TODO: pad X into a new array, gather every receptive field (im2col), and compute all outputs with one matrix product plus the bias
    raise NotImplementedError('TODO in src/conv_layers.py, conv_forward(): pad X into a new array, gather every receptive field (im2col), and compute all outputs with one matrix product plus the bias')
    return out


def conv_backward(dout, X, W, b, stride=1, pad=0):
    """Backward pass of :func:`conv_forward`.

    Inputs:
      dout: (N, F, H', W') upstream gradient of the loss with respect to ``out``.
      X, W, b, stride, pad: exactly the forward pass's inputs.

    Returns a tuple ``(dX, dW, db)``:
      dX: (N, C, H, W) — X's shape (the padding's gradient is cropped away; this works for
          ``pad=0`` too);
      dW: (F, C, HH, WW);
      db: (F,) — the sum of dout over examples and positions.

    X, W and b are not modified (dout may be).  Must be vectorised: matrix products for dW
    and for the gradient of the receptive fields, then a scatter-add of those back into a
    padded dX (a loop over the HH*WW kernel offsets is fine; a loop over output positions
    is not).  Where receptive fields overlap, their gradients add up.
    """
    N, C, H, Wd, F, HH, WW = _conv_geometry(X, W, stride, pad)
    # TODO: compute db, dW and the gradient of every receptive field, then scatter-add those into a zero-padded dX and crop the padding
    raise NotImplementedError('TODO in src/conv_layers.py, conv_backward(): compute db, dW and the gradient of every receptive field, then scatter-add those into a zero-padded dX and crop the padding')
    return dX, dW, db


def max_pool_forward(X, pool_height=2, pool_width=2, stride=2):
    """Forward pass of a max-pooling layer (no padding; windows may overlap).

    Inputs:
      X: (N, C, H, W) input.
      pool_height, pool_width: the window size; stride: the step between windows.

    Returns:
      out: (N, C, H', W') with ``H' = 1 + (H - pool_height) // stride`` and
      ``W' = 1 + (W - pool_width) // stride`` (integers; floor division):
      ``out[n, c, i, j] = max(X[n, c, i*stride:i*stride+pool_height,
      j*stride:j*stride+pool_width])``.  dtype: X's.

    X is not modified.  Raises ValueError for a window larger than the input (given code).
    Must be vectorised.
    """
    N, C, H, Wd = _pool_geometry(X, pool_height, pool_width, stride)
    # TODO: take the maximum of every pooling window (vectorised)
    raise NotImplementedError('TODO in src/conv_layers.py, max_pool_forward(): take the maximum of every pooling window (vectorised)')
    return out


def max_pool_backward(dout, X, pool_height=2, pool_width=2, stride=2):
    """Backward pass of :func:`max_pool_forward`.

    Inputs:
      dout: (N, C, H', W') upstream gradient.
      X, pool_height, pool_width, stride: exactly the forward pass's inputs.

    Returns:
      dX: (N, C, H, W) — X's shape.  Each window passes its ``dout`` entry to ONE position:
      the first maximum of the window in row-major order (``np.argmax`` of the flattened
      window); every other position of the window gets nothing from it.  With overlapping
      windows (stride < pool size) a position that is the chosen maximum of several windows
      receives the SUM of their gradients.  Positions that are never chosen get 0.

    X is not modified (dout may be).  Must be vectorised (a loop over the
    pool_height*pool_width offsets of a window is fine).
    """
    N, C, H, Wd = _pool_geometry(X, pool_height, pool_width, stride)
    # TODO: find each window's first maximum and add the window's upstream gradient there (windows may overlap)
    raise NotImplementedError("TODO in src/conv_layers.py, max_pool_backward(): find each window's first maximum and add the window's upstream gradient there (windows may overlap)")
    return dX
