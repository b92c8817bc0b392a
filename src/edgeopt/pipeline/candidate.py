"""``Candidate``: one model variant of a run, with the steps that made it, its figures and its files.

A step takes a Candidate and returns a new one (``evolve``); nothing changes a Candidate in place,
and step handlers train a deep copy of the model (``copy_model``), never the input's own.

Example:
    >>> base = Candidate(name="baseline", technique="baseline", model=net)
    >>> pruned = base.evolve(name="prune", technique="prune.structured", model=small,
    ...                      parent="baseline", lineage=(*base.lineage, {"step": "prune.structured"}))
    >>> base.model is net
    True
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from edgeopt.errors import EdgeoptError


@dataclass(frozen=True)
class Candidate:
    """A model variant plus its lineage, metrics and artifacts.

    Attributes:
        name: Unique within a run (``baseline``, or the step's name).
        technique: The step type that made it (``baseline``, ``prune.structured``, ...).
        model: The eager model; ``None`` until loaded from its checkpoint (after a resume).
        lineage: The steps applied from the root model on, each ``{"step", "name", "config"}``.
        parent: The candidate it was made from (None for a root: the baseline, a teacher).
        step_index: Index of the step that made it (0 for the baseline).
        model_info: How to build the root architecture: ``{"name": source, "kwargs": {...}}``.
        metrics: Figures of the model (see :class:`edgeopt.report.Metrics`).
        artifacts: Exported files (``ArtifactResult`` dicts, paths relative to the run dir).
        checkpoint: Its checkpoint, relative to the run dir.
        details: What the step reported (history, fusion report, quantization result...).
    """

    name: str
    technique: str
    model: nn.Module | None = None
    lineage: tuple[dict[str, Any], ...] = ()
    parent: str | None = None
    step_index: int = 0
    model_info: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    artifacts: tuple[dict[str, Any], ...] = ()
    checkpoint: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def evolve(self, **changes: Any) -> Candidate:
        """A new Candidate with ``changes`` applied; this one is left as it is."""
        return dataclasses.replace(self, **changes)

    def copy_model(self) -> nn.Module:
        """A deep copy of the model, for a step to change freely.

        Raises:
            EdgeoptError: The model is not loaded (a bug in the runner, not the user's input).
        """
        if self.model is None:
            raise EdgeoptError(f"candidate {self.name!r} has no model loaded")
        return copy.deepcopy(self.model)

    @property
    def is_quantized(self) -> bool:
        """True when its shipped artifact is int8 (its eager model is the float one it came from)."""
        return self.technique.startswith("quantize")

    def with_artifact(self, artifact: dict[str, Any]) -> Candidate:
        """A copy with ``artifact`` added (one with the same path is replaced)."""
        kept = tuple(a for a in self.artifacts if a.get("path") != artifact.get("path"))
        return self.evolve(artifacts=(*kept, artifact))

    def to_record(self) -> dict[str, Any]:
        """The ``CandidateResult`` dict for results.json, plus what a resume needs to restore it."""
        return {
            "name": self.name,
            "technique": self.technique,
            "lineage": [dict(step) for step in self.lineage],
            "model": dict(self.model_info),
            "checkpoint": self.checkpoint,
            "metrics": dict(self.metrics),
            "profile": self.details.get("profile"),
            "artifacts": [dict(a) for a in self.artifacts],
            "parent": self.parent,
            "step_index": self.step_index,
            "details": {k: v for k, v in self.details.items() if k != "profile"},
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Candidate:
        """Rebuild a Candidate (without its model) from :meth:`to_record`'s dict."""
        details = dict(record.get("details") or {})
        if record.get("profile") is not None:
            details["profile"] = record["profile"]
        return cls(
            name=record["name"],
            technique=record["technique"],
            lineage=tuple(record.get("lineage") or ()),
            parent=record.get("parent"),
            step_index=int(record.get("step_index", 0)),
            model_info=dict(record.get("model") or {}),
            metrics=dict(record.get("metrics") or {}),
            artifacts=tuple(record.get("artifacts") or ()),
            checkpoint=record.get("checkpoint"),
            details=details,
        )
