"""Tests for trainlab.data: preprocessing, minibatches, data sets."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import trainlab as tl
from trainlab import data
from trainlab import functional as F

# --------------------------------------------------------------- Standardizer


def test_standardizer_matches_closed_form_and_sklearn():
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(0)
    X = rng.normal([3.0, -2.0, 10.0], [1.0, 5.0, 0.1], size=(500, 3))
    scaler = data.Standardizer().fit(X)

    expected_mean = X.sum(axis=0) / len(X)
    expected_scale = np.sqrt(((X - expected_mean) ** 2).sum(axis=0) / len(X))
    np.testing.assert_allclose(scaler.mean_, expected_mean, rtol=1e-12)
    np.testing.assert_allclose(scaler.scale_, expected_scale, rtol=1e-12)

    reference = StandardScaler().fit(X)
    np.testing.assert_allclose(scaler.scale_, reference.scale_, rtol=1e-12)
    Z = scaler.transform(X)
    np.testing.assert_allclose(Z, reference.transform(X), atol=1e-12)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0), 1, atol=1e-12)


def test_standardizer_uses_training_statistics_only():
    X_train = np.array([[0.0], [2.0]])
    X_test = np.array([[4.0], [6.0]])
    scaler = data.Standardizer().fit(X_train)
    np.testing.assert_array_equal(scaler.transform(X_test), [[3.0], [5.0]])


def test_standardizer_center_and_scale_options():
    X = np.array([[1.0, 10.0], [3.0, 30.0]])
    only_center = data.Standardizer(scale=False).fit(X)
    np.testing.assert_array_equal(only_center.transform(X), [[-1, -10], [1, 10]])
    only_scale = data.Standardizer(center=False).fit(X)
    np.testing.assert_array_equal(only_scale.scale_, [1.0, 10.0])
    np.testing.assert_array_equal(only_scale.transform(X), [[1, 1], [3, 3]])


def test_constant_feature_centered_unscaled_with_warning():
    X = np.array([[1.0, 0.1], [2.0, 0.1], [4.0, 0.1]])
    with pytest.warns(data.ConstantFeatureWarning, match=r"\[1\]"):
        scaler = data.Standardizer().fit(X)
    assert scaler.scale_[1] == 1.0
    Z = scaler.transform(X)
    assert np.isfinite(Z).all()
    np.testing.assert_allclose(Z[:, 1], 0.0, atol=1e-15)
    np.testing.assert_allclose(scaler.transform([[0, 0.6]])[0, 1], 0.5)


def test_standardizer_keeps_float32():
    X = np.random.default_rng(1).normal(size=(20, 4)).astype(np.float32)
    Z = data.Standardizer().fit_transform(X)
    assert Z.dtype == np.float32


@given(
    st.integers(2, 30),
    st.integers(1, 5),
    st.floats(-100, 100),
    st.floats(0.01, 100),
    st.integers(0, 2**32 - 1),
)
def test_inverse_transform_round_trip(n, p, shift, spread, seed):
    X = shift + spread * np.random.default_rng(seed).normal(size=(n, p))
    scaler = data.Standardizer().fit(X)
    back = scaler.inverse_transform(scaler.transform(X))
    np.testing.assert_allclose(back, X, rtol=1e-9, atol=1e-9 * (abs(shift) + spread))


def test_standardizer_refuses_nan_naming_the_column():
    X = np.ones((4, 3))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X column 1 contains a non-finite value"):
        data.Standardizer().fit(X)


def test_standardizer_refuses_inf_at_transform():
    scaler = data.Standardizer().fit(np.arange(6.0).reshape(3, 2))
    X = np.zeros((2, 2))
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match=r"X column 0 contains a non-finite value"):
        scaler.transform(X)


def test_standardizer_refuses_width_mismatch():
    scaler = data.Standardizer().fit(np.arange(6.0).reshape(3, 2))
    with pytest.raises(ValueError, match=r"X has 3 features.*fitted on 2"):
        scaler.transform(np.zeros((1, 3)))


def test_standardizer_refuses_1d_input():
    with pytest.raises(ValueError, match=r"X must be 2-D .* received shape \(5,\)"):
        data.Standardizer().fit(np.arange(5.0))


def test_standardizer_refuses_transform_before_fit():
    with pytest.raises(RuntimeError, match="not fitted"):
        data.Standardizer().transform(np.zeros((2, 2)))


def test_standardizer_refuses_non_bool_options():
    with pytest.raises(TypeError, match="center must be True or False, received .*str"):
        data.Standardizer(center="yes")


# ---------------------------------------------------------------- minibatches


@given(st.integers(1, 60), st.integers(1, 70), st.integers(0, 2**32 - 1))
def test_minibatches_are_disjoint_and_cover_the_data(n, batch_size, seed):
    X = np.arange(n)[:, None] * np.ones((1, 2))
    y = np.arange(n)
    batches = list(data.minibatches(X, y, batch_size=batch_size, rng=seed))
    assert len(batches) == data.num_batches(n, batch_size) == -(-n // batch_size)
    seen = np.concatenate([yb for _, yb in batches])
    np.testing.assert_array_equal(np.sort(seen), np.arange(n))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], yb)
    assert all(len(yb) == batch_size for _, yb in batches[:-1])


def test_each_epoch_draws_a_new_order():
    y = np.arange(100)
    rng = np.random.default_rng(0)
    first = np.concatenate(list(data.minibatches(y, batch_size=10, rng=rng)))
    second = np.concatenate(list(data.minibatches(y, batch_size=10, rng=rng)))
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(np.sort(first), np.sort(second))
    again = np.concatenate(list(data.minibatches(y, batch_size=10, rng=0)))
    np.testing.assert_array_equal(first, again)


def test_minibatches_without_shuffle_and_drop_last():
    y = np.arange(7)
    batches = list(data.minibatches(y, batch_size=3, shuffle=False, drop_last=True))
    assert [b.tolist() for b in batches] == [[0, 1, 2], [3, 4, 5]]
    batches = list(data.minibatches(y, batch_size=3, shuffle=False))
    assert [b.tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]


def test_minibatches_with_replacement_repeat_rows():
    y = np.arange(50)
    batches = list(data.minibatches(y, batch_size=10, rng=3, replacement=True))
    assert len(batches) == 5 and all(len(b) == 10 for b in batches)
    drawn = np.concatenate(batches)
    assert len(np.unique(drawn)) < 50  # some rows repeat, some are missed
    assert drawn.min() >= 0 and drawn.max() < 50


def test_minibatches_refuse_bad_batch_size_when_called():
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        data.minibatches(np.zeros((4, 2)), batch_size=0)
    with pytest.raises(TypeError, match="batch_size must be a positive int"):
        data.minibatches(np.zeros((4, 2)), batch_size=2.5)


def test_minibatches_refuse_length_mismatch():
    with pytest.raises(ValueError, match="same number of rows, received 4 and 3"):
        data.minibatches(np.zeros((4, 2)), np.zeros(3), batch_size=2)


def test_minibatches_refuse_replacement_without_shuffle():
    with pytest.raises(ValueError, match="replacement=True .* shuffle=False"):
        data.minibatches(
            np.zeros((4, 2)), batch_size=2, shuffle=False, replacement=True
        )


def test_minibatch_gradient_is_unbiased():
    """E_B ∇L_B = ∇L: over one epoch of equal-size batches, the mean gradient
    of the minibatch losses equals the full-batch gradient."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = rng.integers(0, 3, size=60)
    model = tl.nn.mlp([5, 8, 3], activation="tanh", rng=1, dtype=np.float64)

    def gradients(xb, yb):
        model.zero_grad()
        F.cross_entropy(model(tl.tensor(xb)), yb).backward()
        return [p.grad.copy() for p in model.parameters()]

    full = gradients(X, y)
    batches = list(data.minibatches(X, y, batch_size=12, rng=rng))
    assert len(batches) == 5
    per_batch = [gradients(xb, yb) for xb, yb in batches]
    for index, full_grad in enumerate(full):
        mean_grad = np.mean([g[index] for g in per_batch], axis=0)
        np.testing.assert_allclose(mean_grad, full_grad, rtol=1e-10, atol=1e-13)
    # a single minibatch is only an estimate: it differs from the full gradient
    assert not np.allclose(per_batch[0][0], full[0])


