"""Diagnostics: gradcheck catches wrong gradients; layer statistics by hand."""

import ast
import inspect

import numpy as np
import pytest

import trainlab as tl
from trainlab import diagnostics, nn
from trainlab import functional as F
from trainlab.diagnostics import (
    activation_stats,
    activations,
    gradcheck,
    gradient_error,
    gradient_stats,
)
from trainlab.tensor import from_op

# float64 central differences agree to ~1e-9; these bounds are far tighter than
# gradcheck's defaults (atol=1e-5, rtol=1e-4) and still hold on every example
TIGHT = {"atol": 1e-7, "rtol": 1e-6}


def leaf(shape, seed=0):
    values = np.random.default_rng(seed).standard_normal(shape)
    return tl.tensor(values, requires_grad=True)


def times_three_with_backward(gradient_factor):
    """``y = 3x`` whose backward multiplies by ``gradient_factor`` instead."""

    def op(x):
        return from_op(3 * x.data, (x,), lambda g: (gradient_factor * g,), "times3")

    return op


# ---------------------------------------------------------------- gradcheck
def test_gradcheck_passes_a_correct_op_and_returns_true():
    assert gradcheck(times_three_with_backward(3.0), leaf((3, 2)), **TIGHT) is True
    worst, comparisons = gradient_error(times_three_with_backward(3.0), leaf(4))
    assert worst < 1e-8
    np.testing.assert_allclose(comparisons[0].numeric, comparisons[0].analytic)


def test_gradient_error_of_a_wrong_op_has_the_closed_form():
    # analytic 2r, numeric 3r with |r| in [0.5, 1.5]: |r| / max(1, 3|r|) = 1/3
    worst, _ = gradient_error(times_three_with_backward(2.0), [leaf((2, 3))])
    assert worst == pytest.approx(1 / 3, rel=1e-7)


def test_gradcheck_names_the_input_and_the_worst_entry():
    def wrong_at_one_entry(a, b):
        def backward(g):
            grad_b = g * a.data
            grad_b[1, 2] += 0.5
            return g * b.data, grad_b

        return from_op(a.data * b.data, (a, b), backward, "bad_mul")

    with pytest.raises(
        AssertionError,
        match=r"inputs\[1\] \(shape \(2, 3\)\): worst entry \(1, 2\).*"
        r"1 of 6 entries fail",
    ):
        gradcheck(wrong_at_one_entry, [leaf((2, 3), 1), leaf((2, 3), 2)])


def test_gradcheck_takes_inputs_one_by_one_or_as_a_sequence():
    a, b = leaf(3, 1), leaf(3, 2)
    assert gradcheck(lambda a, b: a * b, a, b, atol=1e-7)
    assert gradcheck(lambda a, b: a * b, (a, b), rtol=1e-6)
    worst, comparisons = gradient_error(lambda a, b: a / b.exp(), a, b)
    assert worst < 1e-8 and [c.index for c in comparisons] == [0, 1]


def test_gradcheck_skips_inputs_without_grad_and_restores_grads():
    a, b = leaf(3, 1), tl.tensor(np.ones(3))
    a.grad = np.full(3, 7.0)
    assert gradcheck(lambda a, b: (a * b).exp(), [a, b], **TIGHT)
    np.testing.assert_array_equal(a.grad, [7.0, 7.0, 7.0])
    assert b.grad is None


def test_gradcheck_of_model_parameters():
    model = nn.mlp([3, 4, 2], activation="tanh", rng=0, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((5, 3))
    y = np.array([0, 1, 1, 0, 1])
    assert gradcheck(
        lambda *p: F.cross_entropy(model(x), y), model.parameters(), **TIGHT
    )
    assert all(p.grad is None for p in model.parameters())


def test_gradcheck_refuses_unusable_inputs():
    square = lambda a: a * a  # noqa: E731
    with pytest.raises(ValueError, match=r"inputs\[0\] must be float64.*float32"):
        gradcheck(square, tl.tensor(np.ones(2, np.float32), requires_grad=True))
    with pytest.raises(ValueError, match="at least one Tensor with requires_grad"):
        gradcheck(square, [tl.tensor(np.ones(2))])
    with pytest.raises(ValueError, match=r"inputs\[0\] must be a leaf.*'mul'"):
        gradcheck(square, [leaf(2) * 2.0])
    with pytest.raises(TypeError, match=r"inputs\[1\] must be a Tensor.*ndarray"):
        gradcheck(square, [leaf(2), np.ones(2)])
    with pytest.raises(TypeError, match="non-empty sequence of Tensors"):
        gradcheck(square, [])
    with pytest.raises(TypeError, match="fn must return a Tensor.*ndarray"):
        gradcheck(lambda a: a.data * 2, [leaf(2)])
    with pytest.raises(ValueError, match="eps must be a positive number"):
        gradcheck(square, [leaf(2)], eps=0.0)
    with pytest.raises(ValueError, match="atol must be a non-negative number"):
        gradcheck(square, [leaf(2)], atol=-1.0)
    with pytest.raises(ValueError, match="rtol must be a finite number.*nan"):
        gradcheck(square, [leaf(2)], rtol=np.nan)
    with pytest.raises(ValueError, match="eps must be a finite number.*inf"):
        gradcheck(square, [leaf(2)], eps=np.inf)
    with pytest.raises(TypeError, match="atol must be a real number.*str '0'"):
        gradcheck(square, [leaf(2)], atol="0")
    assert gradcheck(square, [leaf(2)], atol=np.float64(1e-7), rtol=np.float32(1e-6))
    with pytest.raises(ValueError, match="non-finite"):
        gradcheck(lambda a: a * np.inf, [tl.tensor(np.ones(2), requires_grad=True)])


# ------------------------------------------------------------- activations
def test_activation_stats_by_hand_for_tanh():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(100, 50, rng=rng, dtype=np.float64), nn.Tanh())
    tl.init.normal_(model[0].weight, std=1.0, rng=rng)  # Var(W) = 1 ≫ 1/100
    x = rng.standard_normal((64, 100))
    stats = activation_stats(model, x)
    assert list(stats) == ["0", "1"]

    z = x @ model[0].weight.data
    y = np.tanh(z)
    assert stats["0"].module == "Linear" and stats["0"].saturated is None
    assert stats["0"].mean == pytest.approx(z.mean())
    assert stats["1"].std == pytest.approx(y.std())
    assert stats["1"].saturated == pytest.approx(np.mean(np.abs(y) > 0.99))
    # the lecture's "saturate": z ~ N(0, 100), P(|z| > atanh 0.99 ≈ 2.65) ≈ 0.79
    assert 0.74 < stats["1"].saturated < 0.84
    assert stats["1"].shape == (64, 50)

    tl.init.xavier_normal_(model[0].weight, rng=rng)
    assert activation_stats(model, x)["1"].saturated < 0.05


