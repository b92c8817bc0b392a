"""Weight quantization chosen by edgeopt, written so ONNX Runtime's quantizer keeps it exactly.

By default ONNX Runtime picks every weight scale (symmetric, from the weight's extremes) and
rounds to nearest. A :class:`WeightPlan` decides instead, on the fp32 graph ORT quantizes:

- **the grid**: 8-bit (``[-127, 127]``, or ORT's reduced ``[-64, 64]`` on x86 without VNNI) or
  4-bit (``[-7, 7]``, stored as ONNX ``INT4``), one scale per output channel or per tensor. An
  8-bit scale is the weight's largest magnitude over the top code, as ORT computes it; a 4-bit
  scale clips: it is the one, on a 1 % grid of the largest magnitude, that minimises the weight's
  squared error (at 4 bits the extremes would leave the bulk with two or three codes);
- **the rounding**: to nearest, or AdaRound (:mod:`edgeopt.quantize.adaround`), layer by layer in
  graph order, each layer seeing its inputs through the earlier layers' rounded weights;
- **bias correction** (Nagel et al. 2019, "Data-Free Quantization", §4.2, the empirical form):
  rounding shifts each output channel's mean; the shift, measured on the calibration images as
  ``E[y_float] - E[y]`` (``y`` computed through the rounded weights of this and every earlier
  layer), is added to the bias. (The data-free form estimates ``E[x]`` from BatchNorm statistics;
  edgeopt has the calibration images at hand and measures it.)

The plan rewrites the fp32 graph with the rounded weights ``s·q`` and the corrected biases, and
gives ``quantize_static`` each weight's scales through its ``TensorQuantOverrides``: ORT then
computes ``round(s·q / s) = q``, the plan's codes, which :func:`check_plan` verifies in the file.

Example:
    >>> plan = plan_weights(prepared, samples, WeightOptions(bits=4, rounding="adaround"))
    >>> plan.overrides["features.0.0.weight"][0]["quant_type"]
    QuantType.QInt4
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnxruntime.quantization import QuantType

from edgeopt.errors import EdgeoptError
from edgeopt.quantize.layer_ops import WeightedLayer, ensure_bias, set_initializer
from edgeopt.quantize.onnx_graph import GraphIndex, run_with_outputs
from edgeopt.quantize.onnx_prepare import PreparedOnnx

ROUNDINGS = ("nearest", "adaround")
WEIGHT_BITS = (8, 4)
PLAN_SAMPLES = 256  # calibration images AdaRound and bias correction use (the first ones)
_CLIP_GRID = np.linspace(0.2, 1.0, 81)


@dataclass(frozen=True)
class WeightOptions:
    """How edgeopt quantizes the weights.

    Attributes:
        bits: 8 or 4.
        per_channel: One scale per output channel (else one per tensor).
        reduce_range: 8-bit only: ORT's reduced range ``[-64, 64]`` (x86 without VNNI).
        rounding: ``"nearest"`` or ``"adaround"``.
        bias_correction: Correct each layer's bias for the mean shift rounding causes.
        adaround_iterations: AdaRound optimisation steps per layer.
    """

    bits: int = 8
    per_channel: bool = True
    reduce_range: bool = False
    rounding: str = "nearest"
    bias_correction: bool = False
    adaround_iterations: int = 1000

    @property
    def grid(self) -> tuple[int, int]:
        """The code range ``(qmin, qmax)``."""
        if self.bits == 4:
            return -7, 7
        return (-64, 64) if self.reduce_range else (-127, 127)

    @property
    def quant_type(self) -> QuantType:
        """The ONNX type the codes are stored as."""
        return QuantType.QInt4 if self.bits == 4 else QuantType.QInt8

    def needs_plan(self) -> bool:
        """Whether ORT's own weight quantization would not do (anything but 8-bit nearest)."""
        return self.bits != 8 or self.rounding != "nearest" or self.bias_correction

    def to_dict(self) -> dict[str, Any]:
        """Plain form."""
        return {"bits": self.bits, "per_channel": self.per_channel, "reduce_range": self.reduce_range,
                "grid": list(self.grid), "rounding": self.rounding, "bias_correction": self.bias_correction,
                "scale": "clip minimising the weight MSE" if self.bits < 8 else "largest magnitude (as ORT)"}


