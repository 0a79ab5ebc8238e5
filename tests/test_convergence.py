"""Convergence table: every optimizer reaches the minimum of two hard functions.

Both functions are of θ = (x, y), started from a fixed point, with the exact
gradient written into ``grad`` (no autograd: the optimizer is what is tested).
"Reached" means ‖θ − θ*‖ < 1e-3 within the stated number of steps.

* ill-conditioned quadratic ½ θᵀ A θ, A with eigenvalues 1 and 100 along the
  diagonals (not the axes, so per-coordinate scaling does not make it easy),
  minimum θ* = (0, 0), start (1, −0.5);
* Rosenbrock (1 − x)² + 100 (y − x²)², minimum θ* = (1, 1), start (−1.2, 1).

Measured steps when this table was written are in the comments; the budgets
leave about 25 % headroom.
"""

import numpy as np
import pytest

from trainlab.nn import Parameter
from trainlab.optim import SGD, Adagrad, Adam, AdamW, RMSprop

QUADRATIC_MATRIX = np.array([[50.5, 49.5], [49.5, 50.5]])  # eigenvalues 100 and 1


def quadratic_gradient(theta):
    return QUADRATIC_MATRIX @ theta


def rosenbrock_gradient(theta):
    x, y = theta
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


PROBLEMS = {
    "quadratic": (quadratic_gradient, [1.0, -0.5], [0.0, 0.0]),
    "rosenbrock": (rosenbrock_gradient, [-1.2, 1.0], [1.0, 1.0]),
}

# (problem, optimizer name, optimizer, step budget)
TABLE = [
    ("quadratic", "SGD", lambda p: SGD(p, lr=0.019), 450),  # 364
    ("quadratic", "momentum", lambda p: SGD(p, lr=0.01, momentum=0.8), 130),  # 101
    (
        "quadratic",
        "Nesterov",
        lambda p: SGD(p, lr=0.01, momentum=0.8, nesterov=True),
        140,
    ),  # 110
    ("quadratic", "Adagrad", lambda p: Adagrad(p, lr=0.5), 650),  # 518
    ("quadratic", "RMSprop", lambda p: RMSprop(p, lr=0.001), 2200),  # 1733
    ("quadratic", "Adam", lambda p: Adam(p, lr=0.05), 490),  # 389
    ("quadratic", "AdamW", lambda p: AdamW(p, lr=0.05, weight_decay=0.0), 490),  # 389
    ("rosenbrock", "SGD", lambda p: SGD(p, lr=1e-3), 21500),  # 17082
    ("rosenbrock", "momentum", lambda p: SGD(p, lr=1e-3, momentum=0.9), 2000),  # 1580
    (
        "rosenbrock",
        "Nesterov",
        lambda p: SGD(p, lr=1e-3, momentum=0.9, nesterov=True),
        2050,
    ),  # 1620
    ("rosenbrock", "Adagrad", lambda p: Adagrad(p, lr=0.5), 11200),  # 8923
    ("rosenbrock", "RMSprop", lambda p: RMSprop(p, lr=0.001), 10500),  # 8347
    ("rosenbrock", "Adam", lambda p: Adam(p, lr=0.05), 2300),  # 1803
    (
        "rosenbrock",
        "AdamW",
        lambda p: AdamW(p, lr=0.05, weight_decay=0.0),
        2300,
    ),  # 1803
]


def steps_to_minimum(problem, make_optimizer, budget, tolerance=1e-3):
    """Steps until ‖θ − θ*‖ < tolerance, or None if the budget runs out."""
    gradient, start, minimum = PROBLEMS[problem]
    theta = Parameter(np.array(start))
    minimum = np.array(minimum)
    optimizer = make_optimizer([theta])
    for step in range(1, budget + 1):
        theta.grad = gradient(theta.data)
        optimizer.step()
        if np.linalg.norm(theta.data - minimum) < tolerance:
            return step
    return None


@pytest.mark.parametrize(
    ("problem", "make_optimizer", "budget"),
    [
        pytest.param(p, make, budget, id=f"{p}-{name}")
        for p, name, make, budget in TABLE
    ],
)
def test_reaches_the_minimum_within_the_stated_steps(problem, make_optimizer, budget):
    steps = steps_to_minimum(problem, make_optimizer, budget)
    assert steps is not None, f"not within {budget} steps"
    # The problem is not trivial: it takes more than a handful of steps.
    assert steps > 50


def test_the_start_is_far_from_the_minimum_and_plain_steps_do_not_reach_it():
    # Too small a learning rate does not get there: the table is not vacuous.
    assert steps_to_minimum("quadratic", lambda p: SGD(p, lr=1e-4), 2000) is None
    assert steps_to_minimum("rosenbrock", lambda p: Adam(p, lr=1e-4), 2300) is None
