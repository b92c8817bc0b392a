"""Load a user's model: a registry name, a ``package.module:factory``, a ``.pt2`` program, a checkpoint.

Safe by default (DESIGN.md, principle 5): weights are read with ``torch.load(weights_only=True)``
or from ``.safetensors``; user code is imported only when the user names it as
``package.module:factory``.

Example:
    >>> model = load_model("mobilenet_v1", num_classes=10, width_mult=0.5)
    >>> model = load_model("mypkg.nets:build_net", weights="net.safetensors")
    >>> model = load_model("exported.pt2")
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgeopt.errors import EdgeoptError
from edgeopt.models.registry import _REGISTRY, create_model, get_entry

_FACTORY_RE = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors")


def load_model(source: str, *, weights: str | Path | None = None, **kwargs: Any) -> nn.Module:
    """Build or load the model that ``source`` names, then load ``weights`` into it if given.

    Args:
        source: A registry name (``mobilenet_v2``), ``package.module:factory``, a ``.pt2``
            file saved by ``torch.export.save``, or an edgeopt checkpoint (``.pt``/``.safetensors``).
        weights: Optional state dict file (``.pt``/``.pth`` or ``.safetensors``).
        **kwargs: Passed to the factory (registry names and ``module:factory`` only).

    Raises:
        EdgeoptError: the source cannot be found or loaded, or the weights do not fit.
    """
    return load_model_with_metadata(source, weights=weights, **kwargs)[0]


def load_model_with_metadata(
    source: str, *, weights: str | Path | None = None, **kwargs: Any
) -> tuple[nn.Module, dict[str, Any]]:
    """Like :func:`load_model`, also returning a checkpoint's metadata (empty for other sources).

    The metadata of an edgeopt checkpoint records e.g. the dataset and ``input_size`` it was
    trained with, which the CLI uses as defaults.
    """
    model, metadata = _load_source(source, kwargs)
    if weights is not None:
        load_weights(model, weights)
    return model, metadata


def _load_source(source: str, kwargs: dict[str, Any]) -> tuple[nn.Module, dict[str, Any]]:
    if source in _REGISTRY:
        return create_model(source, **kwargs), {}
    path = Path(source)
    if path.suffix in (".pt2", *CHECKPOINT_SUFFIXES) or "/" in source or path.exists():
        _reject_kwargs(source, kwargs)
        return _load_file(path)
    if _FACTORY_RE.match(source):
        return _call_factory(source, kwargs), {}
    get_entry(source)  # raises "unknown model" with close names
    raise AssertionError("unreachable")


def _reject_kwargs(source: str, kwargs: dict[str, Any]) -> None:
    if kwargs:
        raise EdgeoptError(
            f"model options {sorted(kwargs)} do not apply to the saved model {source!r}",
            hint="a saved model keeps the architecture it was saved with",
        )


def _load_file(path: Path) -> tuple[nn.Module, dict[str, Any]]:
    if not path.is_file():
        raise EdgeoptError(f"model file {str(path)!r} does not exist", hint="check the path")
    if path.suffix == ".pt2":
        return _load_exported_program(path), {}
    if path.suffix in CHECKPOINT_SUFFIXES:
        from edgeopt.checkpoint import load_checkpoint

        checkpoint = load_checkpoint(path)
        return checkpoint.model, dict(checkpoint.metadata)
    raise EdgeoptError(
        f"don't know how to load {str(path)!r}",
        hint="use a registry name, package.module:factory, a .pt2 program or an edgeopt checkpoint",
    )


def _load_exported_program(path: Path) -> nn.Module:
    try:
        program = torch.export.load(str(path))
    except Exception as exc:  # torch raises many types for a corrupt archive
        raise EdgeoptError(
            f"{str(path)!r} is not a readable torch.export program: {type(exc).__name__}",
            hint="save it with torch.export.save(torch.export.export(model, args), path)",
        ) from exc
    return program.module()


def _call_factory(source: str, kwargs: dict[str, Any]) -> nn.Module:
    module_name, attr_path = source.split(":", 1)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise EdgeoptError(
            f"cannot import {module_name!r} for {source!r}: {exc}",
            hint="make sure the package is installed or on PYTHONPATH",
        ) from exc
    for attr in attr_path.split("."):
        if not hasattr(obj, attr):
            raise EdgeoptError(f"{module_name!r} has no attribute {attr_path!r}", hint="check the name after ':'")
        obj = getattr(obj, attr)
    if not callable(obj):
        raise EdgeoptError(f"{source!r} is not callable", hint="name a class or a function that builds the model")
    model = obj(**kwargs)
    if not isinstance(model, nn.Module):
        raise EdgeoptError(f"{source!r} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a torch file, never executing pickled code.

    An edgeopt checkpoint is accepted too: its ``state_dict`` entry is returned.
    """
    path = Path(path)
    if not path.is_file():
        raise EdgeoptError(f"weights file {str(path)!r} does not exist", hint="check the path")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise EdgeoptError(
            f"cannot read weights from {str(path)!r}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}",
            hint="expected a state dict saved with torch.save(model.state_dict()) or safetensors",
        ) from exc
    if isinstance(data, dict) and isinstance(data.get("state_dict"), dict):
        data = data["state_dict"]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise EdgeoptError(f"{str(path)!r} does not hold a state dict of tensors")
    return data


def load_weights(model: nn.Module, weights: str | Path | dict[str, torch.Tensor]) -> nn.Module:
    """Load a state dict (a file or a dict) into ``model`` strictly, with a readable mismatch error."""
    if isinstance(weights, dict):
        load_state_checked(model, weights, source="the state dict")
    else:
        load_state_checked(model, read_state_dict(weights), source=f"weights {str(weights)!r}")
    return model


_MAX_LISTED = 5  # keys named per kind in a mismatch error


def load_state_checked(model: nn.Module, state: dict[str, Any], source: str) -> None:
    """Load ``state`` strictly, naming missing, unexpected and mis-shaped keys if it doesn't fit.

    Raises:
        EdgeoptError: naming ``source`` and up to five keys of each kind of mismatch.
    """
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k}: {tuple(state[k].shape)} given vs {tuple(v.shape)} in the model"
        for k, v in expected.items()
        if k in state and isinstance(v, torch.Tensor) and isinstance(state[k], torch.Tensor)
        and state[k].shape != v.shape
    ]
    problems = [
        f"{label} {_some(items)}"
        for label, items in (("missing keys", missing), ("unexpected keys", unexpected),
                             ("shape mismatches", shapes))
        if items
    ]
    if not problems:
        try:
            model.load_state_dict(state, strict=True)
            return
        except RuntimeError as err:  # e.g. a custom module's own _load_from_state_dict check
            problems = [str(err).splitlines()[0]]
    raise EdgeoptError(
        f"{source} does not fit {type(model).__name__}: " + "; ".join(problems),
        hint="build the model with the same name and arguments it was saved with",
    )


def _some(items: list[str]) -> str:
    shown = ", ".join(items[:_MAX_LISTED])
    more = len(items) - _MAX_LISTED
    return f"{shown} (and {more} more)" if more > 0 else shown
