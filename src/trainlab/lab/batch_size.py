"""The minibatch size: one sample gives an erratic path, a hundred a smooth one.

SGD on the lecture's linear model (see :mod:`trainlab.lab.sgd_landscape`)::

    L_B(w) = (1/|B|) Σ_{(x, y) ∈ B} (y − ⟨w, x⟩)²
    w_{t+1} = w_t − η ∇L_{B_t}(w_t)

∇L_B is an unbiased estimate of the full gradient whose variance falls like
1/|B|, so a larger batch follows full-batch gradient descent more closely,
at |B| times the cost per step. Same start, same data and the same sample
order for every |B|. The lecture's settings: η = 0.1 with |B| = 1 and 100.
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
    run_arguments,
)


@dataclass(frozen=True)
class BatchSizeResult:
    params: dict
    expected: paths.Quadratic
    batch_sizes: tuple[int, ...]
    paths: list[np.ndarray]
    gradient_descent: np.ndarray


def check(*, lr, batch_sizes, steps, **linear) -> None:
    """Refuse settings out of range before anything runs."""
    paths.check_linear(**linear)
    check_number("lr", lr, above=0)
    if not 1 <= len(batch_sizes) <= 4:
        raise ValueError(
            f"batch_sizes must hold 1 to 4 sizes, received {tuple(batch_sizes)}"
        )
    for size in batch_sizes:
        paths.check_batch_size(size, linear["n"])
    check_int("steps", steps, 1)


def run(
    n=500,
    w0=(1.0, 2.0),
    cov=(1.0, 0.5, 0.5),
    noise_std=1.0,
    start=(-2.0, -1.0),
    lr=0.1,
    batch_sizes=(1, 100),
    steps=100,
    seed=0,
) -> BatchSizeResult:
    """SGD paths for each batch size, and full-batch gradient descent."""
    params = run_arguments(locals())
    check(**params)
    settings = [{"lr": lr, "batch_size": size} for size in batch_sizes]
    settings.append({"lr": lr, "batch_size": n})
    problem, found = paths.sgd_paths(
        settings, steps, seed, **paths.linear_settings(params)
    )
    return BatchSizeResult(
        params=params,
        expected=problem.expected,
        batch_sizes=tuple(batch_sizes),
        paths=found[:-1],
        gradient_descent=found[-1],
    )


def findings(result: BatchSizeResult) -> dict:
    out = {}
    half = len(result.gradient_descent) // 2
    for size, path in zip(result.batch_sizes, result.paths, strict=True):
        deviation = np.linalg.norm(path - result.gradient_descent, axis=1)
        excess = paths.excess_loss(result.expected, path)
        out[f"|B|={size}: RMS distance from the gradient-descent path"] = float(
            np.sqrt(np.mean(deviation**2))
        )
        out[f"|B|={size}: mean L_D − σ², second half"] = float(np.mean(excess[half:]))
        out[f"|B|={size}: samples used"] = size * (len(path) - 1)
    gd_excess = paths.excess_loss(result.expected, result.gradient_descent)
    out["full-batch GD: mean L_D − σ², second half"] = float(np.mean(gd_excess[half:]))
    return out


def plot(result: BatchSizeResult) -> Figure:
    p = result.params
    return paths.linear_model_figure(
        result.expected,
        [
            (f"η = {p['lr']}, |B| = {size}", path)
            for size, path in zip(result.batch_sizes, result.paths, strict=True)
        ],
        f"Influence of the minibatch size: SGD, η = {p['lr']}, {p['steps']} "
        "steps each, same start and sample order",
        p,
        reference=(f"full-batch GD (|B| = {p['n']})", result.gradient_descent),
    )


EXPERIMENT = Experiment(
    name="batch-size",
    description="SGD with |B| = 1 vs |B| = 100 at η = 0.1",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "The minibatch gradient is an unbiased but noisy estimate of the true "
        "gradient, and averaging more samples lowers its variance. With a single "
        "sample per step the path wanders erratically and keeps bouncing around "
        "the minimum; with 100 samples it nearly follows full-batch gradient "
        "descent and settles much closer to the minimum. The batch size trades "
        "the quality of the gradient against the cost of each step."
    ),
    formula=(
        "L_B(w) = (1/|B|) Σ_{(x,y)∈B} (y − ⟨w, x⟩)²\n"
        "w_{t+1} = w_t − η ∇L_{B_t}(w_t)\n"
        "E_B ∇L_B = ∇L,   Var ∇L_B ∝ 1/|B|"
    ),
)
