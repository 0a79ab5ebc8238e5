"""Training: ``fit()``, its ``History``, callbacks and exact resume.

:func:`fit` runs minibatch training the lecture's way. Each epoch the
training set ``T`` is cut into disjoint minibatches in a new random order,
``T = B_1 ⊔ … ⊔ B_p``, and for each minibatch ``B`` one optimizer step is
taken on the minibatch loss

    L_B(θ) = (1/|B|) Σ_{(x, y) ∈ B} ℓ(F_θ(x), y),

whose gradient is an unbiased estimate of the gradient of the expected risk.

Time is counted in epochs: step ``s`` (from 0) of epoch ``e`` (from 0) runs at
``t = e + s / p``. A schedule is a function ``η = schedule(t)``; ``fit`` sets
``optimizer.lr`` from it before every step (``schedule_unit="step"``) or at
the start of every epoch, with ``t = e`` (``schedule_unit="epoch"``).

Epoch numbers shown to users (history records, callbacks, error messages)
count from 1: ``epoch == 1`` is the first epoch.

Callback protocol (subclass :class:`Callback`, override what you need):

``on_train_begin(run)``
    before the first epoch (also when resuming);
``on_epoch_end(epoch, logs, run)``
    after each epoch, with ``logs`` the epoch's history record; return
    ``True`` (or set ``run.stop_training = True``) to stop after this epoch;
``on_train_end(run)``
    after the last epoch, or after a stop; not called when training fails
    with an exception;
``state_dict()`` / ``load_state_dict(state)``
    the callback's own state, saved in checkpoints so that a resumed run
    continues exactly (return ``None`` when there is nothing to keep).

``run`` is the :class:`TrainingRun` (model, optimizer, history, position,
:meth:`TrainingRun.save_checkpoint`). :class:`Checkpoint` callbacks are
called after all the others, so they save what the others decided.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import numbers
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainlab import checkpoint
from trainlab import functional as F
from trainlab._checks import check_bool as _check_bool
from trainlab._checks import check_positive_int as _check_positive_int
from trainlab._checks import check_seed as _check_seed
from trainlab.data import _iterate as _epoch_minibatches
from trainlab.data import num_batches
from trainlab.nn import BatchNorm1d, Dropout, Linear, Module
from trainlab.optim import NonFiniteStepError, Optimizer, _squared_norm
from trainlab.tensor import Tensor, no_grad

__all__ = [
    "fit",
    "History",
    "Callback",
    "EarlyStopping",
    "Checkpoint",
    "TrainingRun",
    "DivergenceError",
]

logger = logging.getLogger(__name__)

_CHECKPOINT_KEY = "fit"


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss, gradient or parameter.

    ``epoch`` and ``step`` (both counted from 1) locate the failing step;
    ``quantity`` is ``"loss"``, ``"gradient"`` or ``"parameters"`` (the
    step's update would have made parameters non-finite); ``history`` holds
    what was recorded up to that step (per-step losses included). The model
    keeps the parameters, and the optimizer the state, from before the
    failing step.
    """

    def __init__(self, message: str, epoch: int, step: int, quantity: str, history):
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.quantity = quantity
        self.history = history


