"""Cross-layer equalization: even out the weight ranges of consecutive layers, function unchanged.

With one weight scale per tensor (what many microcontroller and NPU kernels take), a layer whose
output channels differ in range by orders of magnitude, as depthwise convolutions do, loses its
small channels to rounding. Nagel et al. (ICCV 2019, "Data-Free Quantization Through Weight
Equalization and Bias Correction", §4.1) use that ReLU is positively homogeneous,
``relu(x / s) = relu(x) / s`` for ``s > 0``: dividing output channel ``i`` of a layer (weights and
bias) by ``s_i`` and multiplying the matching input channel of the next layer by ``s_i`` changes
nothing the network computes, and ``s_i = sqrt(r1_i / r2_i)`` (``r1_i``, ``r2_i`` the channel's
weight ranges in the two layers) makes both ranges ``sqrt(r1_i r2_i)``. Chains of three
(pointwise → depthwise → pointwise) are equalized by sweeping the pairs until the scales settle.

Pairs are found on the fp32 ONNX graph ORT quantizes: a Conv or Gemm whose output feeds, alone,
through nothing or a ``Relu``, exactly one Conv (ordinary, or depthwise over the same channels).
``Clip`` (ReLU6) is not homogeneous (``min(x, 6)/s ≠ min(x/s, 6)``), so pairs through it are left
alone and counted (``skipped_clip``): the paper replaces ReLU6 by ReLU, which changes the model.
Data-free; the equalized graph is checked against the original on the calibration inputs.

Example:
    >>> equalized, report = equalize_prepared(prepared, samples, workdir)
    >>> report["pairs"], report["max_range_ratio_after"] < report["max_range_ratio_before"]
    (27, True)
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from edgeopt.errors import EdgeoptError
from edgeopt.quantize.layer_ops import WeightedLayer, set_initializer
from edgeopt.quantize.onnx_graph import GraphIndex, run_with_outputs, sqnr_db
from edgeopt.quantize.onnx_prepare import PreparedOnnx

SWEEPS = 50
TOLERANCE = 1e-6
CHECK_DB = 60.0  # the equalized graph must match the original this closely (float rounding only)


def find_pairs(graph: GraphIndex) -> tuple[list[tuple[onnx.NodeProto, onnx.NodeProto]], int]:
    """Consecutive (layer, next conv) pairs that can be equalized, and how many a Clip blocked."""
    pairs, skipped = [], 0
    for node in graph.weighted_nodes():
        if node.op_type not in ("Conv", "Gemm") or node.input[1] not in graph.initializers:
            continue
        tensor, through_clip = node.output[0], False
        users = graph.consumers.get(tensor, [])
        if len(users) == 1 and users[0].op_type in ("Relu", "Clip") and tensor not in graph.outputs:
            through_clip = users[0].op_type == "Clip"
            tensor = users[0].output[0]
            users = graph.consumers.get(tensor, [])
        if len(users) != 1 or tensor in graph.outputs:
            continue
        nxt = users[0]
        if nxt.op_type != "Conv" or nxt.input[0] != tensor or nxt.input[1] not in graph.initializers:
            continue
        if through_clip:
            skipped += 1
            continue
        out_channels = graph.initializers[node.input[1]].dims[0] if node.op_type == "Conv" else None
        weight = graph.initializers[nxt.input[1]].dims
        group = next((a.i for a in nxt.attribute if a.name == "group"), 1)
        in_channels = weight[1] * group
        if out_channels is not None and in_channels != out_channels:
            continue
        if group not in (1, in_channels):  # grouped convs mix channels in blocks: not handled
            continue
        pairs.append((node, nxt))
    return pairs, skipped


def equalize_prepared(
    prepared: PreparedOnnx, samples: np.ndarray, workdir: Path
) -> tuple[PreparedOnnx, dict[str, Any]]:
    """Equalize every pair of the prepared fp32 model; return the new model and a report.

    Raises:
        EdgeoptError: the equalized graph computes something else (a bug: it must not).
    """
    proto = onnx.load(str(prepared.path))
    graph = GraphIndex(proto)
    pairs, skipped = find_pairs(graph)
    layers = {node.name: WeightedLayer.of(graph, node) for pair in pairs for node in pair}
    before = _max_ratio(layers.values())
    sweeps = 0
    for sweeps in range(1, SWEEPS + 1):  # noqa: B007  # the count is reported
        change = 0.0
        for first, second in pairs:
            change = max(change, _equalize_pair(layers[first.name], layers[second.name]))
        if change < TOLERANCE:
            break
    for layer in layers.values():
        set_initializer(proto, layer.weight_name, layer.weight)
        if layer.bias_name is not None and layer.bias is not None:
            set_initializer(proto, layer.bias_name, layer.bias)
    path = workdir / f"{prepared.path.stem}.equalized.onnx"
    onnx.save(proto, str(path))
    check = samples[:64]
    original = run_with_outputs(prepared.path, check, GraphIndex.load(prepared.path).outputs[:1])
    name = next(iter(original))
    equalized = run_with_outputs(path, check, [name])[name]
    agreement = sqnr_db(original[name], equalized)
    if agreement < CHECK_DB:
        raise EdgeoptError(f"cross-layer equalization changed the model's output (SQNR {agreement:.1f} dB)",
                           hint="this is a bug in edgeopt; quantize without equalize and report it")
    report = {"pairs": len(pairs), "skipped_clip": skipped, "sweeps": sweeps,
              "max_range_ratio_before": before, "max_range_ratio_after": _max_ratio(layers.values()),
              "output_sqnr_vs_original_db": agreement if np.isfinite(agreement) else 999.0}
    return replace(prepared, path=path), report


def _equalize_pair(first: WeightedLayer, second: WeightedLayer) -> float:
    """Rescale one pair in place; return the largest relative scale change applied."""
    r1 = np.abs(np.asarray(first.channel_view(first.weight))).max(axis=1)
    w2 = second.weight
    group = next((a.i for a in second.node.attribute if a.name == "group"), 1)
    depthwise = group > 1
    r2 = np.abs(w2).reshape(w2.shape[0], -1).max(axis=1) if depthwise else np.abs(w2).max(axis=(0, *range(2, w2.ndim)))
    ok = (r1 > 0) & (r2 > 0)
    s = np.ones_like(r1)
    s[ok] = np.sqrt(r1[ok] / r2[ok])
    first.weight = (first.weight / s.reshape(first.per_channel_shape())).astype(np.float32)
    if first.bias is not None:
        first.bias = (first.bias / s).astype(np.float32)
    shape = [1] * w2.ndim
    if depthwise:
        shape[0] = len(s)
    else:
        shape[1] = len(s)
    second.weight = (w2 * s.reshape(shape)).astype(np.float32)
    return float(np.max(np.abs(s - 1.0))) if s.size else 0.0


def _max_ratio(layers: Any) -> float:
    """The largest ratio between a layer's widest and narrowest output channel range."""
    worst = 1.0
    for layer in layers:
        ranges = np.abs(np.asarray(layer.channel_view(layer.weight))).max(axis=1)
        ranges = ranges[ranges > 0]
        if ranges.size:
            worst = max(worst, float(ranges.max() / ranges.min()))
    return worst
