"""A fully-connected network layer by layer, in NumPy (CMU 16-720 / GIST "nn.py").

Conventions used by every function here (the tests rely on them):

* Examples are along the rows: ``X`` has shape ``(N, D)``.  A layer computes ``X @ W + b`` with
  ``W`` of shape ``(D_in, D_out)`` and ``b`` a 1-D array ``(D_out,)`` (not ``(1, D_out)``).
* ``params`` is a dict (the handout's scripts and the tests pass a ``collections.Counter``) that
  the functions here MUTATE IN PLACE: a layer called ``name`` keeps its weights in
  ``params['W' + name]`` and ``params['b' + name]``, its forward cache in
  ``params['cache_' + name]`` and its gradients in ``params['grad_W' + name]`` and
  ``params['grad_b' + name]``.  A cache read back may be a list instead of a tuple.
* Activation derivatives are functions of the POST-activation (``sigmoid_deriv(post_act) =
  post_act * (1 - post_act)``), as in ``util.py``.
* No function modifies its array arguments (only ``params`` is written to), and everything is
  vectorised (no Python loop over examples).
"""
import numpy as np


def initialize_weights(in_size, out_size, params, name=''):
    """Xavier/Glorot initialisation of one layer, stored in ``params``.

    Inputs:
    - in_size, out_size: ints, the layer's input and output dimensions.
    - params: dict, modified in place.
    - name: str, the layer's name (a suffix of the keys).

    Stores ``params['W' + name]``, a float64 array ``(in_size, out_size)`` drawn from the
    UNIFORM distribution ``U(-a, a)`` with ``a = sqrt(6 / (in_size + out_size))`` (so that
    ``Var[W] = a**2 / 3 = 2 / (in_size + out_size)``, eq. 16 of Glorot & Bengio 2010), and
    ``params['b' + name]``, float64 zeros of shape ``(out_size,)`` (1-D).  Draws from NumPy's
    global RNG (``np.random``).  Returns None.
    """
    # BEGIN SOLUTION: draw W with the Xavier uniform distribution and set b to zeros, with the shapes above
    a = np.sqrt(6.0 / (in_size + out_size))
    W = np.random.uniform(-a, a, size=(in_size, out_size))
    b = np.zeros(out_size)
    # END SOLUTION

    params['W' + name] = W
    params['b' + name] = b