# --------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------
class History:
    """What :func:`fit` recorded.

    ``epochs`` is a list of per-epoch records (dicts): ``epoch`` (from 1),
    ``loss`` (mean of the epoch's minibatch losses), ``lr`` (the learning rate
    at the epoch's first step), ``grad_norm`` (mean over the epoch's steps of
    the global gradient norm ‖∇_θ L_B‖₂), ``time`` (seconds), and with
    validation data ``val_loss`` and, for classification, ``val_accuracy``.

    Per step: ``step_t`` (time in epochs), ``step_loss``, ``step_lr`` and
    ``step_grad_norm``, lists of floats. ``history["val_loss"]`` is the list
    of one key over the epochs.
    """

    def __init__(self):
        self.epochs: list[dict] = []
        self.step_t: list[float] = []
        self.step_loss: list[float] = []
        self.step_lr: list[float] = []
        self.step_grad_norm: list[float] = []

    def __len__(self) -> int:
        return len(self.epochs)

    def __getitem__(self, key: str) -> list:
        if not self.epochs or key not in self.epochs[0]:
            available = sorted(self.epochs[0]) if self.epochs else []
            raise KeyError(f"history has no per-epoch {key!r}; it has {available}")
        return [record[key] for record in self.epochs]

    def __repr__(self) -> str:
        last = self.epochs[-1] if self.epochs else {}
        shown = {k: v for k, v in last.items() if k != "time"}
        return f"History({len(self.epochs)} epochs, last={shown})"

    # ------------------------------------------------------------ conversion
    def to_list(self) -> list[dict]:
        """The per-epoch records, as a new list of new dicts."""
        return [dict(record) for record in self.epochs]

    def to_dict(self) -> dict:
        """Everything, as plain lists (what checkpoints store)."""
        return {
            "epochs": self.to_list(),
            "steps": {
                "t": list(self.step_t),
                "loss": list(self.step_loss),
                "lr": list(self.step_lr),
                "grad_norm": list(self.step_grad_norm),
            },
        }

    @classmethod
    def from_dict(cls, state: dict) -> History:
        """The inverse of :meth:`to_dict`; also reads :meth:`to_json`'s output
        back (``json.loads``), its nulls becoming NaN."""
        if not isinstance(state, dict) or set(state) != {"epochs", "steps"}:
            raise ValueError("history state must be a dict with 'epochs' and 'steps'")
        history = cls()
        history.epochs = [
            {key: math.nan if value is None else value for key, value in record.items()}
            for record in state["epochs"]
        ]
        steps = state["steps"]
        history.step_t = _floats(steps["t"])
        history.step_loss = _floats(steps["loss"])
        history.step_lr = _floats(steps["lr"])
        history.step_grad_norm = _floats(steps["grad_norm"])
        return history

    def to_json(self, path=None) -> str:
        """Strict JSON text of :meth:`to_dict`; also written to ``path`` (UTF-8)
        if given.

        JSON has no NaN or infinity: a non-finite value (the loss of a
        diverged step, its gradient norm) is written as ``null``, and
        :meth:`from_dict` reads it back as NaN.
        """
        text = json.dumps(_finite_or_null(self.to_dict()), indent=1, allow_nan=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def to_csv(self, path=None) -> str:
        """The per-epoch records as CSV; also written to ``path`` if given."""
        columns: list[str] = []
        for record in self.epochs:
            columns.extend(key for key in record if key not in columns)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.epochs)
        text = buffer.getvalue()
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    def plot(self, title: str | None = None):
        """A matplotlib Figure: loss curves (left) and learning rate (right).

        The left panel shows every minibatch loss (thin), the epoch means and
        the validation loss against time in epochs; the right panel the
        learning rate used at each step.
        """
        from matplotlib.figure import Figure

        figure = Figure(figsize=(10, 4), layout="constrained")
        loss_axes, lr_axes = figure.subplots(1, 2)
        epochs = [record["epoch"] for record in self.epochs]
        if self.step_loss:
            loss_axes.plot(
                self.step_t, self.step_loss, lw=0.6, alpha=0.4, label="minibatch loss"
            )
        if self.epochs:
            loss_axes.plot(epochs, self["loss"], marker=".", label="train loss (mean)")
            if "val_loss" in self.epochs[0]:
                loss_axes.plot(epochs, self["val_loss"], marker=".", label="val loss")
        positive = [v for v in self.step_loss if v > 0 and math.isfinite(v)]
        if positive and len(positive) == len(self.step_loss):
            loss_axes.set_yscale("log")
        loss_axes.set_xlabel("epoch")
        loss_axes.set_ylabel("loss")
        loss_axes.legend()
        lr_axes.plot(self.step_t, self.step_lr)
        lr_axes.set_xlabel("epoch")
        lr_axes.set_ylabel("learning rate")
        if title:
            figure.suptitle(title)
        return figure


def _floats(values) -> list[float]:
    return [math.nan if value is None else float(value) for value in values]


