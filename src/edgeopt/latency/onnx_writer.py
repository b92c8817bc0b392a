"""Write a probe network straight to ONNX, the graph torch's exporter writes for it, in milliseconds.

``torch.onnx.export(dynamo=True)`` spends 0.05–0.15 s per node on this machine in
``torch.export``'s decompositions: minutes for a probe network of a thousand units. A probe uses
a handful of modules only, so this module traces it with ``torch.fx`` (no fake tensors) and
writes each node as the exporter would, with BatchNorm already folded:

=====================  ==============================================
torch                  ONNX (opset 18)
=====================  ==============================================
``nn.Conv2d``          ``Conv`` (weight, bias; strides, pads, group)
``nn.ReLU``            ``Relu``
``nn.Hardswish``       ``HardSwish``
``nn.Hardsigmoid``     ``HardSigmoid`` (alpha 1/6, beta 1/2)
``nn.AdaptiveAvgPool2d(1)``  ``ReduceMean`` over H, W (keepdims)
``nn.AvgPool2d``       ``AveragePool``
``x * y``, ``x + y``   ``Mul``, ``Add``
``flatten(1)``         ``Reshape`` to (1, -1)
``torch.cat(..., 1)``  ``Concat``
``nn.Linear``          ``Gemm`` (transB)
=====================  ==============================================

Initializers are named after the modules (``probes.3.dw.e6_relu_k5.0.weight``), as the exporter
names them, so :mod:`edgeopt.runtime.layer_map` maps the graph the same way. ``tests/latency``
checks the op sequence against the real exporter on a model of the same modules. Anything else
raises: use :func:`edgeopt.export.onnx` for general models.

Example:
    >>> write_onnx(ProbeNet(space, 0.5, 160), (1, 3, 160, 160), "probe.onnx")
"""

from __future__ import annotations

import operator
import os
from typing import Any

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

from edgeopt.errors import EdgeoptError
from edgeopt.utils import atomic_path

OPSET = 18


def write_onnx(model: nn.Module, input_shape: tuple[int, ...], path: str | os.PathLike[str]) -> None:
    """Write ``model`` (built of the modules in the table above) to an ONNX file (batch fixed).

    Raises:
        EdgeoptError: a module or function the table does not cover.
    """
    proto = to_onnx(model, input_shape)
    with atomic_path(path) as tmp:
        onnx.save(proto, str(tmp))


def to_onnx(model: nn.Module, input_shape: tuple[int, ...]) -> onnx.ModelProto:
    """The :class:`onnx.ModelProto` of ``model`` (see :func:`write_onnx`)."""
    graph = fx.symbolic_trace(model.eval())
    with torch.no_grad():  # shapes: a flatten of what is already flat is no node in the exporter's graph either
        ShapeProp(graph).propagate(torch.zeros(input_shape))
    modules = dict(graph.named_modules())
    writer = _Writer()
    names: dict[str, str] = {}
    outputs: list[str] = []
    with torch.no_grad():
        for node in graph.graph.nodes:
            if node.op == "placeholder":
                names[node.name] = "input"
            elif node.op == "output":
                outputs = [names[a.name] for a in _flat(node.args[0])]
            elif node.op == "call_module":
                names[node.name] = writer.module(node.name, str(node.target), modules[str(node.target)],
                                                 [names[a.name] for a in node.all_input_nodes])
            elif node.op in ("call_function", "call_method"):
                args = [names[a.name] for a in _flat(node.args) if isinstance(a, fx.Node)]
                if node.target in (torch.flatten, "flatten") and _rank(node.args[0]) <= 2:
                    names[node.name] = args[0]
                    continue
                names[node.name] = writer.function(node, args)
            else:
                raise EdgeoptError(f"the ONNX probe writer does not handle fx node {node.op} {node.target}")
    graph_proto = helper.make_graph(
        writer.nodes, "probe",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info(name, TensorProto.FLOAT, [input_shape[0], None]) for name in outputs],
        writer.initializers)
    proto = helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="edgeopt.latency")
    proto.ir_version = 10
    onnx.checker.check_model(proto)
    return proto


def _rank(node: Any) -> int:
    meta = node.meta.get("tensor_meta") if isinstance(node, fx.Node) else None
    return len(meta.shape) if meta is not None else 4


def _flat(args: Any) -> list[Any]:
    if isinstance(args, (list, tuple)):
        return [x for a in args for x in _flat(a)]
    return [args]


class _Writer:
    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._constants: dict[tuple[Any, ...], str] = {}
        self._weights: set[str] = set()

    def _weight(self, name: str, tensor: torch.Tensor) -> str:
        if name in self._weights:
            return name  # a module called twice shares its weights, as in the exporter's graph
        self._weights.add(name)
        self.initializers.append(numpy_helper.from_array(tensor.detach().cpu().numpy().astype(np.float32), name))
        return name

    def _int_constant(self, values: tuple[int, ...]) -> str:
        key = ("int64", *values)
        if key not in self._constants:
            name = f"const_{len(self._constants)}"
            self.initializers.append(numpy_helper.from_array(np.array(values, dtype=np.int64), name))
            self._constants[key] = name
        return self._constants[key]

    def _add(self, op: str, inputs: list[str], name: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [name], name=f"node_{name}", **attrs))
        return name

    def module(self, name: str, target: str, module: nn.Module, inputs: list[str]) -> str:
        if isinstance(module, nn.Conv2d):
            weights = [inputs[0], self._weight(f"{target}.weight", module.weight)]
            if module.bias is not None:
                weights.append(self._weight(f"{target}.bias", module.bias))
            pad_h, pad_w = module.padding if isinstance(module.padding, tuple) else (0, 0)
            return self._add("Conv", weights, name, kernel_shape=list(module.kernel_size),
                             strides=list(module.stride), pads=[pad_h, pad_w, pad_h, pad_w],
                             dilations=list(module.dilation), group=module.groups)
        if isinstance(module, nn.ReLU):
            return self._add("Relu", inputs, name)
        if isinstance(module, nn.Hardswish):
            return self._add("HardSwish", inputs, name)
        if isinstance(module, nn.Hardsigmoid):
            return self._add("HardSigmoid", inputs, name, alpha=1.0 / 6, beta=0.5)
        if isinstance(module, nn.AdaptiveAvgPool2d) and module.output_size in (1, (1, 1)):
            return self._add("ReduceMean", [inputs[0], self._int_constant((-1, -2))], name, keepdims=1)
        if isinstance(module, nn.AvgPool2d):
            size = module.kernel_size if isinstance(module.kernel_size, int) else module.kernel_size[0]
            return self._add("AveragePool", inputs, name, kernel_shape=[size, size], strides=[size, size])
        if isinstance(module, nn.Linear):
            parts = [inputs[0], self._weight(f"{target}.weight", module.weight)]
            if module.bias is not None:
                parts.append(self._weight(f"{target}.bias", module.bias))
            return self._add("Gemm", parts, name, transB=1)
        raise EdgeoptError(f"the ONNX probe writer does not handle {type(module).__name__} ({target})")

    def function(self, node: fx.Node, inputs: list[str]) -> str:
        target = node.target
        if target in (operator.mul, torch.mul):
            return self._add("Mul", inputs, node.name)
        if target in (operator.add, torch.add):
            return self._add("Add", inputs, node.name)
        if target in (torch.flatten, "flatten"):
            return self._add("Reshape", [inputs[0], self._int_constant((1, -1))], node.name)
        if target is torch.cat:
            return self._add("Concat", inputs, node.name, axis=1)
        raise EdgeoptError(f"the ONNX probe writer does not handle {target}")
