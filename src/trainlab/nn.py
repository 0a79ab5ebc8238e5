"""Modules: parameters, layers and containers.

A :class:`Module` registers every :class:`Parameter`, sub-module and buffer
assigned to it as an attribute, so ``model.parameters()`` finds them all. The
weight of a :class:`Linear` layer has shape ``(n_in, n_out)`` and the layer
computes ``z = x W + b`` on a batch of row vectors.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterator

import numpy as np

from trainlab import functional as F
from trainlab import init as init_
from trainlab.tensor import Tensor

__all__ = [
    "Parameter",
    "Module",
    "Linear",
    "Sequential",
    "ReLU",
    "Tanh",
    "Sigmoid",
    "Identity",
    "BatchNorm1d",
    "Dropout",
    "mlp",
]


class Parameter(Tensor):
    """A trainable tensor: a leaf that requires a gradient.

    ``decay`` says whether weight decay applies to it (the lecture decays
    weights, never biases nor batch-norm's γ and β). The array's dtype is kept.
    """

    __slots__ = ("decay",)

    def __init__(self, data, decay: bool = True):
        array = np.asarray(data.data if isinstance(data, Tensor) else data)
        if not np.issubdtype(array.dtype, np.floating):
            raise TypeError(
                f"Parameter needs floating-point data, received dtype {array.dtype}"
            )
        super().__init__(np.array(array, copy=True), requires_grad=True)
        self.decay = bool(decay)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.shape}, dtype={self.dtype}, decay={self.decay})"


def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, received {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be positive, received {value}")
    return int(value)


def _is_real(value) -> bool:
    """A real number (Python or NumPy), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"dtype must be float32 or float64, received {dtype}")
    return dtype


class Module:
    """Base class: holds parameters, buffers and sub-modules as attributes.

    Subclasses define ``forward``; calling the module calls it. ``training``
    is ``True`` after ``train()`` and ``False`` after ``eval()``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name: str, value) -> None:
        if "_parameters" not in self.__dict__:
            raise RuntimeError(
                f"{type(self).__name__}.__init__ must call super().__init__() "
                "before assigning attributes"
            )
        if name in self._buffers and isinstance(value, np.ndarray):
            # assigning a new array to a buffer keeps it a buffer
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        for registry in (self._parameters, self._modules, self._buffers):
            registry.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, array: np.ndarray) -> None:
        """Keep ``array`` as non-trainable state saved in ``state_dict``."""
        object.__setattr__(self, name, array)
        self._buffers[name] = array

    def forward(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, x):
        return self.forward(x)

    # --------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        """This module and every sub-module, in the order of named_modules()."""
        yield self
        for module in self._modules.values():
            yield from module.modules()

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs, each parameter once."""
        seen: set[int] = set()
        for prefix, module in self.named_modules():
            for name, param in module._parameters.items():
                if id(param) not in seen:
                    seen.add(id(param))
                    yield (f"{prefix}.{name}" if prefix else name), param

    def parameters(self) -> list[Parameter]:
        """Every parameter once, in the order of named_parameters()."""
        params: list[Parameter] = []
        seen: set[int] = set()
        for module in self.modules():
            for param in module._parameters.values():
                if id(param) not in seen:
                    seen.add(id(param))
                    params.append(param)
        return params

    def named_buffers(self) -> Iterator[tuple[str, np.ndarray]]:
        for prefix, module in self.named_modules():
            for name, array in module._buffers.items():
                yield (f"{prefix}.{name}" if prefix else name), array

    def train(self, mode: bool = True) -> Module:
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def zero_grad(self) -> None:
        for param in self.parameters():
            param.grad = None

    # ------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, by dotted name."""
        state = {name: param.data.copy() for name, param in self.named_parameters()}
        state.update({name: array.copy() for name, array in self.named_buffers()})
        return state

    def load_state_dict(self, state: dict) -> None:
        """Copy ``state`` into the parameters and buffers, in place.

        Every entry is checked before anything is written: a missing, extra or
        wrongly shaped entry raises ``ValueError`` naming it, and the module is
        left unchanged.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict, received {type(state).__name__}")
        targets = {name: param.data for name, param in self.named_parameters()}
        targets.update(dict(self.named_buffers()))
        missing = sorted(set(targets) - set(state))
        extra = sorted(set(state) - set(targets))
        problems = []
        if missing:
            problems.append(f"missing entries {missing}")
        if extra:
            problems.append(f"unexpected entries {extra}")
        values = {}
        for name in sorted(set(targets) & set(state)):
            value = state[name]
            value = np.asarray(value.data if isinstance(value, Tensor) else value)
            if value.shape != targets[name].shape:
                problems.append(
                    f"entry {name!r} has shape {value.shape}, "
                    f"the model expects {targets[name].shape}"
                )
            elif not np.issubdtype(value.dtype, np.number):
                problems.append(f"entry {name!r} has non-numeric dtype {value.dtype}")
            values[name] = value
        if problems:
            raise ValueError("load_state_dict: " + "; ".join(problems))
        for name, value in values.items():
            np.copyto(targets[name], value, casting="unsafe")

    # -------------------------------------------------------------------- repr
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, module in self._modules.items():
            child = repr(module).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        return "\n".join(lines) + "\n)"


_INITIALIZERS: dict[str, Callable] = {
    "lecun_normal": init_.lecun_normal_,
    "xavier_normal": init_.xavier_normal_,
    "xavier_uniform": init_.xavier_uniform_,
    "he_normal": init_.he_normal_,
    "he_uniform": init_.he_uniform_,
    "zeros": lambda w, rng=None: init_.zeros_(w),
}


def _resolve_init(init) -> Callable:
    if callable(init):
        return init
    if init in _INITIALIZERS:
        return _INITIALIZERS[init]
    raise ValueError(
        f"init must be a callable init(weight, rng=rng) or one of "
        f"{sorted(_INITIALIZERS)}, received {init!r}"
    )


class Linear(Module):
    """Affine layer ``z = x W + b``, ``W`` of shape ``(in_features, out_features)``.

    Default initialization: LeCun normal, ``W ~ N(0, 1/in_features)`` (the
    lecture's first variance rule), and ``b = 0``. ``init`` takes a name
    (``"lecun_normal"``, ``"xavier_normal"``, ``"xavier_uniform"``,
    ``"he_normal"``, ``"he_uniform"``, ``"zeros"``) or any callable
    ``init(weight, rng=rng)`` from :mod:`trainlab.init`. The bias is not
    decayed by weight decay.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        init="lecun_normal",
        rng=None,
        dtype=np.float32,
    ):
        super().__init__()
        self.in_features = _check_size("in_features", in_features)
        self.out_features = _check_size("out_features", out_features)
        dtype = _check_dtype(dtype)
        initializer = _resolve_init(init)
        weight = np.empty((self.in_features, self.out_features), dtype=dtype)
        initializer(weight, rng=init_.as_generator(rng))
        self.weight = Parameter(weight, decay=True)
        self.bias = (
            Parameter(np.zeros(self.out_features, dtype), decay=False) if bias else None
        )

    def forward(self, x):
        width = x.shape[-1] if x.ndim else None
        if width != self.in_features:
            raise ValueError(
                f"{self!r} expects input width {self.in_features}, "
                f"received input of shape {tuple(x.shape)} (width {width})"
            )
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        text = f"in_features={self.in_features}, out_features={self.out_features}"
        return text if self.bias is not None else text + ", bias=False"


