"""Two-dimensional quadratic losses, optimizer paths on them, and their drawing.

Every 2-D experiment of the lab minimizes a quadratic in θ = (θ₁, θ₂)::

    L(θ) = (θ − θ*)ᵀ A (θ − θ*) + c

with A symmetric positive definite, minimum θ* and floor c. Its gradient is
∇L(θ) = 2A(θ − θ*) and its Hessian is 2A. The mean squared error of a linear
neuron without bias on data (xᵢ, yᵢ) is such a quadratic::

    L(θ) = (1/N) Σᵢ (yᵢ − ⟨θ, xᵢ⟩)²,   A = (1/N) Σᵢ xᵢxᵢᵀ,   θ* = least squares

and so is the expected loss of the lecture's model Y = ⟨w₀, X⟩ + ε with
X ~ N(0, Σ), ε ~ N(0, σ²): A = Σ, θ* = w₀, c = σ².

Training itself runs through trainlab: a :class:`trainlab.nn.Parameter` of
shape (2,), a loss built from trainlab operations, ``backward()`` and an
optimizer from :mod:`trainlab.optim`; :func:`descend` records the path.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from trainlab import functional as F
from trainlab.data import linear_gaussian, minibatches
from trainlab.lab.common import PALETTE, check_int, check_number, fixed_margins
from trainlab.nn import Parameter
from trainlab.optim import SGD
from trainlab.tensor import Tensor, tensor

__all__ = [
    "Quadratic",
    "LinearProblem",
    "covariance",
    "point",
    "generators",
    "valley",
    "LINEAR_DEFAULTS",
    "check_linear",
    "check_batch_size",
    "linear_settings",
    "sgd_paths",
    "full_gradient_path",
    "descend",
    "index_batches",
    "mse_batch_loss",
    "path_length",
    "turning_angles",
    "turning_angle",
    "steps_to_tolerance",
    "length_to_tolerance",
    "excess_loss",
    "first_below",
    "mean_step_cosine",
    "compare_figure",
    "linear_model_figure",
    "view_bounds",
    "draw_contours",
    "draw_path",
    "label_axes",
    "CONTOUR_COLOR",
]

CONTOUR_COLOR = "#9a9a9a"


@dataclass(frozen=True)
class Quadratic:
    """``L(θ) = (θ − θ*)ᵀ A (θ − θ*) + c`` in two dimensions.

    ``matrix`` is A (2×2, symmetric, positive semi-definite), ``minimum`` is
    θ* (one of them when A is singular: a valley instead of a bowl),
    ``floor`` is c = L(θ*).
    """

    matrix: np.ndarray
    minimum: np.ndarray
    floor: float = 0.0

    def __post_init__(self):
        matrix = np.asarray(self.matrix, dtype=np.float64)
        minimum = np.asarray(self.minimum, dtype=np.float64)
        if matrix.shape != (2, 2):
            raise ValueError(f"matrix must have shape (2, 2), received {matrix.shape}")
        if minimum.shape != (2,):
            raise ValueError(f"minimum must have shape (2,), received {minimum.shape}")
        if not np.allclose(matrix, matrix.T):
            raise ValueError(f"matrix must be symmetric, received {matrix.tolist()}")
        eigenvalues = np.linalg.eigvalsh(matrix)
        if eigenvalues[-1] <= 0 or eigenvalues[0] < -1e-12 * eigenvalues[-1]:
            raise ValueError(
                "matrix must be positive semi-definite and non-zero, received "
                f"{matrix.tolist()}"
            )
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "minimum", minimum)
        object.__setattr__(self, "floor", float(self.floor))

    @classmethod
    def from_data(cls, X: np.ndarray, y: np.ndarray) -> Quadratic:
        """The mean squared error ``(1/N) Σ (yᵢ − ⟨θ, xᵢ⟩)²`` as a quadratic.

        With fewer than two independent rows (a minibatch of one sample) the
        loss is a valley; θ* is then the least-squares point of least norm.
        """
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] != y.shape[0]:
            raise ValueError(
                f"X must have shape (N, 2) and y shape (N,), received {X.shape} "
                f"and {y.shape}"
            )
        matrix = X.T @ X / len(X)
        minimum = np.linalg.lstsq(X, y, rcond=None)[0]
        residual = y - X @ minimum
        return cls(matrix, minimum, float(np.mean(residual**2)))

    @property
    def hessian(self) -> np.ndarray:
        """∇²L = 2A."""
        return 2.0 * self.matrix

    @property
    def condition_number(self) -> float:
        """κ = λ_max / λ_min of the Hessian (infinite for a valley)."""
        eigenvalues = np.linalg.eigvalsh(self.matrix)
        if eigenvalues[0] <= 1e-12 * eigenvalues[-1]:
            return float("inf")
        return float(eigenvalues[-1] / eigenvalues[0])

    @property
    def largest_curvature(self) -> float:
        """λ_max of the Hessian 2A; gradient descent is stable for η < 2/λ_max."""
        return float(2.0 * np.linalg.eigvalsh(self.matrix)[-1])

    def __call__(self, points) -> np.ndarray:
        """L at each point; ``points`` has shape (..., 2)."""
        offset = np.asarray(points, dtype=np.float64) - self.minimum
        return np.einsum("...i,ij,...j->...", offset, self.matrix, offset) + self.floor

    def gradient(self, points) -> np.ndarray:
        """∇L = 2A(θ − θ*) at each point of shape (..., 2)."""
        offset = np.asarray(points, dtype=np.float64) - self.minimum
        return 2.0 * offset @ self.matrix

    def loss(self, theta: Tensor) -> Tensor:
        """L(θ) as a trainlab Tensor, differentiable in ``theta`` (shape (2,))."""
        offset = theta - self.minimum
        return (offset @ self.matrix * offset).sum() + self.floor


def covariance(entries: Sequence[float], name: str = "cov") -> np.ndarray:
    """Σ from its entries (Σ₁₁, Σ₁₂, Σ₂₂), checked positive definite."""
    values = tuple(entries)
    if len(values) != 3:
        raise ValueError(
            f"{name} must hold three numbers (Σ11, Σ12, Σ22), received {values}"
        )
    matrix = np.array([[values[0], values[1]], [values[1], values[2]]], dtype=float)
    if not np.all(np.isfinite(matrix)) or np.linalg.eigvalsh(matrix)[0] <= 0:
        raise ValueError(
            f"{name} = (Σ11, Σ12, Σ22) must give a positive definite Σ "
            f"(Σ11 > 0, Σ11·Σ22 > Σ12²), received {values}"
        )
    return matrix


def point(values: Sequence[float], name: str) -> np.ndarray:
    """A point of the plane from two numbers, or a ValueError naming ``name``."""
    values = tuple(values)
    if len(values) != 2 or not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must hold two finite numbers, received {values}")
    return np.array(values, dtype=np.float64)


@dataclass(frozen=True)
class LinearProblem:
    """The lecture's Y = ⟨w₀, X⟩ + ε, X ~ N(0, Σ), ε ~ N(0, σ²), sampled N times.

    ``expected`` is E(Y − ⟨w, X⟩)² = (w − w₀)ᵀ Σ (w − w₀) + σ²; ``empirical``
    is the mean squared error on the sample.
    """

    X: np.ndarray
    y: np.ndarray
    expected: Quadratic
    empirical: Quadratic

    @classmethod
    def sample(cls, n, w0, cov, noise_std, rng) -> LinearProblem:
        check_int("n", n, 2)
        w0 = point(w0, "w0")
        sigma = covariance(cov)
        check_number("noise_std", noise_std, at_least=0)
        X, y = linear_gaussian(n, w0, sigma, noise_std=noise_std, rng=rng)
        return cls(X, y, Quadratic(sigma, w0, noise_std**2), Quadratic.from_data(X, y))


def generators(seed: int, count: int) -> list[np.random.Generator]:
    """``count`` independent generators derived from one seed.

    The lab gives the data one stream and the minibatch order another, so
    changing a batch size or a learning rate never changes the data.
    """
    return [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(count)]


def valley(curvatures: Sequence[float], rotation: float = 0.0) -> Quadratic:
    """L(θ) = ½ θᵀ H θ with H = R diag(h₁, h₂) Rᵀ, minimum θ* = 0.

    ``curvatures`` are the Hessian's eigenvalues (h₁, h₂) > 0; κ = h_max/h_min.
    ``rotation`` turns the valley's axes by that many degrees (R is the
    rotation matrix); 0 keeps them along θ₁ and θ₂.
    """
    values = tuple(curvatures)
    if len(values) != 2 or not np.all(np.isfinite(values)) or min(values) <= 0:
        raise ValueError(f"curvatures must hold two numbers > 0, received {values}")
    if not np.isfinite(rotation):
        raise ValueError(f"rotation must be finite (degrees), received {rotation}")
    angle = np.radians(rotation)
    rotate = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    half_hessian = rotate @ np.diag(np.array(values, dtype=np.float64) / 2.0) @ rotate.T
    return Quadratic((half_hessian + half_hessian.T) / 2.0, np.zeros(2))


def index_batches(
    n: int, batch_size: int, steps: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Index arrays of ``steps`` minibatches drawn without replacement.

    Each epoch shuffles 0..n−1 once and cuts it into consecutive batches of
    ``batch_size`` (the last, shorter batch of an epoch is dropped), as the
    lecture describes: T = B₁ ⊔ … ⊔ B_p, new batches every epoch (drawn by
    :func:`trainlab.data.minibatches`). Two calls
    with generators of the same seed see the samples in the same order, so
    variants compared with different batch sizes share one sample order.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, received {steps}")
    batches: list[np.ndarray] = []
    while len(batches) < steps:
        epoch = minibatches(
            np.arange(n), batch_size=batch_size, rng=rng, drop_last=True
        )
        batches.extend(itertools.islice(epoch, steps - len(batches)))
    return batches


def mse_batch_loss(X: np.ndarray, y: np.ndarray) -> Callable:
    """``loss(θ, indices)``: the minibatch loss (1/|B|) Σ_B (y − ⟨θ, x⟩)²."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64).reshape(-1)

    def loss(theta: Tensor, indices) -> Tensor:
        prediction = tensor(X[indices]) @ theta
        return F.mse_loss(prediction, tensor(y[indices]))

    return loss


