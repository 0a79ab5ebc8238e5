"""Optimizers: PyTorch's paths, the lecture's literal formulas, hand steps, state."""

import io
import json
from copy import deepcopy

import numpy as np
import pytest
import torch

import trainlab as tl
from trainlab import functional as F
from trainlab.nn import Parameter
from trainlab.optim import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    NonFiniteStepError,
    RMSprop,
    clip_grad_norm,
    weight_penalty,
)

torch.set_num_threads(1)  # tiny tensors: threads only add overhead

LAMBDA = 0.01  # the lecture's weight decay λ in the path tests

# ------------------------------------------------------------ a small network
_rng = np.random.default_rng(0)
X = _rng.normal(size=(16, 2))
Y = _rng.integers(0, 3, size=16)
INITIAL = [
    p.data.copy()
    for p in tl.nn.mlp(
        [2, 8, 3], activation="tanh", rng=1, dtype=np.float64
    ).parameters()
]
# W1, b1, W2, b2: the weights decay, the biases do not. Biases start off zero
# so that a wrongly decayed bias would show.
INITIAL[1] = _rng.normal(scale=0.5, size=8)
INITIAL[3] = _rng.normal(scale=0.5, size=3)


def fresh_params(arrays=INITIAL):
    return [Parameter(a, decay=(a.ndim == 2)) for a in arrays]


def network_loss(params):
    w1, b1, w2, b2 = params
    hidden = F.tanh(F.linear(X, w1, b1))
    return F.cross_entropy(F.linear(hidden, w2, b2), Y)


def set_gradients(params):
    """Evaluate the data loss at the params and leave ∇L_B in their ``grad``."""
    for p in params:
        p.grad = None
    network_loss(params).backward()


def trainlab_path(optimizer, params, steps, lr_at=None):
    path = []
    for step in range(steps):
        if lr_at is not None:
            optimizer.lr = lr_at(step)
        optimizer.zero_grad()
        network_loss(params).backward()
        optimizer.step()
        path.append([p.data.copy() for p in params])
    return path


def torch_path(make_optimizer, steps, lr_at=None):
    params = [torch.tensor(a.copy(), requires_grad=True) for a in INITIAL]
    w1, b1, w2, b2 = params
    optimizer = make_optimizer(weights=[w1, w2], biases=[b1, b2])
    x, y = torch.tensor(X), torch.tensor(Y)
    path = []
    for step in range(steps):
        if lr_at is not None:
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
        optimizer.zero_grad()
        logits = torch.tanh(x @ w1 + b1) @ w2 + b2
        torch.nn.functional.cross_entropy(logits, y).backward()
        optimizer.step()
        path.append([p.detach().numpy().copy() for p in params])
    return path


def max_relative_gap(path_a, path_b):
    return max(
        np.linalg.norm(a - b) / np.linalg.norm(b)
        for arrays_a, arrays_b in zip(path_a, path_b, strict=True)
        for a, b in zip(arrays_a, arrays_b, strict=True)
    )


def groups(weights, biases, weight_decay):
    return [
        {"params": weights, "weight_decay": weight_decay},
        {"params": biases, "weight_decay": 0.0},
    ]


# (trainlab optimizer, PyTorch optimizer) given λ; PyTorch's coupled weight
# decay is 2λ on the weights, AdamW's decoupled one is λ.
PAIRS = {
    "sgd": (
        lambda p, lam: SGD(p, lr=0.2, weight_decay=lam),
        lambda w, b, lam: torch.optim.SGD(groups(w, b, 2 * lam), lr=0.2),
    ),
    "momentum": (
        lambda p, lam: SGD(p, lr=0.05, momentum=0.9, weight_decay=lam),
        lambda w, b, lam: torch.optim.SGD(groups(w, b, 2 * lam), lr=0.05, momentum=0.9),
    ),
    "nesterov": (
        lambda p, lam: SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=lam),
        lambda w, b, lam: torch.optim.SGD(
            groups(w, b, 2 * lam), lr=0.05, momentum=0.9, nesterov=True
        ),
    ),
    "adagrad": (
        lambda p, lam: Adagrad(p, lr=0.05, weight_decay=lam),
        lambda w, b, lam: torch.optim.Adagrad(groups(w, b, 2 * lam), lr=0.05),
    ),
    "adagrad-eps-inside": (
        lambda p, lam: Adagrad(
            p, lr=0.05, eps=1e-20, weight_decay=lam, eps_inside_sqrt=True
        ),
        lambda w, b, lam: torch.optim.Adagrad(
            groups(w, b, 2 * lam), lr=0.05, eps=1e-20
        ),
    ),
    "rmsprop": (
        lambda p, lam: RMSprop(p, lr=0.003, weight_decay=lam),
        lambda w, b, lam: torch.optim.RMSprop(groups(w, b, 2 * lam), lr=0.003),
    ),
    "rmsprop-eps-inside": (
        lambda p, lam: RMSprop(
            p, lr=0.003, eps=1e-20, weight_decay=lam, eps_inside_sqrt=True
        ),
        lambda w, b, lam: torch.optim.RMSprop(
            groups(w, b, 2 * lam), lr=0.003, eps=1e-20
        ),
    ),
    "adam": (
        lambda p, lam: Adam(p, lr=0.02, betas=(0.8, 0.99), weight_decay=lam),
        lambda w, b, lam: torch.optim.Adam(
            groups(w, b, 2 * lam), lr=0.02, betas=(0.8, 0.99)
        ),
    ),
    "adam-eps-inside": (
        lambda p, lam: Adam(
            p, lr=0.02, eps=1e-20, weight_decay=lam, eps_inside_sqrt=True
        ),
        lambda w, b, lam: torch.optim.Adam(groups(w, b, 2 * lam), lr=0.02, eps=1e-20),
    ),
    "adamw": (
        lambda p, lam: AdamW(p, lr=0.02, weight_decay=10 * lam),
        lambda w, b, lam: torch.optim.AdamW(groups(w, b, 10 * lam), lr=0.02),
    ),
}