@dataclass
class WeightPlan:
    """The weights' codes and scales, and the fp32 graph rewritten with them.

    Attributes:
        prepared: The fp32 model to quantize: rounded weights ``s·q``, corrected biases.
        overrides: ``TensorQuantOverrides`` for ``quantize_static``: each weight's scales.
        codes: Weight initializer name -> codes (for :func:`check_plan`).
        layers: Per layer: output MSE figures of the rounding, bias shift.
        options: What was asked.
    """

    prepared: PreparedOnnx
    overrides: dict[str, list[dict[str, Any]]]
    codes: dict[str, np.ndarray]
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    options: WeightOptions = field(default_factory=WeightOptions)

    def metadata(self) -> dict[str, Any]:
        """What the artifact records about its weights."""
        return {**self.options.to_dict(), "layers": self.layers}


def check_weight_options(bits: int, per_channel: bool, rounding: str) -> None:
    """Refuse options that cannot be honoured, before any work.

    Raises:
        EdgeoptError: an unknown bit width or rounding, or 4-bit weights per tensor.
    """
    if isinstance(bits, bool) or bits not in WEIGHT_BITS:
        raise EdgeoptError(f"weight_bits must be 8 or 4, got {bits!r}")
    if rounding not in ROUNDINGS:
        from edgeopt.errors import suggest

        raise EdgeoptError(f"unknown rounding {rounding!r}",
                           hint=suggest(str(rounding), ROUNDINGS) or f"use one of {', '.join(ROUNDINGS)}")
    if bits == 4 and not per_channel:
        raise EdgeoptError(
            "4-bit weights need per-channel scales, and the target asks for per-tensor weights",
            hint="with granularity per_tensor keep weight_bits 8 (equalize: true helps it); 4-bit weights "
            "need a target whose kernels take per-channel scales",
        )


def weight_scales(layer: WeightedLayer, options: WeightOptions, weight: np.ndarray | None = None) -> np.ndarray:
    """Scales broadcastable to the weight: one per output channel, or one for the tensor."""
    w = layer.weight if weight is None else weight
    qmax = options.grid[1]
    if options.per_channel:
        rows = np.abs(np.asarray(layer.channel_view(w), np.float64))
    else:
        rows = np.abs(np.asarray(w, np.float64)).reshape(1, -1)
    top = rows.max(axis=1)
    if options.bits < 8:
        top = _best_clip(rows, top, qmax)
    scale = np.where(top > 0, top / qmax, 1.0)
    shape = layer.per_channel_shape() if options.per_channel else [1] * w.ndim
    return scale.reshape(shape).astype(np.float32)


def _best_clip(rows: np.ndarray, top: np.ndarray, qmax: int) -> np.ndarray:
    """Per row, the clipping magnitude (a fraction of its largest) with the least squared rounding error."""
    best = top.copy()
    best_err = np.full(len(top), np.inf)
    safe = np.where(top > 0, top, 1.0)[:, None]
    for fraction in _CLIP_GRID:
        s = fraction * safe / qmax
        err = np.sum((rows - s * np.clip(np.round(rows / s), 0, qmax)) ** 2, axis=1)
        better = err < best_err
        best = np.where(better & (top > 0), fraction * top, best)
        best_err = np.where(better, err, best_err)
    return np.asarray(best)


def nearest_codes(weight: np.ndarray, scale: np.ndarray, options: WeightOptions) -> np.ndarray:
    """Round-to-nearest codes on the grid (ties to even, as ``QuantizeLinear``)."""
    qmin, qmax = options.grid
    return np.asarray(np.clip(np.rint(weight / scale), qmin, qmax))


