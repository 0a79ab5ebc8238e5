"""Learning-rate schedules: the lecture's three, and one small task under each.

The schedules, with t the time in epochs (fractional inside an epoch):

* multistep: ``η_t = η · γ^#{i : m_i ≤ t}`` with η = 0.1, γ = 1/2 and
  milestones ``m_i = 10 i`` (every ``milestone_every`` epochs);
* cosine annealing from η_max = 0.1 down to η_min = 0.01 over the whole run:
  ``η_t = η_min + (η_max − η_min)(1 + cos(π t / T)) / 2``;
* cosine with warm restarts between the same bounds, the cycle length
  growing by a factor m (``period_mult``, 1.5 by default: a real factor,
  which PyTorch's integer ``T_mult`` cannot express): cycle i lasts
  ``T_i = T m^i`` and starts at ``S_i = T (m^i − 1)/(m − 1)``; with
  T = 6.25 the fourth cycle ends at 50.8, just after the 50 epochs;

and, for reference, the constant η = 0.1. One small task is trained under
each with :func:`trainlab.fit` (which sets ``optimizer.lr = schedule(t)``
before every step), from the same start and with the same minibatch order:
the lecture's linear model ``Y = ⟨w₀, X⟩ + ε`` (``n`` samples, ``dim``
features with variances spread between 0.2 and 2, noise σ = 1) fitted by a
single linear neuron with the squared error, plain SGD (``momentum`` 0) and
minibatches of 10. Its optimum is known (least squares), so the curves show
the excess training loss ``L(θ_t) − min L``: with a constant η the minibatch
noise keeps the iterate in a cloud around the optimum; a decaying η shrinks
the cloud.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab import data as tl_data
from trainlab import functional as F
from trainlab import nn, optim, schedules
from trainlab.lab.common import (
    PALETTE,
    Experiment,
    check_int,
    check_number,
    fixed_margins,
    plain_ticks,
    run_arguments,
)
from trainlab.training import fit


@dataclass
class SchedulesResult:
    epochs: int
    labels: list[str]
    restarts: np.ndarray  # warm-restart times S_i inside the run
    step_t: np.ndarray  # (steps,) time of each training step, in epochs
    step_lr: np.ndarray  # (schedules, steps) η used at each step
    step_loss: np.ndarray  # (schedules, steps) minibatch loss
    excess_loss: np.ndarray  # (schedules, epochs) L(θ) − min L after each epoch
    optimum: float  # min L, the least-squares training loss
    lr: float
    gamma: float
    milestones: list[float]
    lr_min: float
    period: float
    period_mult: float
    momentum: float
    batch_size: int


def _schedules(
    epochs, lr, gamma, milestone_every, lr_min, restart_period, period_mult
) -> tuple[list[str], list, list[float]]:
    milestones = list(range(milestone_every, epochs, milestone_every))
    warm = schedules.CosineWarmRestarts(lr, lr_min, restart_period, period_mult)
    chosen = [
        (f"constant η = {lr:g}", schedules.Constant(lr)),
        (
            f"multistep: γ = {gamma:g} at m_i = {milestone_every} i",
            schedules.MultiStep(lr, milestones, gamma),
        ),
        (
            f"cosine {lr:g} → {lr_min:g} over {epochs} epochs",
            schedules.CosineAnnealing(lr, lr_min, epochs),
        ),
        (
            f"warm restarts: T₀ = {restart_period:g}, cycles × {period_mult:g}",
            warm,
        ),
    ]
    labels = [label for label, _ in chosen]
    return labels, [schedule for _, schedule in chosen], milestones


def _regression_task(n: int, dim: int, seed: int):
    """``Y = ⟨w₀, X⟩ + ε`` and the least-squares loss of a neuron with a bias."""
    rng = np.random.default_rng([seed, 2])
    w0 = rng.standard_normal(dim)
    cov = np.diag(np.linspace(0.2, 2.0, dim))
    X, y = tl_data.linear_gaussian(n, w0=w0, cov=cov, noise_std=1.0, rng=rng)
    design = np.column_stack([X, np.ones(n)])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    optimum = float(np.mean((design @ coefficients - y) ** 2))
    return X, y[:, None], optimum


def check(
    *,
    epochs,
    lr,
    gamma,
    milestone_every,
    lr_min,
    restart_period,
    period_mult,
    momentum,
    batch_size,
    n,
    dim,
) -> None:
    """Refuse settings out of range before anything runs."""
    check_int("epochs", epochs, 1)
    check_number("lr", lr, above=0)
    check_number("gamma", gamma, above=0)
    check_int("milestone_every", milestone_every, 1)
    check_number("lr_min", lr_min, at_least=0, at_most=lr)
    check_number("restart_period", restart_period, above=0)
    check_number("period_mult", period_mult, at_least=1)
    check_number("momentum", momentum, at_least=0, below=1)
    check_int("batch_size", batch_size, 1)
    check_int("n", n, 2)
    check_int("dim", dim, 1)


def run(
    epochs: int = 50,
    lr: float = 0.1,
    gamma: float = 0.5,
    milestone_every: int = 10,
    lr_min: float = 0.01,
    restart_period: float = 6.25,
    period_mult: float = 1.5,
    momentum: float = 0.0,
    batch_size: int = 10,
    n: int = 200,
    dim: int = 10,
    seed: int = 0,
) -> SchedulesResult:
    """Draw the schedules and train the task under each."""
    check(**run_arguments(locals()))
    labels, chosen, milestones = _schedules(
        epochs, lr, gamma, milestone_every, lr_min, restart_period, period_mult
    )
    warm = chosen[-1]

    restarts = []
    while warm.cycle_start(len(restarts)) < epochs:
        restarts.append(warm.cycle_start(len(restarts)))

    X, y, optimum = _regression_task(n, dim, seed)
    start = nn.Linear(dim, 1, rng=np.random.default_rng([seed, 1])).state_dict()
    step_lr, step_loss, excess_loss = [], [], []
    for schedule in chosen:
        model = nn.Linear(dim, 1)
        model.load_state_dict(start)
        optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        history = fit(
            model,
            F.mse_loss,
            optimizer,
            X,
            y,
            epochs=epochs,
            batch_size=batch_size,
            schedule=schedule,
            validation=(X, y),  # the full training loss after every epoch
            seed=seed,
            progress=False,
        )
        step_lr.append(history.step_lr)
        step_loss.append(history.step_loss)
        excess_loss.append(np.array(history["val_loss"]) - optimum)

    return SchedulesResult(
        epochs=epochs,
        labels=labels,
        restarts=np.array(restarts),
        step_t=np.array(history.step_t),
        step_lr=np.array(step_lr),
        step_loss=np.array(step_loss),
        excess_loss=np.array(excess_loss),
        optimum=optimum,
        lr=lr,
        gamma=gamma,
        milestones=[float(m) for m in milestones],
        lr_min=lr_min,
        period=float(restart_period),
        period_mult=float(period_mult),
        momentum=momentum,
        batch_size=batch_size,
    )


def findings(result: SchedulesResult) -> dict:
    """Excess loss at the end under each schedule; the warm restarts' cycles."""
    out: dict = {"least-squares training loss min L": result.optimum}
    tail = max(1, result.epochs // 10)
    for index, label in enumerate(result.labels):
        out[f"{label}: excess loss at the end"] = float(result.excess_loss[index, -1])
        out[f"{label}: mean excess loss, last {tail} epochs"] = float(
            result.excess_loss[index, -tail:].mean()
        )
        out[f"{label}: final η"] = float(result.step_lr[index, -1])
    cycles = np.diff(result.restarts)
    out["warm restarts at t ="] = ", ".join(f"{t:.3g}" for t in result.restarts)
    if len(cycles) > 1:
        out["warm restarts: cycle length ratios"] = ", ".join(
            f"{r:.3g}" for r in cycles[1:] / cycles[:-1]
        )
    return out


def plot(result: SchedulesResult):
    """η_t under each schedule; excess training loss under each, log scale."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 6.2))
    lr_ax, loss_ax = figure.subplots(1, 2)
    fixed_margins(figure, top=0.85, bottom=1.45, wspace=0.2)
    figure.suptitle(
        f"Learning-rate schedules (η = {result.lr:g}, γ = {result.gamma:g}, "
        f"η_min = {result.lr_min:g}, warm-restart cycles × {result.period_mult:g});"
        f" one linear neuron fitted to Y = ⟨w₀, X⟩ + ε under each:\nSGD, "
        f"μ = {result.momentum:g}, |B| = {result.batch_size}, {result.epochs} "
        "epochs, η set before every step at t = epoch + step / steps per epoch"
    )
    epochs = np.arange(1, result.epochs + 1)
    for index, label in enumerate(result.labels):
        colour = PALETTE[index % len(PALETTE)]
        lr_ax.plot(
            result.step_t, result.step_lr[index], color=colour, lw=1.8, label=label
        )
        loss_ax.plot(
            epochs,
            result.excess_loss[index],
            "o-",
            ms=3,
            color=colour,
            lw=1.5,
            label=f"{label}: {result.excess_loss[index, -1]:.2g} at the end",
        )
    for restart in result.restarts[1:]:
        lr_ax.axvline(restart, color=PALETTE[7], lw=0.6, ls=":")
    lr_ax.plot([], [], color=PALETTE[7], lw=0.6, ls=":", label="warm restarts S_i")
    lr_ax.set_xlabel("t (epochs)")
    lr_ax.set_ylabel("learning rate η_t (parameter units per gradient unit)")
    lr_ax.set_title("η_t, as fit set it at every step", fontsize=10)
    loss_ax.set_yscale("log")
    plain_ticks(loss_ax.yaxis)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("excess training loss L(θ) − min L (squared units of Y)")
    loss_ax.set_title("after every epoch (same start, same minibatches)", fontsize=10)
    for ax, columns in ((lr_ax, 2), (loss_ax, 1)):
        ax.grid(True, alpha=0.3)
        # Under the panel: every corner inside is crossed by some schedule.
        ax.legend(
            fontsize=7,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.12),
            ncol=columns,
            frameon=False,
        )
    return figure


EXPERIMENT = Experiment(
    name="schedules",
    description="Multistep, cosine and warm-restart schedules, and training under each",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "A learning rate large enough to make fast progress early keeps the "
        "iterates bouncing around at the end; lowering it over time, in steps at "
        "milestones or smoothly along a cosine, lets training settle to a lower "
        "loss. Warm restarts raise it again at the start of each cycle, the "
        "cycles growing longer by a constant factor."
    ),
    formula=(
        "multistep: η_t = η · γ^#{i : m_i ≤ t};  cosine: η_t = η_min + "
        "(η_max − η_min)(1 + cos(π t/T))/2;  restarts: T_i = T m^i, "
        "S_i = T(m^i − 1)/(m − 1), τ = t − S_i in the cosine over T_i"
    ),
)
