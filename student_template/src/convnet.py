"""A three-layer convolutional network built from your layers (seed 004).

Architecture::

    conv (stride 1, pad (filter_size - 1) // 2) - relu - 2x2 max pool (stride 2)
        - linear - relu - linear - softmax

It calls your ``conv_layers.py`` (``conv_forward``/``conv_backward``,
``max_pool_forward``/``max_pool_backward``), ``layers.py`` (``linear_*``, ``relu_*``) and
``classifiers.py`` (``softmax``), so a bug in any of those shows up here too.
"""
import numpy as np

from . import classifiers, conv_layers, layers


class ConvNet(object):
    """conv - relu - 2x2 max pool - linear - relu - linear - softmax.

    Inputs are minibatches of shape ``(N, C, H, W)``; labels are integers in
    ``[0, num_classes)``.  Parameters live in ``self.params``:

    * ``W1`` ``(num_filters, C, filter_size, filter_size)``, ``b1`` ``(num_filters,)``: the
      convolution (stride 1, zero padding ``(filter_size - 1) // 2``: with an odd
      ``filter_size`` the output keeps the input's ``H x W``);
    * ``W2`` ``(num_filters * (H // 2) * (W // 2), hidden_dim)`` (for an odd
      ``filter_size``), ``b2`` ``(hidden_dim,)``: the first linear layer, on the pooled maps
      ``(N, num_filters, H // 2, W // 2)`` flattened in row-major order;
    * ``W3`` ``(hidden_dim, num_classes)``, ``b3`` ``(num_classes,)``.
    """

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                 num_classes=10, weight_scale=1e-3, reg=0.0, dtype=np.float32):
        """Initialise the network (given code: do not change it).

        Inputs:
          input_dim: ``(C, H, W)`` of one input image.
          num_filters, filter_size: number and (square, odd) size of the conv filters.
          hidden_dim: width of the hidden linear layer; num_classes: number of scores.
          weight_scale: standard deviation of the weights' normal initialisation.
          reg: L2 strength; the loss adds ``0.5 * reg * sum(W**2)`` over W1, W2, W3 (weights
            only, never the biases), so each weight gradient gains ``reg * W``.
          dtype: the parameters' dtype (use ``np.float64`` for gradient checks).

        Initialisation (the public tests' golden values depend on it): ``W1``, ``W2``, ``W3``
        are drawn IN THAT ORDER as ``weight_scale * np.random.randn(...)``; the biases are
        zeros (no random draws); everything is then cast to ``dtype``.
        """
        self.params = {}
        self.reg = reg
        self.dtype = dtype
        self.filter_size = filter_size
        self.conv_pad = (filter_size - 1) // 2
        C, H, W = input_dim
        H_conv = 1 + (H + 2 * self.conv_pad - filter_size)    # stride 1
        W_conv = 1 + (W + 2 * self.conv_pad - filter_size)
        H_pool = 1 + (H_conv - 2) // 2                         # 2x2 pool, stride 2
        W_pool = 1 + (W_conv - 2) // 2
        self.params["W1"] = weight_scale * np.random.randn(num_filters, C, filter_size, filter_size)
        self.params["b1"] = np.zeros(num_filters)
        self.params["W2"] = weight_scale * np.random.randn(num_filters * H_pool * W_pool,
                                                           hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """Scores, or the loss and its gradients.

        Inputs:
          X: ``(N, C, H, W)`` minibatch (cast to ``self.dtype``; X is not modified).
          y: ``(N,)`` integer labels, or None.

        Returns:
          * ``y is None`` (test mode): ``scores`` ``(N, num_classes)``, the last linear layer's
            output (no softmax);
          * otherwise ``(loss, grads)``: ``loss`` is the mean softmax cross-entropy (your
            ``classifiers.softmax``) plus ``0.5 * reg * (sum(W1**2) + sum(W2**2) +
            sum(W3**2))``; ``grads`` has exactly the keys of ``self.params``, each gradient
            with its parameter's shape (weights include ``reg * W``, biases are not
            regularised).

        Conv uses stride 1 and ``pad = self.conv_pad``; the pool is 2x2 with stride 2.
        """
        W1, b1 = self.params["W1"], self.params["b1"]
        W2, b2 = self.params["W2"], self.params["b2"]
        W3, b3 = self.params["W3"], self.params["b3"]
        pad = self.conv_pad

        scores = None
        # TODO: forward pass: conv - relu - 2x2 max pool - linear - relu - linear, computing the class scores (keep what the backward pass needs)
        raise NotImplementedError('TODO in src/convnet.py, loss(): forward pass: conv - relu - 2x2 max pool - linear - relu - linear, computing the class scores (keep what the backward pass needs)')

        if y is None:
            return scores

        loss, grads = 0, {}
        # TODO: backward pass: softmax loss plus 0.5*reg*sum(W**2) over W1..W3, and the gradient of every parameter in grads
        raise NotImplementedError('TODO in src/convnet.py, loss(): backward pass: softmax loss plus 0.5*reg*sum(W**2) over W1..W3, and the gradient of every parameter in grads')
        return loss, grads
