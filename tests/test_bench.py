"""The benchmark runner must keep working; it is run here in quick mode.

No timing is asserted: the numbers depend on the machine and its load.
"""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")

RUNNER = Path(__file__).resolve().parent.parent / "bench" / "run.py"


def _load_runner():
    spec = importlib.util.spec_from_file_location("bench_run", RUNNER)
    module = importlib.util.module_from_spec(spec)
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
    assert table.count("x vs PyTorch") == 3
    assert "x vs MLPClassifier" in table
    assert "of the throughput" in table
    assert "peak memory" in table


def test_flop_count_of_the_deep_step():
    runner = _load_runner()
    # 7 layers of forward (2bn²) and weight gradient (2bn²), 6 input gradients.
    assert runner._deep_tanh_flops(4, 7, 2) == 7 * 4 * 2 * 16 + 6 * 2 * 2 * 16
