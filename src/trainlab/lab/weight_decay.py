"""Weight decay on the lecture's two-class Gaussian mixture.

Data: ``n`` = 200 training samples of the mixture of
:class:`trainlab.data.GaussianMixtureTask` (ten Gaussian components per
class), whose Bayes classifier and Bayes error are known. Network: one hidden
layer of ``hidden`` = 50 ReLU units (2-50-2, 252 parameters), cross-entropy,
SGD with η = 0.1 and momentum μ = 0.9, trained with :func:`trainlab.fit` on
the full training set at each step (``batch_size = n``) for ``epochs`` steps,
long enough for the network without penalty to start fitting the noise of
its sample.

Each λ of ``lambdas`` minimizes the lecture's regularized loss::

    L_R(θ) = L_B(θ) + λ Σ_k ‖W⁽ᵏ⁾‖²_F      ∂L_R/∂w⁽ᵏ⁾_ij = ∂L_B/∂w⁽ᵏ⁾_ij + 2λ w⁽ᵏ⁾_ij

(biases free), every run from the same initial weights. Measured: the
decision boundary against the Bayes boundary, the test error on
``n_test`` fresh samples against the Bayes error, how often the network and
the Bayes classifier disagree on those samples, and ``Σ_k ‖W⁽ᵏ⁾‖²_F``.

:func:`train_networks` and :func:`plot_boundaries` are shared with the
dropout experiment, which uses the same setup.
"""

from __future__ import annotations

import math
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
    check_numbers,
    fixed_margins,
    plain_ticks,
    run_arguments,
)
from trainlab.tensor import no_grad
from trainlab.training import fit


def weight_norm_sq(model: nn.Module) -> float:
    """``Σ_k ‖W⁽ᵏ⁾‖²_F`` over the parameters weight decay applies to (weights)."""
    return float(
        sum(
            np.sum(p.data.astype(np.float64) ** 2)
            for p in model.parameters()
            if p.decay
        )
    )


@dataclass
class MixtureRuns:
    """Several networks trained on one mixture sample, and how they compare."""

    labels: list[str]
    X: np.ndarray  # (n, 2) training inputs
    y: np.ndarray  # (n,) training labels
    grid_x: np.ndarray  # (G,) first coordinate of the grid
    grid_y: np.ndarray  # (G,) second coordinate of the grid
    bayes_grid: np.ndarray  # (G, G) log p(x|1) − log p(x|0): Bayes boundary at 0
    probability_grid: np.ndarray  # (runs, G, G) the networks' P(y = 1 | x)
    bayes_error: float  # Monte Carlo estimate on the n_test fresh samples
    bayes_error_stderr: float
    train_error: np.ndarray  # (runs,)
    test_error: np.ndarray  # (runs,) on n_test fresh samples
    bayes_disagreement: np.ndarray  # (runs,) fraction of fresh samples
    grid_disagreement: np.ndarray  # (runs,) fraction of the plotted square
    weight_norm_sq: np.ndarray  # (runs,) Σ_k ‖W⁽ᵏ⁾‖²_F
    training: dict  # the settings of check_training, shared by every run

    @property
    def n_test(self) -> int:
        return self.training["n_test"]

    def title(self) -> str:
        """The network and its training, as the figures' titles state them."""
        t = self.training
        return (
            f"2-{t['hidden']}-2 ReLU network, {t['n']} samples, SGD "
            f"η = {t['lr']:g}, μ = {t['momentum']:g}, |B| = {t['batch_size']}, "
            f"{t['epochs']} epochs"
        )


def check_training(*, n, hidden, epochs, batch_size, lr, momentum, n_test, grid):
    """Refuse a bad setting of the training shared with the dropout experiment."""
    check_int("n", n, 2)
    check_int("hidden", hidden, 1)
    check_int("epochs", epochs, 1)
    check_int("batch_size", batch_size, 1)
    check_number("lr", lr, above=0)
    check_number("momentum", momentum, at_least=0, below=1)
    check_int("n_test", n_test, 2)
    check_int("grid", grid, 2)


