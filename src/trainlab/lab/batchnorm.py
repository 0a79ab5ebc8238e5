"""Batch normalization: a deep sigmoid network with and without it.

Two networks ``64 → 64 × depth → 10`` with sigmoid hidden units, built by
:func:`trainlab.nn.mlp` from the same seed, are trained on the 8×8 digits
(pixels scaled to [0, 1]) with the same SGD learning rate, momentum,
minibatches and epochs. The second normalizes every hidden pre-activation
with the statistics of its minibatch, then rescales it::

    μ_i = (1/|B|) Σ_B z_i      σ_i² = (1/|B|) Σ_B (z_i − μ_i)²
    ẑ_i = (z_i − μ_i) / √(σ_i² + ε)      x_i = sigmoid(γ_i ẑ_i + β_i)

and keeps running averages of μ and σ² (momentum 0.1) that replace the batch
statistics at test time (``model.eval()``).

Recorded: the training loss per epoch and the held-out accuracy (eval mode);
after every epoch, the 15th, 50th and 85th percentiles of the input of the
last hidden layer's sigmoids on the held-out images (as in Ioffe & Szegedy's
figure); after training, every hidden layer's sigmoid outputs; and, for the
normalized network, its predictions in training mode (statistics of
minibatches of the training batch size, running averages left untouched)
against eval mode (running averages).
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
    run_arguments,
)
from trainlab.tensor import no_grad, tensor
from trainlab.training import Callback, fit

PERCENTILES = (15, 50, 85)


@dataclass
class BatchNormResult:
    depth: int
    width: int
    lr: float
    momentum: float
    batch_size: int
    epochs: int
    labels: tuple[str, str]
    train_loss: np.ndarray  # (2, epochs)
    val_accuracy: np.ndarray  # (2, epochs), eval mode
    probe_percentiles: np.ndarray  # (2, epochs + 1, 3) last sigmoid's input
    layer_percentiles: np.ndarray  # (2, depth, 5): 5/25/50/75/95 of outputs
    train_mode_probability: np.ndarray  # (M, 10) normalized net, batch stats
    eval_mode_probability: np.ndarray  # (M, 10) normalized net, running stats
    y_test: np.ndarray


def _hidden_io(model, X) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Inputs and outputs of every hidden sigmoid, layer by layer."""
    inputs, outputs = [], []
    x = tensor(X)
    with no_grad():
        for module in model:
            if isinstance(module, nn.Sigmoid):
                inputs.append(x.data)
            x = module(x)
            if isinstance(module, nn.Sigmoid):
                outputs.append(x.data)
    return inputs, outputs


class _Probe(Callback):
    """Percentiles of the last hidden sigmoid's input, in eval mode."""

    def __init__(self, X):
        self.X = X
        self.percentiles: list[np.ndarray] = []

    def record(self, model) -> None:
        was_training = model.training
        model.eval()
        inputs, _ = _hidden_io(model, self.X)
        model.train(was_training)
        self.percentiles.append(np.percentile(inputs[-1], PERCENTILES))

    def on_train_begin(self, run) -> None:
        self.record(run.model)

    def on_epoch_end(self, epoch, logs, run) -> None:
        self.record(run.model)


def _train_mode_probability(model, X, batch_size) -> np.ndarray:
    """Predictions with minibatch statistics; the running averages are kept."""
    saved = model.state_dict()
    model.train()
    parts = []
    with no_grad():
        for start in range(0, len(X), batch_size):
            batch = X[start : start + batch_size]
            if len(batch) < 2:  # a batch of one has no variance; use the last two
                batch = X[-2:]
                parts.append(F.softmax(model(batch)).data[-1:])
                continue
            parts.append(F.softmax(model(batch)).data)
    model.load_state_dict(saved)
    model.eval()
    return np.concatenate(parts)


def check(*, depth, width, lr, momentum, batch_size, epochs) -> None:
    """Refuse settings out of range before anything runs."""
    check_int("depth", depth, 1)
    check_int("width", width, 1)
    check_number("lr", lr, above=0)
    check_number("momentum", momentum, at_least=0, below=1)
    check_int("batch_size", batch_size, 2)
    check_int("epochs", epochs, 1)


