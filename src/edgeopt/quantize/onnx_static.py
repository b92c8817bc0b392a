"""Static int8 quantization for ONNX Runtime: QDQ format, calibrated on real data.

The recipe, and why (figures measured on this 2-core AVX2 x86 host, ORT 1.32; see
docs/quantization.md and benchmarks/quantization.py):

- **Weights**: int8, symmetric, per output channel (depthwise filters differ in scale by orders
  of magnitude; one scale per tensor is what makes depthwise MobileNets collapse).
- **Activations**: uint8, asymmetric (``activation_type="uint8"``). On x86, ORT fuses every
  DQ→Conv→Q of a uint8 MobileNetV2 into ``QLinearConv`` (and residual adds into
  ``QLinearAdd``); with int8 activations (ORT's default) 15 of its 52 convs stay float Conv
  between Q/DQ pairs, with 32 layout transposes around them. Symmetric int8 activations are
  worse still: ReLU outputs lose half the codes and the Relu/Clip nodes stay in the graph.
- **reduce_range** (7-bit weights) on x86 without VNNI (``reduce_range="auto"``): there ORT's
  u8×s8 kernels add pairs of products in int16 (``vpmaddubsw``) and saturate; the trained
  mnist5k MobileNet lost 0.6 points to that with 8-bit weights, 0.1 with 7-bit ones (the same
  QDQ file run without fusion, i.e. exact arithmetic, loses 0.1).
- Debug metadata (the exporter's stack traces per node, shape annotations) is stripped from the
  int8 file: it is not the model, and it would eat a tenth of the 4× size saving.

Example:
    >>> art = quantize_onnx_static(model, calibration_subset(splits.train, 256), "out/m.int8.onnx",
    ...                            calibration="entropy")
    >>> art.precision, art.metadata["calibration"]
    ('int8', 'entropy')
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import torch
from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.calibrate import TensorData, TensorsData, save_tensors_data
from torch import Tensor, nn

from edgeopt.artifact import Artifact, ParityReport
from edgeopt.errors import EdgeoptError
from edgeopt.export.parity import compare_outputs
from edgeopt.quantize.calibration import calibration_array, check_method, compute_ranges
from edgeopt.quantize.onnx_prepare import PreparedOnnx, check_model, prepare_onnx, quiet_ort
from edgeopt.utils.atomic import atomic_path
from edgeopt.utils.cpu import host_int8_dot_product, machine_arch, needs_reduce_range
from edgeopt.utils.modes import preserve_modes

ACTIVATION_TYPES = {"uint8": QuantType.QUInt8, "int8": QuantType.QInt8}
# int8 outputs are compared with the eager model on real samples; the figures are recorded (not
# enforced: int8 error is expected) with this tolerance deciding ``passed``.
INT8_PARITY_RTOL, INT8_PARITY_ATOL = 0.1, 1e-3
_PARITY_SAMPLES = 64


@dataclass(frozen=True)
class QuantOptions:
    """How ORT quantizes (see the module docstring for the measured reasons behind the defaults).

    Attributes:
        per_channel: One weight scale per output channel.
        activation_type: ``"uint8"`` (asymmetric) or ``"int8"``.
        reduce_range: 7-bit weights; ``"auto"`` = on x86 hosts without VNNI.
    """

    per_channel: bool = True
    activation_type: str = "uint8"
    reduce_range: bool | str = "auto"

    def resolved_reduce_range(self) -> bool:
        """``reduce_range`` with ``"auto"`` decided for this host."""
        return host_needs_reduce_range() if self.reduce_range == "auto" else bool(self.reduce_range)

    def check(self) -> QuantOptions:
        """Self, if valid; else raise :class:`EdgeoptError`."""
        if self.activation_type not in ACTIVATION_TYPES:
            raise EdgeoptError(f"unknown activation type {self.activation_type!r}",
                               hint=f"use one of {', '.join(ACTIVATION_TYPES)}")
        if self.reduce_range not in (True, False, "auto"):
            raise EdgeoptError(f"reduce_range must be True, False or 'auto', got {self.reduce_range!r}")
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain form, with ``reduce_range`` resolved."""
        return {"per_channel": self.per_channel, "activation_type": self.activation_type,
                "weight_type": "int8 symmetric", "reduce_range": self.resolved_reduce_range(),
                "format": "QDQ"}


