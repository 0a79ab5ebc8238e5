"""Diagnostics: checking gradients, and looking inside a network.

* :func:`gradcheck` and :func:`gradient_error` compare the gradients that
  ``backward()`` computes with central finite differences, in float64.
* :func:`activations` and :func:`activation_stats` record what each layer of
  a model outputs on a batch: the lecture's "saturate or collapse" picture of
  a deep tanh network, or ReLU units that never fire.
* :func:`gradient_stats` summarises the ``.grad`` of every parameter after a
  backward pass.

Nothing here changes the model: buffers (batch-norm's running averages) and
the state of dropout generators are restored after the forward pass.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from trainlab.nn import Module, ReLU, Sigmoid, Tanh
from trainlab.tensor import Tensor, no_grad

__all__ = [
    "gradcheck",
    "gradient_error",
    "GradientComparison",
    "activations",
    "activation_stats",
    "ActivationStats",
    "gradient_stats",
    "GradientStats",
    "SATURATION_THRESHOLD",
]

SATURATION_THRESHOLD = 0.99
"""A tanh output with ``|y| > 0.99`` counts as saturated (``1 − y² < 0.02``)."""


# ------------------------------------------------------------------ gradients
@dataclass(frozen=True)
class GradientComparison:
    """Autograd against finite differences, for one input.

    ``analytic`` is what ``backward()`` gave, ``numeric`` the central
    difference estimate, both of the input's shape.
    """

    index: int
    analytic: np.ndarray
    numeric: np.ndarray

    @property
    def relative_error(self) -> np.ndarray:
        """``|a − n| / max(1, |a|, |n|)`` entry-wise.

        Relative for large gradients, absolute for gradients below 1, so that
        entries where both are about 0 do not divide noise by noise.
        """
        scale = np.maximum(np.maximum(np.abs(self.analytic), np.abs(self.numeric)), 1)
        return np.abs(self.analytic - self.numeric) / scale


def _check_inputs(inputs: tuple) -> list[Tensor]:
    if len(inputs) == 1 and not isinstance(inputs[0], Tensor):
        # gradcheck(fn, [a, b]) as well as gradcheck(fn, a, b)
        inputs = inputs[0]
    if not isinstance(inputs, Sequence) or not inputs:
        raise TypeError(
            "inputs must be a Tensor or a non-empty sequence of Tensors, "
            f"received {type(inputs).__name__}"
        )
    inputs = list(inputs)
    for index, value in enumerate(inputs):
        if not isinstance(value, Tensor):
            raise TypeError(
                f"inputs[{index}] must be a Tensor, received {type(value).__name__}"
            )
        if value.requires_grad and not value.is_leaf:
            raise ValueError(
                f"inputs[{index}] must be a leaf tensor (made by tl.tensor), "
                f"received the result of the operation {value._op!r}"
            )
        if value.requires_grad and value.dtype != np.float64:
            raise ValueError(
                f"inputs[{index}] must be float64 for finite differences to be "
                f"accurate, received {value.dtype}; build it with dtype=np.float64"
            )
    if not any(value.requires_grad for value in inputs):
        raise ValueError("inputs must contain at least one Tensor with requires_grad")
    return inputs


def _scalar_output(fn: Callable, inputs: list[Tensor], weights: list) -> Tensor:
    """``L = Σ_k r_k ⊙ out``: a fixed random projection of ``fn``'s output."""
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"fn must return a Tensor, received {type(out).__name__}")
    if not np.all(np.isfinite(out.data)):
        raise ValueError("fn returned non-finite values at the given inputs")
    if not weights:
        projection = np.random.default_rng(0).uniform(0.5, 1.5, size=out.shape)
        sign = np.random.default_rng(1).choice([-1.0, 1.0], size=out.shape)
        weights.append(projection * sign)
    if out.shape != weights[0].shape:
        raise ValueError(
            f"fn's output changed shape between calls: {weights[0].shape} "
            f"then {out.shape}"
        )
    return (out * weights[0]).sum()


def _check_real(name: str, value) -> None:
    """``value`` must be a finite real number (Python or NumPy), not a bool."""
    if not isinstance(value, numbers.Real) or isinstance(value, bool | np.bool_):
        raise TypeError(
            f"{name} must be a real number, received {type(value).__name__} {value!r}"
        )
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, received {value!r}")


