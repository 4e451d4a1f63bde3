import numpy as np


def linear_forward(X, W, b):
    """
    Computes the forward pass for a linear (fully-connected) layer.
    """
    out = None
    ###########################################################################
    #                           BEGIN OF YOUR CODE                            #
    ###########################################################################
    N = X.shape[0]
    X_flat = X.reshape(N, -1).astype(np.float)
    out = X_flat.dot(W) + b
    ###########################################################################
    #                            END OF YOUR CODE                             #
    ###########################################################################
    return out


def linear_backward(dout, X, W, b):
    """
    Computes the backward pass for a linear (fully-connected) layer.
    """
    dX, dW, db = None, None, None
    ###########################################################################
    #                           BEGIN OF YOUR CODE                            #
    ###########################################################################
    N = X.shape[0]
    dX = dout.dot(W.T).reshape(X.shape)
    dW = X.reshape(N, -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    ###########################################################################
    #                            END OF YOUR CODE                             #
    ###########################################################################
    return dX, dW, db


def relu_forward(X):
    """
    Computes the forward pass for rectified linear unit (ReLU) layer.
    """
    out = None
    ###########################################################################
    #                           BEGIN OF YOUR CODE                            #
    ###########################################################################
    out = X.copy()
    out[out < 0] = 0
    ###########################################################################
    #                            END OF YOUR CODE                             #
    ###########################################################################
    return out


def relu_backward(dout, X):
    """
    Computes the backward pass for rectified linear unit (ReLU) layer.
    """
    dX = None
    ###########################################################################
    #                           BEGIN OF YOUR CODE                            #
    ###########################################################################
    dX = np.ones(X.shape)
    dX[X < 0] = 0          # gradient 1 at exactly 0 (a valid subgradient)
    dX = dX * dout
    ###########################################################################
    #                            END OF YOUR CODE                             #
    ###########################################################################
    return dX


def dropout_forward(X, p=0.5, train=True, seed=None):
    """
    Compute f
    """
    out = None
    mask = None
    if seed:
        np.random.seed(seed)
    ###########################################################################
    #                           BEGIN OF YOUR CODE                            #
    ###########################################################################
    if train:
        mask = (np.random.rand(*X.shape) > p)
        out = X * mask / (1 - p)
    else:
        out = X
    ###########################################################################
    #                            END OF YOUR CODE                             #
    ###########################################################################
    return out, mask


def dropout_backward(dout, mask, p=0.5, train=True):
    """
    Compute the backward pass for dropout
    """
    dX = None
    ###########################################################################
    #                           BEGIN OF YOUR CODE                            #
    ###########################################################################
    if train:
        dX = dout * mask / (1 - p)
    else:
        dX = dout
    ###########################################################################
    #                            END OF YOUR CODE                             #
    ###########################################################################
    return dX
