"""The lab's 2-D helpers: quadratics, minibatch order, recorded paths, measures."""

import numpy as np
import pytest
from matplotlib.figure import Figure

import trainlab as tl
from trainlab.lab import paths


# --------------------------------------------------------------- quadratics
def test_quadratic_from_data_is_the_mean_squared_error():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    y = X @ np.array([0.5, -1.0]) + 0.1 * rng.normal(size=50)
    quadratic = paths.Quadratic.from_data(X, y)
    points = rng.normal(size=(7, 2))
    direct = np.mean((y[None, :] - points @ X.T) ** 2, axis=1)
    np.testing.assert_allclose(quadratic(points), direct, rtol=1e-12)
    np.testing.assert_allclose(quadratic.hessian, 2 * X.T @ X / 50, rtol=1e-12)
    np.testing.assert_allclose(
        quadratic.minimum, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-10
    )


def test_quadratic_gradient_matches_finite_differences_and_autograd():
    quadratic = paths.Quadratic(np.array([[2.0, 0.3], [0.3, 0.5]]), [1.0, -2.0], 0.7)
    theta = np.array([0.4, 0.9])
    h = 1e-6
    numeric = np.array(
        [
            (quadratic(theta + h * e) - quadratic(theta - h * e)) / (2 * h)
            for e in np.eye(2)
        ]
    )
    np.testing.assert_allclose(quadratic.gradient(theta), numeric, rtol=1e-6)

    parameter = tl.nn.Parameter(theta)
    loss = quadratic.loss(parameter)
    loss.backward()
    assert loss.item() == pytest.approx(quadratic(theta))
    np.testing.assert_allclose(parameter.grad, quadratic.gradient(theta), rtol=1e-12)


def test_valley_has_the_requested_curvatures_and_rotation():
    flat = paths.valley((1.0, 10.0))
    np.testing.assert_allclose(flat.hessian, np.diag([1.0, 10.0]))
    assert flat.condition_number == pytest.approx(10.0)
    assert flat.largest_curvature == pytest.approx(10.0)
    turned = paths.valley((1.0, 10.0), rotation=90.0)
    np.testing.assert_allclose(turned.hessian, np.diag([10.0, 1.0]), atol=1e-12)


def test_single_sample_loss_is_a_valley_with_infinite_condition_number():
    quadratic = paths.Quadratic.from_data(np.array([[1.0, 2.0]]), np.array([3.0]))
    assert quadratic.condition_number == float("inf")
    assert quadratic(quadratic.minimum) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize(
    ("matrix", "match"),
    [
        (np.eye(3), "matrix must have shape"),
        (np.array([[1.0, 2.0], [0.0, 1.0]]), "matrix must be symmetric"),
        (np.array([[1.0, 0.0], [0.0, -1.0]]), "positive semi-definite"),
    ],
)
def test_quadratic_refuses_bad_matrices(matrix, match):
    with pytest.raises(ValueError, match=match):
        paths.Quadratic(matrix, np.zeros(2))


def test_argument_checks_name_the_argument():
    with pytest.raises(ValueError, match=r"cov = \(Σ11, Σ12, Σ22\) must give"):
        paths.covariance((1.0, 2.0, 1.0))
    with pytest.raises(ValueError, match="cov must hold three numbers"):
        paths.covariance((1.0, 2.0))
    with pytest.raises(ValueError, match="start must hold two finite numbers"):
        paths.point((1.0, 2.0, 3.0), "start")
    with pytest.raises(ValueError, match="curvatures must hold two numbers > 0"):
        paths.valley((1.0, -1.0))
    with pytest.raises(ValueError, match="batch_size must be in 1..n=10"):
        paths.sgd_paths([{"lr": 0.1, "batch_size": 11}], steps=3, seed=0, n=10)


# --------------------------------------------------------------- minibatches
def test_index_batches_partition_each_epoch():
    batches = paths.index_batches(20, 5, 8, np.random.default_rng(0))
    assert len(batches) == 8
    for epoch in (batches[:4], batches[4:]):
        np.testing.assert_array_equal(np.sort(np.concatenate(epoch)), np.arange(20))
    assert not np.array_equal(np.concatenate(batches[:4]), np.concatenate(batches[4:]))


def test_index_batches_share_one_sample_order_across_batch_sizes():
    ones = paths.index_batches(20, 1, 20, np.random.default_rng(3))
    fives = paths.index_batches(20, 5, 4, np.random.default_rng(3))
    np.testing.assert_array_equal(np.concatenate(ones), np.concatenate(fives))


