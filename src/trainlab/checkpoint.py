"""Checkpoints: a model, its optimizer and a training run's state in one file.

The file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays), whatever its
name. It holds

* ``model/<name>``: every parameter and buffer of ``model.state_dict()``;
* the optimizer's ``state_dict()``, the random generators of the model's
  :class:`~trainlab.nn.Dropout` layers and any extra ``**state`` (training
  position, history, the shuffling generator's state …): their arrays as
  further entries, everything else as JSON text;
* ``__metadata__``: that JSON text, UTF-8 bytes stored as a ``uint8`` array.

Loading uses ``np.load(..., allow_pickle=False)`` and ``json``: opening a
checkpoint never executes code, and nothing is ever pickled. Writing goes to
a temporary file in the target directory, flushed to disk with ``fsync``,
then renamed over the target with ``os.replace``: a crash at any point leaves
either the previous checkpoint or the new one, never a torn file.

Loading validates the whole file against the model and optimizer before
writing anything; on any mismatch it raises ``ValueError`` and leaves both
untouched.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from trainlab.nn import Dropout, Module

__all__ = ["save", "load", "read_state", "FORMAT", "VERSION"]

FORMAT = "trainlab-checkpoint"
VERSION = 1
_METADATA = "__metadata__"
_MARKERS = ("__array__", "__scalar__", "__tuple__", "__items__")
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")
_SCALAR_KINDS = "biufc"


# --------------------------------------------------------------------------
# encoding nested state as JSON plus arrays
# --------------------------------------------------------------------------
def _encode(value, where: str, arrays: dict[str, np.ndarray]):
    """A JSON-able node for ``value``; arrays go to ``arrays`` under ``where``."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int | float) and not isinstance(value, np.generic):
        return value
    if isinstance(value, np.generic):
        if value.dtype.kind not in _SCALAR_KINDS:
            raise TypeError(f"{where}: cannot store a NumPy scalar of {value.dtype}")
        return {"__scalar__": value.dtype.str, "value": _plain(value.item())}
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in _SCALAR_KINDS:
            raise TypeError(
                f"{where}: cannot store an array of dtype {value.dtype} "
                "(only numbers and booleans, never pickled objects)"
            )
        key = where
        while key in arrays:
            key += "_"
        arrays[key] = value
        return {"__array__": key}
    if isinstance(value, tuple):
        return {
            "__tuple__": [
                _encode(v, f"{where}/{i}", arrays) for i, v in enumerate(value)
            ]
        }
    if isinstance(value, list):
        return [_encode(v, f"{where}/{i}", arrays) for i, v in enumerate(value)]
    if isinstance(value, dict):
        if all(isinstance(k, str) and k not in _MARKERS for k in value):
            return {k: _encode(v, f"{where}/{k}", arrays) for k, v in value.items()}
        return {
            "__items__": [
                [
                    _encode(k, f"{where}/key{i}", arrays),
                    _encode(v, f"{where}/{i}", arrays),
                ]
                for i, (k, v) in enumerate(value.items())
            ]
        }
    raise TypeError(
        f"{where}: cannot store a {type(value).__name__}; a checkpoint holds "
        "numbers, strings, booleans, None, NumPy arrays and lists, tuples and "
        "dicts of them"
    )


def _plain(item):
    """complex → [real, imag] so that JSON can hold it."""
    return [item.real, item.imag] if isinstance(item, complex) else item