def train_networks(
    variants: list[tuple[str, nn.Module, float]], seed: int, **training
) -> MixtureRuns:
    """Train each ``(label, model, λ)`` on one mixture sample, and measure them.

    ``training`` holds the settings :func:`check_training` checks (``hidden``
    only describes the models, which the caller builds, all from the same
    weights). Each is trained by ``SGD(lr, momentum, weight_decay=λ)`` with
    :func:`trainlab.fit`, with the same seed, hence the same minibatch order.
    """
    check_training(**training)
    n, n_test, grid = training["n"], training["n_test"], training["grid"]
    task = tl_data.GaussianMixtureTask.default()
    X, y = tl_data.gaussian_mixture(n, rng=np.random.default_rng(seed), task=task)
    X_test, y_test = task.sample(n_test, rng=np.random.default_rng([seed, 1]))
    # The Bayes classifier on the fresh sample, and the Bayes error estimated
    # on it as E[min(P(Y=0 | X), P(Y=1 | X))] (see GaussianMixtureTask).
    posterior = task.bayes_posterior(X_test)
    bayes_test = (posterior > 0.5).astype(np.int64)
    risk = np.minimum(posterior, 1.0 - posterior)
    bayes_error = float(risk.mean())
    bayes_error_stderr = float(risk.std(ddof=1) / math.sqrt(n_test))

    low = X.min(axis=0) - 0.5
    high = X.max(axis=0) + 0.5
    grid_x = np.linspace(low[0], high[0], grid)
    grid_y = np.linspace(low[1], high[1], grid)
    points = np.stack(np.meshgrid(grid_x, grid_y), axis=-1).reshape(-1, 2)
    bayes_grid = task.bayes_decision(points).reshape(grid, grid)

    train_error, test_error, disagreement, norms, probabilities = [], [], [], [], []
    for _, model, weight_decay in variants:
        optimizer = optim.SGD(
            model.parameters(),
            lr=training["lr"],
            momentum=training["momentum"],
            weight_decay=weight_decay,
        )
        fit(
            model,
            F.cross_entropy,
            optimizer,
            X,
            y,
            epochs=training["epochs"],
            batch_size=training["batch_size"],
            seed=seed,
            progress=False,
        )
        model.eval()
        with no_grad():
            train_predicted = model(X.astype(np.float32)).data.argmax(axis=1)
            test_predicted = model(X_test.astype(np.float32)).data.argmax(axis=1)
            logits = model(points.astype(np.float32))
            probability = F.softmax(logits).data[:, 1]
        train_error.append(np.mean(train_predicted != y))
        test_error.append(np.mean(test_predicted != y_test))
        disagreement.append(np.mean(test_predicted != bayes_test))
        norms.append(weight_norm_sq(model))
        probabilities.append(probability.reshape(grid, grid))

    return MixtureRuns(
        labels=[label for label, _, _ in variants],
        X=X,
        y=y,
        grid_x=grid_x,
        grid_y=grid_y,
        bayes_grid=bayes_grid,
        probability_grid=np.array(probabilities),
        bayes_error=bayes_error,
        bayes_error_stderr=bayes_error_stderr,
        train_error=np.array(train_error),
        test_error=np.array(test_error),
        bayes_disagreement=np.array(disagreement),
        grid_disagreement=np.mean(
            (np.array(probabilities) > 0.5) != (bayes_grid > 0), axis=(1, 2)
        ),
        weight_norm_sq=np.array(norms),
        training=dict(training),
    )


