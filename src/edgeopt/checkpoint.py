"""Checkpoints: a model's lineage (root + transforms) plus its weights, saved and loaded safely.

Loading builds the root, replays every transform of the lineage (:mod:`edgeopt.lineage`) and
loads the weights strictly, so any model edgeopt writes — from a command, a recipe step or
:func:`save_checkpoint` — reloads in every command, whatever transforms made it. Two formats,
chosen by the suffix: ``.safetensors`` (weights as safetensors, the rest as JSON strings in its
header) or anything else (``.pt``: a plain dict written with ``torch.save``). Both are written
atomically and read without executing code (``weights_only=True`` or safetensors; DESIGN.md,
principles 4 and 5): a ``.pt`` file's pickle may name only tensor rebuild functions and plain
containers, checked before torch reads it (:func:`edgeopt.models.weights.load_torch_bytes`), and
an embedded ``.pt2`` root is checked like a ``.pt2`` file. A root that is the user's
``module:factory`` is imported only with ``trust_code``. Files of format version 1 are converted
on load (:mod:`edgeopt.checkpoint_v1`).

Example:
    >>> save_checkpoint("out/model.pt", model, model_name="simple_cnn",
    ...                 model_kwargs={"num_classes": 10}, input_size=(1, 1, 8, 8))
    >>> ckpt = load_checkpoint("out/model.pt")
    >>> ckpt.lineage.summary()
    'simple_cnn'
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import ValidationError
from torch import Tensor, nn

from edgeopt.errors import EdgeoptError
from edgeopt.lineage import Lineage
from edgeopt.models.root import ModelRoot, Trust
from edgeopt.models.weights import load_state_checked, load_torch_bytes, shown
from edgeopt.utils import atomic_path
from edgeopt.version import __version__

__all__ = ["FORMAT", "VERSION", "Checkpoint", "load_checkpoint", "save_checkpoint"]

FORMAT = "edgeopt-checkpoint"
VERSION = 2
_SAFETENSORS_SUFFIX = ".safetensors"
_PROGRAM_KEY = "__edgeopt_root_program__"  # a .pt2 root's bytes, stored as a uint8 tensor


@dataclass
class Checkpoint:
    """A loaded model with its lineage and metadata.

    Attributes:
        model: The model, weights loaded (train/eval mode as built).
        lineage: How it was made; None only for a file that names no model (loaded into a
            model the caller passed).
        metadata: Plain data saved beside it (dataset, accuracy...).
        path: The file it came from (None for a model built from a name).
    """

    model: nn.Module
    lineage: Lineage | None
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @property
    def input_size(self) -> tuple[int, ...] | None:
        """The batch-1 input shape the model was made for, if recorded."""
        if self.lineage is not None and self.lineage.input_size:
            return tuple(self.lineage.input_size)
        size = self.metadata.get("input_size")
        return tuple(size) if isinstance(size, (list, tuple)) else None


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    lineage: Lineage | None = None,
    *,
    model_name: str | None = None,
    model_kwargs: dict[str, Any] | None = None,
    input_size: tuple[int, ...] | list[int] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``model``'s weights with its lineage and ``metadata`` atomically; return the path.

    Args:
        path: Target file; ``.safetensors`` selects safetensors, anything else ``torch.save``.
        model: The model whose ``state_dict()`` is saved.
        lineage: How the model was made (see :class:`~edgeopt.lineage.Lineage`).
        model_name: Shorthand for a lineage that is just a root: a registry name or
            ``module:factory`` (with ``model_kwargs``).
        model_kwargs: The root's keyword arguments.
        input_size: Batch-1 input shape (needed to replay transforms that trace, e.g. fusion).
        metadata: Any plain, JSON-like data to keep beside the weights.

    Raises:
        EdgeoptError: Values that are not plain data, or an unknown ``model_name``.

    Example:
        >>> save_checkpoint("model.safetensors", model, model_name="mobilenet_v1",
        ...                 model_kwargs={"width_mult": 0.5}, input_size=(1, 3, 224, 224))
        PosixPath('model.safetensors')
    """
    if lineage is None and model_name:
        lineage = Lineage(root=ModelRoot.named(model_name, _plain(dict(model_kwargs or {}), "model_kwargs")))
    elif model_kwargs and lineage is None:
        raise EdgeoptError("model_kwargs without model_name", hint="name the model they build: model_name=...")
    if lineage is not None and input_size is not None:
        lineage = lineage.model_copy(update={"input_size": tuple(int(d) for d in input_size)})
    header = {"lineage": None if lineage is None else lineage.model_dump(mode="json"),
              "metadata": _plain(dict(metadata or {}), "metadata"), "edgeopt_version": __version__}
    program = lineage.root.program if lineage is not None else None
    state = dict(model.state_dict())
    target = Path(path)
    if target.suffix == _SAFETENSORS_SUFFIX:
        _save_safetensors(target, state, header, program)
    else:
        _check_state_values(state)
        payload = {"format": FORMAT, "version": VERSION, "state_dict": state, **header}
        if program is not None:
            payload[_PROGRAM_KEY] = _bytes_tensor(program)
        with atomic_path(target) as tmp:
            torch.save(payload, tmp)
    return target