def descend(
    start: Sequence[float],
    loss: Callable[[Tensor, object], Tensor],
    make_optimizer: Callable[[list[Parameter]], object],
    batches: Iterable,
    position: Callable[[object, Parameter], np.ndarray] | None = None,
    until: Callable[[np.ndarray], bool] | None = None,
) -> np.ndarray:
    """The path of an optimizer from ``start``, one point per step.

    For every item of ``batches``: zero the gradient, compute
    ``loss(θ, batch)``, back-propagate and take one optimizer step. Returns
    an array of shape (steps + 1, 2) whose row t is θ after t steps.
    The point recorded is ``optimizer.theta()``: θ of the lecture's formulas,
    which for Nesterov momentum is not the look-ahead point the parameter
    holds. ``position(optimizer, parameter)`` may record something else.
    ``until(θ)`` returning true stops the descent early, after recording θ.
    """
    theta = Parameter(np.asarray(start, dtype=np.float64))
    optimizer = make_optimizer([theta])
    if position is None:

        def position(optimizer, _parameter):
            return optimizer.theta()[0]

    path = [np.array(position(optimizer, theta), dtype=np.float64)]
    for batch in batches:
        optimizer.zero_grad()
        value = loss(theta, batch)
        value.backward()
        optimizer.step()
        path.append(np.array(position(optimizer, theta), dtype=np.float64))
        if until is not None and until(path[-1]):
            break
    return np.stack(path)