def _finite_or_null(value):
    """``value`` with every non-finite float replaced by ``None``."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite_or_null(item) for item in value]
    return value


# --------------------------------------------------------------------------
# callbacks
# --------------------------------------------------------------------------
class Callback:
    """Base class for callbacks; every hook does nothing by default.

    See the module docstring for the protocol.
    """

    def on_train_begin(self, run: TrainingRun) -> None:
        return None

    def on_epoch_end(self, epoch: int, logs: dict, run: TrainingRun) -> bool | None:
        return None

    def on_train_end(self, run: TrainingRun) -> None:
        return None

    def state_dict(self) -> dict | None:
        return None

    def load_state_dict(self, state: dict) -> None:
        return None


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    An epoch improves on the best value so far when ``value < best − min_delta``
    (``mode="min"``) or ``value > best + min_delta`` (``mode="max"``);
    ``mode="auto"`` picks ``"max"`` for accuracies and ``"min"`` otherwise.
    With ``restore_best=True`` the weights of the best epoch (parameters and
    buffers) are put back whenever training ends, whether it stopped early or
    ran all its epochs. ``best``, ``best_epoch`` and ``stopped_epoch`` (0 when
    it did not stop) tell what happened.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 10,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best: bool = True,
    ):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a str, received {type(monitor).__name__}")
        self.monitor = monitor
        self.patience = _check_positive_int("patience", patience)
        if isinstance(min_delta, bool) or not isinstance(min_delta, numbers.Real):
            raise TypeError(f"min_delta must be a number, received {min_delta!r}")
        if not (math.isfinite(min_delta) and min_delta >= 0):
            raise ValueError(f"min_delta must be >= 0, received {min_delta!r}")
        self.min_delta = float(min_delta)
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', received {mode!r}")
        if mode == "auto":
            mode = "max" if "acc" in monitor else "min"
        self.mode = mode
        self.restore_best = _check_bool("restore_best", restore_best)
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0
        self.stopped_epoch = 0
        self.best_state: dict[str, np.ndarray] | None = None

    def on_train_begin(self, run):
        if self.monitor.startswith("val_") and not run.has_validation:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, which needs "
                "validation data: pass validation=(X_val, y_val) to fit"
            )
        if run.recorded and self.monitor not in run.recorded:
            raise ValueError(
                f"EarlyStopping monitor must be one of the values this run "
                f"records, {list(run.recorded)}; received {self.monitor!r}"
            )
        self._reset()

    def _improved(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs, run):
        if self.monitor not in logs:
            raise ValueError(
                f"EarlyStopping monitors {self.monitor!r}, but the epoch records "
                f"hold only {sorted(logs)}"
            )
        value = logs[self.monitor]
        if self._improved(value):
            self.best = value
            self.best_epoch = epoch
            self.wait = 0
            if self.restore_best:
                self.best_state = run.model.state_dict()
            return False
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            logger.info(
                "early stopping at epoch %d: %s has not improved for %d epochs "
                "(best %.6g at epoch %d)",
                epoch,
                self.monitor,
                self.wait,
                self.best,
                self.best_epoch,
            )
            return True
        return False

    def on_train_end(self, run):
        if self.restore_best and self.best_state is not None:
            run.model.load_state_dict(self.best_state)
            logger.info("restored the weights of epoch %d", self.best_epoch)

    def state_dict(self) -> dict:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "wait": self.wait,
            "stopped_epoch": self.stopped_epoch,
            "best_state": self.best_state,
        }

    def load_state_dict(self, state: dict) -> None:
        self.best = float(state["best"])
        self.best_epoch = int(state["best_epoch"])
        self.wait = int(state["wait"])
        self.stopped_epoch = int(state["stopped_epoch"])
        self.best_state = state["best_state"]


class Checkpoint(Callback):
    """Save the whole run to ``path`` every ``every`` epochs.

    Also saves after the last epoch and when training is stopped, so the file
    always holds the latest finished epoch a multiple of ``every`` or the
    end. The file is written atomically (see :mod:`trainlab.checkpoint`);
    ``fit(..., resume=path)`` continues from it exactly.
    """

    def __init__(self, path, every: int = 1):
        if not isinstance(path, str | os.PathLike):
            raise TypeError(
                f"path must be a str or os.PathLike, received {type(path).__name__}"
            )
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise FileNotFoundError(
                f"Checkpoint path {str(self.path)!r}: directory "
                f"{str(self.path.parent)!r} does not exist"
            )
        self.every = _check_positive_int("every", every)

    def on_epoch_end(self, epoch, logs, run):
        if epoch % self.every == 0 or epoch == run.epochs or run.stop_training:
            run.save_checkpoint(self.path)
        return False


# --------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------
@dataclass
class TrainingRun:
    """The state of a :func:`fit` call, handed to callbacks.

    ``epoch`` counts finished epochs; ``global_step`` optimizer steps taken.
    ``recorded`` names the values each epoch record holds that a callback
    may monitor (``loss``, ``lr``, ``grad_norm``, with validation data
    ``val_loss`` and, for classification, ``val_accuracy``).
    """

    model: Module
    optimizer: object
    history: History
    epochs: int
    batch_size: int
    seed: int
    n_samples: int
    schedule_unit: str
    has_validation: bool
    shuffle_rng: np.random.Generator
    callbacks: list = field(default_factory=list)
    recorded: tuple[str, ...] = ()
    epoch: int = 0
    global_step: int = 0
    stop_training: bool = False

    def save_checkpoint(self, path) -> Path:
        """Write model, optimizer, position, generators, history and the
        callbacks' states to ``path`` (atomically)."""
        state = {
            "epoch": self.epoch,
            "global_step": self.global_step,
            "seed": self.seed,
            "batch_size": self.batch_size,
            "n_samples": self.n_samples,
            "schedule_unit": self.schedule_unit,
            "stopped": self.stop_training,
            "shuffle_rng": self.shuffle_rng.bit_generator.state,
            "history": self.history.to_dict(),
            "callbacks": [
                [type(callback).__name__, callback.state_dict()]
                for callback in self.callbacks
            ],
        }
        path = checkpoint.save(
            path, self.model, self.optimizer, **{_CHECKPOINT_KEY: state}
        )
        logger.debug("checkpoint written to %s at epoch %d", path, self.epoch)
        return path


