"""Schedules: closed forms, PyTorch's schedulers at every epoch, real restarts."""

import ast
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from matplotlib.figure import Figure

import trainlab.schedules as schedules
from trainlab.schedules import (
    Constant,
    CosineAnnealing,
    CosineWarmRestarts,
    MultiStep,
    Warmup,
    plot_schedule,
)


def torch_rates(make_scheduler, lr, epochs):
    """The learning rate PyTorch uses in each epoch 0 … epochs - 1."""
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=lr)
    scheduler = make_scheduler(optimizer)
    rates = []
    for _ in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


def cosine(lr_max, lr_min, fraction):
    return lr_min + (lr_max - lr_min) * (1 + math.cos(math.pi * fraction)) / 2


# ---------------------------------------------------------------- closed forms
def test_constant():
    schedule = Constant(0.3)
    assert [schedule(t) for t in (0, 0.5, 7, 1e6)] == [0.3] * 4


def test_multistep_equals_closed_form_and_pytorch_at_every_epoch():
    schedule = MultiStep(lr=0.1, milestones=[10, 20, 30], gamma=0.5)
    reference = torch_rates(
        lambda opt: torch.optim.lr_scheduler.MultiStepLR(opt, [10, 20, 30], gamma=0.5),
        0.1,
        45,
    )
    for epoch, rate in enumerate(reference):
        assert schedule(epoch) == pytest.approx(rate, rel=1e-15)
    for t in np.linspace(0, 45, 181):
        passed = sum(m <= t for m in (10, 20, 30))
        assert schedule(t) == 0.1 * 0.5**passed
    # at a milestone the new value already applies
    assert schedule(9.999) == 0.1
    assert schedule(10) == 0.05
    assert schedule(1000) == 0.1 * 0.5**3


def test_multistep_accepts_fractional_milestones_and_growth():
    schedule = MultiStep(lr=1.0, milestones=[0.5, 2.25], gamma=3.0)
    assert [schedule(t) for t in (0, 0.5, 2.0, 2.25)] == [1.0, 3.0, 3.0, 9.0]


def test_cosine_annealing_equals_closed_form_and_pytorch_within_the_period():
    schedule = CosineAnnealing(lr_max=0.1, lr_min=0.01, period=50)
    reference = torch_rates(
        lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(
            opt, T_max=50, eta_min=0.01
        ),
        0.1,
        51,
    )
    for epoch, rate in enumerate(reference):
        assert schedule(epoch) == pytest.approx(rate, rel=1e-12)
        assert schedule(epoch) == pytest.approx(
            cosine(0.1, 0.01, epoch / 50), rel=1e-14
        )
    for t in np.linspace(0, 50, 333):
        assert schedule(t) == pytest.approx(cosine(0.1, 0.01, t / 50), rel=1e-14)
    assert schedule(0) == 0.1
    assert schedule(25) == pytest.approx(0.055, rel=1e-14)


def test_cosine_annealing_stays_at_lr_min_after_the_period():
    schedule = CosineAnnealing(lr_max=0.1, lr_min=0.01, period=50)
    assert [schedule(t) for t in (50, 50.5, 75, 100, 1e5)] == [0.01] * 5


@pytest.mark.parametrize(
    ("period", "mult", "epochs"), [(7, 1, 40), (10, 2, 160), (1, 3, 130)]
)
def test_warm_restarts_equal_pytorch_at_every_epoch(period, mult, epochs):
    schedule = CosineWarmRestarts(
        lr_max=0.1, lr_min=0.01, period=period, period_mult=mult
    )
    reference = torch_rates(
        lambda opt: torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            opt, T_0=period, T_mult=mult, eta_min=0.01
        ),
        0.1,
        epochs,
    )
    for epoch, rate in enumerate(reference):
        assert schedule(epoch) == pytest.approx(rate, rel=1e-12, abs=1e-15)


def test_warm_restarts_equal_pytorch_at_fractional_epochs():
    schedule = CosineWarmRestarts(lr_max=0.1, lr_min=0.01, period=10, period_mult=2)
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=0.1)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        optimizer, T_0=10, T_mult=2, eta_min=0.01
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for t in np.arange(0.25, 150, 0.5):
            optimizer.step()
            scheduler.step(t)
            assert schedule(t) == pytest.approx(
                optimizer.param_groups[0]["lr"], rel=1e-12
            )


def test_integer_factor_restart_where_a_plain_logarithm_rounds_down():
    # log(243) / log(3) = 4.999...: a bare ⌊log⌋ would put t = 121 (the start
    # of cycle 5) at the very end of cycle 4, at lr_min.
    assert math.floor(math.log(243) / math.log(3)) == 4
    schedule = CosineWarmRestarts(lr_max=0.1, lr_min=0.01, period=1, period_mult=3)
    assert schedule.cycle(121) == 5
    assert schedule(121) == 0.1


