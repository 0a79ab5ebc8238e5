"""Beyond the lecture: a learning-rate range test on the digits.

One network (64-64-10 ReLU, cross-entropy, SGD with momentum) is trained
with :func:`trainlab.fit` while its learning rate grows exponentially at
every step, from ``lr_start`` to ``lr_end`` over ``epochs`` epochs::

    η(t) = η_start · (η_end / η_start)^(t / epochs)        t in epochs

and the minibatch loss is recorded against η. The loss first barely moves
(η too small), then falls fast, then becomes noisy and blows up (η too
large). The curve is smoothed by a bias-corrected exponential moving
average (``smoothing`` β)::

    s_i = β s_{i−1} + (1 − β) ℓ_i        ŝ_i = s_i / (1 − β^i)

and the run stops counting once ŝ exceeds 4 × its minimum (the loss has
diverged; a non-finite loss ends the run too). Two common suggestions are
read off the curve; both are heuristics, not laws:

* steepest descent: the η where ŝ falls fastest per decade of η,
  ``argmin dŝ / d log η`` before the minimum of ŝ (the first tenth of the
  steps, where the average is still settling, is skipped);
* a tenth of the η at the minimum of ŝ.

To see whether the suggestion is sensible, three short trainings at a
constant η (the steepest-descent suggestion, ten times less and ten times
more) follow, each from the same start; their held-out accuracy is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab import data as tl_data
from trainlab import functional as F
from trainlab import nn, optim
from trainlab.lab.common import (
    PALETTE,
    Experiment,
    check_int,
    check_number,
    fixed_margins,
    plain_ticks,
    run_arguments,
)
from trainlab.training import DivergenceError, fit

DIVERGED = 4.0
"""The range test stops once the smoothed loss exceeds 4 × its minimum."""


@dataclass
class LrRangeResult:
    lr_start: float
    lr_end: float
    epochs: int
    batch_size: int
    momentum: float
    smoothing: float
    step_lr: np.ndarray  # (steps,) η at each step, up to the stop
    step_loss: np.ndarray  # (steps,) raw minibatch loss
    smoothed_loss: np.ndarray  # (steps,) ŝ
    stopped_early: bool
    steepest_lr: float
    min_loss_lr: float
    check_lrs: np.ndarray  # (3,) η of the short trainings
    check_epochs: int
    check_val_accuracy: np.ndarray  # (3, check_epochs)
    check_loss: np.ndarray  # (3, check_epochs), NaN after a divergence


def smooth(losses: np.ndarray, beta: float) -> np.ndarray:
    """Bias-corrected exponential moving average ``ŝ_i = s_i / (1 − β^i)``."""
    smoothed = np.empty(len(losses))
    average = 0.0
    for index, loss in enumerate(losses, start=1):
        average = beta * average + (1 - beta) * loss
        smoothed[index - 1] = average / (1 - beta**index)
    return smoothed


def suggestions(lrs: np.ndarray, smoothed: np.ndarray) -> tuple[float, float]:
    """(η of steepest descent of ŝ per log η before its minimum, η_min / 10).

    The first tenth of the steps is skipped when looking for the steepest
    descent: there the average holds only a few noisy losses.
    """
    lowest = int(np.argmin(smoothed))
    skip = len(smoothed) // 10
    if lowest - skip < 3:
        return float(lrs[lowest]), float(lrs[lowest] / 10)
    window = slice(skip, lowest + 1)
    slope = np.gradient(smoothed[window], np.log(lrs[window]))
    return float(lrs[skip + int(np.argmin(slope))]), float(lrs[lowest] / 10)


def _network(seed: int) -> nn.Sequential:
    return nn.mlp([64, 64, 10], rng=np.random.default_rng([seed, 1]))


def _fit_until_divergence(model, optimizer, X, y, **options):
    """:func:`trainlab.fit` with cross-entropy; the history up to a divergence.

    Too large a learning rate is expected here: NumPy's overflow warnings are
    silenced, and a non-finite loss ends the training, not the experiment.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            return fit(model, F.cross_entropy, optimizer, X, y, **options)
        except DivergenceError as error:
            return error.history


