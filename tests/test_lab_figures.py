"""Every lab figure, drawn: no text outside the figure, nothing written over
another panel, a suptitle clear of the panels, units on every axis label.

Experiments run at a reduced size (the layout does not depend on it); the
figures are drawn without rendering pixels, which is enough to measure where
every piece of text lands.
"""

from __future__ import annotations

import itertools

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.transforms import Bbox

from trainlab.lab import registry

SMALL = {
    "preprocessing": {"n": 200},
    "sgd-landscape": {},
    "learning-rate": {"steps": 40},
    "batch-size": {"steps": 40},
    "momentum": {"steps": 40},
    "nesterov": {},
    "adaptive": {},
    "init-depth": {"width": 64, "n_samples": 50},
    "symmetry": {"n": 60, "epochs": 3},
    "batchnorm": {"depth": 3, "width": 16, "epochs": 1},
    "weight-decay": {"epochs": 30, "n_test": 500, "grid": 20},
    "dropout": {"epochs": 30, "n_test": 500, "grid": 20},
    "schedules": {"epochs": 12, "n": 60},
    "gradient-noise": {"n": 200, "draws": 20, "batch_sizes": (1, 4, 16, 64)},
    "lr-range": {"epochs": 1, "check_epochs": 1},
}

TOLERANCE = 1.0  # pixels


def _overlap(a: Bbox, b: Bbox) -> bool:
    width = min(a.x1, b.x1) - max(a.x0, b.x0)
    height = min(a.y1, b.y1) - max(a.y0, b.y0)
    return width > TOLERANCE and height > TOLERANCE


def _texts(ax):
    """The text an axes draws around itself: titles, labels, tick labels."""
    texts = [ax.title, ax._left_title, ax._right_title]
    texts += [ax.xaxis.label, ax.yaxis.label]
    for axis in (ax.xaxis, ax.yaxis):
        # the ticks drawn: those inside the view limits
        for tick in axis._update_ticks():
            texts += [tick.label1, tick.label2]
    return [text for text in texts if text.get_visible() and text.get_text()]


def _boxes(texts, renderer):
    return [(text.get_text(), text.get_window_extent(renderer)) for text in texts]


@pytest.fixture(scope="module", params=list(SMALL))
def drawn(request):
    name = request.param
    lab_run = registry.execute(name, **SMALL[name])
    figure = lab_run.experiment.plot(lab_run.result)
    canvas = FigureCanvasAgg(figure)
    figure.draw_without_rendering()
    return name, figure, canvas.get_renderer()


def test_every_text_lies_inside_the_figure(drawn):
    name, figure, renderer = drawn
    page = figure.bbox
    texts = [figure._suptitle] if figure._suptitle else []
    for ax in figure.axes:
        texts += _texts(ax)
    boxes = _boxes(texts, renderer)
    boxes += [
        ("legend", legend.get_window_extent(renderer)) for legend in _legends(figure)
    ]
    for text, box in boxes:
        assert (
            box.x0 >= page.x0 - TOLERANCE
            and box.x1 <= page.x1 + TOLERANCE
            and box.y0 >= page.y0 - TOLERANCE
            and box.y1 <= page.y1 + TOLERANCE
        ), f"{name}: {text!r} is cut off at the edge of the figure"


def _legends(figure):
    legends = list(figure.legends)
    legends += [ax.get_legend() for ax in figure.axes if ax.get_legend()]
    return legends


def _panels(figure):
    """Axes grouped by position: an axes and its twin are one panel."""
    panels: dict = {}
    for ax in figure.axes:
        panels.setdefault(tuple(ax.get_position().bounds), []).append(ax)
    return list(panels.values())


def test_no_text_runs_into_another_panel(drawn):
    name, figure, renderer = drawn
    panels = _panels(figure)
    for first, second in itertools.permutations(panels, 2):
        area = second[0].get_window_extent(renderer)
        others = _boxes([t for ax in second for t in _texts(ax)], renderer)
        for text, box in _boxes([t for ax in first for t in _texts(ax)], renderer):
            assert not _overlap(box, area), f"{name}: {text!r} runs into a panel"
            for other, other_box in others:
                assert not _overlap(box, other_box), (
                    f"{name}: {text!r} overlaps {other!r}"
                )


def test_suptitle_and_figure_legends_are_clear_of_the_panels(drawn):
    name, figure, renderer = drawn
    assert figure._suptitle is not None and figure._suptitle.get_text()
    free = [("suptitle", figure._suptitle.get_window_extent(renderer))]
    free += [
        ("legend", legend.get_window_extent(renderer)) for legend in figure.legends
    ]
    for ax in figure.axes:
        boxes = [("panel", ax.get_window_extent(renderer))]
        boxes += _boxes(_texts(ax), renderer)
        for (what, box), (text, other) in itertools.product(free, boxes):
            assert not _overlap(box, other), f"{name}: the {what} overlaps {text!r}"


def test_every_axis_label_says_its_unit(drawn):
    name, figure, _ = drawn
    for ax in figure.axes:
        for axis in (ax.xaxis, ax.yaxis):
            label = axis.label.get_text()
            if not label or not ax.has_data():
                continue
            assert "(" in label or label.startswith(("epoch", "layer", "step")), (
                f"{name}: axis label {label!r} gives no unit"
            )
