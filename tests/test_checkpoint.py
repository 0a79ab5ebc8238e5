"""Tests for trainlab.checkpoint: one .npz file, atomic writes, strict loads."""

import json
import os
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

import trainlab as tl
from trainlab import checkpoint
from trainlab import functional as F


def make_model(seed=0, dropout=0.3):
    return tl.nn.Sequential(
        tl.nn.Linear(4, 6, rng=seed),
        tl.nn.BatchNorm1d(6),
        tl.nn.ReLU(),
        tl.nn.Dropout(dropout, rng=seed + 100),
        tl.nn.Linear(6, 3, rng=seed + 1),
    )


def train_steps(model, optimizer, steps=3, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        x = rng.normal(size=(8, 4)).astype(np.float32)
        y = rng.integers(0, 3, size=8)
        optimizer.zero_grad()
        F.cross_entropy(model(tl.tensor(x)), y).backward()
        optimizer.step()


def assert_same_state(a: dict, b: dict):
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key])
            assert a[key].dtype == b[key].dtype
        else:
            assert a[key] == b[key], key


@pytest.fixture
def trained(tmp_path):
    model = make_model()
    optimizer = tl.optim.Adam(model.parameters(), lr=0.01)
    train_steps(model, optimizer)
    path = tmp_path / "run.ckpt"
    return model, optimizer, path


def test_round_trip_model_optimizer_and_state(trained):
    model, optimizer, path = trained
    generator = np.random.default_rng(5)
    generator.random(3)
    extra = {
        "epoch": 2,
        "loss": 0.125,
        "nan": float("nan"),
        "name": "run",
        "flags": [True, None],
        "pair": (1, 2.5),
        "weights": np.arange(6, dtype=np.float32).reshape(2, 3),
        "scalar": np.float32(0.1),
        "counts": {"a": [1, 2], "b": {"c": np.int64(7)}},
        "by_index": {0: "zero", 1: "one"},
        "rng_state": generator.bit_generator.state,
    }
    written = checkpoint.save(path, model, optimizer, **extra)
    assert written == path and path.exists()

    other = make_model(seed=9)
    other_optimizer = tl.optim.Adam(other.parameters(), lr=0.5)
    loaded = checkpoint.load(path, other, other_optimizer)

    assert_same_state(model.state_dict(), other.state_dict())
    assert_same_state(optimizer.state_dict(), other_optimizer.state_dict())
    assert loaded.keys() == extra.keys()
    assert loaded["epoch"] == 2 and loaded["loss"] == 0.125
    assert np.isnan(loaded["nan"])
    assert loaded["name"] == "run" and loaded["flags"] == [True, None]
    assert loaded["pair"] == (1, 2.5) and isinstance(loaded["pair"], tuple)
    np.testing.assert_array_equal(loaded["weights"], extra["weights"])
    assert loaded["weights"].dtype == np.float32
    assert loaded["scalar"] == np.float32(0.1) and loaded["scalar"].dtype == np.float32
    assert loaded["counts"] == {"a": [1, 2], "b": {"c": 7}}
    assert loaded["by_index"] == {0: "zero", 1: "one"}
    restored = np.random.default_rng()
    restored.bit_generator.state = loaded["rng_state"]
    np.testing.assert_array_equal(restored.random(4), generator.random(4))
    assert checkpoint.read_state(path)["epoch"] == 2


def test_file_is_a_plain_npz_with_json_metadata(trained):
    model, optimizer, path = trained
    checkpoint.save(path, model, optimizer, epoch=1)
    assert zipfile.is_zipfile(path)
    with np.load(path, allow_pickle=False) as archive:
        assert "model/0.weight" in archive.files
        assert "model/1.running_var" in archive.files
        for key in archive.files:
            assert archive[key].dtype != object
        metadata = json.loads(archive["__metadata__"].tobytes())
    assert metadata["format"] == "trainlab-checkpoint"
    assert metadata["state"] == {"epoch": 1}
    assert metadata["optimizer"]["type"] == "Adam"


def test_dropout_generators_continue_after_load(trained):
    model, optimizer, path = trained
    checkpoint.save(path, model, optimizer)
    x = tl.tensor(np.ones((5, 4), dtype=np.float32))
    expected = model(x).data

    other = make_model(seed=3)
    other[3].rng = None
    checkpoint.load(path, other, None)
    np.testing.assert_array_equal(other(x).data, expected)


