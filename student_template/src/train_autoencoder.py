"""Train the autoencoder on the digits and report the validation PSNR (given script).

The handout's run_q3 on the kit's data set: scikit-learn's 8x8 digits (public split in
``datasets/digits/public/``), pixel values 0..16 scaled to [0, 1] and unrolled to 64 inputs,
so the network is 64 -> 32 -> 32 -> 32 -> 64 (the handout's 32-unit code; its images were 32x32
= 1024 pixels).  Batches of 36, momentum 0.9, 100 epochs, the learning rate multiplied by 0.9
every 20 epochs as in the handout; the handout's rate 3e-5 was tuned for 1024-pixel images,
on 64 pixels 1e-3 trains in the same number of epochs.  It takes about half a second.

Run it from the submission root with ``python -m src.train_autoencoder``.  ``main()`` returns
``{'params', 'loss_history', 'val_psnr'}``; with the reference code the validation mean PSNR
is about 21.5 dB.
"""
import os
from collections import Counter

import numpy as np

try:  # imported as part of the package: `python -m src.train_autoencoder`
    from . import autoencoder, nn
    from .utils.data_utils import _datasets_dir
except ImportError:  # run from inside src/: `python train_autoencoder.py`
    import autoencoder
    import nn
    from utils.data_utils import _datasets_dir


def load_digits(part):
    """The public digits split ``part`` ('train' or 'val') as (N, 64) float64 in [0, 1]."""
    path = os.path.join(_datasets_dir(), 'digits', 'public', '%s_images.npy' % part)
    images = np.load(path, allow_pickle=False)
    return images.reshape(images.shape[0], -1).astype(np.float64) / 16.0


def main(max_iters=100, batch_size=36, learning_rate=1e-3, hidden_size=32, lr_rate=20,
         seed=0, verbose=True):
    """Train the autoencoder; returns ``{'params', 'loss_history', 'val_psnr'}``.

    ``max_iters`` epochs over the training images in random batches of ``batch_size``; the
    learning rate is multiplied by 0.9 every ``lr_rate`` epochs.  ``loss_history`` holds the
    mean total squared error per training image of each epoch; ``val_psnr`` is the mean over
    the validation images of their PSNR (``autoencoder.mean_psnr``).  ``seed`` seeds
    ``np.random`` (initialisation and batches).
    """
    np.random.seed(seed)
    train_x = load_digits('train')
    valid_x = load_digits('val')

    params = Counter()
    autoencoder.init_autoencoder(params, input_size=train_x.shape[1], hidden_size=hidden_size)

    loss_history = []
    for itr in range(max_iters):
        total_loss = 0.0
        for xb, _ in nn.get_random_batches(train_x, train_x, batch_size):
            out = autoencoder.autoencoder_forward(xb, params)
            total_loss += autoencoder.autoencoder_loss(xb, out)
            autoencoder.autoencoder_backward(xb, out, params)
            autoencoder.momentum_update(params, learning_rate)
        loss_history.append(total_loss / train_x.shape[0])
        if verbose and (itr % 10 == 0 or itr == max_iters - 1):
            print("itr: {:02d} \t loss per image: {:.4f}".format(itr, loss_history[-1]))
        if itr % lr_rate == lr_rate - 1:
            learning_rate *= 0.9

    recon = autoencoder.autoencoder_forward(valid_x, params)
    val_psnr = autoencoder.mean_psnr(valid_x, recon)
    if verbose:
        print("validation mean PSNR: {:.2f} dB".format(val_psnr))
    return {'params': params, 'loss_history': loss_history, 'val_psnr': val_psnr}


if __name__ == '__main__':
    main()
