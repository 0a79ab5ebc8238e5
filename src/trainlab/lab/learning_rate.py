"""The learning rate: too small crawls, larger arrives fast and then jitters.

SGD on the lecture's linear model (see :mod:`trainlab.lab.sgd_landscape`)::

    w_{t+1} = w_t − η ∇L_{B_t}(w_t)

with the same start, the same data and the same minibatch order for every
η compared. The lecture's settings: η = 0.01 and η = 0.1 with |B| = 10.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from trainlab.lab import paths
from trainlab.lab.common import (
    Experiment,
    check_int,
    check_number,
    check_numbers,
    run_arguments,
)


@dataclass(frozen=True)
class LearningRateResult:
    params: dict
    expected: paths.Quadratic
    lrs: tuple[float, ...]
    paths: list[np.ndarray]
    excess_losses: list[np.ndarray]


def check(*, lrs, batch_size, steps, tol, **linear) -> None:
    """Refuse settings out of range before anything runs."""
    paths.check_linear(**linear)
    check_numbers("lrs", lrs, count=(1, 4), above=0)
    paths.check_batch_size(batch_size, linear["n"])
    check_int("steps", steps, 1)
    check_number("tol", tol, above=0)


def run(
    n=500,
    w0=(1.0, 2.0),
    cov=(1.0, 0.5, 0.5),
    noise_std=1.0,
    start=(-2.0, -1.0),
    lrs=(0.01, 0.1),
    batch_size=10,
    steps=100,
    tol=0.1,
    seed=0,
) -> LearningRateResult:
    """SGD paths for each learning rate in ``lrs``, all else shared."""
    params = run_arguments(locals())
    check(**params)
    problem, found = paths.sgd_paths(
        [{"lr": lr, "batch_size": batch_size} for lr in lrs],
        steps,
        seed,
        **paths.linear_settings(params),
    )
    return LearningRateResult(
        params=params,
        expected=problem.expected,
        lrs=tuple(lrs),
        paths=found,
        excess_losses=[paths.excess_loss(problem.expected, path) for path in found],
    )


def findings(result: LearningRateResult) -> dict:
    tol = result.params["tol"]
    out = {}
    for lr, path, excess in zip(
        result.lrs, result.paths, result.excess_losses, strict=True
    ):
        reached = paths.first_below(excess, tol)
        tail = np.linalg.norm(np.diff(path[-21:], axis=0), axis=1)
        out[f"η={lr}: steps until L_D − σ² ≤ {tol}"] = (
            reached if reached is not None else f"not within {len(path) - 1}"
        )
        out[f"η={lr}: final L_D − σ²"] = float(excess[-1])
        out[f"η={lr}: mean step length, last 20 steps"] = float(np.mean(tail))
    return out


def plot(result: LearningRateResult) -> Figure:
    p = result.params
    return paths.linear_model_figure(
        result.expected,
        [
            (f"η = {lr}, |B| = {p['batch_size']}", path)
            for lr, path in zip(result.lrs, result.paths, strict=True)
        ],
        f"Influence of the learning rate: SGD, |B| = {p['batch_size']}, "
        f"{p['steps']} steps, same start and minibatch order",
        p,
    )


EXPERIMENT = Experiment(
    name="learning-rate",
    description="SGD with η = 0.01 vs η = 0.1 at |B| = 10",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "The learning rate sets the length of every step. With η = 0.01 the path "
        "is smooth but crawls: after 100 minibatches it is still far from the "
        "minimum. With η = 0.1 it reaches the minimum's neighbourhood within a "
        "few dozen steps, then keeps jittering there, because every step follows "
        "a noisy minibatch gradient and its length does not shrink."
    ),
    formula=(
        "w_{t+1} = w_t − η ∇L_{B_t}(w_t)\n"
        "L_D(w) − σ² = (w − w₀)ᵀ Σ (w − w₀)   (distance above the minimum)"
    ),
)