def test_shared_dropout_generator_stays_shared(tmp_path):
    model = tl.nn.mlp([3, 5, 5, 2], dropout=0.5, rng=0)
    dropouts = [m for m in model.modules() if isinstance(m, tl.nn.Dropout)]
    assert dropouts[0].rng is dropouts[1].rng
    checkpoint.save(tmp_path / "a.ckpt", model)
    x = tl.tensor(np.ones((4, 3), dtype=np.float32))
    expected = [model(x).data for _ in range(2)]

    other = tl.nn.mlp([3, 5, 5, 2], dropout=0.5, rng=0)
    for module in other.modules():
        if isinstance(module, tl.nn.Dropout):
            module.rng = None
    checkpoint.load(tmp_path / "a.ckpt", other)
    other_dropouts = [m for m in other.modules() if isinstance(m, tl.nn.Dropout)]
    assert other_dropouts[0].rng is other_dropouts[1].rng
    for value in expected:
        np.testing.assert_array_equal(other(x).data, value)


def test_load_without_optimizer_ignores_its_state(trained):
    model, optimizer, path = trained
    checkpoint.save(path, model, optimizer)
    other = make_model(seed=4)
    checkpoint.load(path, other)
    assert_same_state(model.state_dict(), other.state_dict())


# ------------------------------------------------------------------ atomicity


