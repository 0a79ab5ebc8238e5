"""Momentum: an average of past gradients smooths a noisy SGD path.

SGD with the lecture's momentum, on the lecture's linear model (see
:mod:`trainlab.lab.sgd_landscape`), ``v_0 = 0``::

    v_{t+1} = μ v_t − η ∇L_{B_t}(w_t)
    w_{t+1} = w_t + v_{t+1}
            = w_t − η Σ_{i=0..t} μ^i ∇L_{B_{t−i}}(w_{t−i})

Each step is an exponentially weighted sum of past minibatch gradients, so a
sudden change of direction from one noisy minibatch is damped. Same start,
same data and the same minibatch order for every μ. The lecture's settings:
η = 0.1, no momentum against μ = 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from trainlab.lab import paths
from trainlab.lab.common import (
    PALETTE,
    Experiment,
    check_int,
    check_number,
    run_arguments,
)


@dataclass(frozen=True)
class MomentumResult:
    params: dict
    expected: paths.Quadratic
    momentums: tuple[float, ...]
    paths: list[np.ndarray]


def check(*, lr, momentum, batch_size, steps, tol, **linear) -> None:
    """Refuse settings out of range before anything runs."""
    paths.check_linear(**linear)
    check_number("lr", lr, above=0)
    check_number("momentum", momentum, above=0, below=1)
    paths.check_batch_size(batch_size, linear["n"])
    check_int("steps", steps, 1)
    check_number("tol", tol, above=0)


def run(
    n=500,
    w0=(1.0, 2.0),
    cov=(1.0, 0.5, 0.5),
    noise_std=1.0,
    start=(-2.0, -1.0),
    lr=0.1,
    momentum=0.5,
    batch_size=10,
    steps=100,
    tol=0.1,
    seed=0,
) -> MomentumResult:
    """SGD paths without momentum and with momentum μ = ``momentum``."""
    params = run_arguments(locals())
    check(**params)
    momentums = (0.0, momentum)
    problem, found = paths.sgd_paths(
        [{"lr": lr, "batch_size": batch_size, "momentum": mu} for mu in momentums],
        steps,
        seed,
        **paths.linear_settings(params),
    )
    return MomentumResult(
        params=params,
        expected=problem.expected,
        momentums=momentums,
        paths=found,
    )


def _label(momentum: float) -> str:
    return "no momentum" if momentum == 0 else f"μ = {momentum}"


def findings(result: MomentumResult) -> dict:
    tol = result.params["tol"]
    out = {}
    for mu, path in zip(result.momentums, result.paths, strict=True):
        name = _label(mu)
        excess = paths.excess_loss(result.expected, path)
        reached = paths.first_below(excess, tol)
        out[f"{name}: mean turning per step (deg)"] = paths.turning_angle(path) / max(
            len(path) - 2, 1
        )
        out[f"{name}: mean cosine of consecutive steps"] = paths.mean_step_cosine(path)
        out[f"{name}: steps until L_D − σ² ≤ {tol}"] = (
            reached if reached is not None else f"not within {len(path) - 1}"
        )
        out[f"{name}: mean L_D − σ², second half"] = float(
            np.mean(excess[len(excess) // 2 :])
        )
    return out


def plot(result: MomentumResult) -> Figure:
    p = result.params
    return paths.linear_model_figure(
        result.expected,
        [
            (f"η = {p['lr']}, {_label(mu)}", path)
            for mu, path in zip(result.momentums, result.paths, strict=True)
        ],
        f"Momentum smooths the path: SGD, η = {p['lr']}, |B| = "
        f"{p['batch_size']}, {p['steps']} steps, same start and minibatch order",
        p,
        extra=lambda ax: _draw_turning(ax, result),
    )


def _draw_turning(ax, result: MomentumResult) -> None:
    for index, (mu, path) in enumerate(
        zip(result.momentums, result.paths, strict=True)
    ):
        turns = np.cumsum(paths.turning_angles(path))
        ax.plot(
            np.arange(1, len(turns) + 1),
            turns,
            color=PALETTE[index],
            linewidth=1.6,
            label=f"{_label(mu)}: {turns[-1] / len(turns):.0f}° per step",
        )
    ax.set_xlabel("step t (minibatches seen)")
    ax.set_ylabel("total turning of the path so far (degrees)")
    ax.set_title("How abruptly the direction changes", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)


EXPERIMENT = Experiment(
    name="momentum",
    description="SGD at η = 0.1 without momentum vs momentum μ = 0.5",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "Plain SGD has no memory: each step follows only the current minibatch "
        "gradient, so with a large learning rate or a bumpy loss the direction "
        "changes abruptly from one step to the next. Momentum keeps a velocity, "
        "an exponentially weighted sum of past gradients, so successive steps "
        "agree more: the path turns less at every step and heads for the "
        "minimum faster. Momentum does not remove the noise, though: near the "
        "minimum its effective step η/(1 − μ) is twice as long, and the path "
        "keeps wandering there about as much as without it."
    ),
    formula=(
        "v_{t+1} = μ v_t − η ∇L_{B_t}(w_t),   v_0 = 0\n"
        "w_{t+1} = w_t + v_{t+1} = w_t − η Σ_{i=0..t} μ^i ∇L_{B_{t−i}}(w_{t−i})"
    ),
)
