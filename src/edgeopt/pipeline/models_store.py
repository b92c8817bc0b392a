"""Step checkpoints of a run: saving a candidate's model, and loading it back (lazily, on resume).

A checkpoint whose architecture is still the root model's (same keys and shapes) also names that
model, so ``edgeopt bench``/``load_checkpoint`` open it on their own; one a step reshaped (pruned,
fused) is opened with :func:`load_step_model`, which replays the steps' architecture changes.

Example:
    >>> model = load_step_model("runs/tiny", "prune.structured")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from edgeopt.errors import EdgeoptError, suggest
from edgeopt.pipeline.candidate import Candidate
from edgeopt.pipeline.recipe import Recipe
from edgeopt.pipeline.registry import StepConfig
from edgeopt.pipeline.sources import ModelSource


def save_step_checkpoint(path: Path, cand: Candidate, metadata: dict[str, Any]) -> Path:
    """Save ``cand.model``'s weights; name the root model when the architecture still matches it."""
    from edgeopt.checkpoint import save_checkpoint

    assert cand.model is not None
    info = cand.model_info
    same = _same_architecture(cand.model, info)
    return save_checkpoint(path, cand.model, model_name=info.get("name") if same else None,
                           model_kwargs=info.get("kwargs") if same else None, metadata=metadata)


def restore_model(cand: Candidate, candidates: Mapping[str, Candidate], steps: list[StepConfig],
                  run_dir: Path, example_input: Tensor) -> nn.Module:
    """Rebuild ``cand``'s model: the root architecture, each step's change, then its weights.

    Raises:
        EdgeoptError: a checkpoint is missing or does not fit (e.g. files edited by hand).
    """
    from edgeopt.models import load_model
    from edgeopt.models.loading import load_state_checked, read_state_dict

    chain = _lineage_chain(cand, candidates)
    root = chain[0]
    model = load_model(root.model_info["name"], **(root.model_info.get("kwargs") or {}))
    for link in chain:
        state = read_state_dict(_checkpoint_path(link, run_dir))
        if link.step_index > 0:
            model = steps[link.step_index - 1].rebuild(model, state, example_input)
    load_state_checked(model, read_state_dict(_checkpoint_path(cand, run_dir)),
                       source=f"step checkpoint of {cand.name!r}")
    return model


def load_step_model(run_dir: str | Path, name: str) -> nn.Module:
    """Load the model of candidate ``name`` from a finished run directory.

    Example:
        >>> load_step_model("runs/demo", "distill")
    """
    from edgeopt.pipeline.recipe import load_recipe
    from edgeopt.pipeline.rundir import RECIPE_FILE, RunDir

    run = RunDir(run_dir)
    recipe: Recipe = load_recipe(run.root / RECIPE_FILE)
    candidates: dict[str, Candidate] = {}
    for record in run.finished_records():
        for item in [record["candidate"], *record.get("updated", [])]:
            candidates[item["name"]] = Candidate.from_record(item)
    if name not in candidates:
        raise EdgeoptError(f"no candidate {name!r} in {str(run_dir)!r}",
                           hint=suggest(name, candidates) or f"candidates: {', '.join(candidates)}")
    return restore_model(candidates[name], candidates, recipe.steps, run.root, _example_input(run.root))


class ModelCache:
    """Candidates' models by name, loaded from checkpoints on first use."""

    def __init__(self, loader: Callable[[Candidate], nn.Module]) -> None:
        self._loader = loader
        self._models: dict[str, nn.Module] = {}

    def put(self, cand: Candidate) -> None:
        """Keep ``cand``'s loaded model."""
        if cand.model is not None:
            self._models[cand.name] = cand.model

    def get(self, cand: Candidate) -> nn.Module:
        """``cand``'s model, loading it if needed."""
        if cand.name not in self._models:
            self._models[cand.name] = cand.model if cand.model is not None else self._loader(cand)
        return self._models[cand.name]


def _lineage_chain(cand: Candidate, candidates: Mapping[str, Candidate]) -> list[Candidate]:
    chain = [cand]
    while chain[-1].parent is not None:
        chain.append(candidates[chain[-1].parent])
    return chain[::-1]


def _checkpoint_path(cand: Candidate, run_dir: Path) -> Path:
    if not cand.checkpoint:
        raise EdgeoptError(f"candidate {cand.name!r} has no checkpoint to resume from",
                           hint="start the run afresh with --force")
    return run_dir / cand.checkpoint


def _same_architecture(model: nn.Module, info: dict[str, Any]) -> bool:
    from edgeopt.models import load_model

    if not info.get("name") or ModelSource(source=info["name"]).is_file():
        return False
    try:
        fresh = load_model(info["name"], **(info.get("kwargs") or {}))
    except EdgeoptError:
        return False
    ours, theirs = model.state_dict(), fresh.state_dict()
    return ours.keys() == theirs.keys() and all(ours[k].shape == theirs[k].shape for k in ours)


def _example_input(run_dir: Path) -> Tensor:
    """A seeded random batch-1 input of the run's input size (from its results.json)."""
    from edgeopt.report import load_results

    dataset = load_results(run_dir).dataset
    size = (1, dataset["in_chans"], *dataset["image_size"])
    return torch.randn(*size, generator=torch.Generator().manual_seed(0))