def gradient_error(
    fn: Callable, *inputs, eps: float = 1e-6
) -> tuple[float, list[GradientComparison]]:
    """Worst relative error between autograd and finite differences.

    ``fn(*inputs)`` must return a Tensor. A non-scalar output ``y`` is
    reduced to the scalar ``L = Σ r ⊙ y`` with fixed random weights ``r``
    (so every entry of the Jacobian matters). For every entry ``x_i`` of
    every input with ``requires_grad``::

        numeric_i = (L(x + ε e_i) − L(x − ε e_i)) / (2ε)
        relative error_i = |analytic_i − numeric_i| / max(1, |analytic_i|,
                                                         |numeric_i|)

    The central difference has error O(ε²) plus rounding error O(u/ε)
    (u ≈ 1e-16 in float64), so ε = 1e-6 gives about 1e-10. Inputs must be
    float64. Their ``.grad`` is left as it was.

    Returns the worst relative error and one :class:`GradientComparison`
    per input that requires a gradient.
    """
    _check_real("eps", eps)
    if not eps > 0:
        raise ValueError(f"eps must be a positive number, received {eps!r}")
    inputs = _check_inputs(inputs)
    saved_grads = [value.grad for value in inputs]
    weights: list = []
    try:
        for value in inputs:
            value.grad = None
        _scalar_output(fn, inputs, weights).backward()
        analytic = [
            np.zeros_like(value.data) if value.grad is None else value.grad.copy()
            for value in inputs
        ]
    finally:
        for value, grad in zip(inputs, saved_grads, strict=True):
            value.grad = grad

    comparisons = []
    with no_grad():
        for index, value in enumerate(inputs):
            if not value.requires_grad:
                continue
            numeric = np.zeros_like(value.data)
            for entry in np.ndindex(value.shape):
                original = value.data[entry]
                try:
                    value.data[entry] = original + eps
                    plus = _scalar_output(fn, inputs, weights).item()

                    value.data[entry] = original - eps
                    minus = _scalar_output(fn, inputs, weights).item()
                finally:
                    value.data[entry] = original

                numeric[entry] = (plus - minus) / (2 * eps)
            comparisons.append(GradientComparison(index, analytic[index], numeric))

    worst = max(
        (float(c.relative_error.max(initial=0.0)) for c in comparisons), default=0.0
    )
    return worst, comparisons