@pytest.mark.parametrize("weight_decay", [0.0, LAMBDA], ids=["no-decay", "decay"])
@pytest.mark.parametrize("name", sorted(PAIRS))
def test_follows_pytorch_path_for_150_steps(name, weight_decay):
    ours, theirs = PAIRS[name]
    params = fresh_params()
    path = trainlab_path(ours(params, weight_decay), params, 150)
    reference = torch_path(
        lambda weights, biases: theirs(weights, biases, weight_decay), 150
    )

    assert max_relative_gap(path, reference) < 1e-6
    # The path went somewhere: the test compares a real trajectory.
    moved = np.linalg.norm(path[-1][0] - INITIAL[0]) / np.linalg.norm(INITIAL[0])
    assert moved > 0.05


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_weight_decay_changes_the_path_and_spares_biases(name):
    ours, _ = PAIRS[name]
    plain_params, decayed_params = fresh_params(), fresh_params()
    plain = trainlab_path(ours(plain_params, 0.0), plain_params, 30)
    decayed = trainlab_path(ours(decayed_params, 0.1), decayed_params, 30)
    assert max_relative_gap(decayed, plain) > 1e-3

    # Fed the same gradients, with and without decay, the optimizers move the
    # weights differently but the biases (decay=False) exactly alike.
    rng = np.random.default_rng(5)
    plain_params, decayed_params = fresh_params(), fresh_params()
    plain_optimizer = ours(plain_params, 0.0)
    decayed_optimizer = ours(decayed_params, 0.1)
    for _ in range(10):
        gradients = [rng.normal(size=a.shape) for a in INITIAL]
        for params, optimizer in (
            (plain_params, plain_optimizer),
            (decayed_params, decayed_optimizer),
        ):
            for param, gradient in zip(params, gradients, strict=True):
                param.grad = gradient
            optimizer.step()
    for index in (1, 3):
        np.testing.assert_array_equal(
            decayed_params[index].data, plain_params[index].data
        )
    for index in (0, 2):
        assert not np.allclose(decayed_params[index].data, plain_params[index].data)


def test_weight_decay_adds_two_lambda_w_on_decayed_params_only():
    weight = Parameter(np.array([[1.0, -2.0], [0.5, 4.0]]), decay=True)
    bias = Parameter(np.array([3.0, -1.0]), decay=False)
    for p in (weight, bias):
        p.grad = np.zeros_like(p.data)
    SGD([weight, bias], lr=0.1, weight_decay=0.25).step()
    # W ← W − η (0 + 2λW) = W (1 − 2 · 0.1 · 0.25) = 0.95 W
    np.testing.assert_array_equal(weight.data, [[0.95, -1.9], [0.475, 3.8]])
    np.testing.assert_array_equal(bias.data, [3.0, -1.0])


def test_weight_decay_is_the_gradient_of_the_penalty():
    weight = Parameter(np.array([[1.0, -2.0], [0.5, 4.0]]), decay=True)
    bias = Parameter(np.array([3.0, -1.0]), decay=False)
    lam = 0.3
    # λ Σ ‖W‖²_F, the bias left out
    assert weight_penalty([weight, bias], lam) == pytest.approx(lam * 21.25)

    h = 1e-6
    numeric = np.zeros_like(weight.data)
    for i in np.ndindex(weight.shape):
        original = weight.data[i]
        weight.data[i] = original + h
        up = weight_penalty([weight, bias], lam)
        weight.data[i] = original - h
        down = weight_penalty([weight, bias], lam)
        weight.data[i] = original
        numeric[i] = (up - down) / (2 * h)

    # with a zero loss gradient, one plain SGD step with η = 1 moves θ by −2λθ
    before = weight.data.copy()
    weight.grad = np.zeros_like(weight.data)
    SGD([weight], lr=1.0, weight_decay=lam).step()
    added = before - weight.data
    np.testing.assert_allclose(added, numeric, rtol=1e-7)
    np.testing.assert_allclose(added, 2 * lam * before)


# ------------------------------------------------- the lecture's literal forms
def varying_lr(step):
    return 0.05 * (1.0 + 0.8 * np.sin(0.7 * step))


def gradient_at(arrays):
    params = fresh_params(arrays)
    set_gradients(params)
    return [p.grad for p in params]


def test_momentum_follows_lecture_formula_when_lr_changes_every_step():
    momentum, steps = 0.9, 60
    params = fresh_params()
    path = trainlab_path(
        SGD(params, lr=1.0, momentum=momentum), params, steps, varying_lr
    )

    theta = [a.copy() for a in INITIAL]
    velocity = [np.zeros_like(a) for a in INITIAL]
    literal = []
    for step in range(steps):
        grads = gradient_at(theta)
        lr = varying_lr(step)
        velocity = [momentum * v - lr * g for v, g in zip(velocity, grads, strict=True)]
        theta = [th + v for th, v in zip(theta, velocity, strict=True)]
        literal.append(theta)

    assert max_relative_gap(path, literal) < 1e-12
    # PyTorch's b ← μb + ∇, θ ← θ − ηb is another algorithm once η varies.
    reference = torch_path(
        lambda weights, biases: torch.optim.SGD(
            weights + biases, lr=1.0, momentum=momentum
        ),
        steps,
        varying_lr,
    )
    assert max_relative_gap(path, reference) > 1e-3


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_nesterov_is_the_lecture_look_ahead_after_change_of_variables(weight_decay):
    momentum, steps = 0.9, 60
    params = fresh_params()
    optimizer = SGD(
        params, lr=1.0, momentum=momentum, nesterov=True, weight_decay=weight_decay
    )

    theta = [a.copy() for a in INITIAL]
    velocity = [np.zeros_like(a) for a in INITIAL]
    for step in range(steps):
        lr = varying_lr(step)

        # the lecture: θ_{t+1/2} = θ_t + μ v_t, gradient of L_R evaluated there
        look_ahead = [th + momentum * v for th, v in zip(theta, velocity, strict=True)]
        grads = gradient_at(look_ahead)
        grads = [
            g + 2 * weight_decay * point if point.ndim == 2 else g
            for g, point in zip(grads, look_ahead, strict=True)
        ]
        velocity = [momentum * v - lr * g for v, g in zip(velocity, grads, strict=True)]
        theta = [th + v for th, v in zip(theta, velocity, strict=True)]

        optimizer.lr = lr
        optimizer.zero_grad()
        network_loss(params).backward()
        optimizer.step()

        look_ahead = [th + momentum * v for th, v in zip(theta, velocity, strict=True)]
        for ours, point in zip(params, look_ahead, strict=True):
            np.testing.assert_allclose(ours.data, point, rtol=1e-11, atol=1e-13)
        for ours, expected in zip(optimizer.theta(), theta, strict=True):
            np.testing.assert_allclose(ours, expected, rtol=1e-11, atol=1e-13)
        for ours, expected in zip(optimizer.velocity, velocity, strict=True):
            np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-13)


