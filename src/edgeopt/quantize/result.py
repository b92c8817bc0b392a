"""What a quantization run produced: the int8 artifact and the accuracy measured on it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from edgeopt.artifact import Artifact

if TYPE_CHECKING:  # onnx_sensitivity and diff import ONNX Runtime; a result does not need it
    from edgeopt.quantize.layer_diff import LayerDiff
    from edgeopt.quantize.onnx_sensitivity import SensitivityReport


@dataclass
class QuantizationResult:
    """An int8 artifact plus the facts a user needs to trust it.

    Attributes:
        artifact: The int8 file (``.onnx`` with QDQ, or ``.pte``).
        backend: ``"onnxruntime"`` or ``"executorch"``.
        method: ``"ptq"``, ``"qat"`` or ``"dynamic"``.
        calibration: Activation calibration method (``"minmax"``, ``"percentile"``, ...), if static.
        float_accuracy: Top-1 of the float model on ``eval_data`` (None when no data was given).
        int8_accuracy: Top-1 measured on ``artifact`` in its runtime, never a simulation's.
        float_layers: Layers kept in float by the sensitivity fallback (empty: all int8).
        sensitivity: The per-layer sensitivity report, when it was computed.
        diff: The float model against the file, per layer (:func:`edgeopt.quantize.layer_diff`), when computed.
        metadata: Anything else worth recording (engine versions, options).
    """

    artifact: Artifact
    backend: str
    method: str
    calibration: str | None = None
    float_accuracy: float | None = None
    int8_accuracy: float | None = None
    float_layers: list[str] = field(default_factory=list)
    sensitivity: SensitivityReport | None = None
    diff: LayerDiff | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def accuracy_drop(self) -> float | None:
        """Float minus int8 top-1, in points of accuracy (fractions ×100); None without data."""
        if self.float_accuracy is None or self.int8_accuracy is None:
            return None
        return 100.0 * (self.float_accuracy - self.int8_accuracy)

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable form."""
        sens = self.sensitivity.to_dict() if self.sensitivity is not None else None
        return {
            "artifact": self.artifact.to_dict(),
            "backend": self.backend,
            "method": self.method,
            "calibration": self.calibration,
            "float_accuracy": self.float_accuracy,
            "int8_accuracy": self.int8_accuracy,
            "accuracy_drop_points": self.accuracy_drop,
            "float_layers": list(self.float_layers),
            "sensitivity": sens,
            "diff": self.diff.to_dict() if self.diff is not None else None,
            "metadata": dict(self.metadata),
        }
