"""Functional ops: finite differences, PyTorch in float64, dropout statistics."""

import importlib
import weakref

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import trainlab as tl
from trainlab import functional as F
from trainlab.diagnostics import gradcheck
from trainlab.nn import Parameter
from trainlab.tensor import grad_buffer

# float64 central differences agree to ~1e-9; these bounds are far tighter than
# gradcheck's defaults (atol=1e-5, rtol=1e-4) and still hold on every example
TIGHT = {"atol": 1e-7, "rtol": 1e-6}

seeds = st.integers(0, 2**32 - 1)
sides = st.integers(1, 5)
batches = st.integers(2, 6)


def leaf(shape, seed, low=-2.0, high=2.0):
    rng = np.random.default_rng(seed)
    return tl.tensor(rng.uniform(low, high, size=shape), requires_grad=True)


def away_from_zero(shape, seed):
    """Entries with |x| in [0.1, 2]: no finite difference crosses ReLU's kink."""
    rng = np.random.default_rng(seed)
    magnitude = rng.uniform(0.1, 2.0, size=shape)
    return tl.tensor(
        magnitude * rng.choice([-1.0, 1.0], size=shape), requires_grad=True
    )


# ------------------------------------------------------------- gradchecks
@given(batches, sides, sides, seeds)
def test_linear_gradcheck(n, n_in, n_out, seed):
    x, w, b = (
        leaf((n, n_in), seed),
        leaf((n_in, n_out), seed + 1),
        leaf((n_out,), seed + 2),
    )
    assert gradcheck(F.linear, [x, w, b], **TIGHT)
    assert gradcheck(F.linear, [x, w], **TIGHT)
    assert gradcheck(F.linear, [leaf((n_in,), seed + 3), w, b], **TIGHT)
    assert gradcheck(F.linear, [leaf((2, n, n_in), seed + 4), w, b], **TIGHT)


def test_linear_with_constant_input_and_refused_width():
    x = np.ones((3, 2))
    w = tl.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    out = F.linear(x, w)
    np.testing.assert_array_equal(out.data, x @ w.data)
    out.sum().backward()
    np.testing.assert_array_equal(w.grad, x.T @ np.ones((3, 3)))
    with pytest.raises(ValueError, match=r"input width 2 .*shape \(3, 4\)"):
        F.linear(np.ones((3, 4)), w)


@given(batches, sides, seeds)
def test_activations_gradcheck(n, width, seed):
    x = away_from_zero((n, width), seed)
    assert gradcheck(F.relu, [x], **TIGHT)
    assert gradcheck(F.tanh, [x], **TIGHT)
    assert gradcheck(F.sigmoid, [x], **TIGHT)


@given(batches, sides, st.sampled_from([0, 1, -1]), seeds)
def test_softmax_log_softmax_gradcheck(n, width, axis, seed):
    x = leaf((n, width), seed, low=-4.0, high=4.0)
    assert gradcheck(lambda x: F.softmax(x, axis=axis), [x], **TIGHT)
    assert gradcheck(lambda x: F.log_softmax(x, axis=axis), [x], **TIGHT)
    np.testing.assert_allclose(F.softmax(x, axis=axis).data.sum(axis=axis), 1.0)


@given(batches, st.integers(2, 5), seeds)
def test_cross_entropy_gradcheck(n, classes, seed):
    logits = leaf((n, classes), seed, low=-5.0, high=5.0)
    labels = np.random.default_rng(seed).integers(0, classes, size=n)
    assert gradcheck(lambda z: F.cross_entropy(z, labels), [logits], **TIGHT)


@given(batches, sides, seeds)
def test_mse_loss_gradcheck(n, width, seed):
    prediction, target = leaf((n, width), seed), leaf((n, width), seed + 1)
    assert gradcheck(F.mse_loss, [prediction, target], **TIGHT)
    assert gradcheck(lambda p: F.mse_loss(p, target.data), [prediction], **TIGHT)


