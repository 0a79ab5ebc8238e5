"""Data: preprocessing, minibatches over epochs, and the lecture's data sets.

Training data ``D = {x_1, …, x_N}``, ``x_i ∈ R^n``, one sample per row.

* :class:`Standardizer` centers and normalizes each feature with statistics of
  the training data only.
* :func:`minibatches` splits the training set into disjoint minibatches
  ``T = B_1 ⊔ … ⊔ B_p`` in a new random order at every call (one call = one
  epoch); ``replacement=True`` draws with replacement instead, for comparison.
* Data sets are generated (or shipped with scikit-learn), never downloaded:
  :func:`linear_gaussian`, :func:`gaussian_mixture` (with its
  :class:`GaussianMixtureTask` holding the Bayes classifier), :func:`digits`,
  :func:`two_moons`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from trainlab._checks import check_bool as _check_bool
from trainlab._checks import check_positive_int as _check_positive_int
from trainlab.init import as_generator

__all__ = [
    "ConstantFeatureWarning",
    "Standardizer",
    "minibatches",
    "num_batches",
    "linear_gaussian",
    "GaussianMixtureTask",
    "MonteCarloEstimate",
    "gaussian_mixture",
    "DigitsSplit",
    "digits",
    "two_moons",
]


class ConstantFeatureWarning(UserWarning):
    """A feature takes a single value on the data a Standardizer is fitted on."""


def _check_nonnegative_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        raise TypeError(
            f"{name} must be a non-negative number, received {type(value).__name__}"
        )
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"{name} must be a non-negative number, received {value!r}")
    return float(value)


def _numeric_matrix(name: str, X) -> np.ndarray:
    """``X`` as a 2-D numeric array with finite entries; errors name the column."""
    array = np.asarray(X)
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise TypeError(f"{name} must hold numbers, received dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (samples, features), received shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row, received 0 rows")
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    finite = np.isfinite(array)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise ValueError(
            f"{name} column {column} contains a non-finite value "
            f"({array[row, column]} at row {row}); remove or impute it first"
        )
    return array


# --------------------------------------------------------------------------
# preprocessing
# --------------------------------------------------------------------------
class Standardizer:
    """Center and normalize each feature with training-set statistics.

    Fitted on ``D = {x_1, …, x_N}``, it keeps, feature by feature,

    * ``mean_ = x̄ = (1/N) Σ_i x_i`` (zeros when ``center=False``),
    * ``scale_ = sqrt((1/N) Σ_i (x_i − x̄)²)``, the population standard
      deviation, dividing by ``N`` as the lecture does (ones when
      ``scale=False``),

    and ``transform`` computes ``x_norm = (x − mean_) / scale_`` entry-wise.
    A constant feature (all values equal) has ``scale_ = 1``: it is centered
    and left unscaled, with a :class:`ConstantFeatureWarning`, never divided
    by zero. Statistics are computed in float64; ``transform`` returns the
    dtype of its input when that is float32 or float64 (float64 otherwise).
    """

    def __init__(self, center: bool = True, scale: bool = True):
        self.center = _check_bool("center", center)
        self.scale = _check_bool("scale", scale)
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.n_features_in_: int | None = None

    def fit(self, X) -> Standardizer:
        """Compute ``mean_`` and ``scale_`` from the rows of ``X``."""
        X = _numeric_matrix("X", X).astype(np.float64, copy=False)
        n_features = X.shape[1]

        mean = X.mean(axis=0)

        std = np.sqrt(np.mean((X - mean) ** 2, axis=0))

        constant = X.max(axis=0) == X.min(axis=0)
        if self.scale and constant.any():
            warnings.warn(
                f"Standardizer: feature(s) {np.flatnonzero(constant).tolist()} are "
                "constant on the training data; they are centered and left "
                "unscaled",
                ConstantFeatureWarning,
                stacklevel=2,
            )
        std[constant] = 1.0

        self.mean_ = mean if self.center else np.zeros(n_features)
        self.scale_ = std if self.scale else np.ones(n_features)
        self.n_features_in_ = n_features
        return self

    def _checked(self, X) -> np.ndarray:
        if self.mean_ is None:
            raise RuntimeError("this Standardizer is not fitted yet; call fit(X) first")
        X = _numeric_matrix("X", X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, the Standardizer was fitted on "
                f"{self.n_features_in_}"
            )
        return X

    def transform(self, X) -> np.ndarray:
        """``(X − mean_) / scale_``, entry-wise, in the dtype of ``X``."""
        X = self._checked(X)
        mean = self.mean_.astype(X.dtype)
        scale = self.scale_.astype(X.dtype)
        return (X - mean) / scale

    def fit_transform(self, X) -> np.ndarray:
        return self.fit(X).transform(X)

    def inverse_transform(self, X) -> np.ndarray:
        """``X_norm · scale_ + mean_``: back to the original units."""
        X = self._checked(X)
        mean = self.mean_.astype(X.dtype)
        scale = self.scale_.astype(X.dtype)
        return X * scale + mean

    def __repr__(self) -> str:
        return f"Standardizer(center={self.center}, scale={self.scale})"


# --------------------------------------------------------------------------
# minibatches
# --------------------------------------------------------------------------
def num_batches(n: int, batch_size: int, drop_last: bool = False) -> int:
    """Number of minibatches :func:`minibatches` yields for ``n`` samples."""
    return n // batch_size if drop_last else -(-n // batch_size)


def minibatches(
    X,
    y=None,
    *,
    batch_size: int,
    rng=None,
    shuffle: bool = True,
    drop_last: bool = False,
    replacement: bool = False,
) -> Iterator:
    """One epoch of minibatches of ``X`` (and ``y``), as a generator.

    Without replacement (the default, the lecture's practice) the ``N`` rows
    are put in a new random order drawn from ``rng`` and cut into disjoint
    minibatches of ``batch_size`` rows, ``T = B_1 ⊔ … ⊔ B_p`` with
    ``p = ⌈N / batch_size⌉``; the last one is smaller unless ``N`` divides
    evenly, or is dropped with ``drop_last=True``. Calling again (next
    epoch) draws a new order, hence a different partition.

    With ``replacement=True`` each minibatch holds ``batch_size`` indices
    drawn independently and uniformly from ``{0, …, N−1}``; an epoch has the
    same number of minibatches as without replacement, but rows may repeat
    and some are never seen.

    ``shuffle=False`` keeps the rows in order (no randomness). Yields
    ``(X_B, y_B)`` pairs, or ``X_B`` alone when ``y`` is ``None``. Arguments
    are checked when ``minibatches`` is called, before the first batch.
    """
    X = np.asarray(X)
    if X.ndim == 0:
        raise ValueError("X must have a sample axis, received a 0-d array")
    n = len(X)
    if n == 0:
        raise ValueError("X must have at least one row, received 0 rows")
    if y is not None:
        y = np.asarray(y)
        if y.ndim == 0 or len(y) != n:
            raise ValueError(
                f"X and y must have the same number of rows, received {n} and "
                f"{y.shape[0] if y.ndim else 'a 0-d array'}"
            )
    batch_size = _check_positive_int("batch_size", batch_size)
    shuffle = _check_bool("shuffle", shuffle)
    drop_last = _check_bool("drop_last", drop_last)
    replacement = _check_bool("replacement", replacement)
    if replacement and not shuffle:
        raise ValueError(
            "replacement=True draws random minibatches and needs shuffle=True, "
            "received shuffle=False"
        )
    if drop_last and batch_size > n:
        raise ValueError(
            f"drop_last=True with batch_size={batch_size} larger than the "
            f"{n} rows would yield no minibatch"
        )
    generator = as_generator(rng) if shuffle else None
    return _iterate(X, y, batch_size, generator, drop_last, replacement)


def _iterate(X, y, batch_size, generator, drop_last, replacement):
    n = len(X)
    count = num_batches(n, batch_size, drop_last)
    if replacement:
        batches = (generator.integers(0, n, size=batch_size) for _ in range(count))
    else:
        order = generator.permutation(n) if generator is not None else np.arange(n)
        batches = (order[k * batch_size : (k + 1) * batch_size] for k in range(count))
    for index in batches:
        if y is None:
            yield X[index]
        else:
            yield X[index], y[index]


# --------------------------------------------------------------------------
# data sets
# --------------------------------------------------------------------------
def linear_gaussian(
    n: int,
    w0,
    cov,
    mu=None,
    noise_std: float = 1.0,
    rng=None,
    return_w0: bool = False,
):
    """The lecture's linear model ``Y = ⟨w₀, X − μ⟩ + ε``.

    ``X ~ N(μ, Σ)`` with ``Σ = cov`` (``μ = mu``, zero by default) and
    ``ε ~ N(0, σ²)`` with ``σ = noise_std``, independent of ``X``. The
    expected squared loss of a linear predictor on centered inputs is then
    ``E(Y − ⟨w, X − μ⟩)² = (w − w₀)ᵀ Σ (w − w₀) + σ²``, minimized at ``w₀``.

    Returns ``X`` of shape ``(n, p)`` and ``y`` of shape ``(n,)`` (float64),
    and also the true ``w₀`` (a copy) when ``return_w0=True``:
    ``X, y, w0 = linear_gaussian(..., return_w0=True)``.
    """
    n = _check_positive_int("n", n)
    w0 = np.asarray(w0, dtype=np.float64)
    if w0.ndim != 1 or w0.size == 0 or not np.isfinite(w0).all():
        raise ValueError(
            f"w0 must be a non-empty 1-D finite vector, received shape {w0.shape}"
        )
    p = w0.size
    cov = np.asarray(cov, dtype=np.float64)
    if cov.shape != (p, p):
        raise ValueError(
            f"cov must have shape ({p}, {p}) to match w0 of length {p}, "
            f"received shape {cov.shape}"
        )
    if not np.isfinite(cov).all() or not np.allclose(cov, cov.T):
        raise ValueError("cov must be a finite symmetric matrix")
    smallest = np.linalg.eigvalsh(cov).min()
    if smallest < -1e-10 * max(1.0, np.abs(cov).max()):
        raise ValueError(
            f"cov must be positive semi-definite, received a matrix with "
            f"eigenvalue {smallest:.3g}"
        )
    mu = np.zeros(p) if mu is None else np.asarray(mu, dtype=np.float64)
    if mu.shape != (p,) or not np.isfinite(mu).all():
        raise ValueError(
            f"mu must be a finite vector of shape ({p},), received shape {mu.shape}"
        )
    noise_std = _check_nonnegative_float("noise_std", noise_std)
    generator = as_generator(rng)

    X = generator.multivariate_normal(mu, cov, size=n)

    noise = noise_std * generator.standard_normal(n)

    y = (X - mu) @ w0 + noise

    return (X, y, w0.copy()) if return_w0 else (X, y)


class MonteCarloEstimate(NamedTuple):
    """A Monte Carlo estimate and its standard error (one standard deviation)."""

    value: float
    stderr: float


@dataclass(frozen=True, eq=False)
class GaussianMixtureTask:
    """Two classes in the plane, each a mixture of isotropic Gaussians.

    ``means[c]`` holds the ``K`` component centers ``m_{c,1..K}`` of class
    ``c``. A sample draws its class ``Y = c`` with probability ``1/2``, a
    component ``k`` uniformly, and ``X ~ N(m_{c,k}, s² I)`` with
    ``s = component_std``. Its class density is
    ``p(x | c) = (1/K) Σ_k N(x; m_{c,k}, s² I)``.

    The Bayes classifier predicts the class with the larger posterior
    ``P(Y = 1 | x) = p(x | 1) / (p(x | 0) + p(x | 1))``; its error, the
    Bayes error ``E[min(P(Y=0 | X), P(Y=1 | X))]``, is the lowest any
    classifier can reach on this task.
    """

    means: np.ndarray
    component_std: float

    def __post_init__(self):
        means = np.asarray(self.means, dtype=np.float64)
        if means.ndim != 3 or means.shape[0] != 2 or means.shape[1] == 0:
            raise ValueError(
                "means must have shape (2, K, d): two classes of K centers, "
                f"received shape {means.shape}"
            )
        if not (isinstance(self.component_std, int | float) and self.component_std > 0):
            raise ValueError(
                f"component_std must be positive, received {self.component_std!r}"
            )
        means.setflags(write=False)
        object.__setattr__(self, "means", means)

    @classmethod
    def default(
        cls, components: int = 10, component_std: float = math.sqrt(0.2), seed=0
    ) -> GaussianMixtureTask:
        """The Elements of Statistical Learning's mixture (section 2.3.3).

        The ``components`` centers of class 0 are drawn from ``N((1, 0), I)``
        and those of class 1 from ``N((0, 1), I)``, once, from ``seed``;
        each component has variance ``component_std² = 1/5`` per coordinate.
        """
        components = _check_positive_int("components", components)
        generator = as_generator(seed, "seed")
        centers = np.array([[1.0, 0.0], [0.0, 1.0]])
        means = centers[:, None, :] + generator.standard_normal((2, components, 2))
        return cls(means=means, component_std=float(component_std))

    @property
    def dim(self) -> int:
        return self.means.shape[2]

    def sample(self, n: int = 200, rng=None) -> tuple[np.ndarray, np.ndarray]:
        """``n`` independent samples: ``X`` (n, d) float64 and ``y`` (n,) int64."""
        n = _check_positive_int("n", n)
        generator = as_generator(rng)
        components = self.means.shape[1]

        y = generator.integers(0, 2, size=n)

        k = generator.integers(0, components, size=n)

        noise = self.component_std * generator.standard_normal((n, self.dim))

        X = self.means[y, k] + noise

        return X, y.astype(np.int64)

    def class_log_densities(self, X) -> np.ndarray:
        """``log p(x | c)`` for each row and class, shape ``(n, 2)``."""
        X = _numeric_matrix("X", X).astype(np.float64, copy=False)
        if X.shape[1] != self.dim:
            raise ValueError(
                f"X must have {self.dim} columns for this task, received {X.shape[1]}"
            )
        variance = self.component_std**2
        components = self.means.shape[1]
        diff = X[:, None, None, :] - self.means[None, :, :, :]
        log_gauss = -0.5 * np.sum(diff**2, axis=-1) / variance
        log_gauss -= 0.5 * self.dim * np.log(2 * np.pi * variance)
        peak = log_gauss.max(axis=2, keepdims=True)
        log_sum = np.log(np.exp(log_gauss - peak).sum(axis=2)) + peak[..., 0]
        return log_sum - np.log(components)

    def bayes_posterior(self, X) -> np.ndarray:
        """``P(Y = 1 | x)`` for each row of ``X`` (equal class priors)."""
        log_density = self.class_log_densities(X)
        return 1.0 / (1.0 + np.exp(log_density[:, 0] - log_density[:, 1]))

    def bayes_decision(self, X) -> np.ndarray:
        """``log p(x | 1) − log p(x | 0)``: the Bayes boundary is its zero set."""
        log_density = self.class_log_densities(X)
        return log_density[:, 1] - log_density[:, 0]

    def bayes_predict(self, X) -> np.ndarray:
        """The Bayes classifier's labels (int64)."""
        return (self.bayes_decision(X) > 0).astype(np.int64)

    def bayes_error(self, n_mc: int = 200_000, rng=0) -> MonteCarloEstimate:
        """Monte Carlo estimate of the Bayes error with its standard error.

        Averages ``min(P(Y=0 | x_i), P(Y=1 | x_i))`` over ``n_mc`` fresh
        samples ``x_i``; this has a smaller variance than counting the Bayes
        classifier's mistakes. The standard error is the sample standard
        deviation over ``sqrt(n_mc)`` (about 0.0004 for the default task and
        ``n_mc``).
        """
        n_mc = _check_positive_int("n_mc", n_mc)
        X, _ = self.sample(n_mc, rng)
        posterior = self.bayes_posterior(X)
        risk = np.minimum(posterior, 1.0 - posterior)
        stderr = risk.std(ddof=1) / math.sqrt(n_mc) if n_mc > 1 else math.inf
        return MonteCarloEstimate(float(risk.mean()), float(stderr))


def gaussian_mixture(
    n: int = 200, rng=None, task: GaussianMixtureTask | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` samples of a two-class Gaussian mixture (the lecture's example).

    ``task`` defaults to :meth:`GaussianMixtureTask.default` (ESL's mixture,
    ten components per class); keep the task object to draw the Bayes
    boundary or compute the Bayes error. Returns ``X`` (n, 2) float64 and
    ``y`` (n,) int64 labels in ``{0, 1}``.
    """
    if task is None:
        task = GaussianMixtureTask.default()
    if not isinstance(task, GaussianMixtureTask):
        raise TypeError(
            f"task must be a GaussianMixtureTask, received {type(task).__name__}"
        )
    return task.sample(n, rng)


class DigitsSplit(NamedTuple):
    """A train/test split; unpacks as ``X_train, X_test, y_train, y_test``."""

    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray


def digits(
    test_size: float = 0.25, seed: int = 0, standardize: bool = True
) -> DigitsSplit:
    """scikit-learn's bundled 8×8 handwritten digits (1797 images, 10 classes).

    Split reproducibly (stratified by class, shuffled from ``seed``) into a
    training and a test part, ``test_size`` being the test fraction; the
    order matches ``sklearn.model_selection.train_test_split``. With
    ``standardize=True`` a :class:`Standardizer` is fitted on the training
    part only and applied to both; the always-blank border pixels are then
    only centered. Pixels are float64, labels int64.
    """
    if isinstance(test_size, bool) or not isinstance(test_size, int | float):
        raise TypeError(f"test_size must be a float, received {type(test_size)}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must lie in (0, 1), received {test_size!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise TypeError(f"seed must be a non-negative int, received {seed!r}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative int, received {seed}")
    standardize = _check_bool("standardize", standardize)

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    X = bunch.data.astype(np.float64)
    y = bunch.target.astype(np.int64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=int(seed), stratify=y
    )
    if standardize:
        scaler = Standardizer()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConstantFeatureWarning)
            X_train = scaler.fit_transform(X_train)
        X_test = scaler.transform(X_test)
    return DigitsSplit(X_train, X_test, y_train, y_test)


def two_moons(
    n: int = 200, noise: float = 0.1, rng=None
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved half circles, ``n`` points, Gaussian noise of std ``noise``.

    Class 0 lies on ``(cos t, sin t)`` and class 1 on
    ``(1 − cos t, 1/2 − sin t)``, ``t ∈ [0, π]`` evenly spaced (class 0 gets
    ``⌈n/2⌉`` points). Rows come in random order. Returns ``X`` (n, 2)
    float64 and ``y`` (n,) int64.
    """
    n = _check_positive_int("n", n)
    noise = _check_nonnegative_float("noise", noise)
    generator = as_generator(rng)
    n_outer = n - n // 2
    n_inner = n // 2

    t_outer = np.linspace(0.0, np.pi, n_outer)
    t_inner = np.linspace(0.0, np.pi, n_inner)

    outer = np.column_stack([np.cos(t_outer), np.sin(t_outer)])
    inner = np.column_stack([1.0 - np.cos(t_inner), 0.5 - np.sin(t_inner)])

    X = np.vstack([outer, inner]) + noise * generator.standard_normal((n, 2))
    y = np.concatenate([np.zeros(n_outer, np.int64), np.ones(n_inner, np.int64)])

    order = generator.permutation(n)
    return X[order], y[order]
