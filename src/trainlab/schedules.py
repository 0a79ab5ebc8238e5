"""Learning-rate schedules: plain functions of time, in closed form.

A schedule is a callable ``lr = schedule(t)`` where ``t ≥ 0`` is the time in
epochs; it may be fractional (``epoch + batch / batches_per_epoch`` when the
training loop updates the learning rate at every step). A schedule keeps no
hidden state: calling it twice at the same t gives the same value, in any
order, so nothing has to be stepped and a resumed run needs nothing restored.

This module imports only trainlab's shared argument checks;
:func:`plot_schedule` imports matplotlib only when it is called.
"""

from __future__ import annotations

import bisect
import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable

import numpy as np

from trainlab._checks import check_non_negative as _check_non_negative
from trainlab._checks import check_positive as _check_positive
from trainlab._checks import check_real as _check_real

__all__ = [
    "Schedule",
    "Constant",
    "MultiStep",
    "CosineAnnealing",
    "CosineWarmRestarts",
    "Warmup",
    "plot_schedule",
]


def _cosine(lr_max: float, lr_min: float, fraction: float) -> float:
    """η_min + (η_max − η_min)(1 + cos(π · fraction)) / 2, for fraction in [0, 1].

    Evaluated from the nearer end (as η_max − (η_max − η_min)(1 − cos) / 2 in
    the first half) so that fraction 0 gives η_max and fraction 1 gives η_min
    exactly, and rounding never leaves [η_min, η_max].
    """
    if fraction <= 0.5:
        return lr_max - (lr_max - lr_min) * (1 - math.cos(math.pi * fraction)) / 2
    return lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * fraction)) / 2


class Schedule(ABC):
    """Base class: checks t, then evaluates the closed form ``_lr(t)``."""

    def __call__(self, t) -> float:
        t = _check_non_negative("t", t)
        return self._lr(t)

    @abstractmethod
    def _lr(self, t: float) -> float:
        """The learning rate at time t ≥ 0 (already checked)."""

    def _settings(self) -> dict:
        return {}

    def __repr__(self) -> str:
        body = ", ".join(
            f"{name}={value!r}" for name, value in self._settings().items()
        )
        return f"{type(self).__name__}({body})"


class Constant(Schedule):
    """η_t = η at every time t."""

    def __init__(self, lr):
        self.lr = _check_non_negative("lr", lr)

    def _lr(self, t: float) -> float:
        return self.lr

    def _settings(self) -> dict:
        return {"lr": self.lr}


class MultiStep(Schedule):
    """Step decay at milestones m_1 < m_2 < … < m_l (in epochs)::

        η_t = η · γ^#{i : m_i ≤ t}

    At a milestone the new value already applies (m_i ≤ t counts it); after
    the last milestone the rate stays at η γ^l. At integer epochs this is
    PyTorch's ``MultiStepLR``.

    Parameters: ``lr`` η ≥ 0; ``milestones`` non-negative, strictly
    increasing; ``gamma`` γ > 0 (γ < 1 decays).
    """

    def __init__(self, lr, milestones, gamma):
        self.lr = _check_non_negative("lr", lr)
        if isinstance(milestones, str) or not isinstance(milestones, Iterable):
            raise TypeError(
                f"milestones must be a sequence of numbers, received {milestones!r}"
            )
        milestones = list(milestones)
        for index, milestone in enumerate(milestones):
            _check_non_negative(f"milestones[{index}]", milestone)
        if any(a >= b for a, b in zip(milestones, milestones[1:], strict=False)):
            raise ValueError(
                f"milestones must be strictly increasing, received {milestones!r}"
            )
        self.milestones = [
            int(m) if isinstance(m, numbers.Integral) else float(m) for m in milestones
        ]
        self.gamma = _check_positive("gamma", gamma)

    def _lr(self, t: float) -> float:
        passed = bisect.bisect_right(self.milestones, t)
        return self.lr * self.gamma**passed

    def _settings(self) -> dict:
        return {"lr": self.lr, "milestones": self.milestones, "gamma": self.gamma}


class CosineAnnealing(Schedule):
    """Half a cosine from η_max down to η_min over ``period`` epochs T::

        η_t = η_min + (η_max − η_min)(1 + cos(π t / T)) / 2    for t ≤ T
        η_t = η_min                                           for t ≥ T

    η_0 = η_max and η_T = η_min. After the period the rate stays at η_min
    (PyTorch's ``CosineAnnealingLR`` keeps following the cosine back up; for
    restarts use :class:`CosineWarmRestarts`). For t ≤ T this is PyTorch's
    closed form with ``T_max = T``, ``eta_min = η_min``.

    Parameters: ``lr_max`` η_max ≥ ``lr_min`` η_min ≥ 0; ``period`` T > 0.
    """

    def __init__(self, lr_max, lr_min, period):
        self.lr_max = _check_non_negative("lr_max", lr_max)
        self.lr_min = _check_non_negative("lr_min", lr_min)
        if self.lr_min > self.lr_max:
            raise ValueError(
                f"lr_min must be <= lr_max, received lr_min={lr_min!r}, "
                f"lr_max={lr_max!r}"
            )
        self.period = _check_positive("period", period)

    def _lr(self, t: float) -> float:
        if t >= self.period:
            return self.lr_min
        return _cosine(self.lr_max, self.lr_min, t / self.period)

    def _settings(self) -> dict:
        return {"lr_max": self.lr_max, "lr_min": self.lr_min, "period": self.period}


