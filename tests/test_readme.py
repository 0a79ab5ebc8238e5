"""The README's training example must run as printed."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_training_example_runs_and_learns(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no python example"
    namespace: dict = {}

    exec(compile(blocks[0], str(README), "exec"), namespace)

    last = namespace["history"].epochs[-1]
    assert last["epoch"] == 30
    assert last["val_accuracy"] >= 0.96
    assert "val_accuracy" in capsys.readouterr().out