@given(batches, sides, st.sampled_from([0.2, 0.5, 0.7]), st.booleans(), seeds)
def test_dropout_gradcheck_with_fixed_mask(n, width, p, inverted, seed):
    x = leaf((n, width), seed)

    def dropped(x):
        # a generator seeded afresh on every call draws the same mask
        return F.dropout(x, p, np.random.default_rng(seed), inverted=inverted)

    assert gradcheck(dropped, [x], **TIGHT)
    assert gradcheck(
        lambda x: F.dropout(x, p, None, training=False, inverted=inverted), [x], **TIGHT
    )


def batch_norm_inputs(n, width, seed):
    x = leaf((n, width), seed, low=-3.0, high=3.0)
    gamma = leaf((width,), seed + 1, low=0.5, high=2.0)
    beta = leaf((width,), seed + 2)
    return x, gamma, beta


@given(batches, sides, seeds)
def test_batch_norm_training_gradcheck(n, width, seed):
    x, gamma, beta = batch_norm_inputs(n, width, seed)
    running_mean, running_var = np.zeros(width), np.ones(width)

    def normalized(x, gamma, beta):
        return F.batch_norm(x, gamma, beta, running_mean, running_var, training=True)

    assert gradcheck(normalized, [x, gamma, beta], **TIGHT)
    assert gradcheck(
        lambda x: F.batch_norm(x, None, None, running_mean, running_var, True),
        [x],
        **TIGHT,
    )


@given(batches, sides, seeds)
def test_batch_norm_eval_gradcheck(n, width, seed):
    x, gamma, beta = batch_norm_inputs(n, width, seed)
    rng = np.random.default_rng(seed)
    running_mean = rng.standard_normal(width)
    running_var = rng.uniform(0.5, 2.0, width)

    def normalized(x, gamma, beta):
        return F.batch_norm(x, gamma, beta, running_mean, running_var, training=False)

    assert gradcheck(normalized, [x, gamma, beta], **TIGHT)
    expected = (x.data - running_mean) / np.sqrt(running_var + 1e-5) * gamma.data
    np.testing.assert_allclose(normalized(x, gamma, beta).data, expected + beta.data)


def test_batch_norm_refuses_a_batch_of_one_in_training():
    with pytest.raises(ValueError, match="at least 2 samples.*batch of 1"):
        F.batch_norm(np.ones((1, 3)), None, None, np.zeros(3), np.ones(3), True)


# ---------------------------------------------------------------- PyTorch
def test_cross_entropy_matches_torch():
    rng = np.random.default_rng(0)
    values = rng.standard_normal((7, 4)) * 3
    labels = rng.integers(0, 4, size=7)
    ours = tl.tensor(values, requires_grad=True)
    theirs = torch.tensor(values, requires_grad=True)
    loss = F.cross_entropy(ours, labels)
    reference = torch.nn.functional.cross_entropy(theirs, torch.tensor(labels))
    loss.backward()
    reference.backward()
    np.testing.assert_allclose(loss.item(), reference.item(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "layout",
    [np.asfortranarray, lambda a: np.ascontiguousarray(a.T).T],
    ids=["fortran", "transposed-view"],
)
def test_cross_entropy_matches_torch_for_logits_in_any_memory_order(layout):
    rng = np.random.default_rng(1)
    values = layout(rng.standard_normal((6, 5)) * 3)
    assert not values.flags.c_contiguous
    labels = rng.integers(0, 5, size=6)
    ours = tl.tensor(values, requires_grad=True)
    theirs = torch.tensor(np.array(values), requires_grad=True)
    F.cross_entropy(ours, labels).backward()
    torch.nn.functional.cross_entropy(theirs, torch.tensor(labels)).backward()
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=0, atol=1e-10)


