"""Cost an exported ``.onnx`` artifact: MACs, parameters and activation memory from its graph.

Shapes come from ``onnx.shape_inference`` on the graph with concrete input sizes. MACs follow
:mod:`edgeopt.analysis`'s convention (one multiply plus one accumulate), so a model and its
export count alike:

* Conv: output elements x (Cin / group) x kernel elements (the weight's shape after dim 0);
* ConvTranspose: input elements x (Cout / group) x kernel elements;
* Gemm: output elements x K; MatMul: output elements x the shared dimension.

Parameters are the initializers (and ``Constant`` tensors) the nodes read, each once; int64
initializers are shapes and axes, not weights, and are left out. Reshape-like nodes alias their
input (no new activation memory); peak activation memory uses the same liveness sweep as the
profiler. The result is a :class:`~edgeopt.analysis.results.ModelProfile` (``method="onnx"``),
so the device estimates accept it unchanged.

Example:
    >>> p = onnx_profile("model.onnx")  # doctest: +SKIP
    >>> p.macs, p.params, p.peak_activation_bytes  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import helper, shape_inference

from edgeopt.analysis.memory import Step, peak_memory
from edgeopt.analysis.results import LayerCost, ModelProfile
from edgeopt.errors import EdgeoptError

_VIEWS = frozenset({"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"})


@dataclass(frozen=True)
class _Tensor:
    shape: tuple[int, ...]
    itemsize: int
    weight: bool = False  # a constant that counts as a parameter

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.numel * self.itemsize


_UNKNOWN = _Tensor((0,), 1)  # a tensor shape inference could not size (see onnx_profile's ``sized``)


def _itemsize(elem_type: int) -> int:
    return helper.tensor_dtype_to_np_dtype(elem_type).itemsize


def _load(path: Path) -> onnx.ModelProto:
    if not path.is_file():
        raise EdgeoptError(f"ONNX file {str(path)!r} not found", hint="give an exported .onnx file")
    try:
        return onnx.load(str(path))
    except Exception as error:  # onnx raises protobuf DecodeError and others on bad files
        raise EdgeoptError(f"cannot read ONNX file {str(path)!r}: {error}",
                           hint="is it a complete .onnx export?") from None


def _fix_inputs(model: onnx.ModelProto, inputs: list[onnx.ValueInfoProto],
                input_size: tuple[int, ...] | None) -> None:
    """Make the inputs' shapes concrete: ``input_size`` for the first, batch 1 elsewhere."""
    for index, value in enumerate(inputs):
        dims = value.type.tensor_type.shape.dim
        wanted = input_size if (index == 0 and input_size) else None
        if wanted is not None and len(wanted) != len(dims):
            raise EdgeoptError(f"input size {wanted} has {len(wanted)} dims; ONNX input "
                               f"{value.name!r} has {len(dims)}", hint="match the model's input rank")
        for axis, dim in enumerate(dims):
            if wanted is not None:
                dim.dim_value = wanted[axis]
            elif not dim.HasField("dim_value"):
                if axis != 0:
                    raise EdgeoptError(f"ONNX input {value.name!r} has a dynamic dim {axis}",
                                       hint="give --input-size C,H,W")
                dim.dim_value = 1  # a dynamic batch: cost one sample, like the profiler


def _tensor_shapes(model: onnx.ModelProto) -> dict[str, _Tensor]:
    graph = model.graph
    shapes: dict[str, _Tensor] = {}
    for value in (*graph.input, *graph.value_info, *graph.output):
        t = value.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            shapes[value.name] = _Tensor(tuple(d.dim_value for d in t.shape.dim),
                                         _itemsize(t.elem_type))
    return shapes


def _constant(value: onnx.TensorProto) -> _Tensor:
    # int64 constants hold shapes and axes (for Reshape, Slice, ...), not weights.
    return _Tensor(tuple(value.dims), _itemsize(value.data_type),
                   weight=value.data_type != onnx.TensorProto.INT64)


def _constants(graph: onnx.GraphProto) -> dict[str, _Tensor]:
    """Initializers and ``Constant`` node outputs, by tensor name."""
    found = {init.name: _constant(init) for init in graph.initializer}
    for node in graph.node:
        tensor = [a.t for a in node.attribute if a.type == onnx.AttributeProto.TENSOR]
        if node.op_type == "Constant" and tensor:
            found[node.output[0]] = _constant(tensor[0])
    return found


def _attr(node: onnx.NodeProto, name: str, default: int) -> int:
    return next((helper.get_attribute_value(a) for a in node.attribute if a.name == name), default)


