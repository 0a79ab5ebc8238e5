"""Dropout on the lecture's two-class Gaussian mixture (the weight-decay setup).

The same data, network (2-50-2, ReLU), optimizer (SGD, η = 0.1, μ = 0.9) and
training length as the weight-decay experiment, without penalty; the hidden
layer is followed by dropout with each drop probability of
``drop_probabilities``, against a network without dropout, every network
from the same initial weights.

Convention: ``p`` is the probability of dropping a hidden unit (trainlab's
and PyTorch's ``p``). In the lecture's notation the mask is
``h ~ B(h)^{⊗n}``, a unit being kept with probability ``h``, so
``h = 1 − p``: the default ``p = 0.7`` keeps 30% of the units at each step.
(Read as a keep probability, the lecture's "0.7" would be ``p = 0.3``; pass
``drop_probabilities=0.3,0.7`` to see both.) Dropout is inverted: kept units
are scaled by ``1/(1 − p)`` in training and nothing changes at test, which
gives the same expected pre-activation as the lecture's rescaling by ``h``
at test.

Training pass with dropout, then prediction::

    x⁽²⁾ = ReLU(W⁽¹⁾ᵀx + b⁽¹⁾) ⊙ m / (1 − p),   m ~ Bernoulli(1 − p)^{⊗50}
    F(x) = W⁽²⁾ᵀ x⁽²⁾ + b⁽²⁾                      (test: m / (1 − p) replaced by 1)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trainlab import nn
from trainlab.lab.common import (
    PALETTE,
    Experiment,
    check_numbers,
    fixed_margins,
    run_arguments,
)
from trainlab.lab.weight_decay import (
    MixtureRuns,
    check_training,
    mixture_findings,
    plot_boundaries,
    train_networks,
)


@dataclass
class DropoutResult:
    drop_probabilities: tuple[float, ...]
    runs: MixtureRuns  # the network without dropout first


def check(*, drop_probabilities, **training) -> None:
    """Refuse settings out of range before anything runs."""
    check_numbers("drop_probabilities", drop_probabilities, above=0, below=1)
    check_training(**training)


def run(
    drop_probabilities: tuple[float, ...] = (0.7,),
    n: int = 200,
    hidden: int = 50,
    epochs: int = 1500,
    batch_size: int = 200,
    lr: float = 0.1,
    momentum: float = 0.9,
    n_test: int = 20000,
    grid: int = 120,
    seed: int = 0,
) -> DropoutResult:
    """Train without dropout and with each ``p``; see the module docstring."""
    training = run_arguments(locals())
    del training["drop_probabilities"]
    check(drop_probabilities=drop_probabilities, **training)
    probabilities = tuple(float(p) for p in drop_probabilities)
    variants = []
    for p in (0.0, *probabilities):
        # The same seed gives every network the same initial weights: the
        # dropout layer draws nothing at construction.
        model = nn.mlp([2, hidden, 2], dropout=p, rng=np.random.default_rng([seed, 3]))
        label = "no dropout" if p == 0 else f"dropout p = {p:g} (h = {1 - p:.2g})"
        variants.append((label, model, 0.0))
    return DropoutResult(probabilities, train_networks(variants, seed, **training))


def findings(result: DropoutResult) -> dict:
    """Errors, disagreement with the Bayes classifier and weight norms."""
    return mixture_findings(result.runs)


def plot(result: DropoutResult):
    """One boundary panel per network, over the Bayes boundary."""
    from matplotlib.figure import Figure

    runs = result.runs
    count = len(runs.labels)
    figure = Figure(figsize=(max(4.6 * count, 10.5), 5.9))
    axes = figure.subplots(1, count, squeeze=False)[0]
    fixed_margins(figure, left=0.6, top=1.05, bottom=0.95, wspace=0.25)
    figure.suptitle(
        f"Dropout after the hidden layer: {runs.title()}\n"
        "p = probability of DROPPING a unit (trainlab/PyTorch); the lecture's "
        "keep mask h ~ B(h) has h = 1 − p\ninverted dropout: kept units scaled "
        "by 1/(1 − p) in training, nothing at test. "
        f"Bayes error {100 * runs.bayes_error:.1f}%",
        fontsize=11,
    )
    plot_boundaries(axes, runs)
    for index, ax in enumerate(axes):
        ax.text(
            0.99,
            0.01,
            f"training error {100 * runs.train_error[index]:.1f}%\n"
            f"Σ‖W‖²_F = {runs.weight_norm_sq[index]:.3g}",
            transform=ax.transAxes,
            ha="right",
            va="bottom",
            fontsize=8,
            color=PALETTE[7],
            bbox={"facecolor": "white", "alpha": 0.7, "lw": 0},
        )
    return figure


EXPERIMENT = Experiment(
    name="dropout",
    description="Dropout p = 0.7 vs none on the mixture, p = drop probability",
    run=run,
    plot=plot,
    findings=findings,
    check=check,
    claim=(
        "Switching hidden units off at random during training stops units from "
        "relying on particular partners, so the network cannot memorize its "
        "sample as easily: its boundary is smoother and closer to the Bayes "
        "boundary. At test time all units are used, scaled so that each "
        "pre-activation keeps its expected training value."
    ),
    formula=(
        "x⁽ᵏ⁺¹⁾ = σ(W⁽ᵏ⁺¹⁾ᵀ(x⁽ᵏ⁾ ⊙ m) + b⁽ᵏ⁺¹⁾), m ~ Bernoulli(1 − p)^{⊗n_k}; "
        "E_m[z⁽ᵏ⁺¹⁾] = W⁽ᵏ⁺¹⁾ᵀ((1 − p) x⁽ᵏ⁾) + b⁽ᵏ⁺¹⁾ "
        "(lecture: keep probability h = 1 − p)"
    ),
)
