"""What a step handler gets (``StepContext``) and what it gives back (``StepOutput``)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from edgeopt.data import DatasetSplits
from edgeopt.errors import EdgeoptError, suggest
from edgeopt.pipeline.candidate import Candidate


@dataclass
class StepContext:
    """Everything a step may read. It writes only into ``step_dir``.

    Attributes:
        index: The step's number (1 for the first step after the baseline).
        name: The step's (and its new candidate's) name.
        step_dir: ``RUN_DIR/steps/NN_type``: where the step writes its files.
        run_dir: The run directory (artifact paths in results are relative to it).
        data: The recipe's data, split.
        example_input: One real input sample (batch 1) for tracing and export.
        input: The candidate this step starts from.
        candidates: Every candidate made so far, by name.
        load_model: Loads a candidate's model (after a resume models load lazily).
        step: The step's validated options.
    """

    index: int
    name: str
    step: Any
    step_dir: Path
    run_dir: Path
    data: DatasetSplits
    example_input: Tensor
    input: Candidate
    candidates: Mapping[str, Candidate]
    load_model: Callable[[str], nn.Module]

    def input_model(self) -> nn.Module:
        """A deep copy of the input candidate's model: the step may change it freely."""
        return copy.deepcopy(self.load_model(self.input.name))

    def model_of(self, name: str) -> nn.Module:
        """A deep copy of the model of candidate ``name`` (e.g. a distillation teacher)."""
        return copy.deepcopy(self.load_model(self.candidate(name).name))

    def candidate(self, name: str) -> Candidate:
        """The candidate called ``name``.

        Raises:
            EdgeoptError: No such candidate (yet); the hint names close ones.
        """
        if name not in self.candidates:
            raise EdgeoptError(f"step {self.index} ({self.name}): no candidate named {name!r}",
                               hint=suggest(name, self.candidates) or f"known: {', '.join(self.candidates)}")
        return self.candidates[name]

    def derive(self, model: nn.Module, **changes: Any) -> Candidate:
        """The new candidate this step makes from its input: named after the step, one more
        entry in the lineage, no metrics or artifacts yet (the runner evaluates it).

        Example:
            >>> return StepOutput(ctx.derive(fused_model, details={"fused": 12}))
        """
        entry = {"step": self.step.type, "name": self.name, "config": self.step.model_dump(mode="json")}
        fields: dict[str, Any] = {
            "name": self.name, "technique": self.step.type, "model": model, "parent": self.input.name,
            "step_index": self.index, "lineage": (*self.input.lineage, entry), "metrics": {},
            "artifacts": (), "checkpoint": None, "details": {},
        }
        fields.update(changes)
        return self.input.evolve(**fields)

    def relative(self, path: Path) -> str:
        """``path`` relative to the run directory, as results.json records it."""
        return str(Path(path).resolve().relative_to(self.run_dir.resolve()))


@dataclass
class StepOutput:
    """What a step produced.

    Attributes:
        candidate: The step's result, which the next step starts from. A transforming step
            returns a new candidate named after the step; an annotating step (export, bench)
            returns its input with artifacts or measurements added, under the same name.
        updated: Other existing candidates the step annotated (e.g. every benchmarked one).
        details: What the step reports, kept in its ``step.json``.
        metrics: Figures the step measured itself that override the runner's evaluation of the
            eager model (e.g. a quantized candidate's accuracy, measured on its int8 artifact).
    """

    candidate: Candidate
    updated: list[Candidate] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