def plan_weights(
    prepared: PreparedOnnx, samples: np.ndarray, options: WeightOptions, workdir: Path,
    exclude_nodes: tuple[str, ...] = (),
) -> WeightPlan:
    """Decide every weighted layer's codes and rewrite the fp32 graph with them (see the module docstring).

    Args:
        prepared: The fp32 model (possibly equalized) that ORT will quantize.
        samples: Calibration inputs (the first :data:`PLAN_SAMPLES` feed AdaRound and bias correction).
        options: The grid, rounding and bias correction.
        workdir: Where the rewritten fp32 model is written.
        exclude_nodes: Nodes left float (their weights are not touched).
    """
    proto = onnx.load(str(prepared.path))
    graph = GraphIndex(proto)
    data = samples[:PLAN_SAMPLES]
    layers = [WeightedLayer.of(graph, node) for node in graph.weighted_nodes()
              if node.name in prepared.layers and node.name not in exclude_nodes
              and node.input[1] in graph.initializers]
    float_proto = copy.deepcopy(proto)
    needs_data = options.rounding == "adaround" or options.bias_correction
    float_means = _output_means(float_proto, layers, data) if options.bias_correction else {}
    overrides: dict[str, list[dict[str, Any]]] = {}
    codes_by_weight: dict[str, np.ndarray] = {}
    figures: dict[str, dict[str, Any]] = {}
    for layer in layers:
        scale = weight_scales(layer, options)
        info: dict[str, Any] = {"scale_mean": float(np.mean(scale))}
        if options.rounding == "adaround":
            from edgeopt.quantize.adaround import adaround_layer

            x_float = run_with_outputs(float_proto, data, [layer.node.input[0]])[layer.node.input[0]]
            x_quant = run_with_outputs(proto, data, [layer.node.input[0]])[layer.node.input[0]]
            codes, stats = adaround_layer(layer, scale, qmin=options.grid[0], qmax=options.grid[1],
                                          x_float=x_float, x_quant=x_quant,
                                          iterations=options.adaround_iterations)
            info.update(stats)
            if stats["mse_adaround"] > stats["mse_nearest"]:  # never worse than nearest on its own data
                codes = nearest_codes(layer.weight, scale, options)
                info["kept"] = "nearest"
        else:
            codes = nearest_codes(layer.weight, scale, options)
        rounded = (codes * scale).astype(np.float32)
        set_initializer(proto, layer.weight_name, rounded)
        if options.bias_correction:
            bias_name = ensure_bias(proto, graph, layer)
            current = _output_means(proto, [layer], data)[layer.node.name]
            shift = float_means[layer.node.name] - current
            bias = (layer.bias if layer.bias is not None else np.zeros(layer.channels)) + shift
            set_initializer(proto, bias_name, bias.astype(np.float32))
            info["bias_shift_max"] = float(np.max(np.abs(shift)))
        overrides[layer.weight_name] = _overrides(scale, options, layer)
        codes_by_weight[layer.weight_name] = codes.astype(np.int8)
        figures[layer.layer] = info
    del needs_data
    path = workdir / f"{prepared.path.stem}.weights.onnx"
    onnx.save(proto, str(path))
    return WeightPlan(replace(prepared, path=path), overrides, codes_by_weight, figures, options)


def _output_means(proto: onnx.ModelProto, layers: list[WeightedLayer], data: np.ndarray) -> dict[str, np.ndarray]:
    """Per layer, the mean of its output (before the activation) per channel, over ``data``."""
    names = [layer.node.output[0] for layer in layers]
    values = run_with_outputs(proto, data, names)
    return {layer.node.name: layer.output_channel_mean(values[layer.node.output[0]]) for layer in layers}


def _overrides(scale: np.ndarray, options: WeightOptions, layer: WeightedLayer) -> list[dict[str, Any]]:
    flat = np.asarray(scale, np.float32).reshape(-1)
    if options.per_channel:
        return [{"axis": layer.channel_axis, "scale": np.float32(s), "zero_point": 0,
                 "quant_type": options.quant_type} for s in flat]
    return [{"scale": np.float32(flat[0]), "zero_point": 0, "quant_type": options.quant_type}]


def check_plan(plan: WeightPlan, path: str | Path) -> float:
    """The share of planned weight codes that the int8 file does not hold (0.0 when it matches).

    Reads each ``<weight>_quantized`` initializer of the file and compares it with the plan.
    """
    graph = GraphIndex.load(path)
    total = wrong = 0
    for weight, codes in plan.codes.items():
        name = f"{weight}_quantized"
        if name not in graph.initializers:
            continue  # kept float by the fallback
        stored = graph.array(name).astype(np.int64).reshape(codes.shape)
        total += codes.size
        wrong += int(np.sum(stored != codes))
    return wrong / total if total else 0.0
