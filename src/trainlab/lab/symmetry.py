"""Symmetry: why the weights must start random, not zero and not constant.

One tanh network with a hidden layer of ``hidden`` units,
``F(x) = tanh(x W⁽¹⁾ + b⁽¹⁾) W⁽²⁾ + b⁽²⁾``, is trained on the two-moons data
(cross-entropy, SGD with momentum, :func:`trainlab.fit`) from three starts,
biases at 0 in all three:

* zeros, ``W⁽¹⁾ = W⁽²⁾ = 0``: the hidden outputs are ``tanh(0) = 0``, so
  ``∂L/∂W⁽²⁾ = hᵀ g = 0``, and ``∂L/∂W⁽¹⁾ = xᵀ (g W⁽²⁾ᵀ ⊙ tanh′) = 0``;
  the weights never move and only the output bias can learn (the class
  frequencies): the training loss cannot go below that of a constant guess;
* constant, every weight ``= value``: all hidden units compute the same
  function and receive the same gradient, so they stay identical; the
  network behaves like one hidden unit however wide it is;
* random (Xavier normal): the units start different and specialize.

The spread of the hidden units is measured on their incoming weight vectors
``w_j = W⁽¹⁾[:, j]`` (with the bias ``b_j`` appended), after every epoch::

    spread = max_j ‖w_j − w̄‖ / max(‖w̄‖, 1)          w̄ = mean_j w_j

which is 0 exactly when every unit is the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from trainlab import data as tl_data
from trainlab import functional as F
from trainlab import init as tl_init
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
from trainlab.tensor import no_grad
from trainlab.training import Callback, fit

STARTS = ("zeros", "constant", "random")


@dataclass
class SymmetryResult:
    """Per start: loss curves, spread per epoch, final hidden weights."""

    hidden: int
    value: float
    epochs: int
    lr: float
    momentum: float
    batch_size: int
    starts: tuple[str, ...]
    train_loss: np.ndarray  # (starts, epochs + 1): full training-set loss
    train_accuracy: np.ndarray  # (starts,) after training
    spread: np.ndarray  # (starts, epochs + 1)
    hidden_weights: np.ndarray  # (starts, hidden, 3): w_1j, w_2j, b_j at the end
    max_abs_weight: np.ndarray  # (starts,) max |W| over both weight matrices


def _hidden_units(model) -> np.ndarray:
    """Incoming weights and bias of each hidden unit, one row per unit."""
    first = model[0]
    return np.column_stack([first.weight.data.T, first.bias.data]).astype(np.float64)


def _spread(units: np.ndarray) -> float:
    mean = units.mean(axis=0)
    scale = max(float(np.linalg.norm(mean)), 1.0)
    return float(np.linalg.norm(units - mean, axis=1).max() / scale)


def _full_loss(model, X, y) -> float:
    with no_grad():
        return float(F.cross_entropy(model(X), y).data)


class _Recorder(Callback):
    """Training loss and hidden units' spread after every epoch."""

    def __init__(self, X, y):
        self.X, self.y = X, y
        self.loss: list[float] = []
        self.spread: list[float] = []

    def record(self, model) -> None:
        self.loss.append(_full_loss(model, self.X, self.y))
        self.spread.append(_spread(_hidden_units(model)))

    def on_train_begin(self, run) -> None:
        self.record(run.model)

    def on_epoch_end(self, epoch, logs, run) -> None:
        self.record(run.model)


def _model(start: str, hidden: int, value: float, rng) -> nn.Sequential:
    model = nn.mlp([2, hidden, 2], activation="tanh", rng=rng)
    for layer in (model[0], model[2]):
        if start == "zeros":
            tl_init.zeros_(layer.weight)
        elif start == "constant":
            tl_init.constant_(layer.weight, value)
    return model


def check(*, hidden, value, n, epochs, batch_size, lr, momentum) -> None:
    """Refuse settings out of range before anything runs."""
    check_int("hidden", hidden, 2)
    if check_number("value", value) == 0:
        raise ValueError(
            f"value (the constant start) must be a non-zero number, received {value!r}"
        )
    check_int("n", n, 2)
    check_int("epochs", epochs, 1)
    check_int("batch_size", batch_size, 1)
    check_number("lr", lr, above=0)
    check_number("momentum", momentum, at_least=0, below=1)


def run(
    hidden: int = 16,
    value: float = 0.5,
    n: int = 200,
    epochs: int = 30,
    batch_size: int = 20,
    lr: float = 0.1,
    momentum: float = 0.9,
    seed: int = 0,
) -> SymmetryResult:
    """Train from the three starts; see the module docstring."""
    check(**run_arguments(locals()))
    rng = np.random.default_rng(seed)
    X, y = tl_data.two_moons(n, noise=0.1, rng=rng)
    X = X.astype(np.float32)

    losses, accuracies, spreads, units, largest = [], [], [], [], []
    for start in STARTS:
        model = _model(start, hidden, value, rng)
        optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        recorder = _Recorder(X, y)
        fit(
            model,
            F.cross_entropy,
            optimizer,
            X,
            y,
            epochs=epochs,
            batch_size=batch_size,
            callbacks=[recorder],
            seed=seed,
            progress=False,
        )
        with no_grad():
            predicted = model(X).data.argmax(axis=1)
        losses.append(recorder.loss)
        spreads.append(recorder.spread)
        accuracies.append(float(np.mean(predicted == y)))
        units.append(_hidden_units(model))
        largest.append(max(float(np.abs(model[i].weight.data).max()) for i in (0, 2)))

    return SymmetryResult(
        hidden=hidden,
        value=float(value),
        epochs=epochs,
        lr=lr,
        momentum=momentum,
        batch_size=batch_size,
        starts=STARTS,
        train_loss=np.array(losses),
        train_accuracy=np.array(accuracies),
        spread=np.array(spreads),
        hidden_weights=np.array(units),
        max_abs_weight=np.array(largest),
    )


