"""Benchmarks: trainlab side by side with PyTorch and scikit-learn, in one run.

Each workload trains the same model on the same data with the same optimizer
in every contender and reports milliseconds per training step (forward,
backward and update), the ratio to each peer (``> 1`` means trainlab is
faster) and trainlab's peak memory. Nothing here asserts a timing.

    python bench/run.py                 # full run, writes bench/results.md
    python bench/run.py --quick         # a few steps each: checks that it runs

Every contender runs in this process's environment as it is: the
``OPENBLAS_*`` variables of the machine are left alone, and PyTorch gets as
many threads as the machine has cores. On a loaded machine PyTorch's thread
pool can be many times slower than one thread, so PyTorch is also timed with
one thread and the table shows both; a target counts as met only against the
faster of the two.

The contenders of a workload are timed in short interleaved blocks (trainlab,
then PyTorch, then PyTorch with one thread, then again, in rotating order, 15
rounds), so a change of load on the machine hits all of them alike; each time
is the mean time per step of its fastest block, the one least disturbed by
other work (as ``timeit`` recommends).
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import trainlab as tl

ROOT = Path(__file__).resolve().parent.parent
CORES = os.cpu_count() or 1


@dataclass
class Row:
    workload: str
    times_ms: dict[str, float]
    notes: list[str] = field(default_factory=list)
    target: str = ""
    # the least speed-up the target asks for, against every peer in the row
    goal: float | None = None
    # the target's other conditions: (holds, what was measured)
    checks: list[tuple[bool, str]] = field(default_factory=list)

    def ratio(self, peer: str) -> float | None:
        if peer not in self.times_ms or "trainlab" not in self.times_ms:
            return None
        return self.times_ms[peer] / self.times_ms["trainlab"]

    def worst_ratio(self) -> float | None:
        ratios = [self.ratio(peer) for peer in self.times_ms if peer != "trainlab"]
        return min(ratios) if ratios else None


def _interleaved_ms(contenders, steps: int, repeats: int, warmup: int) -> dict:
    """Time several contenders in interleaved blocks; best ms per call each.

    ``contenders`` maps a name to ``(step, prepare)``: ``step(index)`` is one
    call, ``prepare()`` (or ``None``) runs before each of its blocks, untimed.
    The order of the contenders rotates from one round of blocks to the next.
    """
    names = list(contenders)
    for name in names:
        step, prepare = contenders[name]
        if prepare is not None:
            prepare()
        for index in range(warmup):
            step(index)
    blocks: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(repeats):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            step, prepare = contenders[name]
            if prepare is not None:
                prepare()
            start = time.perf_counter()
            for index in range(steps):
                step(index)
            blocks[name].append((time.perf_counter() - start) / steps * 1e3)
    # The fastest block is the one least disturbed by other work on the
    # machine (as timeit recommends); the blocks are short and interleaved, so
    # every contender had as many chances at a quiet moment.
    return {name: min(times) for name, times in blocks.items()}


def _torch_threads(count: int):
    """A ``prepare`` hook that gives PyTorch ``count`` threads."""
    import torch

    return lambda: torch.set_num_threads(count)


# --------------------------------------------------------------- contenders
def trainlab_step(model, optimizer, X, y, batch_size, loss_fn):
    batches = len(X) // batch_size

    def step(index):
        start = (index % batches) * batch_size
        xb = X[start : start + batch_size]
        yb = y[start : start + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()

    return step


def torch_step(model, optimizer, X, y, batch_size):
    import torch

    X = torch.from_numpy(X)
    y = torch.from_numpy(y)
    batches = len(X) // batch_size
    loss_fn = torch.nn.functional.cross_entropy

    def step(index):
        start = (index % batches) * batch_size
        optimizer.zero_grad()
        loss = loss_fn(
            model(X[start : start + batch_size]), y[start : start + batch_size]
        )
        loss.backward()
        optimizer.step()

    return step


def torch_mlp(sizes, activation):
    import torch

    layers = []
    for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(n_in, n_out))
        if index < len(sizes) - 2:
            layers.append(torch.nn.ReLU() if activation == "relu" else torch.nn.Tanh())
    return torch.nn.Sequential(*layers)


def _classification_data(n, width, classes, seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, width)).astype(dtype)
    y = rng.integers(0, classes, n)
    return X, y


def _compare(
    name,
    sizes,
    activation,
    make_opt,
    make_torch_opt,
    batch_size,
    steps,
    args,
    extra=None,
):
    """Time trainlab and PyTorch (all cores and one thread) on one workload.

    ``extra`` adds contenders (name -> ``(step, prepare)``) timed in the same
    interleaved blocks, e.g. the bare matrix products of the step.
    """
    import torch

    X, y = _classification_data(batch_size * 8, sizes[0], sizes[-1], seed=0)
    model = tl.nn.mlp(sizes, activation=activation, rng=0)
    optimizer = make_opt(model.parameters())
    torch_model = torch_mlp(sizes, activation)
    torch_model_one = torch_mlp(sizes, activation)
    contenders = {
        "trainlab": (
            trainlab_step(
                model, optimizer, X, y, batch_size, tl.functional.cross_entropy
            ),
            None,
        ),
        "pytorch": (
            torch_step(
                torch_model, make_torch_opt(torch_model.parameters()), X, y, batch_size
            ),
            _torch_threads(CORES),
        ),
    }
    if CORES > 1:
        contenders["pytorch, 1 thread"] = (
            torch_step(
                torch_model_one,
                make_torch_opt(torch_model_one.parameters()),
                X,
                y,
                batch_size,
            ),
            _torch_threads(1),
        )
    contenders.update(extra or {})
    times = _interleaved_ms(contenders, steps, args.rounds, args.warmup)
    torch.set_num_threads(CORES)
    return Row(name, times)


def workload_lecture(args) -> Row:
    import torch

    row = _compare(
        "1. lecture net 2-50-2, batch 10, SGD + momentum",
        [2, 50, 2],
        "relu",
        lambda p: tl.optim.SGD(p, lr=0.1, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
        batch_size=10,
        steps=args.scale(400),
        args=args,
    )
    row.target = ">= 4x PyTorch"
    row.goal = 4.0
    return row


def workload_mnist(args) -> Row:
    import torch

    row = _compare(
        "2. MLP 784-256-256-10, batch 128, Adam, float32",
        [784, 256, 256, 10],
        "relu",
        lambda p: tl.optim.Adam(p, lr=1e-3),
        lambda p: torch.optim.Adam(p, lr=1e-3),
        batch_size=128,
        steps=args.scale(40),
        args=args,
    )
    row.target = ">= 1.2x PyTorch"
    row.goal = 1.2
    return row


def _deep_tanh_flops(width, depth, batch):
    # forward x W (2 b n n), backward g Wᵀ and xᵀ g (4 b n n); the first layer
    # needs no gradient with respect to the data.
    return depth * 6 * batch * width * width - 2 * batch * width * width


def workload_deep(args) -> Row:
    import torch

    width, depth, batch = 1024, 7, 256
    sizes = [width] * (depth + 1)

    # The step's matrix products alone, same shapes and layouts (xᵀ and Wᵀ are
    # transposed views, as in the backward pass): the ceiling for this step.
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, width), dtype=np.float32)
    w = rng.standard_normal((width, width), dtype=np.float32)
    g = rng.standard_normal((batch, width), dtype=np.float32)

    def products(_):
        for layer in range(depth):
            x @ w
            x.T @ g
            if layer:
                g @ w.T

    quick_args = argparse.Namespace(**vars(args))
    quick_args.warmup = min(args.warmup, 3)
    row = _compare(
        "3. 7x1024 tanh, batch 256, SGD + momentum, float32",
        sizes,
        "tanh",
        lambda p: tl.optim.SGD(p, lr=0.01, momentum=0.9),
        lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9),
        batch_size=batch,
        steps=args.scale(4),
        args=quick_args,
        extra={"np.matmul": (products, None)},
    )
    row.target = ">= 1x PyTorch, >= 85% of matmul throughput"
    row.goal = 1.0
    matmul_ms = row.times_ms.pop("np.matmul")
    flops = _deep_tanh_flops(width, depth, batch)
    step_gflops = flops / (row.times_ms["trainlab"] * 1e6)
    matmul_gflops = flops / (matmul_ms * 1e6)
    fraction = step_gflops / matmul_gflops
    row.notes.append(
        f"{step_gflops:.0f} GFLOP/s per step against {matmul_gflops:.0f} GFLOP/s "
        f"for np.matmul alone: {fraction:.0%} of the throughput"
    )
    row.checks.append((fraction >= 0.85, f"{fraction:.0%} of matmul"))
    note, memory_ratio = _deep_memory(sizes, batch)
    row.notes.append(note)
    row.checks.append((memory_ratio <= 1.5, f"memory {memory_ratio:.2f}x"))
    row.target += ", memory <= 1.5x"
    return row


def _deep_memory(sizes, batch) -> tuple[str, float]:
    """Peak traced memory of the deep step against what it must hold.

    Tracing starts before the model is built, so the peak covers everything
    the step needs: parameters, the optimizer's arrays, gradients and the
    activations kept for the backward pass. It is compared with parameters +
    gradients + velocity + activations, where the activations are the least
    the backward pass must read: the input of every layer and the softmax.
    """
    X, y = _classification_data(batch, sizes[0], sizes[-1], seed=1)
    tracemalloc.start()
    model = tl.nn.mlp(sizes, activation="tanh", rng=0)
    optimizer = tl.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    step = trainlab_step(model, optimizer, X, y, batch, tl.functional.cross_entropy)
    for index in range(2):
        step(index)
    held_after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    parameters = sum(p.data.nbytes for p in model.parameters())
    optimizer_state = sum(
        array.nbytes
        for name, array in optimizer.state_dict().items()
        if isinstance(array, np.ndarray)
    )
    activations = (len(sizes) - 1 + 1) * batch * max(sizes) * X.itemsize
    needed = 2 * parameters + optimizer_state + activations
    mib = 2**20
    note = (
        f"peak memory of a step {peak / mib:.0f} MiB against parameters + "
        f"gradients + velocity + activations {needed / mib:.0f} MiB: "
        f"{peak / needed:.2f}x; held after the step (no graph) "
        f"{held_after / mib:.0f} MiB"
    )
    return note, peak / needed


def workload_digits(args) -> Row:
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    data = tl.data.digits(seed=0)
    X = data.X_train.astype(np.float32)
    y = data.y_train

    def ours():
        model = tl.nn.mlp([64, 100, 10], rng=0)
        optimizer = tl.optim.Adam(model.parameters(), lr=1e-3)
        tl.fit(
            model,
            tl.functional.cross_entropy,
            optimizer,
            X,
            y,
            epochs=1,
            batch_size=64,
            seed=0,
            progress=False,
        )

    def theirs():
        clf = MLPClassifier(
            hidden_layer_sizes=(100,),
            solver="adam",
            batch_size=64,
            learning_rate_init=1e-3,
            max_iter=1,
            alpha=0.0,
            shuffle=True,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)

    repeats = max(args.rounds, 3)
    times = _interleaved_ms(
        {
            "trainlab": (lambda _: ours(), None),
            "scikit-learn": (lambda _: theirs(), None),
        },
        steps=1,
        repeats=repeats,
        warmup=1,
    )
    row = Row(
        "4. digits 64-100-10, Adam, batch 64, one epoch (ms per epoch)",
        times,
        target=">= 2x MLPClassifier",
        goal=2.0,
    )
    row.notes.append(
        f"{len(X)} training samples, float32 in both; times include model "
        f"construction and input checks, best of {repeats} interleaved epochs"
    )
    return row


def workload_lab(args) -> Row:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "trainlab.cli", "lab", "all", "--out", out],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wall = time.perf_counter() - start
    return Row(
        "5. `trainlab lab all`, wall time (s)",
        {"trainlab": wall * 1e3},
        target="<= 30 s",
        checks=[(wall <= 30, f"{wall:.1f} s")],
    )


WORKLOADS = {
    "lecture": workload_lecture,
    "mnist": workload_mnist,
    "deep": workload_deep,
    "digits": workload_digits,
    "lab": workload_lab,
}


def _machine(load_before: tuple[float, ...]) -> str:
    import threadpoolctl

    blas = [
        f"{info.get('internal_api')} {info.get('version')} "
        f"({info.get('threading_layer')}, {info.get('num_threads')} threads, "
        f"{info.get('architecture')})"
        for info in threadpoolctl.threadpool_info()
        if info.get("user_api") == "blas"
    ]
    import torch

    env = ", ".join(
        f"{name}={os.environ[name]}"
        for name in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
        if name in os.environ
    )
    return (
        f"{platform.processor() or platform.machine()}, {CORES} cores, "
        f"Python {platform.python_version()}, NumPy {np.__version__} "
        f"[{'; '.join(blas)}], PyTorch {torch.__version__} "
        f"({torch.get_num_threads()} threads)"
        + (f", {env}" if env else "")
        + f"; load average {load_before[0]:.1f} before the run, "
        f"{os.getloadavg()[0]:.1f} after"
    )


_PEERS = (
    ("pytorch", "PyTorch"),
    ("pytorch, 1 thread", "PyTorch 1 thread"),
    ("scikit-learn", "MLPClassifier"),
)


def _met(row: Row) -> str:
    """Whether the target holds: the speed-up against every peer (the slowest
    ratio counts) and the row's other checks."""
    failures = []
    worst = row.worst_ratio()
    if row.goal is not None and worst is not None and worst < row.goal:
        failures.append(f"{worst:.2f}x")
    failures += [measured for holds, measured in row.checks if not holds]
    if row.goal is None and not row.checks:
        return "—"
    return f"no ({', '.join(failures)})" if failures else "yes"


