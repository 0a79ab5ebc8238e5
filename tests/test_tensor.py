"""Autograd engine: every op against finite differences, engine behaviour."""

import gc
import platform
import sys
import weakref

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import trainlab as tl
from trainlab.diagnostics import gradcheck
from trainlab.tensor import from_op

# float64 central differences agree to ~1e-9; these bounds are far tighter than
# gradcheck's defaults (atol=1e-5, rtol=1e-4) and still hold on every example
TIGHT = {"atol": 1e-7, "rtol": 1e-6}


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
seeds = st.integers(0, 2**32 - 1)


def leaf(shape, seed, low=-2.0, high=2.0):
    rng = np.random.default_rng(seed)
    return tl.tensor(rng.uniform(low, high, size=shape), requires_grad=True)


def away_from_zero(shape, seed):
    """Entries with |x| in [0.5, 2], safe to divide by."""
    rng = np.random.default_rng(seed)
    magnitude = rng.uniform(0.5, 2.0, size=shape)
    sign = rng.choice([-1.0, 1.0], size=shape)
    return tl.tensor(magnitude * sign, requires_grad=True)


# ------------------------------------------------------- elementwise, broadcast
broadcast_pairs = hnp.mutually_broadcastable_shapes(
    num_shapes=2, min_dims=0, max_dims=3, max_side=3
)


@given(broadcast_pairs, seeds)
def test_add_sub_mul_broadcast_gradcheck(pair, seed):
    a = leaf(pair.input_shapes[0], seed)
    b = leaf(pair.input_shapes[1], seed + 1)
    assert gradcheck(lambda a, b: a + b, [a, b], **TIGHT)
    assert gradcheck(lambda a, b: a - b, [a, b], **TIGHT)
    assert gradcheck(lambda a, b: a * b, [a, b], **TIGHT)
    assert (a * b).shape == pair.result_shape


@given(broadcast_pairs, seeds)
def test_div_broadcast_gradcheck(pair, seed):
    a = leaf(pair.input_shapes[0], seed)
    b = away_from_zero(pair.input_shapes[1], seed + 1)
    assert gradcheck(lambda a, b: a / b, [a, b], **TIGHT)


@given(shapes, seeds)
def test_same_tensor_twice_gradcheck(shape, seed):
    a = leaf(shape, seed)
    assert gradcheck(lambda a: a * a + a - a / 3.0, [a], **TIGHT)


@given(shapes, seeds, st.sampled_from([2, 3, -1, 0.5, 1.5, -2.5]))
def test_pow_gradcheck(shape, seed, exponent):
    a = leaf(shape, seed, low=0.5, high=2.0)
    assert gradcheck(lambda a: a**exponent, [a], **TIGHT)


@given(shapes, seeds)
def test_neg_exp_log_gradcheck(shape, seed):
    a = leaf(shape, seed)
    positive = leaf(shape, seed + 1, low=0.2, high=3.0)
    assert gradcheck(lambda a: -a, [a], **TIGHT)
    assert gradcheck(lambda a: a.exp(), [a], **TIGHT)
    assert gradcheck(lambda a: a.log(), [positive], **TIGHT)


# ------------------------------------------------------------------ matmul
sides = st.integers(1, 4)


@given(sides, sides, sides, seeds)
def test_matmul_2d_gradcheck(n, m, k, seed):
    a, b = leaf((n, m), seed), leaf((m, k), seed + 1)
    assert gradcheck(lambda a, b: a @ b, [a, b], **TIGHT)


@given(sides, sides, seeds)
def test_matrix_vector_and_vector_matrix_gradcheck(n, m, seed):
    matrix, vector = leaf((n, m), seed), leaf((m,), seed + 1)
    row = leaf((n,), seed + 2)
    assert gradcheck(lambda a, v: a @ v, [matrix, vector], **TIGHT)
    assert gradcheck(lambda v, a: v @ a, [row, matrix], **TIGHT)
    assert gradcheck(lambda u, v: u @ v, [vector, leaf((m,), seed + 3)], **TIGHT)