def load_checkpoint(path: str | os.PathLike[str], model: nn.Module | None = None, *,
                    trust_code: Trust = False) -> Checkpoint:
    """Load a checkpoint: rebuild the model from its lineage (or use ``model``), load the weights.

    Args:
        path: A ``.safetensors`` or ``torch.save`` checkpoint.
        model: A model to load the weights into (in place) instead of rebuilding one.
        trust_code: Allow a root that is the user's ``module:factory`` to be imported: True, or
            the allowed module names. Without it such a checkpoint is refused.

    Raises:
        EdgeoptError: The file is missing, corrupt, not an edgeopt checkpoint, from a newer
            edgeopt, its root is not trusted or unknown, or its lineage does not rebuild the
            saved shapes; the message names the file (and the lineage entry).

    Example:
        >>> ckpt = load_checkpoint("model.pt")
        >>> ckpt.lineage.summary(), ckpt.metadata["test_accuracy"]
        ('mobilenet_v1 → prune.structured → fuse', 0.97)
    """
    source = Path(path)
    if not source.is_file():
        what = "is a directory, not a file" if source.is_dir() else "does not exist"
        raise EdgeoptError(f"checkpoint {source} {what}")
    state, header = _load_safetensors(source) if source.suffix == _SAFETENSORS_SUFFIX else _load_torch(source)
    lineage, metadata = header["lineage"], header["metadata"]
    if model is None:
        model = _rebuild(source, lineage, trust_code)
    described = f"checkpoint {source}" + (f" ({shown(lineage.summary())})" if lineage and lineage.steps else "")
    load_state_checked(model, state, source=described)
    return Checkpoint(model=model, lineage=lineage, metadata=metadata, path=source)


def _rebuild(source: Path, lineage: Lineage | None, trust_code: Trust) -> nn.Module:
    if lineage is None:
        raise EdgeoptError(f"checkpoint {source} does not name its model, so it cannot be rebuilt",
                           hint="pass the model: load_checkpoint(path, model=...)")
    try:
        return lineage.build(trust_code=trust_code)
    except EdgeoptError as exc:
        raise EdgeoptError(f"checkpoint {source}: {exc.message}", hint=exc.hint) from exc


# --- torch.save format --------------------------------------------------------------------------


