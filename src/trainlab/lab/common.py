"""What every lab experiment provides, its parameter checks, and the look shared
by all figures.

An experiment module defines one :class:`Experiment` named ``EXPERIMENT``:

* ``run(**params, seed=0)`` computes everything and returns a plain result
  object (a dataclass of arrays and numbers); it never plots;
* ``plot(result)`` returns a matplotlib ``Figure`` made from that result;
* ``findings(result)`` returns the measured numbers that support the
  lecture's claim, as ``{name: float | int | str}``;
* ``check(**params)`` refuses values out of range (an int below its minimum,
  a probability outside (0, 1), ...) with a ``ValueError`` naming the
  parameter. :func:`trainlab.lab.registry.resolve_params` calls it, so a
  mistake is refused before anything runs; ``run`` calls it too.

``defaults`` lists every keyword ``run`` accepts (besides ``seed``) with its
default value; unless given, it is read from ``run``'s signature, so the
two cannot disagree. The command line's ``--set key=value`` is checked against it.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "PALETTE",
    "Experiment",
    "check_int",
    "check_number",
    "check_numbers",
    "run_arguments",
    "fixed_margins",
    "plain_ticks",
]

# Okabe–Ito: distinguishable under the common forms of colour blindness.
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)


def _accept_all(**_params) -> None:
    """The check of an experiment that has nothing to check."""


@dataclass(frozen=True)
class Experiment:
    """One experiment of the lab: how to run it, plot it and explain it."""

    name: str
    description: str
    run: Callable
    plot: Callable
    findings: Callable
    claim: str = ""
    formula: str = ""
    beyond_lecture: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)
    check: Callable[..., None] = _accept_all
    defaults: dict | None = None

    def __post_init__(self):
        declared = _keyword_defaults(self.run)
        if self.defaults is None:
            object.__setattr__(self, "defaults", declared)
        elif declared is not None and declared != self.defaults:
            raise ValueError(
                f"experiment {self.name!r}: defaults {self.defaults} disagree with "
                f"run()'s signature {declared}"
            )


def _keyword_defaults(run: Callable) -> dict | None:
    """``{name: default}`` of every argument of ``run`` but ``seed``.

    ``None`` for a ``run(**params)`` that declares no keywords of its own (a
    stand-in that keeps the defaults it is given).
    """
    defaults = {}
    for name, parameter in inspect.signature(run).parameters.items():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if name == "seed":
            continue
        if parameter.default is inspect.Parameter.empty:
            raise TypeError(f"experiment run() argument {name!r} needs a default value")
        defaults[name] = parameter.default
    return defaults


def run_arguments(names: dict) -> dict:
    """The keyword arguments of an experiment's ``run``, without ``seed``.

    ``run`` calls ``run_arguments(locals())`` as its first statement, while its
    local names are exactly its arguments: one dict to check and to record in
    the result, rather than every name written out again.
    """
    return {key: value for key, value in names.items() if key != "seed"}


# ----------------------------------------------------------------- checks
def check_int(name: str, value, minimum: int = 1) -> int:
    """``value`` if it is an int (not a bool) ``>= minimum``; else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, received {value!r}")
    return value


def _condition(above, at_least, below, at_most) -> str:
    low = above if above is not None else at_least
    high = below if below is not None else at_most
    if low is not None and high is not None:
        opening = "(" if above is not None else "["
        closing = ")" if below is not None else "]"
        return f"in {opening}{low:g}, {high:g}{closing}"
    if low is not None:
        return f"> {low:g}" if above is not None else f">= {low:g}"
    if high is not None:
        return f"< {high:g}" if below is not None else f"<= {high:g}"
    return "a finite number"


def check_number(
    name: str,
    value,
    *,
    above: float | None = None,
    at_least: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
) -> float:
    """``value`` as a float if it is a finite real number within the bounds.

    ``above``/``below`` are strict bounds, ``at_least``/``at_most`` inclusive
    ones. Otherwise a ValueError such as ``momentum must be in (0, 1),
    received 1.5`` (a TypeError if it is not a real number at all).
    """
    condition = _condition(above, at_least, below, at_most)
    problem = f"{name} must be {condition}, received {value!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(problem)
    if not math.isfinite(value):
        raise ValueError(problem)
    if (
        (above is not None and not value > above)
        or (at_least is not None and not value >= at_least)
        or (below is not None and not value < below)
        or (at_most is not None and not value <= at_most)
    ):
        raise ValueError(problem)
    return float(value)


def check_numbers(
    name: str,
    values,
    count: tuple[int, int] = (1, 8),
    **bounds: float,
) -> tuple[float, ...]:
    """A tuple of ``count[0]`` to ``count[1]`` numbers, each as :func:`check_number`.

    The message names the item: ``lrs[1] must be > 0, received -0.1``.
    """
    values = tuple(values)
    low, high = count
    if not low <= len(values) <= high:
        size = f"{low}" if low == high else f"{low} to {high}"
        raise ValueError(f"{name} must hold {size} numbers, received {values!r}")
    return tuple(
        check_number(f"{name}[{index}]", value, **bounds)
        for index, value in enumerate(values)
    )


# ---------------------------------------------------------------- figures
def fixed_margins(
    figure,
    left: float = 0.8,
    right: float = 0.25,
    top: float = 0.75,
    bottom: float = 0.6,
    wspace: float = 0.3,
    hspace: float = 0.3,
) -> None:
    """Margins in inches (spaces between panels as fractions of a panel).

    Fixed margins draw in about half the time of matplotlib's constrained
    layout, which measures every label twice; the lab draws many figures.
    Inches, unlike fractions of the figure, keep the room for tick labels and
    axis labels the same whatever the figure's size.
    """
    width, height = figure.get_size_inches()
    figure.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        top=1 - top / height,
        bottom=bottom / height,
        wspace=wspace,
        hspace=hspace,
    )


def plain_ticks(axis, text: Callable[[float], str] = "{:g}".format) -> None:
    """Major tick labels of ``axis`` written by ``text(value)``, no minor ones.

    Plain-text labels: on a log scale matplotlib's default ones are mathtext,
    which costs a parse per label.
    """
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _position: text(value)))
    axis.set_minor_formatter(NullFormatter())