def gradcheck(
    fn: Callable,
    *inputs,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> bool:
    """Check ``backward()`` against central finite differences, in float64.

    Every entry must satisfy ``|analytic − numeric| ≤ atol + rtol · |numeric|``
    (see :func:`gradient_error` for how both are computed). Returns ``True``;
    raises ``AssertionError`` naming the input, the worst entry and both
    values otherwise, and ``ValueError``/``TypeError`` for unusable inputs
    (not float64, none requiring a gradient, ``fn`` not returning a Tensor).

    The inputs are Tensors, given one by one or as one sequence, and passed
    as ``fn(*inputs)``; to check a model's parameters pass them and ignore
    them in ``fn``::

        gradcheck(lambda *params: loss(model(x), y), model.parameters())
    """
    for name, value in (("atol", atol), ("rtol", rtol)):
        _check_real(name, value)
        if not value >= 0:
            raise ValueError(
                f"{name} must be a non-negative number, received {value!r}"
            )
    worst, comparisons = gradient_error(fn, *inputs, eps=eps)
    for comparison in comparisons:
        difference = np.abs(comparison.analytic - comparison.numeric)
        allowed = atol + rtol * np.abs(comparison.numeric)
        excess = difference - allowed
        if excess.size and excess.max() > 0:
            entry = np.unravel_index(int(np.argmax(excess)), excess.shape)
            entry = tuple(int(i) for i in entry)
            raise AssertionError(
                f"gradcheck failed for inputs[{comparison.index}] (shape "
                f"{comparison.analytic.shape}): worst entry {entry} has autograd "
                f"{comparison.analytic[entry]:.10g}, finite differences "
                f"{comparison.numeric[entry]:.10g}, |difference| "
                f"{difference[entry]:.3g} > atol + rtol·|numeric| = "
                f"{allowed[entry]:.3g}; "
                f"{int((excess > 0).sum())} of {excess.size} entries fail, "
                f"worst relative error {worst:.3g}"
            )
    return True


# ---------------------------------------------------------------- activations
@dataclass(frozen=True)
class ActivationStats:
    """Summary of one layer's output ``y`` (``M`` entries, ``N`` rows).

    ``mean = (1/M) Σ y``, ``std = √((1/M) Σ (y − mean)²)``.
    ``saturated`` (tanh and sigmoid only): the fraction of entries in the flat
    tails, ``|y| > 0.99`` for tanh and ``|2y − 1| > 0.99`` for sigmoid, where
    the derivative is below 2% of its maximum. ``dead`` (ReLU only): the
    fraction of units (columns) that output 0 for every row of the batch, and
    ``inactive`` the fraction of entries equal to 0.
    """

    name: str
    module: str
    shape: tuple[int, ...]
    mean: float
    std: float
    saturated: float | None = None
    dead: float | None = None
    inactive: float | None = None


def _leaf_modules(model: Module) -> list[tuple[str, Module]]:
    """Modules without sub-modules, by dotted name (the class name for a root)."""
    return [
        (name or type(module).__name__, module)
        for name, module in model.named_modules()
        if not module._modules
    ]


def activations(model: Module, x) -> dict[str, np.ndarray]:
    """The output of every leaf module of ``model`` on ``x``, by dotted name.

    The model runs once, in its current mode (``train()`` or ``eval()``),
    without recording a graph. Entries follow the order of the calls; a
    module called twice keeps its last output. The arrays are copies. The
    model is left as it was: running averages and the state of dropout
    generators are restored.
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a Module, received {type(model).__name__}")
    outputs: dict[str, np.ndarray] = {}
    leaves = _leaf_modules(model)
    buffers = {name: array.copy() for name, array in model.named_buffers()}
    generators = [
        (module.rng, module.rng.bit_generator.state)
        for _, module in leaves
        if isinstance(getattr(module, "rng", None), np.random.Generator)
    ]

    def recording(name: str, forward: Callable) -> Callable:
        def forward_and_record(inputs):
            out = forward(inputs)
            outputs.pop(name, None)
            outputs[name] = np.array(out.data if isinstance(out, Tensor) else out)
            return out

        return forward_and_record

    try:
        for name, module in leaves:
            # an instance attribute shadows the class's forward for this call
            object.__setattr__(module, "forward", recording(name, module.forward))
        with no_grad():
            model(x)
    finally:
        for _, module in leaves:
            module.__dict__.pop("forward", None)
        state_arrays = dict(model.named_buffers())
        for name, array in buffers.items():
            np.copyto(state_arrays[name], array)
        for generator, state in generators:
            generator.bit_generator.state = state
    return outputs


def activation_stats(model: Module, x) -> dict[str, ActivationStats]:
    """:class:`ActivationStats` of every leaf module's output on ``x``.

    Runs :func:`activations` and summarises each output; see
    :class:`ActivationStats` for the formulas.
    """
    modules = dict(_leaf_modules(model)) if isinstance(model, Module) else {}
    stats = {}
    for name, output in activations(model, x).items():
        module = modules[name]
        values = output.astype(np.float64, copy=False)
        record = {
            "name": name,
            "module": type(module).__name__,
            "shape": output.shape,
            "mean": float(values.mean()) if values.size else math.nan,
            "std": float(values.std()) if values.size else math.nan,
        }
        if isinstance(module, Tanh):
            record["saturated"] = float(np.mean(np.abs(values) > SATURATION_THRESHOLD))
        elif isinstance(module, Sigmoid):
            record["saturated"] = float(
                np.mean(np.abs(2 * values - 1) > SATURATION_THRESHOLD)
            )
        elif isinstance(module, ReLU):
            off = values == 0
            rows = off.reshape(off.shape[0], -1) if off.ndim > 1 else off[None, :]
            record["dead"] = float(np.mean(rows.all(axis=0)))
            record["inactive"] = float(np.mean(off))
        stats[name] = ActivationStats(**record)
    return stats


# ------------------------------------------------------------------ gradients
@dataclass(frozen=True)
class GradientStats:
    """Summary of one parameter's gradient ``g`` (``M`` entries).

    ``mean = (1/M) Σ g``, ``std = √((1/M) Σ (g − mean)²)``,
    ``norm = √(Σ g²)`` (the Frobenius norm). ``data_norm`` is ``‖θ‖`` of the
    parameter itself, so ``norm / data_norm`` is the relative size of a
    gradient step.
    """

    name: str
    shape: tuple[int, ...]
    mean: float
    std: float
    norm: float
    data_norm: float


def gradient_stats(model: Module) -> dict[str, GradientStats]:
    """:class:`GradientStats` of every parameter's ``.grad``, by dotted name.

    Parameters whose ``.grad`` is ``None`` (not reached by the last backward
    pass, or zeroed since) are left out; if no parameter has a gradient, a
    ``ValueError`` asks for a backward pass first.
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a Module, received {type(model).__name__}")
    stats = {}
    for name, param in model.named_parameters():
        if param.grad is None:
            continue
        grad = param.grad.astype(np.float64, copy=False)
        stats[name] = GradientStats(
            name=name,
            shape=param.shape,
            mean=float(grad.mean()),
            std=float(grad.std()),
            norm=float(np.sqrt(np.sum(grad * grad))),
            data_norm=float(np.linalg.norm(param.data.astype(np.float64).ravel())),
        )
    if not stats:
        raise ValueError(
            "model has no parameter with a gradient; call loss.backward() first"
        )
    return stats
