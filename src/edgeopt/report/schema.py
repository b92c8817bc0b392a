"""The results schema: what every pipeline step writes to ``RUN_DIR/results.json``.

This is the contract between the steps that produce numbers and the report that shows them.
It accepts exactly what ``edgeopt demo`` writes (candidates without artifacts) and grows by
optional fields, so older run directories keep loading. Unknown keys are kept (``extra="allow"``)
so a newer writer never loses data through an older reader.

Estimates (device catalog, roofline) carry ``kind: "estimate"`` in the data itself, so no reader
can present them as measurements (DESIGN.md, principle 1).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from edgeopt.artifact import Artifact, LatencyEstimate, Measurement

# Artifact, Measurement and LatencyEstimate are shared with the exporters and runtimes, so they
# live in edgeopt.artifact; they are part of this schema all the same.
__all__ = ["Artifact", "CandidateResult", "DeviceFit", "FitCheck", "LatencyEstimate", "Measurement",
           "Metrics", "RunResults"]


class _Open(BaseModel):
    """Base: keep unknown keys, so data written by a newer edgeopt survives a round trip."""

    model_config = ConfigDict(extra="allow")


class Metrics(_Open):
    """Figures of one candidate model (in eager PyTorch; artifacts carry their own)."""

    test_accuracy: float = Field(ge=0.0, le=1.0)
    params: NonNegativeInt
    macs: NonNegativeInt
    param_bytes: NonNegativeInt
    peak_activation_bytes: NonNegativeInt
    checkpoint_bytes: NonNegativeInt | None = None
    best_val_accuracy: float | None = Field(default=None, ge=0.0, le=1.0)


class CandidateResult(_Open):
    """One model variant: the steps that made it, its figures, and its exported artifacts."""

    name: str = Field(min_length=1)
    technique: str = Field(min_length=1)
    # {root, steps, input_size} (edgeopt.lineage.Lineage); a list of steps in runs of edgeopt 0.1.
    lineage: dict[str, Any] | list[dict[str, Any]] | None = None
    checkpoint: str | None = None
    metrics: Metrics
    profile: dict[str, Any] | None = None
    artifacts: list[Artifact] = Field(default_factory=list)


class FitCheck(_Open):
    """One resource check of a device fit (storage, ram, latency, ...), as ``edgeopt.devices`` writes it.

    ``available``, ``margin`` and ``passed`` are ``None`` when the check does not apply (e.g. no
    latency budget was given).
    """

    name: str
    required: float
    available: float | None = None
    margin: float | None = None
    margin_pct: float | None = None
    passed: bool | None = None
    # "bytes", "ms", ...: how the report formats the figures (guessed from the name if absent).
    unit: str | None = None
    detail: str = ""  # what ``required`` is made of, e.g. "weights + peak activations"


class DeviceFit(_Open):
    """Whether a candidate fits the run's target device, as modelled: an estimate."""

    device: str
    precision: str
    checks: list[FitCheck] = Field(default_factory=list)
    verdict: str
    kind: Literal["estimate"] = "estimate"


class RunResults(_Open):
    """Everything one run produced; the root of ``results.json``."""

    edgeopt_version: str
    created: str
    host: dict[str, Any] = Field(default_factory=dict)
    dataset: dict[str, Any] = Field(default_factory=dict)
    target: str | None = None
    candidates: list[CandidateResult] = Field(min_length=1)
    device_fit: DeviceFit | None = None
    # Path of the edge-vs-cloud resource chart, relative to the run directory.
    resource_chart: str | None = None
    seconds: float | None = Field(default=None, ge=0)

    def baseline(self) -> CandidateResult:
        """The candidate named or labelled ``baseline``; the first candidate if none is."""
        for cand in self.candidates:
            if cand.technique == "baseline" or cand.name == "baseline":
                return cand
        return self.candidates[0]