# --------------------------------------------------------------------------
# input checks
# --------------------------------------------------------------------------
def _first_and_last_linear(model: Module) -> tuple[Linear | None, Linear | None]:
    linears = [module for module in model.modules() if isinstance(module, Linear)]
    return (linears[0], linears[-1]) if linears else (None, None)


def _as_array(name: str, value) -> np.ndarray:
    """``value`` as an ndarray; a Tensor gives its ``.data``."""
    if isinstance(value, Tensor):
        return value.data
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(
            f"{name} must be an array of numbers (or a Tensor), received "
            f"{type(value).__name__} {_describe(value)} that NumPy cannot turn "
            "into one"
        )
    return array


def _check_features(name: str, X, dtype, first: Linear | None) -> np.ndarray:
    array = _as_array(name, X)
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must hold numbers, received dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (samples, features), received shape {array.shape}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{name} must have at least one row, received 0 rows")
    if first is not None and array.shape[1] != first.in_features:
        raise ValueError(
            f"{name} has {array.shape[1]} features (columns) but the model's first "
            f"Linear layer expects in_features={first.in_features}"
        )
    finite = np.isfinite(array)
    if not finite.all():
        row, column = np.argwhere(~finite)[0]
        raise ValueError(
            f"{name} contains a non-finite value ({array[row, column]}) at row "
            f"{row}, column {column}"
        )
    return np.ascontiguousarray(array, dtype=dtype)


def _check_targets(
    name: str, y, n: int, labels: bool, classes: int | None, dtype
) -> np.ndarray:
    """Integer labels (``labels=True``), or real targets converted to ``dtype``."""
    array = _as_array(name, y)
    if array.ndim == 0 or len(array) != n:
        received = array.shape[0] if array.ndim else "a 0-d array"
        raise ValueError(
            f"{name} must have one entry per row of the inputs: expected {n}, "
            f"received {received}"
        )
    if labels:
        if not np.issubdtype(array.dtype, np.integer):
            raise TypeError(
                f"{name} must hold integer class labels for cross_entropy, received "
                f"dtype {array.dtype}; convert with {name}.astype(int)"
            )
        if array.ndim != 1:
            raise ValueError(f"{name} labels must be 1-D, received shape {array.shape}")
        if classes is not None and (array.min() < 0 or array.max() >= classes):
            raise ValueError(
                f"{name} labels must lie in [0, {classes - 1}] for a model with "
                f"{classes} outputs, received labels from {array.min()} to "
                f"{array.max()}"
            )
        return array
    if not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{name} must hold numbers, received dtype {array.dtype}")
    if not np.isfinite(array).all():
        index = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(
            f"{name} contains a non-finite value at index {tuple(index.tolist())}"
        )
    return np.ascontiguousarray(array, dtype=dtype)


def _check_regression_shape(name: str, y, loss, outputs: int | None) -> None:
    """mse_loss compares shapes exactly: y must be (N, outputs) like the model."""
    if loss is F.mse_loss and outputs is not None and y.shape[1:] != (outputs,):
        raise ValueError(
            f"{name} has shape {y.shape} but the model outputs shape "
            f"({len(y)}, {outputs}) and mse_loss needs equal shapes; pass "
            f"{name}.reshape({len(y)}, {outputs})"
        )


def _check_optimizer(optimizer, model: Module) -> None:
    for method in ("step", "zero_grad", "state_dict", "load_state_dict"):
        if not callable(getattr(optimizer, method, None)):
            raise TypeError(
                f"optimizer must have a {method}() method, received "
                f"{type(optimizer).__name__}"
            )
    params = getattr(optimizer, "params", None)
    if params is not None:
        owned = {id(p) for p in model.parameters()}
        if not all(id(p) in owned for p in params):
            raise ValueError(
                "optimizer holds parameters that are not the model's; build it "
                "from model.parameters()"
            )


def _check_schedule(schedule, schedule_unit: str) -> None:
    if schedule_unit not in ("step", "epoch"):
        raise ValueError(
            f"schedule_unit must be 'step' or 'epoch', received {schedule_unit!r}"
        )
    if schedule is None:
        return
    if not callable(schedule):
        raise TypeError(
            f"schedule must be callable as schedule(t) -> lr, received "
            f"{type(schedule).__name__}"
        )
    first = schedule(0.0)
    if not (isinstance(first, numbers.Real) and math.isfinite(first) and first >= 0):
        raise ValueError(
            f"schedule(0.0) must return a finite learning rate >= 0, received {first!r}"
        )


def _check_callbacks(callbacks) -> list[Callback]:
    if isinstance(callbacks, Callback):
        callbacks = [callbacks]
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise TypeError(
            f"callbacks must be a list of Callback objects, received "
            f"{type(callbacks).__name__}"
        ) from None
    for index, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            raise TypeError(
                f"callbacks[{index}] must be a trainlab.training.Callback, received "
                f"{type(callback).__name__}"
            )
    return callbacks