class Sequential(Module):
    """Apply modules one after the other; ``model[i]`` is the i-th module."""

    def __init__(self, *modules: Module):
        super().__init__()
        for index, module in enumerate(modules):
            if not isinstance(module, Module):
                raise TypeError(
                    f"Sequential takes Modules, argument {index} is "
                    f"{type(module).__name__}"
                )
            setattr(self, str(index), module)

    def forward(self, x):
        for index, module in enumerate(self._modules.values()):
            try:
                x = module(x)
            except ValueError as error:
                if str(error).startswith("layer "):
                    raise
                raise ValueError(f"layer {index}: {error}") from error
        return x

    def __getitem__(self, index: int) -> Module:
        return list(self._modules.values())[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())


class ReLU(Module):
    """``max(x, 0)``."""

    def forward(self, x):
        return F.relu(x)


class Tanh(Module):
    """``tanh(x)``."""

    def forward(self, x):
        return F.tanh(x)


class Sigmoid(Module):
    """``1 / (1 + e^{−x})``."""

    def forward(self, x):
        return F.sigmoid(x)


class Identity(Module):
    """Returns its input."""

    def forward(self, x):
        return x


class BatchNorm1d(Module):
    """Batch normalization of ``(N, num_features)`` pre-activations.

    See :func:`trainlab.functional.batch_norm` for the formulas. ``momentum``
    is the weight of the new batch in the running averages (PyTorch's
    convention, 0.1 by default); the running variance is the unbiased one.
    ``gamma`` (γ, starts at 1) and ``beta`` (β, starts at 0) are never
    decayed by weight decay. ``running_mean`` and ``running_var`` are buffers
    saved in ``state_dict``. In training mode a batch of one is refused.
    """

    def __init__(
        self,
        num_features: int,
        momentum: float = 0.1,
        eps: float = 1e-5,
        affine: bool = True,
        dtype=np.float32,
    ):
        super().__init__()
        self.num_features = _check_size("num_features", num_features)
        if not (_is_real(momentum) and 0 <= momentum <= 1):
            raise ValueError(f"momentum must lie in [0, 1], received {momentum!r}")
        if not (_is_real(eps) and eps > 0):
            raise ValueError(f"eps must be positive, received {eps!r}")
        self.momentum = float(momentum)
        self.eps = float(eps)
        dtype = _check_dtype(dtype)
        if affine:
            self.gamma = Parameter(np.ones(num_features, dtype), decay=False)
            self.beta = Parameter(np.zeros(num_features, dtype), decay=False)
        else:
            self.gamma = self.beta = None
        self.register_buffer("running_mean", np.zeros(num_features, dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype))

    def forward(self, x):
        if x.ndim != 2 or x.shape[1] != self.num_features:
            raise ValueError(
                f"{self!r} expects input of shape (N, {self.num_features}), "
                f"received {tuple(x.shape)}"
            )
        return F.batch_norm(
            x,
            self.gamma,
            self.beta,
            self.running_mean,
            self.running_var,
            training=self.training,
            momentum=self.momentum,
            eps=self.eps,
        )

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"


