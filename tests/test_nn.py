"""Modules: gradchecks, PyTorch in float64, the Module API, bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import trainlab as tl
from trainlab import functional as F
from trainlab import nn
from trainlab.diagnostics import gradcheck

# float64 central differences agree to ~1e-9; these bounds are far tighter than
# gradcheck's defaults (atol=1e-5, rtol=1e-4) and still hold on every example
TIGHT = {"atol": 1e-7, "rtol": 1e-6}


seeds = st.integers(0, 2**32 - 1)
sides = st.integers(1, 4)
batches = st.integers(2, 5)


def inputs(shape, seed, scale=1.0, requires_grad=True):
    values = np.random.default_rng(seed).standard_normal(shape) * scale
    return tl.tensor(values, requires_grad=requires_grad)


# ------------------------------------------------------------- gradchecks
@given(batches, sides, sides, st.booleans(), seeds)
def test_linear_layer_gradcheck(n, n_in, n_out, bias, seed):
    layer = nn.Linear(n_in, n_out, bias=bias, rng=seed, dtype=np.float64)
    if bias:
        tl.init.normal_(layer.bias, rng=seed)
    x = inputs((n, n_in), seed)
    assert gradcheck(lambda x, *params: layer(x), [x, *layer.parameters()], **TIGHT)


@given(batches, sides, st.booleans(), seeds)
def test_batchnorm_layer_gradcheck(n, width, training, seed):
    layer = nn.BatchNorm1d(width, dtype=np.float64)
    tl.init.uniform_(layer.gamma, 0.5, 2.0, rng=seed)
    tl.init.normal_(layer.beta, rng=seed)
    tl.init.uniform_(layer.running_var, 0.5, 2.0, rng=seed)
    layer.train(training)
    x = inputs((n, width), seed, scale=2.0)
    assert gradcheck(lambda x, *params: layer(x), [x, *layer.parameters()], **TIGHT)


@given(batches, sides, st.sampled_from([0.3, 0.6]), st.booleans(), seeds)
def test_dropout_layer_gradcheck(n, width, p, inverted, seed):
    layer = nn.Dropout(p, inverted=inverted)
    x = inputs((n, width), seed)

    def forward(x):
        layer.rng = np.random.default_rng(seed)  # the same mask on every call
        return layer(x)

    assert gradcheck(forward, [x], **TIGHT)
    layer.eval()
    assert gradcheck(forward, [x], **TIGHT)


@given(sides, st.sampled_from(["relu", "tanh", "sigmoid"]), st.booleans(), seeds)
def test_mlp_gradcheck(width, activation, batchnorm, seed):
    model = nn.mlp(
        [3, width + 1, 2],
        activation=activation,
        batchnorm=batchnorm,
        rng=seed,
        dtype=np.float64,
    )
    x = inputs((4, 3), seed)
    labels = np.random.default_rng(seed).integers(0, 2, size=4)
    assert gradcheck(
        lambda x, *params: F.cross_entropy(model(x), labels),
        [x, *model.parameters()],
        **TIGHT,
    )


# ---------------------------------------------------------------- PyTorch
def to_torch(model):
    """The same network in PyTorch, float64, weights copied (ours are Wᵀ)."""
    layers = []
    for layer in model:
        if isinstance(layer, nn.Linear):
            reference = torch.nn.Linear(
                layer.in_features, layer.out_features, bias=layer.bias is not None
            ).double()
            with torch.no_grad():
                reference.weight.copy_(torch.from_numpy(layer.weight.data.T))
                if layer.bias is not None:
                    reference.bias.copy_(torch.from_numpy(layer.bias.data))
        elif isinstance(layer, nn.BatchNorm1d):
            reference = torch.nn.BatchNorm1d(
                layer.num_features, momentum=layer.momentum, eps=layer.eps
            ).double()
            with torch.no_grad():
                reference.weight.copy_(torch.from_numpy(layer.gamma.data))
                reference.bias.copy_(torch.from_numpy(layer.beta.data))
                reference.running_mean.copy_(torch.from_numpy(layer.running_mean))
                reference.running_var.copy_(torch.from_numpy(layer.running_var))
        elif isinstance(layer, nn.ReLU):
            reference = torch.nn.ReLU()
        elif isinstance(layer, nn.Tanh):
            reference = torch.nn.Tanh()
        elif isinstance(layer, nn.Dropout):
            reference = torch.nn.Dropout(layer.p)
        layers.append(reference)
    return torch.nn.Sequential(*layers)


def torch_gradients(reference):
    """Gradients in our names and layout (Linear weight transposed)."""
    grads = []
    for layer in reference:
        if isinstance(layer, torch.nn.Linear):
            grads.append(layer.weight.grad.numpy().T)
            if layer.bias is not None:
                grads.append(layer.bias.grad.numpy())
        elif isinstance(layer, torch.nn.BatchNorm1d):
            grads += [layer.weight.grad.numpy(), layer.bias.grad.numpy()]
    return grads


def random_network(rng):
    model = nn.Sequential(
        nn.Linear(5, 8, rng=rng, dtype=np.float64),
        nn.BatchNorm1d(8, momentum=0.2, eps=1e-3, dtype=np.float64),
        nn.ReLU(),
        nn.Dropout(0.3, rng=rng),
        nn.Linear(8, 6, init="xavier_uniform", rng=rng, dtype=np.float64),
        nn.Tanh(),
        nn.Linear(6, 3, rng=rng, dtype=np.float64),
    )
    for param in model.parameters():
        if not param.decay:
            tl.init.uniform_(param, 0.5, 1.5, rng=rng)
    return model


@pytest.mark.parametrize("loss_name", ["cross_entropy", "mse_loss"])
def test_mlp_forward_and_backward_match_torch(loss_name):
    rng = np.random.default_rng(0)
    model = random_network(rng)
    reference = to_torch(model)
    ours_loss, their_loss = {
        "cross_entropy": (F.cross_entropy, torch.nn.functional.cross_entropy),
        "mse_loss": (F.mse_loss, torch.nn.functional.mse_loss),
    }[loss_name]

    for step in range(4):
        training = step < 3
        model.train(training)
        reference.train(training)
        # dropout stays in eval mode: its masks cannot be matched
        model[3].eval()
        reference[3].eval()
        x = rng.standard_normal((10, 5)) * 2
        if loss_name == "cross_entropy":
            target = rng.integers(0, 3, size=10)
            their_target = torch.from_numpy(target)
        else:
            target = rng.standard_normal((10, 3))
            their_target = torch.from_numpy(target)
        x_ours = tl.tensor(x, requires_grad=True)
        x_theirs = torch.tensor(x, requires_grad=True)

        model.zero_grad()
        reference.zero_grad()
        out = model(x_ours)
        their_out = reference(x_theirs)
        loss = ours_loss(out, target)
        their = their_loss(their_out, their_target)
        loss.backward()
        their.backward()

        np.testing.assert_allclose(
            out.data, their_out.detach().numpy(), rtol=0, atol=1e-10
        )
        np.testing.assert_allclose(loss.item(), their.item(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(
            x_ours.grad, x_theirs.grad.numpy(), rtol=0, atol=1e-10
        )
        for ours, theirs in zip(
            [p.grad for p in model.parameters()],
            torch_gradients(reference),
            strict=True,
        ):
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-10)
        np.testing.assert_allclose(
            model[1].running_mean, reference[1].running_mean.numpy(), rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            model[1].running_var, reference[1].running_var.numpy(), rtol=0, atol=1e-12
        )

        # the same plain gradient step on both, so later steps see new weights
        with torch.no_grad():
            for param, their_param in zip(
                model.parameters(), _torch_parameters(reference), strict=True
            ):
                param.data -= 0.1 * param.grad
                their_param -= 0.1 * their_param.grad


def _torch_parameters(reference):
    for layer in reference:
        if isinstance(layer, torch.nn.Linear):
            yield layer.weight  # (out, in), as its gradient
            if layer.bias is not None:
                yield layer.bias
        elif isinstance(layer, torch.nn.BatchNorm1d):
            yield layer.weight
            yield layer.bias


def test_batchnorm_matches_torch_in_training_and_eval():
    rng = np.random.default_rng(1)
    ours = nn.BatchNorm1d(4, momentum=0.3, eps=1e-3, dtype=np.float64)
    theirs = torch.nn.BatchNorm1d(4, momentum=0.3, eps=1e-3).double()
    for step in range(6):
        training = step < 5
        ours.train(training)
        theirs.train(training)
        batch = rng.standard_normal((7, 4)) * [1.0, 3.0, 0.1, 10.0] + [0.0, 5.0, -2, 1]
        upstream = rng.standard_normal((7, 4))
        x = tl.tensor(batch, requires_grad=True)
        x_theirs = torch.tensor(batch, requires_grad=True)
        ours.zero_grad()
        theirs.zero_grad()
        out, their_out = ours(x), theirs(x_theirs)
        out.backward(upstream)
        their_out.backward(torch.from_numpy(upstream))
        np.testing.assert_allclose(
            out.data, their_out.detach().numpy(), rtol=0, atol=1e-10
        )
        np.testing.assert_allclose(x.grad, x_theirs.grad.numpy(), rtol=0, atol=1e-10)
        np.testing.assert_allclose(
            ours.gamma.grad, theirs.weight.grad.numpy(), rtol=0, atol=1e-10
        )
        np.testing.assert_allclose(
            ours.beta.grad, theirs.bias.grad.numpy(), rtol=0, atol=1e-10
        )
        np.testing.assert_allclose(
            ours.running_mean, theirs.running_mean.numpy(), rtol=0, atol=1e-12
        )
        np.testing.assert_allclose(
            ours.running_var, theirs.running_var.numpy(), rtol=0, atol=1e-12
        )
    # eval mode changed nothing
    assert theirs.num_batches_tracked.item() == 5


def test_batchnorm_running_statistics_by_hand():
    layer = nn.BatchNorm1d(1, momentum=0.1, dtype=np.float64)
    layer(tl.tensor(np.array([[1.0], [3.0]])))
    # μ = 2, biased σ² = 1, unbiased 2: 0.9·0 + 0.1·2 and 0.9·1 + 0.1·2
    np.testing.assert_allclose(layer.running_mean, [0.2])
    np.testing.assert_allclose(layer.running_var, [1.1])


# ---------------------------------------------------------------- Module API
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Linear(3, 4, rng=0), nn.BatchNorm1d(4), nn.ReLU()
        )
        self.head = nn.Linear(4, 2, bias=False, rng=1)
        self.scale = 2.0

    def forward(self, x):
        return self.head(self.encoder(x)) * self.scale


def test_named_parameters_have_dotted_names_and_decay_flags():
    model = Net()
    names = [name for name, _ in model.named_parameters()]
    assert names == [
        "encoder.0.weight",
        "encoder.0.bias",
        "encoder.1.gamma",
        "encoder.1.beta",
        "head.weight",
    ]
    decay = {name: param.decay for name, param in model.named_parameters()}
    assert decay == {
        "encoder.0.weight": True,
        "encoder.0.bias": False,
        "encoder.1.gamma": False,
        "encoder.1.beta": False,
        "head.weight": True,
    }
    assert [name for name, _ in model.named_buffers()] == [
        "encoder.1.running_mean",
        "encoder.1.running_var",
    ]
    assert [name for name, _ in model.named_modules()][:3] == [
        "",
        "encoder",
        "encoder.0",
    ]
    assert len(model.parameters()) == 5
    assert nn.num_parameters(model) == 3 * 4 + 4 + 4 + 4 + 4 * 2


def test_shared_parameter_is_listed_once():
    layer = nn.Linear(2, 2, rng=0)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]


def test_train_and_eval_propagate():
    model = Net()
    assert model.eval() is model
    assert all(not module.training for module in model.modules())
    assert model.train() is model
    assert all(module.training for module in model.modules())


def test_state_dict_round_trip_includes_running_statistics():
    model = Net()
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    for _ in range(3):
        model(x)
    state = model.state_dict()
    assert set(state) == {
        "encoder.0.weight",
        "encoder.0.bias",
        "encoder.1.gamma",
        "encoder.1.beta",
        "encoder.1.running_mean",
        "encoder.1.running_var",
        "head.weight",
    }
    assert np.any(state["encoder.1.running_mean"] != 0)
    # copies, not views
    state["head.weight"][...] = 0
    assert np.any(model.head.weight.data != 0)
    state = model.state_dict()

    other = Net()
    tl.init.normal_(other.head.weight, rng=5)
    other.load_state_dict(state)
    for name, value in other.state_dict().items():
        np.testing.assert_array_equal(value, state[name])
    model.eval()
    other.eval()
    np.testing.assert_array_equal(model(x).data, other(x).data)


def test_load_state_dict_refuses_mismatches_and_leaves_model_unchanged():
    model = Net()
    before = model.state_dict()
    good = Net().state_dict()
    tl.init.normal_(good["head.weight"], rng=3)

    missing = dict(good)
    del missing["encoder.1.running_var"]
    with pytest.raises(
        ValueError, match=r"missing entries \['encoder.1.running_var'\]"
    ):
        model.load_state_dict(missing)

    extra = dict(good, **{"head.bias": np.zeros(2, np.float32)})
    with pytest.raises(ValueError, match=r"unexpected entries \['head.bias'\]"):
        model.load_state_dict(extra)

    wrong = dict(good, **{"encoder.0.weight": np.zeros((4, 3), np.float32)})
    with pytest.raises(
        ValueError, match=r"'encoder.0.weight' has shape \(4, 3\).*expects \(3, 4\)"
    ):
        model.load_state_dict(wrong)

    with pytest.raises(TypeError, match="state must be a dict"):
        model.load_state_dict([("head.weight", good["head.weight"])])

    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name])


def test_repr_shows_the_architecture():
    model = nn.mlp([2, 5, 3], batchnorm=True, dropout=0.25, rng=0)
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=5, bias=False)\n"
        "  (1): BatchNorm1d(5, momentum=0.1, eps=1e-05)\n"
        "  (2): ReLU()\n"
        "  (3): Dropout(p=0.25)\n"
        "  (4): Linear(in_features=5, out_features=3)\n"
        ")"
    )
    assert "Dropout(p=0.5, inverted=False)" == repr(nn.Dropout(0.5, inverted=False))
    assert "encoder" in repr(Net()) and "(head): Linear" in repr(Net())


def test_mlp_builds_the_documented_layer_order():
    model = nn.mlp([4, 6, 5, 2], activation="tanh", batchnorm=True, dropout=0.5, rng=0)
    kinds = [type(layer) for layer in model]
    assert kinds == [
        nn.Linear, nn.BatchNorm1d, nn.Tanh, nn.Dropout,
        nn.Linear, nn.BatchNorm1d, nn.Tanh, nn.Dropout,
        nn.Linear,
    ]  # fmt: skip
    assert model[0].bias is None and model[4].bias is None
    assert model[8].bias is not None
    assert all(p.dtype == np.float32 for p in model.parameters())
    plain = nn.mlp([4, 6, 2], activation="sigmoid", rng=0, dtype=np.float64)
    assert [type(layer) for layer in plain] == [nn.Linear, nn.Sigmoid, nn.Linear]
    assert all(p.dtype == np.float64 for p in plain.parameters())


@pytest.mark.parametrize(
    ("activation", "hidden_variance"),
    [("relu", 2 / 400), ("tanh", 2 / (400 + 900)), ("sigmoid", 2 / (400 + 900))],
)
def test_mlp_picks_he_for_relu_and_xavier_for_tanh(activation, hidden_variance):
    model = nn.mlp([400, 900, 300], activation=activation, rng=0)
    hidden, output = model[0].weight.data, model[2].weight.data
    assert abs(hidden.var() / hidden_variance - 1) < 0.02
    # the output layer, with no non-linearity after it, is Xavier
    assert abs(output.var() / (2 / (900 + 300)) - 1) < 0.02
    assert not model[0].bias.data.any()


def test_linear_default_init_is_lecun_and_seeded():
    layer = nn.Linear(400, 900, rng=0)
    assert abs(layer.weight.data.var() * 400 - 1) < 0.02
    assert layer.weight.shape == (400, 900) and layer.weight.dtype == np.float32
    np.testing.assert_array_equal(
        layer.weight.data, nn.Linear(400, 900, rng=0).weight.data
    )
    custom = nn.Linear(3, 2, init=lambda w, rng: tl.init.constant_(w, 0.5))
    np.testing.assert_array_equal(custom.weight.data, np.full((3, 2), 0.5))


def test_dropout_layer_modes_and_seeds():
    x = tl.tensor(np.ones((50, 40)))
    layer = nn.Dropout(0.5, rng=3)
    first = layer(x).data
    again = nn.Dropout(0.5, rng=3)(x).data
    np.testing.assert_array_equal(first, again)
    assert set(np.unique(first)) == {0.0, 2.0}
    layer.eval()
    assert layer(x) is x
    lecture = nn.Dropout(0.3, inverted=False).eval()
    np.testing.assert_allclose(lecture(x).data, 0.7)
    unseeded = nn.Dropout(0.5)
    assert unseeded.rng is None
    masks = [unseeded(x).data for _ in range(2)]
    assert set(np.unique(masks[0])) == {0.0, 2.0}
    assert not np.array_equal(masks[0], masks[1])
    # the fresh generator is private: fit(seed=...) still sees the layer unseeded
    assert unseeded.rng is None


def test_training_forward_before_fit_keeps_fits_reproducible():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 4))
    y = rng.integers(0, 3, 32)

    def run(shape_check: bool) -> list[float]:
        model = nn.Sequential(
            nn.Linear(4, 8, rng=1, dtype=np.float64),
            nn.ReLU(),
            nn.Dropout(0.5),
            nn.Linear(8, 3, rng=2, dtype=np.float64),
        )
        if shape_check:
            model(tl.tensor(X[:2]))  # training mode: draws a dropout mask
        optimizer = tl.optim.SGD(model.parameters(), lr=0.1)
        history = tl.fit(
            model,
            F.cross_entropy,
            optimizer,
            X,
            y,
            epochs=2,
            batch_size=8,
            seed=5,
            progress=False,
        )
        assert model[-2].rng is None
        return history["loss"]

    assert run(shape_check=True) == run(shape_check=False)


def test_numpy_scalars_are_accepted_as_hyperparameters():
    assert nn.Dropout(np.float32(0.25)).p == 0.25
    assert nn.BatchNorm1d(2, momentum=np.float64(0.5)).momentum == 0.5
    with pytest.raises(ValueError, match="p must lie"):
        nn.Dropout(True)


def test_buffers_stay_registered_when_reassigned():
    layer = nn.BatchNorm1d(3)
    layer.running_mean = np.full(3, 2.0, np.float32)
    assert layer.state_dict()["running_mean"].tolist() == [2.0, 2.0, 2.0]


def test_parameter_and_zero_grad():
    data = np.ones((2, 2), np.float32)
    param = nn.Parameter(data, decay=False)
    assert param.requires_grad and param.is_leaf and not param.decay
    assert param.dtype == np.float32 and not np.shares_memory(param.data, data)
    assert repr(param) == "Parameter(shape=(2, 2), dtype=float32, decay=False)"
    with pytest.raises(TypeError, match="Parameter needs floating-point data.*int64"):
        nn.Parameter(np.ones(2, np.int64))
    model = nn.Sequential(nn.Linear(2, 2, rng=0))
    F.mse_loss(model(np.ones((3, 2), np.float32)), np.zeros((3, 2))).backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_layers_accept_ndarrays_and_keep_float32():
    model = nn.mlp([3, 4, 2], batchnorm=True, dropout=0.2, rng=0)
    out = model(np.ones((5, 3), np.float32))
    assert isinstance(out, tl.Tensor) and out.dtype == np.float32


# ------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (
            lambda: nn.Linear(0, 3),
            ValueError,
            "in_features must be positive, received 0",
        ),
        (
            lambda: nn.Linear(3, -1),
            ValueError,
            "out_features must be positive, received -1",
        ),
        (
            lambda: nn.Linear(2.0, 3),
            TypeError,
            "in_features must be an int, received float",
        ),
        (lambda: nn.Linear(2, 3, dtype=np.int32), TypeError, "dtype must be float32"),
        (lambda: nn.Linear(2, 3, init="orthogonal"), ValueError, "init must be"),
        (lambda: nn.BatchNorm1d(0), ValueError, "num_features must be positive"),
        (
            lambda: nn.BatchNorm1d(3, momentum=1.5),
            ValueError,
            r"momentum must lie in \[0, 1\]",
        ),
        (lambda: nn.BatchNorm1d(3, eps=0), ValueError, "eps must be positive"),
        (lambda: nn.Dropout(1.0), ValueError, r"p must lie in \[0, 1\), received 1.0"),
        (
            lambda: nn.Dropout(-0.2),
            ValueError,
            r"p must lie in \[0, 1\), received -0.2",
        ),
        (
            lambda: nn.Dropout(0.5, inverted="no"),
            TypeError,
            r"inverted must be a bool, received str 'no'",
        ),
        (
            lambda: nn.Dropout(0.5, inverted=1),
            TypeError,
            r"inverted must be a bool, received int 1",
        ),
        (lambda: nn.mlp([3]), ValueError, "sizes needs at least 2 entries"),
        (
            lambda: nn.mlp([3, 0, 2]),
            ValueError,
            r"sizes\[1\] must be positive, received 0",
        ),
        (
            lambda: nn.mlp([3, 2], activation="gelu"),
            ValueError,
            "activation must be one of",
        ),
        (
            lambda: nn.mlp([3, 4, 2], dropout=1.0),
            ValueError,
            r"dropout must lie in \[0, 1\)",
        ),
        (lambda: nn.Sequential(nn.ReLU(), "relu"), TypeError, "argument 1 is str"),
    ],
)
def test_bad_construction_is_refused(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_wrong_input_width_names_layer_expected_and_received():
    layer = nn.Linear(3, 2, rng=0)
    with pytest.raises(
        ValueError,
        match=r"Linear\(in_features=3, out_features=2\) expects input width 3, "
        r"received input of shape \(4, 5\) \(width 5\)",
    ):
        layer(np.ones((4, 5), np.float32))
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.ReLU(), nn.Linear(5, 2, rng=0))
    with pytest.raises(
        ValueError, match=r"layer 2: Linear\(in_features=5.*width 5, .*\(width 4\)"
    ):
        model(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError, match=r"layer 0: Linear\(in_features=3.*width 7\)"):
        model(np.ones((2, 7), np.float32))


def test_batchnorm_refuses_batch_of_one_in_training_and_wrong_width():
    layer = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="at least 2 samples.*batch of 1"):
        layer(np.ones((1, 3), np.float32))
    layer.eval()
    assert layer(np.ones((1, 3), np.float32)).shape == (1, 3)
    with pytest.raises(
        ValueError, match=r"expects input of shape \(N, 3\), received \(2, 4\)"
    ):
        layer(np.ones((2, 4), np.float32))


def test_module_without_super_init_is_refused():
    class Broken(nn.Module):
        def __init__(self):
            self.layer = nn.Linear(2, 2)

    with pytest.raises(RuntimeError, match=r"must call super\(\).__init__\(\)"):
        Broken()
    with pytest.raises(NotImplementedError, match="Module must define forward"):
        nn.Module()(np.ones(2))


def test_parameters_and_modules_follow_the_named_order_with_sharing():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 3, rng=0), nn.Tanh())
            self.head = nn.Linear(3, 3, rng=1)
            self.tied = self.head  # the same layer under a second name
            self.scale = nn.Parameter(np.ones(1, np.float32), decay=False)

    net = Net()
    named = [param for _, param in net.named_parameters()]
    assert [id(p) for p in net.parameters()] == [id(p) for p in named]
    assert len(named) == 5
    assert [id(m) for m in net.modules()] == [id(m) for _, m in net.named_modules()]
    for param in net.parameters():
        param.grad = np.ones_like(param.data)
    net.zero_grad()
    assert all(param.grad is None for param in named)


def test_mlp_without_rng_leaves_dropout_to_fit_seed():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((40, 3)).astype(np.float32)
    y = rng.integers(0, 2, 40)

    def run():
        model = tl.nn.mlp([3, 8, 2], dropout=0.5)
        model.load_state_dict(tl.nn.mlp([3, 8, 2], dropout=0.5, rng=0).state_dict())
        opt = tl.optim.SGD(model.parameters(), lr=0.1)
        history = tl.fit(
            model, F.cross_entropy, opt, X, y, epochs=2, batch_size=8, progress=False
        )
        return history.step_loss

    assert all(
        layer.rng is None
        for layer in tl.nn.mlp([3, 8, 2], dropout=0.5)
        if isinstance(layer, tl.nn.Dropout)
    )
    assert run() == run()
    seeded = tl.nn.mlp([3, 8, 2], dropout=0.5, rng=0)
    assert all(
        layer.rng is not None for layer in seeded if isinstance(layer, tl.nn.Dropout)
    )