@given(sides, sides, sides, sides, seeds)
def test_batched_matmul_gradcheck(batch, n, m, k, seed):
    stacked = leaf((batch, n, m), seed)
    assert gradcheck(lambda a, b: a @ b, [stacked, leaf((m, k), seed + 1)], **TIGHT)
    assert gradcheck(
        lambda a, b: a @ b, [stacked, leaf((batch, m, k), seed + 2)], **TIGHT
    )
    assert gradcheck(lambda a, b: a @ b, [stacked, leaf((1, m, k), seed + 3)], **TIGHT)
    assert gradcheck(lambda v, b: v @ b, [leaf((n,), seed + 4), stacked], **TIGHT)
    assert gradcheck(lambda a, v: a @ v, [stacked, leaf((m,), seed + 5)], **TIGHT)


def test_matmul_with_ndarray_on_either_side():
    rng = np.random.default_rng(0)
    a = tl.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = rng.standard_normal((4, 2))
    c = rng.standard_normal((5, 3))
    np.testing.assert_allclose((a @ b).data, a.data @ b)
    np.testing.assert_allclose((c @ a).data, c @ a.data)
    (c @ a).sum().backward()
    np.testing.assert_allclose(a.grad, c.T @ np.ones((5, 4)))


def test_matmul_refuses_scalars():
    a = tl.tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match="at least one dimension"):
        a @ tl.tensor(2.0)


# -------------------------------------------------------------- reductions
@st.composite
def shape_and_axis(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    axis = draw(
        st.one_of(
            st.none(),
            st.integers(-len(shape), len(shape) - 1),
            hnp.valid_tuple_axes(len(shape), min_size=1),
        )
    )
    return shape, axis


@given(shape_and_axis(), st.booleans(), seeds)
def test_sum_and_mean_gradcheck(shape_axis, keepdims, seed):
    shape, axis = shape_axis
    a = leaf(shape, seed)
    assert gradcheck(lambda a: a.sum(axis=axis, keepdims=keepdims), [a], **TIGHT)
    assert gradcheck(lambda a: a.mean(axis=axis, keepdims=keepdims), [a], **TIGHT)
    np.testing.assert_allclose(
        a.mean(axis=axis, keepdims=keepdims).data,
        a.data.mean(axis=axis, keepdims=keepdims),
    )


def test_reductions_give_arrays():
    a = tl.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    assert isinstance(a.sum().data, np.ndarray)
    assert isinstance((a.sum() + a.mean()).data, np.ndarray)
    assert isinstance(a[0, 0].data, np.ndarray)


# ------------------------------------------------------------------ shapes
@given(hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), seeds)
def test_reshape_transpose_gradcheck(shape, seed):
    a = leaf(shape, seed)
    size = int(np.prod(shape))
    assert gradcheck(lambda a: a.reshape(size), [a], **TIGHT)
    assert gradcheck(lambda a: a.reshape((size, 1)), [a], **TIGHT)
    assert gradcheck(lambda a: a.reshape(-1, 1).T, [a], **TIGHT)
    assert gradcheck(lambda a: a.T, [a], **TIGHT)
    axes = tuple(np.random.default_rng(seed).permutation(len(shape)))
    assert gradcheck(lambda a: a.transpose(axes), [a], **TIGHT)
    assert gradcheck(lambda a: a.transpose(*axes), [a], **TIGHT)
    np.testing.assert_array_equal(a.transpose(axes).data, a.data.transpose(axes))


