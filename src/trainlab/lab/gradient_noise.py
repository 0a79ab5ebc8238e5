"""Beyond the lecture: how noisy is a minibatch gradient, and is it unbiased?

At one fixed parameter vector θ (a freshly initialized tanh network on ``n``
samples of the two-class Gaussian mixture, cross-entropy loss), every
per-sample gradient ``∇ℓ_i`` and the full-batch gradient
``∇L = (1/N) Σ_i ∇ℓ_i`` are computed, giving the per-sample variance (the
trace of the covariance, summed over all parameters)::

    σ² = (1/N) Σ_i ‖∇ℓ_i − ∇L‖²

Then, for each batch size ``|B|``, ``draws`` minibatches are drawn the
lecture's way (disjoint minibatches of a random permutation, i.e. sampled
without replacement) with :func:`trainlab.data.minibatches`, and their
gradients ``∇L_B`` measured. For sampling without replacement the exact law
is::

    E ‖∇L_B − ∇L‖² = σ²/|B| · (N − |B|)/(N − 1)

which is the familiar ``σ²/|B|`` while ``|B| ≪ N`` and falls to 0 at
``|B| = N``. Unbiasedness, ``E_B ∇L_B = ∇L``, is checked by comparing the
mean of the drawn gradients with ``∇L``: their squared distance should be
about ``E‖∇L_B − ∇L‖² / draws``, the variance of a mean of ``draws`` draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab import data as tl_data
from trainlab import functional as F
from trainlab import nn
from trainlab.lab.common import (
    PALETTE,
    Experiment,
    check_int,
    fixed_margins,
    plain_ticks,
    run_arguments,
)


@dataclass
class GradientNoiseResult:
    """Measured and predicted minibatch-gradient variance per batch size."""

    n: int
    hidden: int
    draws: int
    batch_sizes: np.ndarray  # (S,)
    variance: np.ndarray  # (S,) measured mean of ‖∇L_B − ∇L‖²
    per_sample_variance: float  # σ²
    exact_law: np.ndarray  # (S,) σ²/B · (N − B)/(N − 1)
    inverse_law: np.ndarray  # (S,) σ²/B
    bias_sq: np.ndarray  # (S,) ‖mean_r ∇L_B − ∇L‖²
    full_gradient_norm: float
    full_gradient_2d: np.ndarray  # (2,) ∇L on the two principal directions
    samples_2d: list[np.ndarray]  # per batch size, (draws, 2) likewise


def _gradient(model, parameters, X, y) -> np.ndarray:
    """``∇_θ`` of the mean cross-entropy on ``(X, y)``, flattened."""
    for parameter in parameters:
        parameter.grad = None
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    return np.concatenate([parameter.grad.ravel() for parameter in parameters])


def check(*, n, hidden, batch_sizes, draws) -> None:
    """Refuse settings out of range before anything runs."""
    check_int("n", n, 2)
    check_int("hidden", hidden, 2)
    check_int("draws", draws, 2)
    sizes = np.array(batch_sizes)
    if (
        sizes.ndim != 1
        or sizes.size == 0
        or not np.issubdtype(sizes.dtype, np.integer)
        or sizes.min() < 1
        or sizes.max() >= n
    ):
        raise ValueError(
            f"batch_sizes must be ints in [1, n) = [1, {n}), received {batch_sizes!r}"
        )


def run(
    n: int = 1000,
    hidden: int = 32,
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
    draws: int = 300,
    seed: int = 0,
) -> GradientNoiseResult:
    """Measure the minibatch-gradient variance; see the module docstring."""
    check(**run_arguments(locals()))
    sizes = np.array(batch_sizes)

    rng = np.random.default_rng(seed)
    X, y = tl_data.gaussian_mixture(n, rng=rng)
    X = X.astype(np.float32)
    model = nn.mlp([2, hidden, 2], activation="tanh", rng=rng)
    parameters = model.parameters()

    full = _gradient(model, parameters, X, y)

    per_sample = np.stack(
        [_gradient(model, parameters, X[i : i + 1], y[i : i + 1]) for i in range(n)]
    ).astype(np.float64)
    sigma_sq = float(np.mean(np.sum((per_sample - full) ** 2, axis=1)))

    # The scatter shows the gradients along the two principal directions of the
    # per-sample gradients, the plane in which they scatter most.
    _, _, right_vectors = np.linalg.svd(per_sample - full, full_matrices=False)
    directions = right_vectors[:2].T

    variance, bias_sq, samples_2d = [], [], []
    for batch_size in sizes.tolist():
        gradients = []
        while len(gradients) < draws:
            for X_B, y_B in tl_data.minibatches(
                X, y, batch_size=batch_size, rng=rng, drop_last=True
            ):
                gradients.append(_gradient(model, parameters, X_B, y_B))
                if len(gradients) == draws:
                    break
        gradients = np.stack(gradients).astype(np.float64)
        variance.append(np.mean(np.sum((gradients - full) ** 2, axis=1)))
        bias_sq.append(np.sum((gradients.mean(axis=0) - full) ** 2))
        samples_2d.append(gradients @ directions)

    return GradientNoiseResult(
        n=n,
        hidden=hidden,
        draws=draws,
        batch_sizes=sizes,
        variance=np.array(variance),
        per_sample_variance=sigma_sq,
        exact_law=sigma_sq / sizes * (n - sizes) / (n - 1),
        inverse_law=sigma_sq / sizes,
        bias_sq=np.array(bias_sq),
        full_gradient_norm=float(np.linalg.norm(full)),
        full_gradient_2d=full.astype(np.float64) @ directions,
        samples_2d=samples_2d,
    )


def _slope(result: GradientNoiseResult, small: np.ndarray) -> float:
    """Least-squares slope of log variance against log |B|."""
    x = np.log(result.batch_sizes[small])
    return float(np.polyfit(x, np.log(result.variance[small]), 1)[0])


def findings(result: GradientNoiseResult) -> dict:
    """Fit of the measured variance to both laws, and the bias of the mean."""
    ratio_exact = result.variance / result.exact_law
    ratio_inverse = result.variance / result.inverse_law
    small = result.batch_sizes <= result.n / 16
    # A mean of `draws` draws scatters by variance/draws around its expectation.
    bias_ratio = result.bias_sq / (result.variance / result.draws)
    return {
        "per-sample gradient variance σ²": result.per_sample_variance,
        "max |measured / exact law − 1|": float(np.max(np.abs(ratio_exact - 1))),
        f"max |measured / (σ²/|B|) − 1| for |B| ≤ N/16 = {result.n // 16}": float(
            np.max(np.abs(ratio_inverse[small] - 1))
        ),
        f"log-log slope for |B| ≤ N/16 = {result.n // 16}": _slope(result, small),
        "measured / (σ²/|B|) at the largest |B|": float(ratio_inverse[-1]),
        "max ‖mean ∇L_B − ∇L‖² / (variance/draws)": float(bias_ratio.max()),
        "max ‖mean ∇L_B − ∇L‖ / ‖∇L‖": float(
            np.sqrt(result.bias_sq.max()) / result.full_gradient_norm
        ),
    }


def plot(result: GradientNoiseResult):
    """Log-log variance against |B|; scatter of minibatch gradients."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 5.4))
    law_ax, cloud_ax = figure.subplots(1, 2)
    fixed_margins(figure, left=0.85, top=1.0, bottom=0.55, wspace=0.22)
    figure.suptitle(
        f"Minibatch gradient noise: tanh MLP 2-{result.hidden}-2 at initialization, "
        f"cross-entropy on a Gaussian mixture, N = {result.n}\n"
        f"{result.draws} minibatches per |B|, drawn without replacement"
    )
    sizes = result.batch_sizes
    law_ax.loglog(
        sizes, result.inverse_law, "--", color=PALETTE[7], label="σ²/|B| (1/|B| law)"
    )
    law_ax.loglog(
        sizes,
        result.exact_law,
        "-",
        color=PALETTE[1],
        label="σ²/|B| · (N − |B|)/(N − 1) (exact, no replacement)",
    )
    law_ax.loglog(
        sizes, result.variance, "o", color=PALETTE[0], label="measured E‖∇L_B − ∇L‖²"
    )
    plain_ticks(law_ax.xaxis)
    plain_ticks(law_ax.yaxis)
    law_ax.set_xlabel("minibatch size |B| (samples)")
    law_ax.set_ylabel("E‖∇L_B − ∇L‖² ((nats per unit of θ)², summed over θ)")
    law_ax.set_title(
        f"variance of the minibatch gradient (σ² = {result.per_sample_variance:.3g})"
    )
    law_ax.grid(True, which="both", alpha=0.3)
    law_ax.legend(fontsize=8)

    picks = sorted({0, len(sizes) // 2, len(sizes) - 1})
    for colour_index, index in enumerate(picks):
        cloud = result.samples_2d[index]
        colour = PALETTE[(colour_index + 2) % len(PALETTE)]
        cloud_ax.scatter(
            cloud[:, 0],
            cloud[:, 1],
            s=8,
            alpha=0.4,
            color=colour,
            label=f"∇L_B, |B| = {sizes[index]}",
        )
        mean = cloud.mean(axis=0)
        cloud_ax.plot(
            mean[0],
            mean[1],
            "P",
            ms=11,
            color=colour,
            mec="black",
            label=f"mean of the {result.draws}, |B| = {sizes[index]}",
        )
    cloud_ax.plot(
        *result.full_gradient_2d,
        "*",
        ms=16,
        color=PALETTE[6],
        mec="black",
        label="full-batch gradient ∇L",
    )
    cloud_ax.set_xlabel("gradient along principal direction 1 (nats per unit of θ)")
    cloud_ax.set_ylabel("gradient along principal direction 2 (nats per unit of θ)")
    cloud_ax.set_title(
        "unbiased: each cloud of minibatch gradients is centred on ∇L\n"
        "(projected on the per-sample gradients' two principal directions)",
        fontsize=10,
    )
    cloud_ax.grid(True, alpha=0.3)
    # Room above the clouds for the legend, which would hide gradients inside.
    low, high = cloud_ax.get_ylim()
    cloud_ax.set_ylim(low, low + 1.45 * (high - low))
    cloud_ax.legend(fontsize=7, loc="upper center", ncol=2)
    return figure


EXPERIMENT = Experiment(
    name="gradient-noise",
    description="Variance of the minibatch gradient vs |B|, and its unbiasedness",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "A minibatch gradient is an unbiased estimate of the full gradient, and "
        "averaging |B| per-sample gradients divides its variance by about |B|: "
        "the batch size trades gradient accuracy against computation. Drawn "
        "without replacement from N samples, the variance shrinks slightly "
        "faster, reaching zero at |B| = N."
    ),
    formula=(
        "E_B ∇L_B = ∇L;  E‖∇L_B − ∇L‖² = σ²/|B| · (N − |B|)/(N − 1),  "
        "σ² = (1/N) Σ_i ‖∇ℓ_i − ∇L‖²"
    ),
    beyond_lecture=True,
)