def test_linear_of_a_batch_of_sequences_matches_torch():
    rng = np.random.default_rng(2)
    x, w, b = (
        rng.standard_normal((2, 5, 4)),
        rng.standard_normal((4, 3)),
        rng.standard_normal(3),
    )
    ours = [tl.tensor(a, requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    out = F.linear(*ours)
    reference = theirs[0] @ theirs[1] + theirs[2]
    np.testing.assert_allclose(out.data, reference.detach().numpy(), rtol=1e-12)
    (out * out).sum().backward()
    (reference * reference).sum().backward()
    for a, t in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.grad, t.grad.numpy(), rtol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    values = np.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 999.0]])
    labels = np.array([1, 2])
    for dtype in (np.float64, np.float32):
        ours = tl.tensor(values.astype(dtype), requires_grad=True)
        loss = F.cross_entropy(ours, labels)
        loss.backward()
        assert np.isfinite(loss.item()) and np.all(np.isfinite(ours.grad))
        assert loss.dtype == dtype and ours.grad.dtype == dtype
    theirs = torch.tensor(values, requires_grad=True)
    reference = torch.nn.functional.cross_entropy(theirs, torch.tensor(labels))
    reference.backward()
    ours = tl.tensor(values, requires_grad=True)
    loss = F.cross_entropy(ours, labels)
    loss.backward()
    np.testing.assert_allclose(loss.item(), reference.item(), rtol=1e-15, atol=1e-10)
    np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=0, atol=1e-10)
    # by hand: sample 0 loses 2000, sample 1 loses log(1 + e) ≈ 1.3133
    np.testing.assert_allclose(loss.item(), (2000.0 + np.log1p(np.e)) / 2, rtol=1e-12)


def test_log_softmax_and_softmax_match_torch():
    values = np.random.default_rng(1).standard_normal((5, 3)) * 10
    upstream = np.random.default_rng(2).standard_normal((5, 3))
    for ours_fn, torch_fn in [
        (F.log_softmax, torch.log_softmax),
        (F.softmax, torch.softmax),
    ]:
        ours = tl.tensor(values, requires_grad=True)
        theirs = torch.tensor(values, requires_grad=True)
        out, reference = ours_fn(ours, axis=0), torch_fn(theirs, dim=0)
        out.backward(upstream)
        reference.backward(torch.tensor(upstream))
        np.testing.assert_allclose(
            out.data, reference.detach().numpy(), rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=0, atol=1e-12)


def test_mse_loss_matches_torch():
    rng = np.random.default_rng(0)
    prediction_values, target_values = rng.standard_normal((2, 6, 3))
    prediction = tl.tensor(prediction_values, requires_grad=True)
    target = tl.tensor(target_values, requires_grad=True)
    theirs = torch.tensor(prediction_values, requires_grad=True)
    their_target = torch.tensor(target_values, requires_grad=True)
    loss = F.mse_loss(prediction, target)
    reference = torch.nn.functional.mse_loss(theirs, their_target)
    loss.backward()
    reference.backward()
    np.testing.assert_allclose(loss.item(), reference.item(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(prediction.grad, theirs.grad.numpy(), rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        target.grad, their_target.grad.numpy(), rtol=0, atol=1e-10
    )


def test_activations_match_torch():
    values = np.random.default_rng(4).standard_normal((4, 5)) * 3
    for ours_fn, torch_fn in [
        (F.relu, torch.relu),
        (F.tanh, torch.tanh),
        (F.sigmoid, torch.sigmoid),
    ]:
        ours = tl.tensor(values, requires_grad=True)
        theirs = torch.tensor(values, requires_grad=True)
        out, reference = ours_fn(ours), torch_fn(theirs)
        (out * out).sum().backward()
        (reference * reference).sum().backward()
        np.testing.assert_allclose(
            out.data, reference.detach().numpy(), rtol=0, atol=1e-14
        )
        np.testing.assert_allclose(ours.grad, theirs.grad.numpy(), rtol=0, atol=1e-13)


def test_sigmoid_does_not_overflow():
    out = F.sigmoid(tl.tensor(np.array([-1000.0, 0.0, 1000.0], np.float32)))
    np.testing.assert_array_equal(out.data, [0.0, 0.5, 1.0])
    assert out.dtype == np.float32


# ---------------------------------------------------------------- dropout
@pytest.mark.parametrize("p", [0.1, 0.5, 0.7])
def test_dropout_fraction_and_mean_match_within_sampling_error(p):
    rng = np.random.default_rng(0)
    x = rng.uniform(0.5, 1.5, size=(200, 500))
    count = x.size
    out = F.dropout(tl.tensor(x), p, np.random.default_rng(1)).data

    # fraction dropped ~ Binomial(count, p) / count: std √(p (1 − p) / count)
    dropped = np.mean(out == 0)
    assert abs(dropped - p) < 5 * np.sqrt(p * (1 - p) / count)

    # out_i = x_i h_i / (1 − p): E[out_i] = x_i, Var[out_i] = x_i² p / (1 − p)
    std_of_mean = np.sqrt(np.mean(x * x) * p / (1 - p) / count)
    assert abs(out.mean() - x.mean()) < 5 * std_of_mean

    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p))