def _describe(value) -> str:
    kind = type(value).__name__
    return f"a {kind} of length {len(value)}" if hasattr(value, "__len__") else kind


def _takes_labels(loss, y) -> bool:
    """Whether ``y`` holds class labels, decided by the loss.

    ``cross_entropy`` takes integer labels and ``mse_loss`` real targets
    (integers among them, converted). For any other loss, a 1-D integer
    ``y`` is taken as labels.
    """
    if loss is F.cross_entropy:
        return True
    if loss is F.mse_loss:
        return False
    array = _as_array("y", y)
    return np.issubdtype(array.dtype, np.integer) and array.ndim == 1


# --------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------
def _gradient_norm(params) -> float:
    """‖∇_θ L_B‖₂ over all parameters; ``nan`` when a gradient is not finite.

    One pass over each gradient (a BLAS dot product) gives both: a finite
    sum of squares means every entry is finite.
    """
    total = 0.0
    for param in params:
        grad = param.grad
        if grad is not None:
            total += _squared_norm(grad)
    if math.isfinite(total):
        return math.sqrt(total)
    # the float32 sum of squares may overflow although every entry is finite
    if all(p.grad is None or np.isfinite(p.grad).all() for p in params):
        return math.sqrt(
            sum(
                float(np.sum(np.square(p.grad, dtype=np.float64)))
                for p in params
                if p.grad is not None
            )
        )
    return math.nan


def _nonfinite_gradients(model: Module) -> list[str]:
    return [
        name
        for name, param in model.named_parameters()
        if param.grad is not None and not np.isfinite(param.grad).all()
    ]


def _guarded_step(model: Module, optimizer):
    """A function taking one optimizer step only if the parameters stay finite.

    It returns ``None`` after a step, or the names of the parameters the step
    would have made non-finite, with parameters and optimizer state as they
    were. A trainlab optimizer checks its updates before applying any
    (``step(require_finite=True)``, no copies); for any other optimizer the
    parameters and ``state_dict()`` are copied before every step and put
    back after a bad one.
    """
    names = {id(param): name for name, param in model.named_parameters()}
    if isinstance(optimizer, Optimizer):
        params = optimizer.params

        def step():
            try:
                optimizer.step(require_finite=True)
            except NonFiniteStepError as error:
                return [names[id(params[index])] for index in error.indices]
            return None

        return step

    named = list(model.named_parameters())
    saved = [np.empty_like(param.data) for _, param in named]

    def step():
        for copy, (_, param) in zip(saved, named, strict=True):
            np.copyto(copy, param.data)
        state = optimizer.state_dict()
        optimizer.step()
        bad = [name for name, param in named if not np.isfinite(param.data).all()]
        if not bad:
            return None
        for copy, (_, param) in zip(saved, named, strict=True):
            np.copyto(param.data, copy)
        optimizer.load_state_dict(state)
        return bad

    return step


def _check_finite_parameters(model: Module) -> None:
    for name, param in model.named_parameters():
        if not np.isfinite(param.data).all():
            raise ValueError(
                f"the model's parameter {name!r} holds non-finite values before "
                "training; initialize (or load) finite parameters"
            )


def _recorded(validation: bool, labels: bool, classes: int | None) -> tuple:
    """The values of each epoch record a callback may monitor."""
    names = ("loss", "lr", "grad_norm")
    if validation:
        names += ("val_loss",)
        if labels and (classes is None or classes > 1):
            names += ("val_accuracy",)
    return names


def _evaluate(model, loss, X, y, labels: bool) -> dict:
    with no_grad():
        output = model(Tensor(X))
        record = {"val_loss": float(loss(output, y).data)}
    if labels and output.ndim == 2 and output.shape[1] > 1:
        predicted = np.argmax(output.data, axis=1)
        record["val_accuracy"] = float(np.mean(predicted == y))
    return record


def _progress_bar(progress: bool, total: int, initial: int):
    from tqdm import tqdm

    enabled = progress and hasattr(sys.stderr, "isatty") and sys.stderr.isatty()
    return tqdm(
        total=total, initial=initial, unit="epoch", disable=not enabled, leave=True
    )


