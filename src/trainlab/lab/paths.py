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

from trainlab import functional as F
from trainlab.data import minibatches
from trainlab.lab.common import PALETTE
from trainlab.nn import Parameter
from trainlab.tensor import Tensor, tensor

__all__ = [
    "Quadratic",
    "descend",
    "index_batches",
    "mse_batch_loss",
    "path_length",
    "turning_angle",
    "steps_to_tolerance",
    "length_to_tolerance",
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

    ``matrix`` is A (2×2, symmetric positive definite), ``minimum`` is θ*,
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
        if np.linalg.eigvalsh(matrix)[0] <= 0:
            raise ValueError(
                f"matrix must be positive definite, received {matrix.tolist()}"
            )
        object.__setattr__(self, "matrix", matrix)
        object.__setattr__(self, "minimum", minimum)
        object.__setattr__(self, "floor", float(self.floor))

    @classmethod
    def from_data(cls, X: np.ndarray, y: np.ndarray) -> Quadratic:
        """The mean squared error ``(1/N) Σ (yᵢ − ⟨θ, xᵢ⟩)²`` as a quadratic."""
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] != y.shape[0]:
            raise ValueError(
                f"X must have shape (N, 2) and y shape (N,), received {X.shape} "
                f"and {y.shape}"
            )
        matrix = X.T @ X / len(X)
        minimum = np.linalg.solve(matrix, X.T @ y / len(X))
        residual = y - X @ minimum
        return cls(matrix, minimum, float(np.mean(residual**2)))

    @property
    def hessian(self) -> np.ndarray:
        """∇²L = 2A."""
        return 2.0 * self.matrix

    @property
    def condition_number(self) -> float:
        """κ = λ_max / λ_min of the Hessian."""
        eigenvalues = np.linalg.eigvalsh(self.matrix)
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
) -> np.ndarray:
    """The path of an optimizer from ``start``, one point per step.

    For every item of ``batches``: zero the gradient, compute
    ``loss(θ, batch)``, back-propagate and take one optimizer step. Returns
    an array of shape (steps + 1, 2) whose row t is θ after t steps.
    ``position(optimizer, parameter)`` says which point to record when the
    parameter does not hold θ itself (Nesterov's look-ahead); by default the
    parameter's value.
    """
    theta = Parameter(np.asarray(start, dtype=np.float64))
    optimizer = make_optimizer([theta])
    if position is None:

        def position(_optimizer, parameter):
            return parameter.data

    path = [np.array(position(optimizer, theta), dtype=np.float64)]
    for batch in batches:
        optimizer.zero_grad()
        value = loss(theta, batch)
        value.backward()
        optimizer.step()
        path.append(np.array(position(optimizer, theta), dtype=np.float64))
    return np.stack(path)


def path_length(path: np.ndarray) -> float:
    """Σₜ ‖θₜ₊₁ − θₜ‖: the distance travelled along the path."""
    return float(np.linalg.norm(np.diff(path, axis=0), axis=1).sum())


def turning_angle(path: np.ndarray) -> float:
    """Σₜ |angle between step t and step t+1|, in degrees (zero steps skipped).

    A straight path turns by 0°; a zig-zag turns by nearly 180° per step.
    """
    steps = np.diff(path, axis=0)
    steps = steps[np.linalg.norm(steps, axis=1) > 0]
    if len(steps) < 2:
        return 0.0
    heading = np.unwrap(np.arctan2(steps[:, 1], steps[:, 0]))
    return float(np.degrees(np.abs(np.diff(heading))).sum())


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
            label="minimum θ*",
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
        )
    return line


def label_axes(ax, title: str | None = None, names: tuple[str, str] = ("θ₁", "θ₂")):
    """Axis labels for parameter space (weights have no unit) and a title."""
    ax.set_xlabel(f"{names[0]} (weight, no unit)")
    ax.set_ylabel(f"{names[1]} (weight, no unit)")
    if title:
        ax.set_title(title, fontsize=10)