@st.composite
def index_case(draw):
    rows = draw(st.integers(1, 5))
    cols = draw(st.integers(1, 4))
    kind = draw(st.sampled_from(["int", "slice", "fancy", "pair", "mask", "column"]))
    if kind == "int":
        index = draw(st.integers(-rows, rows - 1))
    elif kind == "slice":
        start = draw(st.integers(0, rows - 1))
        index = (slice(start, None, draw(st.integers(1, 2))), slice(None, cols))
    elif kind == "fancy":
        # repeated indices must add their contributions
        index = np.array(draw(st.lists(st.integers(0, rows - 1), min_size=1)))
    elif kind == "pair":
        count = draw(st.integers(1, 6))
        picked_rows = draw(st.lists(st.integers(0, rows - 1), min_size=count))
        picked_cols = draw(st.lists(st.integers(0, cols - 1), min_size=count))
        index = (np.array(picked_rows[:count]), np.array(picked_cols[:count]))
    elif kind == "mask":
        mask = draw(st.lists(st.booleans(), min_size=rows, max_size=rows))
        index = np.array(mask)
    else:
        index = (Ellipsis, draw(st.integers(0, cols - 1)))
    return (rows, cols), index


@given(index_case(), seeds)
def test_indexing_gradcheck(case, seed):
    shape, index = case
    a = leaf(shape, seed)
    assert gradcheck(lambda a: a[index], [a], **TIGHT)
    np.testing.assert_array_equal(a[index].data, a.data[index])


def test_repeated_fancy_index_sums_gradients():
    a = tl.tensor(np.arange(4.0), requires_grad=True)
    a[np.array([1, 1, 3, 1])].sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 3.0, 0.0, 1.0])


def test_index_by_tensor():
    a = tl.tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    picked = a[tl.tensor(np.array([2, 0]))]
    np.testing.assert_array_equal(picked.data, [[4.0, 5.0], [0.0, 1.0]])


# ------------------------------------------------------- reversed operators
def test_reversed_operators_with_python_scalars():
    x = tl.tensor(np.array([1.0, 2.0, 4.0]), requires_grad=True)
    y = 2 * x + (1 - x) + 10.0 / x + 3.0 - x * 0.5
    np.testing.assert_allclose(
        y.data, 2 * x.data + 1 - x.data + 10 / x.data + 3 - 0.5 * x.data
    )
    y.sum().backward()
    np.testing.assert_allclose(x.grad, 2 - 1 - 10 / x.data**2 - 0.5)


def test_reversed_operators_with_ndarrays():
    x = tl.tensor(np.array([1.0, 2.0]), requires_grad=True)
    a = np.array([3.0, 5.0])
    for result, expected in [
        (a + x, a + x.data),
        (a - x, a - x.data),
        (a * x, a * x.data),
        (a / x, a / x.data),
        (x - a, x.data - a),
    ]:
        assert isinstance(result, tl.Tensor)
        assert result.requires_grad
        np.testing.assert_allclose(result.data, expected)
    (a * x).sum().backward()
    np.testing.assert_allclose(x.grad, a)


@pytest.mark.parametrize(
    "expression",
    [
        lambda x: 2 * x,
        lambda x: 1 - x,
        lambda x: 10.0 / x,
        lambda x: x + 0.5,
        lambda x: x / 3,
        lambda x: x**2,
        lambda x: x**0.5,
        lambda x: x * np.float64(2.0),
        lambda x: np.sqrt(2.0) * x,
        lambda x: x ** np.float64(2.0),
        lambda x: x.mean() * x,
        lambda x: (x * x).sum(axis=0),
        lambda x: x.exp().log(),
        lambda x: -x,
    ],
)
def test_float32_stays_float32(expression):
    x = tl.tensor(np.array([[1.0, 2.0]], np.float32), requires_grad=True)
    y = expression(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_tensor_keeps_dtype_and_refuses_grad_on_ints():
    assert tl.tensor(np.ones(2, np.float32)).dtype == np.float32
    assert tl.tensor([1.0, 2.0]).dtype == np.float64
    assert tl.tensor([1, 2], dtype=np.float32).dtype == np.float32
    with pytest.raises(TypeError, match="requires_grad=True needs floating-point"):
        tl.tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(TypeError, match="numeric"):
        tl.tensor(np.array([object()]))


def test_pow_refuses_tensor_exponent():
    x = tl.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(TypeError, match="scalar exponent"):
        x ** tl.tensor(np.ones(2))


# ------------------------------------------------------------------ engine
def test_gradients_accumulate_over_two_graphs():
    x = tl.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)
    (3 * x).sum().backward()
    np.testing.assert_allclose(x.grad, 2 * x.data + 3)


