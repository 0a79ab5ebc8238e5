"""The seven 2-D optimization experiments: each finding of the lecture, measured.

Sizes are reduced where the finding survives it; every experiment also runs
with its defaults once, since those are what the report shows.
"""

import numpy as np
import pytest
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

import trainlab as tl
from trainlab.lab import registry
from trainlab.lab.common import PALETTE

OPTIMIZATION = [
    "preprocessing",
    "sgd-landscape",
    "learning-rate",
    "batch-size",
    "momentum",
    "nesterov",
    "adaptive",
]


def _findings(name, seed=0, **params):
    return registry.execute(name, seed=seed, **params).findings


# ------------------------------------------------------------ preprocessing
@pytest.mark.parametrize("seed", [0, 1])
def test_standardizing_lowers_the_condition_number_and_the_steps(seed):
    found = _findings("preprocessing", seed=seed, n=200)
    kappa = {
        v: found[f"{v}: condition number κ of the Hessian"]
        for v in ("raw", "centered", "standardized")
    }
    steps = {v: found[f"{v}: GD steps until L − L* ≤ 0.001"] for v in kappa}
    assert kappa["raw"] > 3 * kappa["centered"] > 3 * kappa["standardized"]
    assert all(isinstance(s, int) for s in steps.values())
    assert steps["raw"] > 3 * steps["centered"] > 3 * steps["standardized"]
    assert steps["raw"] >= 20 * steps["standardized"]


def test_standardized_hessian_is_twice_the_sample_correlation_matrix():
    result = tl.lab.run("preprocessing", n=300, correlation=0.6, seed=2)
    loss = result.losses["standardized"]
    r = np.corrcoef(result.inputs["raw"].T)[0, 1]
    np.testing.assert_allclose(loss.hessian, 2 * np.array([[1, r], [r, 1]]))
    assert loss.condition_number == pytest.approx((1 + r) / (1 - r))
    raw = result.inputs["raw"]
    np.testing.assert_allclose(result.losses["raw"].hessian, 2 * raw.T @ raw / 300)


def test_centering_without_a_far_mean_changes_little():
    found = _findings("preprocessing", n=200, mean=(0.0, 0.0))
    raw = found["raw: condition number κ of the Hessian"]
    centered = found["centered: condition number κ of the Hessian"]
    assert raw == pytest.approx(centered, rel=0.1)


# ------------------------------------------------------------ sgd-landscape
def test_sgd_sees_minibatch_losses_not_the_expected_loss():
    result = tl.lab.run("sgd-landscape", steps=30)
    found = registry.get("sgd-landscape").findings(result)
    assert found["expected loss after 30 steps"] < 0.1 * found["expected loss at start"]
    # the noise floor σ² is never beaten in expectation
    assert min(result.expected_losses) >= found["noise floor σ² (lowest expected loss)"]
    # minibatch gradients point roughly the right way, but not exactly...
    assert 5 < found["mean angle, minibatch vs expected gradient (deg)"] < 90
    # ...and some steps go uphill on the expected loss
    assert found["steps that raised the expected loss"] >= 1
    # each minibatch bowl has its own centre, away from w₀
    assert found["mean distance of minibatch minima from w₀"] > 0.2


def test_each_sgd_step_is_the_minibatch_gradient_step():
    result = tl.lab.run("sgd-landscape", steps=6, panels=6, lr=0.05)
    for t, batch_loss in enumerate(result.batch_losses):
        step = result.path[t + 1] - result.path[t]
        np.testing.assert_allclose(
            step, -0.05 * batch_loss.gradient(result.path[t]), rtol=1e-9
        )


# ------------------------------------------------------------ learning-rate
def test_small_learning_rate_crawls_large_one_arrives_and_jitters():
    found = _findings("learning-rate", steps=100)
    assert found["η=0.01: steps until L_D − σ² ≤ 0.1"] == "not within 100"
    assert found["η=0.1: steps until L_D − σ² ≤ 0.1"] <= 30
    assert found["η=0.1: final L_D − σ²"] < 0.2 * found["η=0.01: final L_D − σ²"]
    assert (
        found["η=0.1: mean step length, last 20 steps"]
        > 2 * found["η=0.01: mean step length, last 20 steps"]
    )


# --------------------------------------------------------------- batch-size
@pytest.mark.parametrize("seed", [0, 1])
def test_one_sample_batches_wander_hundred_sample_batches_follow_gd(seed):
    found = _findings("batch-size", seed=seed, steps=60)
    far_1 = found["|B|=1: RMS distance from the gradient-descent path"]
    far_100 = found["|B|=100: RMS distance from the gradient-descent path"]
    assert far_1 > 5 * far_100
    loss_1 = found["|B|=1: mean L_D − σ², second half"]
    loss_100 = found["|B|=100: mean L_D − σ², second half"]
    assert loss_1 > 5 * loss_100
    assert found["|B|=1: samples used"] == 60
    assert found["|B|=100: samples used"] == 6000


# ----------------------------------------------------------------- momentum
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_momentum_gives_a_smoother_path(seed):
    found = _findings("momentum", seed=seed, steps=60)
    assert (
        found["μ = 0.5: mean turning per step (deg)"]
        < 0.85 * found["no momentum: mean turning per step (deg)"]
    )
    assert (
        found["μ = 0.5: mean cosine of consecutive steps"]
        > found["no momentum: mean cosine of consecutive steps"] + 0.15
    )
    assert (
        found["μ = 0.5: steps until L_D − σ² ≤ 0.1"]
        <= found["no momentum: steps until L_D − σ² ≤ 0.1"]
    )


