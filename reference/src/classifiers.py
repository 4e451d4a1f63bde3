"""Softmax classifier: cross-entropy loss and its gradient (Q3)."""
import numpy as np


def softmax(logits, y):
    """Mean softmax cross-entropy loss over a minibatch, and its gradient.

    Args:
    - logits: float array of shape (N, C); logits[i, c] is the score of class c for example i.
    - y: integer array of shape (N,) with labels, 0 <= y[i] < C (any integer dtype).

    Returns (as a tuple):
    - loss: a float, the MEAN over the N examples of -log(softmax(logits[i])[y[i]]).
    - dlogits: float array of shape (N, C), the gradient of loss w.r.t. logits:
      (softmax(logits) - onehot(y)) / N.

    Numerical stability: the softmax is computed per row after subtracting that row's maximum
    (equivalently, with log-sum-exp), so logits of +-1000 give finite results as long as the
    correct class's probability does not underflow. The inputs are not modified.
    """
    loss, dlogits = None, None
    # BEGIN SOLUTION: shift each row by its maximum, compute the log-probabilities, the mean negative log-likelihood of the labels, and its gradient
    N = logits.shape[0]
    rows = np.arange(N)
    shifted = logits - np.max(logits, axis=1, keepdims=True)
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = float(-np.mean(log_probs[rows, y]))
    dlogits = np.exp(log_probs)
    dlogits[rows, y] -= 1.0
    dlogits /= N
    # END SOLUTION
    return loss, dlogits
