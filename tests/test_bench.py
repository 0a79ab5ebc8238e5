"""The benchmark runner must keep working; it is run here in quick mode.

No timing is asserted: the numbers depend on the machine and its load.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")

RUNNER = Path(__file__).resolve().parent.parent / "bench" / "run.py"


def _load_runner():
    spec = importlib.util.spec_from_file_location("bench_run", RUNNER)
    module = importlib.util.module_from_spec(spec)
    # dataclasses look the module up by name while the class is being built
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_a_table_with_every_workload(tmp_path, capsys):
    runner = _load_runner()
    out = tmp_path / "results.md"

    assert (
        runner.main(
            [
                "--quick",
                "--only",
                "lecture",
                "mnist",
                "deep",
                "digits",
                "--out",
                str(out),
            ]
        )
        == 0
    )

    table = out.read_text()
    for prefix in ("| 1.", "| 2.", "| 3.", "| 4."):
        assert prefix in table
    assert table.count("x vs PyTorch,") == 3
    assert table.count("x vs PyTorch 1 thread") == 3
    assert "x vs MLPClassifier" in table
    assert "of the throughput" in table
    assert "peak memory" in table
    assert "load average" in table
    assert table.count("| yes |") + table.count("| no (") == 4


def test_flop_count_of_the_deep_step():
    runner = _load_runner()
    # 7 layers of forward (2bn²) and weight gradient (2bn²), 6 input gradients.
    assert runner._deep_tanh_flops(4, 7, 2) == 7 * 4 * 2 * 16 + 6 * 2 * 2 * 16


def test_interleaved_blocks_time_every_contender_each_round():
    runner = _load_runner()
    calls = []
    prepared = []
    times = runner._interleaved_ms(
        {
            "a": (lambda index: calls.append("a"), lambda: prepared.append("a")),
            "b": (lambda index: calls.append("b"), None),
        },
        steps=3,
        repeats=2,
        warmup=1,
    )
    assert set(times) == {"a", "b"}
    # one warm-up call each, then 2 rounds of 3 calls each, in rotating order
    assert calls == ["a", "b"] + ["a"] * 3 + ["b"] * 3 + ["b"] * 3 + ["a"] * 3
    assert prepared == ["a"] * 3


def test_a_goal_is_met_only_against_every_peer():
    runner = _load_runner()
    row = runner.Row(
        "x", {"trainlab": 1.0, "pytorch": 5.0, "pytorch, 1 thread": 3.0}, goal=4.0
    )
    assert row.worst_ratio() == 3.0
    assert runner._met(row) == "no (3.00x)"
    row.goal = 2.5
    assert runner._met(row) == "yes"
    row.checks = [(True, "90% of matmul"), (False, "memory 1.60x")]
    assert runner._met(row) == "no (memory 1.60x)"
    row.goal = 4.0
    assert runner._met(row) == "no (3.00x, memory 1.60x)"
    assert runner._met(runner.Row("y", {"trainlab": 1.0})) == "—"
