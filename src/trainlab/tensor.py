"""A small reverse-mode automatic differentiation engine over NumPy arrays.

A :class:`Tensor` wraps an ``np.ndarray`` (``.data``). When it is the result of
an operation on tensors that require gradients, it also remembers its inputs
(``_parents``) and a closure (``_backward``) that maps the gradient of the loss
with respect to the result, ``g = dL/d(out)``, to the gradients with respect to
each input. Every operation states its forward and backward formula in one
place: the method (or the function in :mod:`trainlab.functional`) that builds
it.

``Tensor.backward()`` visits the graph once, in reverse topological order, and
accumulates ``dL/d(leaf)`` into the ``.grad`` of every leaf that requires a
gradient. As in PyTorch, gradients accumulate across calls until they are reset
(``optimizer.zero_grad()`` sets them to ``None``). After a backward pass the
graph is released, so intermediate arrays are not kept alive.

A leaf remembers the array of its last gradient: once ``zero_grad()`` has
dropped it and nobody else holds it, the next large gradient is written into
that memory (:func:`grad_buffer`) instead of memory freshly taken from the
system, which is costly at every step for weights of a few MiB.
"""

from __future__ import annotations

import contextlib
import itertools
import platform
import sys
from collections.abc import Callable, Sequence
from operator import attrgetter

import numpy as np

__all__ = ["Tensor", "tensor", "no_grad", "enable_grad", "is_grad_enabled", "from_op"]

_GRAD_ENABLED = True

# Every recorded operation takes the next number: an output is always numbered
# after its inputs, so decreasing numbers are a topological order of a graph.
_creation_counter = itertools.count()
_creation_order = attrgetter("_seq")


def is_grad_enabled() -> bool:
    """Whether new operations record a graph for ``backward()``."""
    return _GRAD_ENABLED


class _GradMode(contextlib.ContextDecorator):
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self._previous: list[bool] = []

    def __enter__(self):
        global _GRAD_ENABLED
        self._previous.append(_GRAD_ENABLED)
        _GRAD_ENABLED = self.enabled
        return self

    def __exit__(self, *exc):
        global _GRAD_ENABLED
        _GRAD_ENABLED = self._previous.pop()
        return False


def no_grad() -> _GradMode:
    """Context manager (or decorator) in which no graph is recorded."""
    return _GradMode(False)


def enable_grad() -> _GradMode:
    """Context manager (or decorator) that records graphs again."""
    return _GradMode(True)


def _released_backward(g):
    raise RuntimeError(
        "this graph was already used by backward() and its buffers were released; "
        "call backward(retain_graph=True) the first time to go through it twice"
    )