def test_sgd_paths_share_data_start_and_order():
    settings = [{"lr": 0.1, "batch_size": 10}, {"lr": 0.1, "batch_size": 10}]
    _, (first, second) = paths.sgd_paths(settings, steps=15, seed=4, n=100)
    np.testing.assert_array_equal(first, second)
    _, (other,) = paths.sgd_paths(settings[:1], steps=15, seed=5, n=100)
    assert not np.array_equal(first, other)


# -------------------------------------------------------------------- paths
def test_descend_takes_hand_computed_gradient_steps():
    quadratic = paths.valley((1.0, 4.0))
    path = paths.descend(
        [1.0, 1.0],
        lambda theta, _: quadratic.loss(theta),
        lambda params: tl.optim.SGD(params, lr=0.1),
        range(3),
    )
    # θ_{t+1} = θ_t − η H θ_t, H = diag(1, 4): factors 0.9 and 0.6 per step
    expected = np.array([[0.9**t, 0.6**t] for t in range(4)])
    np.testing.assert_allclose(path, expected, rtol=1e-12)


def test_descend_records_theta_not_the_nesterov_look_ahead_point():
    quadratic = paths.valley((1.0, 10.0))
    momentum, lr = 0.9, 0.05
    path = paths.descend(
        [-4.0, 1.5],
        lambda theta, _: quadratic.loss(theta),
        lambda params: tl.optim.SGD(params, lr=lr, momentum=momentum, nesterov=True),
        range(5),
    )
    # the lecture's Nesterov steps, written out
    theta, velocity = np.array([-4.0, 1.5]), np.zeros(2)
    expected = [theta]
    for _ in range(5):
        look_ahead = theta + momentum * velocity
        velocity = momentum * velocity - lr * quadratic.gradient(look_ahead)
        theta = theta + velocity
        expected.append(theta)
    np.testing.assert_allclose(path, np.array(expected), rtol=1e-10)


def test_descend_stops_when_asked():
    quadratic = paths.valley((1.0, 1.0))
    path = paths.descend(
        [1.0, 0.0],
        lambda theta, _: quadratic.loss(theta),
        lambda params: tl.optim.SGD(params, lr=0.5),
        range(100),
        until=lambda theta: theta[0] < 0.1,
    )
    # θ₁ halves every step: 1, 0.5, 0.25, 0.125, 0.0625
    assert len(path) == 5


def test_measures_of_a_path():
    straight = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    assert paths.path_length(straight) == pytest.approx(3.0)
    assert paths.turning_angle(straight) == pytest.approx(0.0)
    assert paths.mean_step_cosine(straight) == pytest.approx(1.0)
    zigzag = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0], [3.0, 1.0]])
    assert paths.turning_angle(zigzag) == pytest.approx(180.0)
    assert paths.mean_step_cosine(zigzag) == pytest.approx(0.0, abs=1e-12)
    corner = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    assert paths.turning_angle(corner) == pytest.approx(90.0)
    np.testing.assert_allclose(paths.turning_angles(zigzag), [90.0, 90.0])
    assert paths.steps_to_tolerance(straight, [3.0, 0.0], 1.5) == 2
    assert paths.steps_to_tolerance(straight, [9.0, 0.0], 1.0) is None
    assert paths.length_to_tolerance(straight, [3.0, 0.0], 1.5) == pytest.approx(2.0)
    assert paths.first_below(np.array([3.0, 2.0, 1.0]), 2.0) == 1
    assert paths.first_below(np.array([3.0, 2.0]), 0.5) is None


def test_view_bounds_cover_every_point_with_a_margin():
    bounds = paths.view_bounds([np.array([[0.0, 0.0], [2.0, 1.0]])], margin=0.1)
    assert bounds == pytest.approx((-0.2, 2.2, -0.2, 1.2))


def test_compare_figure_has_equal_scales_titles_and_legends():
    quadratic = paths.valley((1.0, 3.0))
    path = np.array([[1.0, 1.0], [0.5, 0.2], [0.1, 0.05]])
    figure = paths.compare_figure(
        quadratic, [("a", path), ("b", path * 0.5)], suptitle="settings"
    )
    assert isinstance(figure, Figure)
    path_axes, curves = figure.axes[:2], figure.axes[2]
    for ax in path_axes:
        assert ax.get_aspect() == 1.0
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
        assert ax.get_xlim() == path_axes[0].get_xlim()
        assert ax.get_ylim() == path_axes[0].get_ylim()
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == [
        "minimum θ*",
        "a",
        "start θ₀",
        "b",
    ]
    assert curves.get_yscale() == "log"
    assert curves.get_legend() is not None
    assert figure.get_suptitle() == "settings"