def fit(
    model: Module,
    loss,
    optimizer,
    X,
    y,
    epochs: int,
    batch_size: int,
    schedule=None,
    schedule_unit: str = "step",
    validation=None,
    callbacks=(),
    seed: int = 0,
    progress: bool = True,
    resume=None,
) -> History:
    """Train ``model`` on ``(X, y)`` with minibatches; return the :class:`History`.

    Parameters
    ----------
    model : Module
        Its parameters' dtype is the dtype every batch is converted to.
    loss : callable
        ``loss(output, target) -> scalar Tensor``. The loss decides what ``y``
        is: :func:`trainlab.functional.cross_entropy` takes integer labels
        (and the accuracy is recorded);
        :func:`trainlab.functional.mse_loss` takes real targets (integers
        are converted to the parameters' dtype) of the shape of the model's
        output, e.g. ``(N, 1)``. With any other loss a 1-D integer ``y`` is
        passed on as labels, anything else converted to the parameters'
        dtype.
    optimizer
        A :mod:`trainlab.optim` optimizer over ``model.parameters()``; any
        object with ``step``, ``zero_grad``, ``state_dict`` (returning
        copies) and ``load_state_dict`` also works, at the cost of copying
        the parameters and its state before every step (see Raises).
    X, y : arrays or Tensors
        ``X`` of shape ``(N, in_features)``; ``y`` with ``N`` rows.
    epochs : int
        Total number of epochs, counting those already done when resuming.
    batch_size : int
        Minibatch size; the last minibatch of an epoch may be smaller.
    schedule : callable, optional
        ``η = schedule(t)``, ``t`` in epochs, sets ``optimizer.lr`` before
        each step (``schedule_unit="step"``, ``t = e + s/p``) or each epoch
        (``"epoch"``, ``t = e``). ``None`` leaves ``optimizer.lr`` alone.
        With ``"epoch"`` and ``schedule(0) == 0`` (a :class:`Warmup` with
        ``start_factor=0``) the first epoch trains nothing; ``fit`` warns.
    validation : (X_val, y_val), optional
        Evaluated (model in eval mode) after each epoch: ``val_loss`` and, for
        classification, ``val_accuracy``.
    callbacks : list of Callback
    seed : int
        Drives everything random in the run: the shuffling generator and a
        generator for every Dropout layer whose ``rng`` is ``None`` (each from
        its own ``SeedSequence`` child; the layers get ``rng=None`` back when
        ``fit`` returns). The same seed gives identical histories.
    progress : bool
        A tqdm bar over epochs with the current loss, shown only when
        standard error is a terminal.
    resume : path, optional
        A checkpoint written by a :class:`Checkpoint` callback of an earlier
        run; training continues from it exactly as if never interrupted.

    Raises
    ------
    TypeError, ValueError
        Bad input, detected before any step (shapes, widths, labels, sizes,
        non-finite data or parameters).
    DivergenceError
        A minibatch loss or gradient is not finite, or the step's update
        would make parameters non-finite; the model keeps the parameters,
        and the optimizer the state, from before that step.
    """
    if not isinstance(model, Module):
        raise TypeError(f"model must be a trainlab Module, received {type(model)}")
    params = model.parameters()
    if not params:
        raise ValueError("model has no parameters to train")
    if not callable(loss):
        raise TypeError(
            f"loss must be callable as loss(output, target), received "
            f"{type(loss).__name__}"
        )
    _check_optimizer(optimizer, model)
    epochs = _check_positive_int("epochs", epochs)
    batch_size = _check_positive_int("batch_size", batch_size)
    _check_schedule(schedule, schedule_unit)
    callbacks = _check_callbacks(callbacks)
    seed = _check_seed(seed)
    progress = _check_bool("progress", progress)

    dtype = params[0].dtype
    first, last = _first_and_last_linear(model)
    classes = last.out_features if last is not None else None
    X = _check_features("X", X, dtype, first)
    labels = _takes_labels(loss, y)
    y = _check_targets("y", y, len(X), labels, classes, dtype)
    _check_regression_shape("y", y, loss, classes)
    n = len(X)
    if validation is not None:
        if not isinstance(validation, tuple | list) or len(validation) != 2:
            raise TypeError(
                "validation must be a pair (X_val, y_val), received "
                f"{_describe(validation)}"
            )
        X_val = _check_features("validation X", validation[0], dtype, first)
        y_val = _check_targets(
            "validation y", validation[1], len(X_val), labels, classes, dtype
        )
        _check_regression_shape("validation y", y_val, loss, classes)
    has_batchnorm = any(isinstance(m, BatchNorm1d) for m in model.modules())
    if has_batchnorm and n % batch_size == 1:
        raise ValueError(
            f"batch_size={batch_size} leaves a last minibatch of one sample out of "
            f"{n}, which batch normalization cannot normalize; pick another "
            "batch_size"
        )

    resumed = None
    if resume is not None:
        resumed = _read_resume_state(resume, epochs, seed, batch_size, n, callbacks)

    # every random choice of the run derives from the seed
    shuffle_seed, dropout_seed = np.random.SeedSequence(seed).spawn(2)
    shuffle_rng = np.random.default_rng(shuffle_seed)
    unseeded = [
        module
        for module in model.modules()
        if isinstance(module, Dropout) and module.rng is None
    ]
    for module, child in zip(unseeded, dropout_seed.spawn(len(unseeded)), strict=True):
        module.rng = np.random.default_rng(child)

    run = TrainingRun(
        model=model,
        optimizer=optimizer,
        history=History(),
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        n_samples=n,
        schedule_unit=schedule_unit,
        has_validation=validation is not None,
        shuffle_rng=shuffle_rng,
        callbacks=callbacks,
        recorded=_recorded(validation is not None, labels, classes),
    )
    ordered = [c for c in callbacks if not isinstance(c, Checkpoint)]
    ordered += [c for c in callbacks if isinstance(c, Checkpoint)]
    was_training = model.training
    try:
        for callback in callbacks:
            callback.on_train_begin(run)
        if resumed is not None:
            _restore(run, resume, resumed)
        _check_finite_parameters(model)
        if (
            schedule is not None
            and schedule_unit == "epoch"
            and run.epoch < epochs
            and float(schedule(run.epoch)) == 0
        ):
            warnings.warn(
                f"schedule({run.epoch}) is 0 and schedule_unit='epoch' holds it "
                f"for the whole epoch: epoch {run.epoch + 1} will not change the "
                "parameters (a Warmup with start_factor=0 starts at 0); use "
                "schedule_unit='step' or a start_factor > 0",
                UserWarning,
                stacklevel=2,
            )

        loop = _Loop(run, loss, X, y, schedule)
        bar = _progress_bar(progress, epochs, run.epoch)
        # NumPy's overflow warnings would only precede the divergence guard's
        # clearer error, raised at the first non-finite loss or gradient.
        with bar, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while run.epoch < epochs and not run.stop_training:
                record = loop.epoch()
                if validation is not None:
                    model.eval()
                    record.update(_evaluate(model, loss, X_val, y_val, labels))
                run.history.epochs.append(record)
                run.epoch += 1
                _log_epoch(record, epochs)
                if not bar.disable:
                    bar.update(1)
                    bar.set_postfix(
                        {k: f"{v:.4g}" for k, v in record.items() if k != "epoch"},
                        refresh=False,
                    )
                for callback in ordered:
                    if callback.on_epoch_end(run.epoch, dict(record), run):
                        run.stop_training = True
        for callback in callbacks:
            callback.on_train_end(run)
    finally:
        model.train(was_training)
        for module in unseeded:
            module.rng = None
    return run.history


