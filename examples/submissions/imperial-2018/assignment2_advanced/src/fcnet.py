import numpy as np

from layers import *
from classifiers import softmax


def random_init(n_in, n_out, weight_scale=5e-2, dtype=np.float32):
    W = weight_scale * np.random.randn(n_in, n_out)
    b = np.zeros(n_out)
    return W.astype(dtype), b.astype(dtype)


class FullyConnectedNet(object):
    """
    Implements a fully-connected neural networks with arbitrary size of
    hidden layers. [linear - relu - (dropout)] x (N - 1) - linear - softmax
    """
    def __init__(self, hidden_dims, input_dim=32*32*3, num_classes=10,
                 dropout=0, reg=0.0, weight_scale=1e-2, dtype=np.float32,
                 seed=None):
        self.use_dropout = dropout > 0
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = dict()
        dims = [input_dim] + hidden_dims + [num_classes]
        for i in range(self.num_layers):
            W, b = random_init(dims[i], dims[i + 1], weight_scale, dtype)
            self.params['W' + str(i + 1)] = W
            self.params['b' + str(i + 1)] = b
        self.dropout_params = dict()
        if self.use_dropout:
            self.dropout_params = {"train": True, "p": dropout}
            if seed is not None:
                self.dropout_params["seed"] = seed
        for k, v in self.params.items():
            self.params[k] = v.astype(dtype)

    def loss(self, X, y=None):
        scores = None
        X = X.astype(self.dtype)
        linear_cache = dict()
        relu_cache = dict()
        dropout_cache = dict()
        train = y is not None
        h = X
        for i in range(1, self.num_layers):
            W, b = self.params['W%d' % i], self.params['b%d' % i]
            linear_cache[i] = h
            a = linear_forward(h, W, b)
            relu_cache[i] = a
            h = relu_forward(a)
            if self.use_dropout:
                h, dropout_cache[i] = dropout_forward(h, self.dropout_params["p"], train,
                                                      self.dropout_params.get("seed"))
        L = self.num_layers
        linear_cache[L] = h
        scores = linear_forward(h, self.params['W%d' % L], self.params['b%d' % L])
        if y is None:
            return scores
        loss, grads = 0, dict()
        loss, dout = softmax(scores, y)
        for i in range(1, L + 1):
            loss += 0.5 * self.reg * np.sum(self.params['W%d' % i] ** 2)
        dh, dW, db = linear_backward(dout, linear_cache[L], self.params['W%d' % L], self.params['b%d' % L])
        grads['W%d' % L] = dW + self.reg * self.params['W%d' % L]
        grads['b%d' % L] = db
        for i in range(L - 1, 0, -1):
            if self.use_dropout:
                dh = dropout_backward(dh, dropout_cache[i], self.dropout_params["p"], True)
            da = relu_backward(dh, relu_cache[i])
            dh, dW, db = linear_backward(da, linear_cache[i], self.params['W%d' % i], self.params['b%d' % i])
            grads['W%d' % i] = dW + self.reg * self.params['W%d' % i]
            grads['b%d' % i] = db
        return loss, grads