def _decode(node, arrays: dict[str, np.ndarray], where: str):
    """Inverse of :func:`_encode`; a malformed node raises ``ValueError``."""
    if node is None or isinstance(node, bool | int | float | str):
        return node
    if isinstance(node, list):
        return [_decode(v, arrays, f"{where}/{i}") for i, v in enumerate(node)]
    if not isinstance(node, dict):
        raise ValueError(f"{where}: unexpected JSON value {node!r}")
    if "__array__" in node:
        key = node["__array__"]
        if not isinstance(key, str) or key not in arrays:
            raise ValueError(f"{where}: the archive has no array entry {key!r}")
        return arrays[key]
    if "__scalar__" in node:
        dtype = np.dtype(node["__scalar__"])
        if dtype.kind not in _SCALAR_KINDS:
            raise ValueError(f"{where}: scalar of unsupported dtype {dtype}")
        value = node.get("value")
        if isinstance(value, list):
            value = complex(*value)
        return dtype.type(value)
    if "__tuple__" in node:
        return tuple(_decode(v, arrays, where) for v in node["__tuple__"])
    if "__items__" in node:
        return {
            _freeze(_decode(k, arrays, where)): _decode(v, arrays, where)
            for k, v in node["__items__"]
        }
    return {k: _decode(v, arrays, f"{where}/{k}") for k, v in node.items()}


def _freeze(key):
    return tuple(key) if isinstance(key, list) else key


# --------------------------------------------------------------------------
# dropout generators
# --------------------------------------------------------------------------
def _dropout_generators(model: Module) -> dict:
    """States of the Dropout layers' generators, each shared generator once."""
    generators: list[dict] = []
    owners: dict[str, int] = {}
    index_of: dict[int, int] = {}
    for name, module in model.named_modules():
        if isinstance(module, Dropout) and module.rng is not None:
            key = id(module.rng)
            if key not in index_of:
                index_of[key] = len(generators)
                generators.append(module.rng.bit_generator.state)
            owners[name] = index_of[key]
    return {"generators": generators, "owners": owners}


def _fresh_generator(state, where: str) -> np.random.Generator:
    """A new Generator in ``state``, built from an allowed bit generator only."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in _BIT_GENERATORS:
        raise ValueError(
            f"{where}: unsupported bit generator {name!r}, expected one of "
            f"{list(_BIT_GENERATORS)}"
        )
    generator = np.random.Generator(getattr(np.random, name)())
    try:
        generator.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as error:
        raise ValueError(f"{where}: invalid generator state ({error})") from error
    return generator


def _plan_dropout(model: Module, saved: dict) -> list:
    """Check the saved generators against ``model``; return what to assign."""
    if not isinstance(saved, dict) or set(saved) != {"generators", "owners"}:
        raise ValueError("checkpoint metadata 'dropout' is malformed")
    modules = dict(model.named_modules())
    plan = []
    for index, state in enumerate(saved["generators"]):
        names = [n for n, i in saved["owners"].items() if i == index]
        for name in names:
            if not isinstance(modules.get(name), Dropout):
                raise ValueError(
                    f"the checkpoint holds a dropout generator for module {name!r}, "
                    "which is not a Dropout layer of this model"
                )
        generator = _fresh_generator(state, f"dropout generator {index}")
        plan.append(([modules[n] for n in names], generator))
    return plan


def _apply_dropout(model: Module, plan: list) -> None:
    """Set each group's generator state in place when the model's layers share
    one generator exactly as saved; otherwise give the group the new one."""
    dropouts = [m for m in model.modules() if isinstance(m, Dropout)]
    for group, generator in plan:
        current = {id(m.rng) for m in group}
        target = group[0].rng if group else None
        in_place = (
            target is not None
            and current == {id(target)}
            and type(target.bit_generator) is type(generator.bit_generator)
            and sum(m.rng is target for m in dropouts) == len(group)
        )
        if in_place:
            target.bit_generator.state = generator.bit_generator.state
        else:
            for module in group:
                module.rng = generator


# --------------------------------------------------------------------------
# save
# --------------------------------------------------------------------------
def _check_path(path) -> Path:
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"path must be a str or os.PathLike, received {type(path).__name__}"
        )
    return Path(path)


def _check_optimizer(optimizer) -> None:
    if optimizer is not None and not (
        callable(getattr(optimizer, "state_dict", None))
        and callable(getattr(optimizer, "load_state_dict", None))
    ):
        raise TypeError(
            "optimizer must have state_dict() and load_state_dict() methods, "
            f"received {type(optimizer).__name__}"
        )


def save(path, model: Module, optimizer=None, **state) -> Path:
    """Write ``model``, ``optimizer`` and ``state`` to ``path`` atomically.

    ``state`` takes any keyword values made of numbers, strings, booleans,
    ``None``, NumPy arrays and (nested) lists, tuples and dicts of them, for
    example ``epoch=3, rng_state=gen.bit_generator.state, history=…``;
    :func:`load` returns them. The random generators of the model's Dropout
    layers are saved too. Returns the path written.
    """
    path = _check_path(path)
    if not isinstance(model, Module):
        raise TypeError(f"model must be a trainlab Module, received {type(model)}")
    _check_optimizer(optimizer)
    directory = path.parent
    if not directory.is_dir():
        raise FileNotFoundError(
            f"cannot save checkpoint {str(path)!r}: directory {str(directory)!r} "
            "does not exist"
        )

    arrays: dict[str, np.ndarray] = {}
    model_state = model.state_dict()
    for name, array in model_state.items():
        arrays[f"model/{name}"] = array

    metadata = {
        "format": FORMAT,
        "version": VERSION,
        "model": list(model_state),
        "dropout": _encode(_dropout_generators(model), "dropout", arrays),
        "optimizer": (
            None
            if optimizer is None
            else _encode(optimizer.state_dict(), "optimizer", arrays)
        ),
        "state": {k: _encode(v, f"state/{k}", arrays) for k, v in state.items()},
    }
    text = json.dumps(metadata)
    arrays[_METADATA] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)

    _atomic_write(path, arrays)
    return path


def _atomic_write(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Temporary file in the same directory, fsync, then ``os.replace``."""
    directory = path.parent
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(descriptor, "wb") as file:
            np.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, _new_file_mode(path))
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    # make the rename itself durable (POSIX); harmless where unsupported
    with contextlib.suppress(OSError, AttributeError):
        directory_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(directory_fd)
        finally:
            os.close(directory_fd)


