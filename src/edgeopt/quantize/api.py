"""``ptq``: post-training static int8 for a backend, with accuracy measured on the artifact.

For ``backend="onnxruntime"``: export once (BatchNorm folded), optionally equalize the weight
ranges (:mod:`~edgeopt.quantize.equalize`), optionally plan the weights (4-bit, AdaRound, bias
correction: :mod:`~edgeopt.quantize.weights`), calibrate (one method, or ``"auto"``:
:mod:`~edgeopt.quantize.auto_calibration`), quantize to a QDQ ``.onnx``
(:mod:`~edgeopt.quantize.onnx_static`), check the file against its own simulation
(:mod:`~edgeopt.quantize.selfcheck`), and measure the fp32 and int8 files in ONNX Runtime.

Repair (``max_drop``, points of accuracy): decided on ``val_data``, reported on ``eval_data``.
When the int8 file loses more than the budget on the validation data, the per-layer diff
(:mod:`~edgeopt.quantize.layer_diff`) of the all-int8 file ranks the weighted layers by what each
loses alone, and layers are kept in float in that order until the validation drop is within
budget; then each kept layer is put back to int8 if the budget still holds without it, so the
set is as small as this search finds. (ONNX Runtime's CPU kernels have no int16 convolution: a
layer at "higher precision" would run as a float conv anyway, so float it is.) The test accuracy
is measured once, on the final file. Only the final artifact is written to ``path``.
``backend="executorch"`` dispatches to :func:`edgeopt.quantize.pt2e.ptq_executorch`.

Example:
    >>> result = ptq(model, calibration_subset(splits.train, 256), path="out/m.int8.onnx",
    ...              val_data=splits.val, eval_data=splits.test, max_drop=0.2)
    >>> result.accuracy_drop, result.float_layers, result.metadata["repair"]["decided_on"]
    (0.1, [], 'val_data')
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from edgeopt.artifact import Artifact, artifact_suffix
from edgeopt.errors import EdgeoptError, suggest
from edgeopt.quantize.calibration import AUTO, calibration_array, check_method, compute_ranges, method_details
from edgeopt.quantize.onnx_prepare import PreparedOnnx, check_model, prepare_onnx
from edgeopt.quantize.onnx_static import QuantOptions, quantize_prepared
from edgeopt.quantize.result import QuantizationResult
from edgeopt.quantize.weights import WeightOptions, WeightPlan, check_weight_options
from edgeopt.runtime.onnxruntime_runner import OnnxRuntimeRunner

BACKENDS = ("onnxruntime", "executorch")
REPAIR_SAMPLES = 256  # validation inputs the repair's diff ranks the layers on


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
    val_data: Dataset[Any] | None = None,
    max_drop: float | None = None,
    per_channel: bool = True,
    activation_type: str = "uint8",
    reduce_range: bool | str = "auto",
    check: bool = True,
    equalize: bool = False,
    bias_correction: bool = False,
    weight_bits: int = 8,
    rounding: str = "nearest",
    diff_data: Any = None,
    adaround_iterations: int = 1000,
) -> QuantizationResult:
    """Post-training static int8 quantization, measured on the exported artifact.

    Args:
        model: The float model (not modified).
        calibration_data: Real inputs (dataset of ``(input, label)``, tensor or array; ≥ 16, ≥ 24 for ``"auto"``).
        backend: ``"onnxruntime"`` (QDQ ``.onnx``) or ``"executorch"`` (``.pte``).
        path: Where to write the int8 artifact.
        calibration: ``"minmax"``, ``"percentile"``, ``"entropy"``, ``"mse"`` or ``"auto"``.
        example_input: Export example; default: one calibration sample.
        eval_data: Labelled data on which fp32 and int8 accuracy are reported (e.g. the test split).
        val_data: Labelled data on which the repair decides (e.g. the validation split); without
            it the repair decides on ``eval_data`` and the result says so.
        max_drop: Accuracy budget in points (0.5 = half a percentage point); needs labelled data.
        per_channel: One weight scale per output channel (``False``: per tensor, for targets whose
            kernels take one scale per tensor).
        activation_type, reduce_range: ONNX Runtime options (see
            :func:`~edgeopt.quantize.onnx_static.quantize_onnx_static`).
        check: Check the file against its own int8 simulation, with a tolerance from its
            quantization steps (:mod:`~edgeopt.quantize.selfcheck`); ``False`` writes it unchecked.
        equalize: Cross-layer equalization of the weight ranges first (data-free; for per-tensor).
        bias_correction: Correct each layer's bias for the mean shift weight rounding causes.
        weight_bits: 8, or 4 (weights only: activations stay 8-bit; needs per-channel scales).
        rounding: ``"nearest"`` or ``"adaround"`` (learned rounding, on the calibration data).
        diff_data: Inputs on which the final file is compared with the model per layer
            (``result.diff``); None: no diff.
        adaround_iterations: AdaRound steps per layer.

    Returns:
        A :class:`QuantizationResult`; ``int8_accuracy`` is measured on the artifact in its runtime.

    Raises:
        EdgeoptError: an unknown backend, method or option, too little or non-finite calibration
            data, NaN/Inf weights, ``max_drop`` without labelled data, options the backend or the
            granularity cannot honour, or a file that fails its self-check.

    Example:
        >>> ptq(model, calib, path="m.int8.onnx", eval_data=splits.test).int8_accuracy
        0.984
    """
    check_backend(backend)
    check_method(calibration)
    check_model(model)
    check_weight_options(weight_bits, per_channel, rounding)
    if max_drop is not None:
        if eval_data is None and val_data is None:
            raise EdgeoptError("max_drop needs eval_data to measure the accuracy drop",
                               hint="pass labelled data, e.g. val_data=splits.val, eval_data=splits.test")
        if isinstance(max_drop, bool) or not isinstance(max_drop, (int, float)) or max_drop < 0:
            raise EdgeoptError(f"max_drop must be a non-negative number of points, got {max_drop!r}")
    if backend == "executorch":
        check_executorch_options(calibration, max_drop, equalize, bias_correction, weight_bits, rounding)
        return _ptq_executorch(model, calibration_data, path, example_input, eval_data, check, per_channel,
                               diff_data)
    options = QuantOptions(per_channel, activation_type, reduce_range).check()
    weights = WeightOptions(weight_bits, per_channel, options.resolved_reduce_range() if weight_bits == 8 else False,
                            rounding, bias_correction, adaround_iterations)
    samples = calibration_array(calibration_data)
    if calibration == AUTO:
        from edgeopt.quantize.auto_calibration import check_auto_samples

        check_auto_samples(len(samples))
    example = example_input if example_input is not None else torch.from_numpy(samples[:1])
    with tempfile.TemporaryDirectory(prefix="edgeopt-ptq-") as tmp:
        work = Path(tmp)
        prepared = prepare_onnx(model, example, work, torch.from_numpy(samples[:64]))
        run = _Run(prepared, model, samples, options, weights, work)
        if equalize:
            run.equalize()
        if weights.needs_plan():
            run.plan_weights()
        run.calibrate(calibration)
        return run.quantize(path, eval_data, val_data, max_drop, check, diff_data)


def check_executorch_options(calibration: str, max_drop: float | None, equalize: bool, bias_correction: bool,
                             weight_bits: int, rounding: str) -> None:
    """Refuse options the executorch backend (PT2E, XNNPACK) cannot honour, before any work."""
    asked = [name for name, on in (("calibration", calibration != "minmax"), ("max_drop", max_drop is not None),
                                   ("equalize", equalize), ("bias_correction", bias_correction),
                                   ("weight_bits", weight_bits != 8), ("rounding", rounding != "nearest")) if on]
    if asked:
        raise EdgeoptError(
            f"the executorch backend does not take {', '.join(asked)}: it calibrates with PT2E's histogram "
            "observers, 8-bit weights rounded to nearest, and has no float fallback",
            hint="drop those options, or use backend onnxruntime",
        )


class _Run:
    """One model exported (and equalized, planned, calibrated); quantized as often as needed."""

    def __init__(self, prepared: PreparedOnnx, model: nn.Module, samples: np.ndarray, options: QuantOptions,
                 weights: WeightOptions, workdir: Path) -> None:
        self.original = prepared  # the float model as exported: the reference of every comparison
        self.float_model = prepared  # what ranges are computed on (equalized, if asked)
        self.model, self.samples, self.options, self.weights, self.workdir = model, samples, options, weights, workdir
        self.plan: WeightPlan | None = None
        graph = onnx.load(str(prepared.path)).graph
        self._weights = {node.name: node.input[1] for node in graph.node if node.name in prepared.layers}
        self.ranges: Any = None
        self.calibration = "minmax"
        self.info: dict[str, Any] = {}

    def equalize(self) -> None:
        from edgeopt.quantize.equalize import equalize_prepared

        self.float_model, report = equalize_prepared(self.float_model, self.samples, self.workdir)
        self.info["equalization"] = report

    def plan_weights(self) -> None:
        from edgeopt.quantize.weights import plan_weights

        self.plan = plan_weights(self.float_model, self.samples, self.weights, self.workdir)

    def calibrate(self, method: str) -> None:
        if method == AUTO:
            from edgeopt.quantize.auto_calibration import choose_method

            def quantize_with(ranges: Any, name: str, target: Path) -> Path:
                return Path(self._quantize(target, [], ranges, name).path)

            method, report = choose_method(self.original.path, self.float_model.path, self.samples, quantize_with,
                                           self.workdir, self.original.input_name, self.options.activation_type)
            self.info["calibration_auto"] = report
        self.calibration = method
        self.ranges = compute_ranges(self.float_model.path, self.samples, method, input_name=self.original.input_name,
                                     activation_type=self.options.activation_type)

    def _quantize(self, target: Path, exclude: list[str], ranges: Any, method: str) -> Artifact:
        source, overrides = self.float_model, None
        if self.plan is not None:
            excluded_weights = {self._weights.get(node) for node in exclude}
            source = self._planned_source(exclude)
            overrides = {k: v for k, v in self.plan.overrides.items() if k not in excluded_weights}
        details = {"calibration_details": method_details(method), **self.info}
        if self.plan is not None:
            details["weights"] = self.plan.metadata()
            if self.weights.bits == 4:
                details["weight_type"] = "int4 symmetric"
        return quantize_prepared(source, ranges, target, model=self.model, samples=self.samples,
                                 exclude_nodes=exclude, options=self.options, calibration=method,
                                 overrides=overrides, extra_metadata=details)

    def _planned_source(self, exclude: list[str]) -> PreparedOnnx:
        """The plan's fp32 model, with the layers kept float given back their float weights and biases."""
        assert self.plan is not None
        if not exclude:
            return self.plan.prepared
        from dataclasses import replace

        from edgeopt.quantize.layer_ops import set_initializer

        planned = onnx.load(str(self.plan.prepared.path))
        floats = {init.name: init for init in onnx.load(str(self.float_model.path)).graph.initializer}
        for node in planned.graph.node:
            if node.name in exclude:
                for name in node.input[1:]:
                    if name in floats:
                        set_initializer(planned, name, onnx.numpy_helper.to_array(floats[name]))
        path = self.workdir / "planned.excluded.onnx"
        onnx.save(planned, str(path))
        return replace(self.plan.prepared, path=path)

    def artifact(self, target: Path, exclude: list[str]) -> Artifact:
        return self._quantize(target, exclude, self.ranges, self.calibration)

    def quantize(self, path: str | os.PathLike[str], eval_data: Any, val_data: Any, max_drop: float | None,
                 check: bool, diff_data: Any) -> QuantizationResult:
        candidate = self.workdir / f"candidate{artifact_suffix('onnx', 'int8')}"
        art = self.artifact(candidate, [])
        repair: dict[str, Any] | None = None
        if max_drop is not None:
            decide_on = val_data if val_data is not None else eval_data
            art, repair = self._repair(art, candidate, decide_on, max_drop)
            repair["decided_on"] = "val_data" if val_data is not None else "eval_data"
            if val_data is None:
                repair["note"] = "decided on the data it reports on: pass val_data to keep the test split out"
        self_check = None
        if check:
            from edgeopt.quantize.selfcheck import onnx_self_check

            self_check = onnx_self_check(self.original.path, art.path, self.samples)
        float_acc = int8_acc = None
        if eval_data is not None:
            float_acc = ort_accuracy(self.original.fp32.path, eval_data)
            int8_acc = ort_accuracy(art.path, eval_data)
        plan_mismatch = None
        if self.plan is not None:
            from edgeopt.quantize.weights import check_plan

            plan_mismatch = check_plan(self.plan, art.path)
        final = _move(art, path)
        layer_diff = None
        if diff_data is not None:
            from edgeopt.quantize.layer_diff import diff_onnx

            layer_diff = diff_onnx(self.original.path, final.path, _inputs(diff_data), artifact_name=Path(path).name)
        metadata: dict[str, Any] = {
            "max_drop": max_drop, "fp32_artifact": self.original.fp32.to_dict(),
            "quantization": self.options.to_dict(), "accuracy_runtime": "onnxruntime (CPUExecutionProvider)",
            "calibration_details": method_details(self.calibration), **self.info,
        }
        if repair is not None:
            metadata["repair"] = repair
        if self_check is not None:
            metadata["self_check"] = self_check
        if self.plan is not None:
            metadata["weights"] = {**self.plan.metadata(), "codes_not_in_file": plan_mismatch}
        return QuantizationResult(
            artifact=final, backend="onnxruntime", method="ptq", calibration=self.calibration,
            float_accuracy=float_acc, int8_accuracy=int8_acc,
            float_layers=list(final.metadata["float_layers"]), diff=layer_diff, metadata=metadata,
        )

    def _repair(self, art: Artifact, candidate: Path, data: Any, max_drop: float) -> tuple[Artifact, dict[str, Any]]:
        """Keep the fewest layers float (ranked by the diff) that bring the drop on ``data`` within budget."""
        from edgeopt.quantize.layer_diff import diff_onnx

        float_acc = ort_accuracy(self.original.fp32.path, data)
        int8_acc = ort_accuracy(art.path, data)
        report: dict[str, Any] = {"max_drop": max_drop, "val_float_accuracy": float_acc,
                                  "val_int8_accuracy_all_int8": int8_acc, "steps": []}
        if _drop(float_acc, int8_acc) <= max_drop:
            report.update(val_int8_accuracy=int8_acc, float_layers=[])
            return art, report
        ranked = diff_onnx(self.original.path, art.path, _inputs(data)[:REPAIR_SAMPLES]).layer_ranking()
        report["ranking"] = ranked
        nodes = dict(zip(ranked, self.original.node_names(ranked), strict=True))
        kept: list[str] = []
        accuracy = int8_acc
        for layer in ranked:
            kept.append(layer)
            art = self.artifact(candidate, [nodes[k] for k in kept])
            accuracy = ort_accuracy(art.path, data)
            report["steps"].append({"float": list(kept), "val_drop_points": _drop(float_acc, accuracy)})
            if _drop(float_acc, accuracy) <= max_drop:
                break
        else:
            warnings.warn(f"the int8 model stays {_drop(float_acc, accuracy):.2f} points below float on the "
                          f"validation data with every layer in float; the budget was {max_drop}", stacklevel=4)
            report.update(val_int8_accuracy=accuracy, float_layers=kept, within_budget=False)
            return art, report
        for layer in list(kept[:-1]):  # put back to int8 whatever the budget does not need
            trial = [k for k in kept if k != layer]
            trial_art = self.artifact(candidate, [nodes[k] for k in trial])
            trial_acc = ort_accuracy(trial_art.path, data)
            report["steps"].append({"float": list(trial), "val_drop_points": _drop(float_acc, trial_acc)})
            if _drop(float_acc, trial_acc) <= max_drop:
                kept, accuracy = trial, trial_acc
        art = self.artifact(candidate, [nodes[k] for k in kept])
        report.update(val_int8_accuracy=accuracy, float_layers=list(kept), within_budget=True)
        return art, report


def _inputs(data: Any) -> np.ndarray:
    from edgeopt.quantize.onnx_sensitivity import eval_arrays

    return eval_arrays(data)[0]


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


def _ptq_executorch(model: nn.Module, calibration_data: Any, path: Any, example_input: Tensor | None,
                    eval_data: Any, check: bool, per_channel: bool, diff_data: Any) -> QuantizationResult:
    try:
        from edgeopt.quantize.pt2e import ptq_executorch
    except ImportError as exc:
        raise EdgeoptError("the ExecuTorch backend is not available",
                           hint=f"install the executorch extra ({exc})") from exc
    result = ptq_executorch(model, calibration_data, path, example_input=example_input, eval_data=eval_data,
                            check=check, per_channel=per_channel)
    if diff_data is not None:
        from edgeopt.quantize.layer_diff import diff

        result.diff = diff(model, result.artifact, diff_data)
    return result

