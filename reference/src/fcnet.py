"""A fully-connected network with any number of hidden layers (Q4)."""
import numpy as np

from .classifiers import softmax
from .layers import (linear_forward, linear_backward, relu_forward,
                        relu_backward, dropout_forward, dropout_backward)


class FullyConnectedNet(object):
    """A fully-connected network with ReLU activations, optional dropout and a softmax loss.

    For L = len(hidden_dims) + 1 layers the architecture is

        [linear - relu - (dropout)] x (L - 1) - linear - softmax

    (dropout, when used, follows every hidden ReLU and never the last linear layer).
    The learnable parameters live in ``self.params`` with keys ``W1, b1, ..., WL, bL``:
    ``W_l`` has shape (D_{l-1}, D_l) and ``b_l`` shape (D_l,) (1-D), where D_0 = input_dim,
    D_l = hidden_dims[l-1] and D_L = num_classes. The Solver trains them.
    """

    def __init__(self, hidden_dims, input_dim=32*32*3, num_classes=10,
                 dropout=0, reg=0.0, weight_scale=1e-2, dtype=np.float32,
                 seed=None):
        """Initialise the network.

        Args:
        - hidden_dims: list of the sizes of the hidden layers (at least one entry).
        - input_dim: size D of an input (an input (N, d_1, ..., d_k) is flattened to (N, D)).
        - num_classes: number C of classes.
        - dropout: DROP probability of every dropout layer; 0 disables dropout.
        - reg: L2 regularisation strength; the loss adds 0.5 * reg * sum_l sum(W_l ** 2)
          (weights only, never biases).
        - weight_scale: standard deviation of the initial weights.
        - dtype: NumPy dtype of all parameters and computations; use np.float64 for gradient
          checks (float32 is faster but too imprecise for them).
        - seed: when not None, passed as ``seed`` to EVERY dropout_forward call, which makes
          dropout deterministic (for gradient checks). It does not seed the weights.

        Initialisation (the public golden initial losses depend on it): for l = 1, ..., L in
        this order, ``W_l = weight_scale * np.random.randn(D_{l-1}, D_l)`` and ``b_l`` zeros;
        no random numbers are drawn for the biases. All parameters are then cast to dtype.
        """
        self.dtype = dtype
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.use_dropout = dropout > 0
        self.dropout_params = {"p": dropout, "seed": seed}
        self.params = dict()
        # BEGIN SOLUTION: store W1, b1, ..., WL, bL in self.params: W_l = weight_scale * np.random.randn(in, out) drawn in layer order, b_l zeros of shape (out,)
        dims = [input_dim] + list(hidden_dims) + [num_classes]
        for layer in range(1, self.num_layers + 1):
            n_in, n_out = dims[layer - 1], dims[layer]
            self.params["W%d" % layer] = weight_scale * np.random.randn(n_in, n_out)
            self.params["b%d" % layer] = np.zeros(n_out)
        # END SOLUTION

        # Cast all parameters to the correct datatype
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        """Scores, or loss and gradients, for a minibatch.

        Args:
        - X: array of shape (N, d_1, ..., d_k), flattened to (N, input_dim); cast to dtype.
        - y: integer array of shape (N,) of labels, or None.

        Returns:
        - y is None (test mode): scores, an array of shape (N, C); dropout is off, so the
          result is deterministic.
        - otherwise (training mode): a tuple (loss, grads): loss is the mean softmax
          cross-entropy plus 0.5 * reg * sum_l sum(W_l ** 2) (a float); grads is a dict with
          exactly the keys of self.params, grads[k] the gradient of loss w.r.t. params[k]
          (same shape), with reg * W_l added for the weights. Dropout layers run in training
          mode with p = self.dropout_params["p"] and seed = self.dropout_params["seed"].

        Neither X, y nor self.params is modified.
        """
        X = X.astype(self.dtype)
        train = y is not None
        scores = None
        # BEGIN SOLUTION: forward pass through [linear - relu - (dropout)] x (L - 1) - linear; keep what the backward pass needs; store the output in scores
        p = self.dropout_params["p"]
        seed = self.dropout_params["seed"]
        caches = []
        hidden = X
        for layer in range(1, self.num_layers):
            W, b = self.params["W%d" % layer], self.params["b%d" % layer]
            pre = linear_forward(hidden, W, b)
            out = relu_forward(pre)
            mask = None
            if self.use_dropout and train:
                out, mask = dropout_forward(out, p=p, train=True, seed=seed)
            caches.append((hidden, pre, mask))
            hidden = out
        L = self.num_layers
        scores = linear_forward(hidden, self.params["W%d" % L], self.params["b%d" % L])
        # END SOLUTION
        if not train:
            return scores

        loss, grads = 0.0, dict()
        # BEGIN SOLUTION: softmax loss plus 0.5 * reg * sum of squared weights; backward pass filling grads for every key of self.params (add reg * W to each weight gradient)
        loss, dscores = softmax(scores, y)
        for layer in range(1, L + 1):
            W = self.params["W%d" % layer]
            loss += 0.5 * self.reg * float(np.sum(W * W))
        WL, bL = self.params["W%d" % L], self.params["b%d" % L]
        dhidden, dW, db = linear_backward(dscores, hidden, WL, bL)
        grads["W%d" % L] = dW + self.reg * WL
        grads["b%d" % L] = db
        for layer in range(L - 1, 0, -1):
            inp, pre, mask = caches[layer - 1]
            if self.use_dropout:
                dhidden = dropout_backward(dhidden, mask, p=p, train=True)
            dpre = relu_backward(dhidden, pre)
            W, b = self.params["W%d" % layer], self.params["b%d" % layer]
            dhidden, dW, db = linear_backward(dpre, inp, W, b)
            grads["W%d" % layer] = dW + self.reg * W
            grads["b%d" % layer] = db
        # END SOLUTION
        return loss, grads
