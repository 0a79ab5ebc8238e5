"""Weight initializers, in place, for the ``(n_in, n_out)`` weight layout.

A weight ``W`` of a :class:`~trainlab.nn.Linear` layer has shape
``(n_in, n_out)``: ``fan_in = n_in`` is the number of rows and
``fan_out = n_out`` the number of columns. In the lecture's notation, layer
``k`` has ``fan_in = n_{k-1}`` and ``fan_out = n_k``.

Every function fills its argument in place (a :class:`~trainlab.nn.Parameter`,
a :class:`~trainlab.tensor.Tensor` or an ``np.ndarray``), keeps its dtype and
returns it. Random ones take ``rng``, an ``np.random.Generator`` or an integer
seed; ``None`` draws fresh entropy from the operating system (not
reproducible), never NumPy's global state.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

__all__ = [
    "as_generator",
    "fans",
    "zeros_",
    "constant_",
    "normal_",
    "uniform_",
    "lecun_normal_",
    "xavier_normal_",
    "xavier_uniform_",
    "he_normal_",
    "he_uniform_",
]


def as_generator(rng, name: str = "rng") -> np.random.Generator:
    """``rng`` as a Generator: a Generator passes through, an int seeds one."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None:
        return np.random.default_rng()
    if isinstance(rng, int | np.integer) and not isinstance(rng, bool):
        if rng < 0:
            raise ValueError(f"{name} seed must be non-negative, received {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(
        f"{name} must be an np.random.Generator, an int seed or None, "
        f"received {type(rng).__name__}"
    )


def _array(w) -> np.ndarray:
    array = w if isinstance(w, np.ndarray) else getattr(w, "data", None)
    if not isinstance(array, np.ndarray):
        raise TypeError(
            f"w must be a Parameter, Tensor or ndarray to initialize, "
            f"received {type(w).__name__}"
        )
    if not np.issubdtype(array.dtype, np.floating):
        raise TypeError(
            f"w must hold floating-point values, received dtype {array.dtype}"
        )
    return array


def fans(w) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a 2-D weight of shape ``(n_in, n_out)``."""
    array = _array(w)
    if array.ndim != 2:
        raise ValueError(
            "w must be a 2-D weight of shape (n_in, n_out) for a fan-based "
            f"initializer, received an array of shape {array.shape}"
        )
    return array.shape[0], array.shape[1]


def _check_positive(name: str, value: float) -> None:
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (real and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, received {value!r}")


def zeros_(w):
    """Fill with 0. For biases; weights at 0 never learn (no gradient flows)."""
    _array(w)[...] = 0
    return w


def constant_(w, value: float):
    """Fill with ``value``. Every unit then computes the same function."""
    _array(w)[...] = value
    return w


def _check_real(name: str, value, array: np.ndarray) -> float:
    """``value`` as a float: a finite real number that ``array``'s dtype holds.

    Python and NumPy reals (``np.float32(0.1)``) are accepted; bools, strings
    and other types raise ``TypeError``; NaN, ±inf and magnitudes beyond the
    largest finite value of ``array.dtype`` raise ``ValueError``.
    """
    if not isinstance(value, numbers.Real) or isinstance(value, bool | np.bool_):
        raise TypeError(
            f"{name} must be a real number, received {type(value).__name__} {value!r}"
        )
    value = float(value)
    limit = float(np.finfo(array.dtype).max)
    if not (math.isfinite(value) and abs(value) <= limit):
        raise ValueError(
            f"{name} must be a finite number representable in {array.dtype}, "
            f"received {value!r}"
        )
    return value


def normal_(w, std: float = 1.0, mean: float = 0.0, rng=None):
    """Fill with ``N(mean, std²)`` samples.

    ``std`` (``>= 0``) and ``mean`` are finite real numbers, Python or NumPy.
    """
    array = _array(w)
    std = _check_real("std", std, array)
    mean = _check_real("mean", mean, array)
    if std < 0:
        raise ValueError(f"std must be a non-negative number, received {std!r}")
    generator = as_generator(rng)
    sample = generator.standard_normal(array.shape, dtype=_sampling_dtype(array))
    sample *= std
    sample += mean
    array[...] = sample
    return w


def uniform_(w, low: float = -1.0, high: float = 1.0, rng=None):
    """Fill with ``U(low, high)`` samples.

    ``low < high`` are finite real numbers, Python or NumPy, whose width
    ``high − low`` is finite too.
    """
    array = _array(w)
    low = _check_real("low", low, array)
    high = _check_real("high", high, array)
    if not low < high:
        raise ValueError(f"uniform_ needs low < high, received low={low}, high={high}")
    width = _check_real("high - low", high - low, array)
    generator = as_generator(rng)
    sample = generator.random(array.shape, dtype=_sampling_dtype(array))
    sample *= width
    sample += low
    array[...] = sample
    return w


def _sampling_dtype(array: np.ndarray):
    return np.float32 if array.dtype == np.float32 else np.float64


def lecun_normal_(w, rng=None):
    """LeCun: ``W ~ N(0, 1/fan_in)``.

    With centred i.i.d. inputs and an activation close to the identity near
    0 (tanh), ``Var(z) = fan_in · Var(W) · Var(x)``; ``Var(W) = 1/fan_in``
    keeps the variance of the outputs constant from layer to layer.
    """
    fan_in, _ = fans(w)
    return normal_(w, std=math.sqrt(1.0 / fan_in), rng=rng)


def xavier_normal_(w, rng=None):
    """Xavier (Glorot): ``W ~ N(0, 2/(fan_in + fan_out))``.

    The forward pass asks for ``Var(W) = 1/fan_in``, the backward pass for
    ``1/fan_out``; Xavier takes the harmonic mean of the two.
    """
    fan_in, fan_out = fans(w)
    return normal_(w, std=math.sqrt(2.0 / (fan_in + fan_out)), rng=rng)


def xavier_uniform_(w, rng=None):
    """Xavier (Glorot), uniform: ``W ~ U(−a, a)``, ``a = √(6/(fan_in + fan_out))``.

    ``U(−a, a)`` has variance ``a²/3 = 2/(fan_in + fan_out)``, as the normal one.
    """
    fan_in, fan_out = fans(w)
    bound = math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(w, -bound, bound, rng=rng)


def he_normal_(w, mult: float = 1.0, rng=None):
    """He (Kaiming): ``W ~ N(0, mult · 2/fan_in)``.

    After a ReLU, ``E[x²] = Var(z)/2``, so keeping the pre-activations'
    variance constant asks for ``Var(W) = 2/fan_in``. ``mult`` scales that
    variance (the lecture's extra ratio).
    """
    _check_positive("mult", mult)
    fan_in, _ = fans(w)
    return normal_(w, std=math.sqrt(mult * 2.0 / fan_in), rng=rng)


def he_uniform_(w, mult: float = 1.0, rng=None):
    """He (Kaiming), uniform: ``W ~ U(−a, a)``, ``a = √(3 · mult · 2/fan_in)``.

    The variance ``a²/3`` equals ``mult · 2/fan_in``, as in :func:`he_normal_`.
    """
    _check_positive("mult", mult)
    fan_in, _ = fans(w)
    bound = math.sqrt(3.0 * mult * 2.0 / fan_in)
    return uniform_(w, -bound, bound, rng=rng)