def test_dropout_lecture_variant_scales_at_test_time():
    p = 0.7
    x = np.random.default_rng(0).uniform(0.5, 1.5, size=(300, 300))
    out = F.dropout(tl.tensor(x), p, np.random.default_rng(1), inverted=False).data
    kept = out != 0
    np.testing.assert_array_equal(out[kept], x[kept])
    # E[x h] = (1 − p) x: the test-time output is that expectation
    std_of_mean = np.sqrt(np.mean(x * x) * p * (1 - p) / x.size)
    assert abs(out.mean() - (1 - p) * x.mean()) < 5 * std_of_mean
    at_test = F.dropout(tl.tensor(x), p, None, training=False, inverted=False)
    np.testing.assert_allclose(at_test.data, (1 - p) * x)


def test_dropout_eval_is_identity_and_seed_fixes_mask():
    x = tl.tensor(np.ones((20, 30), np.float32), requires_grad=True)
    assert F.dropout(x, 0.5, None, training=False) is x
    assert F.dropout(x, 0.0, np.random.default_rng(0)) is x
    first = F.dropout(x, 0.5, np.random.default_rng(7)).data
    second = F.dropout(x, 0.5, np.random.default_rng(7)).data
    other = F.dropout(x, 0.5, np.random.default_rng(8)).data
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)
    assert first.dtype == np.float32


def test_dropout_backward_uses_the_same_mask():
    x = tl.tensor(np.ones((10, 10)), requires_grad=True)
    out = F.dropout(x, 0.4, np.random.default_rng(3))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_dropout_refuses_p_outside_unit_interval(p):
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\)"):
        F.dropout(np.ones(3), p, np.random.default_rng(0))


def test_dropout_refuses_missing_generator_in_training():
    with pytest.raises(TypeError, match="rng must be an np.random.Generator"):
        F.dropout(np.ones(3), 0.5, 3)


# ------------------------------------------------------------- bad input
def test_cross_entropy_refuses_bad_labels():
    logits = tl.tensor(np.zeros((3, 4)), requires_grad=True)
    with pytest.raises(TypeError, match="integer class labels.*float64"):
        F.cross_entropy(logits, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\].*from 0 to 4"):
        F.cross_entropy(logits, np.array([0, 4, 1]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\].*from -1"):
        F.cross_entropy(logits, np.array([0, -1, 1]))
    with pytest.raises(ValueError, match=r"target must have shape \(3,\)"):
        F.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"logits of shape \(N, C\)"):
        F.cross_entropy(tl.tensor(np.zeros(4)), np.array([0]))
    for empty in ((0, 0), (3, 0)):
        with pytest.raises(ValueError, match="at least one class"):
            F.cross_entropy(tl.tensor(np.zeros(empty)), np.zeros(empty[0], int))