class CosineWarmRestarts(CosineAnnealing):
    """Cosine annealing restarted at η_max, cycle i lasting T_i = T · m^i epochs.

    Cycle i (i = 0, 1, …) starts at S_i = T (m^i − 1) / (m − 1) (S_i = T i when
    m = 1) and, with τ = t − S_i the time since that restart::

        i   = ⌊log(1 + t (m − 1) / T) / log m⌋      (i = ⌊t / T⌋ when m = 1)
        η_t = η_min + (η_max − η_min)(1 + cos(π τ / T_i)) / 2

    At a restart (t = S_i) the value is η_max exactly; just before it, the
    cosine has come down to η_min. The cycles never end: there is no last
    cycle. The cycle length factor m may be any real number ≥ 1 (PyTorch's
    ``CosineAnnealingWarmRestarts`` takes integers only; for integer m this
    equals it at every epoch, with ``T_0 = T``, ``T_mult = m``).

    Parameters: ``lr_max`` η_max ≥ ``lr_min`` η_min ≥ 0; ``period`` T > 0, the
    first cycle's length in epochs; ``period_mult`` m ≥ 1.
    """

    def __init__(self, lr_max, lr_min, period, period_mult=1.0):
        super().__init__(lr_max, lr_min, period)
        self.period_mult = _check_real("period_mult", period_mult)
        if self.period_mult < 1:
            raise ValueError(f"period_mult must be >= 1, received {period_mult!r}")

    def cycle_start(self, index: int) -> float:
        """S_i, the time (in epochs) at which cycle ``index`` starts."""
        if self.period_mult == 1:
            return self.period * index
        return self.period * (self.period_mult**index - 1) / (self.period_mult - 1)

    def cycle(self, t) -> int:
        """The index i of the cycle that contains time t."""
        t = _check_non_negative("t", t)
        if self.period_mult == 1:
            index = math.floor(t / self.period)
        else:
            growth = math.log1p(t * (self.period_mult - 1) / self.period)
            index = math.floor(growth / math.log(self.period_mult))
        # The logarithm may land a rounding error away from an integer: settle
        # on the cycle whose [S_i, S_{i+1}) holds t.
        if self.cycle_start(index) > t:
            index -= 1
        elif self.cycle_start(index + 1) <= t:
            index += 1
        return index

    def _lr(self, t: float) -> float:
        index = self.cycle(t)
        since_restart = t - self.cycle_start(index)
        cycle_length = self.period * self.period_mult**index
        return _cosine(self.lr_max, self.lr_min, since_restart / cycle_length)

    def _settings(self) -> dict:
        return {**super()._settings(), "period_mult": self.period_mult}


class Warmup(Schedule):
    """A linear warm-up of w epochs in front of another schedule s::

        η_t = s(0) · (f + (1 − f) t / w)     for t < w
        η_t = s(t − w)                        for t ≥ w

    The rate rises linearly from f · s(0) at t = 0 (0 with the default
    ``start_factor`` f = 0, so a step taken at t = 0 does not move) to s(0) at
    t = w, where s starts: its milestones and periods count from the end of
    the warm-up. For a run of E epochs ending at the bottom of a cosine, use
    ``Warmup(CosineAnnealing(lr_max, lr_min, E - w), w)``.

    With f = 0 and ``fit(..., schedule_unit="epoch")`` the rate η_0 = 0 holds
    for the whole first epoch, which then changes nothing (``fit`` warns);
    ramp per step (``schedule_unit="step"``) or pick f > 0, e.g. f = 1/w.

    Parameters: ``schedule`` any callable of t; ``epochs`` w > 0;
    ``start_factor`` f in [0, 1].
    """

    def __init__(self, schedule: Callable[[float], float], epochs, start_factor=0.0):
        if not callable(schedule):
            raise TypeError(
                f"schedule must be callable as schedule(t), received {schedule!r}"
            )
        self.schedule = schedule
        self.epochs = _check_positive("epochs", epochs)
        self.start_factor = _check_non_negative("start_factor", start_factor)
        if self.start_factor > 1:
            raise ValueError(
                f"start_factor must lie in [0, 1], received {start_factor!r}"
            )

    def _lr(self, t: float) -> float:
        if t >= self.epochs:
            return self.schedule(t - self.epochs)
        ramp = self.start_factor + (1 - self.start_factor) * t / self.epochs
        return self.schedule(0.0) * ramp

    def _settings(self) -> dict:
        return {
            "schedule": self.schedule,
            "epochs": self.epochs,
            "start_factor": self.start_factor,
        }


def plot_schedule(schedule, epochs, ax=None, points: int = 2001):
    """Plot ``schedule(t)`` for t in [0, epochs]; return the matplotlib Figure.

    ``ax`` is an existing Axes to draw on; without it a new Figure is made
    (not through pyplot, so nothing is left open and any backend works).
    ``points`` evenly spaced times are evaluated, enough to show the jumps of
    step decay and restarts as near-vertical lines.
    """
    if not callable(schedule):
        raise TypeError(
            f"schedule must be callable as schedule(t), received {schedule!r}"
        )
    epochs = _check_positive("epochs", epochs)
    if isinstance(points, bool) or not isinstance(points, numbers.Integral):
        raise TypeError(f"points must be an int, received {points!r}")
    if points < 2:
        raise ValueError(f"points must be >= 2, received {points!r}")
    from matplotlib.figure import Figure

    if ax is None:
        figure = Figure(figsize=(6, 3.5))
        ax = figure.add_subplot()
    else:
        figure = ax.figure
    times = np.linspace(0.0, epochs, int(points))
    rates = [schedule(float(t)) for t in times]
    ax.plot(times, rates, label=repr(schedule))
    ax.set_xlabel("epoch")
    ax.set_ylabel("learning rate")
    ax.set_title(repr(schedule), fontsize="small")
    return figure