# ----------------------------------------------------- hand-computed first step
def one_parameter(values, grad, decay=True):
    param = Parameter(np.array(values, dtype=np.float64), decay=decay)
    param.grad = np.array(grad, dtype=np.float64)
    return param


def test_sgd_first_steps_by_hand():
    param = one_parameter([1.0, -2.0], [0.5, -4.0])
    SGD([param], lr=0.1).step()
    np.testing.assert_allclose(param.data, [0.95, -1.6])

    param = one_parameter([1.0, -2.0], [0.5, -4.0])
    optimizer = SGD([param], lr=0.1, momentum=0.5)
    optimizer.step()  # v = −0.1 ∇ = [−0.05, 0.4]
    np.testing.assert_allclose(param.data, [0.95, -1.6])
    param.grad = np.array([1.0, 1.0])
    optimizer.step()  # v = 0.5 [−0.05, 0.4] − 0.1 [1, 1] = [−0.125, 0.1]
    np.testing.assert_allclose(optimizer.velocity[0], [-0.125, 0.1])
    np.testing.assert_allclose(param.data, [0.825, -1.5])

    param = one_parameter([1.0, -2.0], [0.5, -4.0])
    optimizer = SGD([param], lr=0.1, momentum=0.5, nesterov=True)
    optimizer.step()  # φ = φ − η∇ + μ v = φ − 0.1 (1 + 0.5) ∇
    np.testing.assert_allclose(param.data, [0.925, -1.4])
    np.testing.assert_allclose(optimizer.theta()[0], [0.95, -1.6])

    param = one_parameter([1.0, -2.0], [0.5, -4.0])
    SGD([param], lr=0.1, weight_decay=0.5).step()  # ∇ + 2λθ = [1.5, −6]
    np.testing.assert_allclose(param.data, [0.85, -1.4])


def test_adagrad_first_step_by_hand():
    param = one_parameter([1.0, -2.0], [0.5, -4.0])
    Adagrad([param], lr=0.1, eps=0.0).step()  # g = ∇², step = η ∇ / |∇|
    np.testing.assert_allclose(param.data, [0.9, -1.9])

    param = one_parameter([1.0, -2.0], [0.5, -4.0])
    Adagrad([param], lr=0.1, eps=1.0).step()  # ε outside: ∇ / (|∇| + 1)
    np.testing.assert_allclose(param.data, [1 - 0.1 * 0.5 / 1.5, -2 + 0.1 * 4 / 5])

    param = one_parameter([1.0, -2.0], [0.5, -4.0])
    Adagrad([param], lr=0.1, eps=1.0, eps_inside_sqrt=True).step()  # ∇ / √(∇² + 1)
    np.testing.assert_allclose(
        param.data, [1 - 0.1 * 0.5 / np.sqrt(1.25), -2 + 0.1 * 4 / np.sqrt(17)]
    )


def test_adagrad_eps_inside_the_root_over_two_steps_by_hand():
    # ε = 0.1 inside the root: θ_{t+1} = θ_t − η ∇ / √(g_{t+1} + ε)
    param = one_parameter([1.0, -2.0], [0.5, -4.0])
    optimizer = Adagrad([param], lr=0.1, eps=0.1, eps_inside_sqrt=True)
    optimizer.step()  # g = [0.25, 16]
    first = np.array([1 - 0.1 * 0.5 / np.sqrt(0.35), -2 + 0.1 * 4 / np.sqrt(16.1)])
    np.testing.assert_allclose(param.data, first, rtol=1e-14)
    param.grad = np.array([1.0, 2.0])
    optimizer.step()  # g = [0.25 + 1, 16 + 4]
    np.testing.assert_allclose(optimizer.sq_sum[0], [1.25, 20.0], rtol=1e-15)
    second = first - 0.1 * np.array([1.0 / np.sqrt(1.35), 2.0 / np.sqrt(20.1)])
    np.testing.assert_allclose(param.data, second, rtol=1e-14)

    # ε outside the root, √g + ε, is another path at this ε
    outside = one_parameter([1.0, -2.0], [0.5, -4.0])
    Adagrad([outside], lr=0.1, eps=0.1).step()
    assert np.abs(outside.data - first).max() > 1e-3