LINEAR_DEFAULTS = {
    "n": 500,
    "w0": (1.0, 2.0),
    "cov": (1.0, 0.5, 0.5),
    "noise_std": 1.0,
    "start": (-2.0, -1.0),
}


def check_linear(*, n, w0, cov, noise_std, start, **_others) -> None:
    """Refuse a bad setting of the linear model ``LINEAR_DEFAULTS`` describes.

    Other keyword arguments are ignored: an experiment passes all of its own.
    """
    check_int("n", n, 2)
    point(w0, "w0")
    covariance(cov)
    check_number("noise_std", noise_std, at_least=0)
    point(start, "start")


def check_batch_size(batch_size, n: int, name: str = "batch_size") -> int:
    """A minibatch size that fits in a sample of ``n``: an int in 1..n."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
        raise TypeError(f"{name} must be an int in 1..n={n}, received {batch_size!r}")
    if not 1 <= batch_size <= n:
        raise ValueError(f"{name} must be in 1..n={n}, received {batch_size}")
    return int(batch_size)


def linear_settings(params: dict) -> dict:
    """The settings of the linear model among an experiment's ``params``."""
    return {key: params[key] for key in LINEAR_DEFAULTS}


def sgd_paths(
    settings: Sequence[dict],
    steps: int,
    seed: int,
    n: int = 500,
    w0=(1.0, 2.0),
    cov=(1.0, 0.5, 0.5),
    noise_std: float = 1.0,
    start=(-2.0, -1.0),
) -> tuple[LinearProblem, list[np.ndarray]]:
    """SGD paths on one sample of the linear model, one per entry of ``settings``.

    Each entry gives ``lr``, ``batch_size`` and optionally ``momentum`` and
    ``nesterov`` for :class:`trainlab.optim.SGD`. Every path starts at
    ``start`` and reads the samples in the same shuffled order (the order
    stream is re-seeded for each variant), so only the setting differs.
    ``batch_size=n`` is full-batch gradient descent.
    """
    check_int("steps", steps, 1)
    data_seed, order_seed = np.random.SeedSequence(seed).spawn(2)
    problem = LinearProblem.sample(
        n, w0, cov, noise_std, np.random.default_rng(data_seed)
    )
    loss = mse_batch_loss(problem.X, problem.y)
    start = point(start, "start")
    found = []
    for setting in settings:
        batch_size = check_batch_size(setting["batch_size"], n)
        batches = index_batches(n, batch_size, steps, np.random.default_rng(order_seed))

        def make_optimizer(params, setting=setting):
            return SGD(
                params,
                lr=setting["lr"],
                momentum=setting.get("momentum", 0.0),
                nesterov=setting.get("nesterov", False),
            )

        found.append(descend(start, loss, make_optimizer, batches))
    return problem, found


