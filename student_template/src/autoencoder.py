"""An image autoencoder built from ``nn.py``'s layers, trained with momentum; PSNR.

(CMU 16-720 / GIST handout, section 3.)  The network has four fully-connected layers, named
as the keys of ``params`` use them:

    'layer1'   input_size  -> hidden_size, ReLU
    'hidden'   hidden_size -> hidden_size, ReLU
    'hidden2'  hidden_size -> hidden_size, ReLU
    'output'   hidden_size -> input_size,  sigmoid (pixel values in (0, 1))

The handout's sizes are input_size=1024 (32x32 images unrolled) and hidden_size=32; both are
arguments.  ``params`` is a dict mutated in place, as in ``nn.py`` (the tests pass a
``collections.Counter``): weights ``'W' + name``, biases ``'b' + name``, caches, gradients
``'grad_W' + name`` / ``'grad_b' + name`` and momentum accumulators ``'m_W' + name`` /
``'m_b' + name``.

Imports: this file is part of the ``src`` package (the tests and the grader import
``src.autoencoder`` from the submission root) and imports its siblings relatively
(``from . import nn, util``); when run as a plain script from inside ``src/`` it falls back to
``import nn, util``.  It calls ``nn.forward``/``nn.backwards`` through the module, so your
``nn.py`` is what runs.
"""
import numpy as np

try:  # imported as part of the package: `import src.autoencoder`
    from . import nn, util
except ImportError:  # run from inside src/ without a package: `python autoencoder.py`
    import nn
    import util


def init_autoencoder(params, input_size=1024, hidden_size=32):
    """Initialise the four layers of the autoencoder in ``params`` (modified in place).

    Inputs:
    - params: dict, modified in place.
    - input_size: int, the number of pixels of an (unrolled) image.
    - hidden_size: int, the width of the three hidden layers.

    Creates, through ``nn.initialize_weights`` (Xavier uniform, zero biases), the weights and
    biases of 'layer1' (input_size, hidden_size), 'hidden' (hidden_size, hidden_size),
    'hidden2' (hidden_size, hidden_size) and 'output' (hidden_size, input_size), in this order.
    It also creates the zero momentum accumulators ``params['m_' + k]`` (same shape as
    ``params[k]``) for every weight and bias key ``k``; the tests do not require them, since
    ``momentum_update`` creates missing ones as zeros.  Returns None.
    """
    # TODO: initialise the four layers with nn.initialize_weights, then zero momentum accumulators for every W/b entry
    raise NotImplementedError('TODO in src/autoencoder.py, init_autoencoder(): initialise the four layers with nn.initialize_weights, then zero momentum accumulators for every W/b entry')


def autoencoder_forward(X, params):
    """Reconstruct ``X`` through the four layers (see the module docstring).

    Inputs:
    - X: array (N, input_size), one unrolled image per row, values in [0, 1].
    - params: dict holding the four layers' weights and biases; modified in place: each layer
      stores its cache (``nn.forward`` does that).

    Returns ``out``, array (N, input_size) with values in (0, 1): three ReLU layers
    (``util.relu``) and a sigmoid output layer (``nn.sigmoid``), each computed with
    ``nn.forward``.  ``X`` is not modified.
    """
    out = None
    # TODO: run the four layers with nn.forward and the right activations
    raise NotImplementedError('TODO in src/autoencoder.py, autoencoder_forward(): run the four layers with nn.forward and the right activations')
    return out


def autoencoder_loss(X, out):
    """The TOTAL squared error ``sum((X - out)**2)`` over all examples and pixels (not the mean).

    Inputs: ``X`` and ``out``, arrays of the same shape (N, input_size).
    Returns a float.  Inputs are not modified.
    """
    loss = None
    # TODO: compute the total squared error
    raise NotImplementedError('TODO in src/autoencoder.py, autoencoder_loss(): compute the total squared error')
    return loss


def autoencoder_backward(X, out, params):
    """Backpropagate the total squared error through the four layers.

    Inputs:
    - X: array (N, input_size), the input of the last ``autoencoder_forward``.
    - out: array (N, input_size), the output it returned.
    - params: dict with the layers and the caches of that forward pass; modified in place.

    The gradient of ``sum((X - out)**2)`` with respect to ``out`` is ``-2 * (X - out)``; it is
    passed backwards through 'output' (``nn.sigmoid_deriv``), then 'hidden2', 'hidden' and
    'layer1' (``util.relu_deriv``) with ``nn.backwards``, which stores every
    ``params['grad_W' + name]`` and ``params['grad_b' + name]``.  Returns None.  ``X`` and
    ``out`` are not modified.
    """
    # TODO: start from the gradient of the loss with respect to out and call nn.backwards layer by layer, output first
    raise NotImplementedError('TODO in src/autoencoder.py, autoencoder_backward(): start from the gradient of the loss with respect to out and call nn.backwards layer by layer, output first')


def momentum_update(params, learning_rate, momentum=0.9):
    """One gradient step with momentum on every weight and bias of ``params`` (in place).

    For every key ``k`` of ``params`` that names a weight or a bias (it starts with ``'W'`` or
    ``'b'``, e.g. ``'Wlayer1'``, ``'boutput'``; not the ``'grad_'``, ``'m_'`` or ``'cache_'``
    entries):

        params['m_' + k] = momentum * params['m_' + k] - learning_rate * params['grad_' + k]
        params[k] = params[k] + params['m_' + k]

    A missing accumulator ``params['m_' + k]`` counts as zeros (it is created).  The gradients
    are not modified.  Returns None.
    """
    # TODO: update the momentum accumulator of every W/b entry, then the entry itself
    raise NotImplementedError('TODO in src/autoencoder.py, momentum_update(): update the momentum accumulator of every W/b entry, then the entry itself')


def psnr(x, x_hat, max_val=1.0):
    """Peak signal-to-noise ratio of one image, in dB.

    Inputs:
    - x: array of any shape, the original image.
    - x_hat: array of the same shape, its reconstruction.
    - max_val: float, the largest possible pixel value (1.0 for images in [0, 1]).

    Returns the float ``10 * log10(max_val**2 / MSE)`` with ``MSE = mean((x - x_hat)**2)`` over
    all pixels (the same as ``20*log10(max_val) - 10*log10(MSE)`` and as
    ``skimage.metrics.peak_signal_noise_ratio(x, x_hat, data_range=max_val)``); ``float('inf')``
    when MSE is 0 (identical images).  Examples: MSE 0.01 -> 20 dB, MSE 1e-4 -> 40 dB.
    Inputs are not modified.
    """
    # TODO: compute the mean squared error and the PSNR in dB, inf for identical images
    raise NotImplementedError('TODO in src/autoencoder.py, psnr(): compute the mean squared error and the PSNR in dB, inf for identical images')


def mean_psnr(X, X_hat, max_val=1.0):
    """The mean over images of the per-image PSNR.

    Inputs:
    - X: array (N, ...), N original images along axis 0 (e.g. (N, 1024) unrolled, or
      (N, 32, 32)).
    - X_hat: array of the same shape, their reconstructions.
    - max_val: float, as in ``psnr``.

    Returns the float ``mean_i psnr(X[i], X_hat[i], max_val)`` — the average of the images'
    PSNRs (the handout's "average PSNR across all validation images"), NOT the PSNR of the MSE
    pooled over all images.  ``inf`` if any image is reconstructed exactly.  Inputs are not
    modified.
    """
    # TODO: compute each image's PSNR and average them
    raise NotImplementedError("TODO in src/autoencoder.py, mean_psnr(): compute each image's PSNR and average them")