class Dropout(Module):
    """Drop each unit with probability ``p`` in training mode.

    ``p`` is the probability of dropping (PyTorch's convention); the
    lecture's keep probability is ``1 − p``. ``inverted=True`` scales the
    kept units by ``1/(1 − p)`` in training and leaves evaluation alone;
    ``inverted=False`` is the lecture's variant: no scaling in training,
    outputs multiplied by ``1 − p`` at test.

    ``rng`` (a Generator or a seed) draws the masks. When it is ``None``,
    :func:`trainlab.fit` gives the layer a generator derived from its
    ``seed`` for the run. Outside ``fit`` an unseeded layer draws its masks
    from a private generator with fresh entropy (not reproducible) and
    ``rng`` stays ``None``: a training-mode forward before ``fit`` (a shape
    check, say) does not stop ``fit`` from seeding the layer.
    """

    def __init__(self, p: float = 0.5, rng=None, inverted: bool = True):
        super().__init__()
        if not (_is_real(p) and 0 <= p < 1):
            raise ValueError(f"Dropout p must lie in [0, 1), received {p!r}")
        if not isinstance(inverted, bool | np.bool_):
            raise TypeError(
                f"Dropout inverted must be a bool, received "
                f"{type(inverted).__name__} {inverted!r}"
            )
        self.p = float(p)
        self.inverted = bool(inverted)
        self.rng = None if rng is None else init_.as_generator(rng)
        self._unseeded_rng = None

    def forward(self, x):
        rng = self.rng
        if rng is None and self.training and self.p > 0:
            # fresh entropy for an unseeded layer, kept apart from ``rng`` so
            # that fit(seed=...) still sees the layer as unseeded
            if self._unseeded_rng is None:
                self._unseeded_rng = np.random.default_rng()
            rng = self._unseeded_rng
        return F.dropout(x, self.p, rng, training=self.training, inverted=self.inverted)

    def extra_repr(self) -> str:
        return f"p={self.p}" + ("" if self.inverted else ", inverted=False")


_ACTIVATIONS: dict[str, tuple[type[Module], str]] = {
    "relu": (ReLU, "he_normal"),
    "tanh": (Tanh, "xavier_normal"),
    "sigmoid": (Sigmoid, "xavier_normal"),
}


def mlp(
    sizes,
    activation: str = "relu",
    batchnorm: bool = False,
    dropout: float = 0.0,
    rng=None,
    dtype=np.float32,
) -> Sequential:
    """A multi-layer perceptron ``sizes[0] → … → sizes[-1]``.

    Each hidden layer is ``Linear → [BatchNorm1d] → activation → [Dropout]``;
    the last layer is a plain ``Linear`` (logits or regression outputs).
    Hidden weights use He normal for ReLU and Xavier normal for tanh and
    sigmoid; the output layer, followed by no non-linearity, uses Xavier
    normal. With batch normalization the hidden ``Linear`` layers have no bias
    (β plays its role, as the lecture notes).

    ``rng`` draws the initial weights and, when given, the dropout masks too.
    With ``rng=None`` the Dropout layers are left unseeded, so that
    :func:`trainlab.fit` seeds them from its ``seed``.
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least 2 entries, received {sizes}")
    for index, size in enumerate(sizes):
        _check_size(f"sizes[{index}]", size)
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {sorted(_ACTIVATIONS)}, received {activation!r}"
        )
    if not (_is_real(dropout) and 0 <= dropout < 1):
        raise ValueError(f"dropout must lie in [0, 1), received {dropout!r}")
    generator = init_.as_generator(rng)
    act_class, hidden_init = _ACTIVATIONS[activation]
    layers: list[Module] = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers.append(
            Linear(
                n_in,
                n_out,
                bias=not batchnorm,
                init=hidden_init,
                rng=generator,
                dtype=dtype,
            )
        )
        if batchnorm:
            layers.append(BatchNorm1d(n_out, dtype=dtype))
        layers.append(act_class())
        if dropout > 0:
            layers.append(Dropout(dropout, rng=None if rng is None else generator))
    layers.append(
        Linear(sizes[-2], sizes[-1], init="xavier_normal", rng=generator, dtype=dtype)
    )
    return Sequential(*layers)


def num_parameters(model: Module) -> int:
    """Number of trainable scalars in ``model``."""
    return int(sum(math.prod(p.shape) for p in model.parameters()))
