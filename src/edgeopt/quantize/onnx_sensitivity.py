"""Per-layer quantization sensitivity, measured on ONNX Runtime int8 artifacts.

For each weighted layer, a QDQ model with only that layer quantized (``nodes_to_quantize``) is
run in ONNX Runtime, and compared with the fp32 model run in ONNX Runtime on the same inputs:

- ``sqnr_db``: signal-to-quantization-noise ratio of the logits, ``10 log10(Σ y² / Σ (y - ŷ)²)``
  (higher is better; every 6 dB is about one bit);
- ``accuracy`` and ``drop_points`` on the evaluation data, when it has labels.

The layers are ranked most sensitive first by lowest SQNR: the order in which
:func:`edgeopt.quantize.ptq` keeps layers in float when an accuracy budget is exceeded. SQNR, not
the accuracy drop, because one layer alone rarely moves top-1 by more than a few samples, and a
few samples are noise: on a rigged model the harmless head "dropped" 0.6 points while the two
ruined convs (11 and 16 dB) "gained" 1.1. On the trained mnist5k MobileNet both orders agree on
the worst layer (the stem conv: 20 dB, -0.6 points, with 8-bit weights).
The model is exported and calibrated once; each layer costs one quantization (~1 s) and one
evaluation, so the mnist5k MobileNet (28 layers) takes about a minute.

Example:
    >>> report = sensitivity(model, calibration_subset(splits.train, 256), splits.test)
    >>> report.rows[0]["layer"], report.rows[0]["drop_points"]
    ('features.1.depthwise.0', 0.3)
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from edgeopt.quantize.calibration import calibration_array, check_method, compute_ranges
from edgeopt.quantize.onnx_prepare import PreparedOnnx, check_model, prepare_onnx
from edgeopt.quantize.onnx_static import QuantOptions, quantize_prepared
from edgeopt.runtime.onnxruntime_runner import OnnxRuntimeRunner


@dataclass
class SensitivityReport:
    """Effect of quantizing each layer alone, most sensitive first.

    Attributes:
        rows: One dict per layer: ``layer``, ``node``, ``op_type``, ``sqnr_db``, ``accuracy``,
            ``drop_points`` (the last two None without labelled eval data).
        float_accuracy: fp32 accuracy in ONNX Runtime on the eval data (None without labels).
        calibration: The calibration method used.
        samples: Evaluation samples.
    """

    rows: list[dict[str, Any]]
    float_accuracy: float | None
    calibration: str
    samples: int
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def ranking(self) -> list[str]:
        """Layer names, most sensitive first."""
        return [row["layer"] for row in self.rows]

    def table(self) -> list[list[str]]:
        """Rows of strings for a printed table: layer, op, SQNR dB, accuracy, drop."""
        return [[row["layer"], row["op_type"], f"{row['sqnr_db']:.1f}",
                 "-" if row["accuracy"] is None else f"{row['accuracy']:.2%}",
                 "-" if row["drop_points"] is None else f"{row['drop_points']:+.2f}"]
                for row in self.rows]

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-serialisable form."""
        return {"rows": [dict(row) for row in self.rows], "float_accuracy": self.float_accuracy,
                "calibration": self.calibration, "samples": self.samples,
                "metadata": dict(self.metadata)}


def sensitivity(
    model: nn.Module,
    calibration_data: Any,
    eval_data: Dataset[Any] | Tensor | np.ndarray,
    *,
    calibration: str = "minmax",
    example_input: Tensor | None = None,
    per_channel: bool = True,
    activation_type: str = "uint8",
    reduce_range: bool | str = "auto",
    max_eval_samples: int = 1000,
) -> SensitivityReport:
    """Quantize each weighted layer alone and measure the int8 artifact in ONNX Runtime.

    Args:
        model: The float model (not modified).
        calibration_data: Real inputs for calibration (see :func:`quantize_onnx_static`).
        eval_data: Labelled dataset (accuracy and SQNR) or bare inputs (SQNR only).
        calibration: Calibration method.
        example_input: Export example; default: one calibration sample.
        per_channel, activation_type, reduce_range: As in :func:`quantize_onnx_static`.
        max_eval_samples: Evaluate on at most this many samples (the first ones).

    Returns:
        A :class:`SensitivityReport`, most sensitive layer first.

    Example:
        >>> sensitivity(model, calib, splits.test).ranking[:3]
        ['features.1.depthwise.0', 'features.0.0', 'classifier']
    """
    check_model(model)
    check_method(calibration)
    options = QuantOptions(per_channel, activation_type, reduce_range).check()
    samples = calibration_array(calibration_data)
    inputs, labels = eval_arrays(eval_data, max_eval_samples)
    example = example_input if example_input is not None else torch.from_numpy(samples[:1])
    with tempfile.TemporaryDirectory(prefix="edgeopt-sens-") as tmp:
        prepared = prepare_onnx(model, example, Path(tmp))
        ranges = compute_ranges(prepared.path, samples, calibration, input_name=prepared.input_name)
        return sensitivity_prepared(prepared, ranges, model, samples, inputs, labels,
                                    options=options, calibration=calibration)


