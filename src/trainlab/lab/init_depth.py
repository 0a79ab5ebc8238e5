"""Initialization and depth: which weight variance keeps a deep network alive.

Two measurements on a fresh (untrained) network fed ``x⁽⁰⁾ ~ N(0, 1)``:

1. A tanh network, ``depth`` layers of ``width`` units,
   ``x⁽ᵏ⁾ = tanh(W⁽ᵏ⁾ᵀ x⁽ᵏ⁻¹⁾ + b⁽ᵏ⁾)``, ``b = 0``, with ``w ~ N(0, σ²)`` for
   each σ of ``sigmas`` and with Xavier's ``σ² = 2/(n_{k−1} + n_k)``. Each
   layer's outputs are histogrammed on shared bins over [−1, 1]; their
   standard deviation and the fraction of saturated units (``|y| > 0.99``)
   are recorded.
2. A ReLU network of the same shape with He's ``σ² = mult · 2/n_{k−1}`` for
   each ``mult``: the variance of the pre-activations ``z⁽ᵏ⁾`` going forward,
   and the variance of ``∂L/∂z⁽ᵏ⁾`` going backward, the backward pass being
   seeded at the last layer's output with a standard normal gradient (that
   is, ``L = Σ ⟨g, x⁽ᴷ⁾⟩`` with ``g ~ N(0, 1)``).

Every variant draws its weights from the same standard normal matrices (one
seed per layer) scaled by its own σ, so the variants differ only by the scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trainlab import init as tl_init
from trainlab import nn
from trainlab.lab.common import (
    PALETTE,
    Experiment,
    check_int,
    check_numbers,
    fixed_margins,
    plain_ticks,
    run_arguments,
)
from trainlab.tensor import Tensor, from_op, no_grad, tensor

SATURATION = 0.99
"""A tanh unit counts as saturated when ``|y| > SATURATION``."""


@dataclass
class InitDepthResult:
    """Per-layer statistics of both networks (layer ``k`` at index ``k − 1``)."""

    width: int
    depth: int
    n_samples: int
    tanh_labels: list[str]
    bin_edges: np.ndarray  # (bins + 1,) shared by every histogram
    tanh_histograms: np.ndarray  # (variants, depth, bins), fractions of units
    tanh_std: np.ndarray  # (variants, depth)
    tanh_saturated: np.ndarray  # (variants, depth), fraction with |y| > 0.99
    mults: tuple[float, ...]
    relu_preactivation_var: np.ndarray  # (mults, depth): Var z⁽ᵏ⁾
    relu_gradient_var: np.ndarray  # (mults, depth): Var ∂L/∂z⁽ᵏ⁾


def _base_weights(width: int, depth: int, seed: int) -> list[np.ndarray]:
    """One standard normal matrix per layer, drawn with :func:`trainlab.init.normal_`.

    Every variant uses ``σ · base`` as its weights: the same draw as
    ``normal_(w, std=σ, rng=seed_k)`` (and as ``xavier_normal_``/``he_normal_``
    with that seed), made once instead of once per variant.
    """
    seeds = np.random.SeedSequence(seed).generate_state(depth)
    return [
        tl_init.normal_(np.empty((width, width), np.float32), std=1.0, rng=int(s))
        for s in seeds
    ]


def _network(bases, stds, activation) -> list[nn.Module]:
    """``Linear(W = σ_k · base_k, b = 0) → activation`` for every layer k."""
    modules: list[nn.Module] = []
    for base, std in zip(bases, stds, strict=True):
        width_in, width_out = base.shape
        layer = nn.Linear(width_in, width_out, bias=False, init="zeros")
        np.multiply(base, np.float32(std), out=layer.weight.data)
        layer.weight.requires_grad = False  # only the signal's gradient is wanted
        modules += [layer, activation()]
    return modules


def xavier_std(n_in: int, n_out: int) -> float:
    """Xavier (Glorot): ``σ = √(2/(n_{k−1} + n_k))``."""
    return math.sqrt(2.0 / (n_in + n_out))


def he_std(n_in: int, mult: float) -> float:
    """He (Kaiming): ``σ = √(mult · 2/n_{k−1})``."""
    return math.sqrt(mult * 2.0 / n_in)


def _tap(x: Tensor, store: list) -> Tensor:
    """Identity whose backward records the gradient flowing through it."""

    def backward(g):
        store.append(g)
        return (g,)

    return from_op(x.data, (x,), backward, "tap")


def _relu_pass(x0: np.ndarray, network: list[nn.Module], seed: int):
    """Forward and backward through a ReLU network.

    Returns ``(Var z⁽ᵏ⁾, Var ∂L/∂z⁽ᵏ⁾)`` for ``k = 1 … depth``.
    """
    gradients: list[np.ndarray] = []
    preactivation_var = []
    x = tensor(x0, requires_grad=True)
    for linear, activation in zip(network[::2], network[1::2], strict=True):
        z = _tap(linear(x), gradients)
        preactivation_var.append(float(np.var(z.data, dtype=np.float64)))
        x = activation(z)
    upstream = np.random.default_rng([seed, 1]).standard_normal(
        x.shape, dtype=np.float32
    )
    x.backward(upstream)
    # The taps are reached from the output down: reverse to layer order.
    gradient_var = [float(np.var(g, dtype=np.float64)) for g in reversed(gradients)]
    return np.array(preactivation_var), np.array(gradient_var)


def check(*, width, depth, n_samples, sigmas, mults, bins) -> None:
    """Refuse settings out of range before anything runs."""
    check_int("width", width, 1)
    check_int("depth", depth, 1)
    check_int("n_samples", n_samples, 1)
    check_numbers("sigmas", sigmas, above=0)
    check_numbers("mults", mults, above=0)
    check_int("bins", bins, 2)


def run(
    width: int = 1024,
    depth: int = 7,
    n_samples: int = 300,
    sigmas: tuple[float, ...] = (0.01, 1.0),
    mults: tuple[float, ...] = (0.5, 1.0, 2.0),
    bins: int = 41,
    seed: int = 0,
) -> InitDepthResult:
    """Measure both networks; see the module docstring."""
    check(**run_arguments(locals()))
    sigmas = tuple(float(s) for s in sigmas)
    mults = tuple(float(m) for m in mults)

    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((n_samples, width), dtype=np.float32)
    bases = _base_weights(width, depth, seed)

    variants = [(f"σ = {s:g}", [s] * depth) for s in sigmas]
    variants.append(("Xavier", [xavier_std(*b.shape) for b in bases]))
    histograms = np.zeros((len(variants), depth, bins))
    std = np.zeros((len(variants), depth))
    saturated = np.zeros((len(variants), depth))
    with no_grad():
        for row, (_, stds) in enumerate(variants):
            x = tensor(x0)
            for k, layer in enumerate(_network(bases, stds, nn.Tanh)):
                x = layer(x)
                if k % 2 == 0:
                    continue
                y = x.data
                counts, _ = np.histogram(y, bins=bins, range=(-1.0, 1.0))
                histograms[row, k // 2] = counts / y.size
                std[row, k // 2] = np.std(y, dtype=np.float64)
                saturated[row, k // 2] = np.mean(np.abs(y) > SATURATION)

    preactivation_var = np.zeros((len(mults), depth))
    gradient_var = np.zeros((len(mults), depth))
    for row, mult in enumerate(mults):
        stds = [he_std(b.shape[0], mult) for b in bases]
        preactivation_var[row], gradient_var[row] = _relu_pass(
            x0, _network(bases, stds, nn.ReLU), seed
        )

    return InitDepthResult(
        width=width,
        depth=depth,
        n_samples=n_samples,
        tanh_labels=[label for label, _ in variants],
        bin_edges=np.linspace(-1.0, 1.0, bins + 1),
        tanh_histograms=histograms,
        tanh_std=std,
        tanh_saturated=saturated,
        mults=mults,
        relu_preactivation_var=preactivation_var,
        relu_gradient_var=gradient_var,
    )


def findings(result: InitDepthResult) -> dict:
    """Last-layer std, saturation at layer 3, and He's variance ratios."""
    out: dict = {}
    third = min(3, result.depth) - 1
    for label, std, saturated in zip(
        result.tanh_labels, result.tanh_std, result.tanh_saturated, strict=True
    ):
        out[f"tanh {label}: std at layer {result.depth}"] = float(std[-1])
        out[f"tanh {label}: saturated fraction at layer {third + 1}"] = float(
            saturated[third]
        )
        out[f"tanh {label}: max saturated fraction"] = float(saturated.max())
    for mult, forward, backward in zip(
        result.mults,
        result.relu_preactivation_var,
        result.relu_gradient_var,
        strict=True,
    ):
        out[f"ReLU He mult={mult:g}: Var z last / Var z first"] = float(
            forward[-1] / forward[0]
        )
        out[f"ReLU He mult={mult:g}: Var grad first / Var grad last"] = float(
            backward[0] / backward[-1]
        )
    return out