def test_cross_entropy_accepts_label_tensors_and_lists():
    logits = tl.tensor(np.zeros((2, 3)))
    expected = np.log(3.0)
    assert F.cross_entropy(logits, [0, 2]).item() == pytest.approx(expected)
    assert F.cross_entropy(logits, tl.tensor(np.array([1, 1]))).item() == pytest.approx(
        expected
    )


def test_mse_loss_refuses_shape_mismatch():
    with pytest.raises(ValueError, match=r"same shape.*\(4, 1\) and \(4,\)"):
        F.mse_loss(tl.tensor(np.zeros((4, 1))), np.zeros(4))


# ------------------------------------------------------------------- dtype
def test_functional_ops_keep_float32():
    rng = np.random.default_rng(0)
    x = tl.tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    w = tl.tensor(rng.standard_normal((3, 2)).astype(np.float32), requires_grad=True)
    gamma = tl.tensor(np.ones(3, np.float32), requires_grad=True)
    running = np.zeros(3, np.float32), np.ones(3, np.float32)
    outputs = [
        F.linear(x, w),
        F.relu(x),
        F.tanh(x),
        F.sigmoid(x),
        F.softmax(x),
        F.log_softmax(x),
        F.cross_entropy(x, np.array([0, 1, 2, 0])),
        F.mse_loss(x, np.zeros((4, 3))),
        F.dropout(x, 0.5, rng),
        F.batch_norm(x, gamma, None, *running, training=True),
    ]
    for out in outputs:
        assert out.dtype == np.float32, out
        out.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float32
    assert running[0].dtype == np.float32


# ------------------------------------------------------- speed, same numbers
@pytest.mark.parametrize("dtype", [np.int8, np.uint8, np.int32, np.uint64])
def test_cross_entropy_checks_labels_of_every_integer_dtype(dtype):
    logits = tl.tensor(np.zeros((3, 4)), requires_grad=True)
    assert F.cross_entropy(logits, np.array([0, 3, 1], dtype)).item() == (
        pytest.approx(np.log(4.0))
    )
    with pytest.raises(ValueError, match=r"from 0 to 4"):
        F.cross_entropy(logits, np.array([0, 4, 1], dtype))
    if np.issubdtype(dtype, np.signedinteger):
        with pytest.raises(ValueError, match=r"from -128 to 1"):
            F.cross_entropy(logits, np.array([0, -128, 1], dtype))
    strided = np.array([0, 9, 3, 9, 1, 9], dtype)[::2]
    assert F.cross_entropy(logits, strided).item() == pytest.approx(np.log(4.0))


def test_cross_entropy_twice_through_a_retained_graph():
    rng = np.random.default_rng(1)
    logits = tl.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([0, 2, 1, 1, 0]))
    loss.backward(retain_graph=True)
    first = logits.grad.copy()
    loss.backward()
    np.testing.assert_allclose(logits.grad, 2 * first, rtol=1e-15)


@pytest.fixture
def reuse_any_size(monkeypatch):
    """Released gradients reused whatever their size (small layers in tests)."""
    monkeypatch.setattr(
        importlib.import_module("trainlab.tensor"), "REUSE_MIN_BYTES", 0
    )


def _linear_weight_grad(layer, x):
    layer.zero_grad()
    layer(x).sum().backward()
    return layer.weight.grad


def test_linear_writes_a_released_gradient_in_place_of_a_new_array(reuse_any_size):
    rng = np.random.default_rng(0)
    layer = tl.nn.Linear(4, 3, rng=0)
    x1, x2 = rng.standard_normal((2, 5, 4)).astype(np.float32)
    first = weakref.ref(_linear_weight_grad(layer, x1))
    second = _linear_weight_grad(layer, x2)
    # the first gradient was dropped by zero_grad: its array holds the second
    assert first() is second
    np.testing.assert_array_equal(second, x2.T @ np.ones((5, 3), np.float32))


