"""The registry: names in the lecture's order, lazy imports, parameter checks."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

import trainlab as tl
from trainlab.lab import registry
from trainlab.lab.common import Experiment

LECTURE_ORDER = [
    "preprocessing",
    "sgd-landscape",
    "learning-rate",
    "batch-size",
    "momentum",
    "nesterov",
    "adaptive",
    "init-depth",
    "symmetry",
    "batchnorm",
    "weight-decay",
    "dropout",
    "schedules",
    "gradient-noise",
    "lr-range",
]


def test_fifteen_names_in_the_lecture_order():
    assert registry.list_experiments() == LECTURE_ORDER
    assert tl.lab.list_experiments() == LECTURE_ORDER


def test_listing_imports_no_experiment_module():
    code = (
        "import json, sys, trainlab.lab as lab; lab.list_experiments(); "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.startswith('trainlab.lab.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = json.loads(out)
    assert loaded == [
        "trainlab.lab.common",
        "trainlab.lab.registry",
        "trainlab.lab.report",
    ]


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown experiment 'moment'; valid names: "):
        registry.get("moment")
    with pytest.raises(ValueError, match="preprocessing, sgd-landscape, "):
        registry.run("nope")


def test_a_missing_module_is_still_listed_and_refused_clearly(monkeypatch):
    monkeypatch.setitem(registry.MODULES, "not-built", "not_built_yet")
    assert "not-built" in registry.list_experiments()
    assert not registry.is_available("not-built")
    with pytest.raises(ModuleNotFoundError, match="not_built_yet"):
        registry.get("not-built")
    assert registry.is_available("momentum")


@pytest.mark.parametrize("name", LECTURE_ORDER[:7])
def test_each_optimization_experiment_is_complete(name):
    experiment = registry.get(name)
    assert experiment.name == name
    assert experiment.description and experiment.claim and experiment.formula
    assert not experiment.beyond_lecture
    assert set(experiment.defaults) <= set(
        experiment.run.__code__.co_varnames[: experiment.run.__code__.co_argcount]
    )


def test_run_from_python_overrides_a_default():
    result = tl.lab.run("momentum", momentum=0.9, steps=20)
    assert result.momentums == (0.0, 0.9)
    assert len(result.paths[1]) == 21


def test_execute_keeps_params_findings_and_time():
    lab_run = registry.execute("nesterov", seed=3, steps="40")
    assert lab_run.params["steps"] == 40
    assert lab_run.params["lr"] == registry.get("nesterov").defaults["lr"]
    assert lab_run.seed == 3
    assert lab_run.findings and lab_run.seconds >= 0


def test_unknown_parameter_lists_the_valid_keys():
    with pytest.raises(
        ValueError,
        match=r"unknown parameter lr_max for experiment 'nesterov'; valid "
        r"parameters \(with defaults\): curvatures=1.0,10.0, ",
    ):
        registry.run("nesterov", lr_max=0.1)


@pytest.mark.parametrize(
    ("key", "text", "expected"),
    [
        ("steps", "25", 25),
        ("lr", "0.2", 0.2),
        ("lr", "1e-2", 0.01),
        ("lr", "1", 1.0),
        ("curvatures", "2,20", (2.0, 20.0)),
        ("curvatures", " 2, 20 ", (2.0, 20.0)),
        ("start", "-1.5,0", (-1.5, 0.0)),
    ],
)
def test_strings_are_converted_by_the_default_type(key, text, expected):
    params = registry.resolve_params("nesterov", {key: text})
    assert params[key] == expected
    assert type(params[key]) is type(expected)


def test_python_values_are_converted_too():
    params = registry.resolve_params(
        "adaptive", {"steps": 30.0, "adam_lr": 1, "start": np.array([1.0, 2.0])}
    )
    assert params["steps"] == 30 and isinstance(params["steps"], int)
    assert params["adam_lr"] == 1.0 and isinstance(params["adam_lr"], float)
    assert params["start"] == (1.0, 2.0)


def test_int_tuples_stay_int():
    params = registry.resolve_params("batch-size", {"batch_sizes": "1,10,50"})
    assert params["batch_sizes"] == (1, 10, 50)


@pytest.mark.parametrize(
    ("key", "value", "error", "match"),
    [
        ("steps", "many", ValueError, r"steps expects int, received 'many'"),
        ("steps", "2.5", ValueError, r"steps expects int, received '2.5'"),
        ("steps", 2.5, ValueError, r"steps expects int, received 2.5"),
        ("steps", True, TypeError, r"steps expects int, received True"),
        ("lr", "fast", ValueError, r"lr expects float, received 'fast'"),
        ("lr", [0.1], TypeError, r"lr expects float, received \[0.1\]"),
        ("lr", "nan", ValueError, r"lr expects a finite float, received 'nan'"),
        (
            "curvatures",
            "1,x",
            ValueError,
            r"curvatures expects comma-separated list of float, received '1,x'",
        ),
        ("curvatures", 3.0, TypeError, r"curvatures expects comma-separated list"),
    ],
)
def test_wrong_types_name_key_expectation_and_value(key, value, error, match):
    with pytest.raises(error, match=match):
        registry.resolve_params("nesterov", {key: value})


def test_booleans_and_strings_are_checked():
    assert registry._coerce("flag", True, "yes") is True
    assert registry._coerce("flag", True, "off") is False
    with pytest.raises(ValueError, match=r"flag expects bool \(true or false\)"):
        registry._coerce("flag", True, "maybe")
    with pytest.raises(TypeError, match="flag expects bool"):
        registry._coerce("flag", True, 1)
    assert registry._coerce("name", "relu", "tanh") == "tanh"
    with pytest.raises(TypeError, match="name expects str, received 3"):
        registry._coerce("name", "relu", 3)


def test_seed_is_checked():
    with pytest.raises(TypeError, match="seed must be an int, received 1.5"):
        registry.run("nesterov", seed=1.5)
    with pytest.raises(ValueError, match="seed must be >= 0, received -1"):
        registry.execute("nesterov", seed=-1)


def test_format_value_round_trips_through_resolve():
    defaults = registry.get("adaptive").defaults
    for key, value in defaults.items():
        text = registry.format_value(value)
        assert registry.resolve_params("adaptive", {key: text})[key] == value


@pytest.mark.parametrize("name", LECTURE_ORDER)
def test_every_experiment_checks_its_settings_and_accepts_its_defaults(name):
    experiment = registry.get(name)
    assert experiment.check is not Experiment.check  # a check of its own
    assert registry.resolve_params(name) == experiment.defaults
    int_keys = [
        key
        for key, value in experiment.defaults.items()
        if isinstance(value, int) and not isinstance(value, bool)
    ]
    if int_keys:  # every int setting has a lower bound (at least 1 or 2)
        with pytest.raises(ValueError, match=f"{int_keys[0]} must be"):
            registry.resolve_params(name, {int_keys[0]: -1})


def test_values_out_of_range_are_refused_before_anything_runs(monkeypatch):
    real_get = registry.get

    def must_not_run(**_params):
        raise AssertionError("the experiment ran")

    monkeypatch.setattr(
        registry,
        "get",
        lambda name: dataclasses.replace(real_get(name), run=must_not_run),
    )
    with pytest.raises(ValueError, match=r"momentum must be in \(0, 1\), received 1.5"):
        registry.resolve_params("momentum", {"momentum": "1.5"})
    with pytest.raises(ValueError, match=r"momentum must be in \(0, 1\), received 1.5"):
        registry.execute("momentum", momentum=1.5)
    with pytest.raises(ValueError, match=r"drop_probabilities\[1\] must be in \(0, 1"):
        registry.run("dropout", drop_probabilities="0.5,1")
