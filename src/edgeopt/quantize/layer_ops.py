"""An fp32 ONNX graph's weighted layers as PyTorch functions, for the weight methods.

AdaRound and bias correction evaluate a layer with candidate weights on its real inputs; the
layer is taken from the fp32 ONNX file ONNX Runtime quantizes (not from the PyTorch model), so
the weights optimised are exactly the ones the quantizer reads: a ``Conv`` (groups, strides,
pads, dilations), a ``Gemm`` (``transB``, ``alpha``, ``beta``) or a ``MatMul`` with a constant
weight, followed by the ``Relu``/``Clip`` that the file applies to its output, if any.

Example:
    >>> layer = WeightedLayer.of(graph, node)
    >>> layer.forward(x, torch.from_numpy(layer.weight)).shape
    torch.Size([64, 32, 14, 14])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch import Tensor

from edgeopt.quantize.onnx_graph import GraphIndex


@dataclass
class WeightedLayer:
    """One weighted node of an fp32 ONNX graph, runnable in PyTorch.

    Attributes:
        node: The ONNX node.
        layer: Its PyTorch layer name.
        weight_name, bias_name: Initializer names (``bias_name`` None when it has no bias).
        weight, bias: Their values.
        channel_axis: The weight's output-channel axis (0 for Conv and Gemm with ``transB``).
        activation: ``"relu"``, ``"clip"`` or None: what the graph applies to the output alone.
        clip: ``(min, max)`` of a Clip activation.
    """

    node: onnx.NodeProto
    layer: str
    weight_name: str
    bias_name: str | None
    weight: np.ndarray
    bias: np.ndarray | None
    channel_axis: int
    activation: str | None
    clip: tuple[float, float] = (-np.inf, np.inf)

    @classmethod
    def of(cls, graph: GraphIndex, node: onnx.NodeProto) -> WeightedLayer:
        """The layer of ``node`` (a Conv/Gemm/MatMul whose weight is an initializer)."""
        weight_name = node.input[1]
        bias_name = node.input[2] if len(node.input) > 2 and node.input[2] in graph.initializers else None
        axis = 0
        if (node.op_type == "Gemm" and not _attr(node, "transB", 0)) or node.op_type == "MatMul":
            axis = 1
        activation, clip = _activation(graph, node)
        return cls(node, str(graph.layer_name(node)), weight_name, bias_name, graph.array(weight_name).copy(),
                   graph.array(bias_name).copy() if bias_name else None, axis, activation, clip)

    @property
    def channels(self) -> int:
        """Output channels (one weight scale each, per channel)."""
        return int(self.weight.shape[self.channel_axis])

    def linear(self, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """The node's output (before its activation) for input ``x``."""
        node = self.node
        b = bias if bias is not None else (torch.from_numpy(self.bias) if self.bias is not None else None)
        if node.op_type == "Conv":
            pads = _ints(node, "pads", [0] * (2 * (weight.ndim - 2)))
            half = len(pads) // 2
            if pads[:half] != pads[half:]:  # asymmetric padding: pad explicitly (last dim first for F.pad)
                explicit = [p for i in reversed(range(half)) for p in (pads[i], pads[i + half])]
                x, padding = F.pad(x, explicit), [0] * half
            else:
                padding = pads[:half]
            strides = _ints(node, "strides", [1] * half)
            dilations = _ints(node, "dilations", [1] * half)
            group = _int(node, "group", 1)
            conv = F.conv2d if weight.ndim == 4 else F.conv1d
            out: Tensor = conv(x, weight, b, strides, padding, dilations, group)
            return out
        if node.op_type == "Gemm":
            alpha, beta = _float(node, "alpha", 1.0), _float(node, "beta", 1.0)
            a = x.transpose(-1, -2) if _int(node, "transA", 0) else x
            w = weight.transpose(0, 1) if _int(node, "transB", 0) else weight
            y = alpha * (a @ w)
            return y + beta * b if b is not None else y
        y = x @ weight  # MatMul
        return y + b if b is not None else y

    def forward(self, x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
        """The node's output after its activation."""
        y = self.linear(x, weight, bias)
        if self.activation == "relu":
            return torch.relu(y)
        if self.activation == "clip":
            return torch.clamp(y, self.clip[0], self.clip[1])
        return y

    def channel_view(self, values: np.ndarray | Tensor) -> np.ndarray | Tensor:
        """``values`` (weight-shaped) with the channel axis first, flattened per channel."""
        moved = values.swapaxes(0, self.channel_axis) if isinstance(values, np.ndarray) else values.transpose(
            0, self.channel_axis)
        return moved.reshape(self.channels, -1)

    def per_channel_shape(self) -> list[int]:
        """A shape that broadcasts one value per output channel over the weight."""
        shape = [1] * self.weight.ndim
        shape[self.channel_axis] = self.channels
        return shape

    def output_channel_mean(self, y: np.ndarray) -> np.ndarray:
        """Mean of an output (N, C, ...) or (N, C) per channel."""
        axes = tuple(i for i in range(y.ndim) if i != (y.ndim - 1 if self.node.op_type != "Conv" else 1))
        return np.asarray(y.astype(np.float64).mean(axis=axes))


def _attr(node: onnx.NodeProto, name: str, default: object) -> object:
    for attribute in node.attribute:
        if attribute.name == name:
            return onnx.helper.get_attribute_value(attribute)
    return default


def _ints(node: onnx.NodeProto, name: str, default: list[int]) -> list[int]:
    value = _attr(node, name, default)
    return [int(v) for v in value] if isinstance(value, (list, tuple)) else list(default)


def _int(node: onnx.NodeProto, name: str, default: int) -> int:
    value = _attr(node, name, default)
    return int(value) if isinstance(value, (int, float)) else default


def _float(node: onnx.NodeProto, name: str, default: float) -> float:
    value = _attr(node, name, default)
    return float(value) if isinstance(value, (int, float)) else default


def _activation(graph: GraphIndex, node: onnx.NodeProto) -> tuple[str | None, tuple[float, float]]:
    users = graph.consumers.get(node.output[0], [])
    if len(users) != 1 or node.output[0] in graph.outputs:
        return None, (-np.inf, np.inf)
    user = users[0]
    if user.op_type == "Relu":
        return "relu", (0.0, np.inf)
    if user.op_type == "Clip":
        lo, hi = -np.inf, np.inf
        if len(user.input) > 1 and user.input[1] in graph.initializers:
            lo = float(graph.array(user.input[1]))
        if len(user.input) > 2 and user.input[2] in graph.initializers:
            hi = float(graph.array(user.input[2]))
        lo = _float(user, "min", lo)  # opset < 11 kept them as attributes
        hi = _float(user, "max", hi)
        return "clip", (lo, hi)
    return None, (-np.inf, np.inf)


def set_initializer(proto: onnx.ModelProto, name: str, value: np.ndarray) -> None:
    """Replace (or add) the initializer ``name`` of ``proto`` with ``value`` (float32)."""
    tensor = numpy_helper.from_array(np.ascontiguousarray(value, dtype=np.float32), name)
    for index, init in enumerate(proto.graph.initializer):
        if init.name == name:
            proto.graph.initializer[index].CopyFrom(tensor)
            return
    proto.graph.initializer.append(tensor)


def ensure_bias(proto: onnx.ModelProto, graph: GraphIndex, layer: WeightedLayer) -> str:
    """The layer's bias initializer name, adding a zero bias to its node if it has none."""
    if layer.bias_name is not None:
        return layer.bias_name
    name = f"{layer.layer}.bias_corrected"
    zeros = np.zeros(layer.channels, np.float32)
    set_initializer(proto, name, zeros)
    for node in proto.graph.node:
        if node.name == layer.node.name:
            while len(node.input) < 2:
                node.input.append("")
            if len(node.input) == 2:
                node.input.append(name)
            else:
                node.input[2] = name
            if node.op_type == "MatMul":  # MatMul has no bias input: not supported here
                raise ValueError("MatMul has no bias input")
    layer.bias_name, layer.bias = name, zeros
    del graph
    return name