def full_gradient_path(
    quadratic: Quadratic,
    start: Sequence[float],
    make_optimizer: Callable[[list[Parameter]], object],
    steps: int,
) -> np.ndarray:
    """The path of ``steps`` optimizer steps on ``quadratic`` with full gradients."""

    def loss(theta: Tensor, _step) -> Tensor:
        return quadratic.loss(theta)

    return descend(start, loss, make_optimizer, range(steps))


def path_length(path: np.ndarray) -> float:
    """Σₜ ‖θₜ₊₁ − θₜ‖: the distance travelled along the path."""
    return float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())


def turning_angles(path: np.ndarray) -> np.ndarray:
    """|angle| between step t and step t+1, in degrees, for each t (zero steps
    skipped): 0 straight on, 180 straight back."""
    steps = np.diff(path, axis=0)
    steps = steps[np.linalg.norm(steps, axis=1) > 0]
    if len(steps) < 2:
        return np.zeros(0)
    heading = np.unwrap(np.arctan2(steps[:, 1], steps[:, 0]))
    return np.degrees(np.abs(np.diff(heading)))


def turning_angle(path: np.ndarray) -> float:
    """Σₜ |angle between step t and step t+1|, in degrees (zero steps skipped).

    A straight path turns by 0°; a zig-zag turns by nearly 180° per step.
    """
    return float(turning_angles(path).sum())


def steps_to_tolerance(path: np.ndarray, target, tol: float) -> int | None:
    """First t with ‖θₜ − target‖ ≤ tol, or None if the path never gets there."""
    distance = np.linalg.norm(path - np.asarray(target), axis=1)
    reached = np.flatnonzero(distance <= tol)
    return int(reached[0]) if reached.size else None


def length_to_tolerance(path: np.ndarray, target, tol: float) -> float | None:
    """Distance travelled until the path first comes within ``tol`` of target."""
    steps = steps_to_tolerance(path, target, tol)
    if steps is None:
        return None
    return path_length(path[: steps + 1])


def excess_loss(quadratic: Quadratic, path: np.ndarray) -> np.ndarray:
    """L(θₜ) − L(θ*) along the path: how far above the minimum each step is."""
    return quadratic(path) - quadratic.floor


def first_below(values: np.ndarray, tol: float) -> int | None:
    """First index t with values[t] ≤ tol, or None."""
    reached = np.flatnonzero(np.asarray(values) <= tol)
    return int(reached[0]) if reached.size else None


