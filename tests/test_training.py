"""Tests for trainlab.training: fit, History, callbacks, divergence, resume."""

import io
import json
import logging
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

import trainlab as tl
from trainlab import functional as F
from trainlab import training
from trainlab.tensor import from_op


def blobs(n=60, seed=0, classes=3, features=4):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, size=n)
    centers = rng.normal(scale=2.0, size=(classes, features))
    X = centers[y] + rng.normal(size=(n, features))
    return X, y


def dropout_model(seed=0, rng_for_dropout=None):
    rng = np.random.default_rng(seed)
    return tl.nn.Sequential(
        tl.nn.Linear(4, 16, rng=rng),
        tl.nn.BatchNorm1d(16),
        tl.nn.ReLU(),
        tl.nn.Dropout(0.3, rng=rng_for_dropout),
        tl.nn.Linear(16, 3, rng=rng),
    )


def without_time(history):
    return [{k: v for k, v in r.items() if k != "time"} for r in history.epochs]


def quick_fit(model=None, **kwargs):
    X, y = blobs()
    model = model if model is not None else tl.nn.mlp([4, 8, 3], rng=0)
    optimizer = kwargs.pop("optimizer", None) or tl.optim.SGD(
        model.parameters(), lr=0.1
    )
    options = {"epochs": 2, "batch_size": 16, "progress": False}
    options.update(kwargs)
    return tl.fit(model, F.cross_entropy, optimizer, X, y, **options)


# ------------------------------------------------------------------- history


def test_history_records_epochs_and_steps():
    X, y = blobs()
    model = tl.nn.mlp([4, 8, 3], rng=0)
    optimizer = tl.optim.Adam(model.parameters(), lr=0.01)
    history = tl.fit(
        model,
        F.cross_entropy,
        optimizer,
        X[:45],
        y[:45],
        epochs=3,
        batch_size=10,
        validation=(X[45:], y[45:]),
        progress=False,
    )
    assert isinstance(history, tl.History) and len(history) == 3
    assert [r["epoch"] for r in history.epochs] == [1, 2, 3]
    for record in history.epochs:
        assert set(record) == {
            "epoch",
            "loss",
            "lr",
            "grad_norm",
            "time",
            "val_loss",
            "val_accuracy",
        }
        assert record["lr"] == 0.01 and record["time"] >= 0
        assert 0 <= record["val_accuracy"] <= 1 and record["grad_norm"] > 0
    steps = 3 * 5  # ⌈45 / 10⌉ = 5 minibatches per epoch
    assert len(history.step_loss) == len(history.step_lr) == steps
    assert len(history.step_grad_norm) == len(history.step_t) == steps
    np.testing.assert_allclose(history.step_t[:6], [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    np.testing.assert_allclose(
        history["loss"], np.mean(np.reshape(history.step_loss, (3, 5)), axis=1)
    )
    assert history["loss"][-1] < history["loss"][0]


def test_history_conversions_and_plot(tmp_path):
    history = quick_fit(validation=blobs(20, seed=1))
    records = history.to_list()
    records[0]["loss"] = -1.0
    assert history.epochs[0]["loss"] != -1.0

    parsed = json.loads(history.to_json(tmp_path / "h.json"))
    assert parsed["epochs"] == history.epochs
    assert parsed["steps"]["loss"] == history.step_loss
    assert json.loads((tmp_path / "h.json").read_text()) == parsed
    restored = tl.History.from_dict(parsed)
    assert restored.epochs == history.epochs and restored.step_lr == history.step_lr

    text = history.to_csv(tmp_path / "h.csv")
    lines = text.strip().split("\n")
    assert lines[0].split(",")[:4] == ["epoch", "loss", "lr", "grad_norm"]
    assert len(lines) == 3 and float(lines[1].split(",")[1]) == history["loss"][0]
    assert (tmp_path / "h.csv").read_text() == text

    figure = history.plot(title="run")
    assert len(figure.axes) == 2
    assert figure.axes[1].get_ylabel() == "learning rate"
    with pytest.raises(KeyError, match="no per-epoch 'accuracy'"):
        history["accuracy"]


def test_history_json_is_strict_after_a_divergence(tmp_path):
    model = tl.nn.mlp([4, 8, 3], rng=0)
    optimizer = tl.optim.SGD(model.parameters(), lr=0.1)

    calls = []

    def poisoned(output, target):
        calls.append(None)
        value = F.cross_entropy(output, target)
        return value * np.float32(np.nan) if len(calls) == 3 else value

    with pytest.raises(training.DivergenceError) as info:
        tl.fit(
            model,
            poisoned,
            optimizer,
            *blobs(),
            epochs=2,
            batch_size=20,
            progress=False,
        )
    history = info.value.history
    assert math.isnan(history.step_loss[-1])

    def refuse(name):
        raise ValueError(f"not strict JSON: {name}")

    text = history.to_json(tmp_path / "h.json")
    parsed = json.loads(text, parse_constant=refuse)
    assert parsed["steps"]["loss"][-1] is None
    assert parsed["steps"]["grad_norm"][-1] is None
    assert parsed["steps"]["loss"][:-1] == history.step_loss[:-1]
    assert (tmp_path / "h.json").read_text(encoding="utf-8") == text
    restored = tl.History.from_dict(parsed)
    assert math.isnan(restored.step_loss[-1])
    assert restored.step_loss[:-1] == history.step_loss[:-1]


def test_history_files_are_written_as_utf8_whatever_the_locale(tmp_path):
    code = (
        "import sys, trainlab as tl\n"
        "h = tl.History()\n"
        "h.epochs = [{'epoch': 1, 'loss': 0.5}]\n"
        "h.to_json(sys.argv[1] + '/h.json')\n"
        "h.to_csv(sys.argv[1] + '/h.csv')\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "warn_default_encoding",
            "-W",
            "error::EncodingWarning",
            "-c",
            code,
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "h.csv").read_text(encoding="utf-8") == "epoch,loss\n1,0.5\n"


def test_regression_with_mse_records_val_loss_only():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]))[:, None]
    model = tl.nn.Sequential(tl.nn.Linear(3, 1, rng=0))
    optimizer = tl.optim.SGD(model.parameters(), lr=0.1)
    history = tl.fit(
        model,
        F.mse_loss,
        optimizer,
        X,
        y,
        epochs=30,
        batch_size=8,
        validation=(X, y),
        progress=False,
    )
    assert "val_accuracy" not in history.epochs[0]
    assert history["val_loss"][-1] < 1e-3
    np.testing.assert_allclose(model[0].weight.data[:, 0], [1, -2, 0.5], atol=0.02)