def test_just_before_a_restart_where_a_plain_logarithm_rounds_up():
    # One ulp before S_1 = 0.3 the logarithm already reads 1.0: that time
    # still belongs to the end of cycle 0, at lr_min.
    schedule = CosineWarmRestarts(lr_max=0.1, lr_min=0.01, period=0.3, period_mult=1.1)
    t = math.nextafter(0.3, 0.0)
    assert math.floor(math.log1p(t * (1.1 - 1) / 0.3) / math.log(1.1)) == 1
    assert schedule.cycle(t) == 0
    assert schedule(t) == pytest.approx(0.01, abs=1e-15)
    assert schedule(0.3) == 0.1


# ------------------------------------------------------- real cycle factors
def restarts_by_accumulation(period, mult, horizon):
    """Cycle starts found by adding up cycle lengths T m^i one by one."""
    starts, start, length = [], 0.0, float(period)
    while start < horizon:
        starts.append(start)
        start += length
        length *= mult
    return starts


def test_real_factor_restarts_where_the_closed_form_says():
    schedule = CosineWarmRestarts(lr_max=0.1, lr_min=0.01, period=4, period_mult=1.5)
    expected = [0.0, 4.0, 10.0, 19.0, 32.5, 52.75, 83.125]
    assert [schedule.cycle_start(i) for i in range(7)] == pytest.approx(expected)
    assert restarts_by_accumulation(4, 1.5, 90) == pytest.approx(expected)
    for index, start in enumerate(expected):
        assert schedule.cycle(start) == index
        assert schedule(start) == 0.1
        if index:
            assert schedule.cycle(start - 1e-9) == index - 1
            assert schedule(start - 1e-9) == pytest.approx(0.01, abs=1e-12)
    # halfway through cycle 3 (19 → 32.5) the cosine is at its midpoint
    assert schedule(25.75) == pytest.approx(0.055, rel=1e-14)


@given(
    period=st.floats(0.5, 20),
    mult=st.floats(1.0, 3.0),
    fraction=st.floats(0.0, 1.0),
    cycle=st.integers(0, 6),
)
def test_real_factor_matches_cycle_by_cycle_construction(period, mult, fraction, cycle):
    schedule = CosineWarmRestarts(
        lr_max=1.0, lr_min=0.1, period=period, period_mult=mult
    )
    starts = restarts_by_accumulation(period, mult, period * 2000)[: cycle + 2]
    length = period * mult**cycle
    # stay a hair inside the cycle: starts found two ways agree to rounding only
    fraction = min(max(fraction, 1e-9), 1 - 1e-9)
    t = starts[cycle] + fraction * length
    assert schedule.cycle(t) == cycle
    assert schedule(t) == pytest.approx(cosine(1.0, 0.1, fraction), rel=1e-9, abs=1e-12)
    assert 0.1 <= schedule(t) <= 1.0


def test_period_mult_one_is_periodic():
    schedule = CosineWarmRestarts(lr_max=0.1, lr_min=0.0, period=2.5)
    for t in np.linspace(0, 2.5, 11, endpoint=False):
        values = [schedule(t + k * 2.5) for k in range(5)]
        assert values == pytest.approx([values[0]] * 5, rel=1e-12, abs=1e-15)


# -------------------------------------------------------------------- warm-up
def test_warmup_ramps_linearly_then_runs_the_schedule_from_its_start():
    inner = MultiStep(lr=0.2, milestones=[10], gamma=0.1)
    schedule = Warmup(inner, epochs=4)
    assert schedule(0) == 0.0
    assert schedule(1) == pytest.approx(0.05)
    assert schedule(3) == pytest.approx(0.15)
    assert schedule(4) == 0.2
    assert schedule(13.99) == 0.2  # the milestone counts from the end of warm-up
    assert schedule(14) == pytest.approx(0.02)

    started = Warmup(CosineAnnealing(0.1, 0.0, 10), epochs=2, start_factor=0.5)
    assert started(0) == pytest.approx(0.05)
    assert started(1) == pytest.approx(0.075)
    assert started(7) == pytest.approx(cosine(0.1, 0.0, 0.5))


# ------------------------------------------------------- general properties
ALL = [
    Constant(0.1),
    MultiStep(0.1, [3, 7.5], 0.5),
    CosineAnnealing(0.1, 0.001, 12),
    CosineWarmRestarts(0.1, 0.001, 3, 1.7),
    Warmup(CosineWarmRestarts(0.1, 0.001, 3, 2.0), 2.5),
]


@pytest.mark.parametrize("schedule", ALL, ids=repr)
def test_no_hidden_state_any_order_gives_the_same_values(schedule):
    times = np.linspace(0, 30, 121)
    forward = [schedule(t) for t in times]
    order = np.random.default_rng(0).permutation(len(times))
    shuffled = {int(i): schedule(times[i]) for i in order}
    assert [shuffled[i] for i in range(len(times))] == forward
    assert [schedule(t) for t in times] == forward