def test_rmsprop_eps_inside_the_root_over_two_steps_by_hand():
    # β = 0.5, ε = 0.1 inside the root: θ_{t+1} = θ_t − η ∇ / √(g_{t+1} + ε)
    param = one_parameter([1.0, -2.0], [0.5, -4.0])
    optimizer = RMSprop([param], lr=0.01, beta=0.5, eps=0.1, eps_inside_sqrt=True)
    optimizer.step()  # g = 0.5 ∇² = [0.125, 8]
    first = np.array([1 - 0.01 * 0.5 / np.sqrt(0.225), -2 + 0.01 * 4 / np.sqrt(8.1)])
    np.testing.assert_allclose(param.data, first, rtol=1e-14)
    param.grad = np.array([1.0, 2.0])
    optimizer.step()  # g = 0.5 [0.125, 8] + 0.5 [1, 4] = [0.5625, 6]
    np.testing.assert_allclose(optimizer.sq_avg[0], [0.5625, 6.0], rtol=1e-15)
    second = first - 0.01 * np.array([1.0 / np.sqrt(0.6625), 2.0 / np.sqrt(6.1)])
    np.testing.assert_allclose(param.data, second, rtol=1e-14)

    outside = one_parameter([1.0, -2.0], [0.5, -4.0])
    RMSprop([outside], lr=0.01, beta=0.5, eps=0.1).step()
    assert np.abs(outside.data - first).max() > 1e-4


def test_rmsprop_first_step_by_hand():
    # g = (1 − β) ∇², so the first step is η ∇ / (√(1 − β) |∇|) = 10 η sign(∇)
    param = one_parameter([1.0, -2.0], [0.5, -4.0])
    RMSprop([param], lr=0.01, beta=0.99, eps=0.0).step()
    np.testing.assert_allclose(param.data, [0.9, -1.9])

    param = one_parameter([1.0, -2.0], [0.5, -4.0])
    RMSprop([param], lr=0.01, beta=0.99, eps=0.25, eps_inside_sqrt=True).step()
    np.testing.assert_allclose(
        param.data,
        [1 - 0.01 * 0.5 / np.sqrt(0.0025 + 0.25), -2 + 0.01 * 4 / np.sqrt(0.16 + 0.25)],
    )


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e4])
def test_adam_first_step_has_size_lr_whatever_the_gradient_scale(scale):
    grad = scale * np.array([0.5, -4.0, 2.0, -0.01])
    param = one_parameter([1.0, -2.0, 3.0, 0.0], grad)
    Adam([param], lr=0.01).step()
    # with the default ε = 1e-8 (outside the root) the size is η |∇| / (|∇| + ε)
    size = np.abs(param.data - [1.0, -2.0, 3.0, 0.0])
    np.testing.assert_allclose(size, 0.01 * np.abs(grad) / (np.abs(grad) + 1e-8))
    np.testing.assert_allclose(size, 0.01, rtol=1e-3)

    param = one_parameter([1.0, -2.0, 3.0, 0.0], grad)
    Adam([param], lr=0.01, eps=0.0).step()
    np.testing.assert_allclose(param.data, [0.99, -1.99, 2.99, 0.01], rtol=1e-15)


def test_adam_eps_placement_by_hand():
    # first step: ṽ = ∇, g̃ = ∇², so θ − η ∇ / (|∇| + ε) or θ − η ∇ / √(∇² + ε)
    param = one_parameter([1.0], [0.5])
    Adam([param], lr=0.1, eps=1.0).step()
    np.testing.assert_allclose(param.data, [1 - 0.1 * 0.5 / 1.5])

    param = one_parameter([1.0], [0.5])
    Adam([param], lr=0.1, eps=1.0, eps_inside_sqrt=True).step()
    np.testing.assert_allclose(param.data, [1 - 0.1 * 0.5 / np.sqrt(1.25)])


def test_adam_second_step_bias_correction_by_hand():
    param = one_parameter([0.0], [1.0])
    optimizer = Adam([param], lr=0.1, betas=(0.5, 0.75), eps=0.0)
    optimizer.step()
    param.grad = np.array([3.0])
    optimizer.step()
    # v = 0.5·0.5 + 0.5·3 = 1.75, ṽ = 1.75 / (1 − 0.25) = 7/3
    # g = 0.75·0.25 + 0.25·9 = 2.4375, g̃ = 2.4375 / (1 − 0.5625) = 5.571428...
    np.testing.assert_allclose(optimizer.first_moment[0], [1.75])
    np.testing.assert_allclose(optimizer.second_moment[0], [2.4375])
    expected = -0.1 - 0.1 * (7 / 3) / np.sqrt(2.4375 / 0.4375)
    np.testing.assert_allclose(param.data, [expected])
    assert optimizer.step_count == 2


def test_adamw_first_step_by_hand():
    weight = one_parameter([1.0, -2.0], [0.5, -4.0], decay=True)
    bias = one_parameter([1.0, -2.0], [0.5, -4.0], decay=False)
    AdamW([weight, bias], lr=0.1, eps=0.0, weight_decay=0.5).step()
    # θ (1 − ηλ) then the Adam step of size η; the bias is not decayed
    np.testing.assert_allclose(weight.data, [0.95 - 0.1, -1.9 + 0.1])
    np.testing.assert_allclose(bias.data, [0.9, -1.9])


# ------------------------------------------------------ the shared machinery
ALL_OPTIMIZERS = {
    "sgd": lambda p: SGD(p, lr=0.1),
    "momentum": lambda p: SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    "nesterov": lambda p: SGD(
        p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01
    ),
    "adagrad": lambda p: Adagrad(p, weight_decay=0.01),
    "rmsprop": lambda p: RMSprop(p, weight_decay=0.01, eps_inside_sqrt=True),
    "adam": lambda p: Adam(p, lr=0.01, weight_decay=0.01),
    "adamw": lambda p: AdamW(p, lr=0.01),
}