def _load_torch(source: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    # Only torch's zip format, its pickle checked to name nothing but tensors and plain data
    # before torch.load(weights_only=True) reads it: a refused file names the global.
    payload = load_torch_bytes(source.read_bytes(), f"checkpoint {source}")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        bare = isinstance(payload, dict) and bool(payload) and all(isinstance(v, Tensor) for v in payload.values())
        raise EdgeoptError(
            f"{source} is not an edgeopt checkpoint",
            hint="it looks like a bare state dict: load it with model.load_state_dict("
            "torch.load(path, weights_only=True)), or pass it as --weights" if bare else None,
        )
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise _corrupt(source, ValueError("it has no state_dict"))
    program = payload.get(_PROGRAM_KEY)
    return state, _header(payload, source, program.numpy().tobytes() if isinstance(program, Tensor) else None,
                          state)


def _check_state_values(state: dict[str, Any]) -> None:
    """Refuse to write what ``torch.load(weights_only=True)`` would refuse to read back."""
    for key, value in state.items():
        if not isinstance(value, Tensor):
            _plain(value, f"state_dict[{key!r}]", allow_tensors=True)


# --- safetensors format -------------------------------------------------------------------------


def _save_safetensors(target: Path, state: dict[str, Any], header: dict[str, Any], program: bytes | None) -> None:
    from safetensors.torch import save_file

    tensors: dict[str, Tensor] = {}
    for key, value in state.items():
        if not isinstance(value, Tensor) or value.is_quantized or value.is_sparse:
            raise EdgeoptError(
                f"state_dict[{key!r}] ({type(value).__name__}) cannot be stored as safetensors",
                hint=f"save to a .pt file instead of {target.name}",
            )
        # safetensors refuses tensors that share memory (tied weights, views): store copies.
        tensors[key] = value.detach().cpu().contiguous().clone()
    if program is not None:
        tensors[_PROGRAM_KEY] = _bytes_tensor(program)
    strings = {"format": FORMAT, "version": str(VERSION)}
    strings.update({k: json.dumps(v) for k, v in header.items()})
    with atomic_path(target) as tmp:
        save_file(tensors, str(tmp), metadata=strings)


def _load_safetensors(source: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from safetensors import safe_open

    try:
        with safe_open(str(source), framework="pt", device="cpu") as reader:
            strings = reader.metadata() or {}
            state = {key: reader.get_tensor(key) for key in reader.keys()}  # noqa: SIM118 (not a dict)
    except Exception as err:  # SafetensorError and friends: the file is unreadable
        raise _corrupt(source, err) from err
    if strings.get("format") != FORMAT:
        raise EdgeoptError(
            f"{source} is not an edgeopt checkpoint (no edgeopt metadata in its header)",
            hint="for bare weights use model.load_state_dict(safetensors.torch.load_file(path)) or --weights",
        )
    try:
        header = {k: json.loads(v) for k, v in strings.items() if k not in ("format", "version")}
    except (ValueError, RecursionError) as err:  # bad JSON, a 5,000-digit number, 10,000 nested lists
        raise EdgeoptError(f"checkpoint {source} has a corrupt metadata header: {shown(str(err))}") from None
    program = state.pop(_PROGRAM_KEY, None)
    header["version"] = strings.get("version")
    return state, _header(header, source, None if program is None else program.numpy().tobytes(), state)


# --- shared helpers -----------------------------------------------------------------------------


def _header(payload: dict[str, Any], source: Path, program: bytes | None,
            state: dict[str, Any]) -> dict[str, Any]:
    """The lineage (None if the file names no model) and the metadata, checked."""
    version = _check_version(payload.get("version"), source)
    metadata = payload.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise _corrupt(source, ValueError("malformed metadata"))
    if version == 1:
        from edgeopt.checkpoint_v1 import lineage_of_v1

        return {"lineage": lineage_of_v1(payload, metadata, state, source), "metadata": metadata}
    raw = payload.get("lineage")
    if raw is None:
        return {"lineage": None, "metadata": metadata}
    try:
        lineage = Lineage.model_validate(raw)
    except ValidationError as err:
        raise _corrupt(source, ValueError(f"malformed lineage: {err.errors()[0]['msg']}")) from None
    if program is not None:
        lineage = lineage.model_copy(update={"root": lineage.root.model_copy(update={"program": program})})
    return {"lineage": lineage, "metadata": metadata}


def _bytes_tensor(data: bytes) -> Tensor:
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8).copy())


def _corrupt(source: Path, err: Exception) -> EdgeoptError:
    kind = "safetensors" if source.suffix == _SAFETENSORS_SUFFIX else "torch"
    return EdgeoptError(
        f"checkpoint {source} is corrupt or not a {kind} file ({type(err).__name__}: {shown(str(err))})",
        hint="it may be truncated or of another format; save it again",
    )


def _check_version(version: Any, source: Path) -> int:
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise EdgeoptError(f"checkpoint {source} has an invalid version {version!r}") from None
    if number > VERSION:
        raise EdgeoptError(
            f"checkpoint {source} has format version {number}; this edgeopt reads up to {VERSION}",
            hint="upgrade edgeopt",
        )
    return number


def _plain(value: Any, where: str, *, allow_tensors: bool = False) -> Any:
    """Return ``value`` with every number/str as its builtin type, or raise naming the bad part.

    Builtin types matter: a NumPy float is a float subclass, but ``weights_only`` loading and
    JSON both reject it.
    """
    if isinstance(value, np.generic):  # NumPy scalars, e.g. a metric from scikit-learn
        value = value.item()
    if value is None:
        return None
    for kind in (bool, int, float, str):  # bool first: it is an int subclass
        if isinstance(value, kind):
            return kind(value)
    if allow_tensors and isinstance(value, Tensor):
        return value
    if isinstance(value, (list, tuple)):
        items = [_plain(v, f"{where}[{i}]", allow_tensors=allow_tensors) for i, v in enumerate(value)]
        return tuple(items) if isinstance(value, tuple) else items
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise EdgeoptError(f"{where} has a non-string key {key!r}", hint="use string keys")
            out[str(key)] = _plain(item, f"{where}[{key!r}]", allow_tensors=allow_tensors)
        return out
    raise EdgeoptError(
        f"{where} holds a {type(value).__name__}, which a checkpoint cannot store safely",
        hint="use plain values: str, int, float, bool, None, lists and dicts",
    )
