"""Reading QDQ and fp32 ONNX graphs: who produces a tensor, what a quantizer's parameters are,
which layer a tensor belongs to, and running a model with intermediate tensors as outputs.

The per-layer diff (:mod:`edgeopt.quantize.layer_diff`), the weight methods
(:mod:`edgeopt.quantize.weights`) and the self-check share these. Layers are named as in
PyTorch: a weighted node is named after its weight initializer (``features.3.pointwise.0.weight``
-> ``features.3.pointwise.0``), in the fp32 file and in the QDQ file, where that initializer
became ``<weight>_quantized`` (plus a ``DequantizeLinear``) or stayed float (a layer kept float).

Example:
    >>> graph = GraphIndex(onnx.load("model.int8.onnx"))
    >>> graph.quantizers()[0].tensor, graph.layer_of("relu_3")
    ('input', 'features.2.depthwise.0')
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from edgeopt.errors import EdgeoptError

WEIGHTED_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul")
# Element-wise ops that ORT removes or keeps between a layer and its output quantizer: the value
# at the quantizer is the layer's output after them.
ACTIVATION_OPS = ("Relu", "Clip")
_WEIGHT_SUFFIXES = ("_DequantizeLinear_Output", "_quantized")


@dataclass(frozen=True)
class Quantizer:
    """One ``QuantizeLinear`` of a QDQ graph: the float tensor it quantizes and its parameters.

    Attributes:
        tensor: The float tensor quantized (its name in the fp32 graph, for files ORT made).
        codes: The integer tensor it produces.
        scale, zero_point: Its parameters (scalars for activations).
        qmin, qmax: The integer range of its type.
    """

    tensor: str
    codes: str
    scale: np.ndarray
    zero_point: np.ndarray
    qmin: int
    qmax: int
    zero_point_type: int = onnx.TensorProto.UINT8

    def dequantize(self, codes: np.ndarray) -> np.ndarray:
        """The real values the codes stand for."""
        return (codes.astype(np.float64) - self.zero_point.astype(np.float64)) * self.scale.astype(np.float64)

    def quantize(self, values: np.ndarray) -> np.ndarray:
        """Codes of real values as ``QuantizeLinear`` computes them (round half to even, saturate)."""
        codes = np.rint(values.astype(np.float64) / self.scale.astype(np.float64)) + self.zero_point
        return np.asarray(np.clip(codes, self.qmin, self.qmax).astype(_NP_TYPES[self.dtype]))

    @property
    def dtype(self) -> int:
        """The ONNX element type of the codes."""
        return int(self.zero_point_type)

    def saturated(self, values: np.ndarray) -> float:
        """Share of real values outside the representable range (clipped by this quantizer)."""
        step = float(np.max(self.scale))
        zp = float(np.max(self.zero_point))
        lo, hi = (self.qmin - zp - 0.5) * step, (self.qmax - zp + 0.5) * step
        flat = values.reshape(-1)
        return float(np.mean((flat < lo) | (flat > hi))) if flat.size else 0.0


_NP_TYPES: dict[int, Any] = {
    onnx.TensorProto.UINT8: np.uint8, onnx.TensorProto.INT8: np.int8,
    onnx.TensorProto.UINT16: np.uint16, onnx.TensorProto.INT16: np.int16,
    onnx.TensorProto.INT32: np.int32,
}
_RANGES = {
    onnx.TensorProto.UINT8: (0, 255), onnx.TensorProto.INT8: (-128, 127),
    onnx.TensorProto.UINT16: (0, 65535), onnx.TensorProto.INT16: (-32768, 32767),
    onnx.TensorProto.UINT4: (0, 15), onnx.TensorProto.INT4: (-8, 7),
}


class GraphIndex:
    """Producers, consumers and initializers of an ONNX graph, looked up by tensor name."""

    def __init__(self, proto: onnx.ModelProto) -> None:
        self.proto = proto
        graph = proto.graph
        self.initializers = {init.name: init for init in graph.initializer}
        self.producer: dict[str, onnx.NodeProto] = {}
        self.consumers: dict[str, list[onnx.NodeProto]] = {}
        for node in graph.node:
            for out in node.output:
                self.producer[out] = node
            for name in node.input:
                self.consumers.setdefault(name, []).append(node)
        self.inputs = [i.name for i in graph.input if i.name not in self.initializers]
        self.outputs = [o.name for o in graph.output]
        self.order = {node.name: i for i, node in enumerate(graph.node)}

    @classmethod
    def load(cls, path: str | Path) -> GraphIndex:
        """The index of the ONNX file at ``path``."""
        return cls(onnx.load(str(path)))

    def array(self, name: str) -> np.ndarray:
        """An initializer's value."""
        return numpy_helper.to_array(self.initializers[name])

    def weighted_nodes(self) -> list[onnx.NodeProto]:
        """Conv/Gemm/MatMul nodes whose weight is an initializer or dequantized from one, in graph order."""
        return [node for node in self.proto.graph.node
                if node.op_type in WEIGHTED_OPS and len(node.input) > 1 and self.weight_name(node) is not None]

    def weight_name(self, node: onnx.NodeProto) -> str | None:
        """The float initializer name behind a weighted node's weight (``x.weight``), if any."""
        name = str(node.input[1])
        if name in self.initializers:
            return name
        dq = self.producer.get(name)
        if dq is not None and dq.op_type == "DequantizeLinear" and dq.input[0] in self.initializers:
            return strip_weight_suffix(str(dq.input[0]))
        return None

    def layer_name(self, node: onnx.NodeProto) -> str | None:
        """A weighted node's PyTorch layer name (its weight's name without ``.weight``)."""
        weight = self.weight_name(node)
        return None if weight is None else layer_of_weight(weight)

    def quantizers(self) -> list[Quantizer]:
        """Every activation ``QuantizeLinear`` (float tensor -> codes), in graph order."""
        found = []
        for node in self.proto.graph.node:
            if node.op_type != "QuantizeLinear" or node.input[0] in self.initializers:
                continue
            found.append(self.quantizer(node))
        return found

    def quantizer(self, node: onnx.NodeProto) -> Quantizer:
        """The :class:`Quantizer` of a ``QuantizeLinear`` node."""
        scale = self.array(node.input[1])
        if len(node.input) > 2 and node.input[2]:
            zp_init = self.initializers[node.input[2]]
            zero_point, zp_type = numpy_helper.to_array(zp_init), zp_init.data_type
        else:
            zero_point, zp_type = np.zeros((), np.uint8), onnx.TensorProto.UINT8
        qmin, qmax = _RANGES.get(zp_type, (0, 255))
        return Quantizer(node.input[0], node.output[0], scale, zero_point, qmin, qmax, zp_type)

    def quantizer_of(self, codes: str) -> Quantizer | None:
        """The quantizer that produced a codes tensor, if it is a ``QuantizeLinear`` output."""
        node = self.producer.get(codes)
        return self.quantizer(node) if node is not None and node.op_type == "QuantizeLinear" else None

    def output_chain_end(self, node: onnx.NodeProto) -> str:
        """A node's output after the activations that follow it alone (``conv -> relu``: relu's)."""
        tensor = str(node.output[0])
        while True:
            users = self.consumers.get(tensor, [])
            if len(users) != 1 or users[0].op_type not in ACTIVATION_OPS or tensor in self.outputs:
                return tensor
            tensor = str(users[0].output[0])

    def upstream_layer(self, tensor: str) -> str | None:
        """The nearest weighted layer at or before ``tensor`` (following the latest-made input)."""
        seen = 0
        while tensor in self.producer and seen < 10_000:
            node = self.producer[tensor]
            if node.op_type in WEIGHTED_OPS:
                layer = self.layer_name(node)
                if layer is not None:
                    return layer
            tensor = self._latest_input(node)
            seen += 1
        return None

    def _latest_input(self, node: onnx.NodeProto) -> str:
        """The input of ``node`` made last in graph order (a residual add's branch, not its skip)."""
        made = [str(name) for name in node.input if name in self.producer]
        if not made:
            return str(node.input[0]) if node.input else ""
        return max(made, key=lambda name: self.order.get(self.producer[name].name, -1))

    def describe(self, tensor: str) -> tuple[str, str]:
        """``(layer, op_type)`` naming a tensor: the layer that makes it, else the op and the layer before.

        Example:
            >>> graph.describe("relu_3")
            ('features.2.depthwise.0', 'Conv')
        """
        if tensor in self.inputs:
            return "input", "Input"
        node = self.producer.get(tensor)
        while node is not None and node.op_type in (*ACTIVATION_OPS, "DequantizeLinear", "QuantizeLinear"):
            node = self.producer.get(node.input[0])
        if node is None:
            return tensor, "?"
        if node.op_type in WEIGHTED_OPS and self.layer_name(node) is not None:
            return str(self.layer_name(node)), node.op_type
        before = self.upstream_layer(self._latest_input(node)) if node.input else None
        return (f"{node.op_type} after {before}" if before else node.op_type), node.op_type