@pytest.mark.parametrize("name", sorted(ALL_OPTIMIZERS))
def test_float32_stays_float32_in_place_and_grad_untouched(name):
    params = fresh_params([a.astype(np.float32) for a in INITIAL])
    optimizer = ALL_OPTIMIZERS[name](params)
    arrays = [p.data for p in params]
    for _ in range(3):
        optimizer.zero_grad()
        network_loss(params).backward()
        grads = [p.grad for p in params]
        saved = [g.copy() for g in grads]
        optimizer.step()
        for p, array, grad, copy in zip(params, arrays, grads, saved, strict=True):
            assert p.data is array and p.data.dtype == np.float32
            assert p.grad is grad
            np.testing.assert_array_equal(grad, copy)
    for state_name in optimizer.state_names:
        for array in getattr(optimizer, state_name):
            assert array.dtype == np.float32
    assert all(a.dtype == np.float32 for a in optimizer.theta())


def run_steps(
    name, params, require_finite=False, steps=5, skip=None, transform_grad=None
):
    """The optimizer, and copies of the parameters and state, after ``steps``
    steps of ALL_OPTIMIZERS[name]; parameter ``skip`` has no gradient on every
    other step, ``transform_grad`` rewrites every gradient."""
    optimizer = ALL_OPTIMIZERS[name](params)
    for step in range(steps):
        set_gradients(params)
        if transform_grad is not None:
            for param in params:
                param.grad = transform_grad(param.grad)
        if skip is not None and step % 2:
            params[skip].grad = None
        optimizer.step(require_finite=require_finite)
    state = [a for n in optimizer.state_names for a in getattr(optimizer, n)]
    return optimizer, [a.copy() for a in [p.data for p in params] + state]