def _legend_label(label: str) -> str:
    if label.startswith("σ = "):
        return f"w ~ N(0, σ²), {label}"
    return "Xavier: w ~ N(0, 2/(n_{k−1} + n_k))"


def _power_of_two(value: float) -> str:
    """A tick label on a log₂ axis, short: ``1/64`` rather than ``0.015625``."""
    if 0 < value < 1:
        return f"1/{1 / value:g}"
    return f"{value:g}"


def plot(result: InitDepthResult):
    """Per-layer histograms for tanh; variance per layer for ReLU, log scale."""
    from matplotlib.figure import Figure

    variants = len(result.tanh_labels)
    depth = result.depth
    layers = np.arange(1, depth + 1)
    figure = Figure(figsize=(4.4 * variants, 8.6))
    grid = figure.add_gridspec(2, 2 * variants)
    fixed_margins(figure, left=0.75, right=0.15, top=0.8, wspace=0.9, hspace=0.32)
    figure.suptitle(
        f"Initialization vs depth: {depth} layers × {result.width} units, "
        f"{result.n_samples} inputs x⁽⁰⁾ ~ N(0, 1), biases 0"
    )

    for row, label in enumerate(result.tanh_labels):
        ax = figure.add_subplot(grid[0, 2 * row : 2 * row + 2])
        colour = PALETTE[row % len(PALETTE)]
        for k, histogram in enumerate(result.tanh_histograms[row]):
            # Layer k: its histogram drawn sideways from x = k, tallest bin 0.85.
            length = 0.85 * histogram / max(float(histogram.max()), 1e-12)
            ax.stairs(
                k + 1 + length,
                result.bin_edges,
                baseline=k + 1,
                orientation="horizontal",
                fill=True,
                color=colour,
                label=_legend_label(label) if k == 0 else None,
            )
            ax.text(k + 1.05, -1.15, f"{result.tanh_std[row, k]:.1g}", fontsize=7)
        third = min(3, depth) - 1
        ax.set_xlim(0.8, depth + 1)
        ax.set_ylim(-1.22, 1.45)
        ax.set_yticks([-1.0, -0.5, 0.0, 0.5, 1.0])
        ax.set_xticks(layers)
        ax.set_xlabel("layer k  (number below: std of y)")
        ax.set_ylabel("output y = tanh(z) (unitless)")
        ax.set_title(
            f"tanh: {100 * result.tanh_saturated[row, third]:.0f}% of units "
            f"saturated (|y| > {SATURATION}) at layer {third + 1}",
            fontsize=9,
        )
        ax.legend(loc="upper right", fontsize=8)

    forward_ax = figure.add_subplot(grid[1, :variants])
    backward_ax = figure.add_subplot(grid[1, variants:])
    for row, mult in enumerate(result.mults):
        colour = PALETTE[row % len(PALETTE)]
        label = f"He × mult = {mult:g}"
        forward_ax.plot(
            layers, result.relu_preactivation_var[row], "o-", color=colour, label=label
        )
        backward_ax.plot(
            layers, result.relu_gradient_var[row], "o-", color=colour, label=label
        )
    forward_ax.set_title(
        "ReLU, w ~ N(0, mult · 2/n): forward pass, pre-activations", fontsize=9
    )
    forward_ax.set_ylabel("variance of the pre-activations z⁽ᵏ⁾ (unitless)")
    backward_ax.set_title(
        "ReLU, same networks: backward pass seeded with ∂L/∂x⁽ᴷ⁾ ~ N(0, 1)",
        fontsize=9,
    )
    backward_ax.set_ylabel("variance of the gradient ∂L/∂z⁽ᵏ⁾ (unitless)")
    for ax in (forward_ax, backward_ax):
        ax.set_yscale("log", base=2)
        plain_ticks(ax.yaxis, _power_of_two)
        ax.set_xlabel("layer k")
        ax.set_xticks(layers)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return figure


EXPERIMENT = Experiment(
    name="init-depth",
    description="Weight variance vs depth: tanh collapse/saturation, He's mult",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "With weights drawn too small the signal shrinks at every layer until "
        "the deep layers output almost nothing; drawn too large, tanh units sit "
        "at ±1 and pass no gradient. Scaling the variance with the fan-in "
        "(Xavier for tanh, He for ReLU) keeps the forward signal and the "
        "backward gradients at a steady size through depth."
    ),
    formula=(
        "Var(z⁽ᵏ⁾) = n_{k−1} · Var(w) · E[(x⁽ᵏ⁻¹⁾)²];  "
        "Xavier: w ~ N(0, 2/(n_{k−1} + n_k));  "
        "He: w ~ N(0, mult · 2/n_{k−1}), since E[ReLU(z)²] = Var(z)/2"
    ),
)