def test_failed_rename_keeps_the_old_checkpoint(trained, monkeypatch):
    model, optimizer, path = trained
    checkpoint.save(path, model, optimizer, epoch=1)
    before = path.read_bytes()
    train_steps(model, optimizer, steps=2, seed=1)

    def crash(source, target):
        raise OSError("simulated crash between write and rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        checkpoint.save(path, model, optimizer, epoch=2)
    monkeypatch.undo()

    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["run.ckpt"]
    assert checkpoint.read_state(path) == {"epoch": 1}


def test_process_killed_before_rename_leaves_old_checkpoint(trained):
    model, optimizer, path = trained
    checkpoint.save(path, model, optimizer, epoch=1)
    before = path.read_bytes()
    script = textwrap.dedent(
        f"""
        import os, signal
        import numpy as np
        import trainlab as tl
        from trainlab import checkpoint

        def die(source, target):
            assert os.path.getsize(source) > 0  # the new file is fully written
            os.kill(os.getpid(), signal.SIGKILL)

        os.replace = die
        model = tl.nn.Sequential(tl.nn.Linear(4, 6, rng=1))
        checkpoint.save({str(path)!r}, model, epoch=99)
        """
    )
    result = subprocess.run([sys.executable, "-c", script], timeout=60)
    assert result.returncode == -9
    assert path.read_bytes() == before
    other = make_model(seed=5)
    assert checkpoint.load(path, other, tl.optim.Adam(other.parameters())) == {
        "epoch": 1
    }
    assert_same_state(model.state_dict(), other.state_dict())


def test_overwrite_replaces_contents(trained):
    model, optimizer, path = trained
    checkpoint.save(path, model, optimizer, epoch=1)
    checkpoint.save(path, model, optimizer, epoch=2)
    assert checkpoint.read_state(path) == {"epoch": 2}
    assert [p.name for p in path.parent.iterdir()] == ["run.ckpt"]


# ------------------------------------------------------------ refused inputs


def snapshot(model, optimizer):
    return model.state_dict(), optimizer.state_dict()


def assert_untouched(model, optimizer, before):
    assert_same_state(before[0], model.state_dict())
    assert_same_state(before[1], optimizer.state_dict())


def test_load_missing_file_raises_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        checkpoint.load(tmp_path / "absent.ckpt", make_model())


def test_load_garbage_file_raises_and_leaves_model(tmp_path):
    path = tmp_path / "bad.ckpt"
    path.write_bytes(b"this is not a checkpoint at all" * 10)
    model = make_model()
    optimizer = tl.optim.Adam(model.parameters())
    before = snapshot(model, optimizer)
    with pytest.raises(ValueError, match="cannot read checkpoint .*bad.ckpt"):
        checkpoint.load(path, model, optimizer)
    assert_untouched(model, optimizer, before)


def test_load_truncated_file_raises(trained):
    model, optimizer, path = trained
    checkpoint.save(path, model, optimizer)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    other = make_model(seed=2)
    other_optimizer = tl.optim.Adam(other.parameters())
    before = snapshot(other, other_optimizer)
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        checkpoint.load(path, other, other_optimizer)
    assert_untouched(other, other_optimizer, before)


def test_load_plain_npz_without_metadata_raises(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, weights=np.zeros(3))
    with pytest.raises(ValueError, match="not a trainlab checkpoint.*__metadata__"):
        checkpoint.load(path, make_model())


def test_load_single_npy_array_raises(tmp_path):
    path = tmp_path / "array.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(ValueError, match="holds a single array"):
        checkpoint.load(path, make_model())


def test_load_never_unpickles(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, __metadata__=np.array([{"format": "x"}], dtype=object))
    with pytest.raises(ValueError, match="cannot read checkpoint"):
        checkpoint.load(path, make_model())


def test_load_wrong_version_raises(trained, tmp_path):
    model, optimizer, path = trained
    checkpoint.save(path, model, optimizer)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    metadata = json.loads(arrays["__metadata__"].tobytes())
    metadata["version"] = 99
    arrays["__metadata__"] = np.frombuffer(json.dumps(metadata).encode(), np.uint8)
    future = tmp_path / "future.ckpt"
    with open(future, "wb") as file:
        np.savez(file, **arrays)
    with pytest.raises(ValueError, match="format version 99"):
        checkpoint.load(future, make_model())


def test_load_mismatched_names_leaves_model_and_optimizer_untouched(trained):
    model, optimizer, path = trained
    checkpoint.save(path, model, optimizer)
    other = tl.nn.Sequential(tl.nn.Linear(4, 6), tl.nn.ReLU(), tl.nn.Linear(6, 3))
    other_optimizer = tl.optim.Adam(other.parameters())
    train_steps(other, other_optimizer, steps=1)
    before = snapshot(other, other_optimizer)
    with pytest.raises(ValueError, match=r"entries the model lacks: \['1.beta'"):
        checkpoint.load(path, other, other_optimizer)
    assert_untouched(other, other_optimizer, before)


def test_load_mismatched_shapes_leaves_model_untouched(trained):
    model, optimizer, path = trained
    checkpoint.save(path, model, optimizer)
    other = tl.nn.Sequential(
        tl.nn.Linear(4, 6),
        tl.nn.BatchNorm1d(6),
        tl.nn.ReLU(),
        tl.nn.Dropout(0.3),
        tl.nn.Linear(6, 5),
    )
    other_optimizer = tl.optim.Adam(other.parameters())
    before = snapshot(other, other_optimizer)
    with pytest.raises(ValueError, match=r"'4.weight' has shape \(6, 3\).*\(6, 5\)"):
        checkpoint.load(path, other, other_optimizer)
    assert_untouched(other, other_optimizer, before)


def test_load_mismatched_optimizer_leaves_both_untouched(trained):
    model, optimizer, path = trained
    checkpoint.save(path, model, optimizer)
    other = make_model(seed=7)
    sgd = tl.optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    train_steps(other, sgd, steps=1)
    before = snapshot(other, sgd)
    with pytest.raises(ValueError, match="does not match the optimizer.*'Adam'"):
        checkpoint.load(path, other, sgd)
    assert_untouched(other, sgd, before)


def test_load_optimizer_missing_from_checkpoint_raises(tmp_path):
    model = make_model()
    checkpoint.save(tmp_path / "m.ckpt", model)
    optimizer = tl.optim.Adam(model.parameters())
    with pytest.raises(ValueError, match="saved without optimizer state"):
        checkpoint.load(tmp_path / "m.ckpt", model, optimizer)


def test_load_dropout_generator_for_missing_layer_raises(tmp_path):
    model = make_model()
    checkpoint.save(tmp_path / "m.ckpt", model)
    other = make_model(dropout=0.3)
    other._modules["3"] = tl.nn.Identity()
    with pytest.raises(ValueError, match="module '3', which is not a Dropout"):
        checkpoint.load(tmp_path / "m.ckpt", other)


def test_save_into_missing_directory_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="directory .*nowhere.* does not exist"):
        checkpoint.save(tmp_path / "nowhere" / "run.ckpt", make_model())


def test_save_refuses_unstorable_state_naming_it(tmp_path):
    with pytest.raises(TypeError, match="state/callback: cannot store a function"):
        checkpoint.save(tmp_path / "x.ckpt", make_model(), callback=lambda: 0)
    with pytest.raises(TypeError, match="state/table: cannot store an array of dtype"):
        checkpoint.save(
            tmp_path / "x.ckpt", make_model(), table=np.array([{}], dtype=object)
        )
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_non_module(tmp_path):
    with pytest.raises(TypeError, match="model must be a trainlab Module"):
        checkpoint.save(tmp_path / "x.ckpt", {"w": np.zeros(2)})


def test_save_refuses_bad_path_type():
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, received"):
        checkpoint.save(3, make_model())


def test_save_refuses_object_without_state_dict(tmp_path):
    with pytest.raises(TypeError, match="optimizer must have state_dict"):
        checkpoint.save(tmp_path / "x.ckpt", make_model(), optimizer="adam")
