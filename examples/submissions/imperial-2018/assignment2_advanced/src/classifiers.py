import numpy as np


def softmax(logits, y):
    """
    Computes the loss and gradient for softmax classification.
    """
    loss, dlogits = None, None
    ###########################################################################
    #                           BEGIN OF YOUR CODE                            #
    ###########################################################################
    N = logits.shape[0]
    shifted = logits - np.max(logits, axis=1, keepdims=True)   # log C = -max
    exps = np.exp(shifted)
    probs = exps / np.sum(exps, axis=1, keepdims=True)
    correct = probs[np.arange(N), y]
    correct = np.where(correct > 0, correct, np.NaN)
    loss = -np.sum(np.log(correct)) / N
    dlogits = probs.copy()
    dlogits[np.arange(N), y] -= 1
    dlogits /= N
    ###########################################################################
    #                            END OF YOUR CODE                             #
    ###########################################################################
    return loss, dlogits