def test_accumulation_matches_torch():
    values = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = tl.tensor(values, requires_grad=True)
    reference = torch.tensor(values, requires_grad=True)
    for module in (tl, torch):
        source = x if module is tl else reference
        (source.exp() * source).sum().backward()
        ((source * source).sum(axis=0) * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad, reference.grad.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("order", ["inner_first", "inner_last"])
def test_diamond_graph_sends_complete_gradients(order):
    # y = b + exp(b) with b = 2x: b's backward must wait for exp's gradient
    x = tl.tensor(np.array([0.1, -0.3]), requires_grad=True)
    b = x * 2.0
    a = b.exp()
    y = (b + a) if order == "inner_first" else (a + b)
    (y * 1.0).sum().backward()
    np.testing.assert_allclose(x.grad, 2 + 2 * np.exp(2 * x.data), rtol=1e-14)


def test_shared_gradient_array_is_not_aliased_between_leaves():
    a = tl.tensor(np.ones(3), requires_grad=True)
    b = tl.tensor(np.ones(3), requires_grad=True)
    (a + b).backward(np.array([1.0, 2.0, 3.0]))
    assert not np.shares_memory(a.grad, b.grad)
    (a + b).backward(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(a.grad, [2.0, 3.0, 4.0])
    np.testing.assert_array_equal(b.grad, [2.0, 3.0, 4.0])


def test_backward_does_not_modify_the_callers_gradient():
    x = tl.tensor(np.ones(3), requires_grad=True)
    upstream = np.array([1.0, 2.0, 3.0])
    (x + 1.0).backward(upstream)
    (x + 1.0).backward(upstream)
    x.backward(upstream)
    np.testing.assert_array_equal(upstream, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(x.grad, 3 * upstream)


def test_backward_twice_on_one_graph_is_refused():
    x = tl.tensor(np.ones(3), requires_grad=True)
    loss = (x * 2.0).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="already used by backward"):
        loss.backward()


def test_retain_graph_allows_a_second_pass():
    x = tl.tensor(np.ones(3), requires_grad=True)
    loss = (x * 2.0).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 4.0, 4.0])


def test_backward_needs_scalar_or_matching_gradient():
    x = tl.tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar tensor"):
        (x * 2.0).backward()
    with pytest.raises(ValueError, match=r"gradient must have the tensor's shape"):
        (x * 2.0).backward(np.ones(3))
    with pytest.raises(RuntimeError, match="does not require grad"):
        tl.tensor(np.ones(2)).sum().backward()


def test_graph_is_released_after_backward():
    x = tl.tensor(np.ones((50, 50)), requires_grad=True)
    hidden = (x * 3.0).exp()
    loss = hidden.sum()
    alive = weakref.ref(hidden.data)
    del hidden
    gc.collect()
    assert alive() is not None  # the graph still holds it
    loss.backward()
    gc.collect()
    assert alive() is None
    assert loss._parents == ()


def test_nodes_without_a_gradient_are_released():
    x = tl.tensor(np.ones(3), requires_grad=True)

    def constant_backward(g):
        return (None,)

    middle = x * 2.0
    cut = from_op(middle.data.sum(), (middle,), constant_backward, "cut")
    loss = cut + (x * 1.0).sum()
    loss.backward()
    assert middle._parents == ()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])