def test_reprs_are_readable():
    assert repr(MultiStep(0.1, [10, 20, 30], 0.5)) == (
        "MultiStep(lr=0.1, milestones=[10, 20, 30], gamma=0.5)"
    )
    assert repr(CosineWarmRestarts(0.1, 0.01, 10, 2.0)) == (
        "CosineWarmRestarts(lr_max=0.1, lr_min=0.01, period=10.0, period_mult=2.0)"
    )
    assert repr(Warmup(Constant(0.1), 5)) == (
        "Warmup(schedule=Constant(lr=0.1), epochs=5.0, start_factor=0.0)"
    )


def test_plot_schedule_returns_a_figure_of_the_values():
    schedule = MultiStep(0.1, [10, 20], 0.5)
    figure = plot_schedule(schedule, 30)
    assert isinstance(figure, Figure)
    (line,) = figure.axes[0].get_lines()
    times, rates = line.get_data()
    assert times[0] == 0 and times[-1] == 30
    assert list(rates) == [schedule(t) for t in times]

    other = Figure()
    ax = other.add_subplot()
    assert plot_schedule(CosineAnnealing(0.1, 0.0, 5), 5, ax=ax, points=11) is other
    assert len(ax.get_lines()) == 1


def test_schedules_module_imports_only_the_shared_checks_from_trainlab():
    tree = ast.parse(Path(schedules.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    from_trainlab = {name for name in imported if name.startswith("trainlab")}
    assert from_trainlab <= {"trainlab._checks"}


# ----------------------------------------------------------- bad arguments
BAD = [
    (lambda: Constant(-0.1), ValueError, r"lr must be >= 0, received -0\.1"),
    (lambda: MultiStep(-1, [1], 0.5), ValueError, r"lr must be >= 0, received -1"),
    (
        lambda: MultiStep(0.1, [10, 10], 0.5),
        ValueError,
        r"milestones must be strictly increasing, received \[10, 10\]",
    ),
    (
        lambda: MultiStep(0.1, [20, 10], 0.5),
        ValueError,
        r"milestones must be strictly increasing, received \[20, 10\]",
    ),
    (
        lambda: MultiStep(0.1, [-1, 10], 0.5),
        ValueError,
        r"milestones\[0\] must be >= 0, received -1",
    ),
    (lambda: MultiStep(0.1, 10, 0.5), TypeError, r"milestones must be a sequence"),
    (lambda: MultiStep(0.1, [10], 0), ValueError, r"gamma must be > 0, received 0"),
    (
        lambda: MultiStep(0.1, [10], -0.5),
        ValueError,
        r"gamma must be > 0, received -0\.5",
    ),
    (
        lambda: CosineAnnealing(0.1, 0.2, 10),
        ValueError,
        r"lr_min must be <= lr_max, received lr_min=0\.2, lr_max=0\.1",
    ),
    (
        lambda: CosineWarmRestarts(0.1, 0.2, 10),
        ValueError,
        r"lr_min must be <= lr_max, received lr_min=0\.2, lr_max=0\.1",
    ),
    (
        lambda: CosineAnnealing(0.1, 0.0, 0),
        ValueError,
        r"period must be > 0, received 0",
    ),
    (
        lambda: CosineWarmRestarts(0.1, 0.0, -5),
        ValueError,
        r"period must be > 0, received -5",
    ),
    (
        lambda: CosineWarmRestarts(0.1, 0.0, 5, period_mult=0.5),
        ValueError,
        r"period_mult must be >= 1, received 0\.5",
    ),
    (lambda: CosineAnnealing(0.1, -0.01, 5), ValueError, r"lr_min must be >= 0"),
    (lambda: Warmup(0.1, 5), TypeError, r"schedule must be callable"),
    (lambda: Warmup(Constant(0.1), 0), ValueError, r"epochs must be > 0, received 0"),
    (
        lambda: Warmup(Constant(0.1), 5, start_factor=2),
        ValueError,
        r"start_factor must lie in \[0, 1\], received 2",
    ),
    (lambda: Constant(0.1)(-1), ValueError, r"t must be >= 0, received -1"),
    (lambda: Constant(0.1)(float("inf")), ValueError, r"t must be a finite number"),
    (lambda: Constant(0.1)("3"), TypeError, r"t must be a real number, received '3'"),
    (lambda: plot_schedule(Constant(0.1), 0), ValueError, r"epochs must be > 0"),
]


@pytest.mark.parametrize(("build", "error", "message"), BAD)
def test_bad_arguments_are_refused(build, error, message):
    with pytest.raises(error, match=message):
        build()