class _Loop:
    """The training loop of one :func:`fit` call, made once and run epoch by
    epoch: everything that does not change between steps is looked up here.
    """

    def __init__(self, run: TrainingRun, loss, X, y, schedule):
        self.run, self.loss, self.X, self.y = run, loss, X, y
        self.schedule = schedule
        self.model = run.model
        self.params = run.model.parameters()
        run.model.train()
        self.steps_per_epoch = num_batches(run.n_samples, run.batch_size)
        self.take_step = _guarded_step(run.model, run.optimizer)
        # The forward pass updates batch-norm running statistics in place; a
        # copy taken before it lets a failing step leave them as they were.
        self.buffers = [array for _, array in run.model.named_buffers()]
        self.buffers_before = [np.empty_like(array) for array in self.buffers]

    def epoch(self) -> dict:
        """One pass over the minibatches of a new random partition."""
        run, model, loss, params = self.run, self.model, self.loss, self.params
        optimizer, history = run.optimizer, run.history
        buffers, buffers_before = self.buffers, self.buffers_before
        schedule, per_step = self.schedule, run.schedule_unit == "step"
        steps_per_epoch, epoch = self.steps_per_epoch, run.epoch
        if not model.training:
            model.train()
        started = time.perf_counter()
        losses, norms = [], []
        if schedule is not None and not per_step:
            optimizer.lr = float(schedule(epoch))
        first_lr = float(optimizer.lr)
        # data.minibatches without its argument checks, done once by fit
        batches = _epoch_minibatches(
            self.X, self.y, run.batch_size, run.shuffle_rng, False, False
        )
        for step, (X_B, y_B) in enumerate(batches):
            t = epoch + step / steps_per_epoch
            if schedule is not None and per_step:
                optimizer.lr = float(schedule(t))
            lr = float(optimizer.lr)

            for param in params:
                param.grad = None
            for saved, array in zip(buffers_before, buffers, strict=True):
                np.copyto(saved, array)

            batch_loss = loss(model(Tensor(X_B)), y_B)

            value = float(batch_loss.data)
            history.step_t.append(t)
            history.step_loss.append(value)
            history.step_lr.append(lr)
            if not math.isfinite(value):
                history.step_grad_norm.append(math.nan)
                self._fail("loss", value, math.nan, step)

            batch_loss.backward()

            grad_norm = _gradient_norm(params)
            history.step_grad_norm.append(grad_norm)
            if not math.isfinite(grad_norm):
                self._fail("gradient", value, grad_norm, step)

            nonfinite = self.take_step()
            if nonfinite is not None:
                self._fail("parameters", value, grad_norm, step, nonfinite)

            run.global_step += 1
            losses.append(value)
            norms.append(grad_norm)
            if step == 0:
                first_lr = lr
        return {
            "epoch": epoch + 1,
            "loss": math.fsum(losses) / len(losses),
            "lr": first_lr,
            "grad_norm": math.fsum(norms) / len(norms),
            "time": time.perf_counter() - started,
        }

    def _fail(self, quantity, value, grad_norm, step, names=None):
        _restore_buffers(self.buffers, self.buffers_before)
        _diverged(
            self.run, quantity, value, grad_norm, step, self.steps_per_epoch, names
        )


