"""What ``edgeopt optimize`` answers: the artifact to ship, how it was measured, and every step's fate.

``RUN_DIR/answer.json`` holds :meth:`OptimizeOutcome.to_dict`; ``RUN_DIR/best/`` the chosen file,
the checkpoint of its model (every command takes it) and ``deploy.json`` (how to run it: runtime,
precision, threads, and the target's decisions with their reasons).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class OptimizeOutcome:
    """A finished (or interrupted) run.

    Attributes:
        target: The target's facts and the decisions they made (``Target.to_dict``).
        reference: The baseline's fp32 file in its fastest runtime (a measured row).
        reference_accuracy: The baseline's accuracy on its ONNX file (validation, test).
        chosen: The row of the artifact to ship (latency from the confirmation run).
        steps: Each step from the reference to the winner: the gate's figures and verdict, kept or not.
        confirmed: Latency (ms) of the confirmed candidates timed side by side, by name.
        rows: Every deployment measured in every trial.
        trials: Trials complete in the study; ``here``: completed by this process.
        notes: What the run skipped and why (runtimes not installed, bf16 not on this CPU...).
        interrupted: Ctrl-C stopped the trials (nothing was chosen).
        budget_hit: The time budget stopped the trials before ``config.trials``.
        seconds: Wall-clock time of this process.
    """

    target: dict[str, Any]
    reference: dict[str, Any] | None = None
    reference_accuracy: dict[str, float] = field(default_factory=dict)
    chosen: dict[str, Any] | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    confirmed: dict[str, dict[str, float]] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    trials: int = 0
    here: int = 0
    notes: list[str] = field(default_factory=list)
    interrupted: bool = False
    budget_hit: bool = False
    seconds: float = 0.0
    files: dict[str, str] = field(default_factory=dict)

    @property
    def speedup(self) -> float | None:
        """Reference latency / chosen latency, both from the confirmation run."""
        if self.reference is None or self.chosen is None:
            return None
        ref = self.reference.get("confirmed_ms") or self.reference["latency_ms"]
        got = self.chosen.get("confirmed_ms") or self.chosen["latency_ms"]
        return float(ref) / float(got)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (``answer.json``)."""
        return {"target": self.target, "reference": self.reference, "reference_accuracy": self.reference_accuracy,
                "chosen": self.chosen, "speedup": self.speedup, "steps": self.steps, "confirmed": self.confirmed,
                "trials": self.trials, "trials_here": self.here, "notes": self.notes,
                "interrupted": self.interrupted, "budget_hit": self.budget_hit, "seconds": round(self.seconds, 1),
                "files": self.files, "rows": self.rows}