def test_full_batch_fit_is_gradient_descent():
    """With one minibatch per epoch, fit takes the hand-computed GD steps
    θ ← θ − η ∇L(θ), L = (1/N) Σ (⟨w, x⟩ + b − y)²."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(12, 2))
    y = rng.normal(size=(12, 1))
    model = tl.nn.Sequential(tl.nn.Linear(2, 1, rng=0, dtype=np.float64))
    w = model[0].weight.data.copy()
    b = model[0].bias.data.copy()
    lr = 0.05
    for _ in range(3):
        residual = X @ w + b - y
        grad_w = 2 * X.T @ residual / len(X)
        grad_b = 2 * residual.sum(axis=0) / len(X)
        w, b = w - lr * grad_w, b - lr * grad_b
    optimizer = tl.optim.SGD(model.parameters(), lr=lr)
    tl.fit(model, F.mse_loss, optimizer, X, y, epochs=3, batch_size=12, progress=False)
    np.testing.assert_allclose(model[0].weight.data, w, rtol=1e-12)
    np.testing.assert_allclose(model[0].bias.data, b, rtol=1e-12)


def test_integer_regression_targets_are_converted_for_mse():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.rint(X @ np.array([2.0, -1.0, 3.0]))[:, None].astype(np.int64)
    histories = []
    for targets in (y, y.astype(np.float32)):
        model = tl.nn.Sequential(tl.nn.Linear(3, 1, rng=0))
        optimizer = tl.optim.SGD(model.parameters(), lr=0.05)
        histories.append(
            tl.fit(
                model,
                F.mse_loss,
                optimizer,
                X,
                targets,
                epochs=3,
                batch_size=8,
                validation=(X, targets),
                progress=False,
            )
        )
    assert without_time(histories[0]) == without_time(histories[1])
    assert "val_accuracy" not in histories[0].epochs[0]
    # the loss decides: 1-D integers for a one-output mse model are targets
    # of the wrong shape, not labels
    with pytest.raises(ValueError, match=r"y has shape \(60,\).*reshape\(60, 1\)"):
        fit_with(
            model=tl.nn.Sequential(tl.nn.Linear(4, 1)),
            loss=F.mse_loss,
            y=np.ones(60, dtype=np.int64),
        )


def test_accepts_tensors_as_data():
    X, y = blobs()
    from_arrays = fit_with(validation=(X[:20], y[:20]))
    from_tensors = fit_with(
        X=tl.tensor(X),
        y=tl.tensor(y),
        validation=(tl.tensor(X[:20]), tl.tensor(y[:20])),
    )
    assert without_time(from_tensors) == without_time(from_arrays)
    with pytest.raises(TypeError, match="X must be an array of numbers.*list"):
        fit_with(X=[tl.tensor(row) for row in X])


def test_batches_are_converted_to_the_parameters_dtype():
    X, y = blobs()
    model = tl.nn.mlp([4, 8, 3], rng=0)
    seen = []

    def spy_loss(output, target):
        seen.append(output.dtype)
        return F.cross_entropy(output, target)

    optimizer = tl.optim.SGD(model.parameters(), lr=0.1)
    tl.fit(model, spy_loss, optimizer, X, y, epochs=1, batch_size=20, progress=False)
    assert set(seen) == {np.dtype(np.float32)}
    assert all(p.dtype == np.float32 for p in model.parameters())


# --------------------------------------------------------------- schedules


def test_schedule_sets_lr_at_each_fractional_epoch():
    schedule = tl.schedules.CosineAnnealing(lr_max=0.1, lr_min=0.01, period=3)
    history = quick_fit(epochs=3, batch_size=15, schedule=schedule)
    steps = 4  # 60 samples / 15
    expected_t = [e + s / steps for e in range(3) for s in range(steps)]
    np.testing.assert_allclose(history.step_t, expected_t)
    assert history.step_lr == [schedule(t) for t in history.step_t]
    assert history["lr"] == [schedule(e) for e in range(3)]


def test_warns_when_an_epoch_schedule_starts_at_zero():
    warm_up = tl.schedules.Warmup(tl.schedules.Constant(0.1), epochs=2)
    with pytest.warns(UserWarning, match=r"epoch 1 will not change") as caught:
        history = quick_fit(
            epochs=2, batch_size=15, schedule=warm_up, schedule_unit="epoch"
        )
    assert caught[0].filename == __file__
    assert history.step_lr == [0.0] * 4 + [0.05] * 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quick_fit(epochs=2, batch_size=15, schedule=warm_up, schedule_unit="step")
        quick_fit(
            epochs=2,
            batch_size=15,
            schedule=tl.schedules.Warmup(
                tl.schedules.Constant(0.1), epochs=2, start_factor=0.1
            ),
            schedule_unit="epoch",
        )


def test_schedule_per_epoch_holds_lr_within_an_epoch():
    schedule = tl.schedules.MultiStep(lr=0.1, milestones=[1, 2], gamma=0.5)
    history = quick_fit(
        epochs=3, batch_size=15, schedule=schedule, schedule_unit="epoch"
    )
    assert history.step_lr == [0.1] * 4 + [0.05] * 4 + [0.025] * 4


# ------------------------------------------------------------ reproducibility


def test_same_seed_same_history_different_seed_different():
    def run(seed):
        model = dropout_model(seed=0)
        optimizer = tl.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        X, y = blobs()
        history = tl.fit(
            model,
            F.cross_entropy,
            optimizer,
            X,
            y,
            epochs=3,
            batch_size=16,
            validation=blobs(30, seed=2),
            seed=seed,
            progress=False,
        )
        return history, model.state_dict()

    first, weights = run(seed=1)
    again, weights_again = run(seed=1)
    other, _ = run(seed=2)
    assert without_time(first) == without_time(again)
    assert first.step_loss == again.step_loss
    for name in weights:
        np.testing.assert_array_equal(weights[name], weights_again[name])
    assert without_time(first) != without_time(other)


def test_fit_gives_dropout_layers_back_without_generator_and_restores_mode():
    model = dropout_model()
    model.eval()
    quick_fit(model=model)
    assert model[3].rng is None
    assert model.training is False


# ------------------------------------------------------------------ logging


def test_no_output_and_epochs_logged(capsys, caplog):
    with caplog.at_level(logging.INFO, logger="trainlab.training"):
        quick_fit(progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("epoch 2/2 loss=") for m in messages)


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_unless_disabled(monkeypatch):
    from tqdm import tqdm

    postfixes = []
    set_postfix = tqdm.set_postfix

    def counted(bar, *args, **kwargs):
        postfixes.append(args)
        return set_postfix(bar, *args, **kwargs)

    monkeypatch.setattr(tqdm, "set_postfix", counted)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    quick_fit(epochs=3, progress=True)
    shown = terminal.getvalue()
    assert "3/3" in shown and "loss=" in shown
    assert len(postfixes) == 3
    silent = Terminal()
    monkeypatch.setattr(sys, "stderr", silent)
    quick_fit(epochs=3, progress=False)
    assert silent.getvalue() == ""
    # a disabled bar is not even given the epoch's values
    assert len(postfixes) == 3


# --------------------------------------------------------------- divergence


def test_divergence_on_nonfinite_loss_names_epoch_step_and_keeps_weights():
    model = tl.nn.mlp([4, 8, 3], batchnorm=True, rng=0)
    snapshots = []

    def poisoned(output, target):
        snapshots.append(model.state_dict())
        value = F.cross_entropy(output, target)
        return value * np.float32(np.nan) if len(snapshots) == 6 else value

    optimizer = tl.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    X, y = blobs()
    with pytest.raises(training.DivergenceError, match="epoch 2 of 3, step 2 of 4"):
        tl.fit(
            model, poisoned, optimizer, X, y, epochs=3, batch_size=15, progress=False
        )
    # the loss sees the parameters before the bad step, and batch-norm
    # buffers already updated by its forward pass: those of the previous call
    # are the buffers before the bad step
    parameters = dict(model.named_parameters())
    for name, array in model.state_dict().items():
        before = snapshots[-1] if name in parameters else snapshots[-2]
        np.testing.assert_array_equal(array, before[name])
    assert not np.array_equal(
        snapshots[-1]["1.running_mean"], snapshots[-2]["1.running_mean"]
    )


def test_divergence_on_nonfinite_gradient():
    model = tl.nn.mlp([4, 8, 3], rng=0)
    initial = model.state_dict()

    def infinite_gradient(output, target):
        value = F.cross_entropy(output, target)
        return from_op(value.data, (value,), lambda g: (g * np.inf,), "bad")

    optimizer = tl.optim.Adam(model.parameters())
    X, y = blobs()
    with pytest.raises(FloatingPointError, match=r"gradient of \['0.weight'") as info:
        tl.fit(
            model,
            infinite_gradient,
            optimizer,
            X,
            y,
            epochs=1,
            batch_size=20,
            progress=False,
        )
    assert info.value.quantity == "gradient"
    assert (info.value.epoch, info.value.step) == (1, 1)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, initial[name])


def test_real_divergence_keeps_last_finite_weights():
    rng = np.random.default_rng(0)
    X = rng.normal(scale=10.0, size=(64, 3))
    y = X.sum(axis=1, keepdims=True)
    model = tl.nn.Sequential(tl.nn.Linear(3, 1, rng=0))
    optimizer = tl.optim.SGD(model.parameters(), lr=1.0)
    with pytest.raises(
        training.DivergenceError, match="try a smaller learning rate"
    ) as info:
        tl.fit(
            model, F.mse_loss, optimizer, X, y, epochs=50, batch_size=16, progress=False
        )
    assert all(np.isfinite(p.data).all() for p in model.parameters())
    history = info.value.history
    assert not math.isfinite(history.step_loss[-1])
    assert len(history.step_loss) == 4 * (info.value.epoch - 1) + info.value.step


class EpochStates(training.Callback):
    """Copies of the model's and the optimizer's state after every epoch."""

    def __init__(self):
        self.states = {}

    def on_epoch_end(self, epoch, logs, run):
        self.states[epoch] = (run.model.state_dict(), run.optimizer.state_dict())


class DuckOptimizer:
    """An optimizer that is no trainlab Optimizer: fit must copy to undo."""

    def __init__(self, inner):
        self.inner = inner

    @property
    def lr(self):
        return self.inner.lr

    @lr.setter
    def lr(self, value):
        self.inner.lr = value

    def step(self):
        self.inner.step()

    def zero_grad(self):
        self.inner.zero_grad()

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda params: tl.optim.SGD(params, lr=0.1, momentum=0.9),
        lambda params: tl.optim.Adam(params, lr=0.01),
        lambda params: DuckOptimizer(tl.optim.SGD(params, lr=0.1, momentum=0.9)),
    ],
    ids=["sgd-momentum", "adam", "duck-typed"],
)
def test_step_that_overflows_the_parameters_is_undone(make_optimizer):
    # Finite loss and gradient, but η = 1e39 overflows float32 in the update.
    X, y = blobs(features=3, classes=2)
    model = tl.nn.mlp([3, 4, 2], rng=0)
    optimizer = make_optimizer(model.parameters())
    states = EpochStates()
    with pytest.raises(training.DivergenceError) as info:
        tl.fit(
            model,
            F.cross_entropy,
            optimizer,
            X,
            y,
            epochs=3,
            batch_size=15,
            schedule=lambda t: 0.01 if t < 1 else 1e39,
            callbacks=[states],
            progress=False,
        )
    error = info.value
    assert (error.quantity, error.epoch, error.step) == ("parameters", 2, 1)
    message = str(error)
    assert message.startswith(
        "training diverged at epoch 2 of 3, step 1 of 4: the step's update would "
        "make the parameters ['0.weight', '0.bias', '2.weight', '2.bias'] "
        "non-finite (loss "
    )
    assert "optimizer its state, from before this step" in message
    assert "it was 1e+39" in message

    # parameters and optimizer state are those after epoch 1
    model_state, optimizer_state = states.states[1]
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, model_state[name])
    for key, value in optimizer.state_dict().items():
        if key != "lr":
            np.testing.assert_array_equal(value, optimizer_state[key])
    history = error.history
    assert len(history.step_loss) == 5 and math.isfinite(history.step_grad_norm[-1])


def test_refuses_nonfinite_parameters_before_training():
    model = tl.nn.mlp([4, 8, 3], rng=0)
    model[2].bias.data[1] = np.nan
    with pytest.raises(ValueError, match="parameter '2.bias' holds non-finite"):
        fit_with(model=model)


# -------------------------------------------------------------- callbacks


class Recorder(training.Callback):
    def __init__(self):
        self.events = []
        self.weights = {}

    def on_train_begin(self, run):
        self.events.append("begin")

    def on_epoch_end(self, epoch, logs, run):
        self.events.append(("epoch", epoch, sorted(logs)))
        self.weights[epoch] = run.model.state_dict()

    def on_train_end(self, run):
        self.events.append("end")


def test_callback_protocol_order_and_stop_request():
    class StopAtTwo(training.Callback):
        def on_epoch_end(self, epoch, logs, run):
            return epoch == 2

    recorder = Recorder()
    history = quick_fit(epochs=5, callbacks=[recorder, StopAtTwo()])
    assert len(history) == 2
    assert recorder.events[0] == "begin" and recorder.events[-1] == "end"
    assert [e[1] for e in recorder.events[1:-1]] == [1, 2]
    assert recorder.events[1][2] == ["epoch", "grad_norm", "loss", "lr", "time"]


def fit_with_early_stopping(patience, epochs):
    """A run whose validation loss rises after a while (other blob centers)."""
    X, y = blobs(40, seed=3)
    X_val, y_val = blobs(40, seed=4)
    model = tl.nn.mlp([4, 32, 3], rng=0)
    optimizer = tl.optim.Adam(model.parameters(), lr=0.05)
    recorder = Recorder()
    stopper = training.EarlyStopping(patience=patience)
    history = tl.fit(
        model,
        F.cross_entropy,
        optimizer,
        X,
        y,
        epochs=epochs,
        batch_size=10,
        validation=(X_val, y_val),
        callbacks=[recorder, stopper],
        progress=False,
    )
    return model, recorder, stopper, history


def test_early_stopping_stops_and_restores_best_weights():
    model, recorder, stopper, history = fit_with_early_stopping(patience=3, epochs=100)
    assert len(history) < 100 and stopper.stopped_epoch == len(history)
    best = int(np.argmin(history["val_loss"])) + 1
    assert stopper.best_epoch == best and stopper.stopped_epoch == best + 3
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, recorder.weights[best][name])


def test_early_stopping_restores_best_even_without_stopping():
    model, recorder, stopper, history = fit_with_early_stopping(
        patience=1000, epochs=12
    )
    assert len(history) == 12 and stopper.stopped_epoch == 0
    best = int(np.argmin(history["val_loss"])) + 1
    assert best < 12
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, recorder.weights[best][name])


def test_early_stopping_on_accuracy_uses_max_mode():
    stopper = training.EarlyStopping(monitor="val_accuracy", patience=2)
    assert stopper.mode == "max"
    run = training.TrainingRun(
        model=tl.nn.mlp([2, 2], rng=0),
        optimizer=None,
        history=tl.History(),
        epochs=10,
        batch_size=1,
        seed=0,
        n_samples=1,
        schedule_unit="step",
        has_validation=True,
        shuffle_rng=np.random.default_rng(0),
    )
    stopper.on_train_begin(run)
    decisions = [
        stopper.on_epoch_end(e, {"val_accuracy": v}, run)
        for e, v in enumerate([0.5, 0.7, 0.7, 0.6], start=1)
    ]
    assert decisions == [False, False, False, True] and stopper.best == 0.7


def test_checkpoint_every_and_at_the_end(tmp_path, monkeypatch):
    saved = []
    original = training.TrainingRun.save_checkpoint

    def spy(self, path):
        saved.append(self.epoch)
        return original(self, path)

    monkeypatch.setattr(training.TrainingRun, "save_checkpoint", spy)
    path = tmp_path / "run.ckpt"
    quick_fit(epochs=5, callbacks=[training.Checkpoint(path, every=2)])
    assert saved == [2, 4, 5]
    state = tl.checkpoint.read_state(path)["fit"]
    assert state["epoch"] == 5 and len(state["history"]["epochs"]) == 5


# ---------------------------------------------------------------- resume


@pytest.mark.parametrize("dropout_generator", ["from fit's seed", "user's generator"])
def test_resume_is_bit_identical_to_an_uninterrupted_run(tmp_path, dropout_generator):
    X, y = blobs(50, seed=5)
    validation = blobs(20, seed=6)

    def new_run():
        user_rng = None if dropout_generator == "from fit's seed" else 123
        model = dropout_model(seed=0, rng_for_dropout=user_rng)
        optimizer = tl.optim.Adam(model.parameters(), lr=0.01)
        return model, optimizer

    def train(model, optimizer, epochs, callbacks=(), resume=None):
        return tl.fit(
            model,
            F.cross_entropy,
            optimizer,
            X,
            y,
            epochs=epochs,
            batch_size=8,  # 50 = 6·8 + 2: a short last batch
            schedule=tl.schedules.CosineWarmRestarts(
                lr_max=0.05, lr_min=0.001, period=0.75, period_mult=2.0
            ),
            validation=validation,
            callbacks=callbacks,
            seed=7,
            progress=False,
            resume=resume,
        )

    path = tmp_path / "run.ckpt"
    whole_model, whole_optimizer = new_run()
    whole = train(
        whole_model, whole_optimizer, 4, [training.EarlyStopping(patience=10)]
    )

    first_model, first_optimizer = new_run()
    train(
        first_model,
        first_optimizer,
        2,
        [training.EarlyStopping(patience=10), training.Checkpoint(path)],
    )
    resumed_model, resumed_optimizer = new_run()
    resumed = train(
        resumed_model,
        resumed_optimizer,
        4,
        [training.EarlyStopping(patience=10), training.Checkpoint(path)],
        resume=path,
    )

    for name, array in whole_model.state_dict().items():
        np.testing.assert_array_equal(resumed_model.state_dict()[name], array)
    assert without_time(resumed) == without_time(whole)
    assert resumed.step_loss == whole.step_loss
    assert resumed.step_lr == whole.step_lr
    assert whole_optimizer.state_dict()["step_count"] == 4 * 7

    # without the saved run state (shuffling, dropout), the path differs
    naive_model, naive_optimizer = new_run()
    tl.load(path, naive_model, naive_optimizer)
    train(naive_model, naive_optimizer, 2)
    assert not np.array_equal(
        naive_model.state_dict()["0.weight"], whole_model.state_dict()["0.weight"]
    )


def test_resume_from_final_checkpoint_trains_no_more(tmp_path):
    path = tmp_path / "run.ckpt"
    quick_fit(epochs=2, callbacks=[training.Checkpoint(path)])
    recorder = Recorder()
    model = tl.nn.mlp([4, 8, 3], rng=5)
    history = quick_fit(model=model, epochs=2, resume=path, callbacks=[recorder])
    assert len(history) == 2 and [e for e in recorder.events if e != "begin"] == ["end"]


def test_resume_with_other_batch_size_warns(tmp_path):
    path = tmp_path / "run.ckpt"
    quick_fit(epochs=1, callbacks=[training.Checkpoint(path)])
    with pytest.warns(UserWarning, match="batch_size=20 where the checkpoint has 16"):
        quick_fit(epochs=2, batch_size=20, resume=path)


# -------------------------------------------------- the lecture's benchmark


def test_digits_mlp_matches_sklearn_mlpclassifier():
    """64-100-10 ReLU network, Adam (lr 1e-3), batch 64, 40 epochs, no
    penalty, Glorot-uniform initialization as scikit-learn's, on standardized
    digits. Test accuracies averaged over 3 seeds: trainlab ≥ 0.96 on every
    seed and no worse than MLPClassifier by more than one test image (1/450),
    the resolution of the comparison; the seed-to-seed spread is ~0.003."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    split = tl.data.digits(test_size=0.25, seed=0)
    epochs = 40
    ours, theirs = [], []
    for seed in range(3):
        rng = np.random.default_rng(seed)
        layers = [tl.nn.Linear(64, 100, init="xavier_uniform", rng=rng)]
        layers.append(tl.nn.Linear(100, 10, init="xavier_uniform", rng=rng))
        for layer in layers:
            bound = math.sqrt(6 / (layer.in_features + layer.out_features))
            layer.bias.data[:] = rng.uniform(-bound, bound, layer.out_features)
        model = tl.nn.Sequential(layers[0], tl.nn.ReLU(), layers[1])
        optimizer = tl.optim.Adam(model.parameters(), lr=1e-3)
        history = tl.fit(
            model,
            F.cross_entropy,
            optimizer,
            split.X_train,
            split.y_train,
            epochs=epochs,
            batch_size=64,
            validation=(split.X_test, split.y_test),
            seed=seed,
            progress=False,
        )
        ours.append(history["val_accuracy"][-1])

        reference = MLPClassifier(
            hidden_layer_sizes=(100,),
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=64,
            learning_rate_init=1e-3,
            max_iter=epochs,
            shuffle=True,
            tol=0.0,
            n_iter_no_change=epochs + 1,
            random_state=seed,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            reference.fit(split.X_train, split.y_train)
        theirs.append(reference.score(split.X_test, split.y_test))
    assert min(ours) >= 0.96, ours
    assert np.mean(ours) >= np.mean(theirs) - 1 / 450, (ours, theirs)


def test_digits_with_default_mlp_reaches_096():
    split = tl.data.digits()
    model = tl.nn.mlp([64, 100, 10], rng=0)
    optimizer = tl.optim.Adam(model.parameters(), lr=1e-3)
    history = tl.fit(
        model,
        F.cross_entropy,
        optimizer,
        split.X_train,
        split.y_train,
        epochs=30,
        batch_size=64,
        validation=(split.X_test, split.y_test),
        progress=False,
    )
    assert history["val_accuracy"][-1] >= 0.96


# ---------------------------------------------------------- refused inputs


def fit_with(**changes):
    X, y = blobs()
    model = changes.pop("model", None) or tl.nn.mlp([4, 8, 3], rng=0)
    arguments = {
        "model": model,
        "loss": F.cross_entropy,
        "optimizer": tl.optim.SGD(model.parameters(), lr=0.1),
        "X": X,
        "y": y,
        "epochs": 1,
        "batch_size": 16,
        "progress": False,
    }
    arguments.update(changes)
    return tl.fit(**arguments)


def test_refuses_length_mismatch():
    X, y = blobs()
    with pytest.raises(
        ValueError, match="y must have one entry per row.*60, received 59"
    ):
        fit_with(y=y[:-1])


def test_refuses_width_mismatch_naming_both_widths():
    with pytest.raises(ValueError, match="X has 5 features.*in_features=4"):
        fit_with(X=np.zeros((60, 5)))


def test_refuses_labels_out_of_range():
    X, y = blobs()
    with pytest.raises(
        ValueError, match=r"labels must lie in \[0, 2\].*3 outputs.*to 3"
    ):
        fit_with(y=np.where(y == 0, 3, y))


def test_refuses_float_labels_for_cross_entropy():
    X, y = blobs()
    with pytest.raises(TypeError, match="integer class labels.*float64"):
        fit_with(y=y.astype(float))


@pytest.mark.parametrize(
    ("name", "value", "error", "message"),
    [
        ("epochs", 0, ValueError, "epochs must be a positive int, received 0"),
        ("epochs", 2.0, TypeError, "epochs must be a positive int, received float"),
        ("batch_size", -4, ValueError, "batch_size must be a positive int"),
        ("seed", -1, ValueError, "seed must be >= 0, received -1"),
        ("schedule_unit", "batch", ValueError, "schedule_unit must be 'step' or"),
        ("schedule", 0.1, TypeError, "schedule must be callable"),
        ("callbacks", ["stop"], TypeError, r"callbacks\[0\] must be a trainlab"),
        ("loss", "cross_entropy", TypeError, "loss must be callable"),
        ("progress", "yes", TypeError, "progress must be True or False"),
    ],
)
def test_refuses_bad_settings(name, value, error, message):
    with pytest.raises(error, match=message):
        fit_with(**{name: value})


def test_refuses_schedule_returning_negative_rate():
    with pytest.raises(ValueError, match=r"schedule\(0.0\) must return a finite"):
        fit_with(schedule=lambda t: -1.0)


def test_refuses_nonfinite_data_naming_the_place():
    X, _ = blobs()
    X[7, 2] = np.nan
    with pytest.raises(
        ValueError, match="X contains a non-finite value .* row 7, column 2"
    ):
        fit_with(X=X)


def test_refuses_nonfinite_regression_targets():
    model = tl.nn.Sequential(tl.nn.Linear(4, 1))
    y = np.ones((60, 1))
    y[3, 0] = np.inf
    with pytest.raises(
        ValueError, match=r"y contains a non-finite value at index \(3, 0\)"
    ):
        fit_with(model=model, loss=F.mse_loss, y=y)


def test_refuses_regression_targets_of_another_shape_than_the_output():
    model = tl.nn.Sequential(tl.nn.Linear(4, 1))
    with pytest.raises(ValueError, match=r"y has shape \(60,\).*y.reshape\(60, 1\)"):
        fit_with(model=model, loss=F.mse_loss, y=np.ones(60))


def test_refuses_malformed_validation():
    X, y = blobs()
    with pytest.raises(
        TypeError, match="validation must be a pair .* tuple of length 3"
    ):
        fit_with(validation=(X, y, y))
    with pytest.raises(ValueError, match="validation X has 3 features"):
        fit_with(validation=(X[:, :3], y))


def test_refuses_non_module_and_foreign_optimizer():
    model = tl.nn.mlp([4, 8, 3], rng=0)
    optimizer = tl.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(TypeError, match="model must be a trainlab Module"):
        tl.fit(lambda x: model(x), F.cross_entropy, optimizer, *blobs(), 1, 16)
    other = tl.nn.mlp([4, 8, 3], rng=1)
    with pytest.raises(ValueError, match="optimizer holds parameters that are not"):
        fit_with(optimizer=tl.optim.SGD(other.parameters(), lr=0.1))


def test_refuses_batchnorm_batch_of_one():
    model = dropout_model()
    with pytest.raises(ValueError, match="last minibatch of one sample out of 61"):
        fit_with(model=model, X=np.zeros((61, 4)), y=np.zeros(61, int), batch_size=20)


def test_early_stopping_on_val_loss_needs_validation():
    with pytest.raises(ValueError, match="'val_loss', which needs validation data"):
        fit_with(callbacks=[training.EarlyStopping()])


def test_early_stopping_refuses_a_monitor_the_run_does_not_record():
    model = tl.nn.mlp([4, 8, 3], rng=0)
    before = model.state_dict()
    with pytest.raises(
        ValueError,
        match=r"monitor must be one of the values this run records, \['loss', "
        r"'lr', 'grad_norm', 'val_loss', 'val_accuracy'\]; received 'foo'",
    ):
        fit_with(
            model=model,
            validation=blobs(20, seed=1),
            callbacks=[training.EarlyStopping(monitor="foo")],
        )
    for name, array in model.state_dict().items():  # refused before any step
        np.testing.assert_array_equal(array, before[name])

    # regression records no accuracy
    X = blobs()[0]
    with pytest.raises(ValueError, match=r"'val_loss'\]; received 'val_accuracy'"):
        fit_with(
            model=tl.nn.Sequential(tl.nn.Linear(4, 1)),
            loss=F.mse_loss,
            y=np.ones((60, 1)),
            validation=(X, np.ones((60, 1))),
            callbacks=[training.EarlyStopping(monitor="val_accuracy")],
        )
    stopper = training.EarlyStopping(monitor="grad_norm", patience=5)
    fit_with(callbacks=[stopper], epochs=2)
    assert stopper.best_epoch >= 1


def test_early_stopping_refuses_bad_patience():
    with pytest.raises(ValueError, match="patience must be a positive int, received 0"):
        training.EarlyStopping(patience=0)


def test_checkpoint_refuses_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="directory .*missing.* does not exist"):
        training.Checkpoint(tmp_path / "missing" / "run.ckpt")


def test_resume_refuses_checkpoint_beyond_epochs(tmp_path):
    path = tmp_path / "run.ckpt"
    quick_fit(epochs=3, callbacks=[training.Checkpoint(path)])
    model = tl.nn.mlp([4, 8, 3], rng=2)
    before = model.state_dict()
    with pytest.raises(ValueError, match="is at epoch 3, beyond epochs=2"):
        fit_with(model=model, epochs=2, resume=path)
    for name, array in model.state_dict().items():
        np.testing.assert_array_equal(array, before[name])


def test_resume_refuses_checkpoint_not_written_by_fit(tmp_path):
    model = tl.nn.mlp([4, 8, 3], rng=0)
    tl.save(tmp_path / "plain.ckpt", model)
    with pytest.raises(ValueError, match="was not written by fit"):
        fit_with(resume=tmp_path / "plain.ckpt")


def test_resume_refuses_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        fit_with(resume=tmp_path / "absent.ckpt")
