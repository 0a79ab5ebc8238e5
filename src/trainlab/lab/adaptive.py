"""Adaptive learning rates: Adagrad, RMSprop and Adam against plain SGD.

All four minimize the same ill-conditioned quadratic L(θ) = ½ θᵀ H θ with
H = diag(h₁, h₂), h₂ ≫ h₁, from the same start, with full gradients ∇ = Hθ.
Plain gradient descent must keep η < 2/h₂ to stay stable along the steep
axis, and then crawls along the flat one. The adaptive methods divide each
coordinate by the root of its own (accumulated or averaged) squared
gradients, so both axes move at a similar pace (ε outside the root, the
default of :mod:`trainlab.optim`; the lecture writes it inside)::

    Adagrad:  g_{t+1} = g_t + ∇ ⊙ ∇
              θ_{t+1} = θ_t − η ∇ / (√g_{t+1} + ε)
    RMSprop:  g_{t+1} = β g_t + (1 − β) ∇ ⊙ ∇
              θ_{t+1} = θ_t − η ∇ / (√g_{t+1} + ε)
    Adam:     v_{t+1} = β₁ v_t + (1 − β₁) ∇
              g_{t+1} = β₂ g_t + (1 − β₂) ∇ ⊙ ∇
              θ_{t+1} = θ_t − η [v_{t+1} / (1 − β₁ᵗ)] / (√(g_{t+1} / (1 − β₂ᵗ)) + ε)

Each method has its own learning rate (they are not on the same scale).
``rotation`` turns the valley away from the axes: the per-coordinate
rescaling then helps much less, which is worth seeing too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from trainlab import optim
from trainlab.lab import paths
from trainlab.lab.common import (
    Experiment,
    check_int,
    check_number,
    check_numbers,
    run_arguments,
)

METHODS = ("SGD", "Adagrad", "RMSprop", "Adam")


@dataclass(frozen=True)
class AdaptiveResult:
    params: dict
    quadratic: paths.Quadratic
    labels: tuple[str, ...]
    paths: dict[str, np.ndarray]


def check(
    *,
    curvatures,
    rotation,
    start,
    sgd_lr,
    adagrad_lr,
    rmsprop_lr,
    rmsprop_beta,
    adam_lr,
    adam_betas,
    steps,
    tol,
) -> None:
    """Refuse settings out of range before anything runs."""
    paths.valley(curvatures, rotation)
    paths.point(start, "start")
    for name, lr in (
        ("sgd_lr", sgd_lr),
        ("adagrad_lr", adagrad_lr),
        ("rmsprop_lr", rmsprop_lr),
        ("adam_lr", adam_lr),
    ):
        check_number(name, lr, above=0)
    check_number("rmsprop_beta", rmsprop_beta, at_least=0, below=1)
    check_numbers("adam_betas", adam_betas, count=(2, 2), at_least=0, below=1)
    check_int("steps", steps, 1)
    check_number("tol", tol, above=0)


def run(
    curvatures=(0.2, 20.0),
    rotation=0.0,
    start=(-4.0, 1.5),
    sgd_lr=0.09,
    adagrad_lr=0.5,
    rmsprop_lr=0.05,
    rmsprop_beta=0.99,
    adam_lr=0.1,
    adam_betas=(0.9, 0.999),
    steps=150,
    tol=0.1,
    seed=0,
) -> AdaptiveResult:
    """The four optimizers' paths on one quadratic (deterministic: the seed is
    accepted for uniformity and not used)."""
    params = run_arguments(locals())
    check(**params)
    quadratic = paths.valley(curvatures, rotation)
    start = paths.point(start, "start")
    makers = {
        "SGD": lambda params: optim.SGD(params, lr=sgd_lr),
        "Adagrad": lambda params: optim.Adagrad(params, lr=adagrad_lr),
        "RMSprop": lambda params: optim.RMSprop(
            params, lr=rmsprop_lr, beta=rmsprop_beta
        ),
        "Adam": lambda params: optim.Adam(params, lr=adam_lr, betas=adam_betas),
    }
    found = {
        name: paths.full_gradient_path(quadratic, start, make, steps)
        for name, make in makers.items()
    }
    labels = (
        f"SGD, η = {sgd_lr}",
        f"Adagrad, η = {adagrad_lr}",
        f"RMSprop, η = {rmsprop_lr}, β = {rmsprop_beta}",
        f"Adam, η = {adam_lr}, β = {tuple(adam_betas)}",
    )
    return AdaptiveResult(params, quadratic, labels, found)


def findings(result: AdaptiveResult) -> dict:
    tol = result.params["tol"]
    target = result.quadratic.minimum
    out = {}
    for name, path in result.paths.items():
        steps = paths.steps_to_tolerance(path, target, tol)
        out[f"{name}: steps until ‖θ − θ*‖ ≤ {tol}"] = (
            steps if steps is not None else f"not within {len(path) - 1}"
        )
        out[f"{name}: final ‖θ − θ*‖"] = float(np.linalg.norm(path[-1] - target))
        out[f"{name}: final L(θ) − L(θ*)"] = float(
            paths.excess_loss(result.quadratic, path[-1:])[0]
        )
    out["condition number κ of the Hessian"] = result.quadratic.condition_number
    out["SGD's stability limit 2/h_max"] = 2.0 / result.quadratic.largest_curvature
    return out


def plot(result: AdaptiveResult) -> Figure:
    p = result.params
    rotated = f", axes turned {p['rotation']}°" if p["rotation"] else ""
    return paths.compare_figure(
        result.quadratic,
        list(zip(result.labels, result.paths.values(), strict=True)),
        suptitle=(
            f"Adaptive learning rates on L(θ) = ½θᵀHθ, eigenvalues of H "
            f"{tuple(p['curvatures'])} (κ = {result.quadratic.condition_number:.3g})"
            f"{rotated}: {p['steps']} steps from the same start, full gradients, "
            "each method with its own η"
        ),
        names=("θ₁", "θ₂"),
        loss_name="L(θ) − L(θ*)",
        loss_unit="loss units",
        step_name="step t",
        panel_size=3.9,
    )


EXPERIMENT = Experiment(
    name="adaptive",
    description="Adagrad, RMSprop and Adam vs SGD on one ill-conditioned loss",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "One learning rate for all parameters is a compromise: it must be small "
        "enough for the steepest direction, which makes it far too small for the "
        "flat ones. Adagrad divides each coordinate's gradient by the root of its "
        "accumulated squares, so every coordinate moves at a comparable pace; "
        "RMSprop replaces the accumulation by an exponentially weighted average, "
        "so the steps do not shrink for ever; Adam adds momentum on top, with a "
        "bias correction for the zero start of both averages. On a valley "
        "aligned with the axes all three reach the minimum long before plain "
        "gradient descent, whose η is capped by the steep axis."
    ),
    formula=(
        "Adagrad:  g_{t+1} = g_t + ∇ ⊙ ∇,   θ_{t+1} = θ_t − η ∇ / (√g_{t+1} + ε)\n"
        "RMSprop:  g_{t+1} = β g_t + (1 − β) ∇ ⊙ ∇,   θ_{t+1} = θ_t − η ∇ / "
        "(√g_{t+1} + ε)\n"
        "Adam:     v_{t+1} = β₁ v_t + (1 − β₁) ∇,   g_{t+1} = β₂ g_t + (1 − β₂) ∇ ⊙ ∇\n"
        "          ṽ = v_{t+1} / (1 − β₁ᵗ),   g̃ = g_{t+1} / (1 − β₂ᵗ),   "
        "θ_{t+1} = θ_t − η ṽ / (√g̃ + ε)\n"
        "(ε outside the root as in PyTorch; the lecture puts it inside: "
        "trainlab offers both)"
    ),
)
