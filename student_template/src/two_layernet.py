"""A two-layer fully-connected network trained with SGD (seed 001, question Q7).

Architecture (the handout's eqs. 3-7), for X of shape (N, D):

    z2 = X @ W1 + b1          (N, H)
    a2 = relu(z2)             (N, H)      relu(u) = max(u, 0)
    scores = a2 @ W2 + b2     (N, C)      softmax is applied inside the loss only

Weights are stored input-by-output: W1 (D, H), W2 (H, C); biases are 1-D: b1 (H,), b2 (C,).

The loss (the handout's eq. 13) is the MEAN softmax cross-entropy over the N examples plus

    reg * (sum(W1**2) + sum(W2**2))        -- no factor 0.5, biases not regularised

so the regularisation gradient of each weight matrix is ``2 * reg * W``.
"""
import numpy as np


class TwoLayerNet:
    """Two-layer net: linear - ReLU - linear - softmax.

    The constructor is given code: it draws, in this order,
    ``W1 = std * np.random.randn(input_size, hidden_size)`` and
    ``W2 = std * np.random.randn(hidden_size, output_size)`` from NumPy's global RNG (no other
    draws), and sets ``b1``, ``b2`` to zeros.  The public goldens depend on this order.

    Attributes:
        params: dict with keys ``'W1'`` (D, H), ``'b1'`` (H,), ``'W2'`` (H, C), ``'b2'`` (C,),
            all float64.
    """

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        """Initialise the weights (given code; see the class docstring for the draw order).

        Inputs:
            input_size: D, the dimension of an input example.
            hidden_size: H, the number of hidden units.
            output_size: C, the number of classes.
            std: standard deviation of the Gaussian weight initialisation.
        """
        self.params = {}
        self.params['W1'] = std * np.random.randn(input_size, hidden_size)
        self.params['b1'] = np.zeros(hidden_size)
        self.params['W2'] = std * np.random.randn(hidden_size, output_size)
        self.params['b2'] = np.zeros(output_size)

    def loss(self, X, y=None, reg=0.0):
        """Scores, or the loss and its gradients, for a batch.

        Inputs:
            X: float array (N, D), one example per row.  Not modified.
            y: None, or int array (N,) of labels in [0, C).
            reg: the regularisation strength lambda of the handout's eq. 13.

        Returns:
            If ``y is None``: ``scores``, float array (N, C), the pre-softmax scores z3
            (``scores[i, c]`` is the score of class c for example i).
            Otherwise ``(loss, grads)``:
              * ``loss``: float, mean over the N examples of ``-log softmax(scores[i])[y[i]]``
                plus ``reg * (sum(W1**2) + sum(W2**2))`` (no 0.5; biases not regularised);
              * ``grads``: dict with the same keys as ``self.params``, each gradient with
                exactly its parameter's shape; the weight gradients include ``2 * reg * W``.
            The softmax is computed stably (shift each row by its maximum).
            ReLU's gradient at exactly 0 is taken as 0 (tests never check exact zeros).
        """
        W1, b1 = self.params['W1'], self.params['b1']
        W2, b2 = self.params['W2'], self.params['b2']
        N = X.shape[0]

        # Forward pass: the scores of every example (the handout's eqs. 3-6).
        # TODO: forward pass: compute the hidden ReLU activations and the (N, C) class scores, without loops
        raise NotImplementedError('TODO in src/two_layernet.py, loss(): forward pass: compute the hidden ReLU activations and the (N, C) class scores, without loops')

        if y is None:
            return scores

        # Loss: mean softmax cross-entropy (eq. 12) plus L2 regularisation (eq. 13).
        # TODO: compute the loss of eq. 13: mean softmax cross-entropy (numerically stable) plus reg * (sum(W1**2) + sum(W2**2))
        raise NotImplementedError('TODO in src/two_layernet.py, loss(): compute the loss of eq. 13: mean softmax cross-entropy (numerically stable) plus reg * (sum(W1**2) + sum(W2**2))')

        # Backward pass: gradients of the regularised loss w.r.t. every parameter.
        grads = {}
        # TODO: backpropagation: fill grads['W1'], grads['b1'], grads['W2'], grads['b2'] (eqs. 16-20 and your derivations)
        raise NotImplementedError("TODO in src/two_layernet.py, loss(): backpropagation: fill grads['W1'], grads['b1'], grads['W2'], grads['b2'] (eqs. 16-20 and your derivations)")

        return loss, grads

    def train(self, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95,
              reg=5e-6, num_iters=100, batch_size=200, verbose=False):
        """Train with stochastic gradient descent (the handout's Algorithm 1).

        Inputs:
            X: float array (N, D) of training examples; y: int array (N,) of labels.
            X_val: float array (N_val, D); y_val: int array (N_val,).  Used for accuracy only.
            learning_rate: the step size alpha at the start.
            learning_rate_decay: the learning rate is multiplied by this after every epoch.
            reg: regularisation strength, passed to :meth:`loss`.
            num_iters: number of SGD steps.
            batch_size: B, examples per minibatch.
            verbose: print the loss every 100 iterations.

        Each iteration draws a minibatch of ``batch_size`` indices uniformly at random WITH
        replacement from NumPy's global RNG (``np.random.choice(N, batch_size)``; the toy data
        has N = 5 < batch_size), computes ``loss, grads = self.loss(X_batch, y_batch, reg)`` and
        updates every parameter: ``param <- param - learning_rate * grad``.  An epoch is
        ``max(N // batch_size, 1)`` iterations; at every epoch boundary (iteration 0 included)
        the training accuracy of the current minibatch and the validation accuracy are
        recorded and the learning rate decays.  ``X``, ``y``, ``X_val``, ``y_val`` are not
        modified; ``self.params`` is updated.

        Returns:
            dict with ``'loss_history'`` (list of ``num_iters`` floats, the minibatch loss of
            each iteration before its update), ``'train_acc_history'`` and
            ``'val_acc_history'`` (lists of floats in [0, 1], one per epoch boundary).
        """
        num_train = X.shape[0]
        iterations_per_epoch = max(num_train // batch_size, 1)

        loss_history = []
        train_acc_history = []
        val_acc_history = []

        for it in range(num_iters):
            # TODO: draw a random minibatch X_batch (batch_size, D), y_batch (batch_size,) with replacement
            raise NotImplementedError('TODO in src/two_layernet.py, train(): draw a random minibatch X_batch (batch_size, D), y_batch (batch_size,) with replacement')

            loss, grads = self.loss(X_batch, y=y_batch, reg=reg)
            loss_history.append(float(loss))

            # TODO: update every parameter in self.params with a step of SGD
            raise NotImplementedError('TODO in src/two_layernet.py, train(): update every parameter in self.params with a step of SGD')

            if verbose and it % 100 == 0:
                print('iteration %d / %d: loss %f' % (it, num_iters, loss))

            # Every epoch: record the accuracies and decay the learning rate.
            if it % iterations_per_epoch == 0:
                train_acc = float(np.mean(self.predict(X_batch) == y_batch))
                val_acc = float(np.mean(self.predict(X_val) == y_val))
                train_acc_history.append(train_acc)
                val_acc_history.append(val_acc)
                learning_rate *= learning_rate_decay

        return {
            'loss_history': loss_history,
            'train_acc_history': train_acc_history,
            'val_acc_history': val_acc_history,
        }

    def predict(self, X):
        """Predicted labels: the class of highest score for each example.

        Inputs:
            X: float array (N, D).  Not modified.

        Returns:
            y_pred: int array (N,), ``y_pred[i] = argmax_c scores[i, c]``.
        """
        # TODO: compute y_pred (N,), the index of the highest score in each row of the scores
        raise NotImplementedError('TODO in src/two_layernet.py, predict(): compute y_pred (N,), the index of the highest score in each row of the scores')
        return y_pred