def mean_step_cosine(path: np.ndarray) -> float:
    """Mean cosine between consecutive steps: 1 straight, 0 random, −1 zig-zag."""
    steps = np.diff(path, axis=0)
    norms = np.linalg.norm(steps, axis=1)
    keep = (norms[1:] > 0) & (norms[:-1] > 0)
    if not keep.any():
        return 1.0
    cosines = np.sum(steps[1:] * steps[:-1], axis=1)[keep] / (
        norms[1:][keep] * norms[:-1][keep]
    )
    return float(np.mean(cosines))


def view_bounds(
    points: Iterable[np.ndarray], margin: float = 0.1
) -> tuple[float, float, float, float]:
    """A box (x_min, x_max, y_min, y_max) around all points, plus a margin."""
    stacked = np.concatenate([np.atleast_2d(p) for p in points])
    low = stacked.min(axis=0)
    high = stacked.max(axis=0)
    pad = margin * max(float(np.max(high - low)), 1e-9)
    return (low[0] - pad, high[0] + pad, low[1] - pad, high[1] + pad)


def draw_contours(
    ax,
    quadratic: Quadratic,
    bounds: tuple[float, float, float, float],
    levels: int = 12,
    color: str = CONTOUR_COLOR,
    resolution: int = 160,
    mark_minimum: bool = True,
    minimum_label: str | None = "minimum θ*",
):
    """Level lines of ``quadratic`` over ``bounds``, spaced evenly in √(L − c).

    Even spacing in the square root draws the ellipses at evenly spaced
    "radii", so the shape of the bowl reads at a glance.
    """
    x_min, x_max, y_min, y_max = bounds
    xs = np.linspace(x_min, x_max, resolution)
    ys = np.linspace(y_min, y_max, resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1)
    values = quadratic(grid)
    top = np.sqrt(max(float(values.max() - quadratic.floor), 1e-12))
    radii = np.linspace(0.0, top, levels + 1)[1:]
    contour = ax.contour(
        xs,
        ys,
        values,
        levels=quadratic.floor + radii**2,
        colors=color,
        linewidths=0.8,
    )
    if mark_minimum:
        ax.plot(
            *quadratic.minimum,
            marker="*",
            color="black",
            markersize=11,
            linestyle="none",
            label=minimum_label,
            zorder=5,
        )
    ax.set_xlim(x_min, x_max)
    ax.set_ylim(y_min, y_max)
    ax.set_aspect("equal")
    return contour


def draw_path(
    ax,
    path: np.ndarray,
    color: str = PALETTE[0],
    label: str | None = None,
    markersize: float = 3.0,
    linewidth: float = 1.4,
    show_start: bool = True,
    start_label: str | None = None,
):
    """An optimizer's path: a line through θ₀, θ₁, … with a dot at each step."""
    (line,) = ax.plot(
        path[:, 0],
        path[:, 1],
        color=color,
        label=label,
        marker="o",
        markersize=markersize,
        linewidth=linewidth,
        zorder=3,
    )
    if show_start:
        ax.plot(
            *path[0],
            marker="s",
            color="black",
            markersize=6,
            linestyle="none",
            zorder=4,
            label=start_label,
        )
    return line


def label_axes(ax, title: str | None = None, names: tuple[str, str] = ("θ₁", "θ₂")):
    """Axis labels for parameter space (weights have no unit) and a title."""
    ax.set_xlabel(f"{names[0]} (weight, no unit)")
    ax.set_ylabel(f"{names[1]} (weight, no unit)")
    if title:
        ax.set_title(title, fontsize=10)


