"""``ptq``: post-training static int8 for a backend, with accuracy measured on the artifact.

For ``backend="onnxruntime"``: export and calibrate once, quantize to a QDQ ``.onnx``
(:mod:`edgeopt.quantize.onnx_static`), then measure the fp32 and int8 files in ONNX Runtime on
``eval_data``. With ``max_drop`` (points of accuracy), if the int8 file loses more, the per-layer
sensitivity sweep ranks the layers and the most sensitive ones are kept in float, one at a time,
until the drop is within budget; ``float_layers`` names them. Only the final artifact is written
to ``path``. ``backend="executorch"`` dispatches to :func:`edgeopt.quantize.pt2e.ptq_executorch`.

Example:
    >>> result = ptq(model, calibration_subset(splits.train, 256), path="out/m.int8.onnx",
    ...              eval_data=splits.test, max_drop=0.2)
    >>> result.accuracy_drop <= 0.2, result.float_layers
    (True, [])
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from edgeopt.artifact import Artifact, artifact_suffix
from edgeopt.errors import EdgeoptError, suggest
from edgeopt.quantize.calibration import calibration_array, check_method, compute_ranges
from edgeopt.quantize.onnx_prepare import PreparedOnnx, check_model, prepare_onnx
from edgeopt.quantize.onnx_sensitivity import SensitivityReport, eval_arrays, sensitivity_prepared
from edgeopt.quantize.onnx_static import QuantOptions, quantize_prepared
from edgeopt.quantize.result import QuantizationResult
from edgeopt.runtime.onnxruntime_runner import OnnxRuntimeRunner

BACKENDS = ("onnxruntime", "executorch")


def check_backend(backend: str) -> str:
    """Return ``backend`` if known, else raise with a suggestion."""
    if backend not in BACKENDS:
        raise EdgeoptError(f"unknown backend {backend!r}",
                           hint=suggest(str(backend), BACKENDS) or f"use one of {', '.join(BACKENDS)}")
    return backend


def ptq(
    model: nn.Module,
    calibration_data: Any,
    *,
    backend: str = "onnxruntime",
    path: str | os.PathLike[str],
    calibration: str = "minmax",
    example_input: Tensor | None = None,
    eval_data: Dataset[Any] | None = None,
    max_drop: float | None = None,
    per_channel: bool = True,
    activation_type: str = "uint8",
    reduce_range: bool | str = "auto",
    check: bool = True,
) -> QuantizationResult:
    """Post-training static int8 quantization, measured on the exported artifact.

    Args:
        model: The float model (not modified).
        calibration_data: Real inputs (dataset of ``(input, label)``, tensor or array; ≥ 16).
        backend: ``"onnxruntime"`` (QDQ ``.onnx``) or ``"executorch"`` (``.pte``).
        path: Where to write the int8 artifact.
        calibration: ``"minmax"``, ``"percentile"``, ``"entropy"`` or ``"mse"``.
        example_input: Export example; default: one calibration sample.
        eval_data: Labelled data on which fp32 and int8 accuracy are measured (e.g. the test split).
        max_drop: Accuracy budget in points (0.5 = half a percentage point); needs ``eval_data``.
        per_channel, activation_type, reduce_range: ONNX Runtime options (see
            :func:`~edgeopt.quantize.onnx_static.quantize_onnx_static`).
        check: ExecuTorch: fail when the ``.pte`` differs from its PT2E reference. Turn it off
            only for untrained models, whose near-equal logits make the comparison meaningless.

    Returns:
        A :class:`QuantizationResult`; ``int8_accuracy`` is measured on the artifact in ORT.

    Raises:
        EdgeoptError: an unknown backend or method, too little or non-finite calibration data,
            NaN/Inf weights, ``max_drop`` without ``eval_data``.

    Example:
        >>> ptq(model, calib, path="m.int8.onnx", eval_data=splits.test).int8_accuracy
        0.984
    """
    check_backend(backend)
    check_method(calibration)
    check_model(model)
    if max_drop is not None:
        if eval_data is None:
            raise EdgeoptError("max_drop needs eval_data to measure the accuracy drop",
                               hint="pass labelled data, e.g. eval_data=splits.val")
        if isinstance(max_drop, bool) or not isinstance(max_drop, (int, float)) or max_drop < 0:
            raise EdgeoptError(f"max_drop must be a non-negative number of points, got {max_drop!r}")
    if backend == "executorch":
        return _ptq_executorch(model, calibration_data, path, calibration, example_input, eval_data, max_drop,
                               check)
    options = QuantOptions(per_channel, activation_type, reduce_range).check()
    samples = calibration_array(calibration_data)
    example = example_input if example_input is not None else torch.from_numpy(samples[:1])
    with tempfile.TemporaryDirectory(prefix="edgeopt-ptq-") as tmp:
        prepared = prepare_onnx(model, example, Path(tmp), torch.from_numpy(samples[:64]))
        ranges = compute_ranges(prepared.path, samples, calibration, input_name=prepared.input_name)
        run = _Run(prepared, ranges, model, samples, options, calibration, Path(tmp))
        return run.quantize(path, eval_data, max_drop)


class _Run:
    """One model exported and calibrated; quantized as often as the fallback needs."""

    def __init__(self, prepared: PreparedOnnx, ranges: Any, model: nn.Module, samples: np.ndarray,
                 options: QuantOptions, calibration: str, workdir: Path) -> None:
        self.prepared, self.ranges, self.model, self.samples = prepared, ranges, model, samples
        self.options, self.calibration, self.workdir = options, calibration, workdir

    def artifact(self, path: str | os.PathLike[str], exclude: list[str]) -> Artifact:
        return quantize_prepared(self.prepared, self.ranges, path, model=self.model,
                                 samples=self.samples, exclude_nodes=exclude, options=self.options,
                                 calibration=self.calibration)

    def quantize(self, path: str | os.PathLike[str], eval_data: Any, max_drop: float | None) -> QuantizationResult:
        candidate = self.workdir / f"candidate{artifact_suffix('onnx', 'int8')}"
        art = self.artifact(candidate, [])
        float_acc = int8_acc = None
        report: SensitivityReport | None = None
        excluded: list[str] = []
        if eval_data is not None:
            float_acc = ort_accuracy(self.prepared.fp32.path, eval_data)
            int8_acc = ort_accuracy(art.path, eval_data)
        if max_drop is not None and _drop(float_acc, int8_acc) > max_drop:
            inputs, labels = eval_arrays(eval_data)
            report = sensitivity_prepared(self.prepared, self.ranges, self.model, self.samples,
                                          inputs, labels, options=self.options,
                                          calibration=self.calibration)
            for row in report.rows:
                excluded.append(row["node"])
                art = self.artifact(candidate, excluded)
                int8_acc = ort_accuracy(art.path, eval_data)
                if _drop(float_acc, int8_acc) <= max_drop:
                    break
            else:
                warnings.warn(f"the int8 model stays {_drop(float_acc, int8_acc):.2f} points below "
                              f"float with every layer in float; the budget was {max_drop}", stacklevel=3)
        final = _move(art, path)
        return QuantizationResult(
            artifact=final, backend="onnxruntime", method="ptq", calibration=self.calibration,
            float_accuracy=float_acc, int8_accuracy=int8_acc,
            float_layers=list(final.metadata["float_layers"]), sensitivity=report,
            metadata={"max_drop": max_drop, "fp32_artifact": self.prepared.fp32.to_dict(),
                      "quantization": self.options.to_dict(),
                      "accuracy_runtime": "onnxruntime (CPUExecutionProvider)"},
        )


def _move(art: Artifact, path: str | os.PathLike[str]) -> Artifact:
    """The candidate file renamed onto ``path`` (same content, so its figures still hold)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(art.path, target)
    return Artifact.from_file(target, art.format, art.precision, art.input_shape,
                              parity=art.parity, metadata=art.metadata)


