"""Centering and normalizing the inputs, and why gradient descent cares.

The lecture's preprocessing, feature by feature, on D = {x₁, …, x_N}::

    x_centered = x − x̄
    x_norm     = x_centered / √((1/N) Σᵢ (xᵢ − x̄)²)

Why it matters: data from Y = ⟨X − μ, u⟩ + ε, X ~ N(μ, Σ), fitted by one
linear neuron without bias, Y ≈ ⟨X, w⟩, by gradient descent on the squared
error. The loss is a quadratic in w whose Hessian is 2·(1/N) Σᵢ xᵢxᵢᵀ, which
for raw inputs estimates 2(Σ + μμᵀ): a far-off mean adds a huge curvature
along μ. After x ← D̂(x − μ̂), D̂ = diag(1/σ̂ⱼ), the Hessian estimates 2 D̂ΣD̂,
the correlation matrix, whose condition number κ = λ_max/λ_min is small.
Gradient descent with η = 1/λ_max needs about κ·ln(1/tol) steps, so κ is
what the figure and the findings measure, with the steps actually taken.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from trainlab import optim
from trainlab.data import Standardizer, linear_gaussian
from trainlab.lab import paths
from trainlab.lab.common import (
    PALETTE,
    Experiment,
    check_int,
    check_number,
    check_numbers,
    fixed_margins,
    run_arguments,
)

VERSIONS = ("raw", "centered", "standardized")


@dataclass(frozen=True)
class PreprocessingResult:
    params: dict
    inputs: dict[str, np.ndarray]
    losses: dict[str, paths.Quadratic]
    lrs: dict[str, float]
    paths: dict[str, np.ndarray]


def check(*, n, mean, stds, correlation, u, noise_std, tol, max_steps) -> None:
    """Refuse settings out of range before anything runs."""
    check_int("n", n, 2)
    paths.point(mean, "mean")
    check_numbers("stds", stds, count=(2, 2), above=0)
    check_number("correlation", correlation, above=-1, below=1)
    paths.point(u, "u")
    check_number("noise_std", noise_std, at_least=0)
    check_number("tol", tol, above=0)
    check_int("max_steps", max_steps, 1)


def run(
    n=500,
    mean=(5.0, 3.0),
    stds=(1.5, 0.5),
    correlation=0.3,
    u=(1.0, 2.0),
    noise_std=0.5,
    tol=1e-3,
    max_steps=3000,
    seed=0,
) -> PreprocessingResult:
    """Sample the data, fit w by gradient descent on raw, centered and
    standardized inputs, each with η = 1/λ_max of its own Hessian."""
    params = run_arguments(locals())
    check(**params)
    cov = np.outer(stds, stds) * np.array([[1.0, correlation], [correlation, 1.0]])
    X, y = linear_gaussian(n, u, cov, mu=mean, noise_std=noise_std, rng=seed)

    inputs = {
        "raw": X,
        "centered": Standardizer(scale=False).fit_transform(X),
        "standardized": Standardizer().fit_transform(X),
    }
    losses, lrs, found = {}, {}, {}
    for version, Z in inputs.items():
        quadratic = paths.Quadratic.from_data(Z, y)
        lr = 1.0 / quadratic.largest_curvature

        def close_enough(w, quadratic=quadratic):
            return quadratic(w) - quadratic.floor <= tol

        found[version] = paths.descend(
            np.zeros(2),
            paths.mse_batch_loss(Z, y),
            lambda params, lr=lr: optim.SGD(params, lr=lr),
            [slice(None)] * max_steps,
            until=close_enough,
        )
        losses[version] = quadratic
        lrs[version] = lr

    return PreprocessingResult(params, inputs, losses, lrs, found)


def _steps(result: PreprocessingResult, version: str):
    path = result.paths[version]
    quadratic = result.losses[version]
    reached = paths.first_below(
        paths.excess_loss(quadratic, path), result.params["tol"]
    )
    return reached if reached is not None else f"not within {len(path) - 1}"


def findings(result: PreprocessingResult) -> dict:
    tol = result.params["tol"]
    out = {}
    for version in VERSIONS:
        out[f"{version}: condition number κ of the Hessian"] = result.losses[
            version
        ].condition_number
    for version in VERSIONS:
        out[f"{version}: GD steps until L − L* ≤ {tol}"] = _steps(result, version)
    for version in VERSIONS:
        out[f"{version}: learning rate η = 1/λ_max"] = result.lrs[version]
    for version in VERSIONS:
        out[f"{version}: lowest loss L* (no bias)"] = result.losses[version].floor
    raw = result.inputs["raw"]
    out["raw inputs: mean of feature 1, 2"] = ", ".join(
        f"{m:.3g}" for m in raw.mean(axis=0)
    )
    out["raw inputs: std of feature 1, 2"] = ", ".join(
        f"{s:.3g}" for s in raw.std(axis=0)
    )
    return out


def plot(result: PreprocessingResult) -> Figure:
    p = result.params
    figure = Figure(figsize=(14.5, 10))
    axes = figure.subplots(2, 3)
    fixed_margins(figure, top=1.0, bottom=0.95, wspace=0.3, hspace=0.3)

    everything = np.concatenate(list(result.inputs.values()) + [np.zeros((1, 2))])
    bounds = paths.view_bounds([everything], margin=0.05)
    for ax, version, color in zip(axes[0], VERSIONS, PALETTE, strict=False):
        Z = result.inputs[version]
        ax.scatter(
            Z[:, 0], Z[:, 1], s=6, color=color, alpha=0.6, label=f"{len(Z)} samples"
        )
        ax.axhline(0, color="black", linewidth=0.6)
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_xlim(bounds[0], bounds[1])
        ax.set_ylim(bounds[2], bounds[3])
        ax.set_aspect("equal")
        ax.set_xlabel("feature x₁ (input units)")
        ax.set_ylabel("feature x₂ (input units)")
        mean = np.round(Z.mean(axis=0), 2) + 0.0
        std = np.round(Z.std(axis=0), 2)
        ax.set_title(
            f"{version}: mean ({mean[0]:g}, {mean[1]:g}), std ({std[0]:g}, {std[1]:g})",
            fontsize=10,
        )
        ax.legend(loc="upper left", fontsize=8)

    for ax, version in zip(axes[1][:2], ("raw", "standardized"), strict=True):
        quadratic = result.losses[version]
        path = result.paths[version]
        box = paths.view_bounds([path, quadratic.minimum[None]], margin=0.15)
        paths.draw_contours(ax, quadratic, box, minimum_label="least-squares w*")
        paths.draw_path(
            ax,
            path,
            PALETTE[VERSIONS.index(version)],
            label=f"gradient descent, {len(path) - 1} steps",
            markersize=2,
            linewidth=1.0,
            start_label="start w = 0",
        )
        paths.label_axes(
            ax,
            f"{version} inputs: κ = {quadratic.condition_number:.3g}, "
            f"η = 1/λ_max = {result.lrs[version]:.3g}, {len(path) - 1} GD steps",
            names=("w₁", "w₂"),
        )
    handles, labels = axes[1][0].get_legend_handles_labels()
    figure.legend(
        [handles[0], handles[2]],
        [labels[0], labels[2]],
        loc="lower left",
        bbox_to_anchor=(0.05, 0.0),
        ncol=2,
        fontsize=9,
        frameon=False,
    )

    curves = axes[1][2]
    for version, color in zip(VERSIONS, PALETTE, strict=False):
        values = paths.excess_loss(result.losses[version], result.paths[version])
        curves.plot(
            np.maximum(values, 1e-12),
            color=color,
            linewidth=1.6,
            label=f"{version} (κ = {result.losses[version].condition_number:.3g})",
        )
    curves.axhline(
        p["tol"],
        color="black",
        linestyle=":",
        linewidth=1.0,
        label=f"tolerance {p['tol']}",
    )
    curves.set_yscale("log")
    curves.set_xscale("symlog", linthresh=10)
    curves.set_xlim(left=0)
    curves.set_xlabel("gradient-descent step t (symlog scale)")
    curves.set_ylabel("L(w_t) − L* (squared units of y, log scale)")
    curves.set_title("Loss above its minimum until the tolerance", fontsize=10)
    curves.grid(True, alpha=0.3)
    curves.legend(fontsize=8)

    figure.suptitle(
        f"Preprocessing: N = {p['n']} inputs X ~ N(μ, Σ), μ = {tuple(p['mean'])}, "
        f"standard deviations {tuple(p['stds'])}, correlation {p['correlation']}\n"
        f"Why it matters: Y = ⟨X − μ, u⟩ + ε, u = {tuple(p['u'])}, "
        f"σ = {p['noise_std']}, fitted by one linear neuron without bias, "
        "full-batch gradient descent from w = 0",
        fontsize=11,
    )
    return figure


EXPERIMENT = Experiment(
    name="preprocessing",
    description="Raw, centered and standardized inputs; GD speed before and after",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "Inputs should be centered and put on a common scale before training. "
        "For a linear neuron trained with the squared error the loss is a "
        "quadratic bowl whose shape comes from the inputs' second moment Σ + μμᵀ: "
        "a mean far from zero and features of very different spread make the "
        "bowl a long, narrow valley (a large condition number κ). Gradient "
        "descent must then use a step small enough for the steep direction and "
        "crawls along the flat one. Centering removes μμᵀ, dividing by each "
        "feature's standard deviation evens out the scales; κ drops and the "
        "same tolerance is reached in far fewer steps."
    ),
    formula=(
        "x_centered = x − x̄,   x_norm = x_centered / √((1/N) Σᵢ (xᵢ − x̄)²)   "
        "(entry-wise)\n"
        "L(w) = (1/N) Σᵢ (yᵢ − ⟨w, xᵢ⟩)²,   ∇²L = (2/N) Σᵢ xᵢxᵢᵀ ≈ 2(Σ + μμᵀ)\n"
        "after x ← D̂(x − μ̂):   ∇²L ≈ 2 D̂ Σ D̂ + 2 D̂(μ − μ̂)(μ − μ̂)ᵀD̂\n"
        "κ = λ_max / λ_min,   GD with η = 1/λ_max needs about κ · ln(1/tol) steps"
    ),
)
