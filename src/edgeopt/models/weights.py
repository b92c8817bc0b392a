"""Read state dicts safely and load them strictly, with errors that name what does not fit.

Weights are read with ``torch.load(weights_only=True)`` or from ``.safetensors``; nothing
pickled is executed (DESIGN.md, principle 5).

Example:
    >>> load_weights(model, "net.safetensors")
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgeopt.errors import EdgeoptError

_MAX_LISTED = 5  # keys named per kind in a mismatch error


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
