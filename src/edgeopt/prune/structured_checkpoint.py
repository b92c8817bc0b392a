"""Checkpoints of structurally pruned models: the registry model, resized to the saved shapes.

A pruned model has the registry architecture with fewer channels, so ``create_model`` alone
builds the wrong shapes. The checkpoint records ``structured_pruning`` in its metadata; loading
builds the registry model, shrinks its layers to the state dict's shapes
(:func:`edgeopt.prune.rebuild.resize_like`) and loads the weights.

Example:
    >>> save_pruned_checkpoint("out/model.pt", small, model_name="mobilenet_v1",
    ...                        model_kwargs=kwargs, report=report.to_dict())
    >>> load_pruned_checkpoint("out/model.pt").model
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgeopt.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from edgeopt.errors import EdgeoptError
from edgeopt.models.loading import read_state_dict
from edgeopt.prune.rebuild import resize_like

PRUNED_KEY = "structured_pruning"


def save_pruned_checkpoint(path: str | os.PathLike[str], model: nn.Module, *, model_name: str,
                           model_kwargs: dict[str, Any], report: dict[str, Any],
                           metadata: dict[str, Any] | None = None) -> Path:
    """Save a pruned model as an edgeopt checkpoint that :func:`load_pruned_checkpoint` rebuilds."""
    summary = {k: report.get(k) for k in ("ratio", "importance", "scope", "round_to",
                                          "channels_before", "channels_after")}
    return save_checkpoint(path, model, model_name=model_name, model_kwargs=model_kwargs,
                           metadata={**(metadata or {}), PRUNED_KEY: summary})


def rebuild_pruned(model_name: str | None, model_kwargs: dict[str, Any], state: dict[str, Any]) -> nn.Module:
    """The registry model resized to ``state``'s shapes (weights not loaded)."""
    if not model_name:
        raise EdgeoptError("a pruned checkpoint must name its registry model to be rebuilt")
    from edgeopt.models import create_model

    return resize_like(create_model(model_name, **model_kwargs), state)


def load_pruned_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load a checkpoint written by :func:`save_pruned_checkpoint` (weights only, no code)."""
    header = _read_header(Path(path))
    state = read_state_dict(path)
    model = rebuild_pruned(header.get("model_name"), header.get("model_kwargs") or {}, state)
    return load_checkpoint(path, model=model)


def is_pruned_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a readable checkpoint written by :func:`save_pruned_checkpoint`."""
    try:
        return PRUNED_KEY in (_read_header(Path(path)).get("metadata") or {})
    except (EdgeoptError, OSError):
        return False


def _read_header(path: Path) -> dict[str, Any]:
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                raw = handle.metadata() or {}
            return {k: json.loads(raw[k]) for k in ("model_name", "model_kwargs", "metadata") if k in raw}
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # unreadable: the caller treats it as "not a pruned checkpoint"
        raise EdgeoptError(f"cannot read checkpoint {path}: {error}") from error
    return payload if isinstance(payload, dict) else {}