def run(
    depth: int = 6,
    width: int = 64,
    lr: float = 0.02,
    momentum: float = 0.9,
    batch_size: int = 32,
    epochs: int = 8,
    seed: int = 0,
) -> BatchNormResult:
    """Train without and with batch normalization; see the module docstring."""
    check(**run_arguments(locals()))
    X_train, X_test, y_train, y_test = tl_data.digits(seed=seed, standardize=False)
    # Pixels take the values 0..16: scaled to [0, 1].
    X_train = (X_train / 16).astype(np.float32)
    X_test = (X_test / 16).astype(np.float32)

    losses, accuracies, probes, layers = [], [], [], []
    for batchnorm in (False, True):
        model = nn.mlp(
            [64] + [width] * depth + [10],
            activation="sigmoid",
            batchnorm=batchnorm,
            rng=np.random.default_rng([seed, 1]),
        )
        optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
        probe = _Probe(X_test)
        history = fit(
            model,
            F.cross_entropy,
            optimizer,
            X_train,
            y_train,
            epochs=epochs,
            batch_size=batch_size,
            validation=(X_test, y_test),
            callbacks=[probe],
            seed=seed,
            progress=False,
        )
        model.eval()
        _, outputs = _hidden_io(model, X_test)
        losses.append(history["loss"])
        accuracies.append(history["val_accuracy"])
        probes.append(probe.percentiles)
        layers.append([np.percentile(o, (5, 25, 50, 75, 95)) for o in outputs])

    with no_grad():
        eval_probability = F.softmax(model(X_test)).data
    train_probability = _train_mode_probability(model, X_test, batch_size)

    return BatchNormResult(
        depth=depth,
        width=width,
        lr=lr,
        momentum=momentum,
        batch_size=batch_size,
        epochs=epochs,
        labels=("without batch norm", "with batch norm"),
        train_loss=np.array(losses),
        val_accuracy=np.array(accuracies),
        probe_percentiles=np.array(probes),
        layer_percentiles=np.array(layers),
        train_mode_probability=train_probability,
        eval_mode_probability=eval_probability,
        y_test=y_test,
    )


def findings(result: BatchNormResult) -> dict:
    """Final losses and accuracies, and train- vs eval-mode agreement."""
    out: dict = {}
    for index, label in enumerate(result.labels):
        out[f"{label}: final training loss"] = float(result.train_loss[index, -1])
        out[f"{label}: held-out accuracy"] = float(result.val_accuracy[index, -1])
        spread = result.probe_percentiles[index, -1]
        out[f"{label}: last sigmoid input, 15–85% range"] = (
            f"[{spread[0]:.2f}, {spread[2]:.2f}]"
        )
    train_labels = result.train_mode_probability.argmax(axis=1)
    eval_labels = result.eval_mode_probability.argmax(axis=1)
    out["with batch norm: train-mode vs eval-mode label agreement"] = float(
        np.mean(train_labels == eval_labels)
    )
    out["with batch norm: max |train-mode − eval-mode| probability"] = float(
        np.abs(result.train_mode_probability - result.eval_mode_probability).max()
    )
    out["with batch norm: train-mode accuracy"] = float(
        np.mean(train_labels == result.y_test)
    )
    return out