@lru_cache(maxsize=1)
def host_needs_reduce_range() -> bool:
    """True on x86 without VNNI, where ORT's u8×s8 int8 kernels can saturate int16 sums.

    Decided for the machine that builds the file (:mod:`edgeopt.utils.cpu`); ``edgeopt optimize``
    decides from the target instead (``edgeopt.devices.resolve_target(...).reduce_range``).

    Example:
        >>> isinstance(host_needs_reduce_range(), bool)
        True
    """
    # non-x86 accumulates in int32: False; x86 with unreadable flags has no VNNI known: True
    return needs_reduce_range(machine_arch(), host_int8_dot_product())


def quantize_onnx_static(
    model: nn.Module,
    calibration_data: Any,
    path: str | os.PathLike[str],
    *,
    calibration: str = "minmax",
    per_channel: bool = True,
    exclude: Iterable[str] = (),
    example_input: Tensor | None = None,
    activation_type: str = "uint8",
    reduce_range: bool | str = "auto",
) -> Artifact:
    """Quantize ``model`` to a static int8 QDQ ONNX file at ``path``.

    Args:
        model: The float model (not modified).
        calibration_data: Real inputs: a dataset of ``(input, label)`` pairs, a tensor or an
            array (at least 16 samples; 256 recommended).
        path: Where to write the int8 ``.onnx`` file (atomically).
        calibration: Activation range method, one of ``CALIBRATION_METHODS``.
        per_channel: Per-output-channel weight scales.
        exclude: Layers (PyTorch names like ``"features.0.0"``) or ONNX node names kept in float.
        example_input: Export example; default: one calibration sample.
        activation_type: ``"uint8"`` (fastest on x86 ORT) or ``"int8"``.
        reduce_range: 7-bit weights; ``"auto"`` decides from the host CPU.

    Returns:
        The int8 :class:`Artifact` (``precision="int8"``); ``parity`` compares it with the eager
        model on real samples, ``metadata`` records the options, float layers and fp32 size.

    Raises:
        EdgeoptError: too little or non-finite calibration data, NaN/Inf weights, an unknown
            method or layer name, or a model that cannot be exported.

    Example:
        >>> art = quantize_onnx_static(model, calib, "m.int8.onnx", calibration="mse")
        >>> art.size_bytes < art.metadata["fp32_size_bytes"] / 3.8
        True
    """
    check_model(model)
    check_method(calibration)
    options = QuantOptions(per_channel, activation_type, reduce_range).check()
    samples = calibration_array(calibration_data)
    example = example_input if example_input is not None else torch.from_numpy(samples[:1])
    with tempfile.TemporaryDirectory(prefix="edgeopt-quant-") as tmp:
        prepared = prepare_onnx(model, example, Path(tmp), torch.from_numpy(samples[:_PARITY_SAMPLES]))
        ranges = compute_ranges(prepared.path, samples, calibration, input_name=prepared.input_name)
        excluded = prepared.node_names(exclude)
        return quantize_prepared(prepared, ranges, path, model=model, samples=samples,
                                 exclude_nodes=excluded, options=options, calibration=calibration)