def check(
    *, lr_start, lr_end, epochs, batch_size, momentum, smoothing, check_epochs
) -> None:
    """Refuse settings out of range before anything runs."""
    check_number("lr_start", lr_start, above=0)
    check_number("lr_end", lr_end, above=0)
    if not lr_start < lr_end:
        raise ValueError(
            "lr_start and lr_end must satisfy 0 < lr_start < lr_end, received "
            f"lr_start={lr_start!r}, lr_end={lr_end!r}"
        )
    check_int("epochs", epochs, 1)
    check_int("batch_size", batch_size, 1)
    check_number("momentum", momentum, at_least=0, below=1)
    check_number("smoothing", smoothing, at_least=0, below=1)
    check_int("check_epochs", check_epochs, 1)


def run(
    lr_start: float = 1e-4,
    lr_end: float = 10.0,
    epochs: int = 4,
    batch_size: int = 32,
    momentum: float = 0.9,
    smoothing: float = 0.9,
    check_epochs: int = 4,
    seed: int = 0,
) -> LrRangeResult:
    """Run the range test, then train briefly at three constant rates."""
    check(**run_arguments(locals()))
    X_train, X_test, y_train, y_test = tl_data.digits(seed=seed)

    def exponential(t: float) -> float:
        return lr_start * (lr_end / lr_start) ** (t / epochs)

    start = _network(seed).state_dict()
    model = _network(seed)
    optimizer = optim.SGD(model.parameters(), lr=lr_start, momentum=momentum)
    # A range test is meant to drive the loss to divergence.
    history = _fit_until_divergence(
        model,
        optimizer,
        X_train,
        y_train,
        epochs=epochs,
        batch_size=batch_size,
        schedule=exponential,
        seed=seed,
        progress=False,
    )
    lrs = np.array(history.step_lr)
    losses = np.array(history.step_loss)
    finite = np.isfinite(losses)
    if not finite.all():
        lrs, losses = lrs[: np.argmin(finite)], losses[: np.argmin(finite)]
    smoothed = smooth(losses, smoothing)
    above = np.flatnonzero(smoothed > DIVERGED * np.minimum.accumulate(smoothed))
    stopped_early = bool(above.size) or len(lrs) < len(history.step_lr)
    if above.size:
        lrs, losses, smoothed = (
            lrs[: above[0]],
            losses[: above[0]],
            smoothed[: above[0]],
        )
    steepest, tenth_of_minimum = suggestions(lrs, smoothed)

    check_lrs = np.array([steepest / 10, steepest, steepest * 10])
    accuracies = np.full((3, check_epochs), np.nan)
    check_losses = np.full((3, check_epochs), np.nan)
    for row, lr in enumerate(check_lrs):
        model = _network(seed)
        model.load_state_dict(start)
        optimizer = optim.SGD(model.parameters(), lr=float(lr), momentum=momentum)
        history = _fit_until_divergence(
            model,
            optimizer,
            X_train,
            y_train,
            epochs=check_epochs,
            batch_size=batch_size,
            validation=(X_test, y_test),
            seed=seed,
            progress=False,
        )
        done = len(history.epochs)
        if done:
            accuracies[row, :done] = history["val_accuracy"]
            check_losses[row, :done] = history["loss"]

    return LrRangeResult(
        lr_start=lr_start,
        lr_end=lr_end,
        epochs=epochs,
        batch_size=batch_size,
        momentum=momentum,
        smoothing=smoothing,
        step_lr=lrs,
        step_loss=losses,
        smoothed_loss=smoothed,
        stopped_early=stopped_early,
        steepest_lr=steepest,
        min_loss_lr=tenth_of_minimum * 10,
        check_lrs=check_lrs,
        check_epochs=check_epochs,
        check_val_accuracy=accuracies,
        check_loss=check_losses,
    )