# ------------------------------------------------------------------- data sets


def test_linear_gaussian_follows_the_model():
    w0 = np.array([1.0, -2.0])
    mu = np.array([3.0, 4.0])
    cov = np.array([[1.0, 0.5], [0.5, 2.0]])
    X, y, w_true = data.linear_gaussian(
        20_000, w0, cov, mu=mu, noise_std=0.5, rng=0, return_w0=True
    )
    assert X.shape == (20_000, 2) and y.shape == (20_000,)
    np.testing.assert_array_equal(w_true, w0)
    np.testing.assert_allclose(X.mean(axis=0), mu, atol=0.05)
    np.testing.assert_allclose(np.cov(X.T), cov, atol=0.05)
    w_hat = np.linalg.lstsq(X - mu, y, rcond=None)[0]
    np.testing.assert_allclose(w_hat, w0, atol=0.02)
    residual = y - (X - mu) @ w0
    assert abs(residual.std() - 0.5) < 0.01
    X2, y2 = data.linear_gaussian(20_000, w0, cov, mu=mu, noise_std=0.5, rng=0)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)


def test_linear_gaussian_refuses_cov_shape_mismatch():
    with pytest.raises(ValueError, match=r"cov must have shape \(2, 2\).*\(3, 3\)"):
        data.linear_gaussian(10, [1.0, 2.0], np.eye(3))


