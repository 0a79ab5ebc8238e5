"""The lab's experiments by name, in the lecture's order, and how to run one.

Experiment modules are imported only when an experiment is asked for, so
listing the names costs nothing and one missing module does not break the
others. Parameters are checked against the experiment's ``defaults``: an
unknown key, a value of the wrong type or one out of range (the experiment's
``check``) is refused with a message that names the key, what was expected
and what was received, before anything runs. Strings (as they come from
the command line) are converted by the type of the default value: ``int``,
``float``, ``bool`` (``true``/``false``, ``yes``/``no``, ``on``/``off``,
``1``/``0``), ``str``, and tuples or lists of numbers written ``0.5,1,2``.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from trainlab._checks import check_seed as _check_seed
from trainlab.lab.common import Experiment

__all__ = [
    "MODULES",
    "LabRun",
    "list_experiments",
    "is_available",
    "get",
    "resolve_params",
    "execute",
    "run",
    "format_value",
]

# name -> module under trainlab.lab, in the order the lecture meets them
MODULES = {
    "preprocessing": "preprocessing",
    "sgd-landscape": "sgd_landscape",
    "learning-rate": "learning_rate",
    "batch-size": "batch_size",
    "momentum": "momentum",
    "nesterov": "nesterov",
    "adaptive": "adaptive",
    "init-depth": "init_depth",
    "symmetry": "symmetry",
    "batchnorm": "batchnorm",
    "weight-decay": "weight_decay",
    "dropout": "dropout",
    "schedules": "lr_schedules",
    "gradient-noise": "gradient_noise",
    "lr-range": "lr_range",
}

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


@dataclass
class LabRun:
    """One finished experiment: its settings, result, findings and timing.

    ``figures`` lists the files its figure was saved to, once saved.
    """

    experiment: Experiment
    params: dict
    seed: int
    result: object
    findings: dict
    seconds: float
    figures: list[Path] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.experiment.name


def list_experiments() -> list[str]:
    """Every experiment name, in the lecture's order (no module is imported)."""
    return list(MODULES)


def _module_path(name: str) -> str:
    return f"trainlab.lab.{MODULES[name]}"


def _check_name(name) -> str:
    if not isinstance(name, str) or name not in MODULES:
        valid = ", ".join(MODULES)
        raise ValueError(f"unknown experiment {name!r}; valid names: {valid}")
    return name


def is_available(name: str) -> bool:
    """Whether the module of experiment ``name`` can be found (not imported)."""
    _check_name(name)
    return importlib.util.find_spec(_module_path(name)) is not None


def get(name: str) -> Experiment:
    """The :class:`Experiment` called ``name``, importing its module on first use.

    An unknown name raises ``ValueError`` listing the valid ones; a known name
    whose module is not installed raises ``ModuleNotFoundError``.
    """
    _check_name(name)
    module = importlib.import_module(_module_path(name))
    experiment = getattr(module, "EXPERIMENT", None)
    if not isinstance(experiment, Experiment):
        raise TypeError(
            f"module {module.__name__} must define EXPERIMENT as an Experiment, "
            f"found {type(experiment).__name__}"
        )
    return experiment


def format_value(value) -> str:
    """A value as the command line's ``--set key=value`` would write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(format_value(item) for item in value)
    return str(value)


def _type_name(default) -> str:
    if isinstance(default, bool):
        return "bool (true or false)"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, tuple | list):
        item = "int" if default and all(_is_int(v) for v in default) else "float"
        return f"comma-separated list of {item}"
    return type(default).__name__


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_number(text: str, want_int: bool) -> int | float:
    return int(text.strip()) if want_int else float(text.strip())


def _coerce(key: str, default, value):
    """``value`` converted to the type of ``default``, or a clear error."""
    expected = _type_name(default)
    problem = f"{key} expects {expected}, received {value!r}"

    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise (ValueError if isinstance(value, str) else TypeError)(problem)

    if isinstance(default, int | float):
        want_int = _is_int(default)
        if isinstance(value, str):
            try:
                number = _parse_number(value, want_int)
            except ValueError:
                raise ValueError(problem) from None
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(problem)
        elif want_int and not float(value).is_integer():
            raise ValueError(problem)
        else:
            number = int(value) if want_int else float(value)
        if not want_int and not math.isfinite(number):
            raise ValueError(f"{key} expects a finite {expected}, received {value!r}")
        return number

    if isinstance(default, tuple | list):
        want_int = bool(default) and all(_is_int(v) for v in default)
        if hasattr(value, "ndim") and getattr(value, "ndim", 0) == 1:
            value = value.tolist()  # a 1-D NumPy array
        if isinstance(value, str):
            parts = [part for part in value.split(",") if part.strip()]
            if not parts:
                raise ValueError(problem)
            try:
                items = [_parse_number(part, want_int) for part in parts]
            except ValueError:
                raise ValueError(problem) from None
        elif isinstance(value, tuple | list):
            items = [
                _coerce(f"{key}[{i}]", 0 if want_int else 0.0, v)
                for i, v in enumerate(value)
            ]
        else:
            raise TypeError(problem)
        return type(default)(items)

    if isinstance(default, str):
        if not isinstance(value, str):
            raise TypeError(problem)
        return value

    return value


def resolve_params(name: str, params: dict | None = None) -> dict:
    """The experiment's defaults with ``params`` checked, converted and applied.

    Unknown keys raise ``ValueError`` listing the valid keys; values that do
    not fit the default's type raise ``TypeError`` or ``ValueError`` naming
    the key, the expected type and the value received; then the experiment's
    own ``check`` refuses values out of range (``steps=0``, a probability
    above 1) with a ``ValueError`` naming the parameter. Nothing runs here:
    a mistake is refused before any computing starts.
    """
    experiment = get(name)
    params = dict(params or {})
    unknown = sorted(set(params) - set(experiment.defaults))
    if unknown:
        valid = ", ".join(
            f"{key}={format_value(value)}" for key, value in experiment.defaults.items()
        )
        raise ValueError(
            f"unknown parameter {', '.join(unknown)} for experiment {name!r}; "
            f"valid parameters (with defaults): {valid or 'none'}"
        )
    resolved = dict(experiment.defaults)
    for key, value in params.items():
        resolved[key] = _coerce(key, experiment.defaults[key], value)
    experiment.check(**resolved)
    return resolved


def execute(name: str, seed: int = 0, **params) -> LabRun:
    """Run experiment ``name`` and keep its settings, findings and time taken."""
    seed = _check_seed(seed)
    resolved = resolve_params(name, params)
    experiment = get(name)
    start = time.perf_counter()
    result = experiment.run(**resolved, seed=seed)
    findings = experiment.findings(result)
    seconds = time.perf_counter() - start
    return LabRun(experiment, resolved, seed, result, findings, seconds)


def run(name: str, seed: int = 0, **params):
    """Run experiment ``name`` with its defaults overridden by ``params``.

    Returns the experiment's result object; ``get(name).plot(result)`` draws
    it and ``get(name).findings(result)`` measures it. Example:
    ``trainlab.lab.run("momentum", momentum=0.9)``.
    """
    seed = _check_seed(seed)
    resolved = resolve_params(name, params)
    return get(name).run(**resolved, seed=seed)
