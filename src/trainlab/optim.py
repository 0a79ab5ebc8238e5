"""Optimizers: the lecture's update rules, one equation per line.

Notation (the lecture's): θ the parameters, ∇ = ∇_θ L the gradient of the
loss at the point where it is evaluated, η the learning rate (``lr``), μ the
momentum, v the velocity or first moment, g the accumulated or averaged
squared gradient, β the averaging factors, ε the numerical safeguard, λ the
weight decay.

Every optimizer works on a list of :class:`~trainlab.nn.Parameter`; its
per-parameter state reads as lists aligned with that list (``opt.velocity[i]``
belongs to ``opt.params[i]``). Hyperparameters are checked once, at
construction; ``lr`` may be changed at any time (a schedule does it between
steps) and is read at every step.

Every formula is entry-wise, so it may be applied to several parameters at
once: small parameters (at most :data:`FLAT_LIMIT` entries) of one dtype
(and one decay flag, with weight decay) become views into one flat array,
their gradients are gathered into another, and one step of a small network is
a dozen NumPy calls instead of a dozen per parameter (the calls, not the
arithmetic, are the cost of such a step). A test checks that this gives bit
for bit the path of updating each parameter on its own.

Two pieces are shared by all optimizers rather than repeated in each:

* weight decay (:meth:`Optimizer._gradient`): the lecture's penalty
  ``λ Σ_k ‖W^(k)‖²_F`` adds ``2λW`` to the gradient of every parameter whose
  ``decay`` flag is true (weights); biases and batch-norm γ, β have
  ``decay=False`` and are left alone unless the user sets the flag. PyTorch's
  ``weight_decay`` adds ``λθ`` instead, so ``weight_decay=λ`` here is PyTorch's
  ``weight_decay=2λ`` on the weights' parameter group;
* the ε placement (:meth:`Optimizer._root`): the lecture divides by
  ``√(g + ε)``, PyTorch by ``√g + ε``. The default is PyTorch's placement,
  ``eps_inside_sqrt=False``, so that paths can be checked against PyTorch and
  the default ε values keep their usual meaning; ``eps_inside_sqrt=True`` gives
  the lecture's formula (ε inside the root weighs like √ε outside it: pick a
  smaller ε, e.g. ε² of the outside value, for the same effect).

Gradient-norm clipping (:func:`clip_grad_norm`) is a separate function, called
between ``backward()`` and ``step()``; it is not part of the lecture.

``step(require_finite=True)`` takes a step only if it leaves every parameter
finite: it computes every update first, writing the new state into spare
arrays, and raises :class:`NonFiniteStepError` with nothing changed when an
update would overflow; otherwise it applies the updates and swaps the spare
arrays in (no copies). :func:`trainlab.training.fit` steps this way.

The updates are written with two small vector operations, y ← a·x
(:func:`_scale`) and y ← y + a·x (:func:`_add_scaled`), NumPy ufuncs with
``out=`` into arrays allocated once, so a step allocates nothing.
"""

from __future__ import annotations

import math
import numbers
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from itertools import accumulate

import numpy as np

from trainlab._checks import check_bool as _check_bool
from trainlab._checks import check_non_negative as _check_non_negative
from trainlab._checks import check_real as _check_real
from trainlab.nn import Parameter

__all__ = [
    "Optimizer",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "NonFiniteStepError",
    "weight_penalty",
    "clip_grad_norm",
]


# ---------------------------------------------------------------- validation
def _check_fraction(name: str, value) -> float:
    """A factor in [0, 1): momentum, β, β1, β2."""
    number = _check_real(name, value)
    if not 0 <= number < 1:
        raise ValueError(f"{name} must lie in [0, 1), received {value!r}")
    return number


def _check_params(params) -> list[Parameter]:
    if isinstance(params, Parameter):
        raise TypeError(
            "params must be an iterable of Parameters, received a single "
            "Parameter; wrap it in a list"
        )
    if not isinstance(params, Iterable):
        raise TypeError(
            "params must be an iterable of Parameters, "
            f"received {type(params).__name__}"
        )
    params = list(params)
    if not params:
        raise ValueError("params must hold at least one Parameter, received none")
    first_seen: dict[int, int] = {}
    for index, param in enumerate(params):
        if not isinstance(param, Parameter):
            raise TypeError(
                f"params[{index}] must be a trainlab.nn.Parameter, "
                f"received {type(param).__name__}"
            )
        if id(param) in first_seen:
            raise ValueError(
                f"params[{index}] is the same Parameter as "
                f"params[{first_seen[id(param)]}]; give each parameter once"
            )
        first_seen[id(param)] = index
    return params