def test_no_grad_records_no_graph():
    x = tl.tensor(np.ones(3), requires_grad=True)
    with tl.no_grad():
        y = (x * 2.0).exp().sum()
        assert not tl.is_grad_enabled()
        with tl.enable_grad():
            z = x * 2.0
    assert tl.is_grad_enabled()
    assert not y.requires_grad and y._parents == () and y.is_leaf
    assert z.requires_grad

    @tl.no_grad()
    def evaluate(t):
        return t * 3.0

    assert not evaluate(x).requires_grad


def test_no_grad_is_restored_after_an_exception():
    with pytest.raises(KeyError), tl.no_grad():
        raise KeyError("boom")
    assert tl.is_grad_enabled()


def test_detach_shares_data_and_cuts_graph():
    x = tl.tensor(np.ones(3), requires_grad=True)
    d = (x * 2.0).detach()
    assert not d.requires_grad and d.is_leaf
    y = x * 2.0
    assert np.shares_memory(y.detach().data, y.data)


def test_composite_expression_matches_torch():
    rng = np.random.default_rng(3)
    a_values, b_values = rng.standard_normal((4, 3)), rng.standard_normal((3,))
    a, b = (
        tl.tensor(a_values, requires_grad=True),
        tl.tensor(b_values, requires_grad=True),
    )
    ta = torch.tensor(a_values, requires_grad=True)
    tb = torch.tensor(b_values, requires_grad=True)
    ours = ((a * b - b / 2.0).exp() @ b).mean() + (a.T[1:, ::2] ** 2).sum()
    theirs = ((ta * tb - tb / 2.0).exp() @ tb).mean() + (ta.T[1:, ::2] ** 2).sum()
    ours.backward()
    theirs.backward()
    np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-12)
    np.testing.assert_allclose(a.grad, ta.grad.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b.grad, tb.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_repr_and_basics():
    x = tl.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    assert "requires_grad=True" in repr(x)
    assert "op=mul" in repr(x * 2.0)
    assert x.shape == (2, 3) and x.ndim == 2 and x.size == 6 and len(x) == 2
    assert x.numpy() is x.data
    assert x.sum().item() == 6.0


# ---------------------------------------------------- reuse of released gradients
tensor_module = sys.modules["trainlab.tensor"]


def released_leaf():
    """A leaf whose gradient was dropped by zero_grad, with nothing else holding it."""
    leaf = tl.tensor(np.ones((3, 2)), requires_grad=True)
    (leaf * 2.0).sum().backward()
    leaf.grad = None
    return leaf


def test_grad_buffer_offers_an_unshared_released_gradient_on_cpython(monkeypatch):
    monkeypatch.setattr(tensor_module, "REUSE_MIN_BYTES", 0)  # a small leaf
    assert tensor_module._REUSE_RELEASED_GRADIENTS == (
        platform.python_implementation() == "CPython"
    )
    leaf = released_leaf()
    buffer = tensor_module.grad_buffer(leaf, np.ones(2))
    if platform.python_implementation() == "CPython":
        assert buffer is leaf._last_grad
        assert tensor_module.grad_buffer(leaf, np.ones(2)) is None  # `buffer` holds it
        del buffer
        assert tensor_module.grad_buffer(leaf, np.ones(2)) is leaf._last_grad
        assert tensor_module.grad_buffer(leaf, np.ones(2, np.float32)) is None
    else:
        assert buffer is None


def test_grad_buffer_is_off_when_reference_counts_are_not_exact(monkeypatch):
    monkeypatch.setattr(tensor_module, "_REUSE_RELEASED_GRADIENTS", False)
    leaf = released_leaf()
    assert tensor_module.grad_buffer(leaf, np.ones(2)) is None
    layer = tl.nn.Linear(4, 3, rng=0, dtype=np.float64)
    x = tl.tensor(np.ones((5, 4)))
    layer(x).sum().backward()
    first = layer.weight.grad
    layer.zero_grad()
    layer(x).sum().backward()
    assert layer.weight.grad is not first
    np.testing.assert_array_equal(layer.weight.grad, first)