def compare_figure(
    quadratic: Quadratic,
    variants: Sequence[tuple[str, np.ndarray]],
    suptitle: str,
    reference: tuple[str, np.ndarray] | None = None,
    names: tuple[str, str] = ("w₁", "w₂"),
    loss_name: str = "L(θₜ) − L(θ*)",
    step_name: str = "step t (minibatches seen)",
    loss_unit: str = "squared units of y",
    minimum_label: str = "minimum θ*",
    panel_size: float = 4.3,
    extra: Callable | None = None,
) -> Figure:
    """One panel per variant's path on the same contours and bounds, then a
    panel of every variant's excess loss against the step (log scale).

    ``variants`` are (label, path) pairs sharing one start; ``reference`` is
    an optional path drawn dashed in every panel (full-batch gradient
    descent, for instance). ``extra(ax)``, if given, draws one more panel.
    """
    everything = [path for _, path in variants] + [quadratic.minimum[None]]
    if reference is not None:
        everything.append(reference[1])
    bounds = view_bounds(everything, margin=0.08)
    count = len(variants)
    rows = 1 if count <= 3 else 2
    columns = -(-count // rows)
    side = 2 if extra is not None and rows == 1 else 1

    # Equal axis scales: a flat box gets a flat panel, not white space.
    aspect = (bounds[3] - bounds[2]) / (bounds[1] - bounds[0])
    panel_height = panel_size * float(np.clip(aspect, 0.45, 1.25))
    top, bottom, gap = 0.75, 1.1, 0.85
    height = top + rows * panel_height + (rows - 1) * gap + bottom
    figure = Figure(figsize=(panel_size * (columns + 1.15 * side) + 0.6, height))
    grid = figure.add_gridspec(
        rows, columns + side, width_ratios=[1] * columns + [1.15] * side
    )
    fixed_margins(figure, top=top, bottom=bottom, wspace=0.4, hspace=gap / panel_height)
    axes = [figure.add_subplot(grid[i // columns, i % columns]) for i in range(count)]
    if extra is None:
        axes.append(figure.add_subplot(grid[:, columns]))
    elif rows == 1:
        axes.append(figure.add_subplot(grid[0, columns]))
        extra(figure.add_subplot(grid[0, columns + 1]))
    else:
        axes.append(figure.add_subplot(grid[0, columns]))
        extra(figure.add_subplot(grid[1, columns]))

    for index, (label, path) in enumerate(variants):
        ax = axes[index]
        color = PALETTE[index % len(PALETTE)]
        draw_contours(ax, quadratic, bounds, minimum_label=minimum_label)
        if reference is not None:
            ax.plot(
                reference[1][:, 0],
                reference[1][:, 1],
                color="black",
                linestyle="--",
                linewidth=1.0,
                label=reference[0],
                zorder=2,
            )
        draw_path(ax, path, color, label=label, start_label="start θ₀")
        label_axes(ax, label, names=names)

    # One legend for all path panels: the markers, the reference, each path.
    handles, labels = axes[0].get_legend_handles_labels()
    for ax in axes[1:count]:
        more_handles, more_labels = ax.get_legend_handles_labels()
        for handle, text in zip(more_handles, more_labels, strict=True):
            if text not in labels:
                handles.append(handle)
                labels.append(text)
    figure.legend(
        handles,
        labels,
        loc="lower center",
        ncol=min(len(labels), 6),
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.5, 0.0),
    )

    curves = axes[-1]
    for index, (label, path) in enumerate(variants):
        values = np.maximum(excess_loss(quadratic, path), 1e-12)
        curves.plot(
            values, color=PALETTE[index % len(PALETTE)], label=label, linewidth=1.5
        )
    if reference is not None:
        values = np.maximum(excess_loss(quadratic, reference[1]), 1e-12)
        curves.plot(
            values, color="black", linestyle="--", linewidth=1.0, label=reference[0]
        )
    curves.set_yscale("log")
    curves.set_xlabel(step_name)
    curves.set_ylabel(f"{loss_name} ({loss_unit}, log scale)")
    curves.set_title("Loss above its minimum, per step", fontsize=10)
    curves.grid(True, which="major", alpha=0.3)
    curves.legend(fontsize=8)
    figure.suptitle(suptitle, fontsize=11)
    return figure


def linear_model_figure(
    expected: Quadratic,
    variants: Sequence[tuple[str, np.ndarray]],
    title: str,
    params: dict,
    **options,
) -> Figure:
    """:func:`compare_figure` for SGD on the linear model Y = ⟨w₀, X⟩ + ε.

    The suptitle is ``title`` followed by the model's settings from
    ``params``; ``options`` go to :func:`compare_figure`.
    """
    return compare_figure(
        expected,
        variants,
        suptitle=(
            f"{title} (N = {params['n']}, w₀ = {tuple(params['w0'])}, "
            f"σ = {params['noise_std']})"
        ),
        names=("w₁", "w₂"),
        loss_name="L_D(w) − σ²",
        minimum_label="minimum w₀",
        **options,
    )