# ------------------------------------------------------- vector operations
def _scale(a: float, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out ← a·x."""
    return np.multiply(a, x, out=out)


def _add_scaled(
    y: np.ndarray, a: float, x: np.ndarray, work: np.ndarray | None = None
) -> np.ndarray:
    """y ← y + a·x in place; a·x is written into ``work`` (which may be ``x``),
    or into a new array when ``work`` is ``None``."""
    y += x if a == 1 else np.multiply(a, x, out=work)
    return y


def _squared_norm(x: np.ndarray) -> float:
    """Σ x², accumulated in x's dtype: ``inf`` or ``nan`` when an entry is not
    finite or the sum overflows."""
    flat = x.ravel()
    return float(np.dot(flat, flat))


class NonFiniteStepError(FloatingPointError):
    """``step(require_finite=True)`` refused a step that would leave a
    parameter non-finite; nothing was changed.

    ``indices`` lists the refused parameters' positions in ``params``.
    """

    def __init__(self, message: str, indices: list[int]):
        super().__init__(message)
        self.indices = indices


def _stays_finite(param: np.ndarray, update: np.ndarray) -> bool:
    """Whether θ + u is finite, for a finite θ.

    Fast path: a finite ``Σ u²`` (one dot product) bounds every |u| by
    √(largest float), 2^64 in float32, far below half the spacing of the
    floats near the largest one (2^103 in float32, 2^970 in float64), so
    θ + u cannot overflow. Otherwise, and for 16-bit floats where the bound
    is too weak, θ + u is computed and checked.
    """
    if param.dtype.itemsize >= 4 and math.isfinite(_squared_norm(update)):
        return True
    return bool(np.isfinite(param + update).all())


# ------------------------------------------------------------------ slots
# A parameter with at most this many entries is updated together with the other
# small parameters of its dtype (and decay flag), through one flat array; a larger
# one is updated in its own array. Gathering the gradients into the flat array
# costs one copy of them; below this size that copy is cheaper than the Python
# and NumPy call overhead it saves (a dozen calls per parameter for Adam).
FLAT_LIMIT = 1 << 14


class _Slot:
    """What one call of ``Optimizer._update`` works on.

    Either one parameter, updated in its own array (``flat`` is ``None``; θ is
    its ``data``, read at every step), or several small parameters of one dtype
    (and decay flag) whose ``data`` are views into one flat array ``flat``: the
    update is then the same few NumPy calls for all of them. Every formula is
    entry-wise, so updating the flat array is updating each parameter.

    ``state[name]`` is s_t, shaped like θ; ``target[name]`` is where the update
    writes s_{t+1}: ``state`` itself, or for ``step(require_finite=True)`` the
    ``spare`` arrays, swapped in once the step is accepted.
    """

    def __init__(self, indices: list[int], params: list[Parameter], flat):
        self.indices = indices
        self.params = params
        self.flat = flat
        decays = {param.decay for param in params}
        self.decay = decays.pop() if len(decays) == 1 else None
        self.shapes = [param.data.shape for param in params]
        self.dtype = params[0].data.dtype
        self.offsets = list(
            accumulate([param.data.size for param in params], initial=0)
        )
        self.views: list[np.ndarray] = []
        self.state: dict[str, np.ndarray] = {}
        self.spare: dict[str, np.ndarray] | None = None
        self.target = self.state
        self.buffers: dict[str, np.ndarray] = {}
        self.parent: tuple[_Slot, int] | None = None
        self.adopt()

    def theta(self) -> np.ndarray:
        return self.params[0].data if self.flat is None else self.flat

    def adopt(self) -> None:
        """Check the parameters' ``data`` (shape and dtype as at construction)
        and, for a flat slot, make them views into ``flat``, keeping their
        values: at construction, and again whenever a parameter was given a
        new array or the optimizer was copied. ``views`` records the arrays."""
        self.views = []
        for j, param in enumerate(self.params):
            data = param.data
            if data.shape != self.shapes[j] or data.dtype != self.dtype:
                raise ValueError(
                    f"params[{self.indices[j]}].data changed from "
                    f"{self.dtype}{list(self.shapes[j])} to "
                    f"{data.dtype}{list(data.shape)} after the optimizer was "
                    "made; make a new optimizer"
                )
            if self.flat is not None:
                view = self.segment(self.flat, j)
                if data is not view:
                    view[...] = data
                    param.data = view
                data = view
            self.views.append(data)

    def gradient(self, j: int, grad) -> np.ndarray:
        """Parameter j's gradient, checked, in θ's dtype (the update is
        computed in the parameter's dtype whatever the gradient's)."""
        if grad.shape != self.shapes[j]:
            raise ValueError(
                f"params[{self.indices[j]}].grad must have the parameter's shape "
                f"{self.shapes[j]}, received shape {grad.shape}"
            )
        if grad.dtype != self.dtype:
            if grad.dtype.kind not in "fiu":
                raise TypeError(
                    f"params[{self.indices[j]}].grad must hold real numbers, "
                    f"received dtype {grad.dtype}"
                )
            grad = grad.astype(self.dtype)
        return grad

    def segment(self, array: np.ndarray, j: int) -> np.ndarray:
        """Parameter j's part of a flat array (the array itself otherwise)."""
        if self.flat is None:
            return array
        return array[self.offsets[j] : self.offsets[j + 1]].reshape(self.shapes[j])

    def pair(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(s_t, the array s_{t+1} goes to)."""
        return self.state[name], self.target[name]

    def buffer(self, name: str) -> np.ndarray:
        """A scratch array shaped like θ, made on first use."""
        array = self.buffers.get(name)
        if array is None:
            if self.parent is not None:
                slot, j = self.parent
                return slot.segment(slot.buffer(name), j)
            array = self.buffers[name] = np.empty_like(self.theta())
        return array

    def spare_state(self) -> dict[str, np.ndarray]:
        if self.spare is None:
            self.spare = {name: np.empty_like(a) for name, a in self.state.items()}
        return self.spare

    def inputs(self) -> list[tuple[_Slot, np.ndarray, np.ndarray]]:
        """(slot, θ, ∇) for the update: the slot itself when every parameter
        has a gradient, a part per parameter when only some have, nothing when
        none has (a parameter without a gradient keeps θ and state)."""
        grads = {}
        for j, param in enumerate(self.params):
            if param.data is not self.views[j]:
                self.adopt()
            if param.grad is not None:
                grads[j] = self.gradient(j, param.grad)
        if not grads:
            return []
        if self.flat is None:
            return [(self, self.views[0], grads[0])]
        if len(grads) == len(self.params):
            # the gradients, flattened one after the other, as θ is
            grad = np.concatenate(
                list(grads.values()), axis=None, out=self.buffer("grad")
            )
            return [(self, self.flat, grad)]

        if self.target is not self.state:
            # the parameters left out keep their state through the swap
            for name, array in self.state.items():
                np.copyto(self.target[name], array)
        return [(self.part(j), self.views[j], grad) for j, grad in grads.items()]

    def part(self, j: int) -> _Slot:
        """Parameter j alone, its arrays views into this slot's."""
        part = _Slot.__new__(_Slot)
        part.indices, part.params = [self.indices[j]], [self.params[j]]
        part.flat, part.decay, part.dtype = None, self.decay, self.dtype
        part.shapes, part.offsets, part.views = [self.shapes[j]], None, [self.views[j]]
        part.state = {name: self.segment(a, j) for name, a in self.state.items()}
        part.target = part.state
        if self.target is not self.state:
            part.target = {name: self.segment(a, j) for name, a in self.target.items()}
        part.spare, part.buffers, part.parent = None, {}, (self, j)
        return part

    def owner(self) -> _Slot:
        """The slot whose arrays these are (itself, unless it is a part)."""
        return self if self.parent is None else self.parent[0]

    def swap(self) -> None:
        """After an accepted ``step(require_finite=True)``: s_{t+1} becomes s_t."""
        self.state, self.spare = self.spare, self.state
        self.target = self.state


def _make_slots(params: list[Parameter], by_decay: bool) -> list[_Slot]:
    """One slot per large parameter, one per dtype (and decay flag when
    ``by_decay``) for the small ones; a flat slot's ``decay`` is ``None`` when
    it mixes decayed and other parameters."""
    singles, groups = [], {}
    for index, param in enumerate(params):
        if param.data.size <= FLAT_LIMIT:
            key = (param.data.dtype, param.decay if by_decay else None)
            groups.setdefault(key, []).append(index)
        else:
            singles.append([index])
    slots = []
    for indices in singles + list(groups.values()):
        members = [params[index] for index in indices]
        if len(indices) == 1:
            slots.append(_Slot(indices, members, None))
        else:
            flat = np.empty(sum(p.data.size for p in members), members[0].data.dtype)
            slots.append(_Slot(indices, members, flat))
    return slots


# ---------------------------------------------------------------- base class
class Optimizer(ABC):
    """Common machinery: parameters, state, ``lr``, weight decay, ε placement.

    A subclass lists the names of its per-parameter state in
    ``state_names`` (each is readable as an attribute: a list of arrays, one
    per parameter, zero at the start) and implements ``_update(slot, theta,
    grad, lr)``, which returns the update u of θ_{t+1} = θ_t + u and writes the
    new state s_{t+1} into the arrays ``slot.pair(name)`` names, without
    touching ``theta``.

    Small parameters (at most :data:`FLAT_LIMIT` entries) of one dtype (and
    one decay flag, with weight decay) are updated together: their ``data``
    become views into one flat array owned by the optimizer, so that a step
    of a small network is a few NumPy calls rather than a few per parameter.
    Their values do not change; a parameter given a new array (``p.data =
    …``) is taken back into the flat array at the next step. The ``decay``
    flags and λ are read here, once.

    ``step()`` reads ``lr`` once, increments ``step_count`` (the t of Adam's
    bias correction) and updates every parameter that has a gradient; a
    parameter whose ``grad`` is ``None`` is skipped and its state untouched.
    The gradient arrays are only read, never modified.
    """

    state_names: tuple[str, ...] = ()

    def __init__(
        self,
        params,
        lr,
        weight_decay=0.0,
        eps=0.0,
        eps_inside_sqrt=False,
    ):
        self.params = _check_params(params)
        self.lr = lr
        self._weight_decay = _check_non_negative("weight_decay", weight_decay)
        self.eps = _check_non_negative("eps", eps)
        self.eps_inside_sqrt = _check_bool("eps_inside_sqrt", eps_inside_sqrt)
        self.step_count = 0
        # without decay the decay flags do not matter: one flat array per dtype
        self._slots = _make_slots(self.params, by_decay=self._weight_decay > 0)
        for slot in self._slots:
            for name in self.state_names:
                slot.state[name] = np.zeros_like(slot.theta())

    def __getattr__(self, name: str):
        # opt.velocity[i], opt.first_moment[i], …: parameter i's state, a view
        # into the arrays the optimizer holds now (read it again after a step)
        state_names = self.__dict__.get("state_names", type(self).state_names)
        slots = self.__dict__.get("_slots")
        if name not in state_names or slots is None:
            raise AttributeError(
                f"{type(self).__name__!r} object has no attribute {name!r}"
            )
        views: list = [None] * len(self.params)
        for slot in slots:
            for j, index in enumerate(slot.indices):
                views[index] = slot.segment(slot.state[name], j)
        return views

    def __setstate__(self, state: dict) -> None:
        # a copy (copy.deepcopy, pickle) gives every parameter an array of its
        # own: make the small ones views into the copied flat arrays again
        self.__dict__.update(state)
        for slot in self._slots:
            if slot.flat is not None:
                slot.adopt()

    @property
    def weight_decay(self) -> float:
        """λ, fixed at construction (parameters are grouped by decay flag then)."""
        return self._weight_decay

    # --------------------------------------------------------------------- lr
    @property
    def lr(self) -> float:
        """The learning rate η used by the next ``step()``."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = _check_non_negative("lr", value)

    # ------------------------------------------------------------ the step
    def zero_grad(self) -> None:
        """Forget the gradients: every parameter's ``grad`` becomes ``None``."""
        for param in self.params:
            param.grad = None

    def step(self, require_finite: bool = False) -> None:
        """Apply one update θ_{t+1} = θ_t + u to every parameter with a gradient.

        With ``require_finite=True`` every update is computed before any
        parameter changes, the new state going to spare arrays. If an update
        would leave a parameter non-finite (u itself not finite, or so large
        that θ + u overflows), :class:`NonFiniteStepError` is raised, without
        NumPy's overflow warnings, and nothing has changed: parameters, state
        and ``step_count`` are those from before the call. Otherwise the
        updates are applied and the spare arrays become the state (a swap,
        not a copy).
        """
        lr = self._lr
        if not require_finite:
            # every gradient is checked before any parameter changes
            inputs = self._inputs()
            self.step_count += 1
            for unit, theta, grad in inputs:
                update = self._update(
                    unit, theta, self._gradient(unit, theta, grad), lr
                )

                # θ_{t+1} = θ_t + u
                theta += update
            return

        updated = {}
        for unit, theta, update in self._checked_updates(lr):
            # θ_{t+1} = θ_t + u
            theta += update

            updated[id(unit.owner())] = unit.owner()
        for slot in updated.values():
            slot.swap()

    def _inputs(self) -> list[tuple[_Slot, np.ndarray, np.ndarray]]:
        """(slot or part, θ, ∇) of every update this step makes, every
        gradient's shape checked."""
        inputs = []
        for slot in self._slots:
            inputs += slot.inputs()
        return inputs

    def _checked_updates(self, lr: float) -> list:
        """Every (slot, θ, u), the new state in the spare arrays, after
        checking that θ + u stays finite; raises :class:`NonFiniteStepError`
        (and takes back the step count) otherwise. Counts the step.

        One dot product per update, summed: a finite sum means every Σ u² is
        finite, which for float32 and float64 bounds θ + u (see
        :func:`_stays_finite`); only otherwise, or for 16-bit floats, is each
        parameter checked exactly.
        """
        updates = []
        squares, exact = 0.0, False
        try:
            for slot in self._slots:
                slot.target = slot.spare_state()
            inputs = self._inputs()
            self.step_count += 1
            # an overflow is reported by the error below, not by NumPy warnings
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                for unit, theta, grad in inputs:
                    update = self._update(
                        unit, theta, self._gradient(unit, theta, grad), lr
                    )
                    updates.append((unit, theta, update))
                    squares += _squared_norm(update)
                    exact = exact or theta.dtype.itemsize < 4
                refused = []
                if exact or not math.isfinite(squares):
                    refused = sorted(
                        index
                        for unit, theta, update in updates
                        for j, index in enumerate(unit.indices)
                        if not _stays_finite(
                            unit.segment(theta, j), unit.segment(update, j)
                        )
                    )
        finally:
            for slot in self._slots:
                slot.target = slot.state
        if refused:
            self.step_count -= 1
            raise NonFiniteStepError(
                f"step {self.step_count + 1} would make params{refused} non-finite "
                f"(lr={lr:g}); nothing was changed",
                refused,
            )
        return updates

    @abstractmethod
    def _update(
        self, slot: _Slot, theta: np.ndarray, grad: np.ndarray, lr: float
    ) -> np.ndarray:
        """The update u (θ_{t+1} = θ_t + u) from ``grad`` (decay included).

        Writes the new state into ``slot.pair(name)[1]`` and may use the
        scratch arrays ``slot.buffer(name)``; reads ``theta`` but never
        changes it.
        """

    def _gradient(self, slot: _Slot, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """∇_W L_R = ∇_W L_B + 2λW for decayed parameters, else ∇ unchanged.

        The sum is written into a buffer owned by the optimizer, so no
        parameter's ``grad`` is ever modified.
        """
        if self.weight_decay == 0 or not slot.decay:
            return grad
        decayed_grad = slot.buffer("decayed_grad")

        np.multiply(2 * self.weight_decay, theta, out=decayed_grad)
        return np.add(grad, decayed_grad, out=decayed_grad)

    def _root(self, sq: np.ndarray, out: np.ndarray, eps: float | None = None):
        """The denominator √g + ε (PyTorch, default) or √(g + ε) (lecture);
        ``eps`` replaces ε (Adam passes it rescaled by its bias correction)."""
        eps = self.eps if eps is None else eps
        if self.eps_inside_sqrt:
            np.add(sq, eps, out=out)
            return np.sqrt(out, out=out)
        np.sqrt(sq, out=out)
        return np.add(out, eps, out=out)

    def theta(self) -> list[np.ndarray]:
        """The point θ of the lecture's formulas, one array per parameter.

        It is the parameters themselves (copies) except for Nesterov momentum,
        where the model holds the look-ahead point (see :class:`SGD`).
        """
        return [param.data.copy() for param in self.params]

    # ------------------------------------------------------------------ state
    def _hyperparameters(self) -> dict:
        """The fixed hyperparameters, as plain Python numbers and booleans."""
        return {
            "weight_decay": self.weight_decay,
            "eps": self.eps,
            "eps_inside_sqrt": self.eps_inside_sqrt,
        }

    def state_dict(self) -> dict:
        """A plain dict: scalars (JSON-friendly) and copies of the state arrays.

        Keys: ``"type"`` (class name), ``"lr"``, ``"step_count"``, the fixed
        hyperparameters, and ``"<state name>.<parameter index>"`` for every
        state array (e.g. ``"velocity.0"``, ``"first_moment.3"``).
        """
        state = {
            "type": type(self).__name__,
            "lr": self._lr,
            "step_count": self.step_count,
            **self._hyperparameters(),
        }
        for name in self.state_names:
            for index, array in enumerate(getattr(self, name)):
                state[f"{name}.{index}"] = array.copy()
        return state

    def load_state_dict(self, state: Mapping) -> None:
        """Restore ``lr``, ``step_count`` and the state arrays from ``state``.

        Everything is checked before anything is written: the class, the
        fixed hyperparameters (they must equal this optimizer's), the keys and
        every array's shape. A mismatch raises ``ValueError`` naming it and
        leaves the optimizer unchanged.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"state must be a dict, received {type(state).__name__}")
        expected = self.state_dict()
        problems = []
        missing = sorted(set(expected) - set(state))
        extra = sorted(set(state) - set(expected))
        if missing:
            problems.append(f"missing entries {missing}")
        if extra:
            problems.append(f"unexpected entries {extra}")
        if "type" in state and state["type"] != expected["type"]:
            problems.append(
                f"entry 'type' is {state['type']!r}, this optimizer is "
                f"{expected['type']!r}"
            )
        for name, value in self._hyperparameters().items():
            if name in state and state[name] != value:
                problems.append(
                    f"entry {name!r} is {state[name]!r}, this optimizer has "
                    f"{name}={value!r}"
                )
        arrays = {}
        for key in sorted(set(expected) & set(state)):
            if not isinstance(expected[key], np.ndarray):
                continue
            array = np.asarray(state[key])
            if array.shape != expected[key].shape:
                problems.append(
                    f"entry {key!r} has shape {array.shape}, "
                    f"expected {expected[key].shape}"
                )
            elif not np.issubdtype(array.dtype, np.number):
                problems.append(f"entry {key!r} has non-numeric dtype {array.dtype}")
            arrays[key] = array
        lr = state.get("lr", self._lr)
        step_count = state.get("step_count", self.step_count)
        try:
            lr = _check_non_negative("lr", lr)
        except (TypeError, ValueError) as error:
            problems.append(f"entry 'lr': {error}")
        if isinstance(step_count, bool) or not isinstance(step_count, numbers.Integral):
            problems.append(
                f"entry 'step_count' must be an int, received {step_count!r}"
            )
        elif step_count < 0:
            problems.append(f"entry 'step_count' must be >= 0, received {step_count}")
        if problems:
            raise ValueError("load_state_dict: " + "; ".join(problems))

        self._lr = lr
        self.step_count = int(step_count)
        views = {name: getattr(self, name) for name in self.state_names}
        for key, array in arrays.items():
            name, index = key.rsplit(".", 1)
            np.copyto(views[name][int(index)], array, casting="unsafe")

    def __repr__(self) -> str:
        settings = {"lr": self._lr, **self._hyperparameters()}
        body = ", ".join(f"{name}={value!r}" for name, value in settings.items())
        return f"{type(self).__name__}({body}, params={len(self.params)})"


# ----------------------------------------------------------------------- SGD
class SGD(Optimizer):
    """Gradient descent, with the lecture's momentum or Nesterov momentum.

    Plain (``momentum=0``)::

        θ_{t+1} = θ_t − η ∇L(θ_t)

    Momentum (``momentum=μ > 0``), the lecture's form, ``v_0 = 0``::

        v_{t+1} = μ v_t − η ∇L(θ_t)
        θ_{t+1} = θ_t + v_{t+1}

    η is read at every step, so a schedule changes it exactly where this
    formula says. PyTorch keeps ``b_{t+1} = μ b_t + ∇`` and steps
    ``θ_{t+1} = θ_t − η b_{t+1}``: with a constant η the two are the same path
    (v = −η b); when η changes, PyTorch rescales the whole past velocity by
    the new η and the paths differ.

    Nesterov (``nesterov=True``), the lecture's form, gradient at the
    look-ahead point θ_t + μ v_t::

        v_{t+1} = μ v_t − η ∇L(θ_t + μ v_t)
        θ_{t+1} = θ_t + v_{t+1}

    The model holds the look-ahead point φ_t = θ_t + μ v_t, so ``backward()``
    evaluates the gradient where the formula wants it. Substituting
    θ_t = φ_t − μ v_t::

        φ_{t+1} = θ_{t+1} + μ v_{t+1}
                = φ_t − μ v_t + v_{t+1} + μ v_{t+1}
                = φ_t − η ∇L(φ_t) + μ v_{t+1}        (v_{t+1} − μ v_t = −η ∇)

    which is PyTorch's ``nesterov=True`` update (at constant η). θ itself is
    ``opt.theta()`` = φ − μ v. Weight decay adds 2λφ, the penalty's gradient
    at the point where the loss gradient is taken.

    Parameters
    ----------
    params : iterable of Parameter
    lr : float
        η ≥ 0, in parameter units per gradient unit.
    momentum : float
        μ in [0, 1).
    nesterov : bool
        Gradient at the look-ahead point; needs ``momentum > 0``.
    weight_decay : float
        λ ≥ 0 of the penalty λ Σ ‖W‖²_F (adds 2λW on ``decay=True`` params).

    State: ``velocity`` (v, one array per parameter) when ``momentum > 0``.
    """

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        self.momentum = _check_fraction("momentum", momentum)
        self.nesterov = _check_bool("nesterov", nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError(
                f"nesterov=True needs momentum > 0, received momentum={momentum!r}"
            )
        self.state_names = ("velocity",) if self.momentum > 0 else ()
        super().__init__(params, lr, weight_decay=weight_decay)

    def _hyperparameters(self) -> dict:
        return {
            "momentum": self.momentum,
            "nesterov": self.nesterov,
            "weight_decay": self.weight_decay,
        }

    def _update(self, slot, theta, grad, lr):
        if self.momentum == 0:
            # θ_{t+1} = θ_t − η ∇
            return _scale(-lr, grad, out=slot.buffer("work"))
        velocity, next_velocity = slot.pair("velocity")
        momentum = self.momentum

        # v_{t+1} = μ v_t − η ∇, as v ← μ v (scal), then v ← v − η ∇ (axpy)
        _scale(momentum, velocity, out=next_velocity)
        _add_scaled(next_velocity, -lr, grad, slot.buffer("work"))

        if not self.nesterov:
            # θ_{t+1} = θ_t + v_{t+1}
            return next_velocity

        # φ_{t+1} = φ_t − η ∇L(φ_t) + μ v_{t+1}, as u ← μ v_{t+1}, u ← u − η ∇
        update = _scale(momentum, next_velocity, out=slot.buffer("scratch"))
        return _add_scaled(update, -lr, grad, slot.buffer("work"))

    def theta(self) -> list[np.ndarray]:
        """θ = φ − μ v for Nesterov (the model holds φ); copies otherwise."""
        if not self.nesterov:
            return super().theta()
        return [
            param.data - self.momentum * velocity
            for param, velocity in zip(self.params, self.velocity, strict=True)
        ]


# ------------------------------------------------------------------- Adagrad
class Adagrad(Optimizer):
    """Adagrad: each coordinate divided by the root of its squared-gradient sum.

    With ``g_0 = 0``::

        g_{t+1} = g_t + ∇ ⊙ ∇
        θ_{t+1} = θ_t − η ∇ / (√g_{t+1} + ε)      (default, as PyTorch)
        θ_{t+1} = θ_t − η ∇ / √(g_{t+1} + ε)      (eps_inside_sqrt=True, lecture)

    Matches PyTorch's ``Adagrad`` with its defaults
    ``initial_accumulator_value=0`` and ``lr_decay=0`` (a decaying η is a
    schedule's job here).

    Parameters: ``lr`` η ≥ 0; ``eps`` ε ≥ 0; ``weight_decay`` λ ≥ 0 (adds 2λW
    on ``decay=True`` params); ``eps_inside_sqrt`` the ε placement.
    State: ``sq_sum`` (g).
    """

    state_names = ("sq_sum",)

    def __init__(
        self, params, lr=0.01, eps=1e-10, weight_decay=0.0, eps_inside_sqrt=False
    ):
        super().__init__(params, lr, weight_decay, eps, eps_inside_sqrt)

    def _update(self, slot, theta, grad, lr):
        sq_sum, next_sq_sum = slot.pair("sq_sum")
        work = slot.buffer("work")

        # g_{t+1} = g_t + ∇ ⊙ ∇
        np.add(sq_sum, np.square(grad, out=work), out=next_sq_sum)

        # θ_{t+1} = θ_t − η ∇ / (√g_{t+1} + ε)
        denominator = self._root(next_sq_sum, out=work)
        update = np.divide(grad, denominator, out=work)
        return _scale(-lr, update, out=update)


# ------------------------------------------------------------------- RMSprop
class RMSprop(Optimizer):
    """RMSprop: Adagrad with an exponentially weighted average of ∇ ⊙ ∇.

    With ``g_0 = 0``::

        g_{t+1} = β g_t + (1 − β) ∇ ⊙ ∇
        θ_{t+1} = θ_t − η ∇ / (√g_{t+1} + ε)      (default, as PyTorch)
        θ_{t+1} = θ_t − η ∇ / √(g_{t+1} + ε)      (eps_inside_sqrt=True, lecture)

    PyTorch calls β ``alpha``; this is its ``RMSprop`` without momentum and
    not centered.

    Parameters: ``lr`` η ≥ 0; ``beta`` β in [0, 1); ``eps`` ε ≥ 0;
    ``weight_decay`` λ ≥ 0 (adds 2λW on ``decay=True`` params);
    ``eps_inside_sqrt`` the ε placement. State: ``sq_avg`` (g).
    """

    state_names = ("sq_avg",)

    def __init__(
        self,
        params,
        lr=0.01,
        beta=0.99,
        eps=1e-8,
        weight_decay=0.0,
        eps_inside_sqrt=False,
    ):
        self.beta = _check_fraction("beta", beta)
        super().__init__(params, lr, weight_decay, eps, eps_inside_sqrt)

    def _hyperparameters(self) -> dict:
        return {"beta": self.beta, **super()._hyperparameters()}

    def _update(self, slot, theta, grad, lr):
        beta = self.beta
        sq_avg, next_sq_avg = slot.pair("sq_avg")
        work = slot.buffer("work")

        # g_{t+1} = β g_t + (1 − β) ∇ ⊙ ∇, as g ← β g, then g ← g + (1 − β) ∇ ⊙ ∇
        _scale(beta, sq_avg, out=next_sq_avg)
        _add_scaled(next_sq_avg, 1 - beta, np.square(grad, out=work), work)

        # θ_{t+1} = θ_t − η ∇ / (√g_{t+1} + ε)
        denominator = self._root(next_sq_avg, out=work)
        update = np.divide(grad, denominator, out=work)
        return _scale(-lr, update, out=update)


# ---------------------------------------------------------------------- Adam
class Adam(Optimizer):
    """Adam: RMSprop plus momentum plus bias correction.

    With ``v_0 = 0``, ``g_0 = 0`` and t the number of steps taken, this one
    included (t = 1 at the first step)::

        v_{t+1} = β1 v_t + (1 − β1) ∇                 (first_moment)
        g_{t+1} = β2 g_t + (1 − β2) ∇ ⊙ ∇             (second_moment)
        ṽ_{t+1} = v_{t+1} / (1 − β1^t)
        g̃_{t+1} = g_{t+1} / (1 − β2^t)
        θ_{t+1} = θ_t − η ṽ_{t+1} / (√g̃_{t+1} + ε)    (default, as PyTorch)
        θ_{t+1} = θ_t − η ṽ_{t+1} / √(g̃_{t+1} + ε)    (eps_inside_sqrt=True)

    At the first step ṽ = ∇ and g̃ = ∇ ⊙ ∇, so (with ε negligible) every
    coordinate moves by exactly η, whatever the gradient's scale.

    t is ``step_count``, counted per optimizer step: a parameter skipped on
    some steps (no gradient) still counts them, where PyTorch counts per
    parameter.

    Parameters: ``lr`` η ≥ 0; ``betas`` (β1, β2), each in [0, 1); ``eps``
    ε ≥ 0; ``weight_decay`` λ ≥ 0 of the lecture's penalty (adds 2λW to the
    gradient on ``decay=True`` params, like PyTorch's ``Adam(weight_decay=2λ)``;
    for decoupled decay use :class:`AdamW`); ``eps_inside_sqrt`` the ε
    placement. State: ``first_moment`` (v) and ``second_moment`` (g).
    """

    state_names = ("first_moment", "second_moment")

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        eps_inside_sqrt=False,
    ):
        if isinstance(betas, str) or not isinstance(betas, Iterable):
            raise TypeError(f"betas must be a pair (beta1, beta2), received {betas!r}")
        betas = tuple(betas)
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), received {betas!r}")
        self.beta1 = _check_fraction("betas[0] (beta1)", betas[0])
        self.beta2 = _check_fraction("betas[1] (beta2)", betas[1])
        super().__init__(params, lr, weight_decay, eps, eps_inside_sqrt)

    @property
    def betas(self) -> tuple[float, float]:
        return (self.beta1, self.beta2)

    def _hyperparameters(self) -> dict:
        return {"beta1": self.beta1, "beta2": self.beta2, **super()._hyperparameters()}

    def _update(self, slot, theta, grad, lr):
        beta1, beta2 = self.beta1, self.beta2
        t = self.step_count
        first_moment, next_first_moment = slot.pair("first_moment")
        second_moment, next_second_moment = slot.pair("second_moment")
        work = slot.buffer("work")

        # v_{t+1} = β1 v_t + (1 − β1) ∇, as v ← β1 v, then v ← v + (1 − β1) ∇
        _scale(beta1, first_moment, out=next_first_moment)
        _add_scaled(next_first_moment, 1 - beta1, grad, work)

        # g_{t+1} = β2 g_t + (1 − β2) ∇ ⊙ ∇, as g ← β2 g, g ← g + (1 − β2) ∇ ⊙ ∇
        _scale(beta2, second_moment, out=next_second_moment)
        _add_scaled(next_second_moment, 1 - beta2, np.square(grad, out=work), work)

        # θ_{t+1} = θ_t − η ṽ_{t+1} / (√g̃_{t+1} + ε), with the two bias
        # corrections c1 = 1 − β1^t, c2 = 1 − β2^t folded into scalars (as
        # PyTorch does; one pass over the arrays fewer):
        #   η ṽ / (√g̃ + ε) = (η √c2 / c1) · v / (√g + ε √c2)
        #   η ṽ / √(g̃ + ε) = (η √c2 / c1) · v / √(g + ε c2)     (ε inside)
        c1, c2 = 1 - beta1**t, 1 - beta2**t
        eps = self.eps * (c2 if self.eps_inside_sqrt else math.sqrt(c2))
        denominator = self._root(next_second_moment, out=work, eps=eps)
        update = np.divide(next_first_moment, denominator, out=work)
        return _scale(-(lr * math.sqrt(c2) / c1), update, out=update)


class AdamW(Adam):
    """Adam with decoupled weight decay, as PyTorch's ``AdamW``.

    With u_Adam the update of :class:`Adam` (computed from the plain
    gradient)::

        θ_{t+1} = θ_t − η λ θ_t + u_Adam        (decay=True params only)

    The decay is not the gradient of a penalty, so there is no factor 2 and
    it does not pass through the moments: ``weight_decay=λ`` here equals
    PyTorch's ``AdamW(weight_decay=λ)`` on the weights' parameter group (up
    to rounding: PyTorch first scales θ by 1 − ηλ, then adds u_Adam).
    Biases and batch-norm γ, β (``decay=False``) are not decayed.
    """

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.01,
        eps_inside_sqrt=False,
    ):
        super().__init__(params, lr, betas, eps, weight_decay, eps_inside_sqrt)

    def _gradient(self, slot, theta, grad):
        """The plain gradient ∇L_B: AdamW's decay acts on θ, not through ∇."""
        return grad

    def _update(self, slot, theta, grad, lr):
        update = super()._update(slot, theta, grad, lr)
        if not slot.decay:
            return update

        # θ_{t+1} = θ_t − η λ θ_t + u_Adam, as u ← u_Adam − η λ θ_t
        return _add_scaled(
            update, -(lr * self.weight_decay), theta, slot.buffer("scratch")
        )


# ------------------------------------------------------------ free functions
def weight_penalty(params, weight_decay) -> float:
    """The lecture's penalty λ Σ_k ‖W^(k)‖²_F over the ``decay=True`` params.

    Its gradient is the 2λW that the optimizers add; add this value to the
    data loss to report the regularized loss L_R = L_B + λ Σ ‖W‖²_F.
    """
    params = _check_params(params)
    weight_decay = _check_non_negative("weight_decay", weight_decay)
    total = 0.0
    for param in params:
        if param.decay:
            flat = param.data.ravel()
            total += float(np.dot(flat, flat))
    return weight_decay * total


def clip_grad_norm(params, max_norm) -> float:
    """Rescale the gradients so that their global norm is at most ``max_norm``.

    With N = √(Σ_p ‖∇_p‖²) over every parameter that has a gradient: if
    N > max_norm, each ``grad`` is replaced by a new array
    ``∇_p · max_norm / N`` (the old array is not modified). Returns N, the norm
    before clipping. A non-finite N leaves the gradients unchanged (the
    training loop's divergence check reports it). PyTorch's
    ``clip_grad_norm_`` divides by N + 10⁻⁶ instead of N.
    """
    params = _check_params(params)
    max_norm = _check_real("max_norm", max_norm)
    if max_norm <= 0:
        raise ValueError(f"max_norm must be > 0, received {max_norm!r}")
    with_grad = [param for param in params if param.grad is not None]
    squared_norm = 0.0
    for param in with_grad:
        flat = param.grad.ravel()
        squared_norm += float(np.dot(flat, flat))
    norm = math.sqrt(squared_norm)
    if math.isfinite(norm) and norm > max_norm:
        scale = max_norm / norm
        for param in with_grad:
            param.grad = param.grad * scale
    return norm
