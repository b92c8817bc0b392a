"""``Candidate``: one model variant of a run, with the steps that made it, its figures and its files.

A step takes a Candidate and returns a new one (``evolve``); nothing changes a Candidate in place,
and transforms work on a copy of the model (``edgeopt.transform.apply``), never the input's own.

Example:
    >>> base = Candidate(name="baseline", technique="baseline", model=net, lineage=lineage)
    >>> pruned = base.evolve(name="prune", technique="prune.structured", model=small,
    ...                      parent="baseline", lineage=lineage.then(StructuredPrune(ratio=0.5), result))
    >>> base.model is net
    True
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from edgeopt.artifact import Artifact
from edgeopt.lineage import Lineage


@dataclass(frozen=True)
class Candidate:
    """A model variant plus its lineage, metrics and artifacts.

    Attributes:
        name: Unique within a run (``baseline``, or the step's name).
        technique: The step type that made it (``baseline``, ``prune.structured``, ...).
        model: The eager model; ``None`` until loaded from its checkpoint (after a resume).
        lineage: The root model and the transforms applied to it (what rebuilds the model).
        parent: The candidate it was made from (None for a root: the baseline, a teacher).
        step_index: Index of the step that made it (0 for the baseline).
        metrics: Figures of the model (see :class:`edgeopt.report.Metrics`).
        artifacts: Exported files, paths relative to the run dir, with their measurements.
        checkpoint: Its checkpoint, relative to the run dir.
        details: What the step reported (history, fusion report, quantization result...).
    """

    name: str
    technique: str
    model: nn.Module | None = None
    lineage: Lineage | None = None
    parent: str | None = None
    step_index: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    artifacts: tuple[Artifact, ...] = ()
    checkpoint: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def evolve(self, **changes: Any) -> Candidate:
        """A new Candidate with ``changes`` applied; this one is left as it is."""
        return dataclasses.replace(self, **changes)

    @property
    def is_quantized(self) -> bool:
        """True when its shipped artifact is int8 (its eager model is the float one it came from)."""
        return self.technique.startswith("quantize")

    def to_record(self) -> dict[str, Any]:
        """The ``CandidateResult`` dict for results.json, plus what a resume needs to restore it."""
        return {
            "name": self.name,
            "technique": self.technique,
            "lineage": None if self.lineage is None else self.lineage.model_dump(mode="json"),
            "checkpoint": self.checkpoint,
            "metrics": dict(self.metrics),
            "profile": self.details.get("profile"),
            "artifacts": [a.to_dict() for a in self.artifacts],
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
        lineage = record.get("lineage")
        return cls(
            name=record["name"],
            technique=record["technique"],
            lineage=Lineage.model_validate(lineage) if isinstance(lineage, dict) else None,
            parent=record.get("parent"),
            step_index=int(record.get("step_index", 0)),
            metrics=dict(record.get("metrics") or {}),
            artifacts=tuple(Artifact.model_validate(a) for a in record.get("artifacts") or ()),
            checkpoint=record.get("checkpoint"),
            details=details,
        )