@pytest.mark.parametrize("name", sorted(ALL_OPTIMIZERS))
def test_fortran_ordered_parameters_and_gradients_take_the_same_path(name):
    _, contiguous = run_steps(name, fresh_params(INITIAL))
    _, strided = run_steps(
        name,
        fresh_params([np.asfortranarray(a) for a in INITIAL]),
        transform_grad=np.asfortranarray,
    )

    for a, b in zip(contiguous, strided, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(contiguous[0], INITIAL[0])


@pytest.mark.parametrize("name", sorted(ALL_OPTIMIZERS))
def test_plain_step_updates_state_in_place(name):
    params = float32_params()
    optimizer = ALL_OPTIMIZERS[name](params)
    states = [list(getattr(optimizer, n)) for n in optimizer.state_names]
    for _ in range(2):
        set_gradients(params)
        optimizer.step()
    for state_name, before in zip(optimizer.state_names, states, strict=True):
        after = getattr(optimizer, state_name)
        # the views read now are the memory read before: updated in place
        assert all(np.shares_memory(a, b) for a, b in zip(after, before, strict=True))
        assert any(np.any(a) for a in after)


def test_squared_norm_is_inf_or_nan_for_non_finite_entries():
    from trainlab.optim import _squared_norm

    for dtype in (np.float16, np.float32, np.float64):
        values = np.arange(6, dtype=dtype).reshape(2, 3)
        assert _squared_norm(values) == 55
        assert _squared_norm(values.T) == 55
        values[1, 2] = np.inf
        assert _squared_norm(values) == np.inf
        values[1, 2] = np.nan
        assert np.isnan(_squared_norm(values))


@pytest.mark.parametrize("name", sorted(ALL_OPTIMIZERS))
def test_parameters_without_gradient_are_skipped(name):
    params = fresh_params()
    optimizer = ALL_OPTIMIZERS[name](params)
    set_gradients(params)
    params[2].grad = None
    before = params[2].data.copy()
    optimizer.step()
    np.testing.assert_array_equal(params[2].data, before)
    for state_name in optimizer.state_names:
        assert not np.any(getattr(optimizer, state_name)[2])
    assert not np.array_equal(params[0].data, INITIAL[0])
    assert optimizer.step_count == 1


# ------------------------------------------ small parameters share flat arrays
@pytest.mark.parametrize("require_finite", [False, True], ids=["plain", "checked"])
@pytest.mark.parametrize("name", sorted(ALL_OPTIMIZERS))
def test_flat_and_separate_updates_are_identical(name, require_finite, monkeypatch):
    params = fresh_params()
    flat_optimizer, flat = run_steps(name, params, require_finite, steps=6, skip=2)
    # with weight decay W1 and W2 share one flat array, b1 and b2 another;
    # without, all four share one
    assert np.shares_memory(params[0].data, flat_optimizer._slots[0].flat)
    assert len(flat_optimizer._slots) == (2 if flat_optimizer.weight_decay else 1)
    with pytest.raises(AttributeError):
        flat_optimizer.weight_decay = 0.5

    monkeypatch.setattr(tl.optim, "FLAT_LIMIT", 0)
    separate_optimizer, separate = run_steps(
        name, fresh_params(), require_finite, steps=6, skip=2
    )
    assert all(slot.flat is None for slot in separate_optimizer._slots)
    for a, b in zip(flat, separate, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("flat_limit", [0, 1 << 14], ids=["separate", "flat"])
def test_a_gradient_of_another_dtype_is_read_in_the_parameters(flat_limit, monkeypatch):
    monkeypatch.setattr(tl.optim, "FLAT_LIMIT", flat_limit)
    cast, mixed = float32_params(), float32_params()
    optimizers = [Adam(cast, lr=0.01), Adam(mixed, lr=0.01)]
    for _ in range(3):
        set_gradients(cast)
        for ours, theirs in zip(mixed, cast, strict=True):
            ours.grad = theirs.grad.astype(np.float64)  # the same values
        for optimizer in optimizers:
            optimizer.step()
    for a, b in zip(cast, mixed, strict=True):
        assert b.data.dtype == np.float32
        np.testing.assert_array_equal(a.data, b.data)


def test_a_parameter_given_a_new_array_is_taken_back():
    params = fresh_params()
    optimizer = SGD(params, lr=0.1, momentum=0.9)
    set_gradients(params)
    optimizer.step()

    params[0].data = np.ones_like(INITIAL[0])
    set_gradients(params)
    velocity, grad = optimizer.velocity[0].copy(), params[0].grad.copy()
    others = [p.data.copy() for p in params[1:]]
    optimizer.step()
    # v ← μ v − η ∇, then θ ← θ + v, from the new θ = 1
    np.testing.assert_allclose(params[0].data, 1 + 0.9 * velocity - 0.1 * grad)
    assert np.shares_memory(params[0].data, optimizer._slots[0].flat)
    for param, before in zip(params[1:], others, strict=True):
        assert not np.array_equal(param.data, before)

    params[0].data = np.ones((3, 3))
    with pytest.raises(ValueError, match=r"params\[0\]\.data changed from"):
        optimizer.step()


def test_a_parameter_alone_in_its_slot_refuses_a_new_dtype(monkeypatch):
    monkeypatch.setattr(tl.optim, "FLAT_LIMIT", 0)
    params = fresh_params()
    optimizer = SGD(params, lr=0.1, momentum=0.9)
    params[2].data = params[2].data.astype(np.float32)
    set_gradients(params)
    with pytest.raises(ValueError, match=r"params\[2\]\.data changed from float64"):
        optimizer.step()


def test_a_deep_copy_of_parameters_and_optimizer_trains_on_its_own():
    params = fresh_params()
    optimizer = Adam(params, lr=0.01)
    set_gradients(params)
    optimizer.step()
    params_copy, optimizer_copy = deepcopy((params, optimizer))
    for _ in range(3):
        set_gradients(params_copy)
        optimizer_copy.step()
        set_gradients(params)
        optimizer.step()
    for original, duplicate in zip(params, params_copy, strict=True):
        assert not np.shares_memory(original.data, duplicate.data)
        np.testing.assert_array_equal(original.data, duplicate.data)
    assert not np.array_equal(params[0].data, INITIAL[0])


# ------------------------------------------------------- steps that must stay finite
def float32_params():
    return fresh_params([a.astype(np.float32) for a in INITIAL])


def optimizer_state(optimizer):
    return {
        key: value.copy() if isinstance(value, np.ndarray) else value
        for key, value in optimizer.state_dict().items()
    }


@pytest.mark.parametrize("name", sorted(ALL_OPTIMIZERS))
def test_require_finite_takes_exactly_the_plain_step(name):
    plain_params, checked_params = float32_params(), float32_params()
    plain = ALL_OPTIMIZERS[name](plain_params)
    checked = ALL_OPTIMIZERS[name](checked_params)
    for _ in range(5):
        for params, optimizer, require_finite in (
            (plain_params, plain, False),
            (checked_params, checked, True),
        ):
            optimizer.zero_grad()
            network_loss(params).backward()
            optimizer.step(require_finite=require_finite)
    for a, b in zip(plain_params, checked_params, strict=True):
        np.testing.assert_array_equal(a.data, b.data)
    expected, received = plain.state_dict(), checked.state_dict()
    for key, value in expected.items():
        np.testing.assert_array_equal(received[key], value)


@pytest.mark.parametrize("name", sorted(ALL_OPTIMIZERS))
def test_require_finite_refuses_an_overflowing_step_and_changes_nothing(name):
    params = float32_params()
    optimizer = ALL_OPTIMIZERS[name](params)
    for _ in range(3):
        optimizer.zero_grad()
        network_loss(params).backward()
        optimizer.step(require_finite=True)
    params_before = [p.data.copy() for p in params]
    arrays = [p.data for p in params]
    state_before = optimizer_state(optimizer)

    optimizer.zero_grad()
    network_loss(params).backward()
    params[1].grad = None  # skipped: never refused
    optimizer.lr = 1e39  # η ∇ overflows float32
    with pytest.raises(
        NonFiniteStepError, match=r"step 4 would make params\[0, 2, 3\]"
    ):
        optimizer.step(require_finite=True)

    for param, array, before in zip(params, arrays, params_before, strict=True):
        assert param.data is array
        np.testing.assert_array_equal(param.data, before)
    for key, value in optimizer_state(optimizer).items():
        np.testing.assert_array_equal(value, state_before[key] if key != "lr" else 1e39)
    assert optimizer.step_count == 3

    # without the check the same step writes non-finite values
    with np.errstate(over="ignore", invalid="ignore"):
        optimizer.step()
    assert not np.isfinite(params[0].data).all()


def test_require_finite_catches_overflow_of_a_finite_update():
    # θ = 3e38, u = +1e38: both finite, θ + u overflows float32
    param = Parameter(np.array([3e38, 1.0], dtype=np.float32))
    param.grad = np.array([-1e38, 0.0], dtype=np.float32)
    optimizer = SGD([param], lr=1.0)
    with pytest.raises(NonFiniteStepError) as info:
        optimizer.step(require_finite=True)
    assert isinstance(info.value, FloatingPointError) and info.value.indices == [0]
    np.testing.assert_array_equal(param.data, np.float32([3e38, 1.0]))

    # u = 1e30 overflows u² (the fast check) but θ + u is finite: taken
    param = Parameter(np.array([1.0, 1.0], dtype=np.float32))
    param.grad = np.array([-1e30, 0.0], dtype=np.float32)
    SGD([param], lr=1.0).step(require_finite=True)
    np.testing.assert_array_equal(param.data, np.float32([1e30, 1.0]))


def test_require_finite_checks_half_precision_exactly():
    # u = 200 has a finite u² in float16, but 65400 + 200 is beyond its maximum
    param = Parameter(np.array([65400.0], dtype=np.float16))
    param.grad = np.array([-200.0], dtype=np.float16)
    with pytest.raises(NonFiniteStepError):
        SGD([param], lr=1.0).step(require_finite=True)
    assert param.data[0] == np.float16(65400.0)


def test_zero_grad_and_lr_setting():
    params = fresh_params()
    optimizer = Adam(params)
    set_gradients(params)
    optimizer.zero_grad()
    assert all(p.grad is None for p in params)
    optimizer.lr = 0.5
    assert optimizer.lr == 0.5
    with pytest.raises(ValueError, match=r"lr must be >= 0, received -0\.5"):
        optimizer.lr = -0.5
    with pytest.raises(TypeError, match="lr must be a real number, received 'fast'"):
        optimizer.lr = "fast"
    assert optimizer.lr == 0.5


def test_gradient_of_wrong_shape_is_refused():
    param = Parameter(np.zeros((2, 3)))
    param.grad = np.ones(3)
    with pytest.raises(ValueError, match=r"params\[0\]\.grad must have .*\(2, 3\)"):
        SGD([param], lr=0.1).step()


@pytest.mark.parametrize(
    "bad_grad, error, message",
    [
        (np.ones(4), ValueError, r"params\[3\]\.grad must have the parameter's shape"),
        (np.ones(3, complex), TypeError, r"params\[3\]\.grad must hold real numbers"),
    ],
    ids=["shape", "complex"],
)
@pytest.mark.parametrize("require_finite", [False, True], ids=["plain", "checked"])
@pytest.mark.parametrize("flat_limit", [0, 1 << 14], ids=["separate", "flat"])
def test_a_bad_gradient_leaves_every_parameter_and_the_count(
    bad_grad, error, message, require_finite, flat_limit, monkeypatch
):
    monkeypatch.setattr(tl.optim, "FLAT_LIMIT", flat_limit)
    params = fresh_params()
    optimizer = SGD(params, lr=0.1, momentum=0.9)
    set_gradients(params)
    params[3].grad = bad_grad  # b2 has 3 real entries
    with pytest.raises(error, match=message):
        optimizer.step(require_finite=require_finite)
    for param, initial in zip(params, INITIAL, strict=True):
        np.testing.assert_array_equal(param.data, initial)
    assert optimizer.step_count == 0
    assert not any(np.any(v) for v in optimizer.velocity)


def test_repr_names_the_hyperparameters():
    text = repr(Adam(fresh_params(), lr=0.01))
    assert text.startswith("Adam(lr=0.01, beta1=0.9, beta2=0.999, weight_decay=0.0")
    assert "params=4" in text


# ------------------------------------------------------------------ state dict
def npz_json_round_trip(state):
    """Store as a checkpoint would: arrays in an npz, scalars in JSON."""
    arrays = {k: v for k, v in state.items() if isinstance(v, np.ndarray)}
    scalars = {k: v for k, v in state.items() if not isinstance(v, np.ndarray)}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer) as stored:
        restored = {key: stored[key] for key in stored.files}
    restored.update(json.loads(json.dumps(scalars)))
    return restored


@pytest.mark.parametrize("name", sorted(ALL_OPTIMIZERS))
def test_state_dict_round_trip_continues_exactly(name):
    params = fresh_params()
    optimizer = ALL_OPTIMIZERS[name](params)
    trainlab_path(optimizer, params, 10, lr_at=lambda step: 0.01 * (step + 1))
    state = optimizer.state_dict()
    assert all(isinstance(key, str) for key in state)
    assert all(
        isinstance(value, np.ndarray | int | float | bool | str)
        for value in state.values()
    )

    clone_params = fresh_params([p.data for p in params])
    clone = ALL_OPTIMIZERS[name](clone_params)
    clone.load_state_dict(npz_json_round_trip(state))
    assert clone.lr == optimizer.lr and clone.step_count == 10

    original = trainlab_path(optimizer, params, 10)
    restored = trainlab_path(clone, clone_params, 10)
    for arrays_a, arrays_b in zip(original, restored, strict=True):
        for a, b in zip(arrays_a, arrays_b, strict=True):
            np.testing.assert_array_equal(a, b)


def test_state_dict_is_a_copy_with_readable_keys():
    params = fresh_params()
    optimizer = SGD(params, lr=0.1, momentum=0.9)
    set_gradients(params)
    optimizer.step()
    state = optimizer.state_dict()
    assert sorted(state) == sorted(
        ["type", "lr", "step_count", "momentum", "nesterov", "weight_decay"]
        + [f"velocity.{i}" for i in range(4)]
    )
    state["velocity.0"][...] = 0
    assert np.any(optimizer.velocity[0])


def test_load_state_dict_checks_everything_before_writing():
    params = fresh_params()
    optimizer = Adam(params, lr=0.01)
    set_gradients(params)
    optimizer.step()
    good = optimizer.state_dict()
    snapshot = [m.copy() for m in optimizer.first_moment]

    bad_shape = dict(good, **{"first_moment.1": np.zeros(3)})
    bad_shape["lr"] = 0.5
    with pytest.raises(ValueError, match=r"'first_moment\.1' has shape \(3,\)"):
        optimizer.load_state_dict(bad_shape)
    assert optimizer.lr == 0.01

    zeroed = {
        k: (np.zeros_like(v) if isinstance(v, np.ndarray) else v)
        for k, v in good.items()
    }
    with pytest.raises(
        ValueError, match=r"'beta1' is 0\.5, this optimizer has beta1=0\.9"
    ):
        optimizer.load_state_dict(dict(zeroed, beta1=0.5))
    with pytest.raises(ValueError, match=r"'type' is 'SGD'"):
        optimizer.load_state_dict(dict(zeroed, type="SGD"))
    missing = {k: v for k, v in zeroed.items() if k != "second_moment.3"}
    with pytest.raises(ValueError, match=r"missing entries \['second_moment\.3'\]"):
        optimizer.load_state_dict(missing)
    with pytest.raises(ValueError, match=r"unexpected entries \['velocity\.0'\]"):
        optimizer.load_state_dict(dict(zeroed, **{"velocity.0": np.zeros(1)}))
    with pytest.raises(ValueError, match=r"'step_count' must be >= 0, received -1"):
        optimizer.load_state_dict(dict(zeroed, step_count=-1))
    with pytest.raises(TypeError, match="state must be a dict, received list"):
        optimizer.load_state_dict([])
    for before, after in zip(snapshot, optimizer.first_moment, strict=True):
        np.testing.assert_array_equal(before, after)
    assert optimizer.step_count == 1


# ---------------------------------------------------------------- clipping
def test_clip_grad_norm_matches_pytorch_and_leaves_old_arrays_alone():
    params = fresh_params()
    set_gradients(params)
    grads = [p.grad for p in params]
    saved = [g.copy() for g in grads]
    torch_params = [torch.tensor(a.copy(), requires_grad=True) for a in INITIAL]
    for tp, g in zip(torch_params, saved, strict=True):
        tp.grad = torch.tensor(g.copy())

    max_norm = 0.1
    norm = clip_grad_norm(params, max_norm)
    torch_norm = torch.nn.utils.clip_grad_norm_(torch_params, max_norm)

    assert norm == pytest.approx(float(torch_norm), rel=1e-12)
    assert norm > max_norm
    clipped = np.sqrt(sum(np.sum(p.grad**2) for p in params))
    assert clipped == pytest.approx(max_norm, rel=1e-12)
    for p, tp in zip(params, torch_params, strict=True):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-4)
    for grad, copy in zip(grads, saved, strict=True):
        np.testing.assert_array_equal(grad, copy)


