"""Save and load model checkpoints safely.

A checkpoint holds a state dict plus what is needed to rebuild the model from the registry
(``model_name``, ``model_kwargs``) and free-form ``metadata`` (accuracy, the recipe step...).
Two formats, chosen by the file suffix:

- ``.safetensors``: the weights as safetensors, the rest as JSON strings in its metadata header;
- anything else (``.pt``): a plain dict written with ``torch.save``.

Both are written atomically and read without executing code: ``torch.load(weights_only=True)``
or safetensors (DESIGN.md, principles 4 and 5). Only plain values (str, int, float, bool, None,
lists, tuples, dicts with str keys) are accepted in ``model_kwargs`` and ``metadata``; tuples
come back as lists from ``.safetensors``.

Example:
    >>> save_checkpoint("out/model.pt", model, model_name="simple_cnn",
    ...                 model_kwargs={"num_classes": 10}, metadata={"val_acc": 0.97})
    >>> ckpt = load_checkpoint("out/model.pt")   # rebuilt with create_model("simple_cnn", ...)
"""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from edgeopt.errors import EdgeoptError
from edgeopt.utils import atomic_path

__all__ = ["FORMAT", "VERSION", "Checkpoint", "load_checkpoint", "save_checkpoint"]

FORMAT = "edgeopt-checkpoint"
VERSION = 1
_SAFETENSORS_SUFFIX = ".safetensors"
_HEADER_KEYS = ("model_name", "model_kwargs", "metadata")


@dataclass
class Checkpoint:
    """A loaded checkpoint: the model with its weights loaded, and what was saved with it."""

    model: nn.Module
    model_name: str | None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None