def sensitivity_prepared(
    prepared: PreparedOnnx, ranges: Any, model: nn.Module, samples: np.ndarray,
    inputs: np.ndarray, labels: np.ndarray | None, *, options: QuantOptions, calibration: str,
) -> SensitivityReport:
    """:func:`sensitivity` on a model already exported and calibrated (reused by the fallback)."""
    reference = _logits(prepared.path, inputs)
    with tempfile.TemporaryDirectory(prefix="edgeopt-sens-", dir=prepared.path.parent) as tmp:
        rows = [
            _layer_row(prepared, ranges, node, model, samples, options, calibration, inputs, labels,
                       reference, Path(tmp))
            for node in prepared.layers
        ]
    float_accuracy = _accuracy(reference, labels)
    for row in rows:
        if float_accuracy is not None:
            row["drop_points"] = 100.0 * (float_accuracy - row["accuracy"])
    rows.sort(key=lambda r: r["sqnr_db"])
    return SensitivityReport(rows, float_accuracy, calibration, len(inputs),
                             {"quantization": options.to_dict(), "bn_folding": prepared.bn_folding})


def eval_arrays(data: Any, limit: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Inputs (float32) and labels (or None) of a labelled dataset, tensor or array."""
    tensors = getattr(data, "tensors", None)
    if tensors is not None:
        inputs, labels = tensors[0], (tensors[1] if len(tensors) > 1 else None)
    else:
        inputs, labels = data, None
    array = calibration_array(inputs, minimum=1)
    label_array = np.asarray(labels) if labels is not None else None
    if limit is not None:
        array = array[:limit]
        label_array = label_array[:limit] if label_array is not None else None
    return array, label_array


def _layer_row(
    prepared: PreparedOnnx, ranges: Any, node: str, model: nn.Module, samples: np.ndarray,
    options: QuantOptions, calibration: str, inputs: np.ndarray, labels: np.ndarray | None,
    reference: np.ndarray, tmp: Path,
) -> dict[str, Any]:
    path = tmp / "one_layer.onnx"
    quantize_prepared(prepared, ranges, path, model=model, samples=samples, only_nodes=[node],
                      options=options, calibration=calibration)
    logits = _logits(path, inputs)
    return {"layer": prepared.layers[node], "node": node, "op_type": prepared.op_types[node],
            "sqnr_db": sqnr_db(reference, logits), "accuracy": _accuracy(logits, labels),
            "drop_points": None}


def _logits(path: Path, inputs: np.ndarray, batch: int = 256) -> np.ndarray:
    runner = OnnxRuntimeRunner(path, threads=1)
    try:
        return np.concatenate([runner.run(inputs[i : i + batch]) for i in range(0, len(inputs), batch)])
    finally:
        runner.close()


def _accuracy(logits: np.ndarray, labels: np.ndarray | None) -> float | None:
    return None if labels is None else float(np.mean(logits.argmax(axis=-1) == labels))


def sqnr_db(reference: np.ndarray, quantized: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio in dB (``inf`` when identical).

    Example:
        >>> round(sqnr_db(np.ones(4), np.full(4, 1.1)), 1)
        20.0
    """
    noise = float(np.sum((reference.astype(np.float64) - quantized) ** 2))
    signal = float(np.sum(reference.astype(np.float64) ** 2))
    return math.inf if noise == 0 else 10.0 * math.log10(signal / noise) if signal > 0 else -math.inf