def test_clip_grad_norm_keeps_small_gradients_and_skips_missing_ones():
    params = fresh_params()
    set_gradients(params)
    params[3].grad = None
    grads = [p.grad for p in params]
    norm = clip_grad_norm(params, 1e6)
    assert norm == pytest.approx(np.sqrt(sum(np.sum(g**2) for g in grads[:3])))
    assert all(p.grad is g for p, g in zip(params, grads, strict=True))
    with pytest.raises(ValueError, match=r"max_norm must be > 0, received 0\.0"):
        clip_grad_norm(params, 0.0)


# ------------------------------------------------------- bad hyperparameters
def _params():
    return fresh_params()


BAD = [
    (lambda: SGD(_params(), lr=-0.1), ValueError, r"lr must be >= 0, received -0\.1"),
    (lambda: Adam(_params(), lr=-1), ValueError, r"lr must be >= 0, received -1"),
    (
        lambda: SGD(_params(), lr=0.1, momentum=1.0),
        ValueError,
        r"momentum must lie in \[0, 1\), received 1\.0",
    ),
    (
        lambda: SGD(_params(), lr=0.1, momentum=-0.5),
        ValueError,
        r"momentum must lie in \[0, 1\), received -0\.5",
    ),
    (
        lambda: SGD(_params(), lr=0.1, nesterov=True),
        ValueError,
        r"nesterov=True needs momentum > 0, received momentum=0\.0",
    ),
    (
        lambda: Adam(_params(), betas=(1.0, 0.999)),
        ValueError,
        r"betas\[0\] \(beta1\) must lie in \[0, 1\), received 1\.0",
    ),
    (
        lambda: AdamW(_params(), betas=(0.9, -0.1)),
        ValueError,
        r"betas\[1\] \(beta2\) must lie in \[0, 1\), received -0\.1",
    ),
    (
        lambda: Adam(_params(), betas=(0.9,)),
        ValueError,
        r"betas must be a pair \(beta1, beta2\), received \(0\.9,\)",
    ),
    (
        lambda: RMSprop(_params(), beta=1.5),
        ValueError,
        r"beta must lie in \[0, 1\), received 1\.5",
    ),
    (
        lambda: Adagrad(_params(), eps=-1e-10),
        ValueError,
        r"eps must be >= 0, received -1e-10",
    ),
    (
        lambda: RMSprop(_params(), eps=-1.0),
        ValueError,
        r"eps must be >= 0, received -1\.0",
    ),
    (
        lambda: Adam(_params(), eps=float("nan")),
        ValueError,
        r"eps must be a finite number",
    ),
    (
        lambda: SGD(_params(), lr=0.1, weight_decay=-0.01),
        ValueError,
        r"weight_decay must be >= 0, received -0\.01",
    ),
    (
        lambda: AdamW(_params(), weight_decay=-1),
        ValueError,
        r"weight_decay must be >= 0, received -1",
    ),
    (
        lambda: Adam(_params(), eps_inside_sqrt="yes"),
        TypeError,
        r"eps_inside_sqrt must be True or False, received 'yes'",
    ),
    (lambda: SGD([], lr=0.1), ValueError, r"params must hold at least one Parameter"),
    (lambda: Adam(iter([])), ValueError, r"params must hold at least one Parameter"),
    (
        lambda: SGD([_params()[0]] * 2, lr=0.1),
        ValueError,
        r"params\[1\] is the same Parameter as params\[0\]",
    ),
    (
        lambda: SGD([np.zeros(3)], lr=0.1),
        TypeError,
        r"params\[0\] must be a trainlab.nn.Parameter, received ndarray",
    ),
    (lambda: SGD(_params()[0], lr=0.1), TypeError, r"received a single Parameter"),
    (
        lambda: SGD(_params(), lr=None),
        TypeError,
        r"lr must be a real number, received None",
    ),
    (
        lambda: weight_penalty(_params(), -1.0),
        ValueError,
        r"weight_decay must be >= 0, received -1\.0",
    ),
]


@pytest.mark.parametrize(("build", "error", "message"), BAD)
def test_bad_hyperparameters_are_refused(build, error, message):
    with pytest.raises(error, match=message):
        build()
