"""Differentiable operations, each with its forward and hand-written backward.

Notation: ``x`` is a batch of inputs with one row per sample (shape
``(N, n_in)``), ``g`` is the upstream gradient ``dL/d(out)`` and every formula
is entry-wise unless it says otherwise.
"""

from __future__ import annotations

import numpy as np

from trainlab.tensor import Tensor, _wrap, from_op, grad_buffer

__all__ = [
    "linear",
    "relu",
    "tanh",
    "sigmoid",
    "softmax",
    "log_softmax",
    "cross_entropy",
    "mse_loss",
    "dropout",
    "batch_norm",
]


def _as_tensor(x) -> Tensor:
    if isinstance(x, Tensor):
        return x
    return _wrap(np.asarray(x))


def _times_matrix(a: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """``a @ matrix`` for a 2-D ``matrix``. For ``a`` of at most 2 dimensions
    ``np.dot`` is the same product with less call overhead (it matters for
    small layers); for more, only ``@`` hands the product to BLAS."""
    return np.dot(a, matrix) if a.ndim <= 2 else a @ matrix


def linear(x, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Affine map ``z = x W + b`` with ``W`` of shape ``(n_in, n_out)``.

    This is the lecture's ``z = Wᵀx + b`` written for a batch of row vectors.
    Backward: ``dL/dx = g Wᵀ``, ``dL/dW = xᵀ g``, ``dL/db = Σ_rows g``.
    """
    x = _as_tensor(x)
    if x.data.shape[-1] != weight.data.shape[0]:
        raise ValueError(
            f"linear expects input width {weight.shape[0]} (the weight's rows), "
            f"received input of shape {x.shape}"
        )
    out = _times_matrix(x.data, weight.data)
    if bias is not None:
        out += bias.data

    def backward(g):
        grad_x = _times_matrix(g, weight.data.T) if x.requires_grad else None
        grad_w = None
        if weight.requires_grad:
            if g.ndim == 2:
                grad_w = np.dot(x.data.T, g, out=grad_buffer(weight, x.data, g))
            else:
                grad_w = x.data.reshape(-1, x.shape[-1]).T @ g.reshape(-1, g.shape[-1])
        if bias is None:
            return grad_x, grad_w
        grad_b = None
        if bias.requires_grad:
            rows_of_g = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
            grad_b = np.add.reduce(rows_of_g, axis=0)
        return grad_x, grad_w, grad_b

    parents = (x, weight) if bias is None else (x, weight, bias)
    return from_op(out, parents, backward, "linear")


def relu(x) -> Tensor:
    """``relu(x) = max(x, 0)``; backward ``g · 1[x > 0]``."""
    x = _as_tensor(x)
    out = np.maximum(x.data, 0)

    def backward(g):
        return (g * (out > 0),)

    return from_op(out, (x,), backward, "relu")


def tanh(x) -> Tensor:
    """``y = tanh(x)``; backward ``g · (1 − y²)``."""
    x = _as_tensor(x)
    out = np.tanh(x.data)

    def backward(g):
        # g · (1 − y²), computed in one buffer
        grad = np.multiply(out, out)
        np.subtract(1, grad, out=grad)
        grad *= g
        return (grad,)

    return from_op(out, (x,), backward, "tanh")


def sigmoid(x) -> Tensor:
    """``y = 1 / (1 + e^{−x})``; backward ``g · y (1 − y)``.

    Computed as ``(1 + tanh(x/2)) / 2``, which is the same function and never
    overflows.
    """
    x = _as_tensor(x)
    out = np.tanh(0.5 * x.data)
    out += 1
    out *= 0.5

    def backward(g):
        # g · y (1 − y), computed in one buffer
        grad = np.subtract(1, out)
        grad *= out
        grad *= g
        return (grad,)

    return from_op(out, (x,), backward, "sigmoid")


def _stable_log_softmax(z: np.ndarray, axis: int) -> np.ndarray:
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def softmax(x, axis: int = -1) -> Tensor:
    """``s_i = e^{x_i} / Σ_j e^{x_j}``; backward ``s ⊙ (g − Σ_j g_j s_j)``."""
    x = _as_tensor(x)
    out = np.exp(_stable_log_softmax(x.data, axis))

    def backward(g):
        return (out * (g - (g * out).sum(axis=axis, keepdims=True)),)

    return from_op(out, (x,), backward, "softmax")


def log_softmax(x, axis: int = -1) -> Tensor:
    """``x_i − log Σ_j e^{x_j}``, shifted by the maximum for stability.

    Backward: ``g − softmax(x) Σ_j g_j``.
    """
    x = _as_tensor(x)
    out = _stable_log_softmax(x.data, axis)

    def backward(g):
        return (g - np.exp(out) * g.sum(axis=axis, keepdims=True),)

    return from_op(out, (x,), backward, "log_softmax")


_UNSIGNED = {size: np.dtype(f"u{size}") for size in (1, 2, 4, 8)}


def _check_labels(target: np.ndarray, n: int, classes: int) -> np.ndarray:
    if target.dtype.kind not in "iu":
        raise TypeError(
            f"cross_entropy target must hold integer class labels, "
            f"received dtype {target.dtype}"
        )
    if target.shape != (n,):
        raise ValueError(
            f"cross_entropy target must have shape ({n},) to match the logits, "
            f"received shape {target.shape}"
        )
    # Read as unsigned, a negative label becomes huge: one maximum checks both ends.
    unsigned = target.view(_UNSIGNED[target.itemsize])
    if n and np.maximum.reduce(unsigned) >= classes:
        raise ValueError(
            f"cross_entropy target labels must lie in [0, {classes - 1}], "
            f"received labels from {target.min()} to {target.max()}"
        )
    return target


def cross_entropy(logits, target) -> Tensor:
    """Mean negative log-likelihood of integer labels under ``softmax(logits)``.

    ``L = −(1/N) Σ_n log softmax(z_n)[y_n]`` for logits ``z`` of shape
    ``(N, C)`` and labels ``y`` in ``[0, C)``. With ``m_n = max_j z_nj``
    subtracted for stability (it cancels)::

        log softmax(z_n)[y_n] = (z_{n,y_n} − m_n) − log Σ_j e^{z_nj − m_n}

    Backward (fused): ``dL/dz = (softmax(z) − onehot(y)) / N``. Stable for
    logits of any size.
    """
    logits = _as_tensor(logits)
    if logits.ndim != 2:
        raise ValueError(
            f"cross_entropy expects logits of shape (N, C), received {logits.shape}"
        )
    n, classes = logits.shape
    if classes == 0:
        raise ValueError(
            "cross_entropy needs logits for at least one class, received "
            f"shape {logits.shape}"
        )
    labels = target.data if isinstance(target, Tensor) else target
    labels = _check_labels(np.asarray(labels), n, classes)
    # where z_{n,y_n} sits in the flattened (row-major) logits: n·C + y_n
    picked = np.arange(0, n * classes, classes)
    np.add(picked, labels, out=picked, casting="unsafe")

    shifted = logits.data - np.maximum.reduce(logits.data, axis=1, keepdims=True)
    exp_shifted = np.exp(shifted)
    sum_exp = np.add.reduce(exp_shifted, axis=1, keepdims=True)

    log_likelihood = shifted.take(picked) - np.log(sum_exp.reshape(n))
    loss = -np.add.reduce(log_likelihood) / n

    def backward(g):
        # softmax(z) = e^{z − m} / Σ_j e^{z_j − m}, minus onehot(y), times g / N;
        # in row-major memory, whatever the logits' layout, so that the flat
        # index reaches it through a view
        grad = np.divide(exp_shifted, sum_exp, order="C")
        grad.reshape(-1)[picked] -= 1
        grad *= float(g) / n
        return (grad,)

    # float32 logits give a float32 loss; integer logits a float64 one
    return from_op(np.asarray(loss), (logits,), backward, "cross_entropy")


def mse_loss(prediction, target) -> Tensor:
    """Mean squared error ``L = (1/M) Σ (ŷ − y)²`` over all ``M`` entries.

    Backward: ``dL/dŷ = 2 (ŷ − y) / M`` (and the opposite for ``y`` when it
    requires a gradient). Shapes must match exactly: broadcasting a ``(N, 1)``
    prediction against a ``(N,)`` target is almost always a bug.
    """
    prediction = _as_tensor(prediction)
    target = _as_tensor(target)
    if prediction.shape != target.shape:
        raise ValueError(
            f"mse_loss needs prediction and target of the same shape, received "
            f"{prediction.shape} and {target.shape}; reshape the target, for "
            f"example y.reshape({', '.join(str(s) for s in prediction.shape)})"
        )
    diff = prediction.data - target.data
    count = diff.size

    def backward(g):
        grad = diff * (2 * g / count)
        return (
            grad if prediction.requires_grad else None,
            -grad if target.requires_grad else None,
        )

    loss = np.asarray(np.mean(diff * diff), dtype=prediction.dtype)
    return from_op(loss, (prediction, target), backward, "mse_loss")


def dropout(
    x,
    p: float,
    rng: np.random.Generator,
    training: bool = True,
    inverted: bool = True,
) -> Tensor:
    """Drop each entry with probability ``p`` (``p`` is the drop probability).

    The keep mask is ``h ~ Bernoulli(1 − p)`` entry-wise.

    * ``inverted=True`` (PyTorch's convention, the default): in training
      ``out = x ⊙ h / (1 − p)``; at test ``out = x``.
    * ``inverted=False`` (the lecture's convention): in training
      ``out = x ⊙ h``; at test ``out = (1 − p) x``, the expected value.

    Either way the expected output in training equals the output at test.
    """
    if not 0 <= p < 1:
        raise ValueError(f"dropout p must lie in [0, 1), received {p!r}")
    x = _as_tensor(x)
    keep = 1.0 - p
    if not training:
        return x if inverted or p == 0 else x * keep
    if p == 0:
        return x
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "dropout rng must be an np.random.Generator in training mode, "
            f"received {type(rng).__name__}"
        )
    mask = rng.random(x.shape, dtype=np.float32) < keep
    scale = np.asarray(1.0 / keep if inverted else 1.0, dtype=x.dtype)
    factor = mask * scale

    def backward(g):
        return (g * factor,)

    return from_op(x.data * factor, (x,), backward, "dropout")


def batch_norm(
    x,
    gamma: Tensor | None,
    beta: Tensor | None,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Batch normalization of a ``(N, C)`` batch, feature by feature.

    Training, with the batch's statistics::

        μ = (1/N) Σ_n z_n                    σ² = (1/N) Σ_n (z_n − μ)²
        ẑ = (z − μ) / √(σ² + ε)              out = γ ẑ + β
        running_mean ← (1 − m) running_mean + m μ
        running_var  ← (1 − m) running_var  + m σ² N / (N − 1)

    The batch variance is biased (divides by N), as the lecture writes it;
    the running estimate uses the unbiased one, as PyTorch does. ``m`` is
    ``momentum``, the weight of the new batch. At test (``training=False``)
    ``μ`` and ``σ²`` are the running estimates and nothing is updated.

    Backward in training (``ĝ = g γ``)::

        dL/dz = (1/N) / √(σ² + ε) · (N ĝ − Σ_n ĝ − ẑ Σ_n ĝ ẑ)
        dL/dγ = Σ_n g ẑ                      dL/dβ = Σ_n g
    """
    x = _as_tensor(x)
    if training:
        n = x.shape[0]
        if n < 2:
            raise ValueError(
                "batch_norm in training mode needs a batch of at least 2 samples "
                f"to estimate a variance, received a batch of {n}"
            )
        mean = x.data.mean(axis=0)
        centered = x.data - mean
        var = np.mean(centered * centered, axis=0)
        running_mean *= 1 - momentum
        running_mean += momentum * mean
        running_var *= 1 - momentum
        running_var += (momentum * n / (n - 1)) * var
    else:
        centered = x.data - running_mean
        var = running_var
    inv_std = 1.0 / np.sqrt(var + eps)
    normalized = centered * inv_std
    out = normalized if gamma is None else normalized * gamma.data
    if beta is not None:
        out = out + beta.data

    def backward(g):
        grad_norm = g if gamma is None else g * gamma.data
        grad_x = None
        if x.requires_grad:
            if training:
                count = x.shape[0]
                grad_x = (inv_std / count) * (
                    count * grad_norm
                    - grad_norm.sum(axis=0)
                    - normalized * (grad_norm * normalized).sum(axis=0)
                )
            else:
                grad_x = grad_norm * inv_std
        grad_gamma = (
            (g * normalized).sum(axis=0)
            if gamma is not None and gamma.requires_grad
            else None
        )
        grad_beta = g.sum(axis=0) if beta is not None and beta.requires_grad else None
        return grad_x, grad_gamma, grad_beta

    parents = (
        x,
        gamma if gamma is not None else _wrap(0.0),
        beta if beta is not None else _wrap(0.0),
    )
    return from_op(out.astype(x.dtype, copy=False), parents, backward, "batch_norm")
