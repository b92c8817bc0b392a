"""Read checkpoints of format version 1 (edgeopt 0.1) as lineages.

Version 1 stored ``model_name``/``model_kwargs`` and marked pruned and fused models in the
metadata (``structured_pruning``, ``fused``). Those become a root plus a ``prune.structured``
(shapes read from the weights) or ``fuse`` entry. What version 1 could not rebuild either (a
pruned-then-fused model, a pipeline step checkpoint without a model name) gets an error that
says how to make a new file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeopt.errors import EdgeoptError
from edgeopt.lineage import Lineage, LineageEntry
from edgeopt.models.root import ModelRoot

_PRUNE_OPTIONS = ("ratio", "importance", "scope", "round_to")


def lineage_of_v1(payload: dict[str, Any], metadata: dict[str, Any], state: dict[str, Any],
                  source: Path) -> Lineage | None:
    """The lineage a version-1 header describes (None if it names no model).

    Raises:
        EdgeoptError: A version-1 file that cannot be rebuilt, with how to make a new one.
    """
    name, kwargs = payload.get("model_name"), payload.get("model_kwargs") or {}
    pruned, fused = metadata.get("structured_pruning"), metadata.get("fused")
    if not name:
        if "pipeline_step" in metadata:
            raise EdgeoptError(f"checkpoint {source} is a step of an edgeopt 0.1 run and does not name its model",
                               hint="run the recipe again with this edgeopt (edgeopt run RECIPE -o DIR --force)")
        return None
    if not (isinstance(name, str) and isinstance(kwargs, dict)):
        raise EdgeoptError(f"checkpoint {source} has a malformed model_name or model_kwargs")
    size = metadata.get("input_size") or (fused or {}).get("input_size")
    steps: list[LineageEntry] = []
    if isinstance(pruned, dict):
        if fused:
            raise EdgeoptError(f"checkpoint {source} (edgeopt 0.1) was pruned, then fused: that version "
                               "cannot rebuild it", hint="prune and fuse the model again with this edgeopt")
        config = {k: pruned[k] for k in _PRUNE_OPTIONS if pruned.get(k) is not None}
        shapes = {k: list(v.shape) for k, v in state.items() if hasattr(v, "shape")}
        steps.append(LineageEntry(type="prune.structured", config=config, record={"shapes": shapes}))
    if isinstance(fused, dict):
        steps.append(LineageEntry(type="fuse", record={"fusions": fused.get("fusions")}))
    return Lineage(root=ModelRoot.named(name, kwargs), steps=tuple(steps),
                   input_size=tuple(size) if size else None)