def findings(result: LrRangeResult) -> dict:
    """The two suggestions and how training at and around them went."""
    out: dict = {
        "suggested η, steepest descent (heuristic)": result.steepest_lr,
        "suggested η, minimum / 10 (heuristic)": result.min_loss_lr / 10,
        "η at the minimum of the smoothed loss": result.min_loss_lr,
        "smoothed loss at its minimum": float(result.smoothed_loss.min()),
        "stopped before η_end (loss > 4 × minimum)": str(result.stopped_early),
    }
    for lr, accuracy in zip(result.check_lrs, result.check_val_accuracy, strict=True):
        final = accuracy[~np.isnan(accuracy)]
        out[f"η = {lr:.3g}: held-out accuracy after {result.check_epochs} epochs"] = (
            float(final[-1]) if final.size == result.check_epochs else "diverged"
        )
    return out


def plot(result: LrRangeResult):
    """Loss against η (log scale) with both suggestions; the check trainings."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 5.2))
    range_ax, check_ax = figure.subplots(1, 2)
    fixed_margins(figure, top=0.85, wspace=0.22)
    figure.suptitle(
        f"Learning-rate range test (beyond the lecture): MLP 64-64-10 on digits, SGD "
        f"μ = {result.momentum:g}, |B| = {result.batch_size}, η growing "
        f"exponentially from {result.lr_start:g} to {result.lr_end:g} over "
        f"{result.epochs} epochs\nthe suggestions are HEURISTICS: starting points "
        "for a search, not optimal values"
    )
    range_ax.semilogx(
        result.step_lr,
        result.step_loss,
        color=PALETTE[5],
        lw=0.8,
        label="minibatch loss",
    )
    range_ax.semilogx(
        result.step_lr,
        result.smoothed_loss,
        color=PALETTE[0],
        lw=2,
        label=f"smoothed (EMA, β = {result.smoothing:g}, bias-corrected)",
    )
    range_ax.axvline(
        result.steepest_lr,
        color=PALETTE[2],
        ls="--",
        label=f"heuristic: steepest descent, η ≈ {result.steepest_lr:.3g}",
    )
    range_ax.axvline(
        result.min_loss_lr / 10,
        color=PALETTE[4],
        ls=":",
        label=f"heuristic: minimum / 10, η ≈ {result.min_loss_lr / 10:.3g}",
    )
    range_ax.set_xlabel("learning rate η (log scale)")
    range_ax.set_ylabel("training loss (cross-entropy, nats)")
    range_ax.set_title(
        "loss while η grows (stopped at 4 × the smoothed minimum)", fontsize=10
    )
    top = float(np.nanmax(result.smoothed_loss))
    range_ax.set_ylim(0, 1.3 * top)

    epochs = np.arange(1, result.check_epochs + 1)
    for row, lr in enumerate(result.check_lrs):
        label = ("η/10", "suggested η", "10 η")[row]
        check_ax.plot(
            epochs,
            100 * result.check_val_accuracy[row],
            "o-",
            color=PALETTE[(1, 2, 4)[row]],
            label=f"{label} = {lr:.3g}",
        )
    check_ax.set_xlabel("epoch")
    check_ax.set_ylabel("held-out accuracy (%)")
    check_ax.set_ylim(0, 100)
    check_ax.set_xticks(epochs)
    check_ax.set_title(
        "check: short trainings at a constant η from the same start", fontsize=10
    )
    for ax in (range_ax, check_ax):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    plain_ticks(range_ax.xaxis)
    return figure


EXPERIMENT = Experiment(
    name="lr-range",
    description="Learning-rate range test on the digits, suggestion as a heuristic",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "Beyond the lecture: one short run with an exponentially growing learning "
        "rate shows the range where the loss falls; a rate near the steepest "
        "descent, or a tenth of the rate at the lowest loss, is a sensible "
        "starting point, found at the cost of a few epochs. It is a rule of "
        "thumb, not an optimum."
    ),
    formula=(
        "η(t) = η_start (η_end/η_start)^(t/T);  ŝ_i = s_i/(1 − β^i), "
        "s_i = β s_{i−1} + (1 − β) ℓ_i;  suggestion: argmin_η dŝ/d log η"
    ),
    beyond_lecture=True,
)
