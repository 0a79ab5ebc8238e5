"""Argument checks shared by the public boundaries of trainlab.

Each check returns the value in its plain Python type, or raises a
``TypeError`` (wrong type) or ``ValueError`` (right type, bad value) whose
message names the argument, what was expected and what was received. This
module imports nothing from trainlab, so every layer may use it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np


def check_bool(name: str, value) -> bool:
    """``value`` must be ``True`` or ``False`` (Python or NumPy bool)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(
            f"{name} must be True or False, received {value!r} ({type(value).__name__})"
        )
    return bool(value)


def check_real(name: str, value) -> float:
    """``value`` must be a finite real number (Python or NumPy, not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, received {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number, received {value!r}")
    return number


def check_non_negative(name: str, value) -> float:
    """``value`` must be a finite real number ``>= 0``."""
    number = check_real(name, value)
    if number < 0:
        raise ValueError(f"{name} must be >= 0, received {value!r}")
    return number


def check_positive(name: str, value) -> float:
    """``value`` must be a finite real number ``> 0``."""
    number = check_real(name, value)
    if number <= 0:
        raise ValueError(f"{name} must be > 0, received {value!r}")
    return number


def check_positive_int(name: str, value) -> int:
    """``value`` must be an integer ``>= 1`` (Python or NumPy, not a bool)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(
            f"{name} must be a positive int, received {type(value).__name__} {value!r}"
        )
    if value <= 0:
        raise ValueError(f"{name} must be a positive int, received {value}")
    return int(value)


def check_seed(value, name: str = "seed") -> int:
    """``value`` must be an integer ``>= 0`` usable as a random seed."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, received {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, received {value}")
    return int(value)