def strip_weight_suffix(name: str) -> str:
    """``features.0.0.weight_quantized`` -> ``features.0.0.weight``."""
    for suffix in _WEIGHT_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def layer_of_weight(weight: str) -> str:
    """``features.0.0.weight`` -> ``features.0.0``."""
    for suffix in (".weight", "_weight"):
        if weight.endswith(suffix):
            return weight[: -len(suffix)]
    return weight


def with_outputs(proto: onnx.ModelProto, names: Iterable[str]) -> onnx.ModelProto:
    """A copy of ``proto`` that also outputs the tensors ``names`` (types left to ORT's inference)."""
    copied = onnx.ModelProto()
    copied.CopyFrom(proto)
    have = {o.name for o in copied.graph.output}
    for name in names:
        if name not in have:
            copied.graph.output.append(onnx.ValueInfoProto(name=name))
            have.add(name)
    return copied


def run_with_outputs(path_or_proto: str | Path | onnx.ModelProto, inputs: np.ndarray, names: Sequence[str],
                     batch: int = 64, threads: int = 1, optimize: bool = True) -> dict[str, np.ndarray]:
    """Run an ONNX model on ``inputs`` (in batches) and return the named tensors, concatenated.

    The session is edgeopt's usual one (:func:`edgeopt.runtime.onnxruntime_runner.session_options`):
    all graph optimizations on, as a deployed file runs. ``optimize=False`` runs the graph as
    written (a QDQ file then executes every Quantize/DequantizeLinear around float ops: the exact
    simulation of its int8 arithmetic).
    """
    import onnxruntime as ort

    from edgeopt.runtime.onnxruntime_runner import session_options

    proto = path_or_proto if isinstance(path_or_proto, onnx.ModelProto) else onnx.load(str(path_or_proto))
    augmented = with_outputs(proto, names)
    options = session_options(threads)
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    try:
        session = ort.InferenceSession(augmented.SerializeToString(), options,
                                       providers=["CPUExecutionProvider"])
    except Exception as exc:  # ORT raises its own exception types
        raise EdgeoptError(f"ONNX Runtime cannot load the model: {str(exc).splitlines()[0][:300]}") from exc
    input_name = session.get_inputs()[0].name
    parts: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, len(inputs), batch):
        values = session.run(list(names), {input_name: inputs[start : start + batch]})
        for name, value in zip(names, values, strict=True):
            parts[name].append(np.asarray(value))
    return {name: np.concatenate(chunks) if chunks else np.zeros((0,)) for name, chunks in parts.items()}


def sqnr_db(reference: np.ndarray, other: np.ndarray) -> float:
    """Signal-to-quantization-noise ratio in dB (``inf`` when identical, ``-inf`` for a zero signal).

    Example:
        >>> round(sqnr_db(np.ones(4), np.full(4, 1.1)), 1)
        20.0
    """
    ref = reference.astype(np.float64)
    noise = float(np.sum((ref - other.astype(np.float64)) ** 2))
    signal = float(np.sum(ref**2))
    if noise == 0:
        return math.inf
    return 10.0 * math.log10(signal / noise) if signal > 0 else -math.inf