def save_checkpoint(
    path: str | os.PathLike[str],
    model: nn.Module,
    *,
    model_name: str | None = None,
    model_kwargs: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write ``model``'s weights and descriptive data to ``path`` atomically; return the path.

    Args:
        path: Target file; ``.safetensors`` selects safetensors, anything else ``torch.save``.
        model: The model whose ``state_dict()`` is saved.
        model_name: Registry name, so :func:`load_checkpoint` can rebuild the model.
        model_kwargs: Keyword arguments for ``create_model(model_name, ...)``.
        metadata: Any plain, JSON-like data to keep beside the weights.

    Raises:
        EdgeoptError: If ``model_kwargs`` or ``metadata`` hold values that are not plain data.

    Example:
        >>> save_checkpoint("model.safetensors", model, model_name="mobilenet_v1",
        ...                 model_kwargs={"width_mult": 0.5})
        PosixPath('model.safetensors')
    """
    target = Path(path)
    header = {
        "model_name": _plain(model_name, "model_name"),
        "model_kwargs": _plain(dict(model_kwargs or {}), "model_kwargs"),
        "metadata": _plain(dict(metadata or {}), "metadata"),
    }
    state = model.state_dict()
    if target.suffix == _SAFETENSORS_SUFFIX:
        _save_safetensors(target, state, header)
    else:
        _check_state_values(state)
        payload = {"format": FORMAT, "version": VERSION, "state_dict": state, **header}
        with atomic_path(target) as tmp:
            torch.save(payload, tmp)
    return target


def load_checkpoint(path: str | os.PathLike[str], model: nn.Module | None = None) -> Checkpoint:
    """Load a checkpoint written by :func:`save_checkpoint`, without executing code from it.

    Args:
        path: A ``.safetensors`` or ``torch.save`` checkpoint.
        model: A model to load the weights into (in place). If None, the model is rebuilt with
            ``edgeopt.models.create_model(model_name, **model_kwargs)``.

    The weights must match the model exactly (same keys and shapes). The model's train/eval
    mode is left as it is.

    Raises:
        EdgeoptError: If the file is missing, corrupt, not an edgeopt checkpoint, or its weights
            don't fit the model.

    Example:
        >>> ckpt = load_checkpoint("model.pt")
        >>> ckpt.model_name, ckpt.metadata["val_acc"]
        ('simple_cnn', 0.97)
    """
    source = Path(path)
    if not source.is_file():
        what = "is a directory, not a file" if source.is_dir() else "does not exist"
        raise EdgeoptError(f"checkpoint {source} {what}")
    if source.suffix == _SAFETENSORS_SUFFIX:
        state, header = _load_safetensors(source)
    else:
        state, header = _load_torch(source)
    if model is None and "fused" in header["metadata"]:
        # A fused graph is rebuilt by fusing the source model again (edgeopt.fuse.checkpoint).
        from edgeopt.fuse.checkpoint import rebuild_fused

        model = rebuild_fused(header["model_name"], header["model_kwargs"], header["metadata"])
    elif model is None and "structured_pruning" in header["metadata"]:
        # A structurally pruned model is the registry model resized to the saved shapes.
        from edgeopt.prune.structured_checkpoint import rebuild_pruned

        model = rebuild_pruned(header["model_name"], header["model_kwargs"], state)
    elif model is None:
        model = _rebuild(source, header["model_name"], header["model_kwargs"])
    _load_state(model, state, source)
    return Checkpoint(model=model, path=source, **header)


# --- torch.save format --------------------------------------------------------------------------


def _load_torch(source: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    with source.open("rb") as fh:
        magic = fh.read(4)
    # torch.save writes a zip archive (or, before torch 1.6, a pickle): anything else is garbage,
    # which weights_only loading would otherwise report as a refused object.
    if not (magic.startswith(b"PK\x03\x04") or magic.startswith(b"\x80")):
        raise _corrupt(source, ValueError(f"unknown file signature {magic!r}"))
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # weights_only refuses anything but tensors and plain containers: never fall back.
        found = [line.strip() for line in str(err).splitlines() if "Unsupported global" in line]
        raise EdgeoptError(
            f"checkpoint {source} holds objects that are not plain data; refusing to load it"
            + (f" ({found[0].split(' was not')[0]})" if found else ""),
            hint="re-save it with edgeopt.checkpoint.save_checkpoint",
        ) from err
    except Exception as err:  # any parse failure of a user's file is bad input, not a bug
        raise _corrupt(source, err) from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        bare = isinstance(payload, dict) and all(isinstance(v, Tensor) for v in payload.values())
        bare = bare and bool(payload)
        raise EdgeoptError(
            f"{source} is not an edgeopt checkpoint",
            hint="it looks like a bare state dict: load it with model.load_state_dict("
            "torch.load(path, weights_only=True))" if bare else None,
        )
    _check_version(payload.get("version"), source)
    header = _header({k: payload.get(k) for k in _HEADER_KEYS}, source)
    state = payload.get("state_dict")
    if not isinstance(state, dict):
        raise _corrupt(source, ValueError("it has no state_dict"))
    return state, header


def _check_state_values(state: dict[str, Any]) -> None:
    """Refuse to write what ``torch.load(weights_only=True)`` would refuse to read back."""
    for key, value in state.items():
        if not isinstance(value, Tensor):
            _plain(value, f"state_dict[{key!r}]", allow_tensors=True)


# --- safetensors format -------------------------------------------------------------------------


def _save_safetensors(target: Path, state: dict[str, Any], header: dict[str, Any]) -> None:
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
            hint="for bare weights use model.load_state_dict(safetensors.torch.load_file(path))",
        )
    _check_version(strings.get("version"), source)
    try:
        header = {k: json.loads(strings.get(k, "null")) for k in _HEADER_KEYS}
    except json.JSONDecodeError as err:
        raise EdgeoptError(f"checkpoint {source} has a corrupt metadata header: {err}") from err
    return state, _header(header, source)


# --- shared helpers -----------------------------------------------------------------------------


def _header(values: dict[str, Any], source: Path) -> dict[str, Any]:
    """Check the types of the saved model_name / model_kwargs / metadata; None becomes {}."""
    name, kwargs, metadata = (values.get(k) for k in _HEADER_KEYS)
    kwargs, metadata = kwargs or {}, metadata or {}
    if not (isinstance(name, (str, type(None))) and isinstance(kwargs, dict)
            and isinstance(metadata, dict)):
        raise _corrupt(source, ValueError("malformed model_name, model_kwargs or metadata"))
    return {"model_name": name, "model_kwargs": kwargs, "metadata": metadata}


def _corrupt(source: Path, err: Exception) -> EdgeoptError:
    kind = "safetensors" if source.suffix == _SAFETENSORS_SUFFIX else "torch"
    return EdgeoptError(
        f"checkpoint {source} is corrupt or not a {kind} file ({type(err).__name__}: {err})",
        hint="it may be truncated or of another format; save it again",
    )


def _check_version(version: Any, source: Path) -> None:
    try:
        number = int(version)
    except (TypeError, ValueError):
        raise EdgeoptError(f"checkpoint {source} has an invalid version {version!r}") from None
    if number > VERSION:
        raise EdgeoptError(
            f"checkpoint {source} has format version {number}; this edgeopt reads up to {VERSION}",
            hint="upgrade edgeopt",
        )


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
        items = [_plain(v, f"{where}[{i}]", allow_tensors=allow_tensors)
                 for i, v in enumerate(value)]
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


def _rebuild(source: Path, model_name: str | None, model_kwargs: dict[str, Any]) -> nn.Module:
    if not model_name:
        raise EdgeoptError(
            f"checkpoint {source} does not name its model, so it cannot be rebuilt",
            hint="pass the model: load_checkpoint(path, model=...)",
        )
    from edgeopt.models import create_model  # lazy: models/ imports far more than we need

    return create_model(model_name, **model_kwargs)


def _load_state(model: nn.Module, state: dict[str, Any], source: Path) -> None:
    """Load ``state`` strictly, naming the mismatching keys and shapes if it doesn't fit."""
    from edgeopt.models.loading import load_state_checked

    load_state_checked(model, state, source=f"checkpoint {source}")