def test_linear_gaussian_refuses_non_psd_cov():
    with pytest.raises(ValueError, match="cov must be positive semi-definite"):
        data.linear_gaussian(10, [1.0, 2.0], [[1.0, 2.0], [2.0, 1.0]])


def test_linear_gaussian_refuses_negative_noise():
    with pytest.raises(ValueError, match="noise_std must be a non-negative"):
        data.linear_gaussian(10, [1.0], [[1.0]], noise_std=-1.0)


def test_gaussian_mixture_defaults_and_reproducibility():
    X, y = data.gaussian_mixture(rng=0)
    assert X.shape == (200, 2) and y.shape == (200,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}
    X2, y2 = data.gaussian_mixture(rng=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = data.gaussian_mixture(rng=1)
    assert not np.array_equal(X, X3)


def test_bayes_posterior_matches_the_mixture_density():
    task = data.GaussianMixtureTask.default()
    points = np.array([[0.0, 0.0], [1.0, 0.5], [-1.0, 2.0]])
    s2 = task.component_std**2

    def density(x, c):
        d2 = ((x - task.means[c]) ** 2).sum(axis=1)
        return np.mean(np.exp(-d2 / (2 * s2)) / (2 * np.pi * s2))

    expected = [density(x, 1) / (density(x, 0) + density(x, 1)) for x in points]
    np.testing.assert_allclose(task.bayes_posterior(points), expected, rtol=1e-10)
    np.testing.assert_array_equal(
        task.bayes_predict(points), (np.array(expected) > 0.5).astype(int)
    )


def test_bayes_error_estimate_is_consistent_and_optimal():
    from sklearn.neighbors import KNeighborsClassifier

    task = data.GaussianMixtureTask.default()
    estimate = task.bayes_error(n_mc=100_000, rng=1)
    assert 0 < estimate.value < 0.5 and 0 < estimate.stderr < 0.002
    X, y = task.sample(100_000, rng=2)
    counted = np.mean(task.bayes_predict(X) != y)
    assert abs(counted - estimate.value) < 5 * np.sqrt(counted / len(y))
    X_train, y_train = task.sample(2000, rng=3)
    knn = KNeighborsClassifier(15).fit(X_train, y_train)
    knn_error = np.mean(knn.predict(X[:20_000]) != y[:20_000])
    bayes_error_same_points = np.mean(task.bayes_predict(X[:20_000]) != y[:20_000])
    assert knn_error >= bayes_error_same_points


def test_gaussian_mixture_refuses_bad_task():
    with pytest.raises(TypeError, match="task must be a GaussianMixtureTask"):
        data.gaussian_mixture(10, task="esl")


def test_gaussian_mixture_refuses_nonpositive_n():
    with pytest.raises(ValueError, match="n must be a positive int, received 0"):
        data.gaussian_mixture(0)


def test_digits_split_is_reproducible_stratified_and_standardized():
    split = data.digits(test_size=0.25, seed=0)
    X_train, X_test, y_train, y_test = split
    assert X_train.shape == (1347, 64) and X_test.shape == (450, 64)
    assert y_train.dtype == np.int64
    train_share = np.bincount(y_train) / len(y_train)
    test_share = np.bincount(y_test) / len(y_test)
    np.testing.assert_allclose(train_share, test_share, atol=0.01)
    np.testing.assert_allclose(X_train.mean(axis=0), 0, atol=1e-12)
    varying = X_train.std(axis=0) > 0
    np.testing.assert_allclose(X_train.std(axis=0)[varying], 1, atol=1e-12)
    again = data.digits(test_size=0.25, seed=0)
    np.testing.assert_array_equal(again.X_test, X_test)
    other = data.digits(test_size=0.25, seed=1)
    assert not np.array_equal(other.y_test, y_test)
    raw = data.digits(standardize=False)
    assert raw.X_train.max() == 16.0


def test_digits_refuses_bad_test_size():
    with pytest.raises(
        ValueError, match=r"test_size must lie in \(0, 1\), received 1.5"
    ):
        data.digits(test_size=1.5)


def test_two_moons_shape_and_geometry():
    X, y = data.two_moons(101, noise=0.0, rng=0)
    assert X.shape == (101, 2) and np.bincount(y).tolist() == [51, 50]
    outer, inner = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(*outer.T), 1.0)
    np.testing.assert_allclose(np.hypot(inner[:, 0] - 1, inner[:, 1] - 0.5), 1.0)
    noisy, _ = data.two_moons(101, noise=0.2, rng=0)
    assert not np.allclose(noisy, X)


def test_two_moons_refuses_negative_noise():
    with pytest.raises(ValueError, match="noise must be a non-negative number"):
        data.two_moons(10, noise=-0.1)


def test_datasets_warn_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data.digits()
        data.two_moons(rng=0)
