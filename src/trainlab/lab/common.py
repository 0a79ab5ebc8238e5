"""What every lab experiment provides, and the look shared by all figures.

An experiment module defines one :class:`Experiment` named ``EXPERIMENT``:

* ``run(**params, seed=0)`` computes everything and returns a plain result
  object (a dataclass of arrays and numbers); it never plots;
* ``plot(result)`` returns a matplotlib ``Figure`` made from that result;
* ``findings(result)`` returns the measured numbers that support the
  lecture's claim, as ``{name: float | int | str}``.

``defaults`` lists every keyword ``run`` accepts (besides ``seed``) with its
default value; the command line's ``--set key=value`` is checked against it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class Experiment:
    """One experiment of the lab: how to run it, plot it and explain it."""

    name: str
    description: str
    defaults: dict
    run: Callable
    plot: Callable
    findings: Callable
    claim: str = ""
    formula: str = ""
    beyond_lecture: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)