def _macs(node: onnx.NodeProto, get: Callable[[str], _Tensor]) -> int:
    """Multiply-adds of one node (0 for ops without them)."""
    op = node.op_type
    if op == "Conv":
        return get(node.output[0]).numel * math.prod(get(node.input[1]).shape[1:])
    if op == "ConvTranspose":
        return get(node.input[0]).numel * math.prod(get(node.input[1]).shape[1:])
    if op == "Gemm":
        a = get(node.input[0]).shape
        return get(node.output[0]).numel * (a[0] if _attr(node, "transA", 0) else a[1])
    if op == "MatMul":
        return get(node.output[0]).numel * get(node.input[0]).shape[-1]
    return 0


def onnx_profile(path: str | os.PathLike[str],
                 input_size: tuple[int, ...] | None = None) -> ModelProfile:
    """Profile an ONNX file: per-node MACs, parameters, activation bytes and peak memory.

    Args:
        path: The ``.onnx`` file.
        input_size: Shape for the first graph input (needed if it has dynamic dims other than
            the batch; a dynamic batch becomes 1).

    Raises:
        EdgeoptError: Missing or unreadable file, or shapes that cannot be inferred.
    """
    model = _load(Path(path))
    graph = model.graph
    consts = _constants(graph)
    inputs = [v for v in graph.input if v.name not in consts]
    _fix_inputs(model, inputs, tuple(input_size) if input_size else None)
    # data_prop: shapes computed in the graph (Shape -> Gather -> Concat -> Reshape, as torch.onnx writes
    # a flatten) are followed, not left unknown.
    inferred = shape_inference.infer_shapes(model, data_prop=True)
    shapes = {**_tensor_shapes(inferred), **consts}
    if any(o and o not in shapes for node in graph.node for o in node.output):
        shapes = {**_symbolic_shapes(model), **shapes}

    def get(name: str) -> _Tensor:
        if name not in shapes:
            raise EdgeoptError(f"cannot infer the shape of ONNX tensor {name!r}",
                               hint="export with static shapes or give --input-size")
        return shapes[name]

    def sized(name: str) -> _Tensor:
        # Index arithmetic on symbolic sizes (Shape -> Range -> Mul, as some exporters write) has no
        # static shape; those tensors hold a few integers, so count them as empty rather than refuse
        # the file. MACs still need every shape they are computed from (get).
        return shapes.get(name, _UNKNOWN)

    return _build(inferred.graph, inputs, consts, get, sized)


def _symbolic_shapes(model: onnx.ModelProto) -> dict[str, _Tensor]:
    """Shapes from ONNX Runtime's symbolic inference, which evaluates index arithmetic ONNX's own leaves
    unknown (a flatten written as Shape -> Range -> Mul -> Reshape); empty when it fails."""
    try:
        from onnxruntime.tools.symbolic_shape_infer import SymbolicShapeInference

        return _tensor_shapes(SymbolicShapeInference.infer_shapes(model, auto_merge=True))
    except Exception:  # a diagnostic aid: what stays unknown is reported by onnx_profile
        return {}


def _build(graph: onnx.GraphProto, inputs: list[onnx.ValueInfoProto], consts: dict[str, _Tensor],
           get: Callable[[str], _Tensor], sized: Callable[[str], _Tensor]) -> ModelProfile:
    producer = {v.name: v.name for v in inputs}
    steps = [Step(v.name, get(v.name).nbytes) for v in inputs]
    layers: list[LayerCost] = []
    seen: set[str] = set()
    for index, node in enumerate(graph.node):
        if node.op_type == "Constant":
            continue
        name = node.name or f"{node.op_type}_{index}"
        acts = [i for i in node.input if i and i not in consts]
        weights = [i for i in node.input if i in consts and consts[i].weight and i not in seen]
        seen.update(weights)
        outs = [sized(o) for o in node.output if o]
        alias = node.op_type in _VIEWS
        layers.append(LayerCost(
            name, node.op_type, outs[0].shape if len(outs) == 1 else tuple(o.shape for o in outs),
            sum(consts[w].numel for w in weights), _macs(node, get),
            sum(o.nbytes for o in outs), alias=alias,
            input_bytes=sum(sized(i).nbytes for i in acts)))
        reads = tuple(dict.fromkeys(producer[i] for i in acts if i in producer))
        steps.append(Step(name, 0 if alias else layers[-1].activation_bytes, reads,
                          reads[:1] if alias else ()))
        producer.update({o: name for o in node.output if o})
    return _profile(layers, steps, [producer[o.name] for o in graph.output if o.name in producer],
                    consts, seen, get(inputs[0].name).shape if inputs else ())


def _profile(layers: list[LayerCost], steps: list[Step], outputs: list[str],
             consts: dict[str, _Tensor], used: set[str], size: tuple[int, ...]) -> ModelProfile:
    peak = peak_memory(steps, outputs)
    return ModelProfile(
        macs=sum(layer.macs for layer in layers),
        params=sum(consts[name].numel for name in used),
        param_bytes=sum(consts[name].nbytes for name in used),
        buffers_bytes=0, peak_activation_bytes=peak.peak_bytes, peak_layer=peak.peak_step,
        input_size=size, layers=layers, flops_other=0, method="onnx")
