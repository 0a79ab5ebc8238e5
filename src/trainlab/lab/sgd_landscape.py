"""What stochastic gradient descent walks on, and what it actually sees.

Data from the lecture's model Y = ⟨w₀, X⟩ + ε, X ~ N(0, Σ), ε ~ N(0, σ²).
The expected loss is a bowl with elliptic level lines centred at w₀::

    L_D(w) = E(Y − ⟨w, X⟩)² = (w − w₀)ᵀ Σ (w − w₀) + σ²

but each SGD step follows the gradient of one minibatch loss::

    L_B(w) = (1/|B|) Σ_{(x, y) ∈ B} (y − ⟨w, x⟩)²
    w_{t+1} = w_t − η ∇L_{B_t}(w_t)

whose bowl has another centre and another shape for every minibatch. The
step is orthogonal to the level lines of L_B, not of L_D.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from trainlab import optim
from trainlab.lab import paths
from trainlab.lab.common import (
    PALETTE,
    Experiment,
    check_int,
    check_number,
    fixed_margins,
    run_arguments,
)


@dataclass(frozen=True)
class SGDLandscapeResult:
    params: dict
    expected: paths.Quadratic
    path: np.ndarray
    batch_losses: list[paths.Quadratic]
    gradient_angles: np.ndarray
    expected_losses: np.ndarray


def check(*, lr, batch_size, steps, panels, **linear) -> None:
    """Refuse settings out of range before anything runs."""
    paths.check_linear(**linear)
    check_number("lr", lr, above=0)
    paths.check_batch_size(batch_size, linear["n"])
    check_int("steps", steps, 1)
    if isinstance(panels, bool) or not isinstance(panels, int):
        raise TypeError(f"panels must be an int, received {panels!r}")
    if not 1 <= panels <= min(steps, 8):
        raise ValueError(f"panels must be in 1..min(steps, 8), received {panels}")


def run(
    n=500,
    w0=(1.0, 2.0),
    cov=(1.0, 0.5, 0.5),
    noise_std=1.0,
    start=(-2.0, -1.0),
    lr=0.1,
    batch_size=10,
    steps=30,
    panels=6,
    seed=0,
) -> SGDLandscapeResult:
    """SGD from ``start`` for ``steps`` minibatches, keeping the first losses."""
    params = run_arguments(locals())
    check(**params)
    data_rng, order_rng = paths.generators(seed, 2)
    problem = paths.LinearProblem.sample(n, w0, cov, noise_std, data_rng)
    batches = paths.index_batches(n, batch_size, steps, order_rng)

    path = paths.descend(
        paths.point(start, "start"),
        paths.mse_batch_loss(problem.X, problem.y),
        lambda params: optim.SGD(params, lr=lr),
        batches,
    )

    batch_losses = [
        paths.Quadratic.from_data(problem.X[b], problem.y[b]) for b in batches
    ]
    expected_grads = problem.expected.gradient(path[:-1])
    batch_grads = np.stack(
        [q.gradient(w) for q, w in zip(batch_losses, path[:-1], strict=True)]
    )
    cosines = np.sum(expected_grads * batch_grads, axis=1) / (
        np.linalg.norm(expected_grads, axis=1) * np.linalg.norm(batch_grads, axis=1)
    )
    angles = np.degrees(np.arccos(np.clip(cosines, -1.0, 1.0)))

    return SGDLandscapeResult(
        params=params,
        expected=problem.expected,
        path=path,
        batch_losses=batch_losses[:panels],
        gradient_angles=angles,
        expected_losses=problem.expected(path),
    )


def findings(result: SGDLandscapeResult) -> dict:
    losses = result.expected_losses
    steps = len(losses) - 1
    centres = np.stack([q.minimum for q in result.batch_losses])
    spread = np.linalg.norm(centres - result.expected.minimum, axis=1)
    return {
        "expected loss at start": float(losses[0]),
        f"expected loss after {steps} steps": float(losses[-1]),
        "noise floor σ² (lowest expected loss)": result.expected.floor,
        "steps that raised the expected loss": int(np.sum(np.diff(losses) > 0)),
        "steps taken": steps,
        "mean angle, minibatch vs expected gradient (deg)": float(
            np.mean(result.gradient_angles)
        ),
        "largest angle, minibatch vs expected gradient (deg)": float(
            np.max(result.gradient_angles)
        ),
        "mean distance of minibatch minima from w₀": float(np.mean(spread)),
    }


def plot(result: SGDLandscapeResult) -> Figure:
    p = result.params
    shown = len(result.batch_losses)
    path = result.path
    bounds = paths.view_bounds([path, result.expected.minimum[None]], margin=0.15)

    figure = Figure(figsize=(13.5, 6.4))
    grid = figure.add_gridspec(
        2, 1 + (shown + 1) // 2, width_ratios=[2.2] + [1] * ((shown + 1) // 2)
    )
    fixed_margins(figure, top=0.7, bottom=0.6, wspace=0.35, hspace=0.45)
    ax = figure.add_subplot(grid[:, 0])
    paths.draw_contours(ax, result.expected, bounds, minimum_label="minimum w₀ of L_D")
    paths.draw_path(
        ax,
        path,
        PALETTE[0],
        label=f"SGD path, {len(path) - 1} steps",
        start_label=f"start {tuple(p['start'])}",
    )
    paths.draw_path(
        ax,
        path[: shown + 1],
        PALETTE[4],
        label=f"first {shown} steps (right)",
        markersize=4,
        linewidth=2.2,
        show_start=False,
    )
    ax.plot(
        [],
        [],
        marker="D",
        color=PALETTE[1],
        linestyle="none",
        label="minimum of a minibatch loss L_B",
    )
    paths.label_axes(
        ax, "Expected loss L_D(w) = (w − w₀)ᵀΣ(w − w₀) + σ²", names=("w₁", "w₂")
    )
    ax.legend(loc="upper left", fontsize=8)

    for t, batch_loss in enumerate(result.batch_losses):
        panel = figure.add_subplot(grid[t % 2, 1 + t // 2])
        paths.draw_contours(panel, batch_loss, bounds, levels=8, mark_minimum=False)
        panel.plot(
            *result.expected.minimum,
            marker="*",
            color="black",
            markersize=9,
            linestyle="none",
        )
        panel.plot(
            *batch_loss.minimum,
            marker="D",
            color=PALETTE[1],
            markersize=6,
            linestyle="none",
        )
        panel.annotate(
            "",
            xy=path[t + 1],
            xytext=path[t],
            arrowprops=dict(arrowstyle="-|>", color=PALETTE[4], lw=2),
        )
        panel.plot(*path[t], marker="o", color=PALETTE[4], markersize=4)
        panel.set_title(f"step {t + 1}: level lines of L_B{t + 1}", fontsize=9)
        panel.set_xlabel("w₁ (weight, no unit)", fontsize=7)
        panel.set_ylabel("w₂ (weight, no unit)", fontsize=7)
        panel.tick_params(labelsize=7)

    figure.suptitle(
        f"What SGD sees: η = {p['lr']}, |B| = {p['batch_size']}, N = {p['n']}, "
        f"w₀ = {tuple(p['w0'])}, Σ = {tuple(p['cov'])} as (Σ11, Σ12, Σ22), "
        f"σ = {p['noise_std']}",
        fontsize=11,
    )
    return figure


EXPERIMENT = Experiment(
    name="sgd-landscape",
    description="Expected loss vs the minibatch losses SGD actually descends",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "For the linear model Y = ⟨w₀, X⟩ + ε the expected squared loss is a bowl "
        "with elliptic level lines centred at w₀, shaped by the input covariance "
        "Σ. SGD never sees that bowl: each step descends the loss of one small "
        "minibatch, whose bowl is centred elsewhere and shaped differently, so "
        "the steps are not orthogonal to the expected loss's level lines and "
        "some of them even go uphill on it. On average, though, the minibatch "
        "gradient points the right way (it is unbiased), and the path still "
        "reaches the neighbourhood of w₀."
    ),
    formula=(
        "L_D(w) = E(Y − ⟨w, X⟩)² = (w − w₀)ᵀ Σ (w − w₀) + σ²\n"
        "L_B(w) = (1/|B|) Σ_{(x,y)∈B} (y − ⟨w, x⟩)²\n"
        "w_{t+1} = w_t − η ∇L_{B_t}(w_t),   E_B ∇L_B = ∇L_D"
    ),
)