def _new_file_mode(path: Path) -> int:
    """The existing file's mode, else what ``open`` would give under the umask."""
    if path.exists():
        return path.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


# --------------------------------------------------------------------------
# load
# --------------------------------------------------------------------------
def _read(path: Path) -> tuple[dict[str, np.ndarray], dict]:
    """All arrays and the metadata of a checkpoint, or a clear error."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as error:
        raise ValueError(
            f"cannot read checkpoint {str(path)!r}: not a valid .npz archive "
            f"({type(error).__name__}: {error})"
        ) from error
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        raise ValueError(
            f"cannot read checkpoint {str(path)!r}: it holds a single array, "
            "not a trainlab checkpoint archive"
        )
    try:
        with loaded:
            arrays = {key: loaded[key] for key in loaded.files}
    except Exception as error:
        raise ValueError(
            f"cannot read checkpoint {str(path)!r}: the archive is corrupt "
            f"({type(error).__name__}: {error})"
        ) from error
    if _METADATA not in arrays:
        raise ValueError(
            f"{str(path)!r} is an .npz archive but not a trainlab checkpoint: "
            f"it has no {_METADATA!r} entry"
        )
    raw = arrays.pop(_METADATA)
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError(f"expected 1-D uint8 bytes, found {raw.dtype} {raw.shape}")
        metadata = json.loads(raw.tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(
            f"checkpoint {str(path)!r} has unreadable metadata ({error})"
        ) from error
    expected = {"format", "version", "model", "dropout", "optimizer", "state"}
    if (
        not isinstance(metadata, dict)
        or metadata.get("format") != FORMAT
        or set(metadata) != expected
    ):
        raise ValueError(f"{str(path)!r} is not a trainlab checkpoint")
    if metadata["version"] != VERSION:
        raise ValueError(
            f"checkpoint {str(path)!r} has format version {metadata['version']!r}, "
            f"this trainlab reads version {VERSION}"
        )
    return arrays, metadata


def read_state(path) -> dict:
    """The extra ``**state`` saved in a checkpoint, touching no model."""
    path = _check_path(path)
    arrays, metadata = _read(path)
    return _decode_checked(path, metadata, arrays, "state")


def _decode_checked(path: Path, metadata: dict, arrays, field: str):
    """Decode one metadata field; anything malformed becomes a ``ValueError``."""
    try:
        return _decode(metadata[field], arrays, field)
    except (TypeError, KeyError, AttributeError, ValueError) as error:
        raise ValueError(
            f"checkpoint {str(path)!r} has malformed {field!r} metadata ({error})"
        ) from error


def _model_state(path: Path, model: Module, arrays, names) -> dict[str, np.ndarray]:
    """The saved model entries, checked against ``model`` name by name."""
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"checkpoint {str(path)!r}: malformed model entry list")
    expected = {name: array.shape for name, array in model.state_dict().items()}
    missing = sorted(set(expected) - set(names))
    unexpected = sorted(set(names) - set(expected))
    problems = []
    if missing:
        problems.append(f"the model has entries the checkpoint lacks: {missing}")
    if unexpected:
        problems.append(f"the checkpoint has entries the model lacks: {unexpected}")
    state = {}
    for name in sorted(set(names) & set(expected)):
        array = arrays.get(f"model/{name}")
        if array is None:
            problems.append(f"entry {name!r} is listed but its array is missing")
        elif array.shape != expected[name]:
            problems.append(
                f"entry {name!r} has shape {array.shape} in the checkpoint, "
                f"{expected[name]} in the model"
            )
        elif array.dtype.kind not in "fiu":
            problems.append(f"entry {name!r} has non-numeric dtype {array.dtype}")
        state[name] = array
    if problems:
        raise ValueError(
            f"checkpoint {str(path)!r} does not match the model: " + "; ".join(problems)
        )
    return state


def load(path, model: Module, optimizer=None) -> dict:
    """Restore ``model`` (and ``optimizer``) from ``path``; return the extra state.

    Everything is read and checked first (archive, metadata, names and shapes
    of every model entry, Dropout generators, and the optimizer state, which
    the optimizer validates itself); only then is anything written. A missing
    file raises ``FileNotFoundError``; a corrupt or mismatched one raises
    ``ValueError`` and leaves the model and the optimizer as they were.
    Passing an optimizer for a checkpoint saved without one is an error;
    passing none ignores the saved optimizer state.
    """
    path = _check_path(path)
    if not isinstance(model, Module):
        raise TypeError(f"model must be a trainlab Module, received {type(model)}")
    _check_optimizer(optimizer)
    arrays, metadata = _read(path)

    model_state = _model_state(path, model, arrays, metadata["model"])

    dropout_plan = _plan_dropout(
        model, _decode_checked(path, metadata, arrays, "dropout")
    )

    extra = _decode_checked(path, metadata, arrays, "state")
    if not isinstance(extra, dict):
        raise ValueError(f"checkpoint {str(path)!r}: malformed extra state")

    if optimizer is not None:
        if metadata["optimizer"] is None:
            raise ValueError(
                f"checkpoint {str(path)!r} was saved without optimizer state, "
                f"but an optimizer ({type(optimizer).__name__}) was passed to load"
            )
        optimizer_state = _decode_checked(path, metadata, arrays, "optimizer")
        backup = optimizer.state_dict()
        try:
            optimizer.load_state_dict(optimizer_state)
        except Exception as error:
            with contextlib.suppress(Exception):
                optimizer.load_state_dict(backup)
            raise ValueError(
                f"checkpoint {str(path)!r} does not match the optimizer: {error}"
            ) from error

    model.load_state_dict(model_state)
    _apply_dropout(model, dropout_plan)
    return extra