def sigmoid(x):
    """The logistic sigmoid ``1 / (1 + exp(-x))``, elementwise.

    Input: ``x``, an array of any shape (or a number).
    Returns a float array of the same shape with values in [0, 1].

    Must be numerically stable: ``sigmoid(np.array([-1000., 1000.]))`` is exactly
    ``[0., 1.]``, with no NaN (``exp(x) / (1 + exp(x))`` gives ``inf / inf = NaN`` at +1000).
    ``x`` is not modified.
    """
    # BEGIN SOLUTION: compute the sigmoid elementwise so that large |x| gives neither NaN nor overflow
    x = np.asarray(x)
    if x.dtype.kind != 'f':
        x = x.astype(np.float64)
    res = np.empty_like(x)
    pos = x >= 0
    # exp of a non-positive number never overflows: use exp(-x) where x >= 0 and exp(x) elsewhere
    res[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    res[~pos] = ex / (1.0 + ex)
    # END SOLUTION
    return res


def forward(X, params, name='', activation=sigmoid):
    """Forward pass of one fully-connected layer: ``post_act = activation(X @ W + b)``.

    Inputs:
    - X: array (N, D_in), examples along the rows.
    - params: dict holding ``'W' + name`` (D_in, D_out) and ``'b' + name`` (D_out,); modified
      in place: the cache is stored in it.
    - name: str, the layer's name.
    - activation: function applied elementwise to the pre-activation (``sigmoid``, or one of
      ``util.py``'s ``linear``, ``relu``, ``tanh``).

    Returns ``post_act``, array (N, D_out), and stores
    ``params['cache_' + name] = (X, pre_act, post_act)`` with ``pre_act = X @ W + b``
    (N, D_out); ``backwards`` reads this cache.  ``X`` is not modified.
    """
    pre_act, post_act = None, None
    # get the layer parameters
    W = params['W' + name]
    b = params['b' + name]

    # BEGIN SOLUTION: compute the pre-activation and the post-activation of this layer
    pre_act = X @ W + b
    post_act = activation(pre_act)
    # END SOLUTION

    # store the pre-activation and post-activation values: backwards needs them
    params['cache_' + name] = (X, pre_act, post_act)
    return post_act


def softmax(x):
    """Row-wise softmax: ``res[i, j] = exp(x[i, j]) / sum_k exp(x[i, k])``.

    Input: ``x``, array (N, C) of scores, one row per example.
    Returns ``res``, float array (N, C): each row positive and summing to 1.

    Numerically stable: shift EACH ROW by its own maximum before exponentiating (softmax is
    invariant to adding a constant to a row), so logits of +-1000 give finite results, also
    when different rows lie far apart (a single global max is not enough).  ``x`` is not
    modified.
    """
    # BEGIN SOLUTION: compute a numerically stable softmax of each row
    shifted = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(shifted)
    res = e / np.sum(e, axis=1, keepdims=True)
    # END SOLUTION
    return res


def compute_loss_and_acc(y, probs):
    """Cross-entropy loss and accuracy of predicted class probabilities.

    Inputs:
    - y: array (N, C), one-hot labels (``y[i, c] == 1`` for the true class ``c`` of example i).
    - probs: array (N, C), predicted probabilities (rows sum to 1; the true class's
      probability is > 0).

    Returns ``(loss, acc)``:
    - loss: float, the SUM over examples (not the mean) of the cross-entropy
      ``-sum_c y[i, c] * log(probs[i, c])``; uniform probabilities over C classes give
      ``N * log(C)`` (the handout: "around -np.log(0.25)*40" for 40 examples and 4 classes).
    - acc: float, the FRACTION of examples (in [0, 1]) whose largest probability is at their
      true class (``argmax``; ties go to the first index).
    Inputs are not modified.
    """
    loss, acc = None, None
    # BEGIN SOLUTION: compute the summed cross-entropy and the fraction of correct predictions
    p_true = np.sum(y * probs, axis=1)
    loss = float(-np.sum(np.log(p_true)))
    acc = float(np.mean(np.argmax(probs, axis=1) == np.argmax(y, axis=1)))
    # END SOLUTION
    return loss, acc


def sigmoid_deriv(post_act):
    """Derivative of the sigmoid as a function of its OUTPUT: ``post_act * (1 - post_act)``."""
    res = post_act * (1.0 - post_act)
    return res


def backwards(delta, params, name='', activation_deriv=sigmoid_deriv):
    """Backward pass of one fully-connected layer.

    Inputs:
    - delta: array (N, D_out), the gradient of the loss with respect to this layer's OUTPUT
      (its post-activation).
    - params: dict holding ``'W' + name``, ``'b' + name`` and the cache
      ``'cache_' + name`` = (X, pre_act, post_act) stored by ``forward``; modified in place.
    - name: str, the layer's name.
    - activation_deriv: the derivative of the layer's activation as a function of the
      POST-activation (``sigmoid_deriv``, ``util.linear_deriv``, ``util.relu_deriv``, ...):
      it is called on ``post_act`` from the cache.  The output layer of a softmax classifier
      uses ``util.linear_deriv``, because ``probs - y`` is already the gradient with respect to
      the scores.

    Returns ``grad_X``, array (N, D_in), the gradient with respect to the layer's input, and
    stores ``params['grad_W' + name]`` (D_in, D_out) and ``params['grad_b' + name]`` (D_out,),
    SUMMED over the N examples (no division by N: the loss is a sum).  Every gradient has
    exactly its variable's shape.  ``delta`` may be overwritten (a backward function may
    overwrite its upstream gradient); the reference leaves it unchanged.
    """
    grad_X, grad_W, grad_b = None, None, None
    # everything you may need for this layer
    W = params['W' + name]
    b = params['b' + name]
    X, pre_act, post_act = params['cache_' + name]

    # BEGIN SOLUTION: go through the activation's derivative first, then compute grad_W, grad_b and grad_X
    d = delta * activation_deriv(post_act)
    grad_W = X.T @ d
    grad_b = np.sum(d, axis=0)
    grad_X = d @ W.T
    # END SOLUTION

    # store the gradients
    params['grad_W' + name] = grad_W
    params['grad_b' + name] = grad_b
    return grad_X


def get_random_batches(x, y, batch_size):
    """Split a data set into random mini-batches.

    Inputs:
    - x: array (N, ...), examples along axis 0.
    - y: array (N, ...), the matching labels (e.g. one-hot (N, C)).
    - batch_size: int >= 1.

    Returns a list of ``(batch_x, batch_y)`` pairs: one random permutation of the N examples
    (from ``np.random``) cut into consecutive chunks of ``batch_size``; every example appears in
    exactly one batch, ``batch_y[j]`` is the label of ``batch_x[j]``, and the last batch holds
    the remaining ``N - batch_size * (len(batches) - 1)`` examples when ``batch_size`` does not
    divide N (it is kept, not dropped).  ``x`` and ``y`` are not modified.
    """
    batches = []
    # BEGIN SOLUTION: shuffle x and y together and cut them into batches as described above
    N = x.shape[0]
    order = np.random.permutation(N)
    for start in range(0, N, batch_size):
        idx = order[start:start + batch_size]
        batches.append((x[idx], y[idx]))
    # END SOLUTION
    return batches
