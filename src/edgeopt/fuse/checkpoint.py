"""Save a fused model as an edgeopt checkpoint, and load it back as the same fused graph.

A checkpoint is rebuilt from the registry (``create_model(model_name, **model_kwargs)``) and
then filled with its state dict; nothing pickled is executed (DESIGN.md, principle 5). A fused
``GraphModule`` is not a registry model, and its state dict does not fit the unfused one (no
BatchNorm keys, conv biases added). So a fused checkpoint stores the *source* model's name and
arguments, the fused weights, and ``metadata["fused"]`` (the example input size and the folds).
Loading rebuilds the source model, fuses it again — fusion decisions depend only on the graph's
structure, never on weight values, so the same layers fold — and loads the fused weights
strictly into that graph. The round trip is exact (same tensors).

``edgeopt.checkpoint.load_checkpoint`` does not know about fusion yet: use
:func:`load_fused_checkpoint` (``rebuild_fused`` is the hook it can call when
``metadata["fused"]`` is present).

Example:
    >>> fused, report = fuse_with_report(model, x)
    >>> save_fused_checkpoint("fused.pt", fused, model_name="mobilenet_v1",
    ...                       model_kwargs={"width_mult": 0.5}, input_size=x.shape, report=report)
    >>> load_fused_checkpoint("fused.pt").model    # the fused GraphModule, weights loaded
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from edgeopt.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from edgeopt.errors import EdgeoptError
from edgeopt.fuse.report import FusionReport

FUSED_KEY = "fused"
FUSED_FORMAT = 1


def save_fused_checkpoint(
    path: str | os.PathLike[str],
    fused: nn.Module,
    *,
    model_name: str,
    model_kwargs: dict[str, Any] | None = None,
    input_size: Sequence[int],
    report: FusionReport | None = None,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write the fused model's weights with what rebuilds its graph (atomically).

    Args:
        path: ``.pt`` or ``.safetensors`` file.
        fused: The model returned by :func:`edgeopt.fuse.fuse`.
        model_name: Registry name of the model that was fused.
        model_kwargs: Its ``create_model`` arguments.
        input_size: The example input shape used for fusion (N, C, H, W).
        report: The fusion report, stored so the folds can be checked on load.
        metadata: Other plain data to keep (e.g. the source checkpoint's metadata).
    """
    record = {"format": FUSED_FORMAT, "input_size": [int(d) for d in input_size]}
    if report is not None:
        record["fusions"] = [[f.pattern, f.into] for f in report.fused]
    extra = {**(metadata or {}), "input_size": record["input_size"], FUSED_KEY: record}
    return save_checkpoint(path, fused, model_name=model_name, model_kwargs=model_kwargs, metadata=extra)


def load_fused_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load a checkpoint written by :func:`save_fused_checkpoint` as the fused graph.

    Raises:
        EdgeoptError: the file is not a fused edgeopt checkpoint, or its weights do not fit.
    """
    header = _read_header(Path(path))
    metadata = header.get("metadata") or {}
    if FUSED_KEY not in metadata:
        raise EdgeoptError(f"{path} is not a fused checkpoint (no metadata['fused'])",
                           hint="load it with edgeopt.checkpoint.load_checkpoint")
    skeleton = rebuild_fused(header.get("model_name"), header.get("model_kwargs") or {}, metadata)
    return load_checkpoint(path, model=skeleton)


def is_fused_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a readable edgeopt checkpoint written by :func:`save_fused_checkpoint`."""
    try:
        header = _read_header(Path(path))
    except EdgeoptError:
        return False
    return FUSED_KEY in (header.get("metadata") or {})


def rebuild_fused(model_name: str | None, model_kwargs: dict[str, Any],
                  metadata: dict[str, Any]) -> nn.Module:
    """Rebuild the fused graph (weights not loaded) that a fused checkpoint's state dict fits."""
    from edgeopt.fuse.fuser import fuse_with_report
    from edgeopt.models import create_model

    record = metadata.get(FUSED_KEY) or {}
    if not model_name or not isinstance(record, dict) or "input_size" not in record:
        raise EdgeoptError("fused checkpoint lacks the model name or metadata['fused']['input_size']",
                           hint="save it with edgeopt.fuse.save_fused_checkpoint")
    # Random init weights fuse to the same structure: fusion never looks at weight values.
    example = torch.randn(tuple(record["input_size"]), generator=torch.Generator().manual_seed(0))
    fused, report = fuse_with_report(create_model(model_name, **model_kwargs), example)
    expected = record.get("fusions")
    if expected is not None and [[f.pattern, f.into] for f in report.fused] != expected:
        raise EdgeoptError(f"fusing {model_name!r} again folds other layers than the saved model",
                           hint="the model's code changed since the checkpoint was written")
    return fused


def _read_header(path: Path) -> dict[str, Any]:
    """model_name / model_kwargs / metadata of a checkpoint, or the loader's own error."""
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt", device="cpu") as reader:
                strings = reader.metadata() or {}
            return {k: json.loads(strings.get(k, "null")) for k in ("model_name", "model_kwargs", "metadata")}
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(payload, dict):
            return {k: payload.get(k) for k in ("model_name", "model_kwargs", "metadata")}
    except Exception:  # unreadable: let load_checkpoint raise its precise error below
        pass
    load_checkpoint(path)  # raises for missing, corrupt and foreign files
    raise EdgeoptError(f"{path} is not a fused checkpoint")