def test_activation_stats_dead_relu_units_and_sigmoid():
    rng = np.random.default_rng(1)
    model = nn.Sequential(nn.Linear(4, 10, rng=rng), nn.ReLU(), nn.Sigmoid())
    model[0].bias.data[:3] = -1e3  # three units that can never fire
    x = rng.standard_normal((32, 4)).astype(np.float32)
    stats = activation_stats(model, x)
    relu = np.maximum(x @ model[0].weight.data + model[0].bias.data, 0)
    assert stats["1"].dead == pytest.approx(0.3)
    assert stats["1"].inactive == pytest.approx(np.mean(relu == 0))
    sigmoid = 1 / (1 + np.exp(-relu.astype(np.float64)))
    expected = np.mean(np.abs(2 * sigmoid - 1) > 0.99)
    assert stats["2"].saturated == pytest.approx(expected)
    assert stats["2"].dead is None


def test_activations_leave_the_model_unchanged():
    model = nn.mlp([3, 8, 2], batchnorm=True, dropout=0.5, rng=0)
    twin = nn.mlp([3, 8, 2], batchnorm=True, dropout=0.5, rng=0)
    x = np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32)
    before = model.state_dict()
    outputs = activations(model, x)
    assert list(outputs) == ["0", "1", "2", "3", "4"]
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])
    # the dropout generator is where it was: the next mask equals the twin's
    np.testing.assert_array_equal(model(x).data, twin(x).data)
    assert all("forward" not in module.__dict__ for module in model.modules())
    assert all(p.grad is None for p in model.parameters())
    outputs["4"][...] = 0
    assert np.any(model.eval()(x).data != 0)


def test_activations_restore_forward_after_an_error():
    model = nn.Sequential(nn.Linear(3, 2, rng=0), nn.ReLU())
    with pytest.raises(ValueError, match="expects input width 3"):
        activations(model, np.ones((2, 5), np.float32))
    assert all("forward" not in module.__dict__ for module in model.modules())


def test_activations_of_nested_and_bare_modules():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Tanh())
            self.head = nn.Linear(3, 1, rng=0)

        def forward(self, x):
            return self.head(self.body(x))

    x = np.ones((2, 2), np.float32)
    assert list(activations(Net(), x)) == ["body.0", "body.1", "head"]
    assert list(activations(nn.Linear(2, 3, rng=0), x)) == ["Linear"]
    with pytest.raises(TypeError, match="model must be a Module"):
        activations(lambda v: v, x)


# --------------------------------------------------------------- gradients
def test_gradient_stats_by_hand():
    model = nn.mlp([3, 4, 2], rng=0, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((6, 3))
    F.cross_entropy(model(x), np.array([0, 1, 0, 1, 1, 0])).backward()
    model[2].bias.grad = None
    stats = gradient_stats(model)
    assert list(stats) == ["0.weight", "0.bias", "2.weight"]
    for name, param in model.named_parameters():
        if name in stats:
            assert stats[name].mean == pytest.approx(param.grad.mean())
            assert stats[name].std == pytest.approx(param.grad.std())
            assert stats[name].norm == pytest.approx(np.sqrt((param.grad**2).sum()))
            assert stats[name].data_norm == pytest.approx(np.linalg.norm(param.data))
    model.zero_grad()
    with pytest.raises(ValueError, match="no parameter with a gradient"):
        gradient_stats(model)


def test_diagnostics_imports_only_the_layers_above_it():
    tree = ast.parse(inspect.getsource(diagnostics))
    imported = {
        node.module
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module.startswith("trainlab")
    }
    assert imported <= {"trainlab.nn", "trainlab.tensor", "trainlab.functional"}
    assert tl.diagnostics is diagnostics