def _drop(float_acc: float | None, int8_acc: float | None) -> float:
    if float_acc is None or int8_acc is None:
        return 0.0
    return 100.0 * (float_acc - int8_acc)


def ort_accuracy(path: str | os.PathLike[str], data: Any) -> float:
    """Top-1 accuracy of an ONNX file in ONNX Runtime on a labelled dataset."""
    runner = OnnxRuntimeRunner(path, threads=1)
    try:
        return runner.accuracy(data)
    finally:
        runner.close()


def _ptq_executorch(model: nn.Module, calibration_data: Any, path: Any, calibration: str,
                    example_input: Tensor | None, eval_data: Any, max_drop: float | None,
                    check: bool = True) -> QuantizationResult:
    if calibration != "minmax" or max_drop is not None:
        raise EdgeoptError(
            "the executorch backend calibrates with PT2E's min-max observers and has no float fallback",
            hint="drop --calibration/--max-drop, or use --backend onnxruntime",
        )
    try:
        from edgeopt.quantize.pt2e import ptq_executorch
    except ImportError as exc:
        raise EdgeoptError("the ExecuTorch backend is not available",
                           hint=f"install the executorch extra ({exc})") from exc
    return ptq_executorch(model, calibration_data, path, example_input=example_input, eval_data=eval_data,
                          check=check)