def plot(result: BatchNormResult):
    """Loss and accuracy, the sigmoid input over time, layers, train vs eval."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 9))
    (loss_ax, probe_ax), (layer_ax, mode_ax) = figure.subplots(2, 2)
    fixed_margins(figure, left=0.8, top=0.95, bottom=0.65, wspace=0.25, hspace=0.38)
    figure.suptitle(
        f"Batch normalization: sigmoid MLP 64-{result.width}×{result.depth}-10 on "
        f"digits, SGD η = {result.lr:g}, μ = {result.momentum:g}, "
        f"|B| = {result.batch_size}, {result.epochs} epochs, the same for both"
    )
    epochs = np.arange(1, result.epochs + 1)
    colours = (PALETTE[0], PALETTE[1])
    accuracy_ax = loss_ax.twinx()
    for index, label in enumerate(result.labels):
        loss_ax.plot(
            epochs,
            result.train_loss[index],
            "o-",
            color=colours[index],
            label=f"{label}: training loss",
        )
        accuracy_ax.plot(
            epochs,
            100 * result.val_accuracy[index],
            "s--",
            color=colours[index],
            alpha=0.7,
            label=f"{label}: held-out accuracy",
        )
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("training loss (cross-entropy, nats)")
    accuracy_ax.set_ylabel("held-out accuracy (%, eval mode)")
    accuracy_ax.set_ylim(0, 100)
    loss_ax.set_title("learning at the same learning rate", fontsize=10)
    handles = loss_ax.get_legend_handles_labels()
    extra = accuracy_ax.get_legend_handles_labels()
    loss_ax.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=7)

    steps = np.arange(result.epochs + 1)
    for index, label in enumerate(result.labels):
        low, middle, high = result.probe_percentiles[index].T
        probe_ax.fill_between(steps, low, high, color=colours[index], alpha=0.25)
        probe_ax.plot(
            steps,
            middle,
            color=colours[index],
            label=f"{label}: median, band = 15–85%",
        )
    probe_ax.set_xlabel("epoch (0 = initialization)")
    probe_ax.set_ylabel("input of the last hidden sigmoids (unitless)")
    probe_ax.set_title(
        "distribution of a layer's pre-activations during training", fontsize=10
    )
    # Room above the bands for the legend, which would hide them inside.
    low, high = probe_ax.get_ylim()
    probe_ax.set_ylim(low, low + 1.3 * (high - low))
    probe_ax.legend(fontsize=7, loc="upper center")

    layers = np.arange(1, result.depth + 1)
    for index, label in enumerate(result.labels):
        offset = -0.15 if index == 0 else 0.15
        p5, p25, p50, p75, p95 = result.layer_percentiles[index].T
        where = layers + offset
        layer_ax.vlines(where, p5, p95, color=colours[index], lw=1)
        layer_ax.vlines(where, p25, p75, color=colours[index], lw=7, label=label)
        layer_ax.plot(where, p50, "_", color="white", ms=9, mew=2)
    layer_ax.set_xticks(layers)
    layer_ax.set_xlabel("hidden layer k (bar: 25–75%, line: 5–95%, tick: median)")
    layer_ax.set_ylabel("sigmoid output after training (unitless)")
    layer_ax.set_ylim(-0.02, 1.12)  # room above the outputs for the legend
    layer_ax.legend(fontsize=7, loc="upper center", ncol=2)
    layer_ax.set_title(
        "activations of every hidden layer (held-out images)", fontsize=10
    )

    train_probability = result.train_mode_probability
    eval_probability = result.eval_mode_probability
    rows = np.arange(len(result.y_test))
    mode_ax.scatter(
        eval_probability[rows, result.y_test],
        train_probability[rows, result.y_test],
        s=6,
        alpha=0.5,
        color=PALETTE[1],
        label="held-out image (probability of its true class)",
    )
    mode_ax.plot([0, 1], [0, 1], color=PALETTE[7], lw=1, ls="--", label="equal")
    agreement = np.mean(train_probability.argmax(1) == eval_probability.argmax(1))
    mode_ax.set_title(
        f"with batch norm: training mode (batch statistics, |B| = {result.batch_size})"
        f" vs eval mode\n(running averages): {100 * agreement:.1f}% same label",
        fontsize=10,
    )
    mode_ax.set_xlabel("eval-mode probability (running averages)")
    mode_ax.set_ylabel("training-mode probability (batch statistics)")
    mode_ax.legend(fontsize=7)
    for ax in (loss_ax, probe_ax, layer_ax, mode_ax):
        ax.grid(True, alpha=0.3)
    return figure


EXPERIMENT = Experiment(
    name="batchnorm",
    description="Deep sigmoid MLP with and without batch normalization, same η",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "Normalizing each pre-activation with the mean and variance of its "
        "minibatch, then letting the network learn a scale γ and a shift β, "
        "keeps the inputs of every layer in a useful range whatever the layers "
        "below do, so a deep network trains at a learning rate where the plain "
        "one barely moves. At test time running averages of the statistics "
        "replace the batch's, and the predictions match those of training mode."
    ),
    formula=(
        "μ_i = (1/|B|) Σ_B z_i;  σ_i² = (1/|B|) Σ_B (z_i − μ_i)²;  "
        "ẑ_i = (z_i − μ_i)/√(σ_i² + ε);  x_i = σ(γ_i ẑ_i + β_i);  "
        "test: μ, σ² ← running averages"
    ),
)