def to_markdown(rows: list[Row], machine: str) -> str:
    lines = [
        f"Machine: {machine}.",
        "",
        "| workload | trainlab | PyTorch | PyTorch, 1 thread | scikit-learn "
        "| speed-up | target | met |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for row in rows:
        cells = []
        for peer in ("trainlab", "pytorch", "pytorch, 1 thread", "scikit-learn"):
            value = row.times_ms.get(peer)
            cells.append("—" if value is None else f"{value:.3f} ms")
        ratios = [
            f"{row.ratio(peer):.2f}x vs {label}"
            for peer, label in _PEERS
            if row.ratio(peer) is not None
        ]
        if row.workload.startswith("5."):
            cells[0] = f"{row.times_ms['trainlab'] / 1e3:.1f} s"
        lines.append(
            f"| {row.workload} | {' | '.join(cells)} | {', '.join(ratios) or '—'} "
            f"| {row.target} | {_met(row)} |"
        )
    notes = [
        f"- {row.workload.split(' ')[0]} {note}" for row in rows for note in row.notes
    ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few steps each")
    parser.add_argument(
        "--only", nargs="+", choices=sorted(WORKLOADS), help="run these workloads only"
    )
    parser.add_argument("--out", type=Path, help="Markdown table to write")
    args = parser.parse_args(argv)
    args.repeats = 1 if args.quick else 5
    # Short interleaved blocks, many rounds: a change of load on a shared
    # machine then falls on every contender alike.
    args.rounds = 1 if args.quick else 15
    args.warmup = 2 if args.quick else 20
    args.scale = (lambda n: max(2, n // 100)) if args.quick else (lambda n: n)

    import torch

    torch.set_num_threads(CORES)
    names = args.only or [
        name for name in WORKLOADS if not (args.quick and name == "lab")
    ]
    load_before = os.getloadavg()
    rows = []
    for name in names:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        rows.append(WORKLOADS[name](args))
    table = to_markdown(rows, _machine(load_before))
    print(table)
    out = args.out or (None if args.quick else ROOT / "bench" / "results.md")
    if out is not None:
        out.write_text(table)
        print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