def findings(result: SymmetryResult) -> dict:
    """Whether each start moved, learned, and diversified its hidden units."""
    out: dict = {}
    for index, start in enumerate(result.starts):
        out[f"{start}: training loss, start → end"] = (
            f"{result.train_loss[index, 0]:.4f} → {result.train_loss[index, -1]:.4f}"
        )
        out[f"{start}: training accuracy"] = float(result.train_accuracy[index])
        out[f"{start}: hidden units' spread after training"] = float(
            result.spread[index, -1]
        )
    zeros = result.starts.index("zeros")
    out["zeros: max |weight| after training"] = float(result.max_abs_weight[zeros])
    out["zeros: lowest training loss − ln 2"] = float(
        result.train_loss[zeros].min() - math.log(2)
    )
    return out


def plot(result: SymmetryResult):
    """Loss curves, spread over epochs, hidden units' weights after training."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(15, 4.8))
    loss_ax, spread_ax, unit_ax = figure.subplots(1, 3)
    fixed_margins(figure, left=0.75, right=0.15, top=0.95, wspace=0.28)
    figure.suptitle(
        f"Symmetry breaking: tanh MLP 2-{result.hidden}-2 on two moons, SGD "
        f"η = {result.lr:g}, μ = {result.momentum:g}, |B| = {result.batch_size}, "
        f"{result.epochs} epochs; biases start at 0"
    )
    labels = {
        "zeros": "zeros: W = 0",
        "constant": f"constant: W = {result.value:g}",
        "random": "random: Xavier normal",
    }
    epochs = np.arange(result.epochs + 1)
    markers = {"zeros": "o", "constant": "s", "random": "^"}
    # zeros and constant overlap where both are exactly 0: dashes keep both seen
    styles = {"zeros": dict(ls="--", lw=2.5), "constant": dict(lw=1.5), "random": {}}
    for index, start in enumerate(result.starts):
        colour = PALETTE[index]
        loss_ax.plot(
            epochs,
            result.train_loss[index],
            color=colour,
            label=labels[start],
            **styles[start],
        )
        # Exact zeros cannot be drawn on a log scale; floor them at 1e-18.
        spread_ax.semilogy(
            epochs,
            np.maximum(result.spread[index], 1e-18),
            color=colour,
            label=labels[start],
            **styles[start],
        )
        units = result.hidden_weights[index]
        unit_ax.scatter(
            units[:, 0],
            units[:, 1],
            s=40 if start == "random" else 90,
            marker=markers[start],
            facecolor="none" if start != "random" else colour,
            edgecolor=colour,
            label=f"{labels[start]} ({result.hidden} units)",
        )
    loss_ax.axhline(
        math.log(2), color=PALETTE[7], ls=":", lw=1, label="ln 2 (a coin toss)"
    )
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss (cross-entropy, nats)")
    loss_ax.set_title("zeros never learns; constant learns like one unit", fontsize=10)
    plain_ticks(spread_ax.yaxis, "{:.0e}".format)
    spread_ax.set_xlabel("epoch")
    spread_ax.set_ylabel("spread of hidden units (unitless; 1e-18 = exactly 0)")
    spread_ax.set_title("max_j ‖w_j − w̄‖ / max(‖w̄‖, 1)", fontsize=10)
    unit_ax.set_xlabel("weight from input x₁, w_1j (unitless)")
    unit_ax.set_ylabel("weight from input x₂, w_2j (unitless)")
    unit_ax.set_title("each hidden unit's incoming weights after training", fontsize=10)
    for ax in (loss_ax, spread_ax, unit_ax):
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    return figure


EXPERIMENT = Experiment(
    name="symmetry",
    description="Zero and constant initializations vs random: symmetry breaking",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "Weights set to zero receive zero gradients and never move, so the "
        "network learns nothing. Weights set to one constant let it learn, but "
        "every hidden unit gets the same gradient and stays a copy of the "
        "others. Only a random start makes the units differ; biases may start "
        "at zero."
    ),
    formula=(
        "∂L/∂W⁽²⁾ = hᵀ g = 0 when h = tanh(0) = 0;  "
        "∂L/∂W⁽¹⁾ = xᵀ (g W⁽²⁾ᵀ ⊙ tanh′(z)) = 0 when W⁽²⁾ = 0;  "
        "equal columns of W⁽¹⁾ and rows of W⁽²⁾ get equal gradients"
    ),
)
