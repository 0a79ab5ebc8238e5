"""trainlab: training neural networks with NumPy, exactly as the lecture writes it.

The core (``tensor``, ``functional``, ``init``, ``nn``) is imported eagerly;
the modules that pull in scikit-learn or matplotlib load on first use.
"""

from __future__ import annotations

import importlib

from trainlab import functional, init, nn
from trainlab.tensor import Tensor, enable_grad, is_grad_enabled, no_grad, tensor

__version__ = "0.1.0"

_LAZY_MODULES = {
    "optim",
    "schedules",
    "data",
    "checkpoint",
    "training",
    "diagnostics",
    "lab",
}
_LAZY_NAMES = {
    "fit": ("training", "fit"),
    "History": ("training", "History"),
    "save": ("checkpoint", "save"),
    "load": ("checkpoint", "load"),
}

__all__ = [
    "Tensor",
    "tensor",
    "no_grad",
    "enable_grad",
    "is_grad_enabled",
    "functional",
    "init",
    "nn",
    *sorted(_LAZY_MODULES),
    *sorted(_LAZY_NAMES),
]


def __getattr__(name: str):
    if name in _LAZY_MODULES:
        return importlib.import_module(f"trainlab.{name}")
    if name in _LAZY_NAMES:
        module, attribute = _LAZY_NAMES[name]
        return getattr(importlib.import_module(f"trainlab.{module}"), attribute)
    raise AttributeError(f"module 'trainlab' has no attribute {name!r}")