def _restore_buffers(buffers, buffers_before) -> None:
    for array, saved in zip(buffers, buffers_before, strict=True):
        np.copyto(array, saved)


def _diverged(run, quantity, value, grad_norm, step, steps_per_epoch, names=None):
    epoch = run.epoch
    where = f"epoch {epoch + 1} of {run.epochs}, step {step + 1} of {steps_per_epoch}"
    if quantity == "loss":
        what = f"the minibatch loss is {value}"
    elif quantity == "gradient":
        names = _nonfinite_gradients(run.model)
        what = f"the gradient of {names} is not finite (loss {value:.6g})"
    else:
        what = (
            f"the step's update would make the parameters {names} non-finite "
            f"(loss {value:.6g}, gradient norm {grad_norm:.6g})"
        )
    raise DivergenceError(
        f"training diverged at {where}: {what}. The model keeps its parameters, "
        f"and the optimizer its state, from before this step; try a smaller "
        f"learning rate (it was {run.optimizer.lr:g}).",
        epoch=epoch + 1,
        step=step + 1,
        quantity=quantity,
        history=run.history,
    )


def _log_epoch(record: dict, epochs: int) -> None:
    if logger.isEnabledFor(logging.INFO):
        values = " ".join(
            f"{key}={value:.6g}"
            for key, value in record.items()
            if key not in ("epoch", "time")
        )
        logger.info("epoch %d/%d %s", record["epoch"], epochs, values)


# --------------------------------------------------------------------------
# resume
# --------------------------------------------------------------------------
def _read_resume_state(path, epochs, seed, batch_size, n, callbacks) -> dict:
    """The run state saved by a Checkpoint callback, checked before use."""
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"resume must be a checkpoint path, received {type(path).__name__}"
        )
    extra = checkpoint.read_state(path)
    state = extra.get(_CHECKPOINT_KEY)
    if not isinstance(state, dict):
        raise ValueError(
            f"resume checkpoint {str(path)!r} was not written by fit (no run "
            "state); use trainlab.load to restore a model from it"
        )
    required = {
        "epoch",
        "global_step",
        "seed",
        "batch_size",
        "n_samples",
        "schedule_unit",
        "stopped",
        "shuffle_rng",
        "history",
        "callbacks",
    }
    if not required <= set(state):
        raise ValueError(
            f"resume checkpoint {str(path)!r} has an incomplete run state, missing "
            f"{sorted(required - set(state))}"
        )
    if state["epoch"] > epochs:
        raise ValueError(
            f"resume checkpoint {str(path)!r} is at epoch {state['epoch']}, "
            f"beyond epochs={epochs}"
        )
    for name, value in (("seed", seed), ("batch_size", batch_size), ("n_samples", n)):
        if state[name] != value:
            warnings.warn(
                f"resuming with {name}={value} where the checkpoint has "
                f"{state[name]}: the run will not match an uninterrupted one",
                UserWarning,
                stacklevel=3,
            )
    saved_names = [name for name, saved in state["callbacks"] if saved is not None]
    names = [type(callback).__name__ for callback in _stateful(callbacks)]
    if saved_names != names:
        warnings.warn(
            f"resuming with stateful callbacks {names} where the checkpoint has "
            f"{saved_names}: callback states are not restored",
            UserWarning,
            stacklevel=3,
        )
    return state


def _stateful(callbacks) -> list[Callback]:
    """The callbacks that keep state worth saving (``state_dict()`` not None)."""
    return [callback for callback in callbacks if callback.state_dict() is not None]


def _restore(run: TrainingRun, path, state: dict) -> None:
    checkpoint.load(path, run.model, run.optimizer)
    run.shuffle_rng.bit_generator.state = state["shuffle_rng"]
    run.history = History.from_dict(state["history"])
    run.epoch = int(state["epoch"])
    run.global_step = int(state["global_step"])
    run.stop_training = bool(state["stopped"])
    saved = [(name, value) for name, value in state["callbacks"] if value is not None]
    stateful = _stateful(run.callbacks)
    if [name for name, _ in saved] == [type(c).__name__ for c in stateful]:
        for callback, (_, value) in zip(stateful, saved, strict=True):
            callback.load_state_dict(value)
    logger.info("resumed from %s at epoch %d", path, run.epoch)