# ----------------------------------------------------------------- nesterov
def test_nesterov_path_to_the_tolerance_is_shorter_than_momentum():
    found = _findings("nesterov")
    momentum_length = found["momentum: path length until then"]
    nesterov_length = found["Nesterov: path length until then"]
    straight = found["straight-line distance start → θ*"]
    assert straight < nesterov_length < 0.7 * momentum_length
    assert (
        found["Nesterov: steps until ‖θ − θ*‖ ≤ 0.05"]
        < found["momentum: steps until ‖θ − θ*‖ ≤ 0.05"]
    )
    assert (
        found["Nesterov: total turning until then (deg)"]
        < 0.5 * found["momentum: total turning until then (deg)"]
    )


def test_nesterov_plots_theta_not_the_look_ahead_point():
    result = tl.lab.run("nesterov", steps=3)
    quadratic, lr, mu = result.quadratic, 0.05, 0.9
    theta, velocity = np.array([-4.0, 1.5]), np.zeros(2)
    for t in range(3):
        velocity = mu * velocity - lr * quadratic.gradient(theta + mu * velocity)
        theta = theta + velocity
        np.testing.assert_allclose(result.nesterov_path[t + 1], theta, rtol=1e-10)


# ----------------------------------------------------------------- adaptive
def test_adaptive_methods_reach_the_minimum_sgd_does_not():
    found = _findings("adaptive", steps=120)
    assert found["SGD: steps until ‖θ − θ*‖ ≤ 0.1"] == "not within 120"
    for name in ("Adagrad", "RMSprop", "Adam"):
        assert isinstance(found[f"{name}: steps until ‖θ − θ*‖ ≤ 0.1"], int)
        assert found[f"{name}: final ‖θ − θ*‖"] < 0.02
        assert (
            found[f"{name}: final L(θ) − L(θ*)"]
            < 0.01 * found["SGD: final L(θ) − L(θ*)"]
        )
    assert found["SGD's stability limit 2/h_max"] == pytest.approx(0.1)


def test_adaptive_advantage_fades_when_the_valley_is_turned():
    aligned = _findings("adaptive", steps=120)
    turned = _findings("adaptive", steps=120, rotation=45.0)
    assert turned["Adam: final ‖θ − θ*‖"] > 10 * aligned["Adam: final ‖θ − θ*‖"]


# ------------------------------------------------------------ shared checks
@pytest.mark.parametrize("name", OPTIMIZATION)
def test_defaults_run_and_plot_with_labelled_equal_scale_axes(name):
    lab_run = registry.execute(name)
    assert lab_run.findings
    for value in lab_run.findings.values():
        assert isinstance(value, int | float | str)
        if isinstance(value, float):
            assert np.isfinite(value)
    figure = lab_run.experiment.plot(lab_run.result)
    assert isinstance(figure, Figure)
    assert figure.get_suptitle()
    palette = {to_hex(c) for c in PALETTE}
    equal_scale = 0
    for ax in figure.axes:
        assert ax.get_title(), f"{name}: an axes without a title"
        assert ax.get_xlabel() and ax.get_ylabel()
        if ax.get_xlabel().startswith(("w₁", "θ₁", "feature")):
            # parameter space and scatter plots keep both axes on one scale
            assert ax.get_aspect() == 1.0
            equal_scale += 1
        for line in ax.get_lines():
            color = to_hex(line.get_color())
            assert color in palette or color in {"#000000", "#9a9a9a"}
    assert equal_scale >= 1
    assert any(ax.get_legend() is not None for ax in figure.axes)


def test_same_seed_same_paths():
    first = tl.lab.run("momentum", steps=30, seed=7)
    second = tl.lab.run("momentum", steps=30, seed=7)
    for a, b in zip(first.paths, second.paths, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("learning-rate", {"lrs": (0.1,) * 5}, "lrs must hold 1 to 4"),
        ("learning-rate", {"tol": 0.0}, "tol must be > 0"),
        ("batch-size", {"batch_sizes": (1, 1000)}, "batch_size must be in 1..n=500"),
        ("momentum", {"momentum": 1.0}, r"momentum must be in \(0, 1\)"),
        ("sgd-landscape", {"panels": 9}, r"panels must be in 1..min\(steps, 8\)"),
        ("sgd-landscape", {"cov": (1.0, 2.0, 1.0)}, "must give a positive definite"),
        ("preprocessing", {"correlation": 1.0}, r"correlation must be in \(-1, 1\)"),
        ("preprocessing", {"stds": (1.0, 0.0)}, r"stds\[1\] must be > 0"),
        ("momentum", {"lr": -0.1}, "lr must be > 0, received -0.1"),
        ("learning-rate", {"lrs": (0.1, 0.0)}, r"lrs\[1\] must be > 0"),
        ("batch-size", {"n": 1}, "n must be an int >= 2, received 1"),
        ("nesterov", {"curvatures": (0.0, 1.0)}, "curvatures must hold two"),
        ("adaptive", {"steps": 0}, "steps must be an int >= 1, received 0"),
        ("adaptive", {"adam_betas": (0.9, 1.0)}, r"betas\[1\]"),
    ],
)
def test_bad_settings_are_refused_with_a_clear_message(name, params, match):
    with pytest.raises(ValueError, match=match):
        registry.run(name, **params)
