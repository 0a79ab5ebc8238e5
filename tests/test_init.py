"""Initializers: variance rules on a 400x900 weight, bounds, seeds, bad input.

A sample variance of M = 360 000 i.i.d. entries has relative standard error
√(2/M) ≈ 0.24% for a normal and √(0.8/M) ≈ 0.15% for a uniform, so the 2%
tolerance is more than 8 standard errors wide.
"""

import math

import numpy as np
import pytest

import trainlab as tl
from trainlab import init

FAN_IN, FAN_OUT = 400, 900

RULES = {
    "lecun_normal_": (init.lecun_normal_, 1 / FAN_IN),
    "xavier_normal_": (init.xavier_normal_, 2 / (FAN_IN + FAN_OUT)),
    "xavier_uniform_": (init.xavier_uniform_, 2 / (FAN_IN + FAN_OUT)),
    "he_normal_": (init.he_normal_, 2 / FAN_IN),
    "he_uniform_": (init.he_uniform_, 2 / FAN_IN),
}


@pytest.mark.parametrize("name", sorted(RULES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_variance_rule(name, dtype):
    initializer, variance = RULES[name]
    weight = np.empty((FAN_IN, FAN_OUT), dtype)
    assert initializer(weight, rng=0) is weight
    assert weight.dtype == dtype
    assert abs(weight.var() / variance - 1) < 0.02
    assert abs(weight.mean()) < 5 * math.sqrt(variance / weight.size)


@pytest.mark.parametrize("mult", [0.25, 1.0, 3.0])
def test_he_mult_scales_the_variance(mult):
    for initializer in (init.he_normal_, init.he_uniform_):
        weight = initializer(np.empty((FAN_IN, FAN_OUT)), mult=mult, rng=1)
        assert abs(weight.var() / (mult * 2 / FAN_IN) - 1) < 0.02
        plain = initializer(np.empty((FAN_IN, FAN_OUT)), rng=1)
        # the same draws, scaled by √mult
        np.testing.assert_allclose(
            weight, math.sqrt(mult) * plain, rtol=1e-12, atol=1e-15
        )


def test_uniform_bounds_are_respected():
    cases = [
        (init.xavier_uniform_, {}, math.sqrt(6 / (FAN_IN + FAN_OUT))),
        (init.he_uniform_, {}, math.sqrt(6 / FAN_IN)),
        (init.he_uniform_, {"mult": 2.0}, math.sqrt(12 / FAN_IN)),
    ]
    for initializer, kwargs, bound in cases:
        weight = initializer(np.empty((FAN_IN, FAN_OUT)), rng=2, **kwargs)
        assert weight.min() >= -bound and weight.max() <= bound
        # the sample reaches close to both bounds
        assert weight.min() < -0.999 * bound and weight.max() > 0.999 * bound
    weight = init.uniform_(np.empty((FAN_IN, FAN_OUT), np.float32), -0.5, 2.0, rng=3)
    assert weight.min() >= -0.5 and weight.max() <= 2.0
    assert abs(weight.var() / (2.5**2 / 12) - 1) < 0.02
    assert abs(weight.mean() - 0.75) < 5 * math.sqrt(2.5**2 / 12 / weight.size)


def test_normal_with_mean_and_std():
    weight = init.normal_(np.empty((FAN_IN, FAN_OUT)), std=0.3, mean=1.5, rng=4)
    assert abs(weight.var() / 0.09 - 1) < 0.02
    assert abs(weight.mean() - 1.5) < 5 * 0.3 / math.sqrt(weight.size)


def test_same_seed_same_values_and_generators_advance():
    first = init.he_normal_(np.empty((30, 20)), rng=5)
    second = init.he_normal_(np.empty((30, 20)), rng=5)
    np.testing.assert_array_equal(first, second)
    generator = np.random.default_rng(5)
    third = init.he_normal_(np.empty((30, 20)), rng=generator)
    fourth = init.he_normal_(np.empty((30, 20)), rng=generator)
    np.testing.assert_array_equal(first, third)
    assert not np.array_equal(third, fourth)


def test_in_place_on_parameter_tensor_and_ndarray():
    parameter = tl.nn.Parameter(np.zeros((6, 4), np.float32))
    array = parameter.data
    assert init.xavier_normal_(parameter, rng=0) is parameter
    assert parameter.data is array and parameter.dtype == np.float32
    assert np.all(array != 0)
    tensor = tl.tensor(np.zeros((6, 4)))
    init.lecun_normal_(tensor, rng=0)
    assert np.all(tensor.data != 0)
    view = np.zeros((8, 4))[::2]
    init.he_uniform_(view, rng=0)
    assert np.all(view != 0)


def test_zeros_and_constant():
    weight = np.ones((3, 2), np.float32)
    assert init.zeros_(weight) is weight and not weight.any()
    init.constant_(weight, 0.25)
    np.testing.assert_array_equal(weight, np.full((3, 2), 0.25, np.float32))
    bias = tl.nn.Parameter(np.ones(5), decay=False)
    init.zeros_(bias)
    assert not bias.data.any()


def test_fans_follow_the_in_out_layout():
    assert init.fans(np.empty((3, 7))) == (3, 7)
    layer = tl.nn.Linear(3, 7)
    assert init.fans(layer.weight) == (3, 7)


def test_as_generator():
    generator = np.random.default_rng(0)
    assert init.as_generator(generator) is generator
    assert isinstance(init.as_generator(None), np.random.Generator)
    assert init.as_generator(3).random() == np.random.default_rng(3).random()
    with pytest.raises(TypeError, match="rng must be an np.random.Generator.*str"):
        init.as_generator("3")
    with pytest.raises(ValueError, match="rng seed must be non-negative"):
        init.as_generator(-1)


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", sorted(RULES))
def test_fan_initializers_refuse_1d_arrays(name):
    initializer, _ = RULES[name]
    with pytest.raises(ValueError, match=r"w must be a 2-D weight.*shape \(5,\)"):
        initializer(np.empty(5), rng=0)


@pytest.mark.parametrize("mult", [0, -1.0, math.nan, math.inf])
def test_he_refuses_non_positive_mult(mult):
    for initializer in (init.he_normal_, init.he_uniform_):
        with pytest.raises(ValueError, match="mult must be a positive number"):
            initializer(np.empty((3, 3)), mult=mult, rng=0)


def test_other_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="std must be a non-negative"):
        init.normal_(np.empty((2, 2)), std=-1.0)
    with pytest.raises(ValueError, match="low < high.*low=1.0, high=1.0"):
        init.uniform_(np.empty((2, 2)), 1.0, 1.0)
    with pytest.raises(TypeError, match="w must hold floating-point values.*int64"):
        init.zeros_(np.zeros((2, 2), np.int64))
    with pytest.raises(
        TypeError, match="w must be a Parameter, Tensor or ndarray.*list"
    ):
        init.zeros_([[0.0]])


@pytest.mark.parametrize(
    "value", [np.float32(0.1), np.float64(0.1), np.int64(2), 0.1, 2]
)
def test_normal_and_uniform_accept_numpy_and_python_reals(value):
    w = np.empty((200, 50), np.float32)
    init.normal_(w, std=value, mean=value, rng=0)
    assert w.dtype == np.float32 and np.isfinite(w).all()
    assert abs(w.mean() - float(value)) < 0.1 * float(value) + 0.01
    init.uniform_(w, -value, value, rng=0)
    assert w.min() >= -float(value) and w.max() <= float(value)
    assert w.min() < 0 < w.max()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda w: init.normal_(w, std=math.inf), r"std must be a finite.*inf"),
        (lambda w: init.normal_(w, std=math.nan), r"std must be a finite.*nan"),
        (lambda w: init.normal_(w, mean=-math.inf), r"mean must be a finite.*inf"),
        (lambda w: init.normal_(w, std=1e300), r"std must be a finite.*float32"),
        (lambda w: init.uniform_(w, 0, math.inf), r"high must be a finite.*inf"),
        (lambda w: init.uniform_(w, math.nan, 1), r"low must be a finite.*nan"),
        (lambda w: init.uniform_(w, -3e38, 3e38), r"high - low must be a finite"),
        (lambda w: init.normal_(w, std=-0.5), r"std must be a non-negative.*-0.5"),
    ],
)
def test_normal_and_uniform_refuse_non_finite_values(call, match):
    w = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match=match):
        call(w)
    assert (w == 0).all()


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda w: init.uniform_(w, "a", "b"), r"low must be a real number.*str 'a'"),
        (lambda w: init.uniform_(w, 0, None), r"high must be a real number.*None"),
        (lambda w: init.normal_(w, mean="x"), r"mean must be a real number.*str 'x'"),
        (lambda w: init.normal_(w, std=True), r"std must be a real number.*bool"),
        (lambda w: init.normal_(w, std=1j), r"std must be a real number.*complex"),
    ],
)
def test_normal_and_uniform_refuse_non_real_types(call, match):
    w = np.zeros((2, 2))
    with pytest.raises(TypeError, match=match):
        call(w)
    assert (w == 0).all()