def quantize_prepared(
    prepared: PreparedOnnx,
    ranges: TensorsData,
    path: str | os.PathLike[str],
    *,
    model: nn.Module,
    samples: np.ndarray,
    exclude_nodes: Sequence[str] = (),
    only_nodes: Sequence[str] | None = None,
    options: QuantOptions = QuantOptions(),
    calibration: str = "minmax",
    overrides: dict[str, list[dict[str, Any]]] | None = None,
    extra_metadata: dict[str, Any] | None = None,
) -> Artifact:
    """Quantize an already prepared and calibrated model (cheap: no export, no calibration).

    ``exclude_nodes`` stay float; with ``only_nodes`` just those nodes are quantized (the
    per-layer sensitivity sweep). ``overrides`` are ORT's ``TensorQuantOverrides`` (the weight
    scales of a :class:`~edgeopt.quantize.weights.WeightPlan`).
    """
    extra: dict[str, Any] = {}
    if overrides:
        # The plan's scales are final: ORT must not enlarge a weight scale for its int32 bias.
        extra = {"TensorQuantOverrides": overrides, "QDQDisableWeightAdjustForInt32Bias": True}
    with tempfile.TemporaryDirectory(prefix="edgeopt-qdq-", dir=prepared.path.parent) as tmp:
        raw = Path(tmp) / "model.int8.onnx"
        cache = Path(tmp) / "ranges.json"
        save_tensors_data(as_minmax(ranges), cache)
        with quiet_ort():
            quantize_static(
                str(prepared.path), str(raw), None,
                quant_format=QuantFormat.QDQ,
                per_channel=options.per_channel,
                reduce_range=options.resolved_reduce_range(),
                activation_type=ACTIVATION_TYPES[options.activation_type],
                weight_type=QuantType.QInt8,
                nodes_to_exclude=list(exclude_nodes),
                nodes_to_quantize=list(only_nodes) if only_nodes else None,
                calibrate_method=CalibrationMethod.MinMax,
                calibration_cache_path=str(cache),
                extra_options=extra or None,
            )
        proto = strip_debug_info(onnx.load(str(raw)))
        with atomic_path(path) as out:
            onnx.save(proto, str(out))
            parity = int8_parity(model, out, samples[:_PARITY_SAMPLES])
    float_layers = float_layer_names(proto, prepared)
    metadata = {
        "calibration": calibration,
        **options.to_dict(),
        "float_layers": float_layers,
        "bn_folding": prepared.bn_folding,
        "fp32_size_bytes": prepared.fp32.size_bytes,
        "fp32_sha256": prepared.fp32.sha256,
        "opset": prepared.fp32.metadata.get("opset"),
        "quantizer": f"onnxruntime.quantization.quantize_static {onnxruntime.__version__}",
        "calibration_samples": len(samples),
        "input_name": prepared.input_name,
        **(extra_metadata or {}),
    }
    return Artifact.from_file(path, "onnx", "int8", prepared.fp32.input_shape, parity=parity,
                              metadata=metadata)


def as_minmax(ranges: TensorsData) -> TensorsData:
    """Just the ranges, labelled min-max: how ``quantize_static`` takes precomputed ranges."""
    return TensorsData(CalibrationMethod.MinMax, {
        name: TensorData(lowest=np.asarray(data.range_value[0], np.float32),
                         highest=np.asarray(data.range_value[1], np.float32))
        for name, data in ranges.items()
    })


def strip_debug_info(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Drop per-node metadata (stack traces), doc strings and shape annotations, in place."""
    from edgeopt.export.onnx_export import strip_node_metadata

    del proto.graph.value_info[:]
    return strip_node_metadata(proto)


def float_layer_names(proto: onnx.ModelProto, prepared: PreparedOnnx) -> list[str]:
    """Layers whose weights are still float in a QDQ model (no DequantizeLinear feeds them)."""
    float_inits = {init.name for init in proto.graph.initializer
                   if init.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)}
    return [prepared.layers[node.name] for node in proto.graph.node
            if node.name in prepared.layers and len(node.input) > 1 and node.input[1] in float_inits]


def int8_parity(model: nn.Module, onnx_path: Path, samples: np.ndarray) -> ParityReport:
    """Eager fp32 vs the int8 file in ORT on real samples (figures recorded, not enforced)."""
    from edgeopt.runtime.onnxruntime_runner import OnnxRuntimeRunner

    runner = OnnxRuntimeRunner(onnx_path, threads=1)
    try:
        with preserve_modes(model), torch.inference_mode():
            model.eval()
            reference = model(torch.from_numpy(samples)).numpy()
        return compare_outputs([reference], [runner.run(samples)], INT8_PARITY_RTOL, INT8_PARITY_ATOL)
    except RuntimeError as exc:
        raise EdgeoptError(f"ONNX Runtime cannot run the int8 model: {str(exc).splitlines()[0][:300]}") from exc
    finally:
        runner.close()