def test_linear_leaves_a_gradient_the_user_kept_untouched(reuse_any_size):
    rng = np.random.default_rng(0)
    layer = tl.nn.Linear(4, 3, rng=0)
    x1, x2 = rng.standard_normal((2, 5, 4)).astype(np.float32)
    kept = _linear_weight_grad(layer, x1)
    expected_first = x1.T @ np.ones((5, 3), np.float32)
    second = _linear_weight_grad(layer, x2)
    assert not np.shares_memory(kept, second)
    np.testing.assert_array_equal(kept, expected_first)
    np.testing.assert_array_equal(second, x2.T @ np.ones((5, 3), np.float32))


def test_linear_shared_weight_and_accumulation_get_their_own_arrays(reuse_any_size):
    rng = np.random.default_rng(0)
    layer = tl.nn.Linear(3, 3, rng=0)
    x = rng.standard_normal((4, 3))
    _linear_weight_grad(layer, x.astype(np.float32))
    layer.zero_grad()
    # the weight used twice in one graph, then a second pass accumulating
    x = tl.tensor(x.astype(np.float32))
    hidden = layer(x)
    layer(hidden).sum().backward()
    first = layer.weight.grad.copy()
    hidden = layer(x)
    layer(hidden).sum().backward()
    np.testing.assert_allclose(layer.weight.grad, 2 * first, rtol=1e-6)
    w, b = layer.weight.data.astype(np.float64), layer.bias.data.astype(np.float64)
    h = x.data @ w + b
    ones = np.ones((4, 3))
    expected = h.T @ ones + x.data.T @ (ones @ w.T)
    np.testing.assert_allclose(first, expected, rtol=1e-5)


def test_linear_does_not_write_float64_products_into_float32_memory(reuse_any_size):
    layer = tl.nn.Linear(2, 2, rng=0)
    x32 = np.ones((3, 2), np.float32)
    first = weakref.ref(_linear_weight_grad(layer, x32))
    x64 = np.full((3, 2), 1 / 3)
    grad = _linear_weight_grad(layer, x64)
    assert grad.dtype == np.float32 and first() is not grad
    np.testing.assert_array_equal(grad, np.float32(x64.T @ np.ones((3, 2))))


def test_a_released_gradient_is_offered_only_as_c_contiguous_memory(reuse_any_size):
    # np.dot(..., out=) takes C-contiguous memory only
    weight = Parameter(np.zeros((3, 2), np.float32))
    x, g = np.ones((4, 3), np.float32), np.ones((4, 2), np.float32)
    weight._last_grad = np.asfortranarray(np.ones((3, 2), np.float32))
    assert grad_buffer(weight, x, g) is None
    weight._last_grad = np.ones((3, 2), np.float32)
    assert grad_buffer(weight, x, g) is weight._last_grad


def test_only_gradients_above_the_threshold_are_reused():
    rng = np.random.default_rng(0)
    for width, reused in ((4, False), (256, True)):  # 64 B and 256 KiB of weights
        layer = tl.nn.Linear(width, width, rng=0)
        x1, x2 = rng.standard_normal((2, 3, width)).astype(np.float32)
        first = weakref.ref(_linear_weight_grad(layer, x1))
        second = _linear_weight_grad(layer, x2)
        assert (first() is second) is reused
        np.testing.assert_allclose(second, x2.T @ np.ones((3, width), np.float32))


def test_cross_entropy_of_integer_logits_is_not_truncated():
    logits = np.array([[1, 2, 3], [0, 0, 5]])
    loss = F.cross_entropy(tl.tensor(logits), np.array([1, 2]))
    expected = F.cross_entropy(tl.tensor(logits.astype(np.float64)), np.array([1, 2]))
    assert loss.dtype == np.float64
    assert loss.item() == pytest.approx(expected.item(), rel=1e-15)