def plot_boundaries(axes, runs: MixtureRuns) -> None:
    """One panel per run: its boundary, the Bayes boundary, the sample."""
    for index, ax in enumerate(axes):
        ax.contourf(
            runs.grid_x,
            runs.grid_y,
            runs.probability_grid[index],
            levels=[0.0, 0.5, 1.0],
            colors=[PALETTE[0], PALETTE[1]],
            alpha=0.15,
        )
        ax.contour(
            runs.grid_x,
            runs.grid_y,
            runs.probability_grid[index],
            levels=[0.5],
            colors=[PALETTE[2]],
            linewidths=2,
        )
        ax.contour(
            runs.grid_x,
            runs.grid_y,
            runs.bayes_grid,
            levels=[0.0],
            colors=[PALETTE[7]],
            linestyles="--",
            linewidths=1.2,
        )
        for label, colour in ((0, PALETTE[0]), (1, PALETTE[1])):
            chosen = runs.y == label
            ax.scatter(
                runs.X[chosen, 0],
                runs.X[chosen, 1],
                s=10,
                color=colour,
                edgecolor="white",
                linewidth=0.3,
                label=f"class {label}",
            )
        # Contour sets carry no legend entry: proxies for the two boundaries.
        ax.plot([], [], color=PALETTE[2], lw=2, label="network's boundary")
        ax.plot([], [], color=PALETTE[7], ls="--", lw=1.2, label="Bayes boundary")
        ax.set_title(
            f"{runs.labels[index]}: test error {100 * runs.test_error[index]:.1f}%, "
            f"≠ Bayes {100 * runs.bayes_disagreement[index]:.1f}%",
            fontsize=9,
        )
        ax.set_xlabel("x₁ (unitless)")
        ax.set_ylabel("x₂ (unitless)")
    # One legend for every panel, under them: inside, it would hide samples.
    axes[0].figure.legend(
        *axes[0].get_legend_handles_labels(),
        loc="lower left",
        bbox_to_anchor=(axes[0].get_position().x0, 0.0),
        ncol=4,
        fontsize=8,
        frameon=False,
    )


@dataclass
class WeightDecayResult:
    lambdas: tuple[float, ...]
    runs: MixtureRuns


def check(*, lambdas, **training) -> None:
    """Refuse settings out of range before anything runs."""
    check_numbers("lambdas", lambdas, at_least=0)
    check_training(**training)


def run(
    lambdas: tuple[float, ...] = (0.0, 1e-4, 1e-3, 1e-2),
    n: int = 200,
    hidden: int = 50,
    epochs: int = 1500,
    batch_size: int = 200,
    lr: float = 0.1,
    momentum: float = 0.9,
    n_test: int = 20000,
    grid: int = 120,
    seed: int = 0,
) -> WeightDecayResult:
    """Train one network per λ from the same start; see the module docstring."""
    training = run_arguments(locals())
    del training["lambdas"]
    check(lambdas=lambdas, **training)
    lambdas = tuple(float(v) for v in lambdas)
    start = nn.mlp([2, hidden, 2], rng=np.random.default_rng([seed, 3])).state_dict()
    variants = []
    for weight_decay in lambdas:
        model = nn.mlp([2, hidden, 2])
        model.load_state_dict(start)  # every λ starts from the same weights
        variants.append((f"λ = {weight_decay:g}", model, weight_decay))
    return WeightDecayResult(lambdas, train_networks(variants, seed, **training))


def mixture_findings(runs: MixtureRuns) -> dict:
    out: dict = {"Bayes error": runs.bayes_error}
    for index, label in enumerate(runs.labels):
        out[f"{label}: training error"] = float(runs.train_error[index])
        out[f"{label}: test error"] = float(runs.test_error[index])
        out[f"{label}: disagreement with Bayes"] = float(runs.bayes_disagreement[index])
        out[f"{label}: disagreement with Bayes, plotted square"] = float(
            runs.grid_disagreement[index]
        )
        out[f"{label}: Σ‖W‖²_F"] = float(runs.weight_norm_sq[index])
    return out


def findings(result: WeightDecayResult) -> dict:
    """Errors, disagreement with the Bayes classifier and weight norms per λ."""
    return mixture_findings(result.runs)