def _unbroadcast(grad: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``grad`` over the axes that broadcasting added or stretched."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _float_array(value, dtype=None) -> np.ndarray:
    array = np.asarray(value, dtype=dtype)
    if array.dtype == object:
        raise TypeError(f"expected numeric data, received an array of {array.dtype}")
    return array


class Tensor:
    """An array with an optional gradient and the graph that produced it.

    Attributes
    ----------
    data : np.ndarray
        The values. Its dtype is kept: float32 stays float32.
    grad : np.ndarray or None
        ``dL/d(self)`` accumulated by ``backward()``, same shape and dtype as
        ``data``; ``None`` until a backward pass reaches this tensor.
    requires_grad : bool
        Whether ``backward()`` computes a gradient for this tensor.

    Tensors compare and hash by identity (there is no element-wise ``==``):
    ``backward()`` keys its bookkeeping by the tensors themselves.
    """

    __slots__ = (
        "data",
        "grad",
        "requires_grad",
        "_parents",
        "_backward",
        "_op",
        "_seq",
        "_last_grad",
    )

    # Makes NumPy defer ``ndarray * Tensor`` to ``Tensor.__rmul__`` and friends.
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        array = _float_array(data, dtype)
        if requires_grad and not np.issubdtype(array.dtype, np.floating):
            raise TypeError(
                "requires_grad=True needs floating-point data, "
                f"received dtype {array.dtype}"
            )
        self.data = array
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents: tuple[Tensor, ...] = ()
        self._backward: Callable | None = None
        self._op = ""
        self._last_grad = None

    # ------------------------------------------------------------------ basics
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._backward is None

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self._op:
            extra += f", op={self._op}"
        return f"tensor({body}, dtype={self.dtype}{extra})"

    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy)."""
        return self.data

    def item(self) -> float:
        return self.data.item()

    def detach(self) -> Tensor:
        """A tensor sharing ``data`` but cut from the graph."""
        return Tensor(self.data)

    # ---------------------------------------------------------------- backward
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate ``dL/d(leaf)`` into ``leaf.grad`` for every leaf below.

        ``gradient`` is the upstream ``dL/d(self)``; it may be omitted only
        for a tensor with a single element (a scalar loss), where it is 1.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward() called on a tensor that does not require grad; "
                "did you build it under no_grad() or from plain arrays?"
            )
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    "backward() without a gradient needs a scalar tensor, "
                    f"this one has shape {self.shape}"
                )
            # 1 of the loss's dtype, in the loss's shape
            seed = np.array(1, self.data.dtype)
            if self.data.ndim:
                seed = seed.reshape(self.data.shape)
        else:
            # A copy: the seed may become a leaf's .grad, which later calls
            # accumulate into in place; the caller's array must stay as it is.
            seed = np.array(
                gradient.data if isinstance(gradient, Tensor) else gradient,
                dtype=self.dtype,
            )
            if seed.shape != self.shape:
                raise ValueError(
                    f"gradient must have the tensor's shape {self.shape}, "
                    f"received shape {seed.shape}"
                )

        # Tensors hash by identity (no __eq__), so they key the dicts directly.
        pending = {self: seed}
        for node in _reverse_topological(self):
            grad = pending.pop(node, None)
            if grad is not None:
                input_grads = node._backward(grad)
                for parent, parent_grad in zip(node._parents, input_grads, strict=True):
                    if parent_grad is None or not parent.requires_grad:
                        continue
                    earlier_grad = pending.get(parent)
                    if earlier_grad is None:
                        pending[parent] = parent_grad
                    else:
                        pending[parent] = earlier_grad + parent_grad
            if not retain_graph:
                # release the graph, even where no gradient reached the node
                node._parents = ()
                node._backward = _released_backward

        # What is left are the leaves, each with its complete gradient; they are
        # written only now, once no backward can read an array they might share.
        stored: set[int] = set()
        for leaf, grad in pending.items():
            _accumulate(leaf, grad, stored)

    # ------------------------------------------------------------- arithmetic
    def __add__(self, other) -> Tensor:
        a, b = self, _wrap(other)

        def backward(g):
            # d(a + b)/da = 1, d(a + b)/db = 1
            return (
                _unbroadcast(g, a.shape) if a.requires_grad else None,
                _unbroadcast(g, b.shape) if b.requires_grad else None,
            )

        return from_op(a.data + b.data, (a, b), backward, "add")

    def __sub__(self, other) -> Tensor:
        a, b = self, _wrap(other)

        def backward(g):
            # d(a - b)/da = 1, d(a - b)/db = -1
            return (
                _unbroadcast(g, a.shape) if a.requires_grad else None,
                _unbroadcast(-g, b.shape) if b.requires_grad else None,
            )

        return from_op(a.data - b.data, (a, b), backward, "sub")

    def __mul__(self, other) -> Tensor:
        a, b = self, _wrap(other)

        def backward(g):
            # d(a b)/da = b, d(a b)/db = a
            return (
                _unbroadcast(g * b.data, a.shape) if a.requires_grad else None,
                _unbroadcast(g * a.data, b.shape) if b.requires_grad else None,
            )

        return from_op(a.data * b.data, (a, b), backward, "mul")

    def __truediv__(self, other) -> Tensor:
        a, b = self, _wrap(other)

        def backward(g):
            # d(a / b)/da = 1 / b, d(a / b)/db = -a / b^2
            return (
                _unbroadcast(g / b.data, a.shape) if a.requires_grad else None,
                _unbroadcast(-g * a.data / (b.data * b.data), b.shape)
                if b.requires_grad
                else None,
            )

        return from_op(a.data / b.data, (a, b), backward, "div")

    def __radd__(self, other) -> Tensor:
        return self + other

    def __rsub__(self, other) -> Tensor:
        return _wrap(other) - self

    def __rmul__(self, other) -> Tensor:
        return self * other

    def __rtruediv__(self, other) -> Tensor:
        return _wrap(other) / self

    def __neg__(self) -> Tensor:
        a = self

        def backward(g):
            return (-g,)

        return from_op(-a.data, (a,), backward, "neg")

    def __pow__(self, exponent) -> Tensor:
        if isinstance(exponent, Tensor) or np.ndim(exponent) != 0:
            raise TypeError(
                "Tensor ** exponent supports a scalar exponent only, "
                f"received {type(exponent).__name__}"
            )
        if isinstance(exponent, np.generic | np.ndarray):
            # a NumPy scalar would promote float32 data to float64
            exponent = exponent.item()
        a, p = self, exponent

        def backward(g):
            # d(a^p)/da = p a^(p-1)
            return (g * (p * a.data ** (p - 1)),)

        return from_op(a.data**p, (a,), backward, "pow")

    def __matmul__(self, other) -> Tensor:
        return matmul(self, other)

    def __rmatmul__(self, other) -> Tensor:
        return matmul(_wrap(other), self)

    # -------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims: bool = False) -> Tensor:
        a = self

        def backward(g):
            # every summed entry receives the gradient of the sum
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            return (np.broadcast_to(g, a.shape),)

        return from_op(a.data.sum(axis=axis, keepdims=keepdims), (a,), backward, "sum")

    def mean(self, axis=None, keepdims: bool = False) -> Tensor:
        count = self.data.size if axis is None else _count(self.shape, axis)
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / count)

    # ------------------------------------------------------------------ shapes
    def reshape(self, *shape) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], Sequence):
            shape = tuple(shape[0])
        a = self

        def backward(g):
            return (g.reshape(a.shape),)

        return from_op(a.data.reshape(shape), (a,), backward, "reshape")

    def transpose(self, *axes) -> Tensor:
        if len(axes) == 1 and isinstance(axes[0], Sequence):
            axes = tuple(axes[0])
        axes = axes or None
        inverse = None if axes is None else tuple(np.argsort(axes))
        a = self

        def backward(g):
            return (np.transpose(g, inverse),)

        return from_op(np.transpose(a.data, axes), (a,), backward, "transpose")

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def __getitem__(self, index) -> Tensor:
        if isinstance(index, Tensor):
            index = index.data
        a = self

        def backward(g):
            full = np.zeros_like(a.data, dtype=g.dtype)
            # np.add.at sums the contributions of repeated indices
            np.add.at(full, index, g)
            return (full,)

        return from_op(a.data[index], (a,), backward, "getitem")

    # -------------------------------------------------------- elementwise math
    def exp(self) -> Tensor:
        a = self
        out = np.exp(a.data)

        def backward(g):
            # d exp(a)/da = exp(a)
            return (g * out,)

        return from_op(out, (a,), backward, "exp")

    def log(self) -> Tensor:
        a = self

        def backward(g):
            # d log(a)/da = 1 / a
            return (g / a.data,)

        return from_op(np.log(a.data), (a,), backward, "log")


def _count(shape, axis) -> int:
    axes = axis if isinstance(axis, tuple) else (axis,)
    count = 1
    for ax in axes:
        count *= shape[ax]
    return count


def _constant(array) -> Tensor:
    """A tensor that needs no gradient, around ``array`` as it is."""
    out = Tensor.__new__(Tensor)
    out.data = array
    out.grad = None
    out.requires_grad = False
    out._parents = ()
    out._backward = None
    out._op = ""
    out._last_grad = None
    return out


def _wrap(value) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if type(value) is np.ndarray and value.dtype != object:
        return _constant(value)
    if isinstance(value, int | float | bool | np.number):
        # A Python scalar keeps the tensor's dtype under NumPy's promotion rules;
        # a NumPy scalar (np.float64(2.0), np.sqrt(2.0)) would promote float32
        # data to float64, so it is turned into a Python scalar first.
        if isinstance(value, np.generic):
            value = value.item()
        return _constant(value)
    return Tensor(value)


def from_op(
    data: np.ndarray, parents: tuple[Tensor, ...], backward: Callable, op: str
) -> Tensor:
    """Build the result of an operation.

    ``backward(g)`` must return one gradient per parent (``None`` where a
    parent does not require one), each with that parent's shape. It must not
    return an array that it keeps for later (a constant captured by the
    closure): a returned array may become a leaf's ``.grad``, into which
    later backward passes accumulate in place. The graph is recorded only
    when gradients are enabled and some parent requires one.
    """
    if type(data) is not np.ndarray:
        # reductions and 0-d arithmetic give NumPy scalars; keep .data an array
        data = np.asarray(data)
    out = Tensor.__new__(Tensor)
    out.data = data
    out.grad = None
    out._op = op
    out._last_grad = None
    out._parents = ()
    out._backward = None
    out.requires_grad = False
    if _GRAD_ENABLED:
        for parent in parents:
            if parent.requires_grad:
                out.requires_grad = True
                out._parents = parents
                out._backward = backward
                out._seq = next(_creation_counter)
                break
    return out


def matmul(a: Tensor, b) -> Tensor:
    """``a @ b`` for 1-D and N-D operands, with NumPy's broadcasting.

    For 2-D operands, out = A B, dL/dA = G Bᵀ, dL/dB = Aᵀ G. A 1-D operand is
    treated as a row (left) or column (right) vector and squeezed back.
    """
    b = _wrap(b)
    if np.ndim(a.data) == 0 or np.ndim(b.data) == 0:
        raise ValueError("matmul needs operands with at least one dimension")

    def backward(g):
        left = a.data[None, :] if a.ndim == 1 else a.data
        right = b.data[:, None] if b.ndim == 1 else b.data
        if a.ndim == 1 and b.ndim == 1:
            g = np.reshape(g, (1, 1))
        elif a.ndim == 1:
            g = np.expand_dims(g, -2)
        elif b.ndim == 1:
            g = np.expand_dims(g, -1)
        grad_a = grad_b = None
        if a.requires_grad:
            grad_a = _unbroadcast(g @ np.swapaxes(right, -1, -2), left.shape)
            grad_a = grad_a.reshape(a.shape)
        if b.requires_grad:
            grad_b = _unbroadcast(np.swapaxes(left, -1, -2) @ g, right.shape)
            grad_b = grad_b.reshape(b.shape)
        return grad_a, grad_b

    return from_op(a.data @ b.data, (a, b), backward, "matmul")


def _accumulate(leaf: Tensor, grad: np.ndarray, stored: set[int]) -> None:
    """Add ``grad`` into ``leaf.grad``, which always owns its memory."""
    if not leaf.requires_grad:
        return
    if type(grad) is not np.ndarray:
        grad = np.asarray(grad)
    if leaf.grad is None:
        flags = grad.flags
        owned = (
            flags.owndata
            and flags.writeable
            and grad.dtype == leaf.data.dtype
            and id(grad) not in stored
        )
        leaf.grad = grad if owned else np.array(grad, dtype=leaf.data.dtype)
        leaf._last_grad = leaf.grad
        stored.add(id(leaf.grad))
    else:
        np.add(leaf.grad, grad, out=leaf.grad, casting="unsafe")


def grad_buffer(leaf: Tensor, *operands: np.ndarray) -> np.ndarray | None:
    """Memory into which the next gradient of ``leaf`` may be written, or None.

    ``operands`` are the arrays the gradient is computed from; the memory is
    offered only when they all have its dtype, so the result is the same
    as in fresh memory.

    It is the array of the leaf's previous gradient (when C-contiguous, as
    ``np.dot(..., out=)`` requires), once ``zero_grad()`` has reset
    ``leaf.grad`` to None and nothing else refers to the array (a user
    who kept ``old = p.grad`` keeps it intact). A backward that computes a
    large gradient passes it as ``out=`` (``None`` makes NumPy allocate): on
    Linux, freeing and re-touching a few MiB for every weight at every step
    costs as much as a large fraction of the matrix products. Smaller
    gradients (below ``REUSE_MIN_BYTES``, glibc's default threshold for giving
    memory back) come cheaply from the heap and are not reused.

    "Nothing else refers to the array" is read from ``sys.getrefcount``, which
    only CPython's reference counting makes exact: on any other interpreter
    (``platform.python_implementation() != "CPython"``) this always returns
    None and every gradient gets fresh memory. The count for an array held by
    the leaf alone is measured once at import (:func:`_unshared_references`),
    not assumed, so a CPython that counts temporaries differently stays safe.
    """
    if leaf.data.nbytes < REUSE_MIN_BYTES:
        return None
    last = leaf._last_grad
    if last is None or leaf.grad is not None or not _REUSE_RELEASED_GRADIENTS:
        return None
    if not last.flags.c_contiguous:
        return None
    for operand in operands:
        if operand.dtype != last.dtype:
            return None
    if _references_to_last_grad(leaf) > _UNSHARED_REFERENCES:
        return None
    return last


def _references_to_last_grad(leaf: Tensor) -> int:
    """``sys.getrefcount`` of ``leaf._last_grad`` (CPython only)."""
    return sys.getrefcount(leaf._last_grad)


def _unshared_references() -> int:
    """What :func:`grad_buffer` sees for an array held by the leaf alone.

    Made in the same way as there: the leaf's slot and a local ``last``.
    """
    probe = Tensor(np.zeros(1))
    probe._last_grad = np.zeros(1)
    last = probe._last_grad  # noqa: F841 (counted, as in grad_buffer)
    return _references_to_last_grad(probe)


# below glibc's default mmap threshold freed memory stays in the heap
REUSE_MIN_BYTES = 1 << 17

# reuse relies on exact reference counts, which only CPython provides
_REUSE_RELEASED_GRADIENTS = platform.python_implementation() == "CPython"
_UNSHARED_REFERENCES = _unshared_references() if _REUSE_RELEASED_GRADIENTS else 0


def _reverse_topological(root: Tensor) -> list[Tensor]:
    """The operations (non-leaf nodes) below ``root``, outputs first.

    Collected breadth-first, then sorted by decreasing creation number: an
    operation is numbered after its inputs, so every node comes before its
    inputs and its gradient is complete when its backward runs.
    """
    if root._backward is None:
        return []
    nodes = [root]
    seen = {root}
    for node in nodes:
        for parent in node._parents:
            if parent._backward is not None and parent.requires_grad:
                if parent not in seen:
                    seen.add(parent)
                    nodes.append(parent)
    nodes.sort(key=_creation_order, reverse=True)
    return nodes


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a :class:`Tensor` from an array-like, keeping the array's dtype.

    Python lists of floats become float64, as in NumPy; pass ``dtype`` to
    choose another.
    """
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)