def plot(result: WeightDecayResult):
    """2×2 boundaries over the Bayes boundary; errors and norms against λ."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    runs = result.runs
    count = len(result.lambdas)
    columns = 2 if count > 1 else 1
    rows = math.ceil(count / columns)
    figure = Figure(figsize=(4.2 * columns + 4.6, 3.9 * rows + 0.9))
    grid = figure.add_gridspec(rows, columns + 1, width_ratios=[1] * columns + [1.1])
    fixed_margins(figure, left=0.6, top=0.8, bottom=0.95, wspace=0.32, hspace=0.32)
    figure.suptitle(f"Weight decay: {runs.title()}; penalty λ Σ‖W‖²_F")
    boundary_axes = [
        figure.add_subplot(grid[index // columns, index % columns])
        for index in range(count)
    ]
    plot_boundaries(boundary_axes, runs)

    # λ = 0 cannot sit on a log axis: draw it one decade left of the smallest λ.
    positive = [v for v in result.lambdas if v > 0]
    zero_at = min(positive) / 10 if positive else 1e-5
    where = np.array([v if v > 0 else zero_at for v in result.lambdas])
    error_ax = figure.add_subplot(grid[: max(rows // 2, 1), columns])
    error_ax.plot(
        where, 100 * runs.test_error, "o-", color=PALETTE[0], label="test error"
    )
    error_ax.plot(
        where,
        100 * runs.bayes_disagreement,
        "s-",
        color=PALETTE[4],
        label="disagreement with Bayes",
    )
    error_ax.plot(
        where, 100 * runs.train_error, "^:", color=PALETTE[5], label="training error"
    )
    error_ax.axhline(
        100 * runs.bayes_error, color=PALETTE[7], ls="--", lw=1, label="Bayes error"
    )
    error_ax.set_ylabel(f"% of samples ({runs.n_test} fresh, or training)")
    # Room above the curves for the legend, which would hide a curve inside.
    low, high = error_ax.get_ylim()
    error_ax.set_ylim(low, low + 1.45 * (high - low))
    error_ax.legend(fontsize=7, loc="upper center", ncol=2)
    error_ax.set_title("errors against λ", fontsize=9)
    norm_ax = figure.add_subplot(
        grid[max(rows // 2, 1) :, columns] if rows > 1 else grid[0, columns]
    )
    norm_ax.plot(
        where, runs.weight_norm_sq, "o-", color=PALETTE[2], label="Σ_k ‖W⁽ᵏ⁾‖²_F"
    )
    norm_ax.set_yscale("log")
    norm_ax.set_ylabel("Σ‖W‖²_F (unitless)")
    norm_ax.set_title("size of the weights against λ", fontsize=9)
    norm_ax.legend(fontsize=7, loc="upper right")  # the norms fall with λ
    for ax in (error_ax, norm_ax):
        ax.set_xscale("log")
        ax.set_xticks(where)
        ax.set_xticklabels([f"{v:g}" for v in result.lambdas], fontsize=8)
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("weight decay λ (0 drawn at the left)")
        ax.grid(True, alpha=0.3)
    plain_ticks(norm_ax.yaxis)
    return figure


EXPERIMENT = Experiment(
    name="weight-decay",
    description="L2 penalty λ on a 2-50-2 network: boundaries vs the Bayes boundary",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "Penalizing the squared norm of the weights keeps them small, which "
        "smooths the function the network computes: with 200 noisy samples the "
        "unpenalized network bends its boundary around individual points, while "
        "a moderate λ gives a boundary closer to the Bayes boundary and a lower "
        "test error. Too large a λ underfits."
    ),
    formula=(
        "L_R = L_B + λ Σ_k ‖W⁽ᵏ⁾‖²_F;  ∂L_R/∂w_ij = ∂L_B/∂w_ij + 2λ w_ij "
        "(biases not penalized)"
    ),
)
